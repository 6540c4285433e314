/*
 * adaptive_clip: the geometric clip update on hand examples (exact), the update's noise
 * multiplier z_Δ on values with closed forms, the pair (update, count) spending exactly the
 * RDP of multiplier z (checked against the accountant), the refusal at σ_b <= z / 2, and the
 * noiseless rule settling on the target quantile of a fixed set of norms.
 */
#include <float.h>
#include <math.h>

#include "sim/adaptive_clip.h"
#include "sim/privacy_accountant.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

START_TEST(clip_update_hand_example)
{
    /* 6 updates, 5 within the clip, expected cohort 8: centred count 5 - 3 = 2 */
    double f = adaptive_clip_fraction(5, 6, 0.0, 8.0);
    ck_assert(f == 0.75); /* 1/2 + 2/8 */
    ck_assert(adaptive_clip_next(2.0, f, 0.5, 0.5) == 2.0 * exp(-0.125));
    /* count noise -4 turns the centred count to -2: 1/2 - 2/8 */
    f = adaptive_clip_fraction(5, 6, -4.0, 8.0);
    ck_assert(f == 0.25);
    ck_assert(adaptive_clip_next(2.0, f, 0.5, 0.5) == 2.0 * exp(0.125));
    /* at the target the clip stays; nobody within: it grows by exp(lr quantile) at most */
    ck_assert(adaptive_clip_next(3.0, 0.5, 0.5, 0.2) == 3.0);
    f = adaptive_clip_fraction(0, 8, 0.0, 8.0);
    ck_assert(f == 0.0);
    ck_assert(adaptive_clip_next(1.0, f, 0.75, 0.2) == exp(0.15));
    /* an empty sum still moves by the noise alone */
    ck_assert(adaptive_clip_fraction(0, 0, 1.0, 4.0) == 0.75);
}
END_TEST

START_TEST(noise_multiplier_exact)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    double z;
    /* z = 0.6, σ_b = 0.5: (1/0.36 - 1)^(-1/2) = (0.64/0.36)^(-1/2) = 0.6/0.8 */
    ck_assert_int_eq(adaptive_clip_noise_multiplier(0.6, 0.5, &z, &eb), 0);
    ck_assert_msg(fabs(z - 0.75) <= 4 * DBL_EPSILON, "%.17g", z);
    /* z = 1, σ_b = 1: (1 - 1/4)^(-1/2) = 2/sqrt(3) */
    ck_assert_int_eq(adaptive_clip_noise_multiplier(1.0, 1.0, &z, &eb), 0);
    ck_assert_msg(fabs(z - 2.0 / sqrt(3.0)) <= 4 * DBL_EPSILON, "%.17g", z);
    /* the recommended σ_b = m/20 with m = 100 and z = 1: (1 - 1/100)^(-1/2) */
    ck_assert_int_eq(adaptive_clip_noise_multiplier(1.0, 5.0, &z, &eb), 0);
    ck_assert_msg(fabs(z - 1.0050378152592121) <= 4 * DBL_EPSILON, "%.17g", z);
}
END_TEST

/*
 * The pair is one Gaussian mechanism on (sum, centred count) with sensitivities (C, 1/2) and
 * noise (z_Δ C, σ_b): its RDP at order α is α/2 (z_Δ⁻² + (2σ_b)⁻²), which must be the
 * accountant's unsampled (q = 1) RDP of multiplier z, α/(2 z²).
 */
START_TEST(pair_spends_what_z_spends)
{
    const double zs[] = { 0.5, 0.8, 1.1, 2.0, 7.0 }, sbs[] = { 0.3, 1.0, 2.5, 5.0, 50.0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
        for (size_t k = 0; k < sizeof sbs / sizeof sbs[0]; k++) {
            double zd;
            if (!(sbs[k] > zs[i] / 2))
                continue;
            ck_assert_int_eq(adaptive_clip_noise_multiplier(zs[i], sbs[k], &zd, &eb), 0);
            ck_assert(zd > zs[i]);
            for (double alpha = 1.5; alpha < 70; alpha *= 2) {
                double want;
                ck_assert_int_eq(privacy_accountant_rdp(1.0, zs[i], alpha, &want, &eb), 0);
                double got = alpha / 2 * (1 / (zd * zd) + 1 / (4 * sbs[k] * sbs[k]));
                ck_assert_msg(fabs(got - want) <= 1e-13 * want, "z %g sb %g: %.17g vs %.17g", zs[i],
                              sbs[k], got, want);
            }
        }
    }
}
END_TEST

START_TEST(count_noise_too_small_refused)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    double z = -1;
    ck_assert_int_eq(adaptive_clip_noise_multiplier(1.0, 0.5, &z, &eb), -ERR_INVALID);
    ck_assert(z == -1);
    ck_assert_str_eq(eb.msg, "adaptive clipping needs count noise above half the noise "
                             "multiplier (0.5 <= 1 / 2): the count would spend the whole budget");
    ck_assert_int_eq(adaptive_clip_noise_multiplier(1.0, 0.25, &z, &eb), -ERR_INVALID);
    ck_assert_int_eq(adaptive_clip_noise_multiplier(0.0, 1.0, &z, &eb), -ERR_INVALID);
    ck_assert_int_eq(adaptive_clip_noise_multiplier(1.0, 0.5000001, &z, &eb), 0);
    ck_assert(z > 1000);
}
END_TEST

/*
 * Norms 1, 2, ..., 100 every round, no noise: the clip climbs from 1 and then stays where 30
 * of the 100 norms are within it, the 0.3 quantile, [30, 31).
 */
START_TEST(settles_on_the_quantile)
{
    double c = 1.0;
    for (int t = 0; t < 400; t++) {
        size_t within = 0;
        for (size_t k = 1; k <= 100; k++)
            within += (double)k <= c;
        c = adaptive_clip_next(c, adaptive_clip_fraction(within, 100, 0.0, 100.0), 0.3, 0.2);
    }
    ck_assert_msg(c >= 29.0 && c < 32.0, "%g", c);
}
END_TEST

TCase *
adaptive_clip_tcase(void)
{
    TCase *tc = tcase_create("adaptive_clip");
    tcase_add_test(tc, clip_update_hand_example);
    tcase_add_test(tc, noise_multiplier_exact);
    tcase_add_test(tc, pair_spends_what_z_spends);
    tcase_add_test(tc, count_noise_too_small_refused);
    tcase_add_test(tc, settles_on_the_quantile);
    return tc;
}
