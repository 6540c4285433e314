/* Test runner for fedbits_codec; meson runs it as shards (tests/unit/codec/meson.build). */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

int
main(int argc, char **argv)
{
    /* Shard k of n runs the entries i % n == k: the slowest suites (rht, every_codec,
     * quicfl_digest, eden_speed) sit at indices 0, 1, 2, 3. */
    static tsupport_suite_fn *const suites[] = {
        rht_suite,
        every_codec_suite,
        quicfl_digest_suite,
        eden_speed_suite,
        eden_suite,
        codec_suite,
        lloyd_max_suite,
        quicfl_suite,
        baselines_suite,
        blocks_suite,
        packing_suite,
        randk_suite,
        kashin_suite,
        fused_decode_suite,
        eden_quant_suite,
        eden_frac_suite,
        eden_direct_suite,
        thc_speed_suite,
        NULL,
    };
    return tsupport_main_shard(suites, argc, argv);
}
