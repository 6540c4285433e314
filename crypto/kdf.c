/* kdf: domain-separated subkeys through libsodium's crypto_kdf. See kdf.h. */
#include "crypto/kdf.h"

#include <sodium.h>
#include <string.h>

#define FEDBITS_BANNED_ALLOW_RANDOMBYTES /* kdf_master_random() */
#include "base/banned.h"

_Static_assert(KDF_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf master key size");
_Static_assert(KDF_CONTEXT_BYTES == crypto_kdf_CONTEXTBYTES, "kdf context size");
_Static_assert(KDF_SUBKEY_MIN == crypto_kdf_BYTES_MIN, "kdf minimum subkey");
_Static_assert(KDF_SUBKEY_MAX == crypto_kdf_BYTES_MAX, "kdf maximum subkey");
_Static_assert(RNG_KEY_BYTES >= KDF_SUBKEY_MIN && RNG_KEY_BYTES <= KDF_SUBKEY_MAX,
               "an rng key is a valid subkey size");
_Static_assert(sizeof KDF_CTX_PAIR - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_SELF - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_ENC - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_KXENC - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_KXMSK - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_SELFB - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_SIGN - 1 == KDF_CONTEXT_BYTES &&
                   sizeof KDF_CTX_SHAM - 1 == KDF_CONTEXT_BYTES,
               "every registered context has exactly 8 characters");

int
kdf_derive(unsigned char *out, size_t out_len, const unsigned char key[KDF_KEY_BYTES],
           const char context[KDF_CONTEXT_BYTES], uint64_t id, struct errbuf *eb)
{
    if (out_len < KDF_SUBKEY_MIN || out_len > KDF_SUBKEY_MAX)
        return errbuf_set(eb, -ERR_RANGE, "subkey of %zu bytes requested (%d..%d allowed)", out_len,
                          KDF_SUBKEY_MIN, KDF_SUBKEY_MAX);
    if (crypto_kdf_derive_from_key(out, out_len, id, context, key) != 0)
        return errbuf_set(eb, -ERR_INTERNAL, "crypto_kdf_derive_from_key failed");
    return 0;
}

int
kdf_derive_rng_key(struct rng_key *out, const unsigned char key[KDF_KEY_BYTES],
                   const char context[KDF_CONTEXT_BYTES], uint64_t id, struct errbuf *eb)
{
    return kdf_derive(out->bytes, sizeof out->bytes, key, context, id, eb);
}

void
kdf_master_from_stream(unsigned char key[KDF_KEY_BYTES], struct rng *r)
{
    rng_bytes(r, key, KDF_KEY_BYTES);
}

void
kdf_master_random(unsigned char key[KDF_KEY_BYTES])
{
    randombytes_buf(key, KDF_KEY_BYTES);
}

void
kdf_master_bind(unsigned char key[KDF_KEY_BYTES], uint64_t session)
{
    unsigned char in[KDF_KEY_BYTES + 8];
    memcpy(in, key, KDF_KEY_BYTES);
    for (int i = 0; i < 8; i++)
        in[KDF_KEY_BYTES + i] = (unsigned char)(session >> (8 * i));
    crypto_generichash(key, KDF_KEY_BYTES, in, sizeof in, NULL, 0);
    sodium_memzero(in, sizeof in);
}
