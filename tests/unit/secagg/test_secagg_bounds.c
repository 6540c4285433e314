/*
 * secagg bounds: the guarantees the engine's parameters rest on. The SecAgg+ dropout bound
 * (Bell et al., CCS 2020: (k, t) are chosen for at most ⌊δn⌋ dropouts): a two-gap
 * partition of the ring that would let the server isolate the clients between the gaps
 * must abort the round. Threshold overrides checked against the bounds of both graphs
 * and both threat models (FCP's full-graph check; the SecAgg+ rule for Harary graphs).
 */
#include <stdlib.h>
#include <string.h>

#include "aggregator/secagg_graph.h"
#include "base/le.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/harness.h"
#include "tests/unit/secagg/suites.h"

/* n = 100 under the SecAgg+ rule at γ = δ = 0.05 (curious): k = 12, t = 6, 95 to proceed. */
static struct secagg_params
bounds_plus_params(void)
{
    struct secagg_params p = harness_params(100, 2, 24, 4);
    uint32_t k = 0, t = 0;
    ck_assert_int_eq(
        secagg_graph_harary_params(&k, &t, 100, 0.05, 0.05, SECAGG_THREAT_CURIOUS, NULL), 0);
    ck_assert_uint_eq(k, 12);
    ck_assert_uint_eq(t, 6);
    p.graph = SECAGG_GRAPH_HARARY;
    p.degree = k;
    p.t = t;
    p.min_clients = secagg_graph_min_clients(100, 0.05);
    ck_assert_uint_eq(p.min_clients, 95);
    return p;
}

/*
 * Ring positions 20-25 and 33-38 (two runs of k/2 = 6) drop before upload: the 7 clients at
 * positions 26-32 then have no surviving neighbour outside their run, so the server could
 * read their partial sum from its view alone. 12 dropouts exceed ⌊δn⌋ = 5: abort.
 */
START_TEST(two_gap_partition_aborts)
{
    struct secagg_params p = bounds_plus_params();
    struct secagg_graph *g = NULL;
    ck_assert_int_eq(secagg_graph_new(&g, p.graph, p.n, p.degree, p.seed, p.round, NULL), 0);
    static uint64_t x[100 * 4];
    for (size_t i = 0; i < 100 * 4; i++)
        x[i] = (i * 2654435761u) & 0xffff;
    int drop[100];
    for (int u = 0; u < 100; u++)
        drop[u] = HARNESS_NO_DROP;
    for (uint32_t pos = 20; pos <= 38; pos++)
        if (pos <= 25 || pos >= 33)
            drop[secagg_graph_at(g, pos)] = SECAGG_PHASE_MASKED_INPUT;
    /* The isolated run: every neighbour of a client at 26-32 lies within 20-38. */
    for (uint32_t pos = 26; pos <= 32; pos++) {
        const uint32_t *nb = secagg_graph_neighbors(g, secagg_graph_at(g, pos));
        for (uint32_t j = 0; j < p.degree; j++) {
            uint32_t v = nb[j], q = 20;
            while (q <= 38 && secagg_graph_at(g, q) != v)
                q++;
            ck_assert_msg(q <= 38, "client at %u has a neighbour outside the gaps", pos);
        }
    }
    uint64_t sum[4];
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out), -ERR_ABORTED);
    /* Without the bound (t alone) the same round completes: the leak the bound prevents. */
    p.min_clients = 0;
    ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out), 0);
    secagg_graph_free(g);
}
END_TEST

/* ⌊δn⌋ = 5 dropouts in each phase still complete with the exact sum; a sixth aborts. */
START_TEST(dropout_bound_edge)
{
    struct secagg_params p = bounds_plus_params();
    static uint64_t x[100 * 4];
    for (size_t i = 0; i < 100 * 4; i++)
        x[i] = (i * 40503u) & 0xffff;
    static const enum secagg_phase phases[] = { SECAGG_PHASE_ADVERTISE_KEYS,
                                                SECAGG_PHASE_SHARE_KEYS, SECAGG_PHASE_MASKED_INPUT,
                                                SECAGG_PHASE_UNMASKING };
    for (size_t f = 0; f < sizeof phases / sizeof phases[0]; f++) {
        for (int extra = 0; extra < 2; extra++) {
            int drop[100];
            for (int u = 0; u < 100; u++)
                drop[u] = u % 17 == 3 && u / 17 < 5 + extra ? (int)phases[f] : HARNESS_NO_DROP;
            uint64_t sum[4], plain[4];
            struct harness_out out;
            int rc = harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out);
            if (extra) {
                ck_assert_int_eq(rc, -ERR_ABORTED);
                continue;
            }
            ck_assert_int_eq(rc, 0);
            harness_plain_sum(plain, &p, x, out.included);
            ck_assert_mem_eq(sum, plain, sizeof sum);
        }
    }
}
END_TEST

START_TEST(threshold_override_bounds)
{
    const enum secagg_threat C = SECAGG_THREAT_CURIOUS, S = SECAGG_THREAT_SEMI_MALICIOUS;
    struct errbuf eb;
    errbuf_clear(&eb);
    /* Complete graph, semi-malicious, γ = 0.3, n = 40: 2t > 52, so t >= 27. */
    ck_assert_int_eq(secagg_graph_check_threshold(2, 40, false, 0.3, 0.05, S, &eb), -ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(eb.msg, "2t > n + corruption n, so t >= 27"));
    ck_assert_int_eq(secagg_graph_check_threshold(26, 40, false, 0.3, 0.05, S, NULL), -ERR_RANGE);
    ck_assert_int_eq(secagg_graph_check_threshold(27, 40, false, 0.3, 0.05, S, NULL), 0);
    ck_assert_int_eq(secagg_graph_check_threshold(40, 40, false, 0.3, 0.05, S, NULL), 0);
    ck_assert_int_eq(secagg_graph_check_threshold(41, 40, false, 0.3, 0.05, S, NULL), -ERR_RANGE);
    /* Complete graph, curious: t > γn = 12. */
    ck_assert_int_eq(secagg_graph_check_threshold(12, 40, false, 0.3, 0.05, C, &eb), -ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(eb.msg, "t > corruption n, so t >= 13"));
    ck_assert_int_eq(secagg_graph_check_threshold(13, 40, false, 0.3, 0.05, C, NULL), 0);
    /* SecAgg+ n = 100, γ = δ = 0.05: curious (k, t) = (12, 6), semi-malicious (16, 11). */
    ck_assert_int_eq(secagg_graph_check_threshold(5, 100, true, 0.05, 0.05, C, &eb), -ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(eb.msg, "SecAgg+ bound t >= 6"));
    ck_assert_int_eq(secagg_graph_check_threshold(6, 100, true, 0.05, 0.05, C, NULL), 0);
    ck_assert_int_eq(secagg_graph_check_threshold(13, 100, true, 0.05, 0.05, C, NULL), 0);
    ck_assert_int_eq(secagg_graph_check_threshold(14, 100, true, 0.05, 0.05, C, &eb), -ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(eb.msg, "k + 1 = 13"));
    uint32_t k = 0, t = 0;
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 100, 0.05, 0.05, S, NULL), 0);
    ck_assert_int_eq(secagg_graph_check_threshold(t - 1, 100, true, 0.05, 0.05, S, NULL),
                     -ERR_RANGE);
    ck_assert_int_eq(secagg_graph_check_threshold(t, 100, true, 0.05, 0.05, S, NULL), 0);
    /* SecAgg+ too small for a Harary graph falls back to the complete graph's bound. */
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 3, 0.3, 0.05, S, NULL), 1);
    ck_assert_int_eq(secagg_graph_check_threshold(1, 3, true, 0.3, 0.05, S, NULL), -ERR_RANGE);
    ck_assert_int_eq(secagg_graph_check_threshold(2, 3, true, 0.3, 0.05, S, NULL), 0);
    /* Infeasible rates keep the rule's own error. */
    ck_assert_int_eq(secagg_graph_check_threshold(50, 100, true, 0.5, 0.5, C, NULL), -ERR_INVALID);
}
END_TEST

/* Collects every AdvertiseKeys reply, then rewrites the victim's ShareKeys request. */
struct deviant {
    enum { DEV_FOREIGN_NEIGHBOUR, DEV_DUPLICATE_KEYS } what;
    uint32_t victim, n, degree;
    unsigned char adv[100][2 * 32 + 64]; /* c_pk || s_pk || signature (semi-malicious) */
    size_t adv_len;
    const struct secagg_graph *g;
    int done;
};

static void
deviant_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
             size_t *len)
{
    struct deviant *d = vctx;
    unsigned char *body = msg + SECAGG_WIRE_HEADER_BYTES;
    if (is_reply && phase == SECAGG_PHASE_ADVERTISE_KEYS) {
        d->adv_len = *len - SECAGG_WIRE_HEADER_BYTES;
        memcpy(d->adv[client], body, d->adv_len);
        return;
    }
    if (is_reply || phase != SECAGG_PHASE_SHARE_KEYS || client != d->victim)
        return;
    uint32_t count = le_load32(body);
    size_t stride = (*len - SECAGG_WIRE_HEADER_BYTES - 4) / count;
    unsigned char *list = body + 4;
    if (d->what == DEV_DUPLICATE_KEYS) {
        memcpy(list + 2 * stride + 4, list + stride + 4, stride - 4); /* 2 replays 1 */
        d->done = 1;
        return;
    }
    /* Swap one neighbour for a non-neighbour whose id keeps the list ascending. */
    for (uint32_t j = 0; j < count && !d->done; j++) {
        uint32_t lo = j == 0 ? 0 : le_load32(list + (j - 1) * stride) + 1;
        uint32_t hi = j + 1 == count ? d->n : le_load32(list + (j + 1) * stride);
        for (uint32_t w = lo; w < hi && !d->done; w++) {
            if (w == d->victim || secagg_graph_adjacent(d->g, d->victim, w))
                continue;
            le_store32(list + j * stride, w);
            memcpy(list + j * stride + 4, d->adv[w], d->adv_len);
            d->done = 1;
        }
    }
}

static void
deviant_round(struct secagg_params *p, struct deviant *d)
{
    struct secagg_graph *g = NULL;
    ck_assert_int_eq(secagg_graph_new(&g, p->graph, p->n, p->degree, p->seed, p->round, NULL), 0);
    d->g = g;
    d->n = p->n;
    static uint64_t x[100 * 4];
    for (size_t i = 0; i < (size_t)p->n * p->m; i++)
        x[i] = (i * 2654435761u) & 0xffff;
    uint64_t sum[4], plain[4];
    struct harness_out out;
    int rc = harness_run(p, x, NULL, deviant_hook, d, NULL, sum, &out);
    ck_assert(d->done);
    ck_assert_uint_ge(out.client_errors, 1);
    ck_assert_int_eq(out.dropped_phase[d->victim], SECAGG_PHASE_SHARE_KEYS); /* it refused */
    ck_assert(!out.included[d->victim]);
    if (rc == 0) {
        harness_plain_sum(plain, p, x, out.included);
        ck_assert_mem_eq(sum, plain, sizeof sum);
    } else {
        ck_assert_int_eq(rc, -ERR_ABORTED);
    }
    secagg_graph_free(g);
}

START_TEST(foreign_neighbour_refused)
{
    for (int semi = 0; semi < 2; semi++) {
        struct secagg_params p = bounds_plus_params();
        if (semi) {
            uint32_t k = 0, t = 0;
            ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 100, 0.05, 0.05,
                                                        SECAGG_THREAT_SEMI_MALICIOUS, NULL),
                             0);
            p.threat = SECAGG_THREAT_SEMI_MALICIOUS;
            p.degree = k;
            p.t = t;
        }
        static struct deviant d;
        memset(&d, 0, sizeof d);
        d.what = DEV_FOREIGN_NEIGHBOUR;
        d.victim = 7;
        deviant_round(&p, &d);
    }
}
END_TEST

START_TEST(duplicate_keys_refused)
{
    struct secagg_params p = harness_params(8, 5, 24, 4);
    static struct deviant d;
    memset(&d, 0, sizeof d);
    d.what = DEV_DUPLICATE_KEYS;
    d.victim = 0;
    deviant_round(&p, &d);
}
END_TEST

static void
flip_key_hook(void *ctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
              size_t *len)
{
    (void)ctx;
    (void)len;
    if (!is_reply && phase == SECAGG_PHASE_SHARE_KEYS && client == 0)
        msg[SECAGG_WIRE_HEADER_BYTES + 4 + 4 + 32 + 5] ^= 0x08; /* entry 0's s_pk */
}

/*
 * One bit of a neighbour's mask key flipped in transit. The curious model assumes
 * authenticated channels, and without them the round completes with a wrong sum (the
 * limitation docs/secure.md states); with authenticate the victim refuses the request and
 * the round gives the exact sum of the others.
 */
START_TEST(key_tampering_needs_authenticate)
{
    static uint64_t x[8 * 4];
    for (size_t i = 0; i < 8 * 4; i++)
        x[i] = (i * 7919u) & 0xffff;
    for (int auth = 0; auth < 2; auth++) {
        struct secagg_params p = harness_params(8, 5, 24, 4);
        p.authenticate = auth;
        uint64_t sum[4], plain[4];
        struct harness_out out;
        ck_assert_int_eq(harness_run(&p, x, NULL, flip_key_hook, NULL, NULL, sum, &out), 0);
        harness_plain_sum(plain, &p, x, out.included);
        if (auth) {
            ck_assert_int_eq(out.dropped_phase[0], SECAGG_PHASE_SHARE_KEYS);
            ck_assert_mem_eq(sum, plain, sizeof sum);
        } else {
            ck_assert(out.included[0]);
            ck_assert(memcmp(sum, plain, sizeof sum) != 0);
        }
    }
}
END_TEST

static void
capture_masked_hook(void *ctx, int is_reply, enum secagg_phase phase, uint32_t client,
                    unsigned char *msg, size_t *len)
{
    if (is_reply && phase == SECAGG_PHASE_MASKED_INPUT && client == 0)
        memcpy(ctx, msg, *len < 64 ? *len : 64);
}

/* aggregation.keys: random draws client secrets from randombytes: two runs mask client 0's
 * input differently, and the sums are the same exact sum. */
START_TEST(random_keys_change_masks_not_sums)
{
    static uint64_t x[8 * 4];
    for (size_t i = 0; i < 8 * 4; i++)
        x[i] = (i * 104729u) & 0xffff;
    struct secagg_params p = harness_params(8, 5, 24, 4);
    p.random_keys = true;
    unsigned char y[2][64];
    uint64_t sum[2][4], plain[4];
    struct harness_out out;
    for (int run = 0; run < 2; run++)
        ck_assert_int_eq(
            harness_run(&p, x, NULL, capture_masked_hook, y[run], NULL, sum[run], &out), 0);
    harness_plain_sum(plain, &p, x, out.included);
    ck_assert_mem_eq(sum[0], plain, sizeof plain);
    ck_assert_mem_eq(sum[1], plain, sizeof plain);
    ck_assert(memcmp(y[0], y[1], sizeof y[0]) != 0);
}
END_TEST

Suite *
secagg_bounds_suite(void)
{
    Suite *s = suite_create("secagg_bounds");
    TCase *tc = tcase_create("bounds");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, two_gap_partition_aborts);
    tcase_add_test(tc, dropout_bound_edge);
    tcase_add_test(tc, threshold_override_bounds);
    tcase_add_test(tc, foreign_neighbour_refused);
    tcase_add_test(tc, duplicate_keys_refused);
    tcase_add_test(tc, key_tampering_needs_authenticate);
    tcase_add_test(tc, random_keys_change_masks_not_sums);
    suite_add_tcase(s, tc);
    return s;
}
