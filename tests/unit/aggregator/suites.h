/* The Check suites of the aggregator library, one per module. */
#ifndef FEDBITS_TESTS_UNIT_AGGREGATOR_SUITES_H
#define FEDBITS_TESTS_UNIT_AGGREGATOR_SUITES_H
#include <check.h>
Suite *exact_sum_suite(void);
Suite *fedavg_suite(void);
Suite *server_opt_suite(void);
#endif
