/*
 * cifar: small CIFAR-10 and CIFAR-100 binary folders written by the test (the real ones are
 * not packaged): pixel order and scaling, labels, file order, and located errors for a bad
 * label, a size that is not a whole number of records and a missing file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "clients/cifar.h"
#include "clients/data_source.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"
#include "tests/unit/clients/testdata.h"

/* Writes `records` records into dir/name; record r of file f has label (f + r) % 10 (fine),
 * coarse label r % 20, and pixel i = (i + r + 7 f) % 256. */
static void
cf_write(const char *dir, const char *name, size_t records, size_t f, int hundred)
{
    size_t head = hundred ? 2 : 1, rec = head + CIFAR_FEATURES;
    unsigned char *b = malloc(records * rec);
    ck_assert_ptr_nonnull(b);
    for (size_t r = 0; r < records; r++) {
        unsigned char *p = b + r * rec;
        if (hundred)
            p[0] = (unsigned char)(r % 20);
        p[head - 1] = (unsigned char)((f + r) % 10);
        for (size_t i = 0; i < CIFAR_FEATURES; i++)
            p[head + i] = (unsigned char)((i + r + 7 * f) % 256);
    }
    free(testdata_write(dir, name, b, records * rec, false));
    free(b);
}

static void
cf_free(struct dataset_split *a, struct dataset_split *b)
{
    mem_free(a->x);
    mem_free(a->y);
    mem_free(b->x);
    mem_free(b->y);
}

START_TEST(cifar10_reads_batches_in_order)
{
    char *dir = tsupport_tmpdir();
    static const char *const names[] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                         "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin" };
    for (size_t f = 0; f < 6; f++)
        cf_write(dir, names[f], f == 5 ? 3 : 2, f, 0);
    struct dataset_split tr, te;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(cifar_load(&tr, &te, dir, false, 1 << 20, &eb), 0);
    ck_assert_uint_eq(tr.n, 10);
    ck_assert_uint_eq(te.n, 3);
    /* Row 7 is record 1 of data_batch_4 (f = 3): label 4, pixel i = (i + 1 + 21) / 255. */
    ck_assert_uint_eq(tr.y[7], 4);
    ck_assert_float_eq(tr.x[7 * CIFAR_FEATURES + 0], 22.0f / 255.0f);
    ck_assert_float_eq(tr.x[7 * CIFAR_FEATURES + 1024], (float)((1024 + 22) % 256) / 255.0f);
    ck_assert_uint_eq(te.y[2], (5 + 2) % 10);
    cf_free(&tr, &te);

    /* Through data_source: 3 x 32 x 32 rows, 10 classes, partitioned. */
    struct data_params p;
    data_source_params_default(&p);
    p.kind = DATA_CIFAR10;
    p.clients = 2;
    p.partition.kind = PARTITION_IID;
    snprintf(p.path, sizeof p.path, "%s", dir);
    struct dataset *ds = NULL;
    ck_assert_int_eq(data_source_load(&ds, &p, 1, &eb), 0);
    ck_assert_uint_eq(ds->n_features, 3072);
    ck_assert_uint_eq(ds->n_classes, 10);
    size_t shape[3];
    data_source_input_shape(DATA_CIFAR10, ds->n_features, shape);
    ck_assert_uint_eq(shape[0], 3);
    ck_assert_uint_eq(shape[2], 32);
    dataset_free(ds);

    /* A label of 10 in record 1 of test_batch.bin: byte offset 3073. */
    unsigned char bad[2 * 3073];
    memset(bad, 0, sizeof bad);
    bad[3073] = 10;
    free(testdata_write(dir, "test_batch.bin", bad, sizeof bad, false));
    ck_assert_int_eq(cifar_load(&tr, &te, dir, false, 1 << 20, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "record 1 (byte 3073): label 10 is not below 10") != NULL, "%s",
                  eb.msg);
    ck_assert_ptr_null(tr.x);
    /* Half a record. */
    free(testdata_write(dir, "test_batch.bin", bad, 3073 + 100, false));
    ck_assert_int_eq(cifar_load(&tr, &te, dir, false, 1 << 20, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "has 3173 bytes, not a whole number of 3073-byte records") != NULL,
                  "%s", eb.msg);
    /* Above the size limit. */
    ck_assert_int_eq(cifar_load(&tr, &te, dir, false, 3000, &eb), -ERR_RANGE);
    tsupport_rmtree(dir);
    /* The folder is gone: the first batch is missing. */
    ck_assert_int_eq(cifar_load(&tr, &te, dir, false, 1 << 20, &eb), -ERR_NOTFOUND);
    ck_assert_msg(strstr(eb.msg, "data_batch_1.bin") != NULL, "%s", eb.msg);
    free(dir);
}
END_TEST

START_TEST(cifar100_fine_labels)
{
    char *dir = tsupport_tmpdir();
    cf_write(dir, "train.bin", 4, 0, 1);
    cf_write(dir, "test.bin", 2, 3, 1);
    struct dataset_split tr, te;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(cifar_load(&tr, &te, dir, true, 1 << 20, &eb), 0);
    ck_assert_uint_eq(tr.n, 4);
    ck_assert_uint_eq(tr.y[3], 3);
    ck_assert_uint_eq(te.y[1], 4);
    ck_assert_float_eq(te.x[CIFAR_FEATURES + 5], (float)(5 + 1 + 21) / 255.0f);
    cf_free(&tr, &te);
    /* A coarse label of 20 at record 0. */
    unsigned char bad[3074] = { 20, 5 };
    free(testdata_write(dir, "test.bin", bad, sizeof bad, false));
    ck_assert_int_eq(cifar_load(&tr, &te, dir, true, 1 << 20, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "record 0 (byte 0): coarse label 20 is not below 20") != NULL,
                  "%s", eb.msg);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
cifar_suite(void)
{
    Suite *s = suite_create("cifar");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, cifar10_reads_batches_in_order);
    tcase_add_test(tc, cifar100_fine_labels);
    suite_add_tcase(s, tc);
    return s;
}
