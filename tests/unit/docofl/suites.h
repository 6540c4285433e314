/* The Check suites of the DoCoFL modules (codec/entropy, codec/ecuq, docofl server+client),
 * and the vector generators they share (test_ecuq.c). */
#ifndef FEDBITS_TESTS_UNIT_DOCOFL_SUITES_H
#define FEDBITS_TESTS_UNIT_DOCOFL_SUITES_H
#include <check.h>
#include <stddef.h>
#include <stdint.h>
Suite *entropy_suite(void);
Suite *ecuq_suite(void);
Suite *docofl_suite(void);

/* x[0..d) ~ N(0, 1) from the test stream (seed, RNG_PURPOSE_TEST, trial, 0). */
void tdocofl_gaussian(float *x, size_t d, uint64_t seed, uint64_t trial);
/*
 * A trained-model-like vector: most weights 0.05·t_3 (heavy-tailed Student t), 1 % larger
 * "bias-like" entries N(0.2, 0.5²), and a few exact zeros (dead units), as in a trained MLP.
 */
void tdocofl_model_like(float *x, size_t d, uint64_t seed, uint64_t trial);
/* CRC-32 (IEEE), to forge messages whose CRC is right but whose content is not. */
uint32_t tdocofl_crc32(const uint8_t *p, size_t n);
#endif
