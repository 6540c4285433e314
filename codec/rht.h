/*
 * rht: the randomized Hadamard transform every rotation-based codec uses (DRIVE, Vargaftik
 * et al., NeurIPS 2021, §4; EDEN, ICML 2022, §3).
 *
 * The forward rotation of a vector x of dimension d is y = H·(s ⊙ x_pad)/√D, where D is the
 * smallest power of two >= d, x_pad is x followed by D - d zeros, s is a vector of D
 * Rademacher signs and H the unnormalised Sylvester/Walsh–Hadamard matrix in natural order
 * (in-place butterflies on pairs (j, j+h), h = 1, 2, 4, ...; (a, b) -> (a+b, a-b)). H/√D is
 * orthonormal and its own inverse, so x_pad = s ⊙ (H·y/√D).
 *
 * Signs are a bit vector of rht_sign_bytes(D) bytes, bit i (LSB-first in byte i/8) set
 * meaning s_i = -1. rht_signs_draw() takes them from a keyed stream (base/rng.h), so both
 * ends of a link derive the same rotation from (seed, RNG_PURPOSE_CODEC_SHARED, round,
 * client) without sending it.
 *
 * Everything works in place on caller-owned float arrays of D entries and allocates
 * nothing. The butterflies are cache-blocked (L1 blocks of 2^12 floats, L2 chunks of 2^17)
 * and use 8-wide vectors, compiled twice: for AVX2 and for the baseline ISA, picked at run
 * time with __builtin_cpu_supports(). Sums are formed in the same order in both versions,
 * so the result is bit-identical whichever runs. Reentrant; no state.
 */
#ifndef FEDBITS_CODEC_RHT_H
#define FEDBITS_CODEC_RHT_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

/* Sizes */
/* Smallest power of two >= d (d >= 1). */
size_t rht_padded_len(size_t d);
/* Bytes of a sign vector for D coordinates. */
size_t rht_sign_bytes(size_t D);

/* Signs */
/* Fills signs[0..rht_sign_bytes(D)) with the next bytes of r (i.i.d. fair signs). */
void rht_signs_draw(uint8_t *signs, size_t D, struct rng *r);
/*
 * rht_signs_draw() from a stream just initialised with key (rng_init()): the first bytes
 * of its ChaCha20 keystream (nonce 0, block 0 on, base/rng.h), computed with
 * rng_chacha_blocks()'s vector kernel, about four times faster; the same bytes.
 */
void rht_signs_draw_key(uint8_t *signs, size_t D, const struct rng_key *key);
/* +1.0f or -1.0f: the sign of coordinate i. */
float rht_sign(const uint8_t *signs, size_t i);

/* Transforms (D a power of two; v has D entries) */
/* v <- H·(scale · s ⊙ v); signs may be NULL for s = 1. The unnormalised core. */
void rht_fwht(float *v, size_t D, const uint8_t *signs, float scale);
/* v <- H·(s ⊙ v)/√D (the forward rotation of an already padded vector). */
void rht_forward(float *v, size_t D, const uint8_t *signs);
/*
 * y[0..D) <- H·(s ⊙ x_pad)/√D for x[0..d) (d <= D), loading x block by block inside the
 * transform (no separate copy pass); returns ‖x‖² (float partial sums per block, summed in
 * double; summed again in double when those overflow, so any finite x has a finite norm).
 * x and y must not overlap.
 */
double rht_forward_from(float *y, const float *x, size_t d, size_t D, const uint8_t *signs);
/*
 * A consumer of the forward rotation's output, fed while it sits in cache: begin(ctx, ‖x‖²)
 * once the norm is known (before the last butterfly pass), then put(ctx, y, off, n) for
 * runs y[0..n) holding rotated coordinates off..off+n. The runs tile [0, D); within each
 * aligned group of RHT_RUN coordinates they come in increasing order (groups in any order).
 */
#define RHT_RUN 1024
struct rht_sink {
    void (*begin)(void *ctx, double norm2);
    void (*put)(void *ctx, const float *y, size_t off, size_t n);
    void *ctx;
};
/* Flags of rht_forward_sink() and rht_inverse_add_load(), for tests: the portable kernel,
 * the unfused passes. RHT_SET (rht_inverse_add_load() only): acc[0..d) is not read, the
 * result is that of acc zeroed first, bit for bit. */
#define RHT_PORTABLE 1u
#define RHT_UNFUSED  2u
#define RHT_SET      4u
#define RHT_AVX2     8u /* rht_forward_norm() only: AVX2 at most (it has an AVX-512 kernel) */
/*
 * rht_forward_from() that also hands y to sink, the last pass slab by slab (see struct
 * rht_sink); y holds the whole rotated vector on return. The same bits, and the same sink
 * calls up to the runs' order, whatever the flags.
 */
double rht_forward_sink(float *y, const float *x, size_t d, size_t D, const uint8_t *signs,
                        const struct rht_sink *sink, unsigned flags);
/*
 * rht_forward_from() (the same y), returning Σ x_i² for i < d as one chain of double
 * additions in coordinate order, ((x_0² + x_1²) + x_2²) + ..., each term (double)x_i·x_i,
 * bit for bit that loop's result, advanced beside the butterflies so that its latency
 * hides behind them. With sink (else NULL), as rht_forward_sink() but begin() gets that
 * in-order sum. flags: RHT_PORTABLE, RHT_UNFUSED, RHT_AVX2 (the same bits and sink calls,
 * up to the runs' order).
 */
double rht_forward_norm(float *y, const float *x, size_t d, size_t D, const uint8_t *signs,
                        const struct rht_sink *sink, unsigned flags);
/* v <- s ⊙ (H·v)/√D (the inverse rotation). */
void rht_inverse(float *v, size_t D, const uint8_t *signs);
/*
 * acc[i] += weight · (s ⊙ H·v/√D)_i for i < d: inverse-rotates v and adds its first d
 * entries into acc in one pass. v is used as workspace and left undefined.
 */
void rht_inverse_add(float *acc, size_t d, float *v, size_t D, const uint8_t *signs, float weight);
/*
 * Fills dst[0..n) with coordinates off..off+n of the vector to transform (off a multiple of
 * n; n a power of two, at most 2^11 unless off = 0 and n = D).
 */
typedef void rht_load_fn(void *ctx, float *dst, size_t off, size_t n);
/*
 * rht_inverse_add() of the vector v that load (when not NULL; else ws already holds it)
 * produces, ws being D floats of workspace left undefined. The blocks are loaded inside the
 * transform while they sit in L1, and the last butterfly pass adds its outputs (signs
 * flipped) straight into acc: one memory pass fewer on each side, and bit for bit the
 * result of load, rht_inverse_add(), whatever the flags.
 */
void rht_inverse_add_load(float *acc, size_t d, float *ws, size_t D, const uint8_t *signs,
                          float weight, rht_load_fn *load, void *ctx, unsigned flags);

#endif
