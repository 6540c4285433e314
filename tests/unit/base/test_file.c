/* file: whole-file reads, the cap, located errors and out-of-memory behaviour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/mem.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

/* Writes n bytes of data to dir/name; returns the owned path (free()). */
static char *
file_put(const char *dir, const char *name, const void *data, size_t n)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

START_TEST(reads_whole_file_after_existing_contents)
{
    char *dir = tsupport_tmpdir();
    /* Larger than one read chunk, with a NUL inside. */
    size_t n = 40000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 % 251);
    char *path = file_put(dir, "big.bin", data, n);
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, n + 3);
    ck_assert_int_eq(strbuf_appends(&sb, "hdr", &eb), 0);
    ck_assert_int_eq(file_read(&sb, path, "test file", &eb), 0);
    ck_assert_uint_eq(strbuf_len(&sb), n + 3);
    ck_assert_int_eq(memcmp(strbuf_str(&sb) + 3, data, n), 0);
    ck_assert_int_eq(strbuf_str(&sb)[n + 3], '\0');
    strbuf_release(&sb);
    char *empty = file_put(dir, "empty", "", 0);
    strbuf_init(&sb, 0);
    ck_assert_int_eq(file_read(&sb, empty, "test file", &eb), 0);
    ck_assert_str_eq(strbuf_str(&sb), "");
    strbuf_release(&sb);
    free(empty);
    free(path);
    free(data);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(cap_refuses_larger_file_and_keeps_contents)
{
    char *dir = tsupport_tmpdir();
    char *path = file_put(dir, "ten", "0123456789", 10);
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 11);
    ck_assert_int_eq(strbuf_appends(&sb, "ab", &eb), 0);
    ck_assert_int_eq(file_read(&sb, path, "scenario", &eb), -ERR_RANGE);
    ck_assert_str_eq(strbuf_str(&sb), "ab");
    ck_assert_str_eq(eb.file, path);
    ck_assert_ptr_nonnull(strstr(eb.msg, "scenario '"));
    ck_assert_ptr_nonnull(strstr(eb.msg, "larger than the cap of 11 bytes"));
    strbuf_reset(&sb);
    /* Exactly the cap fits. */
    strbuf_release(&sb);
    strbuf_init(&sb, 10);
    ck_assert_int_eq(file_read(&sb, path, "scenario", &eb), 0);
    ck_assert_str_eq(strbuf_str(&sb), "0123456789");
    strbuf_release(&sb);
    free(path);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(missing_file_and_directory_are_located)
{
    char *dir = tsupport_tmpdir();
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 100);
    ck_assert_int_eq(file_read(&sb, "/nonexistent/a.csv", "CSV file", &eb), -ERR_NOTFOUND);
    ck_assert_str_eq(eb.file, "/nonexistent/a.csv");
    ck_assert_ptr_nonnull(strstr(eb.msg, "cannot open CSV file '/nonexistent/a.csv': "));
    /* A directory opens but cannot be read. */
    errbuf_clear(&eb);
    ck_assert_int_eq(file_read(&sb, dir, "trace", &eb), -ERR_IO);
    ck_assert_str_eq(eb.file, dir);
    ck_assert_str_eq(strbuf_str(&sb), "");
    strbuf_release(&sb);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(out_of_memory_is_reported)
{
    char *dir = tsupport_tmpdir();
    char *path = file_put(dir, "f", "abc", 3);
    struct errbuf eb;
    errbuf_clear(&eb);
    struct strbuf sb;
    strbuf_init(&sb, 100);
    mem_fault_arm(1);
    ck_assert_int_eq(file_read(&sb, path, "f", &eb), -ERR_NOMEM);
    mem_fault_arm(0);
    ck_assert_str_eq(eb.file, path);
    ck_assert_str_eq(strbuf_str(&sb), "");
    ck_assert_int_eq(file_read(&sb, path, "f", &eb), 0);
    ck_assert_str_eq(strbuf_str(&sb), "abc");
    strbuf_release(&sb);
    free(path);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
file_suite(void)
{
    Suite *s = suite_create("file");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, reads_whole_file_after_existing_contents);
    tcase_add_test(tc, cap_refuses_larger_file_and_keeps_contents);
    tcase_add_test(tc, missing_file_and_directory_are_located);
    tcase_add_test(tc, out_of_memory_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
