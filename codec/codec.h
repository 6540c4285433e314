/*
 * codec: the one interface through which the simulator compresses a vector for a link.
 *
 * A struct codec is made for one codec kind, its parameters and one dimension
 * (codec_new), then reused for any number of vectors; it owns its codebooks and a
 * workspace, so encoding and decoding allocate nothing. It is not thread-safe: make one per
 * thread. Input vectors are borrowed; the encoder writes its message into a caller buffer of
 * at least codec_max_bytes() bytes, and the message length *is* what the simulator
 * charges to the link (docs/conventions.md, principle 3: honest bits).
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
 * message is -ERR_CORRUPT, never an out-of-bounds read, and so is a message whose decoded
 * values (after the weight) would not be finite or exceed CODEC_MAX_ABS in magnitude: the
 * headroom keeps a sum of up to 2^23 such messages finite through a shared inverse rotation
 * of up to 2^30 coordinates (growth at most √D = 2^15). Encoders refuse non-finite inputs
 * (-ERR_RANGE; `none` also values above CODEC_MAX_ABS), so a diverged client is an error,
 * never NaN in a model.
 *
 * Packet loss (codec_params.packet_loss) is simulated at the receiver: which rotated
 * coordinates a message lost is drawn from the per-client shared stream at a fixed far
 * offset (codec/codec_int.h); lost ones are zeroed, the rest scaled by 1/(1 − loss).
 *
 * Blocks. With codec_params.blocks = CODEC_BLOCKS_POW2 (the default) every codec that rotates
 * (CODEC_USES_ROTATION in its table entry: all but none, qsgd, qsgd_l2 and randk) splits a vector
 * whose dimension is not a power of two into the power-of-two blocks of codec/blocks.h and runs one
 * instance of the codec per block, each with its own rotation, scale and randomness: block j > 0
 * uses the link with seed XOR (j << 56) (block 0 the link itself, so a power-of-two dimension is
 * unchanged). The message is the blocks' messages in increasing offset order; when the codec's
 * message length is not fixed by its parameters (QUIC-FL, fractional EDEN), each block but the last
 * is preceded by its length in bytes, uint32 little-endian. The accumulator is the blocks'
 * accumulators one after the other.
 *
 * This header owns the codec kinds and parameters; each algorithm lives in its own module
 * that this interface dispatches to: codec/eden.h (EDEN, TurboQuant_mse), codec/drive.h,
 * codec/quicfl.h, codec/thc.h (with the integer interface secure aggregation sums in a
 * ring: thc_encode_ints(), thc_decode_sum(), thc_ring_bits()), codec/hadamard_sq.h,
 * codec/kashin_sq.h, codec/qsgd.h, codec/turboquant.h; building blocks codec/rht.h,
 * codec/lloyd_max.h, codec/lloyd_beta.h, codec/sq.h, codec/packing.h; and
 * codec/error_feedback.h, the residual-memory wrapper around any codec. Each module's
 * header documents its wire format; codec/randk.c, the worked example of docs/extending.md,
 * is a whole codec in one file and documents its format there.
 */
#ifndef FEDBITS_CODEC_CODEC_H
#define FEDBITS_CODEC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

/*
 * The codec table: one row per codec, in kind order (a kind is its row's index, so new rows go
 * at the end). CODEC_ROW(ID, def) makes the enum constant CODEC_<ID> and names the
 * struct codec_def (codec/codec_int.h) that the codec's module defines: its scenario name,
 * `fedbits list` summary, default bits, the parameters it reads and its functions. Everything
 * that lists codecs (the `uplink.codec`/`downlink.codec` choices, `fedbits list`, the
 * benchmark rows, the generic unit and fuzz tests, docs/codecs.md's list) iterates over this
 * table; docs/extending.md adds a codec with one new file and one row here.
 */
#define CODEC_TABLE(CODEC_ROW)                                                                     \
    CODEC_ROW(NONE, codec_none)               /* float32 little-endian, 32 bits per coordinate */  \
    CODEC_ROW(DRIVE, codec_drive)             /* DRIVE / DRIVE+, 1 bit (codec/drive.h) */          \
    CODEC_ROW(EDEN, codec_eden)               /* EDEN, any b in (0, 8] (codec/eden.h) */           \
    CODEC_ROW(QUICFL, codec_quicfl)           /* QUIC-FL, b = 1..4 (codec/quicfl.h) */             \
    CODEC_ROW(THC, codec_thc)                 /* THC (codec/thc.h) */                              \
    CODEC_ROW(HADAMARD_SQ, codec_hadamard_sq) /* RHT + stochastic SQ (codec/hadamard_sq.h) */      \
    CODEC_ROW(KASHIN_SQ, codec_kashin_sq)     /* Kashin + SQ (codec/kashin_sq.h) */                \
    CODEC_ROW(QSGD, codec_qsgd)               /* QSGD, L-infinity norm (codec/qsgd.h) */           \
    CODEC_ROW(TURBOQUANT_MSE, codec_tq_mse)   /* EDEN with S = |x|/sqrt(D) (codec/eden.h) */       \
    CODEC_ROW(TURBOQUANT_PROD, codec_tq_prod) /* TurboQuant_prod (codec/turboquant.h) */           \
    CODEC_ROW(QSGD_L2, codec_qsgd_l2)         /* QSGD, L2 norm, Elias-coded (codec/qsgd.h) */      \
    CODEC_ROW(RANDK, randk_codec)             /* rand-k sparsification (codec/randk.c) */          \
    /* new rows go above this line */

#define CODEC_ENUM_ROW(id, def) CODEC_##id,
enum codec_kind { CODEC_TABLE(CODEC_ENUM_ROW) CODEC_KIND_COUNT };
#undef CODEC_ENUM_ROW

/* The optional struct codec_params fields a codec reads (codec_kind_uses()); setting one a
 * codec does not read is an error (codec_params_check()). bits is read by every codec. */
enum codec_uses {
    CODEC_USES_ROTATION = 1u << 0,       /* rotates: blocks, min_block, packet_loss apply */
    CODEC_USES_SCALE = 1u << 1,          /* scale */
    CODEC_USES_P = 1u << 2,              /* p and shared_bits */
    CODEC_USES_DRIVE_PLUS = 1u << 3,     /* drive_plus */
    CODEC_USES_EXACT_CODEBOOK = 1u << 4, /* exact_codebook */
    CODEC_USES_THC = 1u << 5,            /* thc_g, thc_uniform */
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

/* How a rotation codec handles a dimension that is not a power of two (codec/blocks.h). */
enum codec_blocks {
    CODEC_BLOCKS_POW2 = 0, /* power-of-two blocks, each rotated and scaled on its own */
    CODEC_BLOCKS_PAD,      /* one block zero-padded to the next power of two */
};

/* Largest magnitude a decoded value may have (see "Aggregation" above). */
#define CODEC_MAX_ABS 0x1p90f

/* Smallest power-of-two block split off by CODEC_BLOCKS_POW2 (docs/codecs.md compares). */
#define CODEC_MIN_BLOCK 64

/* What a scenario's uplink/downlink section says about the codec. */
struct codec_params {
    enum codec_kind kind;
    double bits;                  /* bits per coordinate (codec-specific meaning) */
    enum codec_scale scale;       /* EDEN/DRIVE scale */
    enum codec_rotation rotation; /* per-client or round-shared rotation */
    double p;                     /* QUIC-FL: fraction sent exactly (default 1/512) */
    unsigned shared_bits;         /* QUIC-FL: shared-randomness bits per coordinate, 0 = auto */
    double packet_loss;           /* fraction of rotated coordinates lost, [0, 1) */
    bool drive_plus;              /* DRIVE: 2-means centres instead of signs (DRIVE+) */
    bool exact_codebook;          /* EDEN/TurboQuant_mse: finite-D shifted-Beta codebook */
    enum codec_blocks blocks;     /* rotation codecs: power-of-two blocks or padding */
    size_t min_block;             /* CODEC_BLOCKS_POW2: smallest block, 0 = CODEC_MIN_BLOCK */
    unsigned thc_g;               /* THC: table size g, 0 = the codec's choice (thc.h) */
    bool thc_uniform;             /* THC: 2^b evenly spaced levels instead of the optimal table */
};

/* Names the shared randomness of one message. */
struct codec_link {
    uint64_t seed;   /* run seed */
    uint64_t round;  /* round number */
    uint64_t client; /* client id */
};

struct codec;

/* Kinds and parameters */
/* Fills p with the defaults of `none` (bits 32, unbiased, per-client rotation, p = 1/512,
 * shared_bits 0 = the codec's choice, no packet loss, power-of-two blocks). */
void codec_params_default(struct codec_params *p);
/*
 * The bits per coordinate a scenario gets when it names `kind` without `bits` (the table's
 * default_bits): 32 for none, 1 for DRIVE, 3 for TurboQuant_prod (2-bit mse + 1-bit QJL), 4
 * for THC, 2 for the others so far.
 */
double codec_kind_default_bits(enum codec_kind kind);
/* The enum codec_uses flags of kind (0 for an unknown kind). */
unsigned codec_kind_uses(enum codec_kind kind);
/* True when kind is unbiased at its default parameters (E[decode] = x; for the rotation
 * codecs over the rotation, docs/codecs.md); false for TurboQuant_mse and THC (its clamp). */
bool codec_kind_unbiased(enum codec_kind kind);
/* The scenario name of kind ("none", "eden", ...). */
const char *codec_kind_name(enum codec_kind kind);
/* Looks up a scenario name; -ERR_INVALID listing the known names when unknown. */
int codec_kind_parse(const char *name, enum codec_kind *kind, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* One-line description of kind, for `fedbits list`. */
const char *codec_kind_summary(enum codec_kind kind);
/* Scenario names of scales ("unbiased", "biased", "matched_norm") and rotations
 * ("per_client", "shared"); the parsers return -ERR_INVALID listing the known names. */
const char *codec_scale_name(enum codec_scale scale);
int codec_scale_parse(const char *name, enum codec_scale *out, struct errbuf *eb)
    __attribute__((warn_unused_result));
const char *codec_rotation_name(enum codec_rotation rotation);
int codec_rotation_parse(const char *name, enum codec_rotation *out, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Scenario names of block modes ("pow2", "pad"). */
const char *codec_blocks_name(enum codec_blocks blocks);
/* Number of blocks a codec made from p splits dim into (1 for a codec that does not rotate,
 * and for pad). */
unsigned codec_blocks_count(const struct codec_params *p, size_t dim);
/* -ERR_INVALID/-ERR_RANGE when p cannot be used for vectors of dimension dim; the message
 * names the parameter (bits, p, shared_bits, packet_loss, ...). */
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
/* Adds weight * decode(msg) to acc[0..codec_acc_len) (in the codec's aggregation domain). On
 * error acc may already hold the blocks decoded before the bad one: decode into a scratch
 * accumulator when a message may be rejected. */
int codec_decode_add(struct codec *c, float *acc, const uint8_t *msg, size_t len, double weight,
                     const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Turns an accumulator into out[0..dim) (inverting a shared rotation once). link names the
 * round; its client field is ignored. acc is used as workspace and left undefined.
 */
void codec_decode_finish(struct codec *c, float *out, float *acc, const struct codec_link *link);
/* Decodes one message into out[0..dim): decode_add on a zeroed accumulator, then finish.
 * On error out is left undefined. */
int codec_decode(struct codec *c, float *out, const uint8_t *msg, size_t len,
                 const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
