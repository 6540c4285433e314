/* kx: seeded X25519 key pairs and pair seeds hashed with ordered public keys. See kx.h. */
#include "crypto/kx.h"

#include <string.h>

#include <sodium.h>

#include "base/banned.h"

_Static_assert(KX_PUBLIC_BYTES == crypto_scalarmult_BYTES, "x25519 public key size");
_Static_assert(KX_PUBLIC_BYTES == crypto_kx_PUBLICKEYBYTES, "kx public key size");
_Static_assert(KX_SECRET_BYTES == crypto_scalarmult_SCALARBYTES, "x25519 scalar size");
_Static_assert(KX_SECRET_BYTES == crypto_kx_SECRETKEYBYTES, "kx secret key size");
_Static_assert(KX_SEED_BYTES == crypto_kx_SEEDBYTES, "kx seed size");
_Static_assert(KX_SHARED_BYTES >= crypto_generichash_BYTES_MIN &&
                   KX_SHARED_BYTES <= crypto_generichash_BYTES_MAX,
               "pair seed is a valid BLAKE2b output length");

int
kx_keypair_from_seed(struct kx_keypair *kp, const unsigned char seed[KX_SEED_BYTES],
                     struct errbuf *eb)
{
    if (crypto_kx_seed_keypair(kp->pk, kp->sk, seed) != 0)
        return errbuf_set(eb, -ERR_INTERNAL, "crypto_kx_seed_keypair failed");
    return 0;
}

int
kx_keypair_from_secret(struct kx_keypair *kp, const unsigned char sk[KX_SECRET_BYTES],
                       struct errbuf *eb)
{
    /* Copy first: sk may alias kp->sk. */
    unsigned char copy[KX_SECRET_BYTES];
    memcpy(copy, sk, sizeof copy);
    int rc = crypto_scalarmult_base(kp->pk, copy);
    memcpy(kp->sk, copy, sizeof copy);
    sodium_memzero(copy, sizeof copy);
    if (rc != 0)
        return errbuf_set(eb, -ERR_CORRUPT, "x25519 secret key gives no valid public key");
    return 0;
}

void
kx_keypair_wipe(struct kx_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

int
kx_agree(unsigned char seed[KX_SHARED_BYTES], const struct kx_keypair *self,
         const unsigned char peer_pk[KX_PUBLIC_BYTES], const unsigned char *session,
         size_t session_len, struct errbuf *eb)
{
    if (sodium_memcmp(self->pk, peer_pk, KX_PUBLIC_BYTES) == 0)
        return errbuf_set(eb, -ERR_CORRUPT, "peer public key equals own public key");

    unsigned char q[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(q, self->sk, peer_pk) != 0) {
        sodium_memzero(q, sizeof q);
        return errbuf_set(eb, -ERR_CORRUPT, "peer public key has small order");
    }

    /* memcmp order, not sodium_compare's little-endian number order. */
    int lo_is_self = memcmp(self->pk, peer_pk, KX_PUBLIC_BYTES) < 0;
    const unsigned char *lo = lo_is_self ? self->pk : peer_pk;
    const unsigned char *hi = lo_is_self ? peer_pk : self->pk;

    crypto_generichash_state st;
    int rc = crypto_generichash_init(&st, NULL, 0, KX_SHARED_BYTES);
    rc |= crypto_generichash_update(&st, q, sizeof q);
    rc |= crypto_generichash_update(&st, lo, KX_PUBLIC_BYTES);
    rc |= crypto_generichash_update(&st, hi, KX_PUBLIC_BYTES);
    if (session_len > 0)
        rc |= crypto_generichash_update(&st, session, session_len);
    rc |= crypto_generichash_final(&st, seed, KX_SHARED_BYTES);
    sodium_memzero(q, sizeof q);
    sodium_memzero(&st, sizeof st);
    if (rc != 0)
        return errbuf_set(eb, -ERR_INTERNAL, "blake2b of the shared point failed");
    return 0;
}

int
kx_public_check(const unsigned char pk[KX_PUBLIC_BYTES], struct errbuf *eb)
{
    /*
     * X25519 clamps every scalar to a multiple of the cofactor 8, so any scalar maps a
     * small-order point to the identity (all-zero output, which crypto_scalarmult reports
     * as -1) and maps every other point elsewhere. The scalar is public and fixed.
     */
    unsigned char one[crypto_scalarmult_SCALARBYTES] = { 9 };
    unsigned char q[crypto_scalarmult_BYTES];
    int rc = crypto_scalarmult(q, one, pk);
    if (rc != 0)
        return errbuf_set(eb, -ERR_CORRUPT, "public key has small order");
    return 0;
}
