/* sign: RFC 8032 vectors, determinism, rejection of altered signatures, messages, keys. */
#include <string.h>

#include "crypto/sign.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

/* RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte 0x72); re-checked with the
 * Python `cryptography` package's Ed25519. */
static const struct {
    const char *seed, *pk, *sig;
    unsigned char msg[1];
    size_t msg_len;
} rfc8032[] = {
    { "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
      "1cf9b46bd25bf5f0595bbe24655141438e7a100b",
      { 0 },
      0 },
    { "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
      "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
      { 0x72 },
      1 },
};

START_TEST(rfc8032_vectors)
{
    unsigned char seed[SIGN_SEED_BYTES], sig[SIGN_BYTES];
    hex_decode(seed, sizeof seed, rfc8032[_i].seed);
    struct sign_keypair kp, again;
    ck_assert_int_eq(sign_keypair_from_seed(&kp, seed, NULL), 0);
    ck_assert_hex_eq(kp.pk, SIGN_PUBLIC_BYTES, rfc8032[_i].pk);
    ck_assert_int_eq(sign_detached(sig, rfc8032[_i].msg, rfc8032[_i].msg_len, &kp, NULL), 0);
    ck_assert_hex_eq(sig, SIGN_BYTES, rfc8032[_i].sig);
    ck_assert_int_eq(sign_verify(sig, rfc8032[_i].msg, rfc8032[_i].msg_len, kp.pk, NULL), 0);
    ck_assert_int_eq(sign_keypair_from_seed(&again, seed, NULL), 0);
    ck_assert_mem_eq(&kp, &again, sizeof kp);
    sign_keypair_wipe(&kp);
    unsigned char zero[sizeof kp] = { 0 };
    ck_assert_mem_eq(&kp, zero, sizeof kp);
}
END_TEST

START_TEST(altered_inputs_are_rejected)
{
    unsigned char seed[SIGN_SEED_BYTES], sig[SIGN_BYTES];
    memset(seed, 0x61, sizeof seed);
    struct sign_keypair kp, other;
    ck_assert_int_eq(sign_keypair_from_seed(&kp, seed, NULL), 0);
    seed[0] ^= 1;
    ck_assert_int_eq(sign_keypair_from_seed(&other, seed, NULL), 0);
    unsigned char msg[] = "U3 = {1, 2, 4, 5}; session 7";
    size_t len = sizeof msg - 1;
    ck_assert_int_eq(sign_detached(sig, msg, len, &kp, NULL), 0);
    struct errbuf eb;
    for (size_t i = 0; i < SIGN_BYTES; i++)
        for (int b = 0; b < 8; b++) {
            sig[i] ^= (unsigned char)(1u << b);
            errbuf_clear(&eb);
            ck_assert_int_eq(sign_verify(sig, msg, len, kp.pk, &eb), -ERR_CORRUPT);
            ck_assert_str_eq(eb.msg, "signature does not verify");
            sig[i] ^= (unsigned char)(1u << b);
        }
    for (size_t i = 0; i < len; i++) {
        msg[i] ^= 0x20;
        ck_assert_int_eq(sign_verify(sig, msg, len, kp.pk, NULL), -ERR_CORRUPT);
        msg[i] ^= 0x20;
    }
    ck_assert_int_eq(sign_verify(sig, msg, len - 1, kp.pk, NULL), -ERR_CORRUPT);
    ck_assert_int_eq(sign_verify(sig, msg, len, other.pk, NULL), -ERR_CORRUPT);
    ck_assert_int_eq(sign_verify(sig, msg, len, kp.pk, NULL), 0);
}
END_TEST

Suite *
sign_suite(void)
{
    Suite *s = suite_create("sign");
    TCase *tc = tcase_create("sign");
    tcase_add_loop_test(tc, rfc8032_vectors, 0, 2);
    tcase_add_test(tc, altered_inputs_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}
