/*
 * entropy: a static-model entropy coder for a stream of small integer symbols (rANS with
 * the exact symbol counts as its model), used by ECUQ (codec/ecuq.h) to send level indices
 * at their empirical entropy.
 *
 * Model. The encoder counts how often each symbol 0..nsym-1 occurs among the n symbols and
 * sends those counts in a compact header; the payload is then coded with range-ANS (Duda
 * 2013; Giesen's rans64 layout) whose cumulative table is the counts themselves, M = n.
 * With the exact counts as the model the payload costs n·H + O(64) bits, where H is the
 * empirical entropy of the stream (entropy_bits()); the header costs about
 * 2·log2(run + 1) + 2·log2(count) + 2 bits per symbol that occurs.
 *
 * rANS state x lives in [L, L·2^32) with L = M·floor(2^31 / M), so M divides L and every
 * step emits or reads at most one 32-bit word. The encoder codes symbols last to first
 * starting from x = L; the decoder codes them first to last and must end in x = L with
 * every word consumed, which rejects almost every corrupted payload (about 2^-31 chance of
 * a miss; ECUQ adds a CRC so that every single-bit error is caught).
 *
 * Wire format (the stream is length-delimited by its caller; n and nsym are known to both
 * ends and are not sent):
 *   OFFSET  SIZE        MEANING
 *   0       h           count header, bit fields LSB-first (base/bitpack.h): for each symbol
 *                       that occurs, in increasing order, gamma(z + 1) then gamma(count),
 *                       where z is the number of absent symbols since the previous present
 *                       one and gamma(v) is Elias gamma (k zero bits, a one, then the k low
 *                       bits of v, k = floor(log2 v)); the header ends when the counts sum
 *                       to n; then zero bits (checked) up to a byte boundary
 *   h       8           final rANS state x, uint64 little-endian, in [L, L·2^32)
 *   h+8     4·w         w rANS words, uint32 little-endian, in decoding order
 *
 * Ownership: pure functions over caller buffers. The caller supplies the count array
 * (nsym entries) and a cumulative-table workspace (nsym + 1 entries); nothing is allocated.
 * Deterministic: the bytes are a function of the symbols. Thread-safe on distinct buffers.
 */
#ifndef FEDBITS_CODEC_ENTROPY_H
#define FEDBITS_CODEC_ENTROPY_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

/* Largest stream length: M = n must leave L = M·floor(2^31 / M) >= 2^30. */
#define ENTROPY_MAX_SYMBOLS_N ((size_t)1 << 30)
/* Largest alphabet (symbols are uint32 and the cumulative table has nsym + 1 entries). */
#define ENTROPY_MAX_ALPHABET ((uint32_t)1 << 24)

/* Statistics */
/* counts[s] = occurrences of s in sym[0..n) for s < nsym; every sym[i] must be < nsym. */
void entropy_count(uint32_t *counts, uint32_t nsym, const uint32_t *sym, size_t n);
/* Empirical entropy in bits per symbol of counts[0..nsym) summing to n (0 when n == 0). */
double entropy_bits(const uint32_t *counts, uint32_t nsym, size_t n);

/* Sizes */
/* Upper bound on the bytes of any stream of n symbols from an alphabet of nsym. */
size_t entropy_max_bytes(size_t n, uint32_t nsym);

/* Encoding */
/*
 * Writes the stream of sym[0..n) (1 <= n <= ENTROPY_MAX_SYMBOLS_N, symbols < nsym) into
 * out[0..cap) and its length into *len. counts must be entropy_count()'s result for sym;
 * cum is a workspace of nsym + 1 entries. -ERR_RANGE when cap is too small, -ERR_INVALID
 * when the counts do not sum to n.
 */
int entropy_encode(uint8_t *out, size_t cap, size_t *len, const uint32_t *sym, size_t n,
                   const uint32_t *counts, uint32_t *cum, uint32_t nsym, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Decoding */
/*
 * Decodes exactly n symbols from in[0..len) into sym[0..n); counts (nsym entries) receives
 * the transmitted counts and cum (nsym + 1) is a workspace. The whole of in must be used:
 * -ERR_CORRUPT with eb->offset set on any truncation, trailing bytes, header that does not
 * describe n symbols of the alphabet, or rANS state that does not end where it started.
 */
int entropy_decode(uint32_t *sym, size_t n, uint32_t *counts, uint32_t *cum, uint32_t nsym,
                   const uint8_t *in, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
