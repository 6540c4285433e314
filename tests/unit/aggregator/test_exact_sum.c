/*
 * exact_sum: order-independent fixed-point sums. The same addends give the same words in
 * any order and any grouping (merge, raw-word reduction); each addend is floor(v * 2^63)
 * exactly, so expectations below are integers worked out by hand; the range and bounds
 * errors name what they refuse.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/exact_sum.h"
#include "base/rng.h"
#include "tests/support/check_support.h"
#include "tests/unit/aggregator/suites.h"

/* Asserts that coordinate i of s holds the 128-bit integer hi * 2^64 + lo. */
#define es_assert_words(s, i, lo_, hi_)                                                            \
    do {                                                                                           \
        const uint64_t *es_w_ = exact_sum_words(s);                                                \
        ck_assert_msg(es_w_[2 * (i)] == (lo_) && es_w_[2 * (i) + 1] == (hi_),                      \
                      "coordinate %zu: words (0x%016llx, 0x%016llx), wanted (0x%016llx, "          \
                      "0x%016llx)",                                                                \
                      (size_t)(i), (unsigned long long)es_w_[2 * (i)],                             \
                      (unsigned long long)es_w_[2 * (i) + 1], (unsigned long long)(lo_),           \
                      (unsigned long long)(hi_));                                                  \
    } while (0)

static struct exact_sum *
es_new(size_t n)
{
    struct exact_sum *s = exact_sum_new(n);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(exact_sum_len(s), n);
    return s;
}

static void
es_add(struct exact_sum *s, size_t i, double v)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(exact_sum_add_f64(s, i, v, &eb) == 0, "add %a: %s", v, eb.msg);
}

static bool
es_same(struct exact_sum *a, struct exact_sum *b)
{
    size_t n = exact_sum_len(a);
    ck_assert_uint_eq(exact_sum_len(b), n);
    return memcmp(exact_sum_words(a), exact_sum_words(b), 2 * n * sizeof(uint64_t)) == 0;
}

/*
 * One addend into a zero sum: the words are floor(v * 2^63) in two's complement, low word
 * first. Values with an exponent of at least -63 are exact; finer ones round toward
 * -infinity, so a tiny negative value is one unit (2^-63) below zero, never zero.
 */
struct es_single {
    double v;
    uint64_t lo, hi;
    double get; /* exact_sum_get() afterwards */
};

static const struct es_single es_singles[] = {
    { 0.0, 0, 0, 0.0 },
    { -0.0, 0, 0, 0.0 },
    { 1.0, 0x8000000000000000u, 0, 1.0 },
    { 0.5, 0x4000000000000000u, 0, 0.5 },
    { 1.5, 0xC000000000000000u, 0, 1.5 },
    { -0.5, 0xC000000000000000u, UINT64_MAX, -0.5 },
    /* -2^63 = 2^128 - 2^63. */
    { -1.0, 0x8000000000000000u, UINT64_MAX, -1.0 },
    /* -3 * 2^63 = -(2^64 + 2^63) = (2^64 - 2) * 2^64 + 2^63. */
    { -3.0, 0x8000000000000000u, UINT64_MAX - 1, -3.0 },
    /* The resolution, and values below it. */
    { 0x1p-63, 1, 0, 0x1p-63 },
    { 0x1p-64, 0, 0, 0.0 },
    { -0x1p-64, UINT64_MAX, UINT64_MAX, -0x1p-63 },
    { 0x1.8p-63, 1, 0, 0x1p-63 },
    { -0x1.8p-63, UINT64_MAX - 1, UINT64_MAX, -0x1p-62 },
    /* 1e-12 * 2^63 = 9223372.036854775...: floor 9223372, and -9223373 for -1e-12. */
    { 1e-12, 9223372, 0, 9223372.0 * 0x1p-63 },
    { -1e-12, (uint64_t)0 - 9223373, UINT64_MAX, -9223373.0 * 0x1p-63 },
    /* 2^39 * 2^63 = 2^102 = 2^38 * 2^64. */
    { 0x1p39, 0, (uint64_t)1 << 38, 0x1p39 },
    { -0x1p39, 0, (uint64_t)0 - ((uint64_t)1 << 38), -0x1p39 },
    /* The largest double below 2^40: 2^103 - 2^50 = (2^39 - 1) * 2^64 + (2^64 - 2^50). */
    { 0x1.fffffffffffffp39, 0xFFFC000000000000u, ((uint64_t)1 << 39) - 1, 0x1.fffffffffffffp39 },
    /* Its negation: 2^128 - 2^103 + 2^50 = (2^64 - 2^39) * 2^64 + 2^50. */
    { -0x1.fffffffffffffp39, (uint64_t)1 << 50, (uint64_t)0 - ((uint64_t)1 << 39),
      -0x1.fffffffffffffp39 },
};

START_TEST(single_addend_words)
{
    const struct es_single *c = &es_singles[_i];
    struct exact_sum *s = es_new(3);
    /* Coordinate 1 only: its neighbours stay zero. */
    es_add(s, 1, c->v);
    es_assert_words(s, 0, 0, 0);
    es_assert_words(s, 1, c->lo, c->hi);
    es_assert_words(s, 2, 0, 0);
    ck_assert_msg(exact_sum_get(s, 1) == c->get, "%a: get %a, wanted %a", c->v, exact_sum_get(s, 1),
                  c->get);
    /* add_f32 with scale 1 of the same value (when it is a float) gives the same words. */
    float f = (float)c->v;
    if ((double)f == c->v) {
        struct exact_sum *t = es_new(3);
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(exact_sum_add_f32(t, 1, &f, 1, 1.0, &eb), 0);
        ck_assert(es_same(s, t));
        exact_sum_free(t);
    }
    exact_sum_free(s);
}
END_TEST

/*
 * (double)0.1f, 0.2f and 0.3f are 24-bit mantissas with exponents -4..-2, so each is an
 * integer number of 2^-63 units and their sum is exact; in all six orders the words are
 * the integer sum of the three conversions, and the value is the exact real sum.
 */
START_TEST(tenths_are_exact_in_every_order)
{
    const float v[3] = { 0.1f, 0.2f, 0.3f };
    static const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
                                     { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    uint64_t want = 0;
    for (size_t k = 0; k < 3; k++)
        want += (uint64_t)((double)v[k] * 0x1p63);
    /* Those conversions are exact: 0.1f = 13421773 * 2^-27. */
    ck_assert_uint_eq((uint64_t)((double)v[0] * 0x1p63), (uint64_t)13421773 << 36);
    struct errbuf eb;
    errbuf_clear(&eb);
    for (size_t p = 0; p < 6; p++) {
        struct exact_sum *s = es_new(1);
        for (size_t k = 0; k < 3; k++)
            ck_assert_int_eq(exact_sum_add_f32(s, 0, &v[perms[p][k]], 1, 1.0, &eb), 0);
        es_assert_words(s, 0, want, 0);
        ck_assert(exact_sum_get(s, 0) == (double)v[0] + (double)v[1] + (double)v[2]);
        exact_sum_free(s);
    }
    /* 0.1f three times, and once with scale 3 (3 * 13421773 * 2^-27 is exact in double). */
    struct exact_sum *a = es_new(1), *b = es_new(1);
    for (size_t k = 0; k < 3; k++)
        ck_assert_int_eq(exact_sum_add_f32(a, 0, &v[0], 1, 1.0, &eb), 0);
    ck_assert_int_eq(exact_sum_add_f32(b, 0, &v[0], 1, 3.0, &eb), 0);
    es_assert_words(a, 0, (uint64_t)(3 * 13421773) << 36, 0);
    ck_assert(es_same(a, b));
    ck_assert(exact_sum_get(a, 0) == 3.0 * (double)0.1f);
    exact_sum_free(a);
    exact_sum_free(b);
}
END_TEST

/*
 * 2^39 + 1e-12 - 2^39: in double the small term vanishes below 2^39's ulp (2^-13) in some
 * orders; the exact sum keeps floor(1e-12 * 2^63) = 9223372 units in all of them.
 */
START_TEST(large_and_small_cancel_exactly)
{
    const double v[3] = { 0x1p39, 1e-12, -0x1p39 };
    static const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
                                     { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    volatile double naive = (v[0] + v[1]) + v[2];
    ck_assert(naive == 0.0); /* what this test is about */
    const uint64_t want = (uint64_t)floor(1e-12 * 0x1p63);
    ck_assert_uint_eq(want, 9223372);
    for (size_t p = 0; p < 6; p++) {
        struct exact_sum *s = es_new(1);
        es_add(s, 0, v[perms[p][0]]);
        es_add(s, 0, v[perms[p][1]]);
        if (perms[p][0] + perms[p][1] == 1) /* 2^39 + 1e-12: both words in use */
            es_assert_words(s, 0, want, (uint64_t)1 << 38);
        es_add(s, 0, v[perms[p][2]]);
        es_assert_words(s, 0, want, 0);
        ck_assert(exact_sum_get(s, 0) == ldexp(9223372.0, -63));
        exact_sum_free(s);
    }
    /* The same with negated terms: -1e-12 rounds down to -9223373 units. */
    struct exact_sum *s = es_new(1);
    es_add(s, 0, -0x1p39);
    es_add(s, 0, -1e-12);
    es_add(s, 0, 0x1p39);
    es_assert_words(s, 0, (uint64_t)0 - 9223373, UINT64_MAX);
    ck_assert(exact_sum_get(s, 0) == ldexp(-9223373.0, -63));
    exact_sum_free(s);
}
END_TEST

/*
 * Rounding toward -infinity is per addend: x and -x with x not a multiple of 2^-63 leave
 * floor(x) + floor(-x) = -1 unit, not zero; multiples of 2^-63 cancel to zero.
 */
START_TEST(negatives_round_toward_minus_infinity)
{
    struct exact_sum *s = es_new(4);
    es_add(s, 0, 1e-12);
    es_add(s, 0, -1e-12);
    es_add(s, 1, 2.385);
    es_add(s, 1, -2.385);
    es_add(s, 2, -0x1.8p-63);
    es_add(s, 2, 0x1.8p-63);
    es_add(s, 3, -0.375);
    es_add(s, 3, 0.375);
    es_assert_words(s, 0, UINT64_MAX, UINT64_MAX);
    /* 2.385 is a multiple of its ulp 2^-51, so of 2^-63: exact both ways, cancels. */
    es_assert_words(s, 1, 0, 0);
    es_assert_words(s, 2, UINT64_MAX, UINT64_MAX);
    es_assert_words(s, 3, 0, 0);
    ck_assert(exact_sum_get(s, 0) == -0x1p-63);
    ck_assert(exact_sum_get(s, 2) == -0x1p-63);
    ck_assert(exact_sum_get(s, 3) == 0.0);
    exact_sum_free(s);
}
END_TEST

/* Carries between the two words, both ways. */
START_TEST(carries_cross_words)
{
    struct exact_sum *s = es_new(2);
    es_add(s, 0, 1.0);
    es_add(s, 0, 1.0); /* 2 * 2^63 = 2^64 */
    es_assert_words(s, 0, 0, 1);
    es_add(s, 0, -0x1p-63);
    es_assert_words(s, 0, UINT64_MAX, 0);
    es_add(s, 1, 0x1p-63);
    es_add(s, 1, -2.0); /* 1 - 2^64 */
    es_assert_words(s, 1, 1, UINT64_MAX);
    ck_assert(exact_sum_get(s, 0) == 2.0 - 0x1p-63);
    ck_assert(exact_sum_get(s, 1) == -2.0 + 0x1p-63);
    exact_sum_free(s);
}
END_TEST

/*
 * exact_sum_get rounds the exact sum once, to nearest: 1 + 3 * 2^-54 is 0.75 of the ulp of
 * 1 above it, so 1 + 2^-52; adding 2^-54 three times to 1.0 in double gives 1.0.
 */
START_TEST(get_rounds_the_exact_sum_once)
{
    struct exact_sum *s = es_new(1);
    volatile double naive = 1.0;
    es_add(s, 0, 1.0);
    for (int k = 0; k < 3; k++) {
        es_add(s, 0, 0x1p-54);
        naive += 0x1p-54;
    }
    ck_assert(naive == 1.0);
    ck_assert(exact_sum_get(s, 0) == 0x1.0000000000001p0);
    es_assert_words(s, 0, 0x8000000000000000u + 3 * 0x200u, 0);
    exact_sum_free(s);
}
END_TEST

enum { ES_DIM = 5, ES_K = 400 };

/*
 * High-entropy addends over 24 binades, both signs, and weights like sample counts and
 * staleness factors: rounding in double arithmetic depends on the order for these.
 */
static void
es_fill(float x[ES_K][ES_DIM], double w[ES_K])
{
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 0);
    for (size_t k = 0; k < ES_K; k++) {
        w[k] = (double)(1 + rng_below(&r, 50)) / sqrt(1.0 + (double)rng_below(&r, 4));
        for (size_t i = 0; i < ES_DIM; i++) {
            double m = rng_uniform(&r) * 2.0 - 1.0;
            x[k][i] = (float)ldexp(m, (int)rng_below(&r, 24) - 16);
        }
    }
}

static void
es_add_vec(struct exact_sum *s, const float *x, double w)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(exact_sum_add_f32(s, 0, x, ES_DIM, w, &eb) == 0, "%s", eb.msg);
}

/*
 * The same 400 weighted vectors summed forward, backward, in a shuffled order, as four
 * partial sums merged in two different orders, and reduced through raw words: every result
 * has the same words. Plain double accumulation forward and backward differs, so the
 * inputs are ones where order matters.
 */
START_TEST(any_order_and_grouping_same_words)
{
    static float x[ES_K][ES_DIM];
    static double w[ES_K];
    es_fill(x, w);

    double fwd[ES_DIM] = { 0 }, bwd[ES_DIM] = { 0 };
    for (size_t k = 0; k < ES_K; k++)
        for (size_t i = 0; i < ES_DIM; i++) {
            fwd[i] += w[k] * (double)x[k][i];
            bwd[i] += w[ES_K - 1 - k] * (double)x[ES_K - 1 - k][i];
        }
    ck_assert_msg(memcmp(fwd, bwd, sizeof fwd) != 0, "double sums agree; inputs too easy");

    struct exact_sum *ref = es_new(ES_DIM);
    for (size_t k = 0; k < ES_K; k++)
        es_add_vec(ref, x[k], w[k]);

    struct exact_sum *back = es_new(ES_DIM);
    for (size_t k = ES_K; k-- > 0;)
        es_add_vec(back, x[k], w[k]);
    ck_assert(es_same(ref, back));

    uint32_t idx[ES_K];
    for (uint32_t k = 0; k < ES_K; k++)
        idx[k] = k;
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, 0, 0);
    rng_shuffle_u32(&r, idx, ES_K);
    struct exact_sum *shuf = es_new(ES_DIM);
    for (size_t k = 0; k < ES_K; k++)
        es_add_vec(shuf, x[idx[k]], w[idx[k]]);
    ck_assert(es_same(ref, shuf));

    /* Four partial sums over uneven slices of the shuffled order (threads, ranks). */
    static const size_t cut[5] = { 0, 1, 150, 151, ES_K };
    struct exact_sum *part[4];
    for (size_t p = 0; p < 4; p++) {
        part[p] = es_new(ES_DIM);
        for (size_t k = cut[p]; k < cut[p + 1]; k++)
            es_add_vec(part[p], x[idx[k]], w[idx[k]]);
    }
    struct exact_sum *m1 = es_new(ES_DIM), *m2 = es_new(ES_DIM);
    for (size_t p = 0; p < 4; p++)
        exact_sum_merge(m1, part[p]);
    /* ((p3 + p1) + p0) + p2: merge into a partial, not into zero. */
    exact_sum_merge(part[3], part[1]);
    exact_sum_merge(part[3], part[0]);
    exact_sum_merge(part[3], part[2]);
    exact_sum_merge(m2, part[3]);
    ck_assert(es_same(ref, m1));
    ck_assert(es_same(ref, m2));

    /* Raw words reduced as sim/cluster.c does across ranks. */
    struct exact_sum *halves[2] = { es_new(ES_DIM), es_new(ES_DIM) };
    for (size_t k = 0; k < ES_K; k++)
        es_add_vec(halves[k % 2], x[k], w[k]);
    uint64_t words[2 * ES_DIM];
    memcpy(words, exact_sum_words(halves[1]), sizeof words);
    exact_sum_words_add(words, exact_sum_words(halves[0]), ES_DIM);
    ck_assert(memcmp(words, exact_sum_words(ref), sizeof words) == 0);

    /*
     * The values are the exact sums of the same double products, rounded once; fwd is
     * within the recursive-summation bound (n - 1) u sum |terms| of them (Higham, 4.4).
     */
    for (size_t i = 0; i < ES_DIM; i++) {
        double abs_sum = 0;
        for (size_t k = 0; k < ES_K; k++)
            abs_sum += fabs(w[k] * (double)x[k][i]);
        ck_assert_double_le(fabs(exact_sum_get(ref, i) - fwd[i]), ES_K * DBL_EPSILON * abs_sum);
    }

    for (size_t p = 0; p < 4; p++)
        exact_sum_free(part[p]);
    exact_sum_free(halves[0]);
    exact_sum_free(halves[1]);
    exact_sum_free(ref);
    exact_sum_free(back);
    exact_sum_free(shuf);
    exact_sum_free(m1);
    exact_sum_free(m2);
}
END_TEST

/* exact_sum_words_add over raw words is exactly exact_sum_merge, carries included. */
START_TEST(words_add_equals_merge)
{
    const double a[4] = { 1.0, -0.5, 0x1p-63, -1e-12 };
    const double b[4] = { 1.0, 0.5, -0x1p-63, 1e-12 };
    struct exact_sum *sa = es_new(4), *sb = es_new(4);
    for (size_t i = 0; i < 4; i++) {
        es_add(sa, i, a[i]);
        es_add(sb, i, b[i]);
    }
    uint64_t words[8];
    memcpy(words, exact_sum_words(sa), sizeof words);
    exact_sum_words_add(words, exact_sum_words(sb), 4);
    exact_sum_merge(sa, sb);
    ck_assert(memcmp(words, exact_sum_words(sa), sizeof words) == 0);
    es_assert_words(sa, 0, 0, 1); /* 2^63 + 2^63 carries */
    es_assert_words(sa, 1, 0, 0); /* -2^62 + 2^62 wraps to zero */
    es_assert_words(sa, 2, 0, 0);
    es_assert_words(sa, 3, UINT64_MAX, UINT64_MAX); /* -9223373 + 9223372 */
    /* src is not changed. */
    for (size_t i = 0; i < 4; i++)
        ck_assert(exact_sum_get(sb, i) == floor(b[i] * 0x1p63) * 0x1p-63);
    /* n = 0 touches nothing. */
    exact_sum_words_add(words, exact_sum_words(sb), 0);
    ck_assert(memcmp(words, exact_sum_words(sa), sizeof words) == 0);
    exact_sum_free(sa);
    exact_sum_free(sb);
}
END_TEST

START_TEST(clear_starts_over)
{
    struct exact_sum *s = es_new(3), *fresh = es_new(3);
    es_add(s, 0, -2.385);
    es_add(s, 1, 1e-12);
    es_add(s, 2, 0x1.fffffffffffffp39);
    exact_sum_clear(s);
    ck_assert_uint_eq(exact_sum_len(s), 3);
    ck_assert(es_same(s, fresh));
    for (size_t i = 0; i < 3; i++)
        ck_assert(exact_sum_get(s, i) == 0.0);
    es_add(s, 1, 0.75);
    es_add(fresh, 1, 0.75);
    ck_assert(es_same(s, fresh));
    exact_sum_free(s);
    exact_sum_free(fresh);
    exact_sum_free(NULL);
    /* A sum of no coordinates works too. */
    struct exact_sum *empty = es_new(0);
    ck_assert_ptr_nonnull(exact_sum_words(empty));
    exact_sum_clear(empty);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(empty, 0, NULL, 0, 1.0, &eb), 0);
    exact_sum_free(empty);
}
END_TEST

/* Values exact_sum_add_f64 must refuse: not finite, or not below 2^40 in magnitude. */
struct es_bad {
    double v;
    const char *why;
};

static const struct es_bad es_bads[] = {
    { NAN, "not finite" },
    { -NAN, "not finite" },
    { INFINITY, "not finite" },
    { -INFINITY, "not finite" },
    { 0x1p40, "too large" },
    { -0x1p40, "too large" },
    { 0x1.0000000000001p40, "too large" },
    { DBL_MAX, "too large" },
    { -DBL_MAX, "too large" },
};

static void
es_assert_range_msg(const struct errbuf *eb, size_t coord, const char *why)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "coordinate %zu: ", coord);
    ck_assert(n > 0 && (size_t)n < sizeof prefix);
    ck_assert_int_eq(eb->code, -ERR_RANGE);
    ck_assert_msg(strncmp(eb->msg, prefix, (size_t)n) == 0 && strstr(eb->msg, why) != NULL &&
                      strstr(eb->msg, "below 2^40") != NULL,
                  "message '%s', wanted '%s... %s ... below 2^40'", eb->msg, prefix, why);
}

START_TEST(rejects_out_of_range_f64)
{
    const struct es_bad *c = &es_bads[_i];
    struct exact_sum *s = es_new(5), *before = es_new(5);
    es_add(s, 3, 1.25);
    es_add(before, 3, 1.25);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f64(s, 3, c->v, &eb), -ERR_RANGE);
    es_assert_range_msg(&eb, 3, c->why);
    /* Nothing was added. */
    ck_assert(es_same(s, before));
    exact_sum_free(s);
    exact_sum_free(before);
}
END_TEST

/*
 * add_f32 checks scale * x[i], naming coordinate first + i: a float NaN or infinity, a
 * float beyond 2^40, and a finite float that the scale carries to 2^40.
 */
START_TEST(rejects_out_of_range_f32)
{
    struct errbuf eb;
    struct exact_sum *s = es_new(8);
    float x[4] = { 1.0f, -2.0f, NAN, 4.0f };
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(s, 2, x, 4, 1.0, &eb), -ERR_RANGE);
    es_assert_range_msg(&eb, 4, "not finite");

    x[2] = -INFINITY;
    exact_sum_clear(s);
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(s, 2, x, 4, 1.0, &eb), -ERR_RANGE);
    es_assert_range_msg(&eb, 4, "not finite");

    x[2] = 0x1p41f;
    exact_sum_clear(s);
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(s, 1, x, 4, 1.0, &eb), -ERR_RANGE);
    es_assert_range_msg(&eb, 3, "too large");

    /* 2.0f * 2^39 = 2^40 exactly: too large; the float below 2^40 with scale 1 is fine. */
    const float two = 2.0f, below = 0x1.fffffep39f;
    exact_sum_clear(s);
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(s, 7, &two, 1, 0x1p39, &eb), -ERR_RANGE);
    es_assert_range_msg(&eb, 7, "too large");
    exact_sum_clear(s);
    ck_assert_int_eq(exact_sum_add_f32(s, 7, &below, 1, 1.0, &eb), 0);
    ck_assert(exact_sum_get(s, 7) == (double)below);
    /* A NaN scale makes every addend NaN. */
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(s, 5, &two, 1, NAN, &eb), -ERR_RANGE);
    es_assert_range_msg(&eb, 5, "not finite");
    exact_sum_free(s);
}
END_TEST

/* Coordinate ranges add_f32 must refuse on a sum of 4: past the end, or overflowing. */
struct es_span {
    size_t first, n;
};

static const struct es_span es_bad_spans[] = {
    { 5, 0 },
    { 4, 1 },
    { 2, 3 },
    { 0, 5 },
    { SIZE_MAX, 2 },
    { 1, SIZE_MAX },
    { SIZE_MAX, SIZE_MAX },
};

START_TEST(rejects_span_outside_the_sum)
{
    const struct es_span *c = &es_bad_spans[_i];
    const float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    struct exact_sum *s = es_new(4), *zero = es_new(4);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(exact_sum_add_f32(s, c->first, x, c->n, 1.0, &eb), -ERR_INVALID);
    ck_assert_int_eq(eb.code, -ERR_INVALID);
    ck_assert_msg(strncmp(eb.msg, "exact sum: coordinates [", 24) == 0 &&
                      strstr(eb.msg, ") of 4") != NULL,
                  "message '%s'", eb.msg);
    ck_assert(es_same(s, zero));
    exact_sum_free(s);
    exact_sum_free(zero);
}
END_TEST

START_TEST(span_bounds_are_inclusive)
{
    const float x[4] = { 0.25f, 0.5f, 0.75f, 1.0f };
    struct exact_sum *s = es_new(4);
    struct errbuf eb;
    errbuf_clear(&eb);
    /* The whole sum, the last coordinate, and the empty span at the end are fine. */
    ck_assert_int_eq(exact_sum_add_f32(s, 0, x, 4, 1.0, &eb), 0);
    ck_assert_int_eq(exact_sum_add_f32(s, 3, x, 1, 1.0, &eb), 0);
    ck_assert_int_eq(exact_sum_add_f32(s, 4, x, 0, 1.0, &eb), 0);
    ck_assert_int_eq(eb.code, 0);
    ck_assert(exact_sum_get(s, 0) == 0.25);
    ck_assert(exact_sum_get(s, 3) == 1.25);
    /* The exact message for a plain overrun. */
    ck_assert_int_eq(exact_sum_add_f32(s, 2, x, 3, 1.0, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "exact sum: coordinates [2, 5) of 4");
    /* add_f64 checks its index the same way. */
    ck_assert_int_eq(exact_sum_add_f64(s, 4, 1.0, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "exact sum: coordinate 4 of 4");
    ck_assert_int_eq(exact_sum_add_f64(s, SIZE_MAX, 1.0, &eb), -ERR_INVALID);
    ck_assert(exact_sum_get(s, 3) == 1.25);
    exact_sum_free(s);
}
END_TEST

Suite *
exact_sum_suite(void)
{
    Suite *s = suite_create("exact_sum");
    TCase *tc = tcase_create("exact");
    tcase_add_loop_test(tc, single_addend_words, 0,
                        (int)(sizeof es_singles / sizeof es_singles[0]));
    tcase_add_test(tc, tenths_are_exact_in_every_order);
    tcase_add_test(tc, large_and_small_cancel_exactly);
    tcase_add_test(tc, negatives_round_toward_minus_infinity);
    tcase_add_test(tc, carries_cross_words);
    tcase_add_test(tc, get_rounds_the_exact_sum_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("order independence");
    tcase_add_test(tc, any_order_and_grouping_same_words);
    tcase_add_test(tc, words_add_equals_merge);
    tcase_add_test(tc, clear_starts_over);
    suite_add_tcase(s, tc);
    tc = tcase_create("refuses");
    tcase_add_loop_test(tc, rejects_out_of_range_f64, 0, (int)(sizeof es_bads / sizeof es_bads[0]));
    tcase_add_test(tc, rejects_out_of_range_f32);
    tcase_add_loop_test(tc, rejects_span_outside_the_sum, 0,
                        (int)(sizeof es_bad_spans / sizeof es_bad_spans[0]));
    tcase_add_test(tc, span_bounds_are_inclusive);
    suite_add_tcase(s, tc);
    return s;
}
