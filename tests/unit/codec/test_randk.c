/*
 * randk: the coordinates rand-k sends (codec/randk.c) are a uniformly random k-subset, in
 * increasing order, and the decoder puts each value back at its coordinate scaled by d/k.
 * The subset is read from the message: with x_i = i + 1 the values name their coordinates.
 */
#include <math.h>
#include <string.h>

#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

/* Encodes x_i = i + 1 for link (seed 3, round 1, client) and returns the chosen coordinates. */
static size_t
randk_chosen(struct codec *c, size_t d, uint64_t client, size_t *idx)
{
    float x[256];
    uint8_t msg[256 * sizeof(float)];
    size_t len = 0;
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(i + 1);
    struct codec_link link = { .seed = 3, .round = 1, .client = client };
    ck_assert_int_eq(codec_encode(c, msg, sizeof msg, &len, x, &link, NULL), 0);
    size_t k = len / sizeof(float);
    for (size_t j = 0; j < k; j++) {
        float v;
        memcpy(&v, msg + j * sizeof v, sizeof v); /* little-endian hosts only build this */
        ck_assert(v >= 1.0f && v <= (float)d && v == floorf(v));
        idx[j] = (size_t)v - 1;
        if (j > 0)
            ck_assert_uint_gt(idx[j], idx[j - 1]); /* distinct, increasing */
    }
    return k;
}

/* d = 5, k = 2: each of the 10 pairs has probability 1/10 (chi-square, 9 degrees of freedom). */
START_TEST(subsets_are_uniform)
{
    struct codec_params p;
    tdme_params(&p, CODEC_RANDK, 12.8); /* k = round(12.8 * 5 / 32) = 2 */
    struct codec *c = codec_new(&p, 5);
    ck_assert_ptr_nonnull(c);
    enum { N = 20000 };
    unsigned count[5][5] = { { 0 } };
    for (uint64_t t = 0; t < N; t++) {
        size_t idx[5];
        ck_assert_uint_eq(randk_chosen(c, 5, t, idx), 2);
        count[idx[0]][idx[1]]++;
    }
    double chi2 = 0.0, expect = N / 10.0;
    for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++)
            chi2 += (count[a][b] - expect) * (count[a][b] - expect) / expect;
    /* P(chi2_9 > 40) < 1e-5; a sampler that favours one pair by 5 % gives about 55. */
    ck_assert_msg(chi2 < 40.0, "chi-square %g over the 10 pairs", chi2);
    codec_free(c);
}
END_TEST

/* d = 130 (three bitmap words, the last partial), k = 32: each coordinate with rate k/d. */
START_TEST(inclusion_rate_is_k_over_d)
{
    struct codec_params p;
    tdme_params(&p, CODEC_RANDK, 8.0); /* k = nearbyint(32.5) = 32 */
    size_t d = 130;
    struct codec *c = codec_new(&p, d);
    ck_assert_ptr_nonnull(c);
    enum { N = 4000 };
    unsigned hits[130] = { 0 };
    for (uint64_t t = 0; t < N; t++) {
        size_t idx[130];
        size_t k = randk_chosen(c, d, t, idx);
        ck_assert_uint_eq(k, 32);
        for (size_t j = 0; j < k; j++)
            hits[idx[j]]++;
    }
    double q = 32.0 / 130.0, sd = sqrt(N * q * (1.0 - q));
    for (size_t i = 0; i < d; i++)
        ck_assert_msg(fabs(hits[i] - N * q) < 5.0 * sd,
                      "coordinate %zu chosen %u times, %g expected", i, hits[i], N * q);
    codec_free(c);
}
END_TEST

/* The decoder adds weight·(d/k)·x_i at exactly the chosen coordinates; b = 32 sends all. */
START_TEST(decode_places_values)
{
    struct codec_params p;
    tdme_params(&p, CODEC_RANDK, 3.0);
    size_t d = 100; /* k = round(9.375) = 9 */
    struct codec *c = codec_new(&p, d);
    size_t idx[100];
    size_t k = randk_chosen(c, d, 7, idx);
    ck_assert_uint_eq(k, 9);
    float x[100], out[100];
    uint8_t msg[100 * sizeof(float)];
    size_t len = 0;
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(i + 1);
    struct codec_link link = { .seed = 3, .round = 1, .client = 7 };
    ck_assert_int_eq(codec_encode(c, msg, sizeof msg, &len, x, &link, NULL), 0);
    ck_assert_int_eq(codec_decode(c, out, msg, len, &link, NULL), 0);
    size_t j = 0;
    for (size_t i = 0; i < d; i++) {
        if (j < k && idx[j] == i) {
            ck_assert_float_eq(out[i], (float)(100.0 / 9.0) * (float)(i + 1));
            j++;
        } else {
            ck_assert_float_eq(out[i], 0.0f);
        }
    }
    codec_free(c);

    tdme_params(&p, CODEC_RANDK, 32.0);
    c = codec_new(&p, d);
    ck_assert_uint_eq(randk_chosen(c, d, 9, idx), d);
    for (size_t i = 0; i < d; i++)
        ck_assert_uint_eq(idx[i], i);
    codec_free(c);
}
END_TEST

Suite *
randk_suite(void)
{
    Suite *s = suite_create("randk");
    TCase *tc = tcase_create("subset");
    tcase_add_test(tc, subsets_are_uniform);
    tcase_add_test(tc, inclusion_rate_is_k_over_d);
    tcase_add_test(tc, decode_places_values);
    suite_add_tcase(s, tc);
    return s;
}
