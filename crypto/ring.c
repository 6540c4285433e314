/* ring: Z_{2^k} vector arithmetic by masking the low k bits. See ring.h. */
#include "crypto/ring.h"

#include <assert.h>

#include "base/banned.h"

__extension__ typedef unsigned __int128 ring_u128;

uint64_t
ring_mask(unsigned k)
{
    assert(k >= 1 && k <= RING_BITS_MAX);
    return k == 64 ? UINT64_MAX : (UINT64_C(1) << k) - 1;
}

int
ring_bits_for(unsigned *k, uint64_t n, unsigned b, struct errbuf *eb)
{
    if (n == 0)
        return errbuf_set(eb, -ERR_INVALID, "ring sizing for 0 clients");
    if (b < 1 || b > RING_BITS_MAX)
        return errbuf_set(eb, -ERR_INVALID, "ring sizing for %u-bit values (1..64 allowed)", b);
    /* The largest possible sum; k is the bit length of this number (2^k > max). */
    ring_u128 max = (ring_u128)n * ring_mask(b);
    unsigned bits = 0;
    while (max != 0) {
        bits++;
        max >>= 1;
    }
    if (bits == 0)
        bits = 1;
    if (bits > RING_BITS_MAX)
        return errbuf_set(eb, -ERR_RANGE,
                          "sum of %llu values of %u bits needs a %u-bit ring (64 at most)",
                          (unsigned long long)n, b, bits);
    *k = bits;
    return 0;
}

void
ring_add_u32(uint32_t *acc, const uint32_t *x, size_t n, unsigned k)
{
    assert(k >= 1 && k <= 32);
    uint32_t m = (uint32_t)ring_mask(k);
    for (size_t i = 0; i < n; i++)
        acc[i] = (acc[i] + x[i]) & m;
}

void
ring_sub_u32(uint32_t *acc, const uint32_t *x, size_t n, unsigned k)
{
    assert(k >= 1 && k <= 32);
    uint32_t m = (uint32_t)ring_mask(k);
    for (size_t i = 0; i < n; i++)
        acc[i] = (acc[i] - x[i]) & m;
}

void
ring_add_u64(uint64_t *acc, const uint64_t *x, size_t n, unsigned k)
{
    uint64_t m = ring_mask(k);
    for (size_t i = 0; i < n; i++)
        acc[i] = (acc[i] + x[i]) & m;
}

void
ring_sub_u64(uint64_t *acc, const uint64_t *x, size_t n, unsigned k)
{
    uint64_t m = ring_mask(k);
    for (size_t i = 0; i < n; i++)
        acc[i] = (acc[i] - x[i]) & m;
}

void
ring_reduce_u32(uint32_t *v, size_t n, unsigned k)
{
    assert(k >= 1 && k <= 32);
    uint32_t m = (uint32_t)ring_mask(k);
    for (size_t i = 0; i < n; i++)
        v[i] &= m;
}

void
ring_reduce_u64(uint64_t *v, size_t n, unsigned k)
{
    uint64_t m = ring_mask(k);
    for (size_t i = 0; i < n; i++)
        v[i] &= m;
}
