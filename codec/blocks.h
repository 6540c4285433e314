/*
 * blocks: the split of a dimension into power-of-two blocks that rotation codecs quantise
 * one by one instead of zero-padding the whole vector to the next power of two.
 *
 * Why. A rotation codec pads x ∈ R^d to D = 2^ceil(log2 d) and spends b bits on every padded
 * coordinate. Just above a power of two (d = 2^k + 1) the padded vector is nearly twice as
 * long as x, the payload nearly doubles, and (DRIVE, Vargaftik et al., NeurIPS 2021, §4;
 * EDEN, ICML 2022, §3) the rotated halves of a half-empty vector are nearly identical, so
 * their quantisation errors add coherently instead of averaging out. Rotating power-of-two
 * blocks on their own keeps every block full, so each block reaches the codec's error at its
 * own (power-of-two) dimension, and the vector's error is the norm-weighted mean of the
 * blocks' errors.
 *
 * Layout. blocks_split() takes the binary expansion of d down to min_block (blocks of
 * decreasing size 2^k >= min_block, at offsets 0, 2^k1, 2^k1 + 2^k2, ...) and puts the
 * residual r = d mod min_block, if any, into one last block of r coordinates, which the codec
 * pads to the next power of two (at most r − 1 < min_block padded coordinates). Every block
 * costs its codec's fixed overhead (a 32-bit scale for EDEN and DRIVE), so min_block bounds
 * the number of blocks (log2(d/min_block) + 2) while the padding stays below min_block
 * coordinates. Sizes are all distinct except possibly the residual. A power of two d >=
 * min_block is one block, so splitting changes nothing there.
 *
 * Pure functions on caller storage; no allocation; thread-safe.
 */
#ifndef FEDBITS_CODEC_BLOCKS_H
#define FEDBITS_CODEC_BLOCKS_H

#include <stddef.h>

/* Enough for any d < 2^63: one block per bit plus the residual. */
#define BLOCKS_MAX 64

struct blocks {
    unsigned n;             /* number of blocks, 1..BLOCKS_MAX */
    size_t off[BLOCKS_MAX]; /* first coordinate of block j */
    size_t len[BLOCKS_MAX]; /* coordinates of block j (a power of two except the residual) */
};

/* Splits d >= 1 as described above; min_block must be a power of two. */
void blocks_split(struct blocks *b, size_t d, size_t min_block);
/* One block covering all of d (no split). */
void blocks_whole(struct blocks *b, size_t d);

#endif
