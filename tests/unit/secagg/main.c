/* Test runner for secure aggregation (clients/secagg_client, aggregator/secagg_*, wire). */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/secagg/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { secagg_protocol_suite, secagg_faults_suite,
                                                 secagg_wire_suite,     secagg_graph_suite,
                                                 fixed_point_suite,     secagg_shard_suite,
                                                 secagg_bounds_suite,   NULL };
    return tsupport_main(suites);
}
