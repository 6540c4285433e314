/*
 * run_checkpoint: save -> load -> save gives the same bytes (sync with optimizer state and
 * residuals, async with jobs in flight); every single-byte flip and every truncation is
 * refused; a checkpoint of another run, configuration, round, data or fedbits version is
 * refused with a message naming the field; the first, unversioned format is refused with its
 * format version. And the identity hash runs are matched on (runs.config_hash).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/fedavg.h"
#include "base/mem.h"
#include "fedbits_config.h"
#include "sim/run_int.h"
#include "sim/store.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

/* 20 clients, 5 per round, 3 rounds of FedAvg on Synthetic-IID, a checkpoint every round. */
static const char ck_tiny[] = "name: tiny\n"
                              "seed: 5\n"
                              "data: {dataset: synthetic_iid, clients: 20}\n"
                              "model: {type: logreg}\n"
                              "train: {rounds: 3, clients_per_round: 5, batch_size: 10, lr: 0.05}\n"
                              "output: {db: unused.db, checkpoint_every: 1}\n";

static const char *const ck_sync[] = { "uplink.codec=eden", "uplink.error_feedback=true",
                                       "server.optimizer=fedadam", "server.lr=0.01" };
static const char *const ck_async[] = { "protocol.type=async", "protocol.concurrency=6",
                                        "protocol.buffer_size=3" };

/* A world built as run_execute() builds it, before its first event. */
struct ck_world {
    struct scenario s;
    struct run_options o;
    struct run_world w;
};

static void
ck_world_init(struct ck_world *cw, const char *const *sets, size_t n_sets, int64_t run_id)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = scenario_load(&cw->s, "tiny.yaml", ck_tiny, strlen(ck_tiny), sets, n_sets, &eb);
    ck_assert_msg(rc == 0, "scenario: %s", eb.msg);
    cw->o = (struct run_options){ .threads = 1 };
    cw->w = (struct run_world){
        .s = &cw->s, .run_id = run_id, .o = &cw->o, .open = { .round = 1 }, .root = true
    };
    rc = run_world_init(&cw->w, &eb);
    ck_assert_msg(rc == 0, "world: %s", eb.msg);
    cw->w.open.rec.round = 1;
    fedavg_begin(cw->w.model.agg);
}

static void
ck_world_release(struct ck_world *cw)
{
    run_world_release(&cw->w);
    scenario_release(&cw->s);
}

/* Runs the tiny scenario with sets as run 1 of a fresh database; returns the checkpoint taken
 * after round 2 (owned, mem_free). */
static unsigned char *
ck_checkpoint(const char *const *sets, size_t n_sets, size_t *len)
{
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/ck.db", dir);
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(scenario_load(&s, "tiny.yaml", ck_tiny, strlen(ck_tiny), sets, n_sets, &eb),
                     0);
    struct store *st = NULL;
    ck_assert_int_eq(store_open(&st, path, &eb), 0);
    struct store_run_info info = { .name = s.name,
                                   .scenario_text = s.source_text,
                                   .config_json = "{}",
                                   .seed = s.seed,
                                   .version = "test",
                                   .started_at = "2026-01-01T00:00:00Z" };
    int64_t run_id = 0;
    ck_assert_int_eq(store_begin_run(st, &info, &run_id, &eb), 0);
    ck_assert_int_eq(run_id, 1);
    struct run_options o = { .threads = 1 };
    struct run_summary sum;
    int rc = run_execute(&s, st, run_id, &o, &sum, &eb);
    ck_assert_msg(rc == 0, "run: %s", eb.msg);
    unsigned char *state = NULL;
    uint64_t round = 0;
    ck_assert_int_eq(store_load_checkpoint(st, run_id, &state, len, &round, &eb), 0);
    ck_assert_ptr_nonnull(state);
    ck_assert_uint_eq(round, 2);
    store_close(st);
    scenario_release(&s);
    tsupport_rmtree(dir);
    free(dir);
    return state;
}

/* Loads p into a fresh world of the scenario the checkpoint came from (+ extra sets). */
static int
ck_load(const char *const *sets, size_t n_sets, int64_t run_id, uint64_t round,
        const unsigned char *p, size_t len, struct errbuf *eb)
{
    struct ck_world cw;
    ck_world_init(&cw, sets, n_sets, run_id);
    struct run_summary sum = { 0 };
    errbuf_clear(eb);
    int rc = run_checkpoint_load(&cw.w, &sum, p, len, round, eb);
    ck_world_release(&cw);
    return rc;
}

static void
ck_round_trip(const char *const *sets, size_t n_sets)
{
    size_t len = 0;
    unsigned char *a = ck_checkpoint(sets, n_sets, &len);
    struct ck_world cw;
    ck_world_init(&cw, sets, n_sets, 1);
    struct run_summary sum = { 0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = run_checkpoint_load(&cw.w, &sum, a, len, 2, &eb);
    ck_assert_msg(rc == 0, "load: %s", eb.msg);
    ck_assert_uint_eq(sum.rounds, 2);
    ck_assert_uint_eq(cw.w.open.round, 3);
    unsigned char *b = NULL;
    size_t b_len = 0;
    ck_assert_int_eq(run_checkpoint_save(&cw.w, &sum, &b, &b_len, &eb), 0);
    ck_assert_uint_eq(b_len, len);
    for (size_t i = 0; i < len; i++)
        ck_assert_msg(a[i] == b[i], "byte %zu of %zu differs after save -> load -> save", i, len);
    mem_free(b);
    ck_world_release(&cw);
    mem_free(a);
}

START_TEST(round_trip_sync)
{
    ck_round_trip(ck_sync, 4);
}
END_TEST

START_TEST(round_trip_async)
{
    size_t len = 0;
    unsigned char *a = ck_checkpoint(ck_async, 3, &len);
    /* Jobs in flight: their updates and messages make it larger than the sync one. */
    size_t sync_len = 0;
    unsigned char *s = ck_checkpoint(NULL, 0, &sync_len);
    ck_assert_uint_gt(len, sync_len);
    mem_free(s);
    mem_free(a);
    ck_round_trip(ck_async, 3);
}
END_TEST

/* Every single-byte change anywhere is refused, and nothing else is: the checksum covers all
 * bytes but the checksum, which is itself compared. */
START_TEST(every_byte_flip_is_refused)
{
    size_t len = 0;
    unsigned char *p = ck_checkpoint(NULL, 0, &len);
    struct ck_world cw;
    ck_world_init(&cw, NULL, 0, 1);
    struct errbuf eb;
    struct run_summary sum = { 0 };
    errbuf_clear(&eb);
    ck_assert_int_eq(run_checkpoint_check(&cw.w, p, len, 2, &eb), 0);
    static const unsigned char masks[] = { 0x01, 0x80, 0xff };
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            p[i] ^= masks[m];
            errbuf_clear(&eb);
            /* Refused before the world is touched, so one world serves every flip. */
            int rc = run_checkpoint_load(&cw.w, &sum, p, len, 2, &eb);
            ck_assert_msg(rc == -ERR_CORRUPT, "flip 0x%02x at offset %zu accepted (rc %d)",
                          masks[m], i, rc);
            if (i >= 16) /* past magic, version and length */
                ck_assert_str_eq(eb.msg, "checkpoint: checksum mismatch");
            p[i] ^= masks[m];
        }
    }
    ck_assert_uint_eq(sum.rounds, 0); /* never written */
    errbuf_clear(&eb);
    ck_assert_int_eq(run_checkpoint_load(&cw.w, &sum, p, len, 2, &eb), 0);
    ck_world_release(&cw);
    mem_free(p);
}
END_TEST

START_TEST(truncations_are_refused)
{
    size_t len = 0;
    unsigned char *p = ck_checkpoint(NULL, 0, &len);
    struct ck_world cw;
    ck_world_init(&cw, NULL, 0, 1);
    struct errbuf eb;
    for (size_t n = 0; n < len; n++) {
        errbuf_clear(&eb);
        ck_assert_int_eq(run_checkpoint_check(&cw.w, p, n, 2, &eb), -ERR_CORRUPT);
        if (n >= 8) {
            char want[64];
            snprintf(want, sizeof want, "checkpoint: truncated at offset %zu", n);
            ck_assert_msg(strncmp(eb.msg, want, strlen(want)) == 0, "%zu: %s", n, eb.msg);
        }
    }
    /* One byte too many. */
    unsigned char *q = mem_alloc(len + 1);
    memcpy(q, p, len);
    q[len] = 0;
    errbuf_clear(&eb);
    ck_assert_int_eq(run_checkpoint_check(&cw.w, q, len + 1, 2, &eb), -ERR_CORRUPT);
    mem_free(q);
    ck_world_release(&cw);
    mem_free(p);
}
END_TEST

/* Header field at `at` overwritten with `v` (size bytes) and resealed: refused as `want`. */
static void
ck_identity(const unsigned char *p, size_t len, size_t at, const void *v, size_t size,
            const char *want)
{
    unsigned char *q = mem_alloc(len);
    memcpy(q, p, len);
    memcpy(q + at, v, size);
    run_checkpoint_seal(q, len);
    struct errbuf eb;
    ck_assert_int_eq(ck_load(NULL, 0, 1, 2, q, len, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, want);
    mem_free(q);
}

START_TEST(other_identity_is_refused)
{
    size_t len = 0;
    unsigned char *p = ck_checkpoint(NULL, 0, &len);
    struct errbuf eb;
    ck_assert_int_eq(ck_load(NULL, 0, 1, 2, p, len, &eb), 0);
    /* Another run's, another configuration's (seed and dropout), another round's. */
    ck_assert_int_eq(ck_load(NULL, 0, 3, 2, p, len, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "checkpoint: run id 1 does not match run 3 (3)");
    static const char *const other[] = { "seed=6", "population.dropout.probability=0.2" };
    ck_assert_int_eq(ck_load(other, 2, 1, 2, p, len, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "checkpoint: config hash does not match run 1");
    ck_assert_int_eq(ck_load(NULL, 0, 1, 1, p, len, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "checkpoint: round 2 does not match run 1 (1)");
    /* A header changed and resealed, one identity field at a time. */
    unsigned char v[32];
    memset(v, 0xab, sizeof v);
    ck_identity(p, len, 88, v, 32, "checkpoint: data fingerprint does not match run 1");
    ck_identity(p, len, 120, "0.0.1", 6,
                "checkpoint: fedbits version '0.0.1' does not match run 1 ('" FEDBITS_VERSION "')");
    /* The body must agree with the header. */
    unsigned char round[8] = { 7 };
    unsigned char *q = mem_alloc(len);
    memcpy(q, p, len);
    memcpy(q + 152, round, sizeof round);
    run_checkpoint_seal(q, len);
    ck_assert_int_eq(ck_load(NULL, 0, 1, 7, q, len, &eb), -ERR_CORRUPT);
    mem_free(q);
    mem_free(p);
}
END_TEST

START_TEST(first_format_is_refused_by_version)
{
    size_t len = 0;
    unsigned char *p = ck_checkpoint(NULL, 0, &len);
    /* The first layout: "FBCKPT01", dim, pool, then the sections. */
    memcpy(p, "FBCKPT01", 8);
    struct errbuf eb;
    ck_assert_int_eq(ck_load(NULL, 0, 1, 2, p, len, &eb), -ERR_CORRUPT);
    ck_assert_msg(strncmp(eb.msg, "checkpoint: format version 1, this fedbits reads 3", 50) == 0,
                  "%s", eb.msg);
    memcpy(p, "SQLite f", 8);
    ck_assert_int_eq(ck_load(NULL, 0, 1, 2, p, len, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "checkpoint: not a fedbits checkpoint (bad magic)");
    mem_free(p);
}
END_TEST

/* The identity hash runs are matched on by `fedbits check` (runs.config_hash). */
START_TEST(config_hash_identity)
{
    char h[STORE_CONFIG_HASH_HEX];
    /* BLAKE2b-128 of "abc" (RFC 7693's BLAKE2b with a 16-byte digest). */
    store_config_hash(h, "abc");
    ck_assert_str_eq(h, "cf4ab791c62b8d2b2109c90275287816");
    store_config_hash(h, "");
    ck_assert_uint_eq(strlen(h), 32);
    /* The same experiment written differently hashes the same; another seed does not. */
    static const char a[] = "name: x\nseed: 5\ndata: {dataset: synthetic_iid, clients: 20}\n"
                            "model: {type: logreg}\ntrain: {rounds: 3}\noutput: {db: a.db}\n";
    static const char b[] = "seed: 5\nname: x\nmodel: {type: logreg}\n"
                            "train: {rounds: 3}\ndata: {clients: 20, dataset: synthetic_iid}\n"
                            "output: {db: b.db}\n";
    const char *texts[] = { a, b, a };
    static const char *const seed6[] = { "seed=6" };
    char hashes[3][STORE_CONFIG_HASH_HEX];
    for (int i = 0; i < 3; i++) {
        struct scenario s;
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = scenario_load(&s, "x.yaml", texts[i], strlen(texts[i]), i == 2 ? seed6 : NULL,
                               i == 2 ? 1 : 0, &eb);
        ck_assert_msg(rc == 0, "%s", eb.msg);
        char *id = scenario_identity(&s);
        ck_assert_ptr_nonnull(id);
        store_config_hash(hashes[i], id);
        mem_free(id);
        scenario_release(&s);
    }
    ck_assert_str_eq(hashes[0], hashes[1]);
    ck_assert_str_ne(hashes[0], hashes[2]);
    /* It is the value the runs row records. */
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/h.db", dir);
    struct store *st = NULL;
    struct errbuf eb;
    ck_assert_int_eq(store_open(&st, path, &eb), 0);
    struct store_run_info info = { .name = "x",
                                   .scenario_text = a,
                                   .config_json = "{}",
                                   .hash_json = "abc",
                                   .version = "test",
                                   .started_at = "2026-01-01T00:00:00Z" };
    int64_t id = 0;
    ck_assert_int_eq(store_begin_run(st, &info, &id, &eb), 0);
    store_close(st);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT config_hash FROM runs", -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "cf4ab791c62b8d2b2109c90275287816");
    sqlite3_finalize(q);
    sqlite3_close(db);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_sync);
    tcase_add_test(tc, round_trip_async);
    tcase_add_test(tc, every_byte_flip_is_refused);
    tcase_add_test(tc, truncations_are_refused);
    tcase_add_test(tc, other_identity_is_refused);
    tcase_add_test(tc, first_format_is_refused_by_version);
    tcase_add_test(tc, config_hash_identity);
    suite_add_tcase(s, tc);
    return s;
}
