/*
 * privacy: `fedbits privacy`. Each of --q, --noise (or --epsilon) and --rounds may be given
 * several times; the rows are every combination, in the order given (q slowest). With
 * --noise a row prints the epsilon at --delta and the Rényi order that gave it; with
 * --epsilon it prints the smallest noise multiplier reaching that epsilon (rounded up to a
 * relative 1e-9) and the epsilon and order that multiplier gives.
 *
 * --mechanism ddgauss|skellam accounts for the distributed mechanisms instead
 * (sim/privacy_distributed.h): --clients, --dim and either --granularity or --bits (the ring
 * width, from which the granularity is derived); --clip and --beta default to 1 and e^-1/2;
 * --q amplifies each round by Poisson sampling at that rate (without it, or at 1, every round
 * is charged in full). --q, --noise, --epsilon, --rounds and --bits may be repeated.
 */
#include "cmd/privacy.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errbuf.h"
#include "cmd/args.h"
#include "cmd/table.h"
#include "sim/privacy_accountant.h"
#include "sim/privacy_distributed.h"
#include "base/banned.h"

/* The most values of one repeatable flag. */
#define PRIVACY_MAX_VALUES 64

/* The values of one repeatable flag. */
struct privacy_list {
    double v[PRIVACY_MAX_VALUES];
    size_t n;
};

struct privacy_opts {
    struct privacy_list q, noise, epsilon, rounds, bits;
    double delta;
    bool have_delta;
    int mechanism; /* PRIVACY_CENTRAL (the Gaussian), PRIVACY_DDGAUSS or PRIVACY_SKELLAM */
    double clients, dim, granularity, clip, beta;
    enum table_format format;
};

static void
privacy_usage(FILE *f)
{
    fprintf(f,
            "usage: fedbits privacy --q Q (--noise Z | --epsilon E) --rounds T --delta D\n"
            "         [--format table|csv|json|markdown]\n"
            "Epsilon of the Poisson-subsampled Gaussian mechanism (sampling rate Q, noise\n"
            "multiplier Z) after T rounds at DELTA, by Renyi DP (Mironov, Talwar, Zhang 2019)\n"
            "and the conversion of Canonne, Kamath, Steinke 2020; with --epsilon instead of\n"
            "--noise, the smallest noise multiplier reaching E. --q, --noise, --epsilon and\n"
            "--rounds may be repeated: one row per combination (docs/privacy.md).\n"
            "       fedbits privacy --mechanism ddgauss|skellam --clients N --dim D\n"
            "         (--granularity G | --bits K) (--noise Z | --epsilon E) --rounds T --delta D\n"
            "         [--clip C] [--beta B] [--q Q]\n"
            "The distributed discrete Gaussian (Kairouz, Liu, Steinke 2021) or Skellam\n"
            "(Agarwal, Kairouz, Liu 2021) mechanism: N clients' noise summed under secure\n"
            "aggregation, Z times the clip C in total; the granularity G, or the one that fits\n"
            "the sum in a K-bit ring; with --q, amplified by Poisson sampling at rate Q (Zhu,\n"
            "Wang 2019, Thm. 6; integer orders only). A target no noise reaches at those bits\n"
            "prints noise inf.\n");
}

enum {
    PRIVACY_OPT_Q = 256,
    PRIVACY_OPT_NOISE,
    PRIVACY_OPT_EPSILON,
    PRIVACY_OPT_ROUNDS,
    PRIVACY_OPT_DELTA,
    PRIVACY_OPT_FORMAT,
    PRIVACY_OPT_MECHANISM,
    PRIVACY_OPT_CLIENTS,
    PRIVACY_OPT_DIM,
    PRIVACY_OPT_BITS,
    PRIVACY_OPT_GRANULARITY,
    PRIVACY_OPT_CLIP,
    PRIVACY_OPT_BETA,
};
static const struct option privacy_options[] = {
    { "q", required_argument, NULL, PRIVACY_OPT_Q },
    { "noise", required_argument, NULL, PRIVACY_OPT_NOISE },
    { "epsilon", required_argument, NULL, PRIVACY_OPT_EPSILON },
    { "rounds", required_argument, NULL, PRIVACY_OPT_ROUNDS },
    { "delta", required_argument, NULL, PRIVACY_OPT_DELTA },
    { "format", required_argument, NULL, PRIVACY_OPT_FORMAT },
    { "mechanism", required_argument, NULL, PRIVACY_OPT_MECHANISM },
    { "clients", required_argument, NULL, PRIVACY_OPT_CLIENTS },
    { "dim", required_argument, NULL, PRIVACY_OPT_DIM },
    { "bits", required_argument, NULL, PRIVACY_OPT_BITS },
    { "granularity", required_argument, NULL, PRIVACY_OPT_GRANULARITY },
    { "clip", required_argument, NULL, PRIVACY_OPT_CLIP },
    { "beta", required_argument, NULL, PRIVACY_OPT_BETA },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/*
 * Appends the number s of flag to l when it lies in [lo, hi] (open at lo when open_lo);
 * the usage exit status otherwise.
 */
static int
privacy_add(struct privacy_list *l, const char *flag, const char *s, double lo, double hi,
            bool open_lo)
{
    double v;
    if (args_number("privacy", flag, s, &v) < 0)
        return ARGS_EXIT_USAGE;
    if (v < lo || v > hi || (open_lo && v == lo))
        return args_error("privacy", "%s '%s' must lie in %s%g, %g]", flag, s, open_lo ? "(" : "[",
                          lo, hi);
    if (l->n == PRIVACY_MAX_VALUES)
        return args_error("privacy", "%s given more than %d times", flag, PRIVACY_MAX_VALUES);
    l->v[l->n++] = v;
    return 0;
}

/* One number of flag in [lo, hi] (open at lo when open_lo) into *out. */
static int
privacy_one(double *out, const char *flag, const char *s, double lo, double hi, bool open_lo)
{
    struct privacy_list l = { .n = 0 };
    int rc = privacy_add(&l, flag, s, lo, hi, open_lo);
    if (rc == 0)
        *out = l.v[0];
    return rc;
}

/* 0, 1 after --help, or the usage exit status. */
static int
privacy_parse(int argc, char **argv, struct privacy_opts *o)
{
    o->format = TABLE_FORMAT_TEXT;
    o->mechanism = PRIVACY_CENTRAL;
    o->clip = 1.0;
    o->beta = exp(-0.5);
    struct args a = args_start("privacy", argc, argv);
    for (int c; (c = args_next(&a, "h", privacy_options)) != -1;) {
        const char *v = optarg;
        int rc = 0;
        switch (c) {
        case 'h':
            privacy_usage(stdout);
            return 1;
        case PRIVACY_OPT_Q:
            rc = privacy_add(&o->q, "--q", v, 0.0, 1.0, false);
            break;
        case PRIVACY_OPT_NOISE:
            rc = privacy_add(&o->noise, "--noise", v, 0.0, 1e9, true);
            break;
        case PRIVACY_OPT_EPSILON:
            rc = privacy_add(&o->epsilon, "--epsilon", v, 0.0, 1e9, true);
            break;
        case PRIVACY_OPT_ROUNDS:
            rc = privacy_add(&o->rounds, "--rounds", v, 0.0, 1e12, false);
            break;
        case PRIVACY_OPT_DELTA:
            rc = privacy_one(&o->delta, "--delta", v, 0.0, 1.0, true);
            if (rc == 0 && o->delta == 1.0)
                rc = args_error("privacy", "--delta '%s' must be below 1", v);
            o->have_delta = true;
            break;
        case PRIVACY_OPT_FORMAT:
            if (table_parse_format(v, true, &o->format) < 0)
                rc = args_error("privacy", "--format '%s': table, csv, json or markdown", v);
            break;
        case PRIVACY_OPT_MECHANISM:
            if (strcmp(v, "gaussian") == 0)
                o->mechanism = PRIVACY_CENTRAL;
            else if (strcmp(v, "ddgauss") == 0)
                o->mechanism = PRIVACY_DDGAUSS;
            else if (strcmp(v, "skellam") == 0)
                o->mechanism = PRIVACY_SKELLAM;
            else
                rc = args_error("privacy", "--mechanism '%s': gaussian, ddgauss or skellam", v);
            break;
        case PRIVACY_OPT_CLIENTS:
            rc = privacy_one(&o->clients, "--clients", v, 1.0, 1e9, false);
            break;
        case PRIVACY_OPT_DIM:
            rc = privacy_one(&o->dim, "--dim", v, 1.0, 1e12, false);
            break;
        case PRIVACY_OPT_BITS:
            rc = privacy_add(&o->bits, "--bits", v, 1.0, 62.0, false);
            break;
        case PRIVACY_OPT_GRANULARITY:
            rc = privacy_one(&o->granularity, "--granularity", v, 0.0, 1e9, true);
            break;
        case PRIVACY_OPT_CLIP:
            rc = privacy_one(&o->clip, "--clip", v, 0.0, 1e9, true);
            break;
        case PRIVACY_OPT_BETA:
            rc = privacy_one(&o->beta, "--beta", v, 0.0, 0.999999, false);
            break;
        default:
            return ARGS_EXIT_USAGE;
        }
        if (rc != 0)
            return rc;
    }
    if (args_operand(&a, NULL, NULL) != 0)
        return ARGS_EXIT_USAGE;
    if (o->mechanism != PRIVACY_CENTRAL) {
        if (o->clients == 0 || o->dim == 0 || o->rounds.n == 0 || !o->have_delta)
            return args_error("privacy", "--clients, --dim, --rounds and --delta are required");
        if ((o->granularity > 0) == (o->bits.n > 0))
            return args_error("privacy", "give --granularity or --bits (one of them)");
        for (size_t i = 0; i < o->bits.n; i++)
            if (o->bits.v[i] != floor(o->bits.v[i]))
                return args_error("privacy", "--bits %g is not a whole number", o->bits.v[i]);
    } else if (o->q.n == 0 || o->rounds.n == 0 || !o->have_delta) {
        return args_error("privacy", "--q, --rounds and --delta are required");
    } else if (o->clients > 0 || o->dim > 0 || o->bits.n > 0 || o->granularity > 0) {
        return args_error("privacy", "--clients, --dim, --bits and --granularity need "
                                     "--mechanism ddgauss or skellam");
    }
    if ((o->noise.n == 0) == (o->epsilon.n == 0))
        return args_error("privacy", "give --noise or --epsilon (one of them)");
    return 0;
}

static const struct table_col privacy_cols[] = {
    { "q", "q", TABLE_NUM },
    { "noise", "noise", TABLE_NUM },
    { "rounds", "rounds", TABLE_NUM },
    { "delta", "delta", TABLE_NUM },
    { "epsilon", "epsilon", TABLE_NUM },
    { "order", "order", TABLE_NUM },
};

static const struct table_col privacy_dist_cols[] = {
    { "mechanism", "mechanism", TABLE_TEXT },
    { "clients", "clients", TABLE_NUM },
    { "dim", "dim", TABLE_NUM },
    { "bits", "bits", TABLE_NUM },
    { "granularity", "granularity", TABLE_NUM },
    { "clip", "clip", TABLE_NUM },
    { "noise", "noise", TABLE_NUM },
    { "rounds", "rounds", TABLE_NUM },
    { "delta", "delta", TABLE_NUM },
    { "epsilon", "epsilon", TABLE_NUM },
    { "order", "order", TABLE_NUM },
    { "q", "q", TABLE_NUM },
};

/* One row of a distributed mechanism: sampling rate q (1: none), ring bits (0: the given
 * granularity), the noise z or with target > 0 the noise reaching it. */
static int
privacy_dist_row(struct table *tb, const struct privacy_opts *o, double q, double bits, double z,
                 double target, double rounds, struct errbuf *eb)
{
    struct privacy_distributed m = { .mechanism = o->mechanism,
                                     .clip = o->clip,
                                     .gamma = o->granularity,
                                     .beta = o->beta,
                                     .dim = o->dim,
                                     .clients = o->clients,
                                     .noise = z,
                                     .sampling_rate = q };
    int rc = privacy_distributed_calibrate(&m, (unsigned)bits, rounds, o->delta, target, eb);
    double eps = NAN, order = NAN;
    if (rc == -ERR_RANGE && target > 0.0) {
        /* no noise reaches the target at these bits: a row that says so, not an error */
        errbuf_clear(eb);
        m.noise = INFINITY;
        rc = 0;
    } else if (rc == 0) {
        rc = privacy_distributed_epsilon(&m, rounds, o->delta, &eps, &order, eb);
    }
    if (rc < 0)
        return rc;
    long row = table_add_row(tb);
    if (row < 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    size_t i = (size_t)row;
    if (table_set(tb, i, 0, "%s", o->mechanism == PRIVACY_DDGAUSS ? "ddgauss" : "skellam") != 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    const double v[] = { o->clients, o->dim,   bits, m.gamma, o->clip, m.noise,
                         rounds,     o->delta, eps,  order,   q };
    for (size_t c = 0; c < sizeof v / sizeof v[0]; c++) {
        char buf[32];
        table_format_real(buf, sizeof buf, v[c]);
        if (table_set(tb, i, c + 1, "%s", buf) != 0)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* One row: the epsilon of (q, z, rounds), or with target > 0 the noise reaching it. */
static int
privacy_row(struct table *tb, const struct privacy_opts *o, double q, double z, double target,
            double rounds, struct errbuf *eb)
{
    int rc = 0;
    if (target > 0.0)
        rc = privacy_accountant_noise_for(q, rounds, o->delta, target, &z, eb);
    double eps, order;
    if (rc == 0)
        rc = privacy_accountant_epsilon(q, z, rounds, o->delta, &eps, &order, eb);
    if (rc < 0)
        return rc;
    long row = table_add_row(tb);
    if (row < 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    size_t i = (size_t)row;
    const double v[] = { q, z, rounds, o->delta, eps, order };
    for (size_t c = 0; c < sizeof v / sizeof v[0]; c++) {
        char buf[32];
        table_format_real(buf, sizeof buf, v[c]);
        if (table_set(tb, i, c, "%s", buf) != 0)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    }
    return 0;
}

int
privacy_cmd(int argc, char **argv)
{
    struct privacy_opts o = { .delta = 0.0 };
    int rc = privacy_parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? ARGS_EXIT_OK : rc;
    bool inverse = o.epsilon.n > 0;
    const struct privacy_list *second = inverse ? &o.epsilon : &o.noise;
    bool dist = o.mechanism != PRIVACY_CENTRAL;
    struct table tb =
        dist ? table_make(privacy_dist_cols, sizeof privacy_dist_cols / sizeof privacy_dist_cols[0])
             : table_make(privacy_cols, sizeof privacy_cols / sizeof privacy_cols[0]);
    struct errbuf eb;
    errbuf_clear(&eb);
    if (dist && o.bits.n == 0)
        o.bits.v[o.bits.n++] = 0.0; /* the granularity given */
    if (dist && o.q.n == 0)
        o.q.v[o.q.n++] = 1.0; /* no sampling amplification */
    for (size_t h = 0; dist && h < o.q.n && rc == 0; h++)
        for (size_t i = 0; i < o.bits.n && rc == 0; i++)
            for (size_t j = 0; j < second->n && rc == 0; j++)
                for (size_t k = 0; k < o.rounds.n && rc == 0; k++)
                    rc = privacy_dist_row(&tb, &o, o.q.v[h], o.bits.v[i],
                                          inverse ? 0.0 : second->v[j],
                                          inverse ? second->v[j] : 0.0, o.rounds.v[k], &eb);
    for (size_t i = 0; !dist && i < o.q.n && rc == 0; i++)
        for (size_t j = 0; j < second->n && rc == 0; j++)
            for (size_t k = 0; k < o.rounds.n && rc == 0; k++)
                rc = privacy_row(&tb, &o, o.q.v[i], inverse ? 0.0 : second->v[j],
                                 inverse ? second->v[j] : 0.0, o.rounds.v[k], &eb);
    if (rc < 0) {
        char line[ERRBUF_MSG_BYTES + 64];
        errbuf_format(&eb, line, sizeof line);
        fprintf(stderr, "fedbits privacy: %s\n", line);
        table_release(&tb);
        return rc == -ERR_NOMEM || rc == -ERR_INTERNAL ? ARGS_EXIT_FAILURE : ARGS_EXIT_USAGE;
    }
    struct table_view view = table_all(&tb);
    table_print(stdout, &tb, &view, o.format);
    table_release(&tb);
    return ARGS_EXIT_OK;
}
