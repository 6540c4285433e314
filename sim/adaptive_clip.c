/*
 * adaptive_clip: the geometric clip update and the noise split of Andrew et al., NeurIPS
 * 2021 (Alg. 1, Thm. 1); sim/adaptive_clip.h states the contract.
 */
#include "sim/adaptive_clip.h"

#include <math.h>

#include "base/banned.h"

/*
 * Thm. 1: the count's sensitivity is 1/2, so noise σ_b on it is a noise multiplier 2σ_b; a
 * Gaussian mechanism on the concatenation (sum, count) with multipliers z_Δ and 2σ_b has
 * multiplier z with z⁻² = z_Δ⁻² + (2σ_b)⁻².
 */
int
adaptive_clip_noise_multiplier(double z, double count_sd, double *z_update, struct errbuf *eb)
{
    if (!(z > 0) || !(count_sd > z / 2))
        return errbuf_set(eb, -ERR_INVALID,
                          "adaptive clipping needs count noise above half the noise multiplier "
                          "(%g <= %g / 2): the count would spend the whole budget",
                          count_sd, z);
    double two_sb = 2.0 * count_sd;
    *z_update = 1.0 / sqrt(1.0 / (z * z) - 1.0 / (two_sb * two_sb));
    return 0;
}

double
adaptive_clip_fraction(size_t n_under, size_t n, double noise, double m)
{
    double centred = (double)n_under - 0.5 * (double)n;
    return 0.5 + (centred + noise) / m;
}

double
adaptive_clip_next(double clip, double fraction, double quantile, double lr)
{
    return clip * exp(-lr * (fraction - quantile));
}
