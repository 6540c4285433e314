/*
 * bench_train: wall time of one local epoch on Fashion-MNIST-shaped data (the speed figure
 * of local training): 600 samples of 784 features in [0, 1) with labels 0..9, batch 32 (19 steps,
 * the last of 24 rows), plain SGD, for multinomial logistic regression (784-10) and the MLP
 * 784-200-200-10 of McMahan et al. Runs on one core (OpenBLAS pinned to one thread).
 * Prints the median, minimum and maximum milliseconds per epoch over the repeats.
 *
 * Usage: bench_train [repeats]   (default 101)
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "clients/dataset.h"
#include "clients/model.h"
#include "clients/trainer.h"
#include "sim/wallclock.h"
#include "base/banned.h"

enum { BT_SAMPLES = 600, BT_FEATURES = 784, BT_CLASSES = 10, BT_BATCH = 32, BT_WARMUP = 5 };

static int
bench_train_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct dataset *
bench_train_data(void)
{
    struct dataset *ds = dataset_new(BT_FEATURES, BT_CLASSES, 1, BT_SAMPLES, 0);
    if (ds == NULL)
        return NULL;
    struct rng r;
    rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, RNG_ANY);
    for (size_t i = 0; i < (size_t)BT_SAMPLES * BT_FEATURES; i++)
        ds->train.x[i] = (float)rng_uniform(&r);
    for (size_t i = 0; i < BT_SAMPLES; i++) {
        ds->train.y[i] = (uint16_t)rng_below(&r, BT_CLASSES);
        ds->client_train.rows[i] = (uint32_t)i;
    }
    ds->client_train.off[0] = 0;
    ds->client_train.off[1] = BT_SAMPLES;
    return ds;
}

/* Times `repeats` epochs from the same starting weights; returns 0 or -1 (out of memory). */
static int
bench_train_model(const char *name, const struct model_spec *spec, const struct dataset *ds,
                  unsigned repeats)
{
    size_t dim = model_param_count(spec);
    float *w0 = mem_alloc(dim * sizeof *w0), *w = mem_alloc(dim * sizeof *w);
    double *ms = mem_alloc(repeats * sizeof *ms);
    struct trainer *t = trainer_new(spec, ds, BT_BATCH);
    int rc = -1;
    if (w0 == NULL || w == NULL || ms == NULL || t == NULL)
        goto out;
    struct rng ri;
    rng_init_stream(&ri, 1, RNG_PURPOSE_MODEL_INIT, RNG_ANY, RNG_ANY);
    model_init_params(spec, w0, &ri);
    struct train_params tp = { .epochs = 1, .batch_size = BT_BATCH, .lr = 0.05f };
    struct train_result res;
    double loss = 0.0;
    for (unsigned i = 0; i < BT_WARMUP + repeats; i++) {
        memcpy(w, w0, dim * sizeof *w);
        struct rng r;
        rng_init_stream(&r, 1, RNG_PURPOSE_TRAIN, i, 0);
        int64_t t0 = wallclock_ns();
        trainer_train(t, w, NULL, 0, &tp, &r, &res);
        int64_t t1 = wallclock_ns();
        if (i >= BT_WARMUP)
            ms[i - BT_WARMUP] = (double)(t1 - t0) / 1e6;
        loss += res.loss;
    }
    qsort(ms, repeats, sizeof *ms, bench_train_cmp);
    printf("%-24s %8zu params  %zu steps/epoch  median %.3f ms/epoch  (min %.3f, max %.3f, "
           "%u repeats, mean loss %.3f)\n",
           name, dim, res.steps, ms[repeats / 2], ms[0], ms[repeats - 1], repeats,
           loss / (double)(BT_WARMUP + repeats));
    rc = 0;
out:
    trainer_free(t);
    mem_free(w0);
    mem_free(w);
    mem_free(ms);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned repeats = 101;
    if (argc > 1) {
        char *end = NULL;
        unsigned long v = strtoul(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || v == 0 || v > 100000) {
            fprintf(stderr, "usage: bench_train [repeats 1..100000]\n");
            return 2;
        }
        repeats = (unsigned)v;
    }
    openblas_set_num_threads(1);
    struct dataset *ds = bench_train_data();
    if (ds == NULL) {
        fprintf(stderr, "bench_train: out of memory\n");
        return 1;
    }
    printf("one local epoch: %d samples x %d features, batch %d, plain SGD, one core\n", BT_SAMPLES,
           BT_FEATURES, BT_BATCH);
    struct model_spec lr = { .n_inputs = BT_FEATURES, .n_classes = BT_CLASSES };
    struct model_spec mlp = {
        .n_inputs = BT_FEATURES, .n_classes = BT_CLASSES, .n_hidden = 2, .hidden = { 200, 200 }
    };
    int rc = bench_train_model("logreg 784-10", &lr, ds, repeats);
    if (rc == 0)
        rc = bench_train_model("mlp 784-200-200-10", &mlp, ds, repeats);
    dataset_free(ds);
    if (rc < 0)
        fprintf(stderr, "bench_train: out of memory\n");
    return rc < 0 ? 1 : 0;
}
