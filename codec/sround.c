/* sround: stochastic rounding to integer levels. See sround.h. */
#include "codec/sround.h"

#include <immintrin.h>
#include <math.h>

#include "base/banned.h"

static void
sround_portable(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
                unsigned top, const uint32_t *rnd)
{
    for (size_t i = 0; i < n; i++) {
        double x = absval ? fabs((double)v[i]) : (double)v[i];
        double u = (x - off) * mul;
        double fl = (double)(int64_t)u; /* floor: u >= 0 */
        unsigned q = (unsigned)fl;
        q += (u - fl) * 0x1p32 > (double)rnd[i]; /* branch-free: it is a coin flip */
        k[i] = (uint16_t)(q > top ? top : q);
    }
}

/* Four coordinates a step; the tail goes to the portable loop. */
__attribute__((target("avx2"))) static void
sround_avx2(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
            unsigned top, const uint32_t *rnd)
{
    const __m256d voff = _mm256_set1_pd(off), vmul = _mm256_set1_pd(mul);
    const __m256d two32 = _mm256_set1_pd(0x1p32), two31 = _mm256_set1_pd(0x1p31);
    const __m256d one = _mm256_set1_pd(1.0), vtop = _mm256_set1_pd((double)top);
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m128i flip = _mm_set1_epi32((int)0x80000000u);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(v + i));
        if (absval)
            x = _mm256_andnot_pd(sign, x);
        __m256d u = _mm256_mul_pd(_mm256_sub_pd(x, voff), vmul);
        __m256d fl = _mm256_round_pd(u, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256d t = _mm256_mul_pd(_mm256_sub_pd(u, fl), two32);
        /* ceil(t) - 2^31 and r - 2^31 are exact doubles of integers */
        __m256d c =
            _mm256_sub_pd(_mm256_round_pd(t, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC), two31);
        __m128i ri = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rnd + i)), flip);
        __m256d rd = _mm256_cvtepi32_pd(ri);
        __m256d up = _mm256_and_pd(_mm256_cmp_pd(c, rd, _CMP_GT_OQ), one);
        __m256d q = _mm256_min_pd(_mm256_add_pd(fl, up), vtop);
        __m128i qi = _mm256_cvttpd_epi32(q);
        _mm_storel_epi64((__m128i *)(k + i), _mm_packus_epi32(qi, qi));
    }
    sround_portable(k + i, v + i, n - i, off, mul, absval, top, rnd + i);
}

void
sround(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval, unsigned top,
       struct rng *r)
{
    uint32_t rnd[SROUND_BATCH];
    bool avx2 = __builtin_cpu_supports("avx2");
    for (size_t i = 0; i < n; i += SROUND_BATCH) {
        size_t m = n - i < SROUND_BATCH ? n - i : SROUND_BATCH;
        rng_u32s(r, rnd, m);
        if (avx2)
            sround_avx2(k + i, v + i, m, off, mul, absval, top, rnd);
        else
            sround_portable(k + i, v + i, m, off, mul, absval, top, rnd);
    }
}
