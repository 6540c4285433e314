/*
 * run_thc: THC's round as Li et al. define it ("THC: Accelerating Distributed Deep Learning
 * Using Tensor Homomorphic Compression", NSDI 2024, §3-§4), shared by the plain and the
 * secure round (run_int.h) when uplink.codec = thc and uplink.thc_norm = common.
 *
 * The clients of a round first report the norm of the vector they will send (their update,
 * plus their error-feedback residual), the server broadcasts the largest, N; every client
 * maps its update under the common scale √D/N to table integers (codec/thc.h,
 * thc_encode_ints); the server adds the integers, each times the client's integer weight,
 * and decodes the sum once (thc_decode_sum). The plain round sums them here; the secure
 * round (run_secure.c) sums the very same integers inside SecAgg's ring, so both give the
 * same model bit for bit.
 *
 * Weights (aggregation.weighting): uniform is the paper's setting, w_k = 1, and the sum of n
 * clients needs ceil(log2(n·g + 1)) bits per coordinate. With samples, w_k is the client's
 * sample count quantised to RUN_THC_WEIGHT_BITS bits relative to the largest client,
 * max(1, round(255 n_k / n_max)): exact counts would cost log2(largest count) ring bits.
 *
 * Error feedback (THC's default: it cancels the clamping bias, §4): the client keeps
 * e <- (x + e) − decode_N(ints), where decode_N is exactly the server's decoding of its
 * integers alone under the common norm.
 *
 * Bits: the plain message keeps THC's wire format (codec/thc.h: the norm report, 32 bits,
 * and b bits per rotated coordinate); the broadcast of N costs 32 downlink bits per
 * uploading client.
 */
#include "sim/run_int.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "sim/cluster.h"
#include "sim/carriage.h"
#include "base/banned.h"

#define RUN_THC_WEIGHT_BITS CARRIAGE_THC_WEIGHT_BITS

bool
run_thc_common(const struct scenario *s)
{
    return s->uplink.codec.kind == CODEC_THC && s->uplink.thc_norm == THC_NORM_COMMON;
}

int
run_thc_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    if (!run_thc_common(s))
        return 0;
    w->thc.on = true;
    w->thc.weight_norm = 1.0; /* read only when weighting by samples */
    if (s->aggregation.weighting == WEIGHTING_SAMPLES) {
        int rc = run_world_weight_norm(w, &w->thc.weight_norm, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "aggregation");
    }
    bool plain = s->aggregation.secure == SECURE_NONE;
    for (unsigned t = 0; t < w->n_threads; t++) {
        struct run_thread *th = &w->th[t];
        th->thc = thc_new(&s->uplink.codec, w->dim);
        if (th->thc == NULL)
            goto nomem;
        w->thc.len = thc_padded_len(th->thc);
        th->thc_ints = mem_alloc(w->thc.len * sizeof *th->thc_ints);
        th->thc_x = mem_alloc(w->dim * sizeof *th->thc_x);
        if (th->thc_ints == NULL || th->thc_x == NULL)
            goto nomem;
        if (plain) {
            th->thc_sum = mem_alloc((w->thc.len + 1) * sizeof *th->thc_sum);
            if (th->thc_sum == NULL)
                goto nomem;
        }
    }
    if (plain) {
        w->thc.sum = mem_alloc((w->thc.len + 1) * sizeof *w->thc.sum);
        if (w->thc.sum == NULL)
            goto nomem;
    }
    return 0;
nomem:
    return errbuf_set(eb, -ERR_NOMEM, "out of memory for THC aggregation");
}

void
run_thc_release(struct run_world *w)
{
    if (w->th != NULL) {
        for (unsigned t = 0; t < w->n_threads; t++) {
            thc_free(w->th[t].thc);
            mem_free(w->th[t].thc_ints);
            mem_free(w->th[t].thc_x);
            mem_free(w->th[t].thc_sum);
        }
    }
    mem_free(w->thc.sum);
}

uint64_t
run_thc_weight_max(const struct run_world *w)
{
    if (w->s->aggregation.weighting == WEIGHTING_UNIFORM)
        return 1;
    return (UINT64_C(1) << RUN_THC_WEIGHT_BITS) - 1;
}

uint64_t
run_thc_weight(const struct run_world *w, size_t samples)
{
    if (w->s->aggregation.weighting == WEIGHTING_UNIFORM)
        return 1;
    double q = round((double)run_thc_weight_max(w) * (double)samples / w->thc.weight_norm);
    return q < 1.0 ? 1 : (uint64_t)q;
}

/* The vector client j sends: its update, plus its residual under error feedback. */
static const float *
run_thc_vector(const struct run_world *w, const struct run_job *j, float *scratch)
{
    if (w->carry.residual == NULL)
        return j->w;
    const float *e = w->carry.residual[j->client];
    for (size_t i = 0; i < w->dim; i++)
        scratch[i] = j->w[i] + e[i];
    return scratch;
}

int
run_thc_norm(struct run_world *w, const size_t *slots, size_t n, struct errbuf *eb)
{
    double norm = 0;
    for (size_t i = 0; i < n; i++) {
        const float *x = run_thc_vector(w, &w->jobs[slots[i]], w->th[0].thc_x);
        double s = 0;
        for (size_t k = 0; k < w->dim; k++)
            s += (double)x[k] * (double)x[k];
        norm = sqrt(s) > norm ? sqrt(s) : norm;
    }
    int rc = cluster_max_f64(w->cl, &norm, 1, eb);
    if (rc < 0)
        return rc;
    w->thc.norm = norm > 0 ? norm : 1.0;
    return 0;
}

void
run_thc_encode(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    struct codec_link link = { .seed = w->s->seed, .round = j->stream, .client = j->client };
    const float *x = run_thc_vector(w, j, th->thc_x);
    j->rc = thc_encode_ints(th->thc, th->thc_ints, x, w->thc.norm, &link, &j->eb);
    if (j->rc < 0 || w->carry.residual == NULL)
        return;
    float *e = w->carry.residual[j->client];
    thc_decode_ints(th->thc, e, th->thc_ints, w->thc.norm, &link);
    for (size_t i = 0; i < w->dim; i++)
        e[i] = x[i] - e[i];
}

static void
run_thc_add_job(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    run_thc_encode(w, j, th);
    if (j->rc < 0)
        return;
    uint64_t weight = run_thc_weight(w, j->samples);
    for (size_t i = 0; i < w->thc.len; i++)
        th->thc_sum[i] += (uint64_t)th->thc_ints[i] * weight;
    th->thc_sum[w->thc.len] += weight;
}

int
run_thc_aggregate(struct run_world *w, struct errbuf *eb)
{
    size_t n = 0;
    w->thc.mean_ready = false;
    for (size_t k = 0; k < w->n_jobs; k++) {
        struct run_job *j = &w->jobs[k];
        if (!(j->agg_weight > 0 && j->round == w->open.round))
            continue;
        w->open.rec.downlink_bits += 32; /* the common norm, broadcast */
        if (run_owns(w, j))
            w->owned[n++] = k;
    }
    int rc = run_thc_norm(w, w->owned, n, eb);
    if (rc < 0)
        return rc;
    size_t len = w->thc.len + 1;
    for (unsigned t = 0; t < w->n_threads; t++)
        memset(w->th[t].thc_sum, 0, len * sizeof *w->th[t].thc_sum);
    run_parallel(w, w->owned, n, run_thc_add_job);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct run_job *j = &w->jobs[w->owned[i]];
        if (j->rc < 0) {
            *eb = j->eb;
            rc = errbuf_prefix(eb, "round %llu, THC update of client %llu",
                               (unsigned long long)w->open.round, (unsigned long long)j->client);
        }
    }
    rc = run_agree(w, rc, eb);
    if (rc < 0)
        return rc;
    memset(w->thc.sum, 0, len * sizeof *w->thc.sum);
    for (unsigned t = 0; t < w->n_threads; t++)
        for (size_t i = 0; i < len; i++)
            w->thc.sum[i] += w->th[t].thc_sum[i];
    rc = cluster_sum_u64(w->cl, w->thc.sum, len, eb);
    if (rc < 0)
        return rc;
    run_thc_decode(w, w->thc.sum);
    w->thc.mean_ready = w->thc.sum[w->thc.len] > 0;
    return 0;
}

void
run_thc_decode(struct run_world *w, const uint64_t *sum)
{
    struct codec_link link = { .seed = w->s->seed, .round = w->open.round, .client = 0 };
    size_t weight = (size_t)sum[w->thc.len];
    if (weight > 0)
        thc_decode_sum(w->th[0].thc, w->model.mean, sum, weight, w->thc.norm, &link);
}
