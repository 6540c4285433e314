/*
 * lloyd_max: the Lloyd–Max (MSE-optimal scalar) quantisers of N(0,1) that EDEN, DRIVE's
 * b-bit relatives and TurboQuant use in the rotated domain (Lloyd, IEEE Trans. Inf.
 * Theory 1982; Max, IRE Trans. Inf. Theory 1960; EDEN, Vargaftik et al., ICML 2022, §4).
 *
 * The 2^b-level quantiser is symmetric: lloyd_max_half(b) returns its 2^(b-1) positive
 * centroids in increasing order (the negative half is their mirror image); boundaries are 0
 * and the midpoints of adjacent centroids. The tables are static constants computed by
 * tools/gen_tables.c with GSL and committed as codec/lloyd_max.c (the command that
 * regenerates them is in that file's header); nothing is computed at run time. Returned
 * pointers are valid for the life of the program. Thread-safe.
 */
#ifndef FEDBITS_CODEC_LLOYD_MAX_H
#define FEDBITS_CODEC_LLOYD_MAX_H

#define LLOYD_MAX_MAX_BITS 8

/* The 2^(b-1) positive centroids for b = 1..LLOYD_MAX_MAX_BITS. */
const double *lloyd_max_half(unsigned b);
/* D_b = E(Z - Q_b(Z))^2 for Z ~ N(0,1), b = 1..LLOYD_MAX_MAX_BITS (0 for b = 0). */
double lloyd_max_distortion(unsigned b);

#endif
