/*
 * docofl_wire: the DoCoFL downlink messages (Dorfman, Vargaftik, Ben-Itzhak, Levy, ICML
 * 2023), shared by the server (aggregator/docofl.h)
 * and the client (clients/docofl_client.h), which must not include each other.
 *
 * DoCoFL sends a client two things: an *anchor* y = C_a(w_s), a compressed model the server
 * made at round s and keeps in a deposit of the last V anchors (downloaded ahead of the
 * client's participation, off the round's critical path), and at round t a *correction*
 * c = EDEN_b(w_t − y) on the critical path; the client trains from ŵ_t = y + c. This module
 * owns the parameters, the two message formats, the codec links, and struct docofl_wire,
 * the encoder/decoder of both messages, so that both ends decode anchors bit-identically.
 *
 * EDEN in power-of-two blocks. EDEN pads a vector to D = 2^ceil(log2 d) and spends b bits
 * on every padded coordinate, which for d = 159010 (an MLP 784-200-10) is 65 % more than
 * b·d. For integer b, this module therefore splits the vector into the blocks of d's
 * binary expansion down to DOCOFL_WIRE_MIN_BLOCK (159010 = 2^17 + 2^14 + 2^13 + 2^11 +
 * 2^10 + 2^8 + 34) and the residual below it (34 here, padded by EDEN to 64), and sends
 * one EDEN message per block, each with its own rotation and unbiased scale: the estimate
 * stays unbiased, its error is the sum of the blocks' errors (vNMSE(b) for each large
 * block), and the cost is b·d bits plus 32 bits per block plus the residual's padding.
 * For fractional b (variable EDEN lengths) the vector is one block, padded.
 *
 * Codec links (codec.h). Each block j uses EDEN's per-client-rotation stream with a
 * reserved "client" id derived from the anchor id a (an RNG_ANY-like convention: ids from
 * the top of the uint64 range, far from any real client):
 *   anchor a made at round s (EDEN anchors), block j:  (seed, s, RNG_ANY − 128a − 1 − j)
 *   correction for anchor a at round t, block j:       (seed, t, RNG_ANY − 128a − 65 − j)
 * So every client holding anchor a at round t gets the same correction bytes (the server
 * encodes it once per (anchor, round)), and corrections for different anchors use
 * independent rotations. Use a seed distinct from the uplink's if both run EDEN.
 *
 * Anchor message (length exact; charged to the anchor download):
 *   OFFSET  SIZE   MEANING
 *   0       1      anchor codec: 1 = ECUQ (codec/ecuq.h), 2 = EDEN (codec/eden.h)
 *   1       4      anchor id a, uint32 little-endian (0, 1, 2, ... in creation order)
 *   5       4      round s the anchor was made, uint32 little-endian
 *   9       n      ECUQ message for w_s (b_a bits), or the EDEN messages (b_a bits) of the
 *                  blocks in increasing offset order, each of its exact EDEN length
 * Correction message (length exact; charged to the critical path):
 *   OFFSET  SIZE   MEANING
 *   0       4      anchor id a the correction applies to, uint32 little-endian
 *   4       4      round t, uint32 little-endian
 *   8       n      EDEN messages (b_c bits, unbiased scale) of the blocks of
 *                  w_t − decode(anchor a), in increasing offset order
 *
 * Lifecycle: docofl_wire_new() for one parameter set and dimension (it owns an ECUQ or
 * EDEN anchor codec and the EDEN correction codec with their workspaces), any number of
 * encodes/decodes, docofl_wire_free(). Nothing is allocated after new. Inputs borrowed.
 * Not thread-safe: one per thread. Deterministic: bytes are a function of the input,
 * the parameters (seed included) and the ids.
 */
#ifndef FEDBITS_CODEC_DOCOFL_WIRE_H
#define FEDBITS_CODEC_DOCOFL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

#define DOCOFL_WIRE_ANCHOR_HEADER_BYTES     9
#define DOCOFL_WIRE_CORRECTION_HEADER_BYTES 8
/* Smallest power-of-two block split off for integer-bit EDEN (below it, padding costs at
 * most MIN_BLOCK·b bits, while a 32-bit scale per tiny block and EDEN's Gaussian codebook
 * at tiny D would cost more). At most DOCOFL_WIRE_MAX_BLOCKS blocks (64 − 8 + 1). */
#define DOCOFL_WIRE_MIN_BLOCK  256
#define DOCOFL_WIRE_MAX_BLOCKS 57
/* The anchor id of a client that holds none. */
#define DOCOFL_WIRE_NO_ANCHOR UINT32_MAX

enum docofl_wire_anchor_codec {
    DOCOFL_WIRE_ANCHOR_ECUQ = 1,
    DOCOFL_WIRE_ANCHOR_EDEN = 2,
};

/* What a scenario's `downlink: {codec: docofl, ...}` says. */
struct docofl_wire_params {
    uint32_t anchor_every;                      /* K >= 1: a new anchor every K rounds */
    uint32_t anchors;                           /* V >= 1: anchors kept in the deposit */
    enum docofl_wire_anchor_codec anchor_codec; /* ECUQ (default) or EDEN */
    double anchor_bits;                         /* b_a: ECUQ entropy budget or EDEN bits */
    double correction_bits;                     /* b_c: EDEN bits of the correction */
    uint64_t seed;                              /* seed of the codec links */
};

/* A parsed message header. */
struct docofl_wire_header {
    enum docofl_wire_anchor_codec codec; /* anchor messages only */
    uint32_t anchor_id;
    uint32_t round;
};

struct docofl_wire;

/* Parameters */
/* FedFetch's defaults: K = 10, V = 3, ECUQ anchors, b_a = b_c = 2, seed 0. */
void docofl_wire_params_default(struct docofl_wire_params *p);
/* -ERR_INVALID/-ERR_RANGE naming the parameter when p cannot serve vectors of dim. */
int docofl_wire_params_check(const struct docofl_wire_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* The scenario name of an anchor codec ("ecuq", "eden") and its parser (-ERR_INVALID). */
const char *docofl_wire_anchor_codec_name(enum docofl_wire_anchor_codec c);
int docofl_wire_anchor_codec_parse(const char *name, enum docofl_wire_anchor_codec *out,
                                   struct errbuf *eb) __attribute__((warn_unused_result));

/* Links */
/* The link of block `block` (< DOCOFL_WIRE_MAX_BLOCKS) of an anchor or correction. */
void docofl_wire_anchor_link(struct codec_link *l, const struct docofl_wire_params *p,
                             uint32_t anchor_id, uint32_t round, unsigned block);
void docofl_wire_correction_link(struct codec_link *l, const struct docofl_wire_params *p,
                                 uint32_t anchor_id, uint32_t round, unsigned block);

/* Lifecycle */
/* Returns an owned docofl_wire (free with docofl_wire_free), NULL if out of memory; p must
 * pass docofl_wire_params_check(). */
struct docofl_wire *docofl_wire_new(const struct docofl_wire_params *p, size_t dim);
void docofl_wire_free(struct docofl_wire *w);

/* Sizes */
size_t docofl_wire_dim(const struct docofl_wire *w);
size_t docofl_wire_anchor_max_bytes(const struct docofl_wire *w);
size_t docofl_wire_correction_max_bytes(const struct docofl_wire *w);
/* Number of EDEN blocks of a correction (and of an EDEN anchor). */
unsigned docofl_wire_blocks(const struct docofl_wire *w);

/* Headers */
/* Parses and checks an anchor (resp. correction) header; -ERR_CORRUPT when short or bad. */
int docofl_wire_anchor_header(struct docofl_wire_header *h, const uint8_t *msg, size_t len,
                              struct errbuf *eb) __attribute__((warn_unused_result));
int docofl_wire_correction_header(struct docofl_wire_header *h, const uint8_t *msg, size_t len,
                                  struct errbuf *eb) __attribute__((warn_unused_result));

/* Anchors */
/* Encodes anchor `anchor_id` of model x made at `round` into out[0..cap), length in *len. */
int docofl_wire_anchor_encode(struct docofl_wire *w, uint8_t *out, size_t cap, size_t *len,
                              const float *x, uint32_t anchor_id, uint32_t round, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Decodes an anchor message into y[0..dim); its header into *h when h is not NULL. */
int docofl_wire_anchor_decode(struct docofl_wire *w, float *y, struct docofl_wire_header *h,
                              const uint8_t *msg, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Corrections */
/* Encodes the correction diff[0..dim) = w_t − y for anchor_id at round. */
int docofl_wire_correction_encode(struct docofl_wire *w, uint8_t *out, size_t cap, size_t *len,
                                  const float *diff, uint32_t anchor_id, uint32_t round,
                                  struct errbuf *eb) __attribute__((warn_unused_result));
/* Adds decode(correction) to y[0..dim) in place; header into *h when h is not NULL. */
int docofl_wire_correction_add(struct docofl_wire *w, float *y, struct docofl_wire_header *h,
                               const uint8_t *msg, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
