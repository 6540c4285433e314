/* exact_sum: order-independent fixed-point sums. See exact_sum.h. */
#include "aggregator/exact_sum.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

__extension__ typedef unsigned __int128 exact_u128;
__extension__ typedef __int128 exact_i128;

struct exact_sum {
    size_t n;
    uint64_t *w; /* 2n words: lo, hi per coordinate */
};

struct exact_sum *
exact_sum_new(size_t n)
{
    struct exact_sum *s = mem_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->n = n;
    s->w = mem_calloc(2 * (n > 0 ? n : 1), sizeof *s->w);
    if (s->w == NULL) {
        mem_free(s);
        return NULL;
    }
    return s;
}

void
exact_sum_free(struct exact_sum *s)
{
    if (s == NULL)
        return;
    mem_free(s->w);
    mem_free(s);
}

size_t
exact_sum_len(const struct exact_sum *s)
{
    return s->n;
}

void
exact_sum_clear(struct exact_sum *s)
{
    memset(s->w, 0, 2 * s->n * sizeof *s->w);
}

static exact_u128
exact_load(const uint64_t *w)
{
    return (exact_u128)w[0] | (exact_u128)w[1] << 64;
}

static void
exact_store(uint64_t *w, exact_u128 v)
{
    w[0] = (uint64_t)v;
    w[1] = (uint64_t)(v >> 64);
}

/*
 * floor(v * 2^63) as a 128-bit integer, for finite |v| < 2^40. v = t + r with t = trunc(v)
 * and r = v - t in (-1, 1), both exact in double (r keeps v's sign and its low bits); r * 2^63
 * is exact, its floor lies in [-2^63, 2^63) and t * 2^63 + floor(r * 2^63) = floor(v * 2^63).
 */
static exact_u128
exact_fixed(double v)
{
    double t = trunc(v);
    double r = floor((v - t) * 0x1p63);
    return ((exact_u128)(exact_i128)(int64_t)t << EXACT_SUM_FRAC_BITS) +
           (exact_u128)(exact_i128)(int64_t)r;
}

static int
exact_range_error(struct errbuf *eb, size_t i, double v)
{
    return errbuf_set(eb, -ERR_RANGE,
                      "coordinate %zu: %g is %s (exact sums take finite values below 2^40)", i, v,
                      isfinite(v) ? "too large" : "not finite");
}

int
exact_sum_add_f32(struct exact_sum *s, size_t first, const float *x, size_t n, double scale,
                  struct errbuf *eb)
{
    if (first > s->n || n > s->n - first)
        return errbuf_set(eb, -ERR_INVALID, "exact sum: coordinates [%zu, %zu) of %zu", first,
                          first + n, s->n);
    uint64_t *w = s->w + 2 * first;
    for (size_t i = 0; i < n; i++) {
        double v = scale * (double)x[i];
        if (!(fabs(v) < EXACT_SUM_MAX))
            return exact_range_error(eb, first + i, v);
        exact_store(w + 2 * i, exact_load(w + 2 * i) + exact_fixed(v));
    }
    return 0;
}

int
exact_sum_add_f64(struct exact_sum *s, size_t i, double v, struct errbuf *eb)
{
    if (i >= s->n)
        return errbuf_set(eb, -ERR_INVALID, "exact sum: coordinate %zu of %zu", i, s->n);
    if (!(fabs(v) < EXACT_SUM_MAX))
        return exact_range_error(eb, i, v);
    exact_store(s->w + 2 * i, exact_load(s->w + 2 * i) + exact_fixed(v));
    return 0;
}

void
exact_sum_words_add(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        exact_store(dst + 2 * i, exact_load(dst + 2 * i) + exact_load(src + 2 * i));
}

void
exact_sum_merge(struct exact_sum *dst, const struct exact_sum *src)
{
    size_t n = dst->n < src->n ? dst->n : src->n;
    exact_sum_words_add(dst->w, src->w, n);
}

double
exact_sum_get(const struct exact_sum *s, size_t i)
{
    exact_i128 v = (exact_i128)exact_load(s->w + 2 * i);
    return (double)v * 0x1p-63;
}

uint64_t *
exact_sum_words(struct exact_sum *s)
{
    return s->w;
}
