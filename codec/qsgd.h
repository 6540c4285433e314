/*
 * qsgd: QSGD stochastic quantisation (Alistarh, Grubic, Li, Tomioka, Vojnovic, NeurIPS 2017)
 * in two variants, s = 2^b − 1 levels per sign, no rotation:
 * - CODEC_QSGD, the variant QUIC-FL (Ben-Basat et al.) uses as a baseline: the max-abs (L∞)
 *   norm m = max|x_i| and fixed-length fields;
 * - CODEC_QSGD_L2, the paper's own: the L2 norm m = ‖x‖ (§3.1) and its Elias coding of the
 *   nonzero levels (§3.2), counted exactly: the message is as long as the code.
 *
 * x_i -> m·sign(x_i)·ξ_i/s with ξ_i = floor(s|x_i|/m) + Bernoulli(frac), unbiased; vNMSE <=
 * min(d/s², √d/s) for the L2 norm (paper Lemma 3.1). The encoder's private stream gives one
 * coin of codec/sround.h per coordinate (a 16-bit draw; E[ξ_i] exceeds s|x_i|/m by under
 * 2^-48).
 *
 * Wire format, qsgd ((b+1)·d + 32 bits):
 *   OFFSET  SIZE               MEANING
 *   0       4                  m, float32, finite, >= 0
 *   4       ceil(d(b+1)/8)     per coordinate (ξ_i << 1 | negative), b+1 bits, LSB-first
 * Wire format, qsgd_l2 (LSB-first bit stream after the norm; γ(n) is the Elias gamma code
 * of n >= 1: floor(log2 n) zero bits, a one, then the low floor(log2 n) bits of n):
 *   0       4                  m = ‖x‖, float32, finite, >= 0
 *   4       ...                γ(k + 1) with k the number of nonzero ξ_i; then per nonzero,
 *                              in increasing i: γ(i − i_prev) (i_prev = index after the
 *                              previous nonzero, 0 at first, so the gap plus one), the sign
 *                              bit (1 = negative), γ(ξ_i); zero bits to the byte boundary
 *
 * Lifecycle: qsgd_new(), encode/decode, qsgd_free(); no allocation in encode/decode. b = 1..15.
 */
#ifndef FEDBITS_CODEC_QSGD_H
#define FEDBITS_CODEC_QSGD_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

struct qsgd;

int qsgd_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
struct qsgd *qsgd_new(const struct codec_params *p, size_t dim);
void qsgd_free(struct qsgd *q);

size_t qsgd_max_bytes(const struct qsgd *q);
size_t qsgd_acc_len(const struct qsgd *q);

int qsgd_encode(struct qsgd *q, uint8_t *out, size_t cap, size_t *len, const float *x,
                const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
int qsgd_decode_add(struct qsgd *q, float *acc, const uint8_t *msg, size_t len, double weight,
                    const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* out[0..d) <- the decoded message: qsgd_decode_add() with weight 1 into zeros, one pass. */
int qsgd_decode_set(struct qsgd *q, float *out, const uint8_t *msg, size_t len,
                    const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void qsgd_decode_finish(struct qsgd *q, float *out, float *acc, const struct codec_link *link);

#endif
