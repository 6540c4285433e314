/* fedavg: weighted mean of decoded updates, and what it refuses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/fedavg.h"
#include "tests/support/check_support.h"
#include "tests/unit/aggregator/suites.h"

enum { FA_DIM = 7 };

static const struct codec_link fa_link = { .seed = 3, .round = 1, .client = 0 };

struct fa_fixture {
    struct fedavg *agg;
    struct codec *enc;
    uint8_t *msg;
    size_t cap;
};

static void
fa_setup(struct fa_fixture *f)
{
    struct codec_params p;
    codec_params_default(&p);
    ck_assert_int_eq(p.kind, CODEC_NONE);
    f->agg = fedavg_new(&p, FA_DIM);
    f->enc = codec_new(&p, FA_DIM);
    ck_assert_ptr_nonnull(f->agg);
    ck_assert_ptr_nonnull(f->enc);
    f->cap = codec_max_bytes(f->enc);
    ck_assert_uint_eq(f->cap, FA_DIM * 4);
    f->msg = malloc(f->cap);
    ck_assert_ptr_nonnull(f->msg);
}

static void
fa_teardown(struct fa_fixture *f)
{
    fedavg_free(f->agg);
    codec_free(f->enc);
    free(f->msg);
}

/* Encodes x with codec none and adds it with weight; returns fedavg_add's code. */
static int
fa_add(struct fa_fixture *f, const float *x, double weight, struct errbuf *eb)
{
    size_t len = 0;
    ck_assert_int_eq(codec_encode(f->enc, f->msg, f->cap, &len, x, &fa_link, eb), 0);
    ck_assert_uint_eq(len, FA_DIM * 4);
    return fedavg_add(f->agg, f->msg, len, weight, &fa_link, eb);
}

/*
 * Dyadic inputs (exact in float) and weights 1 and 3: every product and sum below is
 * exact, and 1 / (1 + 3) = 0.25 is a power of two, so the mean must be exact.
 */
START_TEST(weighted_mean_is_exact)
{
    struct fa_fixture f;
    fa_setup(&f);
    const float a[FA_DIM] = { 0.5f, -1.25f, 3.0f, 0.0f, 1024.0f, -0.0078125f, 7.75f };
    const float b[FA_DIM] = { 1.25f, 2.5f, -3.0f, 0.375f, -512.0f, 0.0234375f, -1.75f };
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    ck_assert_uint_eq(fedavg_count(f.agg), 0);
    ck_assert_int_eq(fa_add(&f, a, 1.0, &eb), 0);
    ck_assert_int_eq(fa_add(&f, b, 3.0, &eb), 0);
    ck_assert_uint_eq(fedavg_count(f.agg), 2);
    float out[FA_DIM];
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), 0);
    const float expect[FA_DIM] = { 1.0625f, 1.5625f, -1.5f, 0.28125f, -128.0f, 0.015625f, 0.625f };
    for (size_t i = 0; i < FA_DIM; i++)
        ck_assert_float_eq(out[i], expect[i]);
    fa_teardown(&f);
}
END_TEST

/* Weights that are not powers of two: the mean to float rounding (relative 1e-6). */
START_TEST(weighted_mean_general)
{
    struct fa_fixture f;
    fa_setup(&f);
    enum { K = 5 };
    float x[K][FA_DIM];
    double wt[K], expect[FA_DIM] = { 0 }, wsum = 0;
    for (size_t k = 0; k < K; k++) {
        wt[k] = 13.0 + 29.0 * (double)k;
        wsum += wt[k];
        for (size_t i = 0; i < FA_DIM; i++) {
            x[k][i] = (float)(sin(2.385 * (double)(k * FA_DIM + i)) + 1.5);
            expect[i] += wt[k] * (double)x[k][i];
        }
    }
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    for (size_t k = 0; k < K; k++)
        ck_assert_int_eq(fa_add(&f, x[k], wt[k], &eb), 0);
    float out[FA_DIM];
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), 0);
    /* All terms positive, so no cancellation: a few float ulps of relative error. */
    for (size_t i = 0; i < FA_DIM; i++)
        ck_assert_rel_tol(out[i], expect[i] / wsum, 1e-6);
    fa_teardown(&f);
}
END_TEST

START_TEST(finish_without_updates_aborts)
{
    struct fa_fixture f;
    fa_setup(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    float out[FA_DIM];
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), -ERR_ABORTED);
    ck_assert_str_eq(eb.msg, "no update reached the server this round");
    fa_teardown(&f);
}
END_TEST

/* A bad message is refused and leaves the accumulator untouched. */
START_TEST(corrupt_message_adds_nothing)
{
    struct fa_fixture f;
    fa_setup(&f);
    const float a[FA_DIM] = { 0.5f, -1.25f, 3.0f, 0.0f, 1024.0f, -0.0078125f, 7.75f };
    const float junk[FA_DIM] = { 99.0f, 99.0f, 99.0f, 99.0f, 99.0f, 99.0f, 99.0f };
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    size_t len = 0;
    ck_assert_int_eq(codec_encode(f.enc, f.msg, f.cap, &len, junk, &fa_link, &eb), 0);
    /* Truncated by one byte, then one byte too long (the buffer holds len + 1). */
    ck_assert_int_eq(fedavg_add(f.agg, f.msg, len - 1, 1.0, &fa_link, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "float32 message of 27 bytes, expected 28");
    ck_assert_int_eq(eb.offset, 27);
    ck_assert_int_eq(fedavg_add(f.agg, f.msg, 0, 1.0, &fa_link, &eb), -ERR_CORRUPT);
    uint8_t longer[FA_DIM * 4 + 1] = { 0 };
    memcpy(longer, f.msg, len);
    ck_assert_int_eq(fedavg_add(f.agg, longer, len + 1, 1.0, &fa_link, &eb), -ERR_CORRUPT);
    ck_assert_uint_eq(fedavg_count(f.agg), 0);
    float out[FA_DIM];
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), -ERR_ABORTED);
    /* After the bad ones, a good one: the mean is exactly it. */
    ck_assert_int_eq(fa_add(&f, a, 2.5, &eb), 0);
    ck_assert_uint_eq(fedavg_count(f.agg), 1);
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), 0);
    ck_assert_mem_eq(out, a, sizeof a);
    fa_teardown(&f);
}
END_TEST

static const double fa_bad_weights[] = { 0.0, -1.0, -0.0, NAN, -INFINITY };

START_TEST(rejects_non_positive_weight)
{
    struct fa_fixture f;
    fa_setup(&f);
    const float a[FA_DIM] = { 1, 2, 3, 4, 5, 6, 7 };
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    ck_assert_int_eq(fa_add(&f, a, fa_bad_weights[_i], &eb), -ERR_INVALID);
    ck_assert_msg(strncmp(eb.msg, "update weight ", 14) == 0 &&
                      strstr(eb.msg, " is not positive") != NULL,
                  "message '%s'", eb.msg);
    ck_assert_uint_eq(fedavg_count(f.agg), 0);
    fa_teardown(&f);
}
END_TEST

/*
 * +infinity would pass a bare "weight > 0" test and turn the round's mean into
 * inf / inf = NaN in every coordinate; a non-finite weight is refused like a non-positive one.
 */
START_TEST(rejects_infinite_weight)
{
    struct fa_fixture f;
    fa_setup(&f);
    const float a[FA_DIM] = { 1, 2, 3, 4, 5, 6, 7 };
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    int rc = fa_add(&f, a, INFINITY, &eb);
    ck_assert_uint_eq(fedavg_count(f.agg), 0);
    ck_assert_int_eq(rc, -ERR_INVALID);
    fa_teardown(&f);
}
END_TEST

/* fedavg_begin() empties the accumulator: a second round does not see the first. */
START_TEST(begin_starts_a_new_round)
{
    struct fa_fixture f;
    fa_setup(&f);
    const float a[FA_DIM] = { 1, 2, 3, 4, 5, 6, 7 };
    const float b[FA_DIM] = { -0.5f, 0.25f, 8, 16, -32, 64, 0.125f };
    struct errbuf eb;
    errbuf_clear(&eb);
    float out[FA_DIM];
    fedavg_begin(f.agg);
    ck_assert_int_eq(fa_add(&f, a, 4.0, &eb), 0);
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), 0);
    ck_assert_mem_eq(out, a, sizeof a);
    fedavg_begin(f.agg);
    ck_assert_uint_eq(fedavg_count(f.agg), 0);
    ck_assert_int_eq(fa_add(&f, b, 0.5, &eb), 0);
    ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), 0);
    ck_assert_mem_eq(out, b, sizeof b);
    fa_teardown(&f);
    fedavg_free(NULL);
}
END_TEST

Suite *
fedavg_suite(void)
{
    Suite *s = suite_create("fedavg");
    TCase *tc = tcase_create("mean");
    tcase_add_test(tc, weighted_mean_is_exact);
    tcase_add_test(tc, weighted_mean_general);
    tcase_add_test(tc, begin_starts_a_new_round);
    suite_add_tcase(s, tc);
    tc = tcase_create("refuses");
    tcase_add_test(tc, finish_without_updates_aborts);
    tcase_add_test(tc, corrupt_message_adds_nothing);
    tcase_add_loop_test(tc, rejects_non_positive_weight, 0,
                        (int)(sizeof fa_bad_weights / sizeof fa_bad_weights[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("fixed bugs");
    tcase_add_test(tc, rejects_infinite_weight);
    suite_add_tcase(s, tc);
    return s;
}
