/*
 * run_sync: the synchronous round. ROUND_START selects ceil(over_selection *
 * clients_per_round) available clients (train.sampling: fixed), or each available client with
 * probability clients_per_round / population (poisson, sim/sampling.h), and starts their
 * jobs; the round closes at the clients_per_round-th update (fixed only: a Poisson round
 * waits for its whole cohort), when every job has ended, or at the deadline (fixed, or a
 * quantile of the cohort's expected completion times), timing out the jobs still running.
 */
#include "sim/run_int.h"

#include <math.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/simtime.h"
#include "sim/population.h"
#include "sim/sampling.h"
#include "base/banned.h"

double
run_sync_poisson_rate(const struct run_world *w)
{
    return (double)w->s->train.clients_per_round / (double)w->ds->n_clients;
}

/* Sync: selects the round's cohort among the available clients and starts their jobs. */
int
run_sync_round_start(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    size_t n_elig, m;
    bool poisson = s->train.sampling == SAMPLING_POISSON;
    /* Poisson: every eligible client, in client order (a scan), then the coin flips. */
    m = run_world_select(w, NULL, w->open.round, now, poisson ? 0 : w->n_jobs, &n_elig);
    w->open.closed = false;
    w->open.received = 0;
    w->open.rec = (struct store_round){ .round = w->open.round };
    if (poisson) {
        /* every available client joins independently; the cohort is whoever joined */
        struct rng r;
        rng_init_stream(&r, s->seed, RNG_PURPOSE_SELECT, w->open.round, RNG_ANY);
        int rc =
            sampling_poisson(&r, w->eligible, n_elig, run_sync_poisson_rate(w), w->n_jobs, &m, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "round %llu", (unsigned long long)w->open.round);
        n_elig = m;
    }
    if (n_elig < s->protocol.min_clients || n_elig == 0) {
        /* Too few clients online (or sampled): the round fails; try again after retry_s. */
        w->open.closed = true;
        int64_t retry = simtime_add(now, simtime_from_s(s->protocol.retry_s));
        return run_close(w, now, retry, NULL, sum, eb);
    }
    for (size_t i = 0; i < w->n_jobs; i++)
        w->jobs[i].active = false;
    for (size_t i = 0; i < m; i++) {
        int rc = run_job_start(w, i, w->eligible[i], w->open.round, now, eb);
        if (rc < 0)
            return rc;
    }
    w->open.pending = m;
    if (w->carry.docofl != NULL) {
        /* The server refreshes its deposit and prepares each client's anchor and correction. */
        int rc =
            docofl_server_begin_round(w->carry.docofl, (uint32_t)w->open.round, w->model.w, eb);
        for (size_t i = 0; rc == 0 && i < m; i++) {
            struct run_job *j = &w->jobs[i];
            j->anchor_bits = j->corr_bits = 0;
            if (j->dropout == DROPOUT_BEFORE_DOWNLOAD)
                continue;
            struct docofl_server_msgs msgs;
            rc = docofl_server_prepare(w->carry.docofl, j->client, &msgs, eb);
            j->anchor_msg = msgs.anchor;
            j->anchor_len = msgs.anchor_len;
            j->corr_msg = msgs.correction;
            j->corr_len = msgs.correction_len;
            j->anchor_bits = msgs.anchor_bits;
            j->corr_bits = msgs.correction_bits;
        }
        if (rc < 0)
            return errbuf_prefix(eb, "round %llu, docofl", (unsigned long long)w->open.round);
    }
    int rc = run_job_flush(w, now, eb);
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
int
run_sync_close(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    bool *acc = mem_calloc(w->n_jobs, sizeof *acc);
    if (acc == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory closing the round");
    w->open.closed = true;
    for (size_t i = 0; i < w->n_jobs; i++) {
        struct run_job *j = &w->jobs[i];
        acc[i] = !j->active && j->round == w->open.round && j->msg_len > 0 &&
                 (j->dropout == RUN_NO_DROPOUT || j->dropout == DROPOUT_AFTER_UPLOAD);
        if (j->active && j->round == w->open.round) {
            w->open.rec.timed_out++;
            int rc = run_job_note(w, j, STORE_TIMED_OUT, now, 0, eb);
            if (rc < 0) {
                mem_free(acc);
                return rc;
            }
            j->active = false;
            w->pool.busy[j->client] = false;
        }
    }
    int rc = run_close(w, now, now, acc, sum, eb);
    mem_free(acc);
    return rc;
}
