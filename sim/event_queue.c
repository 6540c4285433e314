/* event_queue: binary heap with deterministic ties. See event_queue.h. */
#include "sim/event_queue.h"

#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/banned.h"

struct event_queue {
    struct event *heap;
    size_t n, cap;
    uint64_t next_seq;
};

struct event_queue *
event_queue_new(void)
{
    return mem_calloc(1, sizeof(struct event_queue));
}

void
event_queue_free(struct event_queue *q)
{
    if (q == NULL)
        return;
    mem_free(q->heap);
    mem_free(q);
}

static bool
event_before(const struct event *a, const struct event *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    if (a->key != b->key)
        return a->key < b->key;
    return a->seq < b->seq;
}

int
event_queue_push(struct event_queue *q, const struct event *ev)
{
    if (q->n == q->cap) {
        size_t cap = q->cap == 0 ? 64 : q->cap * 2;
        struct event *h = mem_realloc(q->heap, cap * sizeof *h);
        if (h == NULL)
            return -ERR_NOMEM;
        q->heap = h;
        q->cap = cap;
    }
    struct event e = *ev;
    e.zero_ = 0;
    e.seq = q->next_seq++;
    size_t i = q->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!event_before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
    return 0;
}

bool
event_queue_pop(struct event_queue *q, struct event *ev)
{
    if (q->n == 0)
        return false;
    *ev = q->heap[0];
    struct event last = q->heap[--q->n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->n)
            break;
        if (child + 1 < q->n && event_before(&q->heap[child + 1], &q->heap[child]))
            child++;
        if (!event_before(&q->heap[child], &last))
            break;
        q->heap[i] = q->heap[child];
        i = child;
    }
    if (q->n > 0)
        q->heap[i] = last;
    return true;
}

const struct event *
event_queue_peek(const struct event_queue *q)
{
    return q->n > 0 ? &q->heap[0] : NULL;
}

size_t
event_queue_size(const struct event_queue *q)
{
    return q->n;
}

uint64_t
event_queue_pushed(const struct event_queue *q)
{
    return q->next_seq;
}

void
event_queue_clear(struct event_queue *q)
{
    q->n = 0;
}

const struct event *
event_queue_events(const struct event_queue *q, size_t *n)
{
    *n = q->n;
    return q->heap;
}

int
event_queue_restore(struct event_queue *q, const struct event *ev, size_t n, uint64_t next_seq)
{
    for (size_t i = 0; i < n; i++) {
        if (ev[i].seq >= next_seq || (i > 0 && event_before(&ev[i], &ev[(i - 1) / 2])))
            return -ERR_CORRUPT;
    }
    if (n > q->cap) {
        struct event *h = mem_realloc(q->heap, n * sizeof *h);
        if (h == NULL)
            return -ERR_NOMEM;
        q->heap = h;
        q->cap = n;
    }
    if (n > 0)
        memcpy(q->heap, ev, n * sizeof *ev);
    for (size_t i = 0; i < n; i++)
        q->heap[i].zero_ = 0; /* a checkpoint written before the field had padding there */
    q->n = n;
    q->next_seq = next_seq;
    return 0;
}
