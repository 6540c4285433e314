/* fuzz_sweep: the sweep parser (grid/zip sections, override strings, locations) on any bytes. */
#include <string.h>

#include "sim/sweep.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sweep sw;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (sweep_parse(&sw, "fuzz.yaml", (const char *)data, size, &eb) == 0) {
        /* Touch every override so a bad pointer or length shows under the sanitizers. */
        size_t total = 0;
        for (size_t i = 0; i < sw.n; i++)
            for (size_t k = 0; k < sw.n_keys; k++)
                total += strlen(sw.sets[i][k]) + (size_t)(sw.lines[i * sw.n_keys + k] > 0);
        total += sw.label_keys != NULL ? strlen(sw.label_keys) : 0;
        (void)total;
        sweep_release(&sw);
    } else {
        char line[1024];
        errbuf_format(&eb, line, sizeof line);
    }
    return 0;
}
