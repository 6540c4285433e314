/*
 * fuzz_secagg_msg: the secure-aggregation wire parser on hostile bytes. Byte 0 picks the
 * message type and the threat model; the rest is parsed under a fixed round configuration.
 */
#include "crypto/secagg_wire.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct secagg_params p = {
        .graph = SECAGG_GRAPH_COMPLETE,
        .n = 5,
        .t = 3,
        .degree = 4,
        .ring_bits = 20,
        .value_bits = 16,
        .threat = (data[0] & 0x80) ? SECAGG_THREAT_SEMI_MALICIOUS : SECAGG_THREAT_CURIOUS,
        .masks = SECAGG_MASKS_FULL,
        .session = 7,
        .seed = 1,
        .round = 3,
        .m = 9,
    };
    enum secagg_wire_type type = (enum secagg_wire_type)(1 + data[0] % 10);
    struct secagg_wire_msg msg;
    if (secagg_wire_parse(&msg, data + 1, size - 1, type, &p, NULL) == 0)
        (void)msg.count1;
    return 0;
}
