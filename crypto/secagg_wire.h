/*
 * secagg_wire: the messages of the secure-aggregation protocol, shared by its two halves
 * (clients/secagg_client and aggregator/secagg_server), and the round's parameters.
 *
 * One protocol engine runs SecAgg (Bonawitz et al., CCS 2017, §4) on the complete graph and
 * SecAgg+ (Bell et al., CCS 2020) on a randomly relabelled Harary graph. A round has the phases of
 * enum secagg_phase; in each one the server sends every live client one request and the client
 * answers with one reply. The simulator carries the bytes, so every size below is what is charged.
 *
 * Every message starts with the same header (all integers little-endian):
 *
 *   OFFSET  SIZE  MEANING
 *   0       1     type (enum secagg_wire_type)
 *   1       1     version, SECAGG_WIRE_VERSION
 *   2       2     zero
 *   4       4     client index: the receiver of a request, the sender of a reply
 *   8       8     session id (struct secagg_params.session)
 *   16      8     round
 *
 * and then a body; L1/L2 are u32 counts (<= n) each followed by that many fixed-size
 * entries, B = ceil(n/8) bytes of bitmap (bit u = byte u/8, bit u%8; padding bits zero),
 * S = semi-malicious threat model only:
 *
 *   type           body after the header (OFFSET relative to byte 24)
 *   ADVERTISE_REQ  nothing
 *   ADVERTISE_REP  0: c_pk (32), 32: s_pk (32), [S] 64: Ed25519 signature (64) over
 *                  "FBSA-ADV" || session || round || le32 client || c_pk || s_pk
 *   SHARE_REQ      L1 of { le32 neighbour v, c_pk_v (32), s_pk_v (32), [S] sig_v (64) },
 *                  the live neighbours of the receiver, v strictly increasing
 *   SHARE_REP      L1 of { le32 receiver v, envelope (96) }, v strictly increasing: the
 *                  XChaCha20-Poly1305 envelope (crypto/envelope.h, AD = session, round,
 *                  sender, receiver) of s_u^SK-share (40) || b_u-share (40), Shamir over
 *                  GF(2^61 - 1) at x = v + 1
 *   MASKED_REQ     L1 of { le32 sender v, envelope (96) }: the envelopes addressed to the
 *                  receiver by its neighbours in U2, v strictly increasing
 *   MASKED_REP     ceil(m * ring_bits / 8) bytes: y_u, coordinate i in bits
 *                  [i * ring_bits, (i + 1) * ring_bits), LSB-first; padding bits zero
 *   CONSIST_REQ    [S only] B: the set U3
 *   CONSIST_REP    [S only] sig (64) over "FBSA-U3_" || session || round || B
 *   UNMASK_REQ     [S] B: U3 again; L1 of { le32 peer v, kind (1) }: v strictly increasing,
 *                  kind SECAGG_UNMASK_SELF_SEED (send the share of b_v) or
 *                  SECAGG_UNMASK_MASK_KEY (send the share of s_v^SK); [S] L2 of
 *                  { le32 v, sig_v (64) }: the ConsistencyCheck signatures of the
 *                  receiver's neighbourhood
 *   UNMASK_REP     L1 of { le32 peer v, share (40) }, exactly the entries requested
 *
 * With p.authenticate the signatures marked [S] are present in either threat model, and
 * every message ends with a 64-byte Ed25519 signature of its sender (the client's
 * long-term key for replies, the server's for requests) over all the bytes before it
 * (secagg_wire_seal / secagg_wire_open); the parser only accounts for its length.
 *
 * Parsing (secagg_wire_parse) works from (pointer, length), checks the header, every count
 * against n and the exact total length before any entry is read, and fails with
 * -ERR_CORRUPT and eb->offset at the first bad byte. The entries of a parsed message can
 * then be read without further bounds checks; their *values* (order, membership) are the
 * protocol's to check.
 *
 * Parameters: struct secagg_params is the round's configuration, the same on both sides.
 * All key material comes from (seed, round, client) through base/rng streams and
 * crypto/kdf, except client round secrets under random_keys (randombytes_buf). session = 0
 * binds no session into the pair seeds (the toy known-answer run of tests/unit/crypto/test_prg.c);
 * any other value is bound as 8 little-endian bytes into pair seeds, envelopes and client round
 * keys. The borrowed arrays of a params (ids, pki) must outlive every server and client made from
 * it. The module has no state; all buffers are the caller's. Thread-safe.
 */
#ifndef FEDBITS_CRYPTO_SECAGG_WIRE_H
#define FEDBITS_CRYPTO_SECAGG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "crypto/sign.h"

/* Sizes */
#define SECAGG_WIRE_VERSION        1
#define SECAGG_WIRE_HEADER_BYTES   24
#define SECAGG_WIRE_COUNT_BYTES    4
#define SECAGG_WIRE_INDEX_BYTES    4
#define SECAGG_WIRE_KEY_BYTES      32 /* KX_PUBLIC_BYTES */
#define SECAGG_WIRE_SIG_BYTES      64 /* SIGN_BYTES */
#define SECAGG_WIRE_SHARE_BYTES    40 /* SHAMIR_P61_SHARE_BYTES */
#define SECAGG_WIRE_PLAIN_BYTES    80 /* s-share || b-share */
#define SECAGG_WIRE_ENVELOPE_BYTES 96 /* SECAGG_WIRE_PLAIN_BYTES + ENVELOPE_TAG_BYTES */
#define SECAGG_WIRE_SESSION_BYTES  8
#define SECAGG_WIRE_CLIENTS_MAX    1000000u /* n bound (secagg_graph_harary_params) */

/* The phases of a round, in order. CONSISTENCY_CHECK runs only for the semi-malicious model. */
enum secagg_phase {
    SECAGG_PHASE_ADVERTISE_KEYS = 0,
    SECAGG_PHASE_SHARE_KEYS = 1,
    SECAGG_PHASE_MASKED_INPUT = 2,
    SECAGG_PHASE_CONSISTENCY_CHECK = 3,
    SECAGG_PHASE_UNMASKING = 4,
};
#define SECAGG_PHASES 5

enum secagg_graph_kind {
    SECAGG_GRAPH_COMPLETE = 1, /* SecAgg: every client neighbours every other */
    SECAGG_GRAPH_HARARY = 2,   /* SecAgg+: randomly relabelled Harary graph of even degree */
};

enum secagg_threat {
    SECAGG_THREAT_CURIOUS = 1,        /* honest-but-curious server */
    SECAGG_THREAT_SEMI_MALICIOUS = 2, /* Ed25519 signatures and ConsistencyCheck */
};

enum secagg_masks {
    SECAGG_MASKS_FULL = 1,       /* the real protocol */
    SECAGG_MASKS_ACCOUNTING = 2, /* same bytes and dropout logic, no key agreement, no
                                    encryption, no masks; same result */
};

/* Which share a client reveals for a peer in Unmasking. */
enum secagg_unmask_kind {
    SECAGG_UNMASK_SELF_SEED = 1, /* share of b_v: v's masked input arrived */
    SECAGG_UNMASK_MASK_KEY = 2,  /* share of s_v^SK: v dropped before its masked input */
};

enum secagg_wire_type {
    SECAGG_WIRE_ADVERTISE_REQ = 1,
    SECAGG_WIRE_ADVERTISE_REP = 2,
    SECAGG_WIRE_SHARE_REQ = 3,
    SECAGG_WIRE_SHARE_REP = 4,
    SECAGG_WIRE_MASKED_REQ = 5,
    SECAGG_WIRE_MASKED_REP = 6,
    SECAGG_WIRE_CONSIST_REQ = 7,
    SECAGG_WIRE_CONSIST_REP = 8,
    SECAGG_WIRE_UNMASK_REQ = 9,
    SECAGG_WIRE_UNMASK_REP = 10,
};

/* The configuration of one round, identical at the server and every client. */
struct secagg_params {
    enum secagg_graph_kind graph;
    uint32_t n;          /* clients selected for the round, indices 0..n-1 */
    uint32_t t;          /* Shamir threshold over a neighbourhood (self included), >= 2 */
    uint32_t degree;     /* neighbours per client excluding self: n - 1 for the complete
                            graph, the even k of secagg_graph for SecAgg+ */
    unsigned ring_bits;  /* masked values live in Z_{2^ring_bits}, 1..64 */
    unsigned value_bits; /* b: inputs are < 2^b; ring_bits must be >= ring_bits_for(n, b).
                            0 = not checked (the caller vouches, e.g. the §7.2 toy run) */
    enum secagg_threat threat;
    enum secagg_masks masks;
    uint32_t min_clients; /* ⌈(1 - δ) n⌉: fewer live clients after any phase abort the
                             round (Bell et al., CCS 2020: the SecAgg+ degree and threshold
                             are only safe when at most ⌊δ n⌋ drop); 0 = t alone */
    bool random_keys;     /* client secrets (key pairs, self-mask seed, Shamir coefficients)
                             from randombytes_buf instead of the run seed: masks differ from
                             run to run, sums never */
    bool authenticate;    /* every message ends in its sender's Ed25519 signature over all
                             its other bytes (the authenticated channels the curious model
                             assumes, made explicit); AdvertiseKeys is signed as under the
                             semi-malicious model */
    const uint64_t *ids;  /* n long-term client ids (borrowed; NULL: the indices): signing
                             keys are bound to them, not to cohort slots */
    const unsigned char (*pki)[SIGN_PUBLIC_BYTES]; /* n verification keys by index
                            (borrowed; secagg_wire_pki_fill()); needed when anything is
                            signed (semi-malicious or authenticate) with full masks */
    unsigned char server_pk[SIGN_PUBLIC_BYTES];    /* the server's key (authenticate) */
    uint64_t session; /* protocol instance id; 0 binds none into pair seeds */
    uint64_t seed;    /* run seed: every key of the round derives from it */
    uint64_t round;
    size_t m; /* coordinates of every input vector, >= 1 */
};

/* A parsed message: views into the caller's buffer, valid as long as it is. */
struct secagg_wire_msg {
    enum secagg_wire_type type;
    uint32_t client;            /* header client index */
    const unsigned char *fixed; /* fixed body part (keys, payload, bitmap, signature) */
    size_t fixed_len;
    const unsigned char *list1; /* count1 entries of stride1 bytes */
    uint32_t count1;
    size_t stride1;
    const unsigned char *list2; /* count2 entries of stride2 bytes */
    uint32_t count2;
    size_t stride2;
};

/* Parameters */
/*
 * Checks p: n in 2..SECAGG_WIRE_CLIENTS_MAX, t in 2..degree + 1, min_clients <= n, degree (n - 1
 * for the complete graph, even and < n - 1 for Harary), ring_bits 1..64 and at least
 * ring_bits_for(n, value_bits), known enums, m >= 1 and the MASKED_REP size fits a size_t.
 * -ERR_INVALID (or -ERR_RANGE for ring sizing) naming the field.
 */
int secagg_wire_params_check(const struct secagg_params *p, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* True when AdvertiseKeys carries a signature (semi-malicious or authenticate). */
bool secagg_wire_signed(const struct secagg_params *p);
/* The pair-seed session bytes of p into out; returns their length (0 or 8). */
size_t secagg_wire_session_bytes(const struct secagg_params *p,
                                 unsigned char out[SECAGG_WIRE_SESSION_BYTES]);

/* Sizes */
/* Body layout of type under p: fixed bytes, and the entry strides (0 = no such list). */
void secagg_wire_layout(enum secagg_wire_type type, const struct secagg_params *p, size_t *fixed,
                        size_t *stride1, size_t *stride2);
/* Exact bytes of a message of type with count1/count2 entries (0 on size overflow). */
size_t secagg_wire_bytes(enum secagg_wire_type type, const struct secagg_params *p, uint32_t count1,
                         uint32_t count2);
/* The named sizes of each message (count = entries of its list). */
size_t secagg_wire_advertise_req_bytes(const struct secagg_params *p);
size_t secagg_wire_advertise_rep_bytes(const struct secagg_params *p);
size_t secagg_wire_share_req_bytes(const struct secagg_params *p, uint32_t neighbours);
size_t secagg_wire_share_rep_bytes(const struct secagg_params *p, uint32_t neighbours);
size_t secagg_wire_masked_req_bytes(const struct secagg_params *p, uint32_t senders);
size_t secagg_wire_masked_rep_bytes(const struct secagg_params *p);
size_t secagg_wire_consist_req_bytes(const struct secagg_params *p);
size_t secagg_wire_consist_rep_bytes(const struct secagg_params *p);
size_t secagg_wire_unmask_req_bytes(const struct secagg_params *p, uint32_t peers,
                                    uint32_t signatures);
size_t secagg_wire_unmask_rep_bytes(const struct secagg_params *p, uint32_t peers);
/* Bytes of the membership bitmap, ceil(n / 8). */
size_t secagg_wire_bitmap_bytes(const struct secagg_params *p);

/* Encoding */
/* Writes the header of a message of type for client into out[0..SECAGG_WIRE_HEADER_BYTES). */
void secagg_wire_put_header(unsigned char *out, enum secagg_wire_type type, uint32_t client,
                            const struct secagg_params *p);

/*
 * Packs vals[0..n) (each < 2^bits) LSB-first into out starting at bit 0; writes exactly
 * ceil(n * bits / 8) bytes (padding bits zero). Used for MASKED_REP slices.
 */
void secagg_wire_pack(unsigned char *out, const uint64_t *vals, size_t n, unsigned bits);
/* acc[i] = acc[i] + value i of in (packed as above) mod 2^bits, for i < n. */
void secagg_wire_unpack_add(uint64_t *acc, const unsigned char *in, size_t n, unsigned bits);
/* Reads value i of a packed array (tests, small vectors). */
uint64_t secagg_wire_unpack_one(const unsigned char *in, size_t i, unsigned bits);

/* Parsing */
/*
 * Parses buf[0..len) as a message of type under p (see the table): header fields (type,
 * version, zero, session, round), counts <= n and the exact total length. -ERR_CORRUPT with
 * eb->offset on any mismatch; -ERR_INVALID for a type that does not exist under p (the
 * ConsistencyCheck messages in the curious model).
 */
int secagg_wire_parse(struct secagg_wire_msg *msg, const unsigned char *buf, size_t len,
                      enum secagg_wire_type type, const struct secagg_params *p, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* The SecAgg+ neighbour graph, from public values fixed before AdvertiseKeys */
/*
 * The ring order of round `round`: perm[position] = client for n clients, a uniformly
 * random permutation drawn from (seed, RNG_PURPOSE_SECAGG, round, RNG_ANY) (Bell et al.,
 * CCS 2020: the random relabelling of the Harary graph). It depends only on the round's
 * public parameters, which every client holds before AdvertiseKeys, so a server that has
 * seen the keys cannot pick a victim's neighbours.
 */
void secagg_wire_ring_order(uint32_t *perm, uint32_t n, uint64_t seed, uint64_t round);
/*
 * The p.degree neighbours of client u under p (complete graph: every other client;
 * Harary: the degree/2 ring predecessors and successors of u's position), ascending, into
 * out[0..p.degree). The same lists aggregator/secagg_graph builds. -ERR_NOMEM.
 */
int secagg_wire_neighbours(uint32_t *out, const struct secagg_params *p, uint32_t u,
                           struct errbuf *eb) __attribute__((warn_unused_result));

/* Signed statements and the PKI the simulator plays */
/* Bytes signed in AdvertiseKeys: "FBSA-ADV" || session || round || le32 client || keys. */
#define SECAGG_WIRE_ADV_SIGNED_BYTES (8 + 8 + 8 + 4 + 2 * SECAGG_WIRE_KEY_BYTES)
void secagg_wire_adv_statement(unsigned char out[SECAGG_WIRE_ADV_SIGNED_BYTES],
                               const struct secagg_params *p, uint32_t client,
                               const unsigned char c_pk[SECAGG_WIRE_KEY_BYTES],
                               const unsigned char s_pk[SECAGG_WIRE_KEY_BYTES]);
/* Bytes signed in ConsistencyCheck: "FBSA-U3_" || session || round || bitmap; out holds
 * 24 + secagg_wire_bitmap_bytes(p) bytes. Returns the length written. */
size_t secagg_wire_u3_statement(unsigned char *out, const struct secagg_params *p,
                                const unsigned char *bitmap);
/*
 * The long-term Ed25519 key pair of the client at index `client`, bound to its id
 * (p.ids[client], or the index when ids is NULL): seeded from (seed, RNG_PURPOSE_SECAGG,
 * RNG_ANY, id) and KDF_CTX_SIGN, the same in every round. Only that client calls it.
 */
int secagg_wire_sign_keypair(struct sign_keypair *kp, const struct secagg_params *p,
                             uint32_t client, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* The server's long-term key pair, from (seed, RNG_PURPOSE_SECAGG, RNG_ANY, RNG_ANY). */
int secagg_wire_server_keypair(struct sign_keypair *kp, const struct secagg_params *p,
                               struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * The registration the simulator plays: the verification keys of the n clients of p into
 * pki[0..n) and the server's into server_pk. Both halves then verify with public keys only.
 */
int secagg_wire_pki_fill(unsigned char (*pki)[SIGN_PUBLIC_BYTES],
                         unsigned char server_pk[SIGN_PUBLIC_BYTES], const struct secagg_params *p,
                         struct errbuf *eb) __attribute__((warn_unused_result));

/* Authenticated messages (p.authenticate) */
/* Bytes of the trailing signature: SECAGG_WIRE_SIG_BYTES with authenticate, else 0. */
size_t secagg_wire_auth_bytes(const struct secagg_params *p);
/* Signs msg[0..len - 64) into its last 64 bytes (no-op without authenticate or in
 * accounting mode, where the trailer stays zero). */
int secagg_wire_seal(unsigned char *msg, size_t len, const struct secagg_params *p,
                     const struct sign_keypair *kp, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Verifies the trailing signature of msg[0..len) under pk (0 without authenticate or in
 * accounting mode); -ERR_CORRUPT when it fails or the message is too short. */
int secagg_wire_open(const unsigned char *msg, size_t len, const struct secagg_params *p,
                     const unsigned char pk[SIGN_PUBLIC_BYTES], struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
