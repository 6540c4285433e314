/* Test runner for fedbits_base. */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { errbuf_suite,  mem_suite,     rng_suite,
                                                 bitpack_suite, simtime_suite, strbuf_suite,
                                                 le_suite,      json_suite,    file_suite,
                                                 dgauss_suite,  NULL };
    return tsupport_main(suites);
}
