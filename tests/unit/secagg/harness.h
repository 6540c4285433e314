/*
 * harness: drives one server and n clients through a round, phase by phase, as the
 * simulator would: requests out, replies in, a hook that may observe or alter every reply
 * before the server sees it, and a per-client phase at which the client stops answering.
 */
#ifndef FEDBITS_TESTS_UNIT_SECAGG_HARNESS_H
#define FEDBITS_TESTS_UNIT_SECAGG_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator/secagg_server.h"
#include "clients/secagg_client.h"

#define HARNESS_NO_DROP (-1)
#define HARNESS_MAX_N   128 /* clients whose outcome struct harness_out records */

/* Called on every request (is_reply = 0, before the client) and reply (1, before the server). */
typedef void harness_hook_fn(void *ctx, int is_reply, enum secagg_phase phase, uint32_t client,
                             unsigned char *msg, size_t *len);

struct harness_out {
    int rc;                           /* 0 or the error that ended the round (-ERR_ABORTED) */
    uint8_t included[HARNESS_MAX_N];  /* secagg_server_included */
    int dropped_phase[HARNESS_MAX_N]; /* secagg_server_dropped_phase */
    size_t bytes[HARNESS_MAX_N][SECAGG_PHASES][2]; /* [client][phase][0 request, 1 reply] */
    unsigned client_errors;                        /* client steps that failed */
    unsigned server_rejects;                       /* replies the server rejected */
};

/* Optional known-answer secrets per client (NULL for derived ones). */
struct harness_secrets {
    const unsigned char (*mask_sk)[32];
    const unsigned char (*self_seed)[32];
};

/*
 * Runs the round of p with inputs x (n rows of m), drop[u] = phase at which client u stops
 * answering (HARNESS_NO_DROP for never; NULL for nobody). Writes the sum to sum (m) when
 * the round completes. Returns out->rc.
 */
int harness_run(const struct secagg_params *p, const uint64_t *x, const int *drop,
                harness_hook_fn *hook, void *ctx, const struct harness_secrets *secrets,
                uint64_t *sum, struct harness_out *out);

/* Σ x_u mod 2^k over the clients with included[u]. */
void harness_plain_sum(uint64_t *sum, const struct secagg_params *p, const uint64_t *x,
                       const uint8_t *included);

/*
 * The registration for signed rounds: when p signs anything, fills a new table of the
 * clients' verification keys and p->server_pk, points p->pki at it and returns it (free()
 * it after the round); NULL otherwise.
 */
void *harness_register(struct secagg_params *p);

/* A small complete-graph parameter set. */
struct secagg_params harness_params(uint32_t n, uint32_t t, unsigned k, size_t m);

#endif
