/*
 * privacy_distributed: the Rényi-DP accountant of the distributed mechanisms that add noise
 * on the clients, inside secure aggregation (docs/privacy.md):
 *
 * - the distributed discrete Gaussian (Kairouz, Liu, Steinke, "The Distributed Discrete
 *   Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021): each of
 *   n clients adds N_Z(0, s2) per coordinate (grid units) to its rounded vector; the sum's
 *   RDP is bounded by their Prop. 14 (the three-way minimum with the tau term that measures
 *   how far a sum of discrete Gaussians is from one);
 * - Skellam (Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private
 *   Federated Learning", NeurIPS 2021, Thm. 3.5 with Cor. 3.6): each client adds Sk(mu), the
 *   sum carries Sk(n mu) exactly, RDP alpha D2^2/(4 n mu) plus a correction in D1, D2.
 *
 * Sensitivities are those of one client's vector after clipping to c, scaling by 1/gamma and
 * conditional randomised rounding with bias beta (Kairouz et al., Thm. 1 eq. (2)); the L1
 * sensitivity is min(D2^2, sqrt(d) D2), since the vector is an integer one. Neighbouring
 * inputs differ in one client's vector (its noise still enters the sum), as in both papers.
 * With sampling_rate 0 (or 1) no amplification by subsampling is applied: each round is
 * charged as if every client took part. With a Poisson sampling rate q in (0, 1) the round's
 * bound is amplified by privacy_accountant_amplified_rdp() (Zhu and Wang, ICML 2019, Thm. 6)
 * at the integer orders; the fractional orders are then left out (infinite). docs/privacy.md
 * states which neighbouring relation this assumes.
 *
 * Pure functions; (epsilon, delta) through privacy_accountant_epsilon_of_rdp().
 */
#ifndef FEDBITS_SIM_PRIVACY_DISTRIBUTED_H
#define FEDBITS_SIM_PRIVACY_DISTRIBUTED_H

#include <stddef.h>

#include "base/errbuf.h"
#include "sim/privacy_accountant.h"

/* Tail allowance of the derived granularity: the sum stays inside the ring with a margin of
 * this many standard deviations per coordinate (privacy_distributed_granularity()). */
#define PRIVACY_DISTRIBUTED_WRAP_SIGMAS 4.0

/* One round of a distributed mechanism. */
struct privacy_distributed {
    int mechanism;  /* PRIVACY_DDGAUSS or PRIVACY_SKELLAM */
    double clip;    /* L2 clip c of each client's update */
    double gamma;   /* granularity: the grid step */
    double beta;    /* conditional rounding bias in [0, 1); 0: the unconditional bound */
    double dim;     /* d: coordinates after padding to the rotation's length */
    double clients; /* n: clients whose noise enters the sum */
    double noise;   /* z: the sum of n clients' noise has standard deviation z c per coordinate */
    double sampling_rate; /* q of Poisson sampling, amplifying each round; 0 or 1: none */
};

/*
 * The L2 bound, in grid units, of one client's rounded vector (Kairouz et al., Thm. 1 eq. (2)
 * divided by gamma): sqrt(min(c^2 + gamma^2 d/4 + sqrt(2 log(1/beta)) gamma (c + gamma sqrt(d)/2),
 * (c + gamma sqrt(d))^2)) / gamma; the second term alone when beta = 0.
 */
double privacy_distributed_norm_bound(const struct privacy_distributed *m);

/* Each client's noise parameter in grid units: the variance s2 of N_Z(0, s2) for ddgauss,
 * the Poisson mean mu of Sk(mu) (variance 2 mu) for skellam; (z c / gamma)^2 / n in total. */
double privacy_distributed_local(const struct privacy_distributed *m);

/*
 * The RDP of order alpha > 1 of one round into *rdp (+inf where the bound does not apply:
 * fractional orders for Skellam, whose theorem is for integer orders, and for either
 * mechanism with a sampling rate in (0, 1)). -ERR_INVALID for
 * parameters outside their ranges, or a local discrete Gaussian below s2 = 1/4 (Prop. 14
 * assumes sigma >= 1/2).
 */
int privacy_distributed_rdp(const struct privacy_distributed *m, double alpha, double *rdp,
                            struct errbuf *eb);

/* epsilon at delta after `rounds` rounds over privacy_accountant_orders(); *order (may be
 * NULL) gets the minimising order. */
int privacy_distributed_epsilon(const struct privacy_distributed *m, double rounds, double delta,
                                double *epsilon, double *order, struct errbuf *eb);

/* The smallest noise multiplier z (relative 1e-9, rounded up) with epsilon <= target;
 * m->noise is ignored. -ERR_RANGE when none up to 1e6 reaches it. */
int privacy_distributed_noise_for(const struct privacy_distributed *m, double rounds, double delta,
                                  double target, double *z, struct errbuf *eb);

/*
 * The granularity that keeps the sum of n clients within a ring of `bits` bits with
 * PRIVACY_DISTRIBUTED_WRAP_SIGMAS standard deviations to spare, the rule of Kairouz et al.
 * §5 for a flat rotated vector: 2^bits = 2 k sqrt((c n)^2/d + n gamma^2/4 + (z c)^2) / gamma,
 * solved for gamma (m->gamma ignored). -ERR_RANGE when 2^bits <= k sqrt(n).
 */
int privacy_distributed_granularity(const struct privacy_distributed *m, unsigned bits,
                                    double *gamma, struct errbuf *eb);

/*
 * Fills what is left open in m: with bits > 0 the granularity (for the noise), with
 * target > 0 the noise multiplier reaching epsilon <= target after `rounds` at delta (for
 * the granularity); both: alternates the two until the noise settles (relative 1e-9, at most
 * 100 times) and returns the last pair, whose epsilon is at most target.
 */
int privacy_distributed_calibrate(struct privacy_distributed *m, unsigned bits, double rounds,
                                  double delta, double target, struct errbuf *eb);

#endif
