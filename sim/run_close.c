/*
 * run_close: closes the open round or aggregation period: sums the accepted updates, applies
 * the mean through the server optimizer, evaluates (run_eval.c), stores the round and opens
 * the next. Owns struct run_model and resets struct run_open.
 */
#include "sim/run_int.h"

#include "aggregator/exact_sum.h"
#include "aggregator/fedavg.h"
#include "aggregator/server_opt.h"
#include "base/simtime.h"
#include "sim/cluster.h"
#include "sim/store.h"
#include "base/banned.h"

static void
run_close_add_job(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    struct codec_link link = { .seed = w->s->seed, .round = j->stream, .client = j->client };
    j->rc = fedavg_add(th->agg, j->msg, j->msg_len, j->agg_weight, &link, &j->eb);
}

/*
 * The plain round's sum: sync rounds decode their accepted updates now, in parallel on
 * their owners (async ones were added as they arrived); then the ranks reduce the exact sum.
 */
static int
run_close_aggregate(struct run_world *w, struct errbuf *eb)
{
    int rc = 0;
    if (!run_is_async(w)) {
        size_t n = 0;
        for (size_t k = 0; k < w->n_jobs; k++) {
            struct run_job *j = &w->jobs[k];
            if (j->agg_weight > 0 && j->round == w->open.round && run_owns(w, j))
                w->owned[n++] = k;
        }
        for (unsigned t = 0; t < w->n_threads; t++)
            fedavg_begin(w->th[t].agg);
        run_parallel(w, w->owned, n, run_close_add_job);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct run_job *j = &w->jobs[w->owned[i]];
            if (j->rc < 0) {
                *eb = j->eb;
                rc =
                    errbuf_prefix(eb, "round %llu, update of client %llu",
                                  (unsigned long long)w->open.round, (unsigned long long)j->client);
            }
        }
        for (unsigned t = 0; t < w->n_threads; t++)
            fedavg_merge(w->model.agg, w->th[t].agg);
    } else if (w->model.agg_rc < 0) {
        *eb = w->model.agg_eb;
        rc = w->model.agg_rc;
    }
    rc = run_agree(w, rc, eb);
    if (rc < 0)
        return rc;
    struct exact_sum *sum = fedavg_sum(w->model.agg);
    return cluster_sum_i128(w->cl, exact_sum_words(sum), exact_sum_len(sum), eb);
}

/* Applies the aggregate (if enough updates), evaluates, stores the round. */
int
run_close(struct run_world *w, int64_t now, int64_t next_at, const bool *accepted,
          struct run_summary *sum, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct store_round *rec = &w->open.rec;
    int rc = run_job_flush(w, now, eb); /* jobs started this instant see the old model */
    if (rc < 0)
        return rc;
    if (s->train.time_budget_s > 0 && now > simtime_from_s(s->train.time_budget_s)) {
        /* train.time_budget_s: a round closing after the budget does not count (it is neither
         * applied nor stored) and ends the run; every rank has the same `now`. */
        w->loop.done = true;
        return 0;
    }
    size_t need = run_is_async(w) ? 1 : (size_t)s->protocol.min_clients;
    struct codec_link link = { .seed = s->seed, .round = w->open.round, .client = RUN_NO_CLIENT };
    rec->round = w->open.round;
    bool secure = w->s->aggregation.secure != SECURE_NONE;
    bool enough = w->open.received >= need;
    bool thc = !secure && w->thc.on; /* THC's integers under a common norm (run_thc.c) */
    w->thc.mean_ready = false;
    if (!secure && enough) {
        rc = thc ? run_thc_aggregate(w, eb) : run_close_aggregate(w, eb);
        if (rc < 0)
            return rc;
    }
    rec->failed = !enough || (secure ? !w->sec.secure_mean_ready
                              : thc  ? !w->thc.mean_ready
                                     : !(fedavg_weight(w->model.agg) > 0));
    if (!rec->failed) {
        if (!secure && !thc) {
            rc = fedavg_finish(w->model.agg, w->model.mean, &link, eb);
            if (rc < 0)
                return rc;
        }
        if (w->dp.on)
            run_privacy_release(w, rec);
        if (w->ddp.on)
            run_ddp_record(w, rec);
        if (s->output.nmse && accepted != NULL) {
            rec->has_nmse = true;
            rc = run_eval_nmse(w, accepted, &rec->nmse, eb);
            if (rc < 0)
                return rc;
        }
        server_opt_apply(w->model.opt, w->model.w, w->model.mean);
        w->model.version++;
    } else if (w->dp.on) {
        run_privacy_release(w, rec); /* epsilon only: nothing released */
    }
    if (rec->failed && w->ddp.on)
        run_ddp_record(w, rec); /* epsilon unchanged: nothing released */
    rec->sim_time_us = now;
    rec->train_loss =
        rec->participants > 0 ? w->open.train_loss_sum / (double)rec->participants : 0;
    rec->staleness_mean =
        rec->participants > 0 ? w->open.staleness_sum / (double)rec->participants : 0;
    if (w->root &&
        (w->open.round % s->output.eval_every == 0 || w->open.round == s->train.rounds)) {
        rc = run_eval_round(w, rec, sum, eb);
        if (rc < 0)
            return rc;
    }
    if (w->st != NULL) {
        rc = store_write_round_clients(w->st, w->run_id, rec, w->open.events, w->open.n_events, eb);
        if (rc < 0)
            return rc;
    }
    if (s->output.checkpoint_every > 0 && w->open.round % s->output.checkpoint_every == 0 &&
        w->open.round < s->train.rounds)
        w->loop.checkpoint_due = true;
    /* train.target_accuracy: only rank 0 evaluates; the others learn it below. */
    bool reached =
        rec->evaluated && s->train.target_accuracy > 0 && rec->accuracy >= s->train.target_accuracy;
    if (cluster_size(w->cl) > 1) {
        /* Ranks stop together, at a round's end: a signal reaches them at different events.
         * With a target, rank 0's verdict travels in the same sum (the others add 0). */
        uint64_t flags[2] = { w->o->stop != NULL && *w->o->stop, reached };
        rc = cluster_sum_u64(w->cl, flags, s->train.target_accuracy > 0 ? 2 : 1, eb);
        if (rc < 0)
            return rc;
        w->loop.stop_agreed = flags[0] > 0;
        reached = flags[1] > 0;
    }
    sum->rounds = w->open.round;
    sum->participants += rec->participants;
    sum->uplink_bits += rec->uplink_bits;
    sum->uplink_payload_bits += rec->uplink_payload_bits;
    sum->downlink_bits += rec->downlink_bits;
    sum->sim_time_us = now;
    if (rec->has_privacy) {
        sum->has_epsilon = true;
        sum->epsilon = rec->epsilon;
    }
    if (w->o->on_round != NULL)
        w->o->on_round(w->o->ctx, s, rec);

    /* Open the next round or period. */
    w->open.n_events = 0;
    w->open.received = 0;
    w->open.train_loss_sum = 0;
    w->open.staleness_sum = 0;
    fedavg_begin(w->model.agg);
    w->model.agg_rc = 0;
    if (reached || w->open.round >= s->train.rounds) {
        w->loop.done = true;
        return 0;
    }
    w->open.round++;
    w->open.rec = (struct store_round){ .round = w->open.round };
    if (!run_is_async(w))
        return run_push(w, next_at, RUN_EV_ROUND_START, RUN_NO_CLIENT, RUN_NO_CLIENT, 0, eb);
    return 0;
}
