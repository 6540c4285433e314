/* population: per-client devices, networks, availability and dropout. See population.h. */
#include "sim/population.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/simtime.h"
#include "base/banned.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Sub-streams of RNG_PURPOSE_NETWORK in the "round" part before any round is played. */
#define POPULATION_DRAW_ROUND 0

/*
 * A numeric table read from a trace: each non-empty, non-comment line holds min_cols..max_cols
 * non-negative numbers separated by spaces, tabs or commas. Values are stored row after row;
 * row i holds v[off[i] .. off[i + 1]).
 */
struct population_table {
    double *v;
    size_t *off; /* rows + 1 offsets */
    size_t rows;
};

/*
 * Nothing per client: a client's attributes are drawn from its keyed streams whenever they
 * are asked for (population_device(), population_line()), so building a population costs
 * the same for ten clients as for ten million, and the values are the same whenever drawn.
 */
struct population {
    struct population_params p;
    size_t n;
    uint64_t seed;
    double tier_total;               /* sum of the tier shares */
    struct population_table compute; /* compute trace: client k uses row k mod rows */
    struct population_table network; /* network trace: the same */
    /* Availability trace: client k uses trace line k mod lines. */
    size_t trace_lines;
    double *trace_finish;  /* period of line i */
    size_t *trace_off;     /* intervals of line i: [off[i], off[i+1]) pairs */
    double *trace_windows; /* start, end, start, end, ... */
};

static void
population_table_free(struct population_table *t)
{
    mem_free(t->v);
    mem_free(t->off);
    *t = (struct population_table){ 0 };
}

/* Column j of row i, or NAN when the row is shorter. */
static double
population_table_at(const struct population_table *t, size_t i, size_t j)
{
    return t->off[i] + j < t->off[i + 1] ? t->v[t->off[i] + j] : NAN;
}

/* Appends value v to the row being filled, row t->rows (grows the value array). */
static int
population_table_append(struct population_table *t, size_t *cap, double v)
{
    size_t used = t->off[t->rows + 1];
    if (used == *cap) {
        size_t nc = *cap == 0 ? 4096 : *cap * 2;
        double *nv = mem_realloc(t->v, nc * sizeof *nv);
        if (nv == NULL)
            return -ERR_NOMEM;
        t->v = nv;
        *cap = nc;
    }
    t->v[used] = v;
    t->off[t->rows + 1] = used + 1;
    return 0;
}

/* Starts filling row t->rows: off[rows + 1] is its running end until rows++ closes it. */
static int
population_table_open_row(struct population_table *t, size_t *rows_cap)
{
    if (t->rows + 2 > *rows_cap) {
        size_t nc = *rows_cap == 0 ? 1024 : *rows_cap * 2;
        size_t *o = mem_realloc(t->off, nc * sizeof *o);
        if (o == NULL)
            return -ERR_NOMEM;
        t->off = o;
        *rows_cap = nc;
    }
    t->off[t->rows + 1] = t->off[t->rows];
    return 0;
}

static int
population_read_table(struct population_table *t, const char *path, size_t min_cols,
                      size_t max_cols, struct errbuf *eb)
{
    *t = (struct population_table){ 0 };
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        errbuf_set_location(eb, path, 0, 0);
        return errbuf_set(eb, -ERR_IO, "cannot open trace: %s", strerror(errno));
    }
    size_t cap = 0, rows_cap = 0;
    char line[65536];
    long lineno = 0;
    int rc = 0;
    t->off = mem_alloc(1024 * sizeof *t->off);
    if (t->off == NULL)
        goto nomem;
    rows_cap = 1024;
    t->off[0] = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            errbuf_set_location(eb, path, lineno, 0);
            rc = errbuf_set(eb, -ERR_RANGE, "trace line longer than %zu bytes", sizeof line - 1);
            goto out;
        }
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
            continue;
        /* The row being filled is t->rows; it becomes visible when complete. */
        if (population_table_open_row(t, &rows_cap) < 0)
            goto nomem;
        size_t n = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            if (*p == '\n' || *p == '\r' || *p == '\0' || *p == '#')
                break;
            if (n == max_cols) {
                errbuf_set_location(eb, path, lineno, (long)(p - line) + 1);
                rc = errbuf_set(eb, -ERR_CORRUPT, "more than %zu values on a line", max_cols);
                goto out;
            }
            errno = 0;
            char *end = NULL;
            double v = strtod(p, &end);
            if (end == p || errno == ERANGE || !isfinite(v) || v < 0) {
                errbuf_set_location(eb, path, lineno, (long)(p - line) + 1);
                rc = errbuf_set(eb, -ERR_CORRUPT, "expected a non-negative number");
                goto out;
            }
            if (population_table_append(t, &cap, v) < 0)
                goto nomem;
            n++;
            p = end;
        }
        if (n < min_cols) {
            errbuf_set_location(eb, path, lineno, 1);
            rc = errbuf_set(eb, -ERR_CORRUPT, "expected at least %zu values, found %zu", min_cols,
                            n);
            goto out;
        }
        t->rows++;
    }
    if (ferror(f)) {
        errbuf_set_location(eb, path, 0, 0);
        rc = errbuf_set(eb, -ERR_IO, "cannot read trace: %s", strerror(errno));
        goto out;
    }
    if (t->rows == 0) {
        errbuf_set_location(eb, path, 0, 0);
        rc = errbuf_set(eb, -ERR_CORRUPT, "trace holds no entries");
    }
    goto out;
nomem:
    rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
out:
    fclose(f);
    if (rc < 0)
        population_table_free(t);
    return rc;
}

/* What population_device() draws, in the order of client k's device stream. */
enum population_device_part {
    POPULATION_PART_SPS = 0, /* seconds per sample */
    POPULATION_PART_DROPOUT, /* and the dropout probability */
    POPULATION_PART_PHASE,   /* and the diurnal phase */
};

struct population_device {
    double sps;     /* seconds per sample */
    double dropout; /* probability of dropping once selected */
    double phase;   /* diurnal phase in [0, 1) */
};

/*
 * Client k's device, drawn from (seed, RNG_PURPOSE_DEVICE, 0, k) up to `upto`: the compute
 * draw first, then the dropout propensity, then the phase, so each value is the same
 * whatever else is asked for. The stream is not opened when nothing asked for needs it.
 */
static void
population_device(const struct population *pop, size_t k, enum population_device_part upto,
                  struct population_device *d)
{
    const struct population_params *p = &pop->p;
    bool drawn = p->compute == POPULATION_LOGNORMAL || p->compute == POPULATION_TIERS;
    bool need = drawn || upto == POPULATION_PART_PHASE ||
                (upto == POPULATION_PART_DROPOUT && p->dropout_sigma > 0);
    struct rng r;
    if (need)
        rng_init_stream(&r, pop->seed, RNG_PURPOSE_DEVICE, POPULATION_DRAW_ROUND, k);
    double v = p->seconds_per_sample;
    switch (p->compute) {
    case POPULATION_LOGNORMAL:
        v = p->seconds_per_sample *
            exp(p->compute_sigma * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0));
        break;
    case POPULATION_TIERS: {
        double u = rng_uniform(&r) * pop->tier_total, acc = 0;
        v = p->tier_seconds[p->n_tiers - 1];
        for (size_t i = 0; i < p->n_tiers; i++) {
            acc += p->tier_share[i];
            if (u < acc) {
                v = p->tier_seconds[i];
                break;
            }
        }
        break;
    }
    case POPULATION_TRACE:
        v = population_table_at(&pop->compute, k % pop->compute.rows, 0);
        break;
    default:
        break;
    }
    d->sps = v;
    if (upto == POPULATION_PART_SPS)
        return;
    /* Propensity and diurnal phase come from the same per-client device stream. */
    double prop = p->dropout_sigma > 0
                      ? exp(p->dropout_sigma * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0) -
                            p->dropout_sigma * p->dropout_sigma / 2)
                      : 1.0;
    double dp = p->dropout_p * prop;
    d->dropout = dp > 1.0 ? 1.0 : dp;
    if (upto == POPULATION_PART_PHASE)
        d->phase = rng_uniform(&r);
}

/* Client k's line: bandwidths in Mbit/s and latency in ms, from (seed, NETWORK, 0, k). */
struct population_line {
    double down, up, latency_ms;
};

static void
population_line(const struct population *pop, size_t k, struct population_line *l)
{
    const struct population_params *p = &pop->p;
    *l = (struct population_line){ p->downlink_mbps, p->uplink_mbps, p->latency_ms };
    if (p->network == POPULATION_NETWORK_LOGNORMAL) {
        struct rng r;
        rng_init_stream(&r, pop->seed, RNG_PURPOSE_NETWORK, POPULATION_DRAW_ROUND, k);
        /* One draw scales both directions: a good line is good both ways. */
        double f = exp(p->network_sigma * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0));
        l->down *= f;
        l->up *= f;
    } else if (p->network == POPULATION_NETWORK_TRACE) {
        const struct population_table *t = &pop->network;
        size_t row = k % t->rows;
        l->down = population_table_at(t, row, 0);
        l->up = population_table_at(t, row, 1);
        if (!isnan(population_table_at(t, row, 2)))
            l->latency_ms = population_table_at(t, row, 2);
    }
}

/* Reads the compute and network traces the parameters name. */
static int
population_read_traces(struct population *pop, struct errbuf *eb)
{
    const struct population_params *p = &pop->p;
    if (p->compute == POPULATION_TRACE) {
        int rc = population_read_table(&pop->compute, p->compute_trace, 1, 1, eb);
        if (rc < 0)
            return rc;
    }
    if (p->network != POPULATION_NETWORK_TRACE)
        return 0;
    struct population_table *t = &pop->network;
    int rc = population_read_table(t, p->network_trace, 2, 3, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < t->rows; i++) {
        if (!(population_table_at(t, i, 0) > 0) || !(population_table_at(t, i, 1) > 0)) {
            errbuf_set_location(eb, p->network_trace, 0, 0);
            return errbuf_set(eb, -ERR_CORRUPT, "entry %zu: bandwidth must be positive", i + 1);
        }
    }
    return 0;
}

/* Availability trace: "finish_time start end start end ..." per line (seconds). */
static int
population_read_availability(struct population *pop, struct errbuf *eb)
{
    const char *path = pop->p.availability_trace;
    struct population_table t;
    int rc = population_read_table(&t, path, 1, (size_t)-1, eb);
    if (rc < 0)
        return rc;
    size_t windows = 0;
    for (size_t i = 0; i < t.rows; i++) {
        size_t cols = t.off[i + 1] - t.off[i];
        if ((cols - 1) % 2 != 0 || !(population_table_at(&t, i, 0) > 0)) {
            errbuf_set_location(eb, path, 0, 0);
            population_table_free(&t);
            return errbuf_set(eb, -ERR_CORRUPT,
                              "entry %zu: expected a positive period then start/end pairs", i + 1);
        }
        windows += cols - 1;
    }
    pop->trace_lines = t.rows;
    pop->trace_finish = mem_alloc(t.rows * sizeof(double));
    pop->trace_off = mem_alloc((t.rows + 1) * sizeof(size_t));
    pop->trace_windows = mem_alloc((windows + 1) * sizeof(double));
    if (pop->trace_finish == NULL || pop->trace_off == NULL || pop->trace_windows == NULL) {
        population_table_free(&t);
        return errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
    }
    size_t at = 0;
    for (size_t i = 0; i < t.rows; i++) {
        const double *row = t.v + t.off[i];
        size_t cols = t.off[i + 1] - t.off[i];
        pop->trace_finish[i] = row[0];
        pop->trace_off[i] = at / 2;
        for (size_t j = 1; j < cols; j += 2) {
            if (row[j + 1] < row[j]) {
                errbuf_set_location(eb, path, 0, 0);
                population_table_free(&t);
                return errbuf_set(eb, -ERR_CORRUPT, "entry %zu: window %zu ends before it starts",
                                  i + 1, j / 2 + 1);
            }
            pop->trace_windows[at++] = row[j];
            pop->trace_windows[at++] = row[j + 1];
        }
    }
    pop->trace_off[t.rows] = at / 2;
    population_table_free(&t);
    return 0;
}

int
population_new(struct population **out, const struct population_params *p, size_t n, uint64_t seed,
               struct errbuf *eb)
{
    *out = NULL;
    if (p->compute == POPULATION_TIERS && (p->n_tiers == 0 || p->n_tiers > POPULATION_MAX_TIERS))
        return errbuf_set(eb, -ERR_INVALID, "compute tiers: between 1 and %d tiers are needed",
                          POPULATION_MAX_TIERS);
    struct population *pop = mem_calloc(1, sizeof *pop);
    if (pop == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory building the population");
    pop->p = *p;
    pop->n = n;
    pop->seed = seed;
    for (size_t i = 0; i < p->n_tiers; i++)
        pop->tier_total += p->tier_share[i];
    int rc = population_read_traces(pop, eb);
    if (rc == 0 && p->availability == POPULATION_AVAILABILITY_TRACE)
        rc = population_read_availability(pop, eb);
    if (rc < 0)
        goto fail;
    *out = pop;
    return 0;
fail:
    population_free(pop);
    return rc;
}

void
population_free(struct population *pop)
{
    if (pop == NULL)
        return;
    population_table_free(&pop->compute);
    population_table_free(&pop->network);
    mem_free(pop->trace_finish);
    mem_free(pop->trace_off);
    mem_free(pop->trace_windows);
    mem_free(pop);
}

double
population_seconds_per_sample(const struct population *pop, size_t k)
{
    struct population_device d;
    population_device(pop, k, POPULATION_PART_SPS, &d);
    return d.sps;
}

double
population_downlink_mbps(const struct population *pop, size_t k)
{
    struct population_line l;
    population_line(pop, k, &l);
    return l.down;
}

double
population_uplink_mbps(const struct population *pop, size_t k)
{
    struct population_line l;
    population_line(pop, k, &l);
    return l.up;
}

double
population_dropout_p(const struct population *pop, size_t k)
{
    struct population_device d;
    population_device(pop, k, POPULATION_PART_DROPOUT, &d);
    return d.dropout;
}

/* Seconds to move `bits` over line l, without jitter. */
static double
population_line_s(const struct population_line *l, bool down, uint64_t bits)
{
    double mbps = down ? l->down : l->up;
    return l->latency_ms / 1e3 + (double)bits / (mbps * 1e6);
}

int64_t
population_expected_transfer_us(const struct population *pop, size_t k, bool down, uint64_t bits)
{
    struct population_line l;
    population_line(pop, k, &l);
    return simtime_from_s(population_line_s(&l, down, bits));
}

int64_t
population_transfer_us(const struct population *pop, size_t k, uint64_t round, bool down,
                       uint64_t bits)
{
    if (!(pop->p.jitter > 0))
        return population_expected_transfer_us(pop, k, down, bits);
    struct population_line l;
    population_line(pop, k, &l);
    double s = population_line_s(&l, down, bits);
    struct rng r;
    /* Transfers of one round and client: downlink draws first, uplink second. */
    rng_init_stream(&r, pop->seed, RNG_PURPOSE_NETWORK, round + 1, k);
    double z1 = gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0);
    double z2 = gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0);
    /* A lognormal factor with mean 1 and relative std `jitter`. */
    double sig2 = log(1.0 + pop->p.jitter * pop->p.jitter);
    double f = exp(sqrt(sig2) * (down ? z1 : z2) - sig2 / 2);
    return simtime_from_s(s * f);
}

int64_t
population_compute_us(const struct population *pop, size_t k, double samples)
{
    return simtime_from_s(samples * population_seconds_per_sample(pop, k));
}

static bool
population_trace_active(const struct population *pop, size_t k, int64_t t)
{
    size_t line = k % pop->trace_lines;
    double period = pop->trace_finish[line];
    double at = fmod(simtime_to_s(t), period);
    for (size_t w = pop->trace_off[line]; w < pop->trace_off[line + 1]; w++) {
        if (at >= pop->trace_windows[2 * w] && at <= pop->trace_windows[2 * w + 1])
            return true;
    }
    return false;
}

double
population_phase(const struct population *pop, size_t k)
{
    struct population_device d;
    population_device(pop, k, POPULATION_PART_PHASE, &d);
    return d.phase;
}

bool
population_available(const struct population *pop, size_t k, uint64_t round, int64_t t)
{
    bool diurnal = pop->p.availability == POPULATION_DIURNAL;
    return population_available_at_phase(pop, k, round, t, diurnal ? population_phase(pop, k) : 0);
}

bool
population_available_at_phase(const struct population *pop, size_t k, uint64_t round, int64_t t,
                              double phase)
{
    const struct population_params *p = &pop->p;
    if (p->availability == POPULATION_ALWAYS)
        return true;
    if (p->availability == POPULATION_AVAILABILITY_TRACE)
        return population_trace_active(pop, k, t);
    double prob = p->availability_p;
    if (p->availability == POPULATION_DIURNAL) {
        double x = simtime_to_s(t) / p->diurnal_period_s + phase;
        prob *= 0.5 + p->diurnal_amplitude * sin(2.0 * M_PI * x);
        prob = prob < 0 ? 0 : prob > 1 ? 1 : prob;
    }
    struct rng r;
    rng_init_stream(&r, pop->seed, RNG_PURPOSE_AVAILABILITY, round, k);
    return rng_uniform(&r) < prob;
}
