/*
 * secagg_graph: the neighbour graph of the secure-aggregation engine and the SecAgg+
 * parameter rule.
 *
 * The engine masks and shares secrets only along the edges of a graph: the complete graph
 * gives SecAgg (Bonawitz et al., CCS 2017), a Harary graph H(k, n) whose nodes are renamed
 * by a uniformly random permutation gives SecAgg+ (Bell et al., CCS 2020): on the ring of positions
 * each node is joined to its k/2 predecessors and k/2 successors, and client u sits at position
 * perm^-1(u). The permutation is drawn from the stream (seed, RNG_PURPOSE_SECAGG, round, RNG_ANY),
 * so a fresh graph per round, identical for the same seed.
 *
 * secagg_graph_harary_params() is the rule of Google's FCP graph parameter finder for
 * SecAgg+ (Bell et al., CCS 2020; statistical security 40, correctness 20): the smallest even k
 * whose relabelled Harary graph stays connected among honest survivors and admits a threshold t
 * between the adversarial-neighbour and surviving-neighbour quantiles. It reproduces FCP's table
 * (degree equal, threshold not above the listed one; tests/unit/aggregator).
 *
 * Lifecycle: secagg_graph_new() → query → secagg_graph_free(). The graph owns its
 * adjacency (n * degree indices, each list sorted ascending, self excluded); returned
 * lists are valid until free. Read-only after creation: thread-safe to query.
 */
#ifndef FEDBITS_AGGREGATOR_SECAGG_GRAPH_H
#define FEDBITS_AGGREGATOR_SECAGG_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "crypto/secagg_wire.h"

struct secagg_graph;

/* Lifecycle */
/*
 * Makes the graph of kind on n clients: degree must be n - 1 for the complete graph and
 * even, >= 2 and < n - 1 for Harary. -ERR_INVALID, -ERR_NOMEM.
 */
int secagg_graph_new(struct secagg_graph **out, enum secagg_graph_kind kind, uint32_t n,
                     uint32_t degree, uint64_t seed, uint64_t round, struct errbuf *eb)
    __attribute__((warn_unused_result));
void secagg_graph_free(struct secagg_graph *g);

/* Queries */
uint32_t secagg_graph_n(const struct secagg_graph *g);
uint32_t secagg_graph_degree(const struct secagg_graph *g);
/* The degree neighbours of u, ascending, self excluded. */
const uint32_t *secagg_graph_neighbors(const struct secagg_graph *g, uint32_t u);
/* Position of v in u's neighbour list, or -1 when v is not a neighbour (or v == u). */
long secagg_graph_slot(const struct secagg_graph *g, uint32_t u, uint32_t v);
bool secagg_graph_adjacent(const struct secagg_graph *g, uint32_t u, uint32_t v);
/* The client at ring position (mod n); the identity for the complete graph. */
uint32_t secagg_graph_at(const struct secagg_graph *g, uint32_t position);

/* SecAgg+ parameters */
/*
 * Sets *degree (neighbours excluding self) and *t for n clients, adversarial client rate
 * gamma and dropout rate delta under threat. When no Harary degree below n - 1 qualifies
 * (small n), sets *degree = n - 1 (complete graph) and *t = 0 with return value 1: the
 * caller then picks the SecAgg threshold (Bonawitz et al., CCS 2017, §4). -ERR_INVALID for n = 0 or
 * above 10^6, rates outside [0, 1), gamma + delta > 0.9 (curious) or gamma + 2 delta > 0.9
 * (semi-malicious).
 */
int secagg_graph_harary_params(uint32_t *degree, uint32_t *t, uint32_t n, double gamma,
                               double delta, enum secagg_threat threat, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * ⌈(1 - δ) n⌉, the fewest live clients with which a round designed for dropout rate
 * delta may proceed (struct secagg_params.min_clients).
 */
uint32_t secagg_graph_min_clients(uint32_t n, double delta);
/*
 * The least threshold the complete graph needs for n clients with a fraction gamma
 * corrupt (Bonawitz et al., CCS 2017, §6-7; FCP's full-graph parameter check): t > γn
 * against a curious server, 2t > n + γn against a semi-malicious one.
 */
uint32_t secagg_graph_complete_min_t(uint32_t n, double gamma, enum secagg_threat threat);
/*
 * Checks a threshold t chosen by hand for a round of n clients: for SecAgg+ (harary)
 * against the (k, t) of secagg_graph_harary_params() (t not below the rule's t, which
 * bounds the adversarial neighbours, nor above k + 1), for the complete graph (or a
 * SecAgg+ cohort too small for a Harary graph) against secagg_graph_complete_min_t() and
 * n. -ERR_RANGE with a message naming the bound; the rule's own errors for infeasible rates.
 */
int secagg_graph_check_threshold(uint32_t t, uint32_t n, bool harary, double gamma, double delta,
                                 enum secagg_threat threat, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
