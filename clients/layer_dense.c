/*
 * layer_dense: fully connected layer on CBLAS. See layer.h.
 *
 * With the small batches of local training (10 rows) a product with the weight matrix is
 * bound by memory, not arithmetic: the FedAvg CNN's first dense layer holds 6.4 MB of
 * weights, more than a core's cache, and a single sgemm over it copies (packs) the whole
 * matrix before multiplying. The forward pass and the SGD step therefore run over blocks of
 * LAYER_DENSE_BLOCK output rows: OpenBLAS multiplies products that small without packing,
 * and the SGD step updates each block right after the input gradient has read it, while it
 * is still in cache (measured with bench/bench_nets; docs/models.md). The blocks are fixed
 * by the shapes, so results stay a pure function of the inputs.
 */
#include "clients/layer.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "base/banned.h"

/* Output rows per block of the forward pass and of the fused SGD step. */
#define LAYER_DENSE_BLOCK 16
/*
 * Batches from which the forward pass is one sgemm: with as many rows the packed product
 * pays for its copy of the weights (the evaluation batches of 32 images of the FedAvg CNN
 * take 0.7 of the blocked time; bench/bench_nets).
 */
#define LAYER_DENSE_FULL_ROWS 32

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
    size_t block = n >= LAYER_DENSE_FULL_ROWS ? fan_out : LAYER_DENSE_BLOCK;
    for (size_t o = 0; o < fan_out; o += block) {
        size_t m = fan_out - o < block ? fan_out - o : block;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)fan_in, 1.0f, x,
                    (int)fan_in, w + o * fan_in, (int)fan_in, 1.0f, y + o, (int)fan_out);
    }
}

/*
 * Block by block of output rows o..o+m: dx += dy[:, o..o+m) W[o..o+m, :] (the first block
 * overwrites), then W[o..o+m, :] = (1 - lr l2) W - lr dy[:, o..o+m)^T x.
 */
void
layer_dense_backward_sgd(const struct layer *l, float *w, const float *x, const float *dy,
                         float *dx, float lr, float l2, size_t n)
{
    size_t fan_in = layer_shape_size(l->in), fan_out = l->out.c;
    float *b = w + fan_out * fan_in;
    for (size_t o = 0; o < fan_out; o += LAYER_DENSE_BLOCK) {
        size_t m = fan_out - o < LAYER_DENSE_BLOCK ? fan_out - o : LAYER_DENSE_BLOCK;
        float *wo = w + o * fan_in;
        if (dx != NULL)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)fan_in, (int)m,
                        1.0f, dy + o, (int)fan_out, wo, (int)fan_in, o == 0 ? 0.0f : 1.0f, dx,
                        (int)fan_in);
        if (l2 > 0.0f)
            cblas_sscal((int)(m * fan_in), 1.0f - lr * l2, wo, 1);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)fan_in, (int)n, -lr,
                    dy + o, (int)fan_out, x, (int)fan_in, 1.0f, wo, (int)fan_in);
    }
    if (l2 > 0.0f)
        cblas_sscal((int)fan_out, 1.0f - lr * l2, b, 1);
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
