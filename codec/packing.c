/* packing: word-at-a-time index packing. See packing.h. */
#include "codec/packing.h"

#include <string.h>

#include "base/bitpack.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "packing stores 64-bit words with memcpy on little-endian hosts");

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
        memcpy(out + 8 * w, &word, 8);
    }
    size_t done = full * per;
    if (done < n)
        bitpack_pack(out + 8 * full, idx + done, n - done, b);
}

void
packing_unpack_lut(float *y, const uint8_t *in, size_t n, unsigned b, const float *lut)
{
    uint64_t mask = ((uint64_t)1 << b) - 1;
    if (b != 1 && b != 2 && b != 4 && b != 8) {
        uint64_t acc = 0;
        unsigned have = 0;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            while (have < b) {
                acc |= (uint64_t)in[o++] << have;
                have += 8;
            }
            y[i] = lut[acc & mask];
            acc >>= b;
            have -= b;
        }
        return;
    }
    size_t per = 64 / b;
    size_t full = n / per;
    for (size_t w = 0; w < full; w++) {
        uint64_t word;
        memcpy(&word, in + 8 * w, 8);
        float *q = y + w * per;
        for (size_t k = 0; k < per; k++)
            q[k] = lut[(word >> (k * b)) & mask];
    }
    size_t done = full * per;
    const uint8_t *tail = in + 8 * full;
    for (size_t i = done, bit = 0; i < n; i++, bit += b) {
        unsigned v = (unsigned)(tail[bit / 8] >> (bit % 8)) & (unsigned)mask;
        y[i] = lut[v];
    }
}
