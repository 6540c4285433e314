/*
 * kashin_sq: Kashin's representation followed by min-max stochastic quantisation
 * (Lyubarskii & Vershynin 2010; Caldas et al. 2018; Safaryan et al. 2020; the "Kashin"
 * baseline of DRIVE and QUIC-FL).
 *
 * Frame: the first d columns of an RHT of size D_k (D_k = 2d when d is a power of two,
 * else the next power of two, doubled when d/D_k > 0.85). Starting from coefficients a = 0,
 * residual r = x and level M = ‖x‖/√D_k, each of KASHIN_SQ_ITERS iterations rotates the
 * padded residual, clips it to [−M, M], adds the clipped vector to a, subtracts its inverse
 * rotation (first d entries) from r, and multiplies M by 0.9. The D_k coefficients are then
 * quantised with codec/sq.h; the receiver outputs RHT^-1(â)[:d]. The residual left after
 * the last iteration is not sent (the bias of the few-iteration variant).
 *
 * Wire format: sq's format for D_k coordinates (b·D_k + 64 bits). b = 1..16. Shared
 * randomness: D_k rotation signs from the link's shared stream.
 *
 * Lifecycle: kashin_sq_new(), encode/decode, kashin_sq_free(); no allocation in
 * encode/decode. Not thread-safe. Deterministic.
 */
#ifndef FEDBITS_CODEC_KASHIN_SQ_H
#define FEDBITS_CODEC_KASHIN_SQ_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

#define KASHIN_SQ_ITERS 3

struct kashin_sq;

int kashin_sq_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
struct kashin_sq *kashin_sq_new(const struct codec_params *p, size_t dim);
void kashin_sq_free(struct kashin_sq *k);
/* The frame length D_k for dimension d. */
size_t kashin_sq_frame_len(size_t d);

size_t kashin_sq_max_bytes(const struct kashin_sq *k);
size_t kashin_sq_acc_len(const struct kashin_sq *k);

int kashin_sq_encode(struct kashin_sq *k, uint8_t *out, size_t cap, size_t *len, const float *x,
                     const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
int kashin_sq_decode_add(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len,
                         double weight, const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void kashin_sq_decode_finish(struct kashin_sq *k, float *out, float *acc,
                             const struct codec_link *link);

#endif
