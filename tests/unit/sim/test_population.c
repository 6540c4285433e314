/*
 * population: client attributes (constant, lognormal, tiers, traces), their independence
 * from the population size, transfer and compute times, availability and the refusals of
 * bad traces.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "base/mem.h"
#include "base/rng.h"
#include "sim/population.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static void
pop_params(struct population_params *p)
{
    memset(p, 0, sizeof *p);
    p->compute = POPULATION_CONSTANT;
    p->seconds_per_sample = 0.01;
    p->network = POPULATION_NETWORK_CONSTANT;
    p->downlink_mbps = 8.0;
    p->uplink_mbps = 4.0;
    p->latency_ms = 20.0;
    p->availability = POPULATION_ALWAYS;
    p->availability_p = 1.0;
    p->diurnal_period_s = 86400.0;
}

static struct population *
pop_new(const struct population_params *p, size_t n, uint64_t seed)
{
    struct population *pop = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = population_new(&pop, p, n, seed, &eb);
    ck_assert_msg(rc == 0, "%s", eb.msg);
    return pop;
}

/* Writes text to dir/name; returns the owned path (free()). */
static char *
pop_file(const char *dir, const char *name, const char *text)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

START_TEST(constant_population_exact_times)
{
    struct population_params p;
    pop_params(&p);
    p.dropout_p = 0.25;
    struct population *pop = pop_new(&p, 3, 1);
    for (size_t k = 0; k < 3; k++) {
        ck_assert_double_eq(population_seconds_per_sample(pop, k), 0.01);
        ck_assert_double_eq(population_downlink_mbps(pop, k), 8.0);
        ck_assert_double_eq(population_uplink_mbps(pop, k), 4.0);
        ck_assert_double_eq(population_dropout_p(pop, k), 0.25);
        ck_assert(population_available(pop, k, 5, 123456789));
    }
    /* 600 samples at 10 ms: 6 s. 8 Mbit down at 8 Mbit/s + 20 ms: 1.02 s; up at 4: 2.02 s. */
    ck_assert_int_eq(population_compute_us(pop, 1, 600.0), 6000000);
    ck_assert_int_eq(population_expected_transfer_us(pop, 2, true, 8000000), 1020000);
    ck_assert_int_eq(population_expected_transfer_us(pop, 2, false, 8000000), 2020000);
    /* Without jitter the actual transfer is the expected one in every round. */
    ck_assert_int_eq(population_transfer_us(pop, 2, 7, false, 8000000), 2020000);
    ck_assert_int_eq(population_compute_us(pop, 0, 0.0), 0);
    population_free(pop);
    population_free(NULL);
}
END_TEST

START_TEST(client_attributes_do_not_depend_on_population_size)
{
    struct population_params p;
    pop_params(&p);
    p.compute = POPULATION_LOGNORMAL;
    p.compute_sigma = 0.6;
    p.network = POPULATION_NETWORK_LOGNORMAL;
    p.network_sigma = 0.8;
    p.dropout_p = 0.1;
    p.dropout_sigma = 1.0;
    struct population *small = pop_new(&p, 10, 42), *big = pop_new(&p, 1000, 42);
    struct population *other = pop_new(&p, 10, 43);
    size_t differ = 0;
    for (size_t k = 0; k < 10; k++) {
        ck_assert_double_eq(population_seconds_per_sample(small, k),
                            population_seconds_per_sample(big, k));
        ck_assert_double_eq(population_downlink_mbps(small, k), population_downlink_mbps(big, k));
        ck_assert_double_eq(population_dropout_p(small, k), population_dropout_p(big, k));
        /* One factor scales both directions: the up/down ratio is the configured one. */
        ck_assert_double_eq_tol(
            population_uplink_mbps(small, k) / population_downlink_mbps(small, k), 0.5, 1e-12);
        differ +=
            population_seconds_per_sample(small, k) != population_seconds_per_sample(other, k);
    }
    ck_assert_uint_eq(differ, 10);
    /* The lognormal median: about half the clients are below seconds_per_sample. */
    size_t below = 0;
    for (size_t k = 0; k < 1000; k++)
        below += population_seconds_per_sample(big, k) < 0.01;
    ck_assert_uint_gt(below, 420);
    ck_assert_uint_lt(below, 580);
    population_free(small);
    population_free(big);
    population_free(other);
}
END_TEST

START_TEST(tiers_take_only_tier_values)
{
    struct population_params p;
    pop_params(&p);
    p.compute = POPULATION_TIERS;
    p.n_tiers = 3;
    p.tier_share[0] = 0.5;
    p.tier_share[1] = 0.5;
    p.tier_share[2] = 0.0;
    p.tier_seconds[0] = 0.1;
    p.tier_seconds[1] = 0.2;
    p.tier_seconds[2] = 0.3;
    struct population *pop = pop_new(&p, 400, 3);
    size_t first = 0;
    for (size_t k = 0; k < 400; k++) {
        double v = population_seconds_per_sample(pop, k);
        ck_assert(v == 0.1 || v == 0.2);
        first += v == 0.1;
    }
    ck_assert_uint_gt(first, 150);
    ck_assert_uint_lt(first, 250);
    population_free(pop);
    p.n_tiers = 0;
    struct population *none = NULL;
    ck_assert_int_eq(population_new(&none, &p, 4, 3, NULL), -ERR_INVALID);
    ck_assert_ptr_null(none);
}
END_TEST

START_TEST(jitter_has_mean_one_and_is_deterministic)
{
    struct population_params p;
    pop_params(&p);
    p.latency_ms = 0;
    p.jitter = 0.4;
    struct population *pop = pop_new(&p, 2, 9);
    int64_t expect = population_expected_transfer_us(pop, 0, true, 8000000);
    ck_assert_int_eq(expect, 1000000);
    double sum = 0;
    size_t rounds = 4000;
    for (uint64_t r = 0; r < rounds; r++) {
        int64_t t = population_transfer_us(pop, 0, r, true, 8000000);
        ck_assert_int_eq(t, population_transfer_us(pop, 0, r, true, 8000000));
        sum += (double)t / (double)expect;
    }
    /* Mean 1, relative std 0.4: the mean of 4000 factors is within 4 standard errors. */
    ck_assert_double_eq_tol(sum / (double)rounds, 1.0, 4 * 0.4 / sqrt((double)rounds));
    ck_assert_int_ne(population_transfer_us(pop, 0, 3, true, 8000000),
                     population_transfer_us(pop, 0, 3, false, 4000000));
    population_free(pop);
}
END_TEST

START_TEST(availability_probability_and_diurnal)
{
    struct population_params p;
    pop_params(&p);
    p.availability = POPULATION_PROBABILITY;
    p.availability_p = 0.3;
    struct population *pop = pop_new(&p, 1000, 5);
    size_t on = 0;
    for (size_t k = 0; k < 1000; k++) {
        bool a = population_available(pop, k, 2, 0);
        ck_assert(a == population_available(pop, k, 2, 999999)); /* a draw per round */
        on += a;
    }
    ck_assert_uint_gt(on, 250);
    ck_assert_uint_lt(on, 350);
    population_free(pop);
    p.availability_p = 0.0;
    pop = pop_new(&p, 10, 5);
    for (size_t k = 0; k < 10; k++)
        ck_assert(!population_available(pop, k, 1, 0));
    population_free(pop);
    /* Diurnal with amplitude 0.5 and p = 1: availability 0.5 + 0.5 sin(...), so over a day
     * about half the (client, time) pairs are available. */
    p.availability = POPULATION_DIURNAL;
    p.availability_p = 1.0;
    p.diurnal_amplitude = 0.5;
    pop = pop_new(&p, 200, 5);
    on = 0;
    size_t differ = 0; /* given another client's phase */
    for (size_t k = 0; k < 200; k++) {
        double phase = population_phase(pop, k);
        ck_assert(phase >= 0 && phase < 1);
        for (int h = 0; h < 24; h++) {
            int64_t t = (int64_t)h * 3600 * 1000000;
            bool a = population_available(pop, k, (uint64_t)h, t);
            /* A scan's kept phase gives the same answers as the phase drawn at each check. */
            ck_assert(a == population_available_at_phase(pop, k, (uint64_t)h, t, phase));
            differ += a != population_available_at_phase(pop, k, (uint64_t)h, t,
                                                         population_phase(pop, (k + 1) % 200));
            on += a;
        }
    }
    ck_assert_uint_gt(differ, 0);
    ck_assert_uint_gt(on, 2400 - 240);
    ck_assert_uint_lt(on, 2400 + 240);
    population_free(pop);
}
END_TEST

START_TEST(traces_are_replayed_modulo_their_length)
{
    char *dir = tsupport_tmpdir();
    char *compute = pop_file(dir, "c.txt", "# seconds per sample\n0.5\n\n0.25 # fast\n");
    char *network = pop_file(dir, "n.txt", "10 5 30\n2,1\n");
    char *avail = pop_file(dir, "a.txt", "100 10 20 50 60\n# second entry\n1000 0 1000\n");
    struct population_params p;
    pop_params(&p);
    p.compute = POPULATION_TRACE;
    snprintf(p.compute_trace, sizeof p.compute_trace, "%s", compute);
    p.network = POPULATION_NETWORK_TRACE;
    snprintf(p.network_trace, sizeof p.network_trace, "%s", network);
    p.availability = POPULATION_AVAILABILITY_TRACE;
    snprintf(p.availability_trace, sizeof p.availability_trace, "%s", avail);
    struct population *pop = pop_new(&p, 5, 1);
    ck_assert_double_eq(population_seconds_per_sample(pop, 0), 0.5);
    ck_assert_double_eq(population_seconds_per_sample(pop, 1), 0.25);
    ck_assert_double_eq(population_seconds_per_sample(pop, 4), 0.5);
    ck_assert_double_eq(population_downlink_mbps(pop, 0), 10.0);
    ck_assert_double_eq(population_uplink_mbps(pop, 3), 1.0);
    /* Entry 0 has its own latency (30 ms), entry 1 the configured one (20 ms). */
    ck_assert_int_eq(population_expected_transfer_us(pop, 0, true, 10000000), 1030000);
    ck_assert_int_eq(population_expected_transfer_us(pop, 1, false, 1000000), 1020000);
    const int64_t s = 1000000;
    ck_assert(population_available(pop, 0, 0, 15 * s));
    ck_assert(!population_available(pop, 0, 0, 25 * s));
    ck_assert(population_available(pop, 0, 0, 155 * s)); /* 155 mod 100 = 55 */
    ck_assert(population_available(pop, 2, 0, 10 * s));  /* windows are closed intervals */
    ck_assert(population_available(pop, 1, 0, 999 * s));
    population_free(pop);
    free(compute);
    free(network);
    free(avail);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/* A trace that population_new() refuses: code, words of the message, file and line. */
static void
pop_refused(const char *dir, int kind, const char *text, int code, const char *words, long line)
{
    char *path = pop_file(dir, "bad.txt", text);
    struct population_params p;
    pop_params(&p);
    if (kind == 0) {
        p.compute = POPULATION_TRACE;
        snprintf(p.compute_trace, sizeof p.compute_trace, "%s", path);
    } else if (kind == 1) {
        p.network = POPULATION_NETWORK_TRACE;
        snprintf(p.network_trace, sizeof p.network_trace, "%s", path);
    } else {
        p.availability = POPULATION_AVAILABILITY_TRACE;
        snprintf(p.availability_trace, sizeof p.availability_trace, "%s", path);
    }
    struct population *pop = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(population_new(&pop, &p, 3, 1, &eb), code);
    ck_assert_ptr_null(pop);
    ck_assert_msg(strstr(eb.msg, words) != NULL, "'%s' not in '%s'", words, eb.msg);
    ck_assert_str_eq(eb.file, path);
    ck_assert_int_eq(eb.line, line);
    free(path);
}

START_TEST(bad_traces_are_refused_with_their_location)
{
    char *dir = tsupport_tmpdir();
    pop_refused(dir, 0, "0.1\n-0.2\n", -ERR_CORRUPT, "non-negative number", 2);
    pop_refused(dir, 0, "0.1\nabc\n", -ERR_CORRUPT, "non-negative number", 2);
    pop_refused(dir, 0, "0.1 0.2\n", -ERR_CORRUPT, "more than 1 values", 1);
    pop_refused(dir, 0, "# only a comment\n\n", -ERR_CORRUPT, "no entries", 0);
    pop_refused(dir, 1, "10\n", -ERR_CORRUPT, "at least 2 values", 1);
    pop_refused(dir, 1, "10 5\n0 5\n", -ERR_CORRUPT, "entry 2: bandwidth must be positive", 0);
    pop_refused(dir, 2, "100 10\n", -ERR_CORRUPT, "entry 1: expected a positive period", 0);
    pop_refused(dir, 2, "100 10 20\n0 1 2\n", -ERR_CORRUPT, "entry 2", 0);
    pop_refused(dir, 2, "100 30 20\n", -ERR_CORRUPT, "window 1 ends before it starts", 0);
    struct population_params p;
    pop_params(&p);
    p.compute = POPULATION_TRACE;
    snprintf(p.compute_trace, sizeof p.compute_trace, "%s", "/nonexistent/trace.txt");
    struct population *pop = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(population_new(&pop, &p, 3, 1, &eb), -ERR_IO);
    ck_assert_str_eq(eb.file, "/nonexistent/trace.txt");
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/*
 * Attributes are drawn on demand from client k's device stream, in its documented order
 * (compute, then dropout propensity): the values of any client, asked for in any order,
 * are those of the stream, as if the whole population had been drawn at the start.
 */
START_TEST(attributes_are_the_device_stream_drawn_on_demand)
{
    struct population_params p;
    pop_params(&p);
    p.compute = POPULATION_LOGNORMAL;
    p.compute_sigma = 0.6;
    p.dropout_p = 0.1;
    p.dropout_sigma = 1.0;
    struct population *pop = pop_new(&p, 100000000, 7);
    static const size_t ks[] = { 99999999, 3, 123456, 0, 3 };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        struct rng r;
        rng_init_stream(&r, 7, RNG_PURPOSE_DEVICE, 0, ks[i]);
        double sps = 0.01 * exp(0.6 * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0));
        double dp = 0.1 * exp(gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0) - 0.5);
        ck_assert_double_eq(population_dropout_p(pop, ks[i]), dp > 1 ? 1 : dp);
        ck_assert_double_eq(population_seconds_per_sample(pop, ks[i]), sps);
    }
    population_free(pop);
}
END_TEST

/* Nothing is allocated per client: one block, whether 8 clients or 10^8. */
START_TEST(out_of_memory_is_clean)
{
    struct population_params p;
    pop_params(&p);
    int failed = 0;
    for (long n = 1; n < 50; n++) {
        struct population *pop = NULL;
        mem_fault_arm(n);
        int rc = population_new(&pop, &p, _i == 0 ? 8 : 100000000, 1, NULL);
        int fired = mem_fault_fired();
        mem_fault_arm(0);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            population_free(pop);
            break;
        }
        ck_assert_int_eq(rc, -ERR_NOMEM);
        ck_assert_ptr_null(pop);
        failed++;
    }
    ck_assert_int_eq(failed, 1);
}
END_TEST

Suite *
population_suite(void)
{
    Suite *s = suite_create("population");
    TCase *tc = tcase_create("population");
    tcase_add_test(tc, constant_population_exact_times);
    tcase_add_test(tc, client_attributes_do_not_depend_on_population_size);
    tcase_add_test(tc, tiers_take_only_tier_values);
    tcase_add_test(tc, jitter_has_mean_one_and_is_deterministic);
    tcase_add_test(tc, availability_probability_and_diurnal);
    tcase_add_test(tc, traces_are_replayed_modulo_their_length);
    tcase_add_test(tc, bad_traces_are_refused_with_their_location);
    tcase_add_test(tc, attributes_are_the_device_stream_drawn_on_demand);
    tcase_add_loop_test(tc, out_of_memory_is_clean, 0, 2);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, cohort_tcase());
    return s;
}
