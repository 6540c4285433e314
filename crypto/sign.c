/* sign: seeded Ed25519 through libsodium's crypto_sign. See sign.h. */
#include "crypto/sign.h"

#include <sodium.h>

#include "base/banned.h"

_Static_assert(SIGN_PUBLIC_BYTES == crypto_sign_PUBLICKEYBYTES, "ed25519 public key size");
_Static_assert(SIGN_SECRET_BYTES == crypto_sign_SECRETKEYBYTES, "ed25519 secret key size");
_Static_assert(SIGN_SEED_BYTES == crypto_sign_SEEDBYTES, "ed25519 seed size");
_Static_assert(SIGN_BYTES == crypto_sign_BYTES, "ed25519 signature size");

int
sign_keypair_from_seed(struct sign_keypair *kp, const unsigned char seed[SIGN_SEED_BYTES],
                       struct errbuf *eb)
{
    if (crypto_sign_seed_keypair(kp->pk, kp->sk, seed) != 0)
        return errbuf_set(eb, -ERR_INTERNAL, "crypto_sign_seed_keypair failed");
    return 0;
}

void
sign_keypair_wipe(struct sign_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

int
sign_detached(unsigned char sig[SIGN_BYTES], const unsigned char *msg, size_t msg_len,
              const struct sign_keypair *kp, struct errbuf *eb)
{
    if (crypto_sign_detached(sig, NULL, msg, msg_len, kp->sk) != 0)
        return errbuf_set(eb, -ERR_INTERNAL, "crypto_sign_detached failed");
    return 0;
}

int
sign_verify(const unsigned char sig[SIGN_BYTES], const unsigned char *msg, size_t msg_len,
            const unsigned char pk[SIGN_PUBLIC_BYTES], struct errbuf *eb)
{
    if (crypto_sign_verify_detached(sig, msg, msg_len, pk) != 0)
        return errbuf_set(eb, -ERR_CORRUPT, "signature does not verify");
    return 0;
}
