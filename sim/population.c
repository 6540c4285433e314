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

struct population {
    struct population_params p;
    size_t n;
    uint64_t seed;
    double *sps;        /* seconds per sample */
    double *down;       /* Mbit/s */
    double *up;         /* Mbit/s */
    double *latency_ms; /* one-way latency */
    double *dropout;    /* probability of dropping once selected */
    double *phase;      /* diurnal phase in [0, 1) */
    /* Availability trace: client k uses trace line k mod lines. */
    size_t trace_lines;
    double *trace_finish;  /* period of line i */
    size_t *trace_off;     /* intervals of line i: [off[i], off[i+1]) pairs */
    double *trace_windows; /* start, end, start, end, ... */
};

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

static int
population_alloc(struct population *pop)
{
    size_t n = pop->n;
    pop->sps = mem_alloc(n * sizeof(double));
    pop->down = mem_alloc(n * sizeof(double));
    pop->up = mem_alloc(n * sizeof(double));
    pop->latency_ms = mem_alloc(n * sizeof(double));
    pop->dropout = mem_alloc(n * sizeof(double));
    pop->phase = mem_alloc(n * sizeof(double));
    return pop->sps && pop->down && pop->up && pop->latency_ms && pop->dropout && pop->phase
               ? 0
               : -ERR_NOMEM;
}

static int
population_draw_compute(struct population *pop, struct errbuf *eb)
{
    const struct population_params *p = &pop->p;
    struct population_table t = { 0 };
    if (p->compute == POPULATION_TRACE) {
        int rc = population_read_table(&t, p->compute_trace, 1, 1, eb);
        if (rc < 0)
            return rc;
    }
    double total_share = 0;
    for (size_t i = 0; i < p->n_tiers; i++)
        total_share += p->tier_share[i];
    for (size_t k = 0; k < pop->n; k++) {
        struct rng r;
        rng_init_stream(&r, pop->seed, RNG_PURPOSE_DEVICE, POPULATION_DRAW_ROUND, k);
        double v = p->seconds_per_sample;
        switch (p->compute) {
        case POPULATION_LOGNORMAL:
            v = p->seconds_per_sample *
                exp(p->compute_sigma * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0));
            break;
        case POPULATION_TIERS: {
            double u = rng_uniform(&r) * total_share, acc = 0;
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
            v = population_table_at(&t, k % t.rows, 0);
            break;
        default:
            break;
        }
        pop->sps[k] = v;
        /* Propensity and diurnal phase come from the same per-client device stream. */
        double prop = p->dropout_sigma > 0
                          ? exp(p->dropout_sigma * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0) -
                                p->dropout_sigma * p->dropout_sigma / 2)
                          : 1.0;
        double dp = p->dropout_p * prop;
        pop->dropout[k] = dp > 1.0 ? 1.0 : dp;
        pop->phase[k] = rng_uniform(&r);
    }
    population_table_free(&t);
    return 0;
}

static int
population_draw_network(struct population *pop, struct errbuf *eb)
{
    const struct population_params *p = &pop->p;
    struct population_table t = { 0 };
    if (p->network == POPULATION_NETWORK_TRACE) {
        int rc = population_read_table(&t, p->network_trace, 2, 3, eb);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < t.rows; i++) {
            if (!(population_table_at(&t, i, 0) > 0) || !(population_table_at(&t, i, 1) > 0)) {
                errbuf_set_location(eb, p->network_trace, 0, 0);
                population_table_free(&t);
                return errbuf_set(eb, -ERR_CORRUPT, "entry %zu: bandwidth must be positive", i + 1);
            }
        }
    }
    for (size_t k = 0; k < pop->n; k++) {
        double down = p->downlink_mbps, up = p->uplink_mbps, lat = p->latency_ms;
        if (p->network == POPULATION_NETWORK_LOGNORMAL) {
            struct rng r;
            rng_init_stream(&r, pop->seed, RNG_PURPOSE_NETWORK, POPULATION_DRAW_ROUND, k);
            /* One draw scales both directions: a good line is good both ways. */
            double f = exp(p->network_sigma * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0));
            down *= f;
            up *= f;
        } else if (p->network == POPULATION_NETWORK_TRACE) {
            size_t row = k % t.rows;
            down = population_table_at(&t, row, 0);
            up = population_table_at(&t, row, 1);
            if (!isnan(population_table_at(&t, row, 2)))
                lat = population_table_at(&t, row, 2);
        }
        pop->down[k] = down;
        pop->up[k] = up;
        pop->latency_ms[k] = lat;
    }
    population_table_free(&t);
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
    int rc = population_alloc(pop);
    if (rc < 0) {
        errbuf_set(eb, rc, "out of memory building a population of %zu clients", n);
        goto fail;
    }
    rc = population_draw_compute(pop, eb);
    if (rc == 0)
        rc = population_draw_network(pop, eb);
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
    mem_free(pop->sps);
    mem_free(pop->down);
    mem_free(pop->up);
    mem_free(pop->latency_ms);
    mem_free(pop->dropout);
    mem_free(pop->phase);
    mem_free(pop->trace_finish);
    mem_free(pop->trace_off);
    mem_free(pop->trace_windows);
    mem_free(pop);
}

double
population_seconds_per_sample(const struct population *pop, size_t k)
{
    return pop->sps[k];
}

double
population_downlink_mbps(const struct population *pop, size_t k)
{
    return pop->down[k];
}

double
population_uplink_mbps(const struct population *pop, size_t k)
{
    return pop->up[k];
}

double
population_dropout_p(const struct population *pop, size_t k)
{
    return pop->dropout[k];
}

int64_t
population_expected_transfer_us(const struct population *pop, size_t k, bool down, uint64_t bits)
{
    double mbps = down ? pop->down[k] : pop->up[k];
    double s = pop->latency_ms[k] / 1e3 + (double)bits / (mbps * 1e6);
    return simtime_from_s(s);
}

int64_t
population_transfer_us(const struct population *pop, size_t k, uint64_t round, bool down,
                       uint64_t bits)
{
    if (!(pop->p.jitter > 0))
        return population_expected_transfer_us(pop, k, down, bits);
    double mbps = down ? pop->down[k] : pop->up[k];
    double s = pop->latency_ms[k] / 1e3 + (double)bits / (mbps * 1e6);
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
    return simtime_from_s(samples * pop->sps[k]);
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

bool
population_available(const struct population *pop, size_t k, uint64_t round, int64_t t)
{
    const struct population_params *p = &pop->p;
    if (p->availability == POPULATION_ALWAYS)
        return true;
    if (p->availability == POPULATION_AVAILABILITY_TRACE)
        return population_trace_active(pop, k, t);
    double prob = p->availability_p;
    if (p->availability == POPULATION_DIURNAL) {
        double x = simtime_to_s(t) / p->diurnal_period_s + pop->phase[k];
        prob *= 0.5 + p->diurnal_amplitude * sin(2.0 * M_PI * x);
        prob = prob < 0 ? 0 : prob > 1 ? 1 : prob;
    }
    struct rng r;
    rng_init_stream(&r, pop->seed, RNG_PURPOSE_AVAILABILITY, round, k);
    return rng_uniform(&r) < prob;
}
