/* strbuf: growth, the size cap, formatting, detach and out-of-memory behaviour. */
#include <string.h>

#include "base/mem.h"
#include "base/strbuf.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

START_TEST(empty_buffer_is_empty_string)
{
    struct strbuf sb;
    strbuf_init(&sb, 16);
    ck_assert_str_eq(strbuf_str(&sb), "");
    ck_assert_uint_eq(strbuf_len(&sb), 0);
    ck_assert_uint_eq(strbuf_cap(&sb), 16);
    strbuf_reset(&sb);
    strbuf_release(&sb);
    ck_assert_str_eq(strbuf_str(&sb), "");
}
END_TEST

START_TEST(appends_grow_and_keep_nul)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 100000);
    char expect[3001];
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(strbuf_appends(&sb, "ab", &eb), 0);
        ck_assert_int_eq(strbuf_appendc(&sb, 'c', &eb), 0);
        memcpy(expect + 3 * i, "abc", 3);
    }
    expect[3000] = '\0';
    ck_assert_uint_eq(strbuf_len(&sb), 3000);
    ck_assert_str_eq(strbuf_str(&sb), expect);
    /* Bytes with NULs inside count in the length. */
    ck_assert_int_eq(strbuf_append(&sb, "x\0y", 3, &eb), 0);
    ck_assert_uint_eq(strbuf_len(&sb), 3003);
    ck_assert_int_eq(memcmp(strbuf_str(&sb) + 3000, "x\0y\0", 4), 0);
    strbuf_reset(&sb);
    ck_assert_str_eq(strbuf_str(&sb), "");
    ck_assert_int_eq(strbuf_appends(&sb, "again", &eb), 0);
    ck_assert_str_eq(strbuf_str(&sb), "again");
    strbuf_release(&sb);
    ck_assert_int_eq(eb.code, 0);
}
END_TEST

START_TEST(cap_is_enforced_exactly)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 10);
    ck_assert_int_eq(strbuf_appends(&sb, "0123456", &eb), 0);
    /* 7 + 4 = 11 > 10: refused, contents unchanged. */
    ck_assert_int_eq(strbuf_appends(&sb, "789a", &eb), -ERR_RANGE);
    ck_assert_int_eq(eb.code, -ERR_RANGE);
    ck_assert_str_eq(strbuf_str(&sb), "0123456");
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "%d", 7890), -ERR_RANGE);
    ck_assert_str_eq(strbuf_str(&sb), "0123456");
    /* Exactly up to the cap is allowed. */
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "%d", 789), 0);
    ck_assert_str_eq(strbuf_str(&sb), "0123456789");
    ck_assert_int_eq(strbuf_appendc(&sb, 'x', &eb), -ERR_RANGE);
    ck_assert_int_eq(strbuf_append(&sb, "", 0, &eb), 0);
    ck_assert_int_eq(strbuf_grow(&sb, 1, &eb), -ERR_RANGE);
    ck_assert_uint_eq(strbuf_len(&sb), 10);
    strbuf_release(&sb);
}
END_TEST

START_TEST(cap_zero_holds_nothing)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    ck_assert_int_eq(strbuf_appendc(&sb, 'x', NULL), -ERR_RANGE);
    ck_assert_int_eq(strbuf_append(&sb, "", 0, NULL), 0);
    ck_assert_str_eq(strbuf_str(&sb), "");
    strbuf_release(&sb);
}
END_TEST

START_TEST(appendf_formats_long_text)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 1 << 20);
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "%s=%d;", "a", 1), 0);
    char big[500];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* Longer than the room left: the second vsnprintf pass must produce it whole. */
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "[%s]%u", big, 42u), 0);
    ck_assert_uint_eq(strbuf_len(&sb), 4 + 1 + 499 + 1 + 2);
    ck_assert_int_eq(strncmp(strbuf_str(&sb), "a=1;[zzz", 8), 0);
    ck_assert_str_eq(strbuf_str(&sb) + strbuf_len(&sb) - 4, "z]42");
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "%s", ""), 0);
    ck_assert_uint_eq(strbuf_len(&sb), 507);
    strbuf_release(&sb);
}
END_TEST

START_TEST(detach_hands_over)
{
    struct strbuf sb;
    strbuf_init(&sb, 64);
    size_t len = 99;
    char *s = strbuf_detach(&sb, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    ck_assert_uint_eq(len, 0);
    mem_free(s);
    ck_assert_int_eq(strbuf_appends(&sb, "fedbits", NULL), 0);
    s = strbuf_detach(&sb, &len);
    ck_assert_str_eq(s, "fedbits");
    ck_assert_uint_eq(len, 7);
    /* sb is empty again, same cap, and reusable. */
    ck_assert_str_eq(strbuf_str(&sb), "");
    ck_assert_uint_eq(strbuf_cap(&sb), 64);
    ck_assert_int_eq(strbuf_appends(&sb, "x", NULL), 0);
    strbuf_release(&sb);
    mem_free(s);
}
END_TEST

START_TEST(out_of_memory_keeps_contents)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 1 << 20);
    mem_fault_arm(1);
    ck_assert_int_eq(strbuf_appends(&sb, "a", &eb), -ERR_NOMEM);
    ck_assert_int_eq(mem_fault_fired(), 1);
    ck_assert_str_eq(strbuf_str(&sb), "");
    ck_assert_int_eq(strbuf_appends(&sb, "abc", &eb), 0);
    char big[200];
    memset(big, 'q', sizeof big);
    mem_fault_arm(1);
    ck_assert_int_eq(strbuf_append(&sb, big, sizeof big, &eb), -ERR_NOMEM);
    ck_assert_str_eq(strbuf_str(&sb), "abc");
    mem_fault_arm(1);
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "%.*s", 150, big), -ERR_NOMEM);
    ck_assert_str_eq(strbuf_str(&sb), "abc");
    ck_assert_uint_eq(strbuf_len(&sb), 3);
    mem_fault_arm(0);
    ck_assert_int_eq(strbuf_appendf(&sb, &eb, "%.*s", 150, big), 0);
    ck_assert_uint_eq(strbuf_len(&sb), 153);
    strbuf_release(&sb);
    /* An empty never-grown buffer's detach needs one byte. */
    mem_fault_arm(1);
    ck_assert_ptr_null(strbuf_detach(&sb, NULL));
    mem_fault_arm(0);
}
END_TEST

START_TEST(huge_cap_is_lowered)
{
    struct strbuf sb;
    strbuf_init(&sb, SIZE_MAX);
    ck_assert_uint_eq(strbuf_cap(&sb), STRBUF_CAP_MAX);
    ck_assert_int_eq(strbuf_grow(&sb, SIZE_MAX, NULL), -ERR_RANGE);
    ck_assert_int_eq(strbuf_appends(&sb, "ok", NULL), 0);
    strbuf_release(&sb);
}
END_TEST

Suite *
strbuf_suite(void)
{
    Suite *s = suite_create("strbuf");
    TCase *tc = tcase_create("strbuf");
    tcase_add_test(tc, empty_buffer_is_empty_string);
    tcase_add_test(tc, appends_grow_and_keep_nul);
    tcase_add_test(tc, cap_is_enforced_exactly);
    tcase_add_test(tc, cap_zero_holds_nothing);
    tcase_add_test(tc, appendf_formats_long_text);
    tcase_add_test(tc, detach_hands_over);
    tcase_add_test(tc, out_of_memory_keeps_contents);
    tcase_add_test(tc, huge_cap_is_lowered);
    suite_add_tcase(s, tc);
    return s;
}
