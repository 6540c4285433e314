/*
 * fuzz_secagg_round: a stateful fuzzer of the secure-aggregation protocol. Each fuzz round
 * runs one complete protocol round (aggregator/secagg_server.h with n clients of
 * clients/secagg_client.h, some dropping at random phases) and mutates exactly one message
 * on its way: a request or a reply, of a random phase and client, by a bit flip, a byte
 * overwrite, a truncation, an extension, a header field change or the replay of another
 * client's message of the same phase. Configurations cycle through both threat models,
 * both graphs (complete n = 8, Harary n = 20) and with and without authenticate.
 *
 * Verdict per round: the server aborts, or it outputs exactly the sum of the inputs of the
 * clients it reports included. Anything else is a wrong sum. The curious model without
 * authenticate assumes authenticated channels (docs/secure.md), so its wrong sums are only
 * counted; with authenticate (and under the semi-malicious model with it) a single wrong
 * sum fails the run, as does any other error or a crash.
 *
 * Usage: fuzz_secagg_round [--rounds N] [--seed S]. Deterministic for a given seed.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/secagg_server.h"
#include "base/rng.h"
#include "clients/secagg_client.h"
#include "crypto/ring.h"

#define FZ_M        16
#define FZ_MAX_N    20
#define FZ_VARIANTS 8 /* threat x graph x authenticate */

struct fz_stats {
    unsigned long rounds, mutated, completed, aborted, wrong, errors;
};

enum fz_mutation {
    FZ_FLIP_BIT,
    FZ_SET_BYTE,
    FZ_TRUNCATE,
    FZ_EXTEND,
    FZ_HEADER,
    FZ_REPLAY,
    FZ_MUTATIONS
};

struct fz_target {
    enum secagg_phase phase;
    uint32_t client;
    int reply; /* 0: mutate the request to client, 1: its reply */
    enum fz_mutation what;
    uint64_t a, b; /* random operands */
    bool hit;
};

/* Applies t to msg (capacity cap); prev is another client's message of the phase. */
static void
fz_mutate(struct fz_target *t, unsigned char *msg, size_t *len, size_t cap,
          const unsigned char *prev, size_t prev_len)
{
    t->hit = true;
    switch (t->what) {
    case FZ_FLIP_BIT:
        if (*len > 0)
            msg[t->a % *len] ^= (unsigned char)(1u << (t->b % 8));
        break;
    case FZ_SET_BYTE:
        if (*len > 0)
            msg[t->a % *len] = (unsigned char)(t->b | 1u) ^ msg[t->a % *len];
        break;
    case FZ_TRUNCATE:
        *len = *len > 0 ? t->a % *len : 0;
        break;
    case FZ_EXTEND:
        if (*len < cap)
            msg[(*len)++] = (unsigned char)t->b;
        break;
    case FZ_HEADER:
        if (*len >= 24)
            msg[t->a % 24] ^= (unsigned char)(1u << (t->b % 8));
        break;
    case FZ_REPLAY:
        if (prev != NULL && prev_len <= cap) {
            memcpy(msg, prev, prev_len);
            *len = prev_len;
        } else if (*len > 0) {
            msg[t->a % *len] ^= 1;
        }
        break;
    default:
        break;
    }
}

struct fz_buf {
    unsigned char *p;
    size_t len, cap;
};

static void
fz_reserve(struct fz_buf *b, size_t need)
{
    if (need <= b->cap)
        return;
    b->p = realloc(b->p, need);
    if (b->p == NULL) {
        fprintf(stderr, "fuzz_secagg_round: out of memory\n");
        exit(2);
    }
    b->cap = need;
}

/* One protocol round under variant v (bit 0 semi-malicious, 1 Harary, 2 authenticate). */
static void
fz_round(uint64_t seed, uint64_t i, unsigned v, struct fz_stats *st)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, i, v);
    bool semi = v & 1, harary = v & 2, auth = v & 4;
    struct secagg_params p = {
        .graph = harary ? SECAGG_GRAPH_HARARY : SECAGG_GRAPH_COMPLETE,
        .n = harary ? 20 : 8,
        .degree = harary ? 8 : 7,
        .t = harary ? 5 : 5,
        .min_clients = harary ? 16 : 0,
        .ring_bits = 24,
        .threat = semi ? SECAGG_THREAT_SEMI_MALICIOUS : SECAGG_THREAT_CURIOUS,
        .masks = SECAGG_MASKS_FULL,
        .authenticate = auth,
        .session = 0x5ec0a9 + i,
        .seed = seed ^ i,
        .round = i,
        .m = FZ_M,
    };
    static unsigned char pki[FZ_MAX_N][SIGN_PUBLIC_BYTES];
    static uint64_t ids[FZ_MAX_N];
    for (uint32_t u = 0; u < p.n; u++)
        ids[u] = 1000 + 37 * u + (i % 5);
    p.ids = ids;
    if (secagg_wire_signed(&p)) {
        if (secagg_wire_pki_fill(pki, p.server_pk, &p, NULL) < 0)
            abort();
        p.pki = (const unsigned char(*)[SIGN_PUBLIC_BYTES])pki;
    }
    uint64_t x[FZ_MAX_N * FZ_M], sum[FZ_M], plain[FZ_M];
    for (size_t k = 0; k < (size_t)p.n * FZ_M; k++)
        x[k] = rng_u32(&r) & 0xffff;
    enum secagg_phase phases[SECAGG_PHASES];
    int np = 0;
    phases[np++] = SECAGG_PHASE_ADVERTISE_KEYS;
    phases[np++] = SECAGG_PHASE_SHARE_KEYS;
    phases[np++] = SECAGG_PHASE_MASKED_INPUT;
    if (semi)
        phases[np++] = SECAGG_PHASE_CONSISTENCY_CHECK;
    phases[np++] = SECAGG_PHASE_UNMASKING;
    int drop[FZ_MAX_N];
    for (uint32_t u = 0; u < p.n; u++)
        drop[u] = rng_below(&r, 10) == 0 ? (int)phases[rng_below(&r, (uint64_t)np)] : -1;
    struct fz_target t = { .phase = phases[rng_below(&r, (uint64_t)np)],
                           .client = (uint32_t)rng_below(&r, p.n),
                           .reply = (int)rng_below(&r, 2),
                           .what = (enum fz_mutation)rng_below(&r, FZ_MUTATIONS),
                           .a = rng_u64(&r),
                           .b = rng_u64(&r) };

    struct secagg_server *s = NULL;
    struct secagg_client *c[FZ_MAX_N] = { NULL };
    bool gone[FZ_MAX_N] = { false };
    if (secagg_server_new(&s, &p, NULL) < 0)
        abort();
    for (uint32_t u = 0; u < p.n; u++)
        if (secagg_client_new(&c[u], &p, u, NULL) < 0 ||
            secagg_client_set_input(c[u], x + (size_t)u * FZ_M, NULL) < 0)
            abort();
    struct fz_buf req = { 0 }, rep = { 0 }, prev_req = { 0 }, prev_rep = { 0 };
    int rc = 0;
    for (int k = 0; k < np && rc == 0; k++) {
        enum secagg_phase ph = phases[k];
        prev_req.len = prev_rep.len = 0;
        for (uint32_t u = 0; u < p.n; u++) {
            size_t len = 0;
            if (gone[u] || secagg_server_dropped_phase(s, u) >= 0)
                continue;
            if (secagg_server_message_for(s, ph, u, NULL, 0, &len, NULL) < 0)
                continue;
            fz_reserve(&req, len + 16);
            if (secagg_server_message_for(s, ph, u, req.p, req.cap, &req.len, NULL) < 0) {
                st->errors++;
                continue;
            }
            bool target = ph == t.phase && u == t.client;
            if (target && !t.reply)
                fz_mutate(&t, req.p, &req.len, req.cap, prev_req.len ? prev_req.p : NULL,
                          prev_req.len);
            fz_reserve(&prev_req, req.len);
            memcpy(prev_req.p, req.p, req.len);
            prev_req.len = req.len;
            if (drop[u] == (int)ph) {
                gone[u] = true;
                continue;
            }
            fz_reserve(&rep, secagg_client_reply_bytes(c[u], ph) + 16);
            if (secagg_client_step(c[u], ph, req.p, req.len, rep.p, rep.cap, &rep.len, NULL) < 0) {
                gone[u] = true;
                continue;
            }
            if (target && t.reply)
                fz_mutate(&t, rep.p, &rep.len, rep.cap, prev_rep.len ? prev_rep.p : NULL,
                          prev_rep.len);
            fz_reserve(&prev_rep, rep.len);
            memcpy(prev_rep.p, rep.p, rep.len);
            prev_rep.len = rep.len;
            if (secagg_server_receive(s, ph, u, rep.p, rep.len, NULL) < 0)
                continue; /* refused: the server counts the client as dropped */
        }
        rc = secagg_server_close_phase(s, ph, NULL);
    }
    if (rc == 0)
        rc = secagg_server_result(s, sum, FZ_M, NULL);
    st->rounds++;
    st->mutated += t.hit; /* the target may have dropped before its phase */
    if (rc == -ERR_ABORTED) {
        st->aborted++;
    } else if (rc < 0) {
        st->errors++;
    } else {
        memset(plain, 0, sizeof plain);
        for (uint32_t u = 0; u < p.n; u++)
            if (secagg_server_included(s, u))
                ring_add_u64(plain, x + (size_t)u * FZ_M, FZ_M, p.ring_bits);
        if (memcmp(sum, plain, sizeof sum) == 0)
            st->completed++;
        else
            st->wrong++;
    }
    for (uint32_t u = 0; u < p.n; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
    free(req.p);
    free(rep.p);
    free(prev_req.p);
    free(prev_rep.p);
}

int
main(int argc, char **argv)
{
    unsigned long rounds = 400;
    uint64_t seed = 1;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc)
            rounds = strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 10);
        else {
            fprintf(stderr, "usage: fuzz_secagg_round [--rounds N] [--seed S]\n");
            return 2;
        }
    }
    if (sodium_init() < 0)
        return 2;
    struct fz_stats st[FZ_VARIANTS] = { { 0 } };
    for (unsigned long i = 0; i < rounds; i++)
        fz_round(seed, i, (unsigned)(i % FZ_VARIANTS), &st[i % FZ_VARIANTS]);
    int fail = 0;
    unsigned long total = 0, wrong_signed = 0, wrong_unsigned = 0;
    printf("%-15s %-8s %-5s %8s %8s %9s %7s %10s %6s\n", "threat", "graph", "auth", "rounds",
           "mutated", "completed", "aborted", "wrong_sums", "errors");
    for (unsigned v = 0; v < FZ_VARIANTS; v++) {
        bool auth = v & 4;
        printf("%-15s %-8s %-5s %8lu %8lu %9lu %7lu %10lu %6lu\n",
               (v & 1) ? "semi-malicious" : "curious", (v & 2) ? "harary" : "complete",
               auth ? "yes" : "no", st[v].rounds, st[v].mutated, st[v].completed, st[v].aborted,
               st[v].wrong, st[v].errors);
        total += st[v].rounds;
        if (auth)
            wrong_signed += st[v].wrong;
        else
            wrong_unsigned += st[v].wrong;
        if (st[v].errors > 0 || (auth && st[v].wrong > 0))
            fail = 1;
    }
    printf("fuzz_secagg_round: %lu rounds, %lu wrong sums with authenticate (must be 0), %lu "
           "without (channel tampering the curious model assumes away)\n",
           total, wrong_signed, wrong_unsigned);
    return fail;
}
