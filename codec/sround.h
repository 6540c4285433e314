/*
 * sround: unbiased stochastic rounding of an affine map of a float vector to integer levels,
 * the inner loop of the min-max quantiser (codec/sq.h) and of QSGD (codec/qsgd.h), and the
 * coin flip of the other stochastic codecs (THC, QUIC-FL, fractional EDEN's mask).
 *
 * The coin. A coin of probability p in [0, 1] takes one 16-bit draw r of the stream's fast
 * keystream (base/rng.h, rng_fast_u16s() order). With t = p·2^16 (exact in double) and
 * t16 = floor(t): heads when r < t16, tails when r > t16, and on a tie (r = t16, chance
 * 2^-16) heads when (t - t16)·2^32 > s, s the next 32-bit draw of the stream's ChaCha20
 * keystream (rng_u32(), ties taken in coordinate order). So P(heads) = t16·2^-16 +
 * 2^-16·ceil((t - t16)·2^32)·2^-32 lies in [p, p + 2^-48): a coin costs 2 keystream bytes
 * instead of 4, and its bias is 2^-48 at most, against 2^-32 for one 32-bit draw compared
 * with p·2^32 (the previous scheme), far below anything a vNMSE or mean estimate resolves.
 *
 * Rounding. For u = (v_i - off)·mul (or (|v_i| - off)·mul with `absval`), which must be
 * >= 0, the level is floor(u) + coin(frac(u)), clamped to `top`: E[level] - u is in
 * [0, 2^-48) before the clamp. The AVX2 version (chosen at run time with
 * __builtin_cpu_supports()) computes the same values as the portable one bit for bit
 * (sround_run() picks the path, for tests).
 *
 * Draws are taken SROUND_BATCH at a time from the caller's fast keystream (whole blocks),
 * which is left past the last batch drawn.
 */
#ifndef FEDBITS_CODEC_SROUND_H
#define FEDBITS_CODEC_SROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

#define SROUND_BATCH     4096 /* 16-bit draws per refill: 128 whole keystream blocks */
#define SROUND_CELLS_MAX 1024 /* the vector path of sround_cells() takes g < this */

enum sround_path {
    SROUND_BEST,     /* AVX2 when the CPU has it */
    SROUND_PORTABLE, /* plain C, the same levels */
    SROUND_AVX2,     /* for tests: AVX2 at most (sround_cells() has an AVX-512 path too) */
};

/* Levels of v[0..n) into k[0..n); top < 2^16. */
void sround(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
            unsigned top, struct rng *r);
/* sround() with the fast-keystream draws already taken: rnd[0..n) (r settles ties). */
void sround_drawn(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
                  unsigned top, const uint16_t *rnd, struct rng *r);
/* sround() on the given path. */
void sround_run(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
                unsigned top, struct rng *r, enum sround_path path);

/*
 * sround_run(k, v, n, lo, mul, false, top, r, path) for v[i] >= lo (the min-max quantiser,
 * codec/sq.h), the same levels and draws bit for bit; the vector path works in float for
 * top <= 15 and proves each level equal to the double one (else takes the portable loop).
 */
void sround_above(uint16_t *k, const float *v, size_t n, float lo, double mul, unsigned top,
                  struct rng *r, enum sround_path path);

/*
 * Rounding onto a table of integer levels (THC, codec/thc.h): for i < n, z = sc·y_i
 * clamped to [-T, T], u = (z + T)·to_u, k = cell[min(floor(u), g)] (table[k] <= u <=
 * table[k + 1]) and the level is k + coin((u - table[k]) / (table[k + 1] - table[k])), one
 * coin per coordinate as above. cell has g + 1 entries; table is increasing, from 0 to g.
 * Returns -1 when some sc·y_i is not finite (idx then partly written), else 0.
 * The AVX2 path, and for g < 32 the AVX-512F one (SROUND_AVX2 excludes it), give the
 * portable one's levels bit for bit.
 */
int sround_cells(uint16_t *idx, const float *y, size_t n, double sc, double T, double to_u,
                 unsigned g, const uint16_t *cell, const uint16_t *table, struct rng *r,
                 enum sround_path path);

/*
 * Two independent roundings of the same v[0..n) (n <= SROUND_BATCH), as sround_run(k1, v,
 * n, off, mul, false, top, r, path) followed by the same call into k2 (the same levels and
 * draws, bit for bit), the vector path forming each u once for both.
 */
void sround_twice(uint16_t *k1, uint16_t *k2, const float *v, size_t n, double off, double mul,
                  unsigned top, struct rng *r, enum sround_path path);
/* sround_cells() with the fast-keystream draws already taken: drawn[0..n) (NULL: drawn
 * from r as sround_cells() does); r settles ties. */
int sround_cells_drawn(uint16_t *idx, const float *y, size_t n, double sc, double T, double to_u,
                       unsigned g, const uint16_t *cell, const uint16_t *table,
                       const uint16_t *drawn, struct rng *r, enum sround_path path);

/*
 * sround_cells()'s constants, computed once by sround_cells_prepare() for any number of
 * sround_cells_defer() calls with the same sc, T, to_u, g, cell and table (borrowed: they
 * must outlive p) and path. The fields are private.
 */
struct sround_cells_vec {
    int32_t kl32[SROUND_CELLS_MAX]; /* k | table[k] << 16 for k = cell[u] */
    float inv[SROUND_CELLS_MAX];    /* 2^16 / (table[k + 1] - table[k]), rounded to float */
    float scf, Tf, to_uf;           /* sc, T, to_u rounded to float */
    float eps_u, delta;             /* error bounds of u and of x' (see sround_cells_avx2()) */
    int32_t k_hi, t16_hi;           /* cell and floor(p·2^16) of a coordinate clamped to T */
};
struct sround_cells_prep {
    double sc, T, to_u;
    unsigned g;
    const uint16_t *cell, *table;
    int kind; /* the kernel that runs */
    struct sround_cells_vec cv;
};
void sround_cells_prepare(struct sround_cells_prep *p, double sc, double T, double to_u, unsigned g,
                          const uint16_t *cell, const uint16_t *table, enum sround_path path);

/*
 * sround_cells_drawn() under p without the draws that settle coin ties, for coordinates
 * taken out of order: y[0..n) are coordinates base..base+n of a longer vector, drawn[0..n)
 * their draws. A coordinate whose coin is a tie gets the lower level (k) and base + its
 * index is appended to ties (ties->full set instead once ties->cap are held). Settling the
 * ties afterwards in increasing coordinate order, each by sround_cells_drawn() of that one
 * coordinate with the stream, gives sround_cells_drawn()'s levels and draws bit for bit.
 * Returns as sround_cells().
 */
struct sround_ties {
    size_t *at;    /* coordinates, caller-owned, cap entries */
    size_t n, cap; /* held, room */
    bool full;     /* some tie was not recorded */
};
int sround_cells_defer(uint16_t *idx, const float *y, size_t n, const struct sround_cells_prep *p,
                       const uint16_t *drawn, struct sround_ties *ties, size_t base);

/* Coin flips one at a time, with draws fetched SROUND_BATCH at a time. */
struct sround_rand {
    struct rng *r;
    size_t pos;
    uint16_t buf[SROUND_BATCH];
};

static inline void
sround_rand_init(struct sround_rand *sr, struct rng *r)
{
    sr->r = r;
    sr->pos = SROUND_BATCH;
}

/* The next 16-bit draw of the fast keystream. */
static inline uint16_t
sround_rand_u16(struct sround_rand *sr)
{
    if (sr->pos == SROUND_BATCH) {
        rng_fast_u16s(sr->r, sr->buf, SROUND_BATCH);
        sr->pos = 0;
    }
    return sr->buf[sr->pos++];
}

/* The coin of probability p (see above) decided by the 16-bit draw rd. */
static inline unsigned
sround_coin_with(double p, uint16_t rd, struct rng *r)
{
    double t = p * 0x1p16;
    double t16 = (double)(int64_t)t; /* floor: t >= 0 */
    double rr = (double)rd;
    if (__builtin_expect(rr != t16, 1))
        return rr < t16;
    return (t - t16) * 0x1p32 > (double)rng_u32(r);
}

/* 1 with probability p in [0, 1] (up to 2^-48), from the next draw of sr. */
static inline unsigned
sround_coin(struct sround_rand *sr, double p)
{
    return sround_coin_with(p, sround_rand_u16(sr), sr->r);
}

#endif
