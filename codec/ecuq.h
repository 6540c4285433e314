/*
 * ecuq: Entropy-Constrained Uniform Quantization of a float vector, the anchor compressor
 * of DoCoFL (Dorfman, Vargaftik, Ben-Itzhak, Levy, ICML 2023; as reimplemented in
 * FedFetch), with the level indices really entropy coded
 * (codec/entropy.h), so the message length is the honest cost.
 *
 * Algorithm. With lo = min x, hi = max x and L levels, the step is Δ = (hi − lo)/L and
 * level k has centre lo + (k + ½)Δ; every coordinate goes deterministically to the nearest
 * centre (k = floor((x − lo)/Δ), clamped to L − 1). Start at L = floor(2^b), which always
 * has empirical index entropy H <= b. While H < b − tolerance, double L (exponential
 * phase) until H > b or L reaches max_levels, then bisect between the last L with H <= b
 * and the first with H > b, at most max_steps evaluations in all (by default tolerance
 * 0.1, 20 steps). The result is the evaluated L with the largest H <= b, so the constraint
 * H <= b always holds. H may stay below b − tolerance when L + 1 levels already exceed b
 * (with few levels one more level adds about log2((L + 1)/L) bits; ecuq_stats.above tells).
 * The coded payload is then about d·H bits plus the count header. A constant vector is sent
 * as L = 1, Δ = 0. The maximum error per coordinate is Δ/2.
 *
 * Wire format (length exact; the simulator charges it):
 *   OFFSET  SIZE   MEANING
 *   0       4      L, number of levels, uint32 little-endian, 1 <= L <= max_levels
 *   4       4      lo, float32 little-endian, finite
 *   8       4      Δ, float32 little-endian, finite; 0 iff L == 1; lo + L·Δ finite
 *   12      n      entropy stream of the d level indices, alphabet L (codec/entropy.h)
 *   12+n    4      CRC-32 (IEEE 802.3, reflected 0xEDB88320) of bytes [0, 12 + n), LE
 * The CRC makes every truncation and every single-bit or burst (<= 32 bits) corruption a
 * detected error; its 32 bits are charged like the rest.
 *
 * Lifecycle: ecuq_new() for one dimension and parameter set, any number of encodes and
 * decodes, ecuq_free(). The ecuq owns its workspaces (indices, counts, cumulative table;
 * about 4·d + 8·max_levels bytes); encode and decode allocate nothing. Inputs are
 * borrowed. Not thread-safe: one per thread. Deterministic: the bytes are a function of x.
 */
#ifndef FEDBITS_CODEC_ECUQ_H
#define FEDBITS_CODEC_ECUQ_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

#define ECUQ_HEADER_BYTES 12
#define ECUQ_CRC_BYTES    4

struct ecuq_params {
    double bits;         /* entropy budget b per coordinate, 1 <= b <= 16 */
    double tolerance;    /* stop once b − tolerance <= H <= b; 0 < tolerance < b */
    unsigned max_steps;  /* entropy evaluations per encode, >= 1 */
    uint32_t max_levels; /* largest L, floor(2^b) <= max_levels <= ENTROPY_MAX_ALPHABET */
};

/* What the last encode chose. */
struct ecuq_stats {
    uint32_t levels; /* L */
    double entropy;  /* empirical entropy of the indices, bits per coordinate (<= b) */
    unsigned steps;  /* entropy evaluations made */
    uint32_t above;  /* smallest evaluated L with H > b, 0 if none (L + 1: b lies between) */
    float step;      /* Δ as sent */
};

struct ecuq;

/* Parameters */
/* FedFetch's defaults for budget b: tolerance 0.1, 20 steps, max_levels 2^16 (indices
 * of a trained model rarely need more; a larger cap only costs workspace). */
void ecuq_params_default(struct ecuq_params *p, double bits);
/* -ERR_INVALID/-ERR_RANGE naming the parameter when p cannot serve vectors of dim. */
int ecuq_params_check(const struct ecuq_params *p, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Lifecycle */
/* Returns an owned ecuq (free with ecuq_free), NULL if out of memory; p must pass the check. */
struct ecuq *ecuq_new(const struct ecuq_params *p, size_t dim);
void ecuq_free(struct ecuq *q);

/* Sizes */
size_t ecuq_dim(const struct ecuq *q);
/* Upper bound on any message length. */
size_t ecuq_max_bytes(const struct ecuq *q);

/* Encoding */
/* Writes the message for x[0..dim) into out[0..cap), its length into *len. -ERR_INVALID for
 * a non-finite input, -ERR_RANGE when cap is too small. */
int ecuq_encode(struct ecuq *q, uint8_t *out, size_t cap, size_t *len, const float *x,
                struct errbuf *eb) __attribute__((warn_unused_result));
/* The choices of the last successful ecuq_encode() (zeros before the first). */
void ecuq_last_stats(const struct ecuq *q, struct ecuq_stats *st);

/* Decoding */
/* Decodes msg[0..len) into out[0..dim); -ERR_CORRUPT (eb->offset set) on any bad byte. */
int ecuq_decode(struct ecuq *q, float *out, const uint8_t *msg, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
