/* drive: DRIVE (via eden) and DRIVE+. See drive.h. */
#include "codec/drive.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/eden.h"
#include "codec/rht.h"
#include "base/banned.h"

#define DRIVE_PLUS_HEADER 8
#define DRIVE_PLUS_ITERS  3 /* Lloyd iterations of the 2-means, as in the DRIVE code */

struct drive {
    struct eden *plain; /* plain DRIVE; NULL for DRIVE+ */
    size_t d, D;
    enum codec_rotation rotation;
    double loss;
    float *y;
    uint8_t *signs;
};

int
drive_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (p->bits != 1.0)
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec 'drive' sends exactly 1 bit", p->bits);
    return 0;
}

struct drive *
drive_new(const struct codec_params *p, size_t dim)
{
    struct drive *dr = mem_calloc(1, sizeof *dr);
    if (dr == NULL)
        return NULL;
    dr->d = dim;
    dr->D = rht_padded_len(dim);
    dr->rotation = p->rotation;
    dr->loss = p->packet_loss;
    if (!p->drive_plus) {
        dr->plain = eden_new(p, dim, EDEN_TIES_UP);
        if (dr->plain == NULL)
            goto fail;
        return dr;
    }
    dr->y = mem_alloc_aligned(64, dr->D * sizeof *dr->y);
    dr->signs = mem_alloc(rht_sign_bytes(dr->D));
    if (dr->y == NULL || dr->signs == NULL)
        goto fail;
    return dr;
fail:
    drive_free(dr);
    return NULL;
}

void
drive_free(struct drive *dr)
{
    if (dr == NULL)
        return;
    eden_free(dr->plain);
    mem_free_aligned(dr->y);
    mem_free(dr->signs);
    mem_free(dr);
}

size_t
drive_max_bytes(const struct drive *dr)
{
    if (dr->plain != NULL)
        return eden_max_bytes(dr->plain);
    return DRIVE_PLUS_HEADER + (dr->D + 7) / 8;
}

size_t
drive_acc_len(const struct drive *dr)
{
    return dr->rotation == CODEC_ROTATION_SHARED ? dr->D : dr->d;
}

static void
drive_draw_signs(struct drive *dr, const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, dr->rotation);
    rht_signs_draw(dr->signs, dr->D, &r);
}

int
drive_encode(struct drive *dr, uint8_t *out, size_t cap, size_t *len, const float *x,
             const struct codec_link *link, struct errbuf *eb)
{
    if (dr->plain != NULL)
        return eden_encode(dr->plain, out, cap, len, x, link, eb);
    size_t d = dr->d, D = dr->D;
    size_t bytes = drive_max_bytes(dr);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "drive: buffer of %zu bytes, %zu needed", cap, bytes);
    drive_draw_signs(dr, link);
    float *y = dr->y;
    double nx2 = rht_forward_from(y, x, d, D, dr->signs);
    if (!isfinite(nx2))
        return errbuf_set(eb, -ERR_RANGE, "drive: input vector is not finite");

    /* 2-means in one dimension: split at the mean, then Lloyd iterations. */
    double sum = 0;
    for (size_t i = 0; i < D; i++)
        sum += y[i];
    double split = sum / (double)D;
    double c[2] = { 0, 0 };
    double n[2] = { 0, 0 };
    for (int it = 0; it < DRIVE_PLUS_ITERS; it++) {
        double s[2] = { 0, 0 };
        n[0] = n[1] = 0;
        for (size_t i = 0; i < D; i++) {
            int k = (double)y[i] >= split;
            s[k] += y[i];
            n[k] += 1;
        }
        for (int k = 0; k < 2; k++)
            c[k] = n[k] > 0 ? s[k] / n[k] : 0.0;
        if (it + 1 < DRIVE_PLUS_ITERS)
            split = 0.5 * (c[0] + c[1]);
    }
    double den = n[0] * c[0] * c[0] + n[1] * c[1] * c[1];
    double S = den > 0 ? nx2 / den : 0.0;
    codec_put_f32(out, (float)(S * c[0]));
    codec_put_f32(out + 4, (float)(S * c[1]));
    uint8_t *bits = out + DRIVE_PLUS_HEADER;
    memset(bits, 0, (D + 7) / 8);
    for (size_t i = 0; i < D; i++)
        if ((double)y[i] >= split)
            bits[i / 8] = (uint8_t)(bits[i / 8] | 1u << (i % 8));
    *len = bytes;
    return 0;
}

int
drive_decode_add(struct drive *dr, float *acc, const uint8_t *msg, size_t len, double weight,
                 const struct codec_link *link, struct errbuf *eb)
{
    if (dr->plain != NULL)
        return eden_decode_add(dr->plain, acc, msg, len, weight, link, eb);
    size_t D = dr->D;
    size_t bytes = drive_max_bytes(dr);
    if (len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "drive+: message of %zu bytes, expected %zu", len, bytes);
    float c[2];
    int rc = codec_get_scale(&c[0], msg, len, 0, "drive+ centre 0", eb);
    if (rc == 0)
        rc = codec_get_scale(&c[1], msg, len, 4, "drive+ centre 1", eb);
    if (rc < 0)
        return rc;
    /* |decoded| <= weight·max|c|·(1/(1 − loss))·√D (an inverse rotation of D entries; the
     * accumulator of a shared rotation is checked before its inverse rotation). */
    double growth = dr->rotation == CODEC_ROTATION_SHARED ? 1.0 : sqrt((double)D);
    if (dr->loss > 0.0)
        growth /= 1.0 - dr->loss;
    double top = fmax(fabs((double)c[0]), fabs((double)c[1]));
    if ((rc = codec_bound_check(weight, top, growth, "drive+ centre", 0, eb)) < 0)
        return rc;
    drive_draw_signs(dr, link);
    const uint8_t *bits = msg + DRIVE_PLUS_HEADER;
    float *y = dr->y;
    for (size_t i = 0; i < D; i++)
        y[i] = c[bits[i / 8] >> (i % 8) & 1];
    codec_loss_apply(y, D, dr->loss, link);
    if (dr->rotation == CODEC_ROTATION_SHARED) {
        float w = (float)weight;
        for (size_t i = 0; i < D; i++)
            acc[i] += w * y[i];
    } else {
        rht_inverse_add(acc, dr->d, y, D, dr->signs, (float)weight);
    }
    return 0;
}

int
drive_decode_set(struct drive *dr, float *acc, const uint8_t *msg, size_t len,
                 const struct codec_link *link, struct errbuf *eb)
{
    if (dr->plain != NULL)
        return eden_decode_set(dr->plain, acc, msg, len, link, eb);
    memset(acc, 0, drive_acc_len(dr) * sizeof *acc);
    return drive_decode_add(dr, acc, msg, len, 1.0, link, eb);
}

void
drive_decode_finish(struct drive *dr, float *out, float *acc, const struct codec_link *link)
{
    if (dr->plain != NULL) {
        eden_decode_finish(dr->plain, out, acc, link);
        return;
    }
    if (dr->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, dr->d, dr->D, dr->signs, link);
    else if (out != acc)
        memmove(out, acc, dr->d * sizeof *out);
}
