/*
 * run_job: a client's participation from its start to its events. A job is started (its
 * client, streams and dropout fate drawn), then computed with the others started at the same
 * instant (download, local training, upload encoding; in parallel, on the rank that owns it),
 * timed from its message sizes, and its events are queued. Owns struct run_pool.
 */
#include "sim/run_int.h"

#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/simtime.h"
#include "clients/dataset.h"
#include "clients/trainer.h"
#include "codec/codec.h"
#include "codec/error_feedback.h"
#include "sim/cluster.h"
#include "sim/population.h"
#include "base/banned.h"

static const char *const run_phase_names[] = { "before_download", "during_training",
                                               "before_upload", "after_upload" };

/*
 * Everything one started client computes, on the rank it was dealt to; runs in parallel across
 * the batch. Sets the job's message sizes, training result and status (run_job_flush() shares
 * them with the other ranks).
 */
static void
run_job_compute(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    const struct scenario *s = w->s;
    struct codec_link link = { .seed = s->seed, .round = j->stream, .client = j->client };
    size_t k = (size_t)j->client;
    if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
        return;

    if (w->carry.docofl != NULL) {
        /* DoCoFL: the client rebuilds the model from its anchor and this round's correction;
         * only the correction is on the critical path (the anchor was fetched ahead). */
        struct docofl_client_state *st = docofl_client_states_get(w->carry.dc_states, k);
        j->rc = st == NULL ? errbuf_set(&j->eb, -ERR_INTERNAL, "no DoCoFL state for the client")
                           : docofl_client_model(th->dc, th->received, st, j->anchor_msg,
                                                 j->anchor_len, j->corr_msg, j->corr_len,
                                                 (uint32_t)w->open.round, &j->eb);
        if (j->rc < 0)
            return;
        j->down_bits = j->corr_bits + j->anchor_bits;
    } else {
        /* Downlink: the server encodes the model for this client; the client decodes it. */
        size_t down_len = 0;
        j->rc = codec_encode(th->down, th->down_msg, codec_max_bytes(th->down), &down_len,
                             w->model.w, &link, &j->eb);
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
    if (th->maker != NULL) {
        /* Data on demand: the client's rows live while its job computes. */
        const struct dataset_split *rows = data_source_maker_train(th->maker, k);
        if (rows == NULL || trainer_reserve(th->trainer, rows->n) < 0) {
            j->rc = errbuf_set(&j->eb, -ERR_NOMEM, "out of memory making client %zu's data", k);
            return;
        }
        trainer_train_rows(th->trainer, j->w, th->received, rows, NULL, rows->n, &tp, &r, &j->tr);
    } else {
        trainer_train(th->trainer, j->w, th->received, k, &tp, &r, &j->tr);
    }
    for (size_t i = 0; i < w->dim; i++)
        j->w[i] -= th->received[i];
    if (w->dp.on)
        j->within_clip = run_privacy_clip(w, j->w);
    if (j->dropout == DROPOUT_BEFORE_UPLOAD)
        return;

    if (w->thc.on) {
        /* THC's integers need the round's common norm: encoded at the close (run_thc.c); the
         * message is THC's wire size (the norm report and b bits per rotated coordinate). */
        j->msg_len = codec_max_bytes(th->up);
        return;
    }
    if (th->ef != NULL)
        j->rc = error_feedback_encode(th->ef, w->carry.residual[k], j->msg, codec_max_bytes(th->up),
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
run_job_time(struct run_world *w, struct run_job *j)
{
    const struct scenario *s = w->s;
    size_t k = (size_t)j->client;
    j->t_down = j->t_train = j->t_up = 0;
    j->exp_total = 0;
    if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
        return;
    /* Downlink bits the round waits for: with DoCoFL only the correction (the anchor was
     * fetched ahead, off the critical path). */
    uint64_t critical_bits = w->carry.docofl != NULL ? j->corr_bits : j->down_bits;
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
 * bits; uplink bytes with the failure flag in the top bit and the within-clip flag below it;
 * the training loss's bits) with every rank, so that all of them schedule the same events.
 * Non-owners contribute zeros.
 */
static int
run_job_share(struct run_world *w, struct errbuf *eb)
{
    size_t n = w->pool.n_batch;
    memset(w->meta, 0, RUN_META_WORDS * n * sizeof *w->meta);
    for (size_t i = 0; i < n; i++) {
        const struct run_job *j = &w->jobs[w->pool.batch[i]];
        if (!run_owns(w, j))
            continue;
        uint64_t *m = &w->meta[RUN_META_WORDS * i];
        m[0] = j->down_bits;
        m[1] = (uint64_t)j->msg_len | (j->rc < 0 ? RUN_META_FAILED : 0) |
               (j->within_clip ? RUN_META_WITHIN : 0);
        memcpy(&m[2], &j->tr.loss, sizeof m[2]);
    }
    int rc = cluster_sum_u64(w->cl, w->meta, RUN_META_WORDS * n, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct run_job *j = &w->jobs[w->pool.batch[i]];
        if (run_owns(w, j))
            continue;
        const uint64_t *m = &w->meta[RUN_META_WORDS * i];
        j->down_bits = m[0];
        j->msg_len = (size_t)(m[1] & ~(RUN_META_FAILED | RUN_META_WITHIN));
        j->within_clip = (m[1] & RUN_META_WITHIN) != 0;
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
int
run_job_start(struct run_world *w, size_t slot, uint64_t client, uint64_t stream, int64_t now,
              struct errbuf *eb)
{
    /* Clients that keep state between rounds (error-feedback residual, DoCoFL anchor) stay on
     * one rank; the others are dealt out in turn, so every rank gets the same share. */
    unsigned owner = w->carry.residual != NULL || w->carry.docofl != NULL
                         ? cluster_owner(w->cl, client)
                         : (unsigned)(w->pool.dealt++ % cluster_size(w->cl));
    if (w->carry.residual != NULL && w->carry.residual[client] == NULL &&
        owner == cluster_rank(w->cl)) {
        w->carry.residual[client] = mem_calloc(w->dim, sizeof(float));
        if (w->carry.residual[client] == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory for client %llu's residual",
                              (unsigned long long)client);
    }
    if (w->carry.dc_states != NULL && owner == cluster_rank(w->cl) &&
        docofl_client_states_reserve(w->carry.dc_states, client) < 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory for client %llu's DoCoFL state",
                          (unsigned long long)client);
    const struct scenario *s = w->s;
    struct run_job *j = &w->jobs[slot];
    j->active = true;
    j->owner = owner;
    j->gen = w->pool.next_gen++;
    j->client = client;
    j->round = w->open.round;
    j->stream = stream;
    j->version = w->model.version;
    j->started_at = now;
    struct rng d;
    rng_init_stream(&d, s->seed, RNG_PURPOSE_DROPOUT, stream, client);
    double u = rng_uniform(&d);
    j->dropout = RUN_NO_DROPOUT;
    if (u < population_dropout_p(w->pop, (size_t)client)) {
        j->dropout = s->dropout_phase;
        if (j->dropout == DROPOUT_ANY)
            j->dropout = (int)rng_below(&d, DROPOUT_ANY);
    }
    j->drop_frac = rng_uniform(&d);
    w->pool.busy[client] = true;
    w->pool.batch[w->pool.n_batch++] = slot;
    w->open.rec.selected++;
    return 0;
}

/*
 * Computes every job started at this instant (in parallel, each on its owner's rank), shares
 * their sizes between ranks, then queues their events.
 */
int
run_job_flush(struct run_world *w, int64_t now, struct errbuf *eb)
{
    if (w->pool.n_batch == 0)
        return 0;
    size_t n_owned = 0;
    for (size_t i = 0; i < w->pool.n_batch; i++) {
        struct run_job *j = &w->jobs[w->pool.batch[i]];
        size_t n;
        dataset_client_train(w->ds, (size_t)j->client, &n);
        j->samples = n;
        j->rc = 0;
        j->msg_len = 0;
        j->down_bits = 0;
        j->agg_weight = 0;
        j->within_clip = false;
        j->tr = (struct train_result){ 0 };
        errbuf_clear(&j->eb);
        /* Ring inputs stay defined where nobody fills them (dropouts, other ranks' clients). */
        if (j->ring != NULL)
            memset(j->ring, 0, w->sec.sa_m * sizeof *j->ring);
        if (run_owns(w, j))
            w->owned[n_owned++] = w->pool.batch[i];
    }
    run_parallel(w, w->owned, n_owned, run_job_compute);
    if (cluster_size(w->cl) > 1) {
        int rc = run_job_share(w, eb);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < w->pool.n_batch; i++) {
        size_t slot = w->pool.batch[i];
        struct run_job *j = &w->jobs[slot];
        if (j->rc < 0) {
            *eb = j->eb;
            return errbuf_prefix(eb, "round %llu, client %llu", (unsigned long long)w->open.round,
                                 (unsigned long long)j->client);
        }
        run_job_time(w, j);
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
    w->pool.n_batch = 0;
    return 0;
}

int
run_job_note(struct run_world *w, const struct run_job *j, int outcome, int64_t now,
             uint64_t staleness, struct errbuf *eb)
{
    if (!w->s->output.client_events)
        return 0;
    if (w->open.n_events == w->open.cap_events) {
        size_t cap = w->open.cap_events == 0 ? 64 : w->open.cap_events * 2;
        struct store_client_event *e = mem_realloc(w->open.events, cap * sizeof *e);
        if (e == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory recording client events");
        w->open.events = e;
        w->open.cap_events = cap;
    }
    bool arrived = j->msg_len > 0 && outcome != STORE_TIMED_OUT &&
                   (j->dropout == RUN_NO_DROPOUT || j->dropout == DROPOUT_AFTER_UPLOAD);
    bool received = j->dropout != DROPOUT_BEFORE_DOWNLOAD &&
                    (outcome != STORE_TIMED_OUT || now >= simtime_add(j->started_at, j->t_down));
    w->open.events[w->open.n_events++] = (struct store_client_event){
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
