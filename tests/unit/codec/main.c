/* Test runner for fedbits_codec; meson runs it as shards (tests/unit/codec/meson.build). */
#include <stdlib.h>

#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

int
main(int argc, char **argv)
{
    static tsupport_suite_fn *const suites[] = {
        rht_suite,        lloyd_max_suite,     eden_suite,    quicfl_suite,       baselines_suite,
        codec_suite,      blocks_suite,        packing_suite, every_codec_suite,  randk_suite,
        eden_speed_suite, quicfl_digest_suite, kashin_suite,  fused_decode_suite, NULL
    };
    return tsupport_main_shard(suites, argc, argv);
}
