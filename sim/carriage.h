/*
 * carriage: how a run's uplink update reaches the server, and what it costs per coordinate.
 *
 * Without secure aggregation every client sends its codec's message (CARRIAGE_CODEC). Under
 * secure aggregation the masked input is a ring vector (docs/secure.md, "What is summed"):
 * THC's table integers are summed in the ring directly (CARRIAGE_HOMOMORPHIC, Li et al.,
 * NSDI 2024), every other codec is decoded by its client and re-embedded in fixed point
 * (CARRIAGE_FIXED_POINT, codec/fixed_point.h), so its compression is lost on the wire: each
 * coordinate costs the ring's k bits. Distributed DP (privacy.mechanism ddgauss or skellam)
 * sends its rotated, rounded, noisy integers modulo 2^privacy.ring_bits (CARRIAGE_DDP).
 * carriage_of() works the ring width out from the scenario alone, for a round of clients_per_round
 * survivors, with the sizing rule sim/run_secure.c uses; carriage_format() writes the one-line
 * description `validate`, `run`, `report` and `plot` print. A struct carriage is a plain value;
 * nothing is owned.
 */
#ifndef FEDBITS_SIM_CARRIAGE_H
#define FEDBITS_SIM_CARRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "sim/scenario.h"

/* THC's sample-count weights are quantised to this many bits relative to the largest client
 * (sim/run_thc.c); uniform weights are 1. */
#define CARRIAGE_THC_WEIGHT_BITS 8

enum carriage_kind {
    CARRIAGE_CODEC,       /* the codec's own message */
    CARRIAGE_FIXED_POINT, /* decoded, re-embedded in a fixed-point ring of ring_bits */
    CARRIAGE_HOMOMORPHIC, /* the codec's integers summed in a ring of ring_bits */
    CARRIAGE_DDP,         /* distributed DP's noisy integers modulo 2^ring_bits (sim/run_ddp.c) */
};

struct carriage {
    enum carriage_kind kind;
    unsigned ring_bits;  /* k: bits per coordinate of the masked input (0 for CARRIAGE_CODEC) */
    unsigned value_bits; /* b: bits of one client's ring value */
    uint64_t n;          /* clients whose sum the ring holds (clients_per_round) */
};

/* Sizes */
/*
 * Ring bits k of THC's weighted integers for a table of largest level g, largest client weight
 * wmax and n clients: the smallest k with n g wmax < 2^k, so the sum never wraps (b +
 * ceil(log2 n) for g = 2^b with uniform weights). *value_bits is 0: the bound is the values'
 * own, not a per-value width.
 */
void carriage_thc_ring(uint64_t g, uint64_t wmax, uint64_t n, unsigned *value_bits,
                       unsigned *ring_bits);

/* Description */
/*
 * Fills *c for scenario s. -ERR_NOMEM when THC's table cannot be built, the fixed-point
 * embedding's own errors (codec/fixed_point.h) for parameters it refuses.
 */
int carriage_of(const struct scenario *s, struct carriage *c, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * "eden 1 bit", "eden 1 bit -> fixed point 23 bits", "thc 4 bits -> homomorphic ring 17 bits"
 * (the codec and its nominal bits first; UTF-8 arrow when utf8).
 */
void carriage_format(const struct carriage *c, const struct scenario *s, bool utf8, char *out,
                     size_t len);
/* The short form without the codec: "codec", "fixed point 23 bits", "homomorphic ring 17 bits". */
void carriage_format_short(const struct carriage *c, char *out, size_t len);

#endif
