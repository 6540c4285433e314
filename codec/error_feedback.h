/*
 * error_feedback: client-side residual memory around any codec (Seide et al. 2014;
 * Karimireddy et al., ICML 2019, "EF-SGD"; THC, NSDI 2024, uses it to absorb clamping).
 *
 * Each round the client sends Q(x + e) instead of Q(x) and keeps the new residual
 * e <- (x + e) − decode(Q(x + e)), so what compression dropped is sent later. The residual
 * vector belongs to the caller (the simulator keeps one of codec_dim() floats per client,
 * initially zero); a struct error_feedback only holds the workspaces for one codec, so one
 * per thread serves any number of clients.
 *
 * Lifecycle: error_feedback_new(codec) (borrows the codec until error_feedback_free()),
 * error_feedback_encode() any number of times, error_feedback_free(). The wrapper decodes
 * the message it just produced with the same codec and link, so it is exactly what the
 * server will see. Allocates nothing after new. Not thread-safe.
 */
#ifndef FEDBITS_CODEC_ERROR_FEEDBACK_H
#define FEDBITS_CODEC_ERROR_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

struct error_feedback;

/* Returns an owned wrapper (free with error_feedback_free), NULL if out of memory. */
struct error_feedback *error_feedback_new(struct codec *c);
void error_feedback_free(struct error_feedback *ef);

/*
 * Encodes x + residual into out[0..cap) (length in *len) and updates residual[0..dim) in
 * place. On error the residual is unchanged.
 */
int error_feedback_encode(struct error_feedback *ef, float *residual, uint8_t *out, size_t cap,
                          size_t *len, const float *x, const struct codec_link *link,
                          struct errbuf *eb) __attribute__((warn_unused_result));

#endif
