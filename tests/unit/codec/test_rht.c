/* rht: matches the textbook transform, is orthonormal and its own inverse, pads right. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "codec/rht.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

/* The textbook radix-2 butterflies in double: the plain
 * Walsh-Hadamard transform the fast one must match. */
static void
naive_fwht(double *v, size_t n)
{
    for (size_t h = 1; h < n; h <<= 1)
        for (size_t b = 0; b < n; b += 2 * h)
            for (size_t j = b; j < b + h; j++) {
                double a = v[j], c = v[j + h];
                v[j] = a + c;
                v[j + h] = a - c;
            }
}

START_TEST(padded_len)
{
    ck_assert_uint_eq(rht_padded_len(1), 1);
    ck_assert_uint_eq(rht_padded_len(2), 2);
    ck_assert_uint_eq(rht_padded_len(3), 4);
    ck_assert_uint_eq(rht_padded_len(1000), 1024);
    ck_assert_uint_eq(rht_padded_len(100000), 131072);
    ck_assert_uint_eq(rht_padded_len((size_t)1 << 20), (size_t)1 << 20);
    ck_assert_uint_eq(rht_sign_bytes(1), 1);
    ck_assert_uint_eq(rht_sign_bytes(1024), 128);
}
END_TEST

/* Every size up to 2^15 (and 2^18, beyond one L2 chunk) against the naive kernel. */
START_TEST(matches_naive)
{
    struct rng r;
    rng_init_stream(&r, 7, RNG_PURPOSE_TEST, 0, 0);
    for (unsigned lg = 0; lg <= 18; lg++) {
        if (lg > 15 && lg != 18)
            continue;
        size_t n = (size_t)1 << lg;
        float *v = malloc(n * sizeof *v);
        double *w = malloc(n * sizeof *w);
        uint8_t *s = malloc(rht_sign_bytes(n));
        rht_signs_draw(s, n, &r);
        for (size_t i = 0; i < n; i++) {
            v[i] = (float)(rng_uniform(&r) * 2.385 - 1.0);
            w[i] = (double)v[i] * rht_sign(s, i) * 0.5;
        }
        rht_fwht(v, n, s, 0.5f);
        naive_fwht(w, n);
        double tol = 1e-6 * sqrt((double)n) * (lg + 1);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(v[i] - w[i]) <= tol, "n=%zu i=%zu: %g vs %g", n, i, (double)v[i],
                          w[i]);
        free(v);
        free(w);
        free(s);
    }
}
END_TEST

START_TEST(inverse_and_norm)
{
    struct rng r;
    rng_init_stream(&r, 8, RNG_PURPOSE_TEST, 0, 0);
    size_t n = (size_t)1 << 14;
    float *v = malloc(n * sizeof *v), *x = malloc(n * sizeof *x), *acc = calloc(n, sizeof *acc);
    uint8_t *s = malloc(rht_sign_bytes(n));
    rht_signs_draw(s, n, &r);
    double n2 = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = v[i] = (float)(rng_uniform(&r) - 0.3);
        n2 += (double)x[i] * x[i];
    }
    rht_forward(v, n, s);
    double m2 = 0;
    for (size_t i = 0; i < n; i++)
        m2 += (double)v[i] * v[i];
    ck_assert_rel_tol(m2, n2, 1e-5);
    float *copy = malloc(n * sizeof *copy);
    memcpy(copy, v, n * sizeof *v);
    rht_inverse(v, n, s);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(v[i], x[i], 1e-5);
    /* inverse_add over a prefix of d entries, weighted. */
    size_t d = 10000;
    rht_inverse_add(acc, d, copy, n, s, 2.0f);
    for (size_t i = 0; i < d; i++)
        ck_assert_double_eq_tol(acc[i], 2.0 * x[i], 2e-5);
    for (size_t i = d; i < n; i++)
        ck_assert(acc[i] == 0.0f);
    free(v);
    free(x);
    free(acc);
    free(s);
    free(copy);
}
END_TEST

/* Same stream key, same signs; the stream decides them (fair: about half are negative). */
START_TEST(signs_from_stream)
{
    size_t n = (size_t)1 << 16;
    uint8_t *a = malloc(rht_sign_bytes(n)), *b = malloc(rht_sign_bytes(n));
    struct rng r;
    rng_init_stream(&r, 9, RNG_PURPOSE_CODEC_SHARED, 3, 4);
    rht_signs_draw(a, n, &r);
    rng_init_stream(&r, 9, RNG_PURPOSE_CODEC_SHARED, 3, 4);
    rht_signs_draw(b, n, &r);
    ck_assert_mem_eq(a, b, rht_sign_bytes(n));
    size_t neg = 0;
    for (size_t i = 0; i < n; i++)
        neg += rht_sign(a, i) < 0;
    /* 4 sigma of Binomial(2^16, 1/2) is 512. */
    ck_assert_uint_lt(neg > n / 2 ? neg - n / 2 : n / 2 - neg, 512);
    free(a);
    free(b);
}
END_TEST

/* rht_forward_from() equals padding, copying and rht_forward(), and returns ‖x‖². */
START_TEST(forward_from)
{
    struct rng r;
    rng_init_stream(&r, 10, RNG_PURPOSE_TEST, 0, 0);
    static const size_t dims[] = { 1, 3, 7, 8, 1000, 2048, 5000, 70000 };
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        size_t d = dims[k], D = rht_padded_len(d);
        float *x = malloc(d * sizeof *x), *a = malloc(D * sizeof *a), *b = calloc(D, sizeof *b);
        uint8_t *s = malloc(rht_sign_bytes(D));
        rht_signs_draw(s, D, &r);
        double n2 = 0;
        for (size_t i = 0; i < d; i++) {
            x[i] = (float)(rng_uniform(&r) * 2.385 - 1.1);
            b[i] = x[i];
            n2 += (double)x[i] * x[i];
        }
        double got = rht_forward_from(a, x, d, D, s);
        rht_forward(b, D, s);
        ck_assert_rel_tol(got, n2, 1e-6);
        ck_assert_mem_eq(a, b, D * sizeof *a);
        free(x);
        free(a);
        free(b);
        free(s);
    }
}
END_TEST

/* A loader copying from a float array (rht_load_fn). */
static void
copy_load(void *ctx, float *dst, size_t off, size_t n)
{
    memcpy(dst, (const float *)ctx + off, n * sizeof *dst);
}

/*
 * rht_inverse_add_load(): the fused passes (load inside the transform, signs and sum in
 * its last pass) give exactly the bits of the separate ones, with the AVX2 and the portable
 * kernels, with and without signs and loader, for every shape of last pass (in one L1
 * block, in one L2 chunk, radix 2, 4 and 8 across chunks) and prefixes d not a multiple of 8.
 */
START_TEST(inverse_add_fused)
{
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 0);
    static const size_t dims[] = { 1,    3,    7,    8,     9,      15,     16,     17,     1000,
                                   2048, 2049, 5000, 70000, 131073, 262147, 524287, 1048573 };
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        size_t d = dims[k], D = rht_padded_len(d);
        float *src = malloc(D * sizeof *src), *ws = malloc(D * sizeof *ws);
        float *base = malloc(d * sizeof *base), *want = malloc(d * sizeof *want);
        float *got = malloc(d * sizeof *got);
        uint8_t *s = malloc(rht_sign_bytes(D));
        rht_signs_draw(s, D, &r);
        for (size_t i = 0; i < D; i++)
            src[i] = (float)(rng_uniform(&r) * 3.1 - 1.7);
        for (size_t i = 0; i < d; i++)
            base[i] = (float)(rng_uniform(&r) - 0.5);
        for (int with_signs = 0; with_signs < 2; with_signs++) {
            const uint8_t *sg = with_signs ? s : NULL;
            memcpy(want, base, d * sizeof *want);
            memcpy(ws, src, D * sizeof *ws);
            rht_inverse_add_load(want, d, ws, D, sg, 0.37f, NULL, NULL, RHT_UNFUSED | RHT_PORTABLE);
            for (unsigned flags = 0; flags < 4; flags++) {
                for (int load = 0; load < 2; load++) {
                    memcpy(got, base, d * sizeof *got);
                    if (load) {
                        rht_inverse_add_load(got, d, ws, D, sg, 0.37f, copy_load, src, flags);
                    } else {
                        memcpy(ws, src, D * sizeof *ws);
                        rht_inverse_add_load(got, d, ws, D, sg, 0.37f, NULL, NULL, flags);
                    }
                    ck_assert_msg(memcmp(got, want, d * sizeof *got) == 0,
                                  "d %zu signs %d flags %u load %d", d, with_signs, flags, load);
                }
            }
            if (with_signs) { /* and rht_inverse_add() itself */
                memcpy(got, base, d * sizeof *got);
                memcpy(ws, src, D * sizeof *ws);
                rht_inverse_add(got, d, ws, D, sg, 0.37f);
                ck_assert_mem_eq(got, want, d * sizeof *got);
            }
        }
        free(src);
        free(ws);
        free(base);
        free(want);
        free(got);
        free(s);
    }
}
END_TEST

/*
 * RHT_SET: acc is not read (here it holds NaN) and gets the bits of a zeroed acc plus the
 * transform, with every kernel and pass shape; weight 0 makes outputs -0 where a sign is
 * set, which the zeroed sum turns into +0.
 */
START_TEST(inverse_set_fused)
{
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, 0, 0);
    static const size_t dims[] = { 1, 7, 9, 17, 1000, 2049, 70000, 262147, 1048573 };
    static const float weights[] = { 0.37f, 0.0f };
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        size_t d = dims[k], D = rht_padded_len(d);
        float *src = malloc(D * sizeof *src), *ws = malloc(D * sizeof *ws);
        float *want = malloc(d * sizeof *want), *got = malloc(d * sizeof *got);
        uint8_t *s = malloc(rht_sign_bytes(D));
        rht_signs_draw(s, D, &r);
        for (size_t i = 0; i < D; i++)
            src[i] = (float)(rng_uniform(&r) * 3.1 - 1.7);
        for (int w = 0; w < 2; w++) {
            memset(want, 0, d * sizeof *want);
            memcpy(ws, src, D * sizeof *ws);
            rht_inverse_add_load(want, d, ws, D, s, weights[w], NULL, NULL,
                                 RHT_UNFUSED | RHT_PORTABLE);
            for (unsigned flags = 0; flags < 4; flags++) {
                for (int load = 0; load < 2; load++) {
                    for (size_t i = 0; i < d; i++)
                        got[i] = NAN;
                    memcpy(ws, src, D * sizeof *ws);
                    rht_inverse_add_load(got, d, ws, D, s, weights[w], load ? copy_load : NULL,
                                         load ? src : NULL, flags | RHT_SET);
                    ck_assert_msg(memcmp(got, want, d * sizeof *got) == 0,
                                  "d %zu weight %g flags %u load %d", d, (double)weights[w], flags,
                                  load);
                }
            }
        }
        free(src);
        free(ws);
        free(want);
        free(got);
        free(s);
    }
}
END_TEST

/* A sink recording what it is given, and checking the order promised in rht.h. */
struct rec_sink {
    float *got;
    size_t *next; /* per group of RHT_RUN coordinates: the next one expected */
    double norm2;
    int begun;
};

static void
rec_begin(void *ctx, double norm2)
{
    struct rec_sink *rs = ctx;
    rs->norm2 = norm2;
    rs->begun++;
}

static void
rec_put(void *ctx, const float *y, size_t off, size_t n)
{
    struct rec_sink *rs = ctx;
    ck_assert_int_eq(rs->begun, 1);
    for (size_t i = off; i < off + n; i++) {
        ck_assert_uint_eq(rs->next[i / RHT_RUN], i); /* increasing, no gap, no overlap */
        rs->next[i / RHT_RUN] = i + 1;
    }
    memcpy(rs->got + off, y, n * sizeof *y);
}

/*
 * rht_forward_sink(): y and the runs handed to the sink are exactly rht_forward_from()'s
 * output, with the same ‖x‖², the AVX2 and portable kernels, fused or not, for every shape
 * of last pass; the runs tile [0, D) in the promised order.
 */
START_TEST(forward_sink)
{
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, 0, 0);
    static const size_t dims[] = { 1,    5,     8,      9,      16,     17,     1000,   2048,
                                   2049, 70000, 131072, 131073, 262147, 524287, 1048573 };
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        size_t d = dims[k], D = rht_padded_len(d), groups = (D + RHT_RUN - 1) / RHT_RUN;
        float *x = malloc(d * sizeof *x), *want = malloc(D * sizeof *want);
        float *y = malloc(D * sizeof *y), *got = malloc(D * sizeof *got);
        size_t *next = malloc(groups * sizeof *next);
        uint8_t *s = malloc(rht_sign_bytes(D));
        rht_signs_draw(s, D, &r);
        for (size_t i = 0; i < d; i++)
            x[i] = (float)(rng_uniform(&r) * 2.385 - 1.1);
        double n2 = rht_forward_from(want, x, d, D, s);
        for (unsigned flags = 0; flags < 4; flags++) {
            for (size_t g = 0; g < groups; g++)
                next[g] = g * RHT_RUN;
            struct rec_sink rs = { .got = got, .next = next };
            struct rht_sink sink = { rec_begin, rec_put, &rs };
            double m2 = rht_forward_sink(y, x, d, D, s, &sink, flags);
            ck_assert(m2 == n2 && rs.norm2 == n2);
            for (size_t g = 0; g < groups; g++)
                ck_assert_uint_eq(next[g], g + 1 < groups ? (g + 1) * RHT_RUN : D);
            ck_assert_msg(memcmp(y, want, D * sizeof *y) == 0, "d %zu flags %u: y", d, flags);
            ck_assert_msg(memcmp(got, want, D * sizeof *y) == 0, "d %zu flags %u: runs", d, flags);
        }
        free(x);
        free(want);
        free(y);
        free(got);
        free(next);
        free(s);
    }
}
END_TEST

Suite *
rht_suite(void)
{
    Suite *s = suite_create("rht");
    TCase *tc = tcase_create("transform");
    tcase_add_test(tc, padded_len);
    tcase_add_test(tc, matches_naive);
    tcase_add_test(tc, inverse_and_norm);
    tcase_add_test(tc, signs_from_stream);
    tcase_add_test(tc, forward_from);
    tcase_add_test(tc, inverse_add_fused);
    tcase_add_test(tc, inverse_set_fused);
    tcase_add_test(tc, forward_sink);
    suite_add_tcase(s, tc);
    return s;
}
