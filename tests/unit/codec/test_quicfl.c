/*
 * quicfl: our solved tables are unbiased on every grid point and reach the vNMSE figures
 * of the official QUIC-FL tables (below); the exact set has the right size; structured
 * inputs stay unbiased; a message whose decoded values could exceed 2^90 (from its norm or
 * an exact value) is refused up front.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "codec/quicfl.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

#define ck_assert_stat(got, se, want, rel)                                                         \
    ck_assert_msg(fabs((got) - (want)) <= fmax((rel) * (want), 4 * (se)),                          \
                  "%s = %.6g (se %.2g), want %.6g within %.2g%% or 4 se", #got, (got), (se),       \
                  (want), 100 * (rel))

/* Our tables' figures (tools/gen_tables quicfl) and the official tables' (QUIC-FL, ICML 2024). */
static const double ours[5] = { 0, 1.4654569, 0.2135117, 0.0426398, 0.0095136 };
static const double official[5] = { 0, 1.4670, 0.21492, 0.043116, 0.0096837 };

START_TEST(tables_unbiased)
{
    for (unsigned b = 1; b <= 4; b++) {
        struct codec_params p;
        tdme_params(&p, CODEC_QUICFL, b);
        struct quicfl *q = quicfl_new(&p, 1024);
        ck_assert_ptr_nonnull(q);
        /* Reference: the official tables are unbiased to 4.4e-8; ours are stored in float. */
        ck_assert_double_lt(quicfl_max_bias(q), 1e-6);
        quicfl_free(q);
    }
}
END_TEST

/* Test vector 8 at d = 4096: our figures within 1 % (b = 1: 2 %), never worse than official. */
START_TEST(vnmse)
{
    for (unsigned b = 1; b <= 4; b++) {
        struct codec_params p;
        tdme_params(&p, CODEC_QUICFL, b);
        struct tdme r = tdme_run(&p, 4096, TDME_LOGNORMAL, 1, 1, 300, 90 + b);
        ck_assert_stat(r.vnmse, r.vnmse_se, ours[b], b == 1 ? 0.02 : 0.01);
        ck_assert_double_le(r.vnmse, official[b] + 4 * r.vnmse_se);
        /*
         * Exact coordinates: |E| ≈ D/512 within 5 % or 4 se (Poisson: se = √(8/300));
         * bits = 32 + b·D + 64·|E|.
         */
        double exact = (r.bytes - 4 - b * 4096 / 8) / 8;
        ck_assert_double_eq_tol(exact, 4096.0 / 512, fmax(0.4, 4 * sqrt(8.0 / 300)));
    }
}
END_TEST

/* NMSE = vNMSE/n with the shared rotation summed in the rotated domain */
START_TEST(shared_rotation_nmse)
{
    struct codec_params p;
    tdme_params(&p, CODEC_QUICFL, 4);
    p.rotation = CODEC_ROTATION_SHARED;
    struct tdme r = tdme_run(&p, 4096, TDME_LOGNORMAL, 10, 0, 60, 99);
    ck_assert_stat(r.nmse, r.nmse_se, ours[4] / 10, 0.03);
}
END_TEST

/* Test vector 9 for QUIC-FL: x = e1 + e2, D = 1024, b = 1: the mean is x at the noise floor. */
START_TEST(two_hot_unbiased)
{
    size_t d = 1024;
    struct codec_params p;
    tdme_params(&p, CODEC_QUICFL, 1);
    struct codec *c = codec_new(&p, d);
    float *x = calloc(d, sizeof *x), *xh = malloc(d * sizeof *xh);
    double *mean = calloc(d, sizeof *mean);
    x[0] = x[1] = 1;
    uint8_t *msg = malloc(codec_max_bytes(c));
    int trials = 4000;
    double v = 0;
    for (int t = 0; t < trials; t++) {
        struct codec_link link = { .seed = 4, .round = (uint64_t)t, .client = 0 };
        size_t len;
        ck_assert_int_eq(codec_encode(c, msg, codec_max_bytes(c), &len, x, &link, NULL), 0);
        ck_assert_int_eq(codec_decode(c, xh, msg, len, &link, NULL), 0);
        for (size_t i = 0; i < d; i++) {
            v += ((double)xh[i] - x[i]) * ((double)xh[i] - x[i]) / 2 / trials;
            mean[i] += xh[i] / trials;
        }
    }
    double me = 0;
    for (size_t i = 0; i < d; i++)
        me += (mean[i] - x[i]) * (mean[i] - x[i]);
    /* The floor is vNMSE/T; allow 1.5x for one fixed seed (measured 6.4e-5 vs 6.5e-5). */
    ck_assert_double_lt(me / 2, 1.5 * v / trials);
    codec_free(c);
    free(x);
    free(xh);
    free(mean);
    free(msg);
}
END_TEST

/* A non-default p is solved at creation and stays unbiased. */
START_TEST(solve_other_p)
{
    struct codec_params p;
    tdme_params(&p, CODEC_QUICFL, 2);
    p.p = 1.0 / 128;
    p.shared_bits = 3;
    struct quicfl *q = quicfl_new(&p, 256);
    ck_assert_ptr_nonnull(q);
    ck_assert_double_lt(quicfl_max_bias(q), 1e-6);
    quicfl_free(q);
}
END_TEST

/* v as a little-endian float32 at p (the wire's scalars) */
static void
put_f32_le(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    le_store32(p, u);
}

/*
 * The decoder is bounded (codec/codec_int.h): the norm field and the exact values bound the
 * decoded vector by unit·max(|R|, |z|)·√D (unit = norm/√D), and a message whose bound
 * exceeds 2^90 is refused before decoding, whatever its actual values.
 */
START_TEST(bounded_decode)
{
    size_t d = 1024;
    struct codec_params p;
    tdme_params(&p, CODEC_QUICFL, 2);
    struct codec *c = codec_new(&p, d);
    size_t cap = codec_max_bytes(c);
    float *x = calloc(d, sizeof *x), *xh = malloc(d * sizeof *xh);
    uint8_t *msg = calloc(cap, 1);
    struct codec_link link = { .seed = 4, .round = 1, .client = 0 };
    size_t len;
    /* x = 0: norm 0 and no exact pairs; the header is the norm, float32 at byte 0 */
    ck_assert_int_eq(codec_encode(c, msg, cap, &len, x, &link, NULL), 0);
    ck_assert_uint_lt(len + 8, cap + 1);
    /* norms: huge ones refused; 2^80 (values about 2^75·|R|·32 < 2^90) accepted, finite */
    const float norms[4] = { FLT_MAX, 0x1p100f, 0x1p89f, 0x1p80f };
    for (int k = 0; k < 4; k++) {
        put_f32_le(msg, norms[k]);
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = codec_decode(c, xh, msg, len, &link, &eb);
        if (k < 3) {
            ck_assert_int_eq(rc, -ERR_CORRUPT);
            ck_assert_int_eq(eb.offset, 0);
        } else {
            ck_assert_int_eq(rc, 0);
            for (size_t i = 0; i < d; i++)
                ck_assert(isfinite(xh[i]) && fabsf(xh[i]) < 0x1p90f);
        }
    }
    /* one exact pair (index 5, value z) at norm √D (unit 1): |z|·32 decides */
    put_f32_le(msg, 32.0f);
    const float zs[3] = { 0x1p100f, -FLT_MAX, 0x1p60f };
    for (int k = 0; k < 3; k++) {
        uint8_t pair[8] = { 5, 0, 0, 0 };
        put_f32_le(pair + 4, zs[k]);
        memcpy(msg + len, pair, sizeof pair);
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = codec_decode(c, xh, msg, len + 8, &link, &eb);
        if (k < 2) {
            ck_assert_int_eq(rc, -ERR_CORRUPT);
        } else {
            ck_assert_int_eq(rc, 0);
            for (size_t i = 0; i < d; i++)
                ck_assert(isfinite(xh[i]) && fabsf(xh[i]) <= 0x1p55f * 1.001f);
        }
    }
    codec_free(c);
    free(x);
    free(xh);
    free(msg);
}
END_TEST

Suite *
quicfl_suite(void)
{
    Suite *s = suite_create("quicfl");
    TCase *tc = tcase_create("tables");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tables_unbiased);
    tcase_add_test(tc, vnmse);
    tcase_add_test(tc, shared_rotation_nmse);
    tcase_add_test(tc, two_hot_unbiased);
    tcase_add_test(tc, solve_other_p);
    tcase_add_test(tc, bounded_decode);
    suite_add_tcase(s, tc);
    return s;
}
