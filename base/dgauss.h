/*
 * dgauss: an exact sampler of the discrete Gaussian N_Z(0, sigma^2) on the keyed streams
 * (base/rng.h), after Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
 * Privacy" (NeurIPS 2020), §5, Algorithms 1-3.
 *
 * N_Z(0, s2) puts mass proportional to exp(-y^2 / (2 s2)) on every integer y. The variance s2
 * is held as a rational num/den (dgauss_init() rounds a double up to the nearest multiple of
 * 1/den, den a power of two up to 2^16, so the noise is never below the request); every
 * acceptance test after that is a Bernoulli(exp(-a/b)) on integers a, b, decided by uniform
 * integers from the stream and no floating point (Alg. 1), with proposals from the discrete
 * Laplace (Alg. 2). The draws follow N_Z(0, num/den) exactly, with one stated exception: a
 * proposal |Y| > 2^30 (beyond 64 sigma, since sigma <= 2^24) is rejected outright instead of
 * with probability 1 - exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)) >= 1 - e^-1900, which keeps
 * the integer arithmetic within 128 bits; it changes no probability by more than e^-1900.
 *
 * A `struct dgauss` is a small value (no allocation, nothing to free), read-only after
 * init and shareable between threads; each thread draws from its own struct rng. The same
 * stream position always gives the same draw (deterministic, platform-independent).
 */
#ifndef FEDBITS_BASE_DGAUSS_H
#define FEDBITS_BASE_DGAUSS_H

#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

/* The largest variance dgauss_init() accepts (sigma <= 2^24). */
#define DGAUSS_MAX_VARIANCE 281474976710656.0 /* 2^48 */

struct dgauss {
    uint64_t num; /* variance = num / den, exactly */
    uint64_t den;
    uint64_t t; /* floor(sigma) + 1: the scale of the discrete Laplace proposal */
};

/*
 * Prepares N_Z(0, s2) for s2 in (0, DGAUSS_MAX_VARIANCE], the variance rounded up to a
 * multiple of 1/den. -ERR_INVALID outside that range.
 */
int dgauss_init(struct dgauss *g, double s2, struct errbuf *eb);
/* The variance it samples, num/den (the parameter of the distribution, not its variance,
 * which is slightly below for small s2). */
double dgauss_sigma2(const struct dgauss *g);
/* One draw of N_Z(0, num/den) from r. */
int64_t dgauss_sample(const struct dgauss *g, struct rng *r);
/* One draw of Bernoulli(exp(-a/b)) for integers a >= 0, b >= 1 (Alg. 1; exact). */
int dgauss_bernoulli_exp(struct rng *r, uint64_t a, uint64_t b);
/* One draw of the discrete Laplace with scale t >= 1: mass proportional to exp(-|y|/t)
 * (Alg. 2 with s = 1; exact). */
int64_t dgauss_laplace(struct rng *r, uint64_t t);

#endif
