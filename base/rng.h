/*
 * rng: deterministic keyed random streams (docs/conventions.md,
 * principle 2 and §8).
 *
 * Every random draw in fedbits comes from a stream named by the tuple
 * (run seed, purpose, round, client). The tuple is hashed (BLAKE2b, domain-separated) into
 * a 256-bit key, and the stream is the ChaCha20 keystream under that key (libsodium,
 * 64-bit block counter). Streams for different tuples are independent; extra draws from
 * one stream never perturb another, so adding a feature does not change the data a run
 * was using. The stream is block-indexed: rng_seek() jumps to any 64-byte block, which
 * lets threads split one long stream and lets checkpoints store a position.
 *
 * A struct rng embeds a gsl_rng whose type is rng_chacha20_type, so every GSL
 * distribution draws from it: gsl_ran_gaussian(rng_gsl(&r), 1.0). Lifecycle:
 * rng_init_stream()/rng_init() on caller-owned storage, use, nothing to free. A struct rng
 * must not be copied by assignment after init (the embedded gsl_rng points into it);
 * re-initialise instead. Not thread-safe: one stream per thread.
 *
 * Draw conventions (all deterministic and platform-independent): rng_u32() takes the next
 * 4 keystream bytes little-endian; rng_uniform() is 53 bits in [0, 1); rng_below() is
 * unbiased by rejection.
 *
 * Fast bulk draws. Each stream also has a second, independent keystream for the hot loops
 * of the codecs (a coin per coordinate): ChaCha with 8 rounds instead of 20 (the reduced
 * round count Aumasson, "Too Much Crypto", 2019, argues is ample, and the default of Rust's
 * rand), under the same key with nonce RNG_FAST_NONCE, so it never overlaps the ChaCha20
 * keystream. rng_fast_bytes() and rng_fast_u16s() read it in whole 64-byte blocks from its
 * own block counter (starting at 0 on init; rng_seek() and the draws above do not move it):
 * a call of n bytes consumes ceil(n / 64) blocks. The keystream is computed sixteen blocks
 * at a time with AVX-512F or eight at a time with AVX2 when the CPU has them (chosen at run
 * time) and one block at a time otherwise; all give the same bytes (rng_chacha_blocks() is the
 * kernel, with the round count and the implementation as arguments for tests).
 */
#ifndef FEDBITS_BASE_RNG_H
#define FEDBITS_BASE_RNG_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#define RNG_KEY_BYTES    32
#define RNG_BLOCK_BYTES  64
#define RNG_BUFFER_BYTES 256 /* keystream bytes produced per refill (4 blocks) */

/* The "not applicable" value for the round or client part of a stream name. */
#define RNG_ANY UINT64_MAX

/*
 * What a stream is for. Values are part of the reproducibility contract: never renumber,
 * only append.
 */
enum rng_purpose {
    RNG_PURPOSE_GSL_SEED = 1,  /* gsl_rng_set() on a bare rng_chacha20_type */
    RNG_PURPOSE_DATA = 2,      /* dataset generation (per client) */
    RNG_PURPOSE_PARTITION = 3, /* partitioning and train/test splits */
    RNG_PURPOSE_MODEL_INIT = 4,
    RNG_PURPOSE_SELECT = 5,        /* client selection (per round) */
    RNG_PURPOSE_TRAIN = 6,         /* minibatch shuffling (per round, client) */
    RNG_PURPOSE_CODEC_SHARED = 7,  /* randomness both ends derive (rotations) */
    RNG_PURPOSE_CODEC_PRIVATE = 8, /* encoder-only randomness (stochastic rounding) */
    RNG_PURPOSE_DROPOUT = 9,       /* who drops and when (per round, client) */
    RNG_PURPOSE_DEVICE = 10,       /* compute speed draws (per client) */
    RNG_PURPOSE_NETWORK = 11,      /* bandwidth, latency, jitter */
    RNG_PURPOSE_AVAILABILITY = 12, /* availability patterns */
    RNG_PURPOSE_SECAGG = 13,       /* seeded key material of secure aggregation */
    RNG_PURPOSE_DME = 14,          /* vectors of the mean-estimation experiment */
    RNG_PURPOSE_EVAL_SAMPLE = 15,  /* client sample for local evaluation */
    RNG_PURPOSE_TEST = 16,         /* unit tests */
    RNG_PURPOSE_DOWNLINK = 17,     /* downlink codec randomness */
    RNG_PURPOSE_DP_NOISE = 18,     /* the server's differential-privacy noise (per round) */
    RNG_PURPOSE_DDP_ROTATION = 19, /* distributed DP: the round's shared rotation signs */
    RNG_PURPOSE_DDP_ROUNDING = 20, /* distributed DP: conditional rounding (per round, client) */
    RNG_PURPOSE_DDP_NOISE = 21,    /* distributed DP: a client's integer noise (round, client) */
    RNG_PURPOSE_DP_COUNT = 22,     /* adaptive clipping: noise on the clipped count (per round) */
};

struct rng_key {
    unsigned char bytes[RNG_KEY_BYTES];
};

/* The nonce of the fast keystream (the ChaCha20 one has nonce 0): ASCII "fast", LE. */
#define RNG_FAST_NONCE UINT64_C(0x74736166)

/* The state behind the gsl_rng; fields are private to rng.c. */
struct rng_state {
    unsigned char key_[RNG_KEY_BYTES];
    uint64_t fast_block_; /* next block of the fast (ChaCha8) keystream */
    uint64_t block_;      /* block index of buf_[0] */
    size_t pos_;          /* next unread byte in buf_ */
    unsigned char buf_[RNG_BUFFER_BYTES];
};

struct rng {
    gsl_rng gsl_; /* type = rng_chacha20_type, state = &st_ */
    struct rng_state st_;
};

/* The GSL generator type ("fedbits-chacha20"); gsl_rng_set(r, s) keys it from seed s. */
extern const gsl_rng_type *const rng_chacha20_type;

/* Keys */
/* Derives the key of stream (seed, purpose, round, client). */
void rng_key_derive(struct rng_key *out, uint64_t seed, uint32_t purpose, uint64_t round,
                    uint64_t client);

/* Lifecycle */
/* Positions r at the start of the stream keyed by key. */
void rng_init(struct rng *r, const struct rng_key *key);
/* rng_key_derive() then rng_init(). */
void rng_init_stream(struct rng *r, uint64_t seed, uint32_t purpose, uint64_t round,
                     uint64_t client);
/* The embedded gsl_rng, valid as long as r is. */
gsl_rng *rng_gsl(struct rng *r);
/* The struct rng behind a gsl_rng created by rng_init(); NULL for other generators. */
struct rng *rng_from_gsl(gsl_rng *g);

/* Position */
/* Moves to byte offset `byte` of the keystream. */
void rng_seek(struct rng *r, uint64_t byte);
/* The byte offset of the next draw. */
uint64_t rng_tell(const struct rng *r);

/* Draws */
/*
 * The next n keystream bytes. Large requests are written straight from the keystream into
 * out, so bulk draws cost the keystream alone; the bytes and the position afterwards are
 * the same as those of any split of the request into smaller draws.
 */
void rng_bytes(struct rng *r, void *out, size_t n);
/* n values, the same as n calls of rng_u32() (and the same position afterwards). */
void rng_u32s(struct rng *r, uint32_t *out, size_t n);
/* n values, the same as n calls of rng_uniform() (and the same position afterwards). */
void rng_uniforms(struct rng *r, double *out, size_t n);
uint32_t rng_u32(struct rng *r);
uint64_t rng_u64(struct rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(struct rng *r);
/* Uniform integer in [0, n), unbiased; n >= 1. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle_u32(struct rng *r, uint32_t *idx, size_t n);

/* Fast bulk draws (see the top of this file) */
/* The next ceil(n / 64) blocks of the fast keystream; their first n bytes go to out. */
void rng_fast_bytes(struct rng *r, void *out, size_t n);
/* n values of 16 bits, the fast keystream's bytes little-endian (ceil(n / 32) blocks). */
void rng_fast_u16s(struct rng *r, uint16_t *out, size_t n);
/*
 * Random access: blocks first_block .. first_block + nblocks - 1 of the fast keystream of the
 * stream keyed by key (those rng_fast_bytes() reads after first_block blocks from rng_init()),
 * written to out[0 .. 64·nblocks).
 */
void rng_fast_blocks(const struct rng_key *key, uint64_t first_block, size_t nblocks, void *out);

/*
 * Implementations of rng_chacha_blocks(). Each vector value names the widest kernel that
 * may be used: blocks are taken sixteen at a time with AVX-512F, then eight at a time with
 * AVX2, then one at a time in plain C, skipping a kernel the value excludes or the CPU lacks
 * (so every value is safe on every CPU). All give the same bytes.
 */
enum rng_chacha_impl {
    RNG_CHACHA_BEST,     /* the widest the CPU has: AVX-512F, AVX2 or portable */
    RNG_CHACHA_PORTABLE, /* one block at a time, plain C */
    RNG_CHACHA_AVX2,     /* AVX2 at most: what BEST gives on a CPU without AVX-512F */
    RNG_CHACHA_AVX512,   /* AVX-512F at most (the same as BEST) */
};
/*
 * Blocks first_block .. first_block + nblocks - 1 of the ChaCha keystream with `rounds`
 * rounds (even), 64-bit block counter and 64-bit nonce (Bernstein's original layout, the
 * one of libsodium's crypto_stream_chacha20: with rounds = 20 and the same key, nonce and
 * counter the bytes are libsodium's), written to out[0 .. 64·nblocks).
 */
void rng_chacha_blocks(unsigned char *out, const unsigned char key[RNG_KEY_BYTES], uint64_t nonce,
                       uint64_t first_block, size_t nblocks, unsigned rounds,
                       enum rng_chacha_impl impl);

#endif
