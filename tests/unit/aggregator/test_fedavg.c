/* fedavg: weighted mean of decoded updates, and what it refuses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/fedavg.h"
#include "base/rng.h"
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

/*
 * Merging partial aggregators (threads, ranks). Each codec configuration encodes FM_K
 * vectors once; the mean of all of them added to one aggregator in order is the baseline,
 * and every other way of adding the same messages must give the same float bits.
 */
struct fm_codec {
    enum codec_kind kind;
    double bits;
    enum codec_rotation rot;
};

static const struct fm_codec fm_codecs[] = {
    { CODEC_NONE, 32, CODEC_ROTATION_PER_CLIENT },
    /* Summed in the rotated domain, the rotation inverted once by fedavg_finish(). */
    { CODEC_EDEN, 2, CODEC_ROTATION_SHARED },
    { CODEC_EDEN, 2, CODEC_ROTATION_PER_CLIENT },
};

/* 100 is not a power of two: EDEN pads to 128, so acc_len > dim is exercised. */
enum { FM_DIM = 100, FM_K = 50 };

struct fm_fixture {
    struct codec_params p;
    size_t cap;
    uint8_t *msg[FM_K];
    size_t len[FM_K];
    double weight[FM_K];
    struct codec_link link[FM_K];
    struct codec_link round_link;
};

static void
fm_setup(struct fm_fixture *f, const struct fm_codec *c)
{
    codec_params_default(&f->p);
    f->p.kind = c->kind;
    f->p.bits = c->bits;
    f->p.rotation = c->rot;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(codec_params_check(&f->p, FM_DIM, &eb) == 0, "%s", eb.msg);
    struct codec *enc = codec_new(&f->p, FM_DIM);
    ck_assert_ptr_nonnull(enc);
    f->cap = codec_max_bytes(enc);
    f->round_link = (struct codec_link){ .seed = 3, .round = 9, .client = 0 };
    struct rng r;
    rng_init_stream(&r, 5, RNG_PURPOSE_TEST, (uint64_t)c->kind, (uint64_t)c->rot);
    float x[FM_DIM];
    for (size_t k = 0; k < FM_K; k++) {
        /* Sample counts 1..200 times a FedBuff-like staleness factor: not dyadic. */
        f->weight[k] = (double)(1 + rng_below(&r, 200)) / sqrt(1.0 + (double)rng_below(&r, 5));
        for (size_t i = 0; i < FM_DIM; i++)
            x[i] = (float)((rng_uniform(&r) - 0.4) * ldexp(1.0, (int)rng_below(&r, 8) - 6));
        f->link[k] = (struct codec_link){ .seed = 3, .round = 9, .client = 1000 + 7 * k };
        f->msg[k] = malloc(f->cap);
        ck_assert_ptr_nonnull(f->msg[k]);
        ck_assert_int_eq(codec_encode(enc, f->msg[k], f->cap, &f->len[k], x, &f->link[k], &eb), 0);
    }
    codec_free(enc);
}

static void
fm_teardown(struct fm_fixture *f)
{
    for (size_t k = 0; k < FM_K; k++)
        free(f->msg[k]);
}

static struct fedavg *
fm_new(const struct fm_fixture *f)
{
    struct fedavg *a = fedavg_new(&f->p, FM_DIM);
    ck_assert_ptr_nonnull(a);
    fedavg_begin(a);
    return a;
}

static void
fm_add(const struct fm_fixture *f, struct fedavg *a, size_t k)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(fedavg_add(a, f->msg[k], f->len[k], f->weight[k], &f->link[k], &eb) == 0,
                  "message %zu: %s", k, eb.msg);
}

static void
fm_finish(const struct fm_fixture *f, struct fedavg *a, float out[FM_DIM])
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(fedavg_finish(a, out, &f->round_link, &eb) == 0, "%s", eb.msg);
}

START_TEST(merge_gives_the_same_mean_bits)
{
    const struct fm_codec *c = &fm_codecs[_i];
    static struct fm_fixture f;
    fm_setup(&f, c);

    struct fedavg *all = fm_new(&f);
    for (size_t k = 0; k < FM_K; k++)
        fm_add(&f, all, k);
    float want[FM_DIM], got[FM_DIM];
    fm_finish(&f, all, want);
    for (size_t i = 0; i < FM_DIM; i++)
        ck_assert(isfinite(want[i]));
    const double weight = fedavg_weight(all);

    /* One aggregator, the messages in reverse. */
    struct fedavg *rev = fm_new(&f);
    for (size_t k = FM_K; k-- > 0;)
        fm_add(&f, rev, k);
    fm_finish(&f, rev, got);
    ck_assert_mem_eq(got, want, sizeof want);

    /* Two partial aggregators over a shuffled order, split unevenly, merged. */
    uint32_t idx[FM_K];
    for (uint32_t k = 0; k < FM_K; k++)
        idx[k] = k;
    struct rng r;
    rng_init_stream(&r, 6, RNG_PURPOSE_TEST, 0, 0);
    rng_shuffle_u32(&r, idx, FM_K);
    struct fedavg *p1 = fm_new(&f), *p2 = fm_new(&f);
    for (size_t k = 0; k < FM_K; k++)
        fm_add(&f, k < 17 ? p1 : p2, idx[k]);
    ck_assert_uint_eq(fedavg_count(p1), 17);
    fedavg_merge(p2, p1);
    ck_assert_uint_eq(fedavg_count(p2), FM_K);
    ck_assert_uint_eq(fedavg_count(p1), 17); /* src is unchanged */
    ck_assert(fedavg_weight(p2) == weight);
    fm_finish(&f, p2, got);
    ck_assert_mem_eq(got, want, sizeof want);

    /* Three partials (k mod 3, as threads take clients) merged into an empty one. */
    struct fedavg *part[3] = { fm_new(&f), fm_new(&f), fm_new(&f) };
    for (size_t k = 0; k < FM_K; k++)
        fm_add(&f, part[k % 3], k);
    struct fedavg *dst = fm_new(&f);
    fedavg_merge(dst, part[2]);
    fedavg_merge(dst, part[0]);
    fedavg_merge(dst, part[1]);
    ck_assert_uint_eq(fedavg_count(dst), FM_K);
    fm_finish(&f, dst, got);
    ck_assert_mem_eq(got, want, sizeof want);

    /* Ranks: the raw words of two sums added (sim/cluster.c), finished on one of them. */
    struct fedavg *even = fm_new(&f), *odd = fm_new(&f);
    for (size_t k = 0; k < FM_K; k++)
        fm_add(&f, k % 2 ? odd : even, k);
    struct exact_sum *se = fedavg_sum(even);
    ck_assert_uint_eq(exact_sum_len(se), exact_sum_len(fedavg_sum(odd)));
    exact_sum_words_add(exact_sum_words(se), exact_sum_words(fedavg_sum(odd)), exact_sum_len(se));
    ck_assert(fedavg_weight(even) == weight);
    fm_finish(&f, even, got);
    ck_assert_mem_eq(got, want, sizeof want);

    fedavg_free(all);
    fedavg_free(rev);
    fedavg_free(p1);
    fedavg_free(p2);
    for (size_t p = 0; p < 3; p++)
        fedavg_free(part[p]);
    fedavg_free(dst);
    fedavg_free(even);
    fedavg_free(odd);
    fm_teardown(&f);
}
END_TEST

/*
 * The weight sum is exact and rounded once: 0.1 + 0.2 + 0.3 (doubles, all multiples of
 * 2^-63) is 0.6000000000000000055..., nearest double 0.6 in every order, while double
 * addition gives 0.6000000000000001 for (0.1 + 0.2) + 0.3.
 */
START_TEST(weight_is_the_exact_sum)
{
    struct fa_fixture f;
    fa_setup(&f);
    const float a[FA_DIM] = { 0.5f, -1.25f, 3.0f, 0.0f, 1024.0f, -0.0078125f, 7.75f };
    struct errbuf eb;
    errbuf_clear(&eb);
    fedavg_begin(f.agg);
    ck_assert(fedavg_weight(f.agg) == 0.0);
    /* The accumulator: codec none has acc_len = dim, then the weight. */
    struct exact_sum *sum = fedavg_sum(f.agg);
    ck_assert_uint_eq(exact_sum_len(sum), FA_DIM + 1);

    ck_assert_int_eq(fa_add(&f, a, 13.0, &eb), 0);
    ck_assert_int_eq(fa_add(&f, a, 42.0, &eb), 0);
    ck_assert_int_eq(fa_add(&f, a, 71.0, &eb), 0);
    ck_assert(fedavg_weight(f.agg) == 126.0);
    ck_assert(exact_sum_get(sum, FA_DIM) == 126.0);
    /* A refused add leaves the weight alone. */
    ck_assert_int_eq(fa_add(&f, a, -1.0, &eb), -ERR_INVALID);
    ck_assert_int_eq(fedavg_add(f.agg, f.msg, 3, 5.0, &fa_link, &eb), -ERR_CORRUPT);
    ck_assert(fedavg_weight(f.agg) == 126.0);

    volatile double tenth = 0.1, fifth = 0.2, three_tenths = 0.3;
    ck_assert((tenth + fifth) + three_tenths != 0.6);
    ck_assert(tenth + (fifth + three_tenths) == 0.6);
    const double w[3] = { 0.1, 0.2, 0.3 };
    static const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
                                     { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    for (size_t p = 0; p < 6; p++) {
        fedavg_begin(f.agg);
        for (size_t k = 0; k < 3; k++)
            ck_assert_int_eq(fa_add(&f, a, w[perms[p][k]], &eb), 0);
        ck_assert_msg(fedavg_weight(f.agg) == 0.6, "order %zu: weight %a", p, fedavg_weight(f.agg));
        /* Equal vectors: the mean is the vector up to three float roundings (the sum,
         * 1 / weight, the product), so within 1e-6 relative. */
        float out[FA_DIM];
        ck_assert_int_eq(fedavg_finish(f.agg, out, &fa_link, &eb), 0);
        for (size_t i = 0; i < FA_DIM; i++)
            ck_assert_rel_tol(out[i], a[i], 1e-6);
    }

    /* Merged: the weight of the union. */
    struct codec_params p;
    codec_params_default(&p);
    struct fedavg *other = fedavg_new(&p, FA_DIM);
    ck_assert_ptr_nonnull(other);
    fedavg_begin(other);
    ck_assert_int_eq(fedavg_add(other, f.msg, FA_DIM * 4, 2.5, &fa_link, &eb), 0);
    fedavg_merge(f.agg, other);
    ck_assert(fedavg_weight(f.agg) == 3.1);
    ck_assert(fedavg_weight(other) == 2.5);
    ck_assert_uint_eq(fedavg_count(f.agg), 4);
    fedavg_free(other);
    fa_teardown(&f);
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
    tcase_add_test(tc, weight_is_the_exact_sum);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_loop_test(tc, merge_gives_the_same_mean_bits, 0,
                        (int)(sizeof fm_codecs / sizeof fm_codecs[0]));
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
