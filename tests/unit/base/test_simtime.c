/* simtime: conversions round and saturate. */
#include "base/simtime.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

START_TEST(conversions)
{
    ck_assert_int_eq(simtime_from_s(1.5), 1500000);
    ck_assert_int_eq(simtime_from_s(2.4999995e-6), 2);
    ck_assert_int_eq(simtime_from_s(-3.0), 0);
    ck_assert_int_eq(simtime_from_s(NAN), 0);
    ck_assert_int_eq(simtime_from_s(INFINITY), SIMTIME_MAX);
    ck_assert_int_eq(simtime_add(SIMTIME_MAX - 1, 5), SIMTIME_MAX);
    ck_assert_double_eq(simtime_to_s(2500000), 2.5);
}
END_TEST

Suite *
simtime_suite(void)
{
    Suite *s = suite_create("simtime");
    TCase *tc = tcase_create("simtime");
    tcase_add_test(tc, conversions);
    suite_add_tcase(s, tc);
    return s;
}
