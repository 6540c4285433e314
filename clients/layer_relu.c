/* layer_relu: rectified linear unit. See layer.h. */
#include "clients/layer.h"

#include <stdint.h>
#include <string.h>

#include "base/banned.h"

/*
 * Four lanes at a time (GCC and Clang vector extension): a comparison gives each lane all
 * ones or zero, which selects the value bit for bit, so the results equal the scalar loop's.
 */
typedef float layer_relu_v4 __attribute__((vector_size(16)));
typedef int32_t layer_relu_m4 __attribute__((vector_size(16)));

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
    size_t total = n * layer_shape_size(l->in), i = 0;
    const layer_relu_v4 zero = { 0.0f, 0.0f, 0.0f, 0.0f };
    for (; i + 4 <= total; i += 4) {
        layer_relu_v4 v;
        memcpy(&v, x + i, sizeof v);
        layer_relu_m4 keep = v > zero;
        v = (layer_relu_v4)((layer_relu_m4)v & keep);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < total; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
layer_relu_backward(const struct layer *l, const float *y, const float *dy, float *dx, size_t n)
{
    size_t total = n * layer_shape_size(l->in), i = 0;
    const layer_relu_v4 zero = { 0.0f, 0.0f, 0.0f, 0.0f };
    for (; i + 4 <= total; i += 4) {
        layer_relu_v4 v, g;
        memcpy(&v, y + i, sizeof v);
        memcpy(&g, dy + i, sizeof g);
        layer_relu_m4 keep = v > zero;
        g = (layer_relu_v4)((layer_relu_m4)g & keep);
        memcpy(dx + i, &g, sizeof g);
    }
    for (; i < total; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
