/* synthetic: FedProx Synthetic(alpha, beta) and Synthetic-IID. See synthetic.h. */
#include "clients/synthetic.h"

#include <gsl/gsl_randist.h>
#include <math.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/banned.h"

/* Sub-streams of RNG_PURPOSE_DATA, passed as the "round" part of the stream name. */
enum { SYN_STREAM_SIZE = 0, SYN_STREAM_MODEL = 1, SYN_STREAM_SAMPLES = 2 };

void
synthetic_params_default(struct synthetic_params *p)
{
    *p = (struct synthetic_params){
        .iid = false,
        .alpha = 0.0,
        .beta = 0.0,
        .clients = 30,
        .dim = 60,
        .classes = 10,
        .train_fraction = 0.9,
        .max_samples = 50000000,
        .train_on_demand = false,
        .test_clients = 0,
        .test_ranks = 0,
        .test_rank = 0,
    };
}

static size_t
synthetic_draw_size(uint64_t seed, size_t k)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_DATA, SYN_STREAM_SIZE, k);
    double n = floor(gsl_ran_lognormal(rng_gsl(&r), 4.0, 2.0));
    /* A lognormal draw beyond 2^32 is astronomically unlikely; clamp so the sum is exact. */
    return (n > 4.0e9 ? (size_t)4000000000u : (size_t)n) + 50;
}

/* Client k's training rows of n_all samples. */
static size_t
synthetic_train_of(double train_fraction, size_t n_all)
{
    return (size_t)floor(train_fraction * (double)n_all);
}

/* What a dataset made on demand keeps to draw a client's training count (dataset_count_fn). */
struct synthetic_counts {
    uint64_t seed;
    double train_fraction;
};

static size_t
synthetic_count_train(const void *ctx, size_t k)
{
    const struct synthetic_counts *c = ctx;
    return synthetic_train_of(c->train_fraction, synthetic_draw_size(c->seed, k));
}

/* Draws a linear model W (dim x classes, row-major by feature) and bias b, entries N(mean, 1). */
static void
synthetic_draw_model(gsl_rng *g, double mean, double *w, double *b, size_t dim, size_t classes)
{
    for (size_t i = 0; i < dim * classes; i++)
        w[i] = mean + gsl_ran_gaussian_ziggurat(g, 1.0);
    for (size_t c = 0; c < classes; c++)
        b[c] = mean + gsl_ran_gaussian_ziggurat(g, 1.0);
}

static uint16_t
synthetic_label(const double *w, const double *b, const float *x, size_t dim, size_t classes)
{
    size_t best = 0;
    double best_v = -INFINITY;
    for (size_t c = 0; c < classes; c++) {
        double v = b[c];
        for (size_t j = 0; j < dim; j++)
            v += w[j * classes + c] * (double)x[j];
        if (v > best_v) {
            best_v = v;
            best = c;
        }
    }
    return (uint16_t)best;
}

/* Whether client k's test rows belong to the held-out set. */
static bool
synthetic_holds_test(const struct synthetic_params *p, size_t k)
{
    return p->test_clients == 0 || k < p->test_clients;
}

/* Whether synthetic_generate() makes client k's held-out rows (its share of them). */
static bool
synthetic_makes_test(const struct synthetic_params *p, size_t k)
{
    return synthetic_holds_test(p, k) && (p->test_ranks <= 1 || k % p->test_ranks == p->test_rank);
}

/* Samples client k's part of the dataset stores (n_all of them: n_train, then its test rows). */
static size_t
synthetic_stored(const struct synthetic_params *p, size_t n_all, size_t n_train, size_t k)
{
    size_t test = synthetic_holds_test(p, k) ? n_all - n_train : 0;
    return (p->train_on_demand ? 0 : n_train) + test;
}

/* The -ERR_RANGE of a dataset whose stored samples exceed the cap. */
static int
synthetic_too_big(const struct synthetic_params *p, struct errbuf *eb)
{
    return errbuf_set(eb, -ERR_RANGE,
                      "synthetic %sdata for %zu clients exceeds the cap of %zu samples%s",
                      p->train_on_demand ? "test " : "", p->clients, p->max_samples,
                      p->train_on_demand ? " (data.test_clients bounds it)" : "");
}

/*
 * Clients whose rows a dataset may store: every client, except that a dataset making its
 * training rows on demand with a bounded held-out set stores nothing of the others.
 */
static size_t
synthetic_storing_clients(const struct synthetic_params *p)
{
    bool bounded = p->train_on_demand && p->test_clients > 0 && p->test_clients < p->clients;
    return bounded ? p->test_clients : p->clients;
}

int
synthetic_check_size(const struct synthetic_params *p, uint64_t seed, struct errbuf *eb)
{
    size_t total = 0;
    for (size_t k = 0; k < synthetic_storing_clients(p); k++) {
        size_t n_all = synthetic_draw_size(seed, k);
        size_t n_train = synthetic_train_of(p->train_fraction, n_all);
        total += synthetic_stored(p, n_all, n_train, k);
        if (total > p->max_samples)
            return synthetic_too_big(p, eb);
    }
    return 0;
}

struct synthetic_gen {
    struct synthetic_params p;
    uint64_t seed;
    double *w;  /* dim x classes: the client's (or the shared IID) model */
    double *b;  /* classes */
    double *v;  /* dim: the client's feature mean */
    double *sd; /* dim: feature standard deviations */
    float *row; /* dim: a drawn row nobody keeps */
};

static int
synthetic_check_params(const struct synthetic_params *p, struct errbuf *eb)
{
    if (p->clients == 0)
        return errbuf_set(eb, -ERR_INVALID, "synthetic data needs at least one client");
    if (p->dim == 0 || p->classes < 2 || p->classes > UINT16_MAX)
        return errbuf_set(eb, -ERR_INVALID, "synthetic data needs dim >= 1 and 2..65535 classes");
    if (!(p->alpha >= 0.0) || !(p->beta >= 0.0) || !isfinite(p->alpha) || !isfinite(p->beta))
        return errbuf_set(eb, -ERR_INVALID, "synthetic alpha and beta must be finite and >= 0");
    if (!(p->train_fraction > 0.0 && p->train_fraction < 1.0))
        return errbuf_set(eb, -ERR_INVALID, "train fraction must lie in (0, 1)");
    return 0;
}

void
synthetic_gen_free(struct synthetic_gen *g)
{
    if (g == NULL)
        return;
    mem_free(g->w);
    mem_free(g->b);
    mem_free(g->v);
    mem_free(g->sd);
    mem_free(g->row);
    mem_free(g);
}

struct synthetic_gen *
synthetic_gen_new(const struct synthetic_params *p, uint64_t seed)
{
    struct synthetic_gen *g = mem_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->p = *p;
    g->seed = seed;
    g->w = mem_calloc(p->dim * p->classes, sizeof *g->w);
    g->b = mem_calloc(p->classes, sizeof *g->b);
    g->v = mem_calloc(p->dim, sizeof *g->v);
    g->sd = mem_calloc(p->dim, sizeof *g->sd);
    g->row = mem_calloc(p->dim, sizeof *g->row);
    if (g->w == NULL || g->b == NULL || g->v == NULL || g->sd == NULL || g->row == NULL) {
        synthetic_gen_free(g);
        return NULL;
    }
    for (size_t j = 0; j < p->dim; j++)
        g->sd[j] = sqrt(pow((double)(j + 1), -1.2));
    if (p->iid) {
        struct rng rm;
        rng_init_stream(&rm, seed, RNG_PURPOSE_DATA, SYN_STREAM_MODEL, RNG_ANY);
        synthetic_draw_model(rng_gsl(&rm), 0.0, g->w, g->b, p->dim, p->classes);
    }
    return g;
}

void
synthetic_gen_sizes(const struct synthetic_gen *g, size_t k, size_t *n_all, size_t *n_train)
{
    *n_all = synthetic_draw_size(g->seed, k);
    *n_train = synthetic_train_of(g->p.train_fraction, *n_all);
}

/*
 * Draws client k's rows in order from its streams, as far as anybody keeps them, into the
 * places `sink` gives them (clients/dataset.h): the dataset being filled, the caller's
 * buffers or a scratch row. Training rows come first in the stream, so they do not depend
 * on whether the test rows are drawn.
 */
static void
synthetic_gen_rows(struct synthetic_gen *g, size_t k, size_t n_all, size_t n_train,
                   struct dataset_sink *sink)
{
    const struct synthetic_params *p = &g->p;
    sink->n_features = p->dim;
    sink->scratch = g->row;
    size_t n_draw = dataset_sink_begin(sink, k, n_all, n_train, synthetic_holds_test(p, k),
                                       synthetic_makes_test(p, k));
    if (n_draw > 0 && !p->iid) {
        struct rng rm;
        rng_init_stream(&rm, g->seed, RNG_PURPOSE_DATA, SYN_STREAM_MODEL, k);
        gsl_rng *gm = rng_gsl(&rm);
        double u = gsl_ran_gaussian_ziggurat(gm, 1.0) * p->alpha;
        double bk = gsl_ran_gaussian_ziggurat(gm, 1.0) * p->beta;
        for (size_t j = 0; j < p->dim; j++)
            g->v[j] = bk + gsl_ran_gaussian_ziggurat(gm, 1.0);
        synthetic_draw_model(gm, u, g->w, g->b, p->dim, p->classes);
    }
    struct rng rs;
    rng_init_stream(&rs, g->seed, RNG_PURPOSE_DATA, SYN_STREAM_SAMPLES, k);
    gsl_rng *gs = rng_gsl(&rs);
    for (size_t i = 0; i < n_all; i++) {
        uint16_t *y;
        float *x = dataset_sink_row(sink, i, &y); /* counts the row in the dataset filled */
        if (i >= n_draw)
            continue;
        for (size_t j = 0; j < p->dim; j++)
            x[j] = (float)(g->v[j] + g->sd[j] * gsl_ran_gaussian_ziggurat(gs, 1.0));
        *y = synthetic_label(g->w, g->b, x, p->dim, p->classes);
    }
}

void
synthetic_gen_train(struct synthetic_gen *g, size_t k, float *x, uint16_t *y)
{
    size_t n_all, n_train;
    synthetic_gen_sizes(g, k, &n_all, &n_train);
    struct dataset_sink sink = { .x_train = x, .y_train = y };
    synthetic_gen_rows(g, k, n_all, n_train, &sink);
}

void
synthetic_gen_test(struct synthetic_gen *g, size_t k, float *x, uint16_t *y)
{
    size_t n_all, n_train;
    synthetic_gen_sizes(g, k, &n_all, &n_train);
    struct dataset_sink sink = { .x_test = x, .y_test = y };
    synthetic_gen_rows(g, k, n_all, n_train, &sink);
}

int
synthetic_generate(struct dataset **out, const struct synthetic_params *p, uint64_t seed,
                   struct errbuf *eb)
{
    *out = NULL;
    int rc = synthetic_check_params(p, eb);
    if (rc < 0)
        return rc;
    rc = -ERR_NOMEM;
    /* Sizes of the clients the dataset lists: every client, or with training rows made on
     * demand only those whose test rows it stores (the others' counts are drawn when asked,
     * synthetic_count_train(), so nothing here grows with the rest of the population). */
    size_t listed = p->train_on_demand ? synthetic_storing_clients(p) : p->clients;
    size_t *n_train = mem_calloc(listed > 0 ? listed : 1, sizeof *n_train);
    size_t *n_all = mem_calloc(listed > 0 ? listed : 1, sizeof *n_all);
    struct synthetic_gen *g = synthetic_gen_new(p, seed);
    struct synthetic_counts *counts = NULL;
    struct dataset *ds = NULL;
    if (n_train == NULL || n_all == NULL || g == NULL)
        goto out;
    if (p->train_on_demand) {
        counts = mem_alloc(sizeof *counts);
        if (counts == NULL)
            goto out;
        *counts = (struct synthetic_counts){ seed, p->train_fraction };
    }

    /* Each listed client's size is drawn once, here (synthetic_check_size() draws those it
     * needs). */
    size_t total = 0;
    for (size_t k = 0; k < listed; k++) {
        synthetic_gen_sizes(g, k, &n_all[k], &n_train[k]);
        total += synthetic_stored(p, n_all[k], n_train[k], k);
        if (!synthetic_holds_test(p, k))
            n_all[k] = n_train[k];
    }
    if (total > p->max_samples) {
        rc = synthetic_too_big(p, eb);
        goto out;
    }
    struct dataset_on_demand lazy = { synthetic_count_train, counts };
    counts = NULL; /* the dataset takes it */
    rc = dataset_new_clients(&ds, p->dim, p->classes, p->clients, listed, n_all, n_train,
                             p->max_samples, p->train_on_demand ? &lazy : NULL, "synthetic data",
                             eb);
    if (rc < 0)
        goto out;
    struct dataset_fill fill = { 0 };
    struct dataset_sink sink = { .ds = ds, .f = &fill };
    for (size_t k = 0; k < listed; k++)
        synthetic_gen_rows(g, k, n_all[k], n_train[k], &sink);
    dataset_fill_end(ds, &fill);
    *out = ds;
    ds = NULL;
    rc = 0;
out:
    dataset_free(ds);
    mem_free(counts);
    mem_free(n_train);
    mem_free(n_all);
    synthetic_gen_free(g);
    if (rc == -ERR_NOMEM)
        errbuf_set(eb, rc, "out of memory generating synthetic data");
    return rc;
}
