/*
 * run_async: the FedBuff loop (Nguyen et al., "Federated Learning with Buffered Asynchronous
 * Aggregation", AISTATS 2022): `concurrency` jobs run at all times, each slot refilled with
 * an available idle client as soon as its job ends; updates are weighted by their staleness
 * s, w(s) = 1 / sqrt(1 + s) (or constant); every buffer_size updates the server aggregates.
 * Owns struct run_async.
 */
#include "sim/run_int.h"

#include <math.h>

#include "base/rng.h"
#include "base/simtime.h"
#include "sim/population.h"
#include "base/banned.h"

/* Async: draws a client that is available and idle; false when none is. */
static bool
run_async_pick(struct run_world *w, int64_t now, uint64_t *client)
{
    size_t n_elig;
    uint64_t draw = w->async.selections++;
    if (run_world_select(w, w->pool.busy, draw, now, 1, &n_elig) == 0)
        return false;
    *client = w->eligible[0];
    return true;
}

/* Async: fills every free slot with a new job (or retries later when nobody is online). */
int
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
        int rc = run_job_start(w, slot, client, w->pool.next_gen, now, eb);
        if (rc < 0)
            return rc;
    }
    if (retry) {
        int64_t at = simtime_add(now, simtime_from_s(w->s->protocol.retry_s));
        return run_push(w, at, RUN_EV_ROUND_START, RUN_NO_CLIENT, RUN_NO_CLIENT, 0, eb);
    }
    return 0;
}

double
run_async_staleness_weight(const struct scenario *s, uint64_t staleness)
{
    if (s->protocol.staleness == STALENESS_CONSTANT)
        return 1.0;
    return 1.0 / sqrt(1.0 + (double)staleness);
}
