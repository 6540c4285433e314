/*
 * bench_nets: wall time of one local epoch of the CNN of McMahan et al. (AISTATS 2017, §3:
 * conv 5x5 32, pool, conv 5x5 64, pool, dense 512, dense 10) on 28x28x1 and 32x32x3 inputs
 * (600 samples in [0, 1) with labels 0..9) and of LEAF's Shakespeare LSTM (Caldas et al.,
 * 2018: embedding 8, two LSTM layers of 256, dense 80; 600 sequences of 80 random symbols
 * of 80): batch 10 (60 steps), plain SGD at lr 0.05, one core (OpenBLAS pinned to one
 * thread). Prints the median, minimum and maximum milliseconds
 * per epoch over the repeats and the arithmetic rate, counting 2 FLOP per multiply-add and
 * 3 forward passes' worth of multiply-adds per training sample (forward, input gradient,
 * weight gradient). bench/bench_models.py runs it beside PyTorch when that is installed.
 *
 * With `eval`, it times instead the evaluation of the 28x28x1 CNN (forward passes only) on
 * 10,000 random images, the size of Fashion-MNIST's test set, as the simulator runs it
 * (sim/run_eval.c): chunks of 500 images shared by the threads, each with its own trainer,
 * on 1 and then 2 threads; wall and CPU milliseconds (CPU of the whole process).
 *
 * Usage: bench_nets [repeats [28|32|lstm|eval]]   (default 5 repeats, the three epochs)
 */
#include <cblas.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "clients/dataset.h"
#include "clients/model.h"
#include "clients/net.h"
#include "clients/trainer.h"
#include "sim/wallclock.h"
#include "fedbits_config.h"
#if FEDBITS_HAVE_OPENMP
#include <omp.h>
#endif
#include "base/banned.h"

enum {
    BN_SAMPLES = 600,
    BN_CLASSES = 10,
    BN_BATCH = 10,
    BN_WARMUP = 1,
    BN_SEQ = 80,
    BN_VOCAB = 80,
    BN_EVAL = 10000,
    BN_EVAL_CHUNK = 500, /* sim/run_eval.c's chunk of test rows */
    BN_EVAL_THREADS = 2
};

static int
bench_nets_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU seconds of the whole process (every thread), user and system. */
static double
bench_nets_cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

/*
 * The test split evaluated in chunks of BN_EVAL_CHUNK rows on `threads` trainers, the sums
 * added in chunk order (sim/run_eval.c). Returns the accuracy; *loss the mean loss.
 */
static double
bench_nets_eval(struct trainer **t, unsigned threads, const float *w,
                const struct dataset_split *test, size_t d, double *loss)
{
    struct eval_result part[BN_EVAL / BN_EVAL_CHUNK];
    long chunks = BN_EVAL / BN_EVAL_CHUNK;
#if FEDBITS_HAVE_OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (long c = 0; c < chunks; c++) {
#if FEDBITS_HAVE_OPENMP
        struct trainer *tr = t[omp_get_thread_num()];
#else
        struct trainer *tr = t[0];
#endif
        size_t at = (size_t)c * BN_EVAL_CHUNK;
        struct dataset_split view = { test->x + at * d, test->y + at, BN_EVAL_CHUNK };
        trainer_evaluate(tr, w, &view, NULL, BN_EVAL_CHUNK, &part[c]);
    }
    (void)threads;
    size_t correct = 0;
    double sum = 0;
    for (long c = 0; c < chunks; c++) {
        correct += part[c].correct;
        sum += part[c].loss * (double)part[c].n;
    }
    *loss = sum / BN_EVAL;
    return (double)correct / BN_EVAL;
}

/*
 * `repeats` evaluations of the BN_EVAL test images on 1 and on BN_EVAL_THREADS threads (t is
 * the first thread's trainer); prints wall and CPU milliseconds. 0, or -1 out of memory.
 */
static int
bench_nets_eval_run(const struct model_spec *spec, const struct dataset *ds, struct trainer *t,
                    const float *w, unsigned repeats, const struct net_plan *plan, size_t hw,
                    size_t c)
{
    struct trainer *tr[BN_EVAL_THREADS] = { t };
    double *wall = mem_alloc(2 * repeats * sizeof *wall), *cpu = wall + repeats;
    int rc = -1;
    for (unsigned i = 1; i < BN_EVAL_THREADS; i++)
        if ((tr[i] = trainer_new(spec, ds, BN_BATCH)) == NULL)
            goto out;
    if (wall == NULL)
        goto out;
    double gflop = 2.0 * net_plan_forward_macs(plan) * BN_EVAL / 1e9, first = -1;
    for (unsigned threads = 1; threads <= BN_EVAL_THREADS; threads++) {
        double acc = 0, loss = 0;
        for (unsigned i = 0; i < BN_WARMUP + repeats; i++) {
            double c0 = bench_nets_cpu();
            int64_t t0 = wallclock_ns();
            acc = bench_nets_eval(tr, threads, w, &ds->test, ds->n_features, &loss);
            int64_t t1 = wallclock_ns();
            if (i >= BN_WARMUP) {
                wall[i - BN_WARMUP] = (double)(t1 - t0) / 1e6;
                cpu[i - BN_WARMUP] = (bench_nets_cpu() - c0) * 1e3;
            }
        }
        /* The figures must not depend on the thread count (chunk sums in chunk order). */
        if (first < 0)
            first = loss;
        else if (loss != first)
            fprintf(stderr, "bench_nets: the loss differs with %u threads\n", threads);
        qsort(wall, repeats, sizeof *wall, bench_nets_cmp);
        qsort(cpu, repeats, sizeof *cpu, bench_nets_cmp);
        printf("fedbits eval cnn-%zux%zux%zu: %d images, %u thread%s: median %.1f ms wall "
               "(min %.1f, max %.1f), %.1f ms CPU (%u repeats, accuracy %.4f, loss %.6f), "
               "%.2f GFLOP, %.1f GFLOP/s of CPU time\n",
               hw, hw, c, BN_EVAL, threads, threads == 1 ? "" : "s", wall[repeats / 2], wall[0],
               wall[repeats - 1], cpu[repeats / 2], repeats, acc, loss, gflop,
               gflop / (cpu[repeats / 2] / 1e3));
    }
    rc = 0;
out:
    for (unsigned i = 1; i < BN_EVAL_THREADS; i++)
        trainer_free(tr[i]);
    mem_free(wall);
    return rc;
}

/* Times `repeats` epochs of the FedAvg CNN on c x hw x hw inputs, or of the Shakespeare LSTM
 * when c is 0, or with eval set `repeats` evaluations of BN_EVAL test images; 0 or -1 (out of
 * memory). */
static int
bench_nets_run(size_t c, size_t hw, unsigned repeats, int eval)
{
    struct model_spec spec = {
        .n_inputs = c * hw * hw,
        .n_classes = BN_CLASSES,
        .n_hidden = 1,
        .hidden = { 512 },
        .arch = MODEL_ARCH_CNN,
        .shape = { c, hw, hw },
        .n_conv = 2,
        .conv = { 32, 64 },
        .kernel = 5,
    };
    if (c == 0)
        spec = (struct model_spec){
            .n_inputs = BN_SEQ,
            .n_classes = BN_VOCAB,
            .n_hidden = 2,
            .hidden = { 256, 256 },
            .arch = MODEL_ARCH_LSTM,
            .embed = 8,
        };
    size_t dim = model_param_count(&spec);
    struct dataset *ds =
        dataset_new(spec.n_inputs, spec.n_classes, 1, BN_SAMPLES, eval ? BN_EVAL : 0);
    float *w0 = mem_alloc(dim * sizeof *w0), *w = mem_alloc(dim * sizeof *w);
    double *ms = mem_alloc(repeats * sizeof *ms);
    struct trainer *t = NULL;
    int rc = -1;
    if (ds == NULL || w0 == NULL || w == NULL || ms == NULL)
        goto out;
    struct rng r;
    rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, RNG_ANY);
    for (size_t i = 0; i < BN_SAMPLES * spec.n_inputs; i++)
        ds->train.x[i] = c == 0 ? (float)rng_below(&r, BN_VOCAB) : (float)rng_uniform(&r);
    for (size_t i = 0; i < BN_SAMPLES; i++) {
        ds->train.y[i] = (uint16_t)rng_below(&r, spec.n_classes);
        ds->client_train.rows[i] = (uint32_t)i;
    }
    ds->client_train.off[1] = BN_SAMPLES;
    for (size_t i = 0; eval && i < BN_EVAL * spec.n_inputs; i++)
        ds->test.x[i] = (float)rng_uniform(&r);
    for (size_t i = 0; eval && i < BN_EVAL; i++)
        ds->test.y[i] = (uint16_t)rng_below(&r, spec.n_classes);
    t = trainer_new(&spec, ds, BN_BATCH);
    if (t == NULL)
        goto out;
    rng_init_stream(&r, 1, RNG_PURPOSE_MODEL_INIT, RNG_ANY, RNG_ANY);
    model_init_params(&spec, w0, &r);
    struct net_plan plan;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (net_plan_build(&plan, &spec, &eb) < 0)
        goto out;
    if (eval) {
        rc = bench_nets_eval_run(&spec, ds, t, w0, repeats, &plan, hw, c);
        goto out;
    }
    struct train_params tp = { .epochs = 1, .batch_size = BN_BATCH, .lr = 0.05f };
    struct train_result res = { 0 };
    for (unsigned i = 0; i < BN_WARMUP + repeats; i++) {
        memcpy(w, w0, dim * sizeof *w);
        rng_init_stream(&r, 1, RNG_PURPOSE_TRAIN, i, 0);
        int64_t t0 = wallclock_ns();
        trainer_train(t, w, NULL, 0, &tp, &r, &res);
        int64_t t1 = wallclock_ns();
        if (i >= BN_WARMUP)
            ms[i - BN_WARMUP] = (double)(t1 - t0) / 1e6;
    }
    qsort(ms, repeats, sizeof *ms, bench_nets_cmp);
    double gflop = 3.0 * 2.0 * net_plan_forward_macs(&plan) * BN_SAMPLES / 1e9;
    char name[32];
    if (c == 0)
        snprintf(name, sizeof name, "lstm-shakespeare");
    else
        snprintf(name, sizeof name, "cnn-%zux%zux%zu", hw, hw, c);
    printf("fedbits %s: params %zu, epoch of %d samples: median %.1f ms, min %.1f ms, "
           "max %.1f ms (%u repeats, loss %.3f), %.2f GFLOP, %.1f GFLOP/s\n",
           name, dim, BN_SAMPLES, ms[repeats / 2], ms[0], ms[repeats - 1], repeats, res.loss, gflop,
           gflop / (ms[repeats / 2] / 1e3));
    rc = 0;
out:
    trainer_free(t);
    dataset_free(ds);
    mem_free(w0);
    mem_free(w);
    mem_free(ms);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned repeats = 5;
    const char *only = argc > 2 ? argv[2] : "";
    if (argc > 1) {
        char *end = NULL;
        unsigned long v = strtoul(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || v == 0 || v > 10000 || argc > 3 ||
            (argc > 2 && strcmp(only, "28") != 0 && strcmp(only, "32") != 0 &&
             strcmp(only, "lstm") != 0 && strcmp(only, "eval") != 0)) {
            fprintf(stderr, "usage: bench_nets [repeats 1..10000 [28|32|lstm|eval]]\n");
            return 2;
        }
        repeats = (unsigned)v;
    }
    openblas_set_num_threads(1);
    if (strcmp(only, "eval") != 0)
        printf("one local epoch: %d samples, batch %d, plain SGD lr 0.05, one core\n", BN_SAMPLES,
               BN_BATCH);
    int rc = 0;
    if (strcmp(only, "eval") == 0)
        rc = bench_nets_run(1, 28, repeats, 1);
    if (only[0] == '\0' || strcmp(only, "28") == 0)
        rc = bench_nets_run(1, 28, repeats, 0);
    if (rc == 0 && (only[0] == '\0' || strcmp(only, "32") == 0))
        rc = bench_nets_run(3, 32, repeats, 0);
    if (rc == 0 && (only[0] == '\0' || strcmp(only, "lstm") == 0))
        rc = bench_nets_run(0, 0, repeats, 0);
    if (rc < 0)
        fprintf(stderr, "bench_nets: out of memory\n");
    return rc < 0 ? 1 : 0;
}
