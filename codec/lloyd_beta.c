/* lloyd_beta: Lloyd–Max for the shifted Beta law of a rotated coordinate. See lloyd_beta.h. */
#include "codec/lloyd_beta.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <stdbool.h>

#include "codec/lloyd_max.h"
#include "base/banned.h"

#define LLOYD_BETA_MAX_HALF  (1u << (LLOYD_BETA_MAX_BITS - 1))
#define LLOYD_BETA_TOL       1e-13
#define LLOYD_BETA_MAX_ITERS 200000
#define LLOYD_BETA_NOISE     1e-10 /* moves this small that stop shrinking are rounding noise */
#define LLOYD_BETA_PATIENCE  1000

/* The law of z = √D·t, t = y_i/‖y‖, (t + 1)/2 ~ Beta(α, α), α = (D − 1)/2. */
struct lloyd_beta_law {
    double D, alpha;
    double log_norm; /* log ∫_{−1}^{1} (1 − t²)^(α−1) dt = (2α − 1) log 2 + log B(α, α) */
};

/* P(Z > z) for z >= 0. */
static double
lloyd_beta_upper(const struct lloyd_beta_law *law, double z)
{
    double t = z / sqrt(law->D);
    if (t >= 1.0)
        return 0.0;
    return gsl_cdf_beta_Q(0.5 * (t + 1.0), law->alpha, law->alpha);
}

/* E[Z; Z > z] for z >= 0: √D·(1 − t²)^α / (2α·norm). */
static double
lloyd_beta_upper_moment(const struct lloyd_beta_law *law, double z)
{
    double t = z / sqrt(law->D);
    if (t >= 1.0)
        return 0.0;
    double lg = law->alpha * log1p(-t * t) - log(2.0 * law->alpha) - law->log_norm;
    return sqrt(law->D) * exp(lg);
}

double
lloyd_beta_solve(double *half, unsigned b, size_t D)
{
    if (b < 1 || b > LLOYD_BETA_MAX_BITS || D < 3 || D > LLOYD_BETA_MAX_DIM)
        return -1.0;
    struct lloyd_beta_law law = { .D = (double)D, .alpha = 0.5 * ((double)D - 1.0) };
    law.log_norm = (2.0 * law.alpha - 1.0) * M_LN2 + gsl_sf_lnbeta(law.alpha, law.alpha);
    unsigned K = 1u << (b - 1);
    const double *gauss = lloyd_max_half(b);
    double top = sqrt(law.D);
    for (unsigned k = 0; k < K; k++)
        half[k] = fmin(gauss[k], top * (1.0 - 1e-9)); /* keep inside the support */
    double q[LLOYD_BETA_MAX_HALF + 1], m[LLOYD_BETA_MAX_HALF + 1];
    double best_move = HUGE_VAL;
    long best_it = 0;
    for (long it = 0; it < LLOYD_BETA_MAX_ITERS; it++) {
        /* Upper tail mass and moment at each boundary: 0, midpoints, +inf. */
        for (unsigned k = 0; k <= K; k++) {
            double z = k == 0 ? 0.0 : k == K ? top : 0.5 * (half[k - 1] + half[k]);
            q[k] = lloyd_beta_upper(&law, z);
            m[k] = lloyd_beta_upper_moment(&law, z);
        }
        double move = 0;
        for (unsigned k = 0; k < K; k++) {
            double mass = q[k] - q[k + 1];
            double c = mass > 0 ? (m[k] - m[k + 1]) / mass : half[k];
            move = fmax(move, fabs(c - half[k]));
            half[k] = c;
        }
        if (move < best_move) {
            best_move = move;
            best_it = it;
        }
        bool stalled = best_move < LLOYD_BETA_NOISE && it - best_it > LLOYD_BETA_PATIENCE;
        if (move < LLOYD_BETA_TOL || stalled) {
            /* D = E[Z²] − E[Q²] = 1 − 2 Σ mass_k c_k² (E[Z²] = 1 exactly). */
            double eq2 = 0;
            for (unsigned k = 0; k < K; k++) {
                double lo = k == 0 ? 0.0 : 0.5 * (half[k - 1] + half[k]);
                double hi = k + 1 < K ? 0.5 * (half[k] + half[k + 1]) : top;
                eq2 += 2.0 * (lloyd_beta_upper(&law, lo) - lloyd_beta_upper(&law, hi)) * half[k] *
                       half[k];
            }
            return 1.0 - eq2;
        }
    }
    return -1.0;
}
