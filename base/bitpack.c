/* bitpack: LSB-first bit fields over bounded buffers. See bitpack.h. */
#include "base/bitpack.h"

#include <assert.h>
#include <string.h>

#include "base/banned.h"

size_t
bitpack_bytes(size_t n, unsigned b)
{
    return (n * b + 7) / 8;
}

void
bitpack_writer_init(struct bitpack_writer *w, uint8_t *buf, size_t cap)
{
    *w = (struct bitpack_writer){ .buf_ = buf, .cap_ = cap, .bits_ = 0, .overflow_ = false };
}

void
bitpack_write(struct bitpack_writer *w, uint64_t v, unsigned nbits)
{
    assert(nbits <= 64);
    if (w->overflow_ || nbits == 0)
        return;
    if (w->bits_ + nbits > (uint64_t)w->cap_ * 8) {
        w->overflow_ = true;
        return;
    }
    if (nbits < 64)
        v &= ((uint64_t)1 << nbits) - 1;
    while (nbits > 0) {
        size_t byte = (size_t)(w->bits_ / 8);
        unsigned off = (unsigned)(w->bits_ % 8);
        unsigned take = 8 - off < nbits ? 8 - off : nbits;
        uint8_t mask = (uint8_t)(((1u << take) - 1u) << off);
        uint8_t cur = off == 0 ? 0 : w->buf_[byte];
        w->buf_[byte] = (uint8_t)((cur & ~mask) | (((unsigned)v << off) & mask));
        v >>= take;
        nbits -= take;
        w->bits_ += take;
    }
}

void
bitpack_writer_align(struct bitpack_writer *w)
{
    unsigned off = (unsigned)(w->bits_ % 8);
    if (off != 0)
        bitpack_write(w, 0, 8 - off);
}

void
bitpack_write_bytes(struct bitpack_writer *w, const void *src, size_t n)
{
    bitpack_writer_align(w);
    if (w->overflow_)
        return;
    size_t at = (size_t)(w->bits_ / 8);
    if (n > w->cap_ - at) {
        w->overflow_ = true;
        return;
    }
    if (n > 0)
        memcpy(w->buf_ + at, src, n);
    w->bits_ += (uint64_t)n * 8;
}

long
bitpack_writer_finish(struct bitpack_writer *w, struct errbuf *eb)
{
    if (w->overflow_)
        return errbuf_set(eb, -ERR_RANGE, "message does not fit its %zu-byte buffer", w->cap_);
    return (long)((w->bits_ + 7) / 8);
}

uint64_t
bitpack_writer_bits(const struct bitpack_writer *w)
{
    return w->bits_;
}

void
bitpack_reader_init(struct bitpack_reader *r, const uint8_t *buf, size_t len)
{
    *r = (struct bitpack_reader){ .buf_ = buf, .len_ = len, .bits_ = 0 };
}

uint64_t
bitpack_reader_left(const struct bitpack_reader *r)
{
    return (uint64_t)r->len_ * 8 - r->bits_;
}

int
bitpack_read(struct bitpack_reader *r, uint64_t *v, unsigned nbits, struct errbuf *eb)
{
    assert(nbits <= 64);
    if (nbits > bitpack_reader_left(r)) {
        if (eb != NULL)
            eb->offset = (long)(r->bits_ / 8);
        return errbuf_set(eb, -ERR_CORRUPT, "message truncated: %u bits wanted at byte %llu of %zu",
                          nbits, (unsigned long long)(r->bits_ / 8), r->len_);
    }
    uint64_t out = 0;
    unsigned got = 0;
    while (got < nbits) {
        size_t byte = (size_t)(r->bits_ / 8);
        unsigned off = (unsigned)(r->bits_ % 8);
        unsigned take = 8 - off < nbits - got ? 8 - off : nbits - got;
        uint64_t part = ((uint64_t)r->buf_[byte] >> off) & ((1u << take) - 1u);
        out |= part << got;
        got += take;
        r->bits_ += take;
    }
    *v = out;
    return 0;
}

void
bitpack_reader_align(struct bitpack_reader *r)
{
    r->bits_ = (r->bits_ + 7) / 8 * 8;
    if (r->bits_ > (uint64_t)r->len_ * 8)
        r->bits_ = (uint64_t)r->len_ * 8;
}

int
bitpack_read_bytes(struct bitpack_reader *r, void *dst, size_t n, struct errbuf *eb)
{
    bitpack_reader_align(r);
    size_t at = (size_t)(r->bits_ / 8);
    if (n > r->len_ - at) {
        if (eb != NULL)
            eb->offset = (long)at;
        return errbuf_set(eb, -ERR_CORRUPT,
                          "message truncated: %zu bytes wanted at byte %zu of %zu", n, at, r->len_);
    }
    if (n > 0)
        memcpy(dst, r->buf_ + at, n);
    r->bits_ += (uint64_t)n * 8;
    return 0;
}

void
bitpack_pack(uint8_t *out, const uint16_t *idx, size_t n, unsigned b)
{
    assert(b >= 1 && b <= 16);
    struct bitpack_out w = { .out = out };
    for (size_t i = 0; i < n; i++)
        bitpack_out_put(&w, idx[i], b);
    (void)bitpack_out_flush(&w);
}

void
bitpack_unpack(uint16_t *idx, const uint8_t *in, size_t n, unsigned b)
{
    assert(b >= 1 && b <= 16);
    struct bitpack_in r = { .in = in };
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint16_t)bitpack_in_get(&r, b);
}
