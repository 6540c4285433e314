/*
 * dgauss: Canonne, Kamath, Steinke (NeurIPS 2020), Algorithms 1-3, on integers only.
 *
 * Bernoulli(p) for a rational p = n/d is "a uniform integer below d is below n"; products of
 * independent Bernoullis multiply their probabilities, which Algorithm 1's Bernoulli(gamma/K)
 * uses as Bernoulli(gamma) and Bernoulli(1/K). The exponent of Algorithm 3's acceptance test,
 * (|Y| - s2/t)^2 / (2 s2) with s2 = a/b, is m^2 / (2 a b t^2) with m = b t |Y| - a; with
 * a <= 2^48, b <= 2^16, t <= 2^24 + 1 and |Y| <= 2^30, |m| < 2^63 and both terms fit in 128
 * bits (base/dgauss.h states the one rejection this bound costs).
 */
#include "base/dgauss.h"

#include <math.h>
#include <stdbool.h>

#include "base/banned.h"

__extension__ typedef unsigned __int128 dgauss_u128;
__extension__ typedef __int128 dgauss_i128;

#define DGAUSS_MAX_Y ((uint64_t)1 << 30)

/* A uniform integer in [0, n), n >= 1, unbiased by rejection on the bit length of n - 1. */
static dgauss_u128
dgauss_below(struct rng *r, dgauss_u128 n)
{
    if (n >> 64 == 0)
        return rng_below(r, (uint64_t)n);
    dgauss_u128 top = n - 1;
    int bits = 64;
    while (bits < 128 && (top >> bits) != 0)
        bits++;
    dgauss_u128 mask = bits >= 128 ? ~(dgauss_u128)0 : (((dgauss_u128)1 << bits) - 1);
    for (;;) {
        uint64_t lo = rng_u64(r);
        uint64_t hi = rng_u64(r);
        dgauss_u128 v = (((dgauss_u128)hi << 64) | lo) & mask;
        if (v < n)
            return v;
    }
}

/* Bernoulli(exp(-n/d)) for n <= d (Alg. 1, gamma in [0, 1]). */
static int
dgauss_bexp_unit(struct rng *r, dgauss_u128 n, dgauss_u128 d)
{
    uint64_t k = 1;
    for (;;) {
        /* Bernoulli(gamma / k) as Bernoulli(gamma) and Bernoulli(1 / k) */
        bool a = dgauss_below(r, d) < n && rng_below(r, k) == 0;
        if (!a)
            break;
        k++;
    }
    return (int)(k & 1);
}

/* Bernoulli(exp(-n/d)) for any n >= 0, d >= 1: one Bernoulli(exp(-1)) per unit of the
 * integer part (stopping at the first failure), then the fractional part (Alg. 1). */
static int
dgauss_bexp(struct rng *r, dgauss_u128 n, dgauss_u128 d)
{
    dgauss_u128 whole = n / d;
    for (dgauss_u128 i = 0; i < whole; i++) {
        if (!dgauss_bexp_unit(r, 1, 1))
            return 0;
    }
    return dgauss_bexp_unit(r, n % d, d);
}

int
dgauss_bernoulli_exp(struct rng *r, uint64_t a, uint64_t b)
{
    return dgauss_bexp(r, a, b);
}

int64_t
dgauss_laplace(struct rng *r, uint64_t t)
{
    for (;;) {
        uint64_t u = rng_below(r, t);
        if (!dgauss_bexp(r, u, t))
            continue;
        uint64_t v = 0;
        while (dgauss_bexp_unit(r, 1, 1))
            v++;
        uint64_t x = u + t * v;
        bool negative = (rng_u32(r) & 1) != 0;
        if (negative && x == 0)
            continue;
        return negative ? -(int64_t)x : (int64_t)x;
    }
}

int
dgauss_init(struct dgauss *g, double s2, struct errbuf *eb)
{
    if (!(s2 > 0) || s2 > DGAUSS_MAX_VARIANCE)
        return errbuf_set(eb, -ERR_INVALID, "discrete Gaussian variance %g outside (0, 2^48]", s2);
    uint64_t den = UINT64_C(1) << 16;
    while (den > 1 && s2 * (double)den > DGAUSS_MAX_VARIANCE)
        den >>= 1;
    double num = ceil(s2 * (double)den);
    g->num = num < 1 ? 1 : (uint64_t)num;
    g->den = den;
    /* t = floor(sqrt(num / den)) + 1, the integer square root checked exactly */
    uint64_t s = (uint64_t)floor(sqrt((double)g->num / (double)g->den));
    while (s > 0 && (dgauss_u128)s * s * den > g->num)
        s--;
    while ((dgauss_u128)(s + 1) * (s + 1) * den <= g->num)
        s++;
    g->t = s + 1;
    return 0;
}

double
dgauss_sigma2(const struct dgauss *g)
{
    return (double)g->num / (double)g->den;
}

int64_t
dgauss_sample(const struct dgauss *g, struct rng *r)
{
    dgauss_u128 bt = (dgauss_u128)g->den * g->t;
    dgauss_u128 den = 2 * (dgauss_u128)g->num * g->den * g->t * g->t;
    for (;;) {
        int64_t y = dgauss_laplace(r, g->t);
        uint64_t ay = y < 0 ? (uint64_t)(-y) : (uint64_t)y;
        if (ay > DGAUSS_MAX_Y)
            continue;
        dgauss_i128 m = (dgauss_i128)(bt * ay) - (dgauss_i128)g->num;
        dgauss_u128 am = (dgauss_u128)(m < 0 ? -m : m);
        if (dgauss_bexp(r, am * am, den))
            return y;
    }
}
