/*
 * fuzz_trace: the population trace readers (compute, network and availability traces, see
 * docs/population.md) on any bytes. Each input is written to a temporary file, read as each
 * of the three kinds of trace, and on success a few clients' attributes, transfer times and
 * availabilities are queried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/population.h"
#include "tests/fuzz/fuzz.h"

static void
fuzz_trace_params(struct population_params *p)
{
    memset(p, 0, sizeof *p);
    p->compute = POPULATION_CONSTANT;
    p->seconds_per_sample = 0.01;
    p->network = POPULATION_NETWORK_CONSTANT;
    p->downlink_mbps = 6.0;
    p->uplink_mbps = 4.5;
    p->latency_ms = 20.0;
    p->availability = POPULATION_ALWAYS;
    p->availability_p = 1.0;
    p->diurnal_period_s = 86400.0;
}

static void
fuzz_trace_query(const struct population *pop, size_t n)
{
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        sum += population_seconds_per_sample(pop, k) + population_downlink_mbps(pop, k) +
               population_uplink_mbps(pop, k) + population_dropout_p(pop, k);
        sum += (double)population_transfer_us(pop, k, 1, k % 2 == 0, 8000000);
        sum += (double)population_compute_us(pop, k, 600.0);
        for (int64_t t = 0; t < 3 * 86400000000LL; t += 7200000000LL)
            sum += population_available(pop, k, 1, t) ? 1.0 : 0.0;
    }
    (void)sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/fedbits-fuzz-trace-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    FILE *f = fdopen(fd, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    for (int kind = 0; kind < 3; kind++) {
        /* A path is read only when its section's model is a trace. */
        struct population_params p;
        fuzz_trace_params(&p);
        snprintf(p.compute_trace, sizeof p.compute_trace, "%s", path);
        snprintf(p.network_trace, sizeof p.network_trace, "%s", path);
        snprintf(p.availability_trace, sizeof p.availability_trace, "%s", path);
        p.compute = kind == 0 ? POPULATION_TRACE : POPULATION_CONSTANT;
        p.network = kind == 1 ? POPULATION_NETWORK_TRACE : POPULATION_NETWORK_CONSTANT;
        p.availability = kind == 2 ? POPULATION_AVAILABILITY_TRACE : POPULATION_ALWAYS;
        struct population *pop = NULL;
        struct errbuf eb;
        errbuf_clear(&eb);
        size_t n = 5;
        if (population_new(&pop, &p, n, 7, &eb) == 0) {
            fuzz_trace_query(pop, n);
            population_free(pop);
        } else {
            char line[1024];
            errbuf_format(&eb, line, sizeof line);
        }
    }
    unlink(path);
    return 0;
}
