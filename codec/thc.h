/*
 * thc: THC-style homomorphic quantisation (Li, Ben Basat, Vargaftik, Lao, Xu, Mitzenmacher,
 * Yu, "THC: Accelerating Distributed Deep Learning Using Tensor Homomorphic Compression",
 * NSDI 2024): the codec whose messages a server, or secure aggregation in a ring, can sum
 * directly, because every client maps its coordinates to small integers of one common table
 * under one common rotation and scale.
 *
 * Algorithm. Rotate with the round's shared signs (y = RHT(x_pad)), multiply by the scale
 * sc = √D/N, where N is a norm every client knows (THC's max over clients of ‖x_c‖; in the
 * plain codec interface a client's own ‖x‖, which it then sends), clamp z = sc·y to [−T, T]
 * with T = Φ⁻¹(1 − 1/(2·THC_OFREQ)), map to u = (z + T)·g/(2T) ∈ [0, g] and round u
 * stochastically (unbiased) to one of its two neighbours in the table
 * 0 = v_0 < v_1 < ... < v_{2^b−1} = g of integers. The message carries the table position k
 * (b bits); the server adds v_k over clients as integers, and recovers the mean rotated
 * coordinate as (Σ v_k/n)·2T/g − T, divided by sc, then inverts the rotation once.
 * Clamping makes the scheme biased for |z| > T; error feedback (codec/error_feedback.h)
 * absorbs it, as in THC.
 *
 * Table. Ours, computed at thc_new() by dynamic programming: over all choices of 2^b points
 * of {0..g} that include 0 and g, the one minimising the stochastic-rounding variance
 * E[(v_{k+1} − u)(u − v_k)] for z ~ N(0,1) restricted to [−T, T] (closed-form normal moments
 * via GSL). g = 2^(b+1) − 2 (30 at b = 4, THC's 4-bit table size) unless p->thc_g names
 * another (THC also uses g = 16 at 3 and 4 bits; 2^b − 1 <= g <= THC_MAX_G). With
 * p->thc_uniform the table is THC's uniform variant: 2^b evenly spaced levels,
 * v_k = k·g/(2^b − 1), g = 2^b − 1 unless named (then a multiple of it).
 *
 * Homomorphic API (the paper's round, plain or secure): thc_encode_ints() gives the D table
 * integers of a client under a given common norm N, thc_decode_sum() turns the integer sum
 * of n clients into the mean vector; thc_ring_bits(n) is the ring width the sum needs,
 * ceil(log2(n·g + 1)). The sum is only meaningful when every client used the same
 * rotation, so create the thc with rotation = shared for this use (the common norm N, the
 * max of the clients' ‖x‖, is exchanged beforehand: 32 bits per client). The integer
 * messages are b-bit table positions on the wire; the ring carries v_k = table[k].
 *
 * Wire format of the plain codec interface (b·D + 32 bits):
 *   OFFSET  SIZE           MEANING
 *   0       4              N = ‖x‖, float32, finite, >= 0
 *   4       ceil(b·D/8)    table positions k, b bits each, LSB-first
 *
 * Lifecycle: thc_new(), any number of calls, thc_free(); owns the table and workspaces; no
 * allocation after new. Not thread-safe. Deterministic.
 */
#ifndef FEDBITS_CODEC_THC_H
#define FEDBITS_CODEC_THC_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

#define THC_OFREQ    32 /* one coordinate in 32 clamped on average: T = 2.1539 */
#define THC_MAX_BITS 8
#define THC_MAX_G    (2 * (1 << THC_MAX_BITS) - 2) /* largest table size g */

struct thc;

int thc_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Returns an owned thc (free with thc_free), NULL if out of memory or the table solver
 * failed. */
struct thc *thc_new(const struct codec_params *p, size_t dim);
void thc_free(struct thc *t);

/* For tests: thc_encode() lists at most n coin ties (default 256, the most) before it
 * settles them; with more it rounds the whole vector again (the same message). */
void thc_set_ties_max(struct thc *t, size_t n);

size_t thc_max_bytes(const struct thc *t);
size_t thc_acc_len(const struct thc *t);

int thc_encode(struct thc *t, uint8_t *out, size_t cap, size_t *len, const float *x,
               const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
int thc_decode_add(struct thc *t, float *acc, const uint8_t *msg, size_t len, double weight,
                   const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sets acc[0..thc_acc_len) to what zeroing it and thc_decode_add() with weight 1 give, bit for
 * bit (struct codec_def.decode_set). */
int thc_decode_set(struct thc *t, float *acc, const uint8_t *msg, size_t len,
                   const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void thc_decode_finish(struct thc *t, float *out, float *acc, const struct codec_link *link);

/* Homomorphic interface */
/* The table: *levels = 2^b entries v_k (increasing, v_0 = 0, last = g); returns g. */
unsigned thc_table(const struct thc *t, const uint16_t **levels);
/* Padded length D: the number of integers per client. */
size_t thc_padded_len(const struct thc *t);
/* Ring bits that hold the sum of n clients' integers exactly. */
unsigned thc_ring_bits(const struct thc *t, size_t n);
/* ints[0..D) <- table integers of x under the common norm (> 0, >= ‖x‖ for no clamping
 * beyond THC's). -ERR_RANGE for a non-finite x or norm. */
int thc_encode_ints(struct thc *t, uint16_t *ints, const float *x, double norm,
                    const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* out[0..dim) <- mean of n clients from sum[0..D) (the integer sums), the same norm and
 * link (client ignored). */
void thc_decode_sum(struct thc *t, float *out, const uint64_t *sum, size_t n, double norm,
                    const struct codec_link *link);
/* out[0..dim) <- one client's integers ints[0..D) decoded alone, exactly as thc_decode_sum()
 * decodes a sum of n = 1 (the client's error-feedback residual). */
void thc_decode_ints(struct thc *t, float *out, const uint16_t *ints, double norm,
                     const struct codec_link *link);

#endif
