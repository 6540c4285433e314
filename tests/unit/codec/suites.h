/* The Check suites of the codec library, one per module, and the shared helpers. */
#ifndef FEDBITS_TESTS_UNIT_CODEC_SUITES_H
#define FEDBITS_TESTS_UNIT_CODEC_SUITES_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

Suite *rht_suite(void);
Suite *lloyd_max_suite(void);
Suite *eden_suite(void);
Suite *quicfl_suite(void);
Suite *quicfl_digest_suite(void);
Suite *baselines_suite(void);
Suite *codec_suite(void);
Suite *blocks_suite(void);
Suite *packing_suite(void);
Suite *every_codec_suite(void);
Suite *randk_suite(void);
Suite *eden_speed_suite(void);
Suite *kashin_suite(void);
Suite *fused_decode_suite(void);
Suite *eden_quant_suite(void);
Suite *eden_frac_suite(void);
Suite *eden_direct_suite(void);
Suite *thc_speed_suite(void);

enum tdme_dist { TDME_NORMAL, TDME_LOGNORMAL, TDME_EXPONENTIAL };

/* Result of a small mean-estimation run (the unit-test twin of `fedbits dme`). */
struct tdme {
    double vnmse, vnmse_se; /* mean over trials of the mean over clients, and its se */
    double nmse, nmse_se;   /* error of the decoded mean, normalised by mean ‖x_c‖² */
    double bytes;           /* mean message length */
};

/* Runs trials of n clients (same vector or independent) through codec p at dimension d. */
struct tdme tdme_run(const struct codec_params *p, size_t d, enum tdme_dist dist, size_t n,
                     int same_vector, size_t trials, unsigned long seed);
/* Fills x[0..d) with N(0.25, 1) draws of the test stream (seed, key): an off-centre vector. */
void tdme_fill(float *x, size_t d, uint64_t seed, uint64_t key);
/* h after FNV-1a over the n bytes at p (offset basis 14695981039346656037 to start). */
uint64_t tdme_fnv1a(uint64_t h, const void *p, size_t n);
/* Fills p for kind and bits with the other fields at their defaults. */
void tdme_params(struct codec_params *p, enum codec_kind kind, double bits);

#endif
