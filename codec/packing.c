/* packing: word-at-a-time index packing. See packing.h. */
#include "codec/packing.h"

#include <assert.h>
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/le.h"
#include "base/banned.h"

/*
 * AVX2: 32 fields a step. The fields become bytes (packus, then a lane fix-up), then
 * neighbours merge by multiply-adds (b = 2, 4) or the bytes' low bits are gathered by
 * movemask (b = 1). Returns the number of fields packed (a multiple of 32); the layout is
 * that of the word loop, since whole bytes are written in order.
 */
__attribute__((target("avx2"))) static size_t
packing_pack_avx2(uint8_t *out, const uint16_t *idx, size_t n, unsigned b)
{
    const __m256i w2 = _mm256_set1_epi16(0x0401), w4 = _mm256_set1_epi16(0x1001);
    const __m256i w16 = _mm256_set1_epi32(0x00100001);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(idx + i));
        __m256i c = _mm256_loadu_si256((const __m256i *)(idx + i + 16));
        /* 32 bytes in field order */
        __m256i v = _mm256_permute4x64_epi64(_mm256_packus_epi16(a, c), 0xd8);
        uint8_t *o = out + i / 8 * b;
        if (b == 8) {
            _mm256_storeu_si256((__m256i *)o, v);
        } else if (b == 1) {
            uint32_t m = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(v, 7));
            le_store32(o, m);
        } else {
            /* pairs of fields into 16-bit values: f0 + f1·2^b */
            __m256i p = _mm256_maddubs_epi16(v, b == 2 ? w2 : w4);
            if (b == 2)
                p = _mm256_madd_epi16(p, w16); /* four 2-bit fields per 32-bit value */
            /* the low byte of each 16- or 32-bit value, in order */
            __m256i q = b == 2 ? _mm256_packus_epi32(p, p) : p;
            q = _mm256_packus_epi16(q, q);
            __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
            if (b == 4) {
                _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi64(lo, hi));
            } else {
                uint64_t x = (uint64_t)(uint32_t)_mm_cvtsi128_si32(lo) |
                             (uint64_t)(uint32_t)_mm_cvtsi128_si32(hi) << 32;
                le_store64(o, x);
            }
        }
    }
    return i;
}

/*
 * b = 3 with AVX2, two groups of eight fields a step: neighbours merge by a multiply-add
 * (f0 + 8·f1), each 32-bit lane is shifted to its place (0, 6, 12, 18 bits) and four lanes
 * are OR-ed, giving each group's 24 bits, stored as a 4-byte word whose last byte the next
 * group rewrites (only while 4 bytes remain). Returns the fields packed (a multiple of 16).
 */
__attribute__((target("avx2"))) static size_t
packing_pack3_avx2(uint8_t *out, const uint16_t *idx, size_t n)
{
    const __m256i w8 = _mm256_set1_epi32(0x00080001);
    const __m256i shifts = _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18);
    size_t nbytes = bitpack_bytes(n, 3), i = 0;
    for (; i + 16 <= n && i / 8 * 3 + 10 <= nbytes; i += 16) {
        __m256i f = _mm256_loadu_si256((const __m256i *)(idx + i));
        __m256i p = _mm256_sllv_epi32(_mm256_madd_epi16(f, w8), shifts);
        p = _mm256_or_si256(p, _mm256_shuffle_epi32(p, 0xb1));
        p = _mm256_or_si256(p, _mm256_shuffle_epi32(p, 0x4e));
        uint32_t g0 = (uint32_t)_mm256_cvtsi256_si32(p);
        uint32_t g1 = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(p, 1));
        le_store32(out + i / 8 * 3, g0);
        le_store32(out + i / 8 * 3 + 3, g1);
    }
    return i;
}

void
packing_pack(uint8_t *out, const uint16_t *idx, size_t n, unsigned b)
{
    if (b == 3 && __builtin_cpu_supports("avx2")) {
        size_t start = packing_pack3_avx2(out, idx, n);
        out += start / 8 * 3;
        idx += start;
        n -= start;
    }
    if ((b == 1 || b == 2 || b == 4 || b == 8) && __builtin_cpu_supports("avx2")) {
        size_t start = packing_pack_avx2(out, idx, n, b);
        out += start / 8 * b;
        idx += start;
        n -= start;
    }
    packing_pack_portable(out, idx, n, b);
}

/*
 * Groups j < groups of eight fields idx[8j..8j+8) (b = 3, 5, 6, 7: b whole bytes each),
 * assembled in one word; b a constant where inlined. While 8 bytes remain in out[0..nbytes)
 * the word is one 64-bit store (its high bytes rewritten by the next group).
 */
static inline __attribute__((always_inline)) void
packing_groups_pack(uint8_t *out, const uint16_t *idx, size_t groups, size_t nbytes, unsigned b)
{
    for (size_t j = 0; j < groups; j++) {
        const uint16_t *p = idx + 8 * j;
        uint64_t word = 0;
        for (unsigned k = 0; k < 8; k++)
            word |= (uint64_t)p[k] << (k * b);
        if ((size_t)b * j + 8 <= nbytes) {
            le_store64(out + (size_t)b * j, word);
        } else {
            unsigned char bytes[8];
            le_store64(bytes, word);
            memcpy(out + (size_t)b * j, bytes, b);
        }
    }
}

void
packing_pack_portable(uint8_t *out, const uint16_t *idx, size_t n, unsigned b)
{
    if (b < 8 && (b & (b - 1)) != 0) {
        /* b = 3, 5, 6, 7: eight fields are b whole bytes, assembled in one word */
        size_t groups = n / 8, nbytes = bitpack_bytes(n, b);
        if (b == 3)
            packing_groups_pack(out, idx, groups, nbytes, 3);
        else
            packing_groups_pack(out, idx, groups, nbytes, b);
        bitpack_pack(out + (size_t)b * groups, idx + 8 * groups, n - 8 * groups, b);
        return;
    }
    if (b != 1 && b != 2 && b != 4 && b != 8) {
        bitpack_pack(out, idx, n, b);
        return;
    }
    size_t per = 64 / b;
    size_t full = n / per;
    for (size_t w = 0; w < full; w++) {
        const uint16_t *p = idx + w * per;
        uint64_t word = 0;
        for (size_t k = 0; k < per; k++)
            word |= (uint64_t)p[k] << (k * b);
        le_store64(out + 8 * w, word);
    }
    size_t done = full * per;
    if (done < n)
        bitpack_pack(out + 8 * full, idx + done, n - done, b);
}

/* The 8·b bits of fields 8j .. 8j + 7 (b < 8), as one little-endian word. */
static uint64_t
packing_group_load(const uint8_t *in, size_t j, unsigned b)
{
    unsigned char bytes[8] = { 0 };
    memcpy(bytes, in + (size_t)b * j, b);
    return le_load64(bytes);
}

void
packing_unpack(uint16_t *idx, const uint8_t *in, size_t n, unsigned b)
{
    if (b < 8 && (b & (b - 1)) != 0) {
        /* b = 3, 5, 6, 7: eight fields from b whole bytes */
        size_t groups = n / 8;
        uint64_t mask = ((uint64_t)1 << b) - 1;
        for (size_t j = 0; j < groups; j++) {
            uint64_t word = packing_group_load(in, j, b);
            for (unsigned k = 0; k < 8; k++)
                idx[8 * j + k] = (uint16_t)(word >> (k * b) & mask);
        }
        bitpack_unpack(idx + 8 * groups, in + (size_t)b * groups, n - 8 * groups, b);
        return;
    }
    if (b != 1 && b != 2 && b != 4 && b != 8) {
        bitpack_unpack(idx, in, n, b);
        return;
    }
    uint64_t mask = ((uint64_t)1 << b) - 1;
    size_t per = 64 / b;
    size_t full = n / per;
    for (size_t w = 0; w < full; w++) {
        uint64_t word = le_load64(in + 8 * w);
        uint16_t *q = idx + w * per;
        for (size_t k = 0; k < per; k++)
            q[k] = (uint16_t)(word >> (k * b) & mask);
    }
    size_t done = full * per;
    if (done < n)
        bitpack_unpack(idx + done, in + 8 * full, n - done, b);
}

/* Long payloads of 1, 2 or 4 bits: each byte expands through a table of its 8/b floats. */
#define PACKING_BYTE_TABLE_MIN 16384

void
packing_table_init(struct packing_table *t, unsigned b, const float *lut)
{
    assert(b == 1 || b == 2 || b == 4);
    unsigned per = 8 / b, mask = (1u << b) - 1;
    t->b = b;
    for (unsigned v = 0; v < 256; v++)
        for (unsigned k = 0; k < per; k++)
            t->tbl[v][k] = lut[v >> (k * b) & mask];
}

void
packing_unpack_table(float *y, const uint8_t *in, size_t n, const struct packing_table *t)
{
    /* Constant sizes, so that each copy is a few vector moves rather than a call. */
    switch (t->b) {
    case 1:
        for (size_t i = 0; i < n / 8; i++)
            memcpy(y + i * 8, t->tbl[in[i]], 8 * sizeof *y);
        break;
    case 2:
        for (size_t i = 0; i < n / 4; i++)
            memcpy(y + i * 4, t->tbl[in[i]], 4 * sizeof *y);
        break;
    default:
        for (size_t i = 0; i < n / 2; i++)
            memcpy(y + i * 2, t->tbl[in[i]], 2 * sizeof *y);
        break;
    }
}

void
packing_load_init(struct packing_load *ld, const uint8_t *payload, size_t n, unsigned b,
                  const float *lut)
{
    ld->payload = payload;
    ld->b = b;
    ld->lut = lut;
    ld->table = (b == 1 || b == 2 || b == 4) && n >= 8; /* whole bytes */
    if (ld->table)
        packing_table_init(&ld->tbl, b, lut);
}

void
packing_load(void *ctx, float *dst, size_t off, size_t m)
{
    const struct packing_load *ld = ctx;
    const uint8_t *in = ld->payload + off / 8 * ld->b;
    if (ld->table && m % 8 == 0)
        packing_unpack_table(dst, in, m, &ld->tbl);
    else
        packing_unpack_lut(dst, in, m, ld->b, ld->lut);
}

static size_t
packing_unpack_bytes(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
    struct packing_table t;
    packing_table_init(&t, b, lut);
    packing_unpack_table(y, in, n, &t);
    return n / (8 / b);
}

/*
 * Groups j < groups of eight b-bit fields (b = 3, 5, 6, 7) into y[8j..8j+8) through lut;
 * b a constant where inlined. A group is one unaligned 64-bit load while 8 bytes remain.
 */
static inline __attribute__((always_inline)) void
packing_groups_lut(float *y, const uint8_t *in, size_t groups, size_t nbytes, unsigned b,
                   const float *lut, bool add)
{
    uint64_t mask = ((uint64_t)1 << b) - 1;
    for (size_t j = 0; j < groups; j++) {
        uint64_t word = (size_t)b * j + 8 <= nbytes ? le_load64(in + (size_t)b * j)
                                                    : packing_group_load(in, j, b);
        for (unsigned k = 0; k < 8; k++) {
            float v = lut[word >> (k * b) & mask];
            y[8 * j + k] = add ? y[8 * j + k] + v : v;
        }
    }
}

/*
 * packing_groups_lut() for b = 3 with AVX2: a group's 24 bits broadcast to eight lanes,
 * shifted by 3·lane and masked, index the eight-entry lut held in one register. Returns the
 * groups done (those with 4 bytes readable); the same floats as the scalar loop.
 */
__attribute__((target("avx2"))) static size_t
packing_groups3_avx2(float *y, const uint8_t *in, size_t groups, size_t nbytes, const float *lut,
                     bool add)
{
    const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    const __m256i seven = _mm256_set1_epi32(7);
    const __m256 table = _mm256_loadu_ps(lut);
    size_t j = 0;
    for (; j < groups && 3 * j + 4 <= nbytes; j++) {
        uint32_t w;
        memcpy(&w, in + 3 * j, sizeof w);
        __m256i f = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)w), shifts), seven);
        __m256 v = _mm256_permutevar8x32_ps(table, f);
        if (add)
            v = _mm256_add_ps(_mm256_loadu_ps(y + 8 * j), v);
        _mm256_storeu_ps(y + 8 * j, v);
    }
    return j;
}

/* y[i] += tbl[byte][k] over whole bytes: packing_unpack_table() adding. */
static void
packing_add_table(float *y, const uint8_t *in, size_t n, const struct packing_table *t)
{
    unsigned per = 8 / t->b;
    for (size_t i = 0; i < n / per; i++)
        for (unsigned k = 0; k < per; k++)
            y[i * per + k] += t->tbl[in[i]][k];
}

/* packing_unpack_lut(), or with add y[i] += lut[field i]. */
static inline __attribute__((always_inline)) void
packing_lut_kernel(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut, bool add)
{
    if (n >= PACKING_BYTE_TABLE_MIN && (b == 1 || b == 2 || b == 4)) {
        size_t done;
        if (add) {
            struct packing_table t;
            packing_table_init(&t, b, lut);
            done = n / (8 / b);
            packing_add_table(y, in, done * (8 / b), &t);
        } else {
            done = packing_unpack_bytes(y, in, n, b, lut);
        }
        y += done * (8 / b);
        in += done;
        n -= done * (8 / b);
    }
    uint64_t mask = ((uint64_t)1 << b) - 1;
    if (b < 8 && (b & (b - 1)) != 0) { /* b = 3, 5, 6, 7: eight fields from b bytes */
        size_t groups = n / 8, nbytes = bitpack_bytes(n, b);
        if (b == 3) {
            size_t done = __builtin_cpu_supports("avx2")
                              ? packing_groups3_avx2(y, in, groups, nbytes, lut, add)
                              : 0;
            packing_groups_lut(y + 8 * done, in + 3 * done, groups - done, nbytes - 3 * done, 3,
                               lut, add);
        } else
            packing_groups_lut(y, in, groups, nbytes, b, lut, add);
        y += 8 * groups;
        in += (size_t)b * groups;
        n -= 8 * groups;
    }
    size_t per = 64 / b;
    size_t full = b == 1 || b == 2 || b == 4 || b == 8 ? n / per : 0;
    for (size_t w = 0; w < full; w++) {
        uint64_t word = le_load64(in + 8 * w);
        float *q = y + w * per;
        for (size_t k = 0; k < per; k++) {
            float v = lut[(word >> (k * b)) & mask];
            q[k] = add ? q[k] + v : v;
        }
    }
    /* Other widths, and the fields after the last whole word. */
    struct bitpack_in r = { .in = in + 8 * full };
    for (size_t i = full * per; i < n; i++) {
        float v = lut[bitpack_in_get(&r, b)];
        y[i] = add ? y[i] + v : v;
    }
}

void
packing_unpack_lut(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
    packing_lut_kernel(y, in, n, b, lut, false);
}

void
packing_unpack_lut_add(float *acc, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
    packing_lut_kernel(acc, in, n, b, lut, true);
}
