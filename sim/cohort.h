/*
 * cohort: choosing who takes part, among the clients available (and idle) at an instant.
 *
 * Two ways to the same distribution, a uniform random subset of the eligible clients in
 * uniform random order, which differ in cost and in the draws they take from the stream
 * (seed, RNG_PURPOSE_SELECT, draw, RNG_ANY):
 *
 *   COHORT_SCAN  checks every client (population_available(), sim/population.h), then
 *                takes m of the eligible ones by a partial Fisher-Yates shuffle:
 *                O(population) per selection. Every eligible client is counted.
 *   COHORT_DRAW  draws clients uniformly and checks only those (rejection sampling; a
 *                client already chosen, busy or unavailable is drawn past): about
 *                m / (share eligible) checks, independent of the population size. It gives
 *                up after COHORT_DRAW_TRIES draws per wanted client (plus
 *                COHORT_DRAW_TRIES_MIN), so when almost nobody is online it may find fewer
 *                clients than are eligible; it counts only those it found.
 *
 * The caller owns every array; cohort_select() allocates nothing.
 */
#ifndef FEDBITS_SIM_COHORT_H
#define FEDBITS_SIM_COHORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "sim/population.h"

enum cohort_mode {
    COHORT_SCAN = 0,
    COHORT_DRAW,
};

#define COHORT_DRAW_TRIES     64
#define COHORT_DRAW_TRIES_MIN 1024

struct cohort {
    const struct population *pop;
    size_t n_clients;
    const bool *busy;    /* clients that cannot be chosen (n_clients flags), or NULL */
    uint32_t *out;       /* COHORT_SCAN: n_clients entries; COHORT_DRAW: `want` entries */
    bool *mark;          /* COHORT_DRAW: n_clients flags, all false (left so) */
    const double *phase; /* every client's diurnal phase (population_phase()), kept by a
                            caller that scans; NULL: drawn at each check */
};

/*
 * Chooses up to `want` eligible clients at virtual time `now`, availability drawn for
 * `draw` (the round, or the async selection number), into c->out[0..m); returns m, and the
 * number of eligible clients counted in *n_eligible (COHORT_DRAW: m).
 */
size_t cohort_select(const struct cohort *c, enum cohort_mode mode, uint64_t seed, uint64_t draw,
                     int64_t now, size_t want, size_t *n_eligible);

/*
 * A uniform sample of m distinct clients of 0..n-1 (m <= n <= UINT32_MAX), in the order of a
 * partial Fisher-Yates shuffle of the identity array: step i swaps entry i with entry
 * i + rng_below(r, n - i) and takes the new entry i. The result is exactly that of shuffling
 * the n entries, but only the entries moved are kept, in a hash table of
 * cohort_sample_slots(m) words the caller provides (`slots`): O(m) time and memory whatever
 * n. The sample goes to out[0..m).
 */
size_t cohort_sample_slots(size_t m);
void cohort_sample(struct rng *r, size_t n, size_t m, uint32_t *out, uint64_t *slots);

#endif
