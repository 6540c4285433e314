/*
 * kashin_sq: Kashin's representation followed by min-max stochastic quantisation
 * (Lyubarskii & Vershynin, "Uncertainty principles and vector quantization", IEEE Trans.
 * Inf. Theory 2010; Caldas et al. 2018; Safaryan, Shulgin & Richtárik, "Uncertainty
 * principle for communication compression in distributed and federated learning", 2021;
 * the "Kashin" baseline of DRIVE and QUIC-FL).
 *
 * Frame: the first d columns F of an RHT of size D_k (D = rht_padded_len(d); D_k = 2D
 * when d is a power of two or d/D > 0.85, else D_k = D), F = H·S/√D_k restricted to those
 * columns (F^T·F = I_d). Starting from coefficients a = 0, residual r = x and level
 * L = ‖x‖/√D_k, each of KASHIN_SQ_ITERS iterations clips F·r to [−L, L] coordinate-wise
 * (c), adds c to a, subtracts F^T·c from r and multiplies L by 0.9 (the truncation
 * iteration of Lyubarskii & Vershynin). The D_k coefficients are then quantised with
 * codec/sq.h's quantiser; the receiver outputs F^T·â. The residual left after the last
 * iteration is not sent (the bias of the few-iteration variant).
 *
 * How it is computed. With D_k = 2D the padded input occupies the first half, so F·r is
 * one rotation of size D duplicated (y, y)/√2, a is (α, α), and F^T·c = S·H·(c1 + c2)/√(2D):
 * every transform is of size D. When moreover d = D (d a power of two), F^T·F = I and
 * F·F^T·(c, c) = (c, c): the iterations act on each rotated coordinate alone (c_t =
 * clip(y_t, L_t), y_{t+1} = y_t − c_t), so the encoder runs one transform and applies the
 * three clippings per coordinate inside its last pass (rht_forward_sink). Otherwise each
 * iteration is a forward rotation with the clipping fused into its last pass and, but for
 * the last, an inverse rotation that re-clips its input as it loads it. The decoder
 * unpacks the fields inside the inverse rotation (rht_inverse_add_load); for D_k = 2D it
 * transforms the sum of the two copies, each field pair decoded as
 * (float)(2·min + step·(k1 + k2)).
 *
 * Wire format: sq's format for D_k coordinates (b·D_k + 64 bits); coins from the private
 * stream a batch of SROUND_BATCH coordinates of α at a time, both copies of the batch in
 * turn. b = 1..16. Shared randomness: the rotation's D signs, from the link's shared
 * stream: its fast keystream with one rotation per client, its ChaCha20 bytes
 * (rht_signs_draw(), D_k of them) with a shared rotation.
 *
 * Lifecycle: kashin_sq_new(), encode/decode, kashin_sq_free(); no allocation in
 * encode/decode. Not thread-safe. Deterministic; the AVX2 kernels (chosen at run time)
 * give the portable code's bits.
 */
#ifndef FEDBITS_CODEC_KASHIN_SQ_H
#define FEDBITS_CODEC_KASHIN_SQ_H

#include <stdbool.h>
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
/* Use the portable clipping kernel and transform (tests: the same bytes as AVX2). */
void kashin_sq_set_portable(struct kashin_sq *k, bool portable);
/* The frame length D_k for dimension d. */
size_t kashin_sq_frame_len(size_t d);

size_t kashin_sq_max_bytes(const struct kashin_sq *k);
size_t kashin_sq_acc_len(const struct kashin_sq *k);

int kashin_sq_encode(struct kashin_sq *k, uint8_t *out, size_t cap, size_t *len, const float *x,
                     const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Refuses (-ERR_CORRUPT) a message whose weighted values could exceed CODEC_MAX_ABS, from its
 * range fields before decoding (struct codec_def.bounded). */
int kashin_sq_decode_add(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len,
                         double weight, const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sets acc[0..kashin_sq_acc_len) to what zeroing it and kashin_sq_decode_add() with weight 1
 * give, bit for bit (decode_set). */
int kashin_sq_decode_set(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len,
                         const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void kashin_sq_decode_finish(struct kashin_sq *k, float *out, float *acc,
                             const struct codec_link *link);

#endif
