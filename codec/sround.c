/* sround: stochastic rounding to integer levels. See sround.h. */
#include "codec/sround.h"

#include <immintrin.h>
#include <math.h>

#include "base/banned.h"

static void
sround_portable(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
                unsigned top, const uint16_t *rnd, struct rng *r)
{
    for (size_t i = 0; i < n; i++) {
        double x = absval ? fabs((double)v[i]) : (double)v[i];
        double u = (x - off) * mul;
        double fl = (double)(int64_t)u; /* floor: u >= 0 */
        unsigned q = (unsigned)fl + sround_coin_with(u - fl, rnd[i], r);
        k[i] = (uint16_t)(q > top ? top : q);
    }
}

/*
 * Eight coordinates a step. With U = trunc(u·2^16) (u·2^16 is exact), floor(u) = U >> 16 and
 * floor(frac(u)·2^16) = U & 0xffff, so the coin and the level are 32-bit integer work. A
 * step with a tie, or with u outside [0, 2^15) (where U would not fit), is redone by the
 * portable loop (which settles ties in coordinate order); the tail goes to it too.
 */
__attribute__((target("avx2"))) static void
sround_avx2(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
            unsigned top, const uint16_t *rnd, struct rng *r)
{
    const __m256d voff = _mm256_set1_pd(off), vmul = _mm256_set1_pd(mul);
    const __m256d two16 = _mm256_set1_pd(0x1p16), lim = _mm256_set1_pd(0x1p15);
    const __m256d zero = _mm256_setzero_pd(), sign = _mm256_set1_pd(-0.0);
    const __m256i low16 = _mm256_set1_epi32(0xffff), vtop = _mm256_set1_epi32((int)top);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(v + i));
        __m256d x1 = _mm256_cvtps_pd(_mm_loadu_ps(v + i + 4));
        if (absval) {
            x0 = _mm256_andnot_pd(sign, x0);
            x1 = _mm256_andnot_pd(sign, x1);
        }
        __m256d u0 = _mm256_mul_pd(_mm256_sub_pd(x0, voff), vmul);
        __m256d u1 = _mm256_mul_pd(_mm256_sub_pd(x1, voff), vmul);
        __m256d in0 =
            _mm256_and_pd(_mm256_cmp_pd(u0, zero, _CMP_GE_OQ), _mm256_cmp_pd(u0, lim, _CMP_LT_OQ));
        __m256d in1 =
            _mm256_and_pd(_mm256_cmp_pd(u1, zero, _CMP_GE_OQ), _mm256_cmp_pd(u1, lim, _CMP_LT_OQ));
        __m256i U = _mm256_setr_m128i(_mm256_cvttpd_epi32(_mm256_mul_pd(u0, two16)),
                                      _mm256_cvttpd_epi32(_mm256_mul_pd(u1, two16)));
        __m256i t16 = _mm256_and_si256(U, low16);
        __m256i rd = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(rnd + i)));
        __m256i tie = _mm256_cmpeq_epi32(rd, t16);
        if (__builtin_expect((_mm256_movemask_pd(in0) & _mm256_movemask_pd(in1)) != 0xf ||
                                 !_mm256_testz_si256(tie, tie),
                             0)) {
            sround_portable(k + i, v + i, 8, off, mul, absval, top, rnd + i, r);
            continue;
        }
        __m256i heads = _mm256_cmpgt_epi32(t16, rd); /* -1 where the coin is heads */
        __m256i q = _mm256_min_epu32(_mm256_sub_epi32(_mm256_srli_epi32(U, 16), heads), vtop);
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(q, q), 0xd8);
        _mm_storeu_si128((__m128i *)(k + i), _mm256_castsi256_si128(p));
    }
    sround_portable(k + i, v + i, n - i, off, mul, absval, top, rnd + i, r);
}

void
sround_run(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval, unsigned top,
           struct rng *r, enum sround_path path)
{
    uint16_t rnd[SROUND_BATCH];
    bool avx2 = path == SROUND_BEST && __builtin_cpu_supports("avx2");
    for (size_t i = 0; i < n; i += SROUND_BATCH) {
        size_t m = n - i < SROUND_BATCH ? n - i : SROUND_BATCH;
        rng_fast_u16s(r, rnd, m);
        if (avx2)
            sround_avx2(k + i, v + i, m, off, mul, absval, top, rnd, r);
        else
            sround_portable(k + i, v + i, m, off, mul, absval, top, rnd, r);
    }
}

void
sround(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval, unsigned top,
       struct rng *r)
{
    sround_run(k, v, n, off, mul, absval, top, r, SROUND_BEST);
}

/* sround_cells() on coordinates [i, i + m) with their draws rnd[0..m). */
static int
sround_cells_portable(uint16_t *idx, const float *y, size_t m, double sc, double T, double to_u,
                      unsigned g, const uint16_t *cell, const uint16_t *table, const uint16_t *rnd,
                      struct rng *r)
{
    for (size_t i = 0; i < m; i++) {
        double z = sc * y[i];
        if (!isfinite(z))
            return -1;
        z = z < -T ? -T : z > T ? T : z;
        double u = (z + T) * to_u;
        unsigned k = cell[u < (double)g ? (unsigned)u : g]; /* u >= 0: truncation = floor */
        double lo = table[k], hi = table[k + 1];
        k += sround_coin_with((u - lo) / (hi - lo), rnd[i], r);
        idx[i] = (uint16_t)k;
    }
    return 0;
}

/*
 * Four coordinates a step, without a division. Per integer part u0 = floor(u) (clamped to
 * g) two gathers read kl32[u0] = k | table[k] << 16 (k = cell[u0]) and
 * inv[u0] = 2^16/(table[k + 1] - table[k]), and x' = (u - table[k])·inv approximates the
 * portable x = fl((u - table[k])/(table[k + 1] - table[k]))·2^16 within 2^-34 (u - table[k]
 * is exact, each product or quotient rounds once, and x <= 2^16 + 1). With the draw rd
 * the portable coin is heads when x >= rd + 1 (rd < floor(x)), tails when x < rd, and a tie
 * in between; so x' >= rd + 1 + 2^-20 is heads and x' < rd - 2^-20 tails for certain. A
 * step with any other coordinate (a tie, or within 2^-20 of one: chance about 2^-16 each),
 * or a value that is not finite, is redone by the portable loop (which settles ties in
 * order, or fails).
 */
__attribute__((target("avx2"))) static int
sround_cells_avx2(uint16_t *idx, const float *y, size_t m, double sc, double T, double to_u,
                  unsigned g, const int32_t *kl32, const double *inv, const uint16_t *cell,
                  const uint16_t *table, const uint16_t *rnd, struct rng *r)
{
    const __m256d vsc = _mm256_set1_pd(sc), vT = _mm256_set1_pd(T), vnT = _mm256_set1_pd(-T);
    const __m256d vto = _mm256_set1_pd(to_u), vg = _mm256_set1_pd((double)g);
    const __m256d one = _mm256_set1_pd(1.0), up = _mm256_set1_pd(1.0 + 0x1p-20);
    const __m256d down = _mm256_set1_pd(0x1p-20);
    const __m256d big = _mm256_set1_pd(0x1.fffffffffffffp+1023), sign = _mm256_set1_pd(-0.0);
    const __m128i low16 = _mm_set1_epi32(0xffff);
    size_t i = 0;
    for (; i + 4 <= m; i += 4) {
        __m256d z = _mm256_mul_pd(vsc, _mm256_cvtps_pd(_mm_loadu_ps(y + i)));
        int fin = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, z), big, _CMP_LE_OQ));
        z = _mm256_max_pd(_mm256_min_pd(z, vT), vnT); /* NaN becomes T: the index stays in range */
        __m256d u = _mm256_mul_pd(_mm256_add_pd(z, vT), vto);
        __m128i ui = _mm256_cvttpd_epi32(_mm256_min_pd(u, vg));
        __m128i kl = _mm_i32gather_epi32(kl32, ui, 4);
        __m256d iv = _mm256_i32gather_pd(inv, ui, 8);
        __m256d lo = _mm256_cvtepi32_pd(_mm_srli_epi32(kl, 16));
        __m256d x = _mm256_mul_pd(_mm256_sub_pd(u, lo), iv);
        __m128i r16 = _mm_loadl_epi64((const __m128i *)(rnd + i));
        __m256d rd = _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(r16));
        __m256d heads = _mm256_cmp_pd(x, _mm256_add_pd(rd, up), _CMP_GE_OQ);
        __m256d tails = _mm256_cmp_pd(x, _mm256_sub_pd(rd, down), _CMP_LT_OQ);
        int sure = _mm256_movemask_pd(_mm256_or_pd(heads, tails));
        if (__builtin_expect(fin != 0xf || sure != 0xf, 0)) {
            if (sround_cells_portable(idx + i, y + i, 4, sc, T, to_u, g, cell, table, rnd + i, r) <
                0)
                return -1;
            continue;
        }
        __m128i k = _mm_and_si128(kl, low16);
        __m128i q = _mm_add_epi32(k, _mm256_cvttpd_epi32(_mm256_and_pd(heads, one)));
        _mm_storel_epi64((__m128i *)(idx + i), _mm_packus_epi32(q, q));
    }
    return sround_cells_portable(idx + i, y + i, m - i, sc, T, to_u, g, cell, table, rnd + i, r);
}

int
sround_cells(uint16_t *idx, const float *y, size_t n, double sc, double T, double to_u, unsigned g,
             const uint16_t *cell, const uint16_t *table, struct rng *r, enum sround_path path)
{
    uint16_t rnd[SROUND_BATCH];
    int32_t kl32[SROUND_CELLS_MAX];
    double inv[SROUND_CELLS_MAX];
    bool avx2 = path == SROUND_BEST && g < SROUND_CELLS_MAX && __builtin_cpu_supports("avx2");
    if (avx2) {
        for (unsigned u = 0; u <= g; u++) {
            unsigned k = cell[u];
            kl32[u] = (int32_t)(k | (unsigned)table[k] << 16);
            inv[u] = 0x1p16 / (double)(table[k + 1] - table[k]);
        }
    }
    for (size_t i = 0; i < n; i += SROUND_BATCH) {
        size_t m = n - i < SROUND_BATCH ? n - i : SROUND_BATCH;
        rng_fast_u16s(r, rnd, m);
        int rc =
            avx2 ? sround_cells_avx2(idx + i, y + i, m, sc, T, to_u, g, kl32, inv, cell, table, rnd,
                                     r)
                 : sround_cells_portable(idx + i, y + i, m, sc, T, to_u, g, cell, table, rnd, r);
        if (rc < 0)
            return -1;
    }
    return 0;
}
