/* run: the discrete-event loop of one run. See run.h. */
#include "sim/run_int.h"

#include <cblas.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/exact_sum.h"
#include "aggregator/fedavg.h"
#include "aggregator/server_opt.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/simtime.h"
#include "clients/dataset.h"
#include "clients/data_source.h"
#include "clients/trainer.h"
#include "codec/codec.h"
#include "codec/error_feedback.h"
#include "fedbits_config.h"
#include "sim/cluster.h"
#include "sim/event_queue.h"
#include "sim/population.h"
#include "sim/wallclock.h"
#if FEDBITS_HAVE_OPENMP
#include <omp.h>
#endif
#include "base/banned.h"

static const char *const run_phase_names[] = { "before_download", "during_training",
                                               "before_upload", "after_upload" };

bool
run_is_async(const struct run_world *w)
{
    return w->s->protocol.type == PROTOCOL_ASYNC;
}

bool
run_owns(const struct run_world *w, const struct run_job *j)
{
    return j->owner == cluster_rank(w->cl);
}

/* Asked, or this host's cores shared among the ranks running on it. */
static unsigned
run_thread_count(const struct run_world *w, unsigned asked)
{
    if (asked > 0)
        return asked;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned per = n > 0 ? (unsigned)n / cluster_local_size(w->cl) : 1u;
    return per > 0 ? per : 1u;
}

void
run_parallel(struct run_world *w, const size_t *slots, size_t n,
             void (*fn)(struct run_world *, struct run_job *, struct run_thread *))
{
#if FEDBITS_HAVE_OPENMP
    unsigned threads = w->n_threads < n ? w->n_threads : (unsigned)n;
    long cnt = (long)n;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (long i = 0; i < cnt; i++)
        fn(w, &w->jobs[slots[i]], &w->th[omp_get_thread_num()]);
#else
    for (size_t i = 0; i < n; i++)
        fn(w, &w->jobs[slots[i]], &w->th[0]);
#endif
}

int
run_agree(struct run_world *w, int local_rc, struct errbuf *eb)
{
    if (cluster_size(w->cl) <= 1)
        return local_rc;
    uint64_t failed = local_rc < 0;
    struct errbuf inner;
    errbuf_clear(&inner);
    int rc = cluster_sum_u64(w->cl, &failed, 1, &inner);
    if (rc < 0) {
        *eb = inner;
        return rc;
    }
    if (local_rc < 0)
        return local_rc;
    if (failed > 0)
        return errbuf_set(eb, -ERR_ABORTED, "round %llu: another rank failed (see its message)",
                          (unsigned long long)w->round);
    return 0;
}

static void
run_world_release(struct run_world *w)
{
    run_secure_release(w);
    if (w->th != NULL) {
        for (unsigned t = 0; t < w->n_threads; t++) {
            trainer_free(w->th[t].trainer);
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
    mem_free(w->batch);
    mem_free(w->owned);
    mem_free(w->meta);
    exact_sum_free(w->raw);
    mem_free(w->eligible);
    mem_free(w->eval_rows);
    mem_free(w->busy);
    if (w->residual != NULL) {
        for (size_t k = 0; k < w->ds->n_clients; k++)
            mem_free(w->residual[k]);
    }
    mem_free(w->residual);
    docofl_server_free(w->docofl);
    mem_free(w->dc_state);
    mem_free(w->events);
    mem_free(w->w);
    mem_free(w->mean);
    fedavg_free(w->agg);
    server_opt_free(w->opt);
    event_queue_free(w->q);
    population_free(w->pop);
    dataset_free(w->ds);
}

static void
run_docofl_params(const struct scenario *s, struct docofl_wire_params *p)
{
    docofl_wire_params_default(p);
    p->anchor_every = (uint32_t)s->downlink.anchor_every;
    p->anchors = (uint32_t)s->downlink.anchors;
    p->anchor_codec = (enum docofl_wire_anchor_codec)s->downlink.anchor_codec;
    p->anchor_bits = s->downlink.anchor_bits;
    p->correction_bits = s->downlink.correction_bits;
    p->seed = s->seed;
}

static int
run_load_data(struct run_world *w, struct errbuf *eb)
{
    struct data_params dp;
    scenario_data_params(w->s, &dp);
    int rc = data_source_load(&w->ds, &dp, w->s->seed, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "data");
    return 0;
}

static int
run_load_population(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
#define sp (&s->population)
    struct population_params pp = {
        .compute = sp->compute,
        .seconds_per_sample = sp->seconds_per_sample,
        .compute_sigma = sp->compute_sigma,
        .n_tiers = sp->n_tier_shares,
        .compute_trace = sp->compute_trace,
        /* The scenario's network names skip "tiers"; map them onto population_dist. */
        .network = sp->network == SCENARIO_NETWORK_TRACE       ? POPULATION_TRACE
                   : sp->network == SCENARIO_NETWORK_LOGNORMAL ? POPULATION_LOGNORMAL
                                                               : POPULATION_CONSTANT,
        .downlink_mbps = sp->downlink_mbps,
        .uplink_mbps = sp->uplink_mbps,
        .network_sigma = sp->network_sigma,
        .latency_ms = sp->latency_ms,
        .jitter = sp->jitter,
        .network_trace = sp->network_trace,
        .availability = sp->availability,
        .availability_p = sp->availability_p,
        .diurnal_amplitude = sp->diurnal_amplitude,
        .diurnal_period_s = sp->diurnal_period_s,
        .availability_trace = sp->availability_trace,
        .dropout_p = sp->dropout_probability,
        .dropout_sigma = sp->dropout_propensity_sigma,
    };
    for (size_t i = 0; i < pp.n_tiers && i < POPULATION_MAX_TIERS; i++) {
        pp.tier_share[i] = sp->tier_shares[i];
        pp.tier_seconds[i] = sp->tier_seconds[i];
    }
#undef sp
    int rc = population_new(&w->pop, &pp, w->ds->n_clients, s->seed, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "population");
    return 0;
}

static int
run_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * output.eval_samples: the same test rows at every evaluation, drawn without replacement by
 * the stream (seed, RNG_PURPOSE_EVAL_SAMPLE, RNG_ANY, RNG_ANY) and kept in file order.
 * -1 when out of memory.
 */
static int
run_eval_sample(struct run_world *w)
{
    size_t n = w->ds->test.n, m = (size_t)w->s->output.eval_samples;
    w->n_eval = n;
    if (m == 0 || m >= n)
        return 0;
    w->eval_rows = mem_alloc(n * sizeof *w->eval_rows);
    if (w->eval_rows == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        w->eval_rows[i] = (uint32_t)i;
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_EVAL_SAMPLE, RNG_ANY, RNG_ANY);
    rng_shuffle_u32(&r, w->eval_rows, n);
    qsort(w->eval_rows, m, sizeof *w->eval_rows, run_cmp_u32);
    w->n_eval = m;
    return 0;
}

static int
run_world_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    int rc = run_load_data(w, eb);
    if (rc == 0)
        rc = run_load_population(w, eb);
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
    else
        w->n_jobs = (size_t)ceil(s->protocol.over_selection * (double)s->train.clients_per_round);
    w->n_threads = run_thread_count(w, w->o->threads);
    if (w->n_threads > w->n_jobs)
        w->n_threads = (unsigned)w->n_jobs;

    size_t n_clients = w->ds->n_clients;
    w->w = mem_alloc(w->dim * sizeof *w->w);
    w->mean = mem_alloc(w->dim * sizeof *w->mean);
    if (s->output.nmse) {
        w->raw = exact_sum_new(w->dim + 1);
        if (w->raw == NULL)
            goto nomem;
    }
    w->eligible = mem_alloc(n_clients * sizeof *w->eligible);
    w->busy = mem_calloc(n_clients, sizeof *w->busy);
    if (run_eval_sample(w) < 0)
        goto nomem;
    if (s->uplink.error_feedback) {
        w->residual = mem_calloc(n_clients, sizeof *w->residual);
        if (w->residual == NULL)
            goto nomem;
    }
    w->jobs = mem_calloc(w->n_jobs, sizeof *w->jobs);
    w->batch = mem_alloc(w->n_jobs * sizeof *w->batch);
    w->owned = mem_alloc(w->n_jobs * sizeof *w->owned);
    w->meta = mem_alloc(RUN_META_WORDS * w->n_jobs * sizeof *w->meta);
    w->th = mem_calloc(w->n_threads, sizeof *w->th);
    w->agg = fedavg_new(&s->uplink.codec, w->dim);
    struct server_opt_params op;
    scenario_server_opt_params(s, &op);
    w->opt = server_opt_new(&op, w->dim);
    w->q = event_queue_new();
    if (w->w == NULL || w->mean == NULL || w->eligible == NULL || w->busy == NULL ||
        w->jobs == NULL || w->batch == NULL || w->owned == NULL || w->meta == NULL ||
        w->th == NULL || w->agg == NULL || w->opt == NULL || w->q == NULL)
        goto nomem;
    for (unsigned t = 0; t < w->n_threads; t++) {
        struct run_thread *th = &w->th[t];
        th->trainer = trainer_new(&w->spec, w->ds, (size_t)s->train.batch_size);
        th->up = codec_new(&s->uplink.codec, w->dim);
        th->down = codec_new(&s->downlink.codec, w->dim);
        if (s->downlink.docofl) {
            struct docofl_wire_params dp;
            run_docofl_params(s, &dp);
            th->dc = docofl_client_new(&dp, w->dim);
            if (th->dc == NULL)
                goto nomem;
        }
        if (th->trainer == NULL || th->up == NULL || th->down == NULL)
            goto nomem;
        if (!run_is_async(w)) {
            th->agg = fedavg_new(&s->uplink.codec, w->dim);
            if (th->agg == NULL)
                goto nomem;
        }
        if (s->output.nmse) {
            th->raw = exact_sum_new(w->dim + 1);
            if (th->raw == NULL)
                goto nomem;
        }
        if (s->uplink.error_feedback) {
            th->ef = error_feedback_new(th->up);
            if (th->ef == NULL)
                goto nomem;
        }
        th->down_msg = mem_alloc(codec_max_bytes(th->down));
        th->received = mem_alloc(w->dim * sizeof *th->received);
        if (th->down_msg == NULL || th->received == NULL)
            goto nomem;
    }
    size_t up_max = codec_max_bytes(w->th[0].up);
    for (size_t i = 0; i < w->n_jobs; i++) {
        w->jobs[i].w = mem_alloc(w->dim * sizeof(float));
        w->jobs[i].msg = mem_alloc(up_max);
        if (w->jobs[i].w == NULL || w->jobs[i].msg == NULL)
            goto nomem;
    }
    rc = run_secure_init(w, eb);
    if (rc < 0)
        return rc;
    if (s->downlink.docofl) {
        struct docofl_wire_params dp;
        run_docofl_params(s, &dp);
        rc = docofl_wire_params_check(&dp, w->dim, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "downlink");
        w->docofl = docofl_server_new(&dp, w->dim, n_clients);
        w->dc_state = mem_alloc(n_clients * sizeof *w->dc_state);
        if (w->docofl == NULL || w->dc_state == NULL)
            goto nomem;
        for (size_t k = 0; k < n_clients; k++)
            docofl_client_state_init(&w->dc_state[k]);
    }
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_MODEL_INIT, RNG_ANY, RNG_ANY);
    model_init_params(&w->spec, w->w, &r);
    crypto_generichash_init(&w->fp, NULL, 0, 32);
    return 0;
nomem:
    return errbuf_set(eb, -ERR_NOMEM,
                      "out of memory setting up the run (%zu parameters, %zu concurrent clients)",
                      w->dim, w->n_jobs);
}

/* Events carry the job's slot and number in `arg`: gen * pool + slot. */
int
run_push(struct run_world *w, int64_t time, uint32_t type, uint64_t client, uint64_t key,
         uint64_t arg, struct errbuf *eb)
{
    struct event ev = {
        .time = time,
        .key = key,
        .type = type,
        .round = w->round,
        .client = client,
        .arg = arg,
    };
    if (event_queue_push(w->q, &ev) < 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory queueing events");
    return 0;
}

int
run_push_job(struct run_world *w, int64_t time, uint32_t type, size_t slot, struct errbuf *eb)
{
    const struct run_job *j = &w->jobs[slot];
    return run_push(w, time, type, j->client, j->client, j->gen * w->n_jobs + slot, eb);
}

/*
 * Everything one started client computes, on the rank it was dealt to; runs in parallel across
 * the batch. Sets the job's message sizes, training result and status (run_flush() shares
 * them with the other ranks).
 */
static void
run_compute_job(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    const struct scenario *s = w->s;
    struct codec_link link = { .seed = s->seed, .round = j->stream, .client = j->client };
    size_t k = (size_t)j->client;
    if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
        return;

    if (w->docofl != NULL) {
        /* DoCoFL: the client rebuilds the model from its anchor and this round's correction;
         * only the correction is on the critical path (the anchor was fetched ahead). */
        j->rc =
            docofl_client_model(th->dc, th->received, &w->dc_state[k], j->anchor_msg, j->anchor_len,
                                j->corr_msg, j->corr_len, (uint32_t)w->round, &j->eb);
        if (j->rc < 0)
            return;
        j->down_bits = j->corr_bits + j->anchor_bits;
    } else {
        /* Downlink: the server encodes the model for this client; the client decodes it. */
        size_t down_len = 0;
        j->rc = codec_encode(th->down, th->down_msg, codec_max_bytes(th->down), &down_len, w->w,
                             &link, &j->eb);
        if (j->rc == 0)
            j->rc = codec_decode(th->down, th->received, th->down_msg, down_len, &link, &j->eb);
        if (j->rc < 0)
            return;
        j->down_bits = (uint64_t)down_len * 8;
    }
    if (j->dropout == DROPOUT_DURING_TRAINING)
        return;

    /* Local training from the received model; the update is local minus received. */
    memcpy(j->w, th->received, w->dim * sizeof *j->w);
    struct train_params tp = {
        .epochs = (unsigned)s->train.local_epochs,
        .steps = (size_t)s->train.local_steps,
        .batch_size = (size_t)s->train.batch_size,
        .lr = (float)s->train.lr,
        .momentum = (float)s->train.momentum,
        .l2 = (float)s->train.weight_decay,
        .prox_mu = (float)s->train.prox_mu,
    };
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_TRAIN, j->stream, j->client);
    trainer_train(th->trainer, j->w, th->received, k, &tp, &r, &j->tr);
    for (size_t i = 0; i < w->dim; i++)
        j->w[i] -= th->received[i];
    if (j->dropout == DROPOUT_BEFORE_UPLOAD)
        return;

    if (th->ef != NULL)
        j->rc = error_feedback_encode(th->ef, w->residual[k], j->msg, codec_max_bytes(th->up),
                                      &j->msg_len, j->w, &link, &j->eb);
    else
        j->rc =
            codec_encode(th->up, j->msg, codec_max_bytes(th->up), &j->msg_len, j->w, &link, &j->eb);
    if (j->rc < 0)
        return;
    if (s->aggregation.secure != SECURE_NONE)
        run_secure_encode_job(w, j, th);
}

/* The job's phase durations, from its message sizes and the population (on every rank). */
static void
run_time_job(struct run_world *w, struct run_job *j)
{
    const struct scenario *s = w->s;
    size_t k = (size_t)j->client;
    j->t_down = j->t_train = j->t_up = 0;
    j->exp_total = 0;
    if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
        return;
    /* Downlink bits the round waits for: with DoCoFL only the correction (the anchor was
     * fetched ahead, off the critical path). */
    uint64_t critical_bits = w->docofl != NULL ? j->corr_bits : j->down_bits;
    j->t_down = population_transfer_us(w->pop, k, j->stream, true, critical_bits);
    double work = s->train.local_steps > 0 ? (double)(s->train.local_steps * s->train.batch_size)
                                           : (double)(j->samples * s->train.local_epochs);
    j->t_train = population_compute_us(w->pop, k, work);
    j->exp_total =
        simtime_add(population_expected_transfer_us(w->pop, k, true, critical_bits), j->t_train);
    if (j->msg_len == 0)
        return; /* dropped before uploading */
    uint64_t up_bits = (uint64_t)j->msg_len * 8;
    j->t_up = population_transfer_us(w->pop, k, j->stream, false, up_bits);
    j->exp_total =
        simtime_add(j->exp_total, population_expected_transfer_us(w->pop, k, false, up_bits));
}

/*
 * Shares what the owners computed for the batch (RUN_META_WORDS words per job: downlink
 * bits; uplink bytes with the failure flag in the top bit; the training loss's bits) with
 * every rank, so that all of them schedule the same events. Non-owners contribute zeros.
 */
static int
run_share_batch(struct run_world *w, struct errbuf *eb)
{
    size_t n = w->n_batch;
    memset(w->meta, 0, RUN_META_WORDS * n * sizeof *w->meta);
    for (size_t i = 0; i < n; i++) {
        const struct run_job *j = &w->jobs[w->batch[i]];
        if (!run_owns(w, j))
            continue;
        uint64_t *m = &w->meta[RUN_META_WORDS * i];
        m[0] = j->down_bits;
        m[1] = (uint64_t)j->msg_len | (j->rc < 0 ? RUN_META_FAILED : 0);
        memcpy(&m[2], &j->tr.loss, sizeof m[2]);
    }
    int rc = cluster_sum_u64(w->cl, w->meta, RUN_META_WORDS * n, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct run_job *j = &w->jobs[w->batch[i]];
        if (run_owns(w, j))
            continue;
        const uint64_t *m = &w->meta[RUN_META_WORDS * i];
        j->down_bits = m[0];
        j->msg_len = (size_t)(m[1] & ~RUN_META_FAILED);
        memcpy(&j->tr.loss, &m[2], sizeof j->tr.loss);
        if (m[1] & RUN_META_FAILED)
            j->rc =
                errbuf_set(&j->eb, -ERR_ABORTED, "failed on rank %u (see its message)", j->owner);
    }
    return 0;
}

/*
 * Starts a job for client at `now` in slot; it is computed at the next flush. Fails only
 * when the client's error-feedback residual cannot be allocated.
 */
static int
run_start_job(struct run_world *w, size_t slot, uint64_t client, uint64_t stream, int64_t now,
              struct errbuf *eb)
{
    /* Clients that keep state between rounds (error-feedback residual, DoCoFL anchor) stay on
     * one rank; the others are dealt out in turn, so every rank gets the same share. */
    unsigned owner = w->residual != NULL || w->docofl != NULL
                         ? cluster_owner(w->cl, client)
                         : (unsigned)(w->dealt++ % cluster_size(w->cl));
    if (w->residual != NULL && w->residual[client] == NULL && owner == cluster_rank(w->cl)) {
        w->residual[client] = mem_calloc(w->dim, sizeof(float));
        if (w->residual[client] == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory for client %llu's residual",
                              (unsigned long long)client);
    }
    const struct scenario *s = w->s;
    struct run_job *j = &w->jobs[slot];
    j->active = true;
    j->owner = owner;
    j->gen = w->next_gen++;
    j->client = client;
    j->round = w->round;
    j->stream = stream;
    j->version = w->version;
    j->started_at = now;
    struct rng d;
    rng_init_stream(&d, s->seed, RNG_PURPOSE_DROPOUT, stream, client);
    double u = rng_uniform(&d);
    j->dropout = RUN_NO_DROPOUT;
    if (u < population_dropout_p(w->pop, (size_t)client)) {
        j->dropout = s->population.dropout_phase;
        if (j->dropout == DROPOUT_ANY)
            j->dropout = (int)rng_below(&d, DROPOUT_ANY);
    }
    j->drop_frac = rng_uniform(&d);
    w->busy[client] = true;
    w->batch[w->n_batch++] = slot;
    w->rec.selected++;
    return 0;
}

/*
 * Computes every job started at this instant (in parallel, each on its owner's rank), shares
 * their sizes between ranks, then queues their events.
 */
static int
run_flush(struct run_world *w, int64_t now, struct errbuf *eb)
{
    if (w->n_batch == 0)
        return 0;
    size_t n_owned = 0;
    for (size_t i = 0; i < w->n_batch; i++) {
        struct run_job *j = &w->jobs[w->batch[i]];
        size_t n;
        dataset_client_train(w->ds, (size_t)j->client, &n);
        j->samples = n;
        j->rc = 0;
        j->msg_len = 0;
        j->down_bits = 0;
        j->agg_weight = 0;
        j->tr = (struct train_result){ 0 };
        errbuf_clear(&j->eb);
        /* Ring inputs stay defined where nobody fills them (dropouts, other ranks' clients). */
        if (j->ring != NULL)
            memset(j->ring, 0, w->sa_m * sizeof *j->ring);
        if (run_owns(w, j))
            w->owned[n_owned++] = w->batch[i];
    }
    run_parallel(w, w->owned, n_owned, run_compute_job);
    if (cluster_size(w->cl) > 1) {
        int rc = run_share_batch(w, eb);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < w->n_batch; i++) {
        size_t slot = w->batch[i];
        struct run_job *j = &w->jobs[slot];
        if (j->rc < 0) {
            *eb = j->eb;
            return errbuf_prefix(eb, "round %llu, client %llu", (unsigned long long)w->round,
                                 (unsigned long long)j->client);
        }
        run_time_job(w, j);
        if (w->s->aggregation.secure != SECURE_NONE)
            continue; /* the protocol drives the round (run_secure.c) */
        int rc;
        if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
            rc = run_push_job(w, now, RUN_EV_DROPOUT, slot, eb);
        else
            rc = run_push_job(w, simtime_add(now, j->t_down), RUN_EV_DOWNLINK_DONE, slot, eb);
        if (rc < 0)
            return rc;
    }
    w->n_batch = 0;
    return 0;
}

int
run_note_client(struct run_world *w, const struct run_job *j, int outcome, int64_t now,
                uint64_t staleness, struct errbuf *eb)
{
    if (!w->s->output.client_events)
        return 0;
    if (w->n_events == w->cap_events) {
        size_t cap = w->cap_events == 0 ? 64 : w->cap_events * 2;
        struct store_client_event *e = mem_realloc(w->events, cap * sizeof *e);
        if (e == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory recording client events");
        w->events = e;
        w->cap_events = cap;
    }
    bool arrived = j->msg_len > 0 && outcome != STORE_TIMED_OUT &&
                   (j->dropout == RUN_NO_DROPOUT || j->dropout == DROPOUT_AFTER_UPLOAD);
    bool received = j->dropout != DROPOUT_BEFORE_DOWNLOAD &&
                    (outcome != STORE_TIMED_OUT || now >= simtime_add(j->started_at, j->t_down));
    w->events[w->n_events++] = (struct store_client_event){
        .client = j->client,
        .outcome = outcome,
        .dropout_phase = outcome == STORE_DROPPED ? run_phase_names[j->dropout] : NULL,
        .started_us = j->started_at,
        .finished_us = outcome == STORE_TIMED_OUT ? -1 : now,
        .samples = j->samples,
        .downlink_bits = received ? j->down_bits : 0,
        .uplink_bits = arrived ? (uint64_t)j->msg_len * 8 : 0,
        .staleness = staleness,
    };
    return 0;
}

static void
run_raw_job(struct run_world *w, struct run_job *j, struct run_thread *th)
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
static int
run_nmse(struct run_world *w, const bool *accepted, double *nmse, struct errbuf *eb)
{
    size_t n = 0;
    for (size_t k = 0; k < w->n_jobs; k++) {
        struct run_job *j = &w->jobs[k];
        if (accepted[k] && j->samples > 0 && run_owns(w, j))
            w->owned[n++] = k;
    }
    for (unsigned t = 0; t < w->n_threads; t++)
        exact_sum_clear(w->th[t].raw);
    run_parallel(w, w->owned, n, run_raw_job);
    exact_sum_clear(w->raw);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct run_job *j = &w->jobs[w->owned[i]];
        if (j->rc < 0) {
            *eb = j->eb;
            rc = errbuf_prefix(eb, "round %llu, client %llu's update", (unsigned long long)w->round,
                               (unsigned long long)j->client);
        }
    }
    for (unsigned t = 0; t < w->n_threads; t++)
        exact_sum_merge(w->raw, w->th[t].raw);
    rc = run_agree(w, rc, eb);
    if (rc == 0)
        rc = cluster_sum_i128(w->cl, exact_sum_words(w->raw), w->dim + 1, eb);
    if (rc < 0)
        return rc;
    double total = exact_sum_get(w->raw, w->dim);
    double err = 0, norm = 0;
    for (size_t i = 0; total > 0 && i < w->dim; i++) {
        double e = exact_sum_get(w->raw, i) / total;
        double d = (double)w->mean[i] - e;
        err += d * d;
        norm += e * e;
    }
    *nmse = norm > 0 ? err / norm : 0.0;
    return 0;
}

static void
run_add_job(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    struct codec_link link = { .seed = w->s->seed, .round = j->stream, .client = j->client };
    j->rc = fedavg_add(th->agg, j->msg, j->msg_len, j->agg_weight, &link, &j->eb);
}

/*
 * The plain round's sum: sync rounds decode their accepted updates now, in parallel on
 * their owners (async ones were added as they arrived); then the ranks reduce the exact sum.
 */
static int
run_aggregate(struct run_world *w, struct errbuf *eb)
{
    int rc = 0;
    if (!run_is_async(w)) {
        size_t n = 0;
        for (size_t k = 0; k < w->n_jobs; k++) {
            struct run_job *j = &w->jobs[k];
            if (j->agg_weight > 0 && j->round == w->round && run_owns(w, j))
                w->owned[n++] = k;
        }
        for (unsigned t = 0; t < w->n_threads; t++)
            fedavg_begin(w->th[t].agg);
        run_parallel(w, w->owned, n, run_add_job);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct run_job *j = &w->jobs[w->owned[i]];
            if (j->rc < 0) {
                *eb = j->eb;
                rc = errbuf_prefix(eb, "round %llu, update of client %llu",
                                   (unsigned long long)w->round, (unsigned long long)j->client);
            }
        }
        for (unsigned t = 0; t < w->n_threads; t++)
            fedavg_merge(w->agg, w->th[t].agg);
    } else if (w->agg_rc < 0) {
        *eb = w->agg_eb;
        rc = w->agg_rc;
    }
    rc = run_agree(w, rc, eb);
    if (rc < 0)
        return rc;
    struct exact_sum *sum = fedavg_sum(w->agg);
    return cluster_sum_i128(w->cl, exact_sum_words(sum), exact_sum_len(sum), eb);
}

static int
run_cmp_double(const void *a, const void *b)
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
run_client_eval(struct run_world *w, struct store_round *rec, struct errbuf *eb)
{
    size_t n_clients = w->ds->n_clients;
    size_t m = (size_t)w->s->output.client_eval;
    if (m > n_clients)
        m = n_clients;
    double *acc = mem_alloc(m * sizeof *acc);
    if (acc == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory evaluating clients");
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_EVAL_SAMPLE, w->round, RNG_ANY);
    for (size_t i = 0; i < n_clients; i++)
        w->eligible[i] = (uint32_t)i;
    size_t got = 0;
    double total = 0;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)rng_below(&r, n_clients - i);
        uint32_t t = w->eligible[i];
        w->eligible[i] = w->eligible[j];
        w->eligible[j] = t;
        size_t k = w->eligible[i], n;
        const uint32_t *rows = dataset_client_test(w->ds, k, &n);
        const struct dataset_split *split = &w->ds->test;
        if (n == 0) {
            rows = dataset_client_train(w->ds, k, &n);
            split = &w->ds->train;
        }
        if (n == 0)
            continue;
        struct eval_result er;
        trainer_evaluate(w->th[0].trainer, w->w, split, rows, n, &er);
        acc[got] = (double)er.correct / (double)er.n;
        total += acc[got];
        got++;
    }
    if (got > 0) {
        qsort(acc, got, sizeof *acc, run_cmp_double);
        rec->has_client_eval = true;
        rec->client_acc_mean = total / (double)got;
        /* The 10th percentile, nearest rank. */
        size_t at = (size_t)ceil(0.1 * (double)got);
        rec->client_acc_p10 = acc[at == 0 ? 0 : at - 1];
    }
    mem_free(acc);
    return 0;
}

/* Applies the aggregate (if enough updates), evaluates, stores the round. */
int
run_close(struct run_world *w, int64_t now, int64_t next_at, const bool *accepted,
          struct run_summary *sum, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct store_round *rec = &w->rec;
    int rc = run_flush(w, now, eb); /* jobs started this instant see the old model */
    if (rc < 0)
        return rc;
    size_t need = run_is_async(w) ? 1 : (size_t)s->protocol.min_clients;
    struct codec_link link = { .seed = s->seed, .round = w->round, .client = RUN_NO_CLIENT };
    rec->round = w->round;
    bool secure = w->s->aggregation.secure != SECURE_NONE;
    bool enough = w->received >= need;
    if (!secure && enough) {
        rc = run_aggregate(w, eb);
        if (rc < 0)
            return rc;
    }
    rec->failed = !enough || (secure ? !w->secure_mean_ready : !(fedavg_weight(w->agg) > 0));
    if (!rec->failed) {
        if (!secure) {
            rc = fedavg_finish(w->agg, w->mean, &link, eb);
            if (rc < 0)
                return rc;
        }
        if (s->output.nmse && accepted != NULL) {
            rec->has_nmse = true;
            rc = run_nmse(w, accepted, &rec->nmse, eb);
            if (rc < 0)
                return rc;
        }
        server_opt_apply(w->opt, w->w, w->mean);
        w->version++;
    }
    rec->sim_time_us = now;
    rec->train_loss = rec->participants > 0 ? w->train_loss_sum / (double)rec->participants : 0;
    rec->staleness_mean = rec->participants > 0 ? w->staleness_sum / (double)rec->participants : 0;
    if (w->root && (w->round % s->output.eval_every == 0 || w->round == s->train.rounds)) {
        struct eval_result er;
        trainer_evaluate(w->th[0].trainer, w->w, &w->ds->test, w->eval_rows, w->n_eval, &er);
        rec->evaluated = true;
        rec->accuracy = er.n > 0 ? (double)er.correct / (double)er.n : 0.0;
        rec->loss = er.loss;
        sum->final_accuracy = rec->accuracy;
        sum->final_loss = rec->loss;
        if (s->output.client_eval > 0) {
            rc = run_client_eval(w, rec, eb);
            if (rc < 0)
                return rc;
        }
    }
    if (w->st != NULL) {
        rc = store_write_round_clients(w->st, w->run_id, rec, w->events, w->n_events, eb);
        if (rc < 0)
            return rc;
    }
    if (s->output.checkpoint_every > 0 && w->round % s->output.checkpoint_every == 0 &&
        w->round < s->train.rounds)
        w->checkpoint_due = true;
    if (cluster_size(w->cl) > 1) {
        /* Ranks stop together, at a round's end: a signal reaches them at different events. */
        uint64_t stop = w->o->stop != NULL && *w->o->stop;
        rc = cluster_sum_u64(w->cl, &stop, 1, eb);
        if (rc < 0)
            return rc;
        w->stop_agreed = stop > 0;
    }
    sum->rounds = w->round;
    sum->participants += rec->participants;
    sum->uplink_bits += rec->uplink_bits;
    sum->downlink_bits += rec->downlink_bits;
    sum->sim_time_us = now;
    if (w->o->on_round != NULL)
        w->o->on_round(w->o->ctx, s, rec);

    /* Open the next round or period. */
    w->n_events = 0;
    w->received = 0;
    w->train_loss_sum = 0;
    w->staleness_sum = 0;
    fedavg_begin(w->agg);
    w->agg_rc = 0;
    if (w->round >= s->train.rounds) {
        w->done = true;
        return 0;
    }
    w->round++;
    w->rec = (struct store_round){ .round = w->round };
    if (!run_is_async(w))
        return run_push(w, next_at, RUN_EV_ROUND_START, RUN_NO_CLIENT, RUN_NO_CLIENT, 0, eb);
    return 0;
}

/* Sync: selects the round's cohort among the available clients and starts their jobs. */
static int
run_sync_round_start(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    size_t n_clients = w->ds->n_clients, n_elig = 0;
    for (size_t k = 0; k < n_clients; k++) {
        if (population_available(w->pop, k, w->round, now))
            w->eligible[n_elig++] = (uint32_t)k;
    }
    w->closed = false;
    w->received = 0;
    w->rec = (struct store_round){ .round = w->round };
    if (n_elig < s->protocol.min_clients || n_elig == 0) {
        /* Too few clients online: the round fails; try again after retry_s. */
        w->closed = true;
        int64_t retry = simtime_add(now, simtime_from_s(s->protocol.retry_s));
        return run_close(w, now, retry, NULL, sum, eb);
    }
    size_t m = w->n_jobs < n_elig ? w->n_jobs : n_elig;
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_SELECT, w->round, RNG_ANY);
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)rng_below(&r, n_elig - i);
        uint32_t t = w->eligible[i];
        w->eligible[i] = w->eligible[j];
        w->eligible[j] = t;
    }
    for (size_t i = 0; i < w->n_jobs; i++)
        w->jobs[i].active = false;
    for (size_t i = 0; i < m; i++) {
        int rc = run_start_job(w, i, w->eligible[i], w->round, now, eb);
        if (rc < 0)
            return rc;
    }
    w->pending = m;
    if (w->docofl != NULL) {
        /* The server refreshes its deposit and prepares each client's anchor and correction. */
        int rc = docofl_server_begin_round(w->docofl, (uint32_t)w->round, w->w, eb);
        for (size_t i = 0; rc == 0 && i < m; i++) {
            struct run_job *j = &w->jobs[i];
            j->anchor_bits = j->corr_bits = 0;
            if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
                continue;
            struct docofl_server_msgs msgs;
            rc = docofl_server_prepare(w->docofl, j->client, &msgs, eb);
            j->anchor_msg = msgs.anchor;
            j->anchor_len = msgs.anchor_len;
            j->corr_msg = msgs.correction;
            j->corr_len = msgs.correction_len;
            j->anchor_bits = msgs.anchor_bits;
            j->corr_bits = msgs.correction_bits;
        }
        if (rc < 0)
            return errbuf_prefix(eb, "round %llu, docofl", (unsigned long long)w->round);
    }
    int rc = run_flush(w, now, eb);
    if (rc < 0)
        return rc;

    int64_t deadline = -1;
    if (s->protocol.deadline_s > 0) {
        deadline = simtime_add(now, simtime_from_s(s->protocol.deadline_s));
    } else if (s->protocol.deadline_quantile > 0) {
        /* The quantile of the cohort's expected completion times (no jitter, no dropouts). */
        int64_t *t = mem_alloc(m * sizeof *t);
        if (t == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory computing the deadline");
        for (size_t i = 0; i < m; i++)
            t[i] = w->jobs[i].exp_total;
        for (size_t i = 1; i < m; i++) { /* insertion sort: m is a cohort, not a population */
            int64_t v = t[i];
            size_t k = i;
            for (; k > 0 && t[k - 1] > v; k--)
                t[k] = t[k - 1];
            t[k] = v;
        }
        size_t at = (size_t)ceil(s->protocol.deadline_quantile * (double)m);
        deadline = simtime_add(now, t[at == 0 ? 0 : at - 1]);
        mem_free(t);
    }
    if (deadline >= 0)
        return run_push(w, deadline, RUN_EV_DEADLINE, RUN_NO_CLIENT, RUN_DEADLINE_KEY, 0, eb);
    if (s->aggregation.secure != SECURE_NONE)
        return run_secure_round_start(w, now, m, sum, eb);
    return 0;
}

/* Sync: closes the open round, timing out the jobs still running. */
static int
run_sync_close(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    bool *acc = mem_calloc(w->n_jobs, sizeof *acc);
    if (acc == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory closing the round");
    w->closed = true;
    for (size_t i = 0; i < w->n_jobs; i++) {
        struct run_job *j = &w->jobs[i];
        acc[i] = !j->active && j->round == w->round && j->msg_len > 0 &&
                 (j->dropout == RUN_NO_DROPOUT || j->dropout == DROPOUT_AFTER_UPLOAD);
        if (j->active && j->round == w->round) {
            w->rec.timed_out++;
            int rc = run_note_client(w, j, STORE_TIMED_OUT, now, 0, eb);
            if (rc < 0) {
                mem_free(acc);
                return rc;
            }
            j->active = false;
            w->busy[j->client] = false;
        }
    }
    int rc = run_close(w, now, now, acc, sum, eb);
    mem_free(acc);
    return rc;
}

/* Async: draws a client that is available and idle; false when none is. */
static bool
run_async_pick(struct run_world *w, int64_t now, uint64_t *client)
{
    size_t n_elig = 0;
    uint64_t draw = w->selections++;
    for (size_t k = 0; k < w->ds->n_clients; k++) {
        if (!w->busy[k] && population_available(w->pop, k, draw, now))
            w->eligible[n_elig++] = (uint32_t)k;
    }
    if (n_elig == 0)
        return false;
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_SELECT, draw, RNG_ANY);
    *client = w->eligible[rng_below(&r, n_elig)];
    return true;
}

/* Async: fills every free slot with a new job (or retries later when nobody is online). */
static int
run_async_fill(struct run_world *w, int64_t now, struct errbuf *eb)
{
    bool retry = false;
    for (size_t slot = 0; slot < w->n_jobs; slot++) {
        if (w->jobs[slot].active)
            continue;
        uint64_t client;
        if (!run_async_pick(w, now, &client)) {
            retry = true;
            break;
        }
        int rc = run_start_job(w, slot, client, w->next_gen, now, eb);
        if (rc < 0)
            return rc;
    }
    if (retry) {
        int64_t at = simtime_add(now, simtime_from_s(w->s->protocol.retry_s));
        return run_push(w, at, RUN_EV_ROUND_START, RUN_NO_CLIENT, RUN_NO_CLIENT, 0, eb);
    }
    return 0;
}

static double
run_staleness_weight(const struct scenario *s, uint64_t staleness)
{
    if (s->protocol.staleness == STALENESS_CONSTANT)
        return 1.0;
    return 1.0 / sqrt(1.0 + (double)staleness);
}

/* A job ended (uploaded or dropped): account it and, in async runs, restart its slot. */
static int
run_job_end(struct run_world *w, size_t slot, int64_t now, struct run_summary *sum,
            struct errbuf *eb)
{
    struct run_job *j = &w->jobs[slot];
    j->active = false;
    w->busy[j->client] = false;
    if (run_is_async(w)) {
        if (w->received >= w->s->protocol.buffer_size) {
            int rc = run_close(w, now, now, NULL, sum, eb);
            if (rc < 0 || w->done)
                return rc;
        }
        return run_async_fill(w, now, eb);
    }
    w->pending--;
    if (w->received >= w->s->train.clients_per_round || w->pending == 0)
        return run_sync_close(w, now, sum, eb);
    return 0;
}

static int
run_upload(struct run_world *w, size_t slot, int64_t now, struct run_summary *sum,
           struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct run_job *j = &w->jobs[slot];
    struct codec_link link = { .seed = s->seed, .round = j->stream, .client = j->client };
    uint64_t staleness = w->version - j->version;
    w->rec.uplink_bits += (uint64_t)j->msg_len * 8;
    w->rec.uplink_payload_bits += (uint64_t)j->msg_len * 8;
    if (j->dropout == DROPOUT_AFTER_UPLOAD)
        w->rec.dropped++;
    int outcome = j->dropout == DROPOUT_AFTER_UPLOAD ? STORE_DROPPED : STORE_COMPLETED;
    if (s->protocol.max_staleness > 0 && staleness > s->protocol.max_staleness) {
        w->rec.discarded++;
        outcome = STORE_DISCARDED;
    } else {
        double weight = (double)j->samples * run_staleness_weight(s, staleness);
        if (j->samples > 0 && !run_is_async(w)) {
            j->agg_weight = weight; /* decoded at the round's close, in parallel */
        } else if (j->samples > 0 && run_owns(w, j) && w->agg_rc == 0) {
            /* Async: the slot is reused at once; the owner adds it now (an error waits for the
             * close, which all ranks reach together). */
            w->agg_rc = fedavg_add(w->agg, j->msg, j->msg_len, weight, &link, &w->agg_eb);
            if (w->agg_rc < 0)
                errbuf_prefix(&w->agg_eb, "round %llu, update of client %llu",
                              (unsigned long long)w->round, (unsigned long long)j->client);
        }
        w->received++;
        w->rec.participants++;
        w->train_loss_sum += j->tr.loss;
        w->staleness_sum += (double)staleness;
        w->rec.stale += staleness > 0;
        if (staleness > w->rec.staleness_max)
            w->rec.staleness_max = staleness;
    }
    int rc = run_note_client(w, j, outcome, now, staleness, eb);
    if (rc < 0)
        return rc;
    return run_job_end(w, slot, now, sum, eb);
}

static void
run_fingerprint(struct run_world *w, const struct event *ev)
{
    unsigned char b[20];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)((uint64_t)ev->time >> (8 * i));
        b[12 + i] = (unsigned char)(ev->client >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        b[8 + i] = (unsigned char)(ev->type >> (8 * i));
    crypto_generichash_update(&w->fp, b, sizeof b);
}

static int
run_handle(struct run_world *w, const struct event *ev, struct run_summary *sum, struct errbuf *eb)
{
    if (ev->type == RUN_EV_ROUND_START)
        return run_is_async(w) ? run_async_fill(w, ev->time, eb)
                               : run_sync_round_start(w, ev->time, sum, eb);
    if (ev->type == RUN_EV_SECAGG_REPLY)
        return run_secure_reply(w, ev, sum, eb);
    if (ev->type == RUN_EV_DEADLINE) {
        if (ev->round != w->round || w->closed)
            return 0;
        return run_sync_close(w, ev->time, sum, eb);
    }
    size_t slot = (size_t)(ev->arg % w->n_jobs);
    uint64_t gen = ev->arg / w->n_jobs;
    struct run_job *j = &w->jobs[slot];
    if (!j->active || j->gen != gen)
        return 0; /* the job was timed out when its round closed */
    switch (ev->type) {
    case RUN_EV_DOWNLINK_DONE:
        w->rec.downlink_bits += j->down_bits;
        w->rec.downlink_anchor_bits += j->anchor_bits;
        w->rec.downlink_correction_bits += j->corr_bits;
        if (j->dropout == DROPOUT_DURING_TRAINING) {
            int64_t at = simtime_from_s(simtime_to_s(j->t_train) * j->drop_frac);
            return run_push_job(w, simtime_add(ev->time, at), RUN_EV_DROPOUT, slot, eb);
        }
        return run_push_job(w, simtime_add(ev->time, j->t_train), RUN_EV_TRAIN_DONE, slot, eb);
    case RUN_EV_TRAIN_DONE:
        if (j->dropout == DROPOUT_BEFORE_UPLOAD)
            return run_push_job(w, ev->time, RUN_EV_DROPOUT, slot, eb);
        return run_push_job(w, simtime_add(ev->time, j->t_up), RUN_EV_UPLINK_DONE, slot, eb);
    case RUN_EV_UPLINK_DONE:
        return run_upload(w, slot, ev->time, sum, eb);
    case RUN_EV_DROPOUT: {
        w->rec.dropped++;
        int rc = run_note_client(w, j, STORE_DROPPED, ev->time, 0, eb);
        if (rc < 0)
            return rc;
        return run_job_end(w, slot, ev->time, sum, eb);
    }
    default:
        return errbuf_set(eb, -ERR_INTERNAL, "unknown event type %u", ev->type);
    }
}

int
run_execute(const struct scenario *s, struct store *st, int64_t run_id, const struct run_options *o,
            struct run_summary *sum, struct errbuf *eb)
{
    *sum = (struct run_summary){ 0 };
    struct run_world w = {
        .s = s,
        .st = st,
        .run_id = run_id,
        .o = o,
        .round = 1,
        .cl = o->cluster,
        .root = cluster_rank(o->cluster) == 0,
    };
    /* Parallelism is across clients; each BLAS call stays on its calling thread. */
    openblas_set_num_threads(1);
    uint64_t bytes0 = cluster_bytes(w.cl);
    int rc = 0;
    if (cluster_size(w.cl) > 1 && (s->output.checkpoint_every > 0 || o->resume != NULL))
        rc = errbuf_set(eb, -ERR_UNSUPPORTED,
                        "output.checkpoint_every: checkpoints and resume need a single process "
                        "(this run has %u MPI ranks)",
                        cluster_size(w.cl));
    if (rc == 0) {
        /* Every rank loads the data itself: agree before the first collective. */
        rc = run_agree(&w, run_world_init(&w, eb), eb);
    }
    if (rc < 0)
        goto out;
    sum->model_dim = w.dim;
    sum->threads = w.n_threads;
    sum->ranks = cluster_size(w.cl);
    if (st != NULL) {
        rc = store_set_model_params(st, run_id, w.dim, eb);
        if (rc < 0)
            goto out;
    }
    w.rec.round = 1;
    fedavg_begin(w.agg);
    if (o->resume != NULL) {
        rc = run_checkpoint_load(&w, sum, o->resume, o->resume_len, eb);
        sum->model_dim = w.dim;
        sum->threads = w.n_threads; /* results do not depend on it; report this process's */
    } else {
        rc = run_push(&w, 0, RUN_EV_ROUND_START, RUN_NO_CLIENT, RUN_NO_CLIENT, 0, eb);
    }
    struct event ev;
    while (rc == 0 && !w.done) {
        if (w.checkpoint_due && w.n_batch == 0 && w.n_events == 0) {
            w.checkpoint_due = false;
            unsigned char *state = NULL;
            size_t len = 0;
            char now[32];
            wallclock_utc_iso8601(now, sizeof now);
            rc = run_checkpoint_save(&w, sum, &state, &len, eb);
            if (rc == 0)
                rc = store_save_checkpoint(st, run_id, sum->rounds, state, len, now, eb);
            mem_free(state);
            continue;
        }
        /* Jobs started at the current instant are computed before time moves on. */
        const struct event *next = event_queue_peek(w.q);
        if (w.n_batch > 0 && (next == NULL || next->time > w.now)) {
            rc = run_flush(&w, w.now, eb);
            continue;
        }
        if (!event_queue_pop(w.q, &ev))
            break;
        if (cluster_size(w.cl) > 1 ? w.stop_agreed : o->stop != NULL && *o->stop) {
            rc = errbuf_set(eb, -ERR_INTERRUPTED, "interrupted after %llu rounds",
                            (unsigned long long)sum->rounds);
            break;
        }
        run_fingerprint(&w, &ev);
        sum->events++;
        w.now = ev.time;
        rc = run_handle(&w, &ev, sum, eb);
    }
    if (rc == 0 && !w.done)
        rc = errbuf_set(eb, -ERR_INTERNAL, "the event queue ran dry after %llu rounds",
                        (unsigned long long)sum->rounds);
    sum->rank_bytes = cluster_bytes(w.cl) - bytes0;
    unsigned char digest[32];
    crypto_generichash_final(&w.fp, digest, sizeof digest);
    sodium_bin2hex(sum->fingerprint, sizeof sum->fingerprint, digest, sizeof digest);
out:
    run_world_release(&w);
    return rc;
}
