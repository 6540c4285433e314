/*
 * docofl: the server half of DoCoFL downlink compression (Dorfman, Vargaftik, Ben-Itzhak,
 * Levy, ICML 2023): the anchor deposit,
 * which anchor each client holds, and the per-client downlink messages of a round.
 *
 * Deposit. docofl_server_begin_round(t, w_t) makes a new anchor y = C_a(w_t) (ECUQ or EDEN,
 * codec/docofl_wire.h) when the deposit is empty or K rounds have passed since the newest
 * anchor was made; anchors get ids 0, 1, 2, ... and the deposit keeps the newest V,
 * dropping the oldest. The server keeps each anchor's message bytes and its decoded vector
 * (decoded from the bytes, exactly as a client does).
 *
 * Clients. docofl_server_prepare(client) for a selected client: if the client holds no
 * anchor, or its anchor has left the deposit, it is given the newest anchor, whose message
 * it must download (off the round's critical path: counted as anchor bytes); otherwise it
 * keeps its anchor and downloads nothing for it. The correction c = EDEN_{b_c}(w_t − y) for
 * the client's anchor is on the critical path (counted as correction bytes). Every client
 * holding anchor a at round t receives the same correction bytes, encoded once per
 * (anchor, round) under the link (seed, t, RNG_ANY − 2 − 2a) (docofl_wire.h). The client
 * rebuilds ŵ_t = decode(anchor) + decode(correction) with clients/docofl_client.h.
 *
 * Ownership. The server owns copies of w_t, the anchors and the corrections; the pointers
 * in struct docofl_server_msgs stay valid until the next docofl_server_begin_round() or
 * docofl_server_state_set(). Memory: (V + 1)·(anchor message + d floats) + V correction
 * messages + 32 to 64 bytes per client that has held an anchor (a hash table at most half
 * full; the others cost nothing, so creating a server does not depend on the number of
 * clients).
 * Not thread-safe. Deterministic: messages are a function of the parameters (seed
 * included), the models passed in and the order of calls.
 *
 * Checkpoint state (docofl_server_state_get/set), taken between rounds; the round's w_t is
 * not part of it (call docofl_server_begin_round() after restoring). All integers LE:
 *   OFFSET  SIZE     MEANING
 *   0       8        magic "FBDOCFL1"
 *   8       8        dimension d
 *   16      8        number of clients n
 *   24      4        K (anchor_every)
 *   28      4        V (anchors)
 *   32      4        anchor codec (1 ECUQ, 2 EDEN)
 *   36      8        anchor bits, float64
 *   44      8        correction bits, float64
 *   52      8        link seed
 *   60      1        1 if a round has begun since creation, else 0
 *   61      4        last round begun
 *   65      4        next anchor id
 *   69      4        anchors in the deposit m (<= V, <= next id)
 *   73      48       totals: anchor bytes, correction bytes, anchors made, corrections
 *                    encoded, anchor downloads, corrections sent (6 × uint64)
 *   121     ...      m anchors, oldest first: id (4), round (4), length l (4), l bytes of
 *                    the anchor message
 *   ...     4·n      anchor id held by each client (0xFFFFFFFF: none)
 * The restored server is checked field by field (parameters must equal the server's own,
 * ids consecutive, every anchor must decode); any mismatch is -ERR_CORRUPT and leaves the
 * server as it was.
 */
#ifndef FEDBITS_AGGREGATOR_DOCOFL_H
#define FEDBITS_AGGREGATOR_DOCOFL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/docofl_wire.h"

#define DOCOFL_STATE_HEADER_BYTES 121

/* What one selected client downloads in a round (views valid until the next begin_round). */
struct docofl_server_msgs {
    uint32_t anchor_id;        /* the anchor the client holds after this call */
    bool anchor_download;      /* true if it must fetch that anchor now (off critical path) */
    const uint8_t *anchor;     /* the anchor's message (always set: the client decodes it) */
    size_t anchor_len;         /* its length in bytes */
    const uint8_t *correction; /* the correction message for (anchor_id, round) */
    size_t correction_len;     /* its length in bytes */
    uint64_t anchor_bits;      /* 8·anchor_len if anchor_download, else 0 */
    uint64_t correction_bits;  /* 8·correction_len: the critical-path downlink */
};

/* Running totals since creation (restored with the state). */
struct docofl_server_totals {
    uint64_t anchor_bytes;        /* anchor downloads charged */
    uint64_t correction_bytes;    /* corrections charged (one per prepared client) */
    uint64_t anchors_made;        /* anchors encoded */
    uint64_t corrections_encoded; /* distinct (anchor, round) corrections encoded */
    uint64_t anchor_downloads;    /* clients told to download an anchor */
    uint64_t corrections_sent;    /* prepared clients */
};

struct docofl_server;

/* Lifecycle */
/* Returns an owned server for n_clients clients (ids 0..n_clients−1) and models of dim
 * floats, or NULL if out of memory; p must pass docofl_wire_params_check(). */
struct docofl_server *docofl_server_new(const struct docofl_wire_params *p, size_t dim,
                                        size_t n_clients);
void docofl_server_free(struct docofl_server *s);

/* Rounds */
/*
 * Starts round `round` with model w[0..dim) (copied): makes an anchor if one is due and
 * forgets the previous round's corrections. Rounds must increase; -ERR_INVALID otherwise,
 * codec errors (a non-finite model) passed on.
 */
int docofl_server_begin_round(struct docofl_server *s, uint32_t round, const float *w,
                              struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * Fills *out with what `client` downloads this round (see the header paragraph), assigning
 * it the newest anchor when needed and adding to the totals. -ERR_INVALID before the first
 * begin_round, -ERR_RANGE for an unknown client, -ERR_NOMEM (nothing changed) when the
 * record of the clients' anchors cannot grow.
 */
int docofl_server_prepare(struct docofl_server *s, uint64_t client, struct docofl_server_msgs *out,
                          struct errbuf *eb) __attribute__((warn_unused_result));

/* Queries */
size_t docofl_server_dim(const struct docofl_server *s);
/* Anchors in the deposit, and the newest one's id (DOCOFL_WIRE_NO_ANCHOR when empty). */
uint32_t docofl_server_anchor_count(const struct docofl_server *s);
uint32_t docofl_server_latest_anchor(const struct docofl_server *s);
/* The anchor id the server believes client holds (DOCOFL_WIRE_NO_ANCHOR if none). */
uint32_t docofl_server_client_anchor(const struct docofl_server *s, uint64_t client);
/* Views of anchor id's message and decoded vector (either out pointer may be NULL), valid
 * until the anchor leaves the deposit; -ERR_NOTFOUND when it is not in the deposit. */
int docofl_server_anchor(const struct docofl_server *s, uint32_t id, const uint8_t **msg,
                         size_t *len, const float **y, struct errbuf *eb)
    __attribute__((warn_unused_result));
void docofl_server_totals(const struct docofl_server *s, struct docofl_server_totals *t);
size_t docofl_server_anchor_max_bytes(const struct docofl_server *s);
size_t docofl_server_correction_max_bytes(const struct docofl_server *s);

/* Checkpoint state (format above) */
/* Exact size of the current state in bytes. */
size_t docofl_server_state_size(const struct docofl_server *s);
/* Writes the state into out[0..cap) and its length into *len; -ERR_RANGE if cap is short. */
int docofl_server_state_get(const struct docofl_server *s, uint8_t *out, size_t cap, size_t *len,
                            struct errbuf *eb) __attribute__((warn_unused_result));
/* Replaces the state with in[0..len); -ERR_CORRUPT (offset set) or -ERR_NOMEM leaves s
 * unchanged. */
int docofl_server_state_set(struct docofl_server *s, const uint8_t *in, size_t len,
                            struct errbuf *eb) __attribute__((warn_unused_result));

#endif
