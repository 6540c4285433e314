/*
 * resume: what makes continuing a run safe: its owner, its inputs, its BLAS kernel.
 *
 * Every run records the process that owns it (pid, host, and the process's start time, so
 * that a reused pid is not mistaken for it), a fingerprint of each input file (size, mtime
 * and BLAKE2b-256 of its bytes) and the BLAS kernel, whose choice decides the last bits of
 * every product (clients/dense_backend.h). resume_record() writes them when a run starts;
 * resume_claim() is what `fedbits resume` does before it changes anything: it refuses a run
 * whose owner is still alive, input files that are missing or changed (a relative path
 * resumed from another directory, a data file edited in between), and another kernel, then
 * takes the run over in the same transaction. Runs recorded before schema version 2 have
 * no owner or inputs and are not checked.
 *
 * The inputs fingerprint is text, one line per input file (docs/results.md):
 *   KEY \t SIZE \t BLAKE2B-256-HEX \t MTIME-SECONDS \t PATH \n
 * Files are compared by key, size and hash; the mtime is kept for the reader.
 */
#ifndef FEDBITS_SIM_RESUME_H
#define FEDBITS_SIM_RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "sim/scenario.h"
#include "sim/store.h"

/* The calling process as a run owner. */
void resume_owner_self(struct store_owner *o);
/* Whether the process o names is running on this host (always false for another host). */
bool resume_owner_alive(const struct store_owner *o);

/*
 * The fingerprint of the scenario's input files into *out (owned, mem_free; "" without
 * file inputs). -ERR_NOTFOUND or -ERR_IO naming the key and path of a file it cannot read.
 */
int resume_inputs(const struct scenario *s, char **out, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Records this process as run_id's owner, with its inputs and BLAS kernel. */
int resume_record(struct store *st, int64_t run_id, const struct scenario *s, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * Refuses to continue run_id while its owner lives (-ERR_INVALID), when an input file is
 * missing or differs (-ERR_NOTFOUND / -ERR_INVALID naming it) or the BLAS kernel differs
 * (-ERR_INVALID); otherwise makes this process the owner. Nothing else is changed.
 */
int resume_claim(struct store *st, int64_t run_id, const struct scenario *s, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
