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
#include "fedbits_config.h"
#include "sim/run_int.h"
#include "sim/store.h"
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
fz_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes run 1's identity (header offsets 48 to 184, see run_checkpoint.c) and reseals. */
static void
fz_stamp(struct run_world *w, unsigned char *p, size_t len)
{
    if (len < 184)
        return;
    char *id = scenario_identity(w->s);
    if (id == NULL)
        return;
    char hash[STORE_CONFIG_HASH_HEX];
    store_config_hash(hash, id);
    mem_free(id);
    fz_le64(p + 48, 1);
    memcpy(p + 56, hash, 32);
    run_checkpoint_data_fingerprint(w->ds, p + 88);
    memset(p + 120, 0, 32);
    memcpy(p + 120, FEDBITS_VERSION, strlen(FEDBITS_VERSION) < 31 ? strlen(FEDBITS_VERSION) : 31);
    fz_le64(p + 160, w->dim);
    fz_le64(p + 168, w->n_jobs);
    fz_le64(p + 176, w->ds->n_clients);
    run_checkpoint_seal(p, len);
}

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
        if (stamp)
            fz_stamp(&w, p, len);
        uint64_t round = 0;
        for (int i = 0; len >= 160 && i < 8; i++)
            round |= (uint64_t)p[152 + i] << (8 * i);
        struct run_summary sum = { 0 };
        int rc = run_checkpoint_load(&w, &sum, p, len, round, &eb);
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
