/*
 * bench_secagg: `fedbits bench secagg`. For each cohort size n it runs one complete
 * round of the engine (SecAgg+ with (k, t) from the rule of Bell et al., CCS 2020,
 * aggregator/secagg_graph.h, at 5 % corruption and 5 % dropouts; also classic SecAgg on the
 * complete graph for n <= 100) with 5 % of the clients dropping before their masked input (so the
 * server rebuilds their pairwise masks), in full and accounting mode, and prints client and server
 * seconds per round and bytes per client. Clients of one phase run in parallel (OpenMP when built
 * with it); the server runs on one thread. It also measures mask generation (prg_add_u64) against
 * libsodium's raw ChaCha20-IETF keystream on the same byte count in the same run.
 */
#include "cmd/bench_secagg.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/secagg_graph.h"
#include "aggregator/secagg_server.h"
#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "clients/secagg_client.h"
#include "cmd/args.h"
#include "cmd/table.h"
#include "crypto/prg.h"
#include "crypto/ring.h"
#include "fedbits_config.h"
#include "sim/wallclock.h"
#if FEDBITS_HAVE_OPENMP
#include <omp.h>
#endif
#include "base/banned.h"

#define BENCH_SECAGG_MAX_ROWS 16

struct bench_secagg_opts {
    uint32_t clients[BENCH_SECAGG_MAX_ROWS];
    size_t n_clients;
    size_t dim;
    bool full, accounting;
    enum table_format format;
    double drop_rate;
    unsigned value_bits;
    uint64_t seed;
};

struct bench_secagg_row {
    const char *graph;
    uint32_t n, degree, t;
    unsigned ring_bits;
    const char *mode;
    double client_s;   /* mean seconds of one client's work in the round */
    double server_s;   /* seconds of server work in the round */
    double wall_s;     /* wall seconds of the whole round */
    double up_bytes;   /* mean bytes a surviving client sends */
    double down_bytes; /* mean bytes it receives */
    uint32_t included;
    int rc;
};

static void
bench_secagg_usage(FILE *f)
{
    fprintf(f,
            "usage: fedbits bench secagg [--clients N]... [--dim D] [--mode full|accounting]\n"
            "         [--format table|csv|json|markdown] [--drop F] [--value-bits B] [--seed S]\n"
            "Defaults: --clients 100 --clients 1000 --dim 100000, both modes, 5%% of the\n"
            "clients dropping before their masked input, 16-bit inputs.\n");
}

static int
bench_secagg_parse(struct bench_secagg_opts *o, int argc, char **argv)
{
    enum { OPT_CLIENTS = 256, OPT_DIM, OPT_MODE, OPT_FORMAT, OPT_DROP, OPT_VALUE_BITS, OPT_SEED };
    static const struct option opts[] = {
        { "clients", required_argument, NULL, OPT_CLIENTS },
        { "dim", required_argument, NULL, OPT_DIM },
        { "mode", required_argument, NULL, OPT_MODE },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "drop", required_argument, NULL, OPT_DROP },
        { "value-bits", required_argument, NULL, OPT_VALUE_BITS },
        { "seed", required_argument, NULL, OPT_SEED },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct bench_secagg_opts){ .dim = 100000,
                                     .full = true,
                                     .accounting = true,
                                     .drop_rate = 0.05,
                                     .value_bits = 16,
                                     .seed = 1 };
    struct args a = args_start("bench secagg", argc, argv);
    for (;;) {
        int c = args_next(&a, "h", opts);
        if (c == -1)
            break;
        const char *v = optarg;
        uint64_t x;
        switch (c) {
        case 'h':
            bench_secagg_usage(stdout);
            return 1;
        case OPT_CLIENTS:
            if (o->n_clients == BENCH_SECAGG_MAX_ROWS) {
                args_error(a.cmd, "too many --clients values");
                return -1;
            }
            if (args_uint(a.cmd, "--clients", v, 3, SECAGG_WIRE_CLIENTS_MAX, &x) < 0)
                return -1;
            o->clients[o->n_clients++] = (uint32_t)x;
            break;
        case OPT_DIM:
            if (args_uint(a.cmd, "--dim", v, 1, UINT64_C(1) << 30, &x) < 0)
                return -1;
            o->dim = (size_t)x;
            break;
        case OPT_MODE:
            o->full = strcmp(v, "full") == 0;
            o->accounting = strcmp(v, "accounting") == 0;
            if (!o->full && !o->accounting) {
                args_error(a.cmd, "unknown --mode '%s' (full, accounting)", v);
                return -1;
            }
            break;
        case OPT_FORMAT:
            if (table_parse_format(v, true, &o->format) < 0) {
                args_error(a.cmd, "unknown --format '%s' (table, csv, json, markdown)", v);
                return -1;
            }
            break;
        case OPT_DROP:
            if (args_number(a.cmd, "--drop", v, &o->drop_rate) < 0)
                return -1;
            if (!(o->drop_rate >= 0) || o->drop_rate >= 0.5) {
                args_error(a.cmd, "--drop '%s' must be a fraction in [0, 0.5)", v);
                return -1;
            }
            break;
        case OPT_VALUE_BITS:
            if (args_uint(a.cmd, "--value-bits", v, 1, 32, &x) < 0)
                return -1;
            o->value_bits = (unsigned)x;
            break;
        case OPT_SEED:
            if (args_uint(a.cmd, "--seed", v, 0, UINT64_MAX, &o->seed) < 0)
                return -1;
            break;
        default:
            return -1;
        }
    }
    if (args_operand(&a, NULL, NULL) != 0)
        return -1;
    if (o->n_clients == 0) {
        o->clients[o->n_clients++] = 100;
        o->clients[o->n_clients++] = 1000;
    }
    return 0;
}

static double
bench_secagg_seconds(int64_t ns)
{
    return (double)ns * 1e-9;
}

/* The server's requests of phase ph to every client still in (NULL for the others). */
static int
bench_secagg_requests(struct secagg_server *s, enum secagg_phase ph, uint32_t n,
                      unsigned char **req, size_t *req_len, double *down, struct errbuf *eb)
{
    int rc = 0;
    for (uint32_t u = 0; rc == 0 && u < n; u++) {
        size_t len = 0;
        req[u] = NULL;
        if (secagg_server_dropped_phase(s, u) >= 0 ||
            secagg_server_message_for(s, ph, u, NULL, 0, &len, NULL) < 0)
            continue;
        req[u] = mem_alloc(len);
        if (req[u] == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory");
        rc = secagg_server_message_for(s, ph, u, req[u], len, &req_len[u], eb);
        down[u] += (double)req_len[u];
    }
    return rc;
}

/* One round; fills the timing and byte fields of row. */
static int
bench_secagg_round(struct bench_secagg_row *row, const struct secagg_params *p, const uint64_t *x,
                   const uint8_t *drops, struct errbuf *eb)
{
    const uint32_t n = p->n;
    struct secagg_server *s = NULL;
    struct secagg_client **c = mem_calloc(n, sizeof *c);
    unsigned char **req = mem_calloc(n, sizeof *req);
    size_t *req_len = mem_calloc(n, sizeof *req_len);
    double *up = mem_calloc(n, sizeof *up), *down = mem_calloc(n, sizeof *down);
    int64_t client_ns = 0, server_ns = 0, t_round = wallclock_ns();
    int rc = 0;
    if (c == NULL || req == NULL || req_len == NULL || up == NULL || down == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory");
        goto out;
    }
    int64_t t0 = wallclock_ns();
    rc = secagg_server_new(&s, p, eb);
    server_ns += wallclock_ns() - t0;
    for (uint32_t u = 0; rc == 0 && u < n; u++) {
        t0 = wallclock_ns();
        rc = secagg_client_new(&c[u], p, u, eb);
        if (rc == 0)
            rc = secagg_client_set_input(c[u], x, eb);
        client_ns += wallclock_ns() - t0;
    }
    static const enum secagg_phase phases[] = { SECAGG_PHASE_ADVERTISE_KEYS,
                                                SECAGG_PHASE_SHARE_KEYS, SECAGG_PHASE_MASKED_INPUT,
                                                SECAGG_PHASE_UNMASKING };
    for (size_t i = 0; rc == 0 && i < sizeof phases / sizeof *phases; i++) {
        enum secagg_phase ph = phases[i];
        /* Requests first (server, one thread). */
        t0 = wallclock_ns();
        rc = bench_secagg_requests(s, ph, n, req, req_len, down, eb);
        server_ns += wallclock_ns() - t0;
        if (rc < 0)
            break;
        /* Clients in parallel; the server ingests each reply under a lock. */
        int64_t cns = 0, sns = 0;
        int first_rc = 0;
#if FEDBITS_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : cns, sns)
#endif
        for (long lu = 0; lu < (long)n; lu++) {
            uint32_t u = (uint32_t)lu;
            if (req[u] == NULL || (drops[u] && ph == SECAGG_PHASE_MASKED_INPUT))
                continue;
            size_t cap = secagg_client_reply_bytes(c[u], ph), olen = 0;
            unsigned char *rep = mem_alloc(cap);
            if (rep == NULL)
                continue; /* counted as a dropout */
            int64_t a = wallclock_ns();
            int crc = secagg_client_step(c[u], ph, req[u], req_len[u], rep, cap, &olen, NULL);
            cns += wallclock_ns() - a;
            if (crc == 0) {
                up[u] += (double)olen;
#if FEDBITS_HAVE_OPENMP
#pragma omp critical
#endif
                {
                    int64_t b = wallclock_ns();
                    (void)!secagg_server_receive(s, ph, u, rep, olen, NULL);
                    sns += wallclock_ns() - b;
                }
            }
            mem_free(rep);
        }
        (void)first_rc;
        client_ns += cns;
        server_ns += sns;
        for (uint32_t u = 0; u < n; u++) {
            mem_free(req[u]);
            req[u] = NULL;
        }
        t0 = wallclock_ns();
        rc = secagg_server_close_phase(s, ph, eb);
        server_ns += wallclock_ns() - t0;
    }
    row->rc = rc;
    row->wall_s = bench_secagg_seconds(wallclock_ns() - t_round);
    row->client_s = bench_secagg_seconds(client_ns) / n;
    row->server_s = bench_secagg_seconds(server_ns);
    uint32_t survivors = 0;
    double up_sum = 0, down_sum = 0;
    for (uint32_t u = 0; u < n; u++)
        if (!drops[u]) {
            survivors++;
            up_sum += up[u];
            down_sum += down[u];
        }
    row->up_bytes = survivors ? up_sum / survivors : 0;
    row->down_bytes = survivors ? down_sum / survivors : 0;
    row->included = 0;
    for (uint32_t u = 0; s != NULL && u < n; u++)
        row->included += secagg_server_included(s, u);
    if (rc == 0) {
        uint64_t *sum = mem_alloc(p->m * sizeof *sum);
        if (sum == NULL)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory");
        else
            rc = secagg_server_result(s, sum, p->m, eb);
        /* Every client sent the same x: the sum is (included) x mod 2^k. */
        for (size_t i = 0; rc == 0 && i < p->m; i++)
            if (sum[i] != ((x[i] * row->included) & ring_mask(p->ring_bits)))
                rc = errbuf_set(eb, -ERR_INTERNAL, "secagg bench: wrong sum at %zu", i);
        mem_free(sum);
    }
out:
    for (uint32_t u = 0; c != NULL && u < n; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
    mem_free(c);
    mem_free(req);
    mem_free(req_len);
    mem_free(up);
    mem_free(down);
    return rc;
}

/*
 * Seconds to produce 4 MiB of raw ChaCha20-IETF keystream, and to add the same keystream
 * as k = 26 masks with prg_add_u64, over the whole vector and in the SECAGG_CLIENT_CHUNK
 * slices the client uses. Best of 30 interleaved repetitions on one thread (after a
 * warm-up), so page faults, frequency changes and other processes sharing the cores count
 * as little as possible; both figures see the same conditions.
 */
static int
bench_secagg_prg_speed(double *raw_s, double *mask_s, double *slice_s, struct errbuf *eb)
{
    const size_t n = (size_t)1 << 20; /* elements, k = 26: 4 keystream bytes each = 4 MiB */
    const unsigned k = 26;
    uint64_t *acc = mem_calloc(n, sizeof *acc);
    unsigned char *ks = mem_calloc(n, 4);
    unsigned char key[crypto_stream_chacha20_ietf_KEYBYTES] = { 7 };
    unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };
    struct prg_key pk;
    int rc = 0;
    if (acc == NULL || ks == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(pk.bytes, key, sizeof pk.bytes);
    *raw_s = *mask_s = *slice_s = 1e30;
    for (int rep = 0; rep < 31 && rc == 0; rep++) {
        int64_t t0 = wallclock_ns();
        crypto_stream_chacha20_ietf(ks, n * 4, nonce, key);
        int64_t t1 = wallclock_ns();
        rc = prg_add_u64(acc, n, &pk, 0, k, 0, eb);
        int64_t t2 = wallclock_ns();
        for (size_t o = 0; rc == 0 && o < n; o += SECAGG_CLIENT_CHUNK)
            rc = prg_add_u64(acc + o, SECAGG_CLIENT_CHUNK, &pk, 0, k, o, eb);
        int64_t t3 = wallclock_ns();
        if (rep == 0)
            continue; /* warm-up */
        if (bench_secagg_seconds(t1 - t0) < *raw_s)
            *raw_s = bench_secagg_seconds(t1 - t0);
        if (bench_secagg_seconds(t2 - t1) < *mask_s)
            *mask_s = bench_secagg_seconds(t2 - t1);
        if (bench_secagg_seconds(t3 - t2) < *slice_s)
            *slice_s = bench_secagg_seconds(t3 - t2);
    }
out:
    mem_free(acc);
    mem_free(ks);
    return rc;
}

/* The rows in the chosen format; -1 when out of memory. */
static int
bench_secagg_print(const struct bench_secagg_opts *o, const struct bench_secagg_row *rows,
                   size_t nrows)
{
    static const struct table_col cols[] = {
        { "graph", "graph", TABLE_TEXT },         { "n", "n", TABLE_NUM },
        { "degree", "degree", TABLE_NUM },        { "t", "t", TABLE_NUM },
        { "ring_bits", "k", TABLE_NUM },          { "dim", "dim", TABLE_NUM },
        { "mode", "mode", TABLE_TEXT },           { "client_s", "client_s", TABLE_NUM },
        { "server_s", "server_s", TABLE_NUM },    { "wall_s", "wall_s", TABLE_NUM },
        { "up_bytes", "up_B/client", TABLE_NUM }, { "down_bytes", "down_B/client", TABLE_NUM },
        { "included", "included", TABLE_NUM },    { "status", "status", TABLE_TEXT },
    };
    enum { C_DIM = 5 };
    struct table tb = table_make(cols, sizeof cols / sizeof cols[0]);
    int rc = 0;
    for (size_t k = 0; k < nrows && rc == 0; k++) {
        const struct bench_secagg_row *r = &rows[k];
        long row = table_add_row(&tb);
        if (row < 0) {
            rc = -1;
            break;
        }
        size_t i = (size_t)row;
        rc = table_set(&tb, i, 0, "%s", r->graph) | table_set(&tb, i, 1, "%u", r->n) |
             table_set(&tb, i, 2, "%u", r->degree) | table_set(&tb, i, 3, "%u", r->t) |
             table_set(&tb, i, 4, "%u", r->ring_bits) | table_set(&tb, i, C_DIM, "%zu", o->dim) |
             table_set(&tb, i, 6, "%s", r->mode) | table_set(&tb, i, 7, "%.6f", r->client_s) |
             table_set(&tb, i, 8, "%.6f", r->server_s) | table_set(&tb, i, 9, "%.6f", r->wall_s) |
             table_set(&tb, i, 10, "%.0f", r->up_bytes) |
             table_set(&tb, i, 11, "%.0f", r->down_bytes) |
             table_set(&tb, i, 12, "%u", r->included) |
             table_set(&tb, i, 13, "%s", r->rc == 0 ? "ok" : errbuf_code_name(r->rc));
    }
    if (rc == 0) {
        struct table_view view = table_all(&tb);
        if (o->format == TABLE_FORMAT_TEXT || o->format == TABLE_FORMAT_MARKDOWN)
            view.mask &= ~(UINT64_C(1) << C_DIM); /* in the heading line */
        table_print(stdout, &tb, &view, o->format);
    }
    table_release(&tb);
    return rc != 0 ? -1 : 0;
}

int
bench_secagg_cmd(int argc, char **argv)
{
    struct bench_secagg_opts o;
    int prc = bench_secagg_parse(&o, argc, argv);
    if (prc != 0)
        return prc > 0 ? ARGS_EXIT_OK : ARGS_EXIT_USAGE;
    struct errbuf eb;
    errbuf_clear(&eb);
    struct bench_secagg_row rows[BENCH_SECAGG_MAX_ROWS * 4];
    size_t nrows = 0;
    uint64_t *x = mem_alloc(o.dim * sizeof *x);
    if (x == NULL) {
        fprintf(stderr, "fedbits bench secagg: out of memory\n");
        return 1;
    }
    struct rng r;
    rng_init_stream(&r, o.seed, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < o.dim; i++)
        x[i] = rng_u64(&r) & ring_mask(o.value_bits);
    int threads = 1;
#if FEDBITS_HAVE_OPENMP
    threads = omp_get_max_threads();
#endif
    if (o.format == TABLE_FORMAT_TEXT || o.format == TABLE_FORMAT_MARKDOWN)
        printf("secagg bench: d = %zu, %u-bit inputs, %.0f%% of clients drop before the masked "
               "input, %d client thread(s)\n",
               o.dim, o.value_bits, 100 * o.drop_rate, threads);
    int status = 0;
    for (size_t ci = 0; ci < o.n_clients; ci++) {
        uint32_t n = o.clients[ci];
        uint32_t k = 0, t = 0;
        int hr = secagg_graph_harary_params(&k, &t, n, 0.05, 0.05, SECAGG_THREAT_CURIOUS, &eb);
        unsigned ring = 0;
        if (hr < 0 || ring_bits_for(&ring, n, o.value_bits, &eb) < 0) {
            char msg[512];
            fprintf(stderr, "fedbits bench secagg: %s\n", errbuf_format(&eb, msg, sizeof msg));
            status = 1;
            continue;
        }
        uint8_t *drops = mem_calloc(n, 1);
        if (drops == NULL) {
            status = 1;
            break;
        }
        struct rng dr;
        rng_init_stream(&dr, o.seed, RNG_PURPOSE_DROPOUT, 0, n);
        uint32_t want = (uint32_t)(o.drop_rate * n), got = 0;
        while (got < want) {
            uint64_t u = rng_below(&dr, n);
            if (!drops[u]) {
                drops[u] = 1;
                got++;
            }
        }
        for (int g = 0; g < 2; g++) {
            bool complete = g == 1;
            if (complete && n > 100)
                continue; /* classic SecAgg's O(n^2) sharing: small cohorts only */
            if (!complete && hr == 1)
                continue; /* no Harary degree for this n */
            for (int mode = 0; mode < 2; mode++) {
                if ((mode == 0 && !o.full) || (mode == 1 && !o.accounting))
                    continue;
                struct secagg_params p = {
                    .graph = complete ? SECAGG_GRAPH_COMPLETE : SECAGG_GRAPH_HARARY,
                    .n = n,
                    .t = complete ? (2 * n) / 3 + 1 : t,
                    .degree = complete ? n - 1 : k,
                    .ring_bits = ring,
                    .value_bits = o.value_bits,
                    .threat = SECAGG_THREAT_CURIOUS,
                    .masks = mode == 0 ? SECAGG_MASKS_FULL : SECAGG_MASKS_ACCOUNTING,
                    .session = 1,
                    .seed = o.seed,
                    .round = 0,
                    .m = o.dim,
                };
                struct bench_secagg_row *row = &rows[nrows++];
                *row = (struct bench_secagg_row){ .graph = complete ? "secagg" : "secagg+",
                                                  .n = n,
                                                  .degree = p.degree,
                                                  .t = p.t,
                                                  .ring_bits = ring,
                                                  .mode = mode == 0 ? "full" : "accounting" };
                errbuf_clear(&eb);
                if (bench_secagg_round(row, &p, x, drops, &eb) < 0) {
                    char msg[512];
                    fprintf(stderr, "fedbits bench secagg: n = %u: %s\n", n,
                            errbuf_format(&eb, msg, sizeof msg));
                    status = 1;
                }
            }
        }
        mem_free(drops);
    }
    if (bench_secagg_print(&o, rows, nrows) < 0) {
        args_error("bench secagg", "out of memory");
        status = ARGS_EXIT_FAILURE;
    }
    double raw_s = 0, mask_s = 0, slice_s = 0;
    errbuf_clear(&eb);
    if (bench_secagg_prg_speed(&raw_s, &mask_s, &slice_s, &eb) == 0) {
        double mb = (double)((size_t)1 << 22) / 1e6;
        if (o.format == TABLE_FORMAT_CSV)
            printf("# mask_generation,raw_chacha20_MBps,%.1f,prg_add_MBps,%.1f,ratio,%.3f,"
                   "client_slices_MBps,%.1f,ratio,%.3f\n",
                   mb / raw_s, mb / mask_s, mask_s / raw_s, mb / slice_s, slice_s / raw_s);
        else if (o.format != TABLE_FORMAT_JSON) /* JSON output is the array alone */
            printf("mask generation (k = 26, one thread, 4 MiB): raw ChaCha20-IETF %.0f MB/s; "
                   "prg_add_u64 %.0f MB/s (%.2fx raw); in client slices of %d %.0f MB/s "
                   "(%.2fx raw)\n",
                   mb / raw_s, mb / mask_s, mask_s / raw_s, SECAGG_CLIENT_CHUNK, mb / slice_s,
                   slice_s / raw_s);
    } else {
        status = 1;
    }
    mem_free(x);
    return status;
}
