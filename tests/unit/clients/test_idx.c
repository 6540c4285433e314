/* idx: round trips, every truncation, bad headers and damaged gzip streams. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "clients/idx.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"
#include "tests/unit/clients/testdata.h"

#define IDX_TEST_CAP ((size_t)1 << 24)

/* 5 images of 3 x 2 pixels with values 0, 7, 14, ..., and 5 labels 0..4 (byte 4 = 9). */
enum { IT_N = 5, IT_H = 3, IT_W = 2 };

static unsigned char *
it_images(size_t *n)
{
    unsigned char px[IT_N * IT_H * IT_W];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(i * 7 + (i == 29 ? 52 : 0)); /* last pixel 255 */
    const unsigned dims[3] = { IT_N, IT_H, IT_W };
    return testdata_idx(0x08, 3, dims, px, sizeof px, n);
}

static unsigned char *
it_labels(size_t *n, unsigned char last)
{
    unsigned char lb[IT_N] = { 3, 0, 2, 1, last };
    const unsigned dims[1] = { IT_N };
    return testdata_idx(0x08, 1, dims, lb, sizeof lb, n);
}

static int
it_read(struct idx_array *a, const char *path, struct errbuf *eb)
{
    errbuf_clear(eb);
    return idx_read(a, path, IDX_TEST_CAP, eb);
}

START_TEST(reads_plain_and_gzip)
{
    char *dir = tsupport_tmpdir();
    size_t n = 0;
    unsigned char *bytes = it_images(&n);
    for (int gz = 0; gz < 2; gz++) {
        char *path = testdata_write(dir, gz ? "im.gz" : "im", bytes, n, gz == 1);
        struct idx_array a;
        struct errbuf eb;
        ck_assert_int_eq(it_read(&a, path, &eb), 0);
        ck_assert_int_eq(a.type, IDX_U8);
        ck_assert_uint_eq(a.ndims, 3);
        ck_assert_uint_eq(a.dims[0], IT_N);
        ck_assert_uint_eq(a.dims[1], IT_H);
        ck_assert_uint_eq(a.dims[2], IT_W);
        ck_assert_uint_eq(a.dims[3], 0);
        ck_assert_uint_eq(a.count, IT_N * IT_H * IT_W);
        ck_assert_uint_eq(a.data_offset, 16);
        ck_assert_mem_eq(a.data, bytes + 16, a.count);
        ck_assert_double_eq(idx_array_get(&a, 3), 21.0);
        idx_array_release(&a);
        idx_array_release(&a); /* a released array can be released again */
        free(path);
    }
    free(bytes);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* Big-endian decoding of every element type. */
START_TEST(decodes_every_type)
{
    char *dir = tsupport_tmpdir();
    static const struct {
        unsigned type;
        unsigned char bytes[8];
        double value;
    } cases[] = {
        { 0x08, { 0xC8 }, 200.0 },
        { 0x09, { 0xC8 }, -56.0 },
        { 0x0B, { 0xFF, 0x38 }, -200.0 },
        { 0x0C, { 0x00, 0x01, 0x00, 0x02 }, 65538.0 },
        { 0x0D, { 0x40, 0x18, 0xA3, 0xD7 }, (double)2.385f },
        { 0x0E, { 0xC0, 0x03, 0x14, 0x7A, 0xE1, 0x47, 0xAE, 0x14 }, -2.385 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const unsigned dims[1] = { 1 };
        size_t n = 0;
        unsigned char *b =
            testdata_idx(cases[k].type, 1, dims, cases[k].bytes, idx_type_size(cases[k].type), &n);
        char *path = testdata_write(dir, "t", b, n, false);
        struct idx_array a;
        struct errbuf eb;
        ck_assert_int_eq(it_read(&a, path, &eb), 0);
        ck_assert_double_eq(idx_array_get(&a, 0), cases[k].value);
        idx_array_release(&a);
        free(path);
        free(b);
    }
    ck_assert_uint_eq(idx_type_size(0x07), 0);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/*
 * Every proper prefix of a valid plain file fails with -ERR_CORRUPT, naming the file and
 * the exact byte where the data ran out; so does every prefix of its gzip form.
 */
START_TEST(every_truncation_is_an_error)
{
    char *dir = tsupport_tmpdir();
    size_t n = 0;
    unsigned char *bytes = it_images(&n);
    for (size_t k = 0; k < n; k++) {
        char *path = testdata_write(dir, "cut", bytes, k, false);
        struct idx_array a;
        struct errbuf eb;
        ck_assert_int_eq(it_read(&a, path, &eb), -ERR_CORRUPT);
        ck_assert_ptr_null(a.data);
        ck_assert_str_eq(eb.file, path);
        ck_assert_int_eq(eb.offset, (long)k);
        char expect[64];
        snprintf(expect, sizeof expect, "file truncated at byte %zu", k);
        ck_assert_msg(strstr(eb.msg, expect) != NULL, "prefix %zu: %s", k, eb.msg);
        free(path);
    }
    size_t zn = 0;
    unsigned char *z = testdata_gzip(bytes, n, &zn);
    for (size_t k = 0; k < zn; k++) {
        char *path = testdata_write(dir, "cut.gz", z, k, false);
        struct idx_array a;
        struct errbuf eb;
        ck_assert_msg(it_read(&a, path, &eb) == -ERR_CORRUPT, "gzip prefix %zu of %zu: %s", k, zn,
                      eb.msg);
        ck_assert_str_eq(eb.file, path);
        ck_assert(eb.offset >= 0 && eb.offset <= (long)n);
        free(path);
    }
    /* The whole gzip file reads. */
    char *path = testdata_write(dir, "whole.gz", z, zn, false);
    struct idx_array a;
    struct errbuf eb;
    ck_assert_int_eq(it_read(&a, path, &eb), 0);
    idx_array_release(&a);
    free(path);
    free(z);
    free(bytes);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* Bad headers, trailing bytes and size caps, each with its byte offset. */
struct it_bad {
    size_t at;           /* byte to overwrite (SIZE_MAX: append one byte instead) */
    unsigned char value; /* new value */
    int code;
    long offset;
    const char *msg; /* expected substring */
};

static const struct it_bad it_bads[] = {
    { 0, 0x01, -ERR_CORRUPT, 0, "not an IDX file (magic 01 00 08 03" },
    { 1, 0x08, -ERR_CORRUPT, 0, "not an IDX file" },
    { 2, 0x07, -ERR_CORRUPT, 0, "not an IDX file (magic 00 00 07 03" },
    { 3, 0x00, -ERR_CORRUPT, 3, "0 dimensions at byte 3 (supported: 1..4)" },
    { 3, 0x05, -ERR_CORRUPT, 3, "5 dimensions at byte 3" },
    { 4, 0x01, -ERR_RANGE, 4, "asks for 100663326 data bytes (cap 16777216)" },
    { SIZE_MAX, 0x00, -ERR_CORRUPT, 46, "unexpected bytes after the data at byte 46" },
};

START_TEST(rejects_bad_headers)
{
    const struct it_bad *b = &it_bads[_i];
    char *dir = tsupport_tmpdir();
    size_t n = 0;
    unsigned char *bytes = it_images(&n);
    ck_assert_uint_eq(n, 46);
    unsigned char *mod = malloc(n + 1);
    memcpy(mod, bytes, n);
    size_t mn = n;
    if (b->at == SIZE_MAX)
        mod[mn++] = b->value;
    else
        mod[b->at] = b->value;
    for (int gz = 0; gz < 2; gz++) {
        char *path = testdata_write(dir, "bad", mod, mn, gz == 1);
        struct idx_array a;
        struct errbuf eb;
        ck_assert_int_eq(it_read(&a, path, &eb), b->code);
        ck_assert_int_eq(eb.offset, b->offset);
        ck_assert_str_eq(eb.file, path);
        ck_assert_msg(strstr(eb.msg, b->msg) != NULL, "%s", eb.msg);
        ck_assert_msg(strstr(eb.msg, path) != NULL, "%s", eb.msg);
        free(path);
    }
    free(mod);
    free(bytes);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* A header whose sizes overflow size_t, and a cap smaller than a valid file. */
START_TEST(rejects_huge_sizes)
{
    char *dir = tsupport_tmpdir();
    const unsigned dims[4] = { 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 2 };
    size_t n = 0;
    unsigned char *b = testdata_idx(0x0E, 4, dims, NULL, 0, &n);
    char *path = testdata_write(dir, "huge", b, n, false);
    struct idx_array a;
    struct errbuf eb;
    ck_assert_int_eq(it_read(&a, path, &eb), -ERR_RANGE);
    ck_assert_msg(strstr(eb.msg, "overflows the size") != NULL, "%s", eb.msg);
    free(path);
    free(b);
    b = it_images(&n);
    path = testdata_write(dir, "im", b, n, false);
    errbuf_clear(&eb);
    ck_assert_int_eq(idx_read(&a, path, 29, &eb), -ERR_RANGE);
    ck_assert_int_eq(idx_read(&a, path, 30, &eb), 0);
    idx_array_release(&a);
    free(path);
    free(b);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* A flipped bit inside the deflate data or the CRC trailer is a damaged stream. */
START_TEST(rejects_damaged_gzip)
{
    char *dir = tsupport_tmpdir();
    size_t n = 0, zn = 0;
    unsigned char *bytes = it_images(&n);
    unsigned char *z = testdata_gzip(bytes, n, &zn);
    const size_t spots[] = { zn - 8, zn - 5, zn - 2 }; /* CRC-32 and ISIZE trailer */
    for (size_t k = 0; k < sizeof spots / sizeof spots[0]; k++) {
        unsigned char *m = malloc(zn);
        memcpy(m, z, zn);
        m[spots[k]] ^= 0x10;
        char *path = testdata_write(dir, "bad.gz", m, zn, false);
        struct idx_array a;
        struct errbuf eb;
        ck_assert_int_eq(it_read(&a, path, &eb), -ERR_CORRUPT);
        ck_assert_msg(strstr(eb.msg, "damaged gzip stream") != NULL, "%s", eb.msg);
        free(path);
        free(m);
    }
    /* Flipping each byte of the deflate body never yields a silent success with wrong data. */
    for (size_t at = 10; at < zn - 8; at++) {
        unsigned char *m = malloc(zn);
        memcpy(m, z, zn);
        m[at] ^= 0x5A;
        char *path = testdata_write(dir, "bad.gz", m, zn, false);
        struct idx_array a;
        struct errbuf eb;
        int rc = it_read(&a, path, &eb);
        if (rc == 0) {
            ck_assert_uint_eq(a.count * 1 + a.data_offset, n);
            ck_assert_mem_eq(a.data, bytes + 16, a.count);
            idx_array_release(&a);
        } else {
            ck_assert(rc == -ERR_CORRUPT || rc == -ERR_RANGE);
        }
        free(path);
        free(m);
    }
    free(z);
    free(bytes);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(missing_file_is_not_found)
{
    struct idx_array a;
    struct errbuf eb;
    ck_assert_int_eq(it_read(&a, "/nonexistent/fedbits/x.idx", &eb), -ERR_NOTFOUND);
    ck_assert_str_eq(eb.msg, "IDX file '/nonexistent/fedbits/x.idx' not found");
    ck_assert_str_eq(eb.file, "/nonexistent/fedbits/x.idx");
    char *dir = tsupport_tmpdir();
    ck_assert_int_eq(it_read(&a, dir, &eb), -ERR_IO); /* a folder is not a file */
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* images + labels into a split: pixels / 255, labels and their checks. */
START_TEST(split_scales_pixels_and_checks_labels)
{
    char *dir = tsupport_tmpdir();
    size_t ni = 0, nl = 0;
    unsigned char *im = it_images(&ni);
    unsigned char *lb = it_labels(&nl, 9);
    char *pi = testdata_write(dir, "im.gz", im, ni, true);
    char *pl = testdata_write(dir, "lb", lb, nl, false);
    struct dataset_split s;
    size_t nf = 0;
    unsigned top = 0;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pi, pl, 0, IDX_TEST_CAP, &eb), 0);
    ck_assert_uint_eq(s.n, IT_N);
    ck_assert_uint_eq(nf, IT_H * IT_W);
    ck_assert_uint_eq(top, 9);
    for (size_t i = 0; i < IT_N * IT_H * IT_W; i++)
        ck_assert_float_eq(s.x[i], (float)im[16 + i] / 255.0f);
    ck_assert_float_eq(s.x[29], 1.0f);
    ck_assert_float_eq(s.x[0], 0.0f);
    ck_assert_uint_eq(s.y[0], 3);
    ck_assert_uint_eq(s.y[4], 9);
    mem_free(s.x);
    mem_free(s.y);

    /* Label 9 with 9 classes: out of range, at byte 8 + 4 of the labels file. */
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pi, pl, 9, IDX_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_ptr_null(s.x);
    ck_assert_str_eq(eb.file, pl);
    ck_assert_int_eq(eb.offset, 12);
    ck_assert_msg(strstr(eb.msg, "label 9 of sample 4 at byte 12 is outside 0..8") != NULL, "%s",
                  eb.msg);

    /* Count mismatch: 4 labels for 5 images. */
    const unsigned d4[1] = { 4 };
    size_t n4 = 0;
    unsigned char *l4 = testdata_idx(0x08, 1, d4, lb + 8, 4, &n4);
    char *p4 = testdata_write(dir, "l4", l4, n4, false);
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pi, p4, 0, IDX_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "has 4 labels but") != NULL, "%s", eb.msg);

    /* Labels with two dimensions, and the images file given as labels. */
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pi, pi, 0, IDX_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "labels must be one dimension of integers") != NULL, "%s", eb.msg);

    /* Negative s16 label. */
    const unsigned d5[1] = { IT_N };
    const unsigned char neg[10] = { 0, 1, 0, 2, 0xFF, 0xFF, 0, 0, 0, 1 };
    size_t nn = 0;
    unsigned char *ln = testdata_idx(0x0B, 1, d5, neg, sizeof neg, &nn);
    char *pn = testdata_write(dir, "ln", ln, nn, false);
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pi, pn, 0, IDX_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(eb.offset, 8 + 2 * 2);

    /* A float image that is not finite. */
    const unsigned df[2] = { 1, 2 };
    const unsigned char fx[8] = { 0x3F, 0x80, 0, 0, 0x7F, 0xC0, 0, 0 }; /* 1.0, NaN */
    size_t nfb = 0;
    unsigned char *fb = testdata_idx(0x0D, 2, df, fx, sizeof fx, &nfb);
    char *pf = testdata_write(dir, "fx", fb, nfb, false);
    const unsigned d1[1] = { 1 };
    size_t n1 = 0;
    unsigned char *l1 = testdata_idx(0x08, 1, d1, lb + 8, 1, &n1);
    char *p1 = testdata_write(dir, "l1", l1, n1, false);
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pf, p1, 0, IDX_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(eb.offset, 12 + 4);
    ck_assert_msg(strstr(eb.msg, "is not a finite float") != NULL, "%s", eb.msg);

    /* Missing labels file: the role is named. */
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, pi, "/nonexistent/l", 0, IDX_TEST_CAP, &eb),
                     -ERR_NOTFOUND);
    ck_assert_str_eq(eb.msg, "labels: IDX file '/nonexistent/l' not found");

    /* Images without samples. */
    const unsigned d0[2] = { 0, 4 };
    size_t n0 = 0;
    unsigned char *e0 = testdata_idx(0x08, 2, d0, NULL, 0, &n0);
    char *p0 = testdata_write(dir, "e0", e0, n0, false);
    ck_assert_int_eq(idx_read_split(&s, &nf, &top, p0, pl, 0, IDX_TEST_CAP, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "holds no samples") != NULL, "%s", eb.msg);

    free(e0);
    free(p0);
    free(fb);
    free(pf);
    free(l1);
    free(p1);
    free(ln);
    free(pn);
    free(l4);
    free(p4);
    free(im);
    free(lb);
    free(pi);
    free(pl);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* Allocation failures anywhere in a read give -ERR_NOMEM and leak nothing (ASan build). */
START_TEST(allocation_failures_are_clean)
{
    char *dir = tsupport_tmpdir();
    size_t ni = 0, nl = 0;
    unsigned char *im = it_images(&ni);
    unsigned char *lb = it_labels(&nl, 4);
    char *pi = testdata_write(dir, "im", im, ni, false);
    char *pl = testdata_write(dir, "lb", lb, nl, false);
    for (long k = 1; k < 20; k++) {
        struct dataset_split s;
        size_t nf = 0;
        unsigned top = 0;
        struct errbuf eb;
        errbuf_clear(&eb);
        mem_fault_arm(k);
        int rc = idx_read_split(&s, &nf, &top, pi, pl, 0, IDX_TEST_CAP, &eb);
        bool fired = mem_fault_fired();
        mem_fault_arm(0);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            mem_free(s.x);
            mem_free(s.y);
            break;
        }
        ck_assert_int_eq(rc, -ERR_NOMEM);
        ck_assert_ptr_null(s.x);
    }
    free(im);
    free(lb);
    free(pi);
    free(pl);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
idx_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, reads_plain_and_gzip);
    tcase_add_test(tc, decodes_every_type);
    tcase_add_test(tc, split_scales_pixels_and_checks_labels);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejects");
    tcase_add_test(tc, every_truncation_is_an_error);
    tcase_add_loop_test(tc, rejects_bad_headers, 0, (int)(sizeof it_bads / sizeof it_bads[0]));
    tcase_add_test(tc, rejects_huge_sizes);
    tcase_add_test(tc, rejects_damaged_gzip);
    tcase_add_test(tc, missing_file_is_not_found);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return s;
}
