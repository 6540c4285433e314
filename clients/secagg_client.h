/*
 * secagg_client: the client half of SecAgg / SecAgg+ for one client in one round.
 *
 * Implements the client's side of Bonawitz et al. (CCS 2017, §4, rounds 0-4) on the
 * neighbour graph the server announces (complete graph = SecAgg, Harary = SecAgg+, Bell et
 * al., CCS 2020). Message formats: crypto/secagg_wire.h.
 *
 * Lifecycle: secagg_client_new(params, index) → secagg_client_set_input(x) → for each phase
 * secagg_client_step(phase, request bytes → reply bytes) → secagg_client_free(). A step
 * consumes the server's request for that phase and writes the reply into a caller buffer
 * of secagg_client_reply_bytes() bytes. Any error (malformed request, a request that
 * breaks the protocol's rules, an envelope that fails authentication) leaves the client
 * failed: it sends nothing more and the server will treat it as dropped, which is exactly
 * the paper's "abort". The client never reveals both the b-share and the s^SK-share of one
 * peer (-ERR_ABORTED, also across repeated Unmasking requests). It derives its own graph
 * neighbourhood from the round's public parameters (secagg_wire_neighbours()) and refuses
 * a ShareKeys request naming anyone outside it or repeating a public key.
 *
 * Key material: (c_u, s_u) key pairs, the self-mask seed b_u and the Shamir coefficient
 * stream derive through crypto/kdf from a master taken from (params.seed,
 * RNG_PURPOSE_SECAGG, round, index) (or from randombytes with params.random_keys) and
 * bound to params.session; the long-term Ed25519 key, bound to the client's id, from
 * secagg_wire_sign_keypair(). With params.authenticate, secagg_client_step() checks the
 * request's signature and signs the reply; the split masked-input calls below do neither
 * (callers that split must not set authenticate). In accounting mode no key is made,
 * nothing is encrypted or masked, and every message keeps its exact size (zero bytes in
 * place of keys, envelopes, shares and signatures; the masked input is x itself).
 *
 * Ownership: params are copied; x is borrowed from set_input until the MaskedInput step
 * returns. Secrets are wiped on free. The masked-input step may be split over threads:
 * secagg_client_masked_prepare() once, then secagg_client_masked_slice() concurrently on
 * disjoint slices (start and length multiples of SECAGG_CLIENT_SLICE_ALIGN, except the
 * slice that ends at m), then secagg_client_masked_finish(); the bytes are identical for
 * any split (block-indexed PRG). Otherwise one client must not be used by two threads.
 */
#ifndef FEDBITS_CLIENTS_SECAGG_CLIENT_H
#define FEDBITS_CLIENTS_SECAGG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "crypto/secagg_wire.h"

#define SECAGG_CLIENT_SLICE_ALIGN 8    /* slices start on a byte boundary of the payload */
#define SECAGG_CLIENT_CHUNK       8192 /* coordinates masked per PRG call (stack buffer) */

struct secagg_client;

/* Lifecycle */
/* Makes client `index` (< n) of the round described by p. -ERR_INVALID, -ERR_NOMEM. */
int secagg_client_new(struct secagg_client **out, const struct secagg_params *p, uint32_t index,
                      struct errbuf *eb) __attribute__((warn_unused_result));
void secagg_client_free(struct secagg_client *c);

/*
 * Borrows the input x[0..m): ring elements < 2^ring_bits (and < 2^value_bits when set).
 * -ERR_RANGE naming the first bad coordinate.
 */
int secagg_client_set_input(struct secagg_client *c, const uint64_t *x, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * Testing hook for known-answer runs (tests/unit/secagg): replaces the mask secret key s_u^SK
 * and the self-mask seed b_u the client would derive. Call before the AdvertiseKeys step.
 */
int secagg_client_set_secrets(struct secagg_client *c, const unsigned char mask_sk[32],
                              const unsigned char self_seed[32], struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Protocol */
/*
 * Consumes the server's request of phase (req[0..req_len)) and writes the reply into
 * out[0..cap), setting *out_len. Phases must come in order (ConsistencyCheck only in the
 * semi-malicious model); Unmasking may be repeated. -ERR_CORRUPT for a malformed or
 * unauthentic request, -ERR_ABORTED for a request that breaks the rules (too few
 * neighbours, inconsistent sets, both shares of one peer), -ERR_RANGE for a short out,
 * -ERR_INVALID for a phase out of order; the client is failed after any error.
 */
int secagg_client_step(struct secagg_client *c, enum secagg_phase phase, const unsigned char *req,
                       size_t req_len, unsigned char *out, size_t cap, size_t *out_len,
                       struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * Upper bound on the reply to the request of phase (exact except Unmasking, where it
 * assumes every neighbour is asked for): callers size `out` with it.
 */
size_t secagg_client_reply_bytes(const struct secagg_client *c, enum secagg_phase phase);

/* The masked-input step in three parts, for threads (see above). */
/* Parses the MaskedInput request, opens envelopes, derives mask keys, writes the header. */
int secagg_client_masked_prepare(struct secagg_client *c, const unsigned char *req, size_t req_len,
                                 unsigned char *out, size_t cap, size_t *out_len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Writes masked coordinates [start, start + n) into the reply out (thread-safe, disjoint). */
int secagg_client_masked_slice(const struct secagg_client *c, unsigned char *out, size_t start,
                               size_t n, struct errbuf *eb) __attribute__((warn_unused_result));
/* Ends the step (wipes the mask keys). */
void secagg_client_masked_finish(struct secagg_client *c);

/* Accessors */
uint32_t secagg_client_index(const struct secagg_client *c);
/* True once an error has failed the client. */
bool secagg_client_failed(const struct secagg_client *c);

#endif
