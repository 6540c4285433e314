/* secagg_wire: message layouts, sizes and the bounded parser (see secagg_wire.h). */
#include "crypto/secagg_wire.h"

#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "base/mem.h"
#include "base/rng.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "crypto/kx.h"
#include "crypto/ring.h"
#include "crypto/shamir.h"
#include "base/banned.h"

_Static_assert(SECAGG_WIRE_KEY_BYTES == KX_PUBLIC_BYTES, "keys on the wire are X25519 keys");
_Static_assert(SECAGG_WIRE_SIG_BYTES == SIGN_BYTES, "signatures are Ed25519");
_Static_assert(SECAGG_WIRE_SHARE_BYTES == SHAMIR_P61_SHARE_BYTES, "shares are P61 shares");
_Static_assert(SECAGG_WIRE_PLAIN_BYTES == 2 * SECAGG_WIRE_SHARE_BYTES, "two shares per peer");
_Static_assert(SECAGG_WIRE_ENVELOPE_BYTES == SECAGG_WIRE_PLAIN_BYTES + ENVELOPE_TAG_BYTES,
               "envelope = plaintext + tag, nonce derived");
_Static_assert(SECAGG_WIRE_CLIENTS_MAX < SHAMIR_SHARES_MAX, "a neighbourhood fits Shamir");

int
secagg_wire_params_check(const struct secagg_params *p, struct errbuf *eb)
{
    if (p->n < 2 || p->n > SECAGG_WIRE_CLIENTS_MAX)
        return errbuf_set(eb, -ERR_INVALID, "secagg: 'n' = %u outside 2..%u", p->n,
                          SECAGG_WIRE_CLIENTS_MAX);
    if (p->graph == SECAGG_GRAPH_COMPLETE) {
        if (p->degree != p->n - 1)
            return errbuf_set(eb, -ERR_INVALID,
                              "secagg: complete graph needs 'degree' = n - 1 = %u, not %u",
                              p->n - 1, p->degree);
    } else if (p->graph == SECAGG_GRAPH_HARARY) {
        if (p->degree < 2 || p->degree % 2 != 0 || p->degree >= p->n - 1)
            return errbuf_set(eb, -ERR_INVALID,
                              "secagg: harary 'degree' = %u must be even, >= 2 and < n - 1",
                              p->degree);
    } else {
        return errbuf_set(eb, -ERR_INVALID, "secagg: unknown 'graph' %d", (int)p->graph);
    }
    if (p->t < SHAMIR_THRESHOLD_MIN || p->t > p->degree + 1)
        return errbuf_set(eb, -ERR_INVALID, "secagg: threshold 't' = %u outside 2..%u", p->t,
                          p->degree + 1);
    if (secagg_wire_signed(p) && p->masks == SECAGG_MASKS_FULL && p->pki == NULL)
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg: signatures need the clients' verification keys 'pki'");
    if (p->min_clients > p->n)
        return errbuf_set(eb, -ERR_INVALID, "secagg: 'min_clients' = %u above n = %u",
                          p->min_clients, p->n);
    if (p->ring_bits < 1 || p->ring_bits > RING_BITS_MAX)
        return errbuf_set(eb, -ERR_INVALID, "secagg: 'ring_bits' = %u outside 1..64", p->ring_bits);
    if (p->value_bits != 0) {
        unsigned need = 0;
        int rc = ring_bits_for(&need, p->n, p->value_bits, eb);
        if (rc < 0)
            return rc;
        if (p->ring_bits < need)
            return errbuf_set(eb, -ERR_RANGE,
                              "secagg: 'ring_bits' = %u too small: %u clients of %u bits need %u",
                              p->ring_bits, p->n, p->value_bits, need);
    }
    if (p->threat != SECAGG_THREAT_CURIOUS && p->threat != SECAGG_THREAT_SEMI_MALICIOUS)
        return errbuf_set(eb, -ERR_INVALID, "secagg: unknown 'threat' %d", (int)p->threat);
    if (p->masks != SECAGG_MASKS_FULL && p->masks != SECAGG_MASKS_ACCOUNTING)
        return errbuf_set(eb, -ERR_INVALID, "secagg: unknown 'masks' %d", (int)p->masks);
    if (p->m < 1 || p->m > (SIZE_MAX - SECAGG_WIRE_HEADER_BYTES - 8) / 64)
        return errbuf_set(eb, -ERR_INVALID, "secagg: dimension 'm' = %zu out of range", p->m);
    return 0;
}

bool
secagg_wire_signed(const struct secagg_params *p)
{
    return p->threat == SECAGG_THREAT_SEMI_MALICIOUS || p->authenticate;
}

size_t
secagg_wire_auth_bytes(const struct secagg_params *p)
{
    return p->authenticate ? SECAGG_WIRE_SIG_BYTES : 0;
}

int
secagg_wire_seal(unsigned char *msg, size_t len, const struct secagg_params *p,
                 const struct sign_keypair *kp, struct errbuf *eb)
{
    if (!p->authenticate || p->masks != SECAGG_MASKS_FULL)
        return 0;
    if (len < SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_SIG_BYTES)
        return errbuf_set(eb, -ERR_INVALID, "secagg: message of %zu bytes too short to seal", len);
    size_t body = len - SECAGG_WIRE_SIG_BYTES;
    return sign_detached(msg + body, msg, body, kp, eb);
}

int
secagg_wire_open(const unsigned char *msg, size_t len, const struct secagg_params *p,
                 const unsigned char pk[SIGN_PUBLIC_BYTES], struct errbuf *eb)
{
    if (!p->authenticate || p->masks != SECAGG_MASKS_FULL)
        return 0;
    if (msg == NULL || len < SECAGG_WIRE_HEADER_BYTES + SECAGG_WIRE_SIG_BYTES)
        return errbuf_set(eb, -ERR_CORRUPT, "secagg: message of %zu bytes has no signature", len);
    size_t body = len - SECAGG_WIRE_SIG_BYTES;
    if (sign_verify(msg + body, msg, body, pk, NULL) < 0) {
        int rc = errbuf_set(eb, -ERR_CORRUPT, "secagg: message signature does not verify");
        if (eb != NULL)
            eb->offset = (long)body;
        return rc;
    }
    return 0;
}

size_t
secagg_wire_session_bytes(const struct secagg_params *p,
                          unsigned char out[SECAGG_WIRE_SESSION_BYTES])
{
    if (p->session == 0)
        return 0;
    le_store64(out, p->session);
    return SECAGG_WIRE_SESSION_BYTES;
}

size_t
secagg_wire_bitmap_bytes(const struct secagg_params *p)
{
    return ((size_t)p->n + 7) / 8;
}

void
secagg_wire_layout(enum secagg_wire_type type, const struct secagg_params *p, size_t *fixed,
                   size_t *stride1, size_t *stride2)
{
    bool semi = p->threat == SECAGG_THREAT_SEMI_MALICIOUS;
    size_t sig = secagg_wire_signed(p) ? SECAGG_WIRE_SIG_BYTES : 0;
    *fixed = 0;
    *stride1 = 0;
    *stride2 = 0;
    switch (type) {
    case SECAGG_WIRE_ADVERTISE_REQ:
        break;
    case SECAGG_WIRE_ADVERTISE_REP:
        *fixed = 2 * SECAGG_WIRE_KEY_BYTES + sig;
        break;
    case SECAGG_WIRE_SHARE_REQ:
        *stride1 = SECAGG_WIRE_INDEX_BYTES + 2 * SECAGG_WIRE_KEY_BYTES + sig;
        break;
    case SECAGG_WIRE_SHARE_REP:
    case SECAGG_WIRE_MASKED_REQ:
        *stride1 = SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_ENVELOPE_BYTES;
        break;
    case SECAGG_WIRE_MASKED_REP:
        /* m <= (SIZE_MAX - 32) / 64 (params_check), so m * ring_bits cannot overflow. */
        *fixed = (p->m * p->ring_bits + 7) / 8;
        break;
    case SECAGG_WIRE_CONSIST_REQ:
        *fixed = secagg_wire_bitmap_bytes(p);
        break;
    case SECAGG_WIRE_CONSIST_REP:
        *fixed = SECAGG_WIRE_SIG_BYTES;
        break;
    case SECAGG_WIRE_UNMASK_REQ:
        *fixed = semi ? secagg_wire_bitmap_bytes(p) : 0;
        *stride1 = SECAGG_WIRE_INDEX_BYTES + 1;
        *stride2 = semi ? SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_SIG_BYTES : 0;
        break;
    case SECAGG_WIRE_UNMASK_REP:
        *stride1 = SECAGG_WIRE_INDEX_BYTES + SECAGG_WIRE_SHARE_BYTES;
        break;
    }
}

size_t
secagg_wire_bytes(enum secagg_wire_type type, const struct secagg_params *p, uint32_t count1,
                  uint32_t count2)
{
    size_t fixed, s1, s2;
    secagg_wire_layout(type, p, &fixed, &s1, &s2);
    size_t total = SECAGG_WIRE_HEADER_BYTES + fixed + secagg_wire_auth_bytes(p);
    if (s1 != 0) {
        if (count1 > (SIZE_MAX - total - SECAGG_WIRE_COUNT_BYTES) / s1)
            return 0;
        total += SECAGG_WIRE_COUNT_BYTES + (size_t)count1 * s1;
    }
    if (s2 != 0) {
        if (count2 > (SIZE_MAX - total - SECAGG_WIRE_COUNT_BYTES) / s2)
            return 0;
        total += SECAGG_WIRE_COUNT_BYTES + (size_t)count2 * s2;
    }
    return total;
}

size_t
secagg_wire_advertise_req_bytes(const struct secagg_params *p)
{
    return secagg_wire_bytes(SECAGG_WIRE_ADVERTISE_REQ, p, 0, 0);
}

size_t
secagg_wire_advertise_rep_bytes(const struct secagg_params *p)
{
    return secagg_wire_bytes(SECAGG_WIRE_ADVERTISE_REP, p, 0, 0);
}

size_t
secagg_wire_share_req_bytes(const struct secagg_params *p, uint32_t neighbours)
{
    return secagg_wire_bytes(SECAGG_WIRE_SHARE_REQ, p, neighbours, 0);
}

size_t
secagg_wire_share_rep_bytes(const struct secagg_params *p, uint32_t neighbours)
{
    return secagg_wire_bytes(SECAGG_WIRE_SHARE_REP, p, neighbours, 0);
}

size_t
secagg_wire_masked_req_bytes(const struct secagg_params *p, uint32_t senders)
{
    return secagg_wire_bytes(SECAGG_WIRE_MASKED_REQ, p, senders, 0);
}

size_t
secagg_wire_masked_rep_bytes(const struct secagg_params *p)
{
    return secagg_wire_bytes(SECAGG_WIRE_MASKED_REP, p, 0, 0);
}

size_t
secagg_wire_consist_req_bytes(const struct secagg_params *p)
{
    return secagg_wire_bytes(SECAGG_WIRE_CONSIST_REQ, p, 0, 0);
}

size_t
secagg_wire_consist_rep_bytes(const struct secagg_params *p)
{
    return secagg_wire_bytes(SECAGG_WIRE_CONSIST_REP, p, 0, 0);
}

size_t
secagg_wire_unmask_req_bytes(const struct secagg_params *p, uint32_t peers, uint32_t signatures)
{
    return secagg_wire_bytes(SECAGG_WIRE_UNMASK_REQ, p, peers, signatures);
}

size_t
secagg_wire_unmask_rep_bytes(const struct secagg_params *p, uint32_t peers)
{
    return secagg_wire_bytes(SECAGG_WIRE_UNMASK_REP, p, peers, 0);
}

void
secagg_wire_put_header(unsigned char *out, enum secagg_wire_type type, uint32_t client,
                       const struct secagg_params *p)
{
    out[0] = (unsigned char)type;
    out[1] = SECAGG_WIRE_VERSION;
    out[2] = 0;
    out[3] = 0;
    le_store32(out + 4, client);
    le_store64(out + 8, p->session);
    le_store64(out + 16, p->round);
}

/*
 * The packer keeps a 64-bit accumulator of pending bits; a value straddling the 64-bit
 * boundary leaves its high part for the next word. Output is byte-exact, so slices that
 * start on a byte boundary can be packed independently.
 */
void
secagg_wire_pack(unsigned char *out, const uint64_t *vals, size_t n, unsigned bits)
{
    uint64_t acc = 0;
    unsigned have = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = vals[i];
        acc |= v << have;
        if (have + bits >= 64) {
            le_store64(out + o, acc);
            o += 8;
            acc = have != 0 ? v >> (64 - have) : 0;
            have = have + bits - 64;
        } else {
            have += bits;
        }
    }
    while (have > 0) {
        out[o++] = (unsigned char)acc;
        acc >>= 8;
        have = have > 8 ? have - 8 : 0;
    }
}

/* Loads up to 8 bytes at in[o..) without reading at or past in[len]. */
static uint64_t
wire_load(const unsigned char *in, size_t o, size_t len)
{
    return o + 8 <= len ? le_load64(in + o) : le_load_n(in + o, len - o);
}

void
secagg_wire_unpack_add(uint64_t *acc, const unsigned char *in, size_t n, unsigned bits)
{
    uint64_t mask = ring_mask(bits);
    size_t len = (n * bits + 7) / 8;
    for (size_t i = 0; i < n; i++) {
        size_t bit = i * bits;
        size_t o = bit / 8;
        unsigned sh = (unsigned)(bit % 8);
        uint64_t v = wire_load(in, o, len) >> sh;
        if (sh + bits > 64)
            v |= (uint64_t)in[o + 8] << (64 - sh);
        acc[i] = (acc[i] + (v & mask)) & mask;
    }
}

uint64_t
secagg_wire_unpack_one(const unsigned char *in, size_t i, unsigned bits)
{
    uint64_t v = 0;
    size_t bit = i * bits;
    for (unsigned j = 0; j < bits; j++, bit++)
        v |= (uint64_t)((unsigned)(in[bit / 8] >> (bit % 8)) & 1u) << j;
    return v;
}

static int
wire_corrupt(struct errbuf *eb, size_t offset, const char *what, enum secagg_wire_type type)
{
    int rc = errbuf_set(eb, -ERR_CORRUPT, "secagg message type %d: %s at byte %zu", (int)type, what,
                        offset);
    if (eb != NULL)
        eb->offset = offset > LONG_MAX ? -1 : (long)offset;
    return rc;
}

/* Reads a count at *off and checks that count * stride more bytes exist. */
static int
wire_list(const unsigned char *buf, size_t len, size_t *off, uint32_t n, size_t stride,
          const unsigned char **list, uint32_t *count, enum secagg_wire_type type,
          struct errbuf *eb)
{
    if (len - *off < SECAGG_WIRE_COUNT_BYTES)
        return wire_corrupt(eb, len, "truncated count", type);
    uint32_t c = le_load32(buf + *off);
    if (c > n)
        return wire_corrupt(eb, *off, "count above n", type);
    *off += SECAGG_WIRE_COUNT_BYTES;
    if ((len - *off) / stride < c)
        return wire_corrupt(eb, len, "truncated list", type);
    *list = buf + *off;
    *count = c;
    *off += (size_t)c * stride;
    return 0;
}

int
secagg_wire_parse(struct secagg_wire_msg *msg, const unsigned char *buf, size_t len,
                  enum secagg_wire_type type, const struct secagg_params *p, struct errbuf *eb)
{
    bool semi = p->threat == SECAGG_THREAT_SEMI_MALICIOUS;
    if (type < SECAGG_WIRE_ADVERTISE_REQ || type > SECAGG_WIRE_UNMASK_REP)
        return errbuf_set(eb, -ERR_INVALID, "secagg: unknown message type %d", (int)type);
    if (!semi && (type == SECAGG_WIRE_CONSIST_REQ || type == SECAGG_WIRE_CONSIST_REP))
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg: no ConsistencyCheck in the honest-but-curious model");
    if (buf == NULL || len < SECAGG_WIRE_HEADER_BYTES + secagg_wire_auth_bytes(p))
        return wire_corrupt(eb, len, "truncated header", type);
    len -= secagg_wire_auth_bytes(p); /* the trailing signature: secagg_wire_open() */
    if (buf[0] != (unsigned char)type)
        return wire_corrupt(eb, 0, "unexpected type", type);
    if (buf[1] != SECAGG_WIRE_VERSION)
        return wire_corrupt(eb, 1, "unknown version", type);
    if (buf[2] != 0 || buf[3] != 0)
        return wire_corrupt(eb, buf[2] != 0 ? 2 : 3, "non-zero reserved byte", type);
    uint32_t client = le_load32(buf + 4);
    if (client >= p->n)
        return wire_corrupt(eb, 4, "client index out of range", type);
    if (le_load64(buf + 8) != p->session)
        return wire_corrupt(eb, 8, "wrong session", type);
    if (le_load64(buf + 16) != p->round)
        return wire_corrupt(eb, 16, "wrong round", type);

    size_t fixed, s1, s2;
    secagg_wire_layout(type, p, &fixed, &s1, &s2);
    size_t off = SECAGG_WIRE_HEADER_BYTES;
    *msg = (struct secagg_wire_msg){ .type = type, .client = client, .stride1 = s1, .stride2 = s2 };
    if (len - off < fixed)
        return wire_corrupt(eb, len, "truncated body", type);
    msg->fixed = buf + off;
    msg->fixed_len = fixed;
    off += fixed;
    if (s1 != 0) {
        int rc = wire_list(buf, len, &off, p->n, s1, &msg->list1, &msg->count1, type, eb);
        if (rc < 0)
            return rc;
    }
    if (s2 != 0) {
        int rc = wire_list(buf, len, &off, p->n, s2, &msg->list2, &msg->count2, type, eb);
        if (rc < 0)
            return rc;
    }
    if (off != len)
        return wire_corrupt(eb, off, "trailing bytes", type);
    /* Padding bits of a packed payload or a bitmap are zero (one encoding per value). */
    if (type == SECAGG_WIRE_MASKED_REP) {
        unsigned used = (unsigned)((p->m * p->ring_bits) % 8);
        if (used != 0 && (msg->fixed[fixed - 1] >> used) != 0)
            return wire_corrupt(eb, off - 1, "non-zero padding bits", type);
    }
    if (type == SECAGG_WIRE_CONSIST_REQ || (type == SECAGG_WIRE_UNMASK_REQ && semi)) {
        unsigned used = p->n % 8;
        if (used != 0 && (msg->fixed[fixed - 1] >> used) != 0)
            return wire_corrupt(eb, SECAGG_WIRE_HEADER_BYTES + fixed - 1, "non-zero bitmap padding",
                                type);
    }
    return 0;
}

void
secagg_wire_adv_statement(unsigned char out[SECAGG_WIRE_ADV_SIGNED_BYTES],
                          const struct secagg_params *p, uint32_t client,
                          const unsigned char c_pk[SECAGG_WIRE_KEY_BYTES],
                          const unsigned char s_pk[SECAGG_WIRE_KEY_BYTES])
{
    memcpy(out, "FBSA-ADV", 8);
    le_store64(out + 8, p->session);
    le_store64(out + 16, p->round);
    le_store32(out + 24, client);
    memcpy(out + 28, c_pk, SECAGG_WIRE_KEY_BYTES);
    memcpy(out + 28 + SECAGG_WIRE_KEY_BYTES, s_pk, SECAGG_WIRE_KEY_BYTES);
}

size_t
secagg_wire_u3_statement(unsigned char *out, const struct secagg_params *p,
                         const unsigned char *bitmap)
{
    memcpy(out, "FBSA-U3_", 8);
    le_store64(out + 8, p->session);
    le_store64(out + 16, p->round);
    size_t b = secagg_wire_bitmap_bytes(p);
    memcpy(out + 24, bitmap, b);
    return 24 + b;
}

/* The long-term Ed25519 key pair of identity id: (seed, RNG_PURPOSE_SECAGG, RNG_ANY, id). */
static int
wire_long_term_keypair(struct sign_keypair *kp, uint64_t run_seed, uint64_t id, struct errbuf *eb)
{
    struct rng r;
    unsigned char master[KDF_KEY_BYTES], seed[SIGN_SEED_BYTES];
    rng_init_stream(&r, run_seed, RNG_PURPOSE_SECAGG, RNG_ANY, id);
    kdf_master_from_stream(master, &r);
    int rc = kdf_derive(seed, sizeof seed, master, KDF_CTX_SIGN, id, eb);
    if (rc == 0)
        rc = sign_keypair_from_seed(kp, seed, eb);
    sodium_memzero(master, sizeof master);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(&r, sizeof r);
    return rc;
}

int
secagg_wire_sign_keypair(struct sign_keypair *kp, const struct secagg_params *p, uint32_t client,
                         struct errbuf *eb)
{
    return wire_long_term_keypair(kp, p->seed, p->ids != NULL ? p->ids[client] : client, eb);
}

void
secagg_wire_ring_order(uint32_t *perm, uint32_t n, uint64_t seed, uint64_t round)
{
    struct rng r;
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    rng_init_stream(&r, seed, RNG_PURPOSE_SECAGG, round, RNG_ANY);
    rng_shuffle_u32(&r, perm, n);
}

static int
wire_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int
secagg_wire_neighbours(uint32_t *out, const struct secagg_params *p, uint32_t u, struct errbuf *eb)
{
    uint32_t n = p->n;
    if (p->graph != SECAGG_GRAPH_HARARY) {
        for (uint32_t v = 0, j = 0; v < n; v++)
            if (v != u)
                out[j++] = v;
        return 0;
    }
    uint32_t *perm = mem_alloc((size_t)n * sizeof *perm);
    if (perm == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "secagg: out of memory");
    secagg_wire_ring_order(perm, n, p->seed, p->round);
    uint32_t pos = 0;
    while (perm[pos] != u)
        pos++;
    for (uint32_t s = 1, j = 0; s <= p->degree / 2; s++) {
        out[j++] = perm[(pos + s) % n];
        out[j++] = perm[(pos + n - s) % n];
    }
    qsort(out, p->degree, sizeof *out, wire_cmp_u32);
    mem_free(perm);
    return 0;
}

int
secagg_wire_server_keypair(struct sign_keypair *kp, const struct secagg_params *p,
                           struct errbuf *eb)
{
    return wire_long_term_keypair(kp, p->seed, RNG_ANY, eb);
}

int
secagg_wire_pki_fill(unsigned char (*pki)[SIGN_PUBLIC_BYTES],
                     unsigned char server_pk[SIGN_PUBLIC_BYTES], const struct secagg_params *p,
                     struct errbuf *eb)
{
    struct sign_keypair kp;
    int rc = 0;
    for (uint32_t u = 0; rc == 0 && u < p->n; u++) {
        rc = secagg_wire_sign_keypair(&kp, p, u, eb);
        if (rc == 0)
            memcpy(pki[u], kp.pk, SIGN_PUBLIC_BYTES);
    }
    if (rc == 0)
        rc = secagg_wire_server_keypair(&kp, p, eb);
    if (rc == 0)
        memcpy(server_pk, kp.pk, SIGN_PUBLIC_BYTES);
    sign_keypair_wipe(&kp);
    return rc;
}
