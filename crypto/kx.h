/*
 * kx: X25519 key agreement between two clients, turned into a 32-byte pair seed.
 *
 * SecAgg gives every client two Diffie-Hellman key pairs per round (Bonawitz et al., CCS
 * 2017, §4): c_u to encrypt shares for a peer, s_u to
 * derive the pairwise mask seed s_{u,v}. Both are a struct kx_keypair. A key pair is made
 * deterministically, either from a 32-byte seed (crypto_kx_seed_keypair: sk = BLAKE2b-256
 * (seed), pk = X25519 base point times sk) or from a given secret scalar (the RFC 7748
 * vectors, and the server's check of a secret rebuilt from Shamir shares: rebuild, make the
 * pair, compare its pk to the advertised one). Randomness never enters here: seeds come from
 * kdf.h (contexts KDF_CTX_KXENC / KDF_CTX_KXMSK).
 *
 * kx_agree() computes q = X25519(sk_self, pk_peer) and returns the pair seed
 *     seed = BLAKE2b-256(q || pk_lo || pk_hi || session)
 * with the two public keys in memcmp order, so both ends get the same seed; q itself is
 * never used as a key (it is an x-coordinate, libsodium's advice). With an empty session
 * this is exactly the derivation of the toy known-answer run in tests/unit/crypto/test_prg.c;
 * binding a session id separates protocol instances. A peer key of small order
 * (the all-zero result of crypto_scalarmult) or equal to one's own key is rejected with
 * -ERR_CORRUPT: the protocol treats that peer as dropped or aborts.
 *
 * Ownership: caller-owned structs and buffers throughout; the caller wipes a key pair with
 * kx_keypair_wipe() when done. Intermediate secrets are wiped here. Thread-safe (no state).
 */
#ifndef FEDBITS_CRYPTO_KX_H
#define FEDBITS_CRYPTO_KX_H

#include <stddef.h>

#include "base/errbuf.h"

/* Sizes (wire: a public key is KX_PUBLIC_BYTES; tied to libsodium in kx.c) */
#define KX_PUBLIC_BYTES 32
#define KX_SECRET_BYTES 32
#define KX_SEED_BYTES   32
#define KX_SHARED_BYTES 32

struct kx_keypair {
    unsigned char pk[KX_PUBLIC_BYTES]; /* public key, sent in AdvertiseKeys */
    unsigned char sk[KX_SECRET_BYTES]; /* secret scalar (clamped by X25519 when used) */
};

/* Key pairs */
/* Makes the key pair of seed (crypto_kx_seed_keypair). */
int kx_keypair_from_seed(struct kx_keypair *kp, const unsigned char seed[KX_SEED_BYTES],
                         struct errbuf *eb) __attribute__((warn_unused_result));
/* Makes the key pair whose secret is sk (pk = X25519 base point times sk). */
int kx_keypair_from_secret(struct kx_keypair *kp, const unsigned char sk[KX_SECRET_BYTES],
                           struct errbuf *eb) __attribute__((warn_unused_result));
/* Wipes both halves of kp (sodium_memzero). */
void kx_keypair_wipe(struct kx_keypair *kp);

/* Agreement */
/*
 * Writes the pair seed of self and peer_pk (see above) to seed. session may be NULL when
 * session_len is 0. -ERR_CORRUPT when peer_pk has small order or equals self->pk.
 */
int kx_agree(unsigned char seed[KX_SHARED_BYTES], const struct kx_keypair *self,
             const unsigned char peer_pk[KX_PUBLIC_BYTES], const unsigned char *session,
             size_t session_len, struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * Checks that pk is usable as a peer key (not of small order), as a server or client may do
 * on receipt in AdvertiseKeys; costs one scalar multiplication. -ERR_CORRUPT if not.
 */
int kx_public_check(const unsigned char pk[KX_PUBLIC_BYTES], struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
