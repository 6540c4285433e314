/*
 * le: little-endian loads and stores of 16-, 32- and 64-bit integers.
 *
 * Every fedbits wire format and key-derivation input writes integers little-endian
 * (the layouts in crypto/secagg_wire.h, codec/entropy.h, the PRG and RNG key inputs). These
 * inline functions are the one place that does it. They take any byte alignment; on a
 * little-endian machine the fixed widths are one memcpy, a single load or store (the PRG
 * expands masks through le_load32/64 in its inner loop). The *_n forms move the low w
 * bytes (w = 0..8) for formats with odd widths.
 */
#ifndef FEDBITS_BASE_LE_H
#define FEDBITS_BASE_LE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LE_HOST_IS_LE 1
#else
#define LE_HOST_IS_LE 0
#endif

static inline uint16_t
le_load16(const void *src)
{
    if (LE_HOST_IS_LE) {
        uint16_t v;
        memcpy(&v, src, sizeof v);
        return v;
    }
    const unsigned char *p = src;
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t
le_load32(const void *src)
{
    if (LE_HOST_IS_LE) {
        uint32_t v;
        memcpy(&v, src, sizeof v);
        return v;
    }
    const unsigned char *p = src;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
le_load64(const void *src)
{
    if (LE_HOST_IS_LE) {
        uint64_t v;
        memcpy(&v, src, sizeof v);
        return v;
    }
    const unsigned char *p = src;
    return (uint64_t)le_load32(p) | (uint64_t)le_load32(p + 4) << 32;
}

static inline void
le_store16(void *dst, uint16_t v)
{
    if (LE_HOST_IS_LE) {
        memcpy(dst, &v, sizeof v);
        return;
    }
    unsigned char *p = dst;
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void
le_store32(void *dst, uint32_t v)
{
    if (LE_HOST_IS_LE) {
        memcpy(dst, &v, sizeof v);
        return;
    }
    unsigned char *p = dst;
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void
le_store64(void *dst, uint64_t v)
{
    if (LE_HOST_IS_LE) {
        memcpy(dst, &v, sizeof v);
        return;
    }
    unsigned char *p = dst;
    le_store32(p, (uint32_t)v);
    le_store32(p + 4, (uint32_t)(v >> 32));
}

/* The w low bytes (w <= 8) at src as an integer. */
static inline uint64_t
le_load_n(const void *src, size_t w)
{
    const unsigned char *p = src;
    uint64_t v = 0;
    for (size_t j = 0; j < w; j++)
        v |= (uint64_t)p[j] << (8 * j);
    return v;
}

/* Stores the w low bytes (w <= 8) of v at dst. */
static inline void
le_store_n(void *dst, uint64_t v, size_t w)
{
    unsigned char *p = dst;
    for (size_t j = 0; j < w; j++)
        p[j] = (unsigned char)(v >> (8 * j));
}

#endif
