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
 * scratch is two sample-sized matrices whatever the batch.
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
        .scratch = 2 * taps * pos,
    };
    return 0;
}

/* Unfolds one sample x [in_c x h x w] into col [K x P]. */
static void
layer_conv_im2col(const struct layer *l, const float *x, float *col)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t h = l->in.h, w = l->in.w;
    for (size_t c = 0; c < l->in.c; c++) {
        const float *xc = x + c * h * w;
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                float *row = col + ((c * k + ki) * k + kj) * oh * ow;
                for (size_t i = 0; i < oh; i++) {
                    /* Input row i * s + ki - pad, as a signed offset into the image. */
                    ptrdiff_t r = (ptrdiff_t)(i * s + ki) - (ptrdiff_t)l->pad;
                    float *dst = row + i * ow;
                    if (r < 0 || r >= (ptrdiff_t)h) {
                        memset(dst, 0, ow * sizeof *dst);
                        continue;
                    }
                    const float *src = xc + (size_t)r * w;
                    for (size_t j = 0; j < ow; j++) {
                        ptrdiff_t q = (ptrdiff_t)(j * s + kj) - (ptrdiff_t)l->pad;
                        dst[j] = q >= 0 && q < (ptrdiff_t)w ? src[q] : 0.0f;
                    }
                }
            }
        }
    }
}

/* Folds col [K x P] back onto dx [in_c x h x w], adding overlapping taps in a fixed order. */
static void
layer_conv_col2im(const struct layer *l, const float *col, float *dx)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t h = l->in.h, w = l->in.w;
    memset(dx, 0, layer_shape_size(l->in) * sizeof *dx);
    for (size_t c = 0; c < l->in.c; c++) {
        float *dc = dx + c * h * w;
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                const float *row = col + ((c * k + ki) * k + kj) * oh * ow;
                for (size_t i = 0; i < oh; i++) {
                    ptrdiff_t r = (ptrdiff_t)(i * s + ki) - (ptrdiff_t)l->pad;
                    if (r < 0 || r >= (ptrdiff_t)h)
                        continue;
                    const float *src = row + i * ow;
                    float *dst = dc + (size_t)r * w;
                    for (size_t j = 0; j < ow; j++) {
                        ptrdiff_t q = (ptrdiff_t)(j * s + kj) - (ptrdiff_t)l->pad;
                        if (q >= 0 && q < (ptrdiff_t)w)
                            dst[q] += src[j];
                    }
                }
            }
        }
    }
}

void
layer_conv_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                   float *scratch)
{
    size_t taps = l->in.c * l->kernel * l->kernel, pos = l->out.h * l->out.w;
    size_t in_size = layer_shape_size(l->in), out_size = layer_shape_size(l->out);
    const float *b = w + l->out.c * taps;
    for (size_t i = 0; i < n; i++) {
        float *yi = y + i * out_size;
        layer_conv_im2col(l, x + i * in_size, scratch);
        for (size_t c = 0; c < l->out.c; c++)
            for (size_t p = 0; p < pos; p++)
                yi[c * pos + p] = b[c];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l->out.c, (int)pos, (int)taps,
                    1.0f, w, (int)taps, scratch, (int)pos, 1.0f, yi, (int)pos);
    }
}

void
layer_conv_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                    float *dx, float *dw, size_t n, float *scratch)
{
    size_t taps = l->in.c * l->kernel * l->kernel, pos = l->out.h * l->out.w;
    size_t in_size = layer_shape_size(l->in), out_size = layer_shape_size(l->out);
    float *db = dw + l->out.c * taps;
    float *col = scratch, *dcol = scratch + taps * pos;
    memset(db, 0, l->out.c * sizeof *db);
    for (size_t i = 0; i < n; i++) {
        const float *dyi = dy + i * out_size;
        layer_conv_im2col(l, x + i * in_size, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->out.c, (int)taps, (int)pos,
                    1.0f, dyi, (int)pos, col, (int)pos, i == 0 ? 0.0f : 1.0f, dw, (int)taps);
        for (size_t c = 0; c < l->out.c; c++) {
            float sum = 0.0f;
            for (size_t p = 0; p < pos; p++)
                sum += dyi[c * pos + p];
            db[c] += sum;
        }
        if (dx != NULL) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)taps, (int)pos, (int)l->out.c,
                        1.0f, w, (int)taps, dyi, (int)pos, 0.0f, dcol, (int)pos);
            layer_conv_col2im(l, dcol, dx + i * in_size);
        }
    }
}
