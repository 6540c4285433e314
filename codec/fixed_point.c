/* fixed_point: float vectors into Z_{2^k} and back (see fixed_point.h). */
#include "codec/fixed_point.h"

#include <math.h>

#include "base/banned.h"

/* Bits of v (0 for v = 0). */
static unsigned
fixed_point_bit_length(uint64_t v)
{
    unsigned b = 0;
    while (v != 0) {
        b++;
        v >>= 1;
    }
    return b;
}

int
fixed_point_init(struct fixed_point *fp, unsigned frac_bits, double range, uint64_t n_max,
                 struct errbuf *eb)
{
    if (frac_bits < 1 || frac_bits > FIXED_POINT_FRAC_BITS_MAX)
        return errbuf_set(eb, -ERR_INVALID, "fixed point: 'frac_bits' = %u outside 1..%u",
                          frac_bits, FIXED_POINT_FRAC_BITS_MAX);
    if (!(range > 0) || !isfinite(range))
        return errbuf_set(eb, -ERR_INVALID, "fixed point: 'range' = %g must be positive", range);
    if (n_max < 1)
        return errbuf_set(eb, -ERR_INVALID, "fixed point: 'n_max' must be at least 1");
    double q = ceil(ldexp(range, (int)frac_bits));
    /* 2Q < 2^52 keeps every scaled value and q + Q exact in a double. */
    if (q >= ldexp(1.0, 51))
        return errbuf_set(eb, -ERR_RANGE, "fixed point: range %g at %u fraction bits is too wide",
                          range, frac_bits);
    uint64_t offset = (uint64_t)q;
    unsigned b = fixed_point_bit_length(2 * offset);
    uint64_t vmax = (UINT64_C(1) << b) - 1; /* largest b-bit value */
    uint64_t lim = UINT64_C(1) << FIXED_POINT_RING_BITS_MAX;
    if (n_max > (lim - 1) / vmax)
        return errbuf_set(eb, -ERR_RANGE,
                          "fixed point: %llu clients of %u bits need more than %u ring bits",
                          (unsigned long long)n_max, b, FIXED_POINT_RING_BITS_MAX);
    *fp = (struct fixed_point){
        .frac_bits = frac_bits,
        .range = range,
        .offset = offset,
        .value_bits = b,
        .n_max = n_max,
        .ring_bits = fixed_point_bit_length(n_max * vmax),
    };
    return 0;
}

unsigned
fixed_point_ring_bits(const struct fixed_point *fp)
{
    return fp->ring_bits;
}

uint64_t
fixed_point_payload_bits(const struct fixed_point *fp, size_t d)
{
    return (uint64_t)fp->ring_bits * (uint64_t)d;
}

/* Stochastic rounding of the clipped value v, offset into [0, 2Q]. */
static uint64_t
fixed_point_one(const struct fixed_point *fp, double v, struct rng *r)
{
    if (v > fp->range)
        v = fp->range;
    if (v < -fp->range)
        v = -fp->range;
    double s = ldexp(v, (int)fp->frac_bits);
    double lo = floor(s);
    double q = lo + (rng_uniform(r) < s - lo ? 1.0 : 0.0);
    /* |q| <= Q = ceil(range 2^f), so q + Q lies in [0, 2Q]. */
    return (uint64_t)(q + (double)fp->offset);
}

int
fixed_point_encode(const struct fixed_point *fp, uint64_t *out, const float *x, size_t d,
                   struct rng *r, struct errbuf *eb)
{
    for (size_t i = 0; i < d; i++) {
        if (!isfinite(x[i]))
            return errbuf_set(eb, -ERR_RANGE, "fixed point: coordinate %zu is not finite", i);
        out[i] = fixed_point_one(fp, (double)x[i], r);
    }
    return 0;
}

int
fixed_point_encode_weighted(const struct fixed_point *fp, uint64_t *out, const float *x, size_t d,
                            double w, struct rng *r, struct errbuf *eb)
{
    if (!(w >= 0 && w <= fp->range))
        return errbuf_set(eb, -ERR_RANGE, "fixed point: weight %g outside [0, %g]", w, fp->range);
    for (size_t i = 0; i < d; i++) {
        if (!isfinite(x[i]))
            return errbuf_set(eb, -ERR_RANGE, "fixed point: coordinate %zu is not finite", i);
        out[i] = fixed_point_one(fp, w * (double)x[i], r);
    }
    out[d] = fixed_point_one(fp, w, r);
    return 0;
}

int
fixed_point_decode_sum(const struct fixed_point *fp, double *out, const uint64_t *sum, size_t d,
                       uint64_t n_clients, struct errbuf *eb)
{
    if (n_clients < 1 || n_clients > fp->n_max)
        return errbuf_set(eb, -ERR_INVALID, "fixed point: %llu clients outside 1..%llu",
                          (unsigned long long)n_clients, (unsigned long long)fp->n_max);
    /* n Q and the sums are < 2^62: exact in int64. */
    int64_t base = (int64_t)(n_clients * fp->offset);
    uint64_t top = 2 * n_clients * fp->offset;
    for (size_t i = 0; i < d; i++) {
        if (sum[i] > top)
            return errbuf_set(eb, -ERR_RANGE, "fixed point: sum %zu exceeds %llu clients' range", i,
                              (unsigned long long)n_clients);
        out[i] = ldexp((double)((int64_t)sum[i] - base), -(int)fp->frac_bits);
    }
    return 0;
}

int
fixed_point_decode_weighted(const struct fixed_point *fp, double *out, const uint64_t *sum,
                            size_t d, uint64_t n_clients, struct errbuf *eb)
{
    double w;
    int rc = fixed_point_decode_sum(fp, &w, sum + d, 1, n_clients, eb);
    if (rc < 0)
        return rc;
    if (!(w > 0))
        return errbuf_set(eb, -ERR_RANGE, "fixed point: decoded total weight %g is not positive",
                          w);
    rc = fixed_point_decode_sum(fp, out, sum, d, n_clients, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < d; i++)
        out[i] /= w;
    return 0;
}
