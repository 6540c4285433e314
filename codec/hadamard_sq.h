/*
 * hadamard_sq: randomized Hadamard rotation followed by min-max stochastic uniform
 * quantisation with 2^b levels (Suresh, Yu, Kumar, McMahan, ICML 2017, π_srk; the
 * "Hadamard" baseline of DRIVE/EDEN/QUIC-FL).
 *
 * The client rotates x (codec/rht.h; per-client or round-shared signs from the link's
 * shared stream), then quantises the D rotated coordinates with codec/sq.h using its private
 * stream. The message is sq's format for D coordinates: min, max (float32) and b·D bits,
 * i.e. b·D + 64 bits. Unbiased for every rotation, so with a shared rotation the server sums
 * in the rotated domain and inverts once. b = 1..16.
 *
 * Lifecycle: hadamard_sq_new(), encode/decode any number of times, hadamard_sq_free(); owns
 * its workspaces; no allocation in encode/decode. Not thread-safe. Deterministic.
 */
#ifndef FEDBITS_CODEC_HADAMARD_SQ_H
#define FEDBITS_CODEC_HADAMARD_SQ_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

struct hadamard_sq;

int hadamard_sq_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
struct hadamard_sq *hadamard_sq_new(const struct codec_params *p, size_t dim);
void hadamard_sq_free(struct hadamard_sq *h);

size_t hadamard_sq_max_bytes(const struct hadamard_sq *h);
size_t hadamard_sq_acc_len(const struct hadamard_sq *h);

int hadamard_sq_encode(struct hadamard_sq *h, uint8_t *out, size_t cap, size_t *len, const float *x,
                       const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
int hadamard_sq_decode_add(struct hadamard_sq *h, float *acc, const uint8_t *msg, size_t len,
                           double weight, const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sets acc[0..hadamard_sq_acc_len) to what zeroing it and hadamard_sq_decode_add() with
 * weight 1 give, bit for bit (decode_set). */
int hadamard_sq_decode_set(struct hadamard_sq *h, float *acc, const uint8_t *msg, size_t len,
                           const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void hadamard_sq_decode_finish(struct hadamard_sq *h, float *out, float *acc,
                               const struct codec_link *link);

#endif
