/*
 * fedavg: the server's plain (unmasked) aggregation, a weighted mean of decoded updates.
 *
 * McMahan et al., AISTATS 2017, Algorithm 1: the server averages the clients' updates
 * weighted by their sample counts. Updates arrive as codec messages; struct fedavg owns a
 * decoder (struct codec), a scratch vector and an exact accumulator (aggregator/exact_sum.h):
 * fedavg_add() decodes one message and adds weight times it, fedavg_finish() produces the
 * mean once. Codecs with a shared rotation are summed in the rotated domain and inverted
 * once (codec.h).
 *
 * The accumulator is exact, so the mean is the same bits whatever the order of the adds:
 * threads each fill their own struct fedavg and fedavg_merge() them, and processes reduce
 * the raw words of fedavg_sum() (sim/cluster.h) before one of them finishes. Lifecycle:
 * fedavg_new() once per run, then per round fedavg_begin(), fedavg_add() per message (and
 * merges), fedavg_finish().
 */
#ifndef FEDBITS_AGGREGATOR_FEDAVG_H
#define FEDBITS_AGGREGATOR_FEDAVG_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/exact_sum.h"
#include "base/errbuf.h"
#include "codec/codec.h"

struct fedavg;

/* Returns an owned aggregator for vectors of dim with codec p, or NULL if out of memory. */
struct fedavg *fedavg_new(const struct codec_params *p, size_t dim);
void fedavg_free(struct fedavg *a);

/* Starts a round: empties the accumulator. */
void fedavg_begin(struct fedavg *a);
/*
 * Adds one message with weight (finite, > 0). -ERR_CORRUPT for a bad message (nothing
 * added); -ERR_RANGE when the decoded update is not finite or beyond the accumulator's range
 * (the round's sum is then unusable).
 */
int fedavg_add(struct fedavg *a, const uint8_t *msg, size_t len, double weight,
               const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* dst += src: the messages src added count as added to dst. */
void fedavg_merge(struct fedavg *dst, const struct fedavg *src);
/* Messages added (or merged) since fedavg_begin(), in this process. */
size_t fedavg_count(const struct fedavg *a);
/*
 * The accumulator: codec_acc_len() coordinates of weighted decoded sums, then the weight sum.
 * Reducing its words across processes and finishing anywhere gives the global mean.
 */
struct exact_sum *fedavg_sum(struct fedavg *a);
/* The weight summed so far (> 0 once anything was added). */
double fedavg_weight(const struct fedavg *a);
/* Writes the weighted mean into out[0..dim); -ERR_ABORTED when the weight sum is zero. */
int fedavg_finish(struct fedavg *a, float *out, const struct codec_link *round_link,
                  struct errbuf *eb) __attribute__((warn_unused_result));

#endif
