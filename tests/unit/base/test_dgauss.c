/*
 * dgauss and skellam: the samplers against their analytic distributions, computed here by
 * summation of the mass functions (not by the sampler's algorithm). Each statistical check
 * uses a fixed stream and a tolerance of 5 standard errors (or a chi-square p-value above
 * 1e-6), so a correct sampler fails with probability below 1e-5 per check, and a sampler off
 * by the stated margin fails deterministically for these seeds.
 */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_bessel.h>
#include <math.h>

#include "base/dgauss.h"
#include "base/skellam.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

#define N_DRAWS 200000

/* Moments of N_Z(0, s2) by summation: E[y^2], E[y^4], P(|y| >= k). */
static void
dg_moments(double s2, double *m2, double *m4, long k, double *tail)
{
    long lim = (long)(40 * sqrt(s2)) + 40;
    double z = 0, a2 = 0, a4 = 0, t = 0;
    for (long y = -lim; y <= lim; y++) {
        double p = exp(-(double)y * (double)y / (2 * s2));
        z += p;
        a2 += p * (double)y * (double)y;
        a4 += p * pow((double)y, 4);
        if (labs(y) >= k)
            t += p;
    }
    *m2 = a2 / z;
    *m4 = a4 / z;
    *tail = t / z;
}

static void
check_dgauss_moments(double s2, uint64_t client)
{
    struct dgauss g;
    struct errbuf eb;
    ck_assert_int_eq(dgauss_init(&g, s2, &eb), 0);
    double sig2 = dgauss_sigma2(&g);
    long k = (long)ceil(2 * sqrt(sig2));
    double m2, m4, tail;
    dg_moments(sig2, &m2, &m4, k, &tail);
    struct rng r;
    rng_init_stream(&r, 7, RNG_PURPOSE_TEST, 1, client);
    double s1 = 0, sq = 0;
    size_t over = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        int64_t y = dgauss_sample(&g, &r);
        s1 += (double)y;
        sq += (double)y * (double)y;
        over += llabs(y) >= k;
    }
    double n = N_DRAWS;
    ck_assert_msg(fabs(s1 / n) <= 5 * sqrt(m2 / n), "s2 %g: mean %g", s2, s1 / n);
    ck_assert_msg(fabs(sq / n - m2) <= 5 * sqrt((m4 - m2 * m2) / n), "s2 %g: E[y^2] %g vs %g", s2,
                  sq / n, m2);
    ck_assert_msg(fabs((double)over / n - tail) <= 5 * sqrt(tail * (1 - tail) / n),
                  "s2 %g: P(|y| >= %ld) %g vs %g", s2, k, (double)over / n, tail);
}

START_TEST(dgauss_matches_moments_and_tail)
{
    check_dgauss_moments(0.3, 1);
    check_dgauss_moments(2.0, 2);
    check_dgauss_moments(10.7, 3);
    check_dgauss_moments(4096.5, 4);
    check_dgauss_moments(3.0e7, 5);
}
END_TEST

/* Chi-square of N_Z(0, 1.5) over the cells -6..6 and the two tails merged. */
START_TEST(dgauss_chi_square_small_sigma)
{
    struct dgauss g;
    struct errbuf eb;
    ck_assert_int_eq(dgauss_init(&g, 1.5, &eb), 0);
    ck_assert_uint_eq(g.num, (uint64_t)(1.5 * 65536));
    double p[14] = { 0 }, z = 0;
    for (long y = -60; y <= 60; y++) {
        double v = exp(-(double)(y * y) / 3.0);
        z += v;
        p[labs(y) <= 6 ? y + 6 : 13] += v;
    }
    size_t count[14] = { 0 };
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 2, 0);
    for (int i = 0; i < N_DRAWS; i++) {
        int64_t y = dgauss_sample(&g, &r);
        count[llabs(y) <= 6 ? y + 6 : 13]++;
    }
    double chi = 0;
    for (int c = 0; c < 14; c++) {
        double e = p[c] / z * N_DRAWS;
        chi += ((double)count[c] - e) * ((double)count[c] - e) / e;
    }
    ck_assert_msg(gsl_cdf_chisq_Q(chi, 13) > 1e-6, "chi2 %g", chi);
}
END_TEST

START_TEST(bernoulli_exp_and_laplace_frequencies)
{
    static const uint64_t ab[][2] = { { 0, 1 }, { 1, 3 }, { 3, 2 }, { 7, 1 }, { 1, 1 } };
    struct rng r;
    rng_init_stream(&r, 3, RNG_PURPOSE_TEST, 3, 0);
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++) {
        double p = exp(-(double)ab[i][0] / (double)ab[i][1]);
        size_t ones = 0;
        for (int k = 0; k < N_DRAWS; k++)
            ones += (size_t)dgauss_bernoulli_exp(&r, ab[i][0], ab[i][1]);
        double f = (double)ones / N_DRAWS;
        ck_assert_msg(fabs(f - p) <= 5 * sqrt(p * (1 - p) / N_DRAWS) + 1e-12, "%g vs %g", f, p);
    }
    /* Discrete Laplace, t = 3: P(y) = (1 - e^-1/3) / (1 + e^-1/3) e^-|y|/3 */
    double q = exp(-1.0 / 3), c = (1 - q) / (1 + q);
    size_t zero = 0, one = 0;
    for (int k = 0; k < N_DRAWS; k++) {
        int64_t y = dgauss_laplace(&r, 3);
        zero += y == 0;
        one += y == 1;
    }
    ck_assert(fabs((double)zero / N_DRAWS - c) <= 5 * sqrt(c / N_DRAWS));
    ck_assert(fabs((double)one / N_DRAWS - c * q) <= 5 * sqrt(c * q / N_DRAWS));
}
END_TEST

START_TEST(dgauss_is_a_function_of_the_stream)
{
    struct dgauss g;
    struct errbuf eb;
    ck_assert_int_eq(dgauss_init(&g, 123.25, &eb), 0);
    struct rng a, b, c;
    rng_init_stream(&a, 5, RNG_PURPOSE_TEST, 9, 4);
    rng_init_stream(&b, 5, RNG_PURPOSE_TEST, 9, 4);
    rng_init_stream(&c, 5, RNG_PURPOSE_TEST, 9, 5);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t x = dgauss_sample(&g, &a);
        ck_assert_int_eq(x, dgauss_sample(&g, &b));
        differ += x != dgauss_sample(&g, &c);
    }
    ck_assert_int_gt(differ, 900);
}
END_TEST

START_TEST(dgauss_variance_rounds_up_and_range_is_checked)
{
    struct dgauss g;
    struct errbuf eb;
    ck_assert_int_eq(dgauss_init(&g, 0.1, &eb), 0);
    ck_assert(dgauss_sigma2(&g) >= 0.1 && dgauss_sigma2(&g) < 0.1 + 1.0 / 65536);
    ck_assert_uint_eq(g.t, 1);
    ck_assert_int_eq(dgauss_init(&g, 1e12, &eb), 0);
    ck_assert(dgauss_sigma2(&g) >= 1e12);
    ck_assert_uint_eq(g.t, 1000001);
    ck_assert_int_eq(dgauss_init(&g, 0, &eb), -ERR_INVALID);
    ck_assert_int_eq(dgauss_init(&g, 3e14, &eb), -ERR_INVALID);
    ck_assert_int_eq(dgauss_init(&g, NAN, &eb), -ERR_INVALID);
}
END_TEST

/* Sk(mu): mean 0, variance 2 mu, and for mu = 1.5 the mass e^{-2mu} I_|k|(2mu) cell by cell. */
START_TEST(skellam_matches_its_distribution)
{
    static const double mus[] = { 1.5, 40.0, 25000.0 };
    for (size_t m = 0; m < 3; m++) {
        struct rng r;
        rng_init_stream(&r, 13, RNG_PURPOSE_TEST, 4, m);
        double mu = mus[m], s1 = 0, sq = 0;
        size_t count[13] = { 0 };
        for (int i = 0; i < N_DRAWS; i++) {
            int64_t y = skellam_sample(&r, mu);
            s1 += (double)y;
            sq += (double)y * (double)y;
            count[llabs(y) <= 5 ? y + 6 : 0]++;
        }
        double n = N_DRAWS, var = 2 * mu;
        /* E[y^4] = 3 var^2 + var for Sk(mu) (its fourth cumulant is 2 mu) */
        ck_assert(fabs(s1 / n) <= 5 * sqrt(var / n));
        ck_assert_msg(fabs(sq / n - var) <= 5 * sqrt((2 * var * var + var) / n), "mu %g: %g", mu,
                      sq / n);
        if (m != 0)
            continue;
        double chi = 0, rest = 1;
        for (int k = -5; k <= 5; k++) {
            double p = gsl_sf_bessel_In_scaled(abs(k), 2 * mu); /* e^{-2mu} I_k(2mu) */
            rest -= p;
            double e = p * n;
            chi += ((double)count[k + 6] - e) * ((double)count[k + 6] - e) / e;
        }
        double e = rest * n;
        chi += ((double)count[0] - e) * ((double)count[0] - e) / e;
        ck_assert_msg(gsl_cdf_chisq_Q(chi, 11) > 1e-6, "chi2 %g", chi);
    }
}
END_TEST

Suite *
dgauss_suite(void)
{
    Suite *s = suite_create("dgauss");
    TCase *tc = tcase_create("dgauss");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dgauss_matches_moments_and_tail);
    tcase_add_test(tc, dgauss_chi_square_small_sigma);
    tcase_add_test(tc, bernoulli_exp_and_laplace_frequencies);
    tcase_add_test(tc, dgauss_is_a_function_of_the_stream);
    tcase_add_test(tc, dgauss_variance_rounds_up_and_range_is_checked);
    tcase_add_test(tc, skellam_matches_its_distribution);
    suite_add_tcase(s, tc);
    return s;
}
