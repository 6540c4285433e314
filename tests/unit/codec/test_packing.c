/* packing and sround: the fast paths against the plain definitions. */
#include <math.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/rng.h"
#include "codec/packing.h"
#include "codec/sround.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

#define PK_MAX 20001 /* past the byte-table threshold, with a tail */

static uint16_t pk_idx[PK_MAX], pk_back[PK_MAX];
static uint8_t pk_a[2 * PK_MAX + 8], pk_b[2 * PK_MAX + 8];
static float pk_y[PK_MAX];

/* Same bytes as bitpack_pack(), and every unpacking path gives the fields back. */
START_TEST(packing_matches_bitpack)
{
    static const size_t sizes[] = { 0, 1, 63, 64, 65, 1000, 16384, PK_MAX };
    struct rng r;
    rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, 0);
    for (unsigned b = 1; b <= 16; b++) {
        float lut[256];
        for (unsigned k = 0; k < 256; k++)
            lut[k] = (float)k * 0.5f - 3.0f;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++)
                pk_idx[i] = (uint16_t)(rng_u32(&r) & ((1u << b) - 1));
            size_t bytes = bitpack_bytes(n, b);
            bitpack_pack(pk_a, pk_idx, n, b);
            packing_pack(pk_b, pk_idx, n, b);
            ck_assert_mem_eq(pk_a, pk_b, bytes);
            memset(pk_back, 0xff, sizeof pk_back);
            packing_unpack(pk_back, pk_b, n, b);
            ck_assert_mem_eq(pk_back, pk_idx, n * sizeof *pk_idx);
            if (b <= 8) {
                packing_unpack_lut(pk_y, pk_b, n, b, lut);
                for (size_t i = 0; i < n; i++)
                    ck_assert(pk_y[i] == lut[pk_idx[i]]);
            }
        }
    }
}
END_TEST

/* sround() against its definition, with the draws of rng_u32(). */
START_TEST(sround_matches_definition)
{
    static float v[PK_MAX];
    static uint16_t k[PK_MAX];
    for (int absval = 0; absval < 2; absval++) {
        for (unsigned top = 1; top <= 255; top = top * 2 + 1) {
            struct rng r;
            rng_init_stream(&r, 2, RNG_PURPOSE_TEST, top, (uint64_t)absval);
            for (size_t i = 0; i < PK_MAX; i++)
                v[i] = (float)(rng_uniform(&r) * 2.0 + (absval ? -1.0 : 0.5));
            v[7] = absval ? -1.0f : 0.5f; /* exactly a level */
            double off = absval ? 0.0 : 0.5, mul = top / (absval ? 1.0 : 2.0);
            struct rng a, b;
            rng_init_stream(&a, 3, RNG_PURPOSE_TEST, top, 0);
            rng_init_stream(&b, 3, RNG_PURPOSE_TEST, top, 0);
            sround(k, v, PK_MAX, off, mul, absval != 0, top, &a);
            for (size_t i = 0; i < PK_MAX; i++) {
                double x = absval ? fabs((double)v[i]) : (double)v[i];
                double u = (x - off) * mul;
                double fl = floor(u);
                unsigned q = (unsigned)fl + ((u - fl) * 0x1p32 > (double)rng_u32(&b));
                ck_assert_uint_eq(k[i], q > top ? top : q);
            }
        }
    }
}
END_TEST

Suite *
packing_suite(void)
{
    Suite *s = suite_create("packing");
    TCase *tc = tcase_create("packing");
    tcase_add_test(tc, packing_matches_bitpack);
    tcase_add_test(tc, sround_matches_definition);
    suite_add_tcase(s, tc);
    return s;
}
