/* dense_backend: BLAS threads, work buffers and kernel name. See dense_backend.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE (Linux mmap(2)) */
#include "clients/dense_backend.h"

#include <cblas.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/mem.h"
#include "base/banned.h"

/*
 * The work buffer OpenBLAS maps per calling thread: BUFFER_SIZE of its x86-64 build
 * (128 MiB), plus the page it aligns to, rounded up.
 */
#define DENSE_BACKEND_BUFFER_BYTES ((size_t)129 << 20)
/* The side of the square warm-up product. */
#define DENSE_BACKEND_WARMUP_SIDE 128

bool
dense_backend_env_ready(void)
{
    const char *v = getenv(DENSE_BACKEND_THREADS_ENV);
    return v != NULL && strcmp(v, "1") == 0;
}

void
dense_backend_init(void)
{
    openblas_set_num_threads(1);
}

int
dense_backend_reserve(unsigned threads, struct errbuf *eb)
{
    size_t n = threads > 0 ? threads : 1;
    size_t bytes = n * DENSE_BACKEND_BUFFER_BYTES;
    void *probe = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe == MAP_FAILED) {
        int e = errno;
        return errbuf_set(eb, -ERR_NOMEM,
                          "out of memory: the BLAS library needs %zu MiB of address space for "
                          "%zu training thread%s (%s; raise the limit, e.g. ulimit -v, or use "
                          "fewer --threads)",
                          bytes >> 20, n, n == 1 ? "" : "s", strerror(e));
    }
    munmap(probe, bytes);
    /*
     * A product large enough to take the buffered path (OpenBLAS computes tiny ones without
     * its buffer): OpenBLAS maps this thread's buffer now and keeps it for later calls.
     */
    enum { SIDE = DENSE_BACKEND_WARMUP_SIDE };
    float *m = mem_calloc(3 * SIDE * SIDE, sizeof *m);
    if (m == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory preparing the BLAS library");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, SIDE, SIDE, SIDE, 1.0f, m, SIDE,
                m + SIDE * SIDE, SIDE, 0.0f, m + 2 * SIDE * SIDE, SIDE);
    mem_free(m);
    return 0;
}

const char *
dense_backend_kernel(void)
{
    const char *name = openblas_get_corename();
    return name != NULL ? name : "unknown";
}
