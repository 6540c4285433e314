/*
 * fuzz_checkpoint: the checkpoint loader (sim/run_checkpoint.c) on any bytes. Each input is
 * loaded twice, each time into a fresh world of the scenario below (the one the corpus was
 * written by): as it comes, where the frame, checksum and identity checks must refuse
 * anything damaged; and with this run's identity stamped into its header and resealed, so
 * that the body's own bounds checks are what stands between the bytes and the world.
 */
#include <string.h>

#include "aggregator/fedavg.h"
#include "base/mem.h"
#include "sim/run_int.h"
#include "tests/fuzz/fuzz.h"

/* Async with error feedback and FedAdam: jobs in flight, residuals and optimizer state. */
static const char fz_scenario[] = "name: fuzz-checkpoint\n"
                                  "seed: 3\n"
                                  "data: {dataset: synthetic_iid, clients: 12}\n"
                                  "model: {type: logreg}\n"
                                  "train: {rounds: 4, batch_size: 10, lr: 0.05}\n"
                                  "uplink: {codec: eden, bits: 2, error_feedback: true}\n"
                                  "server: {optimizer: fedadam, lr: 0.01}\n"
                                  "protocol: {type: async, concurrency: 4, buffer_size: 2}\n"
                                  "output: {db: fuzz.db, checkpoint_every: 1}\n";

static void
fz_load(const struct scenario *s, unsigned char *p, size_t len, bool stamp)
{
    struct run_options o = { .threads = 1 };
    struct run_world w = { .s = s, .run_id = 1, .o = &o, .open = { .round = 1 }, .root = true };
    struct errbuf eb;
    errbuf_clear(&eb);
    if (run_world_init(&w, &eb) == 0) {
        w.open.rec.round = 1;
        fedavg_begin(w.model.agg);
        int rc = stamp ? run_checkpoint_stamp(&w, p, len, &eb) : 0;
        /* The round it claims (header offset 152, little-endian). */
        uint64_t round = 0;
        for (int i = 0; len >= 160 && i < 8; i++)
            round |= (uint64_t)p[152 + i] << (8 * i);
        struct run_summary sum = { 0 };
        if (rc == 0)
            rc = run_checkpoint_load(&w, &sum, p, len, round, &eb);
        (void)rc; /* refused or accepted: either is fine, as long as nothing breaks */
    }
    run_world_release(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (scenario_load(&s, "fuzz.yaml", fz_scenario, strlen(fz_scenario), NULL, 0, &eb) < 0)
        return 0;
    unsigned char *p = mem_alloc(size + 1);
    if (p != NULL) {
        memcpy(p, data, size);
        fz_load(&s, p, size, false);
        fz_load(&s, p, size, true);
        mem_free(p);
    }
    scenario_release(&s);
    return 0;
}
