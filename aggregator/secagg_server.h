/*
 * secagg_server: the server half of SecAgg / SecAgg+ for one round.
 *
 * Implements the server of Bonawitz et al. (CCS 2017, §4) over the neighbour graph of
 * aggregator/secagg_graph (complete graph = SecAgg, relabelled Harary graph = SecAgg+, Bell et al.,
 * CCS 2020). Message formats: crypto/secagg_wire.h.
 *
 * Lifecycle: secagg_server_new(params) → for each phase in order (ConsistencyCheck only in
 * the semi-malicious model): secagg_server_message_for() for every live client, then
 * secagg_server_receive() for each reply in any order, then secagg_server_close_phase() when
 * the simulator's deadline passes → secagg_server_result() → secagg_server_free().
 *
 * Survivor sets: U1 = clients whose AdvertiseKeys reply was accepted, U2 = ShareKeys,
 * U3 = MaskedInput (their inputs are in the sum: secagg_server_included()), U4 =
 * ConsistencyCheck, U5 = Unmasking. A reply that is malformed, misrouted (header names
 * another client), fails a check (low-order key, bad signature, wrong entries) or arrives
 * for a client that is not live makes receive() return an error; the client is then
 * treated as dropped in that phase (a duplicate of an accepted reply is only rejected).
 * Clients that have not replied when a phase closes are dropped in that phase.
 * close_phase() returns -ERR_ABORTED when fewer than max(t, p.min_clients) clients remain
 * (min_clients = ⌈(1 - δ) n⌉ is the dropout bound SecAgg+'s (k, t) assume), and the
 * Unmasking close aborts when any needed secret has fewer than t shares or (full mode) a
 * rebuilt s^SK does not match its advertised key. After an abort every call returns
 * -ERR_ABORTED. With signatures (p.threat semi-malicious, or p.authenticate) a tampered
 * message makes the round abort or leaves the exact sum; without them the curious model
 * assumes authenticated channels between clients and server (docs/secure.md), and a
 * message altered in transit can yield a wrong sum.
 *
 * Output: Σ_{u ∈ U3} x_u mod 2^ring_bits. Dropped-before-upload clients (U2 \ U3) have
 * their pairwise masks cancelled from their rebuilt s^SK; U3 clients have their self mask
 * removed from their rebuilt b_u, including those that vanished during Unmasking.
 * Accounting mode follows the same sets and checks and yields the same sum.
 *
 * Sharding (sim/cluster.h): when several processes share a round, each holds the masked
 * inputs of some clients. secagg_server_set_local() names them; the others' MaskedInput
 * replies are recorded with secagg_server_receive_elsewhere(), every other phase runs the
 * same everywhere, and Unmasking removes only the local clients' masks (the self mask of a
 * local client in U3, the pairwise masks a local dropped client left on its neighbours).
 * result() is then this process's share: the shares of all processes add up, modulo
 * 2^ring_bits, to the sum above.
 *
 * Ownership: params are copied; request bytes go to caller buffers; reply bytes are
 * borrowed for the call only. Not thread-safe: one thread drives a server.
 */
#ifndef FEDBITS_AGGREGATOR_SECAGG_SERVER_H
#define FEDBITS_AGGREGATOR_SECAGG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "crypto/secagg_wire.h"

struct secagg_server;

/* Lifecycle */
/* Makes the server of the round described by p (its graph from p.seed, p.round). */
int secagg_server_new(struct secagg_server **out, const struct secagg_params *p, struct errbuf *eb)
    __attribute__((warn_unused_result));
void secagg_server_free(struct secagg_server *s);

/* Protocol */
/*
 * Writes the request of phase for client into out[0..cap), setting *len. out = NULL only
 * computes *len. The phase must be the open one and the client live in it. -ERR_INVALID
 * (phase or client), -ERR_RANGE (short cap), -ERR_ABORTED.
 */
int secagg_server_message_for(struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                              unsigned char *out, size_t cap, size_t *len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Ingests one reply of phase from client (see above for errors and their effect). */
int secagg_server_receive(struct secagg_server *s, enum secagg_phase phase, uint32_t client,
                          const unsigned char *msg, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sharding: local[client] != 0 for the clients whose masked input this process holds
 * (p.n entries, copied). Before MaskedInput opens (ShareKeys closes). A client held
 * elsewhere still needs an input set on its local secagg_client (any vector, e.g. zeros:
 * secagg_client_masked_prepare() checks that one is set but does not read it). */
int secagg_server_set_local(struct secagg_server *s, const uint8_t *local, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Sharding: client's MaskedInput reply was received and summed by the process holding it. */
int secagg_server_receive_elsewhere(struct secagg_server *s, enum secagg_phase phase,
                                    uint32_t client, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Closes phase: silent clients drop. -ERR_ABORTED below threshold (or failed unmasking). */
int secagg_server_close_phase(struct secagg_server *s, enum secagg_phase phase, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Copies the sum over U3 into sum[0..m) (m must equal params.m). Valid after Unmasking
 * closed successfully; -ERR_ABORTED after an abort, -ERR_INVALID before.
 */
int secagg_server_result(const struct secagg_server *s, uint64_t *sum, size_t m, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Accessors */
/* True when client's input is in the sum (client is in U3). */
bool secagg_server_included(const struct secagg_server *s, uint32_t client);
/* Clients in the survivor set after phase (U1 after AdvertiseKeys, ...). */
uint32_t secagg_server_survivors(const struct secagg_server *s, enum secagg_phase phase);
/* The phase in which client dropped, or -1 when it is still live. */
int secagg_server_dropped_phase(const struct secagg_server *s, uint32_t client);
/* True once the round has aborted. */
bool secagg_server_aborted(const struct secagg_server *s);
/* The round's neighbour graph degree (neighbours excluding self). */
uint32_t secagg_server_degree(const struct secagg_server *s);

#endif
