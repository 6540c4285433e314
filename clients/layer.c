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
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
    case LAYER_RELU:
        break;
    }
}

void
layer_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
              float *scratch)
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
    }
}

void
layer_backward(const struct layer *l, const float *w, const float *x, const float *y,
               const float *dy, float *dx, float *dw, size_t n, float *scratch)
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
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
    case LAYER_RELU:
    case LAYER_GNORM:
        return 0.0;
    }
    return 0.0;
}
