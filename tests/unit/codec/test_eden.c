/*
 * eden: vNMSE figures of EDEN (ICML 2022, §3-§4; Lloyd-Max distortions) at d = 4096 (D = 4096
 * unless said), and the exact per-vector relations between the scales. Statistical checks
 * use one rule: tolerance = the larger of the stated percentage and 4 standard errors.
 */
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "codec/eden.h"
#include "codec/lloyd_max.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

#define T_DIM    4096
#define T_TRIALS 200

/* |got - want| <= max(rel·want, 4·se). */
#define ck_assert_stat(got, se, want, rel)                                                         \
    ck_assert_msg(fabs((got) - (want)) <= fmax((rel) * (want), 4 * (se)),                          \
                  "%s = %.6g (se %.2g), want %.6g within %.2g%% or 4 se", #got, (got), (se),       \
                  (want), 100 * (rel))

static const double unbiased_want[5] = { 0, 0.570796, 0.133121, 0.035784, 0.009592 };
static const double biased_want[5] = { 0, 0.363380, 0.117482, 0.034548, 0.009501 };
static const double matched_want[5] = { 0, 0.404231, 0.121151, 0.034851, 0.009524 };

static void
check_scale(enum codec_scale scale, enum tdme_dist dist, const double *want, double rel)
{
    for (unsigned b = 1; b <= 4; b++) {
        struct codec_params p;
        tdme_params(&p, CODEC_EDEN, b);
        p.scale = scale;
        struct tdme r = tdme_run(&p, T_DIM, dist, 1, 1, T_TRIALS, 11 + b);
        ck_assert_stat(r.vnmse, r.vnmse_se, want[b], rel);
        /* Test vector 18: b·D bits + a float32 scale, exactly. */
        ck_assert_double_eq(r.bytes, b * T_DIM / 8 + 4);
    }
}

START_TEST(unbiased_normal)
{
    check_scale(CODEC_SCALE_UNBIASED, TDME_NORMAL, unbiased_want, 0.005);
}
END_TEST

START_TEST(biased_normal)
{
    check_scale(CODEC_SCALE_BIASED, TDME_NORMAL, biased_want, 0.005);
}
END_TEST

START_TEST(matched_normal)
{
    check_scale(CODEC_SCALE_MATCHED_NORM, TDME_NORMAL, matched_want, 0.005);
}
END_TEST

START_TEST(lognormal)
{
    check_scale(CODEC_SCALE_UNBIASED, TDME_LOGNORMAL, unbiased_want, 0.01);
    check_scale(CODEC_SCALE_BIASED, TDME_LOGNORMAL, biased_want, 0.01);
    check_scale(CODEC_SCALE_MATCHED_NORM, TDME_LOGNORMAL, matched_want, 0.01);
}
END_TEST

/* Encodes x on one link with the given scale; returns the float32 scale of the message. */
static float
encode_scale(enum codec_kind kind, enum codec_scale scale, unsigned b, const float *x, float *xhat,
             size_t d)
{
    struct codec_params p;
    tdme_params(&p, kind, b);
    p.scale = scale;
    struct codec *c = codec_new(&p, d);
    uint8_t *msg = malloc(codec_max_bytes(c));
    size_t len;
    struct codec_link link = { .seed = 5, .round = 1, .client = 2 };
    ck_assert_int_eq(codec_encode(c, msg, codec_max_bytes(c), &len, x, &link, NULL), 0);
    ck_assert_int_eq(codec_decode(c, xhat, msg, len, &link, NULL), 0);
    float s;
    memcpy(&s, msg, sizeof s);
    codec_free(c);
    free(msg);
    return s;
}

/*
 * Per vector: ⟨x̂,x⟩ = ‖x‖² for the unbiased scale (float32 pipeline, so
 * 1e-5 rather than a float64 pipeline's 1e-12), S_mn² = S_unb·S_bias, and the biased
 * (least-squares) error never above the fixed-scale (TurboQuant_mse) error.
 */
START_TEST(per_vector_relations)
{
    /* A power of two: least squares holds in the rotated domain, which padding would leave. */
    size_t d = 4096;
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
    for (int t = 0; t < 20; t++) {
        struct rng r;
        rng_init_stream(&r, 21, RNG_PURPOSE_TEST, (uint64_t)t, 0);
        double n2 = 0;
        for (size_t i = 0; i < d; i++) {
            x[i] = (float)gsl_ran_lognormal(rng_gsl(&r), 0, 1);
            n2 += (double)x[i] * x[i];
        }
        for (unsigned b = 1; b <= 4; b++) {
            float su = encode_scale(CODEC_EDEN, CODEC_SCALE_UNBIASED, b, x, xh, d);
            double dot = 0;
            for (size_t i = 0; i < d; i++)
                dot += (double)xh[i] * x[i];
            ck_assert_rel_tol(dot, n2, 1e-5);
            float sb = encode_scale(CODEC_EDEN, CODEC_SCALE_BIASED, b, x, xh, d);
            double eb = 0, ef = 0;
            for (size_t i = 0; i < d; i++)
                eb += ((double)xh[i] - x[i]) * ((double)xh[i] - x[i]);
            float sm = encode_scale(CODEC_EDEN, CODEC_SCALE_MATCHED_NORM, b, x, xh, d);
            ck_assert_rel_tol((double)sm * sm, (double)su * sb, 1e-6);
            encode_scale(CODEC_TURBOQUANT_MSE, CODEC_SCALE_UNBIASED, b, x, xh, d);
            for (size_t i = 0; i < d; i++)
                ef += ((double)xh[i] - x[i]) * ((double)xh[i] - x[i]);
            ck_assert_msg(eb <= ef * (1 + 1e-6), "biased %g above fixed-scale %g", eb, ef);
        }
    }
    free(x);
    free(xh);
}
END_TEST

/* Test vector 7 (cmprs-eden's own): b = 1, d = 2^12, 10 repeats: 0.57079 ± 0.005. */
START_TEST(cmprs_eden_vector)
{
    struct codec_params p;
    tdme_params(&p, CODEC_EDEN, 1);
    struct tdme r = tdme_run(&p, 4096, TDME_NORMAL, 1, 1, 10, 77);
    ck_assert_double_eq_tol(r.vnmse, 0.57079, 0.005 + 4 * r.vnmse_se);
}
END_TEST

/*
 * Test vector 9: x = e1 + e2, D = 1024, b = 1. Half the rotated coordinates are exactly 0
 * and go to the lower cell, so every x̂ is 2e1 or 2e2: vNMSE = 1 and the mean is x.
 */
START_TEST(tie_rule_two_hot)
{
    size_t d = 1024;
    struct codec_params p;
    tdme_params(&p, CODEC_EDEN, 1);
    struct codec *c = codec_new(&p, d);
    float *x = calloc(d, sizeof *x), *xh = malloc(d * sizeof *xh);
    double *mean = calloc(d, sizeof *mean);
    x[0] = x[1] = 1;
    uint8_t *msg = malloc(codec_max_bytes(c));
    int trials = 4000;
    for (int t = 0; t < trials; t++) {
        struct codec_link link = { .seed = 3, .round = (uint64_t)t, .client = 0 };
        size_t len;
        ck_assert_int_eq(codec_encode(c, msg, codec_max_bytes(c), &len, x, &link, NULL), 0);
        ck_assert_int_eq(codec_decode(c, xh, msg, len, &link, NULL), 0);
        double e = 0;
        for (size_t i = 0; i < d; i++) {
            e += ((double)xh[i] - x[i]) * ((double)xh[i] - x[i]);
            mean[i] += xh[i] / trials;
        }
        ck_assert_double_eq_tol(e, 2.0, 1e-4); /* vNMSE = e/‖x‖² = 1 */
        ck_assert(fabs(xh[0] - 2) < 1e-4 || fabs(xh[1] - 2) < 1e-4);
    }
    /* Mean error at the noise floor: vNMSE/T = 1/4000 (x4 for a fixed-seed bound). */
    double me = 0;
    for (size_t i = 0; i < d; i++)
        me += (mean[i] - x[i]) * (mean[i] - x[i]);
    ck_assert_double_lt(me / 2, 4.0 / trials);
    codec_free(c);
    free(x);
    free(xh);
    free(mean);
    free(msg);
}
END_TEST

/* Test vector 10 (scaled down): padding to D, vNMSE ≈ (d/D)·vNMSE(D) for unbiased EDEN. */
START_TEST(padding)
{
    struct codec_params p;
    tdme_params(&p, CODEC_EDEN, 4);
    p.blocks = CODEC_BLOCKS_PAD;
    size_t d = 3125; /* d/D = 0.76294, as 100000/131072 */
    struct tdme r = tdme_run(&p, d, TDME_NORMAL, 1, 1, 400, 31);
    ck_assert_stat(r.vnmse, r.vnmse_se, 0.009592 * 3125.0 / 4096.0, 0.01);
    p.bits = 1;
    p.scale = CODEC_SCALE_BIASED;
    r = tdme_run(&p, d, TDME_NORMAL, 1, 1, 400, 32);
    /* D_b² + (D_b − D_b²)·d/D */
    double db = 0.3633802276, want = db * db + (db - db * db) * 3125.0 / 4096.0;
    ck_assert_stat(r.vnmse, r.vnmse_se, want, 0.01);
}
END_TEST

/* Test vector 11: fractional bits, D_mix/(1 − D_mix); payload (b_lo + f)·D within 3 se. */
START_TEST(fractional_bits)
{
    static const double bits[3] = { 1.5, 2.5, 3.5 };
    for (int k = 0; k < 3; k++) {
        unsigned lo = (unsigned)bits[k];
        double dm = 0.5 * (lloyd_max_distortion(lo) + lloyd_max_distortion(lo + 1));
        struct codec_params p;
        tdme_params(&p, CODEC_EDEN, bits[k]);
        struct tdme r = tdme_run(&p, T_DIM, TDME_NORMAL, 1, 1, T_TRIALS, 41 + (unsigned)k);
        ck_assert_stat(r.vnmse, r.vnmse_se, dm / (1 - dm), 0.01);
        /* Mean payload: (lo + 1/2)·D bits (+ 4 bytes); sd of the mask count is √(D/4). */
        double want = (lo + 0.5) * T_DIM / 8 + 4;
        ck_assert_double_eq_tol(r.bytes, want, 3 * sqrt(T_DIM / 4.0) / 8 / sqrt(T_TRIALS) + 1);
    }
}
END_TEST

/* Test vector 12: b < 1 (rotate, then keep with probability p): π/(2p) − 1 within 2 %. */
START_TEST(below_one_bit)
{
    static const double ps[2] = { 0.5, 0.1 };
    for (int k = 0; k < 2; k++) {
        struct codec_params p;
        tdme_params(&p, CODEC_EDEN, ps[k]);
        struct tdme r = tdme_run(&p, T_DIM, TDME_NORMAL, 1, 1, T_TRIALS, 51 + (unsigned)k);
        ck_assert_stat(r.vnmse, r.vnmse_se, M_PI / (2 * ps[k]) - 1, 0.02);
        ck_assert_double_eq_tol(r.bytes, ps[k] * T_DIM / 8 + 4, 4);
    }
}
END_TEST

/* Test vector 13: packet loss p on rotated coordinates: (vNMSE_b + p)/(1 − p) within 1 %. */
START_TEST(packet_loss)
{
    static const struct {
        unsigned b;
        double loss, want;
    } cases[3] = { { 1, 0.1, 0.7453 }, { 2, 0.1, 0.2590 }, { 4, 0.3, 0.4423 } };
    for (int k = 0; k < 3; k++) {
        struct codec_params p;
        tdme_params(&p, CODEC_EDEN, cases[k].b);
        p.packet_loss = cases[k].loss;
        struct tdme r = tdme_run(&p, T_DIM, TDME_NORMAL, 1, 1, T_TRIALS, 61 + (unsigned)k);
        ck_assert_stat(r.vnmse, r.vnmse_se, cases[k].want, 0.01);
    }
}
END_TEST

/*
 * Test vector 14: n = 10 clients with the same vector, d = 8192, per-client rotation, DRIVE
 * unbiased: NMSE 0.0571 within 2 % for N, LogN and Exp.
 */
START_TEST(drive_nmse_same_vector)
{
    for (int dist = TDME_NORMAL; dist <= TDME_EXPONENTIAL; dist++) {
        struct codec_params p;
        tdme_params(&p, CODEC_DRIVE, 1);
        struct tdme r = tdme_run(&p, 8192, (enum tdme_dist)dist, 10, 1, 60, 71);
        ck_assert_stat(r.nmse, r.nmse_se, 0.0571, 0.02);
        ck_assert_double_eq(r.bytes, 8192 / 8 + 4); /* D + 32 bits */
    }
}
END_TEST

/* Test vector 15 (scaled): NMSE = vNMSE/n for independent vectors, EDEN b = 4, n = 10. */
START_TEST(nmse_is_vnmse_over_n)
{
    struct codec_params p;
    tdme_params(&p, CODEC_EDEN, 4);
    struct tdme r = tdme_run(&p, T_DIM, TDME_LOGNORMAL, 10, 0, 60, 81);
    ck_assert_stat(r.nmse, r.nmse_se, r.vnmse / 10, 0.03);
    ck_assert_stat(r.nmse, r.nmse_se, 0.009566 / 10, 0.03);
}
END_TEST

/*
 * Test vector 16: the RHT of a Gaussian vector has a uniform direction, so TurboQuant_mse
 * with the exact codebook has vNMSE exactly D^Beta(128) in expectation (§2.4: b = 1
 * 0.360889, b = 4 0.009315) and biased EDEN with the same codebook is below it.
 */
START_TEST(exact_codebook_d128)
{
    static const double want[5] = { 0, 0.36088859, 0.11600007, 0.03396593, 0.00931479 };
    for (unsigned b = 1; b <= 4; b += 3) {
        struct codec_params p;
        tdme_params(&p, CODEC_TURBOQUANT_MSE, b);
        p.exact_codebook = true;
        struct tdme r = tdme_run(&p, 128, TDME_NORMAL, 1, 1, 3000, 110 + b);
        ck_assert_stat(r.vnmse, r.vnmse_se, want[b], 0.01);
        tdme_params(&p, CODEC_EDEN, b);
        p.exact_codebook = true;
        p.scale = CODEC_SCALE_BIASED;
        struct tdme e = tdme_run(&p, 128, TDME_NORMAL, 1, 1, 3000, 110 + b);
        ck_assert_double_le(e.vnmse, r.vnmse);
    }
}
END_TEST

Suite *
eden_suite(void)
{
    Suite *s = suite_create("eden");
    TCase *tc = tcase_create("vnmse");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, unbiased_normal);
    tcase_add_test(tc, biased_normal);
    tcase_add_test(tc, matched_normal);
    tcase_add_test(tc, lognormal);
    tcase_add_test(tc, cmprs_eden_vector);
    tcase_add_test(tc, padding);
    tcase_add_test(tc, fractional_bits);
    tcase_add_test(tc, below_one_bit);
    tcase_add_test(tc, packet_loss);
    tcase_add_test(tc, drive_nmse_same_vector);
    tcase_add_test(tc, nmse_is_vnmse_over_n);
    tcase_add_test(tc, exact_codebook_d128);
    suite_add_tcase(s, tc);
    TCase *tx = tcase_create("exact");
    tcase_add_test(tx, per_vector_relations);
    tcase_add_test(tx, tie_rule_two_hot);
    suite_add_tcase(s, tx);
    return s;
}
