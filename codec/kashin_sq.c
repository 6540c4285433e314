/* kashin_sq: Kashin representation + stochastic quantisation. See kashin_sq.h. */
#include "codec/kashin_sq.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/le.h"
#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/hadamard_sq.h"
#include "codec/packing.h"
#include "codec/rht.h"
#include "codec/sq.h"
#include "codec/sround.h"
#include "base/banned.h"

#define KASHIN_SQ_MAX_FILL 0.85 /* largest d/D before the frame is doubled */
#define KASHIN_SQ_SHRINK   0.9f /* clipping level multiplier per iteration */
#define KASHIN_SQ_TMP      2048 /* decoder block (rht.h: loads of at most 2^11 floats) */
#define KASHIN_SQ_RSQRT2   0.70710678118654752440 /* 1/√2 */

struct kashin_sq {
    size_t d, D, Dk; /* dimension, transform length rht_padded_len(d), frame length D or 2D */
    unsigned bits;
    enum codec_rotation rotation;
    double loss;
    bool portable;     /* the portable kernels only (tests) */
    float *a, *r, *v;  /* coefficients (D), residual (d), workspace (D_k) */
    uint16_t *q1, *q2; /* the decoder's fields of a block, both copies */
    uint8_t *signs;    /* D_k signs (the shared finish inverts at D_k) */
    uint16_t *idx;     /* D_k level indices */
};

size_t
kashin_sq_frame_len(size_t d)
{
    size_t D = rht_padded_len(d);
    if (D == d || (double)d / (double)D > KASHIN_SQ_MAX_FILL)
        D *= 2;
    return D;
}

int
kashin_sq_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    return hadamard_sq_params_check(p, dim, eb);
}

struct kashin_sq *
kashin_sq_new(const struct codec_params *p, size_t dim)
{
    struct kashin_sq *k = mem_calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->d = dim;
    k->D = rht_padded_len(dim);
    k->Dk = kashin_sq_frame_len(dim);
    k->bits = (unsigned)p->bits;
    k->rotation = p->rotation;
    k->loss = p->packet_loss;
    k->a = mem_alloc_aligned(64, k->D * sizeof *k->a);
    k->r = mem_alloc_aligned(64, dim * sizeof *k->r);
    k->v = mem_alloc_aligned(64, k->Dk * sizeof *k->v);
    k->q1 = mem_alloc(KASHIN_SQ_TMP * sizeof *k->q1);
    k->q2 = mem_alloc(KASHIN_SQ_TMP * sizeof *k->q2);
    k->signs = mem_alloc(rht_sign_bytes(k->Dk));
    k->idx = mem_alloc(k->Dk * sizeof *k->idx);
    if (k->a == NULL || k->r == NULL || k->v == NULL || k->q1 == NULL || k->q2 == NULL ||
        k->signs == NULL || k->idx == NULL) {
        kashin_sq_free(k);
        return NULL;
    }
    return k;
}

void
kashin_sq_free(struct kashin_sq *k)
{
    if (k == NULL)
        return;
    mem_free_aligned(k->a);
    mem_free_aligned(k->r);
    mem_free_aligned(k->v);
    mem_free(k->q1);
    mem_free(k->q2);
    mem_free(k->signs);
    mem_free(k->idx);
    mem_free(k);
}

void
kashin_sq_set_portable(struct kashin_sq *k, bool portable)
{
    k->portable = portable;
}

size_t
kashin_sq_max_bytes(const struct kashin_sq *k)
{
    return sq_bytes(k->Dk, k->bits);
}

size_t
kashin_sq_acc_len(const struct kashin_sq *k)
{
    return k->rotation == CODEC_ROTATION_SHARED ? k->Dk : k->d;
}

/*
 * The rotation's first n signs. With a shared rotation they are the prefix of the D_k that
 * codec_shared_finish() draws (rht_signs_draw(): ChaCha20 bytes in order); with one
 * rotation per client they come from the shared stream's fast keystream (base/rng.h:
 * ChaCha8, eight blocks at a time with AVX2), which costs far less than ChaCha20 bytes.
 */
static void
kashin_sq_draw_signs(struct kashin_sq *k, const struct codec_link *link, size_t n)
{
    struct rng r;
    codec_shared_stream(&r, link, k->rotation);
    if (k->rotation == CODEC_ROTATION_SHARED)
        rht_signs_draw(k->signs, n, &r);
    else
        rng_fast_bytes(&r, k->signs, rht_sign_bytes(n));
}

/* Encoder */

/*
 * One clipping pass over the rotated coordinates, fed by rht_forward_sink(): z = mul·y,
 * then `steps` times c = min(max(z, −L), L) (NaN gives −L), a += c, z −= c, L ·= 0.9; the
 * running minimum and maximum of a per lane (coordinate mod 8) over the pass.
 */
struct kashin_clip {
    float *a;
    float mul, level;
    int steps;
    bool first; /* a starts at 0 (else it is added to) */
    bool portable;
    double norm2; /* the first pass: ‖x‖², from the transform's copy-in */
    double frame; /* D_k: the first level is √(‖x‖²/D_k) */
    float lo8[8], hi8[8];
};

/* One coordinate of kashin_clip_portable() (lane l of the AVX2 kernel); acc is a, or 0. */
static inline float
kashin_clip_one(const struct kashin_clip *c, float y, float acc)
{
    float z = y * c->mul, level = c->level;
    for (int t = 0; t < c->steps; t++) {
        float cl = z > -level ? z : -level;
        cl = cl < level ? cl : level;
        acc += cl;
        z -= cl;
        level *= KASHIN_SQ_SHRINK;
    }
    return acc;
}

/* y[0..n) into a[0..n) (n a multiple of 8), coordinate by coordinate. */
static void
kashin_clip_portable(struct kashin_clip *c, const float *y, float *a, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        for (size_t l = 0; l < 8; l++) {
            float acc = kashin_clip_one(c, y[i + l], c->first ? 0.0f : a[i + l]);
            a[i + l] = acc;
            c->lo8[l] = acc < c->lo8[l] ? acc : c->lo8[l];
            c->hi8[l] = acc > c->hi8[l] ? acc : c->hi8[l];
        }
    }
}

/*
 * The same, eight lanes a step: max(z, −L) is z > −L ? z : −L and min(c, L) is c < L ? c : L
 * (vmaxps/vminps return the second operand unless the first compares greater/less), so the
 * bits are the portable loop's.
 */
__attribute__((target("avx2"))) static void
kashin_clip_avx2(struct kashin_clip *c, const float *y, float *a, size_t n)
{
    __m256 lo = _mm256_loadu_ps(c->lo8), hi = _mm256_loadu_ps(c->hi8);
    __m256 mul = _mm256_set1_ps(c->mul);
    float lv[KASHIN_SQ_ITERS];
    float level = c->level;
    for (int t = 0; t < c->steps; t++) {
        lv[t] = level;
        level *= KASHIN_SQ_SHRINK;
    }
    __m256 L0 = _mm256_set1_ps(lv[0]), N0 = _mm256_set1_ps(-lv[0]);
    for (size_t i = 0; i < n; i += 8) {
        __m256 z = _mm256_mul_ps(_mm256_loadu_ps(y + i), mul);
        __m256 acc = c->first ? _mm256_setzero_ps() : _mm256_loadu_ps(a + i);
        __m256 cl = _mm256_min_ps(_mm256_max_ps(z, N0), L0);
        acc = _mm256_add_ps(acc, cl);
        for (int t = 1; t < c->steps; t++) {
            z = _mm256_sub_ps(z, cl);
            cl = _mm256_min_ps(_mm256_max_ps(z, _mm256_set1_ps(-lv[t])), _mm256_set1_ps(lv[t]));
            acc = _mm256_add_ps(acc, cl);
        }
        _mm256_storeu_ps(a + i, acc);
        lo = _mm256_min_ps(acc, lo);
        hi = _mm256_max_ps(acc, hi);
    }
    _mm256_storeu_ps(c->lo8, lo);
    _mm256_storeu_ps(c->hi8, hi);
}

/* Before a pass: no coefficient seen yet. */
static void
kashin_clip_range_reset(struct kashin_clip *c)
{
    for (int l = 0; l < 8; l++) {
        c->lo8[l] = INFINITY;
        c->hi8[l] = -INFINITY;
    }
}

static void
kashin_clip_begin(void *ctx, double norm2)
{
    struct kashin_clip *c = ctx;
    if (c->first) {
        c->norm2 = norm2;
        c->level = (float)sqrt(norm2 / c->frame);
    }
}

static void
kashin_clip_put(void *ctx, const float *y, size_t off, size_t n)
{
    struct kashin_clip *c = ctx;
    float *a = c->a + off;
    size_t m = n & ~(size_t)7;
    if (!c->portable && __builtin_cpu_supports("avx2"))
        kashin_clip_avx2(c, y, a, m);
    else
        kashin_clip_portable(c, y, a, m);
    /* D < 8: the same operations, into lane 0. */
    for (size_t i = m; i < n; i++) {
        float acc = kashin_clip_one(c, y[i], c->first ? 0.0f : a[i]);
        a[i] = acc;
        c->lo8[0] = acc < c->lo8[0] ? acc : c->lo8[0];
        c->hi8[0] = acc > c->hi8[0] ? acc : c->hi8[0];
    }
}

/* The clipped rotated vector c = min(max(mul·v, −L), L), loaded into the inverse. */
struct kashin_reclip {
    const float *v;
    float mul, level;
};

static void
kashin_reclip_load(void *ctx, float *dst, size_t off, size_t n)
{
    const struct kashin_reclip *rc = ctx;
    const float *v = rc->v + off;
    float level = rc->level;
    for (size_t i = 0; i < n; i++) {
        float z = v[i] * rc->mul;
        float cl = z > -level ? z : -level;
        dst[i] = cl < level ? cl : level;
    }
}

/*
 * Kashin's iterations (see kashin_sq.h): the D coefficients a into *coef (k->v or k->a);
 * returns ‖x‖², and the minimum and maximum of a.
 */
static double
kashin_sq_represent(struct kashin_sq *k, const float *x, const float **coef, float *lo, float *hi)
{
    size_t d = k->d, D = k->D;
    bool twice = k->Dk == 2 * D;
    struct kashin_clip c = {
        .a = k->a,
        .mul = twice ? (float)KASHIN_SQ_RSQRT2 : 1.0f,
        .steps = 1,
        .first = true,
        .portable = k->portable,
        .frame = (double)k->Dk,
    };
    struct rht_sink sink = { kashin_clip_begin, kashin_clip_put, &c };
    unsigned flags = k->portable ? RHT_PORTABLE : 0;
    if (d == D) {
        /* The frame is two copies of the basis H·S/√D: every iteration acts on each
         * rotated coordinate alone (see kashin_sq.h), so one transform does them all. */
        c.steps = KASHIN_SQ_ITERS;
        /* a overwrites each run of the rotated vector in k->v as it is handed over (the
         * transform never reads a run again): no second array to write back. */
        c.a = k->v;
        kashin_clip_range_reset(&c);
        rht_forward_sink(k->v, x, d, D, k->signs, &sink, flags);
    } else {
        /* Rotate the residual, clip, add; subtract the clipped part's inverse rotation
         * (x2 for the doubled frame: its second copy adds the same). The last residual is
         * not needed. */
        float weight = twice ? -(float)(2.0 * KASHIN_SQ_RSQRT2) : -1.0f;
        const float *src = x;
        for (int it = 0; it < KASHIN_SQ_ITERS; it++) {
            kashin_clip_range_reset(&c);
            rht_forward_sink(k->v, src, d, D, k->signs, &sink, flags);
            if (it == KASHIN_SQ_ITERS - 1)
                break;
            if (it == 0) {
                memcpy(k->r, x, d * sizeof *k->r);
                src = k->r;
            }
            struct kashin_reclip rc = { k->v, c.mul, c.level };
            rht_inverse_add_load(k->r, d, k->v, D, k->signs, weight, kashin_reclip_load, &rc,
                                 flags);
            c.first = false;
            c.level *= KASHIN_SQ_SHRINK;
        }
    }
    *coef = c.a;
    float l = c.lo8[0], h = c.hi8[0];
    for (int j = 1; j < 8; j++) {
        l = c.lo8[j] < l ? c.lo8[j] : l;
        h = c.hi8[j] > h ? c.hi8[j] : h;
    }
    /* −0 and +0 compare equal: which one survives depends on the order; send +0. */
    *lo = l == 0.0f ? 0.0f : l;
    *hi = h == 0.0f ? 0.0f : h;
    return c.norm2;
}

int
kashin_sq_encode(struct kashin_sq *k, uint8_t *out, size_t cap, size_t *len, const float *x,
                 const struct codec_link *link, struct errbuf *eb)
{
    size_t D = k->D, Dk = k->Dk;
    unsigned b = k->bits;
    size_t bytes = sq_bytes(Dk, b);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "kashin_sq: buffer of %zu bytes, %zu needed", cap, bytes);
    kashin_sq_draw_signs(k, link, D);
    float lo, hi;
    const float *a;
    double nx2 = kashin_sq_represent(k, x, &a, &lo, &hi);
    if (!isfinite(nx2))
        return errbuf_set(eb, -ERR_RANGE, "kashin_sq: input vector is not finite");
    if (!isfinite(lo) || !isfinite(hi))
        return errbuf_set(eb, -ERR_RANGE, "kashin_sq: coefficients are not finite");
    /* sq's quantiser (codec/sq.h) over the D_k coefficients: a batch of a's coordinates
     * j..j+n at a time, rounded (coins from the private stream in that order) and packed as
     * frame coefficients j..j+n and, for the doubled frame, again as D+j..D+j+n, while the
     * batch is in cache. */
    unsigned top = (1u << b) - 1;
    double step = ((double)hi - lo) / top;
    double inv = step > 0 ? 1.0 / step : 0.0;
    struct rng r;
    codec_private_stream(&r, link);
    uint8_t *payload = out + SQ_HEADER_BYTES;
    bool aligned = D % 8 == 0; /* every batch starts on a byte */
    enum sround_path path = k->portable ? SROUND_PORTABLE : SROUND_BEST;
    for (size_t j = 0; j < D; j += SROUND_BATCH) {
        size_t n = D - j < SROUND_BATCH ? D - j : SROUND_BATCH;
        uint16_t *q1 = aligned ? k->idx : k->idx + j;
        if (Dk == D) {
            sround_run(q1, a + j, n, lo, inv, false, top, &r, path);
        } else {
            uint16_t *q2 = aligned ? k->idx + n : k->idx + D + j;
            sround_twice(q1, q2, a + j, n, lo, inv, top, &r, path);
            if (aligned)
                packing_pack(payload + (D + j) / 8 * b, q2, n, b);
        }
        if (aligned)
            packing_pack(payload + j / 8 * b, q1, n, b);
    }
    if (!aligned)
        packing_pack(payload, k->idx, Dk, b);
    codec_put_f32(out, lo);
    codec_put_f32(out + 4, hi);
    *len = bytes;
    return 0;
}

/* Decoder */

/*
 * The coefficients loaded into the inverse rotation (rht_load_fn). One frame: level value
 * lut[k] = (float)(lo + step·k) of each field k, as sq_decode(). Doubled frame: the sum of
 * the two copies of each coordinate, sum[k1 + k2] = (float)(2·lo + step·(k1 + k2)) (in
 * double, rounded once), so the inverse needs only one transform of D.
 */
struct kashin_load {
    const uint8_t *payload;
    unsigned bits;
    size_t D;
    bool twice;
    bool use_table;             /* one frame, b = 1, 2, 4 */
    bool vec;                   /* doubled frame, b = 1, 2: the AVX2 kernel */
    const uint16_t *idx;        /* when not NULL: every field, unpacked beforehand */
    const float *lut;           /* b <= 8: the 2^b level values */
    const float *sum;           /* b <= 8, doubled frame: the 2^(b+1) - 1 sums */
    double lo, step;            /* b > 8, doubled frame: the sums computed */
    struct packing_table table; /* use_table */
    uint16_t *q1, *q2;          /* KASHIN_SQ_TMP fields each */
};

/* The sum of two fields of the doubled frame. */
static inline float
kashin_sum(const struct kashin_load *ld, unsigned s)
{
    return ld->sum != NULL ? ld->sum[s] : (float)(2.0 * ld->lo + ld->step * s);
}

/*
 * dst[i] = sum[f1_i + f2_i] for i < n (n a multiple of 32), the fields of p1 and p2 at
 * b = 1 or 2: the field sums formed as bytes (at most 6), widened, and looked up in a
 * register with vpermps (sum has 8 entries).
 */
__attribute__((target("avx2"))) static void
kashin_sum_avx2(float *dst, const uint8_t *p1, const uint8_t *p2, size_t n, unsigned b,
                const float *sum)
{
    const __m256 tbl = _mm256_loadu_ps(sum);
    const __m256i bitsel = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                            2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i one = _mm256_set1_epi8(1);
    const __m128i nib = _mm_set1_epi8(0x0f);
    for (size_t i = 0; i < n; i += 32) {
        __m128i s0, s1; /* the sums of fields i..i+16 and i+16..i+32, one byte each */
        if (b == 1) {
            uint32_t w1 = le_load32(p1 + i / 8), w2 = le_load32(p2 + i / 8);
            __m256i x1 = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w1), spread);
            __m256i x2 = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w2), spread);
            x1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(x1, bitsel), bitsel), one);
            x2 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(x2, bitsel), bitsel), one);
            __m256i sv = _mm256_add_epi8(x1, x2);
            s0 = _mm256_castsi256_si128(sv);
            s1 = _mm256_extracti128_si256(sv, 1);
        } else {
            /* Byte m holds fields 4m..4m+3 at bits 0, 2, 4, 6: e gets the sums of fields 4m
             * and 4m+2 in its nibbles, o those of 4m+1 and 4m+3. */
            const uint64_t m = 0x3333333333333333ULL;
            uint64_t w1 = le_load64(p1 + i / 4), w2 = le_load64(p2 + i / 4);
            uint64_t e = (w1 & m) + (w2 & m), o = (w1 >> 2 & m) + (w2 >> 2 & m);
            __m128i E = _mm_cvtsi64_si128((long long)e), O = _mm_cvtsi64_si128((long long)o);
            __m128i f0 = _mm_and_si128(E, nib), f2 = _mm_and_si128(_mm_srli_epi16(E, 4), nib);
            __m128i f1 = _mm_and_si128(O, nib), f3 = _mm_and_si128(_mm_srli_epi16(O, 4), nib);
            __m128i a = _mm_unpacklo_epi8(f0, f1), c = _mm_unpacklo_epi8(f2, f3);
            s0 = _mm_unpacklo_epi16(a, c);
            s1 = _mm_unpackhi_epi16(a, c);
        }
        _mm256_storeu_ps(dst + i, _mm256_permutevar8x32_ps(tbl, _mm256_cvtepu8_epi32(s0)));
        _mm256_storeu_ps(dst + i + 8, _mm256_permutevar8x32_ps(
                                          tbl, _mm256_cvtepu8_epi32(_mm_srli_si128(s0, 8))));
        _mm256_storeu_ps(dst + i + 16, _mm256_permutevar8x32_ps(tbl, _mm256_cvtepu8_epi32(s1)));
        _mm256_storeu_ps(dst + i + 24, _mm256_permutevar8x32_ps(
                                           tbl, _mm256_cvtepu8_epi32(_mm_srli_si128(s1, 8))));
    }
}

/* Coordinates off..off+n of the vector to inverse-rotate (off a multiple of 8; n at most
 * KASHIN_SQ_TMP, and a multiple of 32 unless off = 0 and n = D). */
static void
kashin_load(void *ctx, float *dst, size_t off, size_t n)
{
    const struct kashin_load *ld = ctx;
    unsigned b = ld->bits;
    if (!ld->twice) {
        const uint8_t *in = ld->payload + off / 8 * b;
        if (ld->use_table)
            packing_unpack_table(dst, in, n, &ld->table);
        else
            packing_unpack_lut(dst, in, n, b, ld->lut);
        return;
    }
    if (ld->vec && n % 32 == 0) {
        kashin_sum_avx2(dst, ld->payload + off / 8 * b, ld->payload + (ld->D + off) / 8 * b, n, b,
                        ld->sum);
        return;
    }
    const uint16_t *k1 = ld->q1, *k2 = ld->q2;
    if (ld->idx != NULL) {
        k1 = ld->idx + off;
        k2 = ld->idx + ld->D + off;
    } else {
        packing_unpack(ld->q1, ld->payload + off / 8 * b, n, b);
        packing_unpack(ld->q2, ld->payload + (ld->D + off) / 8 * b, n, b);
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = kashin_sum(ld, (unsigned)k1[i] + k2[i]);
}

/* kashin_sq_decode_add(), or with set kashin_sq_decode_set() (weight 1). */
static int
kashin_sq_decode_run(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len, double weight,
                     bool set, const struct codec_link *link, struct errbuf *eb)
{
    size_t D = k->D, Dk = k->Dk;
    bool twice = Dk == 2 * D;
    unsigned b = k->bits;
    float lo, hi, lut[1u << SQ_LUT_BITS], sum[(2u << SQ_LUT_BITS) - 1 + 1];
    int rc = sq_decode_header(&lo, &hi, lut, msg, len, Dk, b, eb);
    if (rc < 0)
        return rc;
    /* |decoded| <= weight·max(|lo|, |hi|)·(1/(1 − loss))·√D, times 2/√2 for the doubled frame
     * (the sum of two coefficients through 1/√(2D)); the accumulator of a shared rotation holds
     * the D_k coefficients themselves. */
    double growth = 1.0;
    if (k->rotation != CODEC_ROTATION_SHARED)
        growth = twice ? sqrt(2.0 * (double)D) : sqrt((double)D);
    if (k->loss > 0.0)
        growth /= 1.0 - k->loss;
    if ((rc = codec_bound_check(weight, fmax(fabs((double)lo), fabs((double)hi)), growth,
                                "sq range", 0, eb)) < 0)
        return rc;
    /* The doubled frame's inverse is S·H·(a1 + a2)/√(2D) on the first D coordinates. */
    float w = twice ? (float)(weight * KASHIN_SQ_RSQRT2) : (float)weight;
    unsigned flags = k->portable ? RHT_PORTABLE : 0;
    if (k->loss <= 0.0 && k->rotation != CODEC_ROTATION_SHARED && (twice || (b <= 8 && D >= 16))) {
        double step = ((double)hi - lo) / ((1u << b) - 1);
        struct kashin_load ld = {
            .payload = msg + SQ_HEADER_BYTES,
            .bits = b,
            .D = D,
            .twice = twice,
            .lut = lut,
            .lo = lo,
            .step = step,
            .q1 = k->q1,
            .q2 = k->q2,
        };
        if (b <= SQ_LUT_BITS) {
            for (unsigned j = 0; j < 2u << b || j < 8; j++) /* 8: the vector kernel's table */
                sum[j] = (float)(2.0 * lo + step * j);
            ld.sum = twice ? sum : NULL;
        }
        ld.use_table = !twice && (b == 1 || b == 2 || b == 4);
        if (ld.use_table)
            packing_table_init(&ld.table, b, lut);
        ld.vec = twice && b <= 2 && D >= 32 && !k->portable && __builtin_cpu_supports("avx2");
        if (twice && (b > 8 || D < 16)) { /* fields not on bytes, or no lookup table */
            bitpack_unpack(k->idx, msg + SQ_HEADER_BYTES, Dk, b);
            ld.idx = k->idx;
        }
        kashin_sq_draw_signs(k, link, D);
        rht_inverse_add_load(acc, k->d, k->v, D, k->signs, w, kashin_load, &ld,
                             flags | (set ? RHT_SET : 0));
        return 0;
    }
    if (set)
        memset(acc, 0, kashin_sq_acc_len(k) * sizeof *acc);
    if ((rc = sq_decode(k->v, k->idx, msg, len, Dk, b, eb)) < 0)
        return rc;
    codec_loss_apply(k->v, Dk, k->loss, link);
    if (k->rotation == CODEC_ROTATION_SHARED) {
        float ws = (float)weight;
        for (size_t i = 0; i < Dk; i++)
            acc[i] += ws * k->v[i];
        return 0;
    }
    if (twice)
        for (size_t i = 0; i < D; i++)
            k->v[i] += k->v[D + i];
    kashin_sq_draw_signs(k, link, D);
    rht_inverse_add_load(acc, k->d, k->v, D, k->signs, w, NULL, NULL, flags);
    return 0;
}

int
kashin_sq_decode_add(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len, double weight,
                     const struct codec_link *link, struct errbuf *eb)
{
    return kashin_sq_decode_run(k, acc, msg, len, weight, false, link, eb);
}

int
kashin_sq_decode_set(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len,
                     const struct codec_link *link, struct errbuf *eb)
{
    return kashin_sq_decode_run(k, acc, msg, len, 1.0, true, link, eb);
}

void
kashin_sq_decode_finish(struct kashin_sq *k, float *out, float *acc, const struct codec_link *link)
{
    if (k->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, k->d, k->Dk, k->signs, link);
    else if (out != acc)
        memmove(out, acc, k->d * sizeof *out);
}
