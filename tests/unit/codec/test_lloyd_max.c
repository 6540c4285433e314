/* lloyd_max: the committed tables equal the published Lloyd-Max constants
 * for N(0,1) (Max, IRE Trans. Inf. Theory 1960, Table I). */
#include <gsl/gsl_math.h>
#include <math.h>

#include "codec/lloyd_beta.h"
#include "codec/lloyd_max.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

START_TEST(centroids_b1_to_b4)
{
    static const double want[4][8] = {
        { 0.7978845608 },
        { 0.4527800346, 1.5104176085 },
        { 0.2450941789, 0.7560052812, 1.3439092785, 2.1519457045 },
        { 0.1283950299, 0.3880482995, 0.6567591185, 0.9423404565, 1.2562311973, 1.6180463860,
          2.0690172265, 2.7325895710 },
    };
    for (unsigned b = 1; b <= 4; b++) {
        const double *c = lloyd_max_half(b);
        for (unsigned k = 0; k < (1u << (b - 1)); k++)
            ck_assert_double_eq_tol(c[k], want[b - 1][k], 1e-9);
    }
    ck_assert_double_eq_tol(lloyd_max_half(1)[0], sqrt(2.0 / M_PI), 1e-12);
}
END_TEST

START_TEST(distortions)
{
    static const double want[9] = { 0,
                                    0.3633802276,
                                    0.1174818478,
                                    0.0345477608,
                                    0.0095010080,
                                    0.0025046684,
                                    0.0006442397,
                                    0.0001634782,
                                    0.0000411851 };
    for (unsigned b = 1; b <= LLOYD_MAX_MAX_BITS; b++)
        ck_assert_double_eq_tol(lloyd_max_distortion(b), want[b], 1e-9);
    ck_assert_double_eq_tol(lloyd_max_distortion(1), 1 - 2 / M_PI, 1e-12);
}
END_TEST

START_TEST(increasing)
{
    for (unsigned b = 1; b <= LLOYD_MAX_MAX_BITS; b++) {
        const double *c = lloyd_max_half(b);
        ck_assert(c[0] > 0);
        for (unsigned k = 1; k < (1u << (b - 1)); k++)
            ck_assert(c[k] > c[k - 1]);
    }
}
END_TEST

/* Reference §2.4: the exact shifted-Beta codebooks (4·10^6-cell Simpson tables there). */
START_TEST(beta_codebooks)
{
    static const struct {
        size_t d;
        unsigned b;
        double dist, c0, c1;
    } want[] = {
        { 16, 1, 0.34318505, 0.810441, 0 },
        { 16, 2, 0.10584748, 0.449957, 1.468826 },
        { 16, 3, 0.03008414, 0, 0 },
        { 16, 4, 0.00809366, 0, 0 },
        { 64, 2, 0.11452576, 0.452119, 1.499975 },
        { 128, 1, 0.36088859, 0.799444, 0 },
        { 128, 3, 0.03396593, 0.244425, 0.753330 },
        { 128, 4, 0.00931479, 0.127873, 0.386381 },
        { 1024, 2, 0.11729622, 0.452740, 1.509764 },
        { 1024, 4, 0.00947757, 0, 0 },
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        double half[32];
        double dist = lloyd_beta_solve(half, want[k].b, want[k].d);
        ck_assert_double_eq_tol(dist, want[k].dist, 1e-8);
        if (want[k].c0 > 0)
            ck_assert_double_eq_tol(half[0], want[k].c0, 1e-6);
        if (want[k].c1 > 0)
            ck_assert_double_eq_tol(half[1], want[k].c1, 1e-6);
    }
    /* Large D tends to the Gaussian codebook. */
    double half[32];
    double dist = lloyd_beta_solve(half, 4, (size_t)1 << 16);
    ck_assert_double_eq_tol(dist, lloyd_max_distortion(4), 1e-6);
    ck_assert_double_lt(lloyd_beta_solve(half, 7, 128), 0);
    /* D = 3: the law is uniform on [−√3, √3] and the uniform quantiser is optimal: 4^-b. */
    for (unsigned b = 1; b <= 6; b++)
        ck_assert_double_eq_tol(lloyd_beta_solve(half, b, 3), pow(4.0, -(double)b), 1e-12);
}
END_TEST

Suite *
lloyd_max_suite(void)
{
    Suite *s = suite_create("lloyd_max");
    TCase *tc = tcase_create("constants");
    tcase_add_test(tc, centroids_b1_to_b4);
    tcase_add_test(tc, distortions);
    tcase_add_test(tc, increasing);
    tcase_add_test(tc, beta_codebooks);
    suite_add_tcase(s, tc);
    return s;
}
