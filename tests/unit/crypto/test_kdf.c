/* kdf: known answers against an independent BLAKE2b, length checks, domain separation. */
#include <string.h>

#include "crypto/kdf.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

static void
key_0_to_31(unsigned char key[KDF_KEY_BYTES])
{
    for (int i = 0; i < KDF_KEY_BYTES; i++)
        key[i] = (unsigned char)i;
}

/*
 * Expected values from Python's hashlib (independent of libsodium):
 * blake2b(digest_size=n, key=key, salt=le64(id) || 8 zero bytes, person=ctx || 8 zero bytes).
 */
START_TEST(known_answers)
{
    unsigned char key[KDF_KEY_BYTES], out[32];
    key_0_to_31(key);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(kdf_derive(out, 32, key, KDF_CTX_PAIR, 7, &eb), 0);
    ck_assert_hex_eq(out, 32, "1a7588528aaea1c3ca484a85dda564690c18c3b288ddd37e5f41fa95176fc873");
    ck_assert_int_eq(kdf_derive(out, 16, key, KDF_CTX_SELF, (UINT64_C(1) << 40) + 5, &eb), 0);
    ck_assert_hex_eq(out, 16, "95193e319a2993ddbd166e207854ad8a");
    ck_assert_int_eq(eb.code, 0);
}
END_TEST

START_TEST(rejects_bad_lengths)
{
    static const size_t bad[] = { 0, 15, 65, 1000 };
    unsigned char key[KDF_KEY_BYTES], out[KDF_SUBKEY_MAX + 1];
    key_0_to_31(key);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(kdf_derive(out, bad[i], key, KDF_CTX_PAIR, 0, &eb), -ERR_RANGE);
        ck_assert_int_eq(eb.code, -ERR_RANGE);
        ck_assert_ptr_nonnull(strstr(eb.msg, "subkey"));
    }
    ck_assert_int_eq(kdf_derive(out, KDF_SUBKEY_MIN, key, KDF_CTX_PAIR, 0, NULL), 0);
    ck_assert_int_eq(kdf_derive(out, KDF_SUBKEY_MAX, key, KDF_CTX_PAIR, 0, NULL), 0);
}
END_TEST

/* Every registered context and neighbouring ids give distinct keys. */
START_TEST(contexts_and_ids_separate)
{
    static const char *const ctx[] = { KDF_CTX_PAIR,  KDF_CTX_SELF,  KDF_CTX_ENC,  KDF_CTX_KXENC,
                                       KDF_CTX_KXMSK, KDF_CTX_SELFB, KDF_CTX_SIGN, KDF_CTX_SHAM };
    enum { NC = sizeof ctx / sizeof ctx[0], NI = 3 };
    unsigned char key[KDF_KEY_BYTES], out[NC * NI][32];
    key_0_to_31(key);
    for (size_t c = 0; c < NC; c++)
        for (size_t i = 0; i < NI; i++)
            ck_assert_int_eq(kdf_derive(out[c * NI + i], 32, key, ctx[c], i, NULL), 0);
    for (size_t a = 0; a < NC * NI; a++)
        for (size_t b = a + 1; b < NC * NI; b++)
            ck_assert_mem_ne(out[a], out[b], 32);
}
END_TEST

START_TEST(rng_key_and_master)
{
    unsigned char key[KDF_KEY_BYTES], direct[RNG_KEY_BYTES];
    key_0_to_31(key);
    struct rng_key rk;
    ck_assert_int_eq(kdf_derive_rng_key(&rk, key, KDF_CTX_SHAM, 9, NULL), 0);
    ck_assert_int_eq(kdf_derive(direct, sizeof direct, key, KDF_CTX_SHAM, 9, NULL), 0);
    ck_assert_mem_eq(rk.bytes, direct, RNG_KEY_BYTES);

    struct rng a, b;
    unsigned char m1[KDF_KEY_BYTES], m2[KDF_KEY_BYTES], m3[KDF_KEY_BYTES];
    rng_init_stream(&a, 5, RNG_PURPOSE_SECAGG, 1, 2);
    rng_init_stream(&b, 5, RNG_PURPOSE_SECAGG, 1, 2);
    kdf_master_from_stream(m1, &a);
    kdf_master_from_stream(m2, &b);
    kdf_master_from_stream(m3, &b);
    ck_assert_mem_eq(m1, m2, KDF_KEY_BYTES);
    ck_assert_mem_ne(m2, m3, KDF_KEY_BYTES);
}
END_TEST

Suite *
kdf_suite(void)
{
    Suite *s = suite_create("kdf");
    TCase *tc = tcase_create("kdf");
    tcase_add_test(tc, known_answers);
    tcase_add_test(tc, rejects_bad_lengths);
    tcase_add_test(tc, contexts_and_ids_separate);
    tcase_add_test(tc, rng_key_and_master);
    suite_add_tcase(s, tc);
    return s;
}
