/*
 * skellam: the symmetric Skellam distribution Sk(mu) = Poisson(mu) - Poisson(mu) on the
 * keyed streams (Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private
 * Federated Learning", NeurIPS 2021, §3). Its variance is 2 mu, and the sum of independent
 * Sk(mu_i) is Sk(sum mu_i) exactly, which is why the distributed sum stays Skellam.
 *
 * The Poisson draws are GSL's gsl_ran_poisson on the stream's gsl_rng: Ahrens and Dieter's
 * gamma/binomial reduction down to a mean below 10, then the multiplicative method, all in
 * double precision. That is exact up to floating-point rounding of its uniforms and
 * thresholds, not exact in the integer sense of base/dgauss.h; docs/privacy.md says so.
 *
 * Stateless functions; deterministic for a given stream position.
 */
#ifndef FEDBITS_BASE_SKELLAM_H
#define FEDBITS_BASE_SKELLAM_H

#include <stdint.h>

#include "base/rng.h"

/* One draw of Sk(mu), mu > 0, from r: a Poisson(mu) minus a second one. */
int64_t skellam_sample(struct rng *r, double mu);

#endif
