/* leaf_synthetic: LEAF's Synthetic process. See leaf_synthetic.h. */
#include "clients/leaf_synthetic.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdbool.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/banned.h"

/* Sub-streams of RNG_PURPOSE_DATA, after clients/synthetic.c's 0..2. */
enum {
    LEAF_STREAM_GLOBAL = 16,
    LEAF_STREAM_SIZE = 17,
    LEAF_STREAM_TASK = 18,
    LEAF_STREAM_SAMPLES = 19,
};

/* Standard deviation of the model information around the cluster mean and of the noise. */
#define LEAF_MODEL_SD 0.1
#define LEAF_NOISE_SD 0.1

void
leaf_synthetic_params_default(struct leaf_synthetic_params *p)
{
    *p = (struct leaf_synthetic_params){
        .clients = 1000,
        .dim = 60,
        .classes = 5,
        .train_fraction = 0.6,
        .min_client_samples = 5,
        .max_client_samples = 1000,
        .max_samples = 50000000,
        .train_on_demand = false,
        .test_clients = 0,
        .test_ranks = 0,
        .test_rank = 0,
    };
}

static size_t
leaf_synthetic_size(const struct leaf_synthetic_params *p, uint64_t seed, size_t k)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_DATA, LEAF_STREAM_SIZE, k);
    double d = floor(gsl_ran_lognormal(rng_gsl(&r), 3.0, 2.0));
    double n = d + (double)p->min_client_samples;
    return n >= (double)p->max_client_samples ? p->max_client_samples : (size_t)n;
}

/* Client k's training rows of n_all samples: at least one. */
static size_t
leaf_synthetic_train_of(double train_fraction, size_t n_all)
{
    size_t t = (size_t)floor(train_fraction * (double)n_all);
    return t < 1 ? 1 : t;
}

/* What a dataset made on demand keeps to draw a client's training count (dataset_count_fn). */
struct leaf_synthetic_counts {
    struct leaf_synthetic_params p;
    uint64_t seed;
};

static size_t
leaf_synthetic_count_train(const void *ctx, size_t k)
{
    const struct leaf_synthetic_counts *c = ctx;
    return leaf_synthetic_train_of(c->p.train_fraction, leaf_synthetic_size(&c->p, c->seed, k));
}

/* Whether client k's test rows belong to the held-out set. */
static bool
leaf_synthetic_holds_test(const struct leaf_synthetic_params *p, size_t k)
{
    return !p->train_on_demand || p->test_clients == 0 || k < p->test_clients;
}

/* Whether leaf_synthetic_generate() makes client k's held-out rows (its share of them). */
static bool
leaf_synthetic_makes_test(const struct leaf_synthetic_params *p, size_t k)
{
    return leaf_synthetic_holds_test(p, k) &&
           (p->test_ranks <= 1 || k % p->test_ranks == p->test_rank);
}

struct leaf_synthetic_gen {
    struct leaf_synthetic_params p;
    uint64_t seed;
    double mu;  /* the cluster mean */
    double *q;  /* (dim + 1) x classes, row-major: the global Q */
    double *w;  /* the client's model Q z_k */
    double *m;  /* dim: the client's feature mean */
    double *sd; /* dim: feature standard deviations */
    float *row; /* dim: a drawn row nobody keeps */
};

void
leaf_synthetic_gen_free(struct leaf_synthetic_gen *g)
{
    if (g == NULL)
        return;
    mem_free(g->q);
    mem_free(g->w);
    mem_free(g->m);
    mem_free(g->sd);
    mem_free(g->row);
    mem_free(g);
}

struct leaf_synthetic_gen *
leaf_synthetic_gen_new(const struct leaf_synthetic_params *p, uint64_t seed)
{
    struct leaf_synthetic_gen *g = mem_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->p = *p;
    g->seed = seed;
    size_t d1 = p->dim + 1, nc = p->classes;
    g->q = mem_alloc(d1 * nc * sizeof *g->q);
    g->w = mem_alloc(d1 * nc * sizeof *g->w);
    g->m = mem_alloc(p->dim * sizeof *g->m);
    g->sd = mem_alloc(p->dim * sizeof *g->sd);
    g->row = mem_alloc(p->dim * sizeof *g->row);
    if (g->q == NULL || g->w == NULL || g->m == NULL || g->sd == NULL || g->row == NULL) {
        leaf_synthetic_gen_free(g);
        return NULL;
    }
    /* Global: Q (row-major [d + 1][C], the single side-information column) and mu. */
    struct rng rg;
    rng_init_stream(&rg, seed, RNG_PURPOSE_DATA, LEAF_STREAM_GLOBAL, RNG_ANY);
    gsl_rng *gg = rng_gsl(&rg);
    for (size_t i = 0; i < d1 * nc; i++)
        g->q[i] = gsl_ran_gaussian_ziggurat(gg, 1.0);
    double loc = gsl_ran_gaussian_ziggurat(gg, 1.0);
    g->mu = loc + gsl_ran_gaussian_ziggurat(gg, 1.0);
    for (size_t j = 0; j < p->dim; j++)
        g->sd[j] = sqrt(pow((double)(j + 1), -1.2));
    return g;
}

void
leaf_synthetic_gen_sizes(const struct leaf_synthetic_gen *g, size_t k, size_t *n_all,
                         size_t *n_train)
{
    *n_all = leaf_synthetic_size(&g->p, g->seed, k);
    *n_train = leaf_synthetic_train_of(g->p.train_fraction, *n_all);
}

/*
 * Draws client k's samples in order from its streams, as far as anybody keeps them, into
 * the places `sink` gives them (clients/dataset.h).
 */
static void
leaf_synthetic_gen_rows(struct leaf_synthetic_gen *g, size_t k, size_t n_all, size_t n_train,
                        struct dataset_sink *sink)
{
    const struct leaf_synthetic_params *p = &g->p;
    size_t d1 = p->dim + 1, nc = p->classes;
    sink->n_features = p->dim;
    sink->scratch = g->row;
    size_t n_draw = dataset_sink_begin(sink, k, n_all, n_train, leaf_synthetic_holds_test(p, k),
                                       leaf_synthetic_makes_test(p, k));
    if (n_draw > 0) {
        struct rng rt;
        rng_init_stream(&rt, g->seed, RNG_PURPOSE_DATA, LEAF_STREAM_TASK, k);
        gsl_rng *gt = rng_gsl(&rt);
        double b = gsl_ran_gaussian_ziggurat(gt, 1.0);
        for (size_t j = 0; j < p->dim; j++)
            g->m[j] = b + gsl_ran_gaussian_ziggurat(gt, 1.0);
        double z = g->mu + gsl_ran_gaussian_ziggurat(gt, LEAF_MODEL_SD);
        for (size_t i = 0; i < d1 * nc; i++)
            g->w[i] = g->q[i] * z;
    }
    struct rng rs;
    rng_init_stream(&rs, g->seed, RNG_PURPOSE_DATA, LEAF_STREAM_SAMPLES, k);
    gsl_rng *gs = rng_gsl(&rs);
    for (size_t i = 0; i < n_all; i++) {
        uint16_t *y;
        float *x = dataset_sink_row(sink, i, &y); /* counts the row in the dataset filled */
        if (i >= n_draw)
            continue;
        for (size_t j = 0; j < p->dim; j++)
            x[j] = (float)(g->m[j] + g->sd[j] * gsl_ran_gaussian_ziggurat(gs, 1.0));
        size_t best = 0;
        double best_v = -INFINITY;
        for (size_t c = 0; c < nc; c++) {
            double v = g->w[c] + gsl_ran_gaussian_ziggurat(gs, LEAF_NOISE_SD);
            for (size_t j = 0; j < p->dim; j++)
                v += (double)x[j] * g->w[(j + 1) * nc + c];
            if (v > best_v) {
                best_v = v;
                best = c;
            }
        }
        *y = (uint16_t)best;
    }
}

/* Client k's rows made alone, into the caller's buffers that sink names. */
static void
leaf_synthetic_gen_client(struct leaf_synthetic_gen *g, size_t k, struct dataset_sink sink)
{
    size_t n_all, n_train;
    leaf_synthetic_gen_sizes(g, k, &n_all, &n_train);
    leaf_synthetic_gen_rows(g, k, n_all, n_train, &sink);
}

void
leaf_synthetic_gen_train(struct leaf_synthetic_gen *g, size_t k, float *x, uint16_t *y)
{
    leaf_synthetic_gen_client(g, k, (struct dataset_sink){ .x_train = x, .y_train = y });
}

void
leaf_synthetic_gen_test(struct leaf_synthetic_gen *g, size_t k, float *x, uint16_t *y)
{
    leaf_synthetic_gen_client(g, k, (struct dataset_sink){ .x_test = x, .y_test = y });
}

int
leaf_synthetic_generate(struct dataset **out, const struct leaf_synthetic_params *p, uint64_t seed,
                        struct errbuf *eb)
{
    *out = NULL;
    if (p->clients == 0 || p->clients > UINT32_MAX)
        return errbuf_set(eb, -ERR_INVALID, "leaf synthetic data needs 1..2^32-1 clients");
    if (p->dim == 0 || p->dim > (1u << 20) || p->classes < 2 || p->classes > UINT16_MAX)
        return errbuf_set(eb, -ERR_INVALID,
                          "leaf synthetic data needs dim in 1..2^20 and 2..65535 classes");
    if (!(p->train_fraction > 0.0 && p->train_fraction < 1.0))
        return errbuf_set(eb, -ERR_INVALID, "train fraction must lie in (0, 1)");
    if (p->min_client_samples < 2 || p->max_client_samples < p->min_client_samples)
        return errbuf_set(eb, -ERR_INVALID,
                          "leaf synthetic needs 2 <= min_client_samples <= max_client_samples");

    int rc = -ERR_NOMEM;
    /* With training rows made on demand only the held-out clients are listed (the others'
     * counts are drawn when asked, leaf_synthetic_count_train()). */
    bool bounded = p->train_on_demand && p->test_clients > 0 && p->test_clients < p->clients;
    size_t listed = bounded ? p->test_clients : p->clients;
    size_t *n_all = mem_calloc(listed, sizeof *n_all);
    size_t *n_train = mem_calloc(listed, sizeof *n_train);
    struct leaf_synthetic_gen *g = leaf_synthetic_gen_new(p, seed);
    struct leaf_synthetic_counts *counts = NULL;
    struct dataset *ds = NULL;
    if (n_all == NULL || n_train == NULL || g == NULL)
        goto out;
    if (p->train_on_demand) {
        counts = mem_alloc(sizeof *counts);
        if (counts == NULL)
            goto out;
        *counts = (struct leaf_synthetic_counts){ *p, seed };
    }
    for (size_t k = 0; k < listed; k++)
        leaf_synthetic_gen_sizes(g, k, &n_all[k], &n_train[k]);
    struct dataset_on_demand lazy = { leaf_synthetic_count_train, counts };
    counts = NULL; /* the dataset takes it */
    rc = dataset_new_clients(&ds, p->dim, p->classes, p->clients, listed, n_all, n_train,
                             p->max_samples, p->train_on_demand ? &lazy : NULL,
                             "leaf synthetic data", eb);
    if (rc < 0)
        goto out;
    struct dataset_fill fill = { 0 };
    struct dataset_sink sink = { .ds = ds, .f = &fill };
    for (size_t k = 0; k < listed; k++)
        leaf_synthetic_gen_rows(g, k, n_all[k], n_train[k], &sink);
    dataset_fill_end(ds, &fill);
    *out = ds;
    ds = NULL;
    rc = 0;
out:
    dataset_free(ds);
    mem_free(counts);
    mem_free(n_all);
    mem_free(n_train);
    leaf_synthetic_gen_free(g);
    if (rc == -ERR_NOMEM)
        errbuf_set(eb, rc, "out of memory generating leaf synthetic data");
    return rc;
}
