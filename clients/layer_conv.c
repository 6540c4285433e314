/*
 * layer_conv: 2-D convolution as im2col + sgemm (Chellapilla, Puri and Simard, "High
 * Performance Convolutional Neural Networks for Document Processing", 2006, §2.2).
 * See layer.h.
 *
 * For one sample, im2col unfolds the input into col [K x P], K = in_c * k * k rows (one per
 * kernel tap) and P = out_h * out_w columns (one per output position), zeros where the
 * window overhangs the padding. Then
 *   forward:  y [out_c x P] = W [out_c x K] col + b,
 *   backward: dW += dy col^T,  db += sum_p dy,  dcol = W^T dy and col2im(dcol) -> dx.
 * The backward pass recomputes col rather than keeping it from the forward pass, so the
 * layers of a net share one scratch buffer.
 */
#include "clients/layer.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

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
        .scratch = (taps + out_c) * pos,
    };
    return 0;
}

/*
 * Output indices [lo, hi) along a dimension of in input and out output positions whose
 * input index o * s + t - pad, for kernel tap t, falls inside the input; outside it the tap
 * reads padding.
 */
static void
layer_conv_span(const struct layer *l, size_t t, size_t in, size_t out, size_t *lo, size_t *hi)
{
    size_t s = l->stride;
    size_t a = t >= l->pad ? 0 : (l->pad - t + s - 1) / s;
    /* o * s + t - pad < in  <=>  o < (in + pad - t) / s rounded up. */
    size_t b = in + l->pad > t ? (in + l->pad - t + s - 1) / s : 0;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo)
        *hi = *lo;
}

/*
 * Unfolds one sample x [in_c x h x w] into the P columns of col starting at col (rows ld
 * floats apart): row (c, ki, kj), column (i, j) holds x[c][i s + ki - pad][j s + kj - pad].
 * Rows of taps that read only padding are cleared in one call, and a tap whose rows line up
 * with whole input rows (stride 1, no horizontal offset, equal widths) is one copy.
 */
static void
layer_conv_im2col(const struct layer *l, const float *x, float *col, size_t ld)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t h = l->in.h, w = l->in.w;
    for (size_t c = 0; c < l->in.c; c++) {
        const float *xc = x + c * h * w;
        for (size_t ki = 0; ki < k; ki++) {
            size_t ilo, ihi;
            layer_conv_span(l, ki, h, oh, &ilo, &ihi);
            for (size_t kj = 0; kj < k; kj++) {
                float *row = col + ((c * k + ki) * k + kj) * ld;
                size_t lo, hi;
                layer_conv_span(l, kj, w, ow, &lo, &hi);
                memset(row, 0, ilo * ow * sizeof *row);
                memset(row + ihi * ow, 0, (oh - ihi) * ow * sizeof *row);
                if (ihi == ilo)
                    continue;
                /* Output (i, j) reads input (i s + ki - pad, j s + kj - pad), both >= 0. */
                if (s == 1 && lo == 0 && hi == ow && ow == w && kj == l->pad) {
                    memcpy(row + ilo * ow, xc + (ilo + ki - l->pad) * w,
                           (ihi - ilo) * ow * sizeof *row);
                    continue;
                }
                for (size_t i = ilo; i < ihi; i++) {
                    float *dst = row + i * ow;
                    const float *src = xc + (i * s + ki - l->pad) * w;
                    for (size_t j = 0; j < lo; j++)
                        dst[j] = 0.0f;
                    for (size_t j = hi; j < ow; j++)
                        dst[j] = 0.0f;
                    if (s == 1) {
                        const float *s1 = src + (lo + kj - l->pad);
                        for (size_t j = lo; j < hi; j++)
                            dst[j] = s1[j - lo];
                    } else {
                        for (size_t j = lo; j < hi; j++)
                            dst[j] = src[j * s + kj - l->pad];
                    }
                }
            }
        }
    }
}

/* Folds the P columns at col (rows ld apart) back onto dx [in_c x h x w], adding
 * overlapping taps in a fixed order. */
static void
layer_conv_col2im(const struct layer *l, const float *col, size_t ld, float *dx)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t h = l->in.h, w = l->in.w;
    memset(dx, 0, layer_shape_size(l->in) * sizeof *dx);
    for (size_t c = 0; c < l->in.c; c++) {
        float *dc = dx + c * h * w;
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                const float *row = col + ((c * k + ki) * k + kj) * ld;
                size_t lo, hi, ilo, ihi;
                layer_conv_span(l, kj, w, ow, &lo, &hi);
                layer_conv_span(l, ki, h, oh, &ilo, &ihi);
                for (size_t i = ilo; i < ihi; i++) {
                    const float *src = row + i * ow;
                    float *dst = dc + (i * s + ki - l->pad) * w;
                    if (s == 1 && hi > lo) {
                        float *d1 = dst + (lo + kj - l->pad);
                        const float *s1 = src + lo;
                        for (size_t j = 0; j < hi - lo; j++)
                            d1[j] += s1[j];
                        continue;
                    }
                    for (size_t j = lo; j < hi; j++)
                        dst[j * s + kj - l->pad] += src[j];
                }
            }
        }
    }
}

/*
 * The batch is unfolded side by side, col [K x n P] (sample i in columns i P ..), so each
 * pass is one sgemm with a long dimension of n P; the output comes out as [out_c x n P] in
 * ycol and is copied into the samples' planes. Scratch per sample: K P + out_c P.
 */
void
layer_conv_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                   float *scratch)
{
    size_t taps = l->in.c * l->kernel * l->kernel, pos = l->out.h * l->out.w;
    size_t in_size = layer_shape_size(l->in), out_size = layer_shape_size(l->out);
    size_t ld = n * pos;
    const float *b = w + l->out.c * taps;
    float *col = scratch, *ycol = scratch + taps * ld;
    for (size_t i = 0; i < n; i++)
        layer_conv_im2col(l, x + i * in_size, col + i * pos, ld);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l->out.c, (int)ld, (int)taps, 1.0f,
                w, (int)taps, col, (int)ld, 0.0f, ycol, (int)ld);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < l->out.c; c++) {
            const float *src = ycol + c * ld + i * pos;
            float *dst = y + i * out_size + c * pos;
            for (size_t p = 0; p < pos; p++)
                dst[p] = src[p] + b[c];
        }
}

void
layer_conv_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                    float *dx, float *dw, size_t n, float *scratch)
{
    size_t taps = l->in.c * l->kernel * l->kernel, pos = l->out.h * l->out.w;
    size_t in_size = layer_shape_size(l->in), out_size = layer_shape_size(l->out);
    size_t ld = n * pos;
    float *db = dw + l->out.c * taps;
    float *col = scratch, *dycol = scratch + taps * ld;
    for (size_t i = 0; i < n; i++)
        layer_conv_im2col(l, x + i * in_size, col + i * pos, ld);
    for (size_t c = 0; c < l->out.c; c++) {
        float sum = 0.0f;
        for (size_t i = 0; i < n; i++) {
            const float *src = dy + i * out_size + c * pos;
            memcpy(dycol + c * ld + i * pos, src, pos * sizeof *src);
            for (size_t p = 0; p < pos; p++)
                sum += src[p];
        }
        db[c] = sum;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->out.c, (int)taps, (int)ld, 1.0f,
                dycol, (int)ld, col, (int)ld, 0.0f, dw, (int)taps);
    if (dx == NULL)
        return;
    /* col is no longer needed: it receives dcol = W^T dy. */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)taps, (int)ld, (int)l->out.c, 1.0f, w,
                (int)taps, dycol, (int)ld, 0.0f, col, (int)ld);
    for (size_t i = 0; i < n; i++)
        layer_conv_col2im(l, col + i * pos, ld, dx + i * in_size);
}
