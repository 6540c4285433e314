/*
 * sampling: Poisson client sampling, the selection the privacy accountant assumes
 * (sim/privacy_accountant.h, docs/privacy.md): every candidate joins the round independently
 * with probability q, so the cohort size is Binomial(n, q) rather than fixed.
 *
 * The draw walks the candidates by geometric gaps (the number of candidates skipped before
 * the next one joins is Geometric(q)), so it costs O(cohort) draws, not O(n). Candidates are
 * a caller-owned array of client ids; the selected ones are moved to its front in their
 * original order. The randomness is a caller-owned keyed stream (base/rng.h): same stream,
 * same cohort. No allocation; thread-safe on distinct arrays and streams.
 */
#ifndef FEDBITS_SIM_SAMPLING_H
#define FEDBITS_SIM_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

/* How a synchronous round picks its cohort (scenario key train.sampling). */
enum sampling_kind {
    SAMPLING_FIXED = 0,   /* clients_per_round (times over-selection) uniformly, no replacement */
    SAMPLING_POISSON = 1, /* each available client with probability clients_per_round / clients */
};

/*
 * A cohort-size bound for n candidates at rate q that a Poisson cohort exceeds with
 * probability below 1e-20: n q + 10 sqrt(n q (1 - q)) + 10, at most n.
 */
size_t sampling_poisson_capacity(size_t n, double q);

/*
 * Keeps each of idx[0..n) independently with probability q in [0, 1], moving the kept ids
 * to idx[0..*m) in their order (the others are overwritten). -ERR_RANGE, idx then
 * unspecified, when more than cap would be kept (the cohort is never truncated: a truncated
 * cohort is not a Poisson sample).
 */
int sampling_poisson(struct rng *r, uint32_t *idx, size_t n, double q, size_t cap, size_t *m,
                     struct errbuf *eb);

#endif
