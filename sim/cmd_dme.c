/* cmd_dme: `fedbits dme`. Placeholder until the codec library lands (issue 3). */
#include "sim/cmd_codec.h"

#include <stdio.h>

int
cmd_dme(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "fedbits %s: no codecs are built into this version yet\n", argv[0]);
    return 2;
}
