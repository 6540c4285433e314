/*
 * layer and net: finite-difference gradient checks of every layer kind, a hand-computed
 * convolution, the FedAvg CNN's parameter count, a CNN training step against finite
 * differences and its bounded, allocation-free workspace.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "clients/layer.h"
#include "clients/layer_conv_direct.h"
#include "clients/model.h"
#include "clients/net.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

#define LC_MAX 1024 /* floats of the largest input, output or parameter vector below */

/* Distinct values 0.05 apart, none within 0.025 of zero: no pooling tie or ReLU kink is
 * within a finite-difference step of 1e-2. */
static void
lc_fill_distinct(float *x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        x[j] = (float)(0.05 * (double)((j * 37) % n) - 0.05 * (double)(n / 2) + 0.025);
}

/* L = sum_j r_j y_j in double, r_j = sin(1.3 j + 0.2): dL/dy = r. */
static double
lc_loss(const struct layer *l, const float *w, const float *x, size_t n, float *y, float *saved,
        float *scratch)
{
    layer_forward(l, w, x, y, n, saved, scratch);
    double s = 0;
    for (size_t j = 0; j < n * layer_shape_size(l->out); j++)
        s += sin(1.3 * (double)j + 0.2) * (double)y[j];
    return s;
}

struct lc_case {
    const char *what;
    enum layer_kind kind;
    struct layer_shape in;
    size_t out, kernel, stride, pad, groups;
    float h;      /* finite-difference step */
    int last;     /* recurrent: last step only */
    size_t vocab; /* embedding: rows of the table (x holds token indices) */
};

static const struct lc_case lc_cases[] = {
    { "dense", LAYER_DENSE, { 3, 2, 1 }, 4, 0, 0, 0, 0, 1e-2f, 0, 0 },
    { "conv 3x3 same", LAYER_CONV, { 2, 5, 5 }, 3, 3, 1, 1, 0, 1e-2f, 0, 0 },
    { "conv 3x3 stride 2", LAYER_CONV, { 2, 6, 5 }, 2, 3, 2, 0, 0, 1e-2f, 0, 0 },
    { "conv 5x5 stride 2 pad 2", LAYER_CONV, { 1, 7, 6 }, 2, 5, 2, 2, 0, 1e-2f, 0, 0 },
    /* Direct kernels (few input channels, stride 1): rows longer than one 16-lane vector. */
    { "conv direct, rows of 18", LAYER_CONV, { 1, 3, 18 }, 2, 3, 1, 1, 0, 1e-2f, 0, 0 },
    { "conv direct, 3 channels, rows of 17", LAYER_CONV, { 3, 4, 17 }, 2, 3, 1, 1, 0, 1e-2f, 0, 0 },
    { "conv direct, 5 channels to 16", LAYER_CONV, { 5, 3, 3 }, 16, 3, 1, 1, 0, 1e-2f, 0, 0 },
    /* Input gradient as the transposed layer's forward pass (a multiple of 16 channels in). */
    { "conv direct, 16 channels to 5", LAYER_CONV, { 16, 3, 3 }, 5, 3, 1, 1, 0, 1e-2f, 0, 0 },
    { "max pool 2x2", LAYER_MAXPOOL, { 2, 4, 4 }, 0, 2, 2, 0, 0, 1e-2f, 0, 0 },
    { "max pool 2x2 odd sides", LAYER_MAXPOOL, { 2, 5, 3 }, 0, 2, 2, 0, 0, 1e-2f, 0, 0 },
    { "max pool 3x3 stride 2", LAYER_MAXPOOL, { 2, 5, 5 }, 0, 3, 2, 0, 0, 1e-2f, 0, 0 },
    { "average pool 3x3 stride 2", LAYER_AVGPOOL, { 2, 5, 5 }, 0, 3, 2, 0, 0, 1e-2f, 0, 0 },
    { "relu", LAYER_RELU, { 3, 2, 2 }, 0, 0, 0, 0, 0, 1e-2f, 0, 0 },
    { "group norm 2 groups", LAYER_GNORM, { 4, 3, 3 }, 0, 0, 0, 0, 2, 1e-3f, 0, 0 },
    { "group norm 1 group", LAYER_GNORM, { 2, 2, 3 }, 0, 0, 0, 0, 1, 1e-3f, 0, 0 },
    { "group norm 4 groups", LAYER_GNORM, { 4, 2, 2 }, 0, 0, 0, 0, 4, 1e-3f, 0, 0 },
    { .what = "embedding",
      .kind = LAYER_EMBED,
      .in = { 1, 1, 5 },
      .out = 3,
      .h = 1e-2f,
      .vocab = 4 },
    { .what = "lstm, every step", .kind = LAYER_LSTM, .in = { 1, 4, 3 }, .out = 3, .h = 1e-3f },
    { .what = "lstm, last step",
      .kind = LAYER_LSTM,
      .in = { 1, 5, 2 },
      .out = 4,
      .h = 1e-3f,
      .last = 1 },
    { .what = "gru, every step", .kind = LAYER_GRU, .in = { 1, 4, 3 }, .out = 3, .h = 1e-3f },
    { .what = "gru, last step",
      .kind = LAYER_GRU,
      .in = { 1, 5, 2 },
      .out = 4,
      .h = 1e-3f,
      .last = 1 },
};

static void
lc_build(const struct lc_case *c, struct layer *l)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = -1;
    switch (c->kind) {
    case LAYER_DENSE:
        rc = layer_dense_init(l, c->in, c->out, &eb);
        break;
    case LAYER_CONV:
        rc = layer_conv_init(l, c->in, c->out, c->kernel, c->stride, c->pad, &eb);
        break;
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
        rc = layer_pool_init(l, c->kind, c->in, c->kernel, c->stride, &eb);
        break;
    case LAYER_RELU:
        rc = layer_relu_init(l, c->in, &eb);
        break;
    case LAYER_GNORM:
        rc = layer_gnorm_init(l, c->in, c->groups, &eb);
        break;
    case LAYER_EMBED:
        rc = layer_embed_init(l, c->in.w, c->vocab, c->out, &eb);
        break;
    case LAYER_LSTM:
    case LAYER_GRU:
        rc = layer_rnn_init(l, c->kind, c->in, c->out, c->last, &eb);
        break;
    }
    ck_assert_msg(rc == 0, "%s: %s", c->what, eb.msg);
}

/*
 * Central differences of L with step h against layer_backward() for every input and
 * parameter. The layers but group norm are piecewise linear in each coordinate, so the
 * difference is exact up to float rounding of y (about 1e-7 relative per term, so 1e-5 over
 * the sums here, divided by 2h); group norm adds a truncation error of order h^2. The
 * tolerance, 3e-3 of the largest component, is about 5 times that budget.
 */
START_TEST(layer_gradient_matches_finite_differences)
{
    const struct lc_case *c = &lc_cases[_i];
    const size_t n = 2;
    struct layer l;
    lc_build(c, &l);
    size_t nin = n * layer_shape_size(l.in), nout = n * layer_shape_size(l.out);
    ck_assert_uint_le(nin, LC_MAX);
    ck_assert_uint_le(nout, LC_MAX);
    ck_assert_uint_le(l.n_params, LC_MAX);
    static float x[LC_MAX], w[LC_MAX], y[LC_MAX], r[LC_MAX], dx[LC_MAX], dw[LC_MAX];
    static float scratch[4096], saved[4096];
    ck_assert_uint_le(layer_scratch(&l, n), 4096);
    lc_fill_distinct(x, nin);
    /* Token indices mid-way between rows: a step of h changes no row, so dx = 0. */
    for (size_t j = 0; c->kind == LAYER_EMBED && j < nin; j++)
        x[j] = (float)((j * 3) % c->vocab) + 0.5f;
    ck_assert_uint_le(n * l.saved, 4096);
    for (size_t i = 0; i < l.n_params; i++)
        w[i] = (float)(0.5 * cos(2.385 * (double)i + 0.7));
    if (c->kind == LAYER_GNORM)
        for (size_t i = 0; i < l.in.c; i++)
            w[i] += 1.0f;
    layer_forward(&l, w, x, y, n, saved, scratch);
    for (size_t j = 0; j < nout; j++)
        r[j] = (float)sin(1.3 * (double)j + 0.2);
    for (size_t i = 0; i < LC_MAX; i++)
        dw[i] = dx[i] = 1e30f; /* must be overwritten */
    layer_backward(&l, w, x, y, r, dx, dw, n, saved, scratch);

    static float yt[LC_MAX];
    for (int part = 0; part < 2; part++) {
        float *v = part == 0 ? x : w;
        const float *ana = part == 0 ? dx : dw;
        size_t count = part == 0 ? nin : l.n_params;
        double scale = 1.0;
        for (size_t i = 0; i < count; i++)
            scale = fmax(scale, fabs((double)ana[i]));
        for (size_t i = 0; i < count; i++) {
            float keep = v[i];
            v[i] = keep + c->h;
            double up = (double)v[i] - (double)keep;
            double lp = lc_loss(&l, w, x, n, yt, saved, scratch);
            v[i] = keep - c->h;
            double down = (double)keep - (double)v[i];
            double lm = lc_loss(&l, w, x, n, yt, saved, scratch);
            v[i] = keep;
            double fd = (lp - lm) / (up + down);
            ck_assert_msg(fabs(fd - (double)ana[i]) <= 3e-3 * scale,
                          "%s: d%s[%zu] is %.7g, finite differences %.7g", c->what,
                          part == 0 ? "x" : "w", i, (double)ana[i], fd);
        }
    }
}
END_TEST

/*
 * A 3x3 image, one 2x2 kernel [[1, 0], [0, -1]] and bias 0.5, no padding:
 * y = x[i][j] - x[i+1][j+1] + 0.5. Then a 3x3 kernel of ones over 2 channels (the second
 * scaled by 10 through its taps) with padding 1 and stride 2: each output is the sum of a
 * 2x2 corner of the image.
 */
/* 2x2 max pooling sends a window's gradient to the first of its tied maxima only. */
START_TEST(maxpool_ties_first)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct layer l;
    ck_assert_int_eq(layer_pool_init(&l, LAYER_MAXPOOL, (struct layer_shape){ 1, 2, 4 }, 2, 2, &eb),
                     0);
    static const float x[8] = { 1, 3, 5, 5, 3, 0, 5, 5 };
    static const float dy[2] = { 2, -1 };
    static const float e[8] = { 0, 2, -1, 0, 0, 0, 0, 0 };
    float y[2], dx[8];
    layer_forward(&l, NULL, x, y, 1, NULL, NULL);
    ck_assert_float_eq(y[0], 3);
    ck_assert_float_eq(y[1], 5);
    layer_backward(&l, NULL, x, y, dy, dx, NULL, 1, NULL, NULL);
    for (size_t i = 0; i < 8; i++)
        ck_assert_float_eq(dx[i], e[i]);
}
END_TEST

/*
 * 2x2 max pooling on rows of 4 windows or more (the four-lane loops, then the scalar tail):
 * values from {0, 1, 2} so that most windows hold ties; each window's maximum, and its dy on
 * the first tap holding it in row-major order, zero on the others.
 */
START_TEST(maxpool_2x2_rows_ties_first)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct layer l;
    ck_assert_int_eq(
        layer_pool_init(&l, LAYER_MAXPOOL, (struct layer_shape){ 3, 6, 22 }, 2, 2, &eb), 0);
    enum { N = 2, IN = 3 * 6 * 22, OUT = 3 * 3 * 11 };
    static float x[N * IN], y[N * OUT], dy[N * OUT], dx[N * IN];
    for (size_t i = 0; i < N * IN; i++)
        x[i] = (float)(((uint32_t)i * 2654435761u >> 13) % 3);
    for (size_t i = 0; i < N * OUT; i++)
        dy[i] = (float)i + 0.5f;
    layer_forward(&l, NULL, x, y, N, NULL, NULL);
    layer_backward(&l, NULL, x, y, dy, dx, NULL, N, NULL, NULL);
    for (size_t pl = 0; pl < N * 3; pl++)
        for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 11; j++) {
                size_t o = (pl * 3 + i) * 11 + j, at[4];
                for (size_t t = 0; t < 4; t++)
                    at[t] = (pl * 6 + 2 * i + t / 2) * 22 + 2 * j + t % 2;
                float m = x[at[0]];
                size_t first = 0;
                for (size_t t = 1; t < 4; t++)
                    if (x[at[t]] > m) {
                        m = x[at[t]];
                        first = t;
                    }
                ck_assert_float_eq(y[o], m);
                for (size_t t = 0; t < 4; t++)
                    ck_assert_float_eq(dx[at[t]], t == first ? dy[o] : 0.0f);
            }
}
END_TEST

START_TEST(conv_hand_computed)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct layer l;
    float scratch[256], y[16];
    static const float x1[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 10 };
    static const float w1[5] = { 1, 0, 0, -1, 0.5f };
    ck_assert_int_eq(layer_conv_init(&l, (struct layer_shape){ 1, 3, 3 }, 1, 2, 1, 0, &eb), 0);
    ck_assert_uint_eq(l.n_params, 5);
    ck_assert_uint_eq(l.out.h, 2);
    ck_assert_uint_eq(l.out.w, 2);
    layer_forward(&l, w1, x1, y, 1, NULL, scratch);
    static const float e1[4] = { -3.5f, -3.5f, -3.5f, -4.5f };
    for (size_t i = 0; i < 4; i++)
        ck_assert_float_eq(y[i], e1[i]);

    float x2[18], w2[19];
    for (size_t i = 0; i < 9; i++) {
        x2[i] = (float)(i + 1);
        x2[9 + i] = (float)(i + 1);
    }
    for (size_t i = 0; i < 18; i++)
        w2[i] = i < 9 ? 1.0f : 10.0f;
    w2[18] = 0.0f;
    ck_assert_int_eq(layer_conv_init(&l, (struct layer_shape){ 2, 3, 3 }, 1, 3, 2, 1, &eb), 0);
    ck_assert_uint_eq(l.out.h, 2);
    layer_forward(&l, w2, x2, y, 1, NULL, scratch);
    static const float e2[4] = { 12 * 11, 16 * 11, 24 * 11, 28 * 11 };
    for (size_t i = 0; i < 4; i++)
        ck_assert_float_eq(y[i], e2[i]);
}
END_TEST

/* Floats of the largest buffer of the direct-against-im2col comparison. */
#define LC_DIRECT_MAX 100000

/* v[0..count) uniform in [-1, 1), each nonzero with probability 1/keep (1: all drawn). */
static void
lc_fill_uniform(struct rng *r, float *v, size_t count, uint64_t keep)
{
    for (size_t i = 0; i < count; i++)
        v[i] = keep == 1 || rng_below(r, keep) == 0 ? (float)(2.0 * rng_uniform(r) - 1.0) : 0.0f;
}

/* xp = the n samples of s (c x h x w each) inside a border of pad zeros, one after another. */
static void
lc_pad_planes(const float *x, float *xp, size_t n, struct layer_shape s, size_t pad)
{
    size_t hp = s.h + 2 * pad, wp = s.w + 2 * pad;
    memset(xp, 0, n * s.c * hp * wp * sizeof *xp);
    for (size_t i = 0; i < n * s.c; i++)
        for (size_t row = 0; row < s.h; row++)
            memcpy(xp + (i * hp + pad + row) * wp + pad, x + (i * s.h + row) * s.w,
                   s.w * sizeof *x);
}

/*
 * A random stride-1 layer with 16 or 32 input channels and a k x k kernel, k <= 5, of out_c
 * output channels (0: 5 to 40 drawn), and a batch size n of 1 to 3.
 */
static void
lc_random_wide_layer(struct rng *r, struct layer *l, size_t out_c, size_t *n)
{
    size_t k = 1 + (size_t)rng_below(r, 5), pad = (size_t)rng_below(r, k);
    struct layer_shape in = { 16 * (1 + (size_t)rng_below(r, 2)), 0, 0 };
    in.h = (k > 2 * pad ? k - 2 * pad : 1) + (size_t)rng_below(r, 8);
    in.w = (k > 2 * pad ? k - 2 * pad : 1) + (size_t)rng_below(r, 14);
    if (out_c == 0)
        out_c = 5 + (size_t)rng_below(r, 36);
    *n = 1 + (size_t)rng_below(r, 3);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(layer_conv_init(l, in, out_c, k, 1, pad, &eb), 0);
}

/*
 * The direct convolution (every kernel set this CPU has) against im2col + sgemm and against
 * sums in double, on random stride-1 shapes: with 1 to 4 input channels (kernels vectorised
 * over output columns) and with 5 to 16 input channels and 16 to 80 output channels
 * (vectorised over output channels). Outputs and weight gradients agree
 * within the rounding bound of a float sum of T terms in any order, gamma_T times the sum of
 * the terms' magnitudes (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
 * §3.1, eq. 3.5, gamma_T = T u / (1 - T u), u = 2^-24), doubled for the two sides; and the
 * kernel sets give identical bits.
 */
START_TEST(conv_direct_matches_im2col)
{
    struct rng r;
    rng_init_stream(&r, 15, RNG_PURPOSE_TEST, 0, 0);
    static float x[LC_DIRECT_MAX], w[LC_DIRECT_MAX], dy[LC_DIRECT_MAX], xp[LC_DIRECT_MAX];
    static float y_ref[LC_DIRECT_MAX], y[3][LC_DIRECT_MAX], dw_ref[LC_DIRECT_MAX];
    static float dw[3][LC_DIRECT_MAX], acc[LC_DIRECT_MAX], scratch[4 * LC_DIRECT_MAX];
    for (int trial = 0; trial < 60; trial++) {
        int wide = trial % 2;
        size_t k = 1 + (size_t)rng_below(&r, 6), pad = (size_t)rng_below(&r, k);
        struct layer_shape in = { wide ? 5 + (size_t)rng_below(&r, 12)
                                       : 1 + (size_t)rng_below(&r, 4),
                                  0, 0 };
        in.h = k > 2 * pad ? k - 2 * pad : 1;
        in.w = in.h + (size_t)rng_below(&r, wide ? 14 : 36);
        in.h += (size_t)rng_below(&r, 9);
        size_t out_c = wide ? 16 * (1 + (size_t)rng_below(&r, 5)) : 1 + (size_t)rng_below(&r, 11);
        size_t n = 1 + (size_t)rng_below(&r, 3);
        struct layer l;
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(layer_conv_init(&l, in, out_c, k, 1, pad, &eb), 0);
        ck_assert(layer_conv_direct_forward_applies(&l));
        ck_assert(layer_conv_direct_grad_applies(&l));
        size_t nin = n * layer_shape_size(in), nout = n * layer_shape_size(l.out);
        size_t taps = in.c * k * k, pos = l.out.h * l.out.w, hp = in.h + 2 * pad;
        size_t wp = in.w + 2 * pad, psize = in.c * hp * wp;
        ck_assert_uint_le(nin + nout + n * psize + l.n_params, LC_DIRECT_MAX);
        ck_assert_uint_le(layer_conv_direct_acc_floats(&l), LC_DIRECT_MAX);
        ck_assert_uint_le(layer_conv_direct_pack_floats(&l), LC_DIRECT_MAX);
        ck_assert_uint_le(layer_scratch(&l, n), 4 * LC_DIRECT_MAX);
        lc_fill_uniform(&r, x, nin, 1);
        lc_fill_uniform(&r, w, l.n_params, 1);
        lc_fill_uniform(&r, dy, nout, 1);
        lc_pad_planes(x, xp, n, in, pad);
        layer_conv_forward_im2col(&l, w, x, y_ref, n, scratch);
        layer_conv_backward_im2col(&l, w, x, dy, NULL, dw_ref, n, scratch);
        for (int isa = KERNEL_ISA_PORTABLE; isa <= KERNEL_ISA_BEST; isa++) {
            layer_conv_direct_forward(&l, w, xp, y[isa], n, acc, (enum kernel_isa)isa);
            ck_assert_mem_eq(y[isa], y[0], nout * sizeof *y[0]);
            layer_conv_direct_weight_grad(&l, xp, dy, dw[isa], n, acc, (enum kernel_isa)isa);
            ck_assert_mem_eq(dw[isa], dw[0], taps * out_c * sizeof *dw[0]);
        }
        /* Through the layer's own passes (the direct ones where they apply). */
        float *yl = y[1], *dwl = dw[1];
        layer_conv_forward(&l, w, x, yl, n, scratch);
        layer_conv_backward(&l, w, x, dy, NULL, dwl, n, scratch);
        ck_assert_mem_eq(yl, y[0], nout * sizeof *yl);
        ck_assert_mem_eq(dwl, dw[0], taps * out_c * sizeof *dwl);
        const double u = ldexp(1.0, -24);
        for (size_t s = 0; s < n; s++)
            for (size_t co = 0; co < out_c; co++)
                for (size_t p = 0; p < pos; p++) {
                    size_t i = p / l.out.w, j = p % l.out.w;
                    double sum = w[out_c * taps + co], mag = fabs(sum);
                    for (size_t t = 0; t < taps; t++) {
                        size_t c = t / (k * k), ki = t / k % k, kj = t % k;
                        double v = (double)w[co * taps + t] *
                                   xp[s * psize + (c * hp + i + ki) * wp + j + kj];
                        sum += v;
                        mag += fabs(v);
                    }
                    double tol = 2.0 * (double)(taps + 1) * u / (1 - (double)(taps + 1) * u) * mag;
                    size_t at = (s * out_c + co) * pos + p;
                    ck_assert_msg(fabs(y[0][at] - sum) <= tol && fabs(y_ref[at] - sum) <= tol,
                                  "trial %d: y[%zu] direct %.9g, im2col %.9g, exact %.9g", trial,
                                  at, (double)y[0][at], (double)y_ref[at], sum);
                }
        for (size_t co = 0; co < out_c; co++)
            for (size_t t = 0; t < taps; t++) {
                size_t c = t / (k * k), ki = t / k % k, kj = t % k;
                double sum = 0, mag = 0;
                for (size_t s = 0; s < n; s++)
                    for (size_t p = 0; p < pos; p++) {
                        size_t i = p / l.out.w, j = p % l.out.w;
                        double v = (double)dy[(s * out_c + co) * pos + p] *
                                   xp[s * psize + (c * hp + i + ki) * wp + j + kj];
                        sum += v;
                        mag += fabs(v);
                    }
                double terms = (double)(n * pos + 4);
                double tol = 2.0 * terms * u / (1 - terms * u) * mag;
                size_t at = co * taps + t;
                ck_assert_msg(fabs(dw[0][at] - sum) <= tol && fabs(dw_ref[at] - sum) <= tol,
                              "trial %d: dw[%zu] direct %.9g, im2col %.9g, exact %.9g", trial, at,
                              (double)dw[0][at], (double)dw_ref[at], sum);
            }
    }
}
END_TEST

/*
 * The input gradient of many-channel stride-1 layers (the forward kernels on the transposed
 * layer) against im2col + sgemm + col2im and against sums in double, on random shapes with 16
 * or 32 input channels: within the rounding bound of the test above, and the kernel sets
 * give identical bits.
 */
START_TEST(conv_direct_input_grad_matches_im2col)
{
    struct rng r;
    rng_init_stream(&r, 15, RNG_PURPOSE_TEST, 0, 1);
    static float x[LC_DIRECT_MAX], w[LC_DIRECT_MAX], dy[LC_DIRECT_MAX], dyp[LC_DIRECT_MAX];
    static float wf[LC_DIRECT_MAX], pack[LC_DIRECT_MAX], dx_ref[LC_DIRECT_MAX];
    static float dx[3][LC_DIRECT_MAX], dw[LC_DIRECT_MAX], scratch[4 * LC_DIRECT_MAX];
    for (int trial = 0; trial < 40; trial++) {
        struct layer l;
        size_t n;
        /* Every fourth trial, the direct weight gradient too. */
        lc_random_wide_layer(&r, &l, trial % 4 == 0 ? 16 * (1 + (size_t)rng_below(&r, 2)) : 0, &n);
        struct layer_shape in = l.in;
        size_t k = l.kernel, pad = l.pad, out_c = l.out.c;
        ck_assert(layer_conv_direct_input_grad_applies(&l));
        struct layer t = layer_conv_direct_transposed(&l);
        ck_assert_uint_eq(t.out.c, in.c);
        ck_assert_uint_eq(t.out.h, in.h);
        ck_assert_uint_eq(t.out.w, in.w);
        size_t nin = n * layer_shape_size(in), nout = n * layer_shape_size(l.out);
        size_t taps = in.c * k * k, q = k - 1 - pad, oh = l.out.h, ow = l.out.w;
        size_t hq = oh + 2 * q, wq = ow + 2 * q, psize = out_c * hq * wq;
        ck_assert_uint_le(nin + nout + l.n_params, LC_DIRECT_MAX);
        ck_assert_uint_le(n * psize, LC_DIRECT_MAX);
        ck_assert_uint_le(layer_conv_direct_flip_floats(&l), LC_DIRECT_MAX);
        ck_assert_uint_le(layer_scratch(&l, n), 4 * LC_DIRECT_MAX);
        lc_fill_uniform(&r, x, nin, 1);
        lc_fill_uniform(&r, w, l.n_params, 1);
        lc_fill_uniform(&r, dy, nout, 1);
        layer_conv_backward_im2col(&l, w, x, dy, dx_ref, dw, n, scratch);
        lc_pad_planes(dy, dyp, n, l.out, q);
        layer_conv_direct_flip(&l, w, wf);
        for (int isa = KERNEL_ISA_PORTABLE; isa <= KERNEL_ISA_BEST; isa++) {
            layer_conv_direct_forward(&t, wf, dyp, dx[isa], n, pack, (enum kernel_isa)isa);
            ck_assert_mem_eq(dx[isa], dx[0], nin * sizeof *dx[0]);
        }
        /* Through the layer's own backward pass. */
        layer_conv_backward(&l, w, x, dy, dx[1], dw, n, scratch);
        ck_assert_mem_eq(dx[1], dx[0], nin * sizeof *dx[0]);
        const double u = ldexp(1.0, -24);
        double terms = (double)(out_c * k * k + 1);
        for (size_t s = 0; s < n; s++)
            for (size_t c = 0; c < in.c; c++)
                for (size_t a = 0; a < in.h; a++)
                    for (size_t b = 0; b < in.w; b++) {
                        double sum = 0, mag = 0;
                        for (size_t co = 0; co < out_c; co++)
                            for (size_t ki = 0; ki < k; ki++)
                                for (size_t kj = 0; kj < k; kj++) {
                                    /* output (i, j) with i + ki - pad = a, j + kj - pad = b */
                                    if (a + pad < ki || b + pad < kj)
                                        continue;
                                    size_t i = a + pad - ki, j = b + pad - kj;
                                    if (i >= oh || j >= ow)
                                        continue;
                                    double v = (double)w[co * taps + (c * k + ki) * k + kj] *
                                               dy[((s * out_c + co) * oh + i) * ow + j];
                                    sum += v;
                                    mag += fabs(v);
                                }
                        double tol = 2.0 * terms * u / (1 - terms * u) * mag;
                        size_t at = ((s * in.c + c) * in.h + a) * in.w + b;
                        ck_assert_msg(fabs(dx[0][at] - sum) <= tol && fabs(dx_ref[at] - sum) <= tol,
                                      "trial %d: dx[%zu] direct %.9g, im2col %.9g, exact %.9g",
                                      trial, at, (double)dx[0][at], (double)dx_ref[at], sum);
                    }
    }
}
END_TEST

/*
 * The sparse kernels (dy three quarters zero, as behind a max pooling) against the dense
 * ones, bit for bit, on every kernel set: the input gradient against the transposed layer's
 * forward pass, the weight gradient (a multiple of 16 output channels) against the
 * many-channel kernels, and both through the layer's backward pass.
 */
START_TEST(conv_direct_sparse_matches_dense)
{
    struct rng r;
    rng_init_stream(&r, 15, RNG_PURPOSE_TEST, 0, 2);
    static float x[LC_DIRECT_MAX], w[LC_DIRECT_MAX], dy[LC_DIRECT_MAX], dyp[LC_DIRECT_MAX];
    static float xp[LC_DIRECT_MAX], wf[LC_DIRECT_MAX], acc[LC_DIRECT_MAX];
    static float dx_ref[LC_DIRECT_MAX], dx[3][LC_DIRECT_MAX], dw_ref[LC_DIRECT_MAX];
    static float dw[3][LC_DIRECT_MAX], scratch[4 * LC_DIRECT_MAX];
    for (int trial = 0; trial < 40; trial++) {
        struct layer l;
        size_t n;
        lc_random_wide_layer(&r, &l, trial % 2 ? 0 : 16 * (1 + (size_t)rng_below(&r, 2)), &n);
        struct layer_shape in = l.in;
        size_t k = l.kernel, pad = l.pad, out_c = l.out.c;
        struct layer t = layer_conv_direct_transposed(&l);
        size_t nin = n * layer_shape_size(in), nout = n * layer_shape_size(l.out);
        size_t taps = in.c * k * k, q = k - 1 - pad, oh = l.out.h, ow = l.out.w;
        size_t hq = oh + 2 * q, wq = ow + 2 * q, qsize = out_c * hq * wq;
        size_t hp = in.h + 2 * pad, wp = in.w + 2 * pad, psize = in.c * hp * wp;
        ck_assert_uint_le(nin + nout + l.n_params, LC_DIRECT_MAX);
        ck_assert_uint_le(n * qsize, LC_DIRECT_MAX);
        ck_assert_uint_le(n * psize, LC_DIRECT_MAX);
        ck_assert_uint_le(layer_conv_direct_acc_floats(&l), LC_DIRECT_MAX);
        ck_assert_uint_le(layer_scratch(&l, n), 4 * LC_DIRECT_MAX);
        lc_fill_uniform(&r, x, nin, 1);
        lc_fill_uniform(&r, w, l.n_params, 1);
        lc_fill_uniform(&r, dy, nout, 4);
        size_t nonzero = 0;
        for (size_t i = 0; i < nout; i++)
            nonzero += dy[i] != 0.0f;
        ck_assert(2 * nonzero <= nout && layer_conv_direct_sparse(&l, dy, n));
        lc_pad_planes(dy, dyp, n, l.out, q);
        lc_pad_planes(x, xp, n, in, pad);
        layer_conv_direct_flip(&l, w, wf);
        layer_conv_direct_forward(&t, wf, dyp, dx_ref, n, acc, KERNEL_ISA_PORTABLE);
        int wide = out_c % 16 == 0;
        if (wide)
            layer_conv_direct_weight_grad_dense(&l, xp, dy, dw_ref, n, acc, KERNEL_ISA_PORTABLE);
        for (int isa = KERNEL_ISA_PORTABLE; isa <= KERNEL_ISA_BEST; isa++) {
            layer_conv_direct_input_grad_sparse(&l, w, dy, dx[isa], n, scratch,
                                                (enum kernel_isa)isa);
            ck_assert_mem_eq(dx[isa], dx_ref, nin * sizeof *dx_ref);
            if (!wide)
                continue;
            layer_conv_direct_weight_grad(&l, xp, dy, dw[isa], n, acc, (enum kernel_isa)isa);
            ck_assert_mem_eq(dw[isa], dw_ref, taps * out_c * sizeof *dw_ref);
        }
        layer_conv_backward(&l, w, x, dy, dx[1], dw[1], n, scratch);
        ck_assert_mem_eq(dx[1], dx_ref, nin * sizeof *dx_ref);
        if (wide)
            ck_assert_mem_eq(dw[1], dw_ref, taps * out_c * sizeof *dw_ref);
    }
}
END_TEST

START_TEST(layer_init_rejects)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct layer l;
    ck_assert_int_eq(layer_conv_init(&l, (struct layer_shape){ 1, 3, 3 }, 2, 5, 1, 0, &eb),
                     -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "conv: a 5x5 kernel does not fit a 3x3 input");
    ck_assert_int_eq(layer_gnorm_init(&l, (struct layer_shape){ 6, 2, 2 }, 4, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "group norm: 4 groups do not divide 6 channels");
    ck_assert_int_eq(layer_pool_init(&l, LAYER_MAXPOOL, (struct layer_shape){ 1, 1, 4 }, 2, 2, &eb),
                     -ERR_INVALID);
    ck_assert_int_eq(layer_dense_init(&l, (struct layer_shape){ 0, 1, 1 }, 3, &eb), -ERR_INVALID);
}
END_TEST

static struct model_spec
lc_fedavg_cnn(size_t c, size_t hw, size_t groups)
{
    return (struct model_spec){
        .n_inputs = c * hw * hw,
        .n_classes = 10,
        .n_hidden = 1,
        .hidden = { 512 },
        .arch = MODEL_ARCH_CNN,
        .shape = { c, hw, hw },
        .n_conv = 2,
        .conv = { 32, 64 },
        .kernel = 5,
        .groups = groups,
    };
}

/* McMahan et al. (AISTATS 2017, §3): 832 + 51,264 + 1,606,144 + 5,130 on 28 x 28 x 1. */
START_TEST(fedavg_cnn_param_count)
{
    struct model_spec s = lc_fedavg_cnn(1, 28, 0);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(model_spec_check(&s, &eb), 0);
    ck_assert_uint_eq(model_param_count(&s), 1663370);
    s = lc_fedavg_cnn(3, 32, 0);
    ck_assert_uint_eq(model_param_count(&s), 2156490);
    /* Group norm adds gamma and beta per channel of each block. */
    s = lc_fedavg_cnn(1, 28, 2);
    ck_assert_uint_eq(model_param_count(&s), 1663370 + 2 * (32 + 64));
    struct net_plan p;
    ck_assert_int_eq(net_plan_build(&p, &s, &eb), 0);
    ck_assert_uint_eq(p.n_layers, 11);
    ck_assert_int_eq(p.layer[1].kind, LAYER_GNORM);
    ck_assert_int_eq(p.layer[2].kind, LAYER_MAXPOOL);
    ck_assert_int_eq(p.layer[3].kind, LAYER_RELU);
    ck_assert_uint_eq(layer_shape_size(p.layer[7].out), 3136);

    s = lc_fedavg_cnn(1, 28, 0);
    s.kernel = 4;
    ck_assert_int_eq(model_spec_check(&s, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "cnn: same padding needs an odd kernel, not 4");
    s = lc_fedavg_cnn(1, 28, 3);
    ck_assert_int_eq(model_spec_check(&s, &eb), -ERR_INVALID);
    s = lc_fedavg_cnn(1, 28, 0);
    s.shape[0] = 3;
    ck_assert_int_eq(model_spec_check(&s, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "cnn: input shape 3 x 28 x 28 does not hold the 784 features");
}
END_TEST

/* A training step of the FedAvg CNN at batch 10 allocates nothing, and its workspace is
 * bounded: about 11.6 MB (activations 2.8 MB, gradient buffers 2 MB, one image's im2col
 * 0.7 MB, the parameter gradient 6.7 MB). */
START_TEST(cnn_step_memory_bounded)
{
    struct model_spec s = lc_fedavg_cnn(1, 28, 0);
    size_t dim = model_param_count(&s);
    struct model_ws *ws = model_ws_new(&s, 10);
    ck_assert_ptr_nonnull(ws);
    size_t bytes = model_ws_bytes(ws);
    fprintf(stderr, "FedAvg CNN 28x28x1, batch 10: workspace %zu bytes\n", bytes);
    ck_assert_uint_le(bytes, 12u << 20);
    ck_assert_uint_ge(bytes, 4 * dim);
    float *w = mem_alloc(dim * sizeof *w);
    float *x = mem_alloc(10 * 784 * sizeof *x);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(x);
    struct rng r;
    rng_init_stream(&r, 7, 0, 0, 0);
    model_init_params(&s, w, &r);
    for (size_t i = 0; i < 10 * 784; i++)
        x[i] = (float)rng_uniform(&r);
    uint16_t y[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    mem_fault_arm(1);
    double loss = model_sgd_step(ws, w, x, y, 10, 0.05f, 0.0f, 0.0f, NULL, NULL, 0.0f);
    ck_assert(!mem_fault_fired());
    mem_fault_arm(0);
    /* Ten classes at initialisation: the loss is near log 10. */
    ck_assert_double_gt(loss, 1.5);
    ck_assert_double_lt(loss, 3.5);
    mem_free(w);
    mem_free(x);
    model_ws_free(ws);
}
END_TEST

/*
 * One SGD step of a model on 3 rows (weights from seed) moves w by lr times the central
 * difference (step 1e-3) of the mean loss, within 5e-3 of the largest component.
 */
static void
lc_model_step_check(const struct model_spec *s, const float *x, const uint16_t *y, uint64_t seed,
                    const char *what)
{
    size_t dim = model_param_count(s);
    ck_assert_uint_le(dim, 512);
    struct model_ws *ws = model_ws_new(s, 3);
    ck_assert_ptr_nonnull(ws);
    float w[512], w1[512];
    struct rng r;
    rng_init_stream(&r, seed, 0, 0, 0);
    model_init_params(s, w, &r);
    memcpy(w1, w, sizeof w);
    const float lr = 0.5f;
    model_sgd_step(ws, w1, x, y, 3, lr, 0.0f, 0.0f, NULL, NULL, 0.0f);
    double scale = 0, fd[512];
    for (size_t i = 0; i < dim; i++) {
        float keep = w[i];
        double lp = 0, lm = 0;
        size_t correct = 0;
        w[i] = keep + 1e-3f;
        double up = (double)w[i] - (double)keep;
        model_eval_batch(ws, w, x, y, 3, &lp, &correct);
        w[i] = keep - 1e-3f;
        double down = (double)keep - (double)w[i];
        model_eval_batch(ws, w, x, y, 3, &lm, &correct);
        w[i] = keep;
        fd[i] = (lp - lm) / 3.0 / (up + down);
        scale = fmax(scale, fabs(fd[i]));
    }
    ck_assert_double_gt(scale, 1e-2);
    for (size_t i = 0; i < dim; i++) {
        double obs = ((double)w[i] - (double)w1[i]) / (double)lr;
        ck_assert_msg(fabs(obs - fd[i]) <= 5e-3 * scale, "%s parameter %zu: step %.7g, fd %.7g",
                      what, i, obs, fd[i]);
    }
    model_ws_free(ws);
}

/* A tiny CNN with group norm: the SGD step moves w by lr times the finite-difference gradient
 * of the mean loss (step 1e-3; the inputs keep every ReLU and pooling decision away from
 * its kink by more than the step moves it, checked by the step being accurate). */
START_TEST(cnn_sgd_step_matches_finite_differences)
{
    struct model_spec s = {
        .n_inputs = 2 * 6 * 6,
        .n_classes = 3,
        .n_hidden = 1,
        .hidden = { 4 },
        .arch = MODEL_ARCH_CNN,
        .shape = { 2, 6, 6 },
        .n_conv = 1,
        .conv = { 2 },
        .kernel = 3,
        .groups = 1,
    };
    ck_assert_uint_eq(model_param_count(&s), 2 * 19 + 4 + 4 * 19 + 3 * 5);
    float x[3 * 72];
    uint16_t y[3] = { 2, 0, 1 };
    lc_fill_distinct(x, 3 * 72);
    lc_model_step_check(&s, x, y, 11, "cnn");
}
END_TEST

/*
 * LEAF's Shakespeare model (Caldas et al., 2018): embedding 80 x 8, LSTM 8 -> 256, LSTM
 * 256 -> 256 (4 * 256 * (in + 256 + 1) each), dense 256 -> 80: 640 + 271,360 + 525,312 +
 * 20,560. The GRU has three gate sets and the candidate's recurrent bias.
 */
START_TEST(shakespeare_param_count)
{
    struct model_spec s = {
        .n_inputs = 80,
        .n_classes = 80,
        .n_hidden = 2,
        .hidden = { 256, 256 },
        .arch = MODEL_ARCH_LSTM,
        .embed = 8,
    };
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(model_spec_check(&s, &eb), 0);
    ck_assert_uint_eq(model_param_count(&s), 817872);
    s.arch = MODEL_ARCH_GRU;
    ck_assert_uint_eq(model_param_count(&s),
                      640 + 3 * 256 * 265 + 256 + 3 * 256 * 513 + 256 + 20560);
    struct net_plan p;
    ck_assert_int_eq(net_plan_build(&p, &s, &eb), 0);
    ck_assert_uint_eq(p.n_layers, 4);
    ck_assert_uint_eq(layer_shape_size(p.layer[1].out), 80 * 256);
    ck_assert_uint_eq(layer_shape_size(p.layer[2].out), 256);
    s.n_hidden = 0;
    ck_assert_int_eq(model_spec_check(&s, &eb), -ERR_INVALID);
}
END_TEST

/* A tiny two-layer LSTM model: the SGD step is lr times the finite-difference gradient. */
START_TEST(lstm_sgd_step_matches_finite_differences)
{
    struct model_spec s = {
        .n_inputs = 6,
        .n_classes = 5,
        .n_hidden = 2,
        .hidden = { 3, 4 },
        .arch = MODEL_ARCH_LSTM,
        .embed = 2,
    };
    float x[18];
    uint16_t y[3] = { 4, 0, 2 };
    for (size_t j = 0; j < 18; j++)
        x[j] = (float)((j * 7) % 5);
    lc_model_step_check(&s, x, y, 13, "lstm");
    s.arch = MODEL_ARCH_GRU;
    lc_model_step_check(&s, x, y, 13, "gru");
}
END_TEST

Suite *
layer_suite(void)
{
    Suite *s = suite_create("layer");
    TCase *tc = tcase_create("gradient");
    tcase_add_loop_test(tc, layer_gradient_matches_finite_differences, 0,
                        (int)(sizeof lc_cases / sizeof lc_cases[0]));
    tcase_add_test(tc, conv_hand_computed);
    tcase_add_test(tc, conv_direct_matches_im2col);
    tcase_add_test(tc, conv_direct_input_grad_matches_im2col);
    tcase_add_test(tc, conv_direct_sparse_matches_dense);
    tcase_add_test(tc, maxpool_ties_first);
    tcase_add_test(tc, maxpool_2x2_rows_ties_first);
    tcase_add_test(tc, layer_init_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("net");
    tcase_add_test(tc, fedavg_cnn_param_count);
    tcase_add_test(tc, cnn_step_memory_bounded);
    tcase_add_test(tc, cnn_sgd_step_matches_finite_differences);
    tcase_add_test(tc, shakespeare_param_count);
    tcase_add_test(tc, lstm_sgd_step_matches_finite_differences);
    suite_add_tcase(s, tc);
    return s;
}
