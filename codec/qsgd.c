/* qsgd: QSGD with the L-infinity norm. See qsgd.h. */
#include "codec/qsgd.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/mem.h"
#include "codec/codec_int.h"
#include "base/banned.h"

#define QSGD_MAX_BITS 15

struct qsgd {
    size_t d;
    unsigned bits;
    uint16_t *idx;
};

int
qsgd_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1 && p->bits <= QSGD_MAX_BITS) || p->bits != floor(p->bits))
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec 'qsgd' needs an integer in 1..%d",
                          p->bits, QSGD_MAX_BITS);
    if (p->rotation != CODEC_ROTATION_PER_CLIENT)
        return errbuf_set(eb, -ERR_INVALID, "rotation: codec 'qsgd' does not rotate");
    return 0;
}

struct qsgd *
qsgd_new(const struct codec_params *p, size_t dim)
{
    struct qsgd *q = mem_calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->d = dim;
    q->bits = (unsigned)p->bits;
    q->idx = mem_alloc(dim * sizeof *q->idx);
    if (q->idx == NULL) {
        qsgd_free(q);
        return NULL;
    }
    return q;
}

void
qsgd_free(struct qsgd *q)
{
    if (q == NULL)
        return;
    mem_free(q->idx);
    mem_free(q);
}

size_t
qsgd_max_bytes(const struct qsgd *q)
{
    return 4 + bitpack_bytes(q->d, q->bits + 1);
}

size_t
qsgd_acc_len(const struct qsgd *q)
{
    return q->d;
}

int
qsgd_encode(struct qsgd *q, uint8_t *out, size_t cap, size_t *len, const float *x,
            const struct codec_link *link, struct errbuf *eb)
{
    size_t bytes = qsgd_max_bytes(q);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "qsgd: buffer of %zu bytes, %zu needed", cap, bytes);
    float m = 0;
    bool finite = true;
    for (size_t i = 0; i < q->d; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
        finite &= isfinite(a);
    }
    if (!finite)
        return errbuf_set(eb, -ERR_RANGE, "qsgd: input vector is not finite");
    unsigned s = (1u << q->bits) - 1;
    double scale = m > 0 ? s / (double)m : 0.0;
    struct rng r;
    codec_private_stream(&r, link);
    struct codec_rand cr;
    codec_rand_init(&cr, &r);
    for (size_t i = 0; i < q->d; i++) {
        double u = fabs((double)x[i]) * scale;
        double fl = (double)(uint64_t)u; /* floor: u >= 0 */
        unsigned k = (unsigned)fl;
        k += (u - fl) * 0x1p32 > (double)codec_rand_u32(&cr); /* branch-free coin flip */
        if (k > s)
            k = s;
        q->idx[i] = (uint16_t)(k << 1 | (x[i] < 0));
    }
    codec_put_f32(out, m);
    bitpack_pack(out + 4, q->idx, q->d, q->bits + 1);
    *len = bytes;
    return 0;
}

int
qsgd_decode_add(struct qsgd *q, float *acc, const uint8_t *msg, size_t len, double weight,
                const struct codec_link *link, struct errbuf *eb)
{
    size_t bytes = qsgd_max_bytes(q);
    if (len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "qsgd: message of %zu bytes, expected %zu", len, bytes);
    float m;
    int rc = codec_get_scale(&m, msg, len, 0, "qsgd norm", eb);
    if (rc < 0)
        return rc;
    if (m < 0)
        return codec_corrupt(eb, 0, "qsgd: negative norm %g", (double)m);
    unsigned s = (1u << q->bits) - 1;
    float unit = (float)(weight * m / s);
    bitpack_unpack(q->idx, msg + 4, q->d, q->bits + 1);
    for (size_t i = 0; i < q->d; i++) {
        /* ±unit·level without a branch on the (random) sign bit. */
        float sign = 1.0f - 2.0f * (float)(q->idx[i] & 1);
        acc[i] += sign * unit * (float)(q->idx[i] >> 1);
    }
    return 0;
}

void
qsgd_decode_finish(struct qsgd *q, float *out, float *acc, const struct codec_link *link)
{
    if (out != acc)
        memmove(out, acc, q->d * sizeof *out);
}
