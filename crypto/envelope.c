/* envelope: XChaCha20-Poly1305 with route-bound AD and derived nonces. See envelope.h. */
#include "crypto/envelope.h"

#include <string.h>

#include <sodium.h>

#include "base/le.h"
#include "crypto/kdf.h"

#include "base/banned.h"

_Static_assert(ENVELOPE_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "envelope key size");
_Static_assert(ENVELOPE_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "envelope nonce size");
_Static_assert(ENVELOPE_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "envelope tag size");
_Static_assert(ENVELOPE_SEED_BYTES == KDF_KEY_BYTES, "a pair seed is a kdf master key");
_Static_assert(ENVELOPE_KEY_BYTES >= KDF_SUBKEY_MIN && ENVELOPE_KEY_BYTES <= KDF_SUBKEY_MAX,
               "an envelope key is a kdf subkey");
_Static_assert(ENVELOPE_NONCE_BYTES >= crypto_generichash_blake2b_BYTES_MIN,
               "the nonce is a BLAKE2b output");

/* 16 bytes, zero-padded, as BLAKE2b's personalisation parameter. */
static const unsigned char envelope_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "fedbits.env.v1";

int
envelope_key_derive(unsigned char key[ENVELOPE_KEY_BYTES],
                    const unsigned char seed[ENVELOPE_SEED_BYTES], uint64_t round,
                    struct errbuf *eb)
{
    return kdf_derive(key, ENVELOPE_KEY_BYTES, seed, KDF_CTX_ENC, round, eb);
}

void
envelope_ad_encode(unsigned char out[ENVELOPE_AD_BYTES], const struct envelope_ad *ad)
{
    le_store64(out, ad->session);
    le_store64(out + 8, ad->round);
    le_store64(out + 16, ad->sender);
    le_store64(out + 24, ad->receiver);
}

void
envelope_nonce(unsigned char out[ENVELOPE_NONCE_BYTES], const struct envelope_ad *ad)
{
    unsigned char enc[ENVELOPE_AD_BYTES];
    envelope_ad_encode(enc, ad);
    /* Cannot fail: lengths are within BLAKE2b's limits (checked by the asserts above). */
    (void)crypto_generichash_blake2b_salt_personal(out, ENVELOPE_NONCE_BYTES, enc, sizeof enc, NULL,
                                                   0, NULL, envelope_personal);
}

size_t
envelope_sealed_bytes(size_t msg_len)
{
    return msg_len + ENVELOPE_TAG_BYTES;
}

int
envelope_seal(unsigned char *out, size_t out_len, const unsigned char *msg, size_t msg_len,
              const struct envelope_ad *ad, const unsigned char key[ENVELOPE_KEY_BYTES],
              struct errbuf *eb)
{
    if (msg_len > ENVELOPE_MSG_MAX)
        return errbuf_set(eb, -ERR_RANGE, "envelope message of %zu bytes (at most %lu)", msg_len,
                          (unsigned long)ENVELOPE_MSG_MAX);
    if (out_len < envelope_sealed_bytes(msg_len))
        return errbuf_set(eb, -ERR_RANGE, "envelope buffer of %zu bytes, %zu needed", out_len,
                          envelope_sealed_bytes(msg_len));
    unsigned char enc[ENVELOPE_AD_BYTES], nonce[ENVELOPE_NONCE_BYTES];
    envelope_ad_encode(enc, ad);
    envelope_nonce(nonce, ad);
    unsigned long long clen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, msg, msg_len, enc, sizeof enc, NULL,
                                                   nonce, key) != 0)
        return errbuf_set(eb, -ERR_INTERNAL, "xchacha20poly1305 encryption failed");
    return 0;
}

int
envelope_open(unsigned char *msg, size_t msg_cap, size_t *msg_len, const unsigned char *sealed,
              size_t sealed_len, const struct envelope_ad *ad,
              const unsigned char key[ENVELOPE_KEY_BYTES], struct errbuf *eb)
{
    *msg_len = 0;
    if (sealed_len < ENVELOPE_TAG_BYTES)
        return errbuf_set(eb, -ERR_CORRUPT, "envelope of %zu bytes is shorter than its tag",
                          sealed_len);
    if (sealed_len - ENVELOPE_TAG_BYTES > ENVELOPE_MSG_MAX)
        return errbuf_set(eb, -ERR_CORRUPT, "envelope of %zu bytes exceeds the maximum",
                          sealed_len);
    if (msg_cap < sealed_len - ENVELOPE_TAG_BYTES)
        return errbuf_set(eb, -ERR_RANGE, "plaintext buffer of %zu bytes, %zu needed", msg_cap,
                          sealed_len - ENVELOPE_TAG_BYTES);
    unsigned char enc[ENVELOPE_AD_BYTES], nonce[ENVELOPE_NONCE_BYTES];
    envelope_ad_encode(enc, ad);
    envelope_nonce(nonce, ad);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(msg, &mlen, NULL, sealed, sealed_len, enc,
                                                   sizeof enc, nonce, key) != 0)
        return errbuf_set(eb, -ERR_CORRUPT,
                          "envelope from %llu to %llu (session %llu, round %llu) fails "
                          "authentication",
                          (unsigned long long)ad->sender, (unsigned long long)ad->receiver,
                          (unsigned long long)ad->session, (unsigned long long)ad->round);
    *msg_len = (size_t)mlen;
    return 0;
}
