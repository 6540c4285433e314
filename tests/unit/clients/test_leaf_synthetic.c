/* leaf_synthetic: LEAF's Synthetic process, its streams, caps and errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "base/rng.h"
#include "clients/data_source.h"
#include "clients/leaf_synthetic.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

static void
ds_params(struct data_params *p, enum data_kind kind, size_t clients)
{
    data_source_params_default(p);
    p->kind = kind;
    p->clients = clients;
    if (kind == DATA_FASHION_MNIST)
        p->partition.kind = PARTITION_IID;
}

static void
ds_check(const struct dataset *ds)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(dataset_check(ds, &eb) == 0, "%s", eb.msg);
}

/* LEAF: sizes min(floor(LogNormal(3, 2)) + 5, 1000) from the documented stream, splits. */
START_TEST(leaf_synthetic_follows_the_process)
{
    struct data_params p;
    ds_params(&p, DATA_LEAF_SYNTHETIC, 60);
    p.leaf.dim = 8;
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(data_source_load(&ds, &p, 931231, &eb), 0);
    ds_check(ds);
    ck_assert_uint_eq(ds->n_clients, 60);
    ck_assert_uint_eq(ds->n_features, 8);
    ck_assert_uint_eq(ds->n_classes, 5);
    size_t seen[5] = { 0 };
    for (size_t k = 0; k < 60; k++) {
        struct rng r;
        rng_init_stream(&r, 931231, RNG_PURPOSE_DATA, 17, k);
        double n = floor(gsl_ran_lognormal(rng_gsl(&r), 3.0, 2.0)) + 5.0;
        size_t nk = n >= 1000.0 ? 1000 : (size_t)n;
        size_t ntr = 0, nte = 0;
        dataset_client_train(ds, k, &ntr);
        dataset_client_test(ds, k, &nte);
        ck_assert_uint_eq(ntr + nte, nk);
        size_t want = (size_t)floor(0.6 * (double)nk);
        ck_assert_uint_eq(ntr, want < 1 ? 1 : want);
    }
    for (size_t i = 0; i < ds->train.n; i++)
        seen[ds->train.y[i]]++;
    for (size_t c = 0; c < 5; c++)
        ck_assert_uint_gt(seen[c], 0);
    /* Client k's data do not depend on the population: the first 30 of 60 = all of 30. */
    struct data_params q = p;
    q.clients = 30;
    struct dataset *small = NULL;
    ck_assert_int_eq(data_source_load(&small, &q, 931231, &eb), 0);
    ck_assert_mem_eq(small->train.x, ds->train.x, small->train.n * 8 * sizeof(float));
    ck_assert_mem_eq(small->train.y, ds->train.y, small->train.n * sizeof(uint16_t));
    dataset_free(small);
    dataset_free(ds);

    struct leaf_synthetic_params lp;
    leaf_synthetic_params_default(&lp);
    ck_assert_uint_eq(lp.clients, 1000);
    ck_assert_uint_eq(lp.dim, 60);
    ck_assert_uint_eq(lp.classes, 5);
    lp.classes = 1;
    ck_assert_int_eq(leaf_synthetic_generate(&ds, &lp, 1, &eb), -ERR_INVALID);
    leaf_synthetic_params_default(&lp);
    lp.train_fraction = 1.0;
    ck_assert_int_eq(leaf_synthetic_generate(&ds, &lp, 1, &eb), -ERR_INVALID);
    leaf_synthetic_params_default(&lp);
    lp.max_samples = 100;
    ck_assert_int_eq(leaf_synthetic_generate(&ds, &lp, 1, &eb), -ERR_RANGE);
    ck_assert_ptr_null(ds);
}
END_TEST

/*
 * Data on demand: through data_source_load() with on_demand, the training split is empty
 * and every client's training count, training rows (made by a maker, last client first)
 * and test rows are the eager dataset's, bit for bit; with test_clients only the first
 * clients' test rows are stored and the others' are made by the maker.
 */
START_TEST(leaf_synthetic_rows_made_on_demand_are_the_same)
{
    struct data_params p;
    ds_params(&p, DATA_LEAF_SYNTHETIC, 25);
    p.leaf.dim = 7;
    struct dataset *a = NULL, *b = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(data_source_load(&a, &p, 4242, &eb), 0);
    p.on_demand = true;
    p.leaf.test_clients = _i == 0 ? 0 : 6;
    ck_assert_int_eq(data_source_load(&b, &p, 4242, &eb), 0);
    ds_check(b);
    ck_assert(b->train_on_demand && b->train.n == 0 && b->client_train.off == NULL);
    ck_assert_uint_eq(b->n_test_clients, _i == 0 ? 25 : 6);
    size_t held = a->client_test.off[b->n_test_clients];
    ck_assert_uint_eq(b->test.n, held);
    ck_assert_mem_eq(b->test.x, a->test.x, held * 7 * sizeof(float));
    ck_assert_mem_eq(b->test.y, a->test.y, held * sizeof(uint16_t));
    struct data_source_maker *m = data_source_maker_new(&p, 4242, b);
    ck_assert_ptr_nonnull(m);
    for (size_t kk = 0; kk < 25; kk++) {
        size_t k = 24 - kk, n, nb;
        const uint32_t *rows = dataset_client_train(a, k, &n);
        ck_assert_ptr_null(dataset_client_train(b, k, &nb));
        ck_assert_uint_eq(nb, n);
        const struct dataset_split *t = data_source_maker_train(m, k);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->n, n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_mem_eq(t->x + i * 7, a->train.x + rows[i] * 7, 7 * sizeof(float));
            ck_assert_uint_eq(t->y[i], a->train.y[rows[i]]);
        }
        rows = dataset_client_test(a, k, &n);
        dataset_client_test(b, k, &nb);
        ck_assert_uint_eq(nb, k < b->n_test_clients ? n : 0);
        t = data_source_maker_test(m, k);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->n, n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_mem_eq(t->x + i * 7, a->test.x + rows[i] * 7, 7 * sizeof(float));
            ck_assert_uint_eq(t->y[i], a->test.y[rows[i]]);
        }
    }
    data_source_maker_free(m);
    dataset_free(a);
    dataset_free(b);
}
END_TEST

Suite *
leaf_synthetic_suite(void)
{
    Suite *s = suite_create("leaf_synthetic");
    TCase *tc = tcase_create("process");
    tcase_add_test(tc, leaf_synthetic_follows_the_process);
    tcase_add_loop_test(tc, leaf_synthetic_rows_made_on_demand_are_the_same, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
