/* The Check suites of the clients library, one per module. */
#ifndef FEDBITS_TESTS_UNIT_CLIENTS_SUITES_H
#define FEDBITS_TESTS_UNIT_CLIENTS_SUITES_H
#include <check.h>
Suite *dataset_suite(void);
Suite *synthetic_suite(void);
Suite *model_suite(void);
Suite *trainer_suite(void);
Suite *idx_suite(void);
Suite *csv_suite(void);
Suite *partition_suite(void);
Suite *fashion_mnist_suite(void);
Suite *leaf_synthetic_suite(void);
Suite *data_source_suite(void);
Suite *layer_suite(void);
Suite *cifar_suite(void);
Suite *leaf_json_suite(void);
Suite *net_memory_suite(void);
Suite *rnn_step_suite(void);
#endif
