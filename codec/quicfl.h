/*
 * quicfl: QUIC-FL, quick unbiased compression (Ben Basat, Vargaftik, Portnoy, Einziger,
 * Ben-Itzhak, Mitzenmacher, ICML 2024; Algorithm 1 and §3–§4).
 *
 * Algorithm. Rotate (y = RHT(x_pad), normally with the round's shared rotation), scale to
 * z = √D·y/‖x‖, send the coordinates with |z| > T exactly (T = Φ⁻¹(1 − p/2), p = 1/512 by
 * default) and quantise the others without bias: round z stochastically onto the grid
 * δ·j (j = −5000..5000, δ = 2T/10000), draw h ∈ {0..2^ℓ−1} from randomness the client
 * shares with the server, and send message X ∈ {0..2^b−1} with probability P(X | j, h); the
 * server reconstructs R[X][h]. The receiver table R (2^b × 2^ℓ) is ours, solved by
 * quicfl_table_solve() (below); the sender probabilities follow from R exactly.
 *
 * Solver (our own derivation). For fixed R the sender's problem at each grid
 * point z is a linear programme whose solution sends, for each h, the level of column h
 * nearest to a common point c(z) (so its multiplier is λ = 2(c − z)), randomising one h
 * between two adjacent levels so that 2^-ℓ Σ_h E[R[X][h]] = z exactly; c(z) is found by
 * walking the sorted breakpoints (midpoints of adjacent levels of every column). For fixed
 * sender the KKT condition of R gives R[x][h] = E[c(Z) | X = x, h], a centroid of the
 * shifted points; the solver alternates the two steps from evenly spaced levels shifted by
 * h/2^ℓ of a spacing until the mean squared error stops falling.
 *
 * Randomness. Rotation signs: the link's shared stream (codec_int.h). h: the fast keystream
 * of the per-client shared stream (base/rng.h), one byte per rotated coordinate (low ℓ
 * bits). Grid rounding and message choice: two coins of codec/sround.h per coordinate on
 * the private stream (two 16-bit draws, a 32-bit one on the rare tie).
 *
 * Wire format (32 + b·D + 64·|E| bits; |E| follows from the length):
 *   OFFSET      SIZE            MEANING
 *   0           4               ‖x‖, float32, finite, >= 0
 *   4           ceil(b·D/8)     message X of every rotated coordinate, b bits, LSB-first
 *                               (0 for exact coordinates)
 *   4+P         8·|E|           exact coordinates: uint32 index (strictly increasing, < D),
 *                               float32 z value (finite), little-endian. |E| <= about
 *                               D/T² (since Σ z_i² = D), which bounds quicfl_max_bytes()
 *
 * Lifecycle: quicfl_new() (solves or loads R, builds the sender tables; about 1 s when
 * (b, ℓ, p) are not the defaults of codec/quicfl_tables.h), encode/decode, quicfl_free(). Owns its
 * tables and workspaces; no allocation in encode/decode. Not thread-safe. Deterministic.
 */
#ifndef FEDBITS_CODEC_QUICFL_H
#define FEDBITS_CODEC_QUICFL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/codec.h"

#define QUICFL_MAX_BITS        4
#define QUICFL_MAX_SHARED_BITS 8
#define QUICFL_GRID_HALF       5000 /* grid points j = -5000..5000 */

struct quicfl;

int quicfl_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
struct quicfl *quicfl_new(const struct codec_params *p, size_t dim);
void quicfl_free(struct quicfl *q);

size_t quicfl_max_bytes(const struct quicfl *q);
size_t quicfl_acc_len(const struct quicfl *q);

int quicfl_encode(struct quicfl *q, uint8_t *out, size_t cap, size_t *len, const float *x,
                  const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
int quicfl_decode_add(struct quicfl *q, float *acc, const uint8_t *msg, size_t len, double weight,
                      const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sets acc[0..quicfl_acc_len) to what zeroing it and quicfl_decode_add() with weight 1 give,
 * bit for bit, without the zeroing pass (struct codec_def.decode_set). */
int quicfl_decode_set(struct quicfl *q, float *acc, const uint8_t *msg, size_t len,
                      const struct codec_link *link, struct errbuf *eb)
    __attribute__((warn_unused_result));
void quicfl_decode_finish(struct quicfl *q, float *out, float *acc, const struct codec_link *link);
/* For tests: with on, encode and decode take the portable loops (the same bytes). */
void quicfl_set_portable(struct quicfl *q, bool on);
/* For tests: with on, the encoder and the decoder take their AVX2 loops, not the AVX-512
 * ones (the same bytes and vectors). */
void quicfl_set_no_avx512(struct quicfl *q, bool on);

/* Tables */
/* The default ℓ for b bits (6, 5, 4, 4 for b = 1..4, as in the paper's evaluation). */
unsigned quicfl_default_shared_bits(unsigned b);
/*
 * Solves the receiver table R[x·2^ℓ + h] (2^b·2^ℓ doubles) for b bits, ℓ shared bits and
 * the exact-send fraction p; returns the mean squared error E[(Z − Ẑ)²; |Z| <= T] on the
 * grid (Z ~ N(0,1)), or a negative value if out of memory. iters is the number of
 * alternations run (0 for the built-in default).
 */
double quicfl_table_solve(double *R, unsigned b, unsigned ell, double p, int iters);
/* Largest |E[Ẑ | grid point] − z| over the sender grid (a self-check; ~1e-7 for float R). */
double quicfl_max_bias(const struct quicfl *q);

#endif
