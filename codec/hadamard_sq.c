/* hadamard_sq: RHT + min-max stochastic quantisation. See hadamard_sq.h. */
#include "codec/hadamard_sq.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/packing.h"
#include "codec/rht.h"
#include "codec/sq.h"
#include "base/banned.h"

struct hadamard_sq {
    size_t d, D;
    unsigned bits;
    enum codec_rotation rotation;
    double loss;
    float *y;
    uint8_t *signs;
    uint16_t *idx;
};

int
hadamard_sq_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1 && p->bits <= SQ_MAX_BITS) || p->bits != floor(p->bits))
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec '%s' needs an integer in 1..%d", p->bits,
                          codec_kind_name(p->kind), SQ_MAX_BITS);
    return 0;
}

struct hadamard_sq *
hadamard_sq_new(const struct codec_params *p, size_t dim)
{
    struct hadamard_sq *h = mem_calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->d = dim;
    h->D = rht_padded_len(dim);
    h->bits = (unsigned)p->bits;
    h->rotation = p->rotation;
    h->loss = p->packet_loss;
    h->y = mem_alloc_aligned(64, h->D * sizeof *h->y);
    h->signs = mem_alloc(rht_sign_bytes(h->D));
    h->idx = mem_alloc(h->D * sizeof *h->idx);
    if (h->y == NULL || h->signs == NULL || h->idx == NULL) {
        hadamard_sq_free(h);
        return NULL;
    }
    return h;
}

void
hadamard_sq_free(struct hadamard_sq *h)
{
    if (h == NULL)
        return;
    mem_free_aligned(h->y);
    mem_free(h->signs);
    mem_free(h->idx);
    mem_free(h);
}

size_t
hadamard_sq_max_bytes(const struct hadamard_sq *h)
{
    return sq_bytes(h->D, h->bits);
}

size_t
hadamard_sq_acc_len(const struct hadamard_sq *h)
{
    return h->rotation == CODEC_ROTATION_SHARED ? h->D : h->d;
}

static void
hadamard_sq_draw_signs(struct hadamard_sq *h, const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, h->rotation);
    rht_signs_draw(h->signs, h->D, &r);
}

/* The range of the rotated vector, gathered run by run while the runs sit in cache. */
struct hadamard_sq_range {
    float lo, hi;
    bool finite, any;
};

static void
hadamard_sq_range_begin(void *ctx, double norm2)
{
    (void)ctx;
    (void)norm2;
}

static void
hadamard_sq_range_put(void *ctx, const float *y, size_t off, size_t n)
{
    (void)off;
    struct hadamard_sq_range *rg = ctx;
    float lo, hi;
    rg->finite &= sq_range(&lo, &hi, y, n);
    rg->lo = !rg->any || lo < rg->lo ? lo : rg->lo;
    rg->hi = !rg->any || hi > rg->hi ? hi : rg->hi;
    rg->any = true;
}

int
hadamard_sq_encode(struct hadamard_sq *h, uint8_t *out, size_t cap, size_t *len, const float *x,
                   const struct codec_link *link, struct errbuf *eb)
{
    hadamard_sq_draw_signs(h, link);
    struct hadamard_sq_range rg = { .finite = true };
    struct rht_sink sink = { hadamard_sq_range_begin, hadamard_sq_range_put, &rg };
    (void)rht_forward_sink(h->y, x, h->d, h->D, h->signs, &sink, 0);
    /* The runs come in any order: a minimum or maximum of zero (-0 and +0 compare equal,
     * the first one counts) is taken again in coordinate order. */
    if (rg.finite && (rg.lo == 0.0f || rg.hi == 0.0f))
        rg.finite = sq_range(&rg.lo, &rg.hi, h->y, h->D);
    if (!rg.finite)
        return errbuf_set(eb, -ERR_RANGE, "sq: input vector is not finite");
    struct rng r;
    codec_private_stream(&r, link);
    int rc = sq_encode_ranged(out, cap, h->idx, h->y, h->D, h->bits, rg.lo, rg.hi, &r, eb);
    if (rc < 0)
        return rc;
    *len = sq_bytes(h->D, h->bits);
    return 0;
}

/* hadamard_sq_decode_add(), or with set hadamard_sq_decode_set() (weight 1). */
static int
hadamard_sq_decode_run(struct hadamard_sq *h, float *acc, const uint8_t *msg, size_t len,
                       double weight, bool set, const struct codec_link *link, struct errbuf *eb)
{
    float lo, hi, lut[1u << SQ_LUT_BITS];
    int rc = sq_decode_header(&lo, &hi, lut, msg, len, h->D, h->bits, eb);
    if (rc < 0)
        return rc;
    /* |decoded| <= weight·max(|lo|, |hi|)·(1/(1 − loss))·√D (an inverse rotation). */
    double growth = h->rotation == CODEC_ROTATION_SHARED ? 1.0 : sqrt((double)h->D);
    if (h->loss > 0.0)
        growth /= 1.0 - h->loss;
    if ((rc = codec_bound_check(weight, fmax(fabs((double)lo), fabs((double)hi)), growth,
                                "sq range", 0, eb)) < 0)
        return rc;
    unsigned b = h->bits;
    if (h->loss <= 0.0 && h->rotation != CODEC_ROTATION_SHARED && h->D >= 16 && b <= SQ_LUT_BITS) {
        hadamard_sq_draw_signs(h, link);
        struct packing_load ld; /* unpacked block by block inside the inverse rotation */
        packing_load_init(&ld, msg + SQ_HEADER_BYTES, h->D, b, lut);
        rht_inverse_add_load(acc, h->d, h->y, h->D, h->signs, (float)weight, packing_load, &ld,
                             set ? RHT_SET : 0);
        return 0;
    }
    if ((rc = sq_decode(h->y, h->idx, msg, len, h->D, h->bits, eb)) < 0)
        return rc;
    if (set)
        memset(acc, 0, hadamard_sq_acc_len(h) * sizeof *acc);
    codec_loss_apply(h->y, h->D, h->loss, link);
    if (h->rotation == CODEC_ROTATION_SHARED) {
        float w = (float)weight;
        for (size_t i = 0; i < h->D; i++)
            acc[i] += w * h->y[i];
        return 0;
    }
    hadamard_sq_draw_signs(h, link);
    rht_inverse_add(acc, h->d, h->y, h->D, h->signs, (float)weight);
    return 0;
}

int
hadamard_sq_decode_add(struct hadamard_sq *h, float *acc, const uint8_t *msg, size_t len,
                       double weight, const struct codec_link *link, struct errbuf *eb)
{
    return hadamard_sq_decode_run(h, acc, msg, len, weight, false, link, eb);
}

int
hadamard_sq_decode_set(struct hadamard_sq *h, float *acc, const uint8_t *msg, size_t len,
                       const struct codec_link *link, struct errbuf *eb)
{
    return hadamard_sq_decode_run(h, acc, msg, len, 1.0, true, link, eb);
}

void
hadamard_sq_decode_finish(struct hadamard_sq *h, float *out, float *acc,
                          const struct codec_link *link)
{
    if (h->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, h->d, h->D, h->signs, link);
    else if (out != acc)
        memmove(out, acc, h->d * sizeof *out);
}
