/* cohort: selection by scan or by draws. See cohort.h. */
#include "sim/cohort.h"

#include "base/rng.h"
#include "base/banned.h"

static bool
cohort_eligible(const struct cohort *c, size_t k, uint64_t draw, int64_t now)
{
    return (c->busy == NULL || !c->busy[k]) && population_available(c->pop, k, draw, now);
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
