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
 * Columns [j_lo, j_hi) of an output row whose input column j * s + kj - pad falls inside
 * the image, for stride s; outside it the tap reads padding.
 */
static void
layer_conv_span(const struct layer *l, size_t kj, size_t *j_lo, size_t *j_hi)
{
    size_t s = l->stride, ow = l->out.w, w = l->in.w;
    size_t lo = kj >= l->pad ? 0 : (l->pad - kj + s - 1) / s;
    /* j * s + kj - pad < w  <=>  j < (w + pad - kj) / s rounded up. */
    size_t hi = w + l->pad > kj ? (w + l->pad - kj + s - 1) / s : 0;
    *j_lo = lo < ow ? lo : ow;
    *j_hi = hi < ow ? hi : ow;
    if (*j_hi < *j_lo)
        *j_hi = *j_lo;
}

/*
 * Unfolds one sample x [in_c x h x w] into the P columns of col starting at col (rows ld
 * floats apart): row (c, ki, kj), column (i, j) holds x[c][i s + ki - pad][j s + kj - pad].
 */
static void
layer_conv_im2col(const struct layer *l, const float *x, float *col, size_t ld)
{
    size_t k = l->kernel, s = l->stride, oh = l->out.h, ow = l->out.w;
    size_t h = l->in.h, w = l->in.w;
    for (size_t c = 0; c < l->in.c; c++) {
        const float *xc = x + c * h * w;
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                float *row = col + ((c * k + ki) * k + kj) * ld;
                size_t lo, hi;
                layer_conv_span(l, kj, &lo, &hi);
                for (size_t i = 0; i < oh; i++) {
                    ptrdiff_t r = (ptrdiff_t)(i * s + ki) - (ptrdiff_t)l->pad;
                    float *dst = row + i * ow;
                    if (r < 0 || r >= (ptrdiff_t)h) {
                        memset(dst, 0, ow * sizeof *dst);
                        continue;
                    }
                    /* The padded edges span at most pad columns: plain loops. */
                    for (size_t j = 0; j < lo; j++)
                        dst[j] = 0.0f;
                    for (size_t j = hi; j < ow; j++)
                        dst[j] = 0.0f;
                    /* Output column j reads input column j * s + kj - pad >= 0 of row r. */
                    const float *src = xc + (size_t)r * w;
                    if (s == 1 && hi > lo) {
                        memcpy(dst + lo, src + (lo + kj - l->pad), (hi - lo) * sizeof *dst);
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
                size_t lo, hi;
                layer_conv_span(l, kj, &lo, &hi);
                for (size_t i = 0; i < oh; i++) {
                    ptrdiff_t r = (ptrdiff_t)(i * s + ki) - (ptrdiff_t)l->pad;
                    if (r < 0 || r >= (ptrdiff_t)h)
                        continue;
                    const float *src = row + i * ow;
                    float *dst = dc + (size_t)r * w;
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
