/* event_queue: order by (time, key, insertion sequence), against a reference model. */
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "sim/event_queue.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static int
eq_cmp(const void *pa, const void *pb)
{
    const struct event *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

/* Times and keys from small ranges so that many events tie on time, and on time and key. */
static struct event
eq_random_event(struct rng *r, uint64_t i)
{
    return (struct event){
        .time = (int64_t)rng_below(r, 50) - 10,
        .key = rng_below(r, 4),
        .type = (uint32_t)rng_below(r, 7),
        .round = i,
        .client = rng_below(r, 1000),
        .seq = 123456, /* ignored: the queue assigns it */
    };
}

static void
eq_assert_same(const struct event *got, const struct event *want)
{
    ck_assert_int_eq(got->time, want->time);
    ck_assert_uint_eq(got->key, want->key);
    ck_assert_uint_eq(got->seq, want->seq);
    ck_assert_uint_eq(got->type, want->type);
    ck_assert_uint_eq(got->round, want->round);
    ck_assert_uint_eq(got->client, want->client);
}

/* Pushing N events and popping them all gives the stable sort of the pushes. */
START_TEST(pops_in_sorted_order)
{
    enum { N = 5000 };
    struct event *ref = malloc(N * sizeof *ref);
    ck_assert_ptr_nonnull(ref);
    struct event_queue *q = event_queue_new();
    ck_assert_ptr_nonnull(q);
    struct rng r;
    rng_init_stream(&r, 17, RNG_PURPOSE_TEST, 0, 0);
    for (uint64_t i = 0; i < N; i++) {
        struct event ev = eq_random_event(&r, i);
        ck_assert_int_eq(event_queue_push(q, &ev), 0);
        ev.seq = i;
        ref[i] = ev;
    }
    ck_assert_uint_eq(event_queue_size(q), N);
    ck_assert_uint_eq(event_queue_pushed(q), N);
    /* seq is the insertion index, so sorting by (time, key, seq) is the stable sort. */
    qsort(ref, N, sizeof *ref, eq_cmp);
    for (size_t i = 0; i < N; i++) {
        const struct event *top = event_queue_peek(q);
        ck_assert_ptr_nonnull(top);
        eq_assert_same(top, &ref[i]);
        struct event ev;
        ck_assert(event_queue_pop(q, &ev));
        eq_assert_same(&ev, &ref[i]);
        ck_assert_uint_eq(event_queue_size(q), N - 1 - i);
    }
    struct event ev;
    ck_assert(!event_queue_pop(q, &ev));
    ck_assert_ptr_null(event_queue_peek(q));
    event_queue_free(q);
    free(ref);
}
END_TEST

/* Interleaved pushes and pops against a linear-scan reference of the pending events. */
START_TEST(interleaved_push_pop)
{
    enum { OPS = 20000 };
    struct event *pending = malloc(OPS * sizeof *pending);
    ck_assert_ptr_nonnull(pending);
    size_t n = 0;
    uint64_t seq = 0;
    struct event_queue *q = event_queue_new();
    ck_assert_ptr_nonnull(q);
    struct rng r;
    rng_init_stream(&r, 17, RNG_PURPOSE_TEST, 1, 0);
    for (size_t op = 0; op < OPS; op++) {
        /* Pushes slightly more often than pops, so the queue grows and shrinks. */
        if (n == 0 || rng_below(&r, 100) < 55) {
            struct event ev = eq_random_event(&r, op);
            ck_assert_int_eq(event_queue_push(q, &ev), 0);
            ev.seq = seq++;
            pending[n++] = ev;
        } else {
            size_t best = 0;
            for (size_t i = 1; i < n; i++) {
                if (eq_cmp(&pending[i], &pending[best]) < 0)
                    best = i;
            }
            struct event ev;
            ck_assert(event_queue_pop(q, &ev));
            eq_assert_same(&ev, &pending[best]);
            pending[best] = pending[--n];
        }
        ck_assert_uint_eq(event_queue_size(q), n);
    }
    ck_assert_uint_eq(event_queue_pushed(q), seq);
    event_queue_free(q);
    free(pending);
}
END_TEST

/* Equal time and key: first in, first out, whatever the heap shape. */
START_TEST(ties_are_fifo)
{
    struct event_queue *q = event_queue_new();
    ck_assert_ptr_nonnull(q);
    for (uint32_t i = 0; i < 300; i++) {
        struct event ev = { .time = 42, .key = 7, .type = i };
        ck_assert_int_eq(event_queue_push(q, &ev), 0);
    }
    /* An earlier time and a smaller key jump the line. */
    struct event early = { .time = 41, .key = 99, .type = 1000 };
    struct event small_key = { .time = 42, .key = 6, .type = 1001 };
    ck_assert_int_eq(event_queue_push(q, &early), 0);
    ck_assert_int_eq(event_queue_push(q, &small_key), 0);
    struct event ev;
    ck_assert(event_queue_pop(q, &ev));
    ck_assert_uint_eq(ev.type, 1000);
    ck_assert_uint_eq(ev.seq, 300);
    ck_assert(event_queue_pop(q, &ev));
    ck_assert_uint_eq(ev.type, 1001);
    for (uint32_t i = 0; i < 300; i++) {
        ck_assert(event_queue_pop(q, &ev));
        ck_assert_uint_eq(ev.type, i);
        ck_assert_uint_eq(ev.seq, i);
    }
    ck_assert(!event_queue_pop(q, &ev));
    event_queue_free(q);
}
END_TEST

START_TEST(empty_and_clear)
{
    struct event_queue *q = event_queue_new();
    ck_assert_ptr_nonnull(q);
    struct event ev = { .time = 5, .type = 77 };
    ck_assert(!event_queue_pop(q, &ev));
    ck_assert_uint_eq(ev.type, 77); /* untouched */
    ck_assert_ptr_null(event_queue_peek(q));
    ck_assert_uint_eq(event_queue_size(q), 0);
    ck_assert_uint_eq(event_queue_pushed(q), 0);
    for (int i = 0; i < 100; i++) {
        struct event e = { .time = 100 - i };
        ck_assert_int_eq(event_queue_push(q, &e), 0);
    }
    event_queue_clear(q);
    ck_assert_uint_eq(event_queue_size(q), 0);
    ck_assert_ptr_null(event_queue_peek(q));
    ck_assert(!event_queue_pop(q, &ev));
    /* The sequence keeps counting after a clear. */
    ck_assert_uint_eq(event_queue_pushed(q), 100);
    struct event e = { .time = 3 };
    ck_assert_int_eq(event_queue_push(q, &e), 0);
    ck_assert(event_queue_pop(q, &ev));
    ck_assert_int_eq(ev.time, 3);
    ck_assert_uint_eq(ev.seq, 100);
    event_queue_free(q);
    event_queue_free(NULL);
}
END_TEST

Suite *
event_queue_suite(void)
{
    Suite *s = suite_create("event_queue");
    TCase *tc = tcase_create("order");
    tcase_add_test(tc, pops_in_sorted_order);
    tcase_add_test(tc, interleaved_push_pop);
    tcase_add_test(tc, ties_are_fifo);
    tcase_add_test(tc, empty_and_clear);
    suite_add_tcase(s, tc);
    return s;
}
