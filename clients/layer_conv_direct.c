/*
 * layer_conv_direct: direct convolution, stride 1. See layer_conv_direct.h.
 *
 * Few input channels: the forward kernels hold a block of output channels times one segment
 * of an output row (up to 32 columns on AVX-512, 16 on AVX2) in registers and run over the
 * taps: each tap is one or two loads of the padded input and one fma per channel and vector,
 * the weight broadcast. The weight-gradient kernels hold a block of output channels times a
 * block of taps, each a 16-lane vector of partial sums over output columns, and run over the
 * rows of one sample at a time: per 16 columns, one load of dy per channel, one of the input
 * per tap, an fma per pair. Row ends are masked lanes (they add exact zeros to lanes that
 * stay zero).
 *
 * Many input channels (a multiple of 16 output channels): vectors of 16 (AVX-512) or 8 (AVX2)
 * output channels. The forward kernel holds 6 output positions by 64 channels (12 by 32, or
 * by 16; AVX2 6 by 16) and runs over the taps with the weights packed tap-major: per tap 4
 * weight vectors, 6 broadcast inputs, 24 fmas. The weight gradient holds 6 taps by 64 channels (12
 * by 32 or 16) and runs over the positions with dy transposed: per position 4 dy vectors, 6
 * broadcast inputs, 24 fmas.
 */
#include "clients/layer_conv_direct.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LAYER_CONV_DIRECT_X86 1
#else
#define LAYER_CONV_DIRECT_X86 0
#endif

#include "base/banned.h"

/* Lanes of the weight gradient's partial sums (fixed: they define the summation order). */
#define LCD_LANES 16

/* Input channels up to which the column-vectorised kernels compute the weight gradient. */
#define LCD_MAX_IN_C 4

int
layer_conv_direct_grad_applies(const struct layer *l)
{
    return l->kind == LAYER_CONV && l->stride == 1 &&
           (l->in.c <= LCD_MAX_IN_C || l->out.c % 16 == 0);
}

int
layer_conv_direct_forward_applies(const struct layer *l)
{
    return l->kind == LAYER_CONV && l->stride == 1;
}

size_t
layer_conv_direct_pack_floats(const struct layer *l)
{
    return l->out.c * l->in.c * l->kernel * l->kernel;
}

size_t
layer_conv_direct_acc_floats(const struct layer *l)
{
    size_t taps = l->in.c * l->kernel * l->kernel;
    if (l->in.c <= LCD_MAX_IN_C)
        return l->out.c * taps * LCD_LANES;
    size_t wide = l->out.c * (taps + l->out.h * l->out.w); /* sums, dy^T [pos x out_c] */
    size_t sparse = layer_conv_direct_sparse_floats(l);
    return sparse > wide ? sparse : wide;
}

int
layer_conv_direct_input_grad_applies(const struct layer *l)
{
    return l->kind == LAYER_CONV && l->stride == 1 && l->in.c % 16 == 0 && l->out.c > LCD_MAX_IN_C;
}

struct layer
layer_conv_direct_transposed(const struct layer *l)
{
    size_t k = l->kernel, q = k - 1 - l->pad;
    struct layer t = {
        .kind = LAYER_CONV,
        .in = l->out,
        .out = l->in,
        .kernel = k,
        .stride = 1,
        .pad = q,
        .n_params = layer_conv_direct_flip_floats(l),
        .scratch = l->out.c * (l->out.h + 2 * q) * (l->out.w + 2 * q),
    };
    return t;
}

size_t
layer_conv_direct_flip_floats(const struct layer *l)
{
    return l->in.c * (l->out.c * l->kernel * l->kernel + 1);
}

void
layer_conv_direct_flip(const struct layer *l, const float *w, float *wf)
{
    size_t k = l->kernel, kk = k * k, in_c = l->in.c, out_c = l->out.c;
    for (size_t c = 0; c < in_c; c++)
        for (size_t co = 0; co < out_c; co++) {
            const float *src = w + (co * in_c + c) * kk;
            float *dst = wf + (c * out_c + co) * kk;
            for (size_t e = 0; e < kk; e++)
                dst[e] = src[kk - 1 - e];
        }
    memset(wf + in_c * out_c * kk, 0, in_c * sizeof *wf);
}

/* Shape constants of a layer, for the kernels. */
struct lcd_geom {
    size_t in_c, k, hp, wp, oh, ow, out_c, taps, pos, psize, osize;
};

static struct lcd_geom
lcd_geom(const struct layer *l)
{
    struct lcd_geom g = {
        .in_c = l->in.c,
        .k = l->kernel,
        .hp = l->in.h + 2 * l->pad,
        .wp = l->in.w + 2 * l->pad,
        .oh = l->out.h,
        .ow = l->out.w,
        .out_c = l->out.c,
    };
    g.taps = g.in_c * g.k * g.k;
    g.pos = g.oh * g.ow;
    g.psize = g.in_c * g.hp * g.wp;
    g.osize = g.out_c * g.pos;
    return g;
}

/* Offset in a padded sample of tap t's input for output position (0, 0). */
static size_t
lcd_tap_offset(const struct lcd_geom *g, size_t t)
{
    size_t c = t / (g->k * g->k), r = t % (g->k * g->k);
    return (c * g->hp + r / g->k) * g->wp + r % g->k;
}

/* The tree sum of the lanes of a weight-gradient entry (clobbers v). */
static float
lcd_tree16(float v[LCD_LANES])
{
    for (size_t h = LCD_LANES / 2; h >= 1; h /= 2)
        for (size_t l = 0; l < h; l++)
            v[l] = v[l] + v[l + h];
    return v[0];
}

/* Portable C: the operations of the vector kernels, one lane at a time. */
static void
lcd_forward_portable(const struct lcd_geom *g, const float *w, const float *xp, float *y)
{
    const float *b = w + g->out_c * g->taps;
    for (size_t co = 0; co < g->out_c; co++) {
        const float *wc = w + co * g->taps;
        for (size_t i = 0; i < g->oh; i++) {
            for (size_t j = 0; j < g->ow; j++) {
                float acc = 0.0f;
                size_t t = 0;
                for (size_t c = 0; c < g->in_c; c++)
                    for (size_t ki = 0; ki < g->k; ki++) {
                        const float *row = xp + (c * g->hp + i + ki) * g->wp + j;
                        for (size_t kj = 0; kj < g->k; kj++, t++)
                            acc = fmaf(wc[t], row[kj], acc);
                    }
                y[co * g->pos + i * g->ow + j] = acc + b[co];
            }
        }
    }
}

static void
lcd_weight_grad_portable(const struct lcd_geom *g, const float *xp, const float *dy, float *acc,
                         size_t n)
{
    for (size_t smp = 0; smp < n; smp++)
        for (size_t co = 0; co < g->out_c; co++) {
            const float *ds = dy + smp * g->osize + co * g->pos;
            for (size_t t = 0; t < g->taps; t++) {
                const float *xs = xp + smp * g->psize + lcd_tap_offset(g, t);
                float *s = acc + (co * g->taps + t) * LCD_LANES;
                for (size_t i = 0; i < g->oh; i++)
                    for (size_t j0 = 0; j0 < g->ow; j0 += LCD_LANES) {
                        size_t m = g->ow - j0 < LCD_LANES ? g->ow - j0 : LCD_LANES;
                        for (size_t l = 0; l < m; l++)
                            s[l] = fmaf(ds[i * g->ow + j0 + l], xs[i * g->wp + j0 + l], s[l]);
                    }
            }
        }
}

/* Many input channels: per (output channel, tap), one fma chain over samples and positions. */
static void
lcd_wide_grad_portable(const struct lcd_geom *g, const float *xp, const float *dy, float *dw,
                       size_t n)
{
    for (size_t co = 0; co < g->out_c; co++)
        for (size_t t = 0; t < g->taps; t++) {
            size_t off = lcd_tap_offset(g, t);
            float a = 0.0f;
            for (size_t smp = 0; smp < n; smp++) {
                const float *xs = xp + smp * g->psize + off;
                const float *ds = dy + smp * g->osize + co * g->pos;
                for (size_t i = 0; i < g->oh; i++)
                    for (size_t j = 0; j < g->ow; j++)
                        a = fmaf(ds[i * g->ow + j], xs[i * g->wp + j], a);
            }
            dw[co * g->taps + t] = a;
        }
}

#if LAYER_CONV_DIRECT_X86

/* wt [taps x out_c] = the weights w [out_c x taps] packed tap-major. */
static void
lcd_pack_weights(const struct lcd_geom *g, const float *w, float *wt)
{
    for (size_t co = 0; co < g->out_c; co++)
        for (size_t t = 0; t < g->taps; t++)
            wt[t * g->out_c + co] = w[co * g->taps + t];
}

/* Output channels per block of the forward kernels, and blocks of the weight gradient. */
#define LCD_FWD_CH_512  8
#define LCD_FWD_CH_256  4
#define LCD_DW_CH_512   4
#define LCD_DW_TAPS_512 4
#define LCD_DW_ROW      5 /* the largest kernel row of lcd_dw_row512() */
#define LCD_DW_CH_256   2
#define LCD_DW_TAPS_256 2
/* Largest blocks of the many-channel forward kernel: pixels, and vectors of 16 channels. */
#define LCD_WIDE_PIX 12
/* Positions per block of the AVX2 many-channel forward kernel (12 accumulators). */
#define LCD_WIDE_PIX_256 6
#define LCD_WIDE_VEC     4
/* Largest tap block of the many-channel weight-gradient kernels. */
#define LCD_WG_TAPS 12

#define LCD_X512 __attribute__((target("avx512f"))) static inline __attribute__((always_inline))
#define LCD_X256 __attribute__((target("avx2,fma"))) static inline __attribute__((always_inline))

static inline __mmask16
lcd_mask512(size_t m)
{
    return m >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << m) - 1u);
}

/*
 * Channels co..co+R of output row i, columns j0..j0+16 nv (lanes past the row masked off);
 * wt the weights packed tap-major (lcd_pack_weights()), w the parameters (for the bias).
 */
LCD_X512 void
lcd_fwd_block512(const struct lcd_geom *g, const float *w, const float *wt, const float *xp,
                 float *y, size_t co, size_t i, size_t j0, const size_t R, const size_t nv)
{
    size_t rem = g->ow - j0;
    __mmask16 m0 = lcd_mask512(rem), m1 = lcd_mask512(rem > 16 ? rem - 16 : 0);
    __m512 acc0[LCD_FWD_CH_512], acc1[LCD_FWD_CH_512];
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++)
        acc0[r] = acc1[r] = _mm512_setzero_ps();
    const float *wr = wt + co;
    for (size_t c = 0; c < g->in_c; c++)
        for (size_t ki = 0; ki < g->k; ki++) {
            const float *row = xp + (c * g->hp + i + ki) * g->wp + j0;
            for (size_t kj = 0; kj < g->k; kj++, wr += g->out_c) {
                __m512 x0 = _mm512_maskz_loadu_ps(m0, row + kj);
                __m512 x1 = nv > 1 ? _mm512_maskz_loadu_ps(m1, row + kj + 16) : x0;
#pragma GCC unroll 8
                for (size_t r = 0; r < R; r++) {
                    __m512 wv = _mm512_set1_ps(wr[r]);
                    acc0[r] = _mm512_fmadd_ps(wv, x0, acc0[r]);
                    if (nv > 1)
                        acc1[r] = _mm512_fmadd_ps(wv, x1, acc1[r]);
                }
            }
        }
    const float *b = w + g->out_c * g->taps + co;
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++) {
        __m512 bv = _mm512_set1_ps(b[r]);
        float *yr = y + (co + r) * g->pos + i * g->ow + j0;
        _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(acc0[r], bv));
        if (nv > 1)
            _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(acc1[r], bv));
    }
}

__attribute__((target("avx512f"))) static void
lcd_forward_avx512(const struct lcd_geom *g, const float *w, const float *wt, const float *xp,
                   float *y)
{
    for (size_t i = 0; i < g->oh; i++)
        for (size_t j0 = 0; j0 < g->ow; j0 += 32) {
            int two = g->ow - j0 > 16;
            size_t co = 0;
            for (; co + LCD_FWD_CH_512 <= g->out_c; co += LCD_FWD_CH_512)
                if (two)
                    lcd_fwd_block512(g, w, wt, xp, y, co, i, j0, LCD_FWD_CH_512, 2);
                else
                    lcd_fwd_block512(g, w, wt, xp, y, co, i, j0, LCD_FWD_CH_512, 1);
            for (; co < g->out_c; co++)
                lcd_fwd_block512(g, w, wt, xp, y, co, i, j0, 1, 2);
        }
}

/*
 * Many output channels: 16 channels a vector, weights packed [taps x out_c] (wt). Output
 * positions p0..p0+P of one sample (flattened, so a block may span rows) by channels
 * co..co+16 CV: per tap, CV weight vectors and P broadcast inputs, CV P fmas.
 */
LCD_X512 void
lcd_wide_block512(const struct lcd_geom *g, const float *wt, const float *b, const float *xs,
                  float *ys, size_t co, size_t p0, const size_t CV, const size_t P)
{
    __m512 acc[LCD_WIDE_PIX][LCD_WIDE_VEC];
    const float *base[LCD_WIDE_PIX];
#pragma GCC unroll 12
    for (size_t p = 0; p < P; p++) {
        base[p] = xs + (p0 + p) / g->ow * g->wp + (p0 + p) % g->ow;
#pragma GCC unroll 4
        for (size_t v = 0; v < CV; v++)
            acc[p][v] = _mm512_setzero_ps();
    }
    const float *wr = wt + co;
    for (size_t c = 0; c < g->in_c; c++)
        for (size_t ki = 0; ki < g->k; ki++) {
            size_t off = (c * g->hp + ki) * g->wp;
            for (size_t kj = 0; kj < g->k; kj++, off++, wr += g->out_c) {
                __m512 wv[LCD_WIDE_VEC];
#pragma GCC unroll 4
                for (size_t v = 0; v < CV; v++)
                    wv[v] = _mm512_loadu_ps(wr + 16 * v);
#pragma GCC unroll 12
                for (size_t p = 0; p < P; p++) {
                    __m512 xv = _mm512_set1_ps(base[p][off]);
#pragma GCC unroll 4
                    for (size_t v = 0; v < CV; v++)
                        acc[p][v] = _mm512_fmadd_ps(wv[v], xv, acc[p][v]);
                }
            }
        }
    const __m512i stride =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)g->pos));
#pragma GCC unroll 4
    for (size_t v = 0; v < CV; v++) {
        __m512 bv = _mm512_loadu_ps(b + co + 16 * v);
#pragma GCC unroll 12
        for (size_t p = 0; p < P; p++)
            _mm512_i32scatter_ps(ys + (co + 16 * v) * g->pos + p0 + p, stride,
                                 _mm512_add_ps(acc[p][v], bv), 4);
    }
}

/* Channels co..co+16 CV of every output position of one sample, P at a time, then 4, then 1. */
LCD_X512 void
lcd_wide_channels512(const struct lcd_geom *g, const float *wt, const float *b, const float *xs,
                     float *ys, size_t co, const size_t CV, const size_t P)
{
    size_t p = 0;
    for (; p + P <= g->pos; p += P)
        lcd_wide_block512(g, wt, b, xs, ys, co, p, CV, P);
    for (; p + 4 <= g->pos; p += 4)
        lcd_wide_block512(g, wt, b, xs, ys, co, p, CV, 4);
    for (; p < g->pos; p++)
        lcd_wide_block512(g, wt, b, xs, ys, co, p, CV, 1);
}

__attribute__((target("avx512f"))) static void
lcd_forward_wide512(const struct lcd_geom *g, const float *w, const float *xp, float *y, size_t n,
                    float *wt)
{
    lcd_pack_weights(g, w, wt);
    const float *b = w + g->out_c * g->taps;
    for (size_t s = 0; s < n; s++) {
        const float *xs = xp + s * g->psize;
        float *ys = y + s * g->osize;
        size_t co = 0;
        for (; co + 64 <= g->out_c; co += 64)
            lcd_wide_channels512(g, wt, b, xs, ys, co, 4, 6);
        for (; co + 32 <= g->out_c; co += 32)
            lcd_wide_channels512(g, wt, b, xs, ys, co, 2, 12);
        for (; co + 16 <= g->out_c; co += 16)
            lcd_wide_channels512(g, wt, b, xs, ys, co, 1, 12);
    }
}

/*
 * Adds one sample's terms to the lane sums acc [out_c x taps][16] of channels co..co+R by
 * taps t0..t0+S (in registers meanwhile): xs the padded sample, ds its dy.
 */
LCD_X512 void
lcd_dw_block512(const struct lcd_geom *g, const float *xs, const float *ds, float *acc, size_t co,
                size_t t0, const size_t R, const size_t S)
{
    size_t off[LCD_DW_TAPS_512];
    __m512 a[LCD_DW_CH_512][LCD_DW_TAPS_512];
#pragma GCC unroll 4
    for (size_t s = 0; s < S; s++) {
        off[s] = lcd_tap_offset(g, t0 + s);
#pragma GCC unroll 4
        for (size_t r = 0; r < R; r++)
            a[r][s] = _mm512_loadu_ps(acc + ((co + r) * g->taps + t0 + s) * LCD_LANES);
    }
    ds += co * g->pos;
    for (size_t i = 0; i < g->oh; i++)
        for (size_t j0 = 0; j0 < g->ow; j0 += LCD_LANES) {
            __mmask16 m = lcd_mask512(g->ow - j0);
            __m512 d[LCD_DW_CH_512], x[LCD_DW_TAPS_512];
#pragma GCC unroll 4
            for (size_t r = 0; r < R; r++)
                d[r] = _mm512_maskz_loadu_ps(m, ds + r * g->pos + i * g->ow + j0);
#pragma GCC unroll 4
            for (size_t s = 0; s < S; s++)
                x[s] = _mm512_maskz_loadu_ps(m, xs + off[s] + i * g->wp + j0);
#pragma GCC unroll 4
            for (size_t r = 0; r < R; r++)
#pragma GCC unroll 4
                for (size_t s = 0; s < S; s++)
                    a[r][s] = _mm512_fmadd_ps(d[r], x[s], a[r][s]);
        }
#pragma GCC unroll 4
    for (size_t r = 0; r < R; r++)
#pragma GCC unroll 4
        for (size_t s = 0; s < S; s++)
            _mm512_storeu_ps(acc + ((co + r) * g->taps + t0 + s) * LCD_LANES, a[r][s]);
}

/*
 * lcd_dw_block512() for the K taps of one kernel row (t0 its first tap): the input vectors of
 * the taps are one base plus the tap's column, so that only two pointers move over the rows.
 */
LCD_X512 void
lcd_dw_row512(const struct lcd_geom *g, const float *xs, const float *ds, float *acc, size_t co,
              size_t t0, const size_t R, const size_t K)
{
    __m512 a[LCD_DW_CH_512][LCD_DW_ROW];
#pragma GCC unroll 4
    for (size_t r = 0; r < R; r++)
#pragma GCC unroll 5
        for (size_t s = 0; s < K; s++)
            a[r][s] = _mm512_loadu_ps(acc + ((co + r) * g->taps + t0 + s) * LCD_LANES);
    const float *xr = xs + lcd_tap_offset(g, t0), *dr = ds + co * g->pos;
    for (size_t i = 0; i < g->oh; i++, xr += g->wp, dr += g->ow)
        for (size_t j0 = 0; j0 < g->ow; j0 += LCD_LANES) {
            __mmask16 m = lcd_mask512(g->ow - j0);
            __m512 d[LCD_DW_CH_512], x[LCD_DW_ROW];
#pragma GCC unroll 4
            for (size_t r = 0; r < R; r++)
                d[r] = _mm512_maskz_loadu_ps(m, dr + r * g->pos + j0);
#pragma GCC unroll 5
            for (size_t s = 0; s < K; s++)
                x[s] = _mm512_maskz_loadu_ps(m, xr + s + j0);
#pragma GCC unroll 4
            for (size_t r = 0; r < R; r++)
#pragma GCC unroll 5
                for (size_t s = 0; s < K; s++)
                    a[r][s] = _mm512_fmadd_ps(d[r], x[s], a[r][s]);
        }
#pragma GCC unroll 4
    for (size_t r = 0; r < R; r++)
#pragma GCC unroll 5
        for (size_t s = 0; s < K; s++)
            _mm512_storeu_ps(acc + ((co + r) * g->taps + t0 + s) * LCD_LANES, a[r][s]);
}

/* Every kernel row of a K x K kernel, channels R at a time, then one. */
LCD_X512 void
lcd_dw_rows512(const struct lcd_geom *g, const float *xs, const float *ds, float *acc,
               const size_t K)
{
    size_t co = 0;
    for (; co + LCD_DW_CH_512 <= g->out_c; co += LCD_DW_CH_512)
        for (size_t t0 = 0; t0 < g->taps; t0 += K)
            lcd_dw_row512(g, xs, ds, acc, co, t0, LCD_DW_CH_512, K);
    for (; co < g->out_c; co++)
        for (size_t t0 = 0; t0 < g->taps; t0 += K)
            lcd_dw_row512(g, xs, ds, acc, co, t0, 1, K);
}

/*
 * Sample by sample, so that one sample's data (a block of dy channels and the padded input)
 * stays in the L1 cache while every tap block reads it. 5 x 5 and 3 x 3 kernels take their
 * taps a kernel row at a time.
 */
__attribute__((target("avx512f"))) static void
lcd_weight_grad_avx512(const struct lcd_geom *g, const float *xp, const float *dy, float *acc,
                       size_t n)
{
    enum { R = LCD_DW_CH_512, S = LCD_DW_TAPS_512 };
    for (size_t smp = 0; smp < n; smp++) {
        const float *xs = xp + smp * g->psize, *ds = dy + smp * g->osize;
        if (g->k == 5) {
            lcd_dw_rows512(g, xs, ds, acc, 5);
            continue;
        }
        if (g->k == 3) {
            lcd_dw_rows512(g, xs, ds, acc, 3);
            continue;
        }
        size_t co = 0;
        for (; co + R <= g->out_c; co += R) {
            size_t t = 0;
            for (; t + S <= g->taps; t += S)
                lcd_dw_block512(g, xs, ds, acc, co, t, R, S);
            for (; t < g->taps; t++)
                lcd_dw_block512(g, xs, ds, acc, co, t, R, 1);
        }
        for (; co < g->out_c; co++) {
            size_t t = 0;
            for (; t + S <= g->taps; t += S)
                lcd_dw_block512(g, xs, ds, acc, co, t, 1, S);
            for (; t < g->taps; t++)
                lcd_dw_block512(g, xs, ds, acc, co, t, 1, 1);
        }
    }
}

/* AVX2: a 16-lane vector is two 8-lane halves, lo (lanes 0-7) and hi (8-15). */
LCD_X256 __m256i
lcd_mask256(size_t m)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(m > 8 ? 8 : m)), iota);
}

/* Channels co..co+R of output row i, columns j0..j0+8 nv. */
LCD_X256 void
lcd_fwd_block256(const struct lcd_geom *g, const float *w, const float *xp, float *y, size_t co,
                 size_t i, size_t j0, const size_t R, const size_t nv)
{
    size_t rem = g->ow - j0;
    __m256i m0 = lcd_mask256(rem), m1 = lcd_mask256(rem > 8 ? rem - 8 : 0);
    __m256 acc0[LCD_FWD_CH_256], acc1[LCD_FWD_CH_256];
#pragma GCC unroll 4
    for (size_t r = 0; r < R; r++)
        acc0[r] = acc1[r] = _mm256_setzero_ps();
    const float *wc = w + co * g->taps;
    size_t t = 0;
    for (size_t c = 0; c < g->in_c; c++)
        for (size_t ki = 0; ki < g->k; ki++) {
            const float *row = xp + (c * g->hp + i + ki) * g->wp + j0;
            for (size_t kj = 0; kj < g->k; kj++, t++) {
                __m256 x0 = _mm256_maskload_ps(row + kj, m0);
                __m256 x1 = nv > 1 ? _mm256_maskload_ps(row + kj + 8, m1) : x0;
#pragma GCC unroll 4
                for (size_t r = 0; r < R; r++) {
                    __m256 wv = _mm256_set1_ps(wc[r * g->taps + t]);
                    acc0[r] = _mm256_fmadd_ps(wv, x0, acc0[r]);
                    if (nv > 1)
                        acc1[r] = _mm256_fmadd_ps(wv, x1, acc1[r]);
                }
            }
        }
    const float *b = w + g->out_c * g->taps + co;
#pragma GCC unroll 4
    for (size_t r = 0; r < R; r++) {
        __m256 bv = _mm256_set1_ps(b[r]);
        float *yr = y + (co + r) * g->pos + i * g->ow + j0;
        _mm256_maskstore_ps(yr, m0, _mm256_add_ps(acc0[r], bv));
        if (nv > 1)
            _mm256_maskstore_ps(yr + 8, m1, _mm256_add_ps(acc1[r], bv));
    }
}

__attribute__((target("avx2,fma"))) static void
lcd_forward_avx2(const struct lcd_geom *g, const float *w, const float *xp, float *y)
{
    for (size_t i = 0; i < g->oh; i++)
        for (size_t j0 = 0; j0 < g->ow; j0 += 16) {
            int two = g->ow - j0 > 8;
            size_t co = 0;
            for (; co + LCD_FWD_CH_256 <= g->out_c; co += LCD_FWD_CH_256)
                if (two)
                    lcd_fwd_block256(g, w, xp, y, co, i, j0, LCD_FWD_CH_256, 2);
                else
                    lcd_fwd_block256(g, w, xp, y, co, i, j0, LCD_FWD_CH_256, 1);
            for (; co < g->out_c; co++)
                lcd_fwd_block256(g, w, xp, y, co, i, j0, 1, 2);
        }
}

/* lcd_dw_block512() on AVX2, a 16-lane sum as two halves. */
LCD_X256 void
lcd_dw_block256(const struct lcd_geom *g, const float *xs, const float *ds, float *acc, size_t co,
                size_t t0, const size_t R, const size_t S)
{
    size_t off[LCD_DW_TAPS_256];
    __m256 lo[LCD_DW_CH_256][LCD_DW_TAPS_256], hi[LCD_DW_CH_256][LCD_DW_TAPS_256];
#pragma GCC unroll 2
    for (size_t s = 0; s < S; s++) {
        off[s] = lcd_tap_offset(g, t0 + s);
#pragma GCC unroll 2
        for (size_t r = 0; r < R; r++) {
            const float *at = acc + ((co + r) * g->taps + t0 + s) * LCD_LANES;
            lo[r][s] = _mm256_loadu_ps(at);
            hi[r][s] = _mm256_loadu_ps(at + 8);
        }
    }
    ds += co * g->pos;
    for (size_t i = 0; i < g->oh; i++)
        for (size_t j0 = 0; j0 < g->ow; j0 += LCD_LANES) {
            size_t rem = g->ow - j0;
            __m256i m0 = lcd_mask256(rem), m1 = lcd_mask256(rem > 8 ? rem - 8 : 0);
            __m256 d[LCD_DW_CH_256], x[LCD_DW_TAPS_256];
#pragma GCC unroll 2
            for (size_t r = 0; r < R; r++)
                d[r] = _mm256_maskload_ps(ds + r * g->pos + i * g->ow + j0, m0);
#pragma GCC unroll 2
            for (size_t s = 0; s < S; s++)
                x[s] = _mm256_maskload_ps(xs + off[s] + i * g->wp + j0, m0);
#pragma GCC unroll 2
            for (size_t r = 0; r < R; r++)
#pragma GCC unroll 2
                for (size_t s = 0; s < S; s++)
                    lo[r][s] = _mm256_fmadd_ps(d[r], x[s], lo[r][s]);
            if (rem <= 8)
                continue; /* the hi lanes would add exact zeros */
#pragma GCC unroll 2
            for (size_t r = 0; r < R; r++)
                d[r] = _mm256_maskload_ps(ds + r * g->pos + i * g->ow + j0 + 8, m1);
#pragma GCC unroll 2
            for (size_t s = 0; s < S; s++)
                x[s] = _mm256_maskload_ps(xs + off[s] + i * g->wp + j0 + 8, m1);
#pragma GCC unroll 2
            for (size_t r = 0; r < R; r++)
#pragma GCC unroll 2
                for (size_t s = 0; s < S; s++)
                    hi[r][s] = _mm256_fmadd_ps(d[r], x[s], hi[r][s]);
        }
#pragma GCC unroll 2
    for (size_t r = 0; r < R; r++)
#pragma GCC unroll 2
        for (size_t s = 0; s < S; s++) {
            float *at = acc + ((co + r) * g->taps + t0 + s) * LCD_LANES;
            _mm256_storeu_ps(at, lo[r][s]);
            _mm256_storeu_ps(at + 8, hi[r][s]);
        }
}

__attribute__((target("avx2,fma"))) static void
lcd_weight_grad_avx2(const struct lcd_geom *g, const float *xp, const float *dy, float *acc,
                     size_t n)
{
    enum { R = LCD_DW_CH_256, S = LCD_DW_TAPS_256 };
    for (size_t smp = 0; smp < n; smp++) {
        const float *xs = xp + smp * g->psize, *ds = dy + smp * g->osize;
        size_t co = 0;
        for (; co + R <= g->out_c; co += R) {
            size_t t = 0;
            for (; t + S <= g->taps; t += S)
                lcd_dw_block256(g, xs, ds, acc, co, t, R, S);
            for (; t < g->taps; t++)
                lcd_dw_block256(g, xs, ds, acc, co, t, R, 1);
        }
        for (; co < g->out_c; co++) {
            size_t t = 0;
            for (; t + S <= g->taps; t += S)
                lcd_dw_block256(g, xs, ds, acc, co, t, 1, S);
            for (; t < g->taps; t++)
                lcd_dw_block256(g, xs, ds, acc, co, t, 1, 1);
        }
    }
}

/* dyt [pos x out_c] = the transpose of one sample's dy [out_c x pos]. */
static void
lcd_transpose_dy(const struct lcd_geom *g, const float *ds, float *dyt)
{
    for (size_t co = 0; co < g->out_c; co++)
        for (size_t p = 0; p < g->pos; p++)
            dyt[p * g->out_c + co] = ds[co * g->pos + p];
}

/*
 * The many-channel weight gradient, one sample: the chains of channels co..co+16 CV by taps
 * t0..t0+S (sums acct [taps x out_c], in registers meanwhile) over the positions in order,
 * dy^T rows (dyt) times the broadcast input.
 */
LCD_X512 void
lcd_wgrad_block512(const struct lcd_geom *g, const float *xs, const float *dyt, float *acct,
                   size_t co, size_t t0, const size_t CV, const size_t S)
{
    size_t off[LCD_WG_TAPS];
    __m512 a[LCD_WG_TAPS][LCD_WIDE_VEC];
#pragma GCC unroll 12
    for (size_t s = 0; s < S; s++) {
        off[s] = lcd_tap_offset(g, t0 + s);
#pragma GCC unroll 4
        for (size_t v = 0; v < CV; v++)
            a[s][v] = _mm512_loadu_ps(acct + (t0 + s) * g->out_c + co + 16 * v);
    }
    const float *d = dyt + co;
    for (size_t i = 0; i < g->oh; i++) {
        const float *row = xs + i * g->wp;
        for (size_t j = 0; j < g->ow; j++, d += g->out_c) {
            __m512 dv[LCD_WIDE_VEC];
#pragma GCC unroll 4
            for (size_t v = 0; v < CV; v++)
                dv[v] = _mm512_loadu_ps(d + 16 * v);
#pragma GCC unroll 12
            for (size_t s = 0; s < S; s++) {
                __m512 xv = _mm512_set1_ps(row[j + off[s]]);
#pragma GCC unroll 4
                for (size_t v = 0; v < CV; v++)
                    a[s][v] = _mm512_fmadd_ps(dv[v], xv, a[s][v]);
            }
        }
    }
#pragma GCC unroll 12
    for (size_t s = 0; s < S; s++)
#pragma GCC unroll 4
        for (size_t v = 0; v < CV; v++)
            _mm512_storeu_ps(acct + (t0 + s) * g->out_c + co + 16 * v, a[s][v]);
}

/* Every tap of channels co..co+16 CV, S at a time, then one. */
LCD_X512 void
lcd_wgrad_taps512(const struct lcd_geom *g, const float *xs, const float *dyt, float *acct,
                  size_t co, const size_t CV, const size_t S)
{
    size_t t = 0;
    for (; t + S <= g->taps; t += S)
        lcd_wgrad_block512(g, xs, dyt, acct, co, t, CV, S);
    for (; t < g->taps; t++)
        lcd_wgrad_block512(g, xs, dyt, acct, co, t, CV, 1);
}

__attribute__((target("avx512f"))) static void
lcd_wide_grad_avx512(const struct lcd_geom *g, const float *xp, const float *dy, float *acct,
                     float *dyt, size_t n)
{
    for (size_t smp = 0; smp < n; smp++) {
        const float *xs = xp + smp * g->psize;
        lcd_transpose_dy(g, dy + smp * g->osize, dyt);
        size_t co = 0;
        for (; co + 64 <= g->out_c; co += 64)
            lcd_wgrad_taps512(g, xs, dyt, acct, co, 4, 6);
        for (; co + 32 <= g->out_c; co += 32)
            lcd_wgrad_taps512(g, xs, dyt, acct, co, 2, 12);
        for (; co < g->out_c; co += 16)
            lcd_wgrad_taps512(g, xs, dyt, acct, co, 1, 12);
    }
}

/* lcd_wide_block512() on AVX2: channels co..co+16 as two vectors of 8, P positions. */
LCD_X256 void
lcd_wide_block256(const struct lcd_geom *g, const float *wt, const float *b, const float *xs,
                  float *ys, size_t co, size_t p0, const size_t P)
{
    __m256 acc[LCD_WIDE_PIX_256][2];
    const float *base[LCD_WIDE_PIX_256];
#pragma GCC unroll 6
    for (size_t p = 0; p < P; p++) {
        base[p] = xs + (p0 + p) / g->ow * g->wp + (p0 + p) % g->ow;
        acc[p][0] = acc[p][1] = _mm256_setzero_ps();
    }
    const float *wr = wt + co;
    for (size_t c = 0; c < g->in_c; c++)
        for (size_t ki = 0; ki < g->k; ki++) {
            size_t off = (c * g->hp + ki) * g->wp;
            for (size_t kj = 0; kj < g->k; kj++, off++, wr += g->out_c) {
                __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8);
#pragma GCC unroll 6
                for (size_t p = 0; p < P; p++) {
                    __m256 xv = _mm256_set1_ps(base[p][off]);
                    acc[p][0] = _mm256_fmadd_ps(w0, xv, acc[p][0]);
                    acc[p][1] = _mm256_fmadd_ps(w1, xv, acc[p][1]);
                }
            }
        }
    __m256 b0 = _mm256_loadu_ps(b + co), b1 = _mm256_loadu_ps(b + co + 8);
#pragma GCC unroll 6
    for (size_t p = 0; p < P; p++) {
        float v[16];
        _mm256_storeu_ps(v, _mm256_add_ps(acc[p][0], b0));
        _mm256_storeu_ps(v + 8, _mm256_add_ps(acc[p][1], b1));
        for (size_t l = 0; l < 16; l++)
            ys[(co + l) * g->pos + p0 + p] = v[l];
    }
}

__attribute__((target("avx2,fma"))) static void
lcd_forward_wide256(const struct lcd_geom *g, const float *w, const float *xp, float *y, size_t n,
                    float *wt)
{
    lcd_pack_weights(g, w, wt);
    const float *b = w + g->out_c * g->taps;
    for (size_t s = 0; s < n; s++) {
        const float *xs = xp + s * g->psize;
        float *ys = y + s * g->osize;
        for (size_t co = 0; co < g->out_c; co += 16) {
            size_t p = 0;
            for (; p + LCD_WIDE_PIX_256 <= g->pos; p += LCD_WIDE_PIX_256)
                lcd_wide_block256(g, wt, b, xs, ys, co, p, LCD_WIDE_PIX_256);
            for (; p < g->pos; p++)
                lcd_wide_block256(g, wt, b, xs, ys, co, p, 1);
        }
    }
}

/* lcd_wgrad_block512() on AVX2: 16 channels as two vectors of 8, S taps. */
LCD_X256 void
lcd_wgrad_block256(const struct lcd_geom *g, const float *xs, const float *dyt, float *acct,
                   size_t co, size_t t0, const size_t S)
{
    size_t off[LCD_WG_TAPS];
    __m256 a[LCD_WG_TAPS][2];
#pragma GCC unroll 6
    for (size_t s = 0; s < S; s++) {
        off[s] = lcd_tap_offset(g, t0 + s);
        a[s][0] = _mm256_loadu_ps(acct + (t0 + s) * g->out_c + co);
        a[s][1] = _mm256_loadu_ps(acct + (t0 + s) * g->out_c + co + 8);
    }
    const float *d = dyt + co;
    for (size_t i = 0; i < g->oh; i++) {
        const float *row = xs + i * g->wp;
        for (size_t j = 0; j < g->ow; j++, d += g->out_c) {
            __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
#pragma GCC unroll 6
            for (size_t s = 0; s < S; s++) {
                __m256 xv = _mm256_set1_ps(row[j + off[s]]);
                a[s][0] = _mm256_fmadd_ps(d0, xv, a[s][0]);
                a[s][1] = _mm256_fmadd_ps(d1, xv, a[s][1]);
            }
        }
    }
#pragma GCC unroll 6
    for (size_t s = 0; s < S; s++) {
        _mm256_storeu_ps(acct + (t0 + s) * g->out_c + co, a[s][0]);
        _mm256_storeu_ps(acct + (t0 + s) * g->out_c + co + 8, a[s][1]);
    }
}

__attribute__((target("avx2,fma"))) static void
lcd_wide_grad_avx2(const struct lcd_geom *g, const float *xp, const float *dy, float *acct,
                   float *dyt, size_t n)
{
    for (size_t smp = 0; smp < n; smp++) {
        const float *xs = xp + smp * g->psize;
        lcd_transpose_dy(g, dy + smp * g->osize, dyt);
        for (size_t co = 0; co < g->out_c; co += 16) {
            size_t t = 0;
            for (; t + 6 <= g->taps; t += 6)
                lcd_wgrad_block256(g, xs, dyt, acct, co, t, 6);
            for (; t < g->taps; t++)
                lcd_wgrad_block256(g, xs, dyt, acct, co, t, 1);
        }
    }
}

#endif /* LAYER_CONV_DIRECT_X86 */

/*
 * Sparse output gradients. Behind a max pooling only one position of each window receives a
 * gradient, so most of dy is zero; these kernels visit the nonzero entries alone. A zero
 * term leaves an fma chain's value unchanged (for finite operands: the chain never holds -0,
 * as it starts from +0 and a rounded sum of nonzero terms is never -0), so they give the bits
 * of the dense kernels, with the same order per sum. Layouts are channel-last ([row][column]
 * [channel], in_c a multiple of 16) so that each term is a run of contiguous vectors.
 */

/*
 * The nonzero entries of one channel of one sample's dy, in position order: their values
 * and their positions' offsets pat[] in a channel-last padded plane ([hp][wp][in_c]).
 */
static size_t
lcd_nonzeros(const struct lcd_geom *g, const float *dc, const uint32_t *pat, uint32_t *at,
             float *val)
{
    size_t m = 0;
    for (size_t p = 0; p < g->pos; p++) {
        float v = dc[p];
        at[m] = pat[p];
        val[m] = v;
        m += v != 0.0f;
    }
    return m;
}

/* pat[i ow + j] = the offset of output position (i, j) in a channel-last padded plane. */
static void
lcd_offsets(const struct lcd_geom *g, uint32_t *pat)
{
    for (size_t i = 0; i < g->oh; i++)
        for (size_t j = 0; j < g->ow; j++)
            pat[i * g->ow + j] = (uint32_t)((i * g->wp + j) * g->in_c);
}

/* d[0..len) = fma(v, s[0..len), d[0..len)) (len a multiple of 16 for the vector versions). */
static inline __attribute__((always_inline)) void
lcd_axpy_portable(float *restrict d, const float *restrict s, float v, size_t len)
{
    for (size_t e = 0; e < len; e++)
        d[e] = fmaf(v, s[e], d[e]);
}

#if LAYER_CONV_DIRECT_X86
LCD_X512 void
lcd_axpy512(float *restrict d, const float *restrict s, float v, size_t len)
{
    __m512 vv = _mm512_set1_ps(v);
    for (size_t e = 0; e < len; e += 16)
        _mm512_storeu_ps(d + e,
                         _mm512_fmadd_ps(vv, _mm512_loadu_ps(s + e), _mm512_loadu_ps(d + e)));
}

LCD_X256 void
lcd_axpy256(float *restrict d, const float *restrict s, float v, size_t len)
{
    __m256 vv = _mm256_set1_ps(v);
    for (size_t e = 0; e < len; e += 8)
        _mm256_storeu_ps(d + e,
                         _mm256_fmadd_ps(vv, _mm256_loadu_ps(s + e), _mm256_loadu_ps(d + e)));
}
#endif

/* xh [hp x wp x in_c] = the padded sample xs [in_c x hp x wp], channel-last. */
static void
lcd_channel_last(const struct lcd_geom *g, const float *xs, float *xh)
{
    for (size_t c = 0; c < g->in_c; c++)
        for (size_t r = 0; r < g->hp * g->wp; r++)
            xh[r * g->in_c + c] = xs[c * g->hp * g->wp + r];
}

/* Scratch of the sparse kernels after their sums: a channel-last plane and the nonzeros. */
struct lcd_sparse {
    float *plane, *val;
    uint32_t *at, *pat; /* the nonzeros' offsets, every position's (lcd_offsets()) */
};

static struct lcd_sparse
lcd_sparse_scratch(const struct lcd_geom *g, float *after)
{
    struct lcd_sparse sp = { .plane = after, .val = after + g->psize };
    sp.at = (uint32_t *)(void *)(sp.val + g->pos);
    sp.pat = sp.at + g->pos;
    return sp;
}

/*
 * The weight gradient from nonzero dy: sums acc [out_c x k x k x in_c] (cleared by the
 * caller), per entry over the samples and their positions in order. AXPY is the vector
 * kernel of the set.
 */
#define LCD_SPARSE_GRAD(AXPY, NZ)                                                                  \
    do {                                                                                           \
        lcd_offsets(g, sp.pat);                                                                    \
        size_t kc = g->k * g->in_c;                                                                \
        for (size_t smp = 0; smp < n; smp++) {                                                     \
            lcd_channel_last(g, xp + smp * g->psize, sp.plane);                                    \
            for (size_t co = 0; co < g->out_c; co++) {                                             \
                size_t m = NZ(g, dy + smp * g->osize + co * g->pos, sp.pat, sp.at, sp.val);        \
                float *ac = acc + co * g->taps;                                                    \
                for (size_t q = 0; q < m; q++)                                                     \
                    for (size_t ki = 0; ki < g->k; ki++)                                           \
                        AXPY(ac + ki * kc, sp.plane + sp.at[q] + ki * g->wp * g->in_c, sp.val[q],  \
                             kc);                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/*
 * Adds the m nonzero dy entries of one output channel, times its weights wc [k x k x in_c],
 * to the channel-last plane at the k x k positions each reached: entry by entry in order.
 */
#define LCD_SCATTER(AXPY)                                                                          \
    do {                                                                                           \
        size_t kc = g->k * g->in_c, rs = g->wp * g->in_c;                                          \
        for (size_t q = 0; q < m; q++)                                                             \
            for (size_t ki = 0; ki < g->k; ki++)                                                   \
                AXPY(plane + at[q] + ki * rs, wc + ki * kc, val[q], kc);                           \
    } while (0)

static void
lcd_scatter_portable(const struct lcd_geom *g, float *plane, const uint32_t *at, const float *val,
                     size_t m, const float *wc)
{
    LCD_SCATTER(lcd_axpy_portable);
}

#if LAYER_CONV_DIRECT_X86
__attribute__((target("avx2,fma"))) static void
lcd_scatter256(const struct lcd_geom *g, float *plane, const uint32_t *at, const float *val,
               size_t m, const float *wc)
{
    LCD_SCATTER(lcd_axpy256);
}

/* Rows of kernel taps and vectors of 16 input channels per block of the sparse kernels. */
#define LCD_SPG_ROWS 3
#define LCD_SPG_VEC  8

/* Kernel rows and columns of a scatter block (of 2 vectors of 16 input channels). */
#define LCD_SC_ROWS 2
#define LCD_SC_COLS 5

/*
 * lcd_scatter_portable() on AVX-512 for K x K kernels: the weights of kernel rows
 * ki0 - NR + 1..ki0, every column, input channels 16 cv0..16 cv0 + 32 in registers over the
 * entries; per entry, 2 NR K independent loads, fmas and stores of the plane. Blocks of
 * kernel rows run last to first and take every entry in order, so that each plane element
 * still receives its terms in entry order (a later kernel row meets an earlier row of dy).
 */
LCD_X512 void
lcd_scatter_block512(const struct lcd_geom *g, float *plane, const uint32_t *at, const float *val,
                     size_t m, const float *wc, size_t ki0, size_t cv0, const size_t NR,
                     const size_t K)
{
    size_t C = g->in_c, rs = g->wp * C;
    __m512 wv[LCD_SC_ROWS][2][LCD_SC_COLS];
#pragma GCC unroll 2
    for (size_t r = 0; r < NR; r++)
#pragma GCC unroll 2
        for (size_t v = 0; v < 2; v++)
#pragma GCC unroll 5
            for (size_t kj = 0; kj < K; kj++)
                wv[r][v][kj] = _mm512_loadu_ps(wc + ((ki0 - r) * K + kj) * C + 16 * (cv0 + v));
    for (size_t q = 0; q < m; q++) {
        float *d = plane + at[q] + 16 * cv0;
        __m512 x = _mm512_set1_ps(val[q]);
#pragma GCC unroll 2
        for (size_t r = 0; r < NR; r++)
#pragma GCC unroll 2
            for (size_t v = 0; v < 2; v++)
#pragma GCC unroll 5
                for (size_t kj = 0; kj < K; kj++) {
                    float *e = d + (ki0 - r) * rs + kj * C + 16 * v;
                    _mm512_storeu_ps(e, _mm512_fmadd_ps(x, wv[r][v][kj], _mm512_loadu_ps(e)));
                }
    }
}

/* Every kernel row of a K x K kernel, two rows a block, last to first. */
LCD_X512 void
lcd_scatter_rows512(const struct lcd_geom *g, float *plane, const uint32_t *at, const float *val,
                    size_t m, const float *wc, const size_t K)
{
    for (size_t cv = 0; cv < g->in_c / 16; cv += 2) {
        size_t end = K;
        for (; end >= 2; end -= 2)
            lcd_scatter_block512(g, plane, at, val, m, wc, end - 1, cv, 2, K);
        if (end == 1)
            lcd_scatter_block512(g, plane, at, val, m, wc, 0, cv, 1, K);
    }
}

/* Blocks of 5 x 5 and 3 x 3 kernels with a multiple of 32 input channels; else lcd_axpy512(). */
LCD_X512 void
lcd_scatter512(const struct lcd_geom *g, float *plane, const uint32_t *at, const float *val,
               size_t m, const float *wc)
{
    if (g->in_c % 32 == 0 && g->k == 5)
        lcd_scatter_rows512(g, plane, at, val, m, wc, 5);
    else if (g->in_c % 32 == 0 && g->k == 3)
        lcd_scatter_rows512(g, plane, at, val, m, wc, 3);
    else
        LCD_SCATTER(lcd_axpy512);
}
#endif

/*
 * The input gradient from nonzero dy, per sample: the channel-last padded plane of dx
 * gathers, per dy entry (channel, then position, in order), that entry times the weights
 * wr [out_c x k x k x in_c] at the k x k positions it reached; dx is its interior + 0 (the
 * transposed layer's zero bias).
 */
#define LCD_SPARSE_INPUT_GRAD(SCATTER, NZ)                                                         \
    do {                                                                                           \
        lcd_offsets(g, sp.pat);                                                                    \
        size_t p = pad, h = g->hp - 2 * p, w = g->wp - 2 * p;                                      \
        for (size_t smp = 0; smp < n; smp++) {                                                     \
            memset(sp.plane, 0, g->psize * sizeof *sp.plane);                                      \
            for (size_t co = 0; co < g->out_c; co++) {                                             \
                size_t m = NZ(g, dy + smp * g->osize + co * g->pos, sp.pat, sp.at, sp.val);        \
                SCATTER(g, sp.plane, sp.at, sp.val, m, wr + co * g->taps);                         \
            }                                                                                      \
            float *ds = dx + smp * g->in_c * h * w;                                                \
            for (size_t c = 0; c < g->in_c; c++)                                                   \
                for (size_t a = 0; a < h; a++)                                                     \
                    for (size_t b = 0; b < w; b++)                                                 \
                        ds[(c * h + a) * w + b] =                                                  \
                            sp.plane[((a + p) * g->wp + b + p) * g->in_c + c] + 0.0f;              \
        }                                                                                          \
    } while (0)

static void
lcd_sparse_grad_portable(const struct lcd_geom *g, const float *xp, const float *dy, float *acc,
                         struct lcd_sparse sp, size_t n)
{
    LCD_SPARSE_GRAD(lcd_axpy_portable, lcd_nonzeros);
}

static void
lcd_sparse_input_grad_portable(const struct lcd_geom *g, const float *wr, const float *dy,
                               float *dx, struct lcd_sparse sp, size_t n, size_t pad)
{
    LCD_SPARSE_INPUT_GRAD(lcd_scatter_portable, lcd_nonzeros);
}

#if LAYER_CONV_DIRECT_X86
/*
 * lcd_nonzeros() with AVX-512: per 16 positions a mask of the nonzero values (NaN
 * included, as v != 0 there) compresses values and offsets; pat holds the offsets of every
 * position ((i wp + j) in_c).
 */
LCD_X512 size_t
lcd_nonzeros512(const struct lcd_geom *g, const float *dc, const uint32_t *pat, uint32_t *at,
                float *val)
{
    size_t m = 0;
    for (size_t p = 0; p < g->pos; p += 16) {
        __mmask16 in = lcd_mask512(g->pos - p);
        __m512 v = _mm512_maskz_loadu_ps(in, dc + p);
        __mmask16 nz = _mm512_mask_cmp_ps_mask(in, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        __m512i o = _mm512_maskz_loadu_epi32(in, pat + p);
        _mm512_mask_compressstoreu_ps(val + m, nz, v);
        _mm512_mask_compressstoreu_epi32(at + m, nz, o);
        m += (size_t)__builtin_popcount((unsigned)nz);
    }
    return m;
}

/*
 * The sparse weight gradient of one output channel and sample, its sums ac [k x k x in_c] in
 * registers meanwhile for kernel rows ki0..ki0+nr by the V vectors from float e0 of a row:
 * per nonzero dy entry, one broadcast and nr V fmas with the input it reached.
 */
LCD_X512 void
lcd_spg_block512(const struct lcd_geom *g, const float *plane, const uint32_t *at, const float *val,
                 size_t m, float *ac, size_t ki0, size_t nr, size_t e0, const size_t V)
{
    size_t rs = g->wp * g->in_c, kc = g->k * g->in_c;
    __m512 a[LCD_SPG_ROWS][LCD_SPG_VEC];
#pragma GCC unroll 3
    for (size_t r = 0; r < LCD_SPG_ROWS; r++)
#pragma GCC unroll 8
        for (size_t v = 0; v < V; v++)
            a[r][v] =
                r < nr ? _mm512_loadu_ps(ac + (ki0 + r) * kc + e0 + 16 * v) : _mm512_setzero_ps();
    plane += ki0 * rs + e0;
    for (size_t q = 0; q < m; q++) {
        const float *b = plane + at[q];
        __m512 d = _mm512_set1_ps(val[q]);
#pragma GCC unroll 3
        for (size_t r = 0; r < LCD_SPG_ROWS; r++)
            if (r < nr)
#pragma GCC unroll 8
                for (size_t v = 0; v < V; v++)
                    a[r][v] = _mm512_fmadd_ps(d, _mm512_loadu_ps(b + r * rs + 16 * v), a[r][v]);
    }
#pragma GCC unroll 3
    for (size_t r = 0; r < LCD_SPG_ROWS; r++)
        if (r < nr)
#pragma GCC unroll 8
            for (size_t v = 0; v < V; v++)
                _mm512_storeu_ps(ac + (ki0 + r) * kc + e0 + 16 * v, a[r][v]);
}

__attribute__((target("avx512f"))) static void
lcd_sparse_grad_avx512(const struct lcd_geom *g, const float *xp, const float *dy, float *acc,
                       struct lcd_sparse sp, size_t n)
{
    size_t kc = g->k * g->in_c;
    lcd_offsets(g, sp.pat);
    for (size_t smp = 0; smp < n; smp++) {
        lcd_channel_last(g, xp + smp * g->psize, sp.plane);
        for (size_t co = 0; co < g->out_c; co++) {
            size_t m = lcd_nonzeros512(g, dy + smp * g->osize + co * g->pos, sp.pat, sp.at, sp.val);
            float *ac = acc + co * g->taps;
            for (size_t ki0 = 0; ki0 < g->k; ki0 += LCD_SPG_ROWS) {
                size_t nr = g->k - ki0 < LCD_SPG_ROWS ? g->k - ki0 : LCD_SPG_ROWS, e0 = 0;
                for (; e0 + 16 * 8 <= kc; e0 += 16 * 8)
                    lcd_spg_block512(g, sp.plane, sp.at, sp.val, m, ac, ki0, nr, e0, 8);
                for (; e0 + 16 * 4 <= kc; e0 += 16 * 4)
                    lcd_spg_block512(g, sp.plane, sp.at, sp.val, m, ac, ki0, nr, e0, 4);
                for (; e0 + 16 * 2 <= kc; e0 += 16 * 2)
                    lcd_spg_block512(g, sp.plane, sp.at, sp.val, m, ac, ki0, nr, e0, 2);
                for (; e0 < kc; e0 += 16)
                    lcd_spg_block512(g, sp.plane, sp.at, sp.val, m, ac, ki0, nr, e0, 1);
            }
        }
    }
}

__attribute__((target("avx2,fma"))) static void
lcd_sparse_grad_avx2(const struct lcd_geom *g, const float *xp, const float *dy, float *acc,
                     struct lcd_sparse sp, size_t n)
{
    LCD_SPARSE_GRAD(lcd_axpy256, lcd_nonzeros);
}

__attribute__((target("avx512f"))) static void
lcd_sparse_input_grad_avx512(const struct lcd_geom *g, const float *wr, const float *dy, float *dx,
                             struct lcd_sparse sp, size_t n, size_t pad)
{
    LCD_SPARSE_INPUT_GRAD(lcd_scatter512, lcd_nonzeros512);
}

__attribute__((target("avx2,fma"))) static void
lcd_sparse_input_grad_avx2(const struct lcd_geom *g, const float *wr, const float *dy, float *dx,
                           struct lcd_sparse sp, size_t n, size_t pad)
{
    LCD_SPARSE_INPUT_GRAD(lcd_scatter256, lcd_nonzeros);
}
#endif

void
layer_conv_direct_forward(const struct layer *l, const float *w, const float *xp, float *y,
                          size_t n, float *pack, enum kernel_isa max)
{
    struct lcd_geom g = lcd_geom(l);
    enum kernel_isa isa = kernel_isa_pick(max);
#if LAYER_CONV_DIRECT_X86
    if (isa != KERNEL_ISA_PORTABLE && g.in_c > LCD_MAX_IN_C && g.out_c % 16 == 0) {
        if (isa == KERNEL_ISA_AVX512)
            lcd_forward_wide512(&g, w, xp, y, n, pack);
        else
            lcd_forward_wide256(&g, w, xp, y, n, pack);
        return;
    }
    if (isa == KERNEL_ISA_AVX512)
        lcd_pack_weights(&g, w, pack);
#else
    (void)pack;
#endif
    for (size_t s = 0; s < n; s++) {
        const float *xs = xp + s * g.psize;
        float *ys = y + s * g.osize;
        switch (isa) {
#if LAYER_CONV_DIRECT_X86
        case KERNEL_ISA_AVX512:
            lcd_forward_avx512(&g, w, pack, xs, ys);
            break;
        case KERNEL_ISA_AVX2:
            lcd_forward_avx2(&g, w, xs, ys);
            break;
#endif
        default:
            lcd_forward_portable(&g, w, xs, ys);
        }
    }
}

/* Whether dy (n samples) is at most half nonzero, for a layer the sparse kernels serve. */
int
layer_conv_direct_sparse(const struct layer *l, const float *dy, size_t n)
{
    if (l->kind != LAYER_CONV || l->stride != 1 || l->in.c % 16 != 0 || l->out.c <= LCD_MAX_IN_C)
        return 0;
    size_t total = n * layer_shape_size(l->out), nonzero = 0;
    for (size_t e = 0; e < total; e++)
        nonzero += dy[e] != 0.0f;
    return 2 * nonzero <= total;
}

size_t
layer_conv_direct_sparse_floats(const struct layer *l)
{
    struct lcd_geom g = lcd_geom(l);
    return g.out_c * g.taps + g.psize + 3 * g.pos;
}

/* The sparse weight gradient: sums [out_c x k x k x in_c] in acc, then dw. */
static void
lcd_sparse_grad(const struct lcd_geom *g, const float *xp, const float *dy, float *dw, size_t n,
                float *acc, enum kernel_isa isa)
{
    struct lcd_sparse sp = lcd_sparse_scratch(g, acc + g->out_c * g->taps);
    memset(acc, 0, g->out_c * g->taps * sizeof *acc);
    switch (isa) {
#if LAYER_CONV_DIRECT_X86
    case KERNEL_ISA_AVX512:
        lcd_sparse_grad_avx512(g, xp, dy, acc, sp, n);
        break;
    case KERNEL_ISA_AVX2:
        lcd_sparse_grad_avx2(g, xp, dy, acc, sp, n);
        break;
#endif
    default:
        lcd_sparse_grad_portable(g, xp, dy, acc, sp, n);
    }
    size_t kk = g->k * g->k;
    for (size_t co = 0; co < g->out_c; co++)
        for (size_t c = 0; c < g->in_c; c++)
            for (size_t t = 0; t < kk; t++)
                dw[co * g->taps + c * kk + t] = acc[co * g->taps + t * g->in_c + c];
}

/* The many-channel weight gradient (out_c a multiple of 16): sums [taps x out_c] in acc. */
static void
lcd_wide_grad(const struct lcd_geom *g, const float *xp, const float *dy, float *dw, size_t n,
              float *acc, enum kernel_isa isa)
{
    float *dyt = acc + g->taps * g->out_c;
    switch (isa) {
#if LAYER_CONV_DIRECT_X86
    case KERNEL_ISA_AVX512:
    case KERNEL_ISA_AVX2:
        memset(acc, 0, g->taps * g->out_c * sizeof *acc);
        if (isa == KERNEL_ISA_AVX512)
            lcd_wide_grad_avx512(g, xp, dy, acc, dyt, n);
        else
            lcd_wide_grad_avx2(g, xp, dy, acc, dyt, n);
        for (size_t co = 0; co < g->out_c; co++)
            for (size_t t = 0; t < g->taps; t++)
                dw[co * g->taps + t] = acc[t * g->out_c + co];
        return;
#endif
    default:
        (void)dyt;
        lcd_wide_grad_portable(g, xp, dy, dw, n);
    }
}

/* The weight gradient, on the sparse kernels when sparse is set and they serve l. */
static void
lcd_weight_grad_run(const struct layer *l, const float *xp, const float *dy, float *dw, size_t n,
                    float *acc, enum kernel_isa max, int sparse)
{
    struct lcd_geom g = lcd_geom(l);
    if (g.in_c > LCD_MAX_IN_C && sparse) {
        lcd_sparse_grad(&g, xp, dy, dw, n, acc, kernel_isa_pick(max));
        return;
    }
    if (g.in_c > LCD_MAX_IN_C) {
        lcd_wide_grad(&g, xp, dy, dw, n, acc, kernel_isa_pick(max));
        return;
    }
    memset(acc, 0, g.out_c * g.taps * LCD_LANES * sizeof *acc);
    switch (kernel_isa_pick(max)) {
#if LAYER_CONV_DIRECT_X86
    case KERNEL_ISA_AVX512:
        lcd_weight_grad_avx512(&g, xp, dy, acc, n);
        break;
    case KERNEL_ISA_AVX2:
        lcd_weight_grad_avx2(&g, xp, dy, acc, n);
        break;
#endif
    default:
        lcd_weight_grad_portable(&g, xp, dy, acc, n);
    }
    for (size_t e = 0; e < g.out_c * g.taps; e++)
        dw[e] = lcd_tree16(acc + e * LCD_LANES);
}

void
layer_conv_direct_input_grad_sparse(const struct layer *l, const float *w, const float *dy,
                                    float *dx, size_t n, float *scratch, enum kernel_isa max)
{
    struct lcd_geom g = lcd_geom(l);
    float *wr = scratch;
    struct lcd_sparse sp = lcd_sparse_scratch(&g, wr + g.out_c * g.taps);
    size_t kk = g.k * g.k;
    for (size_t co = 0; co < g.out_c; co++)
        for (size_t c = 0; c < g.in_c; c++)
            for (size_t t = 0; t < kk; t++)
                wr[co * g.taps + t * g.in_c + c] = w[co * g.taps + c * kk + t];
    switch (kernel_isa_pick(max)) {
#if LAYER_CONV_DIRECT_X86
    case KERNEL_ISA_AVX512:
        lcd_sparse_input_grad_avx512(&g, wr, dy, dx, sp, n, l->pad);
        break;
    case KERNEL_ISA_AVX2:
        lcd_sparse_input_grad_avx2(&g, wr, dy, dx, sp, n, l->pad);
        break;
#endif
    default:
        lcd_sparse_input_grad_portable(&g, wr, dy, dx, sp, n, l->pad);
    }
}

void
layer_conv_direct_weight_grad(const struct layer *l, const float *xp, const float *dy, float *dw,
                              size_t n, float *acc, enum kernel_isa max)
{
    lcd_weight_grad_run(l, xp, dy, dw, n, acc, max, layer_conv_direct_sparse(l, dy, n));
}

void
layer_conv_direct_weight_grad_dense(const struct layer *l, const float *xp, const float *dy,
                                    float *dw, size_t n, float *acc, enum kernel_isa max)
{
    lcd_weight_grad_run(l, xp, dy, dw, n, acc, max, 0);
}
