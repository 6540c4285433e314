/*
 * adaptive_clip: the clip norm of DP-FedAvg that follows a quantile of the clients' update
 * norms (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private Learning with Adaptive
 * Clipping", NeurIPS 2021, Alg. 1 and Thm. 1; docs/privacy.md).
 *
 * Each round, every client whose update enters the sum also reports b = [‖Δ‖₂ ≤ C], centred
 * as b − 1/2 so that one client moves the count by at most 1/2. The server adds N(0, σ_b²) to
 * the sum of the centred bits and divides by the expected cohort m:
 *
 *     b̄ = 1/2 + (Σ (b_k − 1/2) + N(0, σ_b²)) / m,      C ← C · exp(−η_C (b̄ − γ))
 *
 * (the geometric update), so C rises while fewer than a fraction γ of the updates fit under
 * it and falls while more do. Releasing the count costs privacy too: the update's noise
 * multiplier becomes z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2), and the pair (noised sum, noised count)
 * is then exactly as private as one Gaussian mechanism of noise multiplier z (Thm. 1), which
 * is what the accountant charges.
 *
 * Pure functions of their arguments: no state, no allocation, thread-safe, deterministic.
 */
#ifndef FEDBITS_SIM_ADAPTIVE_CLIP_H
#define FEDBITS_SIM_ADAPTIVE_CLIP_H

#include <stddef.h>

#include "base/errbuf.h"

/*
 * The update's noise multiplier z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) that, with count noise σ_b on
 * the centred count, spends what noise multiplier z > 0 alone would; into *z_update.
 * -ERR_INVALID unless σ_b > z / 2 (at or below it the count alone spends the whole budget).
 */
int adaptive_clip_noise_multiplier(double z, double count_sd, double *z_update, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * The noised fraction b̄ = 1/2 + (n_under − n/2 + noise) / m of n updates of which n_under
 * were within the clip, with count noise `noise` (a draw of N(0, σ_b²)) and expected
 * cohort m > 0.
 */
double adaptive_clip_fraction(size_t n_under, size_t n, double noise, double m);

/* The next clip C · exp(−lr (fraction − quantile)). */
double adaptive_clip_next(double clip, double fraction, double quantile, double lr);

#endif
