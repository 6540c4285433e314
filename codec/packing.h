/*
 * packing: fast fixed-width index packing for the codec payloads.
 *
 * The layout is exactly base/bitpack.h's bitpack_pack() (b-bit fields, LSB-first, no
 * padding between fields; the last byte zero-padded), so any decoder may use either. For
 * b = 1, 2, 4, 8 whole 64-bit words are assembled at a time (64/b fields per word), for
 * b = 3, 5, 6, 7 eight fields at a time (b whole bytes); other widths fall back to
 * bitpack_pack()/bitpack_unpack().
 * packing_unpack_lut() decodes straight into lut[index] floats, which is what every
 * dequantiser wants. Pure functions over caller buffers.
 */
#ifndef FEDBITS_CODEC_PACKING_H
#define FEDBITS_CODEC_PACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Packs idx[0..n) (each < 2^b, b = 1..16) into out[0..bitpack_bytes(n, b)). For b = 1, 2,
 * 4, 8 on a CPU with AVX2, 32 fields a step (chosen at run time); the same bytes as
 * packing_pack_portable(), the word loop alone (for tests).
 */
void packing_pack(uint8_t *out, const uint16_t *idx, size_t n, unsigned b);
void packing_pack_portable(uint8_t *out, const uint16_t *idx, size_t n, unsigned b);
/* Inverse of packing_pack(): idx[0..n) from bitpack_bytes(n, b) bytes of in. */
void packing_unpack(uint16_t *idx, const uint8_t *in, size_t n, unsigned b);
/* y[i] = lut[field i] for i < n; in holds bitpack_bytes(n, b) bytes, lut 2^b entries. */
void packing_unpack_lut(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut);
/* acc[i] += lut[field i] for i < n (b = 1..16): the unpacking and a sum in one pass. */
void packing_unpack_lut_add(float *acc, const uint8_t *in, size_t n, unsigned b, const float *lut);
/*
 * For decoding a long payload of b = 1, 2 or 4 bits in pieces: each byte's 8/b floats,
 * built once from lut. packing_unpack_table() then sets y[i] = lut[field i] for i < n
 * (n a multiple of 8/b), the same values as packing_unpack_lut().
 */
struct packing_table {
    unsigned b;
    float tbl[256][8];
};
void packing_table_init(struct packing_table *t, unsigned b, const float *lut);
void packing_unpack_table(float *y, const uint8_t *in, size_t n, const struct packing_table *t);
/*
 * A payload of n b-bit fields (b <= 8) decoded piece by piece through lut (2^b entries,
 * borrowed), e.g. by the loader of an inverse rotation (codec/rht.h, rht_load_fn):
 * packing_load_init() prepares it (a byte table for b = 1, 2, 4 when n >= 8), then
 * packing_load() sets dst[0..m) to the values of fields off..off+m (off a multiple of 8, so
 * that they start on a byte).
 */
struct packing_load {
    const uint8_t *payload;
    unsigned b;
    const float *lut;
    bool table;
    struct packing_table tbl;
};
void packing_load_init(struct packing_load *ld, const uint8_t *payload, size_t n, unsigned b,
                       const float *lut);
void packing_load(void *ld, float *dst, size_t off, size_t m);

#endif
