/* fedavg: weighted mean of decoded updates. See fedavg.h. */
#include "aggregator/fedavg.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

struct fedavg {
    struct codec *codec;
    size_t dim;
    size_t acc_len;        /* codec_acc_len() */
    float *scratch;        /* one decoded message, then the finished sum */
    struct exact_sum *sum; /* acc_len weighted sums, then the weight sum */
    size_t count;          /* messages added this round */
};

struct fedavg *
fedavg_new(const struct codec_params *p, size_t dim)
{
    struct fedavg *a = mem_calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->dim = dim;
    a->codec = codec_new(p, dim);
    if (a->codec != NULL) {
        a->acc_len = codec_acc_len(a->codec);
        a->scratch = mem_calloc(a->acc_len, sizeof *a->scratch);
        a->sum = exact_sum_new(a->acc_len + 1);
    }
    if (a->codec == NULL || a->scratch == NULL || a->sum == NULL) {
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
    mem_free(a->scratch);
    exact_sum_free(a->sum);
    mem_free(a);
}

void
fedavg_begin(struct fedavg *a)
{
    exact_sum_clear(a->sum);
    a->count = 0;
}

int
fedavg_add(struct fedavg *a, const uint8_t *msg, size_t len, double weight,
           const struct codec_link *link, struct errbuf *eb)
{
    if (!(weight > 0.0) || !isfinite(weight))
        return errbuf_set(eb, -ERR_INVALID, "update weight %g is not positive", weight);
    memset(a->scratch, 0, a->acc_len * sizeof *a->scratch);
    int rc = codec_decode_add(a->codec, a->scratch, msg, len, 1.0, link, eb);
    if (rc < 0)
        return rc;
    rc = exact_sum_add_f32(a->sum, 0, a->scratch, a->acc_len, weight, eb);
    if (rc == 0)
        rc = exact_sum_add_f64(a->sum, a->acc_len, weight, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "decoded update");
    a->count++;
    return 0;
}

void
fedavg_merge(struct fedavg *dst, const struct fedavg *src)
{
    exact_sum_merge(dst->sum, src->sum);
    dst->count += src->count;
}

size_t
fedavg_count(const struct fedavg *a)
{
    return a->count;
}

struct exact_sum *
fedavg_sum(struct fedavg *a)
{
    return a->sum;
}

double
fedavg_weight(const struct fedavg *a)
{
    return exact_sum_get(a->sum, a->acc_len);
}

int
fedavg_finish(struct fedavg *a, float *out, const struct codec_link *round_link, struct errbuf *eb)
{
    double weight = fedavg_weight(a);
    if (!(weight > 0.0))
        return errbuf_set(eb, -ERR_ABORTED, "no update reached the server this round");
    for (size_t i = 0; i < a->acc_len; i++)
        a->scratch[i] = (float)exact_sum_get(a->sum, i);
    codec_decode_finish(a->codec, out, a->scratch, round_link);
    float inv = (float)(1.0 / weight);
    for (size_t i = 0; i < a->dim; i++)
        out[i] *= inv;
    return 0;
}
