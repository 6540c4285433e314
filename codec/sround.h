/*
 * sround: unbiased stochastic rounding of an affine map of a float vector to integer levels,
 * the inner loop of the min-max quantiser (codec/sq.h) and of QSGD (codec/qsgd.h).
 *
 * For u = (v_i - off)·mul (or (|v_i| - off)·mul with `absval`), which must be >= 0, the
 * level is floor(u) + [frac(u)·2^32 > r_i], clamped to `top`, where r_i is the i-th 32-bit
 * draw of the stream (rng_u32s() order). The AVX2 version (chosen at run time with
 * __builtin_cpu_supports()) computes the same values as the portable one bit for bit:
 * frac(u)·2^32 > r_i is tested as ceil(frac(u)·2^32) > r_i, exact for an integer r_i.
 *
 * Draws are taken SROUND_BATCH at a time from the caller's stream, which is left past
 * the last batch drawn (nothing may draw from it afterwards and expect a fixed position).
 */
#ifndef FEDBITS_CODEC_SROUND_H
#define FEDBITS_CODEC_SROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

#define SROUND_BATCH 4096

/* Levels of v[0..n) into k[0..n); top < 2^16. */
void sround(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
            unsigned top, struct rng *r);

#endif
