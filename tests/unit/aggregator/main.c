/* Test runner for fedbits_aggregator. */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/aggregator/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { exact_sum_suite, fedavg_suite, server_opt_suite,
                                                 NULL };
    return tsupport_main(suites);
}
