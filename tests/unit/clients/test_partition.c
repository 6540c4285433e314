/* partition: coverage, the shape of each kind, determinism and every error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "base/rng.h"
#include "clients/partition.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

/* 6000 rows, 10 classes of 600, labels interleaved so that class order is not row order. */
enum { PT_N = 6000, PT_C = 10, PT_PER_CLASS = PT_N / PT_C };

static void
pt_labels(uint16_t *y, size_t n, size_t classes)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (uint16_t)((i * 7) % classes);
}

struct pt_result {
    size_t n_clients;
    struct dataset_rows rows;
};

static void
pt_alloc(struct pt_result *r, size_t n, size_t n_clients)
{
    r->n_clients = n_clients;
    r->rows.off = calloc(n_clients + 1, sizeof *r->rows.off);
    r->rows.rows = calloc(n, sizeof *r->rows.rows);
    ck_assert_ptr_nonnull(r->rows.off);
    ck_assert_ptr_nonnull(r->rows.rows);
}

static void
pt_free(struct pt_result *r)
{
    free(r->rows.off);
    free(r->rows.rows);
}

static int
pt_run(struct pt_result *r, const uint16_t *y, size_t n, size_t classes, size_t n_clients,
       const struct partition_params *p, uint64_t seed, struct errbuf *eb)
{
    pt_alloc(r, n, n_clients);
    errbuf_clear(eb);
    return partition_apply(&r->rows, y, n, classes, n_clients, p, seed, eb);
}

/* Disjoint, covering, increasing within a client, no client empty. */
static void
pt_check_cover(const struct pt_result *r, size_t n)
{
    ck_assert_uint_eq(r->rows.off[0], 0);
    ck_assert_uint_eq(r->rows.off[r->n_clients], n);
    unsigned char *seen = calloc(n, 1);
    for (size_t k = 0; k < r->n_clients; k++) {
        ck_assert_uint_gt(r->rows.off[k + 1], r->rows.off[k]);
        for (size_t j = r->rows.off[k]; j < r->rows.off[k + 1]; j++) {
            uint32_t row = r->rows.rows[j];
            ck_assert_uint_lt(row, n);
            ck_assert_uint_eq(seen[row], 0);
            seen[row] = 1;
            if (j > r->rows.off[k])
                ck_assert_uint_lt(r->rows.rows[j - 1], row);
        }
    }
    free(seen);
}

/* counts[k * classes + c]: rows of class c held by client k. */
static size_t *
pt_counts(const struct pt_result *r, const uint16_t *y, size_t classes)
{
    size_t *counts = calloc(r->n_clients * classes, sizeof *counts);
    for (size_t k = 0; k < r->n_clients; k++)
        for (size_t j = r->rows.off[k]; j < r->rows.off[k + 1]; j++)
            counts[k * classes + y[r->rows.rows[j]]]++;
    return counts;
}

static size_t
pt_labels_of(const size_t *counts, size_t k, size_t classes)
{
    size_t n = 0;
    for (size_t c = 0; c < classes; c++)
        n += counts[k * classes + c] > 0;
    return n;
}

static bool
pt_same(const struct pt_result *a, const struct pt_result *b, size_t n)
{
    return memcmp(a->rows.off, b->rows.off, (a->n_clients + 1) * sizeof *a->rows.off) == 0 &&
           memcmp(a->rows.rows, b->rows.rows, n * sizeof *a->rows.rows) == 0;
}

static void
pt_params(struct partition_params *p, enum partition_kind kind)
{
    partition_params_default(p);
    p->kind = kind;
}

START_TEST(iid_equal_sizes)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, PARTITION_IID);
    struct pt_result r;
    struct errbuf eb;
    const size_t clients = 7; /* 6000 = 7 * 857 + 1: one client gets 858 */
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, clients, &p, 11, &eb), 0);
    pt_check_cover(&r, PT_N);
    for (size_t k = 0; k < clients; k++)
        ck_assert_uint_eq(r.rows.off[k + 1] - r.rows.off[k], k == 0 ? 858 : 857);
    pt_free(&r);
}
END_TEST

/*
 * Quantity skew: sizes follow the lognormal weights drawn from the documented stream,
 * rounded by largest remainder (recomputed here), and sum to n.
 */
START_TEST(iid_quantity_skew)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, PARTITION_IID);
    p.size_sigma = 1.0;
    struct pt_result r;
    struct errbuf eb;
    const size_t clients = 20;
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, clients, &p, 5, &eb), 0);
    pt_check_cover(&r, PT_N);
    /* The weights come after the shuffle in the same stream. */
    struct rng g;
    rng_init_stream(&g, 5, RNG_PURPOSE_PARTITION, PARTITION_STREAM_ASSIGN, RNG_ANY);
    uint32_t *perm = malloc(PT_N * sizeof *perm);
    for (uint32_t i = 0; i < PT_N; i++)
        perm[i] = i;
    rng_shuffle_u32(&g, perm, PT_N);
    double w[20], sum = 0.0;
    for (size_t k = 0; k < clients; k++) {
        w[k] = gsl_ran_lognormal(rng_gsl(&g), 0.0, 1.0);
        sum += w[k];
    }
    size_t smallest = PT_N, largest = 0, at = 0;
    unsigned char *mine = calloc(PT_N, 1);
    for (size_t k = 0; k < clients; k++) {
        size_t got = r.rows.off[k + 1] - r.rows.off[k];
        double t = PT_N * w[k] / sum;
        ck_assert_msg(got == (size_t)floor(t) || got == (size_t)floor(t) + 1,
                      "client %zu: %zu rows for share %g", k, got, t);
        /* Client k's rows are exactly the next slice of the shuffle. */
        for (size_t j = 0; j < got; j++)
            mine[perm[at + j]] = 1;
        for (size_t j = r.rows.off[k]; j < r.rows.off[k + 1]; j++)
            ck_assert_uint_eq(mine[r.rows.rows[j]], 1);
        for (size_t j = 0; j < got; j++)
            mine[perm[at + j]] = 0;
        at += got;
        smallest = got < smallest ? got : smallest;
        largest = got > largest ? got : largest;
    }
    free(mine);
    ck_assert_uint_gt(largest, 3 * smallest); /* sigma = 1: visibly unequal */
    free(perm);
    pt_free(&r);

    /* Sigma 6 over 500 clients on 600 rows leaves someone empty: an error naming it. */
    p.size_sigma = 6.0;
    ck_assert_int_eq(pt_run(&r, y, 600, PT_C, 500, &p, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "partition.size_sigma");
    ck_assert_msg(strstr(eb.msg, "partition iid with size_sigma = 6 leaves client") != NULL, "%s",
                  eb.msg);
    pt_free(&r);
}
END_TEST

/*
 * Huge alpha: Dir(1e6) proportions have standard deviation about
 * sqrt((1/N)(1 - 1/N) / (N alpha)) = 9.5e-5 for N = 10, i.e. 0.06 of the 600 rows of a
 * class; with the floor of the cumulative cut each client's share of each class is within
 * 2 rows of 60 (more than 30 sigma; the largest deviation over seeds 1..200 was 1 row).
 */
START_TEST(dirichlet_huge_alpha_is_iid)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, PARTITION_DIRICHLET);
    p.alpha = 1e6;
    struct pt_result r;
    struct errbuf eb;
    const size_t clients = 10;
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, clients, &p, 3, &eb), 0);
    pt_check_cover(&r, PT_N);
    size_t *counts = pt_counts(&r, y, PT_C);
    for (size_t k = 0; k < clients; k++)
        for (size_t c = 0; c < PT_C; c++)
            ck_assert_msg(counts[k * PT_C + c] >= 58 && counts[k * PT_C + c] <= 62,
                          "client %zu class %zu: %zu", k, c, counts[k * PT_C + c]);
    free(counts);
    pt_free(&r);
}
END_TEST

/*
 * Tiny alpha: Dir(1e-3) puts almost all of a class on one client, so clients are nearly
 * single-class. Two statistics, each about 0.1 for iid data: the share of a class on its top
 * client, averaged over classes, and a client's share of rows in its top class ("purity"),
 * averaged over clients. Over seeds 1..200 with this setting they were at least 0.896
 * (mean 0.989) and 0.70 (mean 0.897); the thresholds 0.85 and 0.6 sit below those minima.
 * (Purity is not 1: with 10 clients and 10 classes one client may get two whole classes
 * while another lives on the crumbs that min_size lets through.)
 */
START_TEST(dirichlet_tiny_alpha_is_one_class_per_client)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, PARTITION_DIRICHLET);
    p.alpha = 1e-3;
    p.min_size = 1;
    p.max_attempts = 100000;
    struct pt_result r;
    struct errbuf eb;
    const size_t clients = 10;
    ck_assert_msg(pt_run(&r, y, PT_N, PT_C, clients, &p, 3, &eb) == 0, "%s", eb.msg);
    pt_check_cover(&r, PT_N);
    size_t *counts = pt_counts(&r, y, PT_C);
    double top_share = 0.0;
    for (size_t c = 0; c < PT_C; c++) {
        size_t top = 0;
        for (size_t k = 0; k < clients; k++)
            top = counts[k * PT_C + c] > top ? counts[k * PT_C + c] : top;
        top_share += (double)top / PT_PER_CLASS / PT_C;
    }
    ck_assert_msg(top_share >= 0.85, "mean top-client share %g", top_share);
    double purity = 0.0;
    for (size_t k = 0; k < clients; k++) {
        size_t top = 0, all = r.rows.off[k + 1] - r.rows.off[k];
        for (size_t c = 0; c < PT_C; c++)
            top = counts[k * PT_C + c] > top ? counts[k * PT_C + c] : top;
        purity += (double)top / (double)all / (double)clients;
    }
    ck_assert_msg(purity >= 0.6, "mean purity %g", purity);
    free(counts);
    pt_free(&r);
}
END_TEST

/* min_size is honoured, and an unreachable one is an error after max_attempts. */
START_TEST(dirichlet_min_size_and_attempt_cap)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, PARTITION_DIRICHLET);
    p.alpha = 0.5;
    p.min_size = 100;
    struct pt_result r;
    struct errbuf eb;
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, 20, &p, 9, &eb), 0);
    pt_check_cover(&r, PT_N);
    for (size_t k = 0; k < 20; k++)
        ck_assert_uint_ge(r.rows.off[k + 1] - r.rows.off[k], 100);
    pt_free(&r);

    p.alpha = 0.1;
    p.min_size = 500; /* 10 clients x 500 of 6000 rows with alpha 0.1: hopeless */
    p.max_attempts = 50;
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, 10, &p, 9, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "partition.min_size");
    ck_assert_str_eq(eb.msg, "partition dirichlet with alpha = 0.1 could not give each of 10 "
                             "clients min_size = 500 rows in 50 attempts; raise alpha, lower "
                             "min_size or use fewer clients");
    pt_free(&r);
}
END_TEST

/*
 * McMahan shards: 10 clients x 2 shards = 20 shards of 300 over classes of 600, so every
 * shard is one class and each client holds at most 2 labels and exactly 600 rows.
 */
START_TEST(shards_give_at_most_per_client_labels)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, PARTITION_SHARDS);
    p.per_client = 2;
    struct pt_result r;
    struct errbuf eb;
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, 10, &p, 4, &eb), 0);
    pt_check_cover(&r, PT_N);
    size_t *counts = pt_counts(&r, y, PT_C);
    size_t two = 0;
    for (size_t k = 0; k < 10; k++) {
        ck_assert_uint_eq(r.rows.off[k + 1] - r.rows.off[k], 600);
        size_t labels = pt_labels_of(counts, k, PT_C);
        ck_assert_uint_le(labels, 2);
        two += labels == 2;
        for (size_t c = 0; c < PT_C; c++)
            ck_assert(counts[k * PT_C + c] % 300 == 0);
    }
    ck_assert_uint_gt(two, 0);
    free(counts);
    pt_free(&r);

    /* Unaligned shards (7 clients x 3 = 21 shards of 285 or 286): at most 2 labels a shard. */
    p.per_client = 3;
    ck_assert_int_eq(pt_run(&r, y, PT_N, PT_C, 7, &p, 4, &eb), 0);
    pt_check_cover(&r, PT_N);
    counts = pt_counts(&r, y, PT_C);
    for (size_t k = 0; k < 7; k++) {
        size_t got = r.rows.off[k + 1] - r.rows.off[k];
        ck_assert(got >= 3 * 285 && got <= 3 * 286);
        ck_assert_uint_le(pt_labels_of(counts, k, PT_C), 6);
    }
    free(counts);
    pt_free(&r);
}
END_TEST

/* labels: exactly k labels per client, every class held, rows split evenly among holders. */
START_TEST(labels_give_exactly_k)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    static const size_t ks[] = { 1, 2, 3, 10 };
    static const size_t ns[] = { 10, 23, 4, 3 };
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        struct partition_params p;
        pt_params(&p, PARTITION_LABELS);
        p.per_client = ks[t];
        struct pt_result r;
        struct errbuf eb;
        ck_assert_msg(pt_run(&r, y, PT_N, PT_C, ns[t], &p, 8, &eb) == 0, "%s", eb.msg);
        pt_check_cover(&r, PT_N);
        size_t *counts = pt_counts(&r, y, PT_C);
        for (size_t k = 0; k < ns[t]; k++)
            ck_assert_uint_eq(pt_labels_of(counts, k, PT_C), ks[t]);
        for (size_t c = 0; c < PT_C; c++) {
            size_t holders = 0, lo = PT_N, hi = 0;
            for (size_t k = 0; k < ns[t]; k++) {
                size_t v = counts[k * PT_C + c];
                if (v == 0)
                    continue;
                holders++;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            ck_assert_uint_gt(holders, 0);
            ck_assert_uint_le(hi - lo, 1);
        }
        free(counts);
        pt_free(&r);
    }
}
END_TEST

/* The same seed gives the same partition, another seed another, for every kind. */
START_TEST(deterministic_by_seed)
{
    static uint16_t y[PT_N];
    pt_labels(y, PT_N, PT_C);
    struct partition_params p;
    pt_params(&p, (enum partition_kind)_i);
    p.size_sigma = _i == PARTITION_IID ? 0.5 : 0.0;
    struct pt_result a, b, c;
    struct errbuf eb;
    ck_assert_int_eq(pt_run(&a, y, PT_N, PT_C, 10, &p, 2385, &eb), 0);
    ck_assert_int_eq(pt_run(&b, y, PT_N, PT_C, 10, &p, 2385, &eb), 0);
    ck_assert_int_eq(pt_run(&c, y, PT_N, PT_C, 10, &p, 2386, &eb), 0);
    ck_assert(pt_same(&a, &b, PT_N));
    ck_assert(!pt_same(&a, &c, PT_N));
    pt_free(&a);
    pt_free(&b);
    pt_free(&c);
}
END_TEST

struct pt_bad {
    enum partition_kind kind;
    double alpha;
    size_t per_client;
    double size_sigma;
    size_t n, clients, classes;
    const char *key;
    const char *msg;
};

static const struct pt_bad pt_bads[] = {
    { PARTITION_NATURAL, 0.5, 2, 0, 600, 5, 10, "partition.type",
      "partition 'natural' is only for generators with their own per-client data" },
    { PARTITION_KIND_COUNT, 0.5, 2, 0, 600, 5, 10, "partition.type", "unknown partition kind 5" },
    { PARTITION_IID, 0.5, 2, 0, 600, 0, 10, "data.clients", "partition needs at least one client" },
    { PARTITION_IID, 0.5, 2, 0, 4, 5, 10, "data.clients",
      "partition iid leaves clients empty: 4 rows for 5 clients" },
    { PARTITION_IID, 0.5, 2, -1, 600, 5, 10, "partition.size_sigma",
      "partition size_sigma must be finite and >= 0 (-1 given)" },
    { PARTITION_SHARDS, 0.5, 2, 0.5, 600, 5, 10, "partition.size_sigma",
      "partition size_sigma = 0.5 applies to type iid only, not shards" },
    { PARTITION_DIRICHLET, 0.0, 2, 0, 600, 5, 10, "partition.alpha",
      "partition dirichlet needs a finite alpha > 0 (0 given)" },
    { PARTITION_DIRICHLET, INFINITY, 2, 0, 600, 5, 10, "partition.alpha",
      "partition dirichlet needs a finite alpha > 0 (inf given)" },
    { PARTITION_SHARDS, 0.5, 0, 0, 600, 5, 10, "partition.per_client",
      "partition shards needs per_client >= 1 (0 given)" },
    { PARTITION_SHARDS, 0.5, 200, 0, 600, 5, 10, "partition.per_client",
      "partition shards with per_client = 200 needs at least 1000 rows (600 given)" },
    { PARTITION_LABELS, 0.5, 0, 0, 600, 5, 10, "partition.per_client",
      "partition labels needs per_client >= 1 (0 given)" },
    { PARTITION_LABELS, 0.5, 11, 0, 600, 5, 10, "partition.per_client",
      "partition labels with per_client = 11 exceeds the 10 classes present" },
    { PARTITION_LABELS, 0.5, 2, 0, 600, 3, 10, "partition.per_client",
      "partition labels with per_client = 2 and 3 clients leaves some of the 10 classes "
      "without a client" },
    { PARTITION_LABELS, 0.5, 2, 0, 4, 30, 2, "partition.per_client",
      "partition labels: class 0 has 2 rows for 30 clients holding it; lower per_client or "
      "use fewer clients" },
    { PARTITION_IID, 0.5, 2, 0, 600, 5, 0, "data", "partition needs 1..65536 classes (0 given)" },
};

START_TEST(rejects_bad_settings)
{
    const struct pt_bad *b = &pt_bads[_i];
    static uint16_t y[PT_N];
    pt_labels(y, b->n, b->classes == 0 ? 1 : b->classes);
    struct partition_params p;
    pt_params(&p, b->kind);
    p.alpha = b->alpha;
    p.per_client = b->per_client;
    p.size_sigma = b->size_sigma;
    struct pt_result r;
    struct errbuf eb;
    ck_assert_int_eq(pt_run(&r, y, b->n, b->classes, b->clients, &p, 1, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, b->key);
    ck_assert_str_eq(eb.msg, b->msg);
    pt_free(&r);
}
END_TEST

/* An empty client from a valid-looking setting, and a label out of range. */
START_TEST(rejects_empty_client_and_bad_label)
{
    uint16_t y[6] = { 0, 1, 0, 1, 0, 9 };
    struct partition_params p;
    pt_params(&p, PARTITION_DIRICHLET);
    p.alpha = 0.5;
    p.min_size = 0;
    p.max_attempts = 1;
    struct pt_result r;
    struct errbuf eb;
    /* Two classes over 40 clients: some client must be empty whatever the draw. */
    uint16_t y2[30];
    pt_labels(y2, 30, 2);
    ck_assert_int_eq(pt_run(&r, y2, 30, 2, 40, &p, 1, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "partition.min_size");
    pt_free(&r);
    pt_params(&p, PARTITION_IID);
    ck_assert_int_eq(pt_run(&r, y, 6, 2, 2, &p, 1, &eb), -ERR_RANGE);
    ck_assert_str_eq(eb.msg, "label 9 of row 5 is not below 2 classes");
    pt_free(&r);
}
END_TEST

START_TEST(kind_names_round_trip)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    for (int k = 0; k < PARTITION_KIND_COUNT; k++) {
        enum partition_kind kind = PARTITION_KIND_COUNT;
        ck_assert_int_eq(
            partition_kind_parse(partition_kind_name((enum partition_kind)k), &kind, &eb), 0);
        ck_assert_int_eq(kind, k);
    }
    enum partition_kind kind = PARTITION_IID;
    ck_assert_int_eq(partition_kind_parse("Dirichlet", &kind, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "unknown partition type 'Dirichlet' (known: iid, dirichlet, shards, "
                             "labels, natural)");
    ck_assert_str_eq(partition_kind_name(PARTITION_KIND_COUNT), "?");
}
END_TEST

Suite *
partition_suite(void)
{
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("kinds");
    tcase_add_test(tc, iid_equal_sizes);
    tcase_add_test(tc, iid_quantity_skew);
    tcase_add_test(tc, dirichlet_huge_alpha_is_iid);
    tcase_add_test(tc, dirichlet_tiny_alpha_is_one_class_per_client);
    tcase_add_test(tc, dirichlet_min_size_and_attempt_cap);
    tcase_add_test(tc, shards_give_at_most_per_client_labels);
    tcase_add_test(tc, labels_give_exactly_k);
    tcase_add_loop_test(tc, deterministic_by_seed, 0, PARTITION_NATURAL);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejects");
    tcase_add_loop_test(tc, rejects_bad_settings, 0, (int)(sizeof pt_bads / sizeof pt_bads[0]));
    tcase_add_test(tc, rejects_empty_client_and_bad_label);
    tcase_add_test(tc, kind_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
