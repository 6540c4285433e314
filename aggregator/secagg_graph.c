/* secagg_graph: complete and relabelled Harary graphs, and the §2.3 parameter rule. */
#include "aggregator/secagg_graph.h"

#include <math.h>
#include <stdlib.h>

#include "base/mem.h"
#include "base/banned.h"

struct secagg_graph {
    uint32_t n;
    uint32_t degree;
    uint32_t *adj;  /* n * degree, row u sorted ascending */
    uint32_t *perm; /* perm[ring position] = client (identity for the complete graph) */
};

static int
graph_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int
secagg_graph_new(struct secagg_graph **out, enum secagg_graph_kind kind, uint32_t n,
                 uint32_t degree, uint64_t seed, uint64_t round, struct errbuf *eb)
{
    *out = NULL;
    if (n < 2 || n > SECAGG_WIRE_CLIENTS_MAX)
        return errbuf_set(eb, -ERR_INVALID, "secagg graph: n = %u outside 2..%u", n,
                          SECAGG_WIRE_CLIENTS_MAX);
    if (kind == SECAGG_GRAPH_COMPLETE
            ? degree != n - 1
            : (kind != SECAGG_GRAPH_HARARY || degree < 2 || degree % 2 != 0 || degree >= n - 1))
        return errbuf_set(eb, -ERR_INVALID, "secagg graph: degree %u not valid for n = %u", degree,
                          n);
    struct secagg_graph *g = mem_calloc(1, sizeof *g);
    uint32_t *perm = NULL, *pos = NULL;
    int rc = 0;
    if (g == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "secagg graph: out of memory");
    g->n = n;
    g->degree = degree;
    g->adj = mem_alloc((size_t)n * degree * sizeof *g->adj);
    g->perm = perm = mem_alloc((size_t)n * sizeof *perm);
    if (g->adj == NULL || perm == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "secagg graph: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    if (kind == SECAGG_GRAPH_COMPLETE) {
        for (uint32_t u = 0; u < n; u++) {
            uint32_t *row = g->adj + (size_t)u * degree;
            uint32_t j = 0;
            for (uint32_t v = 0; v < n; v++)
                if (v != u)
                    row[j++] = v;
        }
        goto out;
    }
    pos = mem_alloc((size_t)n * sizeof *pos);
    if (pos == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "secagg graph: out of memory");
        goto out;
    }
    secagg_wire_ring_order(perm, n, seed, round); /* perm[position] = client */
    for (uint32_t i = 0; i < n; i++)
        pos[perm[i]] = i;
    uint32_t half = degree / 2;
    for (uint32_t u = 0; u < n; u++) {
        uint32_t *row = g->adj + (size_t)u * degree;
        uint32_t p = pos[u], j = 0;
        for (uint32_t s = 1; s <= half; s++) {
            row[j++] = perm[(p + s) % n];
            row[j++] = perm[(p + n - s) % n];
        }
        qsort(row, degree, sizeof *row, graph_cmp_u32);
    }
out:
    mem_free(pos);
    if (rc < 0) {
        secagg_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void
secagg_graph_free(struct secagg_graph *g)
{
    if (g == NULL)
        return;
    mem_free(g->adj);
    mem_free(g->perm);
    mem_free(g);
}

uint32_t
secagg_graph_n(const struct secagg_graph *g)
{
    return g->n;
}

uint32_t
secagg_graph_degree(const struct secagg_graph *g)
{
    return g->degree;
}

const uint32_t *
secagg_graph_neighbors(const struct secagg_graph *g, uint32_t u)
{
    return g->adj + (size_t)u * g->degree;
}

long
secagg_graph_slot(const struct secagg_graph *g, uint32_t u, uint32_t v)
{
    const uint32_t *row = secagg_graph_neighbors(g, u);
    size_t lo = 0, hi = g->degree;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (row[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->degree && row[lo] == v ? (long)lo : -1;
}

uint32_t
secagg_graph_at(const struct secagg_graph *g, uint32_t position)
{
    return g->perm[position % g->n];
}

uint32_t
secagg_graph_min_clients(uint32_t n, double delta)
{
    /* The finder's survivor count, ⌈(1 - δ) n⌉ with its 1e-14 guard (reference rule). */
    double m = ceil((1 - delta - 1e-14) * (double)n);
    return m < 0 ? 0 : m > n ? n : (uint32_t)m;
}

bool
secagg_graph_adjacent(const struct secagg_graph *g, uint32_t u, uint32_t v)
{
    return secagg_graph_slot(g, u, v) >= 0;
}

/*
 * Hypergeometric distribution (population total, counted marked, sampled draws) with the
 * numerics of FCP's graph parameter finder: pmf through lgamma, tails summed outward with the pmf
 * recurrence until a term falls below 1e-16 of the sum.
 */
struct graph_hyper {
    double total, marked, sampled;
};

static double
graph_pmf(const struct graph_hyper *h, double x, double counted)
{
    double N = h->total, k = h->sampled;
    if (x < 0 || x > k || x > counted)
        return 0;
    if (N + x < counted + k)
        return 0;
    double l = lgamma(k + 1) + lgamma(counted + 1) + lgamma(N - counted + 1) + lgamma(N - k + 1) -
               lgamma(x + 1) - lgamma(k - x + 1) - lgamma(counted - x + 1) - lgamma(N + 1) -
               lgamma(N - k - counted + x + 1);
    return exp(l);
}

/* P[X <= x] for X with `counted` marked, summed downward from x. */
static double
graph_cdf_impl(const struct graph_hyper *h, double x, double counted)
{
    double N = h->total, k = h->sampled;
    double pmf = graph_pmf(h, x, counted), sum = 0;
    while (pmf > sum * 1e-16) {
        sum += pmf;
        pmf *= x;
        pmf *= N - counted - k + x;
        pmf /= counted - x + 1;
        pmf /= k - x + 1;
        x -= 1;
    }
    return sum;
}

static double
graph_cdf(const struct graph_hyper *h, double x)
{
    x = floor(x);
    double mean = h->marked * h->sampled / h->total;
    if (x > mean)
        return 1 - graph_cdf_impl(h, h->sampled - x - 1, h->total - h->marked);
    return graph_cdf_impl(h, x, h->marked);
}

static double
graph_quantile_impl(const struct graph_hyper *h, double q, double counted)
{
    double N = h->total, k = h->sampled;
    double basic = counted + k - N - 1;
    double hoeffding = k * (counted / N - sqrt(-log(q) / (2 * k)));
    double x = -1;
    if (basic > x)
        x = basic;
    if (hoeffding > x)
        x = hoeffding;
    x = floor(x);
    double cdf = graph_cdf_impl(h, x, counted);
    double pmf = graph_pmf(h, x, counted);
    while (cdf < q && x < k) {
        if (pmf > 0) {
            pmf /= x + 1;
            pmf /= N - counted - k + x + 1;
            pmf *= counted - x;
            pmf *= k - x;
        } else {
            pmf = graph_pmf(h, x + 1, counted);
        }
        cdf += pmf;
        x += 1;
    }
    return x - 1;
}

/* The quantile rounded away from the median; complement = upper tail. */
static double
graph_quantile(const struct graph_hyper *h, double q, bool complement)
{
    if (q > 0.5) {
        q = 1 - q;
        complement = !complement;
    }
    if (complement)
        return h->sampled - graph_quantile_impl(h, q, h->total - h->marked) - 1;
    return graph_quantile_impl(h, q, h->marked);
}

/* Threshold for degree k, or 0 when k does not qualify. */
static double
graph_check_degree(uint32_t n, uint32_t k, double gamma, double delta, enum secagg_threat threat)
{
    const double small = 1e-14;
    const double sec_per_event = 40 + 1; /* security 40 split over two bad events */
    const double corr = 20;
    double dn = n, dk = k;
    double adv = floor((gamma + small) * dn), drop = floor((delta + small) * dn);
    double bad = adv + drop;
    /* Union bound on the relabelled Harary graph losing connectivity. */
    if (dk <= bad) {
        double lp = log(dn) + log(dn - dk - 1) - log(2) + lgamma(bad + 1) + lgamma(dn - dk + 1) -
                    lgamma(dn + 1) - lgamma(bad - dk + 1);
        if (lp >= -sec_per_event * log(2))
            return 0;
    }
    double surv = ceil((1 - delta - small) * dn);
    struct graph_hyper hadv = { dn, adv, dk }, hsurv = { dn, surv, dk };
    double t1 = graph_quantile(&hadv, pow(2, -sec_per_event) / dn, true);
    double t2 = graph_quantile(&hsurv, pow(2, -corr) / dn, false);
    if (graph_cdf(&hsurv, t2) < pow(2, -corr) / dn)
        t2 += 1;
    if (threat == SECAGG_THREAT_SEMI_MALICIOUS)
        t1 = ceil((t1 + dk - 1.25) / 2);
    if (t2 <= t1)
        return 0;
    return fmax(t1 + 1, 2);
}

int
secagg_graph_harary_params(uint32_t *degree, uint32_t *t, uint32_t n, double gamma, double delta,
                           enum secagg_threat threat, struct errbuf *eb)
{
    if (n == 0 || n > SECAGG_WIRE_CLIENTS_MAX)
        return errbuf_set(eb, -ERR_INVALID, "secagg+: n = %u outside 1..%u", n,
                          SECAGG_WIRE_CLIENTS_MAX);
    if (!(gamma >= 0 && gamma < 1) || !(delta >= 0 && delta < 1))
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg+: rates must lie in [0, 1) (corruption %g, dropout %g)", gamma,
                          delta);
    if (threat == SECAGG_THREAT_CURIOUS && gamma + delta > 0.9)
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg+: corruption + dropout = %g > 0.9 is infeasible", gamma + delta);
    if (threat == SECAGG_THREAT_SEMI_MALICIOUS && gamma + 2 * delta > 0.9)
        return errbuf_set(eb, -ERR_INVALID,
                          "secagg+: corruption + 2 dropout = %g > 0.9 is infeasible",
                          gamma + 2 * delta);
    if (threat != SECAGG_THREAT_CURIOUS && threat != SECAGG_THREAT_SEMI_MALICIOUS)
        return errbuf_set(eb, -ERR_INVALID, "secagg+: unknown threat model %d", (int)threat);
    for (uint32_t k = 2; k + 1 < n; k += 2) {
        double thr = graph_check_degree(n, k, gamma, delta, threat);
        if (thr > 0) {
            *degree = k;
            *t = (uint32_t)thr;
            return 0;
        }
    }
    *degree = n - 1;
    *t = 0;
    return 1;
}

uint32_t
secagg_graph_complete_min_t(uint32_t n, double gamma, enum secagg_threat threat)
{
    double need =
        threat == SECAGG_THREAT_SEMI_MALICIOUS ? ((double)n + gamma * n) / 2.0 : gamma * (double)n;
    return (uint32_t)need + 1;
}

int
secagg_graph_check_threshold(uint32_t t, uint32_t n, bool harary, double gamma, double delta,
                             enum secagg_threat threat, struct errbuf *eb)
{
    const char *model = threat == SECAGG_THREAT_SEMI_MALICIOUS ? "semi-malicious" : "curious";
    if (harary) {
        uint32_t k = 0, rule = 0;
        int rc = secagg_graph_harary_params(&k, &rule, n, gamma, delta, threat, eb);
        if (rc < 0)
            return rc;
        if (rc == 0 && t < rule)
            return errbuf_set(eb, -ERR_RANGE,
                              "threshold %u below the SecAgg+ bound t >= %u (%s server, n = %u, "
                              "corruption %g, dropout %g: more than t - 1 of the k = %u "
                              "neighbours may be corrupt)",
                              t, rule, model, n, gamma, delta, k);
        if (rc == 0 && t > k + 1)
            return errbuf_set(eb, -ERR_RANGE,
                              "threshold %u above the SecAgg+ neighbourhood k + 1 = %u (n = %u)", t,
                              k + 1, n);
        if (rc == 0)
            return 0;
    }
    uint32_t lo = secagg_graph_complete_min_t(n, gamma, threat);
    if (t < lo)
        return errbuf_set(eb, -ERR_RANGE,
                          threat == SECAGG_THREAT_SEMI_MALICIOUS
                              ? "threshold %u violates 2t > n + corruption n, so t >= %u (%s "
                                "server, n = %u, corruption %g)"
                              : "threshold %u violates t > corruption n, so t >= %u (%s server, "
                                "n = %u, corruption %g)",
                          t, lo, model, n, gamma);
    if (t > n)
        return errbuf_set(eb, -ERR_RANGE, "threshold %u above the cohort n = %u", t, n);
    return 0;
}
