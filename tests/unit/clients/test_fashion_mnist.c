/*
 * fashion_mnist: the missing-package error, shape checks, and the installed release when
 * /usr/share/datasets/fashion-mnist is present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/data_source.h"
#include "clients/fashion_mnist.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"
#include "tests/unit/clients/testdata.h"

static void
ds_params(struct data_params *p, enum data_kind kind, size_t clients)
{
    data_source_params_default(p);
    p->kind = kind;
    p->clients = clients;
    if (kind == DATA_FASHION_MNIST)
        p->partition.kind = PARTITION_IID;
}

START_TEST(fashion_mnist_missing_names_the_package)
{
    struct data_params p;
    ds_params(&p, DATA_FASHION_MNIST, 10);
    snprintf(p.path, sizeof p.path, "/nonexistent/fashion");
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(data_source_load(&ds, &p, 1, &eb), -ERR_NOTFOUND);
    ck_assert_str_eq(eb.msg, "fashion-mnist file '/nonexistent/fashion/train-images-idx3-ubyte.gz' "
                             "not found: install the Debian package dataset-fashion-mnist "
                             "(apt-get install dataset-fashion-mnist) or set data.path to a "
                             "folder with the four IDX files");
    ck_assert_ptr_null(ds);

    /* A folder with the right names but 2x2 images: a shape error naming the file. */
    char *dir = tsupport_tmpdir();
    const unsigned di[3] = { 2, 2, 2 }, dl[1] = { 2 };
    const unsigned char px[8] = { 0 }, lb[2] = { 1, 2 };
    size_t ni = 0, nl = 0;
    unsigned char *bi = testdata_idx(0x08, 3, di, px, 8, &ni);
    unsigned char *bl = testdata_idx(0x08, 1, dl, lb, 2, &nl);
    const char *names[4] = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
    for (int k = 0; k < 4; k++)
        free(testdata_write(dir, names[k], k % 2 ? bl : bi, k % 2 ? nl : ni, true));
    snprintf(p.path, sizeof p.path, "%s", dir);
    ck_assert_int_eq(data_source_load(&ds, &p, 1, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "expected 28x28 images and labels 0..9, found 4 features") != NULL,
                  "%s", eb.msg);
    free(bi);
    free(bl);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* The installed release: 60000 / 10000 samples, 784 features, 6000 / 1000 per class. */
START_TEST(fashion_mnist_installed)
{
    if (access(FASHION_MNIST_DEFAULT_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "fashion_mnist_installed: %s not present, skipped\n",
                FASHION_MNIST_DEFAULT_DIR);
        return;
    }
    struct data_params p;
    ds_params(&p, DATA_FASHION_MNIST, 100);
    p.partition.kind = PARTITION_SHARDS;
    p.partition.per_client = 2;
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(data_source_load(&ds, &p, 1, &eb) == 0, "%s", eb.msg);
    ck_assert_uint_eq(ds->train.n, 60000);
    ck_assert_uint_eq(ds->test.n, 10000);
    ck_assert_uint_eq(ds->n_features, 784);
    ck_assert_uint_eq(ds->n_classes, 10);
    size_t tr[10] = { 0 }, te[10] = { 0 };
    for (size_t i = 0; i < ds->train.n; i++)
        tr[ds->train.y[i]]++;
    for (size_t i = 0; i < ds->test.n; i++)
        te[ds->test.y[i]]++;
    for (size_t c = 0; c < 10; c++) {
        ck_assert_uint_eq(tr[c], 6000);
        ck_assert_uint_eq(te[c], 1000);
    }
    float lo = 1.0f, hi = 0.0f;
    for (size_t i = 0; i < ds->train.n * 784; i++) {
        lo = ds->train.x[i] < lo ? ds->train.x[i] : lo;
        hi = ds->train.x[i] > hi ? ds->train.x[i] : hi;
    }
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    /* McMahan's setting: 200 shards of 300, each client 600 rows of at most 2 labels. */
    for (size_t k = 0; k < 100; k++) {
        size_t n = 0;
        const uint32_t *rows = dataset_client_train(ds, k, &n);
        ck_assert_uint_eq(n, 600);
        unsigned char has[10] = { 0 };
        size_t labels = 0;
        for (size_t j = 0; j < n; j++) {
            labels += has[ds->train.y[rows[j]]] == 0;
            has[ds->train.y[rows[j]]] = 1;
        }
        ck_assert_uint_le(labels, 2);
    }
    dataset_free(ds);
}
END_TEST

Suite *
fashion_mnist_suite(void)
{
    Suite *s = suite_create("fashion_mnist");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, fashion_mnist_missing_names_the_package);
    tcase_add_test(tc, fashion_mnist_installed);
    suite_add_tcase(s, tc);
    return s;
}
