/*
 * data_source: one entry point for every dataset kind, end to end on files written at run
 * time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "clients/data_source.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"
#include "tests/unit/clients/testdata.h"

static void
ds_params(struct data_params *p, enum data_kind kind, size_t clients)
{
    data_source_params_default(p);
    p->kind = kind;
    p->clients = clients;
    if (kind == DATA_FASHION_MNIST || kind == DATA_CSV || kind == DATA_IDX)
        p->partition.kind = PARTITION_IID;
}

static void
ds_check(const struct dataset *ds)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(dataset_check(ds, &eb) == 0, "%s", eb.msg);
}

/* The synthetic kinds are synthetic_generate() bit for bit. */
START_TEST(synthetic_kinds_are_synthetic_generate)
{
    for (int iid = 0; iid < 2; iid++) {
        struct data_params p;
        ds_params(&p, iid ? DATA_SYNTHETIC_IID : DATA_SYNTHETIC, 17);
        p.synthetic.alpha = 0.5;
        p.synthetic.beta = 0.5;
        p.synthetic.dim = 9;
        p.synthetic.classes = 4;
        struct synthetic_params sp = p.synthetic;
        sp.clients = 17;
        sp.iid = iid == 1;
        struct dataset *a = NULL, *b = NULL;
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(data_source_load(&a, &p, 77, &eb), 0);
        ck_assert_int_eq(synthetic_generate(&b, &sp, 77, &eb), 0);
        ck_assert_uint_eq(a->train.n, b->train.n);
        ck_assert_uint_eq(a->test.n, b->test.n);
        ck_assert_mem_eq(a->train.x, b->train.x, a->train.n * 9 * sizeof(float));
        ck_assert_mem_eq(a->train.y, b->train.y, a->train.n * sizeof(uint16_t));
        ck_assert_mem_eq(a->test.x, b->test.x, a->test.n * 9 * sizeof(float));
        ck_assert_mem_eq(a->client_train.off, b->client_train.off, 18 * sizeof(size_t));
        ck_assert_mem_eq(a->client_test.off, b->client_test.off, 18 * sizeof(size_t));
        dataset_free(a);
        dataset_free(b);
        /* Generators bring their own clients. */
        p.partition.kind = PARTITION_IID;
        ck_assert_int_eq(data_source_load(&a, &p, 77, &eb), -ERR_INVALID);
        ck_assert_ptr_null(a);
        ck_assert_str_eq(eb.key, "partition.type");
    }
}
END_TEST

/* A CSV of n rows, labels (5 i) mod classes, whose first feature is the row number. */
static char *
ds_csv(const char *dir, const char *name, size_t n, size_t classes, size_t first)
{
    char *text = malloc(n * 48 + 32);
    size_t at = (size_t)snprintf(text, 32, "label,row,a,b\n");
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, 48, "%zu,%zu,%.3f,-1.5\n", (i * 5) % classes, first + i,
                               (double)i / 7.0);
    char *path = testdata_write(dir, name, text, at, false);
    free(text);
    return path;
}

START_TEST(csv_with_held_out_fraction)
{
    char *dir = tsupport_tmpdir();
    char *path = ds_csv(dir, "d.csv", 200, 4, 0);
    struct data_params p;
    ds_params(&p, DATA_CSV, 5);
    snprintf(p.path, sizeof p.path, "%s", path);
    p.test_fraction = 0.25;
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(data_source_load(&ds, &p, 5, &eb) == 0, "%s", eb.msg);
    ds_check(ds);
    ck_assert_uint_eq(ds->train.n, 150);
    ck_assert_uint_eq(ds->test.n, 50);
    ck_assert_uint_eq(ds->n_features, 3);
    ck_assert_uint_eq(ds->n_classes, 4);
    /* Train and test are disjoint, cover the file, keep file order and their labels. */
    unsigned char seen[200] = { 0 };
    const struct dataset_split *sp[2] = { &ds->train, &ds->test };
    for (int s = 0; s < 2; s++) {
        long prev = -1;
        for (size_t i = 0; i < sp[s]->n; i++) {
            size_t row = (size_t)sp[s]->x[3 * i];
            ck_assert_int_gt((long)row, prev);
            prev = (long)row;
            ck_assert_uint_eq(seen[row], 0);
            seen[row] = 1;
            ck_assert_uint_eq(sp[s]->y[i], (row * 5) % 4);
        }
    }
    for (size_t i = 0; i < 200; i++)
        ck_assert_uint_eq(seen[i], 1);
    for (size_t k = 0; k < 5; k++) {
        size_t n = 0;
        dataset_client_train(ds, k, &n);
        ck_assert_uint_eq(n, 30);
        dataset_client_test(ds, k, &n);
        ck_assert_uint_eq(n, 0);
    }
    /* Same seed, same split; the held-out rows depend on the seed. */
    struct dataset *again = NULL, *other = NULL;
    ck_assert_int_eq(data_source_load(&again, &p, 5, &eb), 0);
    ck_assert_int_eq(data_source_load(&other, &p, 6, &eb), 0);
    ck_assert_mem_eq(again->test.x, ds->test.x, 50 * 3 * sizeof(float));
    ck_assert(memcmp(other->test.x, ds->test.x, 50 * 3 * sizeof(float)) != 0);
    dataset_free(again);
    dataset_free(other);
    dataset_free(ds);

    /* A fraction that leaves one side empty, and classes fewer than the labels. */
    p.test_fraction = 0.001;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.test_fraction");
    p.test_fraction = 1.0;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.test_fraction");
    p.test_fraction = 0.25;
    p.classes = 3;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(eb.line, 5); /* row 3 (after the header) has label 3 */
    ck_assert_int_eq(eb.column, 1);
    ck_assert_ptr_null(ds);
    free(path);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(csv_with_test_file_and_errors)
{
    char *dir = tsupport_tmpdir();
    char *train = ds_csv(dir, "train.csv", 120, 3, 0);
    char *test = ds_csv(dir, "test.csv", 30, 3, 1000);
    struct data_params p;
    ds_params(&p, DATA_CSV, 4);
    snprintf(p.path, sizeof p.path, "%s", train);
    snprintf(p.test_path, sizeof p.test_path, "%s", test);
    p.partition.kind = PARTITION_LABELS;
    p.partition.per_client = 1;
    p.classes = 5; /* more classes than the labels use is allowed */
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(data_source_load(&ds, &p, 5, &eb) == 0, "%s", eb.msg);
    ds_check(ds);
    ck_assert_uint_eq(ds->train.n, 120);
    ck_assert_uint_eq(ds->test.n, 30);
    ck_assert_uint_eq(ds->n_classes, 5);
    ck_assert_float_eq(ds->test.x[0], 1000.0f);
    dataset_free(ds);

    /* Too many clients for the rows: an error naming the setting. */
    p.partition.kind = PARTITION_IID;
    p.clients = 121;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.clients");
    ck_assert_ptr_null(ds);

    /* A test file with another width. */
    const char narrow[] = "0,1\n1,2\n";
    char *bad = testdata_write(dir, "narrow.csv", narrow, sizeof narrow - 1, false);
    p.clients = 4;
    snprintf(p.test_path, sizeof p.test_path, "%s", bad);
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "has 1 features but") != NULL, "%s", eb.msg);

    /* A bad number in the test file: file, line and column. */
    const char badnum[] = "0,1,2,3\n1,2,x,3\n";
    char *bn = testdata_write(dir, "badnum.csv", badnum, sizeof badnum - 1, false);
    snprintf(p.test_path, sizeof p.test_path, "%s", bn);
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.file, bn);
    ck_assert_int_eq(eb.line, 2);
    ck_assert_int_eq(eb.column, 5);

    /* Settings: natural partition, no path, one class. */
    p.partition.kind = PARTITION_NATURAL;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "partition.type");
    ds_params(&p, DATA_CSV, 4);
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.path");
    p.classes = 1;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.classes");
    const char one[] = "0,1\n0,2\n0,3\n0,4\n";
    char *po = testdata_write(dir, "one.csv", one, sizeof one - 1, false);
    ds_params(&p, DATA_CSV, 1);
    snprintf(p.path, sizeof p.path, "%s", po);
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.classes");
    p.kind = DATA_KIND_COUNT;
    ck_assert_int_eq(data_source_load(&ds, &p, 5, &eb), -ERR_INVALID);
    free(po);
    free(bn);
    free(bad);
    free(train);
    free(test);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* IDX images + labels written with zlib, partitioned with Dirichlet, held-out or test files. */
START_TEST(idx_end_to_end)
{
    char *dir = tsupport_tmpdir();
    enum { N = 400, F = 6, NT = 50 };
    unsigned char *px = malloc(N * F), lb[N];
    for (size_t i = 0; i < N * F; i++)
        px[i] = (unsigned char)((i * 37) % 256);
    for (size_t i = 0; i < N; i++)
        lb[i] = (unsigned char)(i % 4);
    const unsigned di[3] = { N, 2, 3 }, dl[1] = { N }, dit[3] = { NT, 2, 3 }, dlt[1] = { NT };
    size_t ni = 0, nl = 0, nit = 0, nlt = 0;
    unsigned char *bi = testdata_idx(0x08, 3, di, px, N * F, &ni);
    unsigned char *bl = testdata_idx(0x08, 1, dl, lb, N, &nl);
    unsigned char *bit = testdata_idx(0x08, 3, dit, px, NT * F, &nit);
    unsigned char *blt = testdata_idx(0x08, 1, dlt, lb, NT, &nlt);
    char *pi = testdata_write(dir, "train-images.gz", bi, ni, true);
    char *pl = testdata_write(dir, "train-labels", bl, nl, false);
    char *pit = testdata_write(dir, "test-images", bit, nit, false);
    char *plt = testdata_write(dir, "test-labels.gz", blt, nlt, true);

    struct data_params p;
    ds_params(&p, DATA_IDX, 8);
    snprintf(p.path, sizeof p.path, "%s", pi);
    snprintf(p.labels_path, sizeof p.labels_path, "%s", pl);
    p.partition.kind = PARTITION_DIRICHLET;
    p.partition.alpha = 0.5;
    p.partition.min_size = 5;
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(data_source_load(&ds, &p, 12, &eb) == 0, "%s", eb.msg);
    ds_check(ds);
    ck_assert_uint_eq(ds->n_features, F);
    ck_assert_uint_eq(ds->n_classes, 4);
    ck_assert_uint_eq(ds->train.n + ds->test.n, N);
    ck_assert_uint_eq(ds->test.n, 80); /* round(0.2 * 400) */
    ck_assert_uint_eq(ds->client_train.off[8], ds->train.n);
    dataset_free(ds);

    snprintf(p.test_path, sizeof p.test_path, "%s", pit);
    snprintf(p.test_labels_path, sizeof p.test_labels_path, "%s", plt);
    ck_assert_msg(data_source_load(&ds, &p, 12, &eb) == 0, "%s", eb.msg);
    ck_assert_uint_eq(ds->train.n, N);
    ck_assert_uint_eq(ds->test.n, NT);
    ck_assert_float_eq(ds->test.x[1], 37.0f / 255.0f);
    dataset_free(ds);

    /* Missing labels: the setting is named; a truncated file: the file and offset. */
    p.test_labels_path[0] = '\0';
    ck_assert_int_eq(data_source_load(&ds, &p, 12, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.test_labels_path");
    char *cut = testdata_write(dir, "cut", bl, nl - 3, false);
    snprintf(p.test_labels_path, sizeof p.test_labels_path, "%s", plt);
    snprintf(p.labels_path, sizeof p.labels_path, "%s", cut);
    ck_assert_int_eq(data_source_load(&ds, &p, 12, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.file, cut);
    ck_assert_int_eq(eb.offset, (long)(nl - 3));
    ck_assert_ptr_null(ds);
    /* Labels out of the declared range. */
    snprintf(p.labels_path, sizeof p.labels_path, "%s", pl);
    p.classes = 3;
    ck_assert_int_eq(data_source_load(&ds, &p, 12, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.file, pl);
    ck_assert_int_eq(eb.offset, 8 + 3);

    free(cut);
    free(px);
    free(bi);
    free(bl);
    free(bit);
    free(blt);
    free(pi);
    free(pl);
    free(pit);
    free(plt);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/*
 * Without data.classes the classes are the labels 0..K-1: a stray label past a class no
 * sample has (an IDX byte of 255 among 0..3, a CSV label of 60000 among 0..2) is refused
 * with its file and record instead of growing the model to 256 or 60,001 classes.
 */
START_TEST(undeclared_stray_label_is_refused)
{
    char *dir = tsupport_tmpdir();
    enum { N = 40, F = 2 };
    unsigned char px[N * F], lb[N];
    for (size_t i = 0; i < N * F; i++)
        px[i] = (unsigned char)i;
    for (size_t i = 0; i < N; i++)
        lb[i] = (unsigned char)(i % 4);
    lb[17] = 255;
    const unsigned di[2] = { N, F }, dl[1] = { N };
    size_t ni = 0, nl = 0;
    unsigned char *bi = testdata_idx(0x08, 2, di, px, sizeof px, &ni);
    unsigned char *bl = testdata_idx(0x08, 1, dl, lb, N, &nl);
    char *pi = testdata_write(dir, "images", bi, ni, false);
    char *pl = testdata_write(dir, "labels", bl, nl, false);
    struct data_params p;
    ds_params(&p, DATA_IDX, 4);
    snprintf(p.path, sizeof p.path, "%s", pi);
    snprintf(p.labels_path, sizeof p.labels_path, "%s", pl);
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(data_source_load(&ds, &p, 12, &eb), -ERR_CORRUPT);
    ck_assert_ptr_null(ds);
    ck_assert_str_eq(eb.file, pl);
    ck_assert_int_eq(eb.offset, 8 + 17);
    ck_assert_msg(strstr(eb.msg, "without data.classes the classes are the labels 0..3 (none is "
                                 "4)") != NULL &&
                      strstr(eb.msg, "label 255 of sample 17") != NULL,
                  "%s", eb.msg);
    /* Declared, the same file is accepted with 256 classes. */
    p.classes = 256;
    ck_assert_msg(data_source_load(&ds, &p, 12, &eb) == 0, "%s", eb.msg);
    ck_assert_uint_eq(ds->n_classes, 256);
    dataset_free(ds);

    /* CSV: label 60000 on line 43 (a header line, then 41 good rows). */
    char text[4096];
    size_t at = (size_t)snprintf(text, sizeof text, "label,a,b\n");
    for (size_t i = 0; i < 60; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%zu,%zu,1\n", i == 41 ? 60000 : i % 3,
                               i);
    char *pc = testdata_write(dir, "train.csv", text, at, false);
    ds_params(&p, DATA_CSV, 4);
    snprintf(p.path, sizeof p.path, "%s", pc);
    ck_assert_int_eq(data_source_load(&ds, &p, 12, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.file, pc);
    ck_assert_int_eq(eb.line, 43);
    ck_assert_msg(strstr(eb.msg, "label 60000 is not below the 3 classes") != NULL, "%s", eb.msg);

    free(bi);
    free(bl);
    free(pi);
    free(pl);
    free(pc);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(kind_names_round_trip)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    for (int k = 0; k < DATA_KIND_COUNT; k++) {
        enum data_kind kind = DATA_KIND_COUNT;
        ck_assert_int_eq(
            data_source_kind_parse(data_source_kind_name((enum data_kind)k), &kind, &eb), 0);
        ck_assert_int_eq(kind, k);
    }
    enum data_kind kind = DATA_SYNTHETIC;
    ck_assert_int_eq(data_source_kind_parse("mnist", &kind, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "unknown dataset 'mnist' (known: synthetic, synthetic_iid, "
                             "fashion_mnist, csv, idx, leaf_synthetic)");
    ck_assert_str_eq(data_source_kind_name(DATA_FASHION_MNIST), "fashion_mnist");
    ck_assert_str_eq(data_source_kind_name(DATA_KIND_COUNT), "?");
}
END_TEST

/* Fail each allocation of a CSV load in turn: -ERR_NOMEM and no leak (ASan build). */
START_TEST(allocation_failures_are_clean)
{
    char *dir = tsupport_tmpdir();
    char *path = ds_csv(dir, "d.csv", 300, 3, 0);
    struct data_params p;
    ds_params(&p, DATA_CSV, 3);
    snprintf(p.path, sizeof p.path, "%s", path);
    p.partition.kind = (enum partition_kind)_i;
    bool done = false;
    for (long k = 1; k < 200 && !done; k++) {
        struct dataset *ds = NULL;
        struct errbuf eb;
        errbuf_clear(&eb);
        mem_fault_arm(k);
        int rc = data_source_load(&ds, &p, 3, &eb);
        bool fired = mem_fault_fired();
        mem_fault_arm(0);
        if (!fired) {
            ck_assert_msg(rc == 0, "%s", eb.msg);
            dataset_free(ds);
            done = true;
        } else {
            ck_assert_msg(rc == -ERR_NOMEM, "allocation %ld: %d %s", k, rc, eb.msg);
            ck_assert_ptr_null(ds);
        }
    }
    ck_assert(done);
    free(path);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
data_source_suite(void)
{
    Suite *s = suite_create("data_source");
    TCase *tc = tcase_create("generators");
    tcase_add_test(tc, synthetic_kinds_are_synthetic_generate);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, csv_with_held_out_fraction);
    tcase_add_test(tc, csv_with_test_file_and_errors);
    tcase_add_test(tc, idx_end_to_end);
    tcase_add_test(tc, undeclared_stray_label_is_refused);
    tcase_add_test(tc, kind_names_round_trip);
    tcase_add_loop_test(tc, allocation_failures_are_clean, 0, PARTITION_NATURAL);
    suite_add_tcase(s, tc);
    return s;
}
