/* fuzz_scenario: the scenario loader (YAML parsing, overrides, validation) on any bytes. */
#include <string.h>

#include "base/mem.h"
#include "sim/scenario.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const sets[] = { "train.rounds=3", "uplink.codec=none" };
    for (size_t n_sets = 0; n_sets <= 2; n_sets += 2) {
        struct scenario s;
        struct errbuf eb;
        errbuf_clear(&eb);
        if (scenario_load(&s, "fuzz.yaml", (const char *)data, size, sets, n_sets, &eb) == 0) {
            char *json = scenario_to_json(&s);
            mem_free(json);
            scenario_release(&s);
        } else {
            char line[1024];
            errbuf_format(&eb, line, sizeof line);
        }
    }
    return 0;
}
