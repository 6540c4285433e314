/*
 * fixed_point: the fixed-point embedding of float vectors into Z_{2^k} for secure
 * aggregation of codecs that are not integer-linear (EDEN, QUIC-FL with per-client scales;
 * the ring of Bonawitz et al., CCS 2017, §4; docs/secure.md).
 *
 * Client side: each coordinate x is clipped to [-range, range], scaled by 2^f and
 * stochastically rounded, q = floor(x 2^f) + [U < frac(x 2^f)], so E[q] = x 2^f exactly
 * for unclipped x; then offset into unsigned, e = q + Q with Q = ceil(range 2^f), so
 * 0 <= e <= 2Q < 2^b with b = value_bits = bits of 2Q. Server side: the ring sum S of n
 * clients' e is the integer sum as long as n <= n_max, because k = ring_bits_for(n_max, b)
 * (k = ceil(log2(n_max (2^b - 1) + 1))); it decodes to (S - n Q) / 2^f. Error: one client's
 * round trip is within 2^-f of its clipped value; the decoded sum of n clients is within
 * n 2^-f of the sum of the clipped values (and unbiased).
 *
 * Weighted FedAvg: the client sends w x_i for the d coordinates and w itself as coordinate
 * d (fixed_point_encode_weighted, d + 1 ring elements); the server divides by the decoded
 * Σ w. Weights must lie in [0, range] (normalise them, e.g. by the largest sample count).
 *
 * Bits: every coordinate costs k = fixed_point_ring_bits() bits on the wire;
 * fixed_point_payload_bits(d) counts them. A struct fixed_point is a small caller-owned
 * value type (no allocation); encode draws from a caller-given keyed stream r
 * (RNG_PURPOSE_CODEC_PRIVATE), so results are deterministic. Thread-safe given distinct r.
 */
#ifndef FEDBITS_CODEC_FIXED_POINT_H
#define FEDBITS_CODEC_FIXED_POINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

#define FIXED_POINT_FRAC_BITS_MAX 40
#define FIXED_POINT_RING_BITS_MAX 62 /* keeps n Q and S exactly representable in int64 */

struct fixed_point {
    unsigned frac_bits;  /* f: resolution 2^-f */
    double range;        /* inputs are clipped to [-range, range] */
    uint64_t offset;     /* Q = ceil(range 2^f) */
    unsigned value_bits; /* b: bits of 2Q, the largest encoded value */
    uint64_t n_max;      /* clients whose sum must not wrap */
    unsigned ring_bits;  /* k = ceil(log2(n_max (2^b - 1) + 1)) */
};

/* Setup */
/*
 * Fills fp for precision frac_bits (1..FIXED_POINT_FRAC_BITS_MAX), range > 0 (finite) and
 * up to n_max >= 1 clients. -ERR_INVALID for bad parameters, -ERR_RANGE when range 2^f
 * reaches 2^51 (values must stay exact in a double) or the ring would exceed
 * FIXED_POINT_RING_BITS_MAX bits.
 */
int fixed_point_init(struct fixed_point *fp, unsigned frac_bits, double range, uint64_t n_max,
                     struct errbuf *eb) __attribute__((warn_unused_result));

/* Sizes */
unsigned fixed_point_ring_bits(const struct fixed_point *fp);
/* Payload bits of d coordinates (k d). */
uint64_t fixed_point_payload_bits(const struct fixed_point *fp, size_t d);

/* Client */
/* out[i] = encoding of x[i] for i < d. -ERR_RANGE for a non-finite x (index named). */
int fixed_point_encode(const struct fixed_point *fp, uint64_t *out, const float *x, size_t d,
                       struct rng *r, struct errbuf *eb) __attribute__((warn_unused_result));
/* out[0..d) = encoding of w x[i], out[d] = encoding of w; w in [0, range]. */
int fixed_point_encode_weighted(const struct fixed_point *fp, uint64_t *out, const float *x,
                                size_t d, double w, struct rng *r, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Server */
/*
 * out[i] = decoded sum of n_clients clients' coordinate i from the ring sum sum[i].
 * -ERR_INVALID for n_clients = 0 or above n_max; -ERR_RANGE when a sum exceeds n 2Q.
 */
int fixed_point_decode_sum(const struct fixed_point *fp, double *out, const uint64_t *sum, size_t d,
                           uint64_t n_clients, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Weighted mean: out[i] = decoded sum[i] / decoded sum[d]. -ERR_RANGE when Σ w <= 0. */
int fixed_point_decode_weighted(const struct fixed_point *fp, double *out, const uint64_t *sum,
                                size_t d, uint64_t n_clients, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
