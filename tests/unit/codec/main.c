/* Test runner for fedbits_codec. */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

int
main(void)
{
    static tsupport_suite_fn *const suites[] = {
        rht_suite,         lloyd_max_suite,    eden_suite,   quicfl_suite,
        baselines_suite,   codec_suite,        blocks_suite, packing_suite,
        every_codec_suite, fused_decode_suite, NULL
    };
    return tsupport_main(suites);
}
