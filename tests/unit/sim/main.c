/* Test runner for fedbits_sim. */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { event_queue_suite,
                                                 ynode_suite,
                                                 scenario_suite,
                                                 store_suite,
                                                 run_suite,
                                                 oom_suite,
                                                 campaign_suite,
                                                 sweep_suite,
                                                 population_suite,
                                                 cluster_suite,
                                                 checkpoint_suite,
                                                 privacy_accountant_suite,
                                                 sampling_suite,
                                                 carriage_suite,
                                                 privacy_distributed_suite,
                                                 NULL };
    return tsupport_main(suites);
}
