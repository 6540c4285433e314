/*
 * sampling: Poisson cohorts have the binomial mean and variance, every candidate is kept at
 * rate q independently of its position, order is kept, the same stream gives the same
 * cohort, the edge rates are exact and a cohort over the capacity is refused.
 */
#include <math.h>
#include <stdlib.h>

#include "sim/sampling.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

#define SMP_N 1000

static void
smp_ids(uint32_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)(i * 3 + 1);
}

static size_t
smp_draw(uint32_t *idx, double q, uint64_t round)
{
    struct rng r;
    rng_init_stream(&r, 7, RNG_PURPOSE_TEST, round, RNG_ANY);
    smp_ids(idx, SMP_N);
    size_t m;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(sampling_poisson(&r, idx, SMP_N, q, SMP_N, &m, &eb) == 0, "%s", eb.msg);
    return m;
}

/* 2000 cohorts at q = 0.05: mean and variance of the size, and per-position rates. */
START_TEST(poisson_binomial_moments)
{
    static uint32_t idx[SMP_N];
    static unsigned hits[SMP_N];
    const double q = 0.05;
    const size_t trials = 2000;
    double sum = 0.0, sum2 = 0.0;
    for (size_t t = 0; t < trials; t++) {
        size_t m = smp_draw(idx, q, t);
        sum += (double)m;
        sum2 += (double)m * (double)m;
        for (size_t k = 0; k < m; k++) {
            ck_assert((idx[k] - 1) % 3 == 0);
            if (k > 0)
                ck_assert(idx[k] > idx[k - 1]); /* original order */
            hits[(idx[k] - 1) / 3]++;
        }
    }
    double mean = sum / (double)trials, var = sum2 / (double)trials - mean * mean;
    double want = SMP_N * q, want_var = SMP_N * q * (1 - q);
    /* 5 standard errors of the mean; the variance within 15% (se about 3.2% here) */
    ck_assert_msg(fabs(mean - want) < 5.0 * sqrt(want_var / (double)trials), "mean %g", mean);
    ck_assert_msg(fabs(var / want_var - 1.0) < 0.15, "variance %g vs %g", var, want_var);
    /* the first, middle and last tenths are kept at the same rate (5 standard errors) */
    for (size_t part = 0; part < 10; part += 9) {
        double h = 0.0;
        for (size_t i = part * SMP_N / 10; i < (part + 1) * SMP_N / 10; i++)
            h += hits[i];
        double n = (double)trials * SMP_N / 10.0;
        ck_assert_msg(fabs(h / n - q) < 5.0 * sqrt(q * (1 - q) / n), "tenth %zu: %g", part, h / n);
    }
}
END_TEST

START_TEST(poisson_same_stream_same_cohort)
{
    static uint32_t a[SMP_N], b[SMP_N];
    size_t ma = smp_draw(a, 0.1, 3), mb = smp_draw(b, 0.1, 3);
    ck_assert_uint_eq(ma, mb);
    for (size_t k = 0; k < ma; k++)
        ck_assert_uint_eq(a[k], b[k]);
    size_t mc = smp_draw(b, 0.1, 4);
    bool same = mc == ma;
    for (size_t k = 0; same && k < ma; k++)
        same = a[k] == b[k];
    ck_assert(!same);
}
END_TEST

START_TEST(poisson_edge_rates)
{
    static uint32_t idx[SMP_N];
    ck_assert_uint_eq(smp_draw(idx, 0.0, 1), 0);
    ck_assert_uint_eq(smp_draw(idx, 1.0, 1), SMP_N);
    for (size_t k = 0; k < SMP_N; k++)
        ck_assert_uint_eq(idx[k], k * 3 + 1);
}
END_TEST

START_TEST(poisson_capacity_refused)
{
    static uint32_t idx[SMP_N];
    struct rng r;
    rng_init_stream(&r, 7, RNG_PURPOSE_TEST, 0, RNG_ANY);
    smp_ids(idx, SMP_N);
    size_t m;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(sampling_poisson(&r, idx, SMP_N, 0.5, 100, &m, &eb), -ERR_RANGE);
    ck_assert_int_eq(sampling_poisson(&r, idx, SMP_N, 1.5, 100, &m, &eb), -ERR_INVALID);
    ck_assert_uint_eq(sampling_poisson_capacity(10000, 0.01), 100 + 100 + 10);
    ck_assert_uint_eq(sampling_poisson_capacity(50, 0.9), 50);
}
END_TEST

Suite *
sampling_suite(void)
{
    Suite *s = suite_create("sampling");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, poisson_binomial_moments);
    tcase_add_test(tc, poisson_same_stream_same_cohort);
    tcase_add_test(tc, poisson_edge_rates);
    tcase_add_test(tc, poisson_capacity_refused);
    suite_add_tcase(s, tc);
    return s;
}
