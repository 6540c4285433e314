/*
 * fixed_point: round-trip error within 2^-f, unbiased stochastic rounding (statistical,
 * stated sigma), no wrap for n_max clients at the extremes, weighted mean, bit counts,
 * parameter errors, and the embedding carried through the secure-aggregation engine.
 */
#include <math.h>
#include <stdlib.h>

#include "codec/fixed_point.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/harness.h"
#include "tests/unit/secagg/suites.h"

/* One client: |decode(encode(x)) - clip(x)| < 2^-f for every coordinate. */
START_TEST(round_trip_bound)
{
    struct fixed_point fp;
    ck_assert_int_eq(fixed_point_init(&fp, 12, 4.0, 1000, NULL), 0);
    ck_assert_uint_eq(fp.offset, 4u << 12);
    ck_assert_uint_eq(fp.value_bits, 16); /* 2Q = 2^15 */
    ck_assert_uint_eq(fixed_point_ring_bits(&fp), 26);
    ck_assert_uint_eq(fixed_point_payload_bits(&fp, 7850), 26u * 7850);
    enum { D = 4096 };
    static float x[D];
    static uint64_t e[D];
    static double back[D];
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < D; i++)
        x[i] = (float)((rng_uniform(&r) - 0.5) * 10.385); /* some beyond +-4: clipped */
    ck_assert_int_eq(fixed_point_encode(&fp, e, x, D, &r, NULL), 0);
    ck_assert_int_eq(fixed_point_decode_sum(&fp, back, e, D, 1, NULL), 0);
    for (size_t i = 0; i < D; i++) {
        double c = fmin(4.0, fmax(-4.0, (double)x[i]));
        ck_assert_uint_le(e[i], 2 * fp.offset);
        ck_assert_double_le(fabs(back[i] - c), ldexp(1.0, -12));
    }
    x[3] = NAN;
    ck_assert_int_eq(fixed_point_encode(&fp, e, x, D, &r, NULL), -ERR_RANGE);
}
END_TEST

/*
 * Unbiasedness: x = 0.3 + 0.2385 2^-f sits between grid points; over N = 10^5 draws the
 * mean rounding error has sigma <= 2^-f / (2 sqrt(N)), and it must stay within 5 sigma of 0
 * (a deterministic rounding would be 0.2385 2^-f off, i.e. 150 sigma).
 */
START_TEST(stochastic_rounding_unbiased)
{
    struct fixed_point fp;
    ck_assert_int_eq(fixed_point_init(&fp, 8, 1.0, 1, NULL), 0);
    enum { N = 100000 };
    static float x[N];
    static uint64_t e[N];
    static double back[N];
    float v = (float)(0.3 + 0.2385 * ldexp(1.0, -8));
    for (size_t i = 0; i < N; i++)
        x[i] = v;
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, 0, 0);
    ck_assert_int_eq(fixed_point_encode(&fp, e, x, N, &r, NULL), 0);
    ck_assert_int_eq(fixed_point_decode_sum(&fp, back, e, N, 1, NULL), 0);
    double mean = 0;
    for (size_t i = 0; i < N; i++)
        mean += back[i] - (double)v;
    mean /= N;
    double sigma = ldexp(1.0, -8) / (2 * sqrt((double)N));
    ck_assert_msg(fabs(mean) < 5 * sigma, "mean error %g, sigma %g", mean, sigma);
}
END_TEST

/* n_max clients all at +range (and all at -range) sum without wrapping in k bits. */
START_TEST(sum_never_wraps)
{
    static const unsigned fbits[] = { 1, 8, 16, 24 };
    static const uint64_t nmax[] = { 1, 7, 1000, 100000 };
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++) {
            struct fixed_point fp;
            ck_assert_int_eq(fixed_point_init(&fp, fbits[a], 2.5, nmax[b], NULL), 0);
            struct rng r;
            rng_init_stream(&r, 13, RNG_PURPOSE_TEST, a, b);
            for (int sign = -1; sign <= 1; sign += 2) {
                float x = (float)(sign * 2.5);
                uint64_t e, sum;
                ck_assert_int_eq(fixed_point_encode(&fp, &e, &x, 1, &r, NULL), 0);
                /* The ring sum of n_max copies, reduced mod 2^k. */
                uint64_t k = fixed_point_ring_bits(&fp);
                uint64_t mask = k == 64 ? ~0ull : (1ull << k) - 1;
                sum = (e * nmax[b]) & mask;
                ck_assert_uint_eq(sum, e * nmax[b]); /* no wrap */
                double out;
                ck_assert_int_eq(fixed_point_decode_sum(&fp, &out, &sum, 1, nmax[b], NULL), 0);
                ck_assert_double_eq_tol(out, sign * 2.5 * (double)nmax[b],
                                        (double)nmax[b] * ldexp(1.0, -(int)fbits[a]));
            }
            /* The largest encoding times n_max still fits k bits; one more bit would not be
               needed (k is the smallest such width). */
            uint64_t top = 2 * fp.offset * nmax[b];
            ck_assert_uint_lt(top, 1ull << fixed_point_ring_bits(&fp));
        }
    struct fixed_point fp;
    ck_assert_int_eq(fixed_point_init(&fp, 40, 1e6, 1000000, NULL), -ERR_RANGE);
    ck_assert_int_eq(fixed_point_init(&fp, 0, 1.0, 10, NULL), -ERR_INVALID);
    ck_assert_int_eq(fixed_point_init(&fp, 8, 0.0, 10, NULL), -ERR_INVALID);
    ck_assert_int_eq(fixed_point_init(&fp, 8, 1.0, 0, NULL), -ERR_INVALID);
}
END_TEST

/*
 * Weighted FedAvg through the engine: 6 clients, weights in [0, 1] as an extra coordinate,
 * one dropping before upload; the decoded weighted mean of the included clients is within
 * the rounding bound of the exact one.
 */
START_TEST(weighted_through_secagg)
{
    enum { N = 6, D = 9 };
    struct fixed_point fp;
    ck_assert_int_eq(fixed_point_init(&fp, 16, 2.0, N, NULL), 0);
    struct secagg_params p = harness_params(N, 4, fixed_point_ring_bits(&fp), D + 1);
    p.value_bits = fp.value_bits;
    static float x[N][D];
    static uint64_t e[N * (D + 1)];
    double w[N];
    struct rng r;
    rng_init_stream(&r, 14, RNG_PURPOSE_TEST, 0, 0);
    for (int u = 0; u < N; u++) {
        w[u] = 0.1 + 0.15 * u;
        for (int i = 0; i < D; i++)
            x[u][i] = (float)(rng_uniform(&r) * 3.0 - 1.5);
        ck_assert_int_eq(fixed_point_encode_weighted(&fp, e + u * (D + 1), x[u], D, w[u], &r, NULL),
                         0);
    }
    const int drop[N] = { HARNESS_NO_DROP, HARNESS_NO_DROP, SECAGG_PHASE_MASKED_INPUT,
                          HARNESS_NO_DROP, HARNESS_NO_DROP, HARNESS_NO_DROP };
    uint64_t sum[D + 1];
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, e, drop, NULL, NULL, NULL, sum, &out), 0);
    double mean[D];
    ck_assert_int_eq(fixed_point_decode_weighted(&fp, mean, sum, D, N - 1, NULL), 0);
    double wsum = 0;
    for (int u = 0; u < N; u++)
        wsum += u == 2 ? 0 : w[u];
    for (int i = 0; i < D; i++) {
        double exact = 0;
        for (int u = 0; u < N; u++)
            exact += u == 2 ? 0 : w[u] * (double)x[u][i];
        exact /= wsum;
        /* numerator and Σw each within (N - 1) 2^-16; Σw >= 1.6 */
        ck_assert_double_eq_tol(mean[i], exact, 4 * (N - 1) * ldexp(1.0, -16));
    }
    ck_assert_int_eq(fixed_point_encode_weighted(&fp, e, x[0], D, 2.5, &r, NULL), -ERR_RANGE);
}
END_TEST

Suite *
fixed_point_suite(void)
{
    Suite *s = suite_create("fixed_point");
    TCase *tc = tcase_create("fixed_point");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, round_trip_bound);
    tcase_add_test(tc, stochastic_rounding_unbiased);
    tcase_add_test(tc, sum_never_wraps);
    tcase_add_test(tc, weighted_through_secagg);
    suite_add_tcase(s, tc);
    return s;
}
