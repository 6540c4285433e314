/* error_feedback: residual memory around a codec. See error_feedback.h. */
#include "codec/error_feedback.h"

#include "base/mem.h"
#include "base/banned.h"

struct error_feedback {
    struct codec *codec; /* borrowed */
    size_t dim;
    float *xe;  /* x + e */
    float *dec; /* decode(Q(x + e)) */
};

struct error_feedback *
error_feedback_new(struct codec *c)
{
    struct error_feedback *ef = mem_calloc(1, sizeof *ef);
    if (ef == NULL)
        return NULL;
    ef->codec = c;
    ef->dim = codec_dim(c);
    ef->xe = mem_alloc(ef->dim * sizeof *ef->xe);
    ef->dec = mem_alloc(ef->dim * sizeof *ef->dec);
    if (ef->xe == NULL || ef->dec == NULL) {
        error_feedback_free(ef);
        return NULL;
    }
    return ef;
}

void
error_feedback_free(struct error_feedback *ef)
{
    if (ef == NULL)
        return;
    mem_free(ef->xe);
    mem_free(ef->dec);
    mem_free(ef);
}

int
error_feedback_encode(struct error_feedback *ef, float *residual, uint8_t *out, size_t cap,
                      size_t *len, const float *x, const struct codec_link *link, struct errbuf *eb)
{
    for (size_t i = 0; i < ef->dim; i++)
        ef->xe[i] = x[i] + residual[i];
    int rc = codec_encode(ef->codec, out, cap, len, ef->xe, link, eb);
    if (rc < 0)
        return rc;
    rc = codec_decode(ef->codec, ef->dec, out, *len, link, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < ef->dim; i++)
        residual[i] = ef->xe[i] - ef->dec[i];
    return 0;
}
