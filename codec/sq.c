/* sq: min-max stochastic uniform quantisation. See sq.h. */
#include "codec/sq.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "base/bitpack.h"
#include "codec/codec_int.h"
#include "codec/packing.h"
#include "codec/sround.h"
#include "base/banned.h"

size_t
sq_bytes(size_t n, unsigned b)
{
    return SQ_HEADER_BYTES + bitpack_bytes(n, b);
}

/* Minimum and maximum of v[0..n) (the first of equal values), and whether all are finite. */
static bool
sq_range_portable(float *lo_out, float *hi_out, const float *v, size_t n)
{
    float lo = v[0], hi = v[0];
    bool finite = true;
    for (size_t i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        finite &= isfinite(v[i]);
    }
    *lo_out = lo;
    *hi_out = hi;
    return finite;
}

/*
 * Eight lanes at a time. Only a zero extreme depends on order (-0 and +0 compare equal);
 * then the portable loop decides, so the result is always the portable one.
 */
__attribute__((target("avx2"))) static bool
sq_range_avx2(float *lo_out, float *hi_out, const float *v, size_t n)
{
    if (n < 8)
        return sq_range_portable(lo_out, hi_out, v, n);
    __m256 lo8 = _mm256_loadu_ps(v), hi8 = lo8;
    const __m256 inf = _mm256_set1_ps(INFINITY),
                 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    size_t i = 0;
    /* four chains of minima and maxima at once (the order does not matter, as above) */
    __m256 lo8b = lo8, hi8b = hi8, lo8c = lo8, hi8c = hi8, lo8d = lo8, hi8d = hi8;
    for (; i + 32 <= n; i += 32) {
        __m256 x0 = _mm256_loadu_ps(v + i), x1 = _mm256_loadu_ps(v + i + 8);
        __m256 x2 = _mm256_loadu_ps(v + i + 16), x3 = _mm256_loadu_ps(v + i + 24);
        lo8 = _mm256_min_ps(lo8, x0);
        hi8 = _mm256_max_ps(hi8, x0);
        lo8b = _mm256_min_ps(lo8b, x1);
        hi8b = _mm256_max_ps(hi8b, x1);
        lo8c = _mm256_min_ps(lo8c, x2);
        hi8c = _mm256_max_ps(hi8c, x2);
        lo8d = _mm256_min_ps(lo8d, x3);
        hi8d = _mm256_max_ps(hi8d, x3);
        __m256 f01 = _mm256_and_ps(_mm256_cmp_ps(_mm256_and_ps(x0, abs), inf, _CMP_LT_OQ),
                                   _mm256_cmp_ps(_mm256_and_ps(x1, abs), inf, _CMP_LT_OQ));
        __m256 f23 = _mm256_and_ps(_mm256_cmp_ps(_mm256_and_ps(x2, abs), inf, _CMP_LT_OQ),
                                   _mm256_cmp_ps(_mm256_and_ps(x3, abs), inf, _CMP_LT_OQ));
        ok = _mm256_and_ps(ok, _mm256_and_ps(f01, f23));
    }
    lo8 = _mm256_min_ps(_mm256_min_ps(lo8, lo8b), _mm256_min_ps(lo8c, lo8d));
    hi8 = _mm256_max_ps(_mm256_max_ps(hi8, hi8b), _mm256_max_ps(hi8c, hi8d));
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(v + i);
        lo8 = _mm256_min_ps(lo8, x);
        hi8 = _mm256_max_ps(hi8, x);
        ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_and_ps(x, abs), inf, _CMP_LT_OQ));
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, lo8);
    _mm256_storeu_ps(h, hi8);
    float lo = l[0], hi = h[0];
    for (int k = 1; k < 8; k++) {
        lo = l[k] < lo ? l[k] : lo;
        hi = h[k] > hi ? h[k] : hi;
    }
    bool finite = _mm256_movemask_ps(ok) == 0xff;
    for (; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        finite &= isfinite(v[i]);
    }
    if (!finite || lo == 0.0f || hi == 0.0f)
        return sq_range_portable(lo_out, hi_out, v, n);
    *lo_out = lo;
    *hi_out = hi;
    return true;
}

bool
sq_range(float *lo, float *hi, const float *v, size_t n)
{
    return __builtin_cpu_supports("avx2") ? sq_range_avx2(lo, hi, v, n)
                                          : sq_range_portable(lo, hi, v, n);
}

int
sq_encode_ranged(uint8_t *out, size_t cap, uint16_t *idx, const float *v, size_t n, unsigned b,
                 float lo, float hi, struct rng *r, struct errbuf *eb)
{
    size_t bytes = sq_bytes(n, b);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "sq: buffer of %zu bytes, %zu needed", cap, bytes);
    unsigned top = (1u << b) - 1;
    double step = ((double)hi - lo) / top;
    double inv = step > 0 ? 1.0 / step : 0.0;
    /* Batches of SROUND_BATCH draw from r as one call over v would, and their b-bit fields
     * fill whole bytes. */
    for (size_t i = 0; i < n; i += SROUND_BATCH) {
        size_t m = n - i < SROUND_BATCH ? n - i : SROUND_BATCH;
        sround_above(idx + i, v + i, m, lo, inv, top, r, SROUND_BEST);
        packing_pack(out + SQ_HEADER_BYTES + i / 8 * b, idx + i, m, b);
    }
    codec_put_f32(out, lo);
    codec_put_f32(out + 4, hi);
    return 0;
}

int
sq_encode(uint8_t *out, size_t cap, uint16_t *idx, const float *v, size_t n, unsigned b,
          struct rng *r, struct errbuf *eb)
{
    size_t bytes = sq_bytes(n, b);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "sq: buffer of %zu bytes, %zu needed", cap, bytes);
    float lo, hi;
    if (!sq_range(&lo, &hi, v, n))
        return errbuf_set(eb, -ERR_RANGE, "sq: input vector is not finite");
    return sq_encode_ranged(out, cap, idx, v, n, b, lo, hi, r, eb);
}

int
sq_decode_header(float *lo, float *hi, float *lut, const uint8_t *msg, size_t len, size_t n,
                 unsigned b, struct errbuf *eb)
{
    size_t bytes = sq_bytes(n, b);
    if (len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "sq: message of %zu bytes, expected %zu", len, bytes);
    int rc = codec_get_scale(lo, msg, len, 0, "sq minimum", eb);
    if (rc == 0)
        rc = codec_get_scale(hi, msg, len, 4, "sq maximum", eb);
    if (rc < 0)
        return rc;
    if (!(*hi >= *lo))
        return codec_corrupt(eb, 4, "sq: maximum %g below minimum %g", (double)*hi, (double)*lo);
    double step = ((double)*hi - *lo) / ((1u << b) - 1);
    for (unsigned k = 0; b <= SQ_LUT_BITS && k < 1u << b; k++)
        lut[k] = (float)(*lo + step * k);
    return 0;
}

int
sq_decode(float *v, uint16_t *idx, const uint8_t *msg, size_t len, size_t n, unsigned b,
          struct errbuf *eb)
{
    float lo, hi, lut[1u << SQ_LUT_BITS];
    int rc = sq_decode_header(&lo, &hi, lut, msg, len, n, b, eb);
    if (rc < 0)
        return rc;
    if (b <= SQ_LUT_BITS) {
        packing_unpack_lut(v, msg + SQ_HEADER_BYTES, n, b, lut);
        return 0;
    }
    double step = ((double)hi - lo) / ((1u << b) - 1);
    bitpack_unpack(idx, msg + SQ_HEADER_BYTES, n, b);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + step * idx[i]);
    return 0;
}
