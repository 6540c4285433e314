/*
 * ecuq: entropy-constrained uniform quantisation. Round trip within Δ/2, the entropy
 * constraint H <= b (and H >= b − tolerance where the search can reach it), coded length
 * against d·H, determinism, constant vectors, and every truncation and corruption rejected.
 */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "codec/ecuq.h"
#include "tests/support/check_support.h"
#include "tests/unit/docofl/suites.h"

void
tdocofl_gaussian(float *x, size_t d, uint64_t seed, uint64_t trial)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, trial, 0);
    for (size_t i = 0; i < d; i++)
        x[i] = (float)gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0);
}

void
tdocofl_model_like(float *x, size_t d, uint64_t seed, uint64_t trial)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, trial, 1);
    for (size_t i = 0; i < d; i++) {
        double u = rng_uniform(&r);
        if (u < 0.01)
            x[i] = (float)(0.2 + gsl_ran_gaussian_ziggurat(rng_gsl(&r), 0.5));
        else if (u < 0.02)
            x[i] = 0.0f;
        else
            x[i] = (float)(0.05 * gsl_ran_tdist(rng_gsl(&r), 3.0));
    }
}

uint32_t
tdocofl_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFU;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320U & (0U - (c & 1U)));
    }
    return ~c;
}

struct eq_fixture {
    struct ecuq *q;
    float *x, *y;
    uint8_t *msg;
    size_t cap, d;
};

static void
eq_setup(struct eq_fixture *f, double bits, size_t d)
{
    struct ecuq_params p;
    ecuq_params_default(&p, bits);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(ecuq_params_check(&p, d, &eb) == 0, "%s", eb.msg);
    f->d = d;
    f->q = ecuq_new(&p, d);
    ck_assert_ptr_nonnull(f->q);
    f->cap = ecuq_max_bytes(f->q);
    f->x = calloc(d, sizeof *f->x);
    f->y = calloc(d, sizeof *f->y);
    f->msg = malloc(f->cap);
    ck_assert(f->x && f->y && f->msg);
}

static void
eq_teardown(struct eq_fixture *f)
{
    ecuq_free(f->q);
    free(f->x);
    free(f->y);
    free(f->msg);
}

/* Encodes f->x, decodes into f->y, checks the error bound; returns the message length. */
static size_t
eq_round_trip(struct eq_fixture *f, struct ecuq_stats *st)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    size_t len = 0;
    ck_assert_msg(ecuq_encode(f->q, f->msg, f->cap, &len, f->x, &eb) == 0, "%s", eb.msg);
    ecuq_last_stats(f->q, st);
    ck_assert_msg(ecuq_decode(f->q, f->y, f->msg, len, &eb) == 0, "%s", eb.msg);
    /*
     * Nearest-centre rounding: |x − x̂| <= Δ/2, plus float rounding of the reconstruction
     * (a few ulps of max |x|) and, for the top level, L·(Δ_exact − Δ_float32) <= L·ulp(Δ).
     */
    float amax = 0.0f;
    for (size_t i = 0; i < f->d; i++)
        amax = fmaxf(amax, fabsf(f->x[i]));
    double slack = 4e-7 * amax + (double)st->levels * (double)st->step * 1.2e-7;
    for (size_t i = 0; i < f->d; i++)
        ck_assert_msg(fabs((double)f->x[i] - (double)f->y[i]) <= 0.5 * st->step + slack,
                      "coordinate %zu: %g decoded as %g (step %g)", i, (double)f->x[i],
                      (double)f->y[i], (double)st->step);
    return len;
}

/*
 * Table: b = 1..4 on N(0, 1) and on the model-like vector, d = 2^14. H <= b must hold
 * exactly; b − 0.1 <= H is what the search promises when 20 steps suffice, which they do for
 * these smooth laws, unless L + 1 levels already exceed b (then no level count fits). Coded length:
 * 12-byte header + count header + d·H payload (within 0.1 % + 96 bits, see test_entropy.c) + 4-byte
 * CRC; we bound the count header by the levels used times (2·log2 L + 2·log2 d + 2) bits.
 */
START_TEST(round_trip_within_budget)
{
    const double bits = 1.0 + (double)(_i % 4);
    const int model_like = _i / 4;
    const size_t d = 1 << 14;
    struct eq_fixture f;
    eq_setup(&f, bits, d);
    if (model_like)
        tdocofl_model_like(f.x, d, 21, (uint64_t)_i);
    else
        tdocofl_gaussian(f.x, d, 21, (uint64_t)_i);
    struct ecuq_stats st;
    size_t len = eq_round_trip(&f, &st);
    ck_assert_double_le(st.entropy, bits);
    ck_assert_msg(st.entropy >= bits - 0.1 || st.above == st.levels + 1,
                  "b %g: H = %.4f with %u levels, %u levels exceed b", bits, st.entropy, st.levels,
                  st.above);
    ck_assert_uint_le(st.steps, 20);
    ck_assert_uint_ge(st.levels, (unsigned)exp2(bits));
    double hdr_bits = (double)st.levels * (2 * log2((double)st.levels + 1) + 2 * log2(d) + 2);
    double payload = 8.0 * (double)(len - ECUQ_HEADER_BYTES - ECUQ_CRC_BYTES);
    double dh = (double)d * st.entropy;
    ck_assert_msg(payload <= dh * 1.001 + 96 + hdr_bits && payload >= dh * 0.999 - 96,
                  "b %g: %zu bytes for d·H = %.0f bits", bits, len, dh);
    eq_teardown(&f);
}
END_TEST

START_TEST(deterministic_bytes)
{
    struct eq_fixture f;
    eq_setup(&f, 2, 3000);
    tdocofl_model_like(f.x, f.d, 4, 0);
    size_t len1 = 0, len2 = 0;
    ck_assert_int_eq(ecuq_encode(f.q, f.msg, f.cap, &len1, f.x, NULL), 0);
    uint8_t *copy = malloc(len1);
    memcpy(copy, f.msg, len1);
    struct ecuq_params p;
    ecuq_params_default(&p, 2);
    struct ecuq *other = ecuq_new(&p, f.d);
    ck_assert_int_eq(ecuq_encode(other, f.msg, f.cap, &len2, f.x, NULL), 0);
    ck_assert_uint_eq(len1, len2);
    ck_assert_mem_eq(copy, f.msg, len1);
    ecuq_free(other);
    free(copy);
    eq_teardown(&f);
}
END_TEST

/* A constant vector is L = 1, Δ = 0 and decodes exactly; so does d = 1. */
START_TEST(constant_vectors_are_exact)
{
    struct eq_fixture f;
    eq_setup(&f, 2, 777);
    for (size_t i = 0; i < f.d; i++)
        f.x[i] = 2.385f;
    struct ecuq_stats st;
    eq_round_trip(&f, &st);
    ck_assert_uint_eq(st.levels, 1);
    ck_assert_double_eq(st.entropy, 0.0);
    ck_assert_mem_eq(f.x, f.y, f.d * sizeof *f.x);
    eq_teardown(&f);
    eq_setup(&f, 3, 1);
    f.x[0] = -7.25f;
    eq_round_trip(&f, &st);
    ck_assert_float_eq(f.y[0], -7.25f);
    eq_teardown(&f);
}
END_TEST

/*
 * Two values far apart with one outlier: the search can never reach b − tolerance (the
 * entropy of two populated levels is at most 1 bit), so it must stop after max_steps or at
 * max_levels with H <= b, still round-tripping within Δ/2.
 */
START_TEST(search_stops_when_budget_unreachable)
{
    struct eq_fixture f;
    eq_setup(&f, 3, 1000);
    for (size_t i = 0; i < f.d; i++)
        f.x[i] = i % 2 ? 1.0f : -1.0f;
    f.x[17] = 1e6f;
    struct ecuq_stats st;
    eq_round_trip(&f, &st);
    ck_assert_double_le(st.entropy, 3.0);
    ck_assert_uint_le(st.steps, 20);
    ck_assert_uint_le(st.levels, 1U << 16);
    eq_teardown(&f);
}
END_TEST

/* The CRC catches every truncation and every single-bit flip of a small message. */
START_TEST(rejects_every_truncation_and_bit_flip)
{
    struct eq_fixture f;
    eq_setup(&f, 2, 200);
    tdocofl_model_like(f.x, f.d, 8, 0);
    size_t len = 0;
    ck_assert_int_eq(ecuq_encode(f.q, f.msg, f.cap, &len, f.x, NULL), 0);
    struct errbuf eb;
    for (size_t l = 0; l < len; l++) {
        errbuf_clear(&eb);
        ck_assert_int_eq(ecuq_decode(f.q, f.y, f.msg, l, &eb), -ERR_CORRUPT);
    }
    for (size_t bit = 0; bit < 8 * len; bit++) {
        f.msg[bit / 8] ^= (uint8_t)(1U << (bit % 8));
        errbuf_clear(&eb);
        ck_assert_msg(ecuq_decode(f.q, f.y, f.msg, len, &eb) == -ERR_CORRUPT,
                      "flip of bit %zu accepted", bit);
        f.msg[bit / 8] ^= (uint8_t)(1U << (bit % 8));
    }
    ck_assert_int_eq(ecuq_decode(f.q, f.y, f.msg, len, &eb), 0);
    eq_teardown(&f);
}
END_TEST

/* Replaces bytes [off, off + 4) with v and re-seals the CRC; returns decode's code. */
static int
eq_forge(struct eq_fixture *f, const uint8_t *good, size_t len, size_t off, uint32_t v)
{
    memcpy(f->msg, good, len);
    memcpy(f->msg + off, &v, 4);
    uint32_t crc = tdocofl_crc32(f->msg, len - 4);
    memcpy(f->msg + len - 4, &crc, 4);
    struct errbuf eb;
    errbuf_clear(&eb);
    return ecuq_decode(f->q, f->y, f->msg, len, &eb);
}

/* Messages with a valid CRC but impossible content are still rejected. */
START_TEST(rejects_forged_headers)
{
    struct eq_fixture f;
    eq_setup(&f, 2, 300);
    tdocofl_gaussian(f.x, f.d, 9, 0);
    size_t len = 0;
    ck_assert_int_eq(ecuq_encode(f.q, f.msg, f.cap, &len, f.x, NULL), 0);
    uint8_t *good = malloc(len);
    memcpy(good, f.msg, len);
    float nan = NAN, inf = INFINITY, neg = -1.0f, zero = 0.0f, huge = 3e38f;
    uint32_t u;
    ck_assert_int_eq(eq_forge(&f, good, len, 0, 0), -ERR_CORRUPT);        /* L = 0 */
    ck_assert_int_eq(eq_forge(&f, good, len, 0, 1U << 20), -ERR_CORRUPT); /* L > max */
    ck_assert_int_eq(eq_forge(&f, good, len, 0, 1), -ERR_CORRUPT);        /* L = 1, Δ > 0 */
    memcpy(&u, &nan, 4);
    ck_assert_int_eq(eq_forge(&f, good, len, 4, u), -ERR_CORRUPT);
    memcpy(&u, &inf, 4);
    ck_assert_int_eq(eq_forge(&f, good, len, 8, u), -ERR_CORRUPT);
    memcpy(&u, &neg, 4);
    ck_assert_int_eq(eq_forge(&f, good, len, 8, u), -ERR_CORRUPT);
    memcpy(&u, &zero, 4);
    ck_assert_int_eq(eq_forge(&f, good, len, 8, u), -ERR_CORRUPT);
    memcpy(&u, &huge, 4);
    ck_assert_int_eq(eq_forge(&f, good, len, 8, u), -ERR_CORRUPT);
    /* A count header for fewer levels than the indices use. */
    uint32_t levels = 0;
    memcpy(&levels, good, 4);
    ck_assert_int_eq(eq_forge(&f, good, len, 0, 2), -ERR_CORRUPT);
    ck_assert_int_eq(eq_forge(&f, good, len, 0, levels), 0);
    free(good);
    eq_teardown(&f);
}
END_TEST

START_TEST(rejects_bad_input_and_parameters)
{
    struct eq_fixture f;
    eq_setup(&f, 2, 10);
    size_t len = 0;
    struct errbuf eb;
    errbuf_clear(&eb);
    f.x[3] = NAN;
    ck_assert_int_eq(ecuq_encode(f.q, f.msg, f.cap, &len, f.x, &eb), -ERR_INVALID);
    f.x[3] = 1.0f;
    ck_assert_int_eq(ecuq_encode(f.q, f.msg, 10, &len, f.x, &eb), -ERR_RANGE);
    ck_assert_int_eq(ecuq_encode(f.q, f.msg, 25, &len, f.x, &eb), -ERR_RANGE);
    eq_teardown(&f);
    struct ecuq_params p;
    ecuq_params_default(&p, 0.5);
    ck_assert_int_eq(ecuq_params_check(&p, 10, &eb), -ERR_RANGE);
    ecuq_params_default(&p, 2);
    p.tolerance = 0;
    ck_assert_int_eq(ecuq_params_check(&p, 10, &eb), -ERR_RANGE);
    ecuq_params_default(&p, 2);
    p.max_steps = 0;
    ck_assert_int_eq(ecuq_params_check(&p, 10, &eb), -ERR_RANGE);
    ecuq_params_default(&p, 4);
    p.max_levels = 8;
    ck_assert_int_eq(ecuq_params_check(&p, 10, &eb), -ERR_RANGE);
    ecuq_params_default(&p, 2);
    ck_assert_int_eq(ecuq_params_check(&p, 0, &eb), -ERR_RANGE);
}
END_TEST

/* Failing each allocation of ecuq_new in turn returns NULL cleanly (no leak under ASan). */
START_TEST(allocation_failures)
{
    struct ecuq_params p;
    ecuq_params_default(&p, 2);
    for (long n = 1;; n++) {
        mem_fault_arm(n);
        struct ecuq *q = ecuq_new(&p, 100);
        int fired = mem_fault_fired();
        mem_fault_arm(0);
        if (!fired) {
            ck_assert_ptr_nonnull(q);
            ecuq_free(q);
            break;
        }
        ck_assert_ptr_null(q);
    }
}
END_TEST

Suite *
ecuq_suite(void)
{
    Suite *s = suite_create("ecuq");
    TCase *tc = tcase_create("ecuq");
    tcase_add_loop_test(tc, round_trip_within_budget, 0, 8);
    tcase_add_test(tc, deterministic_bytes);
    tcase_add_test(tc, constant_vectors_are_exact);
    tcase_add_test(tc, search_stops_when_budget_unreachable);
    tcase_add_test(tc, rejects_every_truncation_and_bit_flip);
    tcase_add_test(tc, rejects_forged_headers);
    tcase_add_test(tc, rejects_bad_input_and_parameters);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}
