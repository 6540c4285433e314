/* layer_dense: fully connected layer on CBLAS. See layer.h. */
#include "clients/layer.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "base/banned.h"

int
layer_dense_init(struct layer *l, struct layer_shape in, size_t out, struct errbuf *eb)
{
    size_t fan_in = layer_shape_size(in);
    if (fan_in == 0 || out == 0)
        return errbuf_set(eb, -ERR_INVALID, "dense: empty input or output");
    if (fan_in > INT_MAX / out)
        return errbuf_set(eb, -ERR_RANGE, "dense: %zu x %zu weights are too many", out, fan_in);
    *l = (struct layer){
        .kind = LAYER_DENSE,
        .in = in,
        .out = { out, 1, 1 },
        .n_params = out * (fan_in + 1),
    };
    return 0;
}

void
layer_dense_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n)
{
    size_t fan_in = layer_shape_size(l->in), fan_out = l->out.c;
    const float *b = w + fan_out * fan_in;
    for (size_t i = 0; i < n; i++)
        memcpy(y + i * fan_out, b, fan_out * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)fan_out, (int)fan_in, 1.0f, x,
                (int)fan_in, w, (int)fan_in, 1.0f, y, (int)fan_out);
}

void
layer_dense_backward_sgd(const struct layer *l, float *w, const float *x, const float *dy,
                         float *dx, float lr, float l2, size_t n)
{
    size_t fan_in = layer_shape_size(l->in), fan_out = l->out.c;
    float *b = w + fan_out * fan_in;
    if (dx != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)fan_in, (int)fan_out,
                    1.0f, dy, (int)fan_out, w, (int)fan_in, 0.0f, dx, (int)fan_in);
    if (l2 > 0.0f)
        cblas_sscal((int)l->n_params, 1.0f - lr * l2, w, 1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)fan_out, (int)fan_in, (int)n, -lr, dy,
                (int)fan_out, x, (int)fan_in, 1.0f, w, (int)fan_in);
    for (size_t o = 0; o < fan_out; o++) {
        float sum = 0.0f;
        for (size_t i = 0; i < n; i++)
            sum += dy[i * fan_out + o];
        b[o] -= lr * sum;
    }
}

void
layer_dense_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                     float *dx, float *dw, size_t n)
{
    size_t fan_in = layer_shape_size(l->in), fan_out = l->out.c;
    float *db = dw + fan_out * fan_in;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)fan_out, (int)fan_in, (int)n, 1.0f,
                dy, (int)fan_out, x, (int)fan_in, 0.0f, dw, (int)fan_in);
    memset(db, 0, fan_out * sizeof *db);
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < fan_out; o++)
            db[o] += dy[i * fan_out + o];
    if (dx != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)fan_in, (int)fan_out,
                    1.0f, dy, (int)fan_out, w, (int)fan_in, 0.0f, dx, (int)fan_in);
}
