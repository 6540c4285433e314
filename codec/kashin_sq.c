/* kashin_sq: Kashin representation + stochastic quantisation. See kashin_sq.h. */
#include "codec/kashin_sq.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/hadamard_sq.h"
#include "codec/rht.h"
#include "codec/sq.h"
#include "base/banned.h"

#define KASHIN_SQ_MAX_FILL 0.85 /* largest d/D_k before the frame is doubled */
#define KASHIN_SQ_SHRINK   0.9  /* clipping level multiplier per iteration */

struct kashin_sq {
    size_t d, Dk;
    unsigned bits;
    enum codec_rotation rotation;
    double loss;
    float *a, *r, *v; /* coefficients (Dk), residual (d), rotation workspace (Dk) */
    uint8_t *signs;
    uint16_t *idx;
};

size_t
kashin_sq_frame_len(size_t d)
{
    size_t D = rht_padded_len(d);
    if (D == d || (double)d / (double)D > KASHIN_SQ_MAX_FILL)
        D *= 2;
    return D;
}

int
kashin_sq_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    return hadamard_sq_params_check(p, dim, eb);
}

struct kashin_sq *
kashin_sq_new(const struct codec_params *p, size_t dim)
{
    struct kashin_sq *k = mem_calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->d = dim;
    k->Dk = kashin_sq_frame_len(dim);
    k->bits = (unsigned)p->bits;
    k->rotation = p->rotation;
    k->loss = p->packet_loss;
    k->a = mem_alloc_aligned(64, k->Dk * sizeof *k->a);
    k->r = mem_alloc_aligned(64, dim * sizeof *k->r);
    k->v = mem_alloc_aligned(64, k->Dk * sizeof *k->v);
    k->signs = mem_alloc(rht_sign_bytes(k->Dk));
    k->idx = mem_alloc(k->Dk * sizeof *k->idx);
    if (k->a == NULL || k->r == NULL || k->v == NULL || k->signs == NULL || k->idx == NULL) {
        kashin_sq_free(k);
        return NULL;
    }
    return k;
}

void
kashin_sq_free(struct kashin_sq *k)
{
    if (k == NULL)
        return;
    mem_free_aligned(k->a);
    mem_free_aligned(k->r);
    mem_free_aligned(k->v);
    mem_free(k->signs);
    mem_free(k->idx);
    mem_free(k);
}

size_t
kashin_sq_max_bytes(const struct kashin_sq *k)
{
    return sq_bytes(k->Dk, k->bits);
}

size_t
kashin_sq_acc_len(const struct kashin_sq *k)
{
    return k->rotation == CODEC_ROTATION_SHARED ? k->Dk : k->d;
}

static void
kashin_sq_draw_signs(struct kashin_sq *k, const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, k->rotation);
    rht_signs_draw(k->signs, k->Dk, &r);
}

int
kashin_sq_encode(struct kashin_sq *k, uint8_t *out, size_t cap, size_t *len, const float *x,
                 const struct codec_link *link, struct errbuf *eb)
{
    size_t d = k->d, Dk = k->Dk;
    double nx2 = 0;
    for (size_t i = 0; i < d; i++)
        nx2 += (double)x[i] * x[i];
    if (!isfinite(nx2))
        return errbuf_set(eb, -ERR_RANGE, "kashin_sq: input vector is not finite");
    kashin_sq_draw_signs(k, link);
    memcpy(k->r, x, d * sizeof *k->r);
    memset(k->a, 0, Dk * sizeof *k->a);
    float level = (float)sqrt(nx2 / (double)Dk);
    for (int it = 0; it < KASHIN_SQ_ITERS; it++) {
        memcpy(k->v, k->r, d * sizeof *k->v);
        memset(k->v + d, 0, (Dk - d) * sizeof *k->v);
        rht_forward(k->v, Dk, k->signs);
        for (size_t i = 0; i < Dk; i++) {
            /* fminf(fmaxf(v, -level), level), NaN included, as compares that vectorise */
            float c = k->v[i] > -level ? k->v[i] : -level;
            c = c < level ? c : level;
            k->a[i] += c;
            k->v[i] = c;
        }
        rht_inverse_add(k->r, d, k->v, Dk, k->signs, -1.0f);
        level *= (float)KASHIN_SQ_SHRINK;
    }
    struct rng r;
    codec_private_stream(&r, link);
    int rc = sq_encode(out, cap, k->idx, k->a, Dk, k->bits, &r, eb);
    if (rc < 0)
        return rc;
    *len = sq_bytes(Dk, k->bits);
    return 0;
}

int
kashin_sq_decode_add(struct kashin_sq *k, float *acc, const uint8_t *msg, size_t len, double weight,
                     const struct codec_link *link, struct errbuf *eb)
{
    int rc = sq_decode(k->v, k->idx, msg, len, k->Dk, k->bits, eb);
    if (rc < 0)
        return rc;
    codec_loss_apply(k->v, k->Dk, k->loss, link);
    if (k->rotation == CODEC_ROTATION_SHARED) {
        float w = (float)weight;
        for (size_t i = 0; i < k->Dk; i++)
            acc[i] += w * k->v[i];
        return 0;
    }
    kashin_sq_draw_signs(k, link);
    rht_inverse_add(acc, k->d, k->v, k->Dk, k->signs, (float)weight);
    return 0;
}

void
kashin_sq_decode_finish(struct kashin_sq *k, float *out, float *acc, const struct codec_link *link)
{
    if (k->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, k->d, k->Dk, k->signs, link);
    else if (out != acc)
        memmove(out, acc, k->d * sizeof *out);
}
