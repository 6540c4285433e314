/* cohort: selection by scan or by draws. See cohort.h. */
#include "sim/cohort.h"

#include <string.h>

#include "base/rng.h"
#include "base/banned.h"

static bool
cohort_eligible(const struct cohort *c, size_t k, uint64_t draw, int64_t now)
{
    if (c->busy != NULL && c->busy[k])
        return false;
    return c->phase != NULL ? population_available_at_phase(c->pop, k, draw, now, c->phase[k])
                            : population_available(c->pop, k, draw, now);
}

static size_t
cohort_scan(const struct cohort *c, struct rng *r, uint64_t draw, int64_t now, size_t want,
            size_t *n_eligible)
{
    size_t n = 0;
    for (size_t k = 0; k < c->n_clients; k++) {
        if (cohort_eligible(c, k, draw, now))
            c->out[n++] = (uint32_t)k;
    }
    *n_eligible = n;
    size_t m = want < n ? want : n;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)rng_below(r, n - i);
        uint32_t t = c->out[i];
        c->out[i] = c->out[j];
        c->out[j] = t;
    }
    return m;
}

static size_t
cohort_draw(const struct cohort *c, struct rng *r, uint64_t draw, int64_t now, size_t want)
{
    size_t m = 0;
    size_t tries = want > (SIZE_MAX - COHORT_DRAW_TRIES_MIN) / COHORT_DRAW_TRIES
                       ? SIZE_MAX
                       : want * COHORT_DRAW_TRIES + COHORT_DRAW_TRIES_MIN;
    for (size_t t = 0; t < tries && m < want && m < c->n_clients; t++) {
        size_t k = (size_t)rng_below(r, c->n_clients);
        if (c->mark[k] || !cohort_eligible(c, k, draw, now))
            continue;
        c->mark[k] = true;
        c->out[m++] = (uint32_t)k;
    }
    for (size_t i = 0; i < m; i++)
        c->mark[c->out[i]] = false;
    return m;
}

size_t
cohort_select(const struct cohort *c, enum cohort_mode mode, uint64_t seed, uint64_t draw,
              int64_t now, size_t want, size_t *n_eligible)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_SELECT, draw, RNG_ANY);
    if (mode == COHORT_SCAN)
        return cohort_scan(c, &r, draw, now, want, n_eligible);
    size_t m = cohort_draw(c, &r, draw, now, want);
    *n_eligible = m;
    return m;
}

size_t
cohort_sample_slots(size_t m)
{
    size_t t = 2;
    while (t < 2 * m)
        t *= 2;
    return t;
}

/*
 * The slot of entry `key` in the open-addressing table of `mask` + 1 slots: a slot holds
 * (key + 1) << 32 | value, 0 when empty.
 */
static uint64_t *
cohort_slot(uint64_t *slots, size_t mask, uint32_t key)
{
    size_t h = (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15u) >> 32) & mask;
    while (slots[h] != 0 && (uint32_t)((slots[h] >> 32) - 1) != key)
        h = (h + 1) & mask;
    return &slots[h];
}

/* Entry `key` of the shuffled array: itself until moved. */
static uint32_t
cohort_entry(uint64_t *slots, size_t mask, uint32_t key)
{
    uint64_t s = *cohort_slot(slots, mask, key);
    return s != 0 ? (uint32_t)s : key;
}

void
cohort_sample(struct rng *r, size_t n, size_t m, uint32_t *out, uint64_t *slots)
{
    size_t mask = cohort_sample_slots(m) - 1;
    memset(slots, 0, (mask + 1) * sizeof *slots);
    for (size_t i = 0; i < m; i++) {
        uint32_t j = (uint32_t)(i + (size_t)rng_below(r, n - i));
        out[i] = cohort_entry(slots, mask, j);
        /* Entry i is never read again: only entry j needs keeping (what was at i). */
        uint32_t at_i = cohort_entry(slots, mask, (uint32_t)i);
        *cohort_slot(slots, mask, j) = ((uint64_t)j + 1) << 32 | at_i;
    }
}
