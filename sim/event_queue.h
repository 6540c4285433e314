/*
 * event_queue: the future-event list of the discrete-event simulation.
 *
 * A binary min-heap of events ordered by (time, key, insertion sequence): earliest virtual
 * time first; among equal times the smaller explicit key first; among equal keys, the
 * event pushed first (git's prio_queue rule, ns-3's uid rule). The order therefore never
 * depends on heap layout, and a run replays identically. Time is integer microseconds
 * (base/simtime.h). push is O(log n), pop O(log n), peek O(1).
 *
 * The queue owns copies of the events pushed into it (struct event is a small value).
 * Lifecycle: event_queue_new(), push/pop, event_queue_free(). Not thread-safe: the event
 * loop is single-threaded by design; parallelism lives inside event handlers.
 */
#ifndef FEDBITS_SIM_EVENT_QUEUE_H
#define FEDBITS_SIM_EVENT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event {
    int64_t time;    /* virtual time, microseconds */
    uint64_t key;    /* tie-break among equal times (smaller first) */
    uint32_t type;   /* what happens; meaning owned by the simulation */
    uint32_t zero_;  /* 0 in the queue (set by event_queue_push()): checkpoints store events
                        as bytes, so no byte of a struct event is left undefined */
    uint64_t round;  /* round the event belongs to */
    uint64_t client; /* client concerned, or UINT64_MAX */
    uint64_t arg;    /* handler-defined payload (e.g. a slot index); not part of the order */
    uint64_t seq;    /* insertion sequence, set by event_queue_push() */
};

struct event_queue;

/* Returns an owned empty queue, or NULL if out of memory. */
struct event_queue *event_queue_new(void);
void event_queue_free(struct event_queue *q);

/* Inserts a copy of ev (its seq is assigned). 0, or -ERR_NOMEM (queue unchanged). */
int event_queue_push(struct event_queue *q, const struct event *ev)
    __attribute__((warn_unused_result));
/* Removes the first event into *ev; false when empty. */
bool event_queue_pop(struct event_queue *q, struct event *ev);
/* The first event without removing it, or NULL; valid until the next push or pop. */
const struct event *event_queue_peek(const struct event_queue *q);
size_t event_queue_size(const struct event_queue *q);
/* Events pushed since creation (the next sequence number). */
uint64_t event_queue_pushed(const struct event_queue *q);
/* Removes every event (the sequence counter keeps counting). */
void event_queue_clear(struct event_queue *q);

/* Checkpoints */
/* The pending events in heap order: a view valid until the next push, pop or clear. */
const struct event *event_queue_events(const struct event_queue *q, size_t *n);
/*
 * Replaces the contents with n events (as returned by event_queue_events(), so already a
 * heap) and sets the next sequence number. -ERR_NOMEM, or -ERR_CORRUPT when the events do
 * not form a heap or a sequence number is not below next_seq.
 */
int event_queue_restore(struct event_queue *q, const struct event *ev, size_t n, uint64_t next_seq)
    __attribute__((warn_unused_result));

#endif
