/*
 * layer_conv: 2-D convolution as im2col + sgemm (Chellapilla, Puri and Simard, "High
 * Performance Convolutional Neural Networks for Document Processing", 2006, §2.2).
 * See layer.h.
 *
 * For one sample, im2col unfolds the input, first copied inside a border of zeros, into
 * col [K x P], K = in_c * k * k rows (one per kernel tap) and P = out_h * out_w columns (one
 * per output position). Then
 *   forward:  y [out_c x P] = W [out_c x K] col + b,
 *   backward: dW += dy col^T,  db += sum_p dy,  dcol = W^T dy and col2im(dcol) -> dx.
 * Samples are unfolded one at a time, so the scratch (col and a padded copy of the sample)
 * does not grow with the batch; the backward pass recomputes col rather than keeping it from
 * the forward pass, so the layers of a net share one scratch buffer. Stride-1 layers run
 * their forward pass, most their weight gradient, and many-channel ones their input gradient
 * on the direct kernels of layer_conv_direct.h instead (padded samples, or padded output
 * gradients, then take n more scratch).
 */
#include "clients/layer.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "clients/layer_conv_direct.h"
#include "base/banned.h"

int
layer_conv_init(struct layer *l, struct layer_shape in, size_t out_c, size_t kernel, size_t stride,
                size_t pad, struct errbuf *eb)
{
    if (layer_shape_size(in) == 0 || out_c == 0 || kernel == 0 || stride == 0)
        return errbuf_set(eb, -ERR_INVALID, "conv: empty input, output, kernel or stride");
    if (in.h + 2 * pad < kernel || in.w + 2 * pad < kernel)
        return errbuf_set(eb, -ERR_INVALID, "conv: a %zux%zu kernel does not fit a %zux%zu input",
                          kernel, kernel, in.h, in.w);
    if (kernel > 64 || pad >= kernel || in.c > 65536 || out_c > 65536 || in.h > 65536 ||
        in.w > 65536)
        return errbuf_set(eb, -ERR_RANGE, "conv: kernel, padding or size out of range");
    struct layer_shape out = { out_c, (in.h + 2 * pad - kernel) / stride + 1,
                               (in.w + 2 * pad - kernel) / stride + 1 };
    size_t taps = in.c * kernel * kernel, pos = out.h * out.w;
    if (taps > INT_MAX / pos || taps > INT_MAX / out_c)
        return errbuf_set(eb, -ERR_RANGE, "conv: unfolded input too large");
    *l = (struct layer){
        .kind = LAYER_CONV,
        .in = in,
        .out = out,
        .kernel = kernel,
        .stride = stride,
        .pad = pad,
        .n_params = out_c * (taps + 1),
        .scratch_fixed = taps * pos + in.c * (in.h + 2 * pad) * (in.w + 2 * pad),
    };
    /* The direct kernels: their packed weights or lane sums share col's place (each is used
     * while col is not), and every sample is padded after the fixed scratch. */
    if (layer_conv_direct_forward_applies(l)) {
        size_t work = taps * pos, pack = layer_conv_direct_pack_floats(l);
        size_t acc = layer_conv_direct_grad_applies(l) ? layer_conv_direct_acc_floats(l) : 0;
        size_t padded = in.c * (in.h + 2 * pad) * (in.w + 2 * pad);
        work = pack > work ? pack : work;
        work = acc > work ? acc : work;
        l->scratch = padded;
        /* The input gradient: the flipped weights and their packed copy, and padded dy. */
        if (layer_conv_direct_input_grad_applies(l)) {
            struct layer t = layer_conv_direct_transposed(l);
            size_t flip = layer_conv_direct_flip_floats(l) + layer_conv_direct_pack_floats(&t);
            size_t sparse = layer_conv_direct_sparse_floats(l);
            work = flip > work ? flip : work;
            work = sparse > work ? sparse : work;
            l->scratch = t.scratch > padded ? t.scratch : padded;
        }
        l->scratch_fixed = work + padded;
    }
    return 0;
}

/* Four floats, moved as one unaligned SSE register (GCC and Clang vector extension). */
typedef float layer_conv_v4 __attribute__((vector_size(16)));

/*
 * Hides a register's value from the optimiser, so that a loop of short moves is not turned
 * into a call of memmove per row (a call costs more than the dozen floats it moves).
 */
#if defined(__SSE2__) && defined(__GNUC__)
#define LAYER_CONV_OPAQUE(v) __asm__("" : "+x"(v))
#else
#define LAYER_CONV_OPAQUE(v) ((void)0)
#endif

/*
 * dst[0..n) = src[0..n) for the short rows of im2col (n is an output width, often below 32),
 * four floats a move; a last partial group overlaps the previous one. dst and src must not
 * overlap.
 */
static inline void
layer_conv_copy(float *restrict dst, const float *restrict src, size_t n)
{
    layer_conv_v4 v;
    if (n < 4) {
        for (size_t j = 0; j < n; j++)
            dst[j] = src[j];
        return;
    }
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        memcpy(&v, src + j, sizeof v);
        LAYER_CONV_OPAQUE(v);
        memcpy(dst + j, &v, sizeof v);
    }
    if (j < n) {
        memcpy(&v, src + n - 4, sizeof v);
        memcpy(dst + n - 4, &v, sizeof v);
    }
}

/* dst[0..n) += src[0..n), four floats at a time, each sum rounded once as in the scalar loop. */
static inline void
layer_conv_add(float *restrict dst, const float *restrict src, size_t n)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        layer_conv_v4 a, b;
        memcpy(&a, dst + j, sizeof a);
        memcpy(&b, src + j, sizeof b);
        a += b;
        memcpy(dst + j, &a, sizeof a);
    }
    for (; j < n; j++)
        dst[j] += src[j];
}

/* The sum of v[0..n): four running sums (j mod 4) over whole groups of four, then the rest. */
static inline float
layer_conv_sum(const float *v, size_t n)
{
    layer_conv_v4 acc = { 0.0f, 0.0f, 0.0f, 0.0f }, a;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        memcpy(&a, v + j, sizeof a);
        acc += a;
    }
    float sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; j < n; j++)
        sum += v[j];
    return sum;
}

/*
 * Copies one sample x [in_c x h x w] into xp [in_c x (h + 2 pad) x (w + 2 pad)] with a
 * border of pad zeros, so that every kernel tap of every output position reads inside xp.
 */
static void
layer_conv_pad(const struct layer *l, const float *x, float *xp)
{
    size_t h = l->in.h, w = l->in.w, p = l->pad, hp = h + 2 * p, wp = w + 2 * p;
    for (size_t c = 0; c < l->in.c; c++) {
        float *dst = xp + c * hp * wp;
        const float *src = x + c * h * w;
        memset(dst, 0, p * wp * sizeof *dst);
        for (size_t i = 0; i < h; i++) {
            float *row = dst + (p + i) * wp;
            for (size_t j = 0; j < p; j++) {
                row[j] = 0.0f;
                row[p + w + j] = 0.0f;
            }
            memcpy(row + p, src + i * w, w * sizeof *row);
        }
        memset(dst + (p + h) * wp, 0, p * wp * sizeof *dst);
    }
}

/*
 * Unfolds the padded sample xp into col [K x P]: row (c, ki, kj), column (i, j) holds
 * xp[c][i s + ki][j s + kj], that is x[c][i s + ki - pad][j s + kj - pad] or a padding zero.
 */
static void
layer_conv_im2col(const struct layer *l, const float *xp, float *col)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t hp = l->in.h + 2 * l->pad, wp = l->in.w + 2 * l->pad;
    for (size_t c = 0; c < l->in.c; c++) {
        const float *xc = xp + c * hp * wp;
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                float *dst = col + ((c * k + ki) * k + kj) * oh * ow;
                for (size_t i = 0; i < oh; i++, dst += ow) {
                    const float *src = xc + (i * s + ki) * wp + kj;
                    if (s == 1)
                        layer_conv_copy(dst, src, ow);
                    else
                        for (size_t j = 0; j < ow; j++)
                            dst[j] = src[j * s];
                }
            }
        }
    }
}

/*
 * Folds col [K x P] back onto the padded gradient dxp (cleared here), adding overlapping taps
 * in a fixed order, then copies its interior into dx [in_c x h x w].
 */
static void
layer_conv_col2im(const struct layer *l, const float *col, float *dxp, float *dx)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t h = l->in.h, w = l->in.w, p = l->pad, hp = h + 2 * p, wp = w + 2 * p;
    memset(dxp, 0, l->in.c * hp * wp * sizeof *dxp);
    for (size_t c = 0; c < l->in.c; c++) {
        float *dc = dxp + c * hp * wp;
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                const float *src = col + ((c * k + ki) * k + kj) * oh * ow;
                for (size_t i = 0; i < oh; i++, src += ow) {
                    float *dst = dc + (i * s + ki) * wp + kj;
                    if (s == 1)
                        layer_conv_add(dst, src, ow);
                    else
                        for (size_t j = 0; j < ow; j++)
                            dst[j * s] += src[j];
                }
            }
        }
        for (size_t i = 0; i < h; i++)
            memcpy(dx + (c * h + i) * w, dc + (p + i) * wp + p, w * sizeof *dx);
    }
}

/*
 * One sample at a time: its col (a few hundred KB for the FedAvg CNN) stays in the core's
 * cache between im2col and the products, and its output plane [out_c x P] is where the
 * product writes it (no copy). Scratch: col, then the padded sample.
 */
void
layer_conv_forward_im2col(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                          float *scratch)
{
    size_t taps = l->in.c * l->kernel * l->kernel, pos = l->out.h * l->out.w;
    size_t in_size = layer_shape_size(l->in), out_size = layer_shape_size(l->out);
    const float *b = w + l->out.c * taps;
    float *col = scratch, *xp = scratch + taps * pos;
    for (size_t i = 0; i < n; i++) {
        float *yi = y + i * out_size;
        layer_conv_pad(l, x + i * in_size, xp);
        layer_conv_im2col(l, xp, col);
        for (size_t c = 0; c < l->out.c; c++)
            for (size_t q = 0; q < pos; q++)
                yi[c * pos + q] = b[c];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l->out.c, (int)pos, (int)taps,
                    1.0f, w, (int)taps, col, (int)pos, 1.0f, yi, (int)pos);
    }
}

/*
 * Per sample i: dW += dy_i col_i^T (the first sample overwrites; with direct set the direct
 * kernel wrote dW for the whole batch before), db += the row sums of dy_i, dcol = W^T dy_i
 * folded onto dx_i (unless dx is NULL). Summation over the batch runs in sample order.
 */
static void
layer_conv_backward_run(const struct layer *l, const float *w, const float *x, const float *dy,
                        float *dx, float *dw, size_t n, float *scratch, int direct)
{
    size_t taps = l->in.c * l->kernel * l->kernel, pos = l->out.h * l->out.w;
    size_t in_size = layer_shape_size(l->in), out_size = layer_shape_size(l->out);
    float *db = dw + l->out.c * taps;
    float *col = scratch, *xp = scratch + taps * pos;
    memset(db, 0, l->out.c * sizeof *db);
    for (size_t i = 0; i < n; i++) {
        const float *dyi = dy + i * out_size;
        if (!direct) {
            layer_conv_pad(l, x + i * in_size, xp);
            layer_conv_im2col(l, xp, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->out.c, (int)taps, (int)pos,
                        1.0f, dyi, (int)pos, col, (int)pos, i == 0 ? 0.0f : 1.0f, dw, (int)taps);
        }
        for (size_t c = 0; c < l->out.c; c++)
            db[c] += layer_conv_sum(dyi + c * pos, pos);
        if (dx == NULL)
            continue;
        /* col is no longer needed: it receives dcol = W^T dy_i. */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)taps, (int)pos, (int)l->out.c,
                    1.0f, w, (int)taps, dyi, (int)pos, 0.0f, col, (int)pos);
        layer_conv_col2im(l, col, xp, dx + i * in_size);
    }
}

void
layer_conv_backward_im2col(const struct layer *l, const float *w, const float *x, const float *dy,
                           float *dx, float *dw, size_t n, float *scratch)
{
    layer_conv_backward_run(l, w, x, dy, dx, dw, n, scratch, 0);
}

/* Pads the n samples of x one after the other into xp. */
static void
layer_conv_pad_all(const struct layer *l, const float *x, float *xp, size_t n)
{
    size_t in_size = layer_shape_size(l->in);
    size_t padded = l->in.c * (l->in.h + 2 * l->pad) * (l->in.w + 2 * l->pad);
    for (size_t i = 0; i < n; i++)
        layer_conv_pad(l, x + i * in_size, xp + i * padded);
}

/*
 * Stride-1 layers run the direct kernels (layer_conv_direct.h) for the output, and those of
 * layer_conv_direct_grad_applies() for the weight gradient too. Scratch: col (or the packed
 * weights, or the weight gradient's sums), xp, then the padded samples.
 */
void
layer_conv_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                   float *scratch)
{
    if (!layer_conv_direct_forward_applies(l)) {
        layer_conv_forward_im2col(l, w, x, y, n, scratch);
        return;
    }
    float *xp = scratch + l->scratch_fixed;
    layer_conv_pad_all(l, x, xp, n);
    layer_conv_direct_forward(l, w, xp, y, n, scratch, KERNEL_ISA_BEST);
}

void
layer_conv_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                    float *dx, float *dw, size_t n, float *scratch)
{
    int wdirect = layer_conv_direct_grad_applies(l);
    int xdirect = dx != NULL && layer_conv_direct_input_grad_applies(l);
    float *xp = scratch + l->scratch_fixed;
    if (wdirect) {
        layer_conv_pad_all(l, x, xp, n);
        layer_conv_direct_weight_grad(l, xp, dy, dw, n, scratch, KERNEL_ISA_BEST);
    }
    layer_conv_backward_run(l, w, x, dy, xdirect ? NULL : dx, dw, n, scratch, wdirect);
    if (!xdirect)
        return;
    if (layer_conv_direct_sparse(l, dy, n)) {
        layer_conv_direct_input_grad_sparse(l, w, dy, dx, n, scratch, KERNEL_ISA_BEST);
        return;
    }
    /* dx: the forward pass of the transposed layer on dy (layer_conv_direct.h). */
    struct layer t = layer_conv_direct_transposed(l);
    float *wf = scratch, *pack = scratch + layer_conv_direct_flip_floats(l);
    layer_conv_direct_flip(l, w, wf);
    layer_conv_pad_all(&t, dy, xp, n);
    layer_conv_direct_forward(&t, wf, xp, dx, n, pack, KERNEL_ISA_BEST);
}
