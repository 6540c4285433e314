/*
 * cohort: the scan takes the documented partial shuffle of the eligible clients; the draw
 * returns distinct eligible clients, all of them when asked for every one, and respects busy
 * clients; both are functions of (seed, draw).
 */
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "sim/cohort.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

enum { CO_N = 500 };

static struct population *
co_population(int availability, double p)
{
    struct population_params pp;
    memset(&pp, 0, sizeof pp);
    pp.compute = POPULATION_CONSTANT;
    pp.seconds_per_sample = 0.01;
    pp.network = POPULATION_CONSTANT;
    pp.downlink_mbps = 8.0;
    pp.uplink_mbps = 4.0;
    pp.availability = availability;
    pp.availability_p = p;
    pp.diurnal_amplitude = 0.4;
    pp.diurnal_period_s = 86400.0;
    struct population *pop = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(population_new(&pop, &pp, CO_N, 3, &eb), 0);
    return pop;
}

START_TEST(scan_is_the_partial_shuffle_of_the_available)
{
    struct population *pop = co_population(POPULATION_DIURNAL, 1.0);
    uint32_t out[CO_N], want[CO_N];
    struct cohort c = { .pop = pop, .n_clients = CO_N, .out = out };
    size_t n_elig, m = cohort_select(&c, COHORT_SCAN, 11, 7, 5000000, 40, &n_elig);
    /* The definition written out. */
    size_t n = 0;
    for (size_t k = 0; k < CO_N; k++)
        if (population_available(pop, k, 7, 5000000))
            want[n++] = (uint32_t)k;
    ck_assert_uint_eq(n_elig, n);
    ck_assert(n > 40 && n < CO_N);
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_SELECT, 7, RNG_ANY);
    for (size_t i = 0; i < 40; i++) {
        size_t j = i + (size_t)rng_below(&r, n - i);
        uint32_t t = want[i];
        want[i] = want[j];
        want[j] = t;
    }
    ck_assert_uint_eq(m, 40);
    ck_assert_mem_eq(out, want, 40 * sizeof *out);
    population_free(pop);
}
END_TEST

START_TEST(draw_finds_distinct_eligible_clients)
{
    struct population *pop = co_population(POPULATION_DIURNAL, 1.0);
    uint32_t out[CO_N], again[CO_N];
    bool mark[CO_N] = { false }, busy[CO_N] = { false };
    for (size_t k = 0; k < CO_N; k += 3)
        busy[k] = true;
    struct cohort c = { .pop = pop, .n_clients = CO_N, .busy = busy, .out = out, .mark = mark };
    size_t n_elig, m = cohort_select(&c, COHORT_DRAW, 11, 7, 5000000, 60, &n_elig);
    ck_assert_uint_eq(m, 60);
    ck_assert_uint_eq(n_elig, 60);
    for (size_t i = 0; i < m; i++) {
        ck_assert(!busy[out[i]]);
        ck_assert(population_available(pop, out[i], 7, 5000000));
        for (size_t j = 0; j < i; j++)
            ck_assert_uint_ne(out[i], out[j]);
    }
    for (size_t k = 0; k < CO_N; k++)
        ck_assert(!mark[k]);
    /* The same (seed, draw) gives the same cohort; another draw another one. */
    c.out = again;
    ck_assert_uint_eq(cohort_select(&c, COHORT_DRAW, 11, 7, 5000000, 60, &n_elig), 60);
    ck_assert_mem_eq(out, again, 60 * sizeof *out);
    ck_assert_uint_eq(cohort_select(&c, COHORT_DRAW, 11, 8, 5000000, 60, &n_elig), 60);
    ck_assert_int_ne(memcmp(out, again, 60 * sizeof *out), 0);
    population_free(pop);
}
END_TEST

/* Asking for everybody finds everybody eligible (the tries suffice at this size), and never
 * more than the population even when asked for more. */
START_TEST(draw_finds_everybody_when_asked)
{
    struct population *pop = co_population(POPULATION_ALWAYS, 1.0);
    uint32_t out[CO_N + 10];
    bool mark[CO_N] = { false }, seen[CO_N] = { false };
    struct cohort c = { .pop = pop, .n_clients = CO_N, .out = out, .mark = mark };
    size_t n_elig, m = cohort_select(&c, COHORT_DRAW, 5, 1, 0, CO_N + 10, &n_elig);
    ck_assert_uint_eq(m, CO_N);
    for (size_t i = 0; i < m; i++) {
        ck_assert(!seen[out[i]]);
        seen[out[i]] = true;
    }
    population_free(pop);
}
END_TEST

/* Nobody online: the draw gives up after its tries and finds nobody. */
START_TEST(draw_gives_up_when_nobody_is_online)
{
    struct population *pop = co_population(POPULATION_PROBABILITY, 0.0);
    uint32_t out[10];
    bool mark[CO_N] = { false };
    struct cohort c = { .pop = pop, .n_clients = CO_N, .out = out, .mark = mark };
    size_t n_elig = 99;
    ck_assert_uint_eq(cohort_select(&c, COHORT_DRAW, 5, 1, 0, 10, &n_elig), 0);
    ck_assert_uint_eq(n_elig, 0);
    population_free(pop);
}
END_TEST

/*
 * The sparse shuffle takes exactly the clients of a partial Fisher-Yates shuffle of the
 * whole identity array under the same stream, for every sample size up to the population.
 */
START_TEST(sample_is_the_partial_shuffle_of_every_client)
{
    static const size_t ms[] = { 0, 1, 7, 250, CO_N - 1, CO_N };
    uint32_t all[CO_N], got[CO_N];
    uint64_t slots[4 * CO_N];
    for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
        size_t m = ms[t];
        ck_assert_uint_le(cohort_sample_slots(m), sizeof slots / sizeof slots[0]);
        struct rng r1, r2;
        rng_init_stream(&r1, 5, RNG_PURPOSE_TEST, t, RNG_ANY);
        rng_init_stream(&r2, 5, RNG_PURPOSE_TEST, t, RNG_ANY);
        for (size_t i = 0; i < CO_N; i++)
            all[i] = (uint32_t)i;
        for (size_t i = 0; i < m; i++) {
            size_t j = i + (size_t)rng_below(&r1, CO_N - i);
            uint32_t x = all[i];
            all[i] = all[j];
            all[j] = x;
        }
        cohort_sample(&r2, CO_N, m, got, slots);
        for (size_t i = 0; i < m; i++)
            ck_assert_uint_eq(got[i], all[i]);
    }
    /* A large population costs nothing more: slots for the sample only. */
    struct rng r;
    rng_init_stream(&r, 5, RNG_PURPOSE_TEST, 99, RNG_ANY);
    cohort_sample(&r, 4000000000u, 250, got, slots);
    for (size_t i = 0; i < 250; i++) {
        ck_assert_uint_lt(got[i], 4000000000u);
        for (size_t k = 0; k < i; k++)
            ck_assert_uint_ne(got[i], got[k]);
    }
}
END_TEST

TCase *
cohort_tcase(void)
{
    TCase *tc = tcase_create("cohort");
    tcase_add_test(tc, scan_is_the_partial_shuffle_of_the_available);
    tcase_add_test(tc, draw_finds_distinct_eligible_clients);
    tcase_add_test(tc, draw_finds_everybody_when_asked);
    tcase_add_test(tc, draw_gives_up_when_nobody_is_online);
    tcase_add_test(tc, sample_is_the_partial_shuffle_of_every_client);
    return tc;
}
