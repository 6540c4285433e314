/*
 * secagg protocol: the toy known-answer run of test_prg.c end to end, exact cancellation, every
 * dropout pattern for n = 6, t = 4, abort below threshold, uniformity of a masked vector,
 * ring sizing, accounting mode equal to the full protocol, determinism and thread splits,
 * SecAgg+ and the semi-malicious model.
 */
#include <gsl/gsl_cdf.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "crypto/prg.h"
#include "crypto/ring.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/harness.h"
#include "tests/unit/secagg/suites.h"

static void
fill_inputs(uint64_t *x, const struct secagg_params *p, uint64_t salt)
{
    struct rng r;
    rng_init_stream(&r, 77 + salt, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < (size_t)p->n * p->m; i++)
        x[i] = rng_u64(&r) & ring_mask(p->ring_bits);
}

/* Records the MASKED_REP payloads of the toy run. */
struct toy_ctx {
    uint64_t y[3][4];
};

static void
toy_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
         size_t *len)
{
    struct toy_ctx *ctx = vctx;
    if (!is_reply || phase != SECAGG_PHASE_MASKED_INPUT)
        return;
    ck_assert_uint_eq(*len, SECAGG_WIRE_HEADER_BYTES + 8);
    for (size_t i = 0; i < 4; i++)
        ctx->y[client][i] = secagg_wire_unpack_one(msg + SECAGG_WIRE_HEADER_BYTES, i, 16);
}

/* The toy known-answer run through the engine: keys, y_u, sums, client 3 dropping. */
START_TEST(toy_known_answer)
{
    struct secagg_params p = harness_params(3, 2, 16, 4);
    p.session = 0;
    p.round = 7;
    unsigned char sk[3][32], b[3][32];
    for (int u = 0; u < 3; u++)
        for (int i = 0; i < 32; i++) {
            sk[u][i] = (unsigned char)(32 * u + i + 1);
            b[u][i] = (unsigned char)(0xA0 + u + i);
        }
    const uint64_t x[12] = { 1, 2, 3, 4, 100, 200, 300, 400, 65535, 0, 12345, 54321 };
    static const uint64_t y_exp[3][4] = { { 26846, 46909, 7647, 43741 },
                                          { 13127, 45846, 12970, 32828 },
                                          { 59374, 54926, 34145, 33126 } };
    struct harness_secrets sec = { .mask_sk = (const unsigned char(*)[32])sk,
                                   .self_seed = (const unsigned char(*)[32])b };
    struct toy_ctx ctx;
    struct harness_out out;
    uint64_t sum[4];
    ck_assert_int_eq(harness_run(&p, x, NULL, toy_hook, &ctx, &sec, sum, &out), 0);
    ck_assert_mem_eq(ctx.y, y_exp, sizeof y_exp);
    static const uint64_t all[4] = { 100, 202, 12648, 54725 };
    ck_assert_mem_eq(sum, all, sizeof all);

    /* Client 3 drops after ShareKeys: its pairwise masks are rebuilt from s_3^SK shares. */
    const int drop[3] = { HARNESS_NO_DROP, HARNESS_NO_DROP, SECAGG_PHASE_MASKED_INPUT };
    ck_assert_int_eq(harness_run(&p, x, drop, toy_hook, &ctx, &sec, sum, &out), 0);
    static const uint64_t two[4] = { 101, 202, 303, 404 };
    ck_assert_mem_eq(sum, two, sizeof two);
    ck_assert(out.included[0] && out.included[1] && !out.included[2]);
    ck_assert_int_eq(out.dropped_phase[2], SECAGG_PHASE_MASKED_INPUT);
}
END_TEST

/* No dropouts: the masks cancel to the bit, complete graph and SecAgg+, every ring width. */
START_TEST(masks_cancel_exactly)
{
    static const unsigned widths[] = { 1, 7, 16, 26, 32, 33, 63, 64 };
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        struct secagg_params p = harness_params(5, 3, widths[w], 37);
        uint64_t x[5 * 37], sum[37], plain[37];
        uint8_t inc[5] = { 1, 1, 1, 1, 1 };
        fill_inputs(x, &p, w);
        struct harness_out out;
        ck_assert_int_eq(harness_run(&p, x, NULL, NULL, NULL, NULL, sum, &out), 0);
        harness_plain_sum(plain, &p, x, inc);
        ck_assert_mem_eq(sum, plain, sizeof sum);
    }
    struct secagg_params p = harness_params(12, 3, 20, 19);
    p.graph = SECAGG_GRAPH_HARARY;
    p.degree = 4;
    uint64_t x[12 * 19], sum[19], plain[19];
    uint8_t inc[12];
    memset(inc, 1, sizeof inc);
    fill_inputs(x, &p, 99);
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, NULL, NULL, NULL, NULL, sum, &out), 0);
    harness_plain_sum(plain, &p, x, inc);
    ck_assert_mem_eq(sum, plain, sizeof sum);
}
END_TEST

/*
 * Every dropout pattern of n = 6, t = 4: each client answers all phases or vanishes at one
 * of AdvertiseKeys, ShareKeys, MaskedInput (pairwise masks recovered) or Unmasking (self
 * mask rebuilt), 5^6 patterns. Completed rounds sum exactly the included clients; the
 * others abort, and a round aborts exactly when some phase leaves fewer than t clients.
 * The full protocol runs every pattern that completes (all 265) and
 * every abort_stride-th of the others; accounting mode, which follows the same dropout
 * logic, runs all 15625 (abort_stride = 1). Both take about the same time.
 */
static void
every_pattern(enum secagg_masks masks, unsigned abort_stride)
{
    struct secagg_params p = harness_params(6, 4, 13, 5);
    p.masks = masks;
    uint64_t x[6 * 5], sum[5], plain[5];
    fill_inputs(x, &p, 6);
    static const int choice[5] = { HARNESS_NO_DROP, SECAGG_PHASE_ADVERTISE_KEYS,
                                   SECAGG_PHASE_SHARE_KEYS, SECAGG_PHASE_MASKED_INPUT,
                                   SECAGG_PHASE_UNMASKING };
    unsigned completed = 0, aborted = 0, skipped = 0;
    for (unsigned code = 0; code < 15625; code++) {
        int drop[6];
        unsigned c = code;
        for (int u = 0; u < 6; u++, c /= 5)
            drop[u] = choice[c % 5];
        unsigned left_adv = 0, left_share = 0, left_mask = 0, left_unmask = 0;
        for (int u = 0; u < 6; u++) {
            left_adv += drop[u] != SECAGG_PHASE_ADVERTISE_KEYS;
            left_share += drop[u] == HARNESS_NO_DROP || drop[u] > SECAGG_PHASE_SHARE_KEYS;
            left_mask += drop[u] == HARNESS_NO_DROP || drop[u] > SECAGG_PHASE_MASKED_INPUT;
            left_unmask += drop[u] == HARNESS_NO_DROP;
        }
        bool expect_ok = left_adv >= 4 && left_share >= 4 && left_mask >= 4 && left_unmask >= 4;
        if (!expect_ok && code % abort_stride != 0) {
            skipped++;
            continue;
        }
        struct harness_out out;
        int rc = harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out);
        if (!expect_ok) {
            ck_assert_int_eq(rc, -ERR_ABORTED);
            aborted++;
            continue;
        }
        ck_assert_msg(rc == 0, "pattern %u aborted", code);
        for (int u = 0; u < 6; u++)
            ck_assert_int_eq(out.included[u],
                             drop[u] == HARNESS_NO_DROP || drop[u] == SECAGG_PHASE_UNMASKING);
        harness_plain_sum(plain, &p, x, out.included);
        ck_assert_mem_eq(sum, plain, sizeof sum);
        completed++;
    }
    ck_assert_uint_eq(completed, 265); /* C(6,4) 4^2 + C(6,5) 4 + 1 */
    ck_assert_uint_eq(completed + aborted + skipped, 15625);
}

START_TEST(every_dropout_pattern_full)
{
    every_pattern(SECAGG_MASKS_FULL, 11);
}
END_TEST

START_TEST(every_dropout_pattern_accounting)
{
    every_pattern(SECAGG_MASKS_ACCOUNTING, 1);
}
END_TEST

/* Below threshold the round aborts, with no result, in every phase. */
START_TEST(abort_below_threshold)
{
    struct secagg_params p = harness_params(6, 4, 16, 3);
    uint64_t x[18], sum[3];
    fill_inputs(x, &p, 1);
    for (int ph = SECAGG_PHASE_ADVERTISE_KEYS; ph <= SECAGG_PHASE_UNMASKING; ph++) {
        if (ph == SECAGG_PHASE_CONSISTENCY_CHECK)
            continue;
        int drop[6] = { ph, ph, ph, HARNESS_NO_DROP, HARNESS_NO_DROP, HARNESS_NO_DROP };
        struct harness_out out;
        ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out), -ERR_ABORTED);
    }
}
END_TEST

/* Records client 0's masked payload (k = 8: one byte per coordinate). */
struct capture_ctx {
    unsigned char *y;
    size_t m;
};

static void
capture_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
             size_t *len)
{
    struct capture_ctx *ctx = vctx;
    if (is_reply && phase == SECAGG_PHASE_MASKED_INPUT && client == 0)
        memcpy(ctx->y, msg + SECAGG_WIRE_HEADER_BYTES, ctx->m);
}

/*
 * One masked vector is uniform on Z_256 whatever the input (x = 0 and x = 255): χ² over 256
 * buckets of 2^16 coordinates (mean 256 each), p-value above 1e-3 for both, and the two
 * histograms agree (two-sample χ², p above 1e-3).
 */
START_TEST(masked_vector_uniform)
{
    enum { M = 1 << 16 };
    struct secagg_params p = harness_params(3, 2, 8, M);
    uint64_t *x = calloc(3 * (size_t)M, sizeof *x), *sum = calloc(M, sizeof *sum);
    unsigned char *y = malloc(M);
    double h[2][256] = { { 0 } };
    for (int variant = 0; variant < 2; variant++) {
        for (size_t i = 0; i < M; i++)
            x[i] = variant ? 255 : 0;
        struct capture_ctx ctx = { y, M };
        struct harness_out out;
        ck_assert_int_eq(harness_run(&p, x, NULL, capture_hook, &ctx, NULL, sum, &out), 0);
        for (size_t i = 0; i < M; i++)
            h[variant][y[i]] += 1;
        double chi = 0, e = M / 256.0;
        for (int b = 0; b < 256; b++)
            chi += (h[variant][b] - e) * (h[variant][b] - e) / e;
        ck_assert_msg(gsl_cdf_chisq_Q(chi, 255) > 1e-3, "chi2 %g", chi);
        p.round++; /* fresh masks for the second variant */
    }
    double chi2 = 0;
    for (int b = 0; b < 256; b++)
        chi2 += (h[0][b] - h[1][b]) * (h[0][b] - h[1][b]) / (h[0][b] + h[1][b]);
    ck_assert_msg(gsl_cdf_chisq_Q(chi2, 255) > 1e-3, "two-sample chi2 %g", chi2);
    free(x);
    free(sum);
    free(y);
}
END_TEST

/* Records the masked payloads of clients 0 and 1 (k = 8: one byte per coordinate). */
struct pair_ctx {
    unsigned char *y[2];
    size_t m;
};

static void
pair_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
          size_t *len)
{
    struct pair_ctx *ctx = vctx;
    if (is_reply && phase == SECAGG_PHASE_MASKED_INPUT && client < 2)
        memcpy(ctx->y[client], msg + SECAGG_WIRE_HEADER_BYTES, ctx->m);
}

/*
 * Reference §7.3.5, second half: with the self masks removed (b_u known to the test through
 * set_secrets), (y_0 - p_0) + (y_1 - p_1) for S = {0, 1} of 4 clients still carries the
 * pairwise masks on the edges leaving S and must be uniform on Z_256 although x = 0: χ²
 * over 256 buckets of 2^16 coordinates, p-value above 1e-3.
 */
START_TEST(subset_sum_uniform)
{
    enum { M = 1 << 16 };
    struct secagg_params p = harness_params(4, 3, 8, M);
    uint64_t *x = calloc(4 * (size_t)M, sizeof *x), *sum = calloc(M, sizeof *sum);
    unsigned char sk[4][32], b[4][32];
    for (int u = 0; u < 4; u++)
        for (int i = 0; i < 32; i++) {
            sk[u][i] = (unsigned char)(37 * u + 11 * i + 5);
            b[u][i] = (unsigned char)(53 * u + 7 * i + 1);
        }
    struct harness_secrets sec = { .mask_sk = (const unsigned char(*)[32])sk,
                                   .self_seed = (const unsigned char(*)[32])b };
    struct pair_ctx ctx = { { malloc(M), malloc(M) }, M };
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, NULL, pair_hook, &ctx, &sec, sum, &out), 0);
    uint64_t *acc = calloc(M, sizeof *acc);
    for (size_t i = 0; i < M; i++)
        acc[i] = (uint64_t)ctx.y[0][i] + ctx.y[1][i];
    for (int u = 0; u < 2; u++) {
        struct prg_key key;
        ck_assert_int_eq(prg_key_derive(&key, b[u], PRG_KIND_SELF, p.round, NULL), 0);
        ck_assert_int_eq(prg_sub_u64(acc, M, &key, 0, 8, 0, NULL), 0);
    }
    double h[256] = { 0 }, chi = 0, e = M / 256.0;
    for (size_t i = 0; i < M; i++)
        h[acc[i] & 255] += 1;
    for (int k = 0; k < 256; k++)
        chi += (h[k] - e) * (h[k] - e) / e;
    ck_assert_msg(gsl_cdf_chisq_Q(chi, 255) > 1e-3, "chi2 %g", chi);
    /* Control: adding y_2 and y_3 without their self masks gives back x = 0 exactly. */
    for (size_t i = 0; i < M; i++)
        ck_assert_uint_eq(sum[i], 0);
    free(acc);
    free(ctx.y[0]);
    free(ctx.y[1]);
    free(x);
    free(sum);
}
END_TEST

/* Ring sizing: a ring below ceil(log2(n(2^b - 1) + 1)) is rejected; all-max inputs fit. */
START_TEST(ring_sizing)
{
    struct secagg_params p = harness_params(1000, 667, 25, 1);
    p.value_bits = 16;
    ck_assert_int_eq(secagg_wire_params_check(&p, NULL), -ERR_RANGE);
    p.ring_bits = 26;
    ck_assert_int_eq(secagg_wire_params_check(&p, NULL), 0);

    unsigned k = 0;
    ck_assert_int_eq(ring_bits_for(&k, 6, 8, NULL), 0);
    ck_assert_uint_eq(k, 11);
    struct secagg_params q = harness_params(6, 4, k, 4);
    q.value_bits = 8;
    uint64_t x[24], sum[4];
    for (int i = 0; i < 24; i++)
        x[i] = 255;
    struct harness_out out;
    ck_assert_int_eq(harness_run(&q, x, NULL, NULL, NULL, NULL, sum, &out), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(sum[i], 6 * 255);
    q.ring_bits = 10;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_RANGE);
}
END_TEST

/* Accounting mode: same sum, same survivors, same bytes per message, under dropouts. */
START_TEST(accounting_equals_full)
{
    for (int variant = 0; variant < 4; variant++) {
        struct secagg_params p = harness_params(8, 5, 29, 23);
        if (variant & 1) {
            p.graph = SECAGG_GRAPH_HARARY;
            p.degree = 4;
            p.t = 3;
        }
        if (variant & 2)
            p.threat = SECAGG_THREAT_SEMI_MALICIOUS;
        uint64_t x[8 * 23], s_full[23], s_acc[23];
        fill_inputs(x, &p, (uint64_t)variant);
        /* Harary degree 4, t = 3: at most two drops fit in any neighbourhood. */
        int drop[8] = { HARNESS_NO_DROP,         SECAGG_PHASE_MASKED_INPUT,
                        HARNESS_NO_DROP,         SECAGG_PHASE_UNMASKING,
                        HARNESS_NO_DROP,         HARNESS_NO_DROP,
                        SECAGG_PHASE_SHARE_KEYS, HARNESS_NO_DROP };
        if (variant & 1)
            drop[6] = HARNESS_NO_DROP;
        static struct harness_out a, b;
        ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, s_full, &a), 0);
        p.masks = SECAGG_MASKS_ACCOUNTING;
        ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, s_acc, &b), 0);
        ck_assert_mem_eq(s_full, s_acc, sizeof s_full);
        ck_assert_mem_eq(a.included, b.included, sizeof a.included);
        ck_assert_mem_eq(a.bytes, b.bytes, sizeof a.bytes);
        uint64_t plain[23];
        harness_plain_sum(plain, &p, x, a.included);
        ck_assert_mem_eq(s_full, plain, sizeof plain);
    }
}
END_TEST

/* Hashes every message of a run. */
struct digest_ctx {
    uint64_t h;
};

static void
digest_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
            size_t *len)
{
    struct digest_ctx *ctx = vctx;
    for (size_t i = 0; i < *len; i++)
        ctx->h = (ctx->h ^ msg[i]) * 0x100000001b3ull;
    ctx->h ^= (uint64_t)is_reply << 40 ^ (uint64_t)phase << 32 ^ client;
}

/* Same parameters and seed: identical bytes on the wire and identical output. */
START_TEST(determinism)
{
    struct secagg_params p = harness_params(7, 4, 24, 41);
    uint64_t x[7 * 41], s1[41], s2[41];
    fill_inputs(x, &p, 5);
    const int drop[7] = { HARNESS_NO_DROP, HARNESS_NO_DROP, SECAGG_PHASE_MASKED_INPUT,
                          HARNESS_NO_DROP, HARNESS_NO_DROP, HARNESS_NO_DROP,
                          HARNESS_NO_DROP };
    struct digest_ctx d1 = { 1469598103934665603ull }, d2 = d1;
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, drop, digest_hook, &d1, NULL, s1, &out), 0);
    ck_assert_int_eq(harness_run(&p, x, drop, digest_hook, &d2, NULL, s2, &out), 0);
    ck_assert_uint_eq(d1.h, d2.h);
    ck_assert_mem_eq(s1, s2, sizeof s1);
    p.seed++;
    struct digest_ctx d3 = { 1469598103934665603ull };
    ck_assert_int_eq(harness_run(&p, x, drop, digest_hook, &d3, NULL, s2, &out), 0);
    ck_assert_uint_ne(d1.h, d3.h);
    ck_assert_mem_eq(s1, s2, sizeof s1); /* other masks, same sum */
}
END_TEST

/* The masked input split into slices (as threads would) is bit-identical for any split. */
START_TEST(thread_split_identical)
{
    enum { N = 3, M = 5003 };
    struct secagg_params p = harness_params(N, 2, 27, M);
    uint64_t *x = calloc((size_t)N * M, sizeof *x);
    fill_inputs(x, &p, 3);
    struct secagg_server *s;
    struct secagg_client *c[N];
    ck_assert_int_eq(secagg_server_new(&s, &p, NULL), 0);
    for (uint32_t u = 0; u < N; u++) {
        ck_assert_int_eq(secagg_client_new(&c[u], &p, u, NULL), 0);
        ck_assert_int_eq(secagg_client_set_input(c[u], x + (size_t)u * M, NULL), 0);
    }
    static unsigned char req[4096], rep[4096];
    size_t rl, ol;
    for (int ph = 0; ph < 2; ph++) {
        for (uint32_t u = 0; u < N; u++) {
            ck_assert_int_eq(secagg_server_message_for(s, ph, u, req, sizeof req, &rl, NULL), 0);
            ck_assert_int_eq(secagg_client_step(c[u], ph, req, rl, rep, sizeof rep, &ol, NULL), 0);
            ck_assert_int_eq(secagg_server_receive(s, ph, u, rep, ol, NULL), 0);
        }
        ck_assert_int_eq(secagg_server_close_phase(s, ph, NULL), 0);
    }
    ck_assert_int_eq(
        secagg_server_message_for(s, SECAGG_PHASE_MASKED_INPUT, 0, req, sizeof req, &rl, NULL), 0);
    size_t cap = secagg_wire_masked_rep_bytes(&p);
    unsigned char *whole = malloc(cap), *split = malloc(cap);
    ck_assert_int_eq(secagg_client_masked_prepare(c[0], req, rl, whole, cap, &ol, NULL), 0);
    ck_assert_int_eq(secagg_client_masked_slice(c[0], whole, 0, M, NULL), 0);
    memcpy(split, whole, SECAGG_WIRE_HEADER_BYTES);
    memset(split + SECAGG_WIRE_HEADER_BYTES, 0xEE, cap - SECAGG_WIRE_HEADER_BYTES);
    static const size_t cuts[] = { 0, 8, 2048, 2056, 4000, M };
    for (int i = 4; i >= 0; i--) /* reverse order, as a late thread might */
        ck_assert_int_eq(
            secagg_client_masked_slice(c[0], split, cuts[i], cuts[i + 1] - cuts[i], NULL), 0);
    ck_assert_mem_eq(whole, split, cap);
    ck_assert_int_eq(secagg_client_masked_slice(c[0], split, 3, 8, NULL), -ERR_INVALID);
    secagg_client_masked_finish(c[0]);
    free(whole);
    free(split);
    free(x);
    for (uint32_t u = 0; u < N; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
}
END_TEST

/* Semi-malicious model with signatures: dropouts in every phase including ConsistencyCheck. */
START_TEST(semi_malicious_rounds)
{
    struct secagg_params p = harness_params(7, 5, 32, 9);
    p.threat = SECAGG_THREAT_SEMI_MALICIOUS;
    uint64_t x[7 * 9], sum[9], plain[9];
    fill_inputs(x, &p, 8);
    const int drop[7] = { HARNESS_NO_DROP,          SECAGG_PHASE_CONSISTENCY_CHECK,
                          HARNESS_NO_DROP,          HARNESS_NO_DROP,
                          HARNESS_NO_DROP,          HARNESS_NO_DROP,
                          SECAGG_PHASE_MASKED_INPUT };
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out), 0);
    ck_assert(out.included[1] && !out.included[6]);
    harness_plain_sum(plain, &p, x, out.included);
    ck_assert_mem_eq(sum, plain, sizeof sum);
    ck_assert_uint_eq(out.bytes[0][SECAGG_PHASE_ADVERTISE_KEYS][1], 24 + 128);
    ck_assert_uint_eq(out.bytes[0][SECAGG_PHASE_CONSISTENCY_CHECK][1], 24 + 64);
}
END_TEST

/* SecAgg+ at n = 100 with the rule's (k, t) and 5 % dropouts after ShareKeys. */
START_TEST(secagg_plus_round)
{
    struct secagg_params p = harness_params(60, 2, 24, 33);
    p.graph = SECAGG_GRAPH_HARARY;
    p.degree = 12;
    p.t = 6;
    static uint64_t x[60 * 33];
    uint64_t sum[33], plain[33];
    fill_inputs(x, &p, 60);
    int drop[60];
    for (int u = 0; u < 60; u++)
        drop[u] = u % 20 == 3 ? SECAGG_PHASE_MASKED_INPUT
                              : (u % 20 == 7 ? SECAGG_PHASE_UNMASKING : HARNESS_NO_DROP);
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, drop, NULL, NULL, NULL, sum, &out), 0);
    harness_plain_sum(plain, &p, x, out.included);
    ck_assert_mem_eq(sum, plain, sizeof sum);
    ck_assert_uint_eq(out.bytes[0][SECAGG_PHASE_SHARE_KEYS][1], 24 + 4 + 12 * 100);
}
END_TEST

Suite *
secagg_protocol_suite(void)
{
    Suite *s = suite_create("secagg_protocol");
    TCase *tc = tcase_create("protocol");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, toy_known_answer);
    tcase_add_test(tc, masks_cancel_exactly);
    tcase_add_test(tc, abort_below_threshold);
    tcase_add_test(tc, masked_vector_uniform);
    tcase_add_test(tc, subset_sum_uniform);
    tcase_add_test(tc, ring_sizing);
    tcase_add_test(tc, accounting_equals_full);
    tcase_add_test(tc, determinism);
    tcase_add_test(tc, thread_split_identical);
    tcase_add_test(tc, semi_malicious_rounds);
    tcase_add_test(tc, secagg_plus_round);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("dropout patterns");
    tcase_set_timeout(tp, 600);
    tcase_add_test(tp, every_dropout_pattern_full);
    tcase_add_test(tp, every_dropout_pattern_accounting);
    suite_add_tcase(s, tp);
    return s;
}
