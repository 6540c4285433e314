/*
 * codec_int: how a codec module registers with codec/codec.h, and helpers shared by the codec
 * modules (codec/eden.c, codec/drive.c, ...); not part of the public interface. Defined in
 * codec/codec.c.
 *
 * - Registration: a module defines one `const struct codec_def` (below) and names it in a
 *   row of CODEC_TABLE (codec/codec.h). codec.c dispatches to its functions, splits a
 *   rotating codec's vector into blocks, checks the generic parameters and every decoded
 *   value (finite, at most CODEC_MAX_ABS; a `bounded` module refuses such messages itself
 *   from their scale fields), so a module only handles one block.
 * - Streams: the shared stream of a link is (seed, RNG_PURPOSE_CODEC_SHARED, round,
 *   client), with client = RNG_ANY under a round-shared rotation; the private stream is
 *   (seed, RNG_PURPOSE_CODEC_PRIVATE, round, client). Each codec draws from the shared
 *   stream in a fixed documented order (rotation signs first).
 * - Packet loss: which rotated coordinates of a message are lost is drawn from the
 *   per-client shared stream at byte offset CODEC_LOSS_STREAM_OFFSET, far beyond anything a
 *   codec draws, so loss never perturbs the codec's own randomness.
 * - Wire helpers: float32 little-endian scalars and corrupt-message errors with the offset.
 */
#ifndef FEDBITS_CODEC_CODEC_INT_H
#define FEDBITS_CODEC_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"
#include "codec/codec.h"

#define CODEC_LOSS_STREAM_OFFSET ((uint64_t)1 << 60)

/*
 * One codec: its table entry. impl is the module's object for one block of `dim` coordinates
 * (made by make, freed by destroy). The functions have the contracts of the codec.h
 * functions of the same names, for one block: check refuses parameters the codec cannot use
 * (the generic ones are checked already); encode writes at most max_bytes and refuses
 * non-finite input (-ERR_RANGE); decode_add validates every byte it reads (-ERR_CORRUPT via
 * codec_corrupt(), never an out-of-bounds read) and adds weight × the decoded vector to
 * acc[0..acc_len) in the codec's aggregation domain; decode_finish turns the sum into
 * out[0..dim).
 */
struct codec_def {
    const char *name;    /* scenario name: uplink.codec, downlink.codec, fedbits dme --codec */
    const char *summary; /* one line for `fedbits list` and docs/codecs.md */
    double default_bits; /* bits when a scenario names the codec without bits */
    unsigned uses;       /* enum codec_uses: the optional parameters it reads */
    /* E[decode(encode(x))] != x at the default parameters by design (TurboQuant_mse; THC
     * clamps); the generic tests check every other codec's unbiasedness, and this bias. */
    bool biased;
    /* True when every message has max_bytes for these parameters (a split vector then needs
     * no block lengths on the wire); NULL: lengths vary. */
    bool (*fixed_length)(const struct codec_params *p);
    int (*check)(const struct codec_params *p, size_t dim, struct errbuf *eb);
    void *(*make)(const struct codec_params *p, size_t dim);
    void (*destroy)(void *impl);
    size_t (*max_bytes)(const void *impl);
    size_t (*acc_len)(const void *impl);
    int (*encode)(void *impl, uint8_t *out, size_t cap, size_t *len, const float *x,
                  const struct codec_link *link, struct errbuf *eb);
    int (*decode_add)(void *impl, float *acc, const uint8_t *msg, size_t len, double weight,
                      const struct codec_link *link, struct errbuf *eb);
    void (*decode_finish)(void *impl, float *out, float *acc, const struct codec_link *link);
    /*
     * True when decode_add itself refuses (-ERR_CORRUPT) a message whose decoded values (after
     * the weight) could exceed CODEC_MAX_ABS in magnitude, from a bound on its scale fields
     * taken before decoding: codec.c then skips its own pass over the accumulator.
     */
    bool bounded;
    /*
     * Optional (NULL: zero the accumulator, then decode_add with weight 1): sets
     * acc[0..acc_len) to what that gives, bit for bit, in one pass.
     */
    int (*decode_set)(void *impl, float *acc, const uint8_t *msg, size_t len,
                      const struct codec_link *link, struct errbuf *eb);
};

/*
 * For a bounded decoder (struct codec_def): 0 when weight · max_abs · growth (growth: how much
 * the decoder's own transform may enlarge a value, e.g. √D for an inverse rotation) stays
 * within CODEC_MAX_ABS with room for float rounding, else -ERR_CORRUPT naming `what` at
 * offset pos.
 */
int codec_bound_check(double weight, double max_abs, double growth, const char *what, size_t pos,
                      struct errbuf *eb) __attribute__((warn_unused_result));

/* The table entries of CODEC_TABLE, one per row. */
#define CODEC_DECLARE_ROW(id, def) extern const struct codec_def def;
CODEC_TABLE(CODEC_DECLARE_ROW)
#undef CODEC_DECLARE_ROW

/* Streams */
void codec_shared_stream(struct rng *r, const struct codec_link *link,
                         enum codec_rotation rotation);
void codec_private_stream(struct rng *r, const struct codec_link *link);
/* The key codec_private_stream() derives (for random access to its fast keystream). */
void codec_private_key(struct rng_key *key, const struct codec_link *link);
/*
 * Sets bit i of mask (LSB-first, rht sign layout) with probability f, independently, from
 * r (one coin of codec/sround.h per coordinate: a 16-bit draw of the fast keystream);
 * returns the number of set bits.
 */
size_t codec_mask_draw(uint8_t *mask, size_t D, double f, struct rng *r);
/* True when bit i of a mask is set. */
static inline int
codec_mask_bit(const uint8_t *mask, size_t i)
{
    return mask[i / 8] >> (i % 8) & 1;
}

/* Packet loss */
/*
 * Zeroes the coordinates of the rotated vector y[0..D) that the link lost (each with
 * probability loss) and multiplies the others by 1/(1 - loss). No-op when loss == 0.
 */
void codec_loss_apply(float *y, size_t D, double loss, const struct codec_link *link);

/* Wire helpers */
void codec_put_f32(uint8_t *p, float v);
float codec_get_f32(const uint8_t *p);
/* Records -ERR_CORRUPT with eb->offset = offset; returns -ERR_CORRUPT. */
int codec_corrupt(struct errbuf *eb, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a float32 scale at msg[off..off+4) of a len-byte message; rejects NaN/inf. */
int codec_get_scale(float *out, const uint8_t *msg, size_t len, size_t off, const char *what,
                    struct errbuf *eb) __attribute__((warn_unused_result));

/* Shared-rotation aggregation */
/*
 * Inverts the round's shared rotation of acc[0..D) in place (signs drawn into signs_ws from
 * the link's shared stream with client = RNG_ANY) and moves its first d entries to out.
 */
void codec_shared_finish(float *out, float *acc, size_t d, size_t D, uint8_t *signs_ws,
                         const struct codec_link *link);

#endif
