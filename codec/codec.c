/* codec: dispatch over codec kinds, shared helpers (codec_int.h), and `none`. See codec.h. */
#include "codec/codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/drive.h"
#include "codec/eden.h"
#include "codec/hadamard_sq.h"
#include "codec/kashin_sq.h"
#include "codec/qsgd.h"
#include "codec/quicfl.h"
#include "codec/rht.h"
#include "codec/thc.h"
#include "codec/turboquant.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the float32 wire format is written with memcpy on little-endian hosts");

/* One codec family's entry points, with the module's object behind a void pointer. */
struct codec_ops {
    int (*check)(const struct codec_params *p, size_t dim, struct errbuf *eb);
    void *(*make)(const struct codec_params *p, size_t dim);
    void (*destroy)(void *impl);
    size_t (*max_bytes)(const void *impl);
    size_t (*acc_len)(const void *impl);
    int (*encode)(void *impl, uint8_t *out, size_t cap, size_t *len, const float *x,
                  const struct codec_link *link, struct errbuf *eb);
    int (*decode_add)(void *impl, float *acc, const uint8_t *msg, size_t len, double weight,
                      const struct codec_link *link, struct errbuf *eb);
    void (*decode_finish)(void *impl, float *out, float *acc, const struct codec_link *link);
};

/* Typed adapters from a module's API (prefix M, struct S) to struct codec_ops. */
#define CODEC_ADAPT(M, S)                                                                          \
    static void codec_##M##_destroy(void *impl)                                                    \
    {                                                                                              \
        M##_free(impl);                                                                            \
    }                                                                                              \
    static size_t codec_##M##_max_bytes(const void *impl)                                          \
    {                                                                                              \
        return M##_max_bytes((const struct S *)impl);                                              \
    }                                                                                              \
    static size_t codec_##M##_acc_len(const void *impl)                                            \
    {                                                                                              \
        return M##_acc_len((const struct S *)impl);                                                \
    }                                                                                              \
    static int codec_##M##_encode(void *impl, uint8_t *out, size_t cap, size_t *len,               \
                                  const float *x, const struct codec_link *link,                   \
                                  struct errbuf *eb)                                               \
    {                                                                                              \
        return M##_encode(impl, out, cap, len, x, link, eb);                                       \
    }                                                                                              \
    static int codec_##M##_decode_add(void *impl, float *acc, const uint8_t *msg, size_t len,      \
                                      double weight, const struct codec_link *link,                \
                                      struct errbuf *eb)                                           \
    {                                                                                              \
        return M##_decode_add(impl, acc, msg, len, weight, link, eb);                              \
    }                                                                                              \
    static void codec_##M##_decode_finish(void *impl, float *out, float *acc,                      \
                                          const struct codec_link *link)                           \
    {                                                                                              \
        M##_decode_finish(impl, out, acc, link);                                                   \
    }

#define CODEC_OPS(M, make_fn)                                                                      \
    {                                                                                              \
        .check = M##_params_check, .make = make_fn, .destroy = codec_##M##_destroy,                \
        .max_bytes = codec_##M##_max_bytes, .acc_len = codec_##M##_acc_len,                        \
        .encode = codec_##M##_encode, .decode_add = codec_##M##_decode_add,                        \
        .decode_finish = codec_##M##_decode_finish,                                                \
    }

/* The `none` codec: float32 little-endian, exactly 32 bits per coordinate. */
struct none {
    size_t dim;
};

static int
none_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    return 0;
}

static struct none *
none_new(size_t dim)
{
    struct none *n = mem_calloc(1, sizeof *n);
    if (n != NULL)
        n->dim = dim;
    return n;
}

static void
none_free(struct none *n)
{
    mem_free(n);
}

static size_t
none_max_bytes(const struct none *n)
{
    return n->dim * sizeof(float);
}

static size_t
none_acc_len(const struct none *n)
{
    return n->dim;
}

static int
none_encode(struct none *n, uint8_t *out, size_t cap, size_t *len, const float *x,
            const struct codec_link *link, struct errbuf *eb)
{
    size_t need = n->dim * sizeof(float);
    if (cap < need)
        return errbuf_set(eb, -ERR_RANGE, "encode buffer of %zu bytes, %zu needed", cap, need);
    memcpy(out, x, need);
    *len = need;
    return 0;
}

static int
none_decode_add(struct none *n, float *acc, const uint8_t *msg, size_t len, double weight,
                const struct codec_link *link, struct errbuf *eb)
{
    size_t need = n->dim * sizeof(float);
    if (len != need)
        return codec_corrupt(eb, len < need ? len : need,
                             "float32 message of %zu bytes, expected %zu", len, need);
    float w = (float)weight;
    for (size_t i = 0; i < n->dim; i++) {
        float v;
        memcpy(&v, msg + i * sizeof v, sizeof v);
        acc[i] += w * v;
    }
    return 0;
}

static void
none_decode_finish(struct none *n, float *out, float *acc, const struct codec_link *link)
{
    if (out != acc)
        memmove(out, acc, n->dim * sizeof *out);
}

CODEC_ADAPT(none, none)
CODEC_ADAPT(eden, eden)
CODEC_ADAPT(drive, drive)
CODEC_ADAPT(hadamard_sq, hadamard_sq)
CODEC_ADAPT(kashin_sq, kashin_sq)
CODEC_ADAPT(qsgd, qsgd)
CODEC_ADAPT(quicfl, quicfl)
CODEC_ADAPT(thc, thc)
CODEC_ADAPT(turboquant, turboquant)

static void *
codec_make_none(const struct codec_params *p, size_t dim)
{
    return none_new(dim);
}

static void *
codec_make_eden(const struct codec_params *p, size_t dim)
{
    return eden_new(p, dim, 0);
}

static void *
codec_make_tq_mse(const struct codec_params *p, size_t dim)
{
    return eden_new(p, dim, EDEN_FIXED_SCALE);
}

static void *
codec_make_drive(const struct codec_params *p, size_t dim)
{
    return drive_new(p, dim);
}

static void *
codec_make_hadamard_sq(const struct codec_params *p, size_t dim)
{
    return hadamard_sq_new(p, dim);
}

static void *
codec_make_kashin_sq(const struct codec_params *p, size_t dim)
{
    return kashin_sq_new(p, dim);
}

static void *
codec_make_qsgd(const struct codec_params *p, size_t dim)
{
    return qsgd_new(p, dim);
}

static void *
codec_make_quicfl(const struct codec_params *p, size_t dim)
{
    return quicfl_new(p, dim);
}

static void *
codec_make_thc(const struct codec_params *p, size_t dim)
{
    return thc_new(p, dim);
}

static void *
codec_make_turboquant(const struct codec_params *p, size_t dim)
{
    return turboquant_new(p, dim);
}

static const struct {
    const char *name;
    const char *summary;
    struct codec_ops ops;
} codec_kinds[CODEC_KIND_COUNT] = {
    [CODEC_NONE] = { "none", "uncompressed float32, 32 bits per coordinate",
                     CODEC_OPS(none, codec_make_none) },
    [CODEC_DRIVE] = { "drive", "DRIVE: rotation + 1-bit signs and one scale (DRIVE+ option)",
                      CODEC_OPS(drive, codec_make_drive) },
    [CODEC_EDEN] = { "eden", "EDEN: rotation + Lloyd-Max b-bit quantisation, any b in (0, 8]",
                     CODEC_OPS(eden, codec_make_eden) },
    [CODEC_QUICFL] = { "quicfl", "QUIC-FL: shared rotation, bounded support, unbiased tables",
                       CODEC_OPS(quicfl, codec_make_quicfl) },
    [CODEC_THC] = { "thc", "THC: shared rotation and scale, integer table, summable in a ring",
                    CODEC_OPS(thc, codec_make_thc) },
    [CODEC_HADAMARD_SQ] = { "hadamard_sq",
                            "rotation + min-max stochastic uniform quantisation (Suresh et al.)",
                            CODEC_OPS(hadamard_sq, codec_make_hadamard_sq) },
    [CODEC_KASHIN_SQ] = { "kashin_sq", "Kashin representation (frame 2x) + stochastic quantisation",
                          CODEC_OPS(kashin_sq, codec_make_kashin_sq) },
    [CODEC_QSGD] = { "qsgd", "QSGD with the max-abs norm, 2^b - 1 levels plus a sign",
                     CODEC_OPS(qsgd, codec_make_qsgd) },
    [CODEC_TURBOQUANT_MSE] = { "turboquant_mse",
                               "TurboQuant_mse: EDEN quantiser with the fixed scale |x|/sqrt(D)",
                               CODEC_OPS(eden, codec_make_tq_mse) },
    [CODEC_TURBOQUANT_PROD] = { "turboquant_prod",
                                "TurboQuant_prod: (b-1)-bit TurboQuant_mse + 1-bit QJL residual",
                                CODEC_OPS(turboquant, codec_make_turboquant) },
};

struct codec {
    struct codec_params params;
    size_t dim;
    const struct codec_ops *ops;
    void *impl;
    float *acc_scratch; /* codec_decode()'s accumulator, codec_acc_len() floats */
};

static const char *const codec_scale_names[] = {
    [CODEC_SCALE_UNBIASED] = "unbiased",
    [CODEC_SCALE_BIASED] = "biased",
    [CODEC_SCALE_MATCHED_NORM] = "matched_norm",
};

static const char *const codec_rotation_names[] = {
    [CODEC_ROTATION_PER_CLIENT] = "per_client",
    [CODEC_ROTATION_SHARED] = "shared",
};

#define CODEC_QUICFL_DEFAULT_P (1.0 / 512.0)

void
codec_params_default(struct codec_params *p)
{
    *p = (struct codec_params){
        .kind = CODEC_NONE,
        .bits = 32.0,
        .scale = CODEC_SCALE_UNBIASED,
        .rotation = CODEC_ROTATION_PER_CLIENT,
        .p = CODEC_QUICFL_DEFAULT_P,
        .shared_bits = 0,
        .packet_loss = 0.0,
        .drive_plus = false,
        .exact_codebook = false,
        .thc_g = 0,
        .thc_uniform = false,
    };
}

double
codec_kind_default_bits(enum codec_kind kind)
{
    switch (kind) {
    case CODEC_NONE:
        return 32.0;
    case CODEC_DRIVE:
        return 1.0;
    case CODEC_THC:
        return 4.0;
    case CODEC_TURBOQUANT_PROD:
        return 3.0;
    default:
        return 2.0;
    }
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

/* Looks name up in names[0..n); -ERR_INVALID listing them when absent. */
static int
codec_name_lookup(const char *what, const char *name, const char *const *names, unsigned n,
                  unsigned *out, struct errbuf *eb)
{
    char known[256] = "";
    size_t used = 0;
    for (unsigned k = 0; k < n; k++) {
        if (strcmp(name, names[k]) == 0) {
            *out = k;
            return 0;
        }
        size_t len = strlen(names[k]);
        if (used + len + 3 < sizeof known) {
            if (used > 0) {
                memcpy(known + used, ", ", 2);
                used += 2;
            }
            memcpy(known + used, names[k], len + 1);
            used += len;
        }
    }
    return errbuf_set(eb, -ERR_INVALID, "unknown %s '%s' (known: %s)", what, name, known);
}

int
codec_kind_parse(const char *name, enum codec_kind *kind, struct errbuf *eb)
{
    const char *names[CODEC_KIND_COUNT];
    for (unsigned k = 0; k < CODEC_KIND_COUNT; k++)
        names[k] = codec_kinds[k].name;
    unsigned k;
    int rc = codec_name_lookup("codec", name, names, CODEC_KIND_COUNT, &k, eb);
    if (rc == 0)
        *kind = (enum codec_kind)k;
    return rc;
}

const char *
codec_scale_name(enum codec_scale scale)
{
    return (unsigned)scale <= CODEC_SCALE_MATCHED_NORM ? codec_scale_names[scale] : "?";
}

int
codec_scale_parse(const char *name, enum codec_scale *out, struct errbuf *eb)
{
    unsigned k;
    int rc = codec_name_lookup("scale", name, codec_scale_names, 3, &k, eb);
    if (rc == 0)
        *out = (enum codec_scale)k;
    return rc;
}

const char *
codec_rotation_name(enum codec_rotation rotation)
{
    return (unsigned)rotation <= CODEC_ROTATION_SHARED ? codec_rotation_names[rotation] : "?";
}

int
codec_rotation_parse(const char *name, enum codec_rotation *out, struct errbuf *eb)
{
    unsigned k;
    int rc = codec_name_lookup("rotation", name, codec_rotation_names, 2, &k, eb);
    if (rc == 0)
        *out = (enum codec_rotation)k;
    return rc;
}

int
codec_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if ((unsigned)p->kind >= CODEC_KIND_COUNT)
        return errbuf_set(eb, -ERR_INVALID, "unknown codec kind %d", (int)p->kind);
    if (dim == 0)
        return errbuf_set(eb, -ERR_RANGE, "codec dimension must be at least 1");
    if (dim > ((size_t)1 << 30))
        return errbuf_set(eb, -ERR_RANGE, "codec dimension %zu is larger than 2^30", dim);
    if ((unsigned)p->scale > CODEC_SCALE_MATCHED_NORM)
        return errbuf_set(eb, -ERR_INVALID, "unknown scale %d", (int)p->scale);
    if ((unsigned)p->rotation > CODEC_ROTATION_SHARED)
        return errbuf_set(eb, -ERR_INVALID, "unknown rotation %d", (int)p->rotation);
    if (!(p->packet_loss >= 0.0 && p->packet_loss < 1.0))
        return errbuf_set(eb, -ERR_RANGE, "packet_loss %g outside [0, 1)", p->packet_loss);
    if (p->packet_loss > 0.0 && (p->kind == CODEC_NONE || p->kind == CODEC_QSGD))
        return errbuf_set(eb, -ERR_INVALID,
                          "packet_loss applies to rotated coordinates; codec '%s' has none",
                          codec_kind_name(p->kind));
    return codec_kinds[p->kind].ops.check(p, dim, eb);
}

struct codec *
codec_new(const struct codec_params *p, size_t dim)
{
    struct codec *c = mem_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->params = *p;
    c->dim = dim;
    c->ops = &codec_kinds[p->kind].ops;
    c->impl = c->ops->make(p, dim);
    if (c->impl == NULL) {
        codec_free(c);
        return NULL;
    }
    c->acc_scratch = mem_alloc_aligned(64, codec_acc_len(c) * sizeof *c->acc_scratch);
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
    if (c->impl != NULL)
        c->ops->destroy(c->impl);
    mem_free_aligned(c->acc_scratch);
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
    return c->ops->max_bytes(c->impl);
}

size_t
codec_acc_len(const struct codec *c)
{
    return c->ops->acc_len(c->impl);
}

int
codec_encode(struct codec *c, uint8_t *out, size_t cap, size_t *len, const float *x,
             const struct codec_link *link, struct errbuf *eb)
{
    return c->ops->encode(c->impl, out, cap, len, x, link, eb);
}

int
codec_decode_add(struct codec *c, float *acc, const uint8_t *msg, size_t len, double weight,
                 const struct codec_link *link, struct errbuf *eb)
{
    if (!isfinite(weight))
        return errbuf_set(eb, -ERR_RANGE, "decode weight %g is not finite", weight);
    return c->ops->decode_add(c->impl, acc, msg, len, weight, link, eb);
}

void
codec_decode_finish(struct codec *c, float *out, float *acc, const struct codec_link *link)
{
    c->ops->decode_finish(c->impl, out, acc, link);
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

/* Helpers for the codec modules (codec_int.h) */

void
codec_shared_stream(struct rng *r, const struct codec_link *link, enum codec_rotation rotation)
{
    uint64_t client = rotation == CODEC_ROTATION_SHARED ? RNG_ANY : link->client;
    rng_init_stream(r, link->seed, RNG_PURPOSE_CODEC_SHARED, link->round, client);
}

void
codec_private_stream(struct rng *r, const struct codec_link *link)
{
    rng_init_stream(r, link->seed, RNG_PURPOSE_CODEC_PRIVATE, link->round, link->client);
}

/* The 32-bit threshold below which a uniform u32 has probability f (f in [0, 1]). */
static uint64_t
codec_threshold_u32(double f)
{
    double t = ldexp(f, 32);
    return t >= 0x1p32 ? (uint64_t)1 << 32 : (uint64_t)t;
}

size_t
codec_mask_draw(uint8_t *mask, size_t D, double f, struct rng *r)
{
    uint64_t thr = codec_threshold_u32(f);
    size_t count = 0;
    struct codec_rand cr;
    codec_rand_init(&cr, r);
    memset(mask, 0, (D + 7) / 8);
    for (size_t i = 0; i < D; i++) {
        /* Branch-free: the outcome is a coin flip the predictor cannot learn. */
        unsigned bit = (uint64_t)codec_rand_u32(&cr) < thr;
        mask[i / 8] = (uint8_t)(mask[i / 8] | bit << (i % 8));
        count += bit;
    }
    return count;
}

void
codec_loss_apply(float *y, size_t D, double loss, const struct codec_link *link)
{
    if (loss <= 0.0)
        return;
    struct rng r;
    rng_init_stream(&r, link->seed, RNG_PURPOSE_CODEC_SHARED, link->round, link->client);
    rng_seek(&r, CODEC_LOSS_STREAM_OFFSET);
    uint64_t thr = codec_threshold_u32(loss);
    float keep = (float)(1.0 / (1.0 - loss));
    struct codec_rand cr;
    codec_rand_init(&cr, &r);
    for (size_t i = 0; i < D; i++)
        y[i] = (uint64_t)codec_rand_u32(&cr) < thr ? 0.0f : y[i] * keep;
}

void
codec_put_f32(uint8_t *p, float v)
{
    memcpy(p, &v, sizeof v);
}

float
codec_get_f32(const uint8_t *p)
{
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

int
codec_corrupt(struct errbuf *eb, size_t offset, const char *fmt, ...)
{
    if (eb == NULL)
        return -ERR_CORRUPT;
    char msg[ERRBUF_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eb->offset = (long)offset;
    return errbuf_set(eb, -ERR_CORRUPT, "%s", msg);
}

int
codec_get_scale(float *out, const uint8_t *msg, size_t len, size_t off, const char *what,
                struct errbuf *eb)
{
    if (len < off + 4)
        return codec_corrupt(eb, len, "%s: message ends at byte %zu", what, len);
    float v = codec_get_f32(msg + off);
    if (!isfinite(v))
        return codec_corrupt(eb, off, "%s is not finite", what);
    *out = v;
    return 0;
}

void
codec_shared_finish(float *out, float *acc, size_t d, size_t D, uint8_t *signs_ws,
                    const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, CODEC_ROTATION_SHARED);
    rht_signs_draw(signs_ws, D, &r);
    rht_inverse(acc, D, signs_ws);
    memmove(out, acc, d * sizeof *out);
}
