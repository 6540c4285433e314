/* The Check suites of the secure-aggregation tests. */
#ifndef FEDBITS_TESTS_UNIT_SECAGG_SUITES_H
#define FEDBITS_TESTS_UNIT_SECAGG_SUITES_H

#include <check.h>

Suite *secagg_protocol_suite(void);
Suite *secagg_faults_suite(void);
Suite *secagg_wire_suite(void);
Suite *secagg_graph_suite(void);
Suite *fixed_point_suite(void);
Suite *secagg_shard_suite(void);
Suite *secagg_bounds_suite(void);

#endif
