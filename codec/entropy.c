/* entropy: counts header + rANS over exact counts. See entropy.h for the format. */
#include "codec/entropy.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/le.h"
#include "codec/codec_int.h"
#include "base/banned.h"

_Static_assert(ENTROPY_MAX_SYMBOLS_N <= ((size_t)1 << 31), "M must not exceed 2^31");

/* Largest exponent of an Elias gamma code we ever write: values are at most 2^30. */
#define ENTROPY_GAMMA_MAX_EXP 31U

static unsigned
entropy_floor_log2(uint64_t v)
{
    return 63U - (unsigned)__builtin_clzll(v);
}

/* Elias gamma of v >= 1: k zero bits, a one, the k low bits of v. */
static void
entropy_gamma_write(struct bitpack_writer *w, uint64_t v)
{
    assert(v >= 1);
    unsigned k = entropy_floor_log2(v);
    bitpack_write(w, 0, k);
    bitpack_write(w, 1, 1);
    bitpack_write(w, v & (((uint64_t)1 << k) - 1), k);
}

static int
entropy_gamma_read(struct bitpack_reader *r, uint64_t *v, struct errbuf *eb)
{
    unsigned k = 0;
    for (;;) {
        uint64_t bit = 0;
        int rc = bitpack_read(r, &bit, 1, eb);
        if (rc < 0)
            return rc;
        if (bit != 0)
            break;
        if (++k > ENTROPY_GAMMA_MAX_EXP) {
            size_t at = (size_t)((r->len_ * 8 - bitpack_reader_left(r)) / 8);
            return codec_corrupt(eb, at, "entropy header: gamma code longer than %u bits",
                                 ENTROPY_GAMMA_MAX_EXP);
        }
    }
    uint64_t low = 0;
    int rc = bitpack_read(r, &low, k, eb);
    if (rc < 0)
        return rc;
    *v = ((uint64_t)1 << k) | low;
    return 0;
}

/* rANS lower bound L = M·floor(2^31 / M): a multiple of M in (2^30, 2^31]. */
static uint64_t
entropy_rans_low(uint64_t m)
{
    return m * (((uint64_t)1 << 31) / m);
}

void
entropy_count(uint32_t *counts, uint32_t nsym, const uint32_t *sym, size_t n)
{
    memset(counts, 0, (size_t)nsym * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        assert(sym[i] < nsym);
        counts[sym[i]]++;
    }
}

double
entropy_bits(const uint32_t *counts, uint32_t nsym, size_t n)
{
    if (n == 0)
        return 0.0;
    double h = 0.0;
    double dn = (double)n;
    for (uint32_t s = 0; s < nsym; s++) {
        if (counts[s] == 0)
            continue;
        double p = (double)counts[s] / dn;
        h -= p * log2(p);
    }
    return h;
}

size_t
entropy_max_bytes(size_t n, uint32_t nsym)
{
    size_t present = n < (size_t)nsym ? n : (size_t)nsym;
    size_t per = 2 * (size_t)entropy_floor_log2((uint64_t)nsym + 1) +
                 2 * (size_t)entropy_floor_log2((uint64_t)n + 1) + 2;
    size_t header = (present * per + 7) / 8;
    /* At most one 32-bit word per symbol, plus the final state. */
    return header + 8 + 4 * n;
}

int
entropy_encode(uint8_t *out, size_t cap, size_t *len, const uint32_t *sym, size_t n,
               const uint32_t *counts, uint32_t *cum, uint32_t nsym, struct errbuf *eb)
{
    if (n == 0 || n > ENTROPY_MAX_SYMBOLS_N)
        return errbuf_set(eb, -ERR_INVALID, "entropy: %zu symbols, allowed 1..%zu", n,
                          ENTROPY_MAX_SYMBOLS_N);
    if (nsym == 0 || nsym > ENTROPY_MAX_ALPHABET)
        return errbuf_set(eb, -ERR_INVALID, "entropy: alphabet of %u symbols, allowed 1..%u", nsym,
                          ENTROPY_MAX_ALPHABET);
    uint64_t total = 0;
    for (uint32_t s = 0; s < nsym; s++) {
        cum[s] = (uint32_t)total;
        total += counts[s];
        if (total > n)
            break;
    }
    if (total != n)
        return errbuf_set(eb, -ERR_INVALID, "entropy: counts sum to %llu, expected %zu",
                          (unsigned long long)total, n);
    cum[nsym] = (uint32_t)total;

    struct bitpack_writer w;
    bitpack_writer_init(&w, out, cap);
    uint32_t next = 0;
    for (uint32_t s = 0; s < nsym; s++) {
        if (counts[s] == 0)
            continue;
        entropy_gamma_write(&w, (uint64_t)(s - next) + 1);
        entropy_gamma_write(&w, counts[s]);
        next = s + 1;
    }
    bitpack_writer_align(&w);
    long hl = bitpack_writer_finish(&w, eb);
    if (hl < 0)
        return errbuf_set(eb, -ERR_RANGE, "entropy: buffer of %zu bytes too small for header", cap);
    size_t h = (size_t)hl;

    const uint64_t m = n;
    const uint64_t low = entropy_rans_low(m);
    const uint64_t unit = (low / m) << 32; /* x_max = unit · f */
    uint64_t x = low;
    size_t pos = cap;
    for (size_t i = n; i-- > 0;) {
        uint32_t s = sym[i];
        assert(s < nsym && counts[s] > 0);
        uint64_t f = counts[s];
        if (x >= unit * f) {
            if (pos < h + 4)
                return errbuf_set(eb, -ERR_RANGE, "entropy: buffer of %zu bytes too small", cap);
            pos -= 4;
            le_store32(out + pos, (uint32_t)x);
            x >>= 32;
        }
        x = (x / f) * m + (x % f) + cum[s];
    }
    if (pos < h + 8)
        return errbuf_set(eb, -ERR_RANGE, "entropy: buffer of %zu bytes too small", cap);
    pos -= 8;
    le_store64(out + pos, x);
    memmove(out + h, out + pos, cap - pos);
    *len = h + (cap - pos);
    return 0;
}

int
entropy_decode(uint32_t *sym, size_t n, uint32_t *counts, uint32_t *cum, uint32_t nsym,
               const uint8_t *in, size_t len, struct errbuf *eb)
{
    if (n == 0 || n > ENTROPY_MAX_SYMBOLS_N)
        return errbuf_set(eb, -ERR_INVALID, "entropy: %zu symbols, allowed 1..%zu", n,
                          ENTROPY_MAX_SYMBOLS_N);
    if (nsym == 0 || nsym > ENTROPY_MAX_ALPHABET)
        return errbuf_set(eb, -ERR_INVALID, "entropy: alphabet of %u symbols, allowed 1..%u", nsym,
                          ENTROPY_MAX_ALPHABET);
    memset(counts, 0, (size_t)nsym * sizeof *counts);
    struct bitpack_reader r;
    bitpack_reader_init(&r, in, len);
    uint64_t total = 0;
    uint64_t next = 0;
    while (total < n) {
        uint64_t run = 0;
        uint64_t c = 0;
        int rc = entropy_gamma_read(&r, &run, eb);
        if (rc < 0)
            return rc;
        uint64_t s = next + run - 1;
        if (s >= nsym)
            return codec_corrupt(eb, (size_t)((len * 8 - bitpack_reader_left(&r)) / 8),
                                 "entropy header: symbol %llu outside alphabet of %u",
                                 (unsigned long long)s, nsym);
        rc = entropy_gamma_read(&r, &c, eb);
        if (rc < 0)
            return rc;
        if (c > n - total)
            return codec_corrupt(eb, (size_t)((len * 8 - bitpack_reader_left(&r)) / 8),
                                 "entropy header: counts exceed %zu symbols", n);
        counts[s] = (uint32_t)c;
        total += c;
        next = s + 1;
    }
    uint64_t pad_bits = bitpack_reader_left(&r) % 8;
    uint64_t pad = 0;
    int prc = bitpack_read(&r, &pad, (unsigned)pad_bits, eb);
    if (prc < 0)
        return prc;
    if (pad != 0)
        return codec_corrupt(eb, (size_t)((len * 8 - bitpack_reader_left(&r)) / 8) - 1,
                             "entropy header: nonzero padding bits");
    size_t p = len - (size_t)(bitpack_reader_left(&r) / 8);
    uint32_t acc = 0;
    for (uint32_t s = 0; s < nsym; s++) {
        cum[s] = acc;
        acc += counts[s];
    }
    cum[nsym] = acc;

    const uint64_t m = n;
    const uint64_t low = entropy_rans_low(m);
    if (len - p < 8)
        return codec_corrupt(eb, len, "entropy: stream truncated before the rANS state");
    uint64_t x = le_load64(in + p);
    if (x < low || x >= (low << 32))
        return codec_corrupt(eb, p, "entropy: rANS state out of range");
    p += 8;
    for (size_t i = 0; i < n; i++) {
        uint32_t slot = (uint32_t)(x % m);
        uint32_t lo = 0;
        uint32_t hi = nsym;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (cum[mid] <= slot)
                lo = mid;
            else
                hi = mid;
        }
        sym[i] = lo;
        x = (uint64_t)counts[lo] * (x / m) + slot - cum[lo];
        if (x < low) {
            if (len - p < 4)
                return codec_corrupt(eb, len, "entropy: rANS payload truncated at symbol %zu", i);
            x = (x << 32) | le_load32(in + p);
            p += 4;
        }
    }
    if (p != len)
        return codec_corrupt(eb, p, "entropy: %zu trailing bytes after the rANS payload", len - p);
    if (x != low)
        return codec_corrupt(eb, p, "entropy: rANS state does not return to its start");
    return 0;
}
