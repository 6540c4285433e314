/* mem: the allocation wrapper and its fault injection. */
#include <stdint.h>

#include "base/mem.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

START_TEST(fault_fails_exactly_the_nth)
{
    mem_fault_arm(3);
    void *a = mem_alloc(8);
    void *b = mem_calloc(2, 8);
    void *c = mem_alloc(8);
    void *d = mem_alloc(8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(mem_fault_fired(), 1);
    mem_free(a);
    mem_free(b);
    mem_free(d);
    mem_fault_arm(0);
    ck_assert_int_eq(mem_fault_fired(), 0);
}
END_TEST

START_TEST(calloc_overflow_is_null)
{
    ck_assert_ptr_null(mem_calloc(SIZE_MAX / 2, 4));
    mem_free(NULL);
}
END_TEST

START_TEST(aligned_and_strdup)
{
    float *v = mem_alloc_aligned(64, 1000 * sizeof *v);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq((uintptr_t)v % 64, 0);
    mem_free_aligned(v);
    char *s = mem_strdup("eden");
    ck_assert_str_eq(s, "eden");
    mem_free(s);
}
END_TEST

Suite *
mem_suite(void)
{
    Suite *s = suite_create("mem");
    TCase *tc = tcase_create("mem");
    tcase_add_test(tc, fault_fails_exactly_the_nth);
    tcase_add_test(tc, calloc_overflow_is_null);
    tcase_add_test(tc, aligned_and_strdup);
    suite_add_tcase(s, tc);
    return s;
}
