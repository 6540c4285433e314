/*
 * privacy_distributed: the RDP bounds of the distributed discrete Gaussian and Skellam
 * against Rényi divergences computed here from the distributions themselves, by summation
 * over the integers (one coordinate, the worst integer shift allowed by the norm bound):
 * the discrete Gaussian mass exp(-y^2/(2 s2)) normalised, its n-fold convolution, and the
 * Skellam mass e^{-2mu} I_k(2mu) from GSL's Bessel functions. A bound must never lie below
 * the true divergence, and where the paper's bound is tight (one client; many clients with
 * a wide noise), it must equal it.
 *
 * Amplification by Poisson sampling (Zhu and Wang, ICML 2019, Thm. 6) is checked on the
 * Gaussian mechanism, whose subsampled RDP the accountant computes exactly (Mironov, Talwar,
 * Zhang 2019, its own test integrating the density ratio): the theorem's sum, recomputed here
 * in plain arithmetic, exceeds the exact A_alpha by exactly twice its l >= 3 terms (for the
 * Gaussian, the sum with weight 1 everywhere is the exact binomial expansion), so it is never
 * below it; q = 1 gives the base RDP, q = 0 nothing.
 */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sf_bessel.h>

#include "sim/privacy_distributed.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

#define PDT_HALF 400 /* support -PDT_HALF..PDT_HALF */
#define PDT_LEN  (2 * PDT_HALF + 1)

/* log(e^a + e^b) */
static double
pdt_log_add(double a, double b)
{
    if (a == -INFINITY)
        return b;
    double hi = fmax(a, b), lo = fmin(a, b);
    return hi + log1p(exp(lo - hi));
}

/* D_alpha(P shifted by s || P) for log masses lp on -PDT_HALF..PDT_HALF (log domain: the
 * integrand's mass sits near alpha s, far in the tails). */
static double
pdt_renyi(const double *lp, int s, double alpha)
{
    double sum = -INFINITY;
    for (int y = -PDT_HALF + s; y <= PDT_HALF; y++) {
        double a = lp[y - s + PDT_HALF], b = lp[y + PDT_HALF];
        if (a > -INFINITY && b > -INFINITY)
            sum = pdt_log_add(sum, alpha * a + (1 - alpha) * b);
    }
    return sum / (alpha - 1);
}

static void
pdt_dgauss(double *lp, double s2)
{
    double z = -INFINITY;
    for (int y = -PDT_HALF; y <= PDT_HALF; y++)
        z = pdt_log_add(z, lp[y + PDT_HALF] = -(double)y * y / (2 * s2));
    for (int i = 0; i < PDT_LEN; i++)
        lp[i] -= z;
}

/* lp <- lp * lq (convolution of the masses, truncated to the support; log domain). */
static void
pdt_convolve(double *lp, const double *lq)
{
    static double out[PDT_LEN];
    for (int y = -PDT_HALF; y <= PDT_HALF; y++) {
        double s = -INFINITY;
        for (int x = -PDT_HALF; x <= PDT_HALF; x++) {
            int r = y - x;
            if (r >= -PDT_HALF && r <= PDT_HALF)
                s = pdt_log_add(s, lp[x + PDT_HALF] + lq[r + PDT_HALF]);
        }
        out[y + PDT_HALF] = s;
    }
    for (int i = 0; i < PDT_LEN; i++)
        lp[i] = out[i];
}

/* c = 2, gamma = 1, d = 1, beta = 0: the rounded vector has L2 norm at most 3. */
static struct privacy_distributed
pdt_mech(int mechanism, double clients, double noise)
{
    return (struct privacy_distributed){ .mechanism = mechanism,
                                         .clip = 2.0,
                                         .gamma = 1.0,
                                         .beta = 0.0,
                                         .dim = 1.0,
                                         .clients = clients,
                                         .noise = noise };
}

START_TEST(norm_bound_follows_theorem_one)
{
    struct privacy_distributed m = pdt_mech(PRIVACY_DDGAUSS, 1, 1);
    ck_assert_rel_tol(privacy_distributed_norm_bound(&m), 3.0, 1e-15);
    m = (struct privacy_distributed){ .mechanism = PRIVACY_DDGAUSS,
                                      .clip = 1.0,
                                      .gamma = 0.01,
                                      .beta = exp(-0.5),
                                      .dim = 100,
                                      .clients = 1,
                                      .noise = 1 };
    /* 1 + 0.0025 + 1 * 0.01 * 1.05 = 1.013 < 1.1^2 */
    ck_assert_rel_tol(privacy_distributed_norm_bound(&m), sqrt(1.013) / 0.01, 1e-12);
}
END_TEST

/* One client: the discrete Gaussian with an integer shift has exactly alpha D^2/(2 s2)
 * (Canonne et al. 2020), which Prop. 14 gives with tau = 0. */
START_TEST(ddgauss_one_client_is_exact)
{
    static double p[PDT_LEN];
    struct privacy_distributed m = pdt_mech(PRIVACY_DDGAUSS, 1, 1.5); /* s2 = (1.5 * 2)^2 = 9 */
    ck_assert_rel_tol(privacy_distributed_local(&m), 9.0, 1e-15);
    pdt_dgauss(p, 9.0);
    static const double alphas[] = { 1.5, 2, 3.5, 10, 64 };
    for (size_t i = 0; i < 5; i++) {
        double rdp, exact = pdt_renyi(p, 3, alphas[i]);
        ck_assert_int_eq(privacy_distributed_rdp(&m, alphas[i], &rdp, NULL), 0);
        ck_assert_rel_tol(rdp, exact, 1e-9);
    }
}
END_TEST

/* Several clients: never below the divergence of the true sum; equal to it when the noise
 * is wide (tau negligible); above it, by the tau term, when the noise is narrow. */
START_TEST(ddgauss_sum_bound_holds)
{
    static double p[PDT_LEN], one[PDT_LEN];
    static const double noises[] = { 0.9, 3.0 }; /* per-client s2 = 4 z^2/n */
    for (size_t k = 0; k < 2; k++) {
        struct privacy_distributed m = pdt_mech(PRIVACY_DDGAUSS, 4, noises[k]);
        double s2 = privacy_distributed_local(&m);
        pdt_dgauss(one, s2);
        pdt_dgauss(p, s2);
        for (int c = 1; c < 4; c++)
            pdt_convolve(p, one);
        for (double a = 2; a <= 32; a *= 2) {
            double rdp, exact = pdt_renyi(p, 3, a);
            ck_assert_int_eq(privacy_distributed_rdp(&m, a, &rdp, NULL), 0);
            ck_assert_msg(rdp >= exact * (1 - 1e-9), "z %g alpha %g: %g < %g", noises[k], a, rdp,
                          exact);
            if (k == 1)
                ck_assert_rel_tol(rdp, exact, 1e-6);
        }
    }
    /* a local variance below 1/4 is outside Prop. 14 */
    struct privacy_distributed m = pdt_mech(PRIVACY_DDGAUSS, 100, 0.5);
    double rdp;
    ck_assert_int_eq(privacy_distributed_rdp(&m, 2, &rdp, NULL), -ERR_INVALID);
}
END_TEST

/* Skellam, integer orders: Thm. 3.5 never below the divergence of Sk(n mu) shifted by 3, and
 * within 10 % of it for a wide noise up to order 20; fractional orders are not covered (+inf). */
START_TEST(skellam_bound_holds)
{
    static double p[PDT_LEN];
    static const double noises[] = { 1.0, 6.0 };
    for (size_t k = 0; k < 2; k++) {
        struct privacy_distributed m = pdt_mech(PRIVACY_SKELLAM, 5, noises[k]);
        double big = 5 * privacy_distributed_local(&m); /* Sk(n mu) on the sum, var 2 n mu */
        ck_assert_rel_tol(2 * big, 4 * noises[k] * noises[k], 1e-12);
        for (int y = -PDT_HALF; y <= PDT_HALF; y++)
            p[y + PDT_HALF] = log(gsl_sf_bessel_In_scaled(abs(y), 2 * big));
        for (int a = 2; a <= 40; a += 6) {
            double rdp, exact = pdt_renyi(p, 3, a);
            ck_assert_int_eq(privacy_distributed_rdp(&m, a, &rdp, NULL), 0);
            ck_assert_msg(rdp >= exact, "z %g alpha %d: %g < %g", noises[k], a, rdp, exact);
            if (k == 1 && a <= 20)
                ck_assert_msg(rdp <= 1.1 * exact, "alpha %d: %g vs %g", a, rdp, exact);
        }
        double rdp;
        ck_assert_int_eq(privacy_distributed_rdp(&m, 2.5, &rdp, NULL), 0);
        ck_assert(isinf(rdp));
    }
}
END_TEST

/* One client, one coordinate: the distributed discrete Gaussian is the Gaussian mechanism
 * with noise multiplier sqrt(s2)/D at every order, so the two accountants' epsilons agree. */
START_TEST(epsilon_and_inverse)
{
    struct privacy_distributed m = pdt_mech(PRIVACY_DDGAUSS, 1, 1.5);
    double e, e_gauss, order;
    ck_assert_int_eq(privacy_distributed_epsilon(&m, 100, 1e-5, &e, &order, NULL), 0);
    ck_assert_int_eq(privacy_accountant_epsilon(1.0, 1.0, 100, 1e-5, &e_gauss, NULL, NULL), 0);
    ck_assert_rel_tol(e, e_gauss, 1e-12);
    struct privacy_distributed big = { .mechanism = PRIVACY_SKELLAM,
                                       .clip = 1,
                                       .gamma = 1e-3,
                                       .beta = exp(-0.5),
                                       .dim = 8192,
                                       .clients = 100 };
    for (int mech = PRIVACY_DDGAUSS; mech <= PRIVACY_SKELLAM; mech++) {
        big.mechanism = mech;
        double z;
        ck_assert_int_eq(privacy_distributed_noise_for(&big, 300, 1e-5, 4.0, &z, NULL), 0);
        big.noise = z;
        ck_assert_int_eq(privacy_distributed_epsilon(&big, 300, 1e-5, &e, NULL, NULL), 0);
        ck_assert(e <= 4.0);
        big.noise = z * (1 - 1e-6);
        ck_assert_int_eq(privacy_distributed_epsilon(&big, 300, 1e-5, &e, NULL, NULL), 0);
        ck_assert(e > 4.0);
    }
}
END_TEST

START_TEST(granularity_fills_the_ring)
{
    struct privacy_distributed m = { .mechanism = PRIVACY_DDGAUSS,
                                     .clip = 0.5,
                                     .beta = 0,
                                     .dim = 8192,
                                     .clients = 100,
                                     .noise = 1.2 };
    double g;
    ck_assert_int_eq(privacy_distributed_granularity(&m, 16, &g, NULL), 0);
    double k = PRIVACY_DISTRIBUTED_WRAP_SIGMAS, n = 100, c = 0.5;
    double spread = sqrt(c * n * c * n / 8192 + n * g * g / 4 + 1.2 * c * 1.2 * c);
    ck_assert_rel_tol(2 * k * spread / g, 65536.0, 1e-12);
    ck_assert_int_eq(privacy_distributed_granularity(&m, 5, &g, NULL), -ERR_RANGE);
}
END_TEST

/* Zhu and Wang, Thm. 6, in plain arithmetic for the Gaussian of multiplier z (base RDP
 * l / (2 z^2)); weight 3 or 1 on the l >= 3 terms: the bound, or the exact expansion. */
static double
pdt_zw_sum(double q, double z, unsigned alpha, double weight)
{
    double a = alpha, sum = pow(1 - q, a - 1) * (1 + (a - 1) * q), choose = a;
    for (unsigned l = 2; l <= alpha; l++) {
        choose = choose * (a - l + 1) / l;
        double base = l / (2 * z * z);
        sum +=
            (l > 2 ? weight : 1.0) * choose * pow(q, l) * pow(1 - q, a - l) * exp((l - 1.0) * base);
    }
    return sum;
}

START_TEST(amplified_bound_of_the_gaussian)
{
    const double qs[] = { 1e-3, 1e-2, 1e-1, 0.5 }, zs[] = { 0.8, 1.1, 2.0 };
    double base[PRIVACY_ACCOUNTANT_MAX_ORDER + 1];
    for (size_t j = 0; j < sizeof zs / sizeof zs[0]; j++) {
        for (unsigned l = 0; l <= PRIVACY_ACCOUNTANT_MAX_ORDER; l++)
            base[l] = l / (2 * zs[j] * zs[j]);
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
            for (unsigned alpha = 2; alpha <= 20; alpha++) {
                double q = qs[i], z = zs[j], bound, exact;
                ck_assert_int_eq(privacy_accountant_amplified_rdp(q, alpha, base, &bound, NULL), 0);
                ck_assert_int_eq(privacy_accountant_rdp(q, z, alpha, &exact, NULL), 0);
                double mine = log(pdt_zw_sum(q, z, alpha, 3.0)) / (alpha - 1.0);
                /* the plain sum is near 1: its log is good to about 1e-15 absolute */
                double want = fmin(mine, base[alpha]), tol = 1e-10 * exact + 1e-14;
                ck_assert(fabs(bound - want) <= tol);
                double expansion = log(pdt_zw_sum(q, z, alpha, 1.0)) / (alpha - 1.0);
                ck_assert(fabs(expansion - exact) <= tol);
                ck_assert(bound >= exact - tol);
                if (alpha == 2)
                    ck_assert(fabs(bound - exact) <= tol);
            }
        double r;
        ck_assert_int_eq(privacy_accountant_amplified_rdp(1.0, 64, base, &r, NULL), 0);
        ck_assert_double_eq(r, base[64]);
        ck_assert_int_eq(privacy_accountant_amplified_rdp(0.0, 64, base, &r, NULL), 0);
        ck_assert_double_eq(r, 0.0);
        /* large orders stay finite in log space */
        ck_assert_int_eq(privacy_accountant_amplified_rdp(1e-2, 1024, base, &r, NULL), 0);
        ck_assert(isfinite(r) && r > 0 && r <= base[1024]);
    }
    ck_assert_int_eq(privacy_accountant_amplified_rdp(0.5, 1, base, &(double){ 0 }, NULL),
                     -ERR_INVALID);
    ck_assert_int_eq(privacy_accountant_amplified_rdp(1.5, 4, base, &(double){ 0 }, NULL),
                     -ERR_INVALID);
}
END_TEST

START_TEST(distributed_amplified)
{
    struct privacy_distributed m = { .mechanism = PRIVACY_DDGAUSS,
                                     .clip = 0.5,
                                     .gamma = 1e-4,
                                     .beta = exp(-0.5),
                                     .dim = 8192,
                                     .clients = 100,
                                     .noise = 0.9 };
    for (int mech = PRIVACY_DDGAUSS; mech <= PRIVACY_SKELLAM; mech++) {
        m.mechanism = mech;
        m.sampling_rate = 0;
        double base[65], full, amp;
        base[0] = base[1] = 0;
        for (unsigned l = 2; l <= 64; l++)
            ck_assert_int_eq(privacy_distributed_rdp(&m, l, &base[l], NULL), 0);
        ck_assert_int_eq(privacy_distributed_epsilon(&m, 50, 1e-5, &full, NULL, NULL), 0);
        m.sampling_rate = 1.0 / 30;
        for (unsigned alpha = 2; alpha <= 64; alpha++) {
            double want, got;
            ck_assert_int_eq(
                privacy_accountant_amplified_rdp(m.sampling_rate, alpha, base, &want, NULL), 0);
            ck_assert_int_eq(privacy_distributed_rdp(&m, alpha, &got, NULL), 0);
            ck_assert_double_eq(got, want);
        }
        double frac;
        ck_assert_int_eq(privacy_distributed_rdp(&m, 2.5, &frac, NULL), 0);
        ck_assert(isinf(frac));
        ck_assert_int_eq(privacy_distributed_epsilon(&m, 50, 1e-5, &amp, NULL, NULL), 0);
        ck_assert(amp < full / 5);
        m.sampling_rate = 1.0; /* no amplification: as rate 0 */
        ck_assert_int_eq(privacy_distributed_epsilon(&m, 50, 1e-5, &amp, NULL, NULL), 0);
        ck_assert_double_eq(amp, full);
    }
}
END_TEST

Suite *
privacy_distributed_suite(void)
{
    Suite *s = suite_create("privacy_distributed");
    TCase *tc = tcase_create("privacy_distributed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, norm_bound_follows_theorem_one);
    tcase_add_test(tc, ddgauss_one_client_is_exact);
    tcase_add_test(tc, ddgauss_sum_bound_holds);
    tcase_add_test(tc, skellam_bound_holds);
    tcase_add_test(tc, epsilon_and_inverse);
    tcase_add_test(tc, granularity_fills_the_ring);
    tcase_add_test(tc, amplified_bound_of_the_gaussian);
    tcase_add_test(tc, distributed_amplified);
    suite_add_tcase(s, tc);
    return s;
}
