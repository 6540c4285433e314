/*
 * cluster: the processes of one fedbits invocation: a single process, or the ranks of an
 * Open MPI job (`mpirun -np 4 fedbits run ...`, meson option -Dmpi).
 *
 * Every rank loads the same scenario and data and runs the same discrete-event loop (it
 * depends on message sizes and the population model, never on the values trained), so
 * every rank knows the schedule; a started client's work (download, training, encoding,
 * masking, decoding for aggregation) is done only by the rank it is dealt to: in turn, or
 * cluster_owner() for clients that keep state between rounds. What ranks exchange are
 * reductions:
 *  - per batch of clients started together: their message sizes, training loss and status
 *    (24 bytes per client, cluster_sum_u64);
 *  - per round: the aggregate, as exact 128-bit fixed-point sums of the model's size
 *    (cluster_sum_i128; aggregator/exact_sum.h) or as masked ring sums (cluster_sum_u64:
 *    wrap-around addition is the ring's), so the result is the same bits for any number of
 *    ranks and threads.
 * Rank 0 alone evaluates the model and writes the results database.
 *
 * Without MPI support, or when the program was not started by mpirun (no Open MPI or PMIx
 * environment), the cluster is one process and every collective is a no-op. cluster_bytes()
 * counts the payload bytes this rank has put into collectives, for the per-round traffic
 * figure. Ownership: main() creates the one struct cluster and finalizes it; the run
 * borrows it. Collectives must be called by every rank in the same order.
 */
#ifndef FEDBITS_SIM_CLUSTER_H
#define FEDBITS_SIM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

struct cluster;

/* Starts MPI when built with it and launched by mpirun; a one-process cluster otherwise. */
int cluster_init(struct cluster **out, int *argc, char ***argv, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Finalizes MPI (when started) and frees c. */
void cluster_finalize(struct cluster *c);
/*
 * Ends the invocation with exit status `status` (returned): waits for every rank to get here,
 * so that rank 0 has written its results whichever rank failed first, then finalizes. Ranks
 * that do not arrive in time (one waits in a collective another left) are ended together
 * with MPI_Abort. Frees c.
 */
int cluster_end(struct cluster *c, int status);
/*
 * Ends every rank at once after an error on one of them: with several MPI ranks MPI_Abort
 * ends them all with exit status code; otherwise frees c and returns code, the exit status
 * for the caller (the command layer) to end with.
 */
int cluster_abort(struct cluster *c, int code);

unsigned cluster_rank(const struct cluster *c);
unsigned cluster_size(const struct cluster *c);
/* Ranks on this host (to share its cores among them). */
unsigned cluster_local_size(const struct cluster *c);
/* The rank that keeps client k's state between rounds (k mod ranks). */
unsigned cluster_owner(const struct cluster *c, uint64_t client);
/* True with MPI support compiled in. */
bool cluster_has_mpi(void);

/* In-place sum over ranks of n 64-bit words, modulo 2^64. */
int cluster_sum_u64(struct cluster *c, uint64_t *buf, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* In-place sum over ranks of n 128-bit integers held as word pairs (exact_sum_words()). */
int cluster_sum_i128(struct cluster *c, uint64_t *words, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* In-place maximum over ranks of n doubles. */
int cluster_max_f64(struct cluster *c, double *buf, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * In-place bitwise OR over ranks of n bytes: merges pieces that each rank filled where the
 * others left zeros (the held-out rows each rank made at start-up). A one-off exchange at
 * start-up, not counted in cluster_bytes() (the per-round traffic).
 */
int cluster_or_bytes(struct cluster *c, void *buf, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Payload bytes this rank has contributed to collectives so far. */
uint64_t cluster_bytes(const struct cluster *c);

#endif
