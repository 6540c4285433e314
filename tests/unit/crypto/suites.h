/* The Check suites of the crypto library, one per module, and a hex helper for vectors. */
#ifndef FEDBITS_TESTS_UNIT_CRYPTO_SUITES_H
#define FEDBITS_TESTS_UNIT_CRYPTO_SUITES_H

#include <check.h>
#include <stddef.h>
#include <string.h>

Suite *kdf_suite(void);
Suite *kx_suite(void);
Suite *ring_suite(void);
Suite *prg_suite(void);
Suite *shamir_suite(void);
Suite *envelope_suite(void);
Suite *sign_suite(void);

/* Decodes exactly n bytes of lower-case hex (a test vector) into out. */
static inline void
hex_decode(unsigned char *out, size_t n, const char *hex)
{
    ck_assert_uint_eq(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + (size_t)j];
            unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
            ck_assert(d < 16);
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
}

/* ck_assert_mem_eq against a hex vector. */
#define ck_assert_hex_eq(buf, n, hex)                                                              \
    do {                                                                                           \
        unsigned char ck_exp_[256];                                                                \
        ck_assert_uint_le((n), sizeof ck_exp_);                                                    \
        hex_decode(ck_exp_, (n), (hex));                                                           \
        ck_assert_mem_eq((buf), ck_exp_, (n));                                                     \
    } while (0)

#endif
