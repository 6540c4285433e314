/* dataset: construction, per-client row views and the invariant checker. */
#include <math.h>
#include <string.h>

#include "clients/dataset.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

/*
 * A hand-made dataset: 3 features, 4 classes, 3 clients. Train rows 0..5 belong to
 * clients 0 (rows 0, 1), 1 (none) and 2 (rows 2..5, listed out of order); test rows 0..2
 * to clients 0 (row 0) and 2 (rows 1, 2).
 */
static struct dataset *
dataset_tiny(void)
{
    struct dataset *ds = dataset_new(3, 4, 3, 6, 3);
    ck_assert_ptr_nonnull(ds);
    for (size_t i = 0; i < 6 * 3; i++)
        ds->train.x[i] = 0.25f * (float)i - 1.375f;
    for (size_t i = 0; i < 3 * 3; i++)
        ds->test.x[i] = 2.5f - 0.125f * (float)i;
    static const uint16_t ytr[6] = { 0, 3, 1, 2, 3, 0 };
    static const uint16_t yte[3] = { 2, 1, 3 };
    memcpy(ds->train.y, ytr, sizeof ytr);
    memcpy(ds->test.y, yte, sizeof yte);
    static const size_t off_tr[4] = { 0, 2, 2, 6 };
    static const uint32_t rows_tr[6] = { 0, 1, 5, 3, 2, 4 };
    static const size_t off_te[4] = { 0, 1, 1, 3 };
    static const uint32_t rows_te[3] = { 0, 2, 1 };
    memcpy(ds->client_train.off, off_tr, sizeof off_tr);
    memcpy(ds->client_train.rows, rows_tr, sizeof rows_tr);
    memcpy(ds->client_test.off, off_te, sizeof off_te);
    memcpy(ds->client_test.rows, rows_te, sizeof rows_te);
    return ds;
}

START_TEST(new_gives_zeroed_splits)
{
    struct dataset *ds = dataset_new(5, 7, 4, 11, 3);
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(ds->n_features, 5);
    ck_assert_uint_eq(ds->n_classes, 7);
    ck_assert_uint_eq(ds->n_clients, 4);
    ck_assert_uint_eq(ds->train.n, 11);
    ck_assert_uint_eq(ds->test.n, 3);
    for (size_t i = 0; i < 11 * 5; i++)
        ck_assert_float_eq(ds->train.x[i], 0.0f);
    for (size_t i = 0; i < 11; i++)
        ck_assert_uint_eq(ds->train.y[i], 0);
    for (size_t k = 0; k <= 4; k++) {
        ck_assert_uint_eq(ds->client_train.off[k], 0);
        ck_assert_uint_eq(ds->client_test.off[k], 0);
    }
    /* All-zero offsets and labels are a valid (empty) assignment. */
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(dataset_check(ds, &eb), 0);
    dataset_free(ds);
    dataset_free(NULL);
}
END_TEST

START_TEST(new_rejects_overflowing_sizes)
{
    ck_assert_ptr_null(dataset_new(3, 2, 1, (size_t)UINT32_MAX + 1, 0));
    ck_assert_ptr_null(dataset_new(3, 2, 1, 0, (size_t)UINT32_MAX + 1));
    ck_assert_ptr_null(dataset_new(3, 2, SIZE_MAX, 1, 1));
    /* rows * features overflows size_t. */
    ck_assert_ptr_null(dataset_new(SIZE_MAX / 2, 2, 1, 4, 0));
}
END_TEST

START_TEST(client_views)
{
    struct dataset *ds = dataset_tiny();
    size_t n = 99;
    const uint32_t *r = dataset_client_train(ds, 0, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(r[0], 0);
    ck_assert_uint_eq(r[1], 1);
    dataset_client_train(ds, 1, &n);
    ck_assert_uint_eq(n, 0);
    r = dataset_client_train(ds, 2, &n);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(r[0], 5);
    ck_assert_uint_eq(r[3], 4);
    r = dataset_client_test(ds, 2, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(r[0], 2);
    ck_assert_uint_eq(r[1], 1);
    dataset_client_test(ds, 1, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(dataset_max_client_train(ds), 4);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(dataset_check(ds, &eb), 0);
    ck_assert_int_eq(eb.code, 0);
    dataset_free(ds);
}
END_TEST

/* Each corruption of the tiny dataset, and the message dataset_check() must give. */
struct dataset_corruption {
    const char *what;
    const char *msg;
};

static const struct dataset_corruption dataset_corruptions[] = {
    { "train label", "train row 4: label 4 not below 4 classes" },
    { "test label", "test row 2: label 65535 not below 4 classes" },
    { "train feature", "train row 1: feature 2 is not finite" },
    { "test feature", "test row 0: feature 1 is not finite" },
    { "first offset", "train rows: first offset is not 0" },
    { "decreasing offset", "train rows: bad offset for client 1" },
    { "offset past end", "test rows: bad offset for client 2" },
    { "row out of range", "train rows: row 6 out of range" },
    { "test row out of range", "test rows: row 3 out of range" },
};

START_TEST(check_catches_corruption)
{
    const struct dataset_corruption *c = &dataset_corruptions[_i];
    struct dataset *ds = dataset_tiny();
    switch (_i) {
    case 0:
        ds->train.y[4] = 4;
        break;
    case 1:
        ds->test.y[2] = UINT16_MAX;
        break;
    case 2:
        ds->train.x[1 * 3 + 2] = NAN;
        break;
    case 3:
        ds->test.x[0 * 3 + 1] = INFINITY;
        break;
    case 4:
        ds->client_train.off[0] = 1;
        break;
    case 5:
        ds->client_train.off[2] = 1;
        break;
    case 6:
        ds->client_test.off[3] = 4;
        break;
    case 7:
        ds->client_train.rows[3] = 6;
        break;
    case 8:
        ds->client_test.rows[1] = 3;
        break;
    default:
        ck_abort_msg("no corruption %d", _i);
    }
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(dataset_check(ds, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(eb.code, -ERR_CORRUPT);
    ck_assert_msg(strcmp(eb.msg, c->msg) == 0, "%s: got '%s', expected '%s'", c->what, eb.msg,
                  c->msg);
    dataset_free(ds);
}
END_TEST

Suite *
dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("construction");
    tcase_add_test(tc, new_gives_zeroed_splits);
    tcase_add_test(tc, new_rejects_overflowing_sizes);
    tcase_add_test(tc, client_views);
    suite_add_tcase(s, tc);
    tc = tcase_create("check catches corruption");
    tcase_add_loop_test(tc, check_catches_corruption, 0,
                        (int)(sizeof dataset_corruptions / sizeof dataset_corruptions[0]));
    suite_add_tcase(s, tc);
    return s;
}
