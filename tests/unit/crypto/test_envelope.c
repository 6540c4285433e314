/*
 * envelope: a known answer from an independent XChaCha20-Poly1305, round trips, and
 * rejection of every flipped bit of the sealed bytes and of the AD, misrouting and bad sizes.
 */
#include <string.h>

#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

static const unsigned char msg32[] = "share of client 3 for client 9!!";

static void
test_key(unsigned char key[ENVELOPE_KEY_BYTES])
{
    for (int i = 0; i < ENVELOPE_KEY_BYTES; i++)
        key[i] = (unsigned char)((5 * i + 1) & 255);
}

static const struct envelope_ad test_ad = {
    .session = UINT64_C(0x1122334455667788), .round = 7, .sender = 3, .receiver = 9
};

/*
 * Expected bytes from Python: nonce = hashlib.blake2b(le64 x 4 AD, digest_size=24,
 * person=b"fedbits.env.v1"); XChaCha20-Poly1305 written from HChaCha20 (hand-coded, checked
 * against the draft-irtf-cfrg-xchacha test vector) and the `cryptography` package's
 * ChaCha20Poly1305 with nonce 4 zero bytes || nonce[16:24].
 */
START_TEST(known_answer)
{
    unsigned char key[ENVELOPE_KEY_BYTES], nonce[ENVELOPE_NONCE_BYTES];
    test_key(key);
    envelope_nonce(nonce, &test_ad);
    ck_assert_hex_eq(nonce, ENVELOPE_NONCE_BYTES,
                     "d8fe91bf384f9a948607a941e96da1380e28e75032ae5d38");
    unsigned char ad[ENVELOPE_AD_BYTES];
    envelope_ad_encode(ad, &test_ad);
    ck_assert_hex_eq(ad, ENVELOPE_AD_BYTES,
                     "887766554433221107000000000000000300000000000000"
                     "0900000000000000");
    unsigned char sealed[32 + ENVELOPE_TAG_BYTES];
    ck_assert_uint_eq(envelope_sealed_bytes(32), sizeof sealed);
    ck_assert_int_eq(envelope_seal(sealed, sizeof sealed, msg32, 32, &test_ad, key, NULL), 0);
    ck_assert_hex_eq(sealed, sizeof sealed,
                     "102d5fa212102bab8a23d3ec9f187880ad6d60aea4a28984ffed90e22e508111"
                     "b8854eab7edca700e6477466e5d8453c");
    unsigned char back[32];
    size_t len = 0;
    ck_assert_int_eq(
        envelope_open(back, sizeof back, &len, sealed, sizeof sealed, &test_ad, key, NULL), 0);
    ck_assert_uint_eq(len, 32);
    ck_assert_mem_eq(back, msg32, 32);
}
END_TEST

START_TEST(every_flipped_bit_is_rejected)
{
    unsigned char key[ENVELOPE_KEY_BYTES];
    test_key(key);
    unsigned char sealed[32 + ENVELOPE_TAG_BYTES], back[64];
    ck_assert_int_eq(envelope_seal(sealed, sizeof sealed, msg32, 32, &test_ad, key, NULL), 0);
    int rejected = 0;
    for (size_t i = 0; i < sizeof sealed; i++)
        for (int b = 0; b < 8; b++) {
            sealed[i] ^= (unsigned char)(1u << b);
            size_t len = 99;
            struct errbuf eb;
            errbuf_clear(&eb);
            memset(back, 0, sizeof back);
            ck_assert_int_eq(
                envelope_open(back, sizeof back, &len, sealed, sizeof sealed, &test_ad, key, &eb),
                -ERR_CORRUPT);
            ck_assert_uint_eq(len, 0);
            ck_assert_ptr_null(memchr(back, 's', sizeof back)); /* no plaintext released */
            sealed[i] ^= (unsigned char)(1u << b);
            rejected++;
        }
    ck_assert_int_eq(rejected, 8 * (int)sizeof sealed);

    /* Every bit of every AD field (session, round, sender, receiver). */
    for (int field = 0; field < 4; field++)
        for (int b = 0; b < 64; b++) {
            struct envelope_ad ad = test_ad;
            uint64_t *f = field == 0   ? &ad.session
                          : field == 1 ? &ad.round
                          : field == 2 ? &ad.sender
                                       : &ad.receiver;
            *f ^= UINT64_C(1) << b;
            size_t len;
            struct errbuf eb;
            errbuf_clear(&eb);
            ck_assert_int_eq(
                envelope_open(back, sizeof back, &len, sealed, sizeof sealed, &ad, key, &eb),
                -ERR_CORRUPT);
            ck_assert_ptr_nonnull(strstr(eb.msg, "fails authentication"));
        }
    /* A wrong key. */
    key[0] ^= 1;
    size_t len;
    ck_assert_int_eq(
        envelope_open(back, sizeof back, &len, sealed, sizeof sealed, &test_ad, key, NULL),
        -ERR_CORRUPT);
}
END_TEST

/*
 * The key is shared by both directions of a pair; the derived nonces differ, and an
 * envelope from u to v neither opens as v to u nor when re-routed to another receiver.
 */
START_TEST(directions_and_routes)
{
    unsigned char seed[ENVELOPE_SEED_BYTES], key[ENVELOPE_KEY_BYTES], direct[32];
    memset(seed, 0x3c, sizeof seed);
    ck_assert_int_eq(envelope_key_derive(key, seed, 4, NULL), 0);
    ck_assert_int_eq(kdf_derive(direct, 32, seed, KDF_CTX_ENC, 4, NULL), 0);
    ck_assert_mem_eq(key, direct, 32);

    struct envelope_ad uv = { .session = 1, .round = 4, .sender = 10, .receiver = 20 };
    struct envelope_ad vu = { .session = 1, .round = 4, .sender = 20, .receiver = 10 };
    struct envelope_ad uw = { .session = 1, .round = 4, .sender = 10, .receiver = 30 };
    unsigned char n1[ENVELOPE_NONCE_BYTES], n2[ENVELOPE_NONCE_BYTES];
    envelope_nonce(n1, &uv);
    envelope_nonce(n2, &vu);
    ck_assert_mem_ne(n1, n2, ENVELOPE_NONCE_BYTES);

    unsigned char s_uv[32 + ENVELOPE_TAG_BYTES], s_vu[32 + ENVELOPE_TAG_BYTES], back[32];
    ck_assert_int_eq(envelope_seal(s_uv, sizeof s_uv, msg32, 32, &uv, key, NULL), 0);
    ck_assert_int_eq(envelope_seal(s_vu, sizeof s_vu, msg32, 32, &vu, key, NULL), 0);
    ck_assert_mem_ne(s_uv, s_vu, sizeof s_uv);
    size_t len;
    ck_assert_int_eq(envelope_open(back, 32, &len, s_uv, sizeof s_uv, &vu, key, NULL),
                     -ERR_CORRUPT);
    ck_assert_int_eq(envelope_open(back, 32, &len, s_uv, sizeof s_uv, &uw, key, NULL),
                     -ERR_CORRUPT);
    ck_assert_int_eq(envelope_open(back, 32, &len, s_vu, sizeof s_vu, &vu, key, NULL), 0);
    ck_assert_mem_eq(back, msg32, 32);
    /* Sealing is deterministic (same key, AD and message give the same bytes). */
    unsigned char again[sizeof s_uv];
    ck_assert_int_eq(envelope_seal(again, sizeof again, msg32, 32, &uv, key, NULL), 0);
    ck_assert_mem_eq(again, s_uv, sizeof again);
    /* An empty message is just a tag and still authenticated. */
    unsigned char tag[ENVELOPE_TAG_BYTES];
    ck_assert_int_eq(envelope_seal(tag, sizeof tag, NULL, 0, &uv, key, NULL), 0);
    ck_assert_int_eq(envelope_open(back, 0, &len, tag, sizeof tag, &uv, key, NULL), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(envelope_open(back, 0, &len, tag, sizeof tag, &vu, key, NULL), -ERR_CORRUPT);
}
END_TEST

START_TEST(size_errors)
{
    unsigned char key[ENVELOPE_KEY_BYTES];
    test_key(key);
    unsigned char sealed[32 + ENVELOPE_TAG_BYTES], back[32];
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(envelope_seal(sealed, sizeof sealed - 1, msg32, 32, &test_ad, key, &eb),
                     -ERR_RANGE);
    ck_assert_str_eq(eb.msg, "envelope buffer of 47 bytes, 48 needed");
    ck_assert_int_eq(envelope_seal(sealed, sizeof sealed, msg32, (size_t)ENVELOPE_MSG_MAX + 1,
                                   &test_ad, key, &eb),
                     -ERR_RANGE);
    ck_assert_int_eq(envelope_seal(sealed, sizeof sealed, msg32, 32, &test_ad, key, NULL), 0);
    size_t len = 5;
    ck_assert_int_eq(envelope_open(back, 31, &len, sealed, sizeof sealed, &test_ad, key, &eb),
                     -ERR_RANGE);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(
        envelope_open(back, 32, &len, sealed, ENVELOPE_TAG_BYTES - 1, &test_ad, key, &eb),
        -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "envelope of 15 bytes is shorter than its tag");
    ck_assert_int_eq(envelope_open(back, 32, &len, sealed, sizeof sealed - 1, &test_ad, key, &eb),
                     -ERR_CORRUPT);
    ck_assert_int_eq(
        envelope_open(back, 32, &len, sealed, (size_t)ENVELOPE_MSG_MAX + 17, &test_ad, key, &eb),
        -ERR_CORRUPT);
    ck_assert_int_eq(eb.code, -ERR_CORRUPT);
}
END_TEST

Suite *
envelope_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *tc = tcase_create("envelope");
    tcase_add_test(tc, known_answer);
    tcase_add_test(tc, every_flipped_bit_is_rejected);
    tcase_add_test(tc, directions_and_routes);
    tcase_add_test(tc, size_errors);
    suite_add_tcase(s, tc);
    return s;
}
