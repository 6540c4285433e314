/* The Check suites of the clients library, one per module. */
#ifndef FEDBITS_TESTS_UNIT_CLIENTS_SUITES_H
#define FEDBITS_TESTS_UNIT_CLIENTS_SUITES_H
#include <check.h>
Suite *dataset_suite(void);
Suite *synthetic_suite(void);
Suite *model_suite(void);
Suite *trainer_suite(void);
#endif
