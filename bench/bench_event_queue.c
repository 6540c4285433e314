/*
 * bench_event_queue: events per second of the simulator's future-event list in the
 * "hold" model (the classic priority-queue benchmark): 10^5 events pending, then 10^6
 * operations that pop the earliest event and push one later event, as a running
 * simulation does. Times come from the keyed RNG stream, so every run does the same work.
 * Usage: bench_event_queue [PENDING [EVENTS]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/rng.h"
#include "sim/event_queue.h"
#include "sim/wallclock.h"

int
main(int argc, char **argv)
{
    size_t pending = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t events = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    struct event_queue *q = event_queue_new();
    struct rng r;
    rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < pending; i++) {
        struct event ev = { .time = (int64_t)(rng_u32(&r) % 1000000), .key = i, .type = 1 };
        if (event_queue_push(q, &ev) < 0)
            return 1;
    }
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = wallclock_ns();
        for (size_t i = 0; i < events; i++) {
            struct event ev;
            event_queue_pop(q, &ev);
            ev.time += 1 + (int64_t)(rng_u32(&r) % 1000000);
            if (event_queue_push(q, &ev) < 0)
                return 1;
        }
        double s = (double)(wallclock_ns() - t0) / 1e9;
        double rate = (double)events / s;
        best = rate > best ? rate : best;
        printf("event_queue hold: %zu pending, %zu pop+push in %.3f s = %.2f M events/s\n",
               event_queue_size(q), events, s, rate / 1e6);
    }
    printf("best: %.2f M events/s (%.0f ns per pop+push)\n", best / 1e6, 1e9 / best);
    event_queue_free(q);
    return 0;
}
