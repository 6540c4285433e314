/* Test runner for fedbits_crypto. */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = { kdf_suite,  kx_suite,     ring_suite,
                                                 prg_suite,  shamir_suite, envelope_suite,
                                                 sign_suite, NULL };
    return tsupport_main(suites);
}
