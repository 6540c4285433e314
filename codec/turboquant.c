/* turboquant: TurboQuant_prod. See turboquant.h. */
#include "codec/turboquant.h"

#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec_int.h"
#include "codec/eden.h"
#include "base/banned.h"

struct turboquant {
    size_t d;
    struct eden *mse; /* (b−1)-bit TurboQuant_mse; NULL at b = 1 */
    float *xhat;      /* d: decoded TurboQuant_mse part */
    float *r;         /* d: residual */
    float *row;       /* d: one row of G */
    uint8_t *sgn;     /* ceil(d/8) sign bits */
};

int
turboquant_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1 && p->bits <= 9) || p->bits != floor(p->bits))
        return errbuf_set(eb, -ERR_RANGE,
                          "bits %g: codec 'turboquant_prod' needs an integer in 1..9", p->bits);
    if (dim > TURBOQUANT_MAX_DIM)
        return errbuf_set(eb, -ERR_RANGE,
                          "dimension %zu: codec 'turboquant_prod' draws a dense d x d matrix "
                          "and allows at most %d",
                          dim, TURBOQUANT_MAX_DIM);
    if (p->rotation != CODEC_ROTATION_PER_CLIENT)
        return errbuf_set(eb, -ERR_INVALID,
                          "rotation: codec 'turboquant_prod' supports per_client only");
    if (p->packet_loss > 0)
        return errbuf_set(eb, -ERR_INVALID,
                          "packet_loss: codec 'turboquant_prod' does not model it");
    if (p->bits > 1) {
        /* The (b−1)-bit TurboQuant_mse stage must be servable (e.g. its exact codebook). */
        struct codec_params mp = *p;
        mp.bits = p->bits - 1;
        int rc = eden_params_check(&mp, dim, eb);
        if (rc < 0) {
            errbuf_prefix(eb, "turboquant_prod's %g-bit mse stage", mp.bits);
            return rc;
        }
    }
    return 0;
}

struct turboquant *
turboquant_new(const struct codec_params *p, size_t dim)
{
    struct turboquant *tq = mem_calloc(1, sizeof *tq);
    if (tq == NULL)
        return NULL;
    tq->d = dim;
    if (p->bits > 1) {
        struct codec_params q = *p;
        q.bits = p->bits - 1;
        tq->mse = eden_new(&q, dim, EDEN_FIXED_SCALE);
        if (tq->mse == NULL)
            goto fail;
    }
    tq->xhat = mem_alloc(dim * sizeof *tq->xhat);
    tq->r = mem_alloc(dim * sizeof *tq->r);
    tq->row = mem_alloc(dim * sizeof *tq->row);
    tq->sgn = mem_alloc((dim + 7) / 8);
    if (tq->xhat == NULL || tq->r == NULL || tq->row == NULL || tq->sgn == NULL)
        goto fail;
    return tq;
fail:
    turboquant_free(tq);
    return NULL;
}

void
turboquant_free(struct turboquant *tq)
{
    if (tq == NULL)
        return;
    eden_free(tq->mse);
    mem_free(tq->xhat);
    mem_free(tq->r);
    mem_free(tq->row);
    mem_free(tq->sgn);
    mem_free(tq);
}

static size_t
turboquant_mse_bytes(const struct turboquant *tq)
{
    return tq->mse != NULL ? eden_max_bytes(tq->mse) : 0;
}

size_t
turboquant_max_bytes(const struct turboquant *tq)
{
    return turboquant_mse_bytes(tq) + 4 + (tq->d + 7) / 8;
}

size_t
turboquant_acc_len(const struct turboquant *tq)
{
    return tq->d;
}

static void
turboquant_qjl_stream(struct rng *r, const struct codec_link *link)
{
    codec_shared_stream(r, link, CODEC_ROTATION_PER_CLIENT);
    rng_seek(r, TURBOQUANT_QJL_OFFSET);
}

static void
turboquant_draw_row(float *row, size_t d, struct rng *r)
{
    for (size_t i = 0; i < d; i++)
        row[i] = (float)gsl_ran_gaussian_ziggurat(rng_gsl(r), 1.0);
}

/* Decodes the TurboQuant_mse part of msg (m bytes) into tq->xhat. */
static int
turboquant_mse_part(struct turboquant *tq, const uint8_t *msg, size_t m,
                    const struct codec_link *link, struct errbuf *eb)
{
    memset(tq->xhat, 0, tq->d * sizeof *tq->xhat);
    if (tq->mse == NULL)
        return 0;
    return eden_decode_add(tq->mse, tq->xhat, msg, m, 1.0, link, eb);
}

int
turboquant_encode(struct turboquant *tq, uint8_t *out, size_t cap, size_t *len, const float *x,
                  const struct codec_link *link, struct errbuf *eb)
{
    size_t d = tq->d, bytes = turboquant_max_bytes(tq), m = 0;
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "turboquant: buffer of %zu bytes, %zu needed", cap,
                          bytes);
    int rc;
    if (tq->mse != NULL) {
        rc = eden_encode(tq->mse, out, cap, &m, x, link, eb);
        if (rc < 0)
            return rc;
    }
    rc = turboquant_mse_part(tq, out, m, link, eb);
    if (rc < 0)
        return rc;
    double nr2 = 0;
    for (size_t i = 0; i < d; i++) {
        tq->r[i] = x[i] - tq->xhat[i];
        nr2 += (double)tq->r[i] * tq->r[i];
    }
    if (!isfinite(nr2))
        return errbuf_set(eb, -ERR_RANGE, "turboquant: input vector is not finite");
    struct rng r;
    turboquant_qjl_stream(&r, link);
    memset(tq->sgn, 0, (d + 7) / 8);
    for (size_t j = 0; j < d; j++) {
        turboquant_draw_row(tq->row, d, &r);
        double dot = 0;
        for (size_t i = 0; i < d; i++)
            dot += (double)tq->row[i] * tq->r[i];
        if (dot < 0)
            tq->sgn[j / 8] = (uint8_t)(tq->sgn[j / 8] | 1u << (j % 8));
    }
    codec_put_f32(out + m, (float)sqrt(nr2));
    memcpy(out + m + 4, tq->sgn, (d + 7) / 8);
    *len = bytes;
    return 0;
}

int
turboquant_decode_add(struct turboquant *tq, float *acc, const uint8_t *msg, size_t len,
                      double weight, const struct codec_link *link, struct errbuf *eb)
{
    size_t d = tq->d, bytes = turboquant_max_bytes(tq), m = turboquant_mse_bytes(tq);
    if (len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "turboquant: message of %zu bytes, expected %zu", len, bytes);
    int rc = turboquant_mse_part(tq, msg, m, link, eb);
    if (rc < 0)
        return rc;
    float nr;
    rc = codec_get_scale(&nr, msg, len, m, "turboquant residual norm", eb);
    if (rc < 0)
        return rc;
    if (nr < 0)
        return codec_corrupt(eb, m, "turboquant: negative residual norm %g", (double)nr);
    const uint8_t *sgn = msg + m + 4;
    struct rng r;
    turboquant_qjl_stream(&r, link);
    memset(tq->r, 0, d * sizeof *tq->r);
    for (size_t j = 0; j < d; j++) {
        turboquant_draw_row(tq->row, d, &r);
        float s = (sgn[j / 8] >> (j % 8) & 1) ? -1.0f : 1.0f;
        for (size_t i = 0; i < d; i++)
            tq->r[i] += s * tq->row[i];
    }
    float c = (float)(sqrt(M_PI / 2.0) / (double)d * nr);
    float w = (float)weight;
    for (size_t i = 0; i < d; i++)
        acc[i] += w * (tq->xhat[i] + c * tq->r[i]);
    return 0;
}

void
turboquant_decode_finish(struct turboquant *tq, float *out, float *acc,
                         const struct codec_link *link)
{
    if (out != acc)
        memmove(out, acc, tq->d * sizeof *out);
}
