/* qsgd: QSGD with the L-infinity norm, and the paper's L2 norm with Elias coding. See qsgd.h. */
#include "codec/qsgd.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/packing.h"
#include "codec/sround.h"
#include "base/banned.h"

#define QSGD_MAX_BITS 15

struct qsgd {
    size_t d;
    unsigned bits;
    bool elias; /* CODEC_QSGD_L2: L2 norm, Elias-coded gaps and levels */
    uint16_t *idx;
    uint16_t *rnd; /* qsgd_l2: the d coin draws, taken beside the norm's chain of additions */
};

int
qsgd_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1 && p->bits <= QSGD_MAX_BITS) || p->bits != floor(p->bits))
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec '%s' needs an integer in 1..%d", p->bits,
                          codec_kind_name(p->kind), QSGD_MAX_BITS);
    if (p->rotation != CODEC_ROTATION_PER_CLIENT)
        return errbuf_set(eb, -ERR_INVALID, "rotation: codec '%s' does not rotate",
                          codec_kind_name(p->kind));
    return 0;
}

struct qsgd *
qsgd_new(const struct codec_params *p, size_t dim)
{
    struct qsgd *q = mem_calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->d = dim;
    q->bits = (unsigned)p->bits;
    q->elias = p->kind == CODEC_QSGD_L2;
    q->idx = mem_alloc(dim * sizeof *q->idx);
    q->rnd = q->elias ? mem_alloc(dim * sizeof *q->rnd) : NULL;
    if (q->idx == NULL || (q->elias && q->rnd == NULL)) {
        qsgd_free(q);
        return NULL;
    }
    return q;
}

void
qsgd_free(struct qsgd *q)
{
    if (q == NULL)
        return;
    mem_free(q->idx);
    mem_free(q->rnd);
    mem_free(q);
}

/* floor(log2 n), n >= 1. */
static unsigned
qsgd_log2(uint64_t n)
{
    return 63u - (unsigned)__builtin_clzll(n);
}

/* Bits of the Elias gamma code of n >= 1. */
static unsigned
qsgd_gamma_bits(uint64_t n)
{
    return 2 * qsgd_log2(n) + 1;
}

size_t
qsgd_max_bytes(const struct qsgd *q)
{
    if (q->elias) {
        /* Gap codes: 2·floor(log2(g+1)) + 1 <= 2g + 1, so they total at most 2d bits;
         * per nonzero one sign bit and a level code of at most gamma(s) bits. */
        unsigned s = (1u << q->bits) - 1;
        uint64_t bits = qsgd_gamma_bits(q->d + 1) + 2 * (uint64_t)q->d +
                        (uint64_t)q->d * (1 + qsgd_gamma_bits(s));
        return 4 + (size_t)((bits + 7) / 8);
    }
    return 4 + bitpack_bytes(q->d, q->bits + 1);
}

size_t
qsgd_acc_len(const struct qsgd *q)
{
    return q->d;
}

/* Appends the Elias gamma code of n >= 1: floor(log2 n) zero bits, a one, then the low
 * floor(log2 n) bits of n. */
static void
qsgd_gamma_write(struct bitpack_writer *w, uint64_t n)
{
    unsigned L = qsgd_log2(n);
    bitpack_write(w, 0, L);
    bitpack_write(w, 1, 1);
    bitpack_write(w, n, L);
}

/* Reads an Elias gamma code (at most 32 leading zeros); -ERR_CORRUPT when malformed. */
static int
qsgd_gamma_read(struct bitpack_reader *r, uint64_t *n, struct errbuf *eb)
{
    unsigned L = 0;
    for (;;) {
        uint64_t bit;
        int rc = bitpack_read(r, &bit, 1, eb);
        if (rc < 0)
            return rc;
        if (bit)
            break;
        if (++L > 32)
            return codec_corrupt(eb, (size_t)(bitpack_reader_left(r) / 8),
                                 "qsgd: gamma code too long");
    }
    uint64_t low;
    int rc = bitpack_read(r, &low, L, eb);
    if (rc < 0)
        return rc;
    *n = (uint64_t)1 << L | low;
    return 0;
}

/* Writes the Elias-coded body of q->idx (level << 1 | negative) after the 4-byte norm. */
static int
qsgd_elias_write(struct qsgd *q, uint8_t *out, size_t nnz, size_t *len, struct errbuf *eb)
{
    struct bitpack_writer w;
    bitpack_writer_init(&w, out + 4, qsgd_max_bytes(q) - 4);
    qsgd_gamma_write(&w, nnz + 1);
    size_t prev = 0; /* index after the previous nonzero */
    for (size_t i0 = 0; i0 < q->d; i0 += 16) {
        size_t n = q->d - i0 < 16 ? q->d - i0 : 16;
        if (n == 16) { /* sixteen zero levels (entries 0 or 1: the sign alone) skipped at once */
            uint64_t words[4];
            memcpy(words, q->idx + i0, sizeof words);
            if (((words[0] | words[1] | words[2] | words[3]) & UINT64_C(0xfffefffefffefffe)) == 0)
                continue;
        }
        for (size_t i = i0; i < i0 + n; i++) {
            unsigned level = q->idx[i] >> 1;
            if (level == 0)
                continue;
            qsgd_gamma_write(&w, i - prev + 1);
            bitpack_write(&w, q->idx[i] & 1, 1);
            qsgd_gamma_write(&w, level);
            prev = i + 1;
        }
    }
    long n = bitpack_writer_finish(&w, eb);
    if (n < 0)
        return (int)n;
    *len = 4 + (size_t)n;
    return 0;
}

/* *m = max |x_i| (from *m); false when some x_i is not finite. */
static bool
qsgd_max_abs(float *m, const float *x, size_t n)
{
    float mx = *m;
    bool finite = true;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        mx = a > mx ? a : mx;
        finite &= isfinite(a);
    }
    *m = mx;
    return finite;
}

/*
 * qsgd_max_abs() eight at a time (the same maximum: it does not depend on the order); with
 * n2, also *n2 += Σ x_i² in double in coordinate order, the chain of additions beside it.
 */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) bool
qsgd_max_kernel_avx2(float *m, double *n2, const float *x, size_t n)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 big = _mm256_set1_ps(FLT_MAX);
    __m256 mx = _mm256_set1_ps(*m), ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    double sum = n2 != NULL ? *n2 : 0.0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), absmask);
        mx = _mm256_max_ps(mx, a);
        ok = _mm256_and_ps(ok, _mm256_cmp_ps(a, big, _CMP_LE_OQ));
        for (size_t k = 0; n2 != NULL && k < 8; k++)
            sum += (double)x[i + k] * x[i + k];
    }
    for (size_t k = i; n2 != NULL && k < n; k++)
        sum += (double)x[k] * x[k];
    if (n2 != NULL)
        *n2 = sum;
    float lanes[8];
    _mm256_storeu_ps(lanes, mx);
    float best = *m;
    for (int l = 0; l < 8; l++)
        best = lanes[l] > best ? lanes[l] : best;
    *m = best;
    bool finite = _mm256_movemask_ps(ok) == 0xff;
    return qsgd_max_abs(m, x + i, n - i) && finite;
}

__attribute__((target("avx2"))) static bool
qsgd_max_abs_avx2(float *m, const float *x, size_t n)
{
    return qsgd_max_kernel_avx2(m, NULL, x, n);
}

/* *n2 += Σ x_i² in double in coordinate order, *m = max(*m, |x_i|); false when some x_i is
 * not finite. */
static bool
qsgd_norm_max(float *m, double *n2, const float *x, size_t n)
{
    double sum = *n2;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    *n2 = sum;
    return qsgd_max_abs(m, x, n);
}

__attribute__((target("avx2"))) static bool
qsgd_norm_max_avx2(float *m, double *n2, const float *x, size_t n)
{
    return qsgd_max_kernel_avx2(m, n2, x, n);
}

/* Coordinates per step of qsgd_norm_draw(): 8 keystream blocks of 16-bit draws. */
#define QSGD_DRAW_STEP 256

/*
 * qsgd_norm_max() over x[0..n), and rnd[0..n) <- the next n 16-bit draws of r's fast
 * keystream (the draws sround() would take: whole blocks, in order), a step of draws beside
 * each step of the chain of additions, so the keystream's arithmetic runs while the chain
 * waits on its latency.
 */
static bool
qsgd_norm_draw(float *m, double *n2, uint16_t *rnd, const float *x, size_t n, struct rng *r)
{
    bool avx2 = __builtin_cpu_supports("avx2"), finite = true;
    *m = 0;
    *n2 = 0;
    for (size_t i = 0; i < n; i += QSGD_DRAW_STEP) {
        size_t k = n - i < QSGD_DRAW_STEP ? n - i : QSGD_DRAW_STEP;
        rng_fast_u16s(r, rnd + i, k);
        finite &= avx2 ? qsgd_norm_max_avx2(m, n2, x + i, k) : qsgd_norm_max(m, n2, x + i, k);
    }
    return finite;
}

/* Minus the sum of the sixteen 16-bit lanes of c (each in -2^14..0). */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) size_t
qsgd_lanes_sum(__m256i c)
{
    int16_t lanes[16];
    _mm256_storeu_si256((__m256i *)lanes, c);
    size_t sum = 0;
    for (int l = 0; l < 16; l++)
        sum += (size_t)-lanes[l];
    return sum;
}

/* idx[i] = idx[i] << 1 | (x_i < 0): the sign bit below the level; returns the number of
 * nonzero levels. */
static size_t
qsgd_add_signs(uint16_t *idx, const float *x, size_t n)
{
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++) {
        nnz += idx[i] != 0;
        idx[i] = (uint16_t)(idx[i] << 1 | (x[i] < 0));
    }
    return nnz;
}

__attribute__((target("avx2"))) static size_t
qsgd_add_signs_avx2(uint16_t *idx, const float *x, size_t n)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256i one = _mm256_set1_epi16(1), zero16 = _mm256_setzero_si256();
    __m256i count = _mm256_setzero_si256(); /* minus the nonzero levels, per 16-bit lane */
    size_t i = 0, nnz = 0;
    for (; i + 16 <= n; i += 16) {
        if ((i & 0x3fff) == 0) { /* before a lane could wrap */
            nnz += qsgd_lanes_sum(count);
            count = _mm256_setzero_si256();
        }
        __m256i neg0 = _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_LT_OQ));
        __m256i neg1 =
            _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), zero, _CMP_LT_OQ));
        /* -1/0 per 32-bit lane to -1/0 per 16-bit lane, in order */
        __m256i neg = _mm256_permute4x64_epi64(_mm256_packs_epi32(neg0, neg1), 0xd8);
        __m256i k = _mm256_loadu_si256((const __m256i *)(idx + i));
        count = _mm256_add_epi16(
            count, _mm256_xor_si256(_mm256_cmpeq_epi16(k, zero16), _mm256_set1_epi16(-1)));
        k = _mm256_or_si256(_mm256_slli_epi16(k, 1), _mm256_and_si256(neg, one));
        _mm256_storeu_si256((__m256i *)(idx + i), k);
    }
    return nnz + qsgd_lanes_sum(count) + qsgd_add_signs(idx + i, x + i, n - i);
}

int
qsgd_encode(struct qsgd *q, uint8_t *out, size_t cap, size_t *len, const float *x,
            const struct codec_link *link, struct errbuf *eb)
{
    size_t bytes = qsgd_max_bytes(q);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "qsgd: buffer of %zu bytes, %zu needed", cap, bytes);
    float m = 0;
    bool finite = true;
    double n2 = 0;
    struct rng r;
    codec_private_stream(&r, link);
    if (q->elias) {
        finite = qsgd_norm_draw(&m, &n2, q->rnd, x, q->d, &r);
    } else {
        /* No sum in order: the maximum does not depend on the order. */
        finite = __builtin_cpu_supports("avx2") ? qsgd_max_abs_avx2(&m, x, q->d)
                                                : qsgd_max_abs(&m, x, q->d);
    }
    if (!finite)
        return errbuf_set(eb, -ERR_RANGE, "qsgd: input vector is not finite");
    if (q->elias)
        m = (float)sqrt(n2); /* the L2 norm; |x_i| <= m up to rounding, clamped below */
    unsigned s = (1u << q->bits) - 1;
    double scale = m > 0 ? s / (double)m : 0.0;
    bool avx2 = __builtin_cpu_supports("avx2");
    size_t nnz = 0;
    /* Levels, signs and packing a batch at a time while it sits in cache; the batches draw
     * from r in coordinate order as one call over the whole vector would. */
    for (size_t i = 0; i < q->d; i += SROUND_BATCH) {
        size_t n = q->d - i < SROUND_BATCH ? q->d - i : SROUND_BATCH;
        uint16_t *idx = q->idx + i;
        if (q->elias)
            sround_drawn(idx, x + i, n, 0.0, scale, true, s, q->rnd + i, &r);
        else
            sround(idx, x + i, n, 0.0, scale, true, s, &r);
        size_t nz = avx2 ? qsgd_add_signs_avx2(idx, x + i, n) : qsgd_add_signs(idx, x + i, n);
        if (!q->elias) { /* SROUND_BATCH·(b + 1) bits are whole bytes */
            packing_pack(out + 4 + i / 8 * (q->bits + 1), idx, n, q->bits + 1);
            continue;
        }
        nnz += nz;
    }
    codec_put_f32(out, m);
    if (q->elias)
        return qsgd_elias_write(q, out, nnz, len, eb);
    *len = bytes;
    return 0;
}

/* Adds ±unit·level for every Elias-coded nonzero of msg[4..len) to acc. */
static int
qsgd_elias_add(struct qsgd *q, float *acc, const uint8_t *msg, size_t len, float unit,
               struct errbuf *eb)
{
    unsigned s = (1u << q->bits) - 1;
    struct bitpack_reader r;
    bitpack_reader_init(&r, msg + 4, len - 4);
    uint64_t nnz1, gap1, neg, level;
    int rc = qsgd_gamma_read(&r, &nnz1, eb);
    if (rc < 0)
        return rc;
    if (nnz1 - 1 > q->d)
        return codec_corrupt(eb, 4, "qsgd: %llu nonzeros for %zu coordinates",
                             (unsigned long long)(nnz1 - 1), q->d);
    size_t next = 0;
    for (uint64_t k = 0; k + 1 < nnz1; k++) {
        if ((rc = qsgd_gamma_read(&r, &gap1, eb)) < 0 || (rc = bitpack_read(&r, &neg, 1, eb)) < 0 ||
            (rc = qsgd_gamma_read(&r, &level, eb)) < 0)
            return rc;
        if (gap1 - 1 >= q->d - next || level > s)
            return codec_corrupt(eb, 4 + (size_t)((len - 4) * 8 - bitpack_reader_left(&r)) / 8,
                                 "qsgd: nonzero %llu out of range", (unsigned long long)k);
        size_t i = next + (size_t)(gap1 - 1);
        acc[i] += (neg ? -unit : unit) * (float)level;
        next = i + 1;
    }
    uint64_t rest;
    if (bitpack_reader_left(&r) >= 8 ||
        bitpack_read(&r, &rest, (unsigned)bitpack_reader_left(&r), NULL) < 0 || rest != 0)
        return codec_corrupt(eb, len, "qsgd: trailing bits after the last nonzero");
    return 0;
}

/* Reads the norm of msg[0..len) into *unit (weight·m/s) after the length and bound checks. */
static int
qsgd_decode_begin(struct qsgd *q, float *unit, const uint8_t *msg, size_t len, double weight,
                  struct errbuf *eb)
{
    size_t bytes = qsgd_max_bytes(q);
    if (q->elias ? len < 4 || len > bytes : len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "qsgd: message of %zu bytes, expected %s%zu", len,
                             q->elias ? "4 to " : "", bytes);
    float m;
    int rc = codec_get_scale(&m, msg, len, 0, "qsgd norm", eb);
    if (rc < 0)
        return rc;
    if (m < 0)
        return codec_corrupt(eb, 0, "qsgd: negative norm %g", (double)m);
    /* |decoded| = |unit|·level <= |weight|·m (level <= s) */
    if ((rc = codec_bound_check(weight, m, 1.0, "qsgd norm", 0, eb)) < 0)
        return rc;
    unsigned s = (1u << q->bits) - 1;
    *unit = (float)(weight * m / s);
    return 0;
}

/* Widths decoded through a table of the 2^(b+1) signed values (the same floats). */
#define QSGD_LUT_BITS 8

/* acc[i] += the decoded coordinate i of the fixed-width payload; with set, acc[i] = 0 + it. */
static void
qsgd_fixed_add(struct qsgd *q, float *acc, const uint8_t *payload, float unit, bool set)
{
    unsigned w = q->bits + 1;
    if (w <= QSGD_LUT_BITS) {
        /* ±unit·level without a branch on the (random) sign bit, as the loop below. */
        float lut[1u << QSGD_LUT_BITS];
        for (unsigned f = 0; f < 1u << w; f++) {
            float sign = 1.0f - 2.0f * (float)(f & 1);
            lut[f] = sign * unit * (float)(f >> 1);
            if (set)
                lut[f] = 0.0f + lut[f]; /* what a zeroed accumulator gives */
        }
        if (set)
            packing_unpack_lut(acc, payload, q->d, w, lut);
        else
            packing_unpack_lut_add(acc, payload, q->d, w, lut);
        return;
    }
    if (set)
        memset(acc, 0, q->d * sizeof *acc);
    packing_unpack(q->idx, payload, q->d, w);
    for (size_t i = 0; i < q->d; i++) {
        float sign = 1.0f - 2.0f * (float)(q->idx[i] & 1);
        acc[i] += sign * unit * (float)(q->idx[i] >> 1);
    }
}

int
qsgd_decode_add(struct qsgd *q, float *acc, const uint8_t *msg, size_t len, double weight,
                const struct codec_link *link, struct errbuf *eb)
{
    float unit = 0.0f; /* set by qsgd_decode_begin() when it succeeds */
    int rc = qsgd_decode_begin(q, &unit, msg, len, weight, eb);
    if (rc < 0)
        return rc;
    if (q->elias)
        return qsgd_elias_add(q, acc, msg, len, unit, eb);
    qsgd_fixed_add(q, acc, msg + 4, unit, false);
    return 0;
}

int
qsgd_decode_set(struct qsgd *q, float *acc, const uint8_t *msg, size_t len,
                const struct codec_link *link, struct errbuf *eb)
{
    float unit = 0.0f; /* set by qsgd_decode_begin() when it succeeds */
    int rc = qsgd_decode_begin(q, &unit, msg, len, 1.0, eb);
    if (rc < 0)
        return rc;
    if (q->elias) {
        memset(acc, 0, q->d * sizeof *acc);
        return qsgd_elias_add(q, acc, msg, len, unit, eb);
    }
    qsgd_fixed_add(q, acc, msg + 4, unit, true);
    return 0;
}

void
qsgd_decode_finish(struct qsgd *q, float *out, float *acc, const struct codec_link *link)
{
    if (out != acc)
        memmove(out, acc, q->d * sizeof *out);
}
