/*
 * secagg faults: tampered and misrouted envelopes, misrouted and truncated replies, a
 * low-order public key, duplicated shares, a client asked for both shares of one peer,
 * forged signatures. Each one drops a client (or refuses), never crashes, never a wrong sum.
 */
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "base/rng.h"
#include "crypto/ring.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/harness.h"
#include "tests/unit/secagg/suites.h"

enum fault {
    FAULT_FLIP_ENVELOPE,   /* client 0's envelope for client 2: one bit flipped */
    FAULT_SWAP_ENVELOPES,  /* client 0's envelopes for 1 and 2 exchanged (misrouted) */
    FAULT_MISROUTED_REPLY, /* client 3's masked input names client 4 */
    FAULT_LOW_ORDER_KEY,   /* client 1 advertises the all-zero (small-order) key */
    FAULT_DUP_SHARE,       /* client 5's unmasking reply repeats a share's index */
    FAULT_TRUNCATED_REPLY, /* client 4's ShareKeys reply loses its last byte */
    FAULT_FORGED_SIG,      /* client 2's AdvertiseKeys signature altered (semi-malicious) */
    FAULT_FORGED_CC_SIG,   /* client 3's ConsistencyCheck signature altered */
};

struct fault_ctx {
    enum fault f;
};

static void
fault_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
           size_t *len)
{
    struct fault_ctx *ctx = vctx;
    if (!is_reply)
        return;
    size_t stride = SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_ENVELOPE_BYTES;
    unsigned char *list = msg + SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_COUNT_BYTES;
    switch (ctx->f) {
    case FAULT_FLIP_ENVELOPE:
        if (phase == SECAGG_PHASE_SHARE_KEYS && client == 0)
            list[1 * stride + 4 + 17] ^= 0x10; /* entry 1 is for client 2 */
        break;
    case FAULT_SWAP_ENVELOPES:
        if (phase == SECAGG_PHASE_SHARE_KEYS && client == 0) {
            unsigned char tmp[SECAGG_WIRE_ENVELOPE_BYTES];
            memcpy(tmp, list + 4, sizeof tmp);
            memcpy(list + 4, list + stride + 4, sizeof tmp);
            memcpy(list + stride + 4, tmp, sizeof tmp);
        }
        break;
    case FAULT_MISROUTED_REPLY:
        if (phase == SECAGG_PHASE_MASKED_INPUT && client == 3)
            le_store32(msg + 4, 4);
        break;
    case FAULT_LOW_ORDER_KEY:
        if (phase == SECAGG_PHASE_ADVERTISE_KEYS && client == 1)
            memset(msg + SECAGG_WIRE_HEADER_BYTES, 0, SECAGG_WIRE_KEY_BYTES);
        break;
    case FAULT_DUP_SHARE:
        if (phase == SECAGG_PHASE_UNMASKING && client == 5) {
            size_t us = SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_SHARE_BYTES;
            memcpy(list + us, list, 4); /* entry 1 now claims entry 0's peer */
        }
        break;
    case FAULT_TRUNCATED_REPLY:
        if (phase == SECAGG_PHASE_SHARE_KEYS && client == 4)
            (*len)--;
        break;
    case FAULT_FORGED_SIG:
        if (phase == SECAGG_PHASE_ADVERTISE_KEYS && client == 2)
            msg[SECAGG_WIRE_HEADER_BYTES + 64 + 5] ^= 1;
        break;
    case FAULT_FORGED_CC_SIG:
        if (phase == SECAGG_PHASE_CONSISTENCY_CHECK && client == 3)
            msg[SECAGG_WIRE_HEADER_BYTES + 9] ^= 1;
        break;
    }
}

static const struct {
    enum fault f;
    bool semi;
    uint8_t included[7]; /* expected U3 */
    unsigned client_errors, server_rejects;
} fault_cases[] = {
    { FAULT_FLIP_ENVELOPE, false, { 1, 1, 0, 1, 1, 1, 1 }, 1, 0 },
    { FAULT_SWAP_ENVELOPES, false, { 1, 0, 0, 1, 1, 1, 1 }, 2, 0 },
    { FAULT_MISROUTED_REPLY, false, { 1, 1, 1, 0, 1, 1, 1 }, 0, 1 },
    { FAULT_LOW_ORDER_KEY, false, { 1, 0, 1, 1, 1, 1, 1 }, 0, 1 },
    { FAULT_DUP_SHARE, false, { 1, 1, 1, 1, 1, 1, 1 }, 0, 1 },
    { FAULT_TRUNCATED_REPLY, false, { 1, 1, 1, 1, 0, 1, 1 }, 0, 1 },
    { FAULT_FORGED_SIG, true, { 1, 1, 0, 1, 1, 1, 1 }, 0, 1 },
    { FAULT_FORGED_CC_SIG, true, { 1, 1, 1, 1, 1, 1, 1 }, 0, 1 },
};

START_TEST(fault_drops_client)
{
    struct secagg_params p = harness_params(7, 4, 30, 11);
    if (fault_cases[_i].semi)
        p.threat = SECAGG_THREAT_SEMI_MALICIOUS;
    uint64_t x[7 * 11], sum[11], plain[11];
    struct rng r;
    rng_init_stream(&r, 4, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < 77; i++)
        x[i] = rng_u64(&r) & ring_mask(30);
    struct fault_ctx ctx = { fault_cases[_i].f };
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, NULL, fault_hook, &ctx, NULL, sum, &out), 0);
    ck_assert_mem_eq(out.included, fault_cases[_i].included, 7);
    ck_assert_uint_eq(out.client_errors, fault_cases[_i].client_errors);
    ck_assert_uint_eq(out.server_rejects, fault_cases[_i].server_rejects);
    harness_plain_sum(plain, &p, x, out.included);
    ck_assert_mem_eq(sum, plain, sizeof sum);
}
END_TEST

/* Drives n clients to the Unmasking request of client 0 and returns it. */
static void
to_unmasking(struct secagg_server **s, struct secagg_client **c, const struct secagg_params *p,
             const uint64_t *x, unsigned char *req, size_t *rl)
{
    static unsigned char buf[8192], rep[8192];
    size_t l, ol;
    ck_assert_int_eq(secagg_server_new(s, p, NULL), 0);
    for (uint32_t u = 0; u < p->n; u++) {
        ck_assert_int_eq(secagg_client_new(&c[u], p, u, NULL), 0);
        ck_assert_int_eq(secagg_client_set_input(c[u], x + u * p->m, NULL), 0);
    }
    for (int ph = 0; ph < 3; ph++) {
        for (uint32_t u = 0; u < p->n; u++) {
            if (ph == SECAGG_PHASE_MASKED_INPUT && u == p->n - 1)
                continue; /* the last client drops before its masked input */
            ck_assert_int_eq(secagg_server_message_for(*s, ph, u, buf, sizeof buf, &l, NULL), 0);
            ck_assert_int_eq(secagg_client_step(c[u], ph, buf, l, rep, sizeof rep, &ol, NULL), 0);
            ck_assert_int_eq(secagg_server_receive(*s, ph, u, rep, ol, NULL), 0);
        }
        ck_assert_int_eq(secagg_server_close_phase(*s, ph, NULL), 0);
    }
    ck_assert_int_eq(secagg_server_message_for(*s, SECAGG_PHASE_UNMASKING, 0, req, 8192, rl, NULL),
                     0);
}

/*
 * The double-masking rule: a client asked for the b-share and the s^SK-share of the same
 * peer refuses, whether in one request or across two.
 */
START_TEST(refuses_both_shares)
{
    struct secagg_params p = harness_params(5, 3, 16, 4);
    uint64_t x[20] = { 0 };
    struct secagg_server *s;
    struct secagg_client *c[5];
    static unsigned char req[8192], bad[8192], rep[8192];
    size_t rl, ol;
    to_unmasking(&s, c, &p, x, req, &rl);
    /* Entries: clients 0..4 ascending (0 = self), client 4 asked for its mask key. */
    size_t e0 = SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_COUNT_BYTES;
    ck_assert_uint_eq(le_load32(req + SECAGG_WIRE_HEADER_BYTES), 5);
    ck_assert_uint_eq(req[e0 + 4 * 5 + 4], SECAGG_UNMASK_MASK_KEY);
    ck_assert_uint_eq(req[e0 + 1 * 5 + 4], SECAGG_UNMASK_SELF_SEED);
    ck_assert_int_eq(
        secagg_client_step(c[0], SECAGG_PHASE_UNMASKING, req, rl, rep, sizeof rep, &ol, NULL), 0);
    /* Second request: the same peers, but client 4's b-share this time. */
    memcpy(bad, req, rl);
    bad[e0 + 4 * 5 + 4] = SECAGG_UNMASK_SELF_SEED;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(
        secagg_client_step(c[0], SECAGG_PHASE_UNMASKING, bad, rl, rep, sizeof rep, &ol, &eb),
        -ERR_ABORTED);
    ck_assert_ptr_nonnull(strstr(eb.msg, "both shares"));
    ck_assert(secagg_client_failed(c[0]));
    /* One request naming client 2 twice with both kinds. */
    memcpy(bad, req, rl);
    le_store32(bad + e0 + 3 * 5, 2);
    bad[e0 + 3 * 5 + 4] = SECAGG_UNMASK_MASK_KEY;
    errbuf_clear(&eb);
    ck_assert_int_eq(
        secagg_client_step(c[1], SECAGG_PHASE_UNMASKING, bad, rl, rep, sizeof rep, &ol, &eb),
        -ERR_CORRUPT); /* addressed to client 0: rejected before anything */
    le_store32(bad + 4, 1);
    ck_assert_int_eq(
        secagg_client_step(c[2], SECAGG_PHASE_UNMASKING, bad, rl, rep, sizeof rep, &ol, &eb),
        -ERR_CORRUPT);
    for (uint32_t u = 0; u < 5; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);

    /* Fresh round: client 0 itself gets the double request in one message. */
    to_unmasking(&s, c, &p, x, req, &rl);
    memcpy(bad, req, rl);
    le_store32(bad + e0 + 4 * 5, 3); /* entry 4 (mask key) now names client 3 */
    errbuf_clear(&eb);
    ck_assert_int_eq(
        secagg_client_step(c[0], SECAGG_PHASE_UNMASKING, bad, rl, rep, sizeof rep, &ol, &eb),
        -ERR_ABORTED);
    ck_assert_ptr_nonnull(strstr(eb.msg, "both shares"));
    for (uint32_t u = 0; u < 5; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
}
END_TEST

/* A server that hands a client too few neighbours, or a U3 below t, is refused. */
START_TEST(refuses_small_views)
{
    struct secagg_params p = harness_params(5, 4, 16, 4);
    uint64_t x[20] = { 0 };
    struct secagg_server *s;
    struct secagg_client *c[5];
    static unsigned char req[8192], bad[8192], rep[8192];
    size_t rl, ol;
    to_unmasking(&s, c, &p, x, req, &rl);
    /* Turn two b-requests into mask-key requests: only 2 seeds asked, t = 4. */
    size_t e0 = SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_COUNT_BYTES;
    memcpy(bad, req, rl);
    bad[e0 + 1 * 5 + 4] = SECAGG_UNMASK_MASK_KEY;
    bad[e0 + 2 * 5 + 4] = SECAGG_UNMASK_MASK_KEY;
    ck_assert_int_eq(
        secagg_client_step(c[0], SECAGG_PHASE_UNMASKING, bad, rl, rep, sizeof rep, &ol, NULL),
        -ERR_ABORTED);
    /* Asking a client for its own mask key. */
    memcpy(bad, req, rl);
    bad[e0 + 4] = SECAGG_UNMASK_MASK_KEY;
    ck_assert_int_eq(
        secagg_client_step(c[1], SECAGG_PHASE_UNMASKING, bad, rl, rep, sizeof rep, &ol, NULL),
        -ERR_CORRUPT); /* addressed to 0 */
    for (uint32_t u = 0; u < 5; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
}
END_TEST

/* Protocol misuse is an error, not a crash: order of phases, late replies, bad indices. */
START_TEST(misuse_errors)
{
    struct secagg_params p = harness_params(4, 3, 16, 2);
    struct secagg_server *s;
    struct secagg_client *c;
    unsigned char buf[512], rep[512];
    size_t l, ol;
    ck_assert_int_eq(secagg_server_new(&s, &p, NULL), 0);
    ck_assert_int_eq(secagg_client_new(&c, &p, 0, NULL), 0);
    ck_assert_int_eq(
        secagg_server_message_for(s, SECAGG_PHASE_SHARE_KEYS, 0, buf, sizeof buf, &l, NULL),
        -ERR_INVALID);
    ck_assert_int_eq(
        secagg_server_message_for(s, SECAGG_PHASE_CONSISTENCY_CHECK, 0, buf, sizeof buf, &l, NULL),
        -ERR_INVALID);
    ck_assert_int_eq(
        secagg_server_message_for(s, SECAGG_PHASE_ADVERTISE_KEYS, 9, buf, sizeof buf, &l, NULL),
        -ERR_INVALID);
    ck_assert_int_eq(secagg_server_message_for(s, SECAGG_PHASE_ADVERTISE_KEYS, 0, buf, 3, &l, NULL),
                     -ERR_RANGE);
    ck_assert_int_eq(
        secagg_server_message_for(s, SECAGG_PHASE_ADVERTISE_KEYS, 0, buf, sizeof buf, &l, NULL), 0);
    ck_assert_int_eq(secagg_client_step(c, SECAGG_PHASE_ADVERTISE_KEYS, buf, l, rep, 10, &ol, NULL),
                     -ERR_RANGE);
    ck_assert(secagg_client_failed(c));
    secagg_client_free(c);
    ck_assert_int_eq(secagg_client_new(&c, &p, 0, NULL), 0);
    ck_assert_int_eq(
        secagg_client_step(c, SECAGG_PHASE_MASKED_INPUT, buf, l, rep, sizeof rep, &ol, NULL),
        -ERR_INVALID);
    secagg_client_free(c);
    ck_assert_int_eq(secagg_client_new(&c, &p, 0, NULL), 0);
    ck_assert_int_eq(
        secagg_client_step(c, SECAGG_PHASE_ADVERTISE_KEYS, buf, l, rep, sizeof rep, &ol, NULL), 0);
    ck_assert_int_eq(secagg_server_receive(s, SECAGG_PHASE_ADVERTISE_KEYS, 0, rep, ol, NULL), 0);
    ck_assert_int_eq(secagg_server_receive(s, SECAGG_PHASE_ADVERTISE_KEYS, 0, rep, ol, NULL),
                     -ERR_CORRUPT); /* duplicate: ignored, client stays */
    ck_assert_int_eq(secagg_server_dropped_phase(s, 0), -1);
    ck_assert_int_eq(secagg_server_close_phase(s, SECAGG_PHASE_ADVERTISE_KEYS, NULL),
                     -ERR_ABORTED); /* 1 client < t = 3 */
    ck_assert(secagg_server_aborted(s));
    uint64_t sum[2];
    ck_assert_int_eq(secagg_server_result(s, sum, 2, NULL), -ERR_ABORTED);
    secagg_client_free(c);
    secagg_server_free(s);

    uint64_t big[2] = { 1, 1u << 16 };
    ck_assert_int_eq(secagg_client_new(&c, &p, 1, NULL), 0);
    ck_assert_int_eq(secagg_client_set_input(c, big, NULL), -ERR_RANGE);
    secagg_client_free(c);
    p.t = 1;
    ck_assert_int_eq(secagg_client_new(&c, &p, 1, NULL), -ERR_INVALID);
    ck_assert_int_eq(secagg_server_new(&s, &p, NULL), -ERR_INVALID);
}
END_TEST

/* A ShareKeys request with fewer than t - 1 neighbours, or out of order, is refused. */
START_TEST(refuses_bad_neighbour_lists)
{
    struct secagg_params p = harness_params(5, 4, 16, 4);
    struct secagg_server *s;
    struct secagg_client *c[5];
    static unsigned char buf[8192], rep[8192], bad[8192];
    size_t l, ol;
    ck_assert_int_eq(secagg_server_new(&s, &p, NULL), 0);
    for (uint32_t u = 0; u < 5; u++) {
        ck_assert_int_eq(secagg_client_new(&c[u], &p, u, NULL), 0);
        ck_assert_int_eq(secagg_server_message_for(s, 0, u, buf, sizeof buf, &l, NULL), 0);
        ck_assert_int_eq(secagg_client_step(c[u], 0, buf, l, rep, sizeof rep, &ol, NULL), 0);
        ck_assert_int_eq(secagg_server_receive(s, 0, u, rep, ol, NULL), 0);
    }
    ck_assert_int_eq(secagg_server_close_phase(s, 0, NULL), 0);
    ck_assert_int_eq(secagg_server_message_for(s, 1, 0, buf, sizeof buf, &l, NULL), 0);
    size_t stride = 4 + 64;
    /* Only two neighbours announced: 3 < t = 4. */
    memcpy(bad, buf, l);
    le_store32(bad + 24, 2);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(
        secagg_client_step(c[0], 1, bad, 24 + 4 + 2 * stride, rep, sizeof rep, &ol, &eb),
        -ERR_ABORTED);
    ck_assert_ptr_nonnull(strstr(eb.msg, "threshold"));
    /* Neighbours out of order. */
    memcpy(bad, buf, l);
    memcpy(bad + 28, buf + 28 + stride, stride);
    memcpy(bad + 28 + stride, buf + 28, stride);
    ck_assert_int_eq(secagg_client_step(c[1], 1, bad, l, rep, sizeof rep, &ol, NULL),
                     -ERR_CORRUPT); /* addressed to 0 */
    le_store32(bad + 4, 2);
    ck_assert_int_eq(secagg_client_step(c[2], 1, bad, l, rep, sizeof rep, &ol, NULL), -ERR_CORRUPT);
    /* The genuine request still works for a fresh client. */
    ck_assert_int_eq(secagg_client_step(c[3], 1, buf, l, rep, sizeof rep, &ol, NULL),
                     -ERR_CORRUPT); /* addressed to 0, not 3 */
    ck_assert_int_eq(secagg_server_message_for(s, 1, 4, buf, sizeof buf, &l, NULL), 0);
    ck_assert_int_eq(secagg_client_step(c[4], 1, buf, l, rep, sizeof rep, &ol, NULL), 0);
    for (uint32_t u = 0; u < 5; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
}
END_TEST

Suite *
secagg_faults_suite(void)
{
    Suite *s = suite_create("secagg_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, fault_drops_client, 0, (int)(sizeof fault_cases / sizeof *fault_cases));
    tcase_add_test(tc, refuses_both_shares);
    tcase_add_test(tc, refuses_small_views);
    tcase_add_test(tc, misuse_errors);
    tcase_add_test(tc, refuses_bad_neighbour_lists);
    suite_add_tcase(s, tc);
    return s;
}
