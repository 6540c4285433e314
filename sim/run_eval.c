/*
 * run_eval: what a closed round is measured by: the global model's test accuracy and loss,
 * the fairness view over a sample of clients, and the NMSE of the decoded aggregate against
 * the exact mean of the uncompressed updates. Reads the world; writes only the round record.
 */
#include "sim/run_int.h"

#include <math.h>
#include <stdlib.h>

#include "fedbits_config.h"
#if FEDBITS_HAVE_OPENMP
#include <omp.h>
#endif

#include "aggregator/exact_sum.h"
#include "base/mem.h"
#include "base/rng.h"
#include "clients/dataset.h"
#include "clients/trainer.h"
#include "sim/cluster.h"
#include "sim/cohort.h"
#include "base/banned.h"

static void
run_eval_raw_job(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    j->rc = exact_sum_add_f32(th->raw, 0, j->w, w->dim, (double)j->samples, &j->eb);
    if (j->rc == 0)
        j->rc = exact_sum_add_f64(th->raw, w->dim, (double)j->samples, &j->eb);
}

/*
 * NMSE of the decoded aggregate against the exact weighted mean of the same updates (the
 * uncompressed vectors the clients encoded). Sync runs only: the contributors are the jobs
 * of the round whose update was accepted, summed exactly by their owners and reduced.
 */
int
run_eval_nmse(struct run_world *w, const bool *accepted, double *nmse, struct errbuf *eb)
{
    size_t n = 0;
    for (size_t k = 0; k < w->n_jobs; k++) {
        struct run_job *j = &w->jobs[k];
        if (accepted[k] && j->samples > 0 && run_owns(w, j))
            w->owned[n++] = k;
    }
    for (unsigned t = 0; t < w->n_threads; t++)
        exact_sum_clear(w->th[t].raw);
    run_parallel(w, w->owned, n, run_eval_raw_job);
    exact_sum_clear(w->model.raw);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct run_job *j = &w->jobs[w->owned[i]];
        if (j->rc < 0) {
            *eb = j->eb;
            rc = errbuf_prefix(eb, "round %llu, client %llu's update",
                               (unsigned long long)w->open.round, (unsigned long long)j->client);
        }
    }
    for (unsigned t = 0; t < w->n_threads; t++)
        exact_sum_merge(w->model.raw, w->th[t].raw);
    rc = run_agree(w, rc, eb);
    if (rc == 0)
        rc = cluster_sum_i128(w->cl, exact_sum_words(w->model.raw), w->dim + 1, eb);
    if (rc < 0)
        return rc;
    double total = exact_sum_get(w->model.raw, w->dim);
    double err = 0, norm = 0;
    for (size_t i = 0; total > 0 && i < w->dim; i++) {
        double e = exact_sum_get(w->model.raw, i) / total;
        double d = (double)w->model.mean[i] - e;
        err += d * d;
        norm += e * e;
    }
    *nmse = norm > 0 ? err / norm : 0.0;
    return 0;
}

static int
run_eval_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * The fairness view: the global model's accuracy on the local data of a sample of clients
 * (their local test rows, or their training rows when they hold no test rows), drawn from
 * (seed, RNG_PURPOSE_EVAL_SAMPLE, round); the mean and the 10th percentile go to the round.
 */
static int
run_eval_clients(struct run_world *w, struct store_round *rec, struct errbuf *eb)
{
    size_t n_clients = w->ds->n_clients;
    size_t m = (size_t)w->s->output.client_eval;
    if (m > n_clients)
        m = n_clients;
    /* The sample, a partial shuffle of the clients kept in O(m) (sim/cohort.h). */
    size_t slots = cohort_sample_slots(m);
    double *acc = mem_alloc(m * sizeof *acc + slots * sizeof(uint64_t) + m * sizeof(uint32_t));
    if (acc == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory evaluating clients");
    uint64_t *table = (uint64_t *)(acc + m);
    uint32_t *sample = (uint32_t *)(table + slots);
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_EVAL_SAMPLE, w->open.round, RNG_ANY);
    cohort_sample(&r, n_clients, m, sample, table);
    size_t got = 0;
    double total = 0;
    for (size_t i = 0; i < m; i++) {
        size_t k = sample[i], n;
        const uint32_t *rows = dataset_client_test(w->ds, k, &n);
        const struct dataset_split *split = &w->ds->test;
        if (n == 0 && w->th[0].maker != NULL) {
            /* Data on demand: the client's own test rows, made now (outside the held-out
             * set, data.test_clients, they are not stored). */
            split = data_source_maker_test(w->th[0].maker, k);
            if (split == NULL) {
                mem_free(acc);
                return errbuf_set(eb, -ERR_NOMEM, "out of memory making client %zu's data", k);
            }
            rows = NULL;
            n = split->n;
        } else if (n == 0) {
            rows = dataset_client_train(w->ds, k, &n);
            split = &w->ds->train;
        }
        if (n == 0)
            continue;
        struct eval_result er;
        trainer_evaluate(w->th[0].trainer, w->model.w, split, rows, n, &er);
        acc[got] = (double)er.correct / (double)er.n;
        total += acc[got];
        got++;
    }
    if (got > 0) {
        qsort(acc, got, sizeof *acc, run_eval_cmp);
        rec->has_client_eval = true;
        rec->client_acc_mean = total / (double)got;
        /* The 10th percentile, nearest rank. */
        size_t at = (size_t)ceil(0.1 * (double)got);
        rec->client_acc_p10 = acc[at == 0 ? 0 : at - 1];
    }
    mem_free(acc);
    return 0;
}

static int
run_eval_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * output.eval_samples: the same test rows at every evaluation, drawn without replacement by
 * the stream (seed, RNG_PURPOSE_EVAL_SAMPLE, RNG_ANY, RNG_ANY) and kept in file order.
 */
int
run_eval_init(struct run_world *w)
{
    size_t n = w->ds->test.n, m = (size_t)w->s->output.eval_samples;
    w->eval.rows = NULL;
    w->eval.n = n;
    if (m == 0 || m >= n)
        return 0;
    w->eval.rows = mem_alloc(n * sizeof *w->eval.rows);
    if (w->eval.rows == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        w->eval.rows[i] = (uint32_t)i;
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_EVAL_SAMPLE, RNG_ANY, RNG_ANY);
    rng_shuffle_u32(&r, w->eval.rows, n);
    qsort(w->eval.rows, m, sizeof *w->eval.rows, run_eval_cmp_u32);
    w->eval.n = m;
    return 0;
}

void
run_eval_release(struct run_world *w)
{
    mem_free(w->eval.rows);
    w->eval.rows = NULL;
}

/*
 * Test rows per chunk when a network model (CNN, LSTM, GRU) is evaluated: the chunks run on
 * the run's threads, each with its own trainer, and their sums are added in chunk order, so
 * the figures depend on the chunk size and not on --threads.
 */
#define RUN_EVAL_CHUNK 500

/*
 * The global model on the evaluated test rows. A network model's forward passes are split
 * into chunks over the threads; the dense models keep one pass (their sums in row order).
 */
static int
run_eval_test(struct run_world *w, struct eval_result *er, struct errbuf *eb)
{
    size_t n = w->eval.n;
    const struct dataset_split *test = &w->ds->test;
    if (w->spec.arch == MODEL_ARCH_DENSE || n <= RUN_EVAL_CHUNK) {
        trainer_evaluate(w->th[0].trainer, w->model.w, test, w->eval.rows, n, er);
        return 0;
    }
    size_t chunks = (n + RUN_EVAL_CHUNK - 1) / RUN_EVAL_CHUNK;
    struct eval_result *part = mem_alloc(chunks * sizeof *part);
    if (part == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory evaluating the model");
    long cnt = (long)chunks;
#if FEDBITS_HAVE_OPENMP
    unsigned threads = w->n_threads < chunks ? w->n_threads : (unsigned)chunks;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
    for (long c = 0; c < cnt; c++) {
#if FEDBITS_HAVE_OPENMP
        struct trainer *t = w->th[omp_get_thread_num()].trainer;
#else
        struct trainer *t = w->th[0].trainer;
#endif
        size_t at = (size_t)c * RUN_EVAL_CHUNK;
        size_t take = n - at < RUN_EVAL_CHUNK ? n - at : RUN_EVAL_CHUNK;
        if (w->eval.rows != NULL) {
            trainer_evaluate(t, w->model.w, test, w->eval.rows + at, take, &part[c]);
        } else {
            struct dataset_split view = { test->x + at * w->ds->n_features, test->y + at, take };
            trainer_evaluate(t, w->model.w, &view, NULL, take, &part[c]);
        }
    }
    double loss = 0;
    size_t correct = 0;
    for (size_t c = 0; c < chunks; c++) {
        correct += part[c].correct;
        loss += part[c].loss * (double)part[c].n;
    }
    mem_free(part);
    *er = (struct eval_result){ .n = n, .correct = correct, .loss = loss / (double)n };
    return 0;
}

int
run_eval_round(struct run_world *w, struct store_round *rec, struct run_summary *sum,
               struct errbuf *eb)
{
    struct eval_result er;
    int rc = run_eval_test(w, &er, eb);
    if (rc < 0)
        return rc;
    rec->evaluated = true;
    rec->accuracy = er.n > 0 ? (double)er.correct / (double)er.n : 0.0;
    rec->loss = er.loss;
    sum->final_accuracy = rec->accuracy;
    sum->final_loss = rec->loss;
    if (w->s->output.client_eval > 0)
        return run_eval_clients(w, rec, eb);
    return 0;
}
