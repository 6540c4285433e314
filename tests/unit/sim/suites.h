/* The Check suites of the sim library, one per module. */
#ifndef FEDBITS_TESTS_UNIT_SIM_SUITES_H
#define FEDBITS_TESTS_UNIT_SIM_SUITES_H
#include <check.h>
Suite *event_queue_suite(void);
Suite *ynode_suite(void);
Suite *scenario_suite(void);
Suite *store_suite(void);
Suite *run_suite(void);
Suite *oom_suite(void);
Suite *campaign_suite(void);
Suite *sweep_suite(void);
Suite *population_suite(void);
Suite *cluster_suite(void);
Suite *checkpoint_suite(void);
Suite *privacy_accountant_suite(void);
Suite *privacy_distributed_suite(void);
Suite *sampling_suite(void);
Suite *carriage_suite(void);
/* The cohort tests (test_cohort.c), run within population_suite(). */
TCase *cohort_tcase(void);
/* The adaptive clipping tests (test_adaptive_clip.c), run within privacy_accountant_suite(). */
TCase *adaptive_clip_tcase(void);
#endif
