/*
 * sign: Ed25519 key pairs and detached signatures for the semi-malicious threat model.
 *
 * In the active-adversary variant of SecAgg (Bonawitz et al., CCS 2017, §4 and §6.3) each
 * client signs its advertised public keys in
 * AdvertiseKeys and the survivor set U3 in ConsistencyCheck, and every client verifies the
 * others' signatures against verification keys distributed beforehand (the PKI, which the
 * simulator plays). Key pairs are seeded (crypto_sign_seed_keypair; seeds from kdf.h with
 * KDF_CTX_SIGN), never random. Signatures are deterministic (RFC 8032), so the same seed
 * and message give the same bytes.
 *
 * What is signed (session id, keys, the encoded U3) is the protocol's business; this
 * module signs and verifies byte strings. All buffers caller-owned; wipe a key pair with
 * sign_keypair_wipe(). Thread-safe, no allocation.
 */
#ifndef FEDBITS_CRYPTO_SIGN_H
#define FEDBITS_CRYPTO_SIGN_H

#include <stddef.h>

#include "base/errbuf.h"

/* Sizes (wire: a verification key is SIGN_PUBLIC_BYTES, a signature SIGN_BYTES) */
#define SIGN_PUBLIC_BYTES 32
#define SIGN_SECRET_BYTES 64 /* libsodium's layout: seed || public key */
#define SIGN_SEED_BYTES   32
#define SIGN_BYTES        64

struct sign_keypair {
    unsigned char pk[SIGN_PUBLIC_BYTES]; /* verification key */
    unsigned char sk[SIGN_SECRET_BYTES]; /* signing key */
};

/* Key pairs */
/* Makes the Ed25519 key pair of seed. */
int sign_keypair_from_seed(struct sign_keypair *kp, const unsigned char seed[SIGN_SEED_BYTES],
                           struct errbuf *eb) __attribute__((warn_unused_result));
void sign_keypair_wipe(struct sign_keypair *kp);

/* Signing */
/* Writes the signature of msg[0..msg_len) under kp to sig. */
int sign_detached(unsigned char sig[SIGN_BYTES], const unsigned char *msg, size_t msg_len,
                  const struct sign_keypair *kp, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* 0 if sig is pk's signature of msg[0..msg_len), else -ERR_CORRUPT. */
int sign_verify(const unsigned char sig[SIGN_BYTES], const unsigned char *msg, size_t msg_len,
                const unsigned char pk[SIGN_PUBLIC_BYTES], struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
