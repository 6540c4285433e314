/*
 * privacy_distributed: the per-round RDP bounds of the distributed discrete Gaussian and
 * Skellam mechanisms (sim/privacy_distributed.h), composed and converted as in
 * sim/privacy_accountant.c.
 */
#include "sim/privacy_distributed.h"

#include <math.h>
#include <stdbool.h>

#include "base/banned.h"

#define PD_Z_MAX 1e6
#define PD_PI    3.14159265358979323846

double
privacy_distributed_norm_bound(const struct privacy_distributed *m)
{
    double c = m->clip, g = m->gamma, d = m->dim;
    double loose = (c + g * sqrt(d)) * (c + g * sqrt(d));
    double b2 = loose;
    if (m->beta > 0.0) {
        double cond =
            c * c + g * g * d / 4.0 + sqrt(2.0 * log(1.0 / m->beta)) * g * (c + g * sqrt(d) / 2.0);
        b2 = cond < loose ? cond : loose;
    }
    return sqrt(b2) / g;
}

double
privacy_distributed_local(const struct privacy_distributed *m)
{
    double total = (m->noise * m->clip / m->gamma) * (m->noise * m->clip / m->gamma);
    double var = total / m->clients;
    return m->mechanism == PRIVACY_SKELLAM ? var / 2.0 : var;
}

static int
pd_check(const struct privacy_distributed *m, struct errbuf *eb)
{
    if (m->mechanism != PRIVACY_DDGAUSS && m->mechanism != PRIVACY_SKELLAM)
        return errbuf_set(eb, -ERR_INVALID, "not a distributed mechanism");
    if (!(m->clip > 0.0 && m->gamma > 0.0 && m->dim >= 1.0 && m->clients >= 1.0 &&
          m->noise > 0.0) ||
        !isfinite(m->clip / m->gamma) || !isfinite(m->noise))
        return errbuf_set(eb, -ERR_INVALID,
                          "distributed DP needs positive clip, granularity, dimension, clients "
                          "and noise");
    if (!(m->sampling_rate >= 0.0 && m->sampling_rate <= 1.0))
        return errbuf_set(eb, -ERR_INVALID, "sampling rate %g is not in [0, 1]", m->sampling_rate);
    if (!(m->beta >= 0.0 && m->beta < 1.0))
        return errbuf_set(eb, -ERR_INVALID, "rounding bias %g is not in [0, 1)", m->beta);
    if (m->mechanism == PRIVACY_DDGAUSS && privacy_distributed_local(m) < 0.25)
        return errbuf_set(eb, -ERR_INVALID,
                          "each client's discrete Gaussian has variance %g grid units, below "
                          "the 1/4 its bound assumes: lower the granularity or raise the noise",
                          privacy_distributed_local(m));
    return 0;
}

/*
 * Kairouz, Liu, Steinke (ICML 2021), Prop. 14: with n clients each adding N_Z(0, s2),
 * tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 s2 k/(k+1)), D2, D1 the sensitivities (grid units):
 * RDP(alpha) <= min{ alpha D2^2/(2 n s2) + tau d,
 *                    alpha/2 (D2^2/(n s2) + 2 D1 tau/sqrt(n s2) + tau^2 d),
 *                    alpha/2 (D2/sqrt(n s2) + tau sqrt(d))^2 }.
 */
static double
pd_ddgauss_tau(const struct privacy_distributed *m)
{
    double s2 = privacy_distributed_local(m), tau = 0.0;
    for (double k = 1; k < m->clients; k++) {
        double t = exp(-2.0 * PD_PI * PD_PI * s2 * k / (k + 1.0));
        tau += t;
        if (t < 1e-300)
            break; /* the terms only shrink as k grows */
    }
    return 10.0 * tau;
}

static double
pd_ddgauss(const struct privacy_distributed *m, double tau, double alpha)
{
    double s2 = privacy_distributed_local(m), n = m->clients, d = m->dim;
    double d2 = privacy_distributed_norm_bound(m);
    double d1 = fmin(d2 * d2, sqrt(d) * d2);
    double ns2 = n * s2;
    double b1 = alpha * d2 * d2 / (2.0 * ns2) + tau * d;
    double b2 = alpha / 2.0 * (d2 * d2 / ns2 + 2.0 * d1 * tau / sqrt(ns2) + tau * tau * d);
    double r3 = d2 / sqrt(ns2) + tau * sqrt(d);
    double b3 = alpha / 2.0 * r3 * r3;
    return fmin(b1, fmin(b2, b3));
}

/*
 * Agarwal, Kairouz, Liu (NeurIPS 2021), Thm. 3.5: noise Sk(M) on the sum (M = n mu), integer
 * alpha > 1: RDP(alpha) <= alpha D2^2/(4M) + min(((2 alpha - 1) D2^2 + 6 D1)/(16 M^2),
 * 3 D1/(4M)).
 */
static double
pd_skellam(const struct privacy_distributed *m, double alpha)
{
    if (alpha != floor(alpha))
        return INFINITY;
    double big = m->clients * privacy_distributed_local(m);
    double d2 = privacy_distributed_norm_bound(m);
    double d1 = fmin(d2 * d2, sqrt(m->dim) * d2);
    double corr = fmin(((2.0 * alpha - 1.0) * d2 * d2 + 6.0 * d1) / (16.0 * big * big),
                       3.0 * d1 / (4.0 * big));
    return alpha * d2 * d2 / (4.0 * big) + corr;
}

/* Whether Poisson sampling amplifies the rounds. */
static bool
pd_amplified(const struct privacy_distributed *m)
{
    return m->sampling_rate > 0.0 && m->sampling_rate < 1.0;
}

/* The unamplified bound at the integer orders 2..top into base[2..top] (tau computed once). */
static void
pd_base(const struct privacy_distributed *m, unsigned top, double *base)
{
    double tau = m->mechanism == PRIVACY_DDGAUSS ? pd_ddgauss_tau(m) : 0.0;
    base[0] = base[1] = 0.0;
    for (unsigned l = 2; l <= top; l++)
        base[l] = m->mechanism == PRIVACY_DDGAUSS ? pd_ddgauss(m, tau, l) : pd_skellam(m, l);
}

/* The round's RDP at orders[i] (i < n) into rdp[i], the base bound computed once. */
static int
pd_rdp_orders(const struct privacy_distributed *m, const double *orders, size_t n, double *rdp,
              struct errbuf *eb)
{
    int rc = pd_check(m, eb);
    if (rc < 0)
        return rc;
    double top = 2.0;
    for (size_t i = 0; i < n; i++) {
        if (!(orders[i] > 1.0) || !isfinite(orders[i]))
            return errbuf_set(eb, -ERR_INVALID, "Renyi order %g is not above 1", orders[i]);
        top = orders[i] > top ? orders[i] : top;
    }
    if (!pd_amplified(m)) {
        double tau = m->mechanism == PRIVACY_DDGAUSS ? pd_ddgauss_tau(m) : 0.0;
        for (size_t i = 0; i < n; i++)
            rdp[i] = m->mechanism == PRIVACY_DDGAUSS ? pd_ddgauss(m, tau, orders[i])
                                                     : pd_skellam(m, orders[i]);
        return 0;
    }
    double base[PRIVACY_ACCOUNTANT_MAX_ORDER + 1];
    unsigned hi = top < PRIVACY_ACCOUNTANT_MAX_ORDER ? (unsigned)top : PRIVACY_ACCOUNTANT_MAX_ORDER;
    pd_base(m, hi, base);
    for (size_t i = 0; i < n; i++) {
        rdp[i] = INFINITY; /* fractional (or beyond the largest) orders: not amplified */
        if (orders[i] == floor(orders[i]) && orders[i] <= PRIVACY_ACCOUNTANT_MAX_ORDER) {
            rc = privacy_accountant_amplified_rdp(m->sampling_rate, (unsigned)orders[i], base,
                                                  &rdp[i], eb);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int
privacy_distributed_rdp(const struct privacy_distributed *m, double alpha, double *rdp,
                        struct errbuf *eb)
{
    return pd_rdp_orders(m, &alpha, 1, rdp, eb);
}

int
privacy_distributed_epsilon(const struct privacy_distributed *m, double rounds, double delta,
                            double *epsilon, double *order, struct errbuf *eb)
{
    if (!(rounds >= 0.0) || !isfinite(rounds))
        return errbuf_set(eb, -ERR_INVALID, "rounds %g is not a non-negative number", rounds);
    size_t n;
    const double *orders = privacy_accountant_orders(&n);
    double rdp[PRIVACY_ACCOUNTANT_N_ORDERS];
    int rc = pd_rdp_orders(m, orders, n, rdp, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        rdp[i] = rounds > 0.0 ? rdp[i] * rounds : 0.0;
    return privacy_accountant_epsilon_of_rdp(orders, rdp, n, delta, epsilon, order, eb);
}

/* A mechanism's epsilon as a function of its noise multiplier alone. */
struct pd_search {
    struct privacy_distributed m;
    double rounds, delta;
};

/* Too little noise for the bound to apply counts as an infinite epsilon (-ERR_RANGE). */
static int
pd_epsilon_at(void *ctx, double z, double *epsilon, struct errbuf *eb)
{
    struct pd_search *p = ctx;
    p->m.noise = z;
    struct errbuf scratch;
    if (pd_check(&p->m, &scratch) < 0)
        return -ERR_RANGE;
    return privacy_distributed_epsilon(&p->m, p->rounds, p->delta, epsilon, NULL, eb);
}

int
privacy_distributed_noise_for(const struct privacy_distributed *m, double rounds, double delta,
                              double target, double *z, struct errbuf *eb)
{
    struct pd_search p = { *m, rounds, delta };
    p.m.noise = PD_Z_MAX;
    int rc = pd_check(&p.m, eb); /* parameters wrong whatever the noise */
    if (rc < 0)
        return rc;
    return privacy_accountant_smallest_noise(pd_epsilon_at, &p, target, z, eb);
}

int
privacy_distributed_granularity(const struct privacy_distributed *m, unsigned bits, double *gamma,
                                struct errbuf *eb)
{
    double k = PRIVACY_DISTRIBUTED_WRAP_SIGMAS, n = m->clients, c = m->clip;
    double ring = ldexp(1.0, (int)bits);
    double room = ring * ring / (4.0 * k * k) - n / 4.0;
    if (!(room > 0.0))
        return errbuf_set(eb, -ERR_RANGE,
                          "a ring of %u bits cannot hold the sum of %g clients' rounding noise "
                          "with %g standard deviations to spare",
                          bits, n, k);
    double need = (c * n) * (c * n) / m->dim + (m->noise * c) * (m->noise * c);
    *gamma = sqrt(need / room);
    return 0;
}

int
privacy_distributed_calibrate(struct privacy_distributed *m, unsigned bits, double rounds,
                              double delta, double target, struct errbuf *eb)
{
    if (target > 0.0 && bits > 0)
        m->noise = 1.0;
    for (int it = 0; it < 100; it++) {
        if (bits > 0) {
            int rc = privacy_distributed_granularity(m, bits, &m->gamma, eb);
            if (rc < 0)
                return rc;
        }
        if (!(target > 0.0))
            return 0;
        double z;
        int rc = privacy_distributed_noise_for(m, rounds, delta, target, &z, eb);
        if (rc < 0)
            return rc;
        bool settled = fabs(z - m->noise) <= 1e-9 * z;
        m->noise = z;
        if (bits == 0 || settled)
            return 0;
    }
    return 0;
}
