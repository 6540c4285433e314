/*
 * drive: DRIVE and DRIVE+, the one-bit rotate-then-sign mean estimators of Vargaftik, Ben
 * Basat, Portnoy, Mendelson, Ben-Itzhak and Mitzenmacher (NeurIPS 2021, §4 and §5
 * (DRIVE+)).
 *
 * DRIVE rotates x (codec/rht.h), sends sign(y_i) for the D rotated coordinates (0 -> +1)
 * and one float32 scale: unbiased ‖y‖²/‖y‖₁, biased ‖y‖₁/D, or matched norm ‖x‖/√D
 * (codec_params.scale). This is exactly 1-bit EDEN with DRIVE's tie rule, so plain DRIVE
 * is served by codec/eden.c with EDEN_TIES_UP and shares its wire format.
 *
 * DRIVE+ (codec_params.drive_plus) replaces the signs by a 1-D 2-means clustering of y
 * (three Lloyd iterations started by splitting at the mean; a value equal to the split goes
 * to the upper cluster) and sends the two centres multiplied by
 * S = ‖y‖²/(n₀c₀² + n₁c₁²), which makes ⟨x̂, x⟩ = ‖x‖² (unbiased over the rotation). The
 * scale option does not apply to DRIVE+.
 *
 * DRIVE+ wire format:
 *   OFFSET  SIZE          MEANING
 *   0       4             S·c₀, float32, finite (centre of cluster 0)
 *   4       4             S·c₁, float32, finite (centre of cluster 1)
 *   8       ceil(D/8)     cluster bit of each rotated coordinate, LSB-first
 *
 * Lifecycle as for eden: drive_new(), any number of encodes/decodes, drive_free(); owns its
 * workspaces; encode/decode allocate nothing. Not thread-safe. Deterministic.
 */
#ifndef FEDBITS_CODEC_DRIVE_H
#define FEDBITS_CODEC_DRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

struct drive;

/* Lifecycle */
/* -ERR_RANGE unless p->bits == 1. */
int drive_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
struct drive *drive_new(const struct codec_params *p, size_t dim);
void drive_free(struct drive *dr);

/* Sizes */
size_t drive_max_bytes(const struct drive *dr);
size_t drive_acc_len(const struct drive *dr);

/* Encoding and decoding (codec.h semantics) */
int drive_encode(struct drive *dr, uint8_t *out, size_t cap, size_t *len, const float *x,
                 const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Refuses (-ERR_CORRUPT) a message whose weighted values could exceed CODEC_MAX_ABS, from its
 * scale fields before decoding (struct codec_def.bounded). */
int drive_decode_add(struct drive *dr, float *acc, const uint8_t *msg, size_t len, double weight,
                     const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sets acc[0..drive_acc_len) to what zeroing it and drive_decode_add() with weight 1 give, bit
 * for bit (decode_set). */
int drive_decode_set(struct drive *dr, float *acc, const uint8_t *msg, size_t len,
                     const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void drive_decode_finish(struct drive *dr, float *out, float *acc, const struct codec_link *link);

#endif
