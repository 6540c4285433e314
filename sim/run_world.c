/*
 * run_world: builds the world a scenario describes (data, population, model, per-thread
 * codecs and trainers, the job pool, the aggregator and optimizer) and frees it. Everything
 * here is fixed for the run once built; the mutable parts start zeroed (run_int.h).
 */
#include "sim/run_int.h"

#include <math.h>
#include <sodium.h>
#include <unistd.h>

#include "aggregator/exact_sum.h"
#include "aggregator/fedavg.h"
#include "aggregator/server_opt.h"
#include "base/mem.h"
#include "base/rng.h"
#include "clients/data_source.h"
#include "clients/dataset.h"
#include "clients/trainer.h"
#include "codec/codec.h"
#include "codec/error_feedback.h"
#include "sim/cluster.h"
#include "sim/event_queue.h"
#include "sim/population.h"
#include "sim/sampling.h"
#include "base/banned.h"

/* Asked, or this host's cores shared among the ranks running on it. */
static unsigned
run_world_thread_count(const struct run_world *w, unsigned asked)
{
    if (asked > 0)
        return asked;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned per = n > 0 ? (unsigned)n / cluster_local_size(w->cl) : 1u;
    return per > 0 ? per : 1u;
}

/* How rounds select their clients (sim/cohort.h). */
static enum cohort_mode
run_world_mode(const struct run_world *w)
{
    /* Poisson sampling flips a coin for every eligible client: it needs the full scan. */
    return w->s->train.sampling == SAMPLING_POISSON ? COHORT_SCAN
                                                    : (enum cohort_mode)w->s->protocol.selection;
}

void
run_world_release(struct run_world *w)
{
    run_secure_release(w);
    run_thc_release(w);
    run_ddp_release(w);
    if (w->th != NULL) {
        for (unsigned t = 0; t < w->n_threads; t++) {
            trainer_free(w->th[t].trainer);
            data_source_maker_free(w->th[t].maker);
            error_feedback_free(w->th[t].ef);
            docofl_client_free(w->th[t].dc);
            codec_free(w->th[t].up);
            codec_free(w->th[t].down);
            mem_free(w->th[t].down_msg);
            mem_free(w->th[t].received);
            fedavg_free(w->th[t].agg);
            exact_sum_free(w->th[t].raw);
        }
    }
    if (w->jobs != NULL) {
        for (size_t i = 0; i < w->n_jobs; i++) {
            mem_free(w->jobs[i].w);
            mem_free(w->jobs[i].msg);
        }
    }
    mem_free(w->th);
    mem_free(w->jobs);
    mem_free(w->pool.batch);
    mem_free(w->owned);
    mem_free(w->meta);
    exact_sum_free(w->model.raw);
    mem_free(w->eligible);
    run_eval_release(w);
    mem_free(w->chosen);
    mem_free(w->phase);
    mem_free(w->pool.busy);
    if (w->carry.residual != NULL) {
        for (size_t k = 0; k < w->ds->n_clients; k++)
            mem_free(w->carry.residual[k]);
    }
    mem_free(w->carry.residual);
    docofl_server_free(w->carry.docofl);
    docofl_client_states_free(w->carry.dc_states);
    mem_free(w->open.events);
    mem_free(w->model.w);
    mem_free(w->model.mean);
    fedavg_free(w->model.agg);
    server_opt_free(w->model.opt);
    event_queue_free(w->loop.q);
    population_free(w->pop);
    dataset_free(w->ds);
}

static void
run_world_docofl_params(const struct scenario *s, struct docofl_wire_params *p)
{
    *p = s->downlink.docofl_wire;
    p->seed = s->seed;
}

static int
run_world_load_data(struct run_world *w, struct errbuf *eb)
{
    struct data_params dp;
    scenario_data_params(w->s, &dp);
    /* Under MPI each rank makes the held-out rows of its share of the clients (those it
     * would own, cluster_owner()), and the ranks merge them: nobody makes all of them. */
    bool share = dp.on_demand && cluster_size(w->cl) > 1;
    if (share) {
        dp.test_ranks = cluster_size(w->cl);
        dp.test_rank = cluster_rank(w->cl);
    }
    int rc = data_source_load(&w->ds, &dp, w->s->seed, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "data");
    const struct dataset_split *t = &w->ds->test;
    if (share) {
        rc = cluster_or_bytes(w->cl, t->x, t->n * w->ds->n_features * sizeof *t->x, eb);
        if (rc == 0)
            rc = cluster_or_bytes(w->cl, t->y, t->n * sizeof *t->y, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "data");
    }
    return 0;
}

static int
run_world_load_population(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    int rc = population_new(&w->pop, &s->population, w->ds->n_clients, s->seed, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "population");
    return 0;
}

/* Each thread's workspaces (trainer, codecs, partial sums); -ERR_NOMEM when one fails. */
static int
run_world_threads(struct run_world *w)
{
    const struct scenario *s = w->s;
    for (unsigned t = 0; t < w->n_threads; t++) {
        struct run_thread *th = &w->th[t];
        th->trainer = trainer_new(&w->spec, w->ds, (size_t)s->train.batch_size);
        if (w->ds->train_on_demand) {
            struct data_params dp;
            scenario_data_params(s, &dp);
            th->maker = data_source_maker_new(&dp, s->seed, w->ds);
            if (th->maker == NULL)
                return -ERR_NOMEM;
        }
        th->up = codec_new(&s->uplink.codec, w->dim);
        th->down = codec_new(&s->downlink.codec, w->dim);
        if (s->downlink.docofl) {
            struct docofl_wire_params dp;
            run_world_docofl_params(s, &dp);
            th->dc = docofl_client_new(&dp, w->dim);
            if (th->dc == NULL)
                return -ERR_NOMEM;
        }
        if (th->trainer == NULL || th->up == NULL || th->down == NULL)
            return -ERR_NOMEM;
        if (!run_is_async(w)) {
            th->agg = fedavg_new(&s->uplink.codec, w->dim);
            if (th->agg == NULL)
                return -ERR_NOMEM;
        }
        if (s->output.nmse) {
            th->raw = exact_sum_new(w->dim + 1);
            if (th->raw == NULL)
                return -ERR_NOMEM;
        }
        if (s->uplink.error_feedback) {
            th->ef = error_feedback_new(th->up);
            if (th->ef == NULL)
                return -ERR_NOMEM;
        }
        th->down_msg = mem_alloc(codec_max_bytes(th->down));
        th->received = mem_alloc(w->dim * sizeof *th->received);
        if (th->down_msg == NULL || th->received == NULL)
            return -ERR_NOMEM;
    }
    return 0;
}

int
run_world_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    int rc = run_world_load_data(w, eb);
    if (rc == 0)
        rc = run_world_load_population(w, eb);
    if (rc < 0)
        return rc;
    /* The model's shape comes from the data as loaded (file datasets carry their own). */
    scenario_model_spec(s, w->ds->n_features, w->ds->n_classes, &w->spec);
    rc = model_spec_check(&w->spec, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "model");
    w->dim = model_param_count(&w->spec);
    if (codec_params_check(&s->uplink.codec, w->dim, eb) < 0)
        return errbuf_prefix(eb, "uplink");
    if (codec_params_check(&s->downlink.codec, w->dim, eb) < 0)
        return errbuf_prefix(eb, "downlink");
    if (run_is_async(w))
        w->n_jobs = (size_t)s->protocol.concurrency;
    else if (s->train.sampling == SAMPLING_POISSON)
        w->n_jobs = sampling_poisson_capacity(w->ds->n_clients, run_sync_poisson_rate(w));
    else
        w->n_jobs = (size_t)ceil(s->protocol.over_selection * (double)s->train.clients_per_round);
    w->n_threads = run_world_thread_count(w, w->o->threads);
    if (w->n_threads > w->n_jobs)
        w->n_threads = (unsigned)w->n_jobs;

    size_t n_clients = w->ds->n_clients;
    w->model.w = mem_alloc(w->dim * sizeof *w->model.w);
    w->model.mean = mem_alloc(w->dim * sizeof *w->model.mean);
    if (s->output.nmse) {
        w->model.raw = exact_sum_new(w->dim + 1);
        if (w->model.raw == NULL)
            goto nomem;
    }
    /* A scan lists every eligible client; a draw at most the `want` it looks for (the pool's
     * size for a round, one for a FedBuff slot). */
    size_t n_eligible = run_world_mode(w) == COHORT_SCAN ? n_clients : w->n_jobs;
    w->eligible = mem_alloc(n_eligible * sizeof *w->eligible);
    if (s->protocol.selection == COHORT_DRAW) {
        w->chosen = mem_calloc(n_clients, sizeof *w->chosen);
        if (w->chosen == NULL)
            goto nomem;
    }
    if (run_world_mode(w) == COHORT_SCAN && s->population.availability == POPULATION_DIURNAL) {
        w->phase = mem_alloc(n_clients * sizeof *w->phase);
        if (w->phase == NULL)
            goto nomem;
        for (size_t k = 0; k < n_clients; k++)
            w->phase[k] = population_phase(w->pop, k);
    }
    w->pool.busy = mem_calloc(n_clients, sizeof *w->pool.busy);
    if (s->uplink.error_feedback) {
        w->carry.residual = mem_calloc(n_clients, sizeof *w->carry.residual);
        if (w->carry.residual == NULL)
            goto nomem;
    }
    w->jobs = mem_calloc(w->n_jobs, sizeof *w->jobs);
    w->pool.batch = mem_alloc(w->n_jobs * sizeof *w->pool.batch);
    w->owned = mem_alloc(w->n_jobs * sizeof *w->owned);
    w->meta = mem_alloc(RUN_META_WORDS * w->n_jobs * sizeof *w->meta);
    w->th = mem_calloc(w->n_threads, sizeof *w->th);
    w->model.agg = fedavg_new(&s->uplink.codec, w->dim);
    struct server_opt_params op;
    scenario_server_opt_params(s, &op);
    w->model.opt = server_opt_new(&op, w->dim);
    w->loop.q = event_queue_new();
    if (w->model.w == NULL || w->model.mean == NULL || w->eligible == NULL ||
        w->pool.busy == NULL || w->jobs == NULL || w->pool.batch == NULL || w->owned == NULL ||
        w->meta == NULL || w->th == NULL || w->model.agg == NULL || w->model.opt == NULL ||
        w->loop.q == NULL)
        goto nomem;
    if (run_world_threads(w) < 0)
        goto nomem;
    if (run_eval_init(w) < 0)
        goto nomem;
    size_t up_max = codec_max_bytes(w->th[0].up);
    for (size_t i = 0; i < w->n_jobs; i++) {
        w->jobs[i].w = mem_alloc(w->dim * sizeof(float));
        w->jobs[i].msg = mem_alloc(up_max);
        if (w->jobs[i].w == NULL || w->jobs[i].msg == NULL)
            goto nomem;
    }
    rc = run_thc_init(w, eb);
    if (rc == 0)
        rc = run_ddp_init(w, eb); /* before run_secure_init: it sets the ring's length */
    if (rc == 0)
        rc = run_secure_init(w, eb);
    if (rc < 0)
        return rc;
    rc = run_privacy_init(w, eb);
    if (rc < 0)
        return rc;
    if (s->downlink.docofl) {
        struct docofl_wire_params dp;
        run_world_docofl_params(s, &dp);
        rc = docofl_wire_params_check(&dp, w->dim, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "downlink");
        w->carry.docofl = docofl_server_new(&dp, w->dim, n_clients);
        /* Clients' anchor ids: only for those that take part (run_job_start()). */
        w->carry.dc_states = docofl_client_states_new();
        if (w->carry.docofl == NULL || w->carry.dc_states == NULL)
            goto nomem;
    }
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_MODEL_INIT, RNG_ANY, RNG_ANY);
    model_init_params(&w->spec, w->model.w, &r);
    crypto_generichash_init(&w->loop.fp, NULL, 0, 32);
    return 0;
nomem:
    return errbuf_set(eb, -ERR_NOMEM,
                      "out of memory setting up the run (%zu parameters, %zu concurrent clients)",
                      w->dim, w->n_jobs);
}

size_t
run_world_select(struct run_world *w, const bool *busy, uint64_t draw, int64_t now, size_t want,
                 size_t *n_eligible)
{
    struct cohort c = {
        .pop = w->pop,
        .n_clients = w->ds->n_clients,
        .busy = busy,
        .out = w->eligible,
        .mark = w->chosen,
        .phase = w->phase,
    };
    return cohort_select(&c, run_world_mode(w), w->s->seed, draw, now, want, n_eligible);
}

int
run_world_weight_norm(struct run_world *w, double *norm, struct errbuf *eb)
{
    if (w->weight_norm == 0) {
        size_t ranks = cluster_size(w->cl);
        double best = (double)dataset_max_client_train_every(w->ds, cluster_rank(w->cl), ranks);
        int rc = cluster_max_f64(w->cl, &best, 1, eb);
        if (rc < 0)
            return rc;
        w->weight_norm = best > 0 ? best : 1.0;
    }
    *norm = w->weight_norm;
    return 0;
}
