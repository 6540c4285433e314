/* layer_relu: rectified linear unit. See layer.h. */
#include "clients/layer.h"

#include "base/banned.h"

int
layer_relu_init(struct layer *l, struct layer_shape in, struct errbuf *eb)
{
    if (layer_shape_size(in) == 0)
        return errbuf_set(eb, -ERR_INVALID, "relu: empty input");
    *l = (struct layer){ .kind = LAYER_RELU, .in = in, .out = in };
    return 0;
}

void
layer_relu_forward(const struct layer *l, const float *x, float *y, size_t n)
{
    size_t total = n * layer_shape_size(l->in);
    for (size_t i = 0; i < total; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
layer_relu_backward(const struct layer *l, const float *y, const float *dy, float *dx, size_t n)
{
    size_t total = n * layer_shape_size(l->in);
    for (size_t i = 0; i < total; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
