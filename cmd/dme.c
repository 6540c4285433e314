/*
 * dme: `fedbits dme`, a distributed mean-estimation experiment without training
 * (docs/scenarios.md for the codecs). For each trial, n client vectors are drawn (or
 * read), each client encodes its vector on its own link (seed, round = trial, client), the
 * server decodes each message alone (for vNMSE) and sums all of them with
 * codec_decode_add()/codec_decode_finish() (for NMSE of the mean), exactly as in a round.
 * Several --codec/--bits values give one row each: every codec with every bits value, or,
 * with --zip, the i-th codec with the i-th bits value. --blocks (or the row option pad/pow2)
 * picks power-of-two blocks or padding for the rotation codecs (codec/codec.h).
 */
#include "cmd/dme.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "base/errbuf.h"
#include "base/file.h"
#include "base/le.h"
#include "base/mem.h"
#include "base/rng.h"
#include "cmd/args.h"
#include "cmd/table.h"
#include "codec/codec.h"
#include "sim/wallclock.h"
#include "base/banned.h"

#define DME_MAX_ROWS 64

enum dme_dist { DME_NORMAL, DME_LOGNORMAL, DME_EXPONENTIAL, DME_UNIFORM, DME_FILE };
static const char *const dme_dist_names[] = { "normal", "lognormal", "exponential", "uniform",
                                              "file" };

/* One --codec value: NAME[:OPTION...], options overriding the common flags for that row. */
struct dme_spec {
    enum codec_kind kind;
    int scale;    /* enum codec_scale, or -1 for the --scale value */
    int rotation; /* enum codec_rotation, or -1 for the --rotation value */
    int blocks;   /* enum codec_blocks, or -1 for the --blocks value */
    bool plus;    /* DRIVE+ */
    bool exact;   /* exact shifted-Beta codebook */
};

struct dme_opts {
    struct dme_spec codecs[DME_MAX_ROWS];
    size_t n_codecs;
    double bits[DME_MAX_ROWS];
    size_t n_bits;
    size_t dim;
    size_t clients;
    enum dme_dist dist;
    const char *input;
    size_t trials;
    bool same_vector;
    bool zip;
    uint64_t seed;
    struct codec_params base; /* scale, rotation, p, shared_bits, packet_loss, drive_plus */
    enum table_format format;
};

struct dme_result {
    struct codec_params params;
    double bits;
    double vnmse, vnmse_se, nmse, nmse_se;
    double bits_per_coord, enc_ns, dec_ns;
};

static void
dme_usage(FILE *f)
{
    fprintf(f, "usage: fedbits dme --codec NAME[:OPT...] [--codec ...] --bits B [--bits B ...]\n"
               "         [--dim D] [--clients N] [--dist normal|lognormal|exponential|uniform]\n"
               "         [--input FILE(.npy or raw float32)] [--trials T] [--same-vector]\n"
               "         [--seed N] [--scale unbiased|biased|matched_norm]\n"
               "         [--rotation per_client|shared] [--p P] [--shared-bits L]\n"
               "         [--packet-loss F] [--drive-plus] [--exact-codebook]\n"
               "         [--blocks pow2|pad] [--zip] [--format table|csv|json|markdown]\n"
               "Several --codec/--bits give one row each: every codec with every bits value,\n"
               "or with --zip (lists of equal length) the i-th codec with the i-th bits value.\n"
               "OPT overrides a flag for one row: a scale (unbiased, biased, matched_norm), a\n"
               "rotation (per_client, shared), plus (DRIVE+), exact (exact codebook) or pad /\n"
               "pow2 (blocks), e.g. --codec eden:biased --codec hadamard_sq:shared:pad.\n");
}

/* Prints "fedbits dme: MESSAGE" with up to two string arguments; the usage exit status. */
static int
dme_bad(const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    return args_error("dme", "%s", msg);
}

/* An integer option in [lo, hi] into *out; the usage exit status on error. */
static int
dme_parse_size(const char *flag, const char *s, size_t lo, size_t hi, size_t *out)
{
    uint64_t v;
    if (args_uint("dme", flag, s, lo, hi, &v) < 0)
        return ARGS_EXIT_USAGE;
    *out = (size_t)v;
    return 0;
}

static int
dme_parse_spec(const char *v, struct dme_spec *sp)
{
    char buf[128];
    if (strlen(v) >= sizeof buf)
        return dme_bad("--codec '%s' is too long%s", v, "");
    memcpy(buf, v, strlen(v) + 1);
    *sp = (struct dme_spec){ .scale = -1, .rotation = -1, .blocks = -1 };
    char *opt = strchr(buf, ':');
    if (opt != NULL)
        *opt++ = '\0';
    struct errbuf eb;
    errbuf_clear(&eb);
    if (codec_kind_parse(buf, &sp->kind, &eb) < 0)
        return dme_bad("--codec: %s%s", eb.msg, "");
    while (opt != NULL) {
        char *next = strchr(opt, ':');
        if (next != NULL)
            *next++ = '\0';
        enum codec_scale sc;
        enum codec_rotation ro;
        if (codec_scale_parse(opt, &sc, NULL) == 0)
            sp->scale = (int)sc;
        else if (codec_rotation_parse(opt, &ro, NULL) == 0)
            sp->rotation = (int)ro;
        else if (strcmp(opt, "plus") == 0)
            sp->plus = true;
        else if (strcmp(opt, "exact") == 0)
            sp->exact = true;
        else if (strcmp(opt, "pad") == 0 || strcmp(opt, "pow2") == 0)
            sp->blocks = opt[1] == 'a' ? CODEC_BLOCKS_PAD : CODEC_BLOCKS_POW2;
        else
            return dme_bad("--codec '%s': unknown option '%s' (a scale, a rotation, plus, exact, "
                           "pad, pow2)",
                           v, opt);
        opt = next;
    }
    return 0;
}

/* The parameters of one row. */
static void
dme_row_params(const struct dme_opts *o, const struct dme_spec *sp, double bits,
               struct codec_params *p)
{
    *p = o->base;
    p->kind = sp->kind;
    p->bits = bits;
    if (sp->scale >= 0)
        p->scale = (enum codec_scale)sp->scale;
    if (sp->rotation >= 0)
        p->rotation = (enum codec_rotation)sp->rotation;
    if (sp->plus)
        p->drive_plus = true;
    if (sp->exact)
        p->exact_codebook = true;
    if (sp->blocks >= 0)
        p->blocks = (enum codec_blocks)sp->blocks;
}

/* The options of fedbits dme. */
enum {
    DME_OPT_SAME = 256,
    DME_OPT_ZIP,
    DME_OPT_PLUS,
    DME_OPT_EXACT,
    DME_OPT_CODEC,
    DME_OPT_BITS,
    DME_OPT_DIM,
    DME_OPT_CLIENTS,
    DME_OPT_TRIALS,
    DME_OPT_SEED,
    DME_OPT_DIST,
    DME_OPT_INPUT,
    DME_OPT_SCALE,
    DME_OPT_ROTATION,
    DME_OPT_P,
    DME_OPT_SHARED_BITS,
    DME_OPT_PACKET_LOSS,
    DME_OPT_FORMAT,
    DME_OPT_BLOCKS,
};
static const struct option dme_options[] = {
    { "same-vector", no_argument, NULL, DME_OPT_SAME },
    { "zip", no_argument, NULL, DME_OPT_ZIP },
    { "drive-plus", no_argument, NULL, DME_OPT_PLUS },
    { "exact-codebook", no_argument, NULL, DME_OPT_EXACT },
    { "codec", required_argument, NULL, DME_OPT_CODEC },
    { "bits", required_argument, NULL, DME_OPT_BITS },
    { "dim", required_argument, NULL, DME_OPT_DIM },
    { "clients", required_argument, NULL, DME_OPT_CLIENTS },
    { "trials", required_argument, NULL, DME_OPT_TRIALS },
    { "seed", required_argument, NULL, DME_OPT_SEED },
    { "dist", required_argument, NULL, DME_OPT_DIST },
    { "input", required_argument, NULL, DME_OPT_INPUT },
    { "scale", required_argument, NULL, DME_OPT_SCALE },
    { "rotation", required_argument, NULL, DME_OPT_ROTATION },
    { "p", required_argument, NULL, DME_OPT_P },
    { "shared-bits", required_argument, NULL, DME_OPT_SHARED_BITS },
    { "packet-loss", required_argument, NULL, DME_OPT_PACKET_LOSS },
    { "format", required_argument, NULL, DME_OPT_FORMAT },
    { "blocks", required_argument, NULL, DME_OPT_BLOCKS },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};
/* What the options must say together; the usage exit status when they do not. */
static int
dme_check(struct dme_opts *o)
{
    if (o->n_codecs == 0)
        return dme_bad("--codec is required (e.g. --codec eden --bits 2)%s%s", "", "");
    if (o->zip && o->n_bits != o->n_codecs)
        return dme_bad("--zip needs as many --bits as --codec values%s%s", "", "");
    if (o->n_bits == 0) {
        o->bits[0] = 32;
        o->n_bits = 1;
        for (size_t k = 0; k < o->n_codecs; k++)
            if (o->codecs[k].kind != CODEC_NONE)
                return dme_bad("--bits is required for codec '%s'%s",
                               codec_kind_name(o->codecs[k].kind), "");
    }
    return 0;
}

static int
dme_parse(int argc, char **argv, struct dme_opts *o)
{
    codec_params_default(&o->base);
    o->dim = 65536;
    o->clients = 1;
    o->dist = DME_NORMAL;
    o->trials = 100;
    o->seed = 1;
    o->format = TABLE_FORMAT_TEXT;
    struct args a = args_start("dme", argc, argv);
    for (;;) {
        int c = args_next(&a, "h", dme_options);
        if (c == -1)
            break;
        const char *v = optarg;
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = 0;
        size_t tmp;
        switch (c) {
        case 'h':
            dme_usage(stdout);
            return 1;
        case DME_OPT_SAME:
            o->same_vector = true;
            break;
        case DME_OPT_ZIP:
            o->zip = true;
            break;
        case DME_OPT_PLUS:
            o->base.drive_plus = true;
            break;
        case DME_OPT_EXACT:
            o->base.exact_codebook = true;
            break;
        case DME_OPT_CODEC:
            if (o->n_codecs == DME_MAX_ROWS)
                return dme_bad("too many --codec values%s%s", "", "");
            rc = dme_parse_spec(v, &o->codecs[o->n_codecs]);
            o->n_codecs++;
            break;
        case DME_OPT_BITS:
            if (o->n_bits == DME_MAX_ROWS)
                return dme_bad("too many --bits values%s%s", "", "");
            rc = args_number("dme", "--bits", v, &o->bits[o->n_bits]) < 0 ? ARGS_EXIT_USAGE : 0;
            o->n_bits++;
            break;
        case DME_OPT_DIM:
            rc = dme_parse_size("--dim", v, 1, (size_t)1 << 30, &o->dim);
            break;
        case DME_OPT_CLIENTS:
            rc = dme_parse_size("--clients", v, 1, 100000, &o->clients);
            break;
        case DME_OPT_TRIALS:
            rc = dme_parse_size("--trials", v, 1, 100000000, &o->trials);
            break;
        case DME_OPT_SEED:
            rc = dme_parse_size("--seed", v, 0, SIZE_MAX, &tmp);
            o->seed = tmp;
            break;
        case DME_OPT_DIST: {
            unsigned k;
            for (k = 0; k < DME_FILE; k++)
                if (strcmp(v, dme_dist_names[k]) == 0)
                    break;
            if (k == DME_FILE)
                return dme_bad("unknown --dist '%s' (known: normal, lognormal, exponential, "
                               "uniform)%s",
                               v, "");
            o->dist = (enum dme_dist)k;
            break;
        }
        case DME_OPT_INPUT:
            o->input = v;
            o->dist = DME_FILE;
            break;
        case DME_OPT_SCALE:
            if (codec_scale_parse(v, &o->base.scale, &eb) < 0)
                return dme_bad("--scale: %s%s", eb.msg, "");
            break;
        case DME_OPT_ROTATION:
            if (codec_rotation_parse(v, &o->base.rotation, &eb) < 0)
                return dme_bad("--rotation: %s%s", eb.msg, "");
            break;
        case DME_OPT_P:
            rc = args_number("dme", "--p", v, &o->base.p) < 0 ? ARGS_EXIT_USAGE : 0;
            break;
        case DME_OPT_SHARED_BITS:
            rc = dme_parse_size("--shared-bits", v, 0, 64, &tmp);
            o->base.shared_bits = (unsigned)tmp;
            break;
        case DME_OPT_PACKET_LOSS:
            rc = args_number("dme", "--packet-loss", v, &o->base.packet_loss) < 0 ? ARGS_EXIT_USAGE
                                                                                  : 0;
            break;
        case DME_OPT_BLOCKS:
            if (strcmp(v, "pow2") != 0 && strcmp(v, "pad") != 0)
                return dme_bad("unknown --blocks '%s' (known: pow2, pad)%s", v, "");
            o->base.blocks = v[1] == 'a' ? CODEC_BLOCKS_PAD : CODEC_BLOCKS_POW2;
            break;
        case DME_OPT_FORMAT:
            if (table_parse_format(v, true, &o->format) < 0)
                return dme_bad("unknown --format '%s' (known: table, csv, json, markdown)%s", v,
                               "");
            break;
        default:
            return ARGS_EXIT_USAGE;
        }
        if (rc != 0)
            return rc;
    }
    if (args_operand(&a, NULL, NULL) != 0)
        return ARGS_EXIT_USAGE;
    return dme_check(o);
}

/* Largest input file read whole (1 GiB: 2^28 float32 coordinates). */
#define DME_INPUT_MAX ((size_t)1 << 30)

/* Reads a 1-D or 2-D little-endian float32/float64 .npy, or raw float32. */
static int
dme_read_input(const char *path, float **out, size_t *rows, size_t *cols)
{
    struct strbuf sb;
    strbuf_init(&sb, DME_INPUT_MAX);
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = file_read(&sb, path, "input", &eb);
    if (rc < 0) {
        char msg[8192];
        fprintf(stderr, "fedbits dme: %s\n", errbuf_format(&eb, msg, sizeof msg));
        strbuf_release(&sb);
        return ARGS_EXIT_USAGE;
    }
    rc = 2;
    const unsigned char *raw = (const unsigned char *)strbuf_str(&sb);
    size_t n = strbuf_len(&sb), off = 0, esize = 4;
    *rows = 1;
    if (n >= 10 && memcmp(raw, "\x93NUMPY", 6) == 0) {
        size_t hlen = raw[6] == 1 ? (size_t)le_load16(raw + 8) : 0;
        if (raw[6] != 1 || 10 + hlen > n) {
            fprintf(stderr, "fedbits dme: '%s': unsupported .npy version or header\n", path);
            goto out;
        }
        char hdr[1024];
        size_t hl = hlen < sizeof hdr - 1 ? hlen : sizeof hdr - 1;
        memcpy(hdr, raw + 10, hl);
        hdr[hl] = '\0';
        if (strstr(hdr, "'<f4'") != NULL)
            esize = 4;
        else if (strstr(hdr, "'<f8'") != NULL)
            esize = 8;
        else {
            fprintf(stderr, "fedbits dme: '%s': dtype must be <f4 or <f8\n", path);
            goto out;
        }
        if (strstr(hdr, "'fortran_order': True") != NULL) {
            fprintf(stderr, "fedbits dme: '%s': fortran_order arrays are not supported\n", path);
            goto out;
        }
        const char *sh = strstr(hdr, "'shape': (");
        unsigned long long d0 = 0, d1 = 0;
        if (sh == NULL || sscanf(sh, "'shape': (%llu, %llu", &d0, &d1) < 1) {
            fprintf(stderr, "fedbits dme: '%s': cannot read the shape\n", path);
            goto out;
        }
        off = 10 + hlen;
        if (d1 > 0) {
            *rows = (size_t)d0;
            *cols = (size_t)d1;
        } else {
            *cols = (size_t)d0;
        }
        if (*rows == 0 || *cols == 0 || (n - off) / esize < *rows * *cols) {
            fprintf(stderr, "fedbits dme: '%s': data shorter than its shape\n", path);
            goto out;
        }
    } else {
        if (n % 4 != 0 || n == 0) {
            fprintf(stderr, "fedbits dme: '%s': raw float32 file size %zu is not a multiple of 4\n",
                    path, n);
            goto out;
        }
        *cols = n / 4;
    }
    size_t total = *rows * *cols;
    *out = mem_alloc(total * sizeof **out);
    if (*out == NULL)
        goto out;
    for (size_t i = 0; i < total; i++) {
        if (esize == 4) {
            uint32_t u = le_load32(raw + off + 4 * i);
            memcpy(&(*out)[i], &u, 4);
        } else {
            uint64_t u = le_load64(raw + off + 8 * i);
            double v;
            memcpy(&v, &u, 8);
            (*out)[i] = (float)v;
        }
        if (!isfinite((*out)[i])) {
            fprintf(stderr, "fedbits dme: '%s': element %zu is not finite\n", path, i);
            mem_free(*out);
            *out = NULL;
            goto out;
        }
    }
    rc = 0;
out:
    strbuf_release(&sb);
    return rc;
}

static void
dme_draw(float *x, size_t d, enum dme_dist dist, struct rng *r)
{
    gsl_rng *g = rng_gsl(r);
    for (size_t i = 0; i < d; i++) {
        double v = 0;
        switch (dist) {
        case DME_NORMAL:
            v = gsl_ran_gaussian_ziggurat(g, 1.0);
            break;
        case DME_LOGNORMAL:
            v = gsl_ran_lognormal(g, 0.0, 1.0);
            break;
        case DME_EXPONENTIAL:
            v = gsl_ran_exponential(g, 1.0);
            break;
        case DME_UNIFORM:
            v = gsl_rng_uniform(g);
            break;
        case DME_FILE:
            break;
        }
        x[i] = (float)v;
    }
}

struct dme_buffers {
    float *xs;   /* clients x dim (or one vector) */
    float *mean; /* true mean */
    float *xhat; /* one decoded vector */
    float *acc;
    float *est;
    uint8_t *msg; /* clients x max_bytes */
    size_t *len;
};

/* Trial t's client vectors (drawn or read) and their mean into b; returns the sum of their
 * squared norms. */
static double
dme_fill(const struct dme_opts *o, struct dme_buffers *b, size_t t, const float *file,
         size_t file_rows)
{
    size_t d = o->dim, n = o->clients, nvec = o->same_vector ? 1 : n;
    for (size_t k = 0; k < nvec; k++) {
        float *x = b->xs + k * d;
        if (o->dist == DME_FILE) {
            memcpy(x, file + ((t * nvec + k) % file_rows) * d, d * sizeof *x);
        } else {
            struct rng r;
            rng_init_stream(&r, o->seed, RNG_PURPOSE_DME, t, o->same_vector ? RNG_ANY : k);
            dme_draw(x, d, o->dist, &r);
        }
    }
    double norm_sum = 0;
    memset(b->mean, 0, d * sizeof *b->mean);
    for (size_t k = 0; k < n; k++) {
        const float *x = b->xs + (o->same_vector ? 0 : k) * d;
        double s = 0;
        for (size_t i = 0; i < d; i++) {
            s += (double)x[i] * x[i];
            b->mean[i] += x[i] / (float)n;
        }
        norm_sum += s;
    }
    return norm_sum;
}

/* vNMSE of trial t: each client's message decoded alone (untimed), into *out; -1 on error. */
static int
dme_vnmse(const struct dme_opts *o, struct codec *c, struct dme_buffers *b, size_t t, size_t cap,
          double *out)
{
    size_t d = o->dim, n = o->clients;
    struct errbuf eb;
    errbuf_clear(&eb);
    double v = 0;
    for (size_t k = 0; k < n; k++) {
        const float *x = b->xs + (o->same_vector ? 0 : k) * d;
        struct codec_link link = { .seed = o->seed, .round = t, .client = k };
        if (codec_decode(c, b->xhat, b->msg + k * cap, b->len[k], &link, &eb) < 0) {
            fprintf(stderr, "fedbits dme: decode failed: %s\n", eb.msg);
            return -1;
        }
        double e2 = 0, x2 = 0;
        for (size_t i = 0; i < d; i++) {
            double e = (double)b->xhat[i] - x[i];
            e2 += e * e;
            x2 += (double)x[i] * x[i];
        }
        v += x2 > 0 ? e2 / x2 : 0.0;
    }
    *out = v / (double)n;
    return 0;
}

static int
dme_run_row(const struct dme_opts *o, const struct codec_params *pp, const float *file,
            size_t file_rows, struct dme_result *res)
{
    size_t d = o->dim, n = o->clients;
    struct codec_params p = *pp;
    struct errbuf eb;
    errbuf_clear(&eb);
    struct codec *c = codec_new(&p, d);
    struct dme_buffers b = { 0 };
    int status = 1;
    if (c == NULL)
        goto oom;
    size_t cap = codec_max_bytes(c), acc_len = codec_acc_len(c);
    size_t nvec = o->same_vector ? 1 : n;
    b.xs = mem_alloc(nvec * d * sizeof *b.xs);
    b.mean = mem_alloc(d * sizeof *b.mean);
    b.xhat = mem_alloc(d * sizeof *b.xhat);
    b.acc = mem_alloc_aligned(64, acc_len * sizeof *b.acc);
    b.est = mem_alloc(d * sizeof *b.est);
    b.msg = mem_alloc(n * cap);
    b.len = mem_alloc(n * sizeof *b.len);
    if (b.xs == NULL || b.mean == NULL || b.xhat == NULL || b.acc == NULL || b.est == NULL ||
        b.msg == NULL || b.len == NULL)
        goto oom;
    double sv = 0, sv2 = 0, sn = 0, sn2 = 0, bytes = 0;
    int64_t enc_ns = 0, dec_ns = 0;
    for (size_t t = 0; t < o->trials; t++) {
        double norm_sum = dme_fill(o, &b, t, file, file_rows);
        /* Encode every client (timed). */
        for (size_t k = 0; k < n; k++) {
            const float *x = b.xs + (o->same_vector ? 0 : k) * d;
            struct codec_link link = { .seed = o->seed, .round = t, .client = k };
            int64_t t0 = wallclock_ns();
            int rc = codec_encode(c, b.msg + k * cap, cap, &b.len[k], x, &link, &eb);
            enc_ns += wallclock_ns() - t0;
            if (rc < 0) {
                fprintf(stderr, "fedbits dme: encode failed: %s\n", eb.msg);
                goto out;
            }
            bytes += (double)b.len[k];
        }
        /* Aggregate (timed): decode_add every message, finish once. */
        int64_t t0 = wallclock_ns();
        memset(b.acc, 0, acc_len * sizeof *b.acc);
        for (size_t k = 0; k < n; k++) {
            struct codec_link link = { .seed = o->seed, .round = t, .client = k };
            int rc =
                codec_decode_add(c, b.acc, b.msg + k * cap, b.len[k], 1.0 / (double)n, &link, &eb);
            if (rc < 0) {
                fprintf(stderr, "fedbits dme: decode failed: %s\n", eb.msg);
                goto out;
            }
        }
        struct codec_link round_link = { .seed = o->seed, .round = t, .client = 0 };
        codec_decode_finish(c, b.est, b.acc, &round_link);
        dec_ns += wallclock_ns() - t0;
        double err = 0;
        for (size_t i = 0; i < d; i++) {
            double e = (double)b.est[i] - b.mean[i];
            err += e * e;
        }
        double nmse = norm_sum > 0 ? err / (norm_sum / (double)n) : 0.0;
        double v;
        if (dme_vnmse(o, c, &b, t, cap, &v) < 0)
            goto out;
        sv += v;
        sv2 += v * v;
        sn += nmse;
        sn2 += nmse * nmse;
    }
    double T = (double)o->trials;
    res->params = p;
    res->vnmse = sv / T;
    res->nmse = sn / T;
    res->vnmse_se = T > 1 ? sqrt(fmax(0.0, (sv2 - sv * sv / T) / (T - 1)) / T) : 0.0;
    res->nmse_se = T > 1 ? sqrt(fmax(0.0, (sn2 - sn * sn / T) / (T - 1)) / T) : 0.0;
    res->bits_per_coord = 8.0 * bytes / (T * (double)n * (double)d);
    res->enc_ns = (double)enc_ns / (T * (double)n * (double)d);
    res->dec_ns = (double)dec_ns / (T * (double)n * (double)d);
    status = 0;
    goto out;
oom:
    fprintf(stderr, "fedbits dme: out of memory\n");
out:
    mem_free(b.xs);
    mem_free(b.mean);
    mem_free(b.xhat);
    mem_free_aligned(b.acc);
    mem_free(b.est);
    mem_free(b.msg);
    mem_free(b.len);
    codec_free(c);
    return status;
}

/* The codec name of a row ("drive+" for DRIVE+). */
static const char *
dme_row_name_base(const struct codec_params *p)
{
    if (p->kind == CODEC_DRIVE && p->drive_plus)
        return "drive+";
    if (p->kind == CODEC_EDEN && p->exact_codebook)
        return "eden:exact";
    if (p->kind == CODEC_TURBOQUANT_MSE && p->exact_codebook)
        return "turboquant_mse:exact";
    return codec_kind_name(p->kind);
}

/* The codec name of a row, with ":pad" or ":pow2" when a rotation codec's block mode is not
 * the default. */
static const char *
dme_row_name(char *buf, size_t cap, const struct codec_params *p)
{
    struct codec_params def, split = *p;
    codec_params_default(&def);
    split.blocks = CODEC_BLOCKS_POW2; /* splits 2^20 + 1 iff the codec rotates */
    bool other = p->blocks != def.blocks && codec_blocks_count(&split, 1 << 20 | 1) > 1;
    snprintf(buf, cap, "%s%s%s", dme_row_name_base(p), other ? ":" : "",
             other ? codec_blocks_name(p->blocks) : "");
    return buf;
}

/* The results as a table in the chosen format; -1 when out of memory. */
static int
dme_print(const struct dme_opts *o, const struct dme_result *r, size_t nrows)
{
    static const struct table_col cols[] = {
        { "codec", "codec", TABLE_TEXT },
        { "bits", "bits", TABLE_NUM },
        { "scale", "scale", TABLE_TEXT },
        { "rotation", "rotation", TABLE_TEXT },
        { "dim", "dim", TABLE_NUM },
        { "clients", "clients", TABLE_NUM },
        { "dist", "dist", TABLE_TEXT },
        { "trials", "trials", TABLE_NUM },
        { "vnmse", "vnmse", TABLE_NUM },
        { "vnmse_se", "se", TABLE_NUM },
        { "nmse", "nmse", TABLE_NUM },
        { "nmse_se", "se", TABLE_NUM },
        { "bits_per_coord", "bits/crd", TABLE_NUM },
        { "encode_ns_per_coord", "enc ns/c", TABLE_NUM },
        { "decode_ns_per_coord", "dec ns/c", TABLE_NUM },
    };
    /* The text formats leave out the columns their heading line gives once. */
    enum { C_DIM = 4, C_CLIENTS, C_DIST, C_TRIALS };
    const char *dist = dme_dist_names[o->dist];
    struct table tb = table_make(cols, sizeof cols / sizeof cols[0]);
    for (size_t k = 0; k < nrows; k++) {
        long row = table_add_row(&tb);
        if (row < 0)
            goto nomem;
        size_t i = (size_t)row;
        const struct codec_params *p = &r[k].params;
        char name[64];
        int rc =
            table_set(&tb, i, 0, "%s", dme_row_name(name, sizeof name, p)) |
            table_set(&tb, i, 1, "%g", p->bits) |
            table_set(&tb, i, 2, "%s", codec_scale_name(p->scale)) |
            table_set(&tb, i, 3, "%s", codec_rotation_name(p->rotation)) |
            table_set(&tb, i, C_DIM, "%zu", o->dim) |
            table_set(&tb, i, C_CLIENTS, "%zu", o->clients) |
            table_set(&tb, i, C_DIST, "%s", dist) | table_set(&tb, i, C_TRIALS, "%zu", o->trials) |
            table_set(&tb, i, 8, "%.6g", r[k].vnmse) | table_set(&tb, i, 9, "%.3g", r[k].vnmse_se) |
            table_set(&tb, i, 10, "%.6g", r[k].nmse) | table_set(&tb, i, 11, "%.3g", r[k].nmse_se) |
            table_set(&tb, i, 12, "%.6g", r[k].bits_per_coord) |
            table_set(&tb, i, 13, "%.4g", r[k].enc_ns) | table_set(&tb, i, 14, "%.4g", r[k].dec_ns);
        if (rc != 0)
            goto nomem;
    }
    struct table_view view = table_all(&tb);
    if (o->format == TABLE_FORMAT_TEXT || o->format == TABLE_FORMAT_MARKDOWN) {
        printf("# dme: dim %zu, clients %zu%s, dist %s, trials %zu, seed %llu\n", o->dim,
               o->clients, o->same_vector ? " (same vector)" : "", dist, o->trials,
               (unsigned long long)o->seed);
        view.mask &= ~((UINT64_C(1) << C_DIM) | (UINT64_C(1) << C_CLIENTS) |
                       (UINT64_C(1) << C_DIST) | (UINT64_C(1) << C_TRIALS));
    }
    table_print(stdout, &tb, &view, o->format);
    table_release(&tb);
    return 0;
nomem:
    table_release(&tb);
    return -1;
}

int
dme_cmd(int argc, char **argv)
{
    struct dme_opts o = { 0 };
    int rc = dme_parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    float *file = NULL;
    size_t file_rows = 1;
    if (o.dist == DME_FILE) {
        size_t cols;
        rc = dme_read_input(o.input, &file, &file_rows, &cols);
        if (rc != 0)
            return rc;
        o.dim = cols;
    }
    size_t nrows = o.zip ? o.n_codecs : o.n_codecs * o.n_bits;
    struct dme_result *res = mem_calloc(nrows, sizeof *res);
    struct codec_params *params = mem_calloc(nrows, sizeof *params);
    if (res == NULL || params == NULL) {
        mem_free(res);
        mem_free(params);
        mem_free(file);
        fprintf(stderr, "fedbits dme: out of memory\n");
        return 1;
    }
    /* Check every row before running any. */
    for (size_t k = 0; k < nrows; k++) {
        size_t ci = o.zip ? k : k / o.n_bits;
        size_t bi = o.zip ? k : k % o.n_bits;
        dme_row_params(&o, &o.codecs[ci], o.bits[bi], &params[k]);
        struct codec_params p = params[k];
        struct errbuf eb;
        errbuf_clear(&eb);
        if (codec_params_check(&p, o.dim, &eb) < 0) {
            fprintf(stderr, "fedbits dme: codec '%s' with bits %g: %s\n", codec_kind_name(p.kind),
                    p.bits, eb.msg);
            rc = 2;
            goto out;
        }
    }
    for (size_t k = 0; k < nrows; k++) {
        rc = dme_run_row(&o, &params[k], file, file_rows, &res[k]);
        if (rc != 0)
            goto out;
    }
    if (dme_print(&o, res, nrows) < 0) {
        args_error("dme", "out of memory");
        rc = ARGS_EXIT_FAILURE;
    }
out:
    mem_free(res);
    mem_free(params);
    mem_free(file);
    return rc;
}
