/*
 * secagg streams: every random stream a secure-aggregation run draws is named (seed,
 * purpose, round, client) (base/rng.h); two different uses of one name would hand the same
 * bytes to both (e.g. fixed-point rounding draws doubling as a client's key master). The
 * test wraps rng_init_stream() and rng_seek() at link time (-Wl,--wrap), runs small
 * simulations in process, lists every (purpose, round, client, stream region) it saw with
 * the call site that drew it, and fails when one name is drawn from two call sites. A
 * region is the byte offset >> 56, so a stream split by rng_seek() into documented disjoint
 * regions (codec/quicfl.h, codec/turboquant.h, sim/run_secure.c) counts as several names.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "tests/support/check_support.h"

void __real_rng_init_stream(struct rng *r, uint64_t seed, uint32_t purpose, uint64_t round,
                            uint64_t client);
void __real_rng_seek(struct rng *r, uint64_t byte);
void __wrap_rng_init_stream(struct rng *r, uint64_t seed, uint32_t purpose, uint64_t round,
                            uint64_t client);
void __wrap_rng_seek(struct rng *r, uint64_t byte);

struct draw {
    uint32_t purpose;
    uint64_t round, client, region;
    const void *site; /* return address of the rng_init_stream call */
    const struct rng *r;
};

/* The recorder: the runs below use one thread, so plain statics suffice in this test. */
static struct draw *draws;
static size_t n_draws, cap_draws;
static int recording;

void
__wrap_rng_init_stream(struct rng *r, uint64_t seed, uint32_t purpose, uint64_t round,
                       uint64_t client)
{
    if (recording) {
        if (n_draws == cap_draws) {
            cap_draws = cap_draws ? 2 * cap_draws : 4096;
            draws = realloc(draws, cap_draws * sizeof *draws);
            ck_assert_ptr_nonnull(draws);
        }
        draws[n_draws++] = (struct draw){ .purpose = purpose,
                                          .round = round,
                                          .client = client,
                                          .site = __builtin_return_address(0),
                                          .r = r };
    }
    __real_rng_init_stream(r, seed, purpose, round, client);
}

void
__wrap_rng_seek(struct rng *r, uint64_t byte)
{
    /* A seek right after an init moves that draw to another region of its stream. */
    for (size_t i = n_draws, k = 0; recording && i > 0 && k < 64; i--, k++) {
        if (draws[i - 1].r == r) {
            draws[i - 1].region = byte >> 56;
            break;
        }
    }
    __real_rng_seek(r, byte);
}

static int
draw_cmp(const void *a, const void *b)
{
    const struct draw *x = a, *y = b;
    if (x->purpose != y->purpose)
        return x->purpose < y->purpose ? -1 : 1;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    if (x->region != y->region)
        return x->region < y->region ? -1 : 1;
    uintptr_t p = (uintptr_t)x->site, q = (uintptr_t)y->site;
    return (p > q) - (p < q);
}

static const char streams_yaml[] = "name: streams\n"
                                   "seed: 11\n"
                                   "data: {dataset: synthetic_iid, clients: 60}\n"
                                   "model: {type: logreg}\n"
                                   "train: {rounds: 3, clients_per_round: 30, batch_size: 10}\n"
                                   "population: {dropout: {probability: 0.05, phase: any}}\n";

/* Runs streams_yaml with sets, recording; returns the number of colliding names. */
static size_t
streams_run(const char *const *sets, size_t n_sets)
{
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc =
        scenario_load(&s, "streams.yaml", streams_yaml, strlen(streams_yaml), sets, n_sets, &eb);
    ck_assert_msg(rc == 0, "scenario: %s", eb.msg);
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/s.db", dir);
    struct store *st = NULL;
    ck_assert_int_eq(store_open(&st, path, &eb), 0);
    struct store_run_info info = { .name = s.name,
                                   .scenario_text = s.source_text,
                                   .config_json = "{}",
                                   .seed = s.seed,
                                   .version = "test",
                                   .started_at = "2026-01-01T00:00:00Z" };
    int64_t run_id;
    ck_assert_int_eq(store_begin_run(st, &info, &run_id, &eb), 0);
    struct run_options o = { .threads = 1 };
    struct run_summary sum;
    n_draws = 0;
    recording = 1;
    rc = run_execute(&s, st, run_id, &o, &sum, &eb);
    recording = 0;
    ck_assert_msg(rc == 0, "run: %s", eb.msg);
    store_close(st);
    scenario_release(&s);
    tsupport_rmtree(dir);
    free(dir);
    qsort(draws, n_draws, sizeof *draws, draw_cmp);
    size_t names = 0, collisions = 0, per_purpose[64] = { 0 };
    for (size_t i = 0; i < n_draws; i++) {
        const struct draw *d = &draws[i];
        bool same_name = i > 0 && d->purpose == d[-1].purpose && d->round == d[-1].round &&
                         d->client == d[-1].client && d->region == d[-1].region;
        if (!same_name) {
            names++;
            per_purpose[d->purpose < 64 ? d->purpose : 63]++;
        } else if (d->site != d[-1].site) {
            collisions++;
            fprintf(stderr,
                    "collision: purpose %u round %llu client %llu region %llu drawn at %p and "
                    "%p\n",
                    d->purpose, (unsigned long long)d->round, (unsigned long long)d->client,
                    (unsigned long long)d->region, d[-1].site, d->site);
        }
    }
    printf("streams (%s%s%s):", n_sets > 0 ? sets[0] : "", n_sets > 1 ? " " : "",
           n_sets > 1 ? sets[1] : "");
    for (unsigned p = 0; p < 64; p++)
        if (per_purpose[p] > 0)
            printf(" purpose %u: %zu", p, per_purpose[p]);
    printf("; %zu names, %zu draws, %zu collisions\n", names, n_draws, collisions);
    return collisions;
}

START_TEST(no_stream_serves_two_uses)
{
    static const char *const cases[][4] = {
        { "aggregation.secure=secagg", "uplink.codec=qsgd", NULL },
        { "aggregation.secure=secagg+", "aggregation.dropout_rate=0.2", NULL },
        { "aggregation.secure=secagg", "aggregation.threat=semi-malicious", "uplink.codec=eden",
          NULL },
        { "aggregation.secure=secagg+", "aggregation.dropout_rate=0.2",
          "aggregation.threat=semi-malicious", NULL },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = 0;
        while (n < 4 && cases[c][n] != NULL)
            n++;
        ck_assert_uint_eq(streams_run(cases[c], n), 0);
    }
}
END_TEST

static Suite *
streams_suite(void)
{
    Suite *s = suite_create("secagg_streams");
    TCase *tc = tcase_create("streams");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, no_stream_serves_two_uses);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { streams_suite, NULL };
    return tsupport_main(suites);
}
