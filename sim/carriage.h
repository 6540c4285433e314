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

/* The homomorphic form of a re-embedded codec */
/*
 * When s's uplink is decoded and re-embedded under secure aggregation, the codec that sums
 * homomorphically at its bits instead: THC's uniform variant (`uplink: {codec: thc, bits: b,
 * thc_uniform: true, rotation: shared}`, codec/thc.h), a stochastic quantiser with 2^b evenly
 * spaced levels after the round's shared rotation under the round's common scale, whose
 * integers 0..g (g = 2^b − 1) are summed in the ring. b is s's uplink bits rounded up into
 * [1, THC_MAX_BITS]. Fills *bits and the ring bits for s's clients per round, with s's
 * weighting (*ring_bits) and with uniform weights (*uniform_ring_bits, at most
 * b + ceil(log2 n)); false (nothing filled) when s is plain or its uplink is none or THC.
 */
bool carriage_homomorphic_alternative(const struct scenario *s, unsigned *bits, unsigned *ring_bits,
                                      unsigned *uniform_ring_bits);
/*
 * The note `validate` and `run` print when s's uplink is re-embedded in fixed point (c from
 * carriage_of()): the fixed-point ring bits it costs and the homomorphic alternative with its
 * ring bits. Returns false (out untouched) when there is nothing to note.
 */
bool carriage_format_note(const struct carriage *c, const struct scenario *s, char *out,
                          size_t len);

#endif
