/*
 * docofl_client: the client half of DoCoFL downlink compression (Dorfman, Vargaftik,
 * Ben-Itzhak, Levy, ICML 2023): rebuild the model
 * ŵ_t = decode(anchor) + decode(correction) a selected client trains from.
 *
 * Three objects. struct docofl_client_state is what one simulated client keeps between
 * rounds: only the id of the anchor it holds (4 bytes); struct docofl_client_states holds
 * those states for the clients that have one (a hash table keyed by client id, 8 bytes a
 * slot at most half full), so idle clients cost nothing; the anchor's bytes stay in the server's
 * deposit (aggregator/docofl.h), which is where the simulator fetches them from when the client
 * participates — the decoded anchor is recomputed from those bytes each time, bit-identically to
 * the server's copy. struct docofl_client is a per-thread workspace (the anchor and correction
 * decoders) shared by every client that thread simulates: docofl_client_new() once,
 * docofl_client_model() per participation, docofl_client_free(). Nothing is allocated after new.
 * Messages and outputs are caller buffers, borrowed for the call. Not thread-safe: one per thread.
 * Wire formats: codec/docofl_wire.h.
 */
#ifndef FEDBITS_CLIENTS_DOCOFL_CLIENT_H
#define FEDBITS_CLIENTS_DOCOFL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "codec/docofl_wire.h"

/* What a client keeps between rounds. */
struct docofl_client_state {
    uint32_t anchor_id; /* anchor held, DOCOFL_WIRE_NO_ANCHOR if none */
};

struct docofl_client;

/* State */
/* A client that holds no anchor yet. */
void docofl_client_state_init(struct docofl_client_state *st);

/*
 * The states of the clients that have taken part (every other client holds no anchor).
 * docofl_client_states_reserve() adds client k (holding no anchor) when absent: it may grow
 * the table, so it is called from one thread, before the clients are computed;
 * docofl_client_states_get() then finds k's state without changing the table, so threads
 * may call it at once for different clients and update the states it returns (valid until
 * the next reserve). Clients are ids below 2^32 - 1.
 */
struct docofl_client_states;
struct docofl_client_states *docofl_client_states_new(void);
void docofl_client_states_free(struct docofl_client_states *t);
/* 0, or -ERR_NOMEM (the table is unchanged). */
int docofl_client_states_reserve(struct docofl_client_states *t, uint64_t k)
    __attribute__((warn_unused_result));
/* Client k's state, or NULL when k was never reserved. */
struct docofl_client_state *docofl_client_states_get(const struct docofl_client_states *t,
                                                     uint64_t k);
/* Clients held. */
size_t docofl_client_states_count(const struct docofl_client_states *t);

/* Lifecycle */
/* Returns an owned workspace for models of dim floats (free with docofl_client_free), or
 * NULL if out of memory; p (the run's DoCoFL parameters, seed included) must pass
 * docofl_wire_params_check(). */
struct docofl_client *docofl_client_new(const struct docofl_wire_params *p, size_t dim);
void docofl_client_free(struct docofl_client *c);

/* Reconstruction */
/*
 * Writes ŵ = decode(anchor_msg) + decode(correction_msg) into out_model[0..dim) for the
 * client whose state is st, at round `round`. A message whose anchor id differs from
 * st->anchor_id is a download (the client now holds it: st is updated on success only).
 * -ERR_CORRUPT when either message is malformed, the correction is for another anchor or
 * another round; out_model is then undefined and st unchanged.
 */
int docofl_client_model(struct docofl_client *c, float *out_model, struct docofl_client_state *st,
                        const uint8_t *anchor_msg, size_t anchor_len, const uint8_t *correction_msg,
                        size_t correction_len, uint32_t round, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
