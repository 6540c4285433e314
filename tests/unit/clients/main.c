/* Test runner for fedbits_clients. */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = {
        dataset_suite,
        synthetic_suite,
        model_suite,
        trainer_suite,
        idx_suite,
        csv_suite,
        partition_suite,
        fashion_mnist_suite,
        leaf_synthetic_suite,
        data_source_suite,
        layer_suite,
        cifar_suite,
        leaf_json_suite,
        net_memory_suite,
        rnn_step_suite,
        NULL,
    };
    return tsupport_main(suites);
}
