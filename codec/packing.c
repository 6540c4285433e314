/* packing: word-at-a-time index packing. See packing.h. */
#include "codec/packing.h"

#include <string.h>

#include "base/bitpack.h"
#include "base/le.h"
#include "base/banned.h"

void
packing_pack(uint8_t *out, const uint16_t *idx, size_t n, unsigned b)
{
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

void
packing_unpack(uint16_t *idx, const uint8_t *in, size_t n, unsigned b)
{
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

static size_t
packing_unpack_bytes(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
    float tbl[256][8];
    unsigned per = 8 / b, mask = (1u << b) - 1;
    for (unsigned v = 0; v < 256; v++)
        for (unsigned k = 0; k < per; k++)
            tbl[v][k] = lut[v >> (k * b) & mask];
    size_t bytes = n / per;
    for (size_t i = 0; i < bytes; i++)
        memcpy(y + i * per, tbl[in[i]], per * sizeof *y);
    return bytes;
}

void
packing_unpack_lut(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
    if (n >= PACKING_BYTE_TABLE_MIN && (b == 1 || b == 2 || b == 4)) {
        size_t done = packing_unpack_bytes(y, in, n, b, lut);
        y += done * (8 / b);
        in += done;
        n -= done * (8 / b);
    }
    uint64_t mask = ((uint64_t)1 << b) - 1;
    size_t per = 64 / b;
    size_t full = b == 1 || b == 2 || b == 4 || b == 8 ? n / per : 0;
    for (size_t w = 0; w < full; w++) {
        uint64_t word = le_load64(in + 8 * w);
        float *q = y + w * per;
        for (size_t k = 0; k < per; k++)
            q[k] = lut[(word >> (k * b)) & mask];
    }
    /* Other widths, and the fields after the last whole word. */
    struct bitpack_in r = { .in = in + 8 * full };
    for (size_t i = full * per; i < n; i++)
        y[i] = lut[bitpack_in_get(&r, b)];
}
