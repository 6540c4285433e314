/*
 * turboquant: TurboQuant_prod (Zandieh, Daliri, Hadian, Mirrokni, 2025), the comparison
 * point of "A Note on TurboQuant and the Earlier DRIVE/EDEN Line of Work" (arXiv
 * 2604.18555). TurboQuant_mse itself is EDEN with the fixed
 * scale ‖x‖/√D and is served by codec/eden.h (EDEN_FIXED_SCALE).
 *
 * TurboQuant_prod(b): a (b−1)-bit TurboQuant_mse message (nothing when b = 1), then QJL on
 * the residual r = x − x̂_mse: the d signs of G·r with G a d×d matrix of i.i.d. N(0,1)
 * entries, plus ‖r‖; the receiver outputs x̂_mse + √(π/2)/d·‖r‖·Gᵀ·sign(G·r) (unbiased).
 * vNMSE = (π/2 − 1/d)·vNMSE(TurboQuant_mse, b − 1).
 *
 * G is drawn row by row (GSL ziggurat Gaussians) from the link's shared stream positioned at
 * byte TURBOQUANT_QJL_OFFSET, so both ends regenerate it and it is never sent; it is never
 * stored either, which makes encode and decode O(d²) time and O(d) memory. The dense
 * matrix limits the dimension to TURBOQUANT_MAX_DIM. Rotation is per client only (each
 * message is decoded on its own).
 *
 * Wire format:
 *   OFFSET  SIZE            MEANING
 *   0       m               the (b−1)-bit TurboQuant_mse message (codec/eden.h), m = 0 at b = 1
 *   m       4               ‖r‖, float32, finite, >= 0
 *   m+4     ceil(d/8)       sign bits of G·r (set = negative), LSB-first
 *
 * Lifecycle: turboquant_new(), encode/decode, turboquant_free(); owns its workspaces; no
 * allocation in encode/decode. Not thread-safe. Deterministic.
 */
#ifndef FEDBITS_CODEC_TURBOQUANT_H
#define FEDBITS_CODEC_TURBOQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

#define TURBOQUANT_MAX_DIM    4096
#define TURBOQUANT_QJL_OFFSET ((uint64_t)1 << 56)

struct turboquant;

int turboquant_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
struct turboquant *turboquant_new(const struct codec_params *p, size_t dim);
void turboquant_free(struct turboquant *tq);

size_t turboquant_max_bytes(const struct turboquant *tq);
size_t turboquant_acc_len(const struct turboquant *tq);

int turboquant_encode(struct turboquant *tq, uint8_t *out, size_t cap, size_t *len, const float *x,
                      const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
int turboquant_decode_add(struct turboquant *tq, float *acc, const uint8_t *msg, size_t len,
                          double weight, const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void turboquant_decode_finish(struct turboquant *tq, float *out, float *acc,
                              const struct codec_link *link);

#endif
