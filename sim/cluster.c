/* cluster: MPI ranks or one process. See cluster.h. */
#include "sim/cluster.h"

#include <stdlib.h>
#include <time.h>

#include "aggregator/exact_sum.h"
#include "base/mem.h"
#include "fedbits_config.h"
#if FEDBITS_HAVE_MPI
#include <mpi.h>
#endif
#include "base/banned.h"

/* Collectives move at most this many elements per call (MPI counts are int). */
#define CLUSTER_CHUNK ((size_t)1 << 26)
/* cluster_end(): how long the ranks wait for each other before ending them all. */
#define CLUSTER_END_WAIT_S 20.0

struct cluster {
    unsigned rank, size, local_size;
    bool mpi; /* MPI_Init was called */
    uint64_t bytes;
#if FEDBITS_HAVE_MPI
    MPI_Datatype i128;
    MPI_Op i128_sum;
#endif
};

bool
cluster_has_mpi(void)
{
    return FEDBITS_HAVE_MPI != 0;
}

#if FEDBITS_HAVE_MPI
/* Started by mpirun (or another PMI launcher)? A plain `fedbits run` never touches MPI. */
static bool
cluster_launched(void)
{
    const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]) != NULL)
            return true;
    return false;
}

static void
cluster_i128_sum_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    exact_sum_words_add(inout, in, (size_t)*len);
}

static int
cluster_mpi_error(struct errbuf *eb, int mrc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(mrc, msg, &n) != MPI_SUCCESS)
        n = 0;
    msg[n] = '\0';
    return errbuf_set(eb, -ERR_IO, "MPI %s: %s", what, msg);
}
#endif

int
cluster_init(struct cluster **out, int *argc, char ***argv, struct errbuf *eb)
{
    struct cluster *c = mem_calloc(1, sizeof *c);
    if (c == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    c->size = c->local_size = 1;
    *out = c;
#if FEDBITS_HAVE_MPI
    if (!cluster_launched())
        return 0;
    int provided = 0;
    int mrc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (mrc != MPI_SUCCESS)
        return errbuf_set(eb, -ERR_IO, "MPI_Init_thread failed (code %d)", mrc);
    c->mpi = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int r = 0, s = 1, ls = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, r, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &ls);
        MPI_Comm_free(&node);
    }
    c->rank = (unsigned)r;
    c->size = (unsigned)s;
    c->local_size = ls > 0 ? (unsigned)ls : 1;
    mrc = MPI_Type_contiguous(2, MPI_UINT64_T, &c->i128);
    if (mrc == MPI_SUCCESS)
        mrc = MPI_Type_commit(&c->i128);
    if (mrc == MPI_SUCCESS)
        mrc = MPI_Op_create(cluster_i128_sum_op, 1, &c->i128_sum);
    if (mrc != MPI_SUCCESS)
        return cluster_mpi_error(eb, mrc, "setup");
#else
    (void)argc;
    (void)argv;
#endif
    return 0;
}

void
cluster_finalize(struct cluster *c)
{
    if (c == NULL)
        return;
#if FEDBITS_HAVE_MPI
    if (c->mpi) {
        MPI_Op_free(&c->i128_sum);
        MPI_Type_free(&c->i128);
        MPI_Finalize();
    }
#endif
    mem_free(c);
}

int
cluster_end(struct cluster *c, int status)
{
#if FEDBITS_HAVE_MPI
    if (c != NULL && c->mpi && c->size > 1) {
        MPI_Request req;
        int done = 0;
        if (MPI_Ibarrier(MPI_COMM_WORLD, &req) == MPI_SUCCESS) {
            double until = MPI_Wtime() + CLUSTER_END_WAIT_S;
            struct timespec nap = { .tv_sec = 0, .tv_nsec = 1000000 };
            while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done &&
                   MPI_Wtime() < until)
                nanosleep(&nap, NULL);
        }
        if (!done)
            return cluster_abort(c, status != 0 ? status : EXIT_FAILURE);
    }
#endif
    cluster_finalize(c);
    return status;
}

int
cluster_abort(struct cluster *c, int code)
{
#if FEDBITS_HAVE_MPI
    if (c != NULL && c->mpi && c->size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
#endif
    mem_free(c);
    return code;
}

unsigned
cluster_rank(const struct cluster *c)
{
    return c != NULL ? c->rank : 0;
}

unsigned
cluster_size(const struct cluster *c)
{
    return c != NULL ? c->size : 1;
}

unsigned
cluster_local_size(const struct cluster *c)
{
    return c != NULL ? c->local_size : 1;
}

unsigned
cluster_owner(const struct cluster *c, uint64_t client)
{
    return c != NULL && c->size > 1 ? (unsigned)(client % c->size) : 0;
}

uint64_t
cluster_bytes(const struct cluster *c)
{
    return c != NULL ? c->bytes : 0;
}

#if FEDBITS_HAVE_MPI
/* In-place MPI_Allreduce of n elements of elem bytes, in chunks whose counts fit an int. */
static int
cluster_allreduce(void *buf, size_t n, size_t elem, MPI_Datatype type, MPI_Op op, const char *what,
                  struct errbuf *eb)
{
    unsigned char *p = buf;
    for (size_t at = 0; at < n; at += CLUSTER_CHUNK) {
        size_t k = n - at < CLUSTER_CHUNK ? n - at : CLUSTER_CHUNK;
        int mrc = MPI_Allreduce(MPI_IN_PLACE, p + at * elem, (int)k, type, op, MPI_COMM_WORLD);
        if (mrc != MPI_SUCCESS)
            return cluster_mpi_error(eb, mrc, what);
    }
    return 0;
}
#endif

int
cluster_sum_u64(struct cluster *c, uint64_t *buf, size_t n, struct errbuf *eb)
{
    if (c == NULL || c->size <= 1)
        return 0;
    c->bytes += n * sizeof *buf;
#if FEDBITS_HAVE_MPI
    return cluster_allreduce(buf, n, sizeof *buf, MPI_UINT64_T, MPI_SUM, "sum", eb);
#else
    return 0;
#endif
}

int
cluster_sum_i128(struct cluster *c, uint64_t *words, size_t n, struct errbuf *eb)
{
    if (c == NULL || c->size <= 1)
        return 0;
    c->bytes += 2 * n * sizeof *words;
#if FEDBITS_HAVE_MPI
    return cluster_allreduce(words, n, 2 * sizeof *words, c->i128, c->i128_sum, "exact sum", eb);
#else
    return 0;
#endif
}

int
cluster_max_f64(struct cluster *c, double *buf, size_t n, struct errbuf *eb)
{
    if (c == NULL || c->size <= 1)
        return 0;
    c->bytes += n * sizeof *buf;
#if FEDBITS_HAVE_MPI
    return cluster_allreduce(buf, n, sizeof *buf, MPI_DOUBLE, MPI_MAX, "max", eb);
#else
    return 0;
#endif
}

int
cluster_or_bytes(struct cluster *c, void *buf, size_t n, struct errbuf *eb)
{
    if (c == NULL || c->size <= 1)
        return 0;
#if FEDBITS_HAVE_MPI
    return cluster_allreduce(buf, n, 1, MPI_BYTE, MPI_BOR, "merge", eb);
#else
    (void)buf;
    (void)n;
    (void)eb;
    return 0;
#endif
}
