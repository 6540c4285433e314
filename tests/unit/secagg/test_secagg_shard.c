/*
 * secagg shard: one round shared by several processes (secagg_server_set_local,
 * secagg_server_receive_elsewhere; sim/run_secure.c drives it the same way). Each process
 * runs its own server and its own copy of every client's protocol state; a process that
 * does not hold client u's input only prepares u's MaskedInput step (no slice) and records
 * u's reply as received elsewhere. The shares of the processes add up, to the bit, to the
 * unsharded server's result, which is the plain sum of U3; survivor sets agree everywhere.
 * Then every misuse of the two calls is an error that leaves the round intact.
 */
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "crypto/ring.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/harness.h"
#include "tests/unit/secagg/suites.h"

#define SHARD_N_MAX 20 /* clients per round in these tests */
#define SHARD_M     33 /* coordinates per input */
#define SHARD_S_MAX 3  /* processes per split */

static void
shard_fill(uint64_t *x, size_t len, unsigned ring_bits, uint64_t salt)
{
    struct rng r;
    rng_init_stream(&r, 2385 + salt, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < len; i++)
        x[i] = rng_u64(&r) & ring_mask(ring_bits);
}

/* How the clients are split over the processes. */
enum shard_split {
    SPLIT_MOD2,   /* client u on process u % 2 */
    SPLIT_MOD3,   /* client u on process u % 3 */
    SPLIT_UNEVEN, /* {0} | the MaskedInput dropouts (no input, only masks to cancel) | rest */
    SPLIT_EMPTY,  /* process 0 holds nobody, process 1 everybody */
};
#define SHARD_SPLITS 4

/* One process of the round: its server and its copy of every client. */
struct shard_proc {
    struct secagg_server *s;
    struct secagg_client *c[SHARD_N_MAX];
    uint8_t local[SHARD_N_MAX]; /* all 1 for the unsharded reference */
    bool sharded;
    int split; /* -1 for the single-process run */
    unsigned shard;
    uint64_t share[SHARD_M];
};

/* A round's dropouts: the phase each client vanishes in (after receiving its request). */
static void
shard_drops(int *drop, uint32_t n)
{
    for (uint32_t u = 0; u < n; u++)
        drop[u] = HARNESS_NO_DROP;
    drop[5] = SECAGG_PHASE_ADVERTISE_KEYS;
    drop[11] = SECAGG_PHASE_SHARE_KEYS;
    /* Silent in MaskedInput: their owners cancel their pairwise masks. Owners
     * (u % 2, u % 3) = (0, 2), (1, 0), (0, 1): every mod-3 process owns one. */
    drop[2] = SECAGG_PHASE_MASKED_INPUT;
    drop[9] = SECAGG_PHASE_MASKED_INPUT;
    drop[16] = SECAGG_PHASE_MASKED_INPUT;
    drop[13] = SECAGG_PHASE_CONSISTENCY_CHECK; /* curious model: no such phase, never drops */
    drop[7] = SECAGG_PHASE_UNMASKING;          /* in U3: self mask rebuilt from shares */
    drop[14] = SECAGG_PHASE_UNMASKING;
}

static unsigned
shard_owner(enum shard_split split, uint32_t u, const int *drop)
{
    switch (split) {
    case SPLIT_MOD2:
        return u % 2;
    case SPLIT_MOD3:
        return u % 3;
    case SPLIT_UNEVEN:
        if (u == 0)
            return 0;
        return drop[u] == SECAGG_PHASE_MASKED_INPUT ? 1 : 2;
    case SPLIT_EMPTY:
        return 1;
    }
    return 0;
}

static unsigned
shard_count(enum shard_split split)
{
    return split == SPLIT_MOD3 || split == SPLIT_UNEVEN ? 3 : 2;
}

/* The request of phase for client u from server s (NULL when it sends none). */
static unsigned char *
shard_request(struct secagg_server *s, enum secagg_phase ph, uint32_t u, size_t *len)
{
    if (secagg_server_message_for(s, ph, u, NULL, 0, len, NULL) < 0)
        return NULL;
    unsigned char *req = malloc(*len);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(secagg_server_message_for(s, ph, u, req, *len, len, NULL), 0);
    return req;
}

/*
 * Runs one round of p on the unsharded reference and on every split at once, in lockstep:
 * every process's server and clients see the same sequence of phases and dropouts.
 */
static void
shard_round(const struct secagg_params *p)
{
    uint32_t n = p->n;
    ck_assert_uint_le(n, SHARD_N_MAX);
    ck_assert_uint_eq(p->m, SHARD_M);
    uint64_t x[SHARD_N_MAX * SHARD_M], decoy[SHARD_N_MAX * SHARD_M];
    shard_fill(x, (size_t)n * SHARD_M, p->ring_bits, n + p->graph * 10 + p->threat * 100);
    /* What a process not holding a client's input gives it: must not reach any result. */
    shard_fill(decoy, (size_t)n * SHARD_M, p->ring_bits, 999);
    int drop[SHARD_N_MAX];
    shard_drops(drop, n);

    struct shard_proc procs[1 + SHARD_SPLITS * SHARD_S_MAX];
    size_t np = 0;
    procs[np++] = (struct shard_proc){ .split = -1 };
    for (int sp = 0; sp < SHARD_SPLITS; sp++)
        for (unsigned k = 0; k < shard_count(sp); k++)
            procs[np++] = (struct shard_proc){ .split = sp, .shard = k, .sharded = true };
    for (size_t k = 0; k < np; k++) {
        struct shard_proc *pr = &procs[k];
        ck_assert_int_eq(secagg_server_new(&pr->s, p, NULL), 0);
        for (uint32_t u = 0; u < n; u++) {
            pr->local[u] = !pr->sharded || shard_owner(pr->split, u, drop) == pr->shard;
            ck_assert_int_eq(secagg_client_new(&pr->c[u], p, u, NULL), 0);
            const uint64_t *in = pr->local[u] ? x : decoy;
            ck_assert_int_eq(secagg_client_set_input(pr->c[u], in + (size_t)u * SHARD_M, NULL), 0);
        }
        if (pr->sharded)
            ck_assert_int_eq(secagg_server_set_local(pr->s, pr->local, NULL), 0);
    }

    enum secagg_phase phases[SECAGG_PHASES];
    int nph = 0;
    phases[nph++] = SECAGG_PHASE_ADVERTISE_KEYS;
    phases[nph++] = SECAGG_PHASE_SHARE_KEYS;
    phases[nph++] = SECAGG_PHASE_MASKED_INPUT;
    if (p->threat == SECAGG_THREAT_SEMI_MALICIOUS)
        phases[nph++] = SECAGG_PHASE_CONSISTENCY_CHECK;
    phases[nph++] = SECAGG_PHASE_UNMASKING;
    struct shard_proc *ref = &procs[0];
    for (int i = 0; i < nph; i++) {
        enum secagg_phase ph = phases[i];
        for (uint32_t u = 0; u < n; u++) {
            size_t rlen0 = 0;
            unsigned char *req0 = shard_request(ref->s, ph, u, &rlen0);
            if (req0 == NULL) {
                /* Not asked by the single-process run: asked by no process either. */
                for (size_t k = 1; k < np; k++) {
                    size_t l;
                    ck_assert_ptr_null(shard_request(procs[k].s, ph, u, &l));
                }
                continue;
            }
            /* Every process sends the same request: only MaskedInput's sums differ. */
            unsigned char *req[1 + SHARD_SPLITS * SHARD_S_MAX] = { req0 };
            size_t rlen[1 + SHARD_SPLITS * SHARD_S_MAX] = { rlen0 };
            for (size_t k = 1; k < np; k++) {
                req[k] = shard_request(procs[k].s, ph, u, &rlen[k]);
                ck_assert_ptr_nonnull(req[k]);
                ck_assert_uint_eq(rlen[k], rlen0);
                ck_assert_mem_eq(req[k], req0, rlen0);
            }
            if (drop[u] != (int)ph) {
                size_t cap = secagg_client_reply_bytes(ref->c[u], ph);
                unsigned char *rep0 = malloc(cap), *rep = malloc(cap);
                size_t olen0 = 0, olen = 0;
                ck_assert_int_eq(
                    secagg_client_step(ref->c[u], ph, req0, rlen0, rep0, cap, &olen0, NULL), 0);
                ck_assert_int_eq(secagg_server_receive(ref->s, ph, u, rep0, olen0, NULL), 0);
                for (size_t k = 1; k < np; k++) {
                    struct shard_proc *pr = &procs[k];
                    if (ph == SECAGG_PHASE_MASKED_INPUT && !pr->local[u]) {
                        ck_assert_int_eq(secagg_client_masked_prepare(pr->c[u], req[k], rlen[k],
                                                                      rep, cap, &olen, NULL),
                                         0);
                        secagg_client_masked_finish(pr->c[u]);
                        ck_assert_uint_eq(olen, olen0);
                        ck_assert_mem_eq(rep, rep0, SECAGG_WIRE_HEADER_BYTES);
                        ck_assert_int_eq(secagg_server_receive_elsewhere(pr->s, ph, u, NULL), 0);
                        continue;
                    }
                    ck_assert_int_eq(
                        secagg_client_step(pr->c[u], ph, req[k], rlen[k], rep, cap, &olen, NULL),
                        0);
                    ck_assert_uint_eq(olen, olen0);
                    /* A masked input differs from the unsharded run's only where the input
                     * does, and local inputs are the real ones: same bytes everywhere. */
                    ck_assert_mem_eq(rep, rep0, olen0);
                    ck_assert_int_eq(secagg_server_receive(pr->s, ph, u, rep, olen, NULL), 0);
                }
                free(rep0);
                free(rep);
            }
            for (size_t k = 0; k < np; k++)
                free(req[k]);
        }
        for (size_t k = 0; k < np; k++) {
            struct errbuf eb;
            errbuf_clear(&eb);
            ck_assert_msg(secagg_server_close_phase(procs[k].s, ph, &eb) == 0,
                          "process %zu, phase %d: %s", k, (int)ph, eb.msg);
            ck_assert_uint_eq(secagg_server_survivors(procs[k].s, ph),
                              secagg_server_survivors(ref->s, ph));
        }
    }

    /* The reference: the plain sum of U3 = the clients that uploaded. */
    uint8_t inc[SHARD_N_MAX];
    for (uint32_t u = 0; u < n; u++) {
        inc[u] = secagg_server_included(ref->s, u);
        bool uploaded = drop[u] == HARNESS_NO_DROP || drop[u] > SECAGG_PHASE_MASKED_INPUT;
        ck_assert_int_eq(inc[u], uploaded);
    }
    uint64_t plain[SHARD_M];
    harness_plain_sum(plain, p, x, inc);
    ck_assert_int_eq(secagg_server_result(ref->s, ref->share, SHARD_M, NULL), 0);
    ck_assert_mem_eq(ref->share, plain, sizeof plain);

    for (size_t k = 1; k < np; k++) {
        struct shard_proc *pr = &procs[k];
        ck_assert_int_eq(secagg_server_result(pr->s, pr->share, SHARD_M, NULL), 0);
        for (uint32_t u = 0; u < n; u++) {
            ck_assert_int_eq(secagg_server_included(pr->s, u), inc[u]);
            ck_assert_int_eq(secagg_server_dropped_phase(pr->s, u),
                             secagg_server_dropped_phase(ref->s, u));
        }
        uint8_t mine[SHARD_N_MAX];
        for (uint32_t u = 0; u < n; u++)
            mine[u] = inc[u] && pr->local[u];
        uint64_t local_plain[SHARD_M];
        harness_plain_sum(local_plain, p, x, mine);
        if (p->masks == SECAGG_MASKS_ACCOUNTING) {
            /* No masks: a share is exactly its process's part of the sum. */
            ck_assert_mem_eq(pr->share, local_plain, sizeof local_plain);
        } else if (pr->split != SPLIT_EMPTY) {
            /* Pairwise masks cross every split: a share alone reveals no partial sum
             * (33 coordinates all equal by chance: probability below 2^-500). */
            ck_assert(memcmp(pr->share, local_plain, sizeof local_plain) != 0);
        }
    }
    for (int sp = 0; sp < SHARD_SPLITS; sp++) {
        uint64_t total[SHARD_M] = { 0 };
        for (size_t k = 1; k < np; k++)
            if (procs[k].split == sp)
                ring_add_u64(total, procs[k].share, SHARD_M, p->ring_bits);
        ck_assert_msg(memcmp(total, ref->share, sizeof total) == 0,
                      "split %d: shares do not add up to the sum", sp);
        if (sp == SPLIT_EMPTY) /* the process holding nobody contributes zero */
            for (size_t k = 1; k < np; k++)
                if (procs[k].split == sp && procs[k].shard == 0)
                    for (size_t i = 0; i < SHARD_M; i++)
                        ck_assert_uint_eq(procs[k].share[i], 0);
    }

    for (size_t k = 0; k < np; k++) {
        for (uint32_t u = 0; u < n; u++)
            secagg_client_free(procs[k].c[u]);
        secagg_server_free(procs[k].s);
    }
}

static const struct {
    enum secagg_graph_kind graph;
    enum secagg_threat threat;
    enum secagg_masks masks;
    unsigned ring_bits;
} shard_cases[] = {
    { SECAGG_GRAPH_COMPLETE, SECAGG_THREAT_CURIOUS, SECAGG_MASKS_FULL, 64 },
    { SECAGG_GRAPH_COMPLETE, SECAGG_THREAT_SEMI_MALICIOUS, SECAGG_MASKS_FULL, 33 },
    { SECAGG_GRAPH_HARARY, SECAGG_THREAT_CURIOUS, SECAGG_MASKS_FULL, 29 },
    { SECAGG_GRAPH_HARARY, SECAGG_THREAT_SEMI_MALICIOUS, SECAGG_MASKS_FULL, 17 },
    { SECAGG_GRAPH_COMPLETE, SECAGG_THREAT_CURIOUS, SECAGG_MASKS_ACCOUNTING, 64 },
    { SECAGG_GRAPH_COMPLETE, SECAGG_THREAT_SEMI_MALICIOUS, SECAGG_MASKS_ACCOUNTING, 26 },
    { SECAGG_GRAPH_HARARY, SECAGG_THREAT_CURIOUS, SECAGG_MASKS_ACCOUNTING, 31 },
    { SECAGG_GRAPH_HARARY, SECAGG_THREAT_SEMI_MALICIOUS, SECAGG_MASKS_ACCOUNTING, 20 },
};

/*
 * Complete graph: n = 17, t = 9 (a majority; the semi-malicious round ends with exactly
 * 9 in U5). Harary: n = 20, degree 12, t = 5, so every neighbourhood of 13 keeps t shares
 * whichever 8 clients drop. Dropouts in every phase (shard_drops).
 */
START_TEST(shares_add_up)
{
    struct secagg_params p;
    if (shard_cases[_i].graph == SECAGG_GRAPH_COMPLETE) {
        p = harness_params(17, 9, shard_cases[_i].ring_bits, SHARD_M);
    } else {
        p = harness_params(20, 5, shard_cases[_i].ring_bits, SHARD_M);
        p.graph = SECAGG_GRAPH_HARARY;
        p.degree = 12;
    }
    p.threat = shard_cases[_i].threat;
    p.masks = shard_cases[_i].masks;
    void *pki = harness_register(&p);
    shard_round(&p);
    free(pki);
}
END_TEST

/* Steps client u in phase against s and feeds the reply to every server in to[0..nto). */
static void
shard_step(struct secagg_client *c, enum secagg_phase ph, uint32_t u, struct secagg_server *s,
           struct secagg_server *const *to, size_t nto)
{
    size_t rlen = 0, olen = 0;
    unsigned char *req = shard_request(s, ph, u, &rlen);
    ck_assert_ptr_nonnull(req);
    size_t cap = secagg_client_reply_bytes(c, ph);
    unsigned char *rep = malloc(cap);
    ck_assert_int_eq(secagg_client_step(c, ph, req, rlen, rep, cap, &olen, NULL), 0);
    for (size_t k = 0; k < nto; k++)
        ck_assert_int_eq(secagg_server_receive(to[k], ph, u, rep, olen, NULL), 0);
    free(req);
    free(rep);
}

/* Asserts that call fails with want and that eb's message contains text. */
#define SHARD_ASSERT_ERR(eb, call, want, text)                                                     \
    do {                                                                                           \
        errbuf_clear(&(eb));                                                                       \
        ck_assert_int_eq((call), (want));                                                          \
        ck_assert_int_eq((eb).code, (want));                                                       \
        ck_assert_msg(strstr((eb).msg, (text)) != NULL, "'%s' lacks '%s'", (eb).msg, (text));      \
    } while (0)

/*
 * Misuse of the sharding calls: each is -ERR_INVALID (a duplicate -ERR_CORRUPT, as for any
 * duplicate reply) with a message naming the problem, and none leaves a trace: the round
 * then completes and the shares still add up. n = 5, t = 3; A is unsharded, B holds
 * clients {0, 1} and C {2, 3, 4}; client 4 drops in ShareKeys, client 3 in MaskedInput.
 */
START_TEST(sharding_misuse)
{
    struct secagg_params p = harness_params(5, 3, 24, 6);
    uint64_t x[5 * 6];
    shard_fill(x, 30, 24, 5);
    struct secagg_server *a, *b, *c;
    struct secagg_client *cl[5];
    struct errbuf eb;
    ck_assert_int_eq(secagg_server_new(&a, &p, NULL), 0);
    ck_assert_int_eq(secagg_server_new(&b, &p, NULL), 0);
    ck_assert_int_eq(secagg_server_new(&c, &p, NULL), 0);
    for (uint32_t u = 0; u < 5; u++) {
        ck_assert_int_eq(secagg_client_new(&cl[u], &p, u, NULL), 0);
        ck_assert_int_eq(secagg_client_set_input(cl[u], x + u * 6, NULL), 0);
    }
    struct secagg_server *const all[3] = { a, b, c };
    const uint8_t all_local[5] = { 1, 1, 1, 1, 1 };
    const uint8_t b_local[5] = { 1, 1, 0, 0, 0 }, c_local[5] = { 0, 0, 1, 1, 1 };

    /* Not sharded (yet): no input is elsewhere. */
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 2, &eb),
                     -ERR_INVALID, "sharded");
    /* set_local may be repeated before MaskedInput opens; the last one counts. */
    ck_assert_int_eq(secagg_server_set_local(b, all_local, NULL), 0);
    ck_assert_int_eq(secagg_server_set_local(b, b_local, NULL), 0);
    ck_assert_int_eq(secagg_server_set_local(c, c_local, NULL), 0);
    /* Only MaskedInput replies can be elsewhere, and only while that phase is open. */
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_ADVERTISE_KEYS, 2, &eb),
                     -ERR_INVALID, "MaskedInput");
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 2, &eb),
                     -ERR_INVALID, "not open");

    for (uint32_t u = 0; u < 5; u++)
        shard_step(cl[u], SECAGG_PHASE_ADVERTISE_KEYS, u, a, all, 3);
    for (size_t k = 0; k < 3; k++)
        ck_assert_int_eq(secagg_server_close_phase(all[k], SECAGG_PHASE_ADVERTISE_KEYS, NULL), 0);
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(c, SECAGG_PHASE_SHARE_KEYS, 0, &eb),
                     -ERR_INVALID, "MaskedInput");
    for (uint32_t u = 0; u < 4; u++) /* client 4 stays silent */
        shard_step(cl[u], SECAGG_PHASE_SHARE_KEYS, u, a, all, 3);
    for (size_t k = 0; k < 3; k++)
        ck_assert_int_eq(secagg_server_close_phase(all[k], SECAGG_PHASE_SHARE_KEYS, NULL), 0);
    /* MaskedInput is open: a split given now could disown an input already summed. */
    SHARD_ASSERT_ERR(eb, secagg_server_set_local(b, c_local, &eb), -ERR_INVALID, "opens");

    /* MaskedInput: client 0's reply, held by B. */
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(a, SECAGG_PHASE_MASKED_INPUT, 0, &eb),
                     -ERR_INVALID, "sharded");
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 0, &eb),
                     -ERR_INVALID, "held here");
    struct secagg_server *const a_b[2] = { a, b }, *const a_c[2] = { a, c };
    shard_step(cl[0], SECAGG_PHASE_MASKED_INPUT, 0, a, a_b, 2);
    ck_assert_int_eq(secagg_server_receive_elsewhere(c, SECAGG_PHASE_MASKED_INPUT, 0, NULL), 0);
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(c, SECAGG_PHASE_MASKED_INPUT, 0, &eb),
                     -ERR_CORRUPT, "duplicate");
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 0, &eb),
                     -ERR_CORRUPT, "duplicate");
    ck_assert_int_eq(secagg_server_dropped_phase(c, 0), -1);
    shard_step(cl[1], SECAGG_PHASE_MASKED_INPUT, 1, a, a_b, 2);
    ck_assert_int_eq(secagg_server_receive_elsewhere(c, SECAGG_PHASE_MASKED_INPUT, 1, NULL), 0);

    /* Client 2's reply, held by C, offered to B: refused, and client 2 stays live at B. */
    size_t rlen, olen;
    unsigned char *req = shard_request(a, SECAGG_PHASE_MASKED_INPUT, 2, &rlen);
    size_t cap = secagg_client_reply_bytes(cl[2], SECAGG_PHASE_MASKED_INPUT);
    unsigned char *rep = malloc(cap);
    ck_assert_int_eq(
        secagg_client_step(cl[2], SECAGG_PHASE_MASKED_INPUT, req, rlen, rep, cap, &olen, NULL), 0);
    SHARD_ASSERT_ERR(eb, secagg_server_receive(b, SECAGG_PHASE_MASKED_INPUT, 2, rep, olen, &eb),
                     -ERR_INVALID, "held by another process");
    ck_assert_int_eq(secagg_server_dropped_phase(b, 2), -1);
    ck_assert(!secagg_server_included(b, 2));
    for (size_t k = 0; k < 2; k++)
        ck_assert_int_eq(
            secagg_server_receive(a_c[k], SECAGG_PHASE_MASKED_INPUT, 2, rep, olen, NULL), 0);
    ck_assert_int_eq(secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 2, NULL), 0);
    free(req);
    free(rep);
    /* Client 4 dropped in ShareKeys; client 5 does not exist. */
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 4, &eb),
                     -ERR_INVALID, "dropped");
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_MASKED_INPUT, 5, &eb),
                     -ERR_INVALID, "not below n");
    for (size_t k = 0; k < 3; k++) /* client 3 never uploads */
        ck_assert_int_eq(secagg_server_close_phase(all[k], SECAGG_PHASE_MASKED_INPUT, NULL), 0);

    /* MaskedInput has closed: too late to shard, or to report an input elsewhere. */
    SHARD_ASSERT_ERR(eb, secagg_server_set_local(b, all_local, &eb), -ERR_INVALID, "sharding");
    SHARD_ASSERT_ERR(eb, secagg_server_set_local(a, b_local, &eb), -ERR_INVALID, "sharding");
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(c, SECAGG_PHASE_MASKED_INPUT, 3, &eb),
                     -ERR_INVALID, "not open");
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(b, SECAGG_PHASE_UNMASKING, 2, &eb),
                     -ERR_INVALID, "MaskedInput");

    for (uint32_t u = 0; u < 3; u++)
        shard_step(cl[u], SECAGG_PHASE_UNMASKING, u, a, all, 3);
    for (size_t k = 0; k < 3; k++)
        ck_assert_int_eq(secagg_server_close_phase(all[k], SECAGG_PHASE_UNMASKING, NULL), 0);
    SHARD_ASSERT_ERR(eb, secagg_server_set_local(c, all_local, &eb), -ERR_INVALID, "sharding");
    const uint8_t inc[5] = { 1, 1, 1, 0, 0 };
    uint64_t plain[6], sa[6], sb[6], sc[6];
    harness_plain_sum(plain, &p, x, inc);
    ck_assert_int_eq(secagg_server_result(a, sa, 6, NULL), 0);
    ck_assert_int_eq(secagg_server_result(b, sb, 6, NULL), 0);
    ck_assert_int_eq(secagg_server_result(c, sc, 6, NULL), 0);
    ck_assert_mem_eq(sa, plain, sizeof plain);
    ring_add_u64(sb, sc, 6, p.ring_bits);
    ck_assert_mem_eq(sb, plain, sizeof plain);
    for (uint32_t u = 0; u < 5; u++)
        for (size_t k = 0; k < 3; k++)
            ck_assert_int_eq(secagg_server_included(all[k], u), inc[u]);

    /* After an abort, the sharding calls report the abort. */
    struct secagg_server *d;
    ck_assert_int_eq(secagg_server_new(&d, &p, NULL), 0);
    ck_assert_int_eq(secagg_server_set_local(d, b_local, NULL), 0);
    ck_assert_int_eq(secagg_server_close_phase(d, SECAGG_PHASE_ADVERTISE_KEYS, NULL), -ERR_ABORTED);
    SHARD_ASSERT_ERR(eb, secagg_server_receive_elsewhere(d, SECAGG_PHASE_MASKED_INPUT, 2, &eb),
                     -ERR_ABORTED, "aborted");

    for (uint32_t u = 0; u < 5; u++)
        secagg_client_free(cl[u]);
    for (size_t k = 0; k < 3; k++)
        secagg_server_free(all[k]);
    secagg_server_free(d);
}
END_TEST

Suite *
secagg_shard_suite(void)
{
    Suite *s = suite_create("secagg_shard");
    TCase *tc = tcase_create("sharded rounds");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, shares_add_up, 0, (int)(sizeof shard_cases / sizeof *shard_cases));
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("sharding misuse");
    tcase_add_test(te, sharding_misuse);
    suite_add_tcase(s, te);
    return s;
}
