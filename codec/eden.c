/* eden: EDEN quantiser (and DRIVE, TurboQuant_mse). See eden.h. */
#include "codec/eden.h"

#include <assert.h>
#include <math.h>
#include <immintrin.h>
#include <string.h>

#include "base/le.h"
#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/lloyd_beta.h"
#include "codec/lloyd_max.h"
#include "codec/packing.h"
#include "codec/rht.h"
#include "codec/sround.h"
#include "base/banned.h"

#define EDEN_MAX_LEVELS  (1u << LLOYD_MAX_MAX_BITS)
#define EDEN_SCALE_BYTES 4

enum eden_mode {
    EDEN_MODE_INT,    /* b integer */
    EDEN_MODE_FRAC,   /* b = b_lo + f */
    EDEN_MODE_SPARSE, /* b < 1: keep with probability p, then 1 bit */
};

/* One quantiser: 2^b centroids and 2^b - 1 boundaries, both increasing, N(0,1) units. */
struct eden_book {
    unsigned bits;
    unsigned levels;
    float cent[EDEN_MAX_LEVELS];
    double bound[EDEN_MAX_LEVELS - 1];
};

struct eden {
    size_t d, D;
    enum eden_mode mode;
    double f; /* FRAC: probability of the high book; SPARSE: keep probability */
    enum codec_scale scale;
    bool fixed_scale; /* EDEN_FIXED_SCALE */
    bool ties_up;     /* EDEN_TIES_UP */
    bool portable;    /* EDEN_PORTABLE */
    bool avx512;      /* the 16-lane quantiser and unpacking run: AVX-512F and BMI2, not
                         EDEN_NO_AVX512 */
    enum codec_rotation rotation;
    double loss;
    struct eden_book lo, hi; /* hi used in FRAC mode only */
    float *y;                /* D floats: rotated vector / decode workspace */
    uint8_t *signs;          /* rht_sign_bytes(D) */
    uint8_t *mask;           /* rht_sign_bytes(D): FRAC/SPARSE mask */
    uint16_t *idx;           /* D indices */
    float *part;             /* 16 floats per EDEN_SUM_BLOCK: the quantiser's partial sums */
    uint16_t *idx_hi;        /* D indices under the high book (FRAC only) */
    /* FRAC/SPARSE with fields of at most EDEN_GROUP_MAX_BITS bits: for each mask byte, the
     * bit offset of each of its 8 coordinates' fields and their total width */
    bool grouped;
    uint8_t group_off[256][8];
    uint8_t group_bits[256];
    /* FRAC/SPARSE: the mask drawn, the fields packed and unpacked 16 or 64 coordinates a
     * step (AVX-512F/BW/VL, BMI2 and POPCNT, not EDEN_PORTABLE or EDEN_NO_AVX512) */
    bool frac512;
    /* With frac512, by mask byte: the field width mask of each of its 8 coordinates, one a
     * byte (eden_grouped16_step()), and 16 in each byte whose mask bit is set */
    uint64_t group_wmask[256], group_sel16[256];
};

/* Float partial sums are flushed to double every this many coordinates (in order). */
#define EDEN_SUM_BLOCK RHT_RUN

/* Floats of struct eden's part: ⟨y,q⟩ and ‖q‖² by lane, for each EDEN_SUM_BLOCK. */
static size_t
eden_part_floats(size_t D)
{
    return 16 * ((D + EDEN_SUM_BLOCK - 1) / EDEN_SUM_BLOCK);
}

/* Eight fields of this many bits at most (and a shift below 8) fit one 64-bit word. */
#define EDEN_GROUP_MAX_BITS 7

/* Bits of one coordinate's field in FRAC/SPARSE mode, by its mask bit. */
static unsigned
eden_field_bits(const struct eden *e, unsigned sel)
{
    return e->mode == EDEN_MODE_FRAC ? e->lo.bits + sel : sel * e->lo.bits;
}

/* Fills bk from the Gaussian codebook, or the exact shifted-Beta one for dimension D. */
static int
eden_book_init(struct eden_book *bk, unsigned bits, size_t exact_D)
{
    double beta[1u << (LLOYD_BETA_MAX_BITS - 1)];
    const double *half = lloyd_max_half(bits);
    if (exact_D > 0) {
        if (lloyd_beta_solve(beta, bits, exact_D) < 0)
            return -1;
        half = beta;
    }
    unsigned K = 1u << (bits - 1);
    bk->bits = bits;
    bk->levels = 2 * K;
    for (unsigned k = 0; k < K; k++) {
        bk->cent[K + k] = (float)half[k];
        bk->cent[K - 1 - k] = (float)-half[k];
    }
    for (unsigned k = 0; k + 1 < bk->levels; k++) {
        double lo = k < K ? -half[K - 1 - k] : half[k - K];
        double hi = k + 1 < K ? -half[K - 2 - k] : half[k + 1 - K];
        bk->bound[k] = 0.5 * (lo + hi);
    }
    /* The middle boundary is exactly 0 by symmetry; make it so in floating point. */
    bk->bound[K - 1] = 0.0;
    return 0;
}

int
eden_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits > 0.0) || p->bits > LLOYD_MAX_MAX_BITS || !isfinite(p->bits))
        return errbuf_set(eb, -ERR_RANGE, "bits %g outside (0, %d] for codec '%s'", p->bits,
                          LLOYD_MAX_MAX_BITS, codec_kind_name(p->kind));
    if (p->exact_codebook && ceil(p->bits) > LLOYD_BETA_MAX_BITS)
        return errbuf_set(eb, -ERR_RANGE, "exact_codebook: bits %g above the %d the solver serves",
                          p->bits, LLOYD_BETA_MAX_BITS);
    if (p->exact_codebook && dim > LLOYD_BETA_MAX_DIM)
        return errbuf_set(eb, -ERR_RANGE,
                          "exact_codebook: dimension %zu above %d (beyond, the Gaussian "
                          "codebook is exact to 1e-5)",
                          dim, LLOYD_BETA_MAX_DIM);
    return 0;
}

struct eden *
eden_new(const struct codec_params *p, size_t dim, unsigned flags)
{
    struct eden *e = mem_calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->d = dim;
    e->D = rht_padded_len(dim);
    e->scale = p->scale;
    e->fixed_scale = (flags & EDEN_FIXED_SCALE) != 0;
    e->ties_up = (flags & EDEN_TIES_UP) != 0;
    e->portable = (flags & EDEN_PORTABLE) != 0;
    e->avx512 = !e->portable && (flags & EDEN_NO_AVX512) == 0 &&
                __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
    e->rotation = p->rotation;
    e->loss = p->packet_loss;
    double bl = floor(p->bits);
    size_t exact_D = p->exact_codebook && e->D >= 3 ? e->D : 0;
    int rc = 0;
    if (p->bits < 1.0) {
        e->mode = EDEN_MODE_SPARSE;
        e->f = p->bits;
        rc = eden_book_init(&e->lo, 1, exact_D);
    } else if (p->bits == bl) {
        e->mode = EDEN_MODE_INT;
        rc = eden_book_init(&e->lo, (unsigned)bl, exact_D);
    } else {
        e->mode = EDEN_MODE_FRAC;
        e->f = p->bits - bl;
        rc = eden_book_init(&e->lo, (unsigned)bl, exact_D);
        if (rc == 0)
            rc = eden_book_init(&e->hi, (unsigned)bl + 1, exact_D);
    }
    if (rc < 0) {
        eden_free(e);
        return NULL;
    }
    e->y = mem_alloc_aligned(64, e->D * sizeof *e->y);
    e->signs = mem_alloc(rht_sign_bytes(e->D));
    e->mask = mem_alloc(rht_sign_bytes(e->D));
    e->idx = mem_alloc(e->D * sizeof *e->idx);
    e->part = mem_alloc_aligned(64, eden_part_floats(e->D) * sizeof *e->part);
    if (e->mode == EDEN_MODE_FRAC)
        e->idx_hi = mem_alloc(e->D * sizeof *e->idx_hi);
    if (e->y == NULL || e->signs == NULL || e->mask == NULL || e->idx == NULL || e->part == NULL ||
        (e->mode == EDEN_MODE_FRAC && e->idx_hi == NULL)) {
        eden_free(e);
        return NULL;
    }
    unsigned wide = e->mode == EDEN_MODE_FRAC ? e->lo.bits + 1 : e->lo.bits;
    e->grouped = e->mode != EDEN_MODE_INT && wide <= EDEN_GROUP_MAX_BITS && e->D % 8 == 0;
    for (unsigned v = 0; e->grouped && v < 256; v++) {
        unsigned pos = 0;
        for (unsigned k = 0; k < 8; k++) {
            e->group_off[v][k] = (uint8_t)pos;
            pos += eden_field_bits(e, v >> k & 1);
        }
        e->group_bits[v] = (uint8_t)pos;
    }
    e->frac512 = e->mode != EDEN_MODE_INT && e->avx512 && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("popcnt");
    for (unsigned v = 0; e->frac512 && v < 256; v++) {
        uint64_t wm = 0, s16 = 0;
        for (unsigned k = 0; k < 8; k++) {
            wm |= (uint64_t)((1u << eden_field_bits(e, v >> k & 1)) - 1) << (8 * k);
            s16 |= (uint64_t)(16 * (v >> k & 1)) << (8 * k);
        }
        e->group_wmask[v] = wm;
        e->group_sel16[v] = s16;
    }
    return e;
}

void
eden_free(struct eden *e)
{
    if (e == NULL)
        return;
    mem_free_aligned(e->y);
    mem_free(e->signs);
    mem_free(e->mask);
    mem_free(e->idx);
    mem_free_aligned(e->part);
    mem_free(e->idx_hi);
    mem_free(e);
}

/* Payload bits of a message; n_hi = number of mask bits set (FRAC/SPARSE). */
static size_t
eden_payload_bits(const struct eden *e, size_t n_hi)
{
    switch (e->mode) {
    case EDEN_MODE_INT:
        return e->D * e->lo.bits;
    case EDEN_MODE_FRAC:
        return e->D * e->lo.bits + n_hi;
    case EDEN_MODE_SPARSE:
        return n_hi;
    }
    return 0;
}

size_t
eden_max_bytes(const struct eden *e)
{
    return EDEN_SCALE_BYTES + (eden_payload_bits(e, e->D) + 7) / 8;
}

size_t
eden_acc_len(const struct eden *e)
{
    return e->rotation == CODEC_ROTATION_SHARED ? e->D : e->d;
}

/*
 * codec_mask_draw() with AVX-512BW: the same draws (SROUND_BATCH 16-bit draws of the fast
 * keystream a call, ties settled in coordinate order by sround_coin_with()), the same mask
 * bits and count, 64 coins a step from two unsigned compares into masks.
 */
__attribute__((target("avx512f,avx512bw,popcnt"))) static size_t
eden_mask_draw_avx512(uint8_t *mask, size_t D, double f, struct rng *r)
{
    uint32_t t16 = (uint32_t)(f * 0x1p16); /* f < 1 */
    const __m512i t = _mm512_set1_epi16((short)t16);
    size_t count = 0;
    uint16_t rnd[SROUND_BATCH]; /* a multiple of 64 */
    for (size_t i0 = 0; i0 < D; i0 += SROUND_BATCH) {
        size_t m = D - i0 < SROUND_BATCH ? D - i0 : SROUND_BATCH;
        rng_fast_u16s(r, rnd, m);
        uint8_t *out = mask + i0 / 8;
        for (size_t j = 0; j < m; j += 64) {
            uint64_t below, tie;
            if (j + 64 <= m) {
                __m512i a = _mm512_loadu_si512(rnd + j), b = _mm512_loadu_si512(rnd + j + 32);
                below = (uint64_t)_mm512_cmplt_epu16_mask(a, t) |
                        (uint64_t)_mm512_cmplt_epu16_mask(b, t) << 32;
                tie = (uint64_t)_mm512_cmpeq_epu16_mask(a, t) |
                      (uint64_t)_mm512_cmpeq_epu16_mask(b, t) << 32;
            } else {
                below = tie = 0;
                for (size_t l = 0; j + l < m; l++) {
                    below |= (uint64_t)(rnd[j + l] < t16) << l;
                    tie |= (uint64_t)(rnd[j + l] == t16) << l;
                }
            }
            for (; tie != 0; tie &= tie - 1) {
                unsigned l = (unsigned)__builtin_ctzll(tie);
                below |= (uint64_t)sround_coin_with(f, rnd[j + l], r) << l;
            }
            count += (size_t)__builtin_popcountll(below);
            if (j + 64 <= m) {
                le_store64(out + j / 8, below);
            } else {
                for (size_t k = 0; k < (m - j + 7) / 8; k++)
                    out[j / 8 + k] = (uint8_t)(below >> (8 * k));
            }
        }
    }
    return count;
}

/* Draws the rotation signs and, for FRAC/SPARSE, the mask; returns the mask count. */
static size_t
eden_draw_shared(struct eden *e, const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, e->rotation);
    rht_signs_draw(e->signs, e->D, &r);
    if (e->mode == EDEN_MODE_INT)
        return 0;
    if (e->frac512)
        return eden_mask_draw_avx512(e->mask, e->D, e->f, &r);
    return codec_mask_draw(e->mask, e->D, e->f, &r);
}

/*
 * Cell indices of y[0..n) against boundaries thr[0..nb) (increasing, already multiplied by
 * ‖x‖/√D): the count of boundaries below y (ties to the lower cell) or not above y (ties
 * up). Blocked so that the compare-and-count loops vectorise.
 */
static void
eden_bucketize(uint16_t *idx, const float *y, size_t n, const float *thr, unsigned nb, bool ties_up)
{
    if (nb > 15) {
        for (size_t i = 0; i < n; i++) {
            unsigned lo = 0, hi = nb; /* first boundary not below y */
            while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                bool below = ties_up ? thr[mid] <= y[i] : thr[mid] < y[i];
                if (below)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            idx[i] = (uint16_t)lo;
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = 0;
    for (unsigned k = 0; k < nb; k++) {
        float t = thr[k];
        if (ties_up) {
            for (size_t i = 0; i < n; i++)
                idx[i] = (uint16_t)(idx[i] + (y[i] >= t));
        } else {
            for (size_t i = 0; i < n; i++)
                idx[i] = (uint16_t)(idx[i] + (y[i] > t));
        }
    }
}

/* ⟨y, q⟩ and ‖q‖² for indices into cent, in double. */
static void
eden_dots(double *yq, double *qq, const float *y, const uint16_t *idx, size_t n, const float *cent)
{
    double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        float c0 = cent[idx[i]], c1 = cent[idx[i + 1]];
        a0 += (double)(y[i] * c0);
        a1 += (double)(y[i + 1] * c1);
        b0 += (double)(c0 * c0);
        b1 += (double)(c1 * c1);
    }
    for (; i < n; i++) {
        float c = cent[idx[i]];
        a0 += (double)(y[i] * c);
        b0 += (double)(c * c);
    }
    *yq = a0 + a1;
    *qq = b0 + b1;
}

/* GCC vector extensions for the quantiser's hot loop (AVX2 or two SSE registers). */
typedef float eden_v8 __attribute__((vector_size(32)));
typedef int32_t eden_i8 __attribute__((vector_size(32)));

/*
 * For b <= 4: idx[i] = cell of y[i] against thr[0..nb), and ⟨y,q⟩, ‖q‖² with
 * q_i = cent[idx[i]] written as cent[0] + Σ_k [y_i above thr_k]·(cent[k+1] − cent[k]), so
 * that no gather is needed. y holds coordinates off..off+n (both multiples of 8); idx and
 * packed are indexed by coordinate. The sums run in float lanes over each EDEN_SUM_BLOCK,
 * kept in part[16·block ..] (⟨y,q⟩ lanes, then ‖q‖² lanes) so that a block may come in
 * several runs, in order; eden_part_sum() adds them up in double.
 */
static inline __attribute__((always_inline)) void
eden_quantize_kernel(uint16_t *idx, uint8_t *packed, unsigned bits, float *part, const float *y,
                     size_t off, size_t n, const float *thr, const float *cent, unsigned nb,
                     bool ties_up)
{
    eden_v8 tv[15], dv[15];
    for (unsigned k = 0; k < nb; k++) {
        float t = thr[k], dc = cent[k + 1] - cent[k];
        tv[k] = (eden_v8){ t, t, t, t, t, t, t, t };
        dv[k] = (eden_v8){ dc, dc, dc, dc, dc, dc, dc, dc };
    }
    float c0 = cent[0];
    const eden_v8 base = { c0, c0, c0, c0, c0, c0, c0, c0 };
    for (size_t i0 = 0; i0 < n;) {
        size_t g = off + i0, blk = g / EDEN_SUM_BLOCK;
        size_t end = i0 + (EDEN_SUM_BLOCK - g % EDEN_SUM_BLOCK);
        end = end < n ? end : n;
        eden_v8 ayq, aqq;
        memcpy(&ayq, part + 16 * blk, sizeof ayq);
        memcpy(&aqq, part + 16 * blk + 8, sizeof aqq);
        for (size_t i = i0; i < end; i += 8) {
            eden_v8 yv;
            memcpy(&yv, y + i, sizeof yv);
            eden_i8 cnt = { 0 };
            eden_v8 q = base;
            for (unsigned k = 0; k < nb; k++) {
                eden_i8 m = ties_up ? (yv >= tv[k]) : (yv > tv[k]);
                cnt -= m;
                q += (eden_v8)(m & (eden_i8)dv[k]);
            }
            ayq += yv * q;
            aqq += q * q;
            if (packed != NULL) {
                /* 8 fields of bits (1, 2 or 4) bits: exactly `bits` bytes, LSB-first. */
                uint32_t word = 0;
                for (int l = 0; l < 8; l++)
                    word |= (uint32_t)cnt[l] << (l * (int)bits);
                for (unsigned byte = 0; byte < bits; byte++)
                    packed[(off + i) / 8 * bits + byte] = (uint8_t)(word >> (8 * byte));
            } else {
                for (int l = 0; l < 8; l++)
                    idx[off + i + (size_t)l] = (uint16_t)cnt[l];
            }
        }
        memcpy(part + 16 * blk, &ayq, sizeof ayq);
        memcpy(part + 16 * blk + 8, &aqq, sizeof aqq);
        i0 = end;
    }
}

/* ⟨y,q⟩ and ‖q‖² from the partial sums of D coordinates, block by block, lane by lane. */
static void
eden_part_sum(double *yq_out, double *qq_out, const float *part, size_t D)
{
    double yq = 0, qq = 0;
    for (size_t b = 0; b < eden_part_floats(D) / 16; b++) {
        for (int l = 0; l < 8; l++) {
            yq += (double)part[16 * b + (size_t)l];
            qq += (double)part[16 * b + 8 + (size_t)l];
        }
    }
    *yq_out = yq;
    *qq_out = qq;
}

/*
 * The kernel's entry points, one per ISA: the tie rule and, for b = 1, 2 and 4
 * (nb = 2^b - 1 boundaries), the widths are constants in each copy, so that the boundary
 * loop unrolls with its vectors in registers.
 */
#define EDEN_KERNEL_CALL(nb_, bits_, ties_)                                                        \
    eden_quantize_kernel(idx, packed, bits_, part, y, off, n, thr, cent, nb_, ties_)
#define EDEN_KERNEL_TIES(ties_)                                                                    \
    do {                                                                                           \
        if (nb == 1 && bits == 1)                                                                  \
            EDEN_KERNEL_CALL(1, 1, ties_);                                                         \
        else if (nb == 3 && bits == 2)                                                             \
            EDEN_KERNEL_CALL(3, 2, ties_);                                                         \
        else if (nb == 15 && bits == 4)                                                            \
            EDEN_KERNEL_CALL(15, 4, ties_);                                                        \
        else                                                                                       \
            EDEN_KERNEL_CALL(nb, bits, ties_);                                                     \
    } while (0)
#define EDEN_KERNEL_ENTRY(name, attr)                                                              \
    attr static void name(uint16_t *idx, uint8_t *packed, unsigned bits, float *part,              \
                          const float *y, size_t off, size_t n, const float *thr,                  \
                          const float *cent, unsigned nb, bool ties_up)                            \
    {                                                                                              \
        if (ties_up)                                                                               \
            EDEN_KERNEL_TIES(true);                                                                \
        else                                                                                       \
            EDEN_KERNEL_TIES(false);                                                               \
    }
EDEN_KERNEL_ENTRY(eden_quantize_avx2, __attribute__((target("avx2"))))
EDEN_KERNEL_ENTRY(eden_quantize_portable, )

/* The vector quantiser applies: b <= 4 and whole vectors of 8. */
static bool
eden_vector_ok(const struct eden_book *bk, size_t n)
{
    return bk->levels - 1 <= 15 && n % 8 == 0;
}

/* Packs in the quantiser itself: 1, 2 and 4 bits (8 fields are whole bytes). */
static bool
eden_fused_pack(const struct eden_book *bk)
{
    return bk->bits <= 4 && bk->bits != 3;
}

/* y > t, or y >= t when ties go up (all lanes ones or zeros). */
#define EDEN_ABOVE(y, t, ties)                                                                     \
    ((ties) ? _mm256_cmp_ps((y), (t), _CMP_GE_OQ) : _mm256_cmp_ps((y), (t), _CMP_GT_OQ))

/*
 * A book's boundaries for a branch-free binary search (b <= 4): at level j = 1..b the
 * candidate of the cells k found so far (k < 2^(j−1)) is boundary (2k + 1)·2^(b−j) − 1, and
 * a lane-wise permutation of the level's candidates picks it for 8 coordinates at once. The
 * boundaries are non-decreasing (each is a rounding of an increasing double times a
 * positive unit, and rounding is monotone), so those below y form a prefix: the search
 * finds their count, the cell of eden_bucketize() and eden_quantize_kernel().
 */
struct eden_bsearch {
    unsigned bits;
    float lvl[4][8]; /* lvl[j − 1][k] */
};

static void
eden_bsearch_init(struct eden_bsearch *bs, const float *thr, unsigned bits)
{
    *bs = (struct eden_bsearch){ .bits = bits };
    for (unsigned j = 1; j <= bits; j++)
        for (unsigned k = 0; k < 8; k++) /* lanes beyond 2^(j−1) repeat (level 1: all) */
            bs->lvl[j - 1][k] = thr[(2 * (k % (1u << (j - 1))) + 1) * (1u << (bits - j)) - 1];
}

/* The cells of y under bs (lvl holding bs->lvl as vectors): the count of boundaries below. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
eden_bsearch_cells(unsigned bits, const __m256 *lvl, __m256 y, bool ties)
{
    __m256i k = _mm256_setzero_si256();
    for (unsigned j = 0; j < bits; j++) {
        __m256 t = j == 0 ? lvl[0] : _mm256_permutevar8x32_ps(lvl[j], k);
        __m256 m = EDEN_ABOVE(y, t, ties);
        k = _mm256_or_si256(_mm256_slli_epi32(k, 1), _mm256_srli_epi32(_mm256_castps_si256(m), 31));
    }
    return k;
}

/* tab[idx] for 8 indices: lane permutations for up to 16 levels, else a gather. */
__attribute__((target("avx2"), always_inline)) static inline __m256
eden_lookup8(const float *tab, unsigned levels, const __m256 *tab8, __m256i idx)
{
    if (levels <= 8)
        return _mm256_permutevar8x32_ps(tab8[0], idx);
    if (levels <= 16) /* bit 3 of idx, moved to the sign bit, picks the upper half */
        return _mm256_blendv_ps(_mm256_permutevar8x32_ps(tab8[0], idx),
                                _mm256_permutevar8x32_ps(tab8[1], idx),
                                _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    return _mm256_i32gather_ps(tab, idx, 4);
}

/*
 * The cell of y at b = 4 without a search (eden_qfast16_direct()). A finite y is clamped
 * to [−hi, hi], −hi below every boundary and hi above them, which changes no cell;
 * g = fma(y, s, mag) − 2^23 is then an integer in [0, 32), read from the sum's low bits
 * (mag puts it in the binade [2^23, 2^24), where floats are the integers), and since
 * rounding is monotone, so is g in y. Boundary k turns "above" on between two adjacent
 * floats y⁻_k < y⁺_k (t_k and the next float up, or when ties go up the float below t_k
 * and t_k): it is above for every y of grid cell g > g(y⁻_k), for none with g < g(y⁺_k),
 * and is undecided only in g = g(y⁻_k) = g(y⁺_k). eden_qdirect_init() checks that each g
 * holds at most one undecided boundary; then the cell is base[g], the boundaries decided
 * above, plus one compare with thr[g], the undecided one (+∞ when none, never above a
 * clamped y): the count of the search, for every finite y, ±0 and subnormals included
 * (infinite and NaN y go to the search, see eden_qfast16_direct()). When the check fails
 * (boundaries closer than the grid step: a unit of 0, a subnormal or an overflowed one)
 * the search runs instead.
 */
struct eden_qdirect {
    bool ok;
    float hi, s, mag;
    float thr[32];
    int32_t base[32];
};

/* g(y) for y in [−hi, hi] (then exact: the sum lies in [2^23, 2^23 + 32)). */
static int32_t
eden_qdirect_grid(const struct eden_qdirect *qd, float y)
{
    return (int32_t)(fmaf(y, qd->s, qd->mag) - 8388608.0f);
}

/* Fills qd for the nb boundaries thr under the tie rule; qd->ok false when it cannot. */
static void
eden_qdirect_init(struct eden_qdirect *qd, const float *thr, unsigned nb, bool ties_up)
{
    *qd = (struct eden_qdirect){ .ok = false };
    for (unsigned k = 0; k < nb; k++)
        if (!isfinite(thr[k]))
            return;
    float t0 = thr[0], tn = thr[nb - 1], w = tn - t0;
    if (!(t0 < tn && isfinite(w)))
        return;
    /* A grid of about 28 cells over [−hi, hi]: the boundaries of N(0,1)'s 16-level book
     * are 0.26 of its 4.8-wide span apart or more, 1.4 cells. */
    float hi = fmaxf(-t0, tn) + w / 32.0f, lo = -hi, s = 26.0f / w;
    float mag = (float)(8388608.0 + 2.0 - (double)lo * (double)s);
    if (!(isfinite(s) && s > 0.0f && lo < t0 && hi > tn))
        return;
    qd->hi = hi;
    qd->s = s;
    qd->mag = mag;
    float zlo = fmaf(lo, s, mag), zhi = fmaf(hi, s, mag);
    if (!(zlo >= 8388608.0f && zhi < 8388608.0f + 32.0f))
        return;
    int active[32];
    for (unsigned g = 0; g < 32; g++) {
        active[g] = -1;
        qd->base[g] = 0;
    }
    for (unsigned k = 0; k < nb; k++) {
        float below = ties_up ? nextafterf(thr[k], -INFINITY) : thr[k];
        float above = ties_up ? thr[k] : nextafterf(thr[k], INFINITY);
        int32_t gb = eden_qdirect_grid(qd, below), ga = eden_qdirect_grid(qd, above);
        for (int32_t g = gb + 1; g < 32; g++)
            qd->base[g]++;
        if (gb == ga) {
            if (active[gb] >= 0)
                return;
            active[gb] = (int)k;
        }
    }
    for (unsigned g = 0; g < 32; g++)
        qd->thr[g] = active[g] >= 0 ? thr[active[g]] : INFINITY;
    qd->ok = true;
}

/*
 * The AVX2 quantiser for b = 1, 2 and 4: the same indices, the same centroids and the same
 * float sums in the same lanes as eden_quantize_kernel(), the cells found by a binary search
 * (struct eden_bsearch). The kernel's centroid, c_0 plus the differences c_{k+1} − c_k of
 * the cells below in increasing k (the skipped ones adding +0, which changes no nonzero
 * sum), is read from q_tab.
 */
struct eden_qfast {
    struct eden_bsearch bs;
    float q_tab[16]; /* the kernel's centroid of each cell */
    /* b = 4, for eden_qfast16_kernel(): the candidates of steps 3 and 4 at index 8·m_1 +
     * 4·m_2 (+ 2·m_3), m_j the outcomes of the steps before */
    float at3[16], at4[16];
    struct eden_qdirect dir; /* b = 4 with AVX-512: the cells without a search */
};

/* The kernel's centroid of cell i: c_0 + Σ_{k<nb} [k < i]·(c_{k+1} − c_k), in float. */
static void
eden_qtab(float *q_tab, const float *cent, unsigned nb)
{
    for (unsigned i = 0; i <= nb; i++) {
        float q = cent[0];
        for (unsigned k = 0; k < nb; k++)
            q += k < i ? cent[k + 1] - cent[k] : 0.0f;
        q_tab[i] = q;
    }
}

static void
eden_qfast_init(struct eden_qfast *qf, const float *thr, const struct eden_book *bk, bool ties_up)
{
    eden_bsearch_init(&qf->bs, thr, bk->bits);
    eden_qtab(qf->q_tab, bk->cent, bk->levels - 1);
    for (unsigned s = 0; s < 16; s++) {
        qf->at3[s] = qf->bs.lvl[2][s / 4 % 8];
        qf->at4[s] = qf->bs.lvl[3][s / 2 % 8];
    }
    qf->dir.ok = false;
    if (bk->bits == 4)
        eden_qdirect_init(&qf->dir, thr, bk->levels - 1, ties_up);
}

/* eden_spread2[v], eden_spread4[v]: bit l of the byte v moved to bit 2l, to bit 4l. */
#define EDEN_SPR(v, s)                                                                             \
    (((v)&1u) | ((v) >> 1 & 1u) << (s) | ((v) >> 2 & 1u) << 2 * (s) | ((v) >> 3 & 1u) << 3 * (s) | \
     ((v) >> 4 & 1u) << 4 * (s) | ((v) >> 5 & 1u) << 5 * (s) | ((v) >> 6 & 1u) << 6 * (s) |        \
     ((v) >> 7 & 1u) << 7 * (s))
#define EDEN_SPR4(v, s)                                                                            \
    EDEN_SPR(v, s), EDEN_SPR((v) + 1, s), EDEN_SPR((v) + 2, s), EDEN_SPR((v) + 3, s)
#define EDEN_SPR32(v, s)                                                                           \
    EDEN_SPR4(v, s), EDEN_SPR4((v) + 4, s), EDEN_SPR4((v) + 8, s), EDEN_SPR4((v) + 12, s),         \
        EDEN_SPR4((v) + 16, s), EDEN_SPR4((v) + 20, s), EDEN_SPR4((v) + 24, s),                    \
        EDEN_SPR4((v) + 28, s)
#define EDEN_SPR256(s)                                                                             \
    EDEN_SPR32(0, s), EDEN_SPR32(32, s), EDEN_SPR32(64, s), EDEN_SPR32(96, s), EDEN_SPR32(128, s), \
        EDEN_SPR32(160, s), EDEN_SPR32(192, s), EDEN_SPR32(224, s)
static const uint16_t eden_spread2[256] = { EDEN_SPR256(2) };
static const uint32_t eden_spread4[256] = { EDEN_SPR256(4) };
#undef EDEN_SPR256
#undef EDEN_SPR32
#undef EDEN_SPR4
#undef EDEN_SPR

__attribute__((target("avx2"), always_inline)) static inline void
eden_qfast_kernel(const struct eden_qfast *qf, uint16_t *idx, uint8_t *packed, unsigned bits,
                  float *part, const float *y, size_t off, size_t n, bool ties)
{
    __m256 lvl[4];
    for (unsigned j = 0; j < 4; j++)
        lvl[j] = _mm256_loadu_ps(qf->bs.lvl[j]);
    const __m256 qt[2] = { _mm256_loadu_ps(qf->q_tab), _mm256_loadu_ps(qf->q_tab + 8) };
    const __m256 q0 = _mm256_set1_ps(qf->q_tab[0]), q1 = _mm256_set1_ps(qf->q_tab[1]);
    for (size_t i0 = 0; i0 < n;) {
        size_t g = off + i0, blk = g / EDEN_SUM_BLOCK;
        size_t end = i0 + (EDEN_SUM_BLOCK - g % EDEN_SUM_BLOCK);
        end = end < n ? end : n;
        __m256 ayq = _mm256_loadu_ps(part + 16 * blk), aqq = _mm256_loadu_ps(part + 16 * blk + 8);
        for (size_t i = i0; i < end; i += 8) {
            __m256 yv = _mm256_loadu_ps(y + i), m = _mm256_setzero_ps(), q;
            __m256i k;
            __m256 m2 = m, m3 = m, m4 = m;
            if (bits == 1) { /* the search's one step, its mask kept for the packing */
                m = EDEN_ABOVE(yv, lvl[0], ties);
                k = _mm256_srli_epi32(_mm256_castps_si256(m), 31);
                q = _mm256_blendv_ps(q0, q1, m);
            } else if (bits == 2) {
                /*
                 * The search's two steps on the masks themselves: an all-ones lane indexes
                 * lane 7 of level 2, which holds the upper candidate like every odd lane;
                 * the cell is (m & 2) − m2 (each mask −1 or 0).
                 */
                m = EDEN_ABOVE(yv, lvl[0], ties);
                __m256i mi = _mm256_castps_si256(m);
                m2 = EDEN_ABOVE(yv, _mm256_permutevar8x32_ps(lvl[1], mi), ties);
                k = _mm256_sub_epi32(_mm256_and_si256(mi, _mm256_set1_epi32(2)),
                                     _mm256_castps_si256(m2));
                q = _mm256_permutevar8x32_ps(qt[0], k);
            } else {
                /* The same on four steps: the cells so far are 2k − m after each. */
                m = EDEN_ABOVE(yv, lvl[0], ties);
                __m256i mi = _mm256_castps_si256(m);
                m2 = EDEN_ABOVE(yv, _mm256_permutevar8x32_ps(lvl[1], mi), ties);
                k = _mm256_sub_epi32(_mm256_and_si256(mi, _mm256_set1_epi32(2)),
                                     _mm256_castps_si256(m2));
                m3 = EDEN_ABOVE(yv, _mm256_permutevar8x32_ps(lvl[2], k), ties);
                k = _mm256_sub_epi32(_mm256_slli_epi32(k, 1), _mm256_castps_si256(m3));
                m4 = EDEN_ABOVE(yv, _mm256_permutevar8x32_ps(lvl[3], k), ties);
                k = _mm256_sub_epi32(_mm256_slli_epi32(k, 1), _mm256_castps_si256(m4));
                q = eden_lookup8(qf->q_tab, 16, qt, k);
            }
            ayq = _mm256_add_ps(ayq, _mm256_mul_ps(yv, q));
            aqq = _mm256_add_ps(aqq, _mm256_mul_ps(q, q));
            if (packed != NULL) {
                /* 8 fields of b bits: exactly b bytes, LSB-first. */
                uint8_t *p = packed + (off + i) / 8 * bits;
                if (bits == 1) {
                    *p = (uint8_t)_mm256_movemask_ps(m);
                } else if (bits == 2) { /* field l: bit 2l from step 2, bit 2l + 1 from 1 */
                    unsigned hi = (unsigned)_mm256_movemask_ps(m);
                    unsigned lo = (unsigned)_mm256_movemask_ps(m2);
                    le_store16(p, (uint16_t)(eden_spread2[lo] | eden_spread2[hi] << 1));
                } else { /* field l: bit 4l + 3 − j from step j */
                    uint32_t w = eden_spread4[_mm256_movemask_ps(m4)] |
                                 eden_spread4[_mm256_movemask_ps(m3)] << 1 |
                                 eden_spread4[_mm256_movemask_ps(m2)] << 2 |
                                 eden_spread4[_mm256_movemask_ps(m)] << 3;
                    le_store32(p, w);
                }
            } else {
                __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(k, k), 0x08);
                _mm_storeu_si128((__m128i *)(idx + off + i), _mm256_castsi256_si128(w));
            }
        }
        _mm256_storeu_ps(part + 16 * blk, ayq);
        _mm256_storeu_ps(part + 16 * blk + 8, aqq);
        i0 = end;
    }
}

/* The quantiser kernel's copies with the width and the tie rule constant in each. */
#define EDEN_QFAST_ENTRY(name, attr, kernel)                                                       \
    attr static void name(const struct eden_qfast *qf, uint16_t *idx, uint8_t *packed,             \
                          unsigned bits, float *part, const float *y, size_t off, size_t n,        \
                          bool ties)                                                               \
    {                                                                                              \
        if (bits == 1 && ties)                                                                     \
            kernel(qf, idx, packed, 1, part, y, off, n, true);                                     \
        else if (bits == 1)                                                                        \
            kernel(qf, idx, packed, 1, part, y, off, n, false);                                    \
        else if (bits == 2 && ties)                                                                \
            kernel(qf, idx, packed, 2, part, y, off, n, true);                                     \
        else if (bits == 2)                                                                        \
            kernel(qf, idx, packed, 2, part, y, off, n, false);                                    \
        else if (ties)                                                                             \
            kernel(qf, idx, packed, 4, part, y, off, n, true);                                     \
        else                                                                                       \
            kernel(qf, idx, packed, 4, part, y, off, n, false);                                    \
    }
EDEN_QFAST_ENTRY(eden_qfast_avx2, __attribute__((target("avx2"))), eden_qfast_kernel)

/* eden_qfast_avx2() applies: b = 1, 2 or 4, AVX2, not forced portable. */
static bool
eden_qfast_ok(const struct eden *e, const struct eden_book *bk)
{
    return !e->portable && eden_fused_pack(bk) && __builtin_cpu_supports("avx2");
}

/* y > t, or y >= t when ties go up, on 16 lanes: a mask. */
#define EDEN_ABOVE16(y, t, ties)                                                                   \
    ((ties) ? _mm512_cmp_ps_mask((y), (t), _CMP_GE_OQ) : _mm512_cmp_ps_mask((y), (t), _CMP_GT_OQ))

/*
 * eden_qfast_kernel() on 16 lanes (AVX-512F): each step of the search
 * compares into a mask, the next candidates come from a blend (step 2) or a permutation
 * (steps 3 and 4, struct eden_qfast's at3 and at4) indexed by the outcomes so far, the
 * centroid from one permutation of the 16-entry q_tab, and the fields from the masks'
 * bits, spread by pdep (field l: bit b·l + b − j from step j). Both sums sit in one
 * register, 8 lanes each; the 16 coordinates' terms are added to it as two halves, the
 * lower coordinates first: the additions of eden_qfast_kernel() in the same order, hence
 * the same sums. off and n are multiples of 16.
 */
__attribute__((target("avx512f,bmi2"), always_inline)) static inline void
eden_qfast16_kernel(const struct eden_qfast *qf, uint16_t *idx, uint8_t *packed, unsigned bits,
                    float *part, const float *y, size_t off, size_t n, bool ties)
{
    const __m512 t1 = _mm512_set1_ps(qf->bs.lvl[0][0]);
    const __m512 t2lo = _mm512_set1_ps(qf->bs.lvl[1][0]), t2hi = _mm512_set1_ps(qf->bs.lvl[1][1]);
    const __m512 at3 = _mm512_loadu_ps(qf->at3), at4 = _mm512_loadu_ps(qf->at4);
    const __m512 qt = _mm512_loadu_ps(qf->q_tab);
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
    const __m512i four = _mm512_set1_epi32(4), eight = _mm512_set1_epi32(8);
    for (size_t i0 = 0; i0 < n;) {
        size_t g = off + i0, blk = g / EDEN_SUM_BLOCK;
        size_t end = i0 + (EDEN_SUM_BLOCK - g % EDEN_SUM_BLOCK);
        end = end < n ? end : n;
        __m512 acc = _mm512_loadu_ps(part + 16 * blk); /* ⟨y,q⟩ lanes, then ‖q‖² lanes */
        for (size_t i = i0; i < end; i += 16) {
            __m512 yv = _mm512_loadu_ps(y + i);
            __mmask16 m1 = EDEN_ABOVE16(yv, t1, ties), m2 = 0, m3 = 0, m4 = 0;
            if (bits > 1)
                m2 = EDEN_ABOVE16(yv, _mm512_mask_blend_ps(m1, t2lo, t2hi), ties);
            __m512i k;
            if (bits == 1) {
                k = _mm512_maskz_mov_epi32(m1, one);
            } else if (bits == 2) {
                k = _mm512_maskz_mov_epi32(m1, two);
                k = _mm512_mask_or_epi32(k, m2, k, one);
            } else {
                k = _mm512_maskz_mov_epi32(m1, eight);
                k = _mm512_mask_or_epi32(k, m2, k, four);
                m3 = EDEN_ABOVE16(yv, _mm512_permutexvar_ps(k, at3), ties);
                k = _mm512_mask_or_epi32(k, m3, k, two);
                m4 = EDEN_ABOVE16(yv, _mm512_permutexvar_ps(k, at4), ties);
                k = _mm512_mask_or_epi32(k, m4, k, one);
            }
            __m512 q = _mm512_permutexvar_ps(k, qt);
            __m512 yq = _mm512_mul_ps(yv, q), qq = _mm512_mul_ps(q, q);
            /* (⟨y,q⟩ | ‖q‖²) terms of the lower 8 coordinates, then of the upper 8 */
            acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(yq, qq, _MM_SHUFFLE(1, 0, 1, 0)));
            acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(yq, qq, _MM_SHUFFLE(3, 2, 3, 2)));
            if (packed != NULL) {
                uint8_t *p = packed + (off + i) / 8 * bits;
                if (bits == 1) {
                    le_store16(p, m1);
                } else if (bits == 2) {
                    le_store32(p,
                               (uint32_t)(_pdep_u32(m2, 0x55555555u) | _pdep_u32(m1, 0xaaaaaaaau)));
                } else {
                    le_store64(p, _pdep_u64(m4, UINT64_C(0x1111111111111111)) |
                                      _pdep_u64(m3, UINT64_C(0x2222222222222222)) |
                                      _pdep_u64(m2, UINT64_C(0x4444444444444444)) |
                                      _pdep_u64(m1, UINT64_C(0x8888888888888888)));
                }
            } else {
                _mm256_storeu_si256((__m256i *)(idx + off + i), _mm512_cvtepi32_epi16(k));
            }
        }
        _mm512_storeu_ps(part + 16 * blk, acc);
        i0 = end;
    }
}

EDEN_QFAST_ENTRY(eden_qfast_avx512, __attribute__((target("avx512f,bmi2"))), eden_qfast16_kernel)
#undef EDEN_QFAST_ENTRY

#define EDEN_QDIRECT_ISA "avx512f,avx512bw,avx512dq,avx512vbmi,bmi2"

/*
 * The tables of eden_qfast16_direct() in registers. A lane carries its cell c as
 * c + c·2^28: vpermps reads only the index's low 4 bits, and the fields of an even lane and
 * the next lane, bits 28–35 of their 64 bits, shift to one byte.
 */
struct eden_qdirect16 {
    __m512 hi, s, mag, thr0, thr1, qt;
    __m512i base0, base1, one, gather, gather2;
};

__attribute__((target(EDEN_QDIRECT_ISA), always_inline)) static inline void
eden_qdirect16_init(struct eden_qdirect16 *r, const struct eden_qfast *qf)
{
    const struct eden_qdirect *qd = &qf->dir;
    r->hi = _mm512_set1_ps(qd->hi);
    r->s = _mm512_set1_ps(qd->s);
    r->mag = _mm512_set1_ps(qd->mag);
    r->thr0 = _mm512_loadu_ps(qd->thr);
    r->thr1 = _mm512_loadu_ps(qd->thr + 16);
    r->qt = _mm512_loadu_ps(qf->q_tab);
    __m512i b0 = _mm512_loadu_si512(qd->base), b1 = _mm512_loadu_si512(qd->base + 16);
    r->base0 = _mm512_or_si512(b0, _mm512_slli_epi32(b0, 28));
    r->base1 = _mm512_or_si512(b1, _mm512_slli_epi32(b1, 28));
    r->one = _mm512_set1_epi32(0x10000001);
    /* byte 8·j (cells 2j, 2j + 1) to byte j; for two blocks, j >= 4 to byte 4 + j */
    r->gather = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, 0x3830282018100800);
    r->gather2 = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0x38302820, 0x18100800);
}

/*
 * The cells (as above) of the 16 coordinates in yv, and their centroids in *q. yv lies
 * within [−hi, hi] after vrangeps (absolute minimum with hi, y's sign), y's cell for any
 * finite y; the grid cell g is the fused multiply-add's low 5 bits, which are all that
 * vpermt2ps and vpermt2d read.
 */
__attribute__((target(EDEN_QDIRECT_ISA), always_inline)) static inline __m512i
eden_qdirect_cells(const struct eden_qdirect16 *r, __m512 yv, __m512 *q, bool ties)
{
    __m512 yc = _mm512_range_ps(yv, r->hi, 2);
    __m512i gi = _mm512_castps_si512(_mm512_fmadd_ps(yc, r->s, r->mag));
    __m512 t = _mm512_permutex2var_ps(r->thr0, gi, r->thr1);
    __m512i k = _mm512_permutex2var_epi32(r->base0, gi, r->base1);
    k = _mm512_mask_add_epi32(k, EDEN_ABOVE16(yc, t, ties), k, r->one);
    *q = _mm512_permutexvar_ps(k, r->qt);
    return k;
}

/* The fields of 16 cells k, two to a byte, in bytes 0–7 (gather2: 0–3 and 8–11). */
__attribute__((target(EDEN_QDIRECT_ISA), always_inline)) static inline __m128i
eden_qdirect_fields(__m512i gather, __m512i k)
{
    return _mm512_castsi512_si128(_mm512_permutexvar_epi8(gather, _mm512_srli_epi64(k, 28)));
}

/* Whether the 16 float sums are finite (every coordinate they took was). */
__attribute__((target(EDEN_QDIRECT_ISA), always_inline)) static inline bool
eden_qdirect_finite(__m512 acc)
{
    return _mm512_cmp_ps_mask(_mm512_sub_ps(acc, acc), _mm512_setzero_ps(), _CMP_EQ_OQ) == 0xffff;
}

/*
 * eden_qfast16_kernel() at b = 4 when qf->dir.ok: the cells of struct eden_qdirect (the
 * grid cell from one fused multiply-add, its undecided boundary and the count below from
 * two permutations of 32-entry tables, one compare), the same centroids and the same sums;
 * the fields two to a byte by a shift and one byte permutation. The clamp is exact for
 * finite y only, so a block whose sums come out non-finite (some y infinite or NaN, or
 * products that overflow) is done again by the search, from the sums it started with.
 */
__attribute__((target(EDEN_QDIRECT_ISA), always_inline)) static inline void
eden_qfast16_direct(const struct eden_qfast *qf, uint16_t *idx, uint8_t *packed, float *part,
                    const float *y, size_t off, size_t n, bool ties)
{
    struct eden_qdirect16 r;
    eden_qdirect16_init(&r, qf);
    for (size_t i0 = 0; i0 < n;) {
        size_t g = off + i0, blk = g / EDEN_SUM_BLOCK;
        size_t end = i0 + (EDEN_SUM_BLOCK - g % EDEN_SUM_BLOCK);
        end = end < n ? end : n;
        const __m512 acc0 = _mm512_loadu_ps(part + 16 * blk);
        __m512 acc = acc0; /* ⟨y,q⟩ lanes, then ‖q‖² lanes */
        for (size_t i = i0; i < end; i += 16) {
            __m512 yv = _mm512_loadu_ps(y + i), q;
            __m512i k = eden_qdirect_cells(&r, yv, &q, ties);
            __m512 yq = _mm512_mul_ps(yv, q), qq = _mm512_mul_ps(q, q);
            /* (⟨y,q⟩ | ‖q‖²) terms of the lower 8 coordinates, then of the upper 8 */
            acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(yq, qq, _MM_SHUFFLE(1, 0, 1, 0)));
            acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(yq, qq, _MM_SHUFFLE(3, 2, 3, 2)));
            if (packed != NULL) {
                _mm_storel_epi64((__m128i *)(packed + (off + i) / 2),
                                 eden_qdirect_fields(r.gather, k));
            } else {
                _mm256_storeu_si256((__m256i *)(idx + off + i), _mm512_cvtepi32_epi16(k));
            }
        }
        if (eden_qdirect_finite(acc)) {
            _mm512_storeu_ps(part + 16 * blk, acc);
        } else {
            _mm512_storeu_ps(part + 16 * blk, acc0);
            eden_qfast16_kernel(qf, idx, packed, 4, part, y + i0, off + i0, end - i0, ties);
        }
        i0 = end;
    }
}

/* [a | b]: 8 floats of a and 8 of b in one register (AVX-512F). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
eden_qfast16_join(const float *a, const float *b)
{
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(a))),
                           _mm256_castps_pd(_mm256_loadu_ps(b)), 1));
}

/* The inverse of eden_qfast16_join(): the lower 8 floats of v to a, the upper to b. */
__attribute__((target("avx512f"), always_inline)) static inline void
eden_qfast16_split(float *a, float *b, __m512 v)
{
    _mm256_storeu_ps(a, _mm512_castps512_ps256(v));
    _mm256_storeu_ps(b, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/*
 * eden_qfast16_direct() on two whole blocks of fields (EDEN_SUM_BLOCK coordinates at
 * offA and offB, both multiples of it) at once: each vector holds 8 coordinates of each,
 * so that the ⟨y,q⟩ sums of both blocks sit in one register and the ‖q‖² sums in another,
 * the terms added in coordinate order without moving lanes. Each 8 coordinates' fields
 * are stored 8 bytes at a time, the 4 beyond theirs overwritten by the next ones' (the last
 * 4 bytes at a time).
 */
__attribute__((target(EDEN_QDIRECT_ISA), always_inline)) static inline void
eden_qfast16_direct2(const struct eden_qfast *qf, uint8_t *packed, float *part, const float *ya,
                     size_t offa, const float *yb, size_t offb, bool ties)
{
    struct eden_qdirect16 r;
    eden_qdirect16_init(&r, qf);
    float *pa = part + 16 * (offa / EDEN_SUM_BLOCK), *pb = part + 16 * (offb / EDEN_SUM_BLOCK);
    const __m512 ayq0 = eden_qfast16_join(pa, pb), aqq0 = eden_qfast16_join(pa + 8, pb + 8);
    __m512 ayq = ayq0, aqq = aqq0;
    uint8_t *fa = packed + offa / 2, *fb = packed + offb / 2;
    for (size_t i = 0; i < EDEN_SUM_BLOCK; i += 8) {
        __m512 yv = eden_qfast16_join(ya + i, yb + i), q;
        __m512i k = eden_qdirect_cells(&r, yv, &q, ties);
        ayq = _mm512_add_ps(ayq, _mm512_mul_ps(yv, q));
        aqq = _mm512_add_ps(aqq, _mm512_mul_ps(q, q));
        __m128i f = eden_qdirect_fields(r.gather2, k);
        if (i + 8 < EDEN_SUM_BLOCK) {
            _mm_storel_epi64((__m128i *)(fa + i / 2), f);
            _mm_storeh_pi((__m64 *)(fb + i / 2), _mm_castsi128_ps(f));
        } else {
            _mm_storeu_si32(fa + i / 2, f);
            _mm_storeu_si32(fb + i / 2, _mm_unpackhi_epi64(f, f));
        }
    }
    bool finite = eden_qdirect_finite(ayq) && eden_qdirect_finite(aqq);
    eden_qfast16_split(pa, pb, finite ? ayq : ayq0);
    eden_qfast16_split(pa + 8, pb + 8, finite ? aqq : aqq0);
    if (!finite) {
        eden_qfast16_kernel(qf, NULL, packed, 4, part, ya, offa, EDEN_SUM_BLOCK, ties);
        eden_qfast16_kernel(qf, NULL, packed, 4, part, yb, offb, EDEN_SUM_BLOCK, ties);
    }
}

__attribute__((target(EDEN_QDIRECT_ISA))) static void
eden_qfast_direct2_avx512(const struct eden_qfast *qf, uint8_t *packed, float *part,
                          const float *ya, size_t offa, const float *yb, size_t offb, bool ties)
{
    if (ties)
        eden_qfast16_direct2(qf, packed, part, ya, offa, yb, offb, true);
    else
        eden_qfast16_direct2(qf, packed, part, ya, offa, yb, offb, false);
}

/*
 * eden_qfast16_kernel() at b = 1 and 2 on two whole blocks at once, as
 * eden_qfast16_direct2(): the same masks, cells, centroids and sums; the fields of a
 * block's 8 coordinates from the low 8 bits of the masks, the other block's from the high.
 */
__attribute__((target("avx512f,bmi2"), always_inline)) static inline void
eden_qfast16_search2(const struct eden_qfast *qf, uint8_t *packed, unsigned bits, float *part,
                     const float *ya, size_t offa, const float *yb, size_t offb, bool ties)
{
    const __m512 t1 = _mm512_set1_ps(qf->bs.lvl[0][0]);
    const __m512 t2lo = _mm512_set1_ps(qf->bs.lvl[1][0]), t2hi = _mm512_set1_ps(qf->bs.lvl[1][1]);
    const __m512 qt = _mm512_loadu_ps(qf->q_tab);
    const __m512 q0 = _mm512_set1_ps(qf->q_tab[0]), q1 = _mm512_set1_ps(qf->q_tab[1]);
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
    float *pa = part + 16 * (offa / EDEN_SUM_BLOCK), *pb = part + 16 * (offb / EDEN_SUM_BLOCK);
    __m512 ayq = eden_qfast16_join(pa, pb), aqq = eden_qfast16_join(pa + 8, pb + 8);
    uint8_t *fa = packed + offa / 8 * bits, *fb = packed + offb / 8 * bits;
    for (size_t i = 0; i < EDEN_SUM_BLOCK; i += 8) {
        __m512 yv = eden_qfast16_join(ya + i, yb + i);
        __mmask16 m1 = EDEN_ABOVE16(yv, t1, ties), m2 = 0;
        __m512 q;
        if (bits == 1) { /* q_tab[m1] */
            q = _mm512_mask_blend_ps(m1, q0, q1);
        } else {
            m2 = EDEN_ABOVE16(yv, _mm512_mask_blend_ps(m1, t2lo, t2hi), ties);
            __m512i k = _mm512_maskz_mov_epi32(m1, two);
            q = _mm512_permutexvar_ps(_mm512_mask_or_epi32(k, m2, k, one), qt);
        }
        ayq = _mm512_add_ps(ayq, _mm512_mul_ps(yv, q));
        aqq = _mm512_add_ps(aqq, _mm512_mul_ps(q, q));
        if (bits == 1) {
            fa[i / 8] = (uint8_t)m1;
            fb[i / 8] = (uint8_t)(m1 >> 8);
        } else {
            uint32_t w = _pdep_u32(m2, 0x55555555u) | _pdep_u32(m1, 0xaaaaaaaau);
            le_store16(fa + i / 4, (uint16_t)w);
            le_store16(fb + i / 4, (uint16_t)(w >> 16));
        }
    }
    eden_qfast16_split(pa, pb, ayq);
    eden_qfast16_split(pa + 8, pb + 8, aqq);
}

__attribute__((target("avx512f,bmi2"))) static void
eden_qfast_search2_avx512(const struct eden_qfast *qf, uint8_t *packed, unsigned bits, float *part,
                          const float *ya, size_t offa, const float *yb, size_t offb, bool ties)
{
    if (bits == 1 && ties)
        eden_qfast16_search2(qf, packed, 1, part, ya, offa, yb, offb, true);
    else if (bits == 1)
        eden_qfast16_search2(qf, packed, 1, part, ya, offa, yb, offb, false);
    else if (ties)
        eden_qfast16_search2(qf, packed, 2, part, ya, offa, yb, offb, true);
    else
        eden_qfast16_search2(qf, packed, 2, part, ya, offa, yb, offb, false);
}

__attribute__((target(EDEN_QDIRECT_ISA))) static void
eden_qfast_direct_avx512(const struct eden_qfast *qf, uint16_t *idx, uint8_t *packed, float *part,
                         const float *y, size_t off, size_t n, bool ties)
{
    if (ties)
        eden_qfast16_direct(qf, idx, packed, part, y, off, n, true);
    else
        eden_qfast16_direct(qf, idx, packed, part, y, off, n, false);
}

/* eden_qfast_direct_avx512() applies (to runs of whole 16s): qf has a grid (b = 4), and the
 * CPU AVX-512 F, BW, DQ and VBMI, not EDEN_NO_AVX512. */
static bool
eden_qdirect_ok(const struct eden *e, const struct eden_qfast *qf)
{
    return e->avx512 && qf->dir.ok && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vbmi");
}

/*
 * One run of the vector quantiser (eden_quantize_kernel()) on this CPU; qf, when not NULL,
 * holds eden_qfast_init() of thr and bk (else it is made here).
 */
static void
eden_quantize_run(struct eden *e, uint8_t *packed, const float *y, size_t off, size_t n,
                  const float *thr, const struct eden_book *bk, uint16_t *idx,
                  const struct eden_qfast *qf)
{
    uint8_t *fused = eden_fused_pack(bk) ? packed : NULL;
    unsigned nb = bk->levels - 1;
    if (eden_qfast_ok(e, bk)) {
        struct eden_qfast own;
        if (qf == NULL) {
            eden_qfast_init(&own, thr, bk, e->ties_up);
            qf = &own;
        }
        if (off % 16 == 0 && n % 16 == 0 && eden_qdirect_ok(e, qf))
            eden_qfast_direct_avx512(qf, idx, fused, e->part, y, off, n, e->ties_up);
        else if (e->avx512 && off % 16 == 0 && n % 16 == 0)
            eden_qfast_avx512(qf, idx, fused, bk->bits, e->part, y, off, n, e->ties_up);
        else
            eden_qfast_avx2(qf, idx, fused, bk->bits, e->part, y, off, n, e->ties_up);
        return;
    }
    if (!e->portable && __builtin_cpu_supports("avx2"))
        eden_quantize_avx2(idx, fused, bk->bits, e->part, y, off, n, thr, bk->cent, nb, e->ties_up);
    else
        eden_quantize_portable(idx, fused, bk->bits, e->part, y, off, n, thr, bk->cent, nb,
                               e->ties_up);
}

/*
 * Cell indices and dot products of y[0..n) for one codebook (any b). When packed is not
 * NULL the indices are also packed into it (bitpack layout) and idx may be left unwritten.
 */
static void
eden_quantize(struct eden *e, uint16_t *idx, uint8_t *packed, double *yq, double *qq,
              const float *y, size_t n, const float *thr, const struct eden_book *bk)
{
    if (eden_vector_ok(bk, n)) {
        memset(e->part, 0, eden_part_floats(n) * sizeof *e->part);
        eden_quantize_run(e, packed, y, 0, n, thr, bk, idx, NULL);
        eden_part_sum(yq, qq, e->part, n);
        if (!eden_fused_pack(bk) && packed != NULL)
            packing_pack(packed, idx, n, bk->bits);
        return;
    }
    eden_bucketize(idx, y, n, thr, bk->levels - 1, e->ties_up);
    eden_dots(yq, qq, y, idx, n, bk->cent);
    if (packed != NULL)
        packing_pack(packed, idx, n, bk->bits);
}

static double
eden_scale(const struct eden *e, double nx2, double ny2_sel, double yq, double qq)
{
    if (e->fixed_scale)
        return sqrt(nx2 / (double)e->D);
    if (yq <= 0.0 || qq <= 0.0)
        return 0.0;
    switch (e->scale) {
    case CODEC_SCALE_UNBIASED:
        return ny2_sel / yq;
    case CODEC_SCALE_BIASED:
        return yq / qq;
    case CODEC_SCALE_MATCHED_NORM:
        return sqrt(ny2_sel / qq);
    }
    return 0.0;
}

static void
eden_thresholds(float *thr, const struct eden_book *bk, double unit)
{
    for (unsigned k = 0; k + 1 < bk->levels; k++)
        thr[k] = (float)(bk->bound[k] * unit);
}

/*
 * FRAC/SPARSE sums in coordinate order, in double: ⟨y,q⟩, ‖q‖² and ‖y‖² of the selected
 * coordinates (SPARSE; FRAC uses ‖x‖²).
 */
static void
eden_grouped_sums(const struct eden *e, double *yq, double *qq, double *ny2_sel,
                  const uint16_t *const src[2], const float *const cents[2])
{
    bool frac = e->mode == EDEN_MODE_FRAC;
    const float *y = e->y;
    double a = 0, b = 0, c2 = 0;
    /*
     * Per block: each coordinate's centroid (and, for SPARSE, y or 0) first, chosen by bit
     * masks rather than branches (the mask is random); then the sums in order. A skipped
     * coordinate of SPARSE adds ±0, which leaves every sum as it was.
     */
    float cb[EDEN_SUM_BLOCK], yb[EDEN_SUM_BLOCK];
    for (size_t i0 = 0; i0 < e->D; i0 += EDEN_SUM_BLOCK) {
        size_t n = e->D - i0 < EDEN_SUM_BLOCK ? e->D - i0 : EDEN_SUM_BLOCK;
        for (size_t k = 0; k < n; k++) {
            size_t i = i0 + k;
            uint32_t sel = (uint32_t)codec_mask_bit(e->mask, i), m = 0u - sel;
            uint32_t lo, hi, yv;
            memcpy(&lo, &cents[0][src[0][i]], sizeof lo);
            memcpy(&hi, &cents[1][src[1][i]], sizeof hi);
            memcpy(&yv, &y[i], sizeof yv);
            uint32_t c = frac ? (hi & m) | (lo & ~m) : lo & m;
            yv = frac ? yv : yv & m;
            memcpy(&cb[k], &c, sizeof c);
            memcpy(&yb[k], &yv, sizeof yv);
        }
        for (size_t k = 0; k < n; k++) {
            float yi = yb[k], c = cb[k];
            a += (double)(yi * c);
            b += (double)(c * c);
            c2 += (double)yi * yi;
        }
    }
    *yq = a;
    *qq = b;
    *ny2_sel = c2;
}

/* ORs the fields word of one mask byte (from bit pos on) into the zeroed payload. */
static inline void
eden_grouped_put(uint8_t *payload, size_t pbytes, size_t pos, uint64_t word)
{
    word <<= pos % 8;
    uint8_t *p = payload + pos / 8;
    if (pos / 8 + 8 <= pbytes) {
        le_store64(p, le_load64(p) | word);
    } else {
        for (size_t t = 0; t < pbytes - pos / 8; t++)
            p[t] |= (uint8_t)(word >> (8 * t));
    }
}

/* The fields of FRAC/SPARSE, eight coordinates (one mask byte) a word. */
static void
eden_grouped_pack(const struct eden *e, uint8_t *payload, size_t pbytes,
                  const uint16_t *const src[2])
{
    bool frac = e->mode == EDEN_MODE_FRAC;
    memset(payload, 0, pbytes);
    size_t pos = 0;
    for (size_t j = 0; j < e->D / 8; j++) {
        unsigned mb = e->mask[j];
        uint64_t word = 0;
        for (unsigned k = 0; k < 8; k++) {
            unsigned sel = mb >> k & 1;
            uint64_t f = src[frac ? sel : 0][8 * j + k];
            word |= (f & (0 - (uint64_t)(frac | sel))) << e->group_off[mb][k];
        }
        eden_grouped_put(payload, pbytes, pos, word);
        pos += e->group_bits[mb];
    }
    assert((pos + 7) / 8 == pbytes);
}

/*
 * eden_grouped_pack() and the sums of eden_grouped_sums() in one AVX2 pass, 8 coordinates a
 * step: the same fields, but each sum kept in 8 double lanes (no chain of dependent additions
 * per coordinate), into sums[0..3) (⟨y,q⟩, ‖q‖², ‖y‖² selected). The cells come from src,
 * or with bs (books of b <= 4) from a binary search here, the same cells as eden_quantize()'s
 * (see eden_qfast_kernel()). Returns false when a term is negative or -0
 * (eden_grouped_sums_certain() assumes none is).
 */
__attribute__((target("avx2"))) static bool
eden_grouped_avx2(const struct eden *e, uint8_t *payload, size_t pbytes, double *sums,
                  const struct eden_bsearch *bs, const uint16_t *const src[2],
                  const float *const cents[2])
{
    bool frac = e->mode == EDEN_MODE_FRAC;
    unsigned lv0 = e->lo.levels, lv1 = frac ? e->hi.levels : e->lo.levels;
    const __m256 tab0[2] = { _mm256_loadu_ps(cents[0]), _mm256_loadu_ps(cents[0] + 8) };
    const __m256 tab1[2] = { _mm256_loadu_ps(cents[1]), _mm256_loadu_ps(cents[1] + 8) };
    __m256 lvl0[4], lvl1[4];
    for (unsigned j = 0; bs != NULL && j < 4; j++) {
        lvl0[j] = _mm256_loadu_ps(bs[0].lvl[j]);
        lvl1[j] = _mm256_loadu_ps(bs[1].lvl[j]);
    }
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0;
    __m256 sign = _mm256_setzero_ps();
    memset(payload, 0, pbytes);
    size_t pos = 0;
    for (size_t j = 0; j < e->D; j += 8) {
        unsigned mb = e->mask[j / 8];
        __m256i sel = _mm256_set1_epi32((int)mb);
        sel = _mm256_cmpeq_epi32(_mm256_and_si256(sel, bit), bit);
        __m256 yv = _mm256_loadu_ps(e->y + j);
        __m256i k0, k1;
        if (bs != NULL) {
            k0 = eden_bsearch_cells(bs[0].bits, lvl0, yv, e->ties_up);
            k1 = frac ? eden_bsearch_cells(bs[1].bits, lvl1, yv, e->ties_up) : k0;
        } else {
            k0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src[0] + j)));
            k1 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src[1] + j)));
        }
        __m256 c = eden_lookup8(cents[0], lv0, tab0, k0);
        __m256i f;
        if (frac) {
            c = _mm256_blendv_ps(c, eden_lookup8(cents[1], lv1, tab1, k1),
                                 _mm256_castsi256_ps(sel));
            f = _mm256_blendv_epi8(k0, k1, sel);
        } else {
            c = _mm256_and_ps(c, _mm256_castsi256_ps(sel));
            yv = _mm256_and_ps(yv, _mm256_castsi256_ps(sel));
            f = _mm256_and_si256(k0, sel);
        }
        __m256 t = _mm256_mul_ps(yv, c), qq = _mm256_mul_ps(c, c);
        sign = _mm256_or_ps(sign, t);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
        b0 = _mm256_add_pd(b0, _mm256_cvtps_pd(_mm256_castps256_ps128(qq)));
        b1 = _mm256_add_pd(b1, _mm256_cvtps_pd(_mm256_extractf128_ps(qq, 1)));
        if (!frac) {
            __m256d y0 = _mm256_cvtps_pd(_mm256_castps256_ps128(yv));
            __m256d y1 = _mm256_cvtps_pd(_mm256_extractf128_ps(yv, 1));
            c0 = _mm256_add_pd(c0, _mm256_mul_pd(y0, y0));
            c1 = _mm256_add_pd(c1, _mm256_mul_pd(y1, y1));
        }
        /* Field l shifted to its offset in 64-bit lanes, then ORed together. */
        __m128i offs = _mm_loadl_epi64((const __m128i *)e->group_off[mb]);
        __m256i w =
            _mm256_or_si256(_mm256_sllv_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(f)),
                                              _mm256_cvtepu8_epi64(offs)),
                            _mm256_sllv_epi64(_mm256_cvtepu32_epi64(_mm256_extracti128_si256(f, 1)),
                                              _mm256_cvtepu8_epi64(_mm_srli_si128(offs, 4))));
        __m128i x = _mm_or_si128(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        x = _mm_or_si128(x, _mm_unpackhi_epi64(x, x));
        eden_grouped_put(payload, pbytes, pos, (uint64_t)_mm_cvtsi128_si64(x));
        pos += e->group_bits[mb];
    }
    assert((pos + 7) / 8 == pbytes);
    double la[4], lb[4], lc[4];
    _mm256_storeu_pd(la, _mm256_add_pd(a0, a1));
    _mm256_storeu_pd(lb, _mm256_add_pd(b0, b1));
    _mm256_storeu_pd(lc, _mm256_add_pd(c0, c1));
    sums[0] = (la[0] + la[1]) + (la[2] + la[3]);
    sums[1] = (lb[0] + lb[1]) + (lb[2] + lb[3]);
    sums[2] = (lc[0] + lc[1]) + (lc[2] + lc[3]);
    return _mm256_movemask_ps(sign) == 0;
}

/*
 * Whether eden_unpack_avx512() and eden_grouped_avx512() apply: the 16-lane paths, with
 * both books' values in one pair of registers (FRAC with b + 1 <= 4, or SPARSE).
 */
static bool
eden_frac512_ok(const struct eden *e)
{
    return e->frac512 && e->grouped && e->D % 16 == 0 && e->D < (size_t)1 << 29 &&
           (e->mode == EDEN_MODE_SPARSE || e->hi.bits <= 4);
}

/* The cells of y under bs, 16 lanes (eden_bsearch_cells()); lvl[j] holds bs->lvl[j] twice. */
__attribute__((target("avx512f"), always_inline)) static inline __m512i
eden_bsearch16(unsigned bits, const __m512 *lvl, __m512 y, bool ties, __mmask16 *ms)
{
    __m512i k = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi32(1);
    for (unsigned j = 0; j < bits; j++) {
        __m512 t = j == 0 ? lvl[0] : _mm512_permutexvar_ps(k, lvl[j]);
        __mmask16 m =
            ties ? _mm512_cmp_ps_mask(y, t, _CMP_GE_OQ) : _mm512_cmp_ps_mask(y, t, _CMP_GT_OQ);
        k = _mm512_slli_epi32(k, 1);
        k = _mm512_mask_or_epi32(k, m, k, one);
        ms[j] = m;
    }
    return k;
}

/* Appends the n low bits of word (n + 7 <= 64) to the stream at *out, bit *bp (< 8). */
static inline void
eden_bits_put(uint8_t **out, uint64_t *buf, unsigned *bp, uint64_t word, unsigned n)
{
    *buf |= word << *bp;
    le_store64(*out, *buf);
    *bp += n;
    *out += *bp / 8;
    *buf >>= *bp / 8 * 8;
    *bp %= 8;
}

/* The running state of eden_grouped16_kernel(): the bit stream and the lane sums. */
struct eden_g16 {
    uint8_t *out;
    uint64_t buf;
    unsigned bp;
    __m512d a0, a1, q0, q1, c0, c1; /* ⟨y,q⟩, ‖q‖², ‖y‖² selected: lanes 0-7, 8-15 */
    __m512i sign;
    size_t n_sel, n_out; /* counted: see eden_grouped16_kernel() */
};

/* What eden_grouped16_step() reads of struct eden, in locals (the payload's byte stores
 * would otherwise make the compiler load these pointers again after each). */
struct eden_g16_in {
    const uint8_t *mask, *gbits;
    const float *y;
    const uint64_t *wmask;
};

/* One step of eden_grouped16_kernel(): coordinates i..i+16. */
__attribute__((target("avx512f,avx512bw,avx512vl,bmi2,popcnt"), always_inline)) static inline void
eden_grouped16_step(const struct eden_g16_in *in, struct eden_g16 *g, size_t i, const __m512 *lvl0,
                    const __m512 *lvl1, __m512 tc0, __m512 tc1, unsigned blo, bool frac, bool ties,
                    bool one_word, bool counted)
{
    unsigned mb0 = in->mask[i / 8], mb1 = in->mask[i / 8 + 1];
    __mmask16 sel = (__mmask16)(mb0 | mb1 << 8), ms0[4], ms1[4];
    __m512 yv = _mm512_loadu_ps(in->y + i);
    __m512i k0 = eden_bsearch16(blo, lvl0, yv, ties, ms0), f;
    if (frac)
        f = _mm512_mask_blend_epi32(sel, k0, eden_bsearch16(blo + 1, lvl1, yv, ties, ms1));
    else
        f = _mm512_maskz_mov_epi32(sel, k0);
    if (counted) { /* the selected, and those in an outer cell (0 or 3) of a 2-bit high book */
        unsigned sl = sel;
        g->n_sel += (unsigned)__builtin_popcount(sl);
        if (frac)
            g->n_out += (unsigned)__builtin_popcount(sl & ~((unsigned)ms1[0] ^ (unsigned)ms1[1]));
    }
    __m512 c =
        _mm512_permutex2var_ps(tc0, _mm512_mask_add_epi32(f, sel, f, _mm512_set1_epi32(16)), tc1);
    if (!frac)
        yv = _mm512_maskz_mov_ps(sel, yv);
    __m512 t = _mm512_mul_ps(yv, c);
    g->sign = _mm512_or_si512(g->sign, _mm512_castps_si512(t));
    __m256 th = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1));
    g->a0 = _mm512_add_pd(g->a0, _mm512_cvtps_pd(_mm512_castps512_ps256(t)));
    g->a1 = _mm512_add_pd(g->a1, _mm512_cvtps_pd(th));
    if (!counted) {
        __m512 qq = _mm512_mul_ps(c, c);
        __m256 qh = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(qq), 1));
        g->q0 = _mm512_add_pd(g->q0, _mm512_cvtps_pd(_mm512_castps512_ps256(qq)));
        g->q1 = _mm512_add_pd(g->q1, _mm512_cvtps_pd(qh));
    }
    if (!frac) { /* (double)y·y is exact: the fused multiply-add rounds once, as the add */
        __m512d y0 = _mm512_cvtps_pd(_mm512_castps512_ps256(yv));
        __m512d y1 =
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(yv), 1)));
        g->c0 = _mm512_fmadd_pd(y0, y0, g->c0);
        g->c1 = _mm512_fmadd_pd(y1, y1, g->c1);
    }
    __m128i fb = _mm512_cvtepi32_epi8(f);
    uint64_t w0 = _pext_u64((uint64_t)_mm_cvtsi128_si64(fb), in->wmask[mb0]);
    uint64_t w1 = _pext_u64((uint64_t)_mm_extract_epi64(fb, 1), in->wmask[mb1]);
    unsigned n0 = in->gbits[mb0], n1 = in->gbits[mb1];
    if (one_word) {
        eden_bits_put(&g->out, &g->buf, &g->bp, w0 | w1 << n0, n0 + n1);
    } else {
        eden_bits_put(&g->out, &g->buf, &g->bp, w0, n0);
        eden_bits_put(&g->out, &g->buf, &g->bp, w1, n1);
    }
}

/*
 * eden_grouped_avx2() with books of b <= 4, 16 coordinates (two mask bytes) a step: the
 * same cells and centroids (a binary search on 16 lanes, both books' centroids in one pair
 * of registers indexed by 16·mask bit + cell), the same fields, taken from one byte per
 * field by `pext` with the widths the mask bits give and appended to a bit stream by
 * whole-word stores (no read back of the payload), and the sums in 16 double lanes per
 * step parity. The lane sums differ from eden_grouped_avx2()'s in order only, which
 * eden_grouped_sums_certain() allows for. blo: the low book's bits (SPARSE: 1).
 */
__attribute__((target("avx512f,avx512bw,avx512vl,bmi2,popcnt"), always_inline)) static inline bool
eden_grouped16_kernel(const struct eden *e, uint8_t *payload, size_t pbytes, double *sums,
                      const struct eden_bsearch *bs, const float *const cents[2], unsigned blo,
                      bool frac, bool ties, bool one_word)
{
    /* ‖q‖² from counts when the centroids' squares take two or three values: a 1-bit book's
     * two centroids are opposite, and a 2-bit book's inner and outer pairs too (struct
     * eden_book). */
    bool counted = !frac || blo == 1;
    float tab[32] = { 0 }, lv[2][4][16];
    for (unsigned k = 0; k < e->lo.levels; k++)
        tab[frac ? k : 16 + k] = cents[0][k];
    for (unsigned k = 0; frac && k < e->hi.levels; k++)
        tab[16 + k] = cents[1][k];
    for (unsigned h = 0; h < 2; h++)
        for (unsigned j = 0; j < 4; j++)
            for (unsigned k = 0; k < 16; k++)
                lv[h][j][k] = bs[h].lvl[j][k % 8];
    const __m512 tc0 = _mm512_loadu_ps(tab), tc1 = _mm512_loadu_ps(tab + 16);
    __m512 lvl0[4], lvl1[4];
    for (unsigned j = 0; j < 4; j++) {
        lvl0[j] = _mm512_loadu_ps(lv[0][j]);
        lvl1[j] = _mm512_loadu_ps(lv[1][j]);
    }
    const __m512d z = _mm512_setzero_pd();
    struct eden_g16 g[2] = {
        { .a0 = z, .a1 = z, .q0 = z, .q1 = z, .c0 = z, .c1 = z, .sign = _mm512_setzero_si512() },
        { .a0 = z, .a1 = z, .q0 = z, .q1 = z, .c0 = z, .c1 = z, .sign = _mm512_setzero_si512() },
    };
    const struct eden_g16_in in = {
        .mask = e->mask, .gbits = e->group_bits, .y = e->y, .wmask = e->group_wmask
    };
    uint8_t tail[48];
    size_t j = 0;
    /* Two steps an iteration, into two sets of lane sums; the stream (state in g[0]) goes
     * to the payload while 40 bytes remain past the write position, then through tail. */
    g[0].out = payload;
    for (; j + 32 <= e->D && (size_t)(g[0].out - payload) + 40 <= pbytes; j += 32) {
        eden_grouped16_step(&in, &g[0], j, lvl0, lvl1, tc0, tc1, blo, frac, ties, one_word,
                            counted);
        g[1].out = g[0].out;
        g[1].buf = g[0].buf;
        g[1].bp = g[0].bp;
        eden_grouped16_step(&in, &g[1], j + 16, lvl0, lvl1, tc0, tc1, blo, frac, ties, one_word,
                            counted);
        g[0].out = g[1].out;
        g[0].buf = g[1].buf;
        g[0].bp = g[1].bp;
    }
    size_t done = (size_t)(g[0].out - payload);
    g[0].out = tail;
    for (; j < e->D; j += 16)
        eden_grouped16_step(&in, &g[0], j, lvl0, lvl1, tc0, tc1, blo, frac, ties, one_word,
                            counted);
    if (g[0].bp > 0)
        *g[0].out++ = (uint8_t)g[0].buf;
    assert(done + (size_t)(g[0].out - tail) == pbytes);
    memcpy(payload + done, tail, pbytes - done);
    __m512d a = _mm512_add_pd(_mm512_add_pd(g[0].a0, g[0].a1), _mm512_add_pd(g[1].a0, g[1].a1));
    __m512d q = _mm512_add_pd(_mm512_add_pd(g[0].q0, g[0].q1), _mm512_add_pd(g[1].q0, g[1].q1));
    __m512d c = _mm512_add_pd(_mm512_add_pd(g[0].c0, g[0].c1), _mm512_add_pd(g[1].c0, g[1].c1));
    double l[3][8];
    _mm512_storeu_pd(l[0], a);
    _mm512_storeu_pd(l[1], q);
    _mm512_storeu_pd(l[2], c);
    for (unsigned k = 0; k < 3; k++)
        sums[k] = ((l[k][0] + l[k][1]) + (l[k][2] + l[k][3])) +
                  ((l[k][4] + l[k][5]) + (l[k][6] + l[k][7]));
    if (counted) {
        /* n·(c·c) is exact (n < 2^29, a float square has 24 significant bits); two or three
         * such terms summed are within the bound eden_grouped_sums_certain() assumes. */
        size_t n_sel = g[0].n_sel + g[1].n_sel, n_out = g[0].n_out + g[1].n_out;
        float c0 = cents[0][0];
        if (!frac) {
            sums[1] = (double)n_sel * (double)(c0 * c0);
        } else {
            float h0 = cents[1][0], h1 = cents[1][1];
            sums[1] = ((double)(e->D - n_sel) * (double)(c0 * c0) +
                       (double)(n_sel - n_out) * (double)(h1 * h1)) +
                      (double)n_out * (double)(h0 * h0);
        }
    }
    __m512i sign = _mm512_or_si512(g[0].sign, g[1].sign);
    return _mm512_cmplt_epi32_mask(sign, _mm512_setzero_si512()) == 0;
}

#define EDEN_GROUPED16(name, blo, frac, ties, one_word)                                            \
    __attribute__((target("avx512f,avx512bw,avx512vl,bmi2,popcnt"))) static bool name(             \
        const struct eden *e, uint8_t *payload, size_t pbytes, double *sums,                       \
        const struct eden_bsearch *bs, const float *const cents[2])                                \
    {                                                                                              \
        return eden_grouped16_kernel(e, payload, pbytes, sums, bs, cents, blo, frac, ties,         \
                                     one_word);                                                    \
    }
EDEN_GROUPED16(eden_grouped16_f1, 1, true, false, true)
EDEN_GROUPED16(eden_grouped16_f1_up, 1, true, true, true)
EDEN_GROUPED16(eden_grouped16_f2, 2, true, false, true)
EDEN_GROUPED16(eden_grouped16_f2_up, 2, true, true, true)
EDEN_GROUPED16(eden_grouped16_f3, 3, true, false, false)
EDEN_GROUPED16(eden_grouped16_f3_up, 3, true, true, false)
EDEN_GROUPED16(eden_grouped16_sparse, 1, false, false, true)
EDEN_GROUPED16(eden_grouped16_sparse_up, 1, false, true, true)
#undef EDEN_GROUPED16

typedef bool eden_grouped16_fn(const struct eden *e, uint8_t *payload, size_t pbytes, double *sums,
                               const struct eden_bsearch *bs, const float *const cents[2]);

/* The 16-lane pass for e (eden_frac512_ok()): by mode, the low book's bits and the tie rule. */
static bool
eden_grouped_avx512(const struct eden *e, uint8_t *payload, size_t pbytes, double *sums,
                    const struct eden_bsearch *bs, const float *const cents[2])
{
    static eden_grouped16_fn *const fns[4][2] = {
        { eden_grouped16_sparse, eden_grouped16_sparse_up },
        { eden_grouped16_f1, eden_grouped16_f1_up },
        { eden_grouped16_f2, eden_grouped16_f2_up },
        { eden_grouped16_f3, eden_grouped16_f3_up },
    };
    unsigned row = e->mode == EDEN_MODE_SPARSE ? 0 : e->lo.bits;
    return fns[row][e->ties_up](e, payload, pbytes, sums, bs, cents);
}

/*
 * Whether sums in another order than eden_grouped_sums()'s give the same float scale. Every
 * term is >= 0 (a coordinate and its centroid have the same sign, the middle boundary being
 * exactly 0; eden_grouped_avx2() checks it), so any order of summation of n terms is within
 * γ_{n−1}·S of the exact sum S (Higham, Accuracy and Stability of Numerical Algorithms, 2nd
 * ed., §4.2, γ_k = k·u/(1 − k·u), u = 2^-53), and the in-order and the lane sums are within
 * a relative 2γ_{n−1} of each other. The scale, a quotient (or the square root of one) of
 * two such sums, then differs from the in-order one by less than a relative R; when
 * s·(1 − R) and s·(1 + R) round to the same float, the in-order scale rounds to it too.
 * A sum is 0 exactly when every term is (a sum of positive doubles never rounds to 0), so
 * the zero cases agree as well.
 */
static bool
eden_grouped_sums_certain(const struct eden *e, double nx2, const double *sums)
{
    double a = sums[0], b = sums[1];
    double ny2 = e->mode == EDEN_MODE_FRAC ? nx2 : sums[2];
    if (!isfinite(a) || !isfinite(b) || !isfinite(ny2))
        return false;
    double s = eden_scale(e, nx2, ny2, a, b);
    if (s == 0.0)
        return a == 0.0 || b == 0.0; /* else an underflow: not analysed */
    /* 2γ_{n−1} per sum (n = D), two sums, the quotient and the square root: 8·D·u covers
     * them with room, 2^-50 the products below. */
    double R = 8.0 * (double)e->D * 0x1p-53 + 0x1p-50;
    return R < 0x1p-26 && (float)(s * (1.0 - R)) == (float)(s * (1.0 + R));
}

/*
 * The cells of y[0..n) (n a multiple of 16) against the 2^b − 1 boundaries thr of a b-bit
 * book, 5 <= b <= 8: the branch-free binary search of struct eden_bsearch on 16 lanes, the
 * candidates of a level from one register (up to 16), two (32) or a gather. The boundaries
 * are non-decreasing, so the count found is eden_bucketize()'s.
 */
__attribute__((target("avx512f,avx512bw"))) static void
eden_cells_avx512(uint16_t *idx, const float *y, size_t n, const float *thr, unsigned bits,
                  bool ties)
{
    float lvl[8][128] = { { 0 } }; /* lvl[j − 1][k]: level j's candidate after cells k */
    for (unsigned j = 1; j <= bits; j++)
        for (unsigned k = 0; k < 1u << (j - 1); k++)
            lvl[j - 1][k] = thr[(2 * k + 1) * (1u << (bits - j)) - 1];
    __m512 l16[5], l32[2];
    for (unsigned j = 1; j <= 5; j++) /* (levels below 5 repeat their entries) */
        l16[j - 1] =
            _mm512_permutexvar_ps(_mm512_and_si512(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                     10, 11, 12, 13, 14, 15),
                                                   _mm512_set1_epi32((int)(1u << (j - 1)) - 1)),
                                  _mm512_loadu_ps(lvl[j - 1]));
    l32[0] = _mm512_loadu_ps(lvl[5]);
    l32[1] = _mm512_loadu_ps(lvl[5] + 16);
    const __m512i one = _mm512_set1_epi32(1);
    for (size_t i = 0; i < n; i += 16) {
        __m512 yv = _mm512_loadu_ps(y + i);
        __m512i k = _mm512_setzero_si512();
        for (unsigned j = 1; j <= bits; j++) {
            __m512 t = j <= 5   ? _mm512_permutexvar_ps(k, l16[j - 1])
                       : j == 6 ? _mm512_permutex2var_ps(l32[0], k, l32[1])
                                : _mm512_i32gather_ps(k, lvl[j - 1], 4);
            __mmask16 m = ties ? _mm512_cmp_ps_mask(yv, t, _CMP_GE_OQ)
                               : _mm512_cmp_ps_mask(yv, t, _CMP_GT_OQ);
            k = _mm512_mask_or_epi32(_mm512_slli_epi32(k, 1), m, _mm512_slli_epi32(k, 1), one);
        }
        _mm256_storeu_si256((__m256i *)(idx + i), _mm512_cvtepi32_epi16(k));
    }
}

/* The cell indices of y under the low book (and, FRAC, the high one) into e->idx (idx_hi). */
static void
eden_cells(struct eden *e, const float *const thrs[2])
{
    double unused_yq, unused_qq;
    const struct eden_book *bks[2] = { &e->lo, &e->hi };
    uint16_t *idxs[2] = { e->idx, e->idx_hi };
    for (unsigned h = 0; h < (e->mode == EDEN_MODE_FRAC ? 2u : 1u); h++) {
        if (e->frac512 && bks[h]->bits >= 5 && e->D % 16 == 0)
            eden_cells_avx512(idxs[h], e->y, e->D, thrs[h], bks[h]->bits, e->ties_up);
        else
            eden_quantize(e, idxs[h], NULL, &unused_yq, &unused_qq, e->y, e->D, thrs[h], bks[h]);
    }
}

/*
 * FRAC/SPARSE encoding when grouped: the cells under thrs[0] (and thrs[1]), the dot products
 * (in lanes when that gives the same scale, else in coordinate order), and the fields of
 * eight coordinates (one mask byte) assembled in one word and ORed into the zeroed payload
 * at their bit position. With AVX2 and books of b <= 4, the cells are found in the same
 * pass (no index arrays), unless the in-order sums are needed; with AVX-512 and a high book
 * of b <= 4 (eden_frac512_ok()), 16 coordinates a step (eden_grouped_avx512()).
 */
static void
eden_encode_grouped(struct eden *e, uint8_t *payload, size_t pbytes, double *yq, double *qq,
                    double *ny2_sel, double nx2, const float *const thrs[2],
                    const uint16_t *const src[2], const float *const cents[2])
{
    bool frac = e->mode == EDEN_MODE_FRAC;
    if (!e->portable && __builtin_cpu_supports("avx2")) {
        struct eden_bsearch bs[2];
        bool fuse = e->lo.bits <= 4 && (!frac || e->hi.bits <= 4);
        if (fuse) {
            eden_bsearch_init(&bs[0], thrs[0], e->lo.bits);
            eden_bsearch_init(&bs[1], thrs[1], frac ? e->hi.bits : e->lo.bits);
        } else {
            eden_cells(e, thrs);
        }
        double sums[3];
        bool nonneg =
            fuse && eden_frac512_ok(e)
                ? eden_grouped_avx512(e, payload, pbytes, sums, bs, cents)
                : eden_grouped_avx2(e, payload, pbytes, sums, fuse ? bs : NULL, src, cents);
        if (e->fixed_scale || (nonneg && eden_grouped_sums_certain(e, nx2, sums))) {
            *yq = sums[0]; /* (the fixed scale uses none of them) */
            *qq = sums[1];
            *ny2_sel = sums[2];
            return;
        }
        if (fuse)
            eden_cells(e, thrs);
        eden_grouped_sums(e, yq, qq, ny2_sel, src, cents);
        return;
    }
    eden_cells(e, thrs);
    eden_grouped_sums(e, yq, qq, ny2_sel, src, cents);
    eden_grouped_pack(e, payload, pbytes, src);
}

void
eden_boundaries(const struct eden *e, float *thr, double unit)
{
    eden_thresholds(thr, &e->lo, unit);
}

void
eden_quantize_probe(struct eden *e, uint8_t *packed, double *sums, const float *y, size_t n,
                    double unit)
{
    assert(e->mode == EDEN_MODE_INT && n <= e->D && n % 8 == 0);
    float thr[EDEN_MAX_LEVELS - 1];
    eden_thresholds(thr, &e->lo, unit);
    eden_quantize(e, e->idx, packed, &sums[0], &sums[1], y, n, thr, &e->lo);
}

/* Integer b <= 4: the quantiser fed by the rotation's last pass (struct rht_sink). */
struct eden_sink {
    struct eden *e;
    uint8_t *payload;
    bool ok; /* the norm is finite */
    float thr[EDEN_MAX_LEVELS - 1];
    struct eden_qfast qf; /* of thr, when eden_qfast_ok() */
    /* whole blocks go to eden_qfast_direct2_avx512() (b = 4) or eden_qfast_search2_avx512()
     * two at a time: the one waiting */
    bool pair;
    const float *wait_y;
    size_t wait_off;
};

static void
eden_sink_begin(void *ctx, double nx2)
{
    struct eden_sink *es = ctx;
    struct eden *e = es->e;
    es->ok = isfinite(nx2);
    if (!es->ok)
        return;
    eden_thresholds(es->thr, &e->lo, sqrt(nx2 / (double)e->D)); /* y_i = unit · z_i */
    es->pair = false;
    es->wait_y = NULL;
    if (eden_qfast_ok(e, &e->lo)) {
        eden_qfast_init(&es->qf, es->thr, &e->lo, e->ties_up);
        es->pair = e->lo.bits == 4 ? eden_qdirect_ok(e, &es->qf) : e->avx512;
    }
    memset(e->part, 0, eden_part_floats(e->D) * sizeof *e->part);
}

/*
 * A run of the last pass. When es->pair, a run that is a whole block (as every run is at
 * large D) waits for the next such run; the rotation leaves it in y, unchanged, until it
 * returns, and eden_sink_end() takes the last one if it has no partner.
 */
static void
eden_sink_put(void *ctx, const float *y, size_t off, size_t n)
{
    struct eden_sink *es = ctx;
    struct eden *e = es->e;
    if (!es->ok)
        return;
    if (es->pair && n == EDEN_SUM_BLOCK && off % EDEN_SUM_BLOCK == 0) {
        if (es->wait_y == NULL) {
            es->wait_y = y;
            es->wait_off = off;
        } else {
            if (e->lo.bits == 4)
                eden_qfast_direct2_avx512(&es->qf, es->payload, e->part, es->wait_y, es->wait_off,
                                          y, off, e->ties_up);
            else
                eden_qfast_search2_avx512(&es->qf, es->payload, e->lo.bits, e->part, es->wait_y,
                                          es->wait_off, y, off, e->ties_up);
            es->wait_y = NULL;
        }
        return;
    }
    eden_quantize_run(e, es->payload, y, off, n, es->thr, &e->lo, e->idx, &es->qf);
}

/* After the rotation: the block still waiting, if any. */
static void
eden_sink_end(struct eden_sink *es)
{
    if (es->ok && es->wait_y != NULL)
        eden_quantize_run(es->e, es->payload, es->wait_y, es->wait_off, EDEN_SUM_BLOCK, es->thr,
                          &es->e->lo, es->e->idx, &es->qf);
    es->wait_y = NULL;
}

/*
 * eden_encode() for integer b <= 4 when the message fits: each slab of the rotation's last
 * pass is quantised while in cache, one pass over memory fewer. The same operations per
 * coordinate and the same sums in the same order as the separate passes.
 */
static int
eden_encode_int(struct eden *e, uint8_t *out, size_t bytes, size_t *len, const float *x,
                struct errbuf *eb)
{
    struct eden_sink es = { .e = e, .payload = out + EDEN_SCALE_BYTES };
    struct rht_sink sink = { eden_sink_begin, eden_sink_put, &es };
    double nx2 = rht_forward_sink(e->y, x, e->d, e->D, e->signs, &sink, 0);
    if (!isfinite(nx2))
        return errbuf_set(eb, -ERR_RANGE, "eden: input vector is not finite");
    eden_sink_end(&es);
    double yq, qq;
    eden_part_sum(&yq, &qq, e->part, e->D);
    if (!eden_fused_pack(&e->lo))
        packing_pack(es.payload, e->idx, e->D, e->lo.bits);
    codec_put_f32(out, (float)eden_scale(e, nx2, nx2, yq, qq));
    *len = bytes;
    return 0;
}

int
eden_encode(struct eden *e, uint8_t *out, size_t cap, size_t *len, const float *x,
            const struct codec_link *link, struct errbuf *eb)
{
    size_t d = e->d, D = e->D;
    size_t i;
    size_t n_hi = eden_draw_shared(e, link);
    size_t bytes = EDEN_SCALE_BYTES + (eden_payload_bits(e, n_hi) + 7) / 8;
    if (e->mode == EDEN_MODE_INT && eden_vector_ok(&e->lo, D) && cap >= bytes)
        return eden_encode_int(e, out, bytes, len, x, eb);
    double nx2 = rht_forward_from(e->y, x, d, D, e->signs);
    if (!isfinite(nx2))
        return errbuf_set(eb, -ERR_RANGE, "eden: input vector is not finite");
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "eden: buffer of %zu bytes, %zu needed", cap, bytes);
    float *y = e->y;

    double unit = sqrt(nx2 / (double)D); /* y_i = unit · z_i */
    float thr[EDEN_MAX_LEVELS - 1], thr_hi[EDEN_MAX_LEVELS - 1];
    eden_thresholds(thr, &e->lo, unit);
    double yq = 0, qq = 0, ny2_sel = nx2;
    uint8_t *payload = out + EDEN_SCALE_BYTES;
    if (e->mode == EDEN_MODE_INT) {
        eden_quantize(e, e->idx, payload, &yq, &qq, y, D, thr, &e->lo);
    } else {
        /*
         * Cell indices under the low book (and, for fractional b, the high book) for every
         * coordinate, vectorised; then one pass picks each coordinate's book by the mask,
         * accumulates the dot products and appends its field (bitpack layout).
         */
        bool frac = e->mode == EDEN_MODE_FRAC;
        if (frac)
            eden_thresholds(thr_hi, &e->hi, unit);
        const float *thrs[2] = { thr, frac ? thr_hi : thr };
        if (!e->grouped)
            eden_cells(e, thrs);
        uint64_t acc = 0;
        unsigned have = 0;
        size_t o = 0;
        ny2_sel = 0;
        const uint16_t *src[2] = { e->idx, frac ? e->idx_hi : e->idx };
        const float *cents[2] = { e->lo.cent, frac ? e->hi.cent : e->lo.cent };
        if (e->grouped) {
            eden_encode_grouped(e, payload, bytes - EDEN_SCALE_BYTES, &yq, &qq, &ny2_sel, nx2, thrs,
                                src, cents);
            o = bytes - EDEN_SCALE_BYTES;
        }
        for (i = e->grouped ? D : 0; i < D; i++) {
            unsigned sel = (unsigned)codec_mask_bit(e->mask, i);
            if (!frac && !sel)
                continue;
            unsigned high = frac ? sel : 0; /* indexes, not branches: the mask is random */
            unsigned k = src[high][i];
            float c = cents[high][k];
            yq += (double)(y[i] * c);
            qq += (double)(c * c);
            ny2_sel += (double)y[i] * y[i];
            acc |= (uint64_t)k << have;
            have += e->lo.bits + high;
            if (have >= 32) { /* four whole bytes at once */
                le_store32(payload + o, (uint32_t)acc);
                o += 4;
                acc >>= 32;
                have -= 32;
            }
        }
        for (; have > 0; have = have > 8 ? have - 8 : 0) {
            payload[o++] = (uint8_t)acc;
            acc >>= 8;
        }
        assert(o == bytes - EDEN_SCALE_BYTES);
        if (frac)
            ny2_sel = nx2;
    }
    double s = eden_scale(e, nx2, ny2_sel, yq, qq);
    codec_put_f32(out, (float)s);
    *len = bytes;
    return 0;
}

/* An INT payload being unpacked into the inverse rotation (rht_load_fn). */
struct eden_load {
    const uint8_t *payload;
    unsigned bits;
    const float *lut;
    struct packing_table table; /* b = 1, 2, 4 */
};

/* Fields off..off+n start on a byte: off is a multiple of 8 (see rht_load_fn). */
static void
eden_load_lut(void *ctx, float *dst, size_t off, size_t n)
{
    const struct eden_load *ld = ctx;
    packing_unpack_lut(dst, ld->payload + off / 8 * ld->bits, n, ld->bits, ld->lut);
}

static void
eden_load_table(void *ctx, float *dst, size_t off, size_t n)
{
    const struct eden_load *ld = ctx;
    packing_unpack_table(dst, ld->payload + off / 8 * ld->bits, n, &ld->table);
}

/*
 * eden_load_table() on 16 lanes (AVX-512F, b = 1, 2, 4; n a multiple of 16): the 16 fields
 * of 2·b bytes, each in its own lane, index the lut held in one register (b = 1: the
 * fields are the blend mask). The same floats, lut[field].
 */
__attribute__((target("avx512f"), always_inline)) static inline void
eden_unpack16_kernel(float *dst, const uint8_t *in, size_t n, unsigned bits, const float *lut)
{
    const __m512 tab = _mm512_maskz_loadu_ps((__mmask16)((1u << (1u << bits)) - 1), lut);
    const __m512 lo = _mm512_set1_ps(lut[0]), hi = _mm512_set1_ps(lut[1]);
    const __m512i sh2 =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    for (size_t i = 0; i < n; i += 16) {
        __m512 v;
        if (bits == 1) {
            v = _mm512_mask_blend_ps((__mmask16)le_load16(in + i / 8), lo, hi);
        } else if (bits == 2) {
            __m512i w = _mm512_set1_epi32((int)le_load32(in + i / 4));
            __m512i f = _mm512_and_si512(_mm512_srlv_epi32(w, sh2), _mm512_set1_epi32(3));
            v = _mm512_permutexvar_ps(f, tab);
        } else { /* bytes split into nibbles, low first: field 2j, then 2j + 1 */
            __m128i x = _mm_loadl_epi64((const __m128i *)(in + i / 2));
            __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(x, low4),
                                            _mm_and_si128(_mm_srli_epi16(x, 4), low4));
            v = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(nib), tab);
        }
        _mm512_storeu_ps(dst + i, v);
    }
}

__attribute__((target("avx512f"))) static void
eden_load_avx512(void *ctx, float *dst, size_t off, size_t n)
{
    const struct eden_load *ld = ctx;
    const uint8_t *in = ld->payload + off / 8 * ld->bits;
    if (n % 16 != 0)
        packing_unpack_table(dst, in, n, &ld->table);
    else if (ld->bits == 1)
        eden_unpack16_kernel(dst, in, n, 1, ld->lut);
    else if (ld->bits == 2)
        eden_unpack16_kernel(dst, in, n, 2, ld->lut);
    else
        eden_unpack16_kernel(dst, in, n, 4, ld->lut);
}

/*
 * A FRAC/SPARSE payload (grouped) being unpacked: each field's value from luts[book][field]
 * (a skipped SPARSE coordinate is 0), eight coordinates (one mask byte) a step.
 */
struct eden_unpack {
    const struct eden *e;
    const uint8_t *payload;
    size_t pbytes;
    const float *luts[2];
    size_t next_off, next_pos; /* where the previous call ended: coordinate, payload bit */
    float t32[32];             /* eden_unpack_avx512()'s table (eden_frac512_ok()) */
};

/* u->t32: the low book's values, then the high book's (FRAC) or zeros, then the values
 * (SPARSE). */
static void
eden_unpack_t32(struct eden_unpack *u)
{
    const struct eden *e = u->e;
    bool frac = e->mode == EDEN_MODE_FRAC;
    memset(u->t32, 0, sizeof u->t32);
    for (unsigned k = 0; k < e->lo.levels; k++)
        u->t32[frac ? k : 16 + k] = u->luts[0][k];
    for (unsigned k = 0; frac && k < e->hi.levels; k++)
        u->t32[16 + k] = u->luts[1][k];
}

/* Bits pos.. of the payload as a word (zeros past its end). */
static uint64_t
eden_unpack_word(const struct eden_unpack *u, size_t pos)
{
    size_t b = pos / 8;
    if (b + 8 <= u->pbytes)
        return le_load64(u->payload + b) >> (pos % 8);
    uint8_t tail[8] = { 0 };
    memcpy(tail, u->payload + b, u->pbytes - b);
    return le_load64(tail) >> (pos % 8);
}

/* The values of eight coordinates from their fields in grp (mask byte mb). */
static void
eden_unpack8(const struct eden_unpack *u, float *dst, unsigned mb, uint64_t grp)
{
    const struct eden *e = u->e;
    bool frac = e->mode == EDEN_MODE_FRAC;
    for (unsigned k = 0; k < 8; k++) {
        unsigned sel = mb >> k & 1;
        unsigned w = eden_field_bits(e, sel);
        uint64_t f = grp >> e->group_off[mb][k] & ((1u << w) - 1);
        float val = u->luts[frac ? sel : 0][f];
        dst[k] = w ? val : 0.0f;
    }
}

/* eden_unpack8() for n/8 mask bytes from mask byte j0 and payload bit pos on, AVX2. */
__attribute__((target("avx2"))) static size_t
eden_unpack_avx2(const struct eden_unpack *u, float *dst, size_t j0, size_t n, size_t pos)
{
    const struct eden *e = u->e;
    bool frac = e->mode == EDEN_MODE_FRAC;
    unsigned lv0 = e->lo.levels, lv1 = frac ? e->hi.levels : e->lo.levels;
    const __m256 tab0[2] = { _mm256_loadu_ps(u->luts[0]), _mm256_loadu_ps(u->luts[0] + 8) };
    const __m256 tab1[2] = { _mm256_loadu_ps(u->luts[1]), _mm256_loadu_ps(u->luts[1] + 8) };
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i lo_mask = _mm256_set1_epi32((int)((1u << e->lo.bits) - 1));
    const __m256i hi_mask = _mm256_set1_epi32((int)((1u << (frac ? e->hi.bits : 0)) - 1));
    for (size_t i = 0; i < n; i += 8) {
        unsigned mb = e->mask[j0 + i / 8];
        __m256i sel = _mm256_set1_epi32((int)mb);
        sel = _mm256_cmpeq_epi32(_mm256_and_si256(sel, bit), bit);
        __m256i grp = _mm256_set1_epi64x((long long)eden_unpack_word(u, pos));
        __m128i offs = _mm_loadl_epi64((const __m128i *)e->group_off[mb]);
        __m256i s0 = _mm256_srlv_epi64(grp, _mm256_cvtepu8_epi64(offs));
        __m256i s1 = _mm256_srlv_epi64(grp, _mm256_cvtepu8_epi64(_mm_srli_si128(offs, 4)));
        /* The low 32 bits of each 64-bit lane, lanes in order. */
        const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        __m256i f = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(s0, even),
                                       _mm256_permutevar8x32_epi32(s1, even), 0xf0);
        __m256 v;
        if (frac) {
            __m256i f0 = _mm256_and_si256(f, lo_mask), f1 = _mm256_and_si256(f, hi_mask);
            v = _mm256_blendv_ps(eden_lookup8(u->luts[0], lv0, tab0, f0),
                                 eden_lookup8(u->luts[1], lv1, tab1, f1), _mm256_castsi256_ps(sel));
        } else {
            v = _mm256_and_ps(eden_lookup8(u->luts[0], lv0, tab0, _mm256_and_si256(f, lo_mask)),
                              _mm256_castsi256_ps(sel));
        }
        _mm256_storeu_ps(dst + i, v);
        pos += e->group_bits[mb];
    }
    return pos;
}

/*
 * eden_unpack_avx2() 16 coordinates (two mask bytes) a step, n a multiple of 16: the fields
 * of a mask byte, one word from their first bit, are spread one to a byte by `pdep` with the
 * widths the mask bits give (the inverse of eden_grouped16_step()'s `pext`), 16 added under
 * a set mask bit, and the 16 bytes index the 32-entry table u->t32. The same floats as
 * eden_unpack8().
 */
__attribute__((target("avx512f,avx512bw,avx512vl,bmi2"))) static size_t
eden_unpack_avx512(const struct eden_unpack *u, float *dst, size_t j0, size_t n, size_t pos)
{
    const struct eden *e = u->e;
    const __m512 t0 = _mm512_loadu_ps(u->t32), t1 = _mm512_loadu_ps(u->t32 + 16);
    const uint8_t *mask = e->mask + j0, *payload = u->payload, *gbits = e->group_bits;
    size_t pbytes = u->pbytes;
    for (size_t i = 0; i < n; i += 16) {
        unsigned mb0 = mask[i / 8], mb1 = mask[i / 8 + 1];
        size_t pos1 = pos + gbits[mb0];
        uint64_t w0, w1;
        if (pos1 / 8 + 8 <= pbytes) {
            w0 = le_load64(payload + pos / 8) >> (pos % 8);
            w1 = le_load64(payload + pos1 / 8) >> (pos1 % 8);
        } else {
            w0 = eden_unpack_word(u, pos);
            w1 = eden_unpack_word(u, pos1);
        }
        __m128i b = _mm_cvtsi64_si128(
            (long long)(_pdep_u64(w0, e->group_wmask[mb0]) | e->group_sel16[mb0]));
        b = _mm_insert_epi64(
            b, (long long)(_pdep_u64(w1, e->group_wmask[mb1]) | e->group_sel16[mb1]), 1);
        _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(t0, _mm512_cvtepu8_epi32(b), t1));
        pos = pos1 + gbits[mb1];
    }
    return pos;
}

/* Coordinates off..off+n (multiples of 8) into dst (rht_load_fn). */
static void
eden_unpack_load(void *ctx, float *dst, size_t off, size_t n)
{
    struct eden_unpack *u = ctx;
    const struct eden *e = u->e;
    size_t pos = u->next_pos;
    if (off != u->next_off) /* not where the last call ended: count the bits before off */
        for (size_t j = pos = 0; j < off / 8; j++)
            pos += e->group_bits[e->mask[j]];
    if (n % 16 == 0 && eden_frac512_ok(e)) {
        pos = eden_unpack_avx512(u, dst, off / 8, n, pos);
    } else if (!e->portable && __builtin_cpu_supports("avx2")) {
        pos = eden_unpack_avx2(u, dst, off / 8, n, pos);
    } else {
        for (size_t i = 0; i < n; i += 8) {
            unsigned mb = e->mask[(off + i) / 8];
            eden_unpack8(u, dst + i, mb, eden_unpack_word(u, pos));
            pos += e->group_bits[mb];
        }
    }
    u->next_off = off + n;
    u->next_pos = pos;
}

/*
 * The largest |value| the message's fields decode to before the inverse rotation, from the
 * tables (a float product that overflowed is infinite: refused by codec_bound_check()).
 */
static double
eden_lut_max(const float *lut, unsigned levels)
{
    double top = 0;
    for (unsigned k = 0; k < levels; k++)
        top = fmax(top, fabs((double)lut[k]));
    return top;
}

/*
 * Refuses (codec_bound_check()) a message whose decoded values, weighted, could exceed
 * CODEC_MAX_ABS: |decoded| <= weight·top·(1/(1 − loss))·√D (an inverse rotation of D entries;
 * the accumulator of a shared rotation is checked before its inverse rotation).
 */
static int
eden_bound(const struct eden *e, double weight, double top, struct errbuf *eb)
{
    double growth = e->rotation == CODEC_ROTATION_SHARED ? 1.0 : sqrt((double)e->D);
    if (e->loss > 0.0)
        growth /= 1.0 - e->loss;
    return codec_bound_check(weight, top, growth, "eden scale", 0, eb);
}

/*
 * The fields of a fractional or sub-1-bit message, coordinate by coordinate, into y[0..D)
 * (coders whose widths are not grouped by mask byte). While 8 payload bytes remain past the
 * field's first byte, a field is one unaligned 64-bit load at its bit position (the chain
 * between fields is one add); the rest goes byte by byte. The length check of the caller
 * guarantees the fields fit in the payload.
 */
static void
eden_unpack_fields(const struct eden *e, float *y, const uint8_t *payload, size_t pbytes,
                   const float *const luts[2])
{
    size_t D = e->D, pos = 0, i = 0;
    bool frac = e->mode == EDEN_MODE_FRAC;
    for (; i < D && pos / 8 + 8 <= pbytes; i++) {
        unsigned sel = (unsigned)codec_mask_bit(e->mask, i);
        unsigned high = frac ? sel : 0;
        unsigned w = (frac || sel) ? e->lo.bits + high : 0;
        uint64_t k = le_load64(payload + pos / 8) >> (pos % 8) & ((1u << w) - 1);
        float val = luts[high][k];
        y[i] = w ? val : 0.0f;
        pos += w;
    }
    uint64_t word = 0;
    unsigned have = 0;
    size_t o = (pos + 7) / 8;
    if (pos % 8 != 0) {
        have = 8 - (unsigned)(pos % 8);
        word = (uint64_t)payload[pos / 8] >> (pos % 8);
    }
    for (; i < D; i++) {
        unsigned sel = (unsigned)codec_mask_bit(e->mask, i);
        if (!frac && !sel) {
            y[i] = 0.0f;
            continue;
        }
        unsigned high = frac ? sel : 0; /* indexes, not branches: the mask is random */
        unsigned w = e->lo.bits + high;
        while (have < w) {
            word |= (uint64_t)payload[o++] << have;
            have += 8;
        }
        unsigned k = (unsigned)(word & ((1u << w) - 1));
        word >>= w;
        have -= w;
        y[i] = luts[high][k];
    }
}

/* eden_decode_add(), or with set eden_decode_set() (weight 1). */
static int
eden_decode_run(struct eden *e, float *acc, const uint8_t *msg, size_t len, double weight, bool set,
                const struct codec_link *link, struct errbuf *eb)
{
    size_t D = e->D;
    size_t n_hi = eden_draw_shared(e, link);
    size_t bytes = EDEN_SCALE_BYTES + (eden_payload_bits(e, n_hi) + 7) / 8;
    if (len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "eden: message of %zu bytes, expected %zu", len, bytes);
    float s;
    int rc = codec_get_scale(&s, msg, len, 0, "eden scale", eb);
    if (rc < 0)
        return rc;
    const uint8_t *payload = msg + EDEN_SCALE_BYTES;
    float *y = e->y;
    if (e->mode == EDEN_MODE_INT) {
        float lut[EDEN_MAX_LEVELS];
        for (unsigned k = 0; k < e->lo.levels; k++)
            lut[k] = s * e->lo.cent[k];
        if ((rc = eden_bound(e, weight, eden_lut_max(lut, e->lo.levels), eb)) < 0)
            return rc;
        if (e->loss <= 0.0 && e->rotation != CODEC_ROTATION_SHARED) {
            /* Unpacked block by block inside the inverse rotation (see rht.h). */
            struct eden_load ld = { .payload = payload, .bits = e->lo.bits, .lut = lut };
            unsigned b = e->lo.bits;
            bool table = (b == 1 || b == 2 || b == 4) && D >= 8; /* whole bytes */
            if (table)
                packing_table_init(&ld.table, b, lut);
            rht_load_fn *load = !table      ? eden_load_lut
                                : e->avx512 ? eden_load_avx512
                                            : eden_load_table;
            rht_inverse_add_load(acc, e->d, y, D, e->signs, (float)weight, load, &ld,
                                 set ? RHT_SET : 0);
            return 0;
        }
        packing_unpack_lut(y, payload, D, e->lo.bits, lut);
    } else {
        bool frac = e->mode == EDEN_MODE_FRAC;
        float inv_p = frac ? 1.0f : (float)(1.0 / e->f);
        float lut_lo[EDEN_MAX_LEVELS], lut_hi[EDEN_MAX_LEVELS];
        for (unsigned k = 0; k < e->lo.levels; k++)
            lut_lo[k] = s * e->lo.cent[k] * inv_p;
        for (unsigned k = 0; frac && k < e->hi.levels; k++)
            lut_hi[k] = s * e->hi.cent[k];
        double top = eden_lut_max(lut_lo, e->lo.levels);
        if (frac)
            top = fmax(top, eden_lut_max(lut_hi, e->hi.levels));
        if ((rc = eden_bound(e, weight, top, eb)) < 0)
            return rc;
        /* The length check above guarantees the fields fit in the payload. */
        size_t pbytes = len - EDEN_SCALE_BYTES;
        const float *const luts[2] = { lut_lo, lut_hi };
        if (e->grouped) {
            /* Eight coordinates (one mask byte) a step, all their fields in one load; without
             * loss or a shared rotation, block by block inside the inverse rotation. */
            struct eden_unpack u = { .e = e,
                                     .payload = payload,
                                     .pbytes = pbytes,
                                     .luts = { lut_lo, frac ? lut_hi : lut_lo } };
            if (eden_frac512_ok(e))
                eden_unpack_t32(&u);
            if (e->loss <= 0.0 && e->rotation != CODEC_ROTATION_SHARED) {
                rht_inverse_add_load(acc, e->d, y, D, e->signs, (float)weight, eden_unpack_load, &u,
                                     (e->portable ? RHT_PORTABLE : 0) | (set ? RHT_SET : 0));
                return 0;
            }
            eden_unpack_load(&u, y, 0, D);
        } else {
            eden_unpack_fields(e, y, payload, pbytes, luts);
        }
    }
    codec_loss_apply(y, D, e->loss, link);
    if (set)
        memset(acc, 0, eden_acc_len(e) * sizeof *acc);
    if (e->rotation == CODEC_ROTATION_SHARED) {
        float w = (float)weight;
        for (size_t i = 0; i < D; i++)
            acc[i] += w * y[i];
    } else {
        rht_inverse_add(acc, e->d, y, D, e->signs, (float)weight);
    }
    return 0;
}

int
eden_decode_add(struct eden *e, float *acc, const uint8_t *msg, size_t len, double weight,
                const struct codec_link *link, struct errbuf *eb)
{
    return eden_decode_run(e, acc, msg, len, weight, false, link, eb);
}

int
eden_decode_set(struct eden *e, float *acc, const uint8_t *msg, size_t len,
                const struct codec_link *link, struct errbuf *eb)
{
    return eden_decode_run(e, acc, msg, len, 1.0, true, link, eb);
}

void
eden_decode_finish(struct eden *e, float *out, float *acc, const struct codec_link *link)
{
    if (e->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, e->d, e->D, e->signs, link);
    else if (out != acc)
        memmove(out, acc, e->d * sizeof *out);
}
