/*
 * codec: the one interface through which the simulator compresses a vector for a link.
 *
 * A struct codec is made for one codec kind, its parameters and one dimension
 * (codec_new), then reused for any number of vectors; it owns its codebooks and a
 * workspace, so encoding and decoding allocate nothing. It is not thread-safe: make one per
 * thread. Input vectors are borrowed; the encoder writes its message into a caller buffer of
 * at least codec_max_bytes() bytes, and the message length *is* what the simulator
 * charges to the link (DESIGN.md principle 3: honest bits).
 *
 * Randomness. A message is tied to a struct codec_link naming (seed, round, client). Both
 * ends derive the shared randomness (rotations) from the stream
 * (seed, RNG_PURPOSE_CODEC_SHARED, round, client), or with client = RNG_ANY when the
 * rotation is shared by all clients of a round; the encoder alone draws its private
 * randomness (stochastic rounding) from (seed, RNG_PURPOSE_CODEC_PRIVATE, round, client).
 * So the same link and input always give the same bytes, whatever thread runs the codec.
 *
 * Aggregation. The server sums decoded messages into an accumulator of codec_acc_len()
 * floats with codec_decode_add(), then calls codec_decode_finish() once: codecs with a
 * shared rotation sum in the rotated domain and invert the rotation once per round, not
 * once per client. Decoders validate every byte they read; a truncated or corrupted
 * message is -ERR_CORRUPT, never an out-of-bounds read.
 *
 * This header owns the codec kinds and parameters; each algorithm lives in its own module
 * (codec/eden.h, codec/drive.h, ...) that this interface dispatches to.
 */
#ifndef FEDBITS_CODEC_CODEC_H
#define FEDBITS_CODEC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

enum codec_kind {
    CODEC_NONE = 0, /* float32 little-endian, 32 bits per coordinate */
    CODEC_KIND_COUNT
};

enum codec_scale {
    CODEC_SCALE_UNBIASED = 0,
    CODEC_SCALE_BIASED,
    CODEC_SCALE_MATCHED_NORM,
};

enum codec_rotation {
    CODEC_ROTATION_PER_CLIENT = 0,
    CODEC_ROTATION_SHARED,
};

/* What a scenario's uplink/downlink section says about the codec. */
struct codec_params {
    enum codec_kind kind;
    double bits;                  /* bits per coordinate (codec-specific meaning) */
    enum codec_scale scale;       /* EDEN/DRIVE scale */
    enum codec_rotation rotation; /* per-client or round-shared rotation */
};

/* Names the shared randomness of one message. */
struct codec_link {
    uint64_t seed;   /* run seed */
    uint64_t round;  /* round number */
    uint64_t client; /* client id */
};

struct codec;

/* Kinds and parameters */
/* Fills p with the defaults of `none`. */
void codec_params_default(struct codec_params *p);
/* The scenario name of kind ("none", "eden", ...). */
const char *codec_kind_name(enum codec_kind kind);
/* Looks up a scenario name; -ERR_INVALID listing the known names when unknown. */
int codec_kind_parse(const char *name, enum codec_kind *kind, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* One-line description of kind, for `fedbits list`. */
const char *codec_kind_summary(enum codec_kind kind);
/* -ERR_INVALID/-ERR_RANGE when p cannot be used for vectors of dimension dim. */
int codec_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Lifecycle */
/* Returns an owned codec (free with codec_free), or NULL if out of memory. p must pass
 * codec_params_check(). */
struct codec *codec_new(const struct codec_params *p, size_t dim);
void codec_free(struct codec *c);

/* Sizes */
size_t codec_dim(const struct codec *c);
/* Upper bound on the length of any message of this codec. */
size_t codec_max_bytes(const struct codec *c);
/* Floats in the aggregation accumulator (>= dim; e.g. the padded, rotated length). */
size_t codec_acc_len(const struct codec *c);

/* Encoding */
/* Writes the message for x[0..dim) into out[0..cap) and its length into *len. */
int codec_encode(struct codec *c, uint8_t *out, size_t cap, size_t *len, const float *x,
                 const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Decoding */
/* Adds weight * decode(msg) to acc[0..codec_acc_len) (in the codec's aggregation domain). */
int codec_decode_add(struct codec *c, float *acc, const uint8_t *msg, size_t len, double weight,
                     const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Turns an accumulator into out[0..dim) (inverting a shared rotation once). link names the
 * round; its client field is ignored. acc is used as workspace and left undefined.
 */
void codec_decode_finish(struct codec *c, float *out, float *acc, const struct codec_link *link);
/* Decodes one message into out[0..dim): decode_add on a zeroed accumulator, then finish. */
int codec_decode(struct codec *c, float *out, const uint8_t *msg, size_t len,
                 const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
