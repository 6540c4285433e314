/* json: the exact escaped form of strings, and all-or-nothing appends. */
#include "base/json.h"
#include "base/mem.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

static void
json_expect(const char *in, const char *want)
{
    struct strbuf sb;
    strbuf_init(&sb, 1000);
    ck_assert_int_eq(strbuf_appends(&sb, "x=", NULL), 0);
    ck_assert_int_eq(json_append_string(&sb, in, NULL), 0);
    ck_assert_str_eq(strbuf_str(&sb) + 2, want);
    ck_assert_uint_eq(strbuf_len(&sb) - 2, json_string_len(in));
    strbuf_release(&sb);
}

START_TEST(escapes_exactly)
{
    json_expect("", "\"\"");
    json_expect("eden", "\"eden\"");
    json_expect("a\"b\\c", "\"a\\\"b\\\\c\"");
    json_expect("l1\nl2\tx\x01\x1f", "\"l1\\u000al2\\u0009x\\u0001\\u001f\"");
    json_expect("caf\xc3\xa9 \x7f/", "\"caf\xc3\xa9 \x7f/\"");
}
END_TEST

START_TEST(failure_leaves_buffer_unchanged)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 8);
    ck_assert_int_eq(strbuf_appends(&sb, "k:", &eb), 0);
    /* "a\"b" escapes to 6 bytes: 2 + 6 = 8 fits; one more byte does not. */
    ck_assert_int_eq(json_append_string(&sb, "a\"bc", &eb), -ERR_RANGE);
    ck_assert_str_eq(strbuf_str(&sb), "k:");
    ck_assert_int_eq(json_append_string(&sb, "a\"b", &eb), 0);
    ck_assert_str_eq(strbuf_str(&sb), "k:\"a\\\"b\"");
    strbuf_release(&sb);
    strbuf_init(&sb, 100);
    mem_fault_arm(1);
    ck_assert_int_eq(json_append_string(&sb, "x", &eb), -ERR_NOMEM);
    mem_fault_arm(0);
    ck_assert_str_eq(strbuf_str(&sb), "");
    strbuf_release(&sb);
}
END_TEST

Suite *
json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, escapes_exactly);
    tcase_add_test(tc, failure_leaves_buffer_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
