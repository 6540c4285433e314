/* secagg_client: the client's rounds of SecAgg / SecAgg+ (see secagg_client.h). */
#include "clients/secagg_client.h"

#include <sodium.h>
#include <string.h>

#include "base/le.h"
#include "base/mem.h"
#include "base/rng.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/ring.h"
#include "crypto/shamir.h"
#include "crypto/sign.h"
#include "base/banned.h"

_Static_assert(SECAGG_CLIENT_CHUNK % SECAGG_CLIENT_SLICE_ALIGN == 0,
               "chunks keep the packed payload byte-aligned");

enum client_state {
    CLIENT_NEW = 0,
    CLIENT_ADVERTISED, /* keys sent */
    CLIENT_SHARED,     /* envelopes sent */
    CLIENT_MASKING,    /* masked-input request accepted, slices being written */
    CLIENT_MASK_SENT,  /* masked input sent */
    CLIENT_CONSISTENT, /* U3 signed (semi-malicious) */
    CLIENT_UNMASKING,  /* at least one Unmasking reply sent */
    CLIENT_FAILED,
};

struct secagg_client {
    struct secagg_params p;
    uint32_t self;
    enum client_state state;
    const uint64_t *x; /* borrowed input */
    bool secrets_set;  /* s_u^SK and b_u given by secagg_client_set_secrets */
    struct kx_keypair enc, msk;
    unsigned char b[PRG_SEED_BYTES];
    struct sign_keypair sig;
    struct rng sham; /* Shamir coefficient stream */
    struct shamir *sh;
    struct shamir_share *sh_s, *sh_b; /* degree + 1 shares each */
    uint32_t nb_count;                /* live neighbours announced in ShareKeys */
    uint32_t *nb;                     /* their indices, ascending */
    unsigned char (*nb_cpk)[SECAGG_WIRE_KEY_BYTES];
    unsigned char (*nb_spk)[SECAGG_WIRE_KEY_BYTES];
    unsigned char (*held)[SECAGG_WIRE_PLAIN_BYTES]; /* shares received from each neighbour */
    unsigned char self_held[SECAGG_WIRE_PLAIN_BYTES];
    uint8_t *in_u2;    /* neighbour sent us its envelope (is in U2) */
    uint8_t *revealed; /* enum secagg_unmask_kind revealed for the neighbour, 0 = none */
    uint8_t self_revealed;
    struct prg_key *pair; /* mask keys of the U2 neighbours, in pair_add order */
    uint8_t *pair_add;    /* 1: add PRG (self > v), 0: subtract */
    uint32_t npair;
    struct prg_key self_key;
    unsigned char *u3; /* bitmap signed in ConsistencyCheck */
};

static int
client_fail(struct secagg_client *c, int rc)
{
    c->state = CLIENT_FAILED;
    return rc;
}

int
secagg_client_new(struct secagg_client **out, const struct secagg_params *p, uint32_t index,
                  struct errbuf *eb)
{
    *out = NULL;
    int rc = secagg_wire_params_check(p, eb);
    if (rc < 0)
        return rc;
    if (index >= p->n)
        return errbuf_set(eb, -ERR_INVALID, "secagg client: index %u not below n = %u", index,
                          p->n);
    struct secagg_client *c = mem_calloc(1, sizeof *c);
    if (c == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "secagg client: out of memory");
    c->p = *p;
    c->self = index;
    size_t d = p->degree;
    c->nb = mem_calloc(d, sizeof *c->nb);
    c->nb_cpk = mem_calloc(d, sizeof *c->nb_cpk);
    c->nb_spk = mem_calloc(d, sizeof *c->nb_spk);
    c->held = mem_calloc(d, sizeof *c->held);
    c->in_u2 = mem_calloc(d, 1);
    c->revealed = mem_calloc(d, 1);
    c->pair = mem_calloc(d, sizeof *c->pair);
    c->pair_add = mem_calloc(d, 1);
    c->sh_s = mem_calloc(d + 1, sizeof *c->sh_s);
    c->sh_b = mem_calloc(d + 1, sizeof *c->sh_b);
    c->u3 = mem_calloc(secagg_wire_bitmap_bytes(p), 1);
    if (c->nb == NULL || c->nb_cpk == NULL || c->nb_spk == NULL || c->held == NULL ||
        c->in_u2 == NULL || c->revealed == NULL || c->pair == NULL || c->pair_add == NULL ||
        c->sh_s == NULL || c->sh_b == NULL || c->u3 == NULL) {
        secagg_client_free(c);
        return errbuf_set(eb, -ERR_NOMEM, "secagg client: out of memory");
    }
    if (p->masks == SECAGG_MASKS_FULL) {
        rc = shamir_new(&c->sh, SHAMIR_FIELD_P61, d + 1, eb);
        if (rc < 0) {
            secagg_client_free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

void
secagg_client_free(struct secagg_client *c)
{
    if (c == NULL)
        return;
    size_t d = c->p.degree;
    kx_keypair_wipe(&c->enc);
    kx_keypair_wipe(&c->msk);
    sign_keypair_wipe(&c->sig);
    sodium_memzero(c->b, sizeof c->b);
    sodium_memzero(&c->sham, sizeof c->sham);
    sodium_memzero(c->self_held, sizeof c->self_held);
    sodium_memzero(&c->self_key, sizeof c->self_key);
    if (c->held != NULL)
        sodium_memzero(c->held, d * sizeof *c->held);
    if (c->pair != NULL)
        sodium_memzero(c->pair, d * sizeof *c->pair);
    if (c->sh_s != NULL)
        sodium_memzero(c->sh_s, (d + 1) * sizeof *c->sh_s);
    if (c->sh_b != NULL)
        sodium_memzero(c->sh_b, (d + 1) * sizeof *c->sh_b);
    shamir_free(c->sh);
    mem_free(c->nb);
    mem_free(c->nb_cpk);
    mem_free(c->nb_spk);
    mem_free(c->held);
    mem_free(c->in_u2);
    mem_free(c->revealed);
    mem_free(c->pair);
    mem_free(c->pair_add);
    mem_free(c->sh_s);
    mem_free(c->sh_b);
    mem_free(c->u3);
    mem_free(c);
}

int
secagg_client_set_input(struct secagg_client *c, const uint64_t *x, struct errbuf *eb)
{
    uint64_t lim = ring_mask(c->p.ring_bits);
    if (c->p.value_bits != 0 && c->p.value_bits < c->p.ring_bits)
        lim = ring_mask(c->p.value_bits);
    for (size_t i = 0; i < c->p.m; i++)
        if (x[i] > lim)
            return errbuf_set(eb, -ERR_RANGE,
                              "secagg client %u: input coordinate %zu = %llu above %llu", c->self,
                              i, (unsigned long long)x[i], (unsigned long long)lim);
    c->x = x;
    return 0;
}

int
secagg_client_set_secrets(struct secagg_client *c, const unsigned char mask_sk[32],
                          const unsigned char self_seed[32], struct errbuf *eb)
{
    if (c->state != CLIENT_NEW)
        return errbuf_set(eb, -ERR_INVALID, "secagg client %u: secrets set after AdvertiseKeys",
                          c->self);
    int rc = kx_keypair_from_secret(&c->msk, mask_sk, eb);
    if (rc < 0)
        return rc;
    memcpy(c->b, self_seed, sizeof c->b);
    c->secrets_set = true;
    return 0;
}

uint32_t
secagg_client_index(const struct secagg_client *c)
{
    return c->self;
}

bool
secagg_client_failed(const struct secagg_client *c)
{
    return c->state == CLIENT_FAILED;
}

size_t
secagg_client_reply_bytes(const struct secagg_client *c, enum secagg_phase phase)
{
    switch (phase) {
    case SECAGG_PHASE_ADVERTISE_KEYS:
        return secagg_wire_advertise_rep_bytes(&c->p);
    case SECAGG_PHASE_SHARE_KEYS:
        return secagg_wire_share_rep_bytes(&c->p, c->p.degree);
    case SECAGG_PHASE_MASKED_INPUT:
        return secagg_wire_masked_rep_bytes(&c->p);
    case SECAGG_PHASE_CONSISTENCY_CHECK:
        return c->p.threat == SECAGG_THREAT_SEMI_MALICIOUS ? secagg_wire_consist_rep_bytes(&c->p)
                                                           : 0;
    case SECAGG_PHASE_UNMASKING:
        return secagg_wire_unmask_rep_bytes(&c->p, c->p.degree + 1);
    }
    return 0;
}

/* Parses req as type and checks that it is addressed to this client. */
static int
client_parse(struct secagg_client *c, struct secagg_wire_msg *msg, const unsigned char *req,
             size_t req_len, enum secagg_wire_type type, struct errbuf *eb)
{
    int rc = secagg_wire_parse(msg, req, req_len, type, &c->p, eb);
    if (rc < 0)
        return rc;
    if (msg->client != c->self) {
        rc = errbuf_set(eb, -ERR_CORRUPT, "secagg client %u: request addressed to client %u",
                        c->self, msg->client);
        if (eb != NULL)
            eb->offset = 4;
        return rc;
    }
    return 0;
}

static int
client_need_cap(const struct secagg_client *c, size_t need, size_t cap, struct errbuf *eb)
{
    if (cap < need)
        return errbuf_set(eb, -ERR_RANGE, "secagg client %u: reply needs %zu bytes, buffer has %zu",
                          c->self, need, cap);
    return 0;
}

/* Position of v in the neighbour list, or -1. */
static long
client_slot(const struct secagg_client *c, uint32_t v)
{
    size_t lo = 0, hi = c->nb_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->nb[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nb_count && c->nb[lo] == v ? (long)lo : -1;
}

static int
client_derive_keys(struct secagg_client *c, struct errbuf *eb)
{
    struct rng r;
    unsigned char master[KDF_KEY_BYTES], seed[KX_SEED_BYTES];
    struct rng_key rk;
    rng_init_stream(&r, c->p.seed, RNG_PURPOSE_SECAGG, c->p.round, c->self);
    if (c->p.random_keys)
        kdf_master_random(master);
    else
        kdf_master_from_stream(master, &r);
    if (c->p.session != 0)
        kdf_master_bind(master, c->p.session); /* per-run sessions: per-run round keys */
    int rc = kdf_derive(seed, sizeof seed, master, KDF_CTX_KXENC, c->self, eb);
    if (rc == 0)
        rc = kx_keypair_from_seed(&c->enc, seed, eb);
    if (rc == 0 && !c->secrets_set) {
        rc = kdf_derive(seed, sizeof seed, master, KDF_CTX_KXMSK, c->self, eb);
        if (rc == 0)
            rc = kx_keypair_from_seed(&c->msk, seed, eb);
        if (rc == 0)
            rc = kdf_derive(c->b, sizeof c->b, master, KDF_CTX_SELFB, c->self, eb);
    }
    if (rc == 0)
        rc = kdf_derive_rng_key(&rk, master, KDF_CTX_SHAM, c->self, eb);
    if (rc == 0)
        rng_init(&c->sham, &rk);
    if (rc == 0 && secagg_wire_signed(&c->p))
        rc = secagg_wire_sign_keypair(&c->sig, &c->p, c->self, eb);
    sodium_memzero(master, sizeof master);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(&rk, sizeof rk);
    sodium_memzero(&r, sizeof r);
    return rc;
}

static int
client_advertise(struct secagg_client *c, const unsigned char *req, size_t req_len,
                 unsigned char *out, size_t cap, size_t *out_len, struct errbuf *eb)
{
    struct secagg_wire_msg msg;
    int rc = client_parse(c, &msg, req, req_len, SECAGG_WIRE_ADVERTISE_REQ, eb);
    size_t need = secagg_wire_advertise_rep_bytes(&c->p);
    if (rc == 0)
        rc = client_need_cap(c, need, cap, eb);
    if (rc == 0 && c->p.masks == SECAGG_MASKS_FULL)
        rc = client_derive_keys(c, eb);
    if (rc < 0)
        return rc;
    memset(out, 0, need);
    secagg_wire_put_header(out, SECAGG_WIRE_ADVERTISE_REP, c->self, &c->p);
    unsigned char *body = out + SECAGG_WIRE_HEADER_BYTES;
    if (c->p.masks == SECAGG_MASKS_FULL) {
        memcpy(body, c->enc.pk, SECAGG_WIRE_KEY_BYTES);
        memcpy(body + SECAGG_WIRE_KEY_BYTES, c->msk.pk, SECAGG_WIRE_KEY_BYTES);
        if (secagg_wire_signed(&c->p)) {
            unsigned char st[SECAGG_WIRE_ADV_SIGNED_BYTES];
            secagg_wire_adv_statement(st, &c->p, c->self, c->enc.pk, c->msk.pk);
            rc = sign_detached(body + 2 * SECAGG_WIRE_KEY_BYTES, st, sizeof st, &c->sig, eb);
            if (rc < 0)
                return rc;
        }
    }
    *out_len = need;
    c->state = CLIENT_ADVERTISED;
    return 0;
}

/* The pair seed with a neighbour's public key pk under our key pair kp. */
static int
client_agree(const struct secagg_client *c, unsigned char seed[KX_SHARED_BYTES],
             const struct kx_keypair *kp, const unsigned char pk[KX_PUBLIC_BYTES], uint32_t v,
             struct errbuf *eb)
{
    unsigned char sess[SECAGG_WIRE_SESSION_BYTES];
    size_t sl = secagg_wire_session_bytes(&c->p, sess);
    int rc = kx_agree(seed, kp, pk, sl != 0 ? sess : NULL, sl, eb);
    if (rc < 0) {
        errbuf_prefix(eb, "secagg client %u: key of neighbour %u", c->self, v);
        return rc;
    }
    return 0;
}

static int
client_envelope_key(const struct secagg_client *c, unsigned char key[ENVELOPE_KEY_BYTES],
                    uint32_t slot, struct errbuf *eb)
{
    unsigned char seed[KX_SHARED_BYTES];
    int rc = client_agree(c, seed, &c->enc, c->nb_cpk[slot], c->nb[slot], eb);
    if (rc == 0)
        rc = envelope_key_derive(key, seed, c->p.round, eb);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

static int
client_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, SECAGG_WIRE_KEY_BYTES);
}

/*
 * The announced neighbours must lie in the client's own neighbourhood, which it derives
 * from the round's public parameters (secagg_wire_neighbours(): the server cannot choose
 * it after seeing the keys), and every public key in sight (its own two and the
 * neighbours') must be distinct (Bell et al., CCS 2020): otherwise a deviating server
 * could surround the client with colluders or replay one client's keys as another's.
 */
static int
client_check_neighbours(const struct secagg_client *c, const struct secagg_wire_msg *msg,
                        struct errbuf *eb)
{
    bool full = c->p.masks == SECAGG_MASKS_FULL;
    size_t nk = full ? 2 * ((size_t)msg->count1 + 1) : 0;
    uint32_t *own = mem_alloc((size_t)c->p.degree * sizeof *own);
    unsigned char(*keys)[SECAGG_WIRE_KEY_BYTES] = mem_alloc((nk + 1) * sizeof *keys);
    int rc = own == NULL || keys == NULL
                 ? errbuf_set(eb, -ERR_NOMEM, "secagg client: out of memory")
                 : secagg_wire_neighbours(own, &c->p, c->self, eb);
    for (uint32_t j = 0, o = 0; rc == 0 && j < msg->count1; j++) {
        uint32_t v = le_load32(msg->list1 + (size_t)j * msg->stride1);
        while (o < c->p.degree && own[o] < v)
            o++;
        if (o == c->p.degree || own[o] != v)
            rc = errbuf_set(eb, -ERR_ABORTED,
                            "secagg client %u: announced neighbour %u is not in its graph "
                            "neighbourhood",
                            c->self, v);
    }
    if (rc == 0 && full) {
        memcpy(keys[0], c->enc.pk, SECAGG_WIRE_KEY_BYTES);
        memcpy(keys[1], c->msk.pk, SECAGG_WIRE_KEY_BYTES);
        for (uint32_t j = 0; j < msg->count1; j++)
            memcpy(keys[2 + 2 * (size_t)j], msg->list1 + (size_t)j * msg->stride1 + 4,
                   2 * SECAGG_WIRE_KEY_BYTES);
        qsort(keys, nk, sizeof *keys, client_key_cmp);
        for (size_t i = 1; rc == 0 && i < nk; i++)
            if (memcmp(keys[i - 1], keys[i], SECAGG_WIRE_KEY_BYTES) == 0)
                rc = errbuf_set(eb, -ERR_ABORTED,
                                "secagg client %u: a public key appears twice among its "
                                "neighbours' and its own",
                                c->self);
    }
    mem_free(own);
    mem_free(keys);
    return rc;
}

static int
client_share_keys(struct secagg_client *c, const unsigned char *req, size_t req_len,
                  unsigned char *out, size_t cap, size_t *out_len, struct errbuf *eb)
{
    struct secagg_wire_msg msg;
    bool full = c->p.masks == SECAGG_MASKS_FULL;
    bool signed_adv = secagg_wire_signed(&c->p);
    int rc = client_parse(c, &msg, req, req_len, SECAGG_WIRE_SHARE_REQ, eb);
    if (rc < 0)
        return rc;
    if (msg.count1 > c->p.degree)
        return errbuf_set(eb, -ERR_CORRUPT, "secagg client %u: %u neighbours announced, degree %u",
                          c->self, msg.count1, c->p.degree);
    if (msg.count1 + 1 < c->p.t)
        return errbuf_set(eb, -ERR_ABORTED,
                          "secagg client %u: %u live neighbours, threshold %u cannot be met",
                          c->self, msg.count1, c->p.t);
    size_t need = secagg_wire_share_rep_bytes(&c->p, msg.count1);
    rc = client_need_cap(c, need, cap, eb);
    if (rc < 0)
        return rc;
    for (uint32_t j = 0; j < msg.count1; j++) {
        const unsigned char *e = msg.list1 + (size_t)j * msg.stride1;
        uint32_t v = le_load32(e);
        if (v >= c->p.n || v == c->self || (j > 0 && v <= c->nb[j - 1]))
            return errbuf_set(eb, -ERR_CORRUPT,
                              "secagg client %u: neighbour list entry %u (client %u) out of order",
                              c->self, j, v);
        c->nb[j] = v;
        memcpy(c->nb_cpk[j], e + 4, SECAGG_WIRE_KEY_BYTES);
        memcpy(c->nb_spk[j], e + 4 + SECAGG_WIRE_KEY_BYTES, SECAGG_WIRE_KEY_BYTES);
        if (signed_adv && full) {
            unsigned char st[SECAGG_WIRE_ADV_SIGNED_BYTES];
            secagg_wire_adv_statement(st, &c->p, v, c->nb_cpk[j], c->nb_spk[j]);
            rc = sign_verify(e + 4 + 2 * SECAGG_WIRE_KEY_BYTES, st, sizeof st, c->p.pki[v], eb);
            if (rc < 0) {
                errbuf_prefix(eb, "secagg client %u: signature of neighbour %u", c->self, v);
                return rc;
            }
        }
    }
    c->nb_count = msg.count1;
    rc = client_check_neighbours(c, &msg, eb);
    if (rc < 0)
        return rc;

    memset(out, 0, need);
    secagg_wire_put_header(out, SECAGG_WIRE_SHARE_REP, c->self, &c->p);
    le_store32(out + SECAGG_WIRE_HEADER_BYTES, c->nb_count);
    unsigned char *list = out + SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_COUNT_BYTES;
    size_t stride = SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_ENVELOPE_BYTES;
    if (full) {
        uint64_t *xs = mem_alloc(((size_t)c->nb_count + 1) * sizeof *xs);
        if (xs == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "secagg client: out of memory");
        xs[0] = (uint64_t)c->self + 1;
        for (uint32_t j = 0; j < c->nb_count; j++)
            xs[j + 1] = (uint64_t)c->nb[j] + 1;
        size_t ns = (size_t)c->nb_count + 1;
        rc = shamir_split(c->sh, c->sh_s, ns, xs, c->p.t, c->msk.sk, &c->sham, eb);
        if (rc == 0)
            rc = shamir_split(c->sh, c->sh_b, ns, xs, c->p.t, c->b, &c->sham, eb);
        mem_free(xs);
        if (rc < 0)
            return rc;
        memcpy(c->self_held, c->sh_s[0].y, SECAGG_WIRE_SHARE_BYTES);
        memcpy(c->self_held + SECAGG_WIRE_SHARE_BYTES, c->sh_b[0].y, SECAGG_WIRE_SHARE_BYTES);
    }
    for (uint32_t j = 0; j < c->nb_count; j++) {
        unsigned char *e = list + (size_t)j * stride;
        le_store32(e, c->nb[j]);
        if (!full)
            continue;
        unsigned char plain[SECAGG_WIRE_PLAIN_BYTES], key[ENVELOPE_KEY_BYTES];
        memcpy(plain, c->sh_s[j + 1].y, SECAGG_WIRE_SHARE_BYTES);
        memcpy(plain + SECAGG_WIRE_SHARE_BYTES, c->sh_b[j + 1].y, SECAGG_WIRE_SHARE_BYTES);
        struct envelope_ad ad = {
            .session = c->p.session, .round = c->p.round, .sender = c->self, .receiver = c->nb[j]
        };
        rc = client_envelope_key(c, key, j, eb);
        if (rc == 0)
            rc =
                envelope_seal(e + 4, SECAGG_WIRE_ENVELOPE_BYTES, plain, sizeof plain, &ad, key, eb);
        sodium_memzero(plain, sizeof plain);
        sodium_memzero(key, sizeof key);
        if (rc < 0)
            return rc;
    }
    if (full) {
        sodium_memzero(c->sh_s, ((size_t)c->nb_count + 1) * sizeof *c->sh_s);
        sodium_memzero(c->sh_b, ((size_t)c->nb_count + 1) * sizeof *c->sh_b);
    }
    *out_len = need;
    c->state = CLIENT_SHARED;
    return 0;
}

int
secagg_client_masked_prepare(struct secagg_client *c, const unsigned char *req, size_t req_len,
                             unsigned char *out, size_t cap, size_t *out_len, struct errbuf *eb)
{
    struct secagg_wire_msg msg;
    bool full = c->p.masks == SECAGG_MASKS_FULL;
    int rc = 0;
    if (c->state != CLIENT_SHARED) {
        rc = errbuf_set(eb, -ERR_INVALID, "secagg client %u: MaskedInput out of order", c->self);
        goto out;
    }
    if (c->x == NULL) {
        rc = errbuf_set(eb, -ERR_INVALID, "secagg client %u: no input set", c->self);
        goto out;
    }
    rc = client_parse(c, &msg, req, req_len, SECAGG_WIRE_MASKED_REQ, eb);
    if (rc < 0)
        goto out;
    if (msg.count1 + 1 < c->p.t) {
        rc = errbuf_set(eb, -ERR_ABORTED,
                        "secagg client %u: %u neighbours shared keys, threshold %u cannot be met",
                        c->self, msg.count1, c->p.t);
        goto out;
    }
    size_t need = secagg_wire_masked_rep_bytes(&c->p);
    rc = client_need_cap(c, need, cap, eb);
    if (rc < 0)
        goto out;
    long prev = -1;
    c->npair = 0;
    for (uint32_t j = 0; j < msg.count1; j++) {
        const unsigned char *e = msg.list1 + (size_t)j * msg.stride1;
        uint32_t v = le_load32(e);
        long slot = client_slot(c, v);
        if (slot < 0 || slot <= prev) {
            rc = errbuf_set(eb, -ERR_CORRUPT,
                            "secagg client %u: envelope from client %u is not from a neighbour "
                            "(or out of order)",
                            c->self, v);
            goto out;
        }
        prev = slot;
        c->in_u2[slot] = 1;
        if (!full)
            continue;
        unsigned char key[ENVELOPE_KEY_BYTES], seed[KX_SHARED_BYTES];
        size_t plen = 0;
        struct envelope_ad ad = {
            .session = c->p.session, .round = c->p.round, .sender = v, .receiver = c->self
        };
        rc = client_envelope_key(c, key, (uint32_t)slot, eb);
        if (rc == 0)
            rc = envelope_open(c->held[slot], SECAGG_WIRE_PLAIN_BYTES, &plen, e + 4,
                               SECAGG_WIRE_ENVELOPE_BYTES, &ad, key, eb);
        sodium_memzero(key, sizeof key);
        if (rc == 0 && plen != SECAGG_WIRE_PLAIN_BYTES)
            rc = errbuf_set(eb, -ERR_CORRUPT, "secagg client %u: envelope from %u has %zu bytes",
                            c->self, v, plen);
        if (rc < 0) {
            errbuf_prefix(eb, "secagg client %u: envelope from client %u", c->self, v);
            goto out;
        }
        rc = client_agree(c, seed, &c->msk, c->nb_spk[slot], v, eb);
        if (rc == 0)
            rc = prg_key_derive(&c->pair[c->npair], seed, PRG_KIND_PAIR, c->p.round, eb);
        sodium_memzero(seed, sizeof seed);
        if (rc < 0)
            goto out;
        c->pair_add[c->npair] = c->self > v; /* Δ_{u,v} = +1 when u > v (Bonawitz et al., §4) */
        c->npair++;
    }
    if (full) {
        rc = prg_key_derive(&c->self_key, c->b, PRG_KIND_SELF, c->p.round, eb);
        if (rc < 0)
            goto out;
    }
    memset(out, 0, need);
    secagg_wire_put_header(out, SECAGG_WIRE_MASKED_REP, c->self, &c->p);
    *out_len = need;
    c->state = CLIENT_MASKING;
out:
    if (rc < 0) {
        sodium_memzero(c->pair, c->p.degree * sizeof *c->pair);
        client_fail(c, rc);
    }
    return rc;
}

int
secagg_client_masked_slice(const struct secagg_client *c, unsigned char *out, size_t start,
                           size_t n, struct errbuf *eb)
{
    const size_t m = c->p.m;
    const unsigned k = c->p.ring_bits;
    if (c->state != CLIENT_MASKING)
        return errbuf_set(eb, -ERR_INVALID, "secagg client %u: slice outside MaskedInput", c->self);
    if (start > m || n > m - start || start % SECAGG_CLIENT_SLICE_ALIGN != 0 ||
        (start + n != m && n % SECAGG_CLIENT_SLICE_ALIGN != 0))
        return errbuf_set(eb, -ERR_INVALID, "secagg client %u: bad slice [%zu, %zu) of %zu",
                          c->self, start, start + n, m);
    uint64_t buf[SECAGG_CLIENT_CHUNK];
    unsigned char *payload = out + SECAGG_WIRE_HEADER_BYTES;
    for (size_t off = 0; off < n; off += SECAGG_CLIENT_CHUNK) {
        size_t len = n - off < SECAGG_CLIENT_CHUNK ? n - off : SECAGG_CLIENT_CHUNK;
        size_t i0 = start + off;
        memcpy(buf, c->x + i0, len * sizeof *buf);
        if (c->p.masks == SECAGG_MASKS_FULL) {
            int rc = prg_add_u64(buf, len, &c->self_key, 0, k, i0, eb);
            for (uint32_t j = 0; rc == 0 && j < c->npair; j++)
                rc = c->pair_add[j] ? prg_add_u64(buf, len, &c->pair[j], 0, k, i0, eb)
                                    : prg_sub_u64(buf, len, &c->pair[j], 0, k, i0, eb);
            if (rc < 0) {
                sodium_memzero(buf, sizeof buf);
                return rc;
            }
        }
        /* i0 is a multiple of 8, so i0 * k bits start on a byte boundary. */
        secagg_wire_pack(payload + i0 * k / 8, buf, len, k);
    }
    sodium_memzero(buf, sizeof buf);
    return 0;
}

void
secagg_client_masked_finish(struct secagg_client *c)
{
    sodium_memzero(c->pair, c->p.degree * sizeof *c->pair);
    sodium_memzero(&c->self_key, sizeof c->self_key);
    if (c->state == CLIENT_MASKING)
        c->state = CLIENT_MASK_SENT;
    c->x = NULL;
}

static int
client_consistency(struct secagg_client *c, const unsigned char *req, size_t req_len,
                   unsigned char *out, size_t cap, size_t *out_len, struct errbuf *eb)
{
    struct secagg_wire_msg msg;
    int rc = client_parse(c, &msg, req, req_len, SECAGG_WIRE_CONSIST_REQ, eb);
    size_t need = secagg_wire_consist_rep_bytes(&c->p);
    if (rc == 0)
        rc = client_need_cap(c, need, cap, eb);
    if (rc < 0)
        return rc;
    const unsigned char *bm = msg.fixed;
    if (((bm[c->self / 8] >> (c->self % 8)) & 1) == 0)
        return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: U3 omits this client", c->self);
    uint32_t alive = 1;
    for (uint32_t v = 0; v < c->p.n; v++) {
        if (v == c->self || ((bm[v / 8] >> (v % 8)) & 1) == 0)
            continue;
        long slot = client_slot(c, v);
        if (slot >= 0 && !c->in_u2[slot])
            return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: U3 holds %u, not in U2", c->self,
                              v);
        if (slot >= 0)
            alive++;
    }
    if (alive < c->p.t)
        return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: U3 view of %u below threshold %u",
                          c->self, alive, c->p.t);
    memcpy(c->u3, bm, msg.fixed_len);
    memset(out, 0, need);
    secagg_wire_put_header(out, SECAGG_WIRE_CONSIST_REP, c->self, &c->p);
    if (c->p.masks == SECAGG_MASKS_FULL) {
        size_t sl = 24 + secagg_wire_bitmap_bytes(&c->p);
        unsigned char *st = mem_alloc(sl);
        if (st == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "secagg client: out of memory");
        secagg_wire_u3_statement(st, &c->p, c->u3);
        rc = sign_detached(out + SECAGG_WIRE_HEADER_BYTES, st, sl, &c->sig, eb);
        mem_free(st);
        if (rc < 0)
            return rc;
    }
    *out_len = need;
    c->state = CLIENT_CONSISTENT;
    return 0;
}

/* Verifies the ConsistencyCheck signatures relayed in an Unmasking request (semi-malicious). */
static int
client_check_signatures(struct secagg_client *c, const struct secagg_wire_msg *msg,
                        struct errbuf *eb)
{
    if (memcmp(msg->fixed, c->u3, msg->fixed_len) != 0)
        return errbuf_set(eb, -ERR_ABORTED,
                          "secagg client %u: Unmasking U3 differs from the one signed", c->self);
    if (msg->count2 < c->p.t)
        return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: %u signatures, threshold %u",
                          c->self, msg->count2, c->p.t);
    size_t sl = 24 + secagg_wire_bitmap_bytes(&c->p);
    unsigned char *st = NULL;
    int rc = 0;
    if (c->p.masks == SECAGG_MASKS_FULL) {
        st = mem_alloc(sl);
        if (st == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "secagg client: out of memory");
        secagg_wire_u3_statement(st, &c->p, c->u3);
    }
    long prev = -1;
    for (uint32_t j = 0; j < msg->count2 && rc == 0; j++) {
        const unsigned char *e = msg->list2 + (size_t)j * msg->stride2;
        uint32_t v = le_load32(e);
        long slot = v == c->self ? -2 : client_slot(c, v);
        if ((long)v <= prev || slot == -1 || ((c->u3[v / 8] >> (v % 8)) & 1) == 0) {
            rc = errbuf_set(eb, -ERR_ABORTED,
                            "secagg client %u: signature of %u is not from its U3 neighbourhood",
                            c->self, v);
            break;
        }
        prev = v;
        if (st != NULL) {
            rc = sign_verify(e + 4, st, sl, c->p.pki[v], eb);
            if (rc < 0)
                errbuf_prefix(eb, "secagg client %u: ConsistencyCheck signature of %u", c->self, v);
        }
    }
    mem_free(st);
    return rc;
}

static int
client_unmask(struct secagg_client *c, const unsigned char *req, size_t req_len, unsigned char *out,
              size_t cap, size_t *out_len, struct errbuf *eb)
{
    struct secagg_wire_msg msg;
    int rc = client_parse(c, &msg, req, req_len, SECAGG_WIRE_UNMASK_REQ, eb);
    if (rc < 0)
        return rc;
    if (c->p.threat == SECAGG_THREAT_SEMI_MALICIOUS) {
        rc = client_check_signatures(c, &msg, eb);
        if (rc < 0)
            return rc;
    }
    /* First pass: validate the whole request before revealing anything. */
    uint32_t seeds = 0;
    bool self_asked = false;
    for (uint32_t j = 0; j < msg.count1; j++) {
        const unsigned char *e = msg.list1 + (size_t)j * msg.stride1;
        uint32_t v = le_load32(e);
        unsigned kind = e[4];
        if (j > 0) {
            const unsigned char *pe = e - msg.stride1;
            uint32_t pv = le_load32(pe);
            if (pv == v && pe[4] != kind)
                return errbuf_set(eb, -ERR_ABORTED,
                                  "secagg client %u: refusing both shares of client %u", c->self,
                                  v);
            if (v <= pv)
                return errbuf_set(eb, -ERR_CORRUPT,
                                  "secagg client %u: unmasking entry %u (client %u) out of order",
                                  c->self, j, v);
        }
        if (kind != SECAGG_UNMASK_SELF_SEED && kind != SECAGG_UNMASK_MASK_KEY)
            return errbuf_set(eb, -ERR_CORRUPT, "secagg client %u: unknown share kind %u", c->self,
                              kind);
        uint8_t before;
        if (v == c->self) {
            if (kind != SECAGG_UNMASK_SELF_SEED)
                return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: asked for its own mask key",
                                  c->self);
            self_asked = true;
            before = c->self_revealed;
        } else {
            long slot = client_slot(c, v);
            if (slot < 0 || !c->in_u2[slot])
                return errbuf_set(eb, -ERR_ABORTED,
                                  "secagg client %u: asked for a share of %u, not in its U2",
                                  c->self, v);
            before = c->revealed[slot];
        }
        if (before != 0 && before != kind)
            return errbuf_set(eb, -ERR_ABORTED,
                              "secagg client %u: refusing both shares of client %u", c->self, v);
        if (c->p.threat == SECAGG_THREAT_SEMI_MALICIOUS &&
            (((c->u3[v / 8] >> (v % 8)) & 1) != 0) != (kind == SECAGG_UNMASK_SELF_SEED))
            return errbuf_set(eb, -ERR_ABORTED,
                              "secagg client %u: share kind of %u contradicts the signed U3",
                              c->self, v);
        seeds += kind == SECAGG_UNMASK_SELF_SEED;
    }
    if (!self_asked)
        return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: Unmasking omits this client",
                          c->self);
    if (seeds < c->p.t)
        return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: U3 view of %u below threshold %u",
                          c->self, seeds, c->p.t);
    size_t need = secagg_wire_unmask_rep_bytes(&c->p, msg.count1);
    rc = client_need_cap(c, need, cap, eb);
    if (rc < 0)
        return rc;
    /* Second pass: reveal. */
    secagg_wire_put_header(out, SECAGG_WIRE_UNMASK_REP, c->self, &c->p);
    le_store32(out + SECAGG_WIRE_HEADER_BYTES, msg.count1);
    unsigned char *list = out + SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_COUNT_BYTES;
    for (uint32_t j = 0; j < msg.count1; j++) {
        const unsigned char *e = msg.list1 + (size_t)j * msg.stride1;
        uint32_t v = le_load32(e);
        unsigned kind = e[4];
        const unsigned char *held;
        if (v == c->self) {
            held = c->self_held;
            c->self_revealed = (uint8_t)kind;
        } else {
            long slot = client_slot(c, v);
            held = c->held[slot];
            c->revealed[slot] = (uint8_t)kind;
        }
        unsigned char *o = list + (size_t)j * (SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_SHARE_BYTES);
        le_store32(o, v);
        memcpy(o + 4, held + (kind == SECAGG_UNMASK_SELF_SEED ? SECAGG_WIRE_SHARE_BYTES : 0),
               SECAGG_WIRE_SHARE_BYTES);
    }
    *out_len = need;
    c->state = CLIENT_UNMASKING;
    return 0;
}

int
secagg_client_step(struct secagg_client *c, enum secagg_phase phase, const unsigned char *req,
                   size_t req_len, unsigned char *out, size_t cap, size_t *out_len,
                   struct errbuf *eb)
{
    bool semi = c->p.threat == SECAGG_THREAT_SEMI_MALICIOUS;
    enum client_state want;
    int rc;
    *out_len = 0;
    switch (phase) {
    case SECAGG_PHASE_ADVERTISE_KEYS:
        want = CLIENT_NEW;
        break;
    case SECAGG_PHASE_SHARE_KEYS:
        want = CLIENT_ADVERTISED;
        break;
    case SECAGG_PHASE_MASKED_INPUT:
        want = CLIENT_SHARED;
        break;
    case SECAGG_PHASE_CONSISTENCY_CHECK:
        want = semi ? CLIENT_MASK_SENT : CLIENT_FAILED;
        break;
    case SECAGG_PHASE_UNMASKING:
        want = semi ? CLIENT_CONSISTENT : CLIENT_MASK_SENT;
        break;
    default:
        return client_fail(
            c, errbuf_set(eb, -ERR_INVALID, "secagg client: unknown phase %d", (int)phase));
    }
    bool repeat = phase == SECAGG_PHASE_UNMASKING && c->state == CLIENT_UNMASKING;
    if (c->state == CLIENT_FAILED)
        return errbuf_set(eb, -ERR_ABORTED, "secagg client %u: failed earlier", c->self);
    if (c->state != want && !repeat)
        return client_fail(c,
                           errbuf_set(eb, -ERR_INVALID, "secagg client %u: phase %d out of order",
                                      c->self, (int)phase));
    rc = secagg_wire_open(req, req_len, &c->p, c->p.server_pk, eb);
    if (rc < 0)
        return client_fail(c, rc);
    switch (phase) {
    case SECAGG_PHASE_ADVERTISE_KEYS:
        rc = client_advertise(c, req, req_len, out, cap, out_len, eb);
        break;
    case SECAGG_PHASE_SHARE_KEYS:
        rc = client_share_keys(c, req, req_len, out, cap, out_len, eb);
        break;
    case SECAGG_PHASE_MASKED_INPUT:
        rc = secagg_client_masked_prepare(c, req, req_len, out, cap, out_len, eb);
        if (rc == 0)
            rc = secagg_client_masked_slice(c, out, 0, c->p.m, eb);
        secagg_client_masked_finish(c);
        break;
    case SECAGG_PHASE_CONSISTENCY_CHECK:
        rc = client_consistency(c, req, req_len, out, cap, out_len, eb);
        break;
    default:
        rc = client_unmask(c, req, req_len, out, cap, out_len, eb);
        break;
    }
    if (rc == 0)
        rc = secagg_wire_seal(out, *out_len, &c->p, &c->sig, eb);
    if (rc < 0) {
        *out_len = 0;
        return client_fail(c, rc);
    }
    return 0;
}
