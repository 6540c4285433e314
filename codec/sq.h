/*
 * sq: min-max stochastic uniform quantisation of a float vector, the quantiser of the
 * "Hadamard + SQ" baseline (Suresh, Yu, Kumar, McMahan, ICML 2017, π_srk) and of
 * Kashin + SQ.
 *
 * 2^b levels evenly spaced from min(v) to max(v); each v_i is rounded to one of its two
 * neighbouring levels at random so that the expectation is v_i (unbiased). Randomness comes
 * from the caller's stream (the encoder's private stream), one coin of codec/sround.h per
 * coordinate (a 16-bit draw; unbiased to 2^-48 of a level).
 *
 * Wire format:
 *   OFFSET  SIZE             MEANING
 *   0       4                min, float32, finite
 *   4       4                max, float32, finite, >= min
 *   8       ceil(n·b/8)      level index of each coordinate, b bits, LSB-first
 *
 * Pure functions over caller buffers; idx is a caller workspace of n entries.
 */
#ifndef FEDBITS_CODEC_SQ_H
#define FEDBITS_CODEC_SQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

#define SQ_HEADER_BYTES 8
#define SQ_MAX_BITS     16

/* Message bytes for n coordinates at b bits. */
size_t sq_bytes(size_t n, unsigned b);
/* Quantises v[0..n) into out[0..sq_bytes(n, b)) (cap checked). */
int sq_encode(uint8_t *out, size_t cap, uint16_t *idx, const float *v, size_t n, unsigned b,
              struct rng *r, struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * sq_encode() of v whose minimum and maximum (the first of equal values, as sq_range()
 * gives them) are known: the levels and their packing a batch at a time.
 */
int sq_encode_ranged(uint8_t *out, size_t cap, uint16_t *idx, const float *v, size_t n, unsigned b,
                     float lo, float hi, struct rng *r, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* *lo, *hi = the minimum and maximum of v[0..n) (n >= 1; the first of equal values); false
 * when some v_i is not finite. */
bool sq_range(float *lo, float *hi, const float *v, size_t n);
/*
 * The header of a message of exactly sq_bytes(n, b) bytes, checked: *lo, *hi, and for
 * b <= SQ_LUT_BITS lut[k] = the value of level k (2^b entries), the floats sq_decode()
 * gives.
 */
#define SQ_LUT_BITS 8
int sq_decode_header(float *lo, float *hi, float *lut, const uint8_t *msg, size_t len, size_t n,
                     unsigned b, struct errbuf *eb) __attribute__((warn_unused_result));
/* Decodes a message of exactly sq_bytes(n, b) bytes into v[0..n). */
int sq_decode(float *v, uint16_t *idx, const uint8_t *msg, size_t len, size_t n, unsigned b,
              struct errbuf *eb) __attribute__((warn_unused_result));

#endif
