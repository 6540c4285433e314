/* errbuf: codes, messages, locations and formatting. */
#include <string.h>

#include "base/errbuf.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

START_TEST(set_returns_code_and_formats)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = errbuf_set(&eb, -ERR_CORRUPT, "share %u: bad MAC", 7u);
    ck_assert_int_eq(rc, -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "share 7: bad MAC");
    char out[512];
    ck_assert_str_eq(errbuf_format(&eb, out, sizeof out), "error: share 7: bad MAC");
    errbuf_set_location(&eb, "s.yaml", 3, 5);
    ck_assert_str_eq(errbuf_format(&eb, out, sizeof out), "s.yaml:3:5: error: share 7: bad MAC");
    ck_assert_int_eq(errbuf_prefix(&eb, "round %d", 2), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "round 2: share 7: bad MAC");
}
END_TEST

START_TEST(null_record_is_accepted)
{
    ck_assert_int_eq(errbuf_set(NULL, -ERR_IO, "x"), -ERR_IO);
    errbuf_set_location(NULL, "f", 1, 1);
    errbuf_clear(NULL);
}
END_TEST

START_TEST(long_messages_truncate)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    errbuf_set(&eb, -ERR_INVALID, "%s", big);
    ck_assert_uint_eq(strlen(eb.msg), ERRBUF_MSG_BYTES - 1);
    char out[16];
    errbuf_format(&eb, out, sizeof out);
    ck_assert_uint_eq(strlen(out), sizeof out - 1);
}
END_TEST

START_TEST(every_code_has_a_name)
{
    for (int c = ERR_OK; c <= ERR_INTERNAL; c++) {
        ck_assert_str_ne(errbuf_code_name(-c), "unknown error");
        ck_assert_str_eq(errbuf_code_name(-c), errbuf_code_name(c));
    }
    ck_assert_str_eq(errbuf_code_name(-999), "unknown error");
}
END_TEST

Suite *
errbuf_suite(void)
{
    Suite *s = suite_create("errbuf");
    TCase *tc = tcase_create("errbuf");
    tcase_add_test(tc, set_returns_code_and_formats);
    tcase_add_test(tc, null_record_is_accepted);
    tcase_add_test(tc, long_messages_truncate);
    tcase_add_test(tc, every_code_has_a_name);
    suite_add_tcase(s, tc);
    return s;
}
