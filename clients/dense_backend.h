/*
 * dense_backend: the process-wide setup of the BLAS library the models run on (OpenBLAS).
 *
 * Clients train on one thread each (OpenMP across clients, sim/run.h), so the BLAS library
 * itself must stay on its calling thread: dense_backend_init() makes it single-threaded; call
 * it once at start-up, before the first BLAS call. Results do not change (with one BLAS thread
 * every product is a pure function of its inputs, clients/model.h). OpenBLAS starts its worker
 * threads when it is loaded, before main(), and a worker that cannot map its buffer under a
 * memory limit spins forever (and so does the exit that waits for it); only the environment
 * variable DENSE_BACKEND_THREADS_ENV set to "1" before the library loads prevents them, so the
 * program restarts itself with it when dense_backend_env_ready() says it is not set.
 *
 * OpenBLAS maps one large work buffer per calling thread on its first matrix product and,
 * when that mapping fails, retries it forever: under a memory limit (ulimit -v) a run would
 * spin instead of failing. dense_backend_reserve() checks that the buffers for `threads`
 * callers fit, then makes the calling thread take its buffer with a tiny product (kept by
 * OpenBLAS for every later call), so a memory limit ends a run with -ERR_NOMEM and a message
 * before training starts. Neither function allocates through base/mem; both are cheap to
 * repeat. Not thread-safe: call from the main thread outside parallel regions.
 */
#ifndef FEDBITS_CLIENTS_DENSE_BACKEND_H
#define FEDBITS_CLIENTS_DENSE_BACKEND_H

#include <stdbool.h>

#include "base/errbuf.h"

/* The variable OpenBLAS reads when it loads (its worker-thread count). */
#define DENSE_BACKEND_THREADS_ENV "OPENBLAS_NUM_THREADS"

/* Whether the BLAS library was loaded single-threaded (DENSE_BACKEND_THREADS_ENV is "1"). */
bool dense_backend_env_ready(void);

/* Makes the BLAS library single-threaded from here on. */
void dense_backend_init(void);

/*
 * Checks that the BLAS work buffers of `threads` calling threads (at least one) fit in the
 * address space and takes the calling thread's; -ERR_NOMEM with a message when they do not.
 */
int dense_backend_reserve(unsigned threads, struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * The kernel the BLAS library selected for this CPU ("Haswell"; OPENBLAS_CORETYPE overrides
 * it), which decides the last bits of every product. Static storage; never NULL.
 */
const char *dense_backend_kernel(void);

#endif
