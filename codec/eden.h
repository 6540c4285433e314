/*
 * eden: EDEN, the b-bit rotate-then-quantise mean estimator of Vargaftik, Ben Basat,
 * Portnoy, Mendelson, Ben-Itzhak and Mitzenmacher (ICML 2022, §3–§4 and its Algorithm 1).
 * Also serves DRIVE's plain 1-bit form (Vargaftik et al., NeurIPS 2021; its tie rule) and
 * TurboQuant_mse (EDEN with a fixed scale).
 *
 * Algorithm. Pad x to D = 2^ceil(log2 d) (codec.h splits other dimensions into power-of-two
 * blocks first, codec/blocks.h, so each instance usually sees D = d), rotate y = RHT(x_pad)
 * (codec/rht.h) with the link's shared signs, and quantise every z_i = √D·y_i/‖x‖ to the cell of
 * the 2^b-level Lloyd–Max quantiser of N(0,1) (codec/lloyd_max.h) containing it. Send the cell
 * indices and one float32 scale S; the receiver outputs RHT^-1(S·q)[:d]. Scales (enum codec_scale
 * and EDEN_FIXED_SCALE): unbiased ‖x‖²/⟨y,q⟩ (then ⟨x̂,x⟩ = ‖x‖² for every rotation), biased
 * ⟨y,q⟩/‖q‖² (least squares), matched norm ‖x‖/‖q‖, fixed ‖x‖/√D (TurboQuant_mse).
 *
 * Tie rule. Cell k is (t_{k-1}, t_k]: a value equal to a boundary goes to the LOWER cell
 * (torch.bucketize, right=False), so at b = 1 an exact 0 becomes the negative centroid.
 * This keeps E[x̂] = x for structured inputs whose rotated coordinates are exactly 0 (e.g.
 * x = e1 + e2 after an RHT). With EDEN_TIES_UP the value goes to the upper cell (DRIVE's
 * sign(0) = +1).
 *
 * Bit budgets. Integer b = 1..8. Fractional b = b_lo + f (1 < b < 8): a shared Bernoulli(f)
 * mask picks the coordinates quantised with b_lo + 1 bits, the others use b_lo (EDEN §5).
 * 0 < b < 1: rotate, then keep each rotated coordinate with probability p = b (shared
 * mask), 1-bit quantise the kept ones with the scale computed over them, and divide by p at
 * the receiver (the order of EDEN's TensorFlow code; vNMSE ≈ π/(2p) − 1).
 *
 * Where the unbiasedness stops. The unbiased scale gives E[x̂] = x in expectation over a
 * uniformly random rotation. The RHT is not one: the guarantee carries over only to inputs
 * whose coordinates behave like i.i.d. draws with finite moments (QUIC-FL, Ben-Basat et al.,
 * §3.5). On heavy-tailed input the estimate is biased and the bias does not average out over
 * clients: with i.i.d. Cauchy coordinates the NMSE of DRIVE's mean over n clients is about
 * 10× vNMSE/n instead of vNMSE/n. QUIC-FL's per-coordinate unbiased rounding stays unbiased
 * for any input. Likewise the averaging over clients needs independent rotations: under
 * CODEC_ROTATION_SHARED, n clients holding the same vector send the same message, so the
 * mean's error is the single client's vNMSE, not vNMSE/n.
 *
 * Codebook. The Lloyd–Max quantiser of N(0,1) (codec/lloyd_max.h), or with
 * codec_params.exact_codebook the exact one for the law of a coordinate of a uniform
 * rotation of R^D (codec/lloyd_beta.h, §4 of the EDEN paper; b <= 6), solved at eden_new().
 * It matters only for small D (0.1 % at D = 128, 7 % at D = 16). At D <= 2 (a tiny residual
 * block, codec/blocks.h) the solver has no law to work on and the Gaussian codebook is used.
 *
 * Shared randomness, from the link's shared stream: the D rotation signs, then (fractional
 * or b < 1) the mask, one coin of codec/sround.h per rotated coordinate (a 16-bit draw of
 * the stream's fast keystream; a 32-bit one after the signs on the rare tie).
 *
 * Wire format (message length is exact; the simulator charges it):
 *   OFFSET  SIZE                MEANING
 *   0       4                   S, float32 little-endian, finite
 *   4       ceil(nbits/8)       indices LSB-first, in coordinate order: D fields of b bits
 *                               (integer b); D fields of b_lo or b_lo+1 bits as the mask
 *                               says (fractional); one bit per kept coordinate (b < 1)
 *
 * Lifecycle: eden_new() for one parameter set and dimension, any number of encodes and
 * decodes, eden_free(). The eden owns its codebooks and workspaces; encode/decode allocate
 * nothing. Not thread-safe: one per thread. Deterministic: the bytes are a function of x
 * and the link.
 */
#ifndef FEDBITS_CODEC_EDEN_H
#define FEDBITS_CODEC_EDEN_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

struct eden;

enum eden_flags {
    EDEN_FIXED_SCALE = 1 << 0, /* S = ‖x‖/√D (TurboQuant_mse) instead of p->scale */
    EDEN_TIES_UP = 1 << 1,     /* boundary values go to the upper cell (DRIVE) */
    EDEN_PORTABLE = 1 << 2,    /* for tests: the portable code, not the AVX2 paths (same bytes) */
    EDEN_NO_AVX512 = 1 << 3,   /* for tests: the AVX2 paths, not the AVX-512 ones (same bytes) */
};

/* Lifecycle */
/* -ERR_INVALID/-ERR_RANGE naming the parameter when p->bits cannot be served. */
int eden_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Returns an owned eden (free with eden_free), NULL if out of memory (or, never seen, if the
 * exact-codebook solver fails to converge). p must pass the check. */
struct eden *eden_new(const struct codec_params *p, size_t dim, unsigned flags);
void eden_free(struct eden *e);

/* Sizes */
size_t eden_max_bytes(const struct eden *e);
/* D under a shared rotation (the sum stays rotated), d otherwise. */
size_t eden_acc_len(const struct eden *e);

/* Encoding and decoding (codec.h semantics) */
int eden_encode(struct eden *e, uint8_t *out, size_t cap, size_t *len, const float *x,
                const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Refuses (-ERR_CORRUPT) a message whose weighted values could exceed CODEC_MAX_ABS, from its
 * scale before decoding (struct codec_def.bounded). */
int eden_decode_add(struct eden *e, float *acc, const uint8_t *msg, size_t len, double weight,
                    const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sets acc[0..eden_acc_len) to what zeroing it and eden_decode_add() with weight 1 give, bit
 * for bit, without the zeroing pass where the inverse rotation is fused (decode_set). */
int eden_decode_set(struct eden *e, float *acc, const uint8_t *msg, size_t len,
                    const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void eden_decode_finish(struct eden *e, float *out, float *acc, const struct codec_link *link);

/* The quantiser alone (for tests; integer b) */
/* thr[0..2^b − 1): the cell boundaries the encoder compares with when ‖x‖/√D = unit. */
void eden_boundaries(const struct eden *e, float *thr, double unit);
/*
 * The encoder's quantiser on a rotated vector y[0..n) (n <= D, a multiple of 8) with
 * ‖x‖/√D = unit: the cells packed into packed (⌈n·b/8⌉ bytes, the message's layout) and
 * sums[0] = ⟨y,q⟩, sums[1] = ‖q‖² as the scale is computed from them.
 */
void eden_quantize_probe(struct eden *e, uint8_t *packed, double *sums, const float *y, size_t n,
                         double unit);

#endif
