/*
 * ring: vectors over Z_{2^k}, the ring masked inputs live in (k = 1..64).
 *
 * SecAgg sums masked inputs modulo R = 2^k (Bonawitz et al., CCS 2017, §4). Elements are stored
 * reduced, in uint32_t when k <= 32 or in uint64_t for any k <= 64; every function here keeps its
 * outputs reduced (value < 2^k) provided its inputs are. ring_bits_for() is the sizing rule that
 * makes the sum of n clients' b-bit values exact: k = ceil(log2(n(2^b - 1) + 1)), so the modular
 * sum equals the integer sum.
 *
 * The vector operations are pure hot-path functions over caller-owned arrays: they
 * allocate nothing, take no errbuf and assert 1 <= k <= width (a bad k is a bug in the
 * caller, which validated the scenario). acc and x may be the same array. Thread-safe.
 * Mask expansion fused with addition lives in prg.h.
 */
#ifndef FEDBITS_CRYPTO_RING_H
#define FEDBITS_CRYPTO_RING_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

#define RING_BITS_MAX 64

/* Sizing */
/* 2^k - 1 for 1 <= k <= 64. */
uint64_t ring_mask(unsigned k);
/*
 * Sets *k to ceil(log2(n(2^b - 1) + 1)), the smallest ring width in which the sum of n
 * values of b bits cannot wrap. -ERR_INVALID for n = 0 or b outside 1..64, -ERR_RANGE when
 * the result exceeds RING_BITS_MAX.
 */
int ring_bits_for(unsigned *k, uint64_t n, unsigned b, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Arithmetic: acc[i] = acc[i] +/- x[i] mod 2^k, and reduction of arbitrary words */
void ring_add_u32(uint32_t *acc, const uint32_t *x, size_t n, unsigned k);
void ring_sub_u32(uint32_t *acc, const uint32_t *x, size_t n, unsigned k);
void ring_add_u64(uint64_t *acc, const uint64_t *x, size_t n, unsigned k);
void ring_sub_u64(uint64_t *acc, const uint64_t *x, size_t n, unsigned k);
/* v[i] = v[i] mod 2^k (for values computed outside the ring, e.g. codec integers). */
void ring_reduce_u32(uint32_t *v, size_t n, unsigned k);
void ring_reduce_u64(uint64_t *v, size_t n, unsigned k);

#endif
