/*
 * kdf: key derivation with domain separation, the root of every secret in a run.
 *
 * Secure aggregation needs many independent keys from few secrets: per-pair mask keys
 * from an X25519 shared secret, per-client self-mask keys, envelope keys, and the seeds of
 * the key pairs themselves. kdf_derive() maps (master key, 8-character context, 64-bit id)
 * to a subkey with libsodium's crypto_kdf_derive_from_key: BLAKE2b keyed with the master
 * key, personalised by the context (zero-padded to 16 bytes) and salted by the id (8 bytes
 * little-endian, zero-padded to 16). Keys for different contexts never coincide even when
 * ids do, and keys for different ids under one context are independent.
 *
 * Contexts are a registry, like enum rng_purpose: every context string in use is listed
 * below as KDF_CTX_*, and a listed string never changes meaning (it is part of the
 * reproducibility contract and of the known-answer tests in tests/unit/crypto/test_prg.c
 * and tests/unit/secagg/test_secagg_protocol.c, which fix "FBSAPAIR" and "FBSASELF" with
 * id = round).
 *
 * kdf_master_from_stream() makes a master key from a keyed RNG stream, which keeps every
 * run reproducible from its seed (docs/conventions.md §8: no randombytes_buf). Callers own
 * all buffers and wipe secrets with sodium_memzero(). Pure functions: thread-safe.
 */
#ifndef FEDBITS_CRYPTO_KDF_H
#define FEDBITS_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

/* Sizes (tied to crypto_kdf_* in kdf.c) */
#define KDF_KEY_BYTES     32
#define KDF_CONTEXT_BYTES 8
#define KDF_SUBKEY_MIN    16
#define KDF_SUBKEY_MAX    64

/*
 * Context registry (8 characters each, the id in brackets). Never renumber or reuse.
 *   PAIR  pairwise mask PRG key from a pair seed (kx_agree of the mask key pairs) [round]
 *   SELF  self-mask PRG key from the self-mask seed b_u [round]
 *   ENC   share-envelope key from a pair seed (kx_agree of the encryption key pairs) [round]
 *   KXENC seed of a client's encryption key pair c_u from its per-round master [client]
 *   KXMSK seed of a client's mask key pair s_u from its per-round master [client]
 *   SELFB the self-mask seed b_u itself from the per-round master [client]
 *   SIGN  seed of a client's Ed25519 key pair from its per-run master [client]
 *   SHAM  key of the RNG stream that draws Shamir coefficients [client]
 */
#define KDF_CTX_PAIR  "FBSAPAIR"
#define KDF_CTX_SELF  "FBSASELF"
#define KDF_CTX_ENC   "FBSAENC_"
#define KDF_CTX_KXENC "FBSAKXEN"
#define KDF_CTX_KXMSK "FBSAKXMS"
#define KDF_CTX_SELFB "FBSASLFB"
#define KDF_CTX_SIGN  "FBSASIGN"
#define KDF_CTX_SHAM  "FBSASHAM"

/* Derivation */
/*
 * Derives out[0..out_len) (KDF_SUBKEY_MIN..KDF_SUBKEY_MAX bytes) from key, context (exactly
 * 8 characters, no terminator needed) and id. -ERR_RANGE for a bad out_len.
 */
int kdf_derive(unsigned char *out, size_t out_len, const unsigned char key[KDF_KEY_BYTES],
               const char context[KDF_CONTEXT_BYTES], uint64_t id, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Derives the key of an RNG stream (struct rng_key) the same way, for rng_init(). */
int kdf_derive_rng_key(struct rng_key *out, const unsigned char key[KDF_KEY_BYTES],
                       const char context[KDF_CONTEXT_BYTES], uint64_t id, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Masters */
/* Fills key with the next KDF_KEY_BYTES bytes of stream r. */
void kdf_master_from_stream(unsigned char key[KDF_KEY_BYTES], struct rng *r);
/*
 * Fills key from libsodium's randombytes_buf: not reproducible, for aggregation.keys:
 * random (the one use of randombytes_buf that banned.h allows, in crypto/ only).
 */
void kdf_master_random(unsigned char key[KDF_KEY_BYTES]);
/* key = BLAKE2b-256(key || le64 session): a master that differs from session to session. */
void kdf_master_bind(unsigned char key[KDF_KEY_BYTES], uint64_t session);

#endif
