/*
 * qsgd: QSGD stochastic quantisation (Alistarh, Grubic, Li, Tomioka, Vojnovic, NeurIPS 2017)
 * in the variant QUIC-FL uses as a baseline: the max-abs (L∞) norm instead of L2, s = 2^b − 1
 * levels per sign (QUIC-FL, ICML 2024, §5). No rotation.
 *
 * x_i -> m·sign(x_i)·ξ_i/s with m = max|x_i| and ξ_i = floor(s|x_i|/m) + Bernoulli(frac),
 * unbiased. The encoder's private stream gives one 32-bit draw per coordinate.
 *
 * Wire format ((b+1)·d + 32 bits):
 *   OFFSET  SIZE               MEANING
 *   0       4                  m, float32, finite, >= 0
 *   4       ceil(d(b+1)/8)     per coordinate (ξ_i << 1 | negative), b+1 bits, LSB-first
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
void qsgd_decode_finish(struct qsgd *q, float *out, float *acc, const struct codec_link *link);

#endif
