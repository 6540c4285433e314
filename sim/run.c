/*
 * run: the event loop of one run (run_execute) and what every protocol shares: job events,
 * the upload and end of a job, parallel and cross-rank helpers. See run.h for the model and
 * run_int.h for who owns which part of the world.
 */
#include "sim/run_int.h"

#include <cblas.h>
#include <sodium.h>
#include <string.h>

#include "aggregator/fedavg.h"
#include "base/mem.h"
#include "base/simtime.h"
#include "fedbits_config.h"
#include "sim/cluster.h"
#include "sim/event_queue.h"
#include "sim/sampling.h"
#include "sim/wallclock.h"
#if FEDBITS_HAVE_OPENMP
#include <omp.h>
#endif
#include "base/banned.h"

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
                          (unsigned long long)w->open.round);
    return 0;
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
        .round = w->open.round,
        .client = client,
        .arg = arg,
    };
    if (event_queue_push(w->loop.q, &ev) < 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory queueing events");
    return 0;
}

int
run_push_job(struct run_world *w, int64_t time, uint32_t type, size_t slot, struct errbuf *eb)
{
    const struct run_job *j = &w->jobs[slot];
    return run_push(w, time, type, j->client, j->client, j->gen * w->n_jobs + slot, eb);
}

/* A job ended (uploaded or dropped): account it and, in async runs, restart its slot. */
static int
run_job_end(struct run_world *w, size_t slot, int64_t now, struct run_summary *sum,
            struct errbuf *eb)
{
    struct run_job *j = &w->jobs[slot];
    j->active = false;
    w->pool.busy[j->client] = false;
    if (run_is_async(w)) {
        if (w->open.received >= w->s->protocol.buffer_size) {
            int rc = run_close(w, now, now, NULL, sum, eb);
            if (rc < 0 || w->loop.done)
                return rc;
        }
        return run_async_fill(w, now, eb);
    }
    w->open.pending--;
    if ((w->s->train.sampling == SAMPLING_FIXED &&
         w->open.received >= w->s->train.clients_per_round) ||
        w->open.pending == 0)
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
    uint64_t staleness = w->model.version - j->version;
    w->open.rec.uplink_bits += (uint64_t)j->msg_len * 8;
    w->open.rec.uplink_payload_bits += (uint64_t)j->msg_len * 8;
    if (j->dropout == DROPOUT_AFTER_UPLOAD)
        w->open.rec.dropped++;
    int outcome = j->dropout == DROPOUT_AFTER_UPLOAD ? STORE_DROPPED : STORE_COMPLETED;
    if (s->protocol.max_staleness > 0 && staleness > s->protocol.max_staleness) {
        w->open.rec.discarded++;
        outcome = STORE_DISCARDED;
    } else {
        /* central DP sums clipped updates with unit weights (run_privacy.c) */
        double samples =
            w->dp.on || s->aggregation.weighting == WEIGHTING_UNIFORM ? 1.0 : (double)j->samples;
        double weight = w->dp.on ? 1.0 : samples * run_async_staleness_weight(s, staleness);
        if (j->samples > 0 && !run_is_async(w)) {
            j->agg_weight = weight; /* decoded at the round's close, in parallel */
        } else if (j->samples > 0 && run_owns(w, j) && w->model.agg_rc == 0) {
            /* Async: the slot is reused at once; the owner adds it now (an error waits for the
             * close, which all ranks reach together). */
            w->model.agg_rc =
                fedavg_add(w->model.agg, j->msg, j->msg_len, weight, &link, &w->model.agg_eb);
            if (w->model.agg_rc < 0)
                errbuf_prefix(&w->model.agg_eb, "round %llu, update of client %llu",
                              (unsigned long long)w->open.round, (unsigned long long)j->client);
        }
        w->open.received++;
        w->open.rec.participants++;
        w->open.train_loss_sum += j->tr.loss;
        w->open.staleness_sum += (double)staleness;
        w->open.rec.stale += staleness > 0;
        if (staleness > w->open.rec.staleness_max)
            w->open.rec.staleness_max = staleness;
    }
    int rc = run_job_note(w, j, outcome, now, staleness, eb);
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
    crypto_generichash_update(&w->loop.fp, b, sizeof b);
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
        if (ev->round != w->open.round || w->open.closed)
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
        w->open.rec.downlink_bits += j->down_bits;
        w->open.rec.downlink_anchor_bits += j->anchor_bits;
        w->open.rec.downlink_correction_bits += j->corr_bits;
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
        w->open.rec.dropped++;
        int rc = run_job_note(w, j, STORE_DROPPED, ev->time, 0, eb);
        if (rc < 0)
            return rc;
        return run_job_end(w, slot, ev->time, sum, eb);
    }
    default:
        return errbuf_set(eb, -ERR_INTERNAL, "unknown event type %u", ev->type);
    }
}

/*
 * The run's first state: from the checkpoint being resumed (refused, with the store left as
 * it was, unless it belongs to this run), or the first ROUND_START. Only then does the store
 * change: the rounds after the checkpoint are deleted and the model size recorded.
 */
static int
run_begin(struct run_world *w, struct run_summary *sum, struct errbuf *eb)
{
    const struct run_options *o = w->o;
    int rc;
    w->open.rec.round = 1;
    fedavg_begin(w->model.agg);
    if (o->resume != NULL)
        rc = run_checkpoint_load(w, sum, o->resume, o->resume_len, o->resume_round, eb);
    else
        rc = run_push(w, 0, RUN_EV_ROUND_START, RUN_NO_CLIENT, RUN_NO_CLIENT, 0, eb);
    /* Results do not depend on the thread count; report this process's. */
    sum->model_dim = w->dim;
    sum->threads = w->n_threads;
    sum->ranks = cluster_size(w->cl);
    if (rc == 0 && w->st != NULL && o->rewind)
        rc = store_rewind_run(w->st, w->run_id, o->resume_round, eb);
    if (rc == 0 && w->st != NULL)
        rc = store_set_model_params(w->st, w->run_id, w->dim, eb);
    return rc;
}

/* Stores the state after the round just stored (output.checkpoint_every). */
static int
run_take_checkpoint(struct run_world *w, const struct run_summary *sum, struct errbuf *eb)
{
    w->loop.checkpoint_due = false;
    unsigned char *state = NULL;
    size_t len = 0;
    char now[32];
    wallclock_utc_iso8601(now, sizeof now);
    int rc = run_checkpoint_save(w, sum, &state, &len, eb);
    if (rc == 0)
        rc = store_save_checkpoint(w->st, w->run_id, sum->rounds, state, len, now, eb);
    mem_free(state);
    return rc;
}

enum run_stop
run_stop_reason(const struct scenario *s, const struct run_summary *sum)
{
    if (s->train.target_accuracy > 0 && sum->rounds > 0 &&
        sum->final_accuracy >= s->train.target_accuracy)
        return RUN_STOP_TARGET;
    if (s->train.time_budget_s > 0 && sum->rounds < s->train.rounds)
        return RUN_STOP_BUDGET;
    return RUN_STOP_ROUNDS;
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
        .open = { .round = 1 },
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
    rc = run_begin(&w, sum, eb);
    struct event ev;
    while (rc == 0 && !w.loop.done) {
        if (w.loop.checkpoint_due && w.pool.n_batch == 0 && w.open.n_events == 0) {
            rc = run_take_checkpoint(&w, sum, eb);
            continue;
        }
        /* Jobs started at the current instant are computed before time moves on. */
        const struct event *next = event_queue_peek(w.loop.q);
        if (w.pool.n_batch > 0 && (next == NULL || next->time > w.loop.now)) {
            rc = run_job_flush(&w, w.loop.now, eb);
            continue;
        }
        if (!event_queue_pop(w.loop.q, &ev))
            break;
        if (cluster_size(w.cl) > 1 ? w.loop.stop_agreed : o->stop != NULL && *o->stop) {
            rc = errbuf_set(eb, -ERR_INTERRUPTED, "interrupted after %llu rounds",
                            (unsigned long long)sum->rounds);
            break;
        }
        run_fingerprint(&w, &ev);
        sum->events++;
        w.loop.now = ev.time;
        rc = run_handle(&w, &ev, sum, eb);
    }
    if (rc == 0 && !w.loop.done)
        rc = errbuf_set(eb, -ERR_INTERNAL, "the event queue ran dry after %llu rounds",
                        (unsigned long long)sum->rounds);
    sum->rank_bytes = cluster_bytes(w.cl) - bytes0;
    unsigned char digest[32];
    crypto_generichash_final(&w.loop.fp, digest, sizeof digest);
    sodium_bin2hex(sum->fingerprint, sizeof sum->fingerprint, digest, sizeof digest);
out:
    run_world_release(&w);
    return rc;
}
