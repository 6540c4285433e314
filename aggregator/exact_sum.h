/*
 * exact_sum: an exact, order-independent sum of real vectors, so that aggregation gives the
 * same bits whatever the order updates arrive in, the number of threads, or the number of
 * MPI ranks the clients are spread over (sim/cluster.h).
 *
 * Floating-point addition is not associative: summing the same updates in another order or
 * in per-thread partial sums changes the last bits, and a federated model amplifies them.
 * Here every addend v = scale * x[i] is converted once to a 128-bit two's-complement
 * fixed-point integer with EXACT_SUM_FRAC_BITS fractional bits (rounded toward -infinity,
 * so the conversion depends on v alone) and summed with integer arithmetic, which is
 * associative and commutative: any grouping of the same addends gives the same bits.
 * Addends must be finite and below EXACT_SUM_MAX in magnitude, so 2^24 of them per
 * coordinate cannot overflow; the resolution is 2^-63 (about 1e-19), far below float32's.
 *
 * The sum of n coordinates lives in 2n 64-bit words (exact_sum_words(): coordinate i is
 * words[2i] + 2^64 words[2i+1]), which another process can add with exact_sum_words_add()
 * (sim/cluster.c does so across MPI ranks). Lifecycle: exact_sum_new(n), exact_sum_add_*()
 * any number of times, exact_sum_merge() partial sums, exact_sum_get() the values;
 * exact_sum_clear() starts over. The struct owns its words; not thread-safe (one per thread,
 * then merge).
 */
#ifndef FEDBITS_AGGREGATOR_EXACT_SUM_H
#define FEDBITS_AGGREGATOR_EXACT_SUM_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

#define EXACT_SUM_FRAC_BITS 63
#define EXACT_SUM_MAX       0x1p40 /* addends must be smaller in magnitude */

struct exact_sum;

/* Returns an owned zero sum of n coordinates, or NULL if out of memory. */
struct exact_sum *exact_sum_new(size_t n);
void exact_sum_free(struct exact_sum *s);

size_t exact_sum_len(const struct exact_sum *s);
/* Sets every coordinate to zero. */
void exact_sum_clear(struct exact_sum *s);
/*
 * Adds scale * x[i] to coordinate first + i for i in [0, n). -ERR_RANGE when an addend is
 * not finite or not below EXACT_SUM_MAX (naming the first such i); the sum is then left
 * partly updated and the caller must discard it.
 */
int exact_sum_add_f32(struct exact_sum *s, size_t first, const float *x, size_t n, double scale,
                      struct errbuf *eb) __attribute__((warn_unused_result));
/* Adds v to coordinate i; -ERR_RANGE as above (nothing added). */
int exact_sum_add_f64(struct exact_sum *s, size_t i, double v, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* dst += src (same length). */
void exact_sum_merge(struct exact_sum *dst, const struct exact_sum *src);
/* Coordinate i, rounded to the nearest double. */
double exact_sum_get(const struct exact_sum *s, size_t i);

/* The raw words (2 per coordinate, see above), for reducing sums held by other processes. */
uint64_t *exact_sum_words(struct exact_sum *s);
/* dst += src over n coordinates of raw words (2n words each). */
void exact_sum_words_add(uint64_t *dst, const uint64_t *src, size_t n);

#endif
