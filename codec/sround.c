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
 * Four coordinates a step; the rare ties (draw = floor(frac·2^16)) are settled afterwards
 * lane by lane in coordinate order, exactly as the portable loop does; the tail goes to
 * the portable loop.
 */
__attribute__((target("avx2"))) static void
sround_avx2(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
            unsigned top, const uint16_t *rnd, struct rng *r)
{
    const __m256d voff = _mm256_set1_pd(off), vmul = _mm256_set1_pd(mul);
    const __m256d two16 = _mm256_set1_pd(0x1p16);
    const __m256d one = _mm256_set1_pd(1.0), vtop = _mm256_set1_pd((double)top);
    const __m256d sign = _mm256_set1_pd(-0.0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(v + i));
        if (absval)
            x = _mm256_andnot_pd(sign, x);
        __m256d u = _mm256_mul_pd(_mm256_sub_pd(x, voff), vmul);
        __m256d fl = _mm256_round_pd(u, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256d t = _mm256_mul_pd(_mm256_sub_pd(u, fl), two16);
        __m256d t16 = _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m128i r16 = _mm_loadl_epi64((const __m128i *)(rnd + i));
        __m256d rd = _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(r16));
        __m256d up = _mm256_and_pd(_mm256_cmp_pd(rd, t16, _CMP_LT_OQ), one);
        __m256d q = _mm256_min_pd(_mm256_add_pd(fl, up), vtop);
        __m128i qi = _mm256_cvttpd_epi32(q);
        _mm_storel_epi64((__m128i *)(k + i), _mm_packus_epi32(qi, qi));
        int tie = _mm256_movemask_pd(_mm256_cmp_pd(rd, t16, _CMP_EQ_OQ));
        if (__builtin_expect(tie != 0, 0)) {
            for (size_t l = 0; l < 4; l++)
                if (tie >> l & 1)
                    sround_portable(k + i + l, v + i + l, 1, off, mul, absval, top, rnd + i + l, r);
        }
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
