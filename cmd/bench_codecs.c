/*
 * bench_codecs: `fedbits bench codecs [--dim D] [--format table|csv] [--reps R]
 * [--clock cpu|wall]`: encode and decode time per coordinate of every codec, and of the
 * randomized Hadamard transform alone (row `rht`), at d = 2^16, 2^20, 2^22 or the given D.
 * Each figure is the median of R timed calls (after one untimed warm-up) on one thread,
 * timed by the thread's CPU clock (default: preemption on a shared machine does not count)
 * or by the wall clock; decode is codec_decode() of one message (decode_add into a zeroed
 * accumulator, then finish). GB/s counts the 4·d bytes of the float32 vector; x_rht is a
 * time divided by the forward transform's time (the `rht` row's encode) of the same run
 * and dimension.
 */
#include "cmd/bench_codecs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "cmd/args.h"
#include "cmd/table.h"
#include "codec/codec.h"
#include "codec/rht.h"
#include "codec/turboquant.h"
#include "sim/wallclock.h"
#include "base/banned.h"

#define BENCH_CODECS_MAX_REPS 1000

struct bench_codecs_row {
    const char *name;
    enum codec_kind kind;
    double bits;
};

/* Codecs benchmarked at several bit widths instead of their default bits alone. */
static const struct {
    enum codec_kind kind;
    double bits[4];
} bench_codecs_widths[] = {
    { CODEC_EDEN, { 1, 2, 4, 1.5 } },
};

/*
 * The rows: `rht` (kind CODEC_KIND_COUNT), then every codec of the codec table at its default
 * bits (codec_kind_default_bits()) or at its widths above. Returns the number of rows
 * written to rows[0..cap).
 */
static size_t
bench_codecs_rows(struct bench_codecs_row *rows, size_t cap)
{
    size_t n = 0;
    rows[n++] = (struct bench_codecs_row){ "rht", CODEC_KIND_COUNT, 0 };
    for (unsigned k = 0; k < CODEC_KIND_COUNT; k++) {
        enum codec_kind kind = (enum codec_kind)k;
        double bits[4] = { codec_kind_default_bits(kind) };
        for (size_t w = 0; w < sizeof bench_codecs_widths / sizeof bench_codecs_widths[0]; w++)
            if (bench_codecs_widths[w].kind == kind)
                memcpy(bits, bench_codecs_widths[w].bits, sizeof bits);
        for (size_t j = 0; j < 4 && bits[j] > 0 && n < cap; j++)
            rows[n++] = (struct bench_codecs_row){ codec_kind_name(kind), kind, bits[j] };
    }
    return n;
}

static double
bench_codecs_median(double *t, size_t n)
{
    gsl_sort(t, 1, n);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* The clock that times the calls: the thread's CPU time or the wall clock. */
static int64_t
bench_codecs_now(bool cpu)
{
    return cpu ? wallclock_thread_cpu_ns() : wallclock_ns();
}

/* Times one row at dimension d; enc/dec in ns per coordinate (dec < 0: not applicable). */
static int
bench_codecs_one(const struct bench_codecs_row *row, size_t d, size_t reps, bool cpu,
                 const float *x, double *enc, double *dec)
{
    double te[BENCH_CODECS_MAX_REPS], td[BENCH_CODECS_MAX_REPS];
    if (row->kind == CODEC_KIND_COUNT) {
        size_t D = rht_padded_len(d);
        float *v = mem_alloc_aligned(64, D * sizeof *v);
        uint8_t *signs = mem_alloc(rht_sign_bytes(D));
        if (v == NULL || signs == NULL) {
            mem_free_aligned(v);
            mem_free(signs);
            return -1;
        }
        struct rng r;
        rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, 0);
        rht_signs_draw(signs, D, &r);
        memset(v, 0, D * sizeof *v);
        memcpy(v, x, d * sizeof *v);
        for (size_t k = 0; k <= reps; k++) {
            int64_t t0 = bench_codecs_now(cpu);
            rht_forward(v, D, signs);
            int64_t t1 = bench_codecs_now(cpu);
            rht_inverse(v, D, signs);
            int64_t t2 = bench_codecs_now(cpu);
            if (k > 0) {
                te[k - 1] = (double)(t1 - t0);
                td[k - 1] = (double)(t2 - t1);
            }
        }
        mem_free_aligned(v);
        mem_free(signs);
    } else {
        struct codec_params p;
        codec_params_default(&p);
        p.kind = row->kind;
        p.bits = row->bits;
        struct errbuf eb;
        errbuf_clear(&eb);
        if (codec_params_check(&p, d, &eb) < 0)
            return 1; /* not applicable at this size */
        struct codec *c = codec_new(&p, d);
        uint8_t *msg = c != NULL ? mem_alloc(codec_max_bytes(c)) : NULL;
        float *out = mem_alloc(d * sizeof *out);
        if (c == NULL || msg == NULL || out == NULL) {
            codec_free(c);
            mem_free(msg);
            mem_free(out);
            return -1;
        }
        for (size_t k = 0; k <= reps; k++) {
            struct codec_link link = { .seed = 1, .round = k, .client = 0 };
            size_t len;
            int64_t t0 = bench_codecs_now(cpu);
            int rc = codec_encode(c, msg, codec_max_bytes(c), &len, x, &link, &eb);
            int64_t t1 = bench_codecs_now(cpu);
            if (rc == 0)
                rc = codec_decode(c, out, msg, len, &link, &eb);
            int64_t t2 = bench_codecs_now(cpu);
            if (rc < 0) {
                fprintf(stderr, "fedbits bench: %s: %s\n", row->name, eb.msg);
                codec_free(c);
                mem_free(msg);
                mem_free(out);
                return -1;
            }
            if (k > 0) {
                te[k - 1] = (double)(t1 - t0);
                td[k - 1] = (double)(t2 - t1);
            }
        }
        codec_free(c);
        mem_free(msg);
        mem_free(out);
    }
    *enc = bench_codecs_median(te, reps) / (double)d;
    *dec = bench_codecs_median(td, reps) / (double)d;
    return 0;
}

/* The options of bench codecs: 1 after --help, ARGS_EXIT_USAGE on an error, else 0. */
static int
bench_codecs_parse(int argc, char **argv, size_t *dims, size_t *ndims, size_t *reps, bool *cpu,
                   enum table_format *format)
{
    enum { OPT_DIM = 256, OPT_REPS, OPT_FORMAT, OPT_CLOCK };
    static const struct option opts[] = {
        { "dim", required_argument, NULL, OPT_DIM },
        { "reps", required_argument, NULL, OPT_REPS },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "clock", required_argument, NULL, OPT_CLOCK },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct args a = args_start("bench codecs", argc, argv);
    for (;;) {
        int c = args_next(&a, "h", opts);
        if (c == -1)
            break;
        uint64_t n;
        switch (c) {
        case 'h':
            printf("usage: fedbits bench codecs [--dim D]... [--reps R] [--clock cpu|wall]\n"
                   "                            [--format table|csv|json|markdown]\n"
                   "\n"
                   "Encode and decode time per coordinate (median of R repetitions) and GB/s\n"
                   "of every codec, and of the randomized Hadamard transform alone (row\n"
                   "'rht'), at d = 2^16, 2^20 and 2^22 or the --dim values given. The\n"
                   "x_rht columns divide each time by the forward transform's (the 'rht'\n"
                   "row's encode) in the same run.\n"
                   "\n"
                   "  --clock cpu   time the calling thread's CPU time (default): time spent\n"
                   "                preempted on a shared machine does not count\n"
                   "  --clock wall  time the monotonic wall clock\n");
            return 1;
        case OPT_DIM:
            if (args_uint(a.cmd, "--dim", optarg, 1, UINT64_C(1) << 28, &n) < 0)
                return ARGS_EXIT_USAGE;
            dims[0] = (size_t)n;
            *ndims = 1;
            break;
        case OPT_REPS:
            if (args_uint(a.cmd, "--reps", optarg, 1, BENCH_CODECS_MAX_REPS, &n) < 0)
                return ARGS_EXIT_USAGE;
            *reps = (size_t)n;
            break;
        case OPT_CLOCK:
            if (strcmp(optarg, "cpu") != 0 && strcmp(optarg, "wall") != 0)
                return args_error(a.cmd, "unknown --clock '%s' (cpu, wall)", optarg);
            *cpu = strcmp(optarg, "cpu") == 0;
            break;
        case OPT_FORMAT:
            if (table_parse_format(optarg, true, format) < 0)
                return args_error(a.cmd, "unknown --format '%s' (table, csv, json, markdown)",
                                  optarg);
            break;
        default:
            return ARGS_EXIT_USAGE;
        }
    }
    if (args_operand(&a, NULL, NULL) != 0)
        return ARGS_EXIT_USAGE;
    return 0;
}

/* Adds one row of figures; -1 when out of memory. */
static int
bench_codecs_add(struct table *tb, const char *name, double bits, size_t d, double enc, double dec,
                 double rht)
{
    long r = table_add_row(tb);
    if (r < 0)
        return -1;
    size_t i = (size_t)r;
    int rc = table_set(tb, i, 0, "%s", name) | table_set(tb, i, 1, "%g", bits) |
             table_set(tb, i, 2, "%zu", d) | table_set(tb, i, 3, "%.4f", enc) |
             table_set(tb, i, 4, "%.4f", dec) | table_set(tb, i, 5, "%.3f", 4.0 / enc) |
             table_set(tb, i, 6, "%.3f", 4.0 / dec) | table_set(tb, i, 7, "%.2f", enc / rht) |
             table_set(tb, i, 8, "%.2f", dec / rht);
    return rc != 0 ? -1 : 0;
}

int
bench_codecs_cmd(int argc, char **argv)
{
    static const struct table_col cols[] = {
        { "codec", "codec", TABLE_TEXT },
        { "bits", "bits", TABLE_NUM },
        { "dim", "dim", TABLE_NUM },
        { "encode_ns_per_coord", "enc ns/crd", TABLE_NUM },
        { "decode_ns_per_coord", "dec ns/crd", TABLE_NUM },
        { "encode_gbps", "enc GB/s", TABLE_NUM },
        { "decode_gbps", "dec GB/s", TABLE_NUM },
        { "encode_x_rht", "enc x_rht", TABLE_NUM },
        { "decode_x_rht", "dec x_rht", TABLE_NUM },
    };
    size_t dims[3] = { (size_t)1 << 16, (size_t)1 << 20, (size_t)1 << 22 };
    size_t ndims = 3, reps = 0;
    bool cpu = true;
    enum table_format format = TABLE_FORMAT_TEXT;
    int prc = bench_codecs_parse(argc, argv, dims, &ndims, &reps, &cpu, &format);
    if (prc != 0)
        return prc == 1 ? ARGS_EXIT_OK : prc;
    struct table tb = table_make(cols, sizeof cols / sizeof cols[0]);
    int status = ARGS_EXIT_FAILURE;
    float *x = NULL;
    for (size_t di = 0; di < ndims; di++) {
        size_t d = dims[di];
        size_t r = reps != 0                ? reps
                   : d <= ((size_t)1 << 16) ? 101
                   : d <= ((size_t)1 << 20) ? 31
                                            : 11;
        x = mem_alloc(d * sizeof *x);
        if (x == NULL)
            goto nomem;
        struct rng rg;
        rng_init_stream(&rg, 1, RNG_PURPOSE_TEST, 1, 0);
        for (size_t i = 0; i < d; i++)
            x[i] = (float)gsl_ran_gaussian_ziggurat(rng_gsl(&rg), 1.0);
        struct bench_codecs_row rows[4 * CODEC_KIND_COUNT + 1];
        size_t nrows = bench_codecs_rows(rows, sizeof rows / sizeof rows[0]);
        double rht = 0; /* the first row's encode time */
        for (size_t k = 0; k < nrows; k++) {
            const struct bench_codecs_row *row = &rows[k];
            size_t rr = row->kind == CODEC_TURBOQUANT_PROD || row->kind == CODEC_KASHIN_SQ
                            ? (r < 11 ? r : 11)
                            : r;
            double enc, dec;
            int rc = bench_codecs_one(row, d, rr, cpu, x, &enc, &dec);
            if (rc < 0) {
                args_error("bench codecs", "%s failed", row->name);
                goto out;
            }
            if (k == 0)
                rht = enc > 0 ? enc : 1e-9;
            if (rc == 0 && bench_codecs_add(&tb, row->name, row->bits, d, enc, dec, rht) < 0)
                goto nomem;
        }
        mem_free(x);
        x = NULL;
    }
    struct table_view all = table_all(&tb);
    table_print(stdout, &tb, &all, format);
    status = ARGS_EXIT_OK;
    goto out;
nomem:
    args_error("bench codecs", "out of memory");
out:
    mem_free(x);
    table_release(&tb);
    return status;
}
