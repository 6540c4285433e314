/*
 * privacy_accountant: RDP of the Poisson-subsampled Gaussian (Mironov, Talwar, Zhang 2019),
 * composition and the (epsilon, delta) conversion of Canonne, Kamath, Steinke (NeurIPS 2020).
 *
 * With mu0 = N(0, z^2) and mu1 = N(1, z^2), one round's RDP of order alpha is
 * log(A_alpha) / (alpha - 1), A_alpha = E_{mu0}[((1 - q) + q mu1/mu0)^alpha]
 * (Mironov et al., Theorem 4 and §3.1: the pair (mu0, mixture) is the worst case).
 */
#include "sim/privacy_accountant.h"

#include <math.h>
#include <stdbool.h>

#include <gsl/gsl_sf_erf.h>
#include <gsl/gsl_sf_gamma.h>

#include "base/banned.h"

/* Terms of the fractional series below exp(-PA_SERIES_TAIL) times the sum end it. */
#define PA_SERIES_TAIL 40.0
#define PA_SERIES_MAX  200000
/* The noise multipliers privacy_accountant_noise_for() searches. */
#define PA_Z_MIN 1e-3
#define PA_Z_MAX 1e6

/*
 * 1 + k/8 for k = 1..72 (1.125 to 10), every integer 11..64, then 72, 80, 96, 112, 128, 160,
 * 192, 256, 384, 512, 768 and 1024 (docs/privacy.md).
 */
#define PA_N_FRAC   72
#define PA_N_INT    54
#define PA_N_LARGE  12
#define PA_N_ORDERS (PA_N_FRAC + PA_N_INT + PA_N_LARGE)
_Static_assert(PA_N_ORDERS == PRIVACY_ACCOUNTANT_N_ORDERS, "the order count in the header");

static const double pa_orders[PA_N_ORDERS] = {
#define PA_F(k) 1.0 + (k) / 8.0
    PA_F(1),  PA_F(2),  PA_F(3),  PA_F(4),  PA_F(5),  PA_F(6),  PA_F(7),  PA_F(8),  PA_F(9),
    PA_F(10), PA_F(11), PA_F(12), PA_F(13), PA_F(14), PA_F(15), PA_F(16), PA_F(17), PA_F(18),
    PA_F(19), PA_F(20), PA_F(21), PA_F(22), PA_F(23), PA_F(24), PA_F(25), PA_F(26), PA_F(27),
    PA_F(28), PA_F(29), PA_F(30), PA_F(31), PA_F(32), PA_F(33), PA_F(34), PA_F(35), PA_F(36),
    PA_F(37), PA_F(38), PA_F(39), PA_F(40), PA_F(41), PA_F(42), PA_F(43), PA_F(44), PA_F(45),
    PA_F(46), PA_F(47), PA_F(48), PA_F(49), PA_F(50), PA_F(51), PA_F(52), PA_F(53), PA_F(54),
    PA_F(55), PA_F(56), PA_F(57), PA_F(58), PA_F(59), PA_F(60), PA_F(61), PA_F(62), PA_F(63),
    PA_F(64), PA_F(65), PA_F(66), PA_F(67), PA_F(68), PA_F(69), PA_F(70), PA_F(71), PA_F(72),
#undef PA_F
    11,       12,       13,       14,       15,       16,       17,       18,       19,
    20,       21,       22,       23,       24,       25,       26,       27,       28,
    29,       30,       31,       32,       33,       34,       35,       36,       37,
    38,       39,       40,       41,       42,       43,       44,       45,       46,
    47,       48,       49,       50,       51,       52,       53,       54,       55,
    56,       57,       58,       59,       60,       61,       62,       63,       64,
    72,       80,       96,       112,      128,      160,      192,      256,      384,
    512,      768,      1024,
};

const double *
privacy_accountant_orders(size_t *n)
{
    *n = PA_N_ORDERS;
    return pa_orders;
}

/* log(exp(a) + exp(b)), exact for -inf arguments. */
static double
pa_log_add(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log1p(exp(lo - hi));
}

/*
 * log A_alpha for integer alpha (Mironov et al. §3.2): the binomial expansion of
 * ((1 - q) + q mu1/mu0)^alpha, with E_{mu0}[(mu1/mu0)^k] = exp((k^2 - k) / (2 z^2)).
 * Two passes (the largest term, then the scaled sum) so no term overflows.
 */
static double
pa_log_a_int(double q, double z, unsigned alpha)
{
    double lq = log(q), l1q = log1p(-q), inv = 1.0 / (2.0 * z * z);
    double top = -INFINITY;
    for (unsigned k = 0; k <= alpha; k++) {
        double t = gsl_sf_lnchoose(alpha, k) + (double)(alpha - k) * l1q + (double)k * lq +
                   ((double)k * k - k) * inv;
        if (t > top)
            top = t;
    }
    double sum = 0.0;
    for (unsigned k = 0; k <= alpha; k++) {
        double t = gsl_sf_lnchoose(alpha, k) + (double)(alpha - k) * l1q + (double)k * lq +
                   ((double)k * k - k) * inv;
        sum += exp(t - top);
    }
    return top + log(sum);
}

/*
 * log A_alpha for real alpha (Mironov et al. §3.3). The line splits at
 * z0 = z^2 log(1/q - 1) + 1/2, where q mu1 = (1 - q) mu0; below it A's integrand is expanded
 * in powers of q mu1 / ((1 - q) mu0), above it in powers of (1 - q) mu0 / (q mu1). Term i
 * of the two series is C(alpha, i) times
 *   (1-q)^(alpha-i) q^i exp((i^2-i)/(2z^2)) erfc((i - z0)/(sqrt2 z)) / 2         and
 *   q^(alpha-i) (1-q)^i exp((j^2-j)/(2z^2)) erfc((z0 - j)/(sqrt2 z)) / 2, j = alpha - i.
 * C(alpha, i) changes sign past alpha, so positive and negative terms are summed apart.
 * Returns NAN when the series has not converged after PA_SERIES_MAX terms.
 */
static double
pa_log_a_frac(double q, double z, double alpha)
{
    double lq = log(q), l1q = log1p(-q), inv = 1.0 / (2.0 * z * z);
    double z0 = z * z * log(1.0 / q - 1.0) + 0.5, scale = sqrt(2.0) * z;
    double pos = -INFINITY, neg = -INFINITY;
    double log_c = 0.0; /* log |C(alpha, i)| */
    int sign = 1;
    for (long i = 0; i < PA_SERIES_MAX; i++) {
        double fi = (double)i, j = alpha - fi;
        double s0 = log_c + j * l1q + fi * lq + (fi * fi - fi) * inv - log(2.0) +
                    gsl_sf_log_erfc((fi - z0) / scale);
        double s1 = log_c + j * lq + fi * l1q + (j * j - j) * inv - log(2.0) +
                    gsl_sf_log_erfc((z0 - j) / scale);
        double s = pa_log_add(s0, s1);
        if (sign > 0)
            pos = pa_log_add(pos, s);
        else
            neg = pa_log_add(neg, s);
        if (fi > alpha && s < pos - PA_SERIES_TAIL)
            return pos + log1p(-exp(neg - pos));
        /* C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1) */
        if (j == 0.0)
            return pos + log1p(-exp(neg - pos));
        log_c += log(fabs(j)) - log(fi + 1.0);
        if (j < 0.0)
            sign = -sign;
    }
    return NAN;
}

int
privacy_accountant_rdp(double q, double z, double alpha, double *rdp, struct errbuf *eb)
{
    if (!(q >= 0.0 && q <= 1.0))
        return errbuf_set(eb, -ERR_INVALID, "sampling rate %g is not in [0, 1]", q);
    if (!(z > 0.0) || !isfinite(z))
        return errbuf_set(eb, -ERR_INVALID, "noise multiplier %g is not positive", z);
    if (!(alpha > 1.0) || !isfinite(alpha))
        return errbuf_set(eb, -ERR_INVALID, "Renyi order %g is not above 1", alpha);
    if (q == 0.0) {
        *rdp = 0.0;
        return 0;
    }
    if (q == 1.0) { /* the Gaussian mechanism itself: alpha / (2 z^2) */
        *rdp = alpha / (2.0 * z * z);
        return 0;
    }
    double log_a;
    if (alpha == floor(alpha) && alpha <= 1e6) {
        log_a = pa_log_a_int(q, z, (unsigned)alpha);
    } else {
        log_a = pa_log_a_frac(q, z, alpha);
        if (isnan(log_a))
            return errbuf_set(eb, -ERR_RANGE,
                              "RDP series of order %g did not converge (q %g, noise %g)", alpha, q,
                              z);
    }
    /* rounding may leave log A a hair below 0 when q is tiny; RDP is non-negative */
    *rdp = log_a > 0.0 ? log_a / (alpha - 1.0) : 0.0;
    return 0;
}

int
privacy_accountant_epsilon_of_rdp(const double *orders, const double *rdp, size_t n, double delta,
                                  double *epsilon, double *order, struct errbuf *eb)
{
    if (!(delta > 0.0 && delta < 1.0))
        return errbuf_set(eb, -ERR_INVALID, "delta %g is not in (0, 1)", delta);
    double best = INFINITY, best_order = NAN;
    for (size_t i = 0; i < n; i++) {
        double a = orders[i];
        if (!isfinite(rdp[i]))
            continue;
        if (rdp[i] == 0.0) { /* identical distributions: nothing is released */
            best = 0.0;
            best_order = a;
            break;
        }
        /* Canonne, Kamath, Steinke (NeurIPS 2020), Prop. 12 */
        double e = rdp[i] + log1p(-1.0 / a) - (log(delta) + log(a)) / (a - 1.0);
        if (e < best) {
            best = e;
            best_order = a;
        }
    }
    if (!isfinite(best))
        return errbuf_set(eb, -ERR_RANGE, "every Renyi order's divergence is infinite");
    *epsilon = best > 0.0 ? best : 0.0;
    if (order != NULL)
        *order = best_order;
    return 0;
}

int
privacy_accountant_epsilon(double q, double z, double rounds, double delta, double *epsilon,
                           double *order, struct errbuf *eb)
{
    if (!(rounds >= 0.0) || !isfinite(rounds))
        return errbuf_set(eb, -ERR_INVALID, "rounds %g is not a non-negative number", rounds);
    double rdp[PA_N_ORDERS];
    for (size_t i = 0; i < PA_N_ORDERS; i++) {
        int rc = privacy_accountant_rdp(q, z, pa_orders[i], &rdp[i], eb);
        if (rc < 0)
            return rc;
        rdp[i] = rdp[i] * rounds; /* RDP composes additively (Mironov, CSF 2017, Prop. 1) */
    }
    return privacy_accountant_epsilon_of_rdp(pa_orders, rdp, PA_N_ORDERS, delta, epsilon, order,
                                             eb);
}

/* epsilon(z) <= target; an infinite epsilon (every order overflowed) is not. */
static int
pa_reaches(privacy_accountant_epsilon_fn *fn, void *ctx, double z, double target, bool *yes,
           struct errbuf *eb)
{
    double e;
    int rc = fn(ctx, z, &e, eb);
    if (rc == -ERR_RANGE) {
        errbuf_clear(eb);
        *yes = false;
        return 0;
    }
    if (rc < 0)
        return rc;
    *yes = e <= target;
    return 0;
}

/* The Poisson-subsampled Gaussian's epsilon as a function of z alone. */
struct pa_gaussian {
    double q, rounds, delta;
};

static int
pa_gaussian_epsilon(void *ctx, double z, double *epsilon, struct errbuf *eb)
{
    const struct pa_gaussian *g = ctx;
    return privacy_accountant_epsilon(g->q, z, g->rounds, g->delta, epsilon, NULL, eb);
}

int
privacy_accountant_noise_for(double q, double rounds, double delta, double target, double *z,
                             struct errbuf *eb)
{
    struct pa_gaussian g = { q, rounds, delta };
    return privacy_accountant_smallest_noise(pa_gaussian_epsilon, &g, target, z, eb);
}

int
privacy_accountant_smallest_noise(privacy_accountant_epsilon_fn *fn, void *ctx, double target,
                                  double *z, struct errbuf *eb)
{
    if (!(target > 0.0) || !isfinite(target))
        return errbuf_set(eb, -ERR_INVALID, "target epsilon %g is not positive", target);
    /* epsilon falls as z grows (each order's RDP does): bracket, then bisect */
    double hi = 1.0, lo;
    bool yes;
    int rc = pa_reaches(fn, ctx, hi, target, &yes, eb);
    if (rc < 0)
        return rc;
    while (!yes) {
        if (hi >= PA_Z_MAX)
            return errbuf_set(eb, -ERR_RANGE, "no noise multiplier up to %g reaches epsilon %g",
                              PA_Z_MAX, target);
        hi *= 2.0;
        if ((rc = pa_reaches(fn, ctx, hi, target, &yes, eb)) < 0)
            return rc;
    }
    for (lo = hi / 2.0;; lo /= 2.0) {
        if (lo < PA_Z_MIN) {
            *z = hi;
            return 0;
        }
        if ((rc = pa_reaches(fn, ctx, lo, target, &yes, eb)) < 0)
            return rc;
        if (!yes)
            break;
        hi = lo;
    }
    while ((hi - lo) > 1e-9 * hi) {
        double mid = 0.5 * (lo + hi);
        if ((rc = pa_reaches(fn, ctx, mid, target, &yes, eb)) < 0)
            return rc;
        if (yes)
            hi = mid;
        else
            lo = mid;
    }
    *z = hi;
    return 0;
}

/*
 * Zhu and Wang (ICML 2019), Thm. 6, in log space: term l = 1 stands for the l = 0, 1 part
 * (1-q)^(alpha-1) (1 + (alpha-1) q), then l = 2 with weight 1 and l >= 3 with weight 3.
 */
static double
pa_zw_term(unsigned alpha, unsigned l, double q, const double *base)
{
    double a = alpha, lq = log(q), l1q = log1p(-q);
    if (l == 1)
        return (a - 1.0) * l1q + log1p((a - 1.0) * q);
    return (l > 2 ? log(3.0) : 0.0) + gsl_sf_lnchoose(alpha, l) + l * lq + (a - l) * l1q +
           (l - 1.0) * base[l];
}

int
privacy_accountant_amplified_rdp(double q, unsigned alpha, const double *base, double *rdp,
                                 struct errbuf *eb)
{
    if (!(q >= 0.0 && q <= 1.0))
        return errbuf_set(eb, -ERR_INVALID, "sampling rate %g is not in [0, 1]", q);
    if (alpha < 2 || alpha > PRIVACY_ACCOUNTANT_MAX_ORDER)
        return errbuf_set(eb, -ERR_INVALID, "order %u is not an integer in [2, %d]", alpha,
                          PRIVACY_ACCOUNTANT_MAX_ORDER);
    for (unsigned l = 2; l <= alpha; l++)
        if (!(base[l] >= 0.0))
            return errbuf_set(eb, -ERR_INVALID, "base RDP %g at order %u is not >= 0", base[l], l);
    if (q == 0.0) {
        *rdp = 0.0;
        return 0;
    }
    *rdp = base[alpha];
    if (q == 1.0 || !isfinite(base[alpha]))
        return 0;
    double hi = -INFINITY;
    for (unsigned l = 1; l <= alpha; l++) {
        double t = pa_zw_term(alpha, l, q, base);
        hi = t > hi ? t : hi;
    }
    if (!isfinite(hi))
        return 0; /* some base[l], l < alpha, infinite: only the base bound is left */
    double sum = 0.0;
    for (unsigned l = 1; l <= alpha; l++)
        sum += exp(pa_zw_term(alpha, l, q, base) - hi);
    double r = (hi + log(sum)) / ((double)alpha - 1.0);
    if (r < *rdp)
        *rdp = r;
    return 0;
}
