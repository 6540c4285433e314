/* packing: word-at-a-time index packing. See packing.h. */
#include "codec/packing.h"

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
packing_unpack_lut(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
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
