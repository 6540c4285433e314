/* layer_embed: token embedding table. See layer.h. */
#include "clients/layer.h"

#include <limits.h>
#include <string.h>

#include "base/banned.h"

int
layer_embed_init(struct layer *l, size_t steps, size_t vocab, size_t dim, struct errbuf *eb)
{
    if (steps == 0 || vocab == 0 || dim == 0)
        return errbuf_set(eb, -ERR_INVALID, "embedding: empty sequence, vocabulary or width");
    if (vocab > 1000000 || dim > 65536 || steps > 1000000)
        return errbuf_set(eb, -ERR_RANGE, "embedding: vocabulary, width or length too large");
    *l = (struct layer){
        .kind = LAYER_EMBED,
        .in = { 1, 1, steps },
        .out = { 1, steps, dim },
        .steps = steps,
        .n_params = vocab * dim,
    };
    return 0;
}

/* Row of the table for a token stored as a float; out-of-range values clamp to the ends. */
static size_t
layer_embed_row(const struct layer *l, float token)
{
    size_t vocab = l->n_params / l->out.w;
    if (!(token > 0.0f))
        return 0;
    return token >= (float)(vocab - 1) ? vocab - 1 : (size_t)token;
}

void
layer_embed_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n)
{
    size_t dim = l->out.w;
    for (size_t i = 0; i < n * l->steps; i++)
        memcpy(y + i * dim, w + layer_embed_row(l, x[i]) * dim, dim * sizeof *y);
}

void
layer_embed_backward(const struct layer *l, const float *x, const float *dy, float *dx, float *dw,
                     size_t n)
{
    size_t dim = l->out.w;
    memset(dw, 0, l->n_params * sizeof *dw);
    for (size_t i = 0; i < n * l->steps; i++) {
        float *row = dw + layer_embed_row(l, x[i]) * dim;
        for (size_t d = 0; d < dim; d++)
            row[d] += dy[i * dim + d];
    }
    /* Token indices have no gradient. */
    if (dx != NULL)
        memset(dx, 0, n * l->steps * sizeof *dx);
}
