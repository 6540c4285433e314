/* ecuq: entropy-constrained uniform quantisation with rANS-coded indices. See ecuq.h. */
#include "codec/ecuq.h"

#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/entropy.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the uint32 header fields are written with memcpy on little-endian hosts");

#define ECUQ_MAX_BITS 16.0

struct ecuq {
    size_t dim;
    struct ecuq_params p;
    uint32_t *sym;    /* dim level indices */
    uint32_t *counts; /* max_levels counts */
    uint32_t *cum;    /* max_levels + 1 cumulative counts (entropy coder workspace) */
    struct ecuq_stats last;
};

/* CRC-32 (IEEE, reflected), bitwise: no table, so no global state. */
static uint32_t
ecuq_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFU;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (unsigned k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320U & (0U - (c & 1U)));
    }
    return ~c;
}

void
ecuq_params_default(struct ecuq_params *p, double bits)
{
    *p = (struct ecuq_params){
        .bits = bits,
        .tolerance = 0.1,
        .max_steps = 20,
        .max_levels = (uint32_t)1 << 16,
    };
}

int
ecuq_params_check(const struct ecuq_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1.0 && p->bits <= ECUQ_MAX_BITS))
        return errbuf_set(eb, -ERR_RANGE, "ecuq 'bits' %g outside [1, %g]", p->bits, ECUQ_MAX_BITS);
    if (!(p->tolerance > 0.0 && p->tolerance < p->bits))
        return errbuf_set(eb, -ERR_RANGE, "ecuq 'tolerance' %g outside (0, bits)", p->tolerance);
    if (p->max_steps < 1)
        return errbuf_set(eb, -ERR_RANGE, "ecuq 'max_steps' must be at least 1");
    uint32_t start = (uint32_t)floor(exp2(p->bits));
    if (p->max_levels < start || p->max_levels > ENTROPY_MAX_ALPHABET)
        return errbuf_set(eb, -ERR_RANGE, "ecuq 'max_levels' %u outside [%u, %u]", p->max_levels,
                          start, ENTROPY_MAX_ALPHABET);
    if (dim < 1 || dim > ENTROPY_MAX_SYMBOLS_N)
        return errbuf_set(eb, -ERR_RANGE, "ecuq dimension %zu outside [1, %zu]", dim,
                          ENTROPY_MAX_SYMBOLS_N);
    return 0;
}

struct ecuq *
ecuq_new(const struct ecuq_params *p, size_t dim)
{
    struct ecuq *q = mem_calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->dim = dim;
    q->p = *p;
    q->sym = mem_calloc(dim, sizeof *q->sym);
    q->counts = mem_calloc(p->max_levels, sizeof *q->counts);
    q->cum = mem_calloc((size_t)p->max_levels + 1, sizeof *q->cum);
    if (q->sym == NULL || q->counts == NULL || q->cum == NULL) {
        ecuq_free(q);
        return NULL;
    }
    return q;
}

void
ecuq_free(struct ecuq *q)
{
    if (q == NULL)
        return;
    mem_free(q->sym);
    mem_free(q->counts);
    mem_free(q->cum);
    mem_free(q);
}

size_t
ecuq_dim(const struct ecuq *q)
{
    return q->dim;
}

size_t
ecuq_max_bytes(const struct ecuq *q)
{
    return ECUQ_HEADER_BYTES + entropy_max_bytes(q->dim, q->p.max_levels) + ECUQ_CRC_BYTES;
}

void
ecuq_last_stats(const struct ecuq *q, struct ecuq_stats *st)
{
    *st = q->last;
}

/* The float32 step for L levels over [lo, hi] (0 when it underflows). */
static float
ecuq_step(float lo, float hi, uint32_t levels)
{
    return (float)(((double)hi - (double)lo) / (double)levels);
}

/* Nearest-centre indices of x for (lo, step, L) into q->sym and q->counts; returns H. */
static double
ecuq_quantise(struct ecuq *q, const float *x, float lo, float step, uint32_t levels)
{
    memset(q->counts, 0, (size_t)levels * sizeof *q->counts);
    double inv = 1.0 / (double)step;
    uint32_t top = levels - 1;
    for (size_t i = 0; i < q->dim; i++) {
        double t = floor(((double)x[i] - (double)lo) * inv);
        uint32_t k = t <= 0.0 ? 0 : (t >= (double)top ? top : (uint32_t)t);
        q->sym[i] = k;
        q->counts[k]++;
    }
    return entropy_bits(q->counts, levels, q->dim);
}

/*
 * The search of ecuq.h: exponential then binary on L, max_steps evaluations. Leaves
 * q->sym/q->counts for the chosen L and fills q->last.
 */
static void
ecuq_search(struct ecuq *q, const float *x, float lo, float hi)
{
    const double b = q->p.bits;
    const double want = b - q->p.tolerance;
    uint32_t best = (uint32_t)floor(exp2(b));
    double best_h = ecuq_quantise(q, x, lo, ecuq_step(lo, hi, best), best);
    unsigned steps = 1;
    uint32_t cur = best; /* the L whose indices q->sym holds */
    uint32_t bad = 0;    /* smallest evaluated L with H > b, 0 if none */
    while (best_h < want && bad == 0 && best < q->p.max_levels && steps < q->p.max_steps) {
        uint32_t l = best > q->p.max_levels / 2 ? q->p.max_levels : 2 * best;
        double h = ecuq_quantise(q, x, lo, ecuq_step(lo, hi, l), l);
        steps++;
        cur = l;
        if (h <= b) {
            best = l;
            best_h = h;
        } else {
            bad = l;
        }
    }
    while (best_h < want && bad != 0 && bad - best > 1 && steps < q->p.max_steps) {
        uint32_t l = best + (bad - best) / 2;
        double h = ecuq_quantise(q, x, lo, ecuq_step(lo, hi, l), l);
        steps++;
        cur = l;
        if (h <= b) {
            best = l;
            best_h = h;
        } else {
            bad = l;
        }
    }
    if (cur != best)
        best_h = ecuq_quantise(q, x, lo, ecuq_step(lo, hi, best), best);
    q->last = (struct ecuq_stats){
        .levels = best,
        .entropy = best_h,
        .steps = steps,
        .above = bad,
        .step = ecuq_step(lo, hi, best),
    };
}

int
ecuq_encode(struct ecuq *q, uint8_t *out, size_t cap, size_t *len, const float *x,
            struct errbuf *eb)
{
    float lo = x[0];
    float hi = x[0];
    for (size_t i = 0; i < q->dim; i++) {
        if (!isfinite(x[i]))
            return errbuf_set(eb, -ERR_INVALID, "ecuq: coordinate %zu is not finite", i);
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (cap < ECUQ_HEADER_BYTES + ECUQ_CRC_BYTES)
        return errbuf_set(eb, -ERR_RANGE, "ecuq: buffer of %zu bytes too small", cap);
    bool constant = lo == hi || ecuq_step(lo, hi, (uint32_t)floor(exp2(q->p.bits))) == 0.0f;
    if (constant) {
        memset(q->sym, 0, q->dim * sizeof *q->sym);
        q->counts[0] = (uint32_t)q->dim;
        q->last = (struct ecuq_stats){ .levels = 1, .entropy = 0.0, .steps = 0, .step = 0.0f };
    } else {
        ecuq_search(q, x, lo, hi);
    }
    uint32_t levels = q->last.levels;
    memcpy(out, &levels, 4);
    codec_put_f32(out + 4, lo);
    codec_put_f32(out + 8, q->last.step);
    size_t n = 0;
    int rc = entropy_encode(out + ECUQ_HEADER_BYTES, cap - ECUQ_HEADER_BYTES - ECUQ_CRC_BYTES, &n,
                            q->sym, q->dim, q->counts, q->cum, levels, eb);
    if (rc < 0)
        return rc;
    size_t body = ECUQ_HEADER_BYTES + n;
    uint32_t crc = ecuq_crc32(out, body);
    memcpy(out + body, &crc, 4);
    *len = body + ECUQ_CRC_BYTES;
    return 0;
}

int
ecuq_decode(struct ecuq *q, float *out, const uint8_t *msg, size_t len, struct errbuf *eb)
{
    if (len < ECUQ_HEADER_BYTES + ECUQ_CRC_BYTES)
        return codec_corrupt(eb, len, "ecuq message of %zu bytes, at least %d needed", len,
                             ECUQ_HEADER_BYTES + ECUQ_CRC_BYTES);
    size_t body = len - ECUQ_CRC_BYTES;
    uint32_t crc = 0;
    memcpy(&crc, msg + body, 4);
    if (crc != ecuq_crc32(msg, body))
        return codec_corrupt(eb, body, "ecuq message fails its CRC-32");
    uint32_t levels = 0;
    memcpy(&levels, msg, 4);
    if (levels < 1 || levels > q->p.max_levels)
        return codec_corrupt(eb, 0, "ecuq: %u levels, allowed 1..%u", levels, q->p.max_levels);
    float lo = codec_get_f32(msg + 4);
    float step = codec_get_f32(msg + 8);
    if (!isfinite(lo))
        return codec_corrupt(eb, 4, "ecuq: lowest value is not finite");
    if (!isfinite(step) || step < 0.0f || (step == 0.0f) != (levels == 1))
        return codec_corrupt(eb, 8, "ecuq: step %g does not fit %u levels", (double)step, levels);
    double top = (double)lo + (double)levels * (double)step;
    if (!(fabs(top) <= (double)FLT_MAX))
        return codec_corrupt(eb, 8, "ecuq: levels reach beyond float range");
    int rc = entropy_decode(q->sym, q->dim, q->counts, q->cum, levels, msg + ECUQ_HEADER_BYTES,
                            body - ECUQ_HEADER_BYTES, eb);
    if (rc < 0) {
        if (eb != NULL && eb->offset >= 0)
            eb->offset += ECUQ_HEADER_BYTES;
        return rc;
    }
    for (size_t i = 0; i < q->dim; i++)
        out[i] = (float)((double)lo + ((double)q->sym[i] + 0.5) * (double)step);
    return 0;
}
