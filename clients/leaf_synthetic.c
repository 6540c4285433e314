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
    size_t d1 = p->dim + 1, nc = p->classes;
    size_t *n_all = mem_calloc(p->clients, sizeof *n_all);
    size_t *n_train = mem_calloc(p->clients, sizeof *n_train);
    double *q = mem_alloc(d1 * nc * sizeof *q);
    double *w = mem_alloc(d1 * nc * sizeof *w);
    double *m = mem_alloc(p->dim * sizeof *m);
    double *sd = mem_alloc(p->dim * sizeof *sd);
    struct dataset *ds = NULL;
    if (n_all == NULL || n_train == NULL || q == NULL || w == NULL || m == NULL || sd == NULL)
        goto out;

    for (size_t k = 0; k < p->clients; k++) {
        n_all[k] = leaf_synthetic_size(p, seed, k);
        size_t t = (size_t)floor(p->train_fraction * (double)n_all[k]);
        n_train[k] = t < 1 ? 1 : t;
    }
    rc = dataset_new_clients(&ds, p->dim, nc, p->clients, p->clients, n_all, n_train,
                             p->max_samples, NULL, "leaf synthetic data", eb);
    if (rc < 0)
        goto out;

    /* Global: Q (row-major [d + 1][C], the single side-information column) and mu. */
    struct rng rg;
    rng_init_stream(&rg, seed, RNG_PURPOSE_DATA, LEAF_STREAM_GLOBAL, RNG_ANY);
    gsl_rng *gg = rng_gsl(&rg);
    for (size_t i = 0; i < d1 * nc; i++)
        q[i] = gsl_ran_gaussian_ziggurat(gg, 1.0);
    double loc = gsl_ran_gaussian_ziggurat(gg, 1.0);
    double mu = loc + gsl_ran_gaussian_ziggurat(gg, 1.0);
    for (size_t j = 0; j < p->dim; j++)
        sd[j] = sqrt(pow((double)(j + 1), -1.2));

    struct dataset_fill fill = { 0 };
    for (size_t k = 0; k < p->clients; k++) {
        struct rng rt;
        rng_init_stream(&rt, seed, RNG_PURPOSE_DATA, LEAF_STREAM_TASK, k);
        gsl_rng *gt = rng_gsl(&rt);
        double b = gsl_ran_gaussian_ziggurat(gt, 1.0);
        for (size_t j = 0; j < p->dim; j++)
            m[j] = b + gsl_ran_gaussian_ziggurat(gt, 1.0);
        double z = mu + gsl_ran_gaussian_ziggurat(gt, LEAF_MODEL_SD);
        for (size_t i = 0; i < d1 * nc; i++)
            w[i] = q[i] * z;

        struct rng rs;
        rng_init_stream(&rs, seed, RNG_PURPOSE_DATA, LEAF_STREAM_SAMPLES, k);
        gsl_rng *gs = rng_gsl(&rs);
        dataset_fill_client(ds, &fill, k);
        for (size_t i = 0; i < n_all[k]; i++) {
            uint16_t *y;
            float *x = dataset_fill_row(ds, &fill, i < n_train[k], &y);
            for (size_t j = 0; j < p->dim; j++)
                x[j] = (float)(m[j] + sd[j] * gsl_ran_gaussian_ziggurat(gs, 1.0));
            size_t best = 0;
            double best_v = -INFINITY;
            for (size_t c = 0; c < nc; c++) {
                double v = w[c] + gsl_ran_gaussian_ziggurat(gs, LEAF_NOISE_SD);
                for (size_t j = 0; j < p->dim; j++)
                    v += (double)x[j] * w[(j + 1) * nc + c];
                if (v > best_v) {
                    best_v = v;
                    best = c;
                }
            }
            *y = (uint16_t)best;
        }
    }
    dataset_fill_end(ds, &fill);
    *out = ds;
    ds = NULL;
    rc = 0;
out:
    dataset_free(ds);
    mem_free(n_all);
    mem_free(n_train);
    mem_free(q);
    mem_free(w);
    mem_free(m);
    mem_free(sd);
    if (rc == -ERR_NOMEM)
        errbuf_set(eb, rc, "out of memory generating leaf synthetic data");
    return rc;
}
