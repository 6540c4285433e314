/* synthetic: the FedProx Synthetic(alpha, beta) process, its streams and its errors. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "clients/model.h"
#include "clients/synthetic.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

static struct dataset *
synthetic_make(const struct synthetic_params *p, uint64_t seed)
{
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = synthetic_generate(&ds, p, seed, &eb);
    ck_assert_msg(rc == 0, "synthetic_generate: %s", eb.msg);
    ck_assert_ptr_nonnull(ds);
    ck_assert_int_eq(dataset_check(ds, &eb), 0);
    return ds;
}

/* Small shapes keep the tests fast; the size process does not depend on dim or classes. */
static void
synthetic_small(struct synthetic_params *p, size_t clients)
{
    synthetic_params_default(p);
    p->clients = clients;
    p->dim = 6;
    p->classes = 4;
}

START_TEST(defaults_are_the_papers)
{
    struct synthetic_params p;
    synthetic_params_default(&p);
    ck_assert(!p.iid);
    ck_assert_double_eq(p.alpha, 0.0);
    ck_assert_double_eq(p.beta, 0.0);
    ck_assert_uint_eq(p.clients, 30);
    ck_assert_uint_eq(p.dim, 60);
    ck_assert_uint_eq(p.classes, 10);
    ck_assert_double_eq(p.train_fraction, 0.9);
}
END_TEST

/*
 * n_k = floor(LogNormal(4, 2)) + 50 drawn from the stream (seed, DATA, 0, k), and the first
 * floor(0.9 n_k) samples are training rows: recomputed here from the documented stream.
 */
START_TEST(sizes_follow_the_lognormal_process)
{
    struct synthetic_params p;
    synthetic_small(&p, 40);
    const uint64_t seed = 2385;
    struct dataset *ds = synthetic_make(&p, seed);
    size_t total_train = 0, total_test = 0;
    for (size_t k = 0; k < p.clients; k++) {
        size_t ntr, nte;
        dataset_client_train(ds, k, &ntr);
        dataset_client_test(ds, k, &nte);
        struct rng r;
        rng_init_stream(&r, seed, RNG_PURPOSE_DATA, 0, k);
        size_t expect = (size_t)floor(gsl_ran_lognormal(rng_gsl(&r), 4.0, 2.0)) + 50;
        ck_assert_uint_eq(ntr + nte, expect);
        ck_assert_uint_ge(ntr + nte, 50);
        ck_assert_uint_eq(ntr, (size_t)floor(0.9 * (double)(ntr + nte)));
        total_train += ntr;
        total_test += nte;
    }
    ck_assert_uint_eq(total_train, ds->train.n);
    ck_assert_uint_eq(total_test, ds->test.n);
    dataset_free(ds);
}
END_TEST

/*
 * The median of LogNormal(4, 2) is e^4 = 54.6, so P(n_k - 50 >= 55) = P(Z >= (ln 55 - 4) / 2)
 * = 0.4986. Over 400 clients the fraction has standard deviation sqrt(0.25 / 400) = 0.025;
 * we accept 4 sigma (0.10) around 0.4986. Fixed seed, so the test is deterministic.
 */
START_TEST(sizes_have_the_lognormal_median)
{
    struct synthetic_params p;
    synthetic_small(&p, 400);
    p.dim = 1;
    p.classes = 2;
    struct dataset *ds = synthetic_make(&p, 77);
    size_t above = 0, min = SIZE_MAX;
    for (size_t k = 0; k < p.clients; k++) {
        size_t ntr, nte;
        dataset_client_train(ds, k, &ntr);
        dataset_client_test(ds, k, &nte);
        above += ntr + nte - 50 >= 55;
        min = ntr + nte < min ? ntr + nte : min;
    }
    ck_assert_uint_ge(min, 50);
    double frac = (double)above / (double)p.clients;
    ck_assert_double_eq_tol(frac, 0.4986, 0.10);
    dataset_free(ds);
}
END_TEST

static bool
synthetic_same(const struct dataset *a, const struct dataset *b)
{
    if (a->train.n != b->train.n || a->test.n != b->test.n || a->n_features != b->n_features)
        return false;
    size_t d = a->n_features;
    return memcmp(a->train.x, b->train.x, a->train.n * d * sizeof(float)) == 0 &&
           memcmp(a->test.x, b->test.x, a->test.n * d * sizeof(float)) == 0 &&
           memcmp(a->train.y, b->train.y, a->train.n * sizeof(uint16_t)) == 0 &&
           memcmp(a->test.y, b->test.y, a->test.n * sizeof(uint16_t)) == 0 &&
           memcmp(a->client_train.off, b->client_train.off, (a->n_clients + 1) * sizeof(size_t)) ==
               0 &&
           memcmp(a->client_train.rows, b->client_train.rows, a->train.n * sizeof(uint32_t)) == 0 &&
           memcmp(a->client_test.off, b->client_test.off, (a->n_clients + 1) * sizeof(size_t)) ==
               0 &&
           memcmp(a->client_test.rows, b->client_test.rows, a->test.n * sizeof(uint32_t)) == 0;
}

START_TEST(same_seed_same_bytes)
{
    struct synthetic_params p;
    synthetic_small(&p, 12);
    p.alpha = 0.5;
    p.beta = 0.5;
    struct dataset *a = synthetic_make(&p, 31337);
    struct dataset *b = synthetic_make(&p, 31337);
    struct dataset *c = synthetic_make(&p, 31338);
    ck_assert(synthetic_same(a, b));
    ck_assert(!synthetic_same(a, c));
    /* Not just the sizes: the first feature of the first row differs too. */
    ck_assert_float_ne(a->train.x[0], c->train.x[0]);
    dataset_free(a);
    dataset_free(b);
    dataset_free(c);
}
END_TEST

/* Compares client k's train and test samples in two datasets. */
static void
synthetic_assert_client_equal(const struct dataset *a, const struct dataset *b, size_t k)
{
    size_t d = a->n_features;
    for (int split = 0; split < 2; split++) {
        size_t na, nb;
        const uint32_t *ra =
            split == 0 ? dataset_client_train(a, k, &na) : dataset_client_test(a, k, &na);
        const uint32_t *rb =
            split == 0 ? dataset_client_train(b, k, &nb) : dataset_client_test(b, k, &nb);
        const struct dataset_split *sa = split == 0 ? &a->train : &a->test;
        const struct dataset_split *sb = split == 0 ? &b->train : &b->test;
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
            ck_assert_mem_eq(sa->x + ra[i] * d, sb->x + rb[i] * d, d * sizeof(float));
            ck_assert_uint_eq(sa->y[ra[i]], sb->y[rb[i]]);
        }
    }
}

START_TEST(client_data_independent_of_population)
{
    struct synthetic_params p;
    synthetic_small(&p, 5);
    p.alpha = 1.0;
    p.beta = 1.0;
    p.iid = _i == 1;
    if (p.iid)
        p.alpha = p.beta = 0.0;
    struct dataset *a = synthetic_make(&p, 4242);
    p.clients = 20;
    struct dataset *b = synthetic_make(&p, 4242);
    for (size_t k = 0; k < 5; k++)
        synthetic_assert_client_equal(a, b, k);
    dataset_free(a);
    dataset_free(b);
}
END_TEST

/*
 * Data on demand: a dataset built with train_on_demand holds the same sizes and test rows
 * as the eager one and no training rows; synthetic_gen_train() remakes every client's
 * training rows bit for bit, in any order (late clients first).
 */
START_TEST(training_rows_made_on_demand_are_the_same)
{
    struct synthetic_params p;
    synthetic_small(&p, 9);
    p.alpha = 0.5;
    p.beta = 1.0;
    p.iid = _i == 1;
    if (p.iid)
        p.alpha = p.beta = 0.0;
    struct dataset *a = synthetic_make(&p, 777);
    p.train_on_demand = true;
    struct dataset *b = synthetic_make(&p, 777);
    ck_assert(!a->train_on_demand && b->train_on_demand);
    ck_assert_uint_eq(b->train.n, 0);
    ck_assert_ptr_null(b->client_train.rows);
    ck_assert_uint_eq(b->test.n, a->test.n);
    ck_assert_mem_eq(b->test.x, a->test.x, a->test.n * a->n_features * sizeof(float));
    ck_assert_mem_eq(b->test.y, a->test.y, a->test.n * sizeof(uint16_t));
    /* No per-client record for training: the counts are drawn when asked. */
    ck_assert_ptr_null(b->client_train.off);
    for (size_t k = 0; k < 9; k++) {
        size_t na, nb;
        dataset_client_train(a, k, &na);
        dataset_client_train(b, k, &nb);
        ck_assert_uint_eq(nb, na);
    }
    struct synthetic_gen *g = synthetic_gen_new(&p, 777);
    ck_assert_ptr_nonnull(g);
    size_t d = a->n_features;
    float *x = malloc(dataset_max_client_train(a) * d * sizeof *x);
    uint16_t *y = malloc(dataset_max_client_train(a) * sizeof *y);
    ck_assert(x != NULL && y != NULL);
    for (size_t kk = 0; kk < 9; kk++) {
        size_t k = 8 - kk, n, n_all, n_train;
        const uint32_t *rows = dataset_client_train(a, k, &n);
        ck_assert_ptr_null(dataset_client_train(b, k, &n_train));
        ck_assert_uint_eq(n_train, n);
        synthetic_gen_sizes(g, k, &n_all, &n_train);
        ck_assert_uint_eq(n_train, n);
        synthetic_gen_train(g, k, x, y);
        for (size_t i = 0; i < n; i++) {
            ck_assert_mem_eq(x + i * d, a->train.x + rows[i] * d, d * sizeof(float));
            ck_assert_uint_eq(y[i], a->train.y[rows[i]]);
        }
    }
    free(x);
    free(y);
    synthetic_gen_free(g);
    dataset_free(a);
    dataset_free(b);
}
END_TEST

/*
 * test_clients: the held-out set is the test rows of the first clients only (a prefix of
 * the eager test split); the others' test rows are made on demand, bit for bit.
 */
START_TEST(held_out_set_of_the_first_clients)
{
    struct synthetic_params p;
    synthetic_small(&p, 8);
    p.alpha = p.beta = 1.0;
    struct dataset *a = synthetic_make(&p, 99);
    p.train_on_demand = true;
    p.test_clients = 3;
    struct dataset *b = synthetic_make(&p, 99);
    size_t held = a->client_test.off[3];
    ck_assert_uint_eq(b->n_test_clients, 3); /* the others are not listed at all */
    ck_assert_uint_eq(b->test.n, held);
    ck_assert_mem_eq(b->test.x, a->test.x, held * a->n_features * sizeof(float));
    for (size_t k = 3; k < 8; k++) {
        size_t n;
        dataset_client_test(b, k, &n);
        ck_assert_uint_eq(n, 0);
    }
    struct synthetic_gen *g = synthetic_gen_new(&p, 99);
    ck_assert_ptr_nonnull(g);
    size_t n, d = a->n_features;
    const uint32_t *rows = dataset_client_test(a, 6, &n);
    float *x = malloc(n * d * sizeof *x);
    uint16_t *y = malloc(n * sizeof *y);
    ck_assert(x != NULL && y != NULL && n > 0);
    synthetic_gen_test(g, 6, x, y);
    for (size_t i = 0; i < n; i++) {
        ck_assert_mem_eq(x + i * d, a->test.x + rows[i] * d, d * sizeof(float));
        ck_assert_uint_eq(y[i], a->test.y[rows[i]]);
    }
    free(x);
    free(y);
    synthetic_gen_free(g);
    /* The cap counts only what is stored: the held-out rows. */
    struct errbuf eb;
    errbuf_clear(&eb);
    p.max_samples = held;
    ck_assert_int_eq(synthetic_check_size(&p, 99, &eb), 0);
    p.max_samples = held - 1;
    ck_assert_int_eq(synthetic_check_size(&p, 99, &eb), -ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(eb.msg, "data.test_clients"));
    dataset_free(a);
    dataset_free(b);
}
END_TEST

/*
 * Data on demand builds nothing per client outside the held-out set: a population of 10^12
 * clients (a byte each would not fit in memory, a microsecond each would take days) loads
 * with its held-out set of 4 clients, and its last client's training count is drawn when
 * asked, the same as in a population of its own size.
 */
START_TEST(population_size_costs_nothing_on_demand)
{
    struct synthetic_params p;
    synthetic_small(&p, 1000000000000);
    p.train_on_demand = true;
    p.test_clients = 4;
    struct dataset *big = synthetic_make(&p, 31);
    ck_assert_uint_eq(big->n_clients, p.clients);
    ck_assert_uint_eq(big->n_test_clients, 4);
    p.clients = 4;
    p.train_on_demand = false;
    p.test_clients = 0;
    struct dataset *small = synthetic_make(&p, 31);
    ck_assert_uint_eq(big->test.n, small->test.n);
    ck_assert_mem_eq(big->test.x, small->test.x, small->test.n * small->n_features * sizeof(float));
    size_t n_big, n_one, k = 999999999999;
    dataset_client_train(big, k, &n_big);
    synthetic_small(&p, k + 1);
    struct synthetic_gen *g = synthetic_gen_new(&p, 31);
    ck_assert_ptr_nonnull(g);
    size_t n_all;
    synthetic_gen_sizes(g, k, &n_all, &n_one);
    ck_assert_uint_eq(n_big, n_one);
    ck_assert_uint_ge(n_big, 45); /* floor(0.9 * (at least 50)) */
    synthetic_gen_free(g);
    dataset_free(big);
    dataset_free(small);
}
END_TEST

/*
 * The held-out set made in shares (each MPI rank the clients k = rank mod ranks): every share
 * has the whole set's layout, holds exactly its clients' rows and zeros elsewhere, and the
 * bitwise OR of the shares is the whole set, bit for bit.
 */
START_TEST(held_out_set_made_in_shares_merges_to_the_whole)
{
    struct synthetic_params p;
    synthetic_small(&p, 9);
    p.alpha = p.beta = 1.0;
    p.train_on_demand = true;
    p.test_clients = _i == 0 ? 0 : 7;
    struct dataset *all = synthetic_make(&p, 5);
    size_t d = all->n_features, n = all->test.n;
    unsigned char *x = calloc(n * d, sizeof(float)), *y = calloc(n, sizeof(uint16_t));
    ck_assert(x != NULL && y != NULL && n > 0);
    p.test_ranks = 3;
    for (size_t r = 0; r < 3; r++) {
        p.test_rank = r;
        struct dataset *part = synthetic_make(&p, 5);
        ck_assert_uint_eq(part->test.n, n);
        ck_assert_uint_eq(part->n_test_clients, all->n_test_clients);
        ck_assert_mem_eq(part->client_test.off, all->client_test.off,
                         (all->n_test_clients + 1) * sizeof(size_t));
        for (size_t k = 0; k < 9; k++) {
            size_t m;
            const uint32_t *rows = dataset_client_test(part, k, &m);
            for (size_t i = 0; i < m; i++) {
                const float *got = part->test.x + rows[i] * d, *want = all->test.x + rows[i] * d;
                if (k % 3 == r)
                    ck_assert_mem_eq(got, want, d * sizeof(float));
                else
                    ck_assert(got[0] == 0 && part->test.y[rows[i]] == 0);
            }
        }
        const unsigned char *px = (const unsigned char *)part->test.x;
        const unsigned char *py = (const unsigned char *)part->test.y;
        for (size_t i = 0; i < n * d * sizeof(float); i++)
            x[i] |= px[i];
        for (size_t i = 0; i < n * sizeof(uint16_t); i++)
            y[i] |= py[i];
        dataset_free(part);
    }
    ck_assert_mem_eq(x, all->test.x, n * d * sizeof(float));
    ck_assert_mem_eq(y, all->test.y, n * sizeof(uint16_t));
    free(x);
    free(y);
    dataset_free(all);
}
END_TEST

/*
 * Synthetic-IID: v_k = 0 and x_j ~ N(0, j^-1.2), so the pooled mean of feature j lies
 * within 4 standard errors (4 * j^-0.6 / sqrt(N)) of 0.
 */
START_TEST(iid_features_are_centred)
{
    struct synthetic_params p;
    synthetic_small(&p, 30);
    p.iid = true;
    struct dataset *ds = synthetic_make(&p, 9);
    size_t n = ds->train.n, d = ds->n_features;
    for (size_t j = 0; j < d; j++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += ds->train.x[i * d + j];
        double se = pow((double)(j + 1), -0.6) / sqrt((double)n);
        ck_assert_double_eq_tol(sum / (double)n, 0.0, 4.0 * se);
    }
    dataset_free(ds);
}
END_TEST

/*
 * Synthetic-IID labels are the argmax of one linear model shared by every client, so a
 * single multinomial logistic regression trained on the pooled training rows separates the
 * classes; with per-client models (non-IID, alpha = beta = 1) the same training cannot.
 * Thresholds: with this fixed seed the IID fit reaches about 0.97 test accuracy and the
 * non-IID fit about 0.38 (measured: 0.9946 and 0.3849); we require >= 0.90 and a gap of
 * >= 0.30, so only a change of process (not of rounding) can move the result across them. Also
 * every class must occur (the label distribution is not degenerate).
 */
static double
synthetic_central_fit(const struct dataset *ds)
{
    struct model_spec spec = { .n_inputs = ds->n_features, .n_classes = ds->n_classes };
    size_t dim = model_param_count(&spec);
    float *w = calloc(dim, sizeof *w);
    const size_t batch = 32;
    struct model_ws *ws = model_ws_new(&spec, ds->test.n > batch ? ds->test.n : batch);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(ws);
    size_t d = ds->n_features;
    for (int epoch = 0; epoch < 30; epoch++) {
        for (size_t at = 0; at + batch <= ds->train.n; at += batch)
            model_sgd_step(ws, w, ds->train.x + at * d, ds->train.y + at, batch, 0.5f, 0.0f, 0.0f,
                           NULL, NULL, 0.0f);
    }
    double loss = 0;
    size_t correct = 0;
    model_eval_batch(ws, w, ds->test.x, ds->test.y, ds->test.n, &loss, &correct);
    model_ws_free(ws);
    free(w);
    return (double)correct / (double)ds->test.n;
}

START_TEST(iid_labels_come_from_one_linear_model)
{
    struct synthetic_params p;
    synthetic_small(&p, 30);
    p.iid = true;
    struct dataset *iid = synthetic_make(&p, 5);
    size_t count[4] = { 0 };
    for (size_t i = 0; i < iid->train.n; i++)
        count[iid->train.y[i]]++;
    for (size_t c = 0; c < 4; c++)
        ck_assert_uint_gt(count[c], 0);
    p.iid = false;
    p.alpha = 1.0;
    p.beta = 1.0;
    struct dataset *niid = synthetic_make(&p, 5);
    double acc_iid = synthetic_central_fit(iid);
    double acc_niid = synthetic_central_fit(niid);
    ck_assert_msg(acc_iid >= 0.90, "IID central accuracy %.4f below 0.90", acc_iid);
    ck_assert_msg(acc_iid - acc_niid >= 0.30, "IID %.4f vs non-IID %.4f: no gap", acc_iid,
                  acc_niid);
    dataset_free(iid);
    dataset_free(niid);
}
END_TEST

/* Impossible parameters, each alone: -ERR_INVALID and no dataset. */
struct synthetic_bad {
    const char *what;
    const char *msg;
};

static const struct synthetic_bad synthetic_bads[] = {
    { "0 clients", "synthetic data needs at least one client" },
    { "0 features", "synthetic data needs dim >= 1 and 2..65535 classes" },
    { "1 class", "synthetic data needs dim >= 1 and 2..65535 classes" },
    { "65536 classes", "synthetic data needs dim >= 1 and 2..65535 classes" },
    { "negative alpha", "synthetic alpha and beta must be finite and >= 0" },
    { "NaN beta", "synthetic alpha and beta must be finite and >= 0" },
    { "infinite alpha", "synthetic alpha and beta must be finite and >= 0" },
    { "train fraction 1", "train fraction must lie in (0, 1)" },
    { "train fraction 0", "train fraction must lie in (0, 1)" },
    { "train fraction NaN", "train fraction must lie in (0, 1)" },
};

START_TEST(rejects_bad_parameters)
{
    struct synthetic_params p;
    synthetic_small(&p, 3);
    switch (_i) {
    case 0:
        p.clients = 0;
        break;
    case 1:
        p.dim = 0;
        break;
    case 2:
        p.classes = 1;
        break;
    case 3:
        p.classes = 65536;
        break;
    case 4:
        p.alpha = -0.25;
        break;
    case 5:
        p.beta = NAN;
        break;
    case 6:
        p.alpha = INFINITY;
        break;
    case 7:
        p.train_fraction = 1.0;
        break;
    case 8:
        p.train_fraction = 0.0;
        break;
    case 9:
        p.train_fraction = NAN;
        break;
    default:
        ck_abort_msg("no case %d", _i);
    }
    struct dataset sentinel;
    struct dataset *ds = &sentinel; /* synthetic_generate() must reset it to NULL */
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(synthetic_generate(&ds, &p, 1, &eb), -ERR_INVALID);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strcmp(eb.msg, synthetic_bads[_i].msg) == 0, "%s: got '%s'",
                  synthetic_bads[_i].what, eb.msg);
}
END_TEST

START_TEST(cap_on_samples_is_a_range_error)
{
    struct synthetic_params p;
    synthetic_small(&p, 30);
    p.max_samples = 120; /* every client has >= 50 samples, so the third one exceeds it */
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(synthetic_generate(&ds, &p, 1, &eb), -ERR_RANGE);
    ck_assert_ptr_null(ds);
    ck_assert_str_eq(eb.msg, "synthetic data for 30 clients exceeds the cap of 120 samples");
}
END_TEST

START_TEST(check_catches_corrupted_output)
{
    struct synthetic_params p;
    synthetic_small(&p, 4);
    struct dataset *ds = synthetic_make(&p, 3);
    struct errbuf eb;
    errbuf_clear(&eb);
    uint16_t y = ds->train.y[7];
    ds->train.y[7] = (uint16_t)p.classes;
    ck_assert_int_eq(dataset_check(ds, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "train row 7: label 4 not below 4 classes");
    ds->train.y[7] = y;
    ck_assert_int_eq(dataset_check(ds, &eb), 0);
    size_t off = ds->client_test.off[2];
    ds->client_test.off[2] = ds->test.n + 1;
    ck_assert_int_eq(dataset_check(ds, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "test rows: bad offset for client 1");
    ds->client_test.off[2] = off;
    ck_assert_int_eq(dataset_check(ds, &eb), 0);
    dataset_free(ds);
}
END_TEST

Suite *
synthetic_suite(void)
{
    Suite *s = suite_create("synthetic");
    TCase *tc = tcase_create("process");
    tcase_add_test(tc, defaults_are_the_papers);
    tcase_add_test(tc, sizes_follow_the_lognormal_process);
    tcase_add_test(tc, sizes_have_the_lognormal_median);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_loop_test(tc, client_data_independent_of_population, 0, 2);
    tcase_add_loop_test(tc, training_rows_made_on_demand_are_the_same, 0, 2);
    tcase_add_test(tc, held_out_set_of_the_first_clients);
    tcase_add_test(tc, population_size_costs_nothing_on_demand);
    tcase_add_loop_test(tc, held_out_set_made_in_shares_merges_to_the_whole, 0, 2);
    tcase_add_test(tc, iid_features_are_centred);
    tcase_add_test(tc, iid_labels_come_from_one_linear_model);
    tcase_add_test(tc, check_catches_corrupted_output);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejects bad parameters");
    tcase_add_loop_test(tc, rejects_bad_parameters, 0,
                        (int)(sizeof synthetic_bads / sizeof synthetic_bads[0]));
    tcase_add_test(tc, cap_on_samples_is_a_range_error);
    suite_add_tcase(s, tc);
    return s;
}
