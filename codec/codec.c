/* codec: dispatch over codec kinds, and the `none` codec. See codec.h. */
#include "codec/codec.h"

#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the float32 wire format is written with memcpy on little-endian hosts");

struct codec {
    struct codec_params params;
    size_t dim;
    float *acc_scratch; /* codec_decode()'s accumulator, codec_acc_len() floats */
};

static const struct {
    const char *name;
    const char *summary;
} codec_kinds[CODEC_KIND_COUNT] = {
    [CODEC_NONE] = { "none", "uncompressed float32, 32 bits per coordinate" },
};

void
codec_params_default(struct codec_params *p)
{
    *p = (struct codec_params){
        .kind = CODEC_NONE,
        .bits = 32.0,
        .scale = CODEC_SCALE_UNBIASED,
        .rotation = CODEC_ROTATION_PER_CLIENT,
    };
}

const char *
codec_kind_name(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT ? codec_kinds[kind].name : "?";
}

const char *
codec_kind_summary(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT ? codec_kinds[kind].summary : "?";
}

int
codec_kind_parse(const char *name, enum codec_kind *kind, struct errbuf *eb)
{
    char known[256] = "";
    size_t used = 0;
    for (unsigned k = 0; k < CODEC_KIND_COUNT; k++) {
        if (strcmp(name, codec_kinds[k].name) == 0) {
            *kind = (enum codec_kind)k;
            return 0;
        }
        size_t n = strlen(codec_kinds[k].name);
        if (used + n + 3 < sizeof known) {
            if (used > 0) {
                memcpy(known + used, ", ", 2);
                used += 2;
            }
            memcpy(known + used, codec_kinds[k].name, n + 1);
            used += n;
        }
    }
    return errbuf_set(eb, -ERR_INVALID, "unknown codec '%s' (known: %s)", name, known);
}

int
codec_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if ((unsigned)p->kind >= CODEC_KIND_COUNT)
        return errbuf_set(eb, -ERR_INVALID, "unknown codec kind %d", (int)p->kind);
    if (dim == 0)
        return errbuf_set(eb, -ERR_RANGE, "codec dimension must be at least 1");
    if (dim > SIZE_MAX / 64)
        return errbuf_set(eb, -ERR_RANGE, "codec dimension %zu is too large", dim);
    return 0;
}

struct codec *
codec_new(const struct codec_params *p, size_t dim)
{
    struct codec *c = mem_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->params = *p;
    c->dim = dim;
    c->acc_scratch = mem_calloc(dim, sizeof *c->acc_scratch);
    if (c->acc_scratch == NULL) {
        codec_free(c);
        return NULL;
    }
    return c;
}

void
codec_free(struct codec *c)
{
    if (c == NULL)
        return;
    mem_free(c->acc_scratch);
    mem_free(c);
}

size_t
codec_dim(const struct codec *c)
{
    return c->dim;
}

size_t
codec_max_bytes(const struct codec *c)
{
    return c->dim * sizeof(float);
}

size_t
codec_acc_len(const struct codec *c)
{
    return c->dim;
}

int
codec_encode(struct codec *c, uint8_t *out, size_t cap, size_t *len, const float *x,
             const struct codec_link *link, struct errbuf *eb)
{
    size_t need = c->dim * sizeof(float);
    if (cap < need)
        return errbuf_set(eb, -ERR_RANGE, "encode buffer of %zu bytes, %zu needed", cap, need);
    memcpy(out, x, need);
    *len = need;
    return 0;
}

int
codec_decode_add(struct codec *c, float *acc, const uint8_t *msg, size_t len, double weight,
                 const struct codec_link *link, struct errbuf *eb)
{
    size_t need = c->dim * sizeof(float);
    if (len != need) {
        if (eb != NULL)
            eb->offset = (long)(len < need ? len : need);
        return errbuf_set(eb, -ERR_CORRUPT, "float32 message of %zu bytes, expected %zu", len,
                          need);
    }
    float w = (float)weight;
    for (size_t i = 0; i < c->dim; i++) {
        float v;
        memcpy(&v, msg + i * sizeof v, sizeof v);
        acc[i] += w * v;
    }
    return 0;
}

void
codec_decode_finish(struct codec *c, float *out, float *acc, const struct codec_link *link)
{
    if (out != acc)
        memmove(out, acc, c->dim * sizeof *out);
}

int
codec_decode(struct codec *c, float *out, const uint8_t *msg, size_t len,
             const struct codec_link *link, struct errbuf *eb)
{
    memset(c->acc_scratch, 0, codec_acc_len(c) * sizeof *c->acc_scratch);
    int rc = codec_decode_add(c, c->acc_scratch, msg, len, 1.0, link, eb);
    if (rc < 0)
        return rc;
    codec_decode_finish(c, out, c->acc_scratch, link);
    return 0;
}
