/* layer: shapes, initialisation and dispatch to the kinds. See layer.h. */
#include "clients/layer.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "clients/rnn_step.h"

#include "base/banned.h"

size_t
layer_shape_size(struct layer_shape s)
{
    return s.c * s.h * s.w;
}

size_t
layer_scratch(const struct layer *l, size_t n)
{
    return n * l->scratch + l->scratch_fixed;
}

void
layer_init_params(const struct layer *l, float *w, struct rng *r)
{
    switch (l->kind) {
    case LAYER_DENSE:
    case LAYER_CONV: {
        size_t fan_in =
            l->kind == LAYER_DENSE ? layer_shape_size(l->in) : l->in.c * l->kernel * l->kernel;
        double a = 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < l->n_params; i++)
            w[i] = (float)((2.0 * rng_uniform(r) - 1.0) * a);
        break;
    }
    case LAYER_GNORM:
        for (size_t i = 0; i < l->in.c; i++) {
            w[i] = 1.0f;
            w[l->in.c + i] = 0.0f;
        }
        break;
    case LAYER_EMBED:
        /* Unit variance, as the normal draws of common frameworks. */
        for (size_t i = 0; i < l->n_params; i++)
            w[i] = (float)((2.0 * rng_uniform(r) - 1.0) * sqrt(3.0));
        break;
    case LAYER_LSTM:
    case LAYER_GRU: {
        double a = 1.0 / sqrt((double)l->hidden);
        for (size_t i = 0; i < l->n_params; i++)
            w[i] = (float)((2.0 * rng_uniform(r) - 1.0) * a);
        break;
    }
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
    case LAYER_RELU:
        break;
    }
}

void
layer_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
              float *saved, float *scratch)
{
    switch (l->kind) {
    case LAYER_DENSE:
        layer_dense_forward(l, w, x, y, n);
        break;
    case LAYER_CONV:
        layer_conv_forward(l, w, x, y, n, scratch);
        break;
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
        layer_pool_forward(l, x, y, n);
        break;
    case LAYER_RELU:
        layer_relu_forward(l, x, y, n);
        break;
    case LAYER_GNORM:
        layer_gnorm_forward(l, w, x, y, n);
        break;
    case LAYER_EMBED:
        layer_embed_forward(l, w, x, y, n);
        break;
    case LAYER_LSTM:
        layer_lstm_forward(l, w, x, y, n, saved, scratch);
        break;
    case LAYER_GRU:
        layer_gru_forward(l, w, x, y, n, saved, scratch);
        break;
    }
}

void
layer_backward(const struct layer *l, const float *w, const float *x, const float *y,
               const float *dy, float *dx, float *dw, size_t n, const float *saved, float *scratch)
{
    switch (l->kind) {
    case LAYER_DENSE:
        layer_dense_backward(l, w, x, dy, dx, dw, n);
        break;
    case LAYER_CONV:
        layer_conv_backward(l, w, x, dy, dx, dw, n, scratch);
        break;
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
        if (dx != NULL)
            layer_pool_backward(l, x, y, dy, dx, n);
        break;
    case LAYER_RELU:
        if (dx != NULL)
            layer_relu_backward(l, y, dy, dx, n);
        break;
    case LAYER_GNORM:
        layer_gnorm_backward(l, w, x, dy, dx, dw, n);
        break;
    case LAYER_EMBED:
        layer_embed_backward(l, x, dy, dx, dw, n);
        break;
    case LAYER_LSTM:
        layer_lstm_backward(l, w, x, dy, dx, dw, n, saved, scratch);
        break;
    case LAYER_GRU:
        layer_gru_backward(l, w, x, dy, dx, dw, n, saved, scratch);
        break;
    }
}

double
layer_forward_macs(const struct layer *l)
{
    switch (l->kind) {
    case LAYER_DENSE:
        return (double)layer_shape_size(l->in) * (double)layer_shape_size(l->out);
    case LAYER_CONV:
        return (double)layer_shape_size(l->out) * (double)(l->in.c * l->kernel * l->kernel);
    case LAYER_LSTM:
    case LAYER_GRU: {
        size_t gates = l->kind == LAYER_LSTM ? 4 : 3;
        return (double)(l->steps * gates * l->hidden * (l->in.w + l->hidden));
    }
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
    case LAYER_RELU:
    case LAYER_GNORM:
    case LAYER_EMBED:
        return 0.0;
    }
    return 0.0;
}

int
layer_rnn_init(struct layer *l, enum layer_kind kind, struct layer_shape in, size_t hidden,
               int last_only, struct errbuf *eb)
{
    if (kind != LAYER_LSTM && kind != LAYER_GRU)
        return errbuf_set(eb, -ERR_INVALID, "recurrent: not a recurrent kind");
    size_t steps = in.h, feats = in.w;
    if (in.c != 1 || steps == 0 || feats == 0 || hidden == 0)
        return errbuf_set(eb, -ERR_INVALID, "recurrent: empty sequence, input or state");
    if (steps > 100000 || feats > 65536 || hidden > 65536)
        return errbuf_set(eb, -ERR_RANGE, "recurrent: sequence, input or state too large");
    size_t gates = kind == LAYER_LSTM ? 4 : 3;
    *l = (struct layer){
        .kind = kind,
        .in = in,
        .out = last_only ? (struct layer_shape){ hidden, 1, 1 }
                         : (struct layer_shape){ 1, steps, hidden },
        .steps = steps,
        .hidden = hidden,
        .last_only = last_only,
        /* W [gates H x (D + H)], b [gates H]; the GRU adds the candidate's recurrent bias. */
        .n_params = gates * hidden * (feats + hidden + 1) + (kind == LAYER_GRU ? hidden : 0),
        /* LSTM: gates [T x 4H], cells and states [(T + 1) x H] each; GRU: gates and the
         * recurrent products [T x 3H] each, states [(T + 1) x H]. */
        .saved = kind == LAYER_LSTM ? 4 * steps * hidden + 2 * (steps + 1) * hidden
                                    : 6 * steps * hidden + (steps + 1) * hidden,
        /* Gate gradients (GRU: input and recurrent side), two state rows, the states
         * gathered for the weight gradient. */
        .scratch = (kind == LAYER_LSTM ? 5 : 7) * steps * hidden + 2 * hidden,
        /* The recurrent weights packed (transposed for the forward pass). */
        .scratch_fixed = rnn_step_packed_floats(gates * hidden, hidden),
    };
    return 0;
}

void
layer_rnn_project(const struct layer *l, size_t gates, const float *w, const float *x, float *out,
                  size_t n)
{
    size_t T = l->steps, D = l->in.w, G = gates * l->hidden, ld = D + l->hidden;
    const float *b = w + G * ld;
    for (size_t i = 0; i < n; i++) {
        float *g = out + i * l->saved;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)G, (int)D, 1.0f,
                    x + i * T * D, (int)D, w, (int)ld, 0.0f, g, (int)G);
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < G; k++)
                g[t * G + k] += b[k];
    }
}

void
layer_rnn_emit(const struct layer *l, const float *h, float *y, size_t i, size_t t)
{
    size_t H = l->hidden;
    if (!l->last_only)
        memcpy(y + (i * l->steps + t) * H, h, H * sizeof *h);
    else if (t + 1 == l->steps)
        memcpy(y + i * H, h, H * sizeof *h);
}

void
layer_rnn_weight_grads(const struct layer *l, size_t gates, const float *w, const float *ax,
                       const float *ah, const float *x, const float *hprev, float *dw, float *dx,
                       size_t n, float *hcat)
{
    size_t T = l->steps, D = l->in.w, H = l->hidden, G = gates * H, ld = D + H, rows = n * T;
    float *db = dw + G * ld;
    for (size_t i = 0; i < n; i++)
        memcpy(hcat + i * T * H, hprev + i * l->saved, T * H * sizeof *hcat);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)D, (int)rows, 1.0f, ax,
                (int)G, x, (int)D, 0.0f, dw, (int)ld);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)H, (int)rows, 1.0f, ah,
                (int)G, hcat, (int)H, 0.0f, dw + D, (int)ld);
    memset(db, 0, G * sizeof *db);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < G; k++)
            db[k] += ax[r * G + k];
    if (dx != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)D, (int)G, 1.0f, ax,
                    (int)G, w, (int)ld, 0.0f, dx, (int)D);
}
