/*
 * bitpack: bit-granular writing and bounded reading of byte buffers.
 *
 * Wire formats are built from fields of any width (1..64 bits), packed LSB-first: the
 * first field occupies the lowest bits of byte 0. A struct bitpack_writer writes into a
 * caller-owned buffer of fixed capacity and reports overflow instead of writing past it;
 * a struct bitpack_reader reads from a borrowed (pointer, length) pair and checks before
 * every read, so a truncated message is an error, never an out-of-bounds read
 * (docs/conventions.md §10). Both are small value types the caller embeds; they own nothing.
 *
 * The bulk helpers bitpack_pack()/bitpack_unpack() move arrays of b-bit indices (b = 1..16)
 * at full speed and are what codecs use for their payloads; the byte length of n b-bit
 * fields is bitpack_bytes(n, b). Codecs whose fields vary in width, or that decode
 * straight into a lookup table, stream the same layout with the inline struct bitpack_out
 * / struct bitpack_in below (no bounds checks: the caller sized the buffer), which
 * bitpack_pack()/bitpack_unpack() are built on.
 */
#ifndef FEDBITS_BASE_BITPACK_H
#define FEDBITS_BASE_BITPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

struct bitpack_writer {
    uint8_t *buf_;  /* caller's buffer */
    size_t cap_;    /* its capacity in bytes */
    uint64_t bits_; /* bits written so far */
    bool overflow_; /* a write did not fit; later writes are dropped */
};

struct bitpack_reader {
    const uint8_t *buf_; /* borrowed message */
    size_t len_;         /* its length in bytes */
    uint64_t bits_;      /* bits consumed so far */
};

/* Bytes needed for n fields of b bits each. */
size_t bitpack_bytes(size_t n, unsigned b);

/* Writing */
/* Starts writing at bit 0 of buf[0..cap). */
void bitpack_writer_init(struct bitpack_writer *w, uint8_t *buf, size_t cap);
/* Appends the low `nbits` (0..64) bits of v. */
void bitpack_write(struct bitpack_writer *w, uint64_t v, unsigned nbits);
/* Appends n bytes (the writer is first padded to a byte boundary). */
void bitpack_write_bytes(struct bitpack_writer *w, const void *src, size_t n);
/* Pads to a byte boundary with zero bits. */
void bitpack_writer_align(struct bitpack_writer *w);
/* Bytes used (bits rounded up), or -ERR_RANGE if any write overflowed the capacity. */
long bitpack_writer_finish(struct bitpack_writer *w, struct errbuf *eb)
    __attribute__((warn_unused_result));
uint64_t bitpack_writer_bits(const struct bitpack_writer *w);

/* Reading */
void bitpack_reader_init(struct bitpack_reader *r, const uint8_t *buf, size_t len);
/* Reads nbits (0..64) into *v; -ERR_CORRUPT (offset recorded) when the message is short. */
int bitpack_read(struct bitpack_reader *r, uint64_t *v, unsigned nbits, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Reads n bytes after aligning to a byte boundary. */
int bitpack_read_bytes(struct bitpack_reader *r, void *dst, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
void bitpack_reader_align(struct bitpack_reader *r);
/* Bits not yet consumed. */
uint64_t bitpack_reader_left(const struct bitpack_reader *r);

/* Streaming (unchecked, inline; fields of 1..57 bits) */
struct bitpack_out {
    uint8_t *out;  /* next bytes go to out[o] */
    size_t o;      /* bytes written */
    uint64_t acc;  /* pending bits, LSB first */
    unsigned have; /* how many (< 8 between calls) */
};

struct bitpack_in {
    const uint8_t *in; /* next bytes come from in[o] */
    size_t o;          /* bytes consumed */
    uint64_t acc;      /* fetched bits not yet returned, LSB first */
    unsigned have;     /* how many */
};

/* Appends the low b bits of v (v < 2^b, b = 1..57). */
static inline void
bitpack_out_put(struct bitpack_out *w, uint64_t v, unsigned b)
{
    w->acc |= v << w->have;
    w->have += b;
    while (w->have >= 8) {
        w->out[w->o++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->have -= 8;
    }
}

/* Writes the pending bits zero-padded to a byte; returns the bytes written in all. */
static inline size_t
bitpack_out_flush(struct bitpack_out *w)
{
    if (w->have > 0)
        w->out[w->o++] = (uint8_t)w->acc;
    w->acc = 0;
    w->have = 0;
    return w->o;
}

/* The next b-bit field (b = 1..57); reads no byte past the one that ends the field. */
static inline uint64_t
bitpack_in_get(struct bitpack_in *r, unsigned b)
{
    while (r->have < b) {
        r->acc |= (uint64_t)r->in[r->o++] << r->have;
        r->have += 8;
    }
    uint64_t v = r->acc & (((uint64_t)1 << b) - 1);
    r->acc >>= b;
    r->have -= b;
    return v;
}

/* Bulk */
/* Packs idx[0..n) (each < 2^b, b = 1..16) LSB-first into out[0..bitpack_bytes(n, b)). */
void bitpack_pack(uint8_t *out, const uint16_t *idx, size_t n, unsigned b);
/* Inverse of bitpack_pack(); in must hold bitpack_bytes(n, b) bytes. */
void bitpack_unpack(uint16_t *idx, const uint8_t *in, size_t n, unsigned b);

#endif
