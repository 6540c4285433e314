/* csv: the documented layout, and every error with its file:line:column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "clients/csv.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"
#include "tests/unit/clients/testdata.h"

#define CSV_TEST_CAP ((size_t)1 << 20)

static int
ct_read(struct dataset_split *s, size_t *nf, unsigned *top, const char *text, unsigned classes,
        struct errbuf *eb, char **path_out)
{
    char *dir = tsupport_tmpdir();
    char *path = testdata_write(dir, "d.csv", text, strlen(text), false);
    errbuf_clear(eb);
    int rc = csv_read(s, nf, top, path, classes, CSV_TEST_CAP, eb);
    tsupport_rmtree(dir);
    free(dir);
    if (path_out != NULL)
        *path_out = path;
    else
        free(path);
    return rc;
}

START_TEST(reads_the_documented_layout)
{
    /* Header, spaces around fields, CRLF, a blank line, exponent notation, no final LF. */
    const char *text = "label, f0 ,f1\r\n"
                       "3, 0.5 ,-2.25\r\n"
                       "\n"
                       "0,1e-3,+4\n"
                       "   \n"
                       "65535,.5,7";
    struct dataset_split s;
    size_t nf = 0;
    unsigned top = 0;
    struct errbuf eb;
    ck_assert_int_eq(ct_read(&s, &nf, &top, text, 0, &eb, NULL), 0);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(nf, 2);
    ck_assert_uint_eq(top, 65535);
    const float x[6] = { 0.5f, -2.25f, 1e-3f, 4.0f, 0.5f, 7.0f };
    const unsigned y[3] = { 3, 0, 65535 };
    for (size_t i = 0; i < 6; i++)
        ck_assert_float_eq(s.x[i], x[i]);
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(s.y[i], y[i]);
    mem_free(s.x);
    mem_free(s.y);

    /* Without a header; many rows (the arrays grow). */
    size_t rows = 5000;
    char *big = malloc(rows * 32);
    size_t at = 0;
    for (size_t i = 0; i < rows; i++)
        at += (size_t)snprintf(big + at, 32, "%zu,%zu.25,-%zu\n", i % 7, i, i);
    ck_assert_int_eq(ct_read(&s, &nf, &top, big, 7, &eb, NULL), 0);
    ck_assert_uint_eq(s.n, rows);
    ck_assert_uint_eq(nf, 2);
    ck_assert_uint_eq(top, 6);
    for (size_t i = 0; i < rows; i++) {
        ck_assert_uint_eq(s.y[i], i % 7);
        ck_assert_float_eq(s.x[2 * i], (float)((double)i + 0.25));
        ck_assert_float_eq(s.x[2 * i + 1], -(float)i);
    }
    mem_free(s.x);
    mem_free(s.y);
    free(big);
}
END_TEST

struct ct_bad {
    const char *text;
    unsigned classes;
    long line, column;
    const char *msg;
};

static const struct ct_bad ct_bads[] = {
    { "0,1.5\n1,abc\n", 0, 2, 3, "feature is not a finite number" },
    { "0,1.5\n1,2.5x\n", 0, 2, 3, "feature is not a finite number" },
    { "0,1,2\n1,3\n", 0, 2, 4, "expected 2 features, found 1" },
    { "0,1\n1,2,3\n", 0, 2, 5, "more than 1 features" },
    { "x,y\n1.5,2\n", 0, 2, 1, "label must be an integer in 0..65535" },
    { "0,1\n-1,2\n", 0, 2, 1, "label must be an integer in 0..65535" },
    { "0,1\n65536,2\n", 0, 2, 1, "label must be an integer in 0..65535" },
    { "0,1\n  12,2\n", 10, 2, 3, "label 12 is not below the 10 classes" },
    { "0,\n", 0, 1, 3, "feature is not a finite number" },
    { "0,1, \n", 0, 1, 6, "feature is not a finite number" },
    { "0,inf\n", 0, 1, 3, "feature is not a finite number" },
    { "0,nan\n", 0, 1, 3, "feature is not a finite number" },
    { "0,1e999\n", 0, 1, 3, "feature is not a finite number" },
    /* Finite as a double, not as the float it is stored in. */
    { "0,1\n1,2\n0,-1e39\n", 0, 3, 3, "feature is beyond the float range (|x| > 3.4e38)" },
    { "0,1\n1,1e39\n", 0, 2, 3, "feature is beyond the float range (|x| > 3.4e38)" },
    { "5\n", 0, 1, 2, "expected at least one feature after the label" },
    { "0,1\r2\n", 0, 1, 4, "stray carriage return" },
    { "h\n0,1\n\n,2\n", 0, 4, 1, "label is not a number" },
};

START_TEST(rejects_with_line_and_column)
{
    const struct ct_bad *b = &ct_bads[_i];
    struct dataset_split s;
    size_t nf = 0;
    unsigned top = 0;
    struct errbuf eb;
    char *path = NULL;
    ck_assert_int_eq(ct_read(&s, &nf, &top, b->text, b->classes, &eb, &path), -ERR_CORRUPT);
    ck_assert_ptr_null(s.x);
    ck_assert_ptr_null(s.y);
    ck_assert_str_eq(eb.file, path);
    ck_assert_int_eq(eb.line, b->line);
    ck_assert_int_eq(eb.column, b->column);
    char expect[ERRBUF_MSG_BYTES];
    snprintf(expect, sizeof expect, "%s:%ld:%ld: %s", path, b->line, b->column, b->msg);
    ck_assert_str_eq(eb.msg, expect);
    free(path);
}
END_TEST

START_TEST(rejects_files_without_samples)
{
    static const char *const empties[] = { "", "label,a,b\n", "\n\n  \n", "label\r\n\r\n" };
    for (size_t k = 0; k < sizeof empties / sizeof empties[0]; k++) {
        struct dataset_split s;
        size_t nf = 0;
        unsigned top = 0;
        struct errbuf eb;
        ck_assert_int_eq(ct_read(&s, &nf, &top, empties[k], 0, &eb, NULL), -ERR_CORRUPT);
        ck_assert_msg(strstr(eb.msg, "holds no samples") != NULL, "%s", eb.msg);
    }
}
END_TEST

START_TEST(rejects_missing_large_and_nul)
{
    struct dataset_split s;
    size_t nf = 0;
    unsigned top = 0;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(csv_read(&s, &nf, &top, "/nonexistent/d.csv", 0, CSV_TEST_CAP, &eb),
                     -ERR_NOTFOUND);
    ck_assert_str_eq(eb.file, "/nonexistent/d.csv");
    ck_assert_msg(strstr(eb.msg, "cannot open CSV file '/nonexistent/d.csv'") != NULL, "%s",
                  eb.msg);

    char *dir = tsupport_tmpdir();
    const char text[] = "0,1\n1,2\n";
    char *path = testdata_write(dir, "d.csv", text, sizeof text - 1, false);
    ck_assert_int_eq(csv_read(&s, &nf, &top, path, 0, 7, &eb), -ERR_RANGE);
    ck_assert_int_eq(csv_read(&s, &nf, &top, path, 0, 8, &eb), 0);
    mem_free(s.x);
    mem_free(s.y);
    free(path);
    const char nul[] = "0,1\n1,\0002\n";
    path = testdata_write(dir, "n.csv", nul, sizeof nul - 1, false);
    ck_assert_int_eq(csv_read(&s, &nf, &top, path, 0, CSV_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "NUL byte") != NULL, "%s", eb.msg);
    free(path);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(allocation_failures_are_clean)
{
    char *dir = tsupport_tmpdir();
    size_t rows = 3000;
    char *big = malloc(rows * 16);
    size_t at = 0;
    for (size_t i = 0; i < rows; i++)
        at += (size_t)snprintf(big + at, 16, "%zu,%zu\n", i % 3, i);
    char *path = testdata_write(dir, "d.csv", big, at, false);
    for (long k = 1; k < 40; k++) {
        struct dataset_split s;
        size_t nf = 0;
        unsigned top = 0;
        struct errbuf eb;
        errbuf_clear(&eb);
        mem_fault_arm(k);
        int rc = csv_read(&s, &nf, &top, path, 0, CSV_TEST_CAP, &eb);
        bool fired = mem_fault_fired();
        mem_fault_arm(0);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(s.n, rows);
            mem_free(s.x);
            mem_free(s.y);
            break;
        }
        ck_assert_int_eq(rc, -ERR_NOMEM);
        ck_assert_ptr_null(s.x);
    }
    free(big);
    free(path);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, reads_the_documented_layout);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejects");
    tcase_add_loop_test(tc, rejects_with_line_and_column, 0,
                        (int)(sizeof ct_bads / sizeof ct_bads[0]));
    tcase_add_test(tc, rejects_files_without_samples);
    tcase_add_test(tc, rejects_missing_large_and_nul);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return s;
}
