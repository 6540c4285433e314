/* The Check suites of the base library, one per module. */
#ifndef FEDBITS_TESTS_UNIT_BASE_SUITES_H
#define FEDBITS_TESTS_UNIT_BASE_SUITES_H
#include <check.h>
Suite *errbuf_suite(void);
Suite *mem_suite(void);
Suite *rng_suite(void);
Suite *bitpack_suite(void);
Suite *simtime_suite(void);
Suite *strbuf_suite(void);
Suite *le_suite(void);
Suite *json_suite(void);
Suite *file_suite(void);
Suite *dgauss_suite(void);
#endif
