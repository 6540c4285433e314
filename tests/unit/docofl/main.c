/* Test runner for the DoCoFL modules (codec/entropy, codec/ecuq, codec/docofl_wire,
 * aggregator/docofl, clients/docofl_client). */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/docofl/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { entropy_suite, ecuq_suite, docofl_suite, NULL };
    return tsupport_main(suites);
}
