/* le: byte order and widths of the little-endian loads and stores. */
#include <string.h>

#include "base/le.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

START_TEST(stores_write_least_significant_byte_first)
{
    unsigned char b[9] = { 0 };
    le_store16(b + 1, 0x0102);
    ck_assert_int_eq(memcmp(b + 1, "\x02\x01", 2), 0);
    le_store32(b + 1, 0x01020304u);
    ck_assert_int_eq(memcmp(b + 1, "\x04\x03\x02\x01", 4), 0);
    le_store64(b + 1, 0x0102030405060708ull);
    ck_assert_int_eq(memcmp(b + 1, "\x08\x07\x06\x05\x04\x03\x02\x01", 8), 0);
    ck_assert_int_eq(b[0], 0);
    le_store_n(b, 0xaabbccddeeull, 3);
    ck_assert_int_eq(memcmp(b, "\xee\xdd\xcc\x06", 4), 0);
}
END_TEST

START_TEST(loads_invert_stores_at_any_offset)
{
    const unsigned char b[10] = { 0xff, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x81, 0xff };
    ck_assert_uint_eq(le_load16(b + 1), 0x0708u);
    ck_assert_uint_eq(le_load32(b + 1), 0x05060708u);
    ck_assert_uint_eq(le_load64(b + 1), 0x8102030405060708ull);
    ck_assert_uint_eq(le_load_n(b + 1, 3), 0x060708u);
    ck_assert_uint_eq(le_load_n(b + 1, 8), 0x8102030405060708ull);
    ck_assert_uint_eq(le_load_n(b + 1, 0), 0);
    unsigned char c[8];
    le_store64(c, 0xfedcba9876543210ull);
    ck_assert_uint_eq(le_load64(c), 0xfedcba9876543210ull);
}
END_TEST

Suite *
le_suite(void)
{
    Suite *s = suite_create("le");
    TCase *tc = tcase_create("le");
    tcase_add_test(tc, stores_write_least_significant_byte_first);
    tcase_add_test(tc, loads_invert_stores_at_any_offset);
    suite_add_tcase(s, tc);
    return s;
}
