/* secagg_server: the server's rounds of SecAgg / SecAgg+ (see secagg_server.h). */
#include "aggregator/secagg_server.h"

#include <sodium.h>
#include <string.h>

#include "aggregator/secagg_graph.h"
#include "base/le.h"
#include "base/mem.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/ring.h"
#include "crypto/shamir.h"
#include "crypto/sign.h"
#include "base/banned.h"

#define SERVER_LIVE 0xFF /* dropped_at value of a live client */

struct secagg_server {
    struct secagg_params p;
    struct secagg_graph *g;
    uint32_t d;      /* degree */
    unsigned closed; /* stage of the last closed phase (0 = none) */
    bool aborted;
    bool done;           /* Unmasking closed successfully */
    uint8_t *stage;      /* per client: 1 = in U1, ..., 5 = in U5 */
    uint8_t *dropped_at; /* per client: phase it dropped in, or SERVER_LIVE */
    unsigned char (*keys)[2 * SECAGG_WIRE_KEY_BYTES]; /* c_pk || s_pk */
    unsigned char (*adv_sig)[SECAGG_WIRE_SIG_BYTES];  /* semi-malicious only */
    unsigned char (*cc_sig)[SECAGG_WIRE_SIG_BYTES];   /* semi-malicious only */
    unsigned char *env;          /* n * d envelopes: env[u][slot of v in N(u)] from u to v */
    uint64_t *sum;               /* running sum of masked inputs, then the result */
    unsigned char *u3map;        /* bitmap of U3 */
    struct shamir_share *shares; /* n * (d + 1): shares of each client's secret */
    uint32_t *share_count;
    struct shamir *sh;
    uint8_t *local; /* sharded: clients whose masked input this process holds; NULL = all */
    struct sign_keypair sig; /* the server's long-term key (authenticate) */
};

/* The stage a client reaches by replying in phase. */
static unsigned
server_stage_of(enum secagg_phase phase)
{
    return (unsigned)phase + 1;
}

/* The stage a client must be at to be asked in phase (curious: Unmasking follows MaskedInput). */
static unsigned
server_stage_before(const struct secagg_server *s, enum secagg_phase phase)
{
    if (phase == SECAGG_PHASE_UNMASKING && s->p.threat == SECAGG_THREAT_CURIOUS)
        return server_stage_of(SECAGG_PHASE_MASKED_INPUT);
    return (unsigned)phase;
}

static bool
server_phase_valid(const struct secagg_server *s, enum secagg_phase phase)
{
    if (phase == SECAGG_PHASE_CONSISTENCY_CHECK)
        return s->p.threat == SECAGG_THREAT_SEMI_MALICIOUS;
    return phase >= SECAGG_PHASE_ADVERTISE_KEYS && phase <= SECAGG_PHASE_UNMASKING;
}

static unsigned char *
server_env(const struct secagg_server *s, uint32_t u, size_t slot)
{
    return s->env + ((size_t)u * s->d + slot) * SECAGG_WIRE_ENVELOPE_BYTES;
}

int
secagg_server_new(struct secagg_server **out, const struct secagg_params *p, struct errbuf *eb)
{
    *out = NULL;
    int rc = secagg_wire_params_check(p, eb);
    if (rc < 0)
        return rc;
    struct secagg_server *s = mem_calloc(1, sizeof *s);
    if (s == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "secagg server: out of memory");
    s->p = *p;
    s->d = p->degree;
    size_t n = p->n;
    rc = secagg_graph_new(&s->g, p->graph, p->n, p->degree, p->seed, p->round, eb);
    if (rc < 0)
        goto fail;
    s->stage = mem_calloc(n, 1);
    s->dropped_at = mem_alloc(n);
    s->keys = mem_calloc(n, sizeof *s->keys);
    s->env = mem_calloc(n * s->d, SECAGG_WIRE_ENVELOPE_BYTES);
    s->sum = mem_calloc(p->m, sizeof *s->sum);
    s->u3map = mem_calloc(secagg_wire_bitmap_bytes(p), 1);
    s->shares = mem_calloc(n * (s->d + 1), sizeof *s->shares);
    s->share_count = mem_calloc(n, sizeof *s->share_count);
    if (secagg_wire_signed(p)) {
        s->adv_sig = mem_calloc(n, sizeof *s->adv_sig);
        s->cc_sig = mem_calloc(n, sizeof *s->cc_sig);
    }
    if (s->stage == NULL || s->dropped_at == NULL || s->keys == NULL || s->env == NULL ||
        s->sum == NULL || s->u3map == NULL || s->shares == NULL || s->share_count == NULL ||
        (secagg_wire_signed(p) && (s->adv_sig == NULL || s->cc_sig == NULL))) {
        rc = errbuf_set(eb, -ERR_NOMEM, "secagg server: out of memory");
        goto fail;
    }
    memset(s->dropped_at, SERVER_LIVE, n);
    if (p->masks == SECAGG_MASKS_FULL) {
        rc = shamir_new(&s->sh, SHAMIR_FIELD_P61, s->d + 1, eb);
        if (rc == 0 && p->authenticate)
            rc = secagg_wire_server_keypair(&s->sig, p, eb);
        if (rc < 0)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    secagg_server_free(s);
    return rc;
}

void
secagg_server_free(struct secagg_server *s)
{
    if (s == NULL)
        return;
    if (s->shares != NULL)
        sodium_memzero(s->shares, (size_t)s->p.n * (s->d + 1) * sizeof *s->shares);
    secagg_graph_free(s->g);
    shamir_free(s->sh);
    sign_keypair_wipe(&s->sig);
    mem_free(s->stage);
    mem_free(s->dropped_at);
    mem_free(s->keys);
    mem_free(s->adv_sig);
    mem_free(s->cc_sig);
    mem_free(s->env);
    mem_free(s->sum);
    mem_free(s->local);
    mem_free(s->u3map);
    mem_free(s->shares);
    mem_free(s->share_count);
    mem_free(s);
}

static int
server_aborted_error(struct errbuf *eb)
{
    return errbuf_set(eb, -ERR_ABORTED, "secagg server: the round has aborted");
}

/* Checks that phase is the open one and client is live and due to answer it. */
static int
server_check_turn(const struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                  struct errbuf *eb)
{
    if (s->aborted)
        return server_aborted_error(eb);
    if (!server_phase_valid(s, phase))
        return errbuf_set(eb, -ERR_INVALID, "secagg server: phase %d does not exist here",
                          (int)phase);
    if (s->closed != server_stage_before(s, phase))
        return errbuf_set(eb, -ERR_INVALID, "secagg server: phase %d is not open", (int)phase);
    if (client >= s->p.n)
        return errbuf_set(eb, -ERR_INVALID, "secagg server: client %u not below n = %u", client,
                          s->p.n);
    if (s->dropped_at[client] != SERVER_LIVE)
        return errbuf_set(eb, -ERR_INVALID, "secagg server: client %u dropped in phase %u", client,
                          s->dropped_at[client]);
    return 0;
}

/* Fills the entries of {client} ∪ {v ∈ N(client) : stage[v] >= min_stage}, ascending. */
static uint32_t
server_neighbourhood(const struct secagg_server *s, uint32_t client, unsigned min_stage,
                     bool with_self, uint32_t *out)
{
    const uint32_t *nb = secagg_graph_neighbors(s->g, client);
    uint32_t c = 0;
    bool self_done = !with_self;
    for (uint32_t j = 0; j < s->d; j++) {
        if (!self_done && nb[j] > client) {
            out[c++] = client;
            self_done = true;
        }
        if (s->stage[nb[j]] >= min_stage)
            out[c++] = nb[j];
    }
    if (!self_done)
        out[c++] = client;
    return c;
}

int
secagg_server_message_for(struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                          unsigned char *out, size_t cap, size_t *len, struct errbuf *eb)
{
    *len = 0;
    int rc = server_check_turn(s, phase, client, eb);
    if (rc < 0)
        return rc;
    if (s->stage[client] != server_stage_before(s, phase))
        return errbuf_set(eb, -ERR_INVALID, "secagg server: client %u is not due in phase %d",
                          client, (int)phase);
    const struct secagg_params *p = &s->p;
    bool semi = p->threat == SECAGG_THREAT_SEMI_MALICIOUS;
    bool signed_adv = secagg_wire_signed(p);
    uint32_t *list = mem_alloc(((size_t)s->d + 1) * sizeof *list);
    uint32_t *list2 = mem_alloc(((size_t)s->d + 1) * sizeof *list2);
    uint32_t c1 = 0, c2 = 0;
    enum secagg_wire_type type = SECAGG_WIRE_ADVERTISE_REQ;
    if (list == NULL || list2 == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "secagg server: out of memory");
        goto out;
    }
    switch (phase) {
    case SECAGG_PHASE_ADVERTISE_KEYS:
        type = SECAGG_WIRE_ADVERTISE_REQ;
        break;
    case SECAGG_PHASE_SHARE_KEYS:
        type = SECAGG_WIRE_SHARE_REQ;
        c1 = server_neighbourhood(s, client, 1, false, list);
        break;
    case SECAGG_PHASE_MASKED_INPUT:
        type = SECAGG_WIRE_MASKED_REQ;
        c1 = server_neighbourhood(s, client, 2, false, list);
        break;
    case SECAGG_PHASE_CONSISTENCY_CHECK:
        type = SECAGG_WIRE_CONSIST_REQ;
        break;
    case SECAGG_PHASE_UNMASKING:
        type = SECAGG_WIRE_UNMASK_REQ;
        c1 = server_neighbourhood(s, client, 2, true, list);
        if (semi)
            c2 = server_neighbourhood(s, client, 4, true, list2);
        break;
    }
    size_t need = secagg_wire_bytes(type, p, c1, c2);
    *len = need;
    if (out == NULL)
        goto out;
    if (cap < need) {
        rc = errbuf_set(eb, -ERR_RANGE, "secagg server: request needs %zu bytes, buffer has %zu",
                        need, cap);
        goto out;
    }
    memset(out, 0, need);
    secagg_wire_put_header(out, type, client, p);
    size_t fixed, s1, s2;
    secagg_wire_layout(type, p, &fixed, &s1, &s2);
    unsigned char *o = out + SECAGG_WIRE_HEADER_BYTES;
    if (fixed != 0 && (type == SECAGG_WIRE_CONSIST_REQ || type == SECAGG_WIRE_UNMASK_REQ))
        memcpy(o, s->u3map, fixed);
    o += fixed;
    if (s1 != 0) {
        le_store32(o, c1);
        o += SECAGG_WIRE_COUNT_BYTES;
        for (uint32_t j = 0; j < c1; j++, o += s1) {
            uint32_t v = list[j];
            le_store32(o, v);
            if (type == SECAGG_WIRE_SHARE_REQ) {
                memcpy(o + 4, s->keys[v], 2 * SECAGG_WIRE_KEY_BYTES);
                if (signed_adv)
                    memcpy(o + 4 + 2 * SECAGG_WIRE_KEY_BYTES, s->adv_sig[v], SECAGG_WIRE_SIG_BYTES);
            } else if (type == SECAGG_WIRE_MASKED_REQ) {
                long slot = secagg_graph_slot(s->g, v, client);
                memcpy(o + 4, server_env(s, v, (size_t)slot), SECAGG_WIRE_ENVELOPE_BYTES);
            } else {
                o[4] = s->stage[v] >= 3 ? SECAGG_UNMASK_SELF_SEED : SECAGG_UNMASK_MASK_KEY;
            }
        }
    }
    if (s2 != 0) {
        le_store32(o, c2);
        o += SECAGG_WIRE_COUNT_BYTES;
        for (uint32_t j = 0; j < c2; j++, o += s2) {
            le_store32(o, list2[j]);
            memcpy(o + 4, s->cc_sig[list2[j]], SECAGG_WIRE_SIG_BYTES);
        }
    }
    rc = secagg_wire_seal(out, need, p, &s->sig, eb);
out:
    mem_free(list);
    mem_free(list2);
    return rc;
}

/* Checks and stores client's AdvertiseKeys reply (its two public keys, signed when asked). */
static int
server_ingest_advertise(struct secagg_server *s, uint32_t client, const struct secagg_wire_msg *m,
                        struct errbuf *eb)
{
    const struct secagg_params *p = &s->p;
    bool signed_adv = secagg_wire_signed(p);
    int rc = 0;
    if (p->masks == SECAGG_MASKS_FULL) {
        rc = kx_public_check(m->fixed, eb);
        if (rc == 0)
            rc = kx_public_check(m->fixed + SECAGG_WIRE_KEY_BYTES, eb);
        if (rc == 0 &&
            memcmp(m->fixed, m->fixed + SECAGG_WIRE_KEY_BYTES, SECAGG_WIRE_KEY_BYTES) == 0)
            rc = errbuf_set(eb, -ERR_CORRUPT, "secagg server: equal key pairs");
        if (rc == 0 && signed_adv) {
            unsigned char st[SECAGG_WIRE_ADV_SIGNED_BYTES];
            secagg_wire_adv_statement(st, p, client, m->fixed, m->fixed + SECAGG_WIRE_KEY_BYTES);
            rc = sign_verify(m->fixed + 2 * SECAGG_WIRE_KEY_BYTES, st, sizeof st, p->pki[client],
                             eb);
        }
        if (rc < 0) {
            errbuf_prefix(eb, "secagg server: AdvertiseKeys of client %u", client);
            return rc;
        }
    }
    memcpy(s->keys[client], m->fixed, 2 * SECAGG_WIRE_KEY_BYTES);
    if (signed_adv)
        memcpy(s->adv_sig[client], m->fixed + 2 * SECAGG_WIRE_KEY_BYTES, SECAGG_WIRE_SIG_BYTES);
    return 0;
}

/* Checks that client's ShareKeys reply holds one envelope per live neighbour, and keeps them. */
static int
server_ingest_shares(struct secagg_server *s, uint32_t client, const struct secagg_wire_msg *m,
                     struct errbuf *eb)
{
    const uint32_t *nb = secagg_graph_neighbors(s->g, client);
    uint32_t j = 0;
    for (uint32_t slot = 0; slot < s->d; slot++) {
        if (s->stage[nb[slot]] < 1)
            continue;
        if (j >= m->count1 || le_load32(m->list1 + (size_t)j * m->stride1) != nb[slot])
            return errbuf_set(eb, -ERR_CORRUPT,
                              "secagg server: ShareKeys of client %u: entry %u is not for "
                              "live neighbour %u",
                              client, j, nb[slot]);
        j++;
    }
    if (j != m->count1)
        return errbuf_set(eb, -ERR_CORRUPT,
                          "secagg server: ShareKeys of client %u: %u entries, expected %u", client,
                          m->count1, j);
    j = 0;
    for (uint32_t slot = 0; slot < s->d; slot++) {
        if (s->stage[nb[slot]] < 1)
            continue;
        memcpy(server_env(s, client, slot), m->list1 + (size_t)j * m->stride1 + 4,
               SECAGG_WIRE_ENVELOPE_BYTES);
        j++;
    }
    return 0;
}

/* Validates and records one reply; returns an error without touching the sets on failure. */
static int
server_ingest(struct secagg_server *s, enum secagg_phase phase, uint32_t client,
              const unsigned char *msg, size_t len, struct errbuf *eb)
{
    const struct secagg_params *p = &s->p;
    bool full = p->masks == SECAGG_MASKS_FULL;
    static const enum secagg_wire_type types[SECAGG_PHASES] = {
        SECAGG_WIRE_ADVERTISE_REP, SECAGG_WIRE_SHARE_REP, SECAGG_WIRE_MASKED_REP,
        SECAGG_WIRE_CONSIST_REP, SECAGG_WIRE_UNMASK_REP
    };
    struct secagg_wire_msg m;
    int rc = full ? secagg_wire_open(msg, len, p, p->pki != NULL ? p->pki[client] : NULL, eb) : 0;
    if (rc == 0)
        rc = secagg_wire_parse(&m, msg, len, types[phase], p, eb);
    if (rc < 0)
        return rc;
    if (m.client != client) {
        rc = errbuf_set(eb, -ERR_CORRUPT, "secagg server: reply of client %u names client %u",
                        client, m.client);
        if (eb != NULL)
            eb->offset = 4;
        return rc;
    }
    switch (phase) {
    case SECAGG_PHASE_ADVERTISE_KEYS:
        return server_ingest_advertise(s, client, &m, eb);
    case SECAGG_PHASE_SHARE_KEYS:
        return server_ingest_shares(s, client, &m, eb);
    case SECAGG_PHASE_MASKED_INPUT:
        secagg_wire_unpack_add(s->sum, m.fixed, p->m, p->ring_bits);
        return 0;
    case SECAGG_PHASE_CONSISTENCY_CHECK:
        if (full) {
            size_t sl = 24 + secagg_wire_bitmap_bytes(p);
            unsigned char *st = mem_alloc(sl);
            if (st == NULL)
                return errbuf_set(eb, -ERR_NOMEM, "secagg server: out of memory");
            secagg_wire_u3_statement(st, p, s->u3map);
            rc = sign_verify(m.fixed, st, sl, p->pki[client], eb);
            mem_free(st);
            if (rc < 0) {
                errbuf_prefix(eb, "secagg server: ConsistencyCheck of client %u", client);
                return rc;
            }
        }
        memcpy(s->cc_sig[client], m.fixed, SECAGG_WIRE_SIG_BYTES);
        return 0;
    case SECAGG_PHASE_UNMASKING: {
        uint32_t *list = mem_alloc(((size_t)s->d + 1) * sizeof *list);
        if (list == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "secagg server: out of memory");
        uint32_t c = server_neighbourhood(s, client, 2, true, list);
        rc = 0;
        if (c != m.count1)
            rc = errbuf_set(eb, -ERR_CORRUPT,
                            "secagg server: Unmasking of client %u: %u shares, expected %u", client,
                            m.count1, c);
        for (uint32_t j = 0; rc == 0 && j < c; j++) {
            uint32_t v = le_load32(m.list1 + (size_t)j * m.stride1);
            if (v != list[j])
                rc = errbuf_set(eb, -ERR_CORRUPT,
                                "secagg server: Unmasking of client %u: share %u is for client "
                                "%u, expected %u (duplicated or misplaced share)",
                                client, j, v, list[j]);
        }
        for (uint32_t j = 0; rc == 0 && j < c; j++) {
            uint32_t v = list[j];
            struct shamir_share *sh = &s->shares[(size_t)v * (s->d + 1) + s->share_count[v]++];
            sh->x = (uint64_t)client + 1;
            memcpy(sh->y, m.list1 + (size_t)j * m.stride1 + 4, SECAGG_WIRE_SHARE_BYTES);
        }
        mem_free(list);
        return rc;
    }
    }
    return 0;
}

/* Checks that client may reply in phase now (turn, not a duplicate, due). */
static int
server_check_reply(const struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                   struct errbuf *eb)
{
    int rc = server_check_turn(s, phase, client, eb);
    if (rc < 0)
        return rc;
    if (s->stage[client] == server_stage_of(phase))
        return errbuf_set(eb, -ERR_CORRUPT,
                          "secagg server: duplicate reply of client %u in "
                          "phase %d (ignored)",
                          client, (int)phase);
    if (s->stage[client] != server_stage_before(s, phase))
        return errbuf_set(eb, -ERR_INVALID, "secagg server: client %u is not due in phase %d",
                          client, (int)phase);
    return 0;
}

int
secagg_server_set_local(struct secagg_server *s, const uint8_t *local, struct errbuf *eb)
{
    if (s->closed >= server_stage_before(s, SECAGG_PHASE_MASKED_INPUT))
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg server: sharding must be set before MaskedInput opens");
    if (s->local == NULL) {
        s->local = mem_alloc(s->p.n);
        if (s->local == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "secagg server: out of memory");
    }
    memcpy(s->local, local, s->p.n);
    return 0;
}

static bool
server_is_local(const struct secagg_server *s, uint32_t client)
{
    return s->local == NULL || s->local[client] != 0;
}

int
secagg_server_receive_elsewhere(struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                                struct errbuf *eb)
{
    if (phase != SECAGG_PHASE_MASKED_INPUT || s->local == NULL)
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg server: only a sharded server takes MaskedInput elsewhere");
    int rc = server_check_reply(s, phase, client, eb);
    if (rc < 0)
        return rc;
    if (server_is_local(s, client))
        return errbuf_set(eb, -ERR_INVALID, "secagg server: client %u's input is held here",
                          client);
    s->stage[client] = (uint8_t)server_stage_of(phase);
    return 0;
}

int
secagg_server_receive(struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                      const unsigned char *msg, size_t len, struct errbuf *eb)
{
    int rc = server_check_reply(s, phase, client, eb);
    if (rc < 0)
        return rc;
    if (phase == SECAGG_PHASE_MASKED_INPUT && !server_is_local(s, client))
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg server: client %u's input is held by another process", client);
    rc = server_ingest(s, phase, client, msg, len, eb);
    if (rc < 0) {
        s->dropped_at[client] = (uint8_t)phase;
        return rc;
    }
    s->stage[client] = (uint8_t)server_stage_of(phase);
    return 0;
}

/* Rebuilds the 32-byte secret of client v from its collected shares. */
static int
server_combine(struct secagg_server *s, unsigned char secret[SHAMIR_SECRET_BYTES], uint32_t v,
               struct errbuf *eb)
{
    int rc = shamir_combine(s->sh, secret, &s->shares[(size_t)v * (s->d + 1)], s->share_count[v],
                            s->p.t, eb);
    if (rc < 0) {
        errbuf_prefix(eb, "secagg server: secret of client %u", v);
        return rc;
    }
    return 0;
}

/* Removes the self mask of v ∈ U3 from the sum. */
static int
server_unmask_self(struct secagg_server *s, uint32_t v, struct errbuf *eb)
{
    unsigned char b[SHAMIR_SECRET_BYTES];
    struct prg_key key;
    int rc = server_combine(s, b, v, eb);
    if (rc == 0)
        rc = prg_key_derive(&key, b, PRG_KIND_SELF, s->p.round, eb);
    if (rc == 0)
        rc = prg_sub_u64(s->sum, s->p.m, &key, 0, s->p.ring_bits, 0, eb);
    sodium_memzero(b, sizeof b);
    prg_key_wipe(&key);
    return rc;
}

/* Cancels the pairwise masks the U3 neighbours of the dropped client v still carry. */
static int
server_unmask_dropped(struct secagg_server *s, uint32_t v, struct errbuf *eb)
{
    unsigned char sk[SHAMIR_SECRET_BYTES], seed[KX_SHARED_BYTES];
    unsigned char sess[SECAGG_WIRE_SESSION_BYTES];
    size_t sl = secagg_wire_session_bytes(&s->p, sess);
    struct kx_keypair kp;
    struct prg_key key;
    int rc = server_combine(s, sk, v, eb);
    if (rc == 0)
        rc = kx_keypair_from_secret(&kp, sk, eb);
    if (rc == 0 && sodium_memcmp(kp.pk, s->keys[v] + SECAGG_WIRE_KEY_BYTES, KX_PUBLIC_BYTES) != 0)
        rc = errbuf_set(eb, -ERR_CORRUPT,
                        "secagg server: rebuilt mask key of client %u does not match its "
                        "advertised key",
                        v);
    const uint32_t *nb = secagg_graph_neighbors(s->g, v);
    for (uint32_t j = 0; rc == 0 && j < s->d; j++) {
        uint32_t u = nb[j];
        if (s->stage[u] < 3)
            continue;
        rc = kx_agree(seed, &kp, s->keys[u] + SECAGG_WIRE_KEY_BYTES, sl != 0 ? sess : NULL, sl, eb);
        if (rc == 0)
            rc = prg_key_derive(&key, seed, PRG_KIND_PAIR, s->p.round, eb);
        /* y_u holds p_{u,v} = -p_{v,u}; add p_{v,u} = +PRG when v > u (Bonawitz et al., §4). */
        if (rc == 0)
            rc = v > u ? prg_add_u64(s->sum, s->p.m, &key, 0, s->p.ring_bits, 0, eb)
                       : prg_sub_u64(s->sum, s->p.m, &key, 0, s->p.ring_bits, 0, eb);
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(seed, sizeof seed);
    kx_keypair_wipe(&kp);
    prg_key_wipe(&key);
    return rc;
}

static bool
server_has_u3_neighbour(const struct secagg_server *s, uint32_t v)
{
    const uint32_t *nb = secagg_graph_neighbors(s->g, v);
    for (uint32_t j = 0; j < s->d; j++)
        if (s->stage[nb[j]] >= 3)
            return true;
    return false;
}

static int
server_finish(struct secagg_server *s, struct errbuf *eb)
{
    bool full = s->p.masks == SECAGG_MASKS_FULL;
    /* Check every secret first, so an abort happens before any work and in both modes. */
    for (uint32_t v = 0; v < s->p.n; v++) {
        bool need = s->stage[v] >= 3 || (s->stage[v] == 2 && server_has_u3_neighbour(s, v));
        if (need && s->share_count[v] < s->p.t)
            return errbuf_set(
                eb, -ERR_ABORTED, "secagg server: %u shares of client %u's %s, threshold %u",
                s->share_count[v], v, s->stage[v] >= 3 ? "self-mask seed" : "mask key", s->p.t);
    }
    if (!full)
        return 0;
    for (uint32_t v = 0; v < s->p.n; v++) {
        int rc = 0;
        if (!server_is_local(s, v))
            continue; /* its owner removes its masks */
        if (s->stage[v] >= 3)
            rc = server_unmask_self(s, v, eb);
        else if (s->stage[v] == 2 && server_has_u3_neighbour(s, v))
            rc = server_unmask_dropped(s, v, eb);
        if (rc < 0 && rc != -ERR_NOMEM) {
            /* A secret that does not rebuild (forged share, key mismatch) aborts the round. */
            if (eb != NULL)
                eb->code = -ERR_ABORTED;
            return -ERR_ABORTED;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
secagg_server_close_phase(struct secagg_server *s, enum secagg_phase phase, struct errbuf *eb)
{
    if (s->aborted)
        return server_aborted_error(eb);
    if (!server_phase_valid(s, phase) || s->closed != server_stage_before(s, phase))
        return errbuf_set(eb, -ERR_INVALID, "secagg server: phase %d is not open", (int)phase);
    unsigned st = server_stage_of(phase);
    uint32_t alive = 0;
    for (uint32_t u = 0; u < s->p.n; u++) {
        if (s->stage[u] >= st)
            alive++;
        else if (s->dropped_at[u] == SERVER_LIVE)
            s->dropped_at[u] = (uint8_t)phase;
    }
    s->closed = st;
    int rc = 0;
    if (alive < s->p.t)
        rc = errbuf_set(eb, -ERR_ABORTED,
                        "secagg server: %u clients left after phase %d, threshold %u", alive,
                        (int)phase, s->p.t);
    else if (alive < s->p.min_clients)
        /* More than ⌊δn⌋ dropped: the graph's (k, t) no longer guarantee privacy (Bell et
         * al., CCS 2020; FCP's minimum number of clients to proceed). */
        rc = errbuf_set(eb, -ERR_ABORTED,
                        "secagg server: %u clients left after phase %d, dropout bound needs %u",
                        alive, (int)phase, s->p.min_clients);
    if (rc == 0 && phase == SECAGG_PHASE_MASKED_INPUT)
        for (uint32_t u = 0; u < s->p.n; u++)
            if (s->stage[u] >= 3)
                s->u3map[u / 8] = (unsigned char)(s->u3map[u / 8] | (1u << (u % 8)));
    if (rc == 0 && phase == SECAGG_PHASE_UNMASKING)
        rc = server_finish(s, eb);
    if (rc < 0) {
        s->aborted = true;
        sodium_memzero(s->sum, s->p.m * sizeof *s->sum);
        return rc;
    }
    if (phase == SECAGG_PHASE_UNMASKING)
        s->done = true;
    return 0;
}

int
secagg_server_result(const struct secagg_server *s, uint64_t *sum, size_t m, struct errbuf *eb)
{
    if (s->aborted)
        return server_aborted_error(eb);
    if (!s->done)
        return errbuf_set(eb, -ERR_INVALID, "secagg server: Unmasking has not closed");
    if (m != s->p.m)
        return errbuf_set(eb, -ERR_INVALID, "secagg server: result has %zu coordinates, not %zu",
                          s->p.m, m);
    memcpy(sum, s->sum, m * sizeof *sum);
    return 0;
}

bool
secagg_server_included(const struct secagg_server *s, uint32_t client)
{
    return client < s->p.n && s->stage[client] >= 3;
}

uint32_t
secagg_server_survivors(const struct secagg_server *s, enum secagg_phase phase)
{
    unsigned st = server_stage_of(phase);
    uint32_t c = 0;
    for (uint32_t u = 0; u < s->p.n; u++)
        c += s->stage[u] >= st;
    return c;
}

int
secagg_server_dropped_phase(const struct secagg_server *s, uint32_t client)
{
    if (client >= s->p.n || s->dropped_at[client] == SERVER_LIVE)
        return -1;
    return s->dropped_at[client];
}

bool
secagg_server_aborted(const struct secagg_server *s)
{
    return s->aborted;
}

uint32_t
secagg_server_degree(const struct secagg_server *s)
{
    return s->d;
}
