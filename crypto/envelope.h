/*
 * envelope: authenticated encryption of the messages one client relays to another through
 * the server (the Shamir shares of ShareKeys), with XChaCha20-Poly1305.
 *
 * SecAgg's ShareKeys round sends e_{u,v} = AE.enc(k_{u,v}, shares of u for v) through the
 * server (Bonawitz et al., CCS 2017, §4). Here the
 * key is envelope_key_derive(pair seed of the encryption key pairs c_u, c_v, round), the
 * cipher is crypto_aead_xchacha20poly1305_ietf, and the associated data binds the envelope
 * to its route:
 *
 *   AD OFFSET  SIZE  MEANING (all little-endian)
 *       0      8     session id (the protocol instance, e.g. run and aggregation id)
 *       8      8     round
 *       16     8     sender id
 *       24     8     receiver id
 *
 * Opening with any other (session, round, sender, receiver), or after any change to the
 * ciphertext or tag, fails with -ERR_CORRUPT, so a misrouted or replayed envelope is
 * rejected exactly like a tampered one. (The paper also repeats u || v inside the plaintext;
 * with the ids authenticated as AD that adds bytes but no protection, so we do not.)
 *
 * Nonces are derived, not sent: nonce = BLAKE2b-192(AD) with personalisation
 * "fedbits.env.v1". Both directions of a pair share the key k_{u,v} = k_{v,u}, but their AD
 * differ (sender and receiver swap), so their nonces differ; keys are fresh per round. The
 * one rule for callers: under one key, seal at most one message per AD (one envelope per
 * ordered pair per round, as the protocol does). Sealing two different messages with the
 * same key and AD would reuse a nonce. Wire size: message + ENVELOPE_TAG_BYTES, no nonce.
 *
 * All buffers are caller-owned; the key is borrowed and should be wiped by the caller
 * (sodium_memzero) after the round. Pure functions: thread-safe, no allocation.
 */
#ifndef FEDBITS_CRYPTO_ENVELOPE_H
#define FEDBITS_CRYPTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

/* Sizes (tied to libsodium in envelope.c) */
#define ENVELOPE_SEED_BYTES  32 /* the pair seed of kx_agree() */
#define ENVELOPE_KEY_BYTES   32 /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */
#define ENVELOPE_NONCE_BYTES 24 /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, derived */
#define ENVELOPE_TAG_BYTES   16 /* crypto_aead_xchacha20poly1305_ietf_ABYTES, on the wire */
#define ENVELOPE_AD_BYTES    32
#define ENVELOPE_MSG_MAX     (UINT32_C(1) << 24) /* bound on one plaintext */

/* The route an envelope is bound to (encoded as the AD table above). */
struct envelope_ad {
    uint64_t session;
    uint64_t round;
    uint64_t sender;
    uint64_t receiver;
};

/* Keys */
/* Derives the envelope key of one round from a pair seed (kdf context KDF_CTX_ENC). */
int envelope_key_derive(unsigned char key[ENVELOPE_KEY_BYTES],
                        const unsigned char seed[ENVELOPE_SEED_BYTES], uint64_t round,
                        struct errbuf *eb) __attribute__((warn_unused_result));

/* Encoding (exposed for tests and fuzzers) */
void envelope_ad_encode(unsigned char out[ENVELOPE_AD_BYTES], const struct envelope_ad *ad);
/* The derived nonce of ad. */
void envelope_nonce(unsigned char out[ENVELOPE_NONCE_BYTES], const struct envelope_ad *ad);
/* Bytes of a sealed message of msg_len bytes. */
size_t envelope_sealed_bytes(size_t msg_len);

/* Sealing and opening */
/*
 * Writes envelope_sealed_bytes(msg_len) bytes to out (out_len must be at least that).
 * -ERR_RANGE for a short out or a message above ENVELOPE_MSG_MAX.
 */
int envelope_seal(unsigned char *out, size_t out_len, const unsigned char *msg, size_t msg_len,
                  const struct envelope_ad *ad, const unsigned char key[ENVELOPE_KEY_BYTES],
                  struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * Authenticates and decrypts sealed[0..sealed_len) into msg, setting *msg_len. -ERR_CORRUPT
 * when the envelope is shorter than a tag, longer than the maximum, or fails authentication
 * (tampering, wrong key or wrong AD); -ERR_RANGE when msg_cap is too small. On failure msg
 * holds no plaintext.
 */
int envelope_open(unsigned char *msg, size_t msg_cap, size_t *msg_len, const unsigned char *sealed,
                  size_t sealed_len, const struct envelope_ad *ad,
                  const unsigned char key[ENVELOPE_KEY_BYTES], struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
