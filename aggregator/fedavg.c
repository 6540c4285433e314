/* fedavg: weighted mean of decoded updates. See fedavg.h. */
#include "aggregator/fedavg.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

struct fedavg {
    struct codec *codec;
    size_t dim;
    float *acc;        /* codec_acc_len() floats */
    double weight_sum; /* sum of weights added this round */
    size_t count;      /* messages added this round */
};

struct fedavg *
fedavg_new(const struct codec_params *p, size_t dim)
{
    struct fedavg *a = mem_calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->dim = dim;
    a->codec = codec_new(p, dim);
    if (a->codec != NULL)
        a->acc = mem_calloc(codec_acc_len(a->codec), sizeof *a->acc);
    if (a->codec == NULL || a->acc == NULL) {
        fedavg_free(a);
        return NULL;
    }
    return a;
}

void
fedavg_free(struct fedavg *a)
{
    if (a == NULL)
        return;
    codec_free(a->codec);
    mem_free(a->acc);
    mem_free(a);
}

void
fedavg_begin(struct fedavg *a)
{
    memset(a->acc, 0, codec_acc_len(a->codec) * sizeof *a->acc);
    a->weight_sum = 0;
    a->count = 0;
}

int
fedavg_add(struct fedavg *a, const uint8_t *msg, size_t len, double weight,
           const struct codec_link *link, struct errbuf *eb)
{
    if (!(weight > 0.0) || !isfinite(weight))
        return errbuf_set(eb, -ERR_INVALID, "update weight %g is not positive", weight);
    int rc = codec_decode_add(a->codec, a->acc, msg, len, weight, link, eb);
    if (rc < 0)
        return rc;
    a->weight_sum += weight;
    a->count++;
    return 0;
}

size_t
fedavg_count(const struct fedavg *a)
{
    return a->count;
}

int
fedavg_finish(struct fedavg *a, float *out, const struct codec_link *round_link, struct errbuf *eb)
{
    if (a->count == 0)
        return errbuf_set(eb, -ERR_ABORTED, "no update reached the server this round");
    codec_decode_finish(a->codec, out, a->acc, round_link);
    float inv = (float)(1.0 / a->weight_sum);
    for (size_t i = 0; i < a->dim; i++)
        out[i] *= inv;
    return 0;
}
