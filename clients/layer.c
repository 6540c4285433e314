/* layer: shapes, initialisation and dispatch to the kinds. See layer.h. */
#include "clients/layer.h"

#include <math.h>

#include "base/banned.h"

size_t
layer_shape_size(struct layer_shape s)
{
    return s.c * s.h * s.w;
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
        layer_lstm_forward(l, w, x, y, n, saved);
        break;
    case LAYER_GRU:
        layer_gru_forward(l, w, x, y, n, saved);
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
        /* Gate gradients (GRU: input and recurrent side), then two state rows. */
        .scratch = (kind == LAYER_LSTM ? 4 : 6) * steps * hidden + 2 * hidden,
    };
    return 0;
}
