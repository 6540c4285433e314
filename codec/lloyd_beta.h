/*
 * lloyd_beta: Lloyd–Max quantisers for one coordinate of a uniformly random rotation, the
 * exact finite-dimensional codebook of EDEN and TurboQuant_mse (EDEN, ICML 2022, §4;
 * TurboQuant's Lemma 1).
 *
 * If y is uniform on the sphere of R^D (a uniform rotation of any vector, or an RHT of a
 * Gaussian vector), t = y_i/‖y‖ has density ∝ (1 − t²)^((D−3)/2) on [−1, 1], i.e.
 * (t + 1)/2 ~ Beta((D−1)/2, (D−1)/2), and z = √D·t tends to N(0,1). lloyd_beta_solve()
 * runs Lloyd's iteration on the law of z (cell masses from GSL's incomplete Beta function,
 * first moments in closed form) from the Gaussian codebook (codec/lloyd_max.h) until no
 * centroid moves by more than 1e-13 (for very large D, until moves below 1e-10 stop shrinking:
 * the incomplete Beta function's rounding noise). The result is in the same N(0,1)-like units and
 * the same layout as lloyd_max_half(). Pure function; allocates nothing; thread-safe.
 */
#ifndef FEDBITS_CODEC_LLOYD_BETA_H
#define FEDBITS_CODEC_LLOYD_BETA_H

#include <stddef.h>

#define LLOYD_BETA_MAX_BITS 6     /* Lloyd's iteration is too slow to converge beyond */
#define LLOYD_BETA_MAX_DIM  65536 /* beyond, the law is N(0,1) to rounding noise */

/*
 * Writes the 2^(b−1) positive centroids for b = 1..LLOYD_BETA_MAX_BITS bits and dimension
 * 3 <= D <= LLOYD_BETA_MAX_DIM into half; returns the distortion E(Z − Q(Z))², or a negative value
 * if the iteration did not converge.
 */
double lloyd_beta_solve(double *half, unsigned b, size_t D);

#endif
