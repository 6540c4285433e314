/*
 * rnn_step: the recurrent layers' per-step kernels. See rnn_step.h.
 */
#include "clients/rnn_step.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define RNN_STEP_X86 1
#include <immintrin.h>
#else
#define RNN_STEP_X86 0
#endif

#include "base/banned.h"

/* exp's constants: clamp range, log2(e), 1.5 * 2^23 (adding it rounds to an integer), ln 2
 * in two parts (the first with 9 significant bits), and 1/k! for k = 2..7. */
#define RS_LO     -87.0f
#define RS_HI     88.0f
#define RS_LOG2E  1.44269504088896341f
#define RS_ROUND  12582912.0f
#define RS_LN2_HI 0.693359375f
#define RS_LN2_LO -2.12194440e-4f
#define RS_C2     (1.0f / 2.0f)
#define RS_C3     (1.0f / 6.0f)
#define RS_C4     (1.0f / 24.0f)
#define RS_C5     (1.0f / 120.0f)
#define RS_C6     (1.0f / 720.0f)
#define RS_C7     (1.0f / 5040.0f)

static float
rs_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t
rs_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float
rnn_step_exp(float x)
{
    /* The operand order of the vector max and min below: NaN passes through (and makes the
     * result NaN), infinities are clamped. */
    x = RS_LO > x ? RS_LO : x;
    x = RS_HI < x ? RS_HI : x;
    float t = fmaf(x, RS_LOG2E, RS_ROUND);
    float n = t - RS_ROUND;
    float r = fmaf(n, -RS_LN2_HI, x);
    r = fmaf(n, -RS_LN2_LO, r);
    float p = fmaf(RS_C7, r, RS_C6);
    p = fmaf(p, r, RS_C5);
    p = fmaf(p, r, RS_C4);
    p = fmaf(p, r, RS_C3);
    p = fmaf(p, r, RS_C2);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t e = (rs_bits(t) - rs_bits(RS_ROUND) + 127u) << 23;
    return p * rs_from_bits(e);
}

float
rnn_step_sigmoid(float x)
{
    return 1.0f / (1.0f + rnn_step_exp(-x));
}

float
rnn_step_tanh(float x)
{
    return 1.0f - 2.0f / (1.0f + rnn_step_exp(x + x));
}

static void
rs_cell_one(float *g, const float *cp, float *c, float *h, size_t H, size_t u)
{
    float ig = rnn_step_sigmoid(g[u]), fg = rnn_step_sigmoid(g[H + u]);
    float gg = rnn_step_tanh(g[2 * H + u]), og = rnn_step_sigmoid(g[3 * H + u]);
    g[u] = ig;
    g[H + u] = fg;
    g[2 * H + u] = gg;
    g[3 * H + u] = og;
    float cu = fg * cp[u] + ig * gg;
    c[u] = cu;
    h[u] = og * rnn_step_tanh(cu);
}

static void
rs_cell_grad_one(const float *g, const float *cp, const float *c, const float *dy, const float *dh,
                 float *dc, float *da, size_t H, size_t u)
{
    float ig = g[u], fg = g[H + u], gg = g[2 * H + u], og = g[3 * H + u];
    float d = dh[u] + (dy != NULL ? dy[u] : 0.0f);
    float tc = rnn_step_tanh(c[u]);
    float dcu = d * og * (1.0f - tc * tc) + dc[u];
    da[u] = dcu * gg * ig * (1.0f - ig);
    da[H + u] = dcu * cp[u] * fg * (1.0f - fg);
    da[2 * H + u] = dcu * ig * (1.0f - gg * gg);
    da[3 * H + u] = d * tc * og * (1.0f - og);
    dc[u] = dcu * fg;
}

/* Columns per panel of a packed matrix (rnn_step.h). */
#define RS_PANEL 64

size_t
rnn_step_packed_floats(size_t depth, size_t cols)
{
    return (cols + RS_PANEL - 1) / RS_PANEL * RS_PANEL * depth;
}

void
rnn_step_pack(const float *b, size_t rs, size_t cs, size_t depth, size_t cols, float *packed)
{
    for (size_t c0 = 0; c0 < cols; c0 += RS_PANEL) {
        float *panel = packed + c0 * depth;
        size_t w = cols - c0 < RS_PANEL ? cols - c0 : RS_PANEL;
        for (size_t r0 = 0; r0 < depth; r0 += 16) {
            size_t r1 = depth - r0 < 16 ? depth : r0 + 16;
            for (size_t c = 0; c < RS_PANEL; c++)
                for (size_t r = r0; r < r1; r++)
                    panel[r * RS_PANEL + c] = c < w ? b[r * rs + (c0 + c) * cs] : 0.0f;
        }
    }
}

/* Columns [c_lo, cols) of the product, from the packed matrix p. */
static void
rs_product_portable(size_t rows, size_t c_lo, size_t cols, size_t depth, const float *a, size_t lda,
                    const float *p, float *out, size_t ldo, int accumulate)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t c = c_lo; c < cols; c++) {
            const float *pc = p + c / RS_PANEL * RS_PANEL * depth + c % RS_PANEL;
            float acc = accumulate ? out[i * ldo + c] : 0.0f;
            for (size_t r = 0; r < depth; r++)
                acc = fmaf(a[i * lda + r], pc[r * RS_PANEL], acc);
            out[i * ldo + c] = acc;
        }
}

#if RNN_STEP_X86

#define RS_X512 __attribute__((target("avx512f"))) static inline __attribute__((always_inline))
#define RS_X256 __attribute__((target("avx2,fma"))) static inline __attribute__((always_inline))

/* Blocks of sums kept in registers: up to 5 rows x a whole panel (4 vectors of 16), or up
 * to 10 rows x half a panel (2 vectors), at most 20 sums either way. */
#define RS512_ROWS 10

/* out's rows [0, R) x columns [c0, c0 + w) (w <= 16 V) from the panel columns at p (rows 64
 * floats apart); R, V and, for a full block, w are constants after inlining. */
RS_X512 void
rs_block512(size_t R, size_t V, size_t c0, size_t w, size_t depth, const float *a, size_t lda,
            const float *p, float *out, size_t ldo, int accumulate)
{
    __mmask16 m[4];
    for (size_t v = 0; v < V; v++) {
        size_t lanes = w > 16 * v ? w - 16 * v : 0;
        m[v] = lanes >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << lanes) - 1u);
    }
    __m512 acc[RS512_ROWS][4];
#pragma GCC unroll 10
    for (size_t i = 0; i < R; i++)
#pragma GCC unroll 4
        for (size_t v = 0; v < V; v++)
            acc[i][v] = accumulate ? _mm512_maskz_loadu_ps(m[v], out + i * ldo + c0 + 16 * v)
                                   : _mm512_setzero_ps();
    for (size_t r = 0; r < depth; r++) {
        const float *pr = p + r * RS_PANEL;
        __m512 bv[4];
#pragma GCC unroll 4
        for (size_t v = 0; v < V; v++)
            bv[v] = _mm512_loadu_ps(pr + 16 * v);
#pragma GCC unroll 10
        for (size_t i = 0; i < R; i++) {
            __m512 ai = _mm512_set1_ps(a[i * lda + r]);
#pragma GCC unroll 4
            for (size_t v = 0; v < V; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 10
    for (size_t i = 0; i < R; i++)
#pragma GCC unroll 4
        for (size_t v = 0; v < V; v++)
            _mm512_mask_storeu_ps(out + i * ldo + c0 + 16 * v, m[v], acc[i][v]);
}

/* One block: full (w a constant) or the last columns. */
RS_X512 void
rs_rows512(size_t R, size_t V, size_t c0, size_t w, size_t depth, const float *a, size_t lda,
           const float *p, float *out, size_t ldo, int accumulate)
{
    if (w == 16 * V)
        rs_block512(R, V, c0, 16 * V, depth, a, lda, p, out, ldo, accumulate);
    else
        rs_block512(R, V, c0, w, depth, a, lda, p, out, ldo, accumulate);
}

/* Rows [0, R), 6 <= R <= 10, of one panel: its two halves of 32 columns. */
RS_X512 void
rs_halves512(size_t R, size_t c0, size_t w, size_t depth, const float *a, size_t lda,
             const float *p, float *out, size_t ldo, int accumulate)
{
    rs_rows512(R, 2, c0, w < 32 ? w : 32, depth, a, lda, p, out, ldo, accumulate);
    if (w > 32)
        rs_rows512(R, 2, c0 + 32, w - 32, depth, a, lda, p + 32, out, ldo, accumulate);
}

__attribute__((target("avx512f"))) static void
rs_product512(size_t rows, size_t cols, size_t depth, const float *a, size_t lda, const float *p,
              float *out, size_t ldo, int accumulate)
{
    for (size_t c0 = 0; c0 < cols; c0 += RS_PANEL) {
        size_t w = cols - c0 < RS_PANEL ? cols - c0 : RS_PANEL;
        const float *panel = p + c0 * depth;
        for (size_t i0 = 0; i0 < rows; i0 += RS512_ROWS) {
            const float *ai = a + i0 * lda;
            float *oi = out + i0 * ldo;
            switch (rows - i0 < RS512_ROWS ? rows - i0 : RS512_ROWS) {
            case 1:
                rs_rows512(1, 4, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 2:
                rs_rows512(2, 4, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 3:
                rs_rows512(3, 4, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 4:
                rs_rows512(4, 4, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 5:
                rs_rows512(5, 4, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 6:
                rs_halves512(6, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 7:
                rs_halves512(7, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 8:
                rs_halves512(8, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            case 9:
                rs_halves512(9, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            default:
                rs_halves512(10, c0, w, depth, ai, lda, panel, oi, ldo, accumulate);
                break;
            }
        }
    }
}

/* AVX2: rows in blocks of 4, columns in blocks of 16 of a panel (8 sums in registers); the
 * columns past the last full block of 16 go the portable way. */
#define RS256_ROWS 4

RS_X256 void
rs_block256(size_t R, size_t c0, size_t depth, const float *a, size_t lda, const float *p,
            float *out, size_t ldo, int accumulate)
{
    __m256 acc[RS256_ROWS][2];
#pragma GCC unroll 4
    for (size_t i = 0; i < R; i++)
        for (size_t v = 0; v < 2; v++)
            acc[i][v] =
                accumulate ? _mm256_loadu_ps(out + i * ldo + c0 + 8 * v) : _mm256_setzero_ps();
    for (size_t r = 0; r < depth; r++) {
        __m256 b0 = _mm256_loadu_ps(p + r * RS_PANEL), b1 = _mm256_loadu_ps(p + r * RS_PANEL + 8);
#pragma GCC unroll 4
        for (size_t i = 0; i < R; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * lda + r);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 4
    for (size_t i = 0; i < R; i++)
        for (size_t v = 0; v < 2; v++)
            _mm256_storeu_ps(out + i * ldo + c0 + 8 * v, acc[i][v]);
}

__attribute__((target("avx2,fma"))) static void
rs_product256(size_t rows, size_t cols, size_t depth, const float *a, size_t lda, const float *p,
              float *out, size_t ldo, int accumulate)
{
    size_t full = cols / 16 * 16;
    for (size_t c0 = 0; c0 < full; c0 += 16) {
        const float *sub = p + c0 / RS_PANEL * RS_PANEL * depth + c0 % RS_PANEL;
        for (size_t i0 = 0; i0 < rows; i0 += RS256_ROWS) {
            const float *ai = a + i0 * lda;
            float *oi = out + i0 * ldo;
            switch (rows - i0 < RS256_ROWS ? rows - i0 : RS256_ROWS) {
            case 1:
                rs_block256(1, c0, depth, ai, lda, sub, oi, ldo, accumulate);
                break;
            case 2:
                rs_block256(2, c0, depth, ai, lda, sub, oi, ldo, accumulate);
                break;
            case 3:
                rs_block256(3, c0, depth, ai, lda, sub, oi, ldo, accumulate);
                break;
            default:
                rs_block256(4, c0, depth, ai, lda, sub, oi, ldo, accumulate);
                break;
            }
        }
    }
    rs_product_portable(rows, full, cols, depth, a, lda, p, out, ldo, accumulate);
}

/* exp of 16 lanes, the operations of rnn_step_exp. */
RS_X512 __m512
rs_exp512(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(RS_LO), x);
    x = _mm512_min_ps(_mm512_set1_ps(RS_HI), x);
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(RS_LOG2E), _mm512_set1_ps(RS_ROUND));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(RS_ROUND));
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-RS_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-RS_LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(RS_C7), r, _mm512_set1_ps(RS_C6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(RS_C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(RS_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(RS_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(RS_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32((int)rs_bits(RS_ROUND)));
    e = _mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

RS_X512 __m512
rs_sigmoid512(__m512 x)
{
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = rs_exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

RS_X512 __m512
rs_tanh512(__m512 x)
{
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = rs_exp512(_mm512_add_ps(x, x));
    return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(one, e)));
}

__attribute__((target("avx512f"))) static size_t
rs_cell512(float *g, const float *cp, float *c, float *h, size_t H)
{
    size_t u = 0;
    for (; u + 16 <= H; u += 16) {
        __m512 ig = rs_sigmoid512(_mm512_loadu_ps(g + u));
        __m512 fg = rs_sigmoid512(_mm512_loadu_ps(g + H + u));
        __m512 gg = rs_tanh512(_mm512_loadu_ps(g + 2 * H + u));
        __m512 og = rs_sigmoid512(_mm512_loadu_ps(g + 3 * H + u));
        _mm512_storeu_ps(g + u, ig);
        _mm512_storeu_ps(g + H + u, fg);
        _mm512_storeu_ps(g + 2 * H + u, gg);
        _mm512_storeu_ps(g + 3 * H + u, og);
        __m512 cu =
            _mm512_add_ps(_mm512_mul_ps(fg, _mm512_loadu_ps(cp + u)), _mm512_mul_ps(ig, gg));
        _mm512_storeu_ps(c + u, cu);
        _mm512_storeu_ps(h + u, _mm512_mul_ps(og, rs_tanh512(cu)));
    }
    return u;
}

__attribute__((target("avx512f"))) static size_t
rs_cell_grad512(const float *g, const float *cp, const float *c, const float *dy, const float *dh,
                float *dc, float *da, size_t H)
{
    __m512 one = _mm512_set1_ps(1.0f);
    size_t u = 0;
    for (; u + 16 <= H; u += 16) {
        __m512 ig = _mm512_loadu_ps(g + u), fg = _mm512_loadu_ps(g + H + u);
        __m512 gg = _mm512_loadu_ps(g + 2 * H + u), og = _mm512_loadu_ps(g + 3 * H + u);
        __m512 d = _mm512_add_ps(_mm512_loadu_ps(dh + u),
                                 dy != NULL ? _mm512_loadu_ps(dy + u) : _mm512_setzero_ps());
        __m512 tc = rs_tanh512(_mm512_loadu_ps(c + u));
        __m512 dcu = _mm512_mul_ps(_mm512_mul_ps(d, og), _mm512_sub_ps(one, _mm512_mul_ps(tc, tc)));
        dcu = _mm512_add_ps(dcu, _mm512_loadu_ps(dc + u));
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(dcu, gg), ig);
        _mm512_storeu_ps(da + u, _mm512_mul_ps(v, _mm512_sub_ps(one, ig)));
        v = _mm512_mul_ps(_mm512_mul_ps(dcu, _mm512_loadu_ps(cp + u)), fg);
        _mm512_storeu_ps(da + H + u, _mm512_mul_ps(v, _mm512_sub_ps(one, fg)));
        v = _mm512_mul_ps(dcu, ig);
        _mm512_storeu_ps(da + 2 * H + u,
                         _mm512_mul_ps(v, _mm512_sub_ps(one, _mm512_mul_ps(gg, gg))));
        v = _mm512_mul_ps(_mm512_mul_ps(d, tc), og);
        _mm512_storeu_ps(da + 3 * H + u, _mm512_mul_ps(v, _mm512_sub_ps(one, og)));
        _mm512_storeu_ps(dc + u, _mm512_mul_ps(dcu, fg));
    }
    return u;
}

RS_X256 __m256
rs_exp256(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(RS_LO), x);
    x = _mm256_min_ps(_mm256_set1_ps(RS_HI), x);
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(RS_LOG2E), _mm256_set1_ps(RS_ROUND));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(RS_ROUND));
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-RS_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-RS_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(RS_C7), r, _mm256_set1_ps(RS_C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RS_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RS_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RS_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RS_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32((int)rs_bits(RS_ROUND)));
    e = _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

RS_X256 __m256
rs_sigmoid256(__m256 x)
{
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = rs_exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

RS_X256 __m256
rs_tanh256(__m256 x)
{
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = rs_exp256(_mm256_add_ps(x, x));
    return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(one, e)));
}

__attribute__((target("avx2,fma"))) static size_t
rs_cell256(float *g, const float *cp, float *c, float *h, size_t H)
{
    size_t u = 0;
    for (; u + 8 <= H; u += 8) {
        __m256 ig = rs_sigmoid256(_mm256_loadu_ps(g + u));
        __m256 fg = rs_sigmoid256(_mm256_loadu_ps(g + H + u));
        __m256 gg = rs_tanh256(_mm256_loadu_ps(g + 2 * H + u));
        __m256 og = rs_sigmoid256(_mm256_loadu_ps(g + 3 * H + u));
        _mm256_storeu_ps(g + u, ig);
        _mm256_storeu_ps(g + H + u, fg);
        _mm256_storeu_ps(g + 2 * H + u, gg);
        _mm256_storeu_ps(g + 3 * H + u, og);
        __m256 cu =
            _mm256_add_ps(_mm256_mul_ps(fg, _mm256_loadu_ps(cp + u)), _mm256_mul_ps(ig, gg));
        _mm256_storeu_ps(c + u, cu);
        _mm256_storeu_ps(h + u, _mm256_mul_ps(og, rs_tanh256(cu)));
    }
    return u;
}

__attribute__((target("avx2,fma"))) static size_t
rs_cell_grad256(const float *g, const float *cp, const float *c, const float *dy, const float *dh,
                float *dc, float *da, size_t H)
{
    __m256 one = _mm256_set1_ps(1.0f);
    size_t u = 0;
    for (; u + 8 <= H; u += 8) {
        __m256 ig = _mm256_loadu_ps(g + u), fg = _mm256_loadu_ps(g + H + u);
        __m256 gg = _mm256_loadu_ps(g + 2 * H + u), og = _mm256_loadu_ps(g + 3 * H + u);
        __m256 d = _mm256_add_ps(_mm256_loadu_ps(dh + u),
                                 dy != NULL ? _mm256_loadu_ps(dy + u) : _mm256_setzero_ps());
        __m256 tc = rs_tanh256(_mm256_loadu_ps(c + u));
        __m256 dcu = _mm256_mul_ps(_mm256_mul_ps(d, og), _mm256_sub_ps(one, _mm256_mul_ps(tc, tc)));
        dcu = _mm256_add_ps(dcu, _mm256_loadu_ps(dc + u));
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(dcu, gg), ig);
        _mm256_storeu_ps(da + u, _mm256_mul_ps(v, _mm256_sub_ps(one, ig)));
        v = _mm256_mul_ps(_mm256_mul_ps(dcu, _mm256_loadu_ps(cp + u)), fg);
        _mm256_storeu_ps(da + H + u, _mm256_mul_ps(v, _mm256_sub_ps(one, fg)));
        v = _mm256_mul_ps(dcu, ig);
        _mm256_storeu_ps(da + 2 * H + u,
                         _mm256_mul_ps(v, _mm256_sub_ps(one, _mm256_mul_ps(gg, gg))));
        v = _mm256_mul_ps(_mm256_mul_ps(d, tc), og);
        _mm256_storeu_ps(da + 3 * H + u, _mm256_mul_ps(v, _mm256_sub_ps(one, og)));
        _mm256_storeu_ps(dc + u, _mm256_mul_ps(dcu, fg));
    }
    return u;
}

#endif /* RNN_STEP_X86 */

void
rnn_step_product(size_t rows, size_t cols, size_t depth, const float *a, size_t lda,
                 const float *packed, float *out, size_t ldo, int accumulate, enum kernel_isa max)
{
    switch (kernel_isa_pick(max)) {
#if RNN_STEP_X86
    case KERNEL_ISA_AVX512:
        rs_product512(rows, cols, depth, a, lda, packed, out, ldo, accumulate);
        return;
    case KERNEL_ISA_AVX2:
        rs_product256(rows, cols, depth, a, lda, packed, out, ldo, accumulate);
        return;
#endif
    default:
        rs_product_portable(rows, 0, cols, depth, a, lda, packed, out, ldo, accumulate);
        return;
    }
}

void
rnn_step_lstm_cell(float *g, const float *cp, float *c, float *h, size_t H, enum kernel_isa max)
{
    size_t u = 0;
    switch (kernel_isa_pick(max)) {
#if RNN_STEP_X86
    case KERNEL_ISA_AVX512:
        u = rs_cell512(g, cp, c, h, H);
        break;
    case KERNEL_ISA_AVX2:
        u = rs_cell256(g, cp, c, h, H);
        break;
#endif
    default:
        break;
    }
    for (; u < H; u++)
        rs_cell_one(g, cp, c, h, H, u);
}

void
rnn_step_lstm_cell_grad(const float *g, const float *cp, const float *c, const float *dy,
                        const float *dh, float *dc, float *da, size_t H, enum kernel_isa max)
{
    size_t u = 0;
    switch (kernel_isa_pick(max)) {
#if RNN_STEP_X86
    case KERNEL_ISA_AVX512:
        u = rs_cell_grad512(g, cp, c, dy, dh, dc, da, H);
        break;
    case KERNEL_ISA_AVX2:
        u = rs_cell_grad256(g, cp, c, dy, dh, dc, da, H);
        break;
#endif
    default:
        break;
    }
    for (; u < H; u++)
        rs_cell_grad_one(g, cp, c, dy, dh, dc, da, H, u);
}
