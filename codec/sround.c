/* sround: stochastic rounding to integer levels. See sround.h. */
#include "codec/sround.h"

#include <assert.h>
#include <float.h>
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
    bool avx2 = path != SROUND_PORTABLE && __builtin_cpu_supports("avx2");
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
sround_drawn(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval,
             unsigned top, const uint16_t *rnd, struct rng *r)
{
    if (__builtin_cpu_supports("avx2"))
        sround_avx2(k, v, n, off, mul, absval, top, rnd, r);
    else
        sround_portable(k, v, n, off, mul, absval, top, rnd, r);
}

void
sround(uint16_t *k, const float *v, size_t n, double off, double mul, bool absval, unsigned top,
       struct rng *r)
{
    sround_run(k, v, n, off, mul, absval, top, r, SROUND_BEST);
}

/* The error bound sround_above_avx2() allows on V = u·2^16: (top + 1)/64. */
#define SROUND_ABOVE_TOP_MAX 15 /* its float path takes top <= this */

/*
 * sround_run() of v[i] >= lo in float, eight coordinates a step; a step with any coordinate
 * in doubt is redone by the portable loop (which settles ties in coordinate order).
 *
 * The portable loop's level is a function of U = floor(V), V = u·2^16 = (v_i - lo)·mul·2^16
 * (double): q(U) = (U >> 16) + (U & 0xffff > rd), nondecreasing in U, with a tie at
 * U & 0xffff = rd. Here Vf = fl32(fl32(v_i - lo)·fl32(mul·2^16)) is within
 * 3.001·2^-24·V <= 3.001·top/256 of V (the double path adds 2^-50 relative, V <= top·2^16
 * up to that), below E = (top + 1)/64 by (top + 1)/256 at least, more than half an ulp of
 * a float below 2^16(top + 1) (an ulp there is at most 2^-7·(top + 1)): so V lies in [a, b] with a
 * = max(fl32(Vf - E), 0), b = fl32(Vf + E), b - a < 1 for top <= 15, and floor(V) is floor(a) or
 * floor(b). When q(floor(a)) = q(floor(b)) and neither is a tie, that is the level; otherwise
 * (chance about 2^-16 a coordinate) the step is in doubt, as is Vf >= 2^16(top + 1) (an overflow of
 * v_i - lo).
 */
__attribute__((target("avx2"))) static void
sround_above_avx2(uint16_t *k, const float *v, size_t n, float lo, double mul, unsigned top,
                  const uint16_t *rnd, struct rng *r)
{
    const __m256 vlo = _mm256_set1_ps(lo), vm = _mm256_set1_ps((float)(mul * 0x1p16));
    const __m256 ve = _mm256_set1_ps((float)(top + 1) / 64.0f);
    const __m256 lim = _mm256_set1_ps((float)(top + 1) * 0x1p16f), zero = _mm256_setzero_ps();
    const __m256i low16 = _mm256_set1_epi32(0xffff), vtop = _mm256_set1_epi32((int)top);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vf = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(v + i), vlo), vm);
        __m256i in = _mm256_castps_si256(_mm256_cmp_ps(vf, lim, _CMP_LT_OQ));
        __m256i ua = _mm256_cvttps_epi32(_mm256_max_ps(_mm256_sub_ps(vf, ve), zero));
        __m256i ub = _mm256_cvttps_epi32(_mm256_add_ps(vf, ve));
        __m256i rd = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(rnd + i)));
        __m256i ta = _mm256_and_si256(ua, low16), tb = _mm256_and_si256(ub, low16);
        __m256i qa = _mm256_sub_epi32(_mm256_srli_epi32(ua, 16), _mm256_cmpgt_epi32(ta, rd));
        __m256i qb = _mm256_sub_epi32(_mm256_srli_epi32(ub, 16), _mm256_cmpgt_epi32(tb, rd));
        __m256i tie = _mm256_or_si256(_mm256_cmpeq_epi32(ta, rd), _mm256_cmpeq_epi32(tb, rd));
        __m256i sure = _mm256_andnot_si256(tie, _mm256_and_si256(in, _mm256_cmpeq_epi32(qa, qb)));
        if (__builtin_expect(_mm256_movemask_ps(_mm256_castsi256_ps(sure)) != 0xff, 0)) {
            sround_portable(k + i, v + i, 8, (double)lo, mul, false, top, rnd + i, r);
            continue;
        }
        __m256i q = _mm256_min_epu32(qa, vtop);
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(q, q), 0xd8);
        _mm_storeu_si128((__m128i *)(k + i), _mm256_castsi256_si128(p));
    }
    sround_portable(k + i, v + i, n - i, (double)lo, mul, false, top, rnd + i, r);
}

void
sround_above(uint16_t *k, const float *v, size_t n, float lo, double mul, unsigned top,
             struct rng *r, enum sround_path path)
{
    /* mul·2^16 must be a finite float for the float path */
    if (path == SROUND_PORTABLE || top > SROUND_ABOVE_TOP_MAX || !(mul * 0x1p16 <= FLT_MAX) ||
        !__builtin_cpu_supports("avx2")) {
        sround_run(k, v, n, (double)lo, mul, false, top, r, path);
        return;
    }
    uint16_t rnd[SROUND_BATCH];
    for (size_t i = 0; i < n; i += SROUND_BATCH) {
        size_t m = n - i < SROUND_BATCH ? n - i : SROUND_BATCH;
        /* the batch's coordinates come from memory while the keystream is computed */
        for (size_t j = 0; j < m; j += 16)
            __builtin_prefetch(v + i + j, 0, 2);
        rng_fast_u16s(r, rnd, m);
        sround_above_avx2(k + i, v + i, m, lo, mul, top, rnd, r);
    }
}

/*
 * sround_cells() on coordinates [i, i + m) with their draws rnd[0..m); with ties (not NULL),
 * a coin tie takes no draw of r: the coordinate gets the lower level and base + its index
 * goes to ties (sround_cells_defer()).
 */
static int
sround_cells_portable(uint16_t *idx, const float *y, size_t m, double sc, double T, double to_u,
                      unsigned g, const uint16_t *cell, const uint16_t *table, const uint16_t *rnd,
                      struct rng *r, struct sround_ties *ties, size_t base)
{
    for (size_t i = 0; i < m; i++) {
        double z = sc * y[i];
        if (!isfinite(z))
            return -1;
        z = z < -T ? -T : z > T ? T : z;
        double u = (z + T) * to_u;
        unsigned k = cell[u < (double)g ? (unsigned)u : g]; /* u >= 0: truncation = floor */
        double lo = table[k], hi = table[k + 1];
        double p = (u - lo) / (hi - lo);
        if (ties == NULL) {
            k += sround_coin_with(p, rnd[i], r);
        } else { /* sround_coin_with() up to the tie's draw */
            double t16 = (double)(int64_t)(p * 0x1p16);
            if ((double)rnd[i] != t16)
                k += (double)rnd[i] < t16;
            else if (ties->n < ties->cap)
                ties->at[ties->n++] = base + i;
            else
                ties->full = true;
        }
        idx[i] = (uint16_t)k;
    }
    return 0;
}

static void
sround_cells_vec_init(struct sround_cells_vec *cv, double sc, double T, double to_u, unsigned g,
                      const uint16_t *cell, const uint16_t *table)
{
    for (unsigned u = g + 1; u < 32; u++) { /* the AVX-512 path loads 32 entries */
        cv->kl32[u] = 0;
        cv->inv[u] = 0.0f;
    }
    for (unsigned u = 0; u <= g; u++) {
        unsigned k = cell[u];
        cv->kl32[u] = (int32_t)(k | (unsigned)table[k] << 16);
        cv->inv[u] = (float)(0x1p16 / (double)(table[k + 1] - table[k]));
    }
    cv->scf = (float)sc;
    cv->Tf = (float)T;
    cv->to_uf = (float)to_u;
    cv->eps_u = (float)(g * 0x1p-20);
    cv->delta = (float)((g + 1) * 0x1p-4);
    /* As the portable loop computes a coordinate clamped to T. */
    double u = (T + T) * to_u;
    unsigned k = cell[u < (double)g ? (unsigned)u : g];
    double p = (u - table[k]) / (double)(table[k + 1] - table[k]);
    cv->k_hi = (int32_t)k;
    cv->t16_hi = (int32_t)(p * 0x1p16);
}

/*
 * Eight coordinates a step in float, each decided only when the float error cannot change
 * the portable result; a step with any coordinate in doubt is redone by the portable loop
 * (which settles ties in order, or fails on a value that is not finite).
 *
 * With zf = fl32(fl32(sc)·y): |zf - z| <= 2^-22.8·|sc·y| against the portable z = sc·y.
 * So |zf| >= Tf(1 + 2^-20) means z is clamped (u = 0 below; at T, u = 2T·to_u, whose cell
 * k_hi and floor t16_hi are constants), |zf| < Tf(1 - 2^-20) means it is not, and in between
 * is in doubt. Inside, uf = fl32(fl32(zf + Tf)·fl32(to_u)) is within g·4.7·2^-24 <
 * eps_u = g·2^-20 of the portable u, so floor(u) = floor(uf) unless frac(uf) is within
 * eps_u of 0 or 1 (in doubt). Then x' = (uf - table[k])·fl32(2^16/(table[k+1] - table[k]))
 * (the subtraction exact) is within eps_u·2^16 + 2^-7 < delta = (g + 1)/16 of the portable
 * x = fl((u - table[k])/(table[k+1] - table[k]))·2^16, and with the draw rd the portable
 * coin is heads when x >= rd + 1, tails when x < rd, a tie in between: x' >= rd + 1 + delta
 * is heads, x' < rd - delta tails, anything else in doubt (chance about (2·delta + 1)/2^16).
 * Clamped coordinates are in doubt only on their own ties (rd = 0 below, rd = t16_hi above).
 */
__attribute__((target("avx2"))) static int
sround_cells_avx2(uint16_t *idx, const float *y, size_t m, double sc, double T, double to_u,
                  unsigned g, const struct sround_cells_vec *cv, const uint16_t *cell,
                  const uint16_t *table, const uint16_t *rnd, struct rng *r,
                  struct sround_ties *ties, size_t base)
{
    const __m256 vsc = _mm256_set1_ps(cv->scf), vT = _mm256_set1_ps(cv->Tf);
    const __m256 vto = _mm256_set1_ps(cv->to_uf), veps = _mm256_set1_ps(cv->eps_u);
    const __m256 vdelta = _mm256_set1_ps(cv->delta), one = _mm256_set1_ps(1.0f);
    const __m256 clamp_at = _mm256_set1_ps(cv->Tf * (1.0f + 0x1p-20f));
    const __m256 inside_below = _mm256_set1_ps(cv->Tf * (1.0f - 0x1p-20f));
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i low16 = _mm256_set1_epi32(0xffff), zero = _mm256_setzero_si256();
    const __m256i k_hi = _mm256_set1_epi32(cv->k_hi), t16_hi = _mm256_set1_epi32(cv->t16_hi);
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        __m256 zf = _mm256_mul_ps(vsc, _mm256_loadu_ps(y + i));
        __m256 az = _mm256_and_ps(zf, absmask);
        __m256 inside = _mm256_cmp_ps(az, inside_below, _CMP_LT_OQ); /* false for NaN */
        __m256 clamped = _mm256_cmp_ps(az, clamp_at, _CMP_GE_OQ);    /* true for inf */
        __m256 finite = _mm256_cmp_ps(az, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ);
        clamped = _mm256_and_ps(clamped, finite);
        __m256 high = _mm256_and_ps(clamped, _mm256_cmp_ps(zf, _mm256_setzero_ps(), _CMP_GT_OQ));
        /* inside: uf in (0, g); elsewhere 0 so that the lookups stay in range */
        __m256 uf = _mm256_and_ps(_mm256_mul_ps(_mm256_add_ps(zf, vT), vto), inside);
        __m256 fl = _mm256_round_ps(uf, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __m256 fr = _mm256_sub_ps(uf, fl);
        __m256 sure_floor = _mm256_and_ps(_mm256_cmp_ps(fr, veps, _CMP_GE_OQ),
                                          _mm256_cmp_ps(fr, _mm256_sub_ps(one, veps), _CMP_LE_OQ));
        __m256i ui = _mm256_cvttps_epi32(fl);
        __m256i kl = _mm256_i32gather_epi32(cv->kl32, ui, 4);
        __m256 iv = _mm256_i32gather_ps(cv->inv, ui, 4);
        __m256 lo = _mm256_cvtepi32_ps(_mm256_srli_epi32(kl, 16));
        __m256 x = _mm256_mul_ps(_mm256_sub_ps(uf, lo), iv);
        __m256i rdi = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(rnd + i)));
        __m256 rd = _mm256_cvtepi32_ps(rdi);
        __m256 heads = _mm256_cmp_ps(x, _mm256_add_ps(_mm256_add_ps(rd, one), vdelta), _CMP_GE_OQ);
        __m256 tails = _mm256_cmp_ps(x, _mm256_sub_ps(rd, vdelta), _CMP_LT_OQ);
        __m256 sure_in =
            _mm256_and_ps(_mm256_and_ps(inside, sure_floor), _mm256_or_ps(heads, tails));
        /* clamped: a tie only at rd = 0 (below) or rd = t16_hi (above) */
        __m256i tie_c =
            _mm256_cmpeq_epi32(rdi, _mm256_blendv_epi8(zero, t16_hi, _mm256_castps_si256(high)));
        __m256 sure_c = _mm256_andnot_ps(_mm256_castsi256_ps(tie_c), clamped);
        if (__builtin_expect(_mm256_movemask_ps(_mm256_or_ps(sure_in, sure_c)) != 0xff, 0)) {
            if (sround_cells_portable(idx + i, y + i, 8, sc, T, to_u, g, cell, table, rnd + i, r,
                                      ties, base + i) < 0)
                return -1;
            continue;
        }
        __m256i k_in = _mm256_sub_epi32(_mm256_and_si256(kl, low16),
                                        _mm256_castps_si256(heads)); /* heads is -1 */
        __m256i k_c = _mm256_and_si256(_mm256_sub_epi32(k_hi, _mm256_cmpgt_epi32(t16_hi, rdi)),
                                       _mm256_castps_si256(high));
        __m256i q = _mm256_blendv_epi8(k_c, k_in, _mm256_castps_si256(inside));
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(q, q), 0xd8);
        _mm_storeu_si128((__m128i *)(idx + i), _mm256_castsi256_si128(p));
    }
    return sround_cells_portable(idx + i, y + i, m - i, sc, T, to_u, g, cell, table, rnd + i, r,
                                 ties, base + i);
}

/*
 * sround_cells_avx2() sixteen coordinates a step with AVX-512F, for tables of g < 32: the
 * same float operations, bounds and decisions lane by lane, the two lookups from registers
 * (vpermt2d/vpermt2ps over the 32 entries) instead of gathers, the conditions as masks.
 * kl32 and inv hold 32 entries (those beyond g are never selected: uf < g when inside).
 */
__attribute__((target("avx512f"))) static int
sround_cells_avx512(uint16_t *idx, const float *y, size_t m, double sc, double T, double to_u,
                    unsigned g, const struct sround_cells_vec *cv, const uint16_t *cell,
                    const uint16_t *table, const uint16_t *rnd, struct rng *r,
                    struct sround_ties *ties, size_t base)
{
    const __m512 vsc = _mm512_set1_ps(cv->scf), vT = _mm512_set1_ps(cv->Tf);
    const __m512 vto = _mm512_set1_ps(cv->to_uf), veps = _mm512_set1_ps(cv->eps_u);
    const __m512 vdelta = _mm512_set1_ps(cv->delta), one = _mm512_set1_ps(1.0f);
    const __m512 one_eps = _mm512_sub_ps(one, veps), fmax = _mm512_set1_ps(FLT_MAX);
    const __m512 clamp_at = _mm512_set1_ps(cv->Tf * (1.0f + 0x1p-20f));
    const __m512 inside_below = _mm512_set1_ps(cv->Tf * (1.0f - 0x1p-20f));
    const __m512 zerof = _mm512_setzero_ps();
    const __m512i low16 = _mm512_set1_epi32(0xffff), one_i = _mm512_set1_epi32(1);
    const __m512i k_hi = _mm512_set1_epi32(cv->k_hi), t16_hi = _mm512_set1_epi32(cv->t16_hi);
    const __m512i kl_a = _mm512_loadu_si512(cv->kl32), kl_b = _mm512_loadu_si512(cv->kl32 + 16);
    const __m512 inv_a = _mm512_loadu_ps(cv->inv), inv_b = _mm512_loadu_ps(cv->inv + 16);
    size_t i = 0;
    for (; i + 16 <= m; i += 16) {
        __m512 zf = _mm512_mul_ps(vsc, _mm512_loadu_ps(y + i));
        __m512 az = _mm512_abs_ps(zf);
        __mmask16 inside = _mm512_cmp_ps_mask(az, inside_below, _CMP_LT_OQ); /* false for NaN */
        __mmask16 clamped = _mm512_cmp_ps_mask(az, clamp_at, _CMP_GE_OQ) &
                            _mm512_cmp_ps_mask(az, fmax, _CMP_LE_OQ); /* finite only */
        __mmask16 high = clamped & _mm512_cmp_ps_mask(zf, zerof, _CMP_GT_OQ);
        /* inside: uf in (0, g); elsewhere 0 so that the lookups stay in range */
        __m512 uf = _mm512_maskz_mul_ps(inside, _mm512_add_ps(zf, vT), vto);
        __m512 fl = _mm512_roundscale_ps(uf, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __m512 fr = _mm512_sub_ps(uf, fl);
        __mmask16 sure_floor =
            _mm512_cmp_ps_mask(fr, veps, _CMP_GE_OQ) & _mm512_cmp_ps_mask(fr, one_eps, _CMP_LE_OQ);
        __m512i ui = _mm512_cvttps_epi32(fl);
        __m512i kl = _mm512_permutex2var_epi32(kl_a, ui, kl_b);
        __m512 iv = _mm512_permutex2var_ps(inv_a, ui, inv_b);
        __m512 lo = _mm512_cvtepi32_ps(_mm512_srli_epi32(kl, 16));
        __m512 x = _mm512_mul_ps(_mm512_sub_ps(uf, lo), iv);
        __m512i rdi = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(rnd + i)));
        __m512 rd = _mm512_cvtepi32_ps(rdi);
        __mmask16 heads =
            _mm512_cmp_ps_mask(x, _mm512_add_ps(_mm512_add_ps(rd, one), vdelta), _CMP_GE_OQ);
        __mmask16 tails = _mm512_cmp_ps_mask(x, _mm512_sub_ps(rd, vdelta), _CMP_LT_OQ);
        __mmask16 sure_in = inside & sure_floor & (heads | tails);
        /* clamped: a tie only at rd = 0 (below) or rd = t16_hi (above) */
        __mmask16 tie_c = _mm512_cmpeq_epi32_mask(rdi, _mm512_maskz_mov_epi32(high, t16_hi));
        __mmask16 sure_c = clamped & (__mmask16)~tie_c;
        if (__builtin_expect((__mmask16)(sure_in | sure_c) != 0xffff, 0)) {
            if (sround_cells_portable(idx + i, y + i, 16, sc, T, to_u, g, cell, table, rnd + i, r,
                                      ties, base + i) < 0)
                return -1;
            continue;
        }
        __m512i k_in = _mm512_and_si512(kl, low16);
        k_in = _mm512_mask_add_epi32(k_in, heads, k_in, one_i);
        __m512i k_c =
            _mm512_mask_add_epi32(k_hi, _mm512_cmpgt_epi32_mask(t16_hi, rdi), k_hi, one_i);
        k_c = _mm512_maskz_mov_epi32(high, k_c);
        __m512i q = _mm512_mask_mov_epi32(k_c, inside, k_in);
        _mm256_storeu_si256((__m256i *)(idx + i), _mm512_cvtepi32_epi16(q));
    }
    return sround_cells_portable(idx + i, y + i, m - i, sc, T, to_u, g, cell, table, rnd + i, r,
                                 ties, base + i);
}

/* The vector kernel sround_cells_drawn() runs on this CPU for g and path. */
enum sround_cells_kind { SROUND_CELLS_PORTABLE, SROUND_CELLS_AVX2, SROUND_CELLS_AVX512 };

static enum sround_cells_kind
sround_cells_pick(unsigned g, enum sround_path path)
{
    if (path == SROUND_PORTABLE || g >= SROUND_CELLS_MAX || !__builtin_cpu_supports("avx2"))
        return SROUND_CELLS_PORTABLE;
    if (path == SROUND_BEST && g < 32 && __builtin_cpu_supports("avx512f"))
        return SROUND_CELLS_AVX512;
    return SROUND_CELLS_AVX2;
}

void
sround_cells_prepare(struct sround_cells_prep *p, double sc, double T, double to_u, unsigned g,
                     const uint16_t *cell, const uint16_t *table, enum sround_path path)
{
    p->sc = sc;
    p->T = T;
    p->to_u = to_u;
    p->g = g;
    p->cell = cell;
    p->table = table;
    p->kind = (int)sround_cells_pick(g, path);
    if (p->kind != SROUND_CELLS_PORTABLE)
        sround_cells_vec_init(&p->cv, sc, T, to_u, g, cell, table);
}

/* sround_cells_drawn() under p, or with ties sround_cells_defer() (r NULL, drawn given). */
static int
sround_cells_batches(uint16_t *idx, const float *y, size_t n, const struct sround_cells_prep *p,
                     const uint16_t *drawn, struct rng *r, struct sround_ties *ties, size_t base)
{
    uint16_t rnd[SROUND_BATCH];
    double sc = p->sc, T = p->T, to_u = p->to_u;
    unsigned g = p->g;
    const uint16_t *cell = p->cell, *table = p->table;
    for (size_t i = 0; i < n; i += SROUND_BATCH) {
        size_t m = n - i < SROUND_BATCH ? n - i : SROUND_BATCH;
        const uint16_t *rd = drawn != NULL ? drawn + i : rnd;
        if (drawn == NULL)
            rng_fast_u16s(r, rnd, m);
        int rc;
        if (p->kind == SROUND_CELLS_AVX512)
            rc = sround_cells_avx512(idx + i, y + i, m, sc, T, to_u, g, &p->cv, cell, table, rd, r,
                                     ties, base + i);
        else if (p->kind == SROUND_CELLS_AVX2)
            rc = sround_cells_avx2(idx + i, y + i, m, sc, T, to_u, g, &p->cv, cell, table, rd, r,
                                   ties, base + i);
        else
            rc = sround_cells_portable(idx + i, y + i, m, sc, T, to_u, g, cell, table, rd, r, ties,
                                       base + i);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int
sround_cells_drawn(uint16_t *idx, const float *y, size_t n, double sc, double T, double to_u,
                   unsigned g, const uint16_t *cell, const uint16_t *table, const uint16_t *drawn,
                   struct rng *r, enum sround_path path)
{
    struct sround_cells_prep p;
    sround_cells_prepare(&p, sc, T, to_u, g, cell, table, path);
    return sround_cells_batches(idx, y, n, &p, drawn, r, NULL, 0);
}

int
sround_cells_defer(uint16_t *idx, const float *y, size_t n, const struct sround_cells_prep *p,
                   const uint16_t *drawn, struct sround_ties *ties, size_t base)
{
    return sround_cells_batches(idx, y, n, p, drawn, NULL, ties, base);
}

int
sround_cells(uint16_t *idx, const float *y, size_t n, double sc, double T, double to_u, unsigned g,
             const uint16_t *cell, const uint16_t *table, struct rng *r, enum sround_path path)
{
    return sround_cells_drawn(idx, y, n, sc, T, to_u, g, cell, table, NULL, r, path);
}

/*
 * sround_twice() of one batch: eight coordinates a step as sround_avx2(), both levels from
 * one u. A step k1 cannot take (a tie, u out of range) is redone at once by the portable
 * loop; one k2 cannot take is noted and redone after the whole of k1, so that the ChaCha20
 * draws of the ties come in the order of the two sround() calls.
 */
__attribute__((target("avx2"))) static void
sround_twice_avx2(uint16_t *k1, uint16_t *k2, const float *v, size_t n, double off, double mul,
                  unsigned top, const uint16_t *rnd1, const uint16_t *rnd2, struct rng *r)
{
    const __m256d voff = _mm256_set1_pd(off), vmul = _mm256_set1_pd(mul);
    const __m256d two16 = _mm256_set1_pd(0x1p16), lim = _mm256_set1_pd(0x1p15);
    const __m256d zero = _mm256_setzero_pd();
    const __m256i low16 = _mm256_set1_epi32(0xffff), vtop = _mm256_set1_epi32((int)top);
    size_t redo[SROUND_BATCH / 8], nredo = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(v + i));
        __m256d x1 = _mm256_cvtps_pd(_mm_loadu_ps(v + i + 4));
        __m256d u0 = _mm256_mul_pd(_mm256_sub_pd(x0, voff), vmul);
        __m256d u1 = _mm256_mul_pd(_mm256_sub_pd(x1, voff), vmul);
        __m256d in0 =
            _mm256_and_pd(_mm256_cmp_pd(u0, zero, _CMP_GE_OQ), _mm256_cmp_pd(u0, lim, _CMP_LT_OQ));
        __m256d in1 =
            _mm256_and_pd(_mm256_cmp_pd(u1, zero, _CMP_GE_OQ), _mm256_cmp_pd(u1, lim, _CMP_LT_OQ));
        __m256i U = _mm256_setr_m128i(_mm256_cvttpd_epi32(_mm256_mul_pd(u0, two16)),
                                      _mm256_cvttpd_epi32(_mm256_mul_pd(u1, two16)));
        __m256i t16 = _mm256_and_si256(U, low16), fl = _mm256_srli_epi32(U, 16);
        bool in = (_mm256_movemask_pd(in0) & _mm256_movemask_pd(in1)) == 0xf;
        __m256i rd1 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(rnd1 + i)));
        __m256i rd2 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(rnd2 + i)));
        __m256i tie1 = _mm256_cmpeq_epi32(rd1, t16), tie2 = _mm256_cmpeq_epi32(rd2, t16);
        if (__builtin_expect(!in || !_mm256_testz_si256(tie1, tie1), 0)) {
            sround_portable(k1 + i, v + i, 8, off, mul, false, top, rnd1 + i, r);
        } else {
            __m256i q = _mm256_min_epu32(_mm256_sub_epi32(fl, _mm256_cmpgt_epi32(t16, rd1)), vtop);
            __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(q, q), 0xd8);
            _mm_storeu_si128((__m128i *)(k1 + i), _mm256_castsi256_si128(p));
        }
        if (__builtin_expect(!in || !_mm256_testz_si256(tie2, tie2), 0)) {
            redo[nredo++] = i;
        } else {
            __m256i q = _mm256_min_epu32(_mm256_sub_epi32(fl, _mm256_cmpgt_epi32(t16, rd2)), vtop);
            __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(q, q), 0xd8);
            _mm_storeu_si128((__m128i *)(k2 + i), _mm256_castsi256_si128(p));
        }
    }
    sround_portable(k1 + i, v + i, n - i, off, mul, false, top, rnd1 + i, r);
    for (size_t j = 0; j < nredo; j++)
        sround_portable(k2 + redo[j], v + redo[j], 8, off, mul, false, top, rnd2 + redo[j], r);
    sround_portable(k2 + i, v + i, n - i, off, mul, false, top, rnd2 + i, r);
}

void
sround_twice(uint16_t *k1, uint16_t *k2, const float *v, size_t n, double off, double mul,
             unsigned top, struct rng *r, enum sround_path path)
{
    assert(n <= SROUND_BATCH);
    uint16_t rnd1[SROUND_BATCH], rnd2[SROUND_BATCH];
    rng_fast_u16s(r, rnd1, n);
    rng_fast_u16s(r, rnd2, n);
    if (path != SROUND_PORTABLE && __builtin_cpu_supports("avx2")) {
        sround_twice_avx2(k1, k2, v, n, off, mul, top, rnd1, rnd2, r);
    } else {
        sround_portable(k1, v, n, off, mul, false, top, rnd1, r);
        sround_portable(k2, v, n, off, mul, false, top, rnd2, r);
    }
}
