/*
 * privacy_accountant: the Rényi-DP accountant of the Poisson-subsampled Gaussian mechanism,
 * composed over rounds and converted to (epsilon, delta) (docs/privacy.md).
 *
 * One round samples each client independently with probability q and adds Gaussian noise of
 * standard deviation z times the L2 sensitivity to the sum (DP-FedAvg, McMahan et al., ICLR
 * 2018). Its Rényi divergence of order alpha is that of Mironov, Talwar and Zhang, "Rényi
 * Differential Privacy of the Sampled Gaussian Mechanism" (2019): the binomial sum of their
 * §3.2 for integer orders and the two erfc-weighted series of §3.3 for fractional orders, both
 * evaluated in log space on GSL's special functions. RDP composes additively over T rounds;
 * (epsilon, delta) follows from Canonne, Kamath and Steinke, "The Discrete Gaussian for
 * Differential Privacy" (NeurIPS 2020), Prop. 12:
 *
 *     epsilon = min over alpha of  T·RDP(alpha) + log((alpha-1)/alpha) - (log delta + log
 * alpha)/(alpha-1)
 *
 * taken over the fixed order set privacy_accountant_orders() (stated in docs/privacy.md).
 *
 * Pure functions of their arguments: no state, no allocation, thread-safe, deterministic.
 */
#ifndef FEDBITS_SIM_PRIVACY_ACCOUNTANT_H
#define FEDBITS_SIM_PRIVACY_ACCOUNTANT_H

#include <stddef.h>

#include "base/errbuf.h"

/* Scenario key privacy.mechanism. */
enum privacy_mechanism {
    PRIVACY_NONE = 0,
    PRIVACY_CENTRAL = 1, /* DP-FedAvg: clip, server Gaussian noise (McMahan et al., ICLR 2018) */
    PRIVACY_DDGAUSS =
        2, /* distributed discrete Gaussian under SecAgg (sim/privacy_distributed.h) */
    PRIVACY_SKELLAM = 3, /* distributed Skellam under SecAgg (sim/privacy_distributed.h) */
};

/* How many orders privacy_accountant_orders() has. */
#define PRIVACY_ACCOUNTANT_N_ORDERS 138

/* The Rényi orders the accountant minimises over (ascending, all > 1); *n is their count. */
const double *privacy_accountant_orders(size_t *n);

/*
 * The RDP of one round of the Poisson-subsampled Gaussian with sampling rate q in [0, 1] and
 * noise multiplier z > 0, at order alpha > 1, into *rdp (may be +inf when it overflows).
 * -ERR_INVALID for parameters outside those ranges; -ERR_RANGE when the fractional series
 * does not converge.
 */
int privacy_accountant_rdp(double q, double z, double alpha, double *rdp, struct errbuf *eb);

/*
 * The epsilon at delta in (0, 1) of total RDP curve rdp[i] at orders[i] (i < n), by the
 * conversion of Canonne, Kamath and Steinke (Prop. 12), never below 0; *order gets the
 * minimising order. -ERR_RANGE when every order's RDP is infinite.
 */
int privacy_accountant_epsilon_of_rdp(const double *orders, const double *rdp, size_t n,
                                      double delta, double *epsilon, double *order,
                                      struct errbuf *eb);

/*
 * epsilon after rounds compositions of the subsampled Gaussian (q, z) at delta, over the
 * order set; *order (may be NULL) gets the minimising order.
 */
int privacy_accountant_epsilon(double q, double z, double rounds, double delta, double *epsilon,
                               double *order, struct errbuf *eb);

/*
 * The smallest noise multiplier z (to a relative 1e-9, rounded up) whose epsilon after rounds
 * at delta is at most target. -ERR_RANGE when no z up to 1e6 reaches it.
 */
int privacy_accountant_noise_for(double q, double rounds, double delta, double target, double *z,
                                 struct errbuf *eb);

/* epsilon at noise multiplier z into *epsilon; -ERR_RANGE means "infinite" (not reached). */
typedef int privacy_accountant_epsilon_fn(void *ctx, double z, double *epsilon, struct errbuf *eb);

/*
 * The same search for any mechanism whose epsilon falls as z grows: the smallest z (relative
 * 1e-9, rounded up) with fn(ctx, z) <= target. -ERR_RANGE when no z up to 1e6 reaches it.
 */
int privacy_accountant_smallest_noise(privacy_accountant_epsilon_fn *fn, void *ctx, double target,
                                      double *z, struct errbuf *eb);

/* The largest order privacy_accountant_amplified_rdp() takes (the largest of the set). */
#define PRIVACY_ACCOUNTANT_MAX_ORDER 1024

/*
 * Amplification by Poisson sampling of any mechanism, at integer order alpha in
 * [2, PRIVACY_ACCOUNTANT_MAX_ORDER]: base[l] (l = 2..alpha) is the mechanism's RDP of order l
 * for add/remove neighbours (base[0], base[1] unused), q in [0, 1] the sampling rate. The
 * upper bound of Zhu and Wang, "Poisson Subsampled Rényi Differential Privacy" (ICML 2019),
 * Thm. 6:
 *
 *     RDP(alpha) <= log( (1-q)^(alpha-1) (1 + (alpha-1) q) + C(alpha,2) q^2 (1-q)^(alpha-2)
 *                        e^base[2] + 3 sum_{l=3}^{alpha} C(alpha,l) q^l (1-q)^(alpha-l)
 *                        e^((l-1) base[l]) ) / (alpha - 1),
 *
 * in log space, and never above base[alpha] (a Poisson sample is a mixture of the mechanism's
 * outputs; joint convexity). q = 0 gives 0, q = 1 base[alpha].
 */
int privacy_accountant_amplified_rdp(double q, unsigned alpha, const double *base, double *rdp,
                                     struct errbuf *eb);

#endif
