/*
 * fedavg: the server's plain (unmasked) aggregation, a weighted mean of decoded updates.
 *
 * McMahan et al., AISTATS 2017, Algorithm 1: the server averages the clients' updates
 * weighted by their sample counts. Updates arrive as codec messages; struct fedavg owns a
 * decoder (struct codec) and an accumulator, adds each message with fedavg_add() as it
 * arrives, and produces the mean once with fedavg_finish(). Codecs with a shared rotation
 * are summed in the rotated domain and inverted once (codec.h). Lifecycle: fedavg_new()
 * once per run, then per round fedavg_begin(), fedavg_add() per message, fedavg_finish().
 * The sum is taken in arrival order, which the simulator makes deterministic.
 */
#ifndef FEDBITS_AGGREGATOR_FEDAVG_H
#define FEDBITS_AGGREGATOR_FEDAVG_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

struct fedavg;

/* Returns an owned aggregator for vectors of dim with codec p, or NULL if out of memory. */
struct fedavg *fedavg_new(const struct codec_params *p, size_t dim);
void fedavg_free(struct fedavg *a);

/* Starts a round: empties the accumulator. */
void fedavg_begin(struct fedavg *a);
/* Adds one message with weight (finite, > 0); -ERR_CORRUPT for a bad message (nothing added). */
int fedavg_add(struct fedavg *a, const uint8_t *msg, size_t len, double weight,
               const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Messages added since fedavg_begin(). */
size_t fedavg_count(const struct fedavg *a);
/* Writes the weighted mean into out[0..dim); -ERR_ABORTED when nothing was added. */
int fedavg_finish(struct fedavg *a, float *out, const struct codec_link *round_link,
                  struct errbuf *eb) __attribute__((warn_unused_result));

#endif
