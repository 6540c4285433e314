/* codec: dispatch over codec kinds, shared helpers (codec_int.h), and `none`. See codec.h. */
#include "codec/codec.h"

#include <immintrin.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "codec/blocks.h"
#include "codec/codec_int.h"
#include "codec/drive.h"
#include "codec/eden.h"
#include "codec/hadamard_sq.h"
#include "codec/kashin_sq.h"
#include "codec/qsgd.h"
#include "codec/quicfl.h"
#include "codec/rht.h"
#include "codec/sround.h"
#include "codec/thc.h"
#include "codec/turboquant.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the float32 wire format is written with memcpy on little-endian hosts");

/* Typed adapters from a module's API (prefix M, struct S) to struct codec_def. */
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
    .check = M##_params_check, .make = make_fn, .destroy = codec_##M##_destroy,                    \
    .max_bytes = codec_##M##_max_bytes, .acc_len = codec_##M##_acc_len,                            \
    .encode = codec_##M##_encode, .decode_add = codec_##M##_decode_add,                            \
    .decode_finish = codec_##M##_decode_finish

typedef uint32_t codec_u8 __attribute__((vector_size(32)));

/* Bits of CODEC_MAX_ABS = 2^90 (exponent 90 + 127 = 217, 217 << 23): |v| <= CODEC_MAX_ABS iff
 * (bits(v) & 0x7fffffff) <= these (NaN and inf have larger magnitude bits). */
#define CODEC_MAX_ABS_BITS 0x6c800000u

/* True when every v[i] is finite with |v[i]| <= CODEC_MAX_ABS: an integer compare on the
 * magnitude bits, eight lanes at a time, compiled for AVX2 and the baseline ISA. */
static inline __attribute__((always_inline)) bool
codec_values_ok_kernel(const float *v, size_t n)
{
    const codec_u8 mag = { 0x7fffffffu, 0x7fffffffu, 0x7fffffffu, 0x7fffffffu,
                           0x7fffffffu, 0x7fffffffu, 0x7fffffffu, 0x7fffffffu };
    const codec_u8 lim = { CODEC_MAX_ABS_BITS, CODEC_MAX_ABS_BITS, CODEC_MAX_ABS_BITS,
                           CODEC_MAX_ABS_BITS, CODEC_MAX_ABS_BITS, CODEC_MAX_ABS_BITS,
                           CODEC_MAX_ABS_BITS, CODEC_MAX_ABS_BITS };
    codec_u8 bad = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        codec_u8 x;
        memcpy(&x, v + i, sizeof x);
        bad |= (codec_u8)((x & mag) > lim);
    }
    uint32_t any = 0;
    for (int l = 0; l < 8; l++)
        any |= bad[l];
    for (; i < n; i++) {
        uint32_t x;
        memcpy(&x, v + i, sizeof x);
        any |= (x & 0x7fffffffu) > CODEC_MAX_ABS_BITS;
    }
    return any == 0;
}

__attribute__((target("avx2"))) static bool
codec_values_ok_avx2(const float *v, size_t n)
{
    return codec_values_ok_kernel(v, n);
}

static bool
codec_values_ok_portable(const float *v, size_t n)
{
    return codec_values_ok_kernel(v, n);
}

static bool
codec_values_ok(const float *v, size_t n)
{
    return __builtin_cpu_supports("avx2") ? codec_values_ok_avx2(v, n)
                                          : codec_values_ok_portable(v, n);
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
    if (!codec_values_ok(x, n->dim))
        return errbuf_set(eb, -ERR_RANGE,
                          "none: the vector to send is not finite (or above 2^90): diverged?");
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

static int
codec_eden_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                      const struct codec_link *link, struct errbuf *eb)
{
    return eden_decode_set(impl, acc, msg, len, link, eb);
}
CODEC_ADAPT(drive, drive)

static int
codec_drive_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                       const struct codec_link *link, struct errbuf *eb)
{
    return drive_decode_set(impl, acc, msg, len, link, eb);
}
CODEC_ADAPT(hadamard_sq, hadamard_sq)

static int
codec_hadamard_sq_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                             const struct codec_link *link, struct errbuf *eb)
{
    return hadamard_sq_decode_set(impl, acc, msg, len, link, eb);
}
CODEC_ADAPT(kashin_sq, kashin_sq)

static int
codec_kashin_sq_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                           const struct codec_link *link, struct errbuf *eb)
{
    return kashin_sq_decode_set(impl, acc, msg, len, link, eb);
}
CODEC_ADAPT(qsgd, qsgd)

static int
codec_qsgd_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                      const struct codec_link *link, struct errbuf *eb)
{
    return qsgd_decode_set(impl, acc, msg, len, link, eb);
}
CODEC_ADAPT(quicfl, quicfl)

static int
codec_quicfl_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                        const struct codec_link *link, struct errbuf *eb)
{
    return quicfl_decode_set(impl, acc, msg, len, link, eb);
}
CODEC_ADAPT(thc, thc)

static int
codec_thc_decode_set(void *impl, float *acc, const uint8_t *msg, size_t len,
                     const struct codec_link *link, struct errbuf *eb)
{
    return thc_decode_set(impl, acc, msg, len, link, eb);
}
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
codec_make_qsgd_l2(const struct codec_params *p, size_t dim)
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

/* Message lengths (struct codec_def.fixed_length). */
static bool
codec_always_fixed(const struct codec_params *p)
{
    return true;
}

/* EDEN and TurboQuant_mse: fixed at integer b >= 1 (fractional b draws a mask). */
static bool
codec_eden_fixed(const struct codec_params *p)
{
    return p->bits >= 1.0 && p->bits == floor(p->bits);
}

/* The built-in table entries (CODEC_TABLE in codec.h); other modules define their own. */
const struct codec_def codec_none = {
    .name = "none",
    .summary = "uncompressed float32, 32 bits per coordinate",
    .default_bits = 32,
    .fixed_length = codec_always_fixed,
    CODEC_OPS(none, codec_make_none),
};
const struct codec_def codec_drive = {
    .name = "drive",
    .summary = "DRIVE: rotation + 1-bit signs and one scale (DRIVE+ option)",
    .default_bits = 1,
    .uses = CODEC_USES_ROTATION | CODEC_USES_SCALE | CODEC_USES_DRIVE_PLUS,
    .fixed_length = codec_always_fixed,
    .bounded = true,
    .decode_set = codec_drive_decode_set,
    CODEC_OPS(drive, codec_make_drive),
};
const struct codec_def codec_eden = {
    .name = "eden",
    .summary = "EDEN: rotation + Lloyd-Max b-bit quantisation, any b in (0, 8]",
    .default_bits = 2,
    .uses = CODEC_USES_ROTATION | CODEC_USES_SCALE | CODEC_USES_EXACT_CODEBOOK,
    .fixed_length = codec_eden_fixed,
    .bounded = true,
    .decode_set = codec_eden_decode_set,
    CODEC_OPS(eden, codec_make_eden),
};
const struct codec_def codec_quicfl = {
    .name = "quicfl",
    .summary = "QUIC-FL: shared rotation, bounded support, unbiased tables",
    .default_bits = 2,
    .uses = CODEC_USES_ROTATION | CODEC_USES_P,
    .bounded = true,
    .decode_set = codec_quicfl_decode_set,
    CODEC_OPS(quicfl, codec_make_quicfl),
};
const struct codec_def codec_thc = {
    .name = "thc",
    .summary = "THC: shared rotation and scale, integer table, summable in a ring",
    .default_bits = 4,
    .uses = CODEC_USES_ROTATION | CODEC_USES_THC,
    .biased = true, /* unbiased inside the clamp [-T, T] only (codec/thc.h) */
    .fixed_length = codec_always_fixed,
    .bounded = true,
    .decode_set = codec_thc_decode_set,
    CODEC_OPS(thc, codec_make_thc),
};
const struct codec_def codec_hadamard_sq = {
    .name = "hadamard_sq",
    .summary = "rotation + min-max stochastic uniform quantisation (Suresh et al.)",
    .default_bits = 2,
    .uses = CODEC_USES_ROTATION,
    .fixed_length = codec_always_fixed,
    .bounded = true,
    .decode_set = codec_hadamard_sq_decode_set,
    CODEC_OPS(hadamard_sq, codec_make_hadamard_sq),
};
const struct codec_def codec_kashin_sq = {
    .name = "kashin_sq",
    .summary = "Kashin representation (frame 2x) + stochastic quantisation",
    .default_bits = 2,
    .uses = CODEC_USES_ROTATION,
    .fixed_length = codec_always_fixed,
    .bounded = true,
    .decode_set = codec_kashin_sq_decode_set,
    CODEC_OPS(kashin_sq, codec_make_kashin_sq),
};
const struct codec_def codec_qsgd = {
    .name = "qsgd",
    .summary = "QSGD with the max-abs norm, 2^b - 1 levels plus a sign",
    .default_bits = 2,
    .fixed_length = codec_always_fixed,
    .bounded = true,
    .decode_set = codec_qsgd_decode_set,
    CODEC_OPS(qsgd, codec_make_qsgd),
};
const struct codec_def codec_tq_mse = {
    .name = "turboquant_mse",
    .summary = "TurboQuant_mse: EDEN quantiser with the fixed scale |x|/sqrt(D)",
    .default_bits = 2,
    .uses = CODEC_USES_ROTATION | CODEC_USES_EXACT_CODEBOOK,
    .biased = true,
    .fixed_length = codec_eden_fixed,
    .bounded = true,
    .decode_set = codec_eden_decode_set,
    CODEC_OPS(eden, codec_make_tq_mse),
};
const struct codec_def codec_tq_prod = {
    .name = "turboquant_prod",
    .summary = "TurboQuant_prod: (b-1)-bit TurboQuant_mse + 1-bit QJL residual",
    .default_bits = 3,
    .uses = CODEC_USES_ROTATION | CODEC_USES_EXACT_CODEBOOK,
    .fixed_length = codec_always_fixed,
    CODEC_OPS(turboquant, codec_make_turboquant),
};
const struct codec_def codec_qsgd_l2 = {
    .name = "qsgd_l2",
    .summary = "QSGD as published: L2 norm, 2^b - 1 levels, Elias-coded gaps and levels",
    .default_bits = 2,
    .bounded = true,
    .decode_set = codec_qsgd_decode_set,
    CODEC_OPS(qsgd, codec_make_qsgd_l2),
};

#define CODEC_TABLE_ROW(id, def) [CODEC_##id] = &def,
static const struct codec_def *const codec_kinds[CODEC_KIND_COUNT] = { CODEC_TABLE(
    CODEC_TABLE_ROW) };
#undef CODEC_TABLE_ROW
/* The scenario's applies-when masks hold one bit per kind, plus docofl (sim/scenario.c). */
_Static_assert(CODEC_KIND_COUNT < 32, "a codec kind is a bit of a uint32_t mask");

struct codec {
    struct codec_params params;
    size_t dim;
    const struct codec_def *ops;
    struct blocks blk;              /* one block unless split (codec.h "Blocks") */
    bool fixed;                     /* every block message has its maximum length */
    void *impl[BLOCKS_MAX];         /* the codec of block j, for blk.len[j] coordinates */
    size_t max_bytes[BLOCKS_MAX];   /* codec_max_bytes of block j */
    size_t acc_off[BLOCKS_MAX + 1]; /* block j's accumulator is acc[acc_off[j]..acc_off[j+1]) */
    float *acc_scratch;             /* codec_decode()'s accumulator, codec_acc_len() floats */
};

#define CODEC_BLOCK_LEN_BYTES 4 /* uint32 length before a variable-length block message */

static const char *const codec_scale_names[] = {
    [CODEC_SCALE_UNBIASED] = "unbiased",
    [CODEC_SCALE_BIASED] = "biased",
    [CODEC_SCALE_MATCHED_NORM] = "matched_norm",
};

static const char *const codec_rotation_names[] = {
    [CODEC_ROTATION_PER_CLIENT] = "per_client",
    [CODEC_ROTATION_SHARED] = "shared",
};

static const char *const codec_blocks_names[] = {
    [CODEC_BLOCKS_POW2] = "pow2",
    [CODEC_BLOCKS_PAD] = "pad",
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
        .blocks = CODEC_BLOCKS_POW2,
        .min_block = 0,
        .thc_g = 0,
        .thc_uniform = false,
    };
}

double
codec_kind_default_bits(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT ? codec_kinds[kind]->default_bits : 2.0;
}

unsigned
codec_kind_uses(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT ? codec_kinds[kind]->uses : 0;
}

bool
codec_kind_unbiased(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT && !codec_kinds[kind]->biased;
}

const char *
codec_kind_name(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT ? codec_kinds[kind]->name : "?";
}

const char *
codec_kind_summary(enum codec_kind kind)
{
    return (unsigned)kind < CODEC_KIND_COUNT ? codec_kinds[kind]->summary : "?";
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
        names[k] = codec_kinds[k]->name;
    unsigned k = 0;
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
    unsigned k = 0;
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
    unsigned k = 0;
    int rc = codec_name_lookup("rotation", name, codec_rotation_names, 2, &k, eb);
    if (rc == 0)
        *out = (enum codec_rotation)k;
    return rc;
}

const char *
codec_blocks_name(enum codec_blocks blocks)
{
    return (unsigned)blocks <= CODEC_BLOCKS_PAD ? codec_blocks_names[blocks] : "?";
}

/* The block layout of a codec made from p for dim coordinates. */
static void
codec_layout(struct blocks *b, const struct codec_params *p, size_t dim)
{
    bool rotates = (codec_kind_uses(p->kind) & CODEC_USES_ROTATION) != 0;
    if (p->blocks == CODEC_BLOCKS_POW2 && rotates)
        blocks_split(b, dim, p->min_block > 0 ? p->min_block : CODEC_MIN_BLOCK);
    else
        blocks_whole(b, dim);
}

unsigned
codec_blocks_count(const struct codec_params *p, size_t dim)
{
    struct blocks b;
    codec_layout(&b, p, dim);
    return b.n;
}

/* True when every message of p's codec has its maximum length (no length field needed). */
static bool
codec_fixed_length(const struct codec_params *p)
{
    const struct codec_def *def = codec_kinds[p->kind];
    return def->fixed_length != NULL && def->fixed_length(p);
}

/* The link of block j: block 0 keeps the link, block j > 0 has seed XOR (j << 56). */
static void
codec_block_link(struct codec_link *l, const struct codec_link *link, unsigned j)
{
    *l = *link;
    l->seed ^= (uint64_t)j << 56;
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
    if ((unsigned)p->blocks > CODEC_BLOCKS_PAD)
        return errbuf_set(eb, -ERR_INVALID, "unknown blocks mode %d", (int)p->blocks);
    if (p->min_block > ((size_t)1 << 30) || (p->min_block & (p->min_block - 1)) != 0)
        return errbuf_set(eb, -ERR_RANGE, "min_block %zu is not a power of two up to 2^30",
                          p->min_block);
    if (!(p->packet_loss >= 0.0 && p->packet_loss < 1.0))
        return errbuf_set(eb, -ERR_RANGE, "packet_loss %g outside [0, 1)", p->packet_loss);
    unsigned uses = codec_kind_uses(p->kind);
    if (p->packet_loss > 0.0 && !(uses & CODEC_USES_ROTATION))
        return errbuf_set(eb, -ERR_INVALID,
                          "packet_loss applies to rotated coordinates; codec '%s' has none",
                          codec_kind_name(p->kind));
    /* Parameters the codec would not read are mistakes, not no-ops. */
    const char *unused = NULL;
    if (p->drive_plus && !(uses & CODEC_USES_DRIVE_PLUS))
        unused = "drive_plus";
    else if (p->exact_codebook && !(uses & CODEC_USES_EXACT_CODEBOOK))
        unused = "exact_codebook";
    else if (p->shared_bits != 0 && !(uses & CODEC_USES_P))
        unused = "shared_bits";
    else if (p->p != CODEC_QUICFL_DEFAULT_P && !(uses & CODEC_USES_P))
        unused = "p";
    else if (p->scale != CODEC_SCALE_UNBIASED && !(uses & CODEC_USES_SCALE))
        unused = "scale";
    else if ((p->thc_g != 0 || p->thc_uniform) && !(uses & CODEC_USES_THC))
        unused = p->thc_g != 0 ? "thc_g" : "thc_uniform";
    if (unused != NULL)
        return errbuf_set(eb, -ERR_INVALID, "%s does not apply to codec '%s'", unused,
                          codec_kind_name(p->kind));
    struct blocks b;
    codec_layout(&b, p, dim);
    for (unsigned j = 0; j < b.n; j++) {
        int rc = codec_kinds[p->kind]->check(p, b.len[j], eb);
        if (rc < 0) {
            if (b.n > 1)
                errbuf_prefix(eb, "block of %zu coordinates", b.len[j]);
            return rc;
        }
    }
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
    c->ops = codec_kinds[p->kind];
    codec_layout(&c->blk, p, dim);
    c->fixed = codec_fixed_length(p);
    for (unsigned j = 0; j < c->blk.n; j++) {
        c->impl[j] = c->ops->make(p, c->blk.len[j]);
        if (c->impl[j] == NULL) {
            codec_free(c);
            return NULL;
        }
        c->max_bytes[j] = c->ops->max_bytes(c->impl[j]);
        c->acc_off[j + 1] = c->acc_off[j] + c->ops->acc_len(c->impl[j]);
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
    for (unsigned j = 0; j < c->blk.n; j++)
        if (c->impl[j] != NULL)
            c->ops->destroy(c->impl[j]);
    mem_free_aligned(c->acc_scratch);
    mem_free(c);
}

size_t
codec_dim(const struct codec *c)
{
    return c->dim;
}

/* Bytes of the length field before block j's message (0 when lengths are implied). */
static size_t
codec_len_field(const struct codec *c, unsigned j)
{
    return !c->fixed && j + 1 < c->blk.n ? CODEC_BLOCK_LEN_BYTES : 0;
}

size_t
codec_max_bytes(const struct codec *c)
{
    size_t n = 0;
    for (unsigned j = 0; j < c->blk.n; j++)
        n += codec_len_field(c, j) + c->max_bytes[j];
    return n;
}

size_t
codec_acc_len(const struct codec *c)
{
    return c->acc_off[c->blk.n];
}

int
codec_encode(struct codec *c, uint8_t *out, size_t cap, size_t *len, const float *x,
             const struct codec_link *link, struct errbuf *eb)
{
    if (c->blk.n == 1)
        return c->ops->encode(c->impl[0], out, cap, len, x, link, eb);
    size_t pos = 0;
    for (unsigned j = 0; j < c->blk.n; j++) {
        size_t field = codec_len_field(c, j);
        if (cap - pos < field)
            return errbuf_set(eb, -ERR_RANGE, "encode buffer of %zu bytes is too small", cap);
        struct codec_link l;
        codec_block_link(&l, link, j);
        size_t n = 0;
        int rc = c->ops->encode(c->impl[j], out + pos + field, cap - pos - field, &n,
                                x + c->blk.off[j], &l, eb);
        if (rc < 0)
            return rc;
        if (c->fixed && n != c->max_bytes[j])
            return errbuf_set(eb, -ERR_INTERNAL, "%s block message of %zu bytes, expected %zu",
                              codec_kind_name(c->params.kind), n, c->max_bytes[j]);
        if (field > 0) {
            uint32_t v = (uint32_t)n;
            memcpy(out + pos, &v, sizeof v);
        }
        pos += field + n;
    }
    *len = pos;
    return 0;
}

/* The error of a message whose decoded values are not finite (block at byte pos). */
static int
codec_not_finite(const struct codec *c, struct errbuf *eb, size_t pos)
{
    return codec_corrupt(eb, pos, "%s: decoded values are not finite (or above 2^90)",
                         codec_kind_name(c->params.kind));
}

/* One block's decode into a: set (weight 1, the codec's decode_set) or added. */
static int
codec_decode_block(const struct codec *c, unsigned j, float *a, const uint8_t *msg, size_t len,
                   double weight, bool set, const struct codec_link *link, struct errbuf *eb)
{
    if (set)
        return c->ops->decode_set(c->impl[j], a, msg, len, link, eb);
    return c->ops->decode_add(c->impl[j], a, msg, len, weight, link, eb);
}

/* codec_decode_add(), or with set the decode into acc of codec_decode(). */
static int
codec_decode_run(struct codec *c, float *acc, const uint8_t *msg, size_t len, double weight,
                 bool set, const struct codec_link *link, struct errbuf *eb)
{
    if (!isfinite(weight))
        return errbuf_set(eb, -ERR_RANGE, "decode weight %g is not finite", weight);
    if (c->blk.n == 1) {
        int rc = codec_decode_block(c, 0, acc, msg, len, weight, set, link, eb);
        if (rc == 0 && !c->ops->bounded && !codec_values_ok(acc, c->acc_off[1]))
            return codec_not_finite(c, eb, 0);
        return rc;
    }
    size_t pos = 0;
    for (unsigned j = 0; j < c->blk.n; j++) {
        size_t n = len - pos;
        if (c->fixed) {
            n = c->max_bytes[j];
        } else if (codec_len_field(c, j) > 0) {
            uint32_t v;
            if (len - pos < sizeof v)
                return codec_corrupt(eb, len, "block %u length field truncated", j);
            memcpy(&v, msg + pos, sizeof v);
            pos += sizeof v;
            n = v;
        }
        if (n > len - pos)
            return codec_corrupt(eb, len, "block %u of %zu bytes truncated at byte %zu", j, n, len);
        struct codec_link l;
        codec_block_link(&l, link, j);
        float *a = acc + c->acc_off[j];
        int rc = codec_decode_block(c, j, a, msg + pos, n, weight, set, &l, eb);
        if (rc < 0) {
            if (eb != NULL && eb->offset >= 0)
                eb->offset += (long)pos;
            return rc;
        }
        if (!c->ops->bounded && !codec_values_ok(a, c->acc_off[j + 1] - c->acc_off[j]))
            return codec_not_finite(c, eb, pos);
        pos += n;
    }
    if (pos != len)
        return codec_corrupt(eb, pos, "%zu trailing bytes after the last block", len - pos);
    return 0;
}

int
codec_decode_add(struct codec *c, float *acc, const uint8_t *msg, size_t len, double weight,
                 const struct codec_link *link, struct errbuf *eb)
{
    return codec_decode_run(c, acc, msg, len, weight, false, link, eb);
}

void
codec_decode_finish(struct codec *c, float *out, float *acc, const struct codec_link *link)
{
    /* In increasing order: block j writes out[off_j, off_j + len_j), which ends before the
     * accumulator of block j + 1 starts (off_j <= acc_off_j, len_j <= its acc length). */
    for (unsigned j = 0; j < c->blk.n; j++) {
        struct codec_link l;
        codec_block_link(&l, link, j);
        c->ops->decode_finish(c->impl[j], out + c->blk.off[j], acc + c->acc_off[j], &l);
    }
}

int
codec_decode(struct codec *c, float *out, const uint8_t *msg, size_t len,
             const struct codec_link *link, struct errbuf *eb)
{
    /* An accumulator in the output's domain and size is out itself: no copy at the end. */
    float *acc = codec_acc_len(c) == c->dim ? out : c->acc_scratch;
    bool set = c->ops->decode_set != NULL; /* writes every accumulator entry: no zeroing */
    if (!set)
        memset(acc, 0, codec_acc_len(c) * sizeof *acc);
    int rc = codec_decode_run(c, acc, msg, len, 1.0, set, link, eb);
    if (rc < 0)
        return rc;
    codec_decode_finish(c, out, acc, link);
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
codec_private_key(struct rng_key *key, const struct codec_link *link)
{
    rng_key_derive(key, link->seed, RNG_PURPOSE_CODEC_PRIVATE, link->round, link->client);
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

/*
 * Coins of rnd[0..32) against t16 (t16 < 2^16), AVX2: bit l of *below is set when
 * rnd[l] < t16, of *tie when rnd[l] == t16.
 */
__attribute__((target("avx2"))) static void
codec_mask_coins_avx2(uint32_t *below, uint32_t *tie, const uint16_t *rnd, uint32_t t16)
{
    const __m256i t = _mm256_set1_epi16((short)t16);
    __m256i a = _mm256_loadu_si256((const __m256i *)rnd);
    __m256i b = _mm256_loadu_si256((const __m256i *)(rnd + 16));
    /* a >= t (unsigned) iff max(a, t) == a; the byte packing interleaves the 128-bit
     * halves, the permutation puts them back in order. */
    __m256i ge = _mm256_packs_epi16(_mm256_cmpeq_epi16(_mm256_max_epu16(a, t), a),
                                    _mm256_cmpeq_epi16(_mm256_max_epu16(b, t), b));
    __m256i eq = _mm256_packs_epi16(_mm256_cmpeq_epi16(a, t), _mm256_cmpeq_epi16(b, t));
    *below = ~(uint32_t)_mm256_movemask_epi8(_mm256_permute4x64_epi64(ge, 0xd8));
    *tie = (uint32_t)_mm256_movemask_epi8(_mm256_permute4x64_epi64(eq, 0xd8));
}

size_t
codec_mask_draw(uint8_t *mask, size_t D, double f, struct rng *r)
{
    /* The coin of codec/sround.h: heads below t16, tails above, the rare tie settled by a
     * 32-bit draw of the ChaCha20 keystream. */
    double t = f * 0x1p16;
    uint32_t t16 = (uint32_t)t;
    size_t count = 0;
    bool avx2 = t16 < 0x10000u && __builtin_cpu_supports("avx2");
    uint16_t rnd[SROUND_BATCH]; /* SROUND_BATCH is a multiple of 8 */
    for (size_t i0 = 0; i0 < D; i0 += SROUND_BATCH) {
        size_t m = D - i0 < SROUND_BATCH ? D - i0 : SROUND_BATCH;
        rng_fast_u16s(r, rnd, m);
        uint8_t *out = mask + i0 / 8;
        memset(out, 0, (m + 7) / 8);
        /* A byte of 8 coin flips at a time, branch-free (the predictor cannot learn them);
         * with AVX2, 32 flips at a time while 32 remain. */
        uint32_t below = 0, tie = 0;
        bool vec = false;
        for (size_t j = 0; j < m; j += 8) {
            unsigned byte = 0, tie8 = 0;
            if (j % 32 == 0) {
                vec = avx2 && j + 32 <= m;
                if (vec)
                    codec_mask_coins_avx2(&below, &tie, rnd + j, t16);
            }
            if (vec) {
                byte = below >> (j % 32) & 0xffu;
                tie8 = tie >> (j % 32) & 0xffu;
            } else {
                for (unsigned l = 0; l < 8 && j + l < m; l++) {
                    byte |= (unsigned)(rnd[j + l] < t16) << l;
                    tie8 |= (unsigned)(rnd[j + l] == t16) << l;
                }
            }
            for (unsigned l = 0; tie8 != 0 && l < 8; l++)
                if (tie8 >> l & 1)
                    byte |= sround_coin_with(f, rnd[j + l], r) << l;
            out[j / 8] = (uint8_t)byte;
            /* bits set in a byte, without a library call (no popcnt in the baseline ISA) */
            unsigned c2 = byte - (byte >> 1 & 0x55u);
            c2 = (c2 & 0x33u) + (c2 >> 2 & 0x33u);
            count += (c2 + (c2 >> 4)) & 0x0fu;
        }
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
    uint32_t rnd[SROUND_BATCH]; /* one 32-bit draw per coordinate, in order */
    for (size_t i0 = 0; i0 < D; i0 += SROUND_BATCH) {
        size_t m = D - i0 < SROUND_BATCH ? D - i0 : SROUND_BATCH;
        rng_u32s(&r, rnd, m);
        for (size_t k = 0; k < m; k++)
            y[i0 + k] = (uint64_t)rnd[k] < thr ? 0.0f : y[i0 + k] * keep;
    }
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

int
codec_bound_check(double weight, double max_abs, double growth, const char *what, size_t pos,
                  struct errbuf *eb)
{
    /* 2^-12 of room: far above the float rounding of a transform (at most 30 levels of
     * relative error 2^-24 each) and of the decoders' products. */
    double bound = fabs(weight) * max_abs * growth;
    if (!(bound <= (double)CODEC_MAX_ABS * (1.0 - 0x1p-12)))
        return codec_corrupt(eb, pos, "%s %g: decoded values would exceed 2^90 (weight %g)", what,
                             max_abs, weight);
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
