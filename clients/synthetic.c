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

int
synthetic_check_size(const struct synthetic_params *p, uint64_t seed, struct errbuf *eb)
{
    size_t total = 0;
    for (size_t k = 0; k < p->clients; k++) {
        total += synthetic_draw_size(seed, k);
        if (total > p->max_samples)
            return errbuf_set(eb, -ERR_RANGE,
                              "synthetic data for %zu clients exceeds the cap of %zu samples",
                              p->clients, p->max_samples);
    }
    return 0;
}

int
synthetic_generate(struct dataset **out, const struct synthetic_params *p, uint64_t seed,
                   struct errbuf *eb)
{
    *out = NULL;
    if (p->clients == 0)
        return errbuf_set(eb, -ERR_INVALID, "synthetic data needs at least one client");
    if (p->dim == 0 || p->classes < 2 || p->classes > UINT16_MAX)
        return errbuf_set(eb, -ERR_INVALID, "synthetic data needs dim >= 1 and 2..65535 classes");
    if (!(p->alpha >= 0.0) || !(p->beta >= 0.0) || !isfinite(p->alpha) || !isfinite(p->beta))
        return errbuf_set(eb, -ERR_INVALID, "synthetic alpha and beta must be finite and >= 0");
    if (!(p->train_fraction > 0.0 && p->train_fraction < 1.0))
        return errbuf_set(eb, -ERR_INVALID, "train fraction must lie in (0, 1)");

    int rc = synthetic_check_size(p, seed, eb);
    if (rc < 0)
        return rc;
    rc = -ERR_NOMEM;
    size_t *n_train = mem_calloc(p->clients, sizeof *n_train);
    size_t *n_all = mem_calloc(p->clients, sizeof *n_all);
    double *w = mem_calloc(p->dim * p->classes, sizeof *w);
    double *b = mem_calloc(p->classes, sizeof *b);
    double *v = mem_calloc(p->dim, sizeof *v);
    double *sd = mem_calloc(p->dim, sizeof *sd);
    struct dataset *ds = NULL;
    if (n_train == NULL || n_all == NULL || w == NULL || b == NULL || v == NULL || sd == NULL)
        goto out;

    for (size_t k = 0; k < p->clients; k++) {
        n_all[k] = synthetic_draw_size(seed, k);
        n_train[k] = (size_t)floor(p->train_fraction * (double)n_all[k]);
    }
    rc = dataset_new_clients(&ds, p->dim, p->classes, p->clients, n_all, n_train, p->max_samples,
                             "synthetic data", eb);
    if (rc < 0)
        goto out;

    for (size_t j = 0; j < p->dim; j++)
        sd[j] = sqrt(pow((double)(j + 1), -1.2));
    if (p->iid) {
        struct rng rm;
        rng_init_stream(&rm, seed, RNG_PURPOSE_DATA, SYN_STREAM_MODEL, RNG_ANY);
        synthetic_draw_model(rng_gsl(&rm), 0.0, w, b, p->dim, p->classes);
    }

    struct dataset_fill fill = { 0 };
    for (size_t k = 0; k < p->clients; k++) {
        if (!p->iid) {
            struct rng rm;
            rng_init_stream(&rm, seed, RNG_PURPOSE_DATA, SYN_STREAM_MODEL, k);
            gsl_rng *g = rng_gsl(&rm);
            double u = gsl_ran_gaussian_ziggurat(g, 1.0) * p->alpha;
            double bk = gsl_ran_gaussian_ziggurat(g, 1.0) * p->beta;
            for (size_t j = 0; j < p->dim; j++)
                v[j] = bk + gsl_ran_gaussian_ziggurat(g, 1.0);
            synthetic_draw_model(g, u, w, b, p->dim, p->classes);
        }
        struct rng rs;
        rng_init_stream(&rs, seed, RNG_PURPOSE_DATA, SYN_STREAM_SAMPLES, k);
        gsl_rng *g = rng_gsl(&rs);
        dataset_fill_client(ds, &fill, k);
        for (size_t i = 0; i < n_all[k]; i++) {
            uint16_t *y;
            float *x = dataset_fill_row(ds, &fill, i < n_train[k], &y);
            for (size_t j = 0; j < p->dim; j++)
                x[j] = (float)(v[j] + sd[j] * gsl_ran_gaussian_ziggurat(g, 1.0));
            *y = synthetic_label(w, b, x, p->dim, p->classes);
        }
    }
    dataset_fill_end(ds, &fill);
    *out = ds;
    ds = NULL;
    rc = 0;
out:
    dataset_free(ds);
    mem_free(n_train);
    mem_free(n_all);
    mem_free(w);
    mem_free(b);
    mem_free(v);
    mem_free(sd);
    if (rc == -ERR_NOMEM)
        errbuf_set(eb, rc, "out of memory generating synthetic data");
    return rc;
}
