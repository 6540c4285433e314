/* ring: sizing rule (Bonawitz et al., CCS 2017, §4) and Z_{2^k} arithmetic. */
#include "crypto/ring.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

/* k = ceil(log2(n(2^b - 1) + 1)); exact figures for 16-bit inputs. */
START_TEST(sizing_rule)
{
    static const struct {
        uint64_t n;
        unsigned b, k;
    } cases[] = {
        { 1024, 16, 26 }, { 16384, 16, 30 }, { 1, 8, 8 },   { 2, 1, 2 },      { 3, 1, 2 },
        { 4, 1, 3 },      { 100, 8, 15 },    { 1, 64, 64 }, { 1000, 12, 22 }, { 2, 63, 64 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned k = 0;
        ck_assert_int_eq(ring_bits_for(&k, cases[i].n, cases[i].b, NULL), 0);
        ck_assert_uint_eq(k, cases[i].k);
    }
}
END_TEST

START_TEST(sizing_errors)
{
    unsigned k = 99;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(ring_bits_for(&k, 0, 8, &eb), -ERR_INVALID);
    ck_assert_int_eq(ring_bits_for(&k, 5, 0, &eb), -ERR_INVALID);
    ck_assert_int_eq(ring_bits_for(&k, 5, 65, &eb), -ERR_INVALID);
    ck_assert_int_eq(ring_bits_for(&k, 2, 64, &eb), -ERR_RANGE);
    ck_assert_int_eq(eb.code, -ERR_RANGE);
    ck_assert_int_eq(ring_bits_for(&k, UINT64_MAX, 2, &eb), -ERR_RANGE);
    ck_assert_uint_eq(k, 99);
}
END_TEST

/* n all-max inputs sum without wrap in the sized ring, and wrap one bit below it. */
START_TEST(all_max_inputs_do_not_wrap)
{
    static const struct {
        uint64_t n;
        unsigned b;
    } cases[] = { { 3, 5 }, { 100, 8 }, { 1000, 16 }, { 7, 20 }, { 5, 30 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned k;
        ck_assert_int_eq(ring_bits_for(&k, cases[c].n, cases[c].b, NULL), 0);
        uint64_t x = ring_mask(cases[c].b), acc = 0, below = 0;
        for (uint64_t i = 0; i < cases[c].n; i++) {
            ring_add_u64(&acc, &x, 1, k);
            ring_add_u64(&below, &x, 1, k - 1);
        }
        ck_assert_uint_eq(acc, cases[c].n * x);
        ck_assert_uint_ne(below, cases[c].n * x);
    }
}
END_TEST

START_TEST(arithmetic_wraps)
{
    uint32_t a32[3] = { 250, 5, 0 }, x32[3] = { 10, 10, 255 };
    ring_add_u32(a32, x32, 3, 8);
    ck_assert_uint_eq(a32[0], 4);
    ck_assert_uint_eq(a32[1], 15);
    ck_assert_uint_eq(a32[2], 255);
    ring_sub_u32(a32, x32, 3, 8);
    ck_assert_uint_eq(a32[0], 250);
    ck_assert_uint_eq(a32[1], 5);
    ck_assert_uint_eq(a32[2], 0);
    uint32_t full[1] = { UINT32_MAX }, one[1] = { 1 };
    ring_add_u32(full, one, 1, 32);
    ck_assert_uint_eq(full[0], 0);

    uint64_t a64[2] = { ring_mask(61), 5 }, x64[2] = { 2, 1 };
    ring_add_u64(a64, x64, 2, 61);
    ck_assert_uint_eq(a64[0], 1);
    ck_assert_uint_eq(a64[1], 6);
    uint64_t b64[1] = { 0 }, y64[1] = { 1 };
    ring_sub_u64(b64, y64, 1, 64);
    ck_assert_uint_eq(b64[0], UINT64_MAX);

    uint32_t r32[2] = { 0x12345, 0xffffffffu };
    ring_reduce_u32(r32, 2, 12);
    ck_assert_uint_eq(r32[0], 0x345);
    ck_assert_uint_eq(r32[1], 0xfff);
    uint64_t r64[1] = { UINT64_MAX };
    ring_reduce_u64(r64, 1, 61);
    ck_assert_uint_eq(r64[0], ring_mask(61));
    ck_assert_uint_eq(ring_mask(1), 1);
    ck_assert_uint_eq(ring_mask(64), UINT64_MAX);
}
END_TEST

Suite *
ring_suite(void)
{
    Suite *s = suite_create("ring");
    TCase *tc = tcase_create("ring");
    tcase_add_test(tc, sizing_rule);
    tcase_add_test(tc, sizing_errors);
    tcase_add_test(tc, all_max_inputs_do_not_wrap);
    tcase_add_test(tc, arithmetic_wraps);
    suite_add_tcase(s, tc);
    return s;
}
