/* store: schema creation, runs and rounds, constraints, locks and bad paths. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/store.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

struct st_fixture {
    char *dir;
    char path[4096];
    struct store *st;
};

static void
st_open(struct st_fixture *f)
{
    f->dir = tsupport_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/results.db", f->dir);
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = store_open(&f->st, f->path, &eb);
    ck_assert_msg(rc == 0, "store_open: %s", eb.msg);
    ck_assert_ptr_nonnull(f->st);
}

static void
st_close(struct st_fixture *f)
{
    store_close(f->st);
    tsupport_rmtree(f->dir);
    free(f->dir);
}

/* A second, independent connection for inspecting the file. */
static sqlite3 *
st_peek(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t
st_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* The first column of the first row as text ("NULL" for NULL), into out. */
static const char *
st_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(q, 0);
    snprintf(out, out_len, "%s", t != NULL ? (const char *)t : "NULL");
    sqlite3_finalize(q);
    return out;
}

static const struct store_run_info st_info = {
    .name = "unit",
    .scenario_text = "train: {rounds: 2}\n",
    .config_json = "{\"train\": {\"rounds\": 2}}",
    .seed = 77,
    .version = "0.1.0",
    .started_at = "2026-01-02T03:04:05Z",
};

START_TEST(open_creates_schema)
{
    struct st_fixture f;
    st_open(&f);
    sqlite3 *db = st_peek(f.path);
    ck_assert_int_eq(st_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(STORE_SCHEMA_VERSION, 4);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM pragma_table_info('rounds') WHERE name IN "
                                "('epsilon', 'clip_norm', 'noise_std')"),
                     3);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name IN "
                                "('owner_pid', 'owner_host', 'owner_start', 'inputs', "
                                "'blas_kernel')"),
                     5);
    char buf[256];
    ck_assert_str_eq(st_text(db, "PRAGMA journal_mode", buf, sizeof buf), "wal");
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name IN ('runs', 'rounds')"),
                     2);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM runs"), 0);
    sqlite3_close(db);
    /* Reopening an existing database keeps it (no second migration). */
    store_close(f.st);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(store_open(&f.st, f.path, &eb), 0);
    st_close(&f);
}
END_TEST

START_TEST(run_lifecycle)
{
    struct st_fixture f;
    st_open(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    int64_t id = -1;
    ck_assert_int_eq(store_begin_run(f.st, &st_info, &id, &eb), 0);
    ck_assert_int_gt(id, 0);
    sqlite3 *db = st_peek(f.path);
    char buf[256], sql[256];
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id = %lld", (long long)id);
    ck_assert_str_eq(st_text(db, sql, buf, sizeof buf), "running");

    /* Round 1 evaluated, round 2 not and without participants: NULLs where documented. */
    struct store_round r1 = { .round = 1,
                              .sim_time_us = 1500000,
                              .evaluated = true,
                              .accuracy = 0.625,
                              .loss = 1.25,
                              .train_loss = 2.5,
                              .selected = 5,
                              .participants = 4,
                              .dropped = 1,
                              .uplink_bits = 78080,
                              .downlink_bits = 97600 };
    struct store_round r2 = { .round = 2, .sim_time_us = 3000001, .selected = 5, .dropped = 5 };
    ck_assert_int_eq(store_write_round(f.st, id, &r1, &eb), 0);
    ck_assert_int_eq(store_write_round(f.st, id, &r2, &eb), 0);
    snprintf(sql, sizeof sql,
             "SELECT printf('%%d|%%.6f|%%s|%%s|%%s|%%d|%%d|%%d|%%d|%%d', round, sim_time_s, "
             "quote(accuracy), quote(loss), quote(train_loss), selected, participants, dropped, "
             "uplink_bits, downlink_bits) FROM rounds WHERE run_id = %lld ORDER BY round",
             (long long)id);
    ck_assert_str_eq(st_text(db, sql, buf, sizeof buf),
                     "1|1.500000|0.625|1.25|2.5|5|4|1|78080|97600");
    snprintf(sql, sizeof sql,
             "SELECT printf('%%d|%%.6f|%%s|%%s|%%s|%%d|%%d|%%d|%%d|%%d', round, sim_time_s, "
             "quote(accuracy), quote(loss), quote(train_loss), selected, participants, dropped, "
             "uplink_bits, downlink_bits) FROM rounds WHERE run_id = %lld AND round = 2",
             (long long)id);
    ck_assert_str_eq(st_text(db, sql, buf, sizeof buf), "2|3.000001|NULL|NULL|NULL|5|0|5|0|0");

    ck_assert_int_eq(
        store_finish_run(f.st, id, "finished", "2026-01-02T03:05:00Z", 12.5, "ab12", NULL, &eb), 0);
    snprintf(sql, sizeof sql,
             "SELECT name || '|' || scenario || '|' || config_json || '|' || seed || '|' || "
             "version || '|' || status || '|' || started_at || '|' || finished_at || '|' || "
             "wall_time_s || '|' || event_fingerprint || '|' || quote(error) FROM runs "
             "WHERE id = %lld",
             (long long)id);
    ck_assert_str_eq(st_text(db, sql, buf, sizeof buf),
                     "unit|train: {rounds: 2}\n|{\"train\": {\"rounds\": 2}}|77|0.1.0|finished|"
                     "2026-01-02T03:04:05Z|2026-01-02T03:05:00Z|12.5|ab12|NULL");
    sqlite3_close(db);
    st_close(&f);
}
END_TEST

START_TEST(many_runs_in_one_db)
{
    struct st_fixture f;
    st_open(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    int64_t ids[6];
    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(store_begin_run(f.st, &st_info, &ids[k], &eb), 0);
        for (int j = 0; j < k; j++)
            ck_assert_int_ne(ids[k], ids[j]);
        for (uint64_t r = 1; r <= 3; r++) {
            struct store_round rec = { .round = r,
                                       .sim_time_us = (int64_t)r * 1000,
                                       .selected = 2,
                                       .participants = 2,
                                       .uplink_bits = (uint64_t)k };
            ck_assert_int_eq(store_write_round(f.st, ids[k], &rec, &eb), 0);
        }
        ck_assert_int_eq(store_finish_run(f.st, ids[k], k % 2 ? "failed" : "interrupted",
                                          "2026-01-02T03:05:00Z", 1.0, NULL, "boom", &eb),
                         0);
    }
    /* The same round number in two runs is fine; in one run it is not. */
    struct store_round dup = { .round = 2, .selected = 1 };
    ck_assert_int_eq(store_write_round(f.st, ids[0], &dup, &eb), -ERR_DB);
    ck_assert_msg(strstr(eb.msg, "UNIQUE constraint failed") != NULL, "%s", eb.msg);
    sqlite3 *db = st_peek(f.path);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM runs"), 6);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM rounds"), 18);
    ck_assert_int_eq(st_int(db, "SELECT count(DISTINCT run_id) FROM rounds"), 6);
    ck_assert_int_eq(st_int(db, "SELECT sum(uplink_bits) FROM rounds"),
                     3 * (0 + 1 + 2 + 3 + 4 + 5));
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM runs WHERE status = 'failed'"), 3);
    sqlite3_close(db);
    st_close(&f);
}
END_TEST

START_TEST(constraints_reject_bad_rows)
{
    struct st_fixture f;
    st_open(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    int64_t id;
    ck_assert_int_eq(store_begin_run(f.st, &st_info, &id, &eb), 0);
    static const double bad[] = { 1.5, -0.25, 1.0000001 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct store_round r = {
            .round = 1 + i, .evaluated = true, .accuracy = bad[i], .loss = 1.0
        };
        errbuf_clear(&eb);
        ck_assert_int_eq(store_write_round(f.st, id, &r, &eb), -ERR_DB);
        ck_assert_msg(strstr(eb.msg, "CHECK constraint failed") != NULL, "%s", eb.msg);
        ck_assert_msg(strncmp(eb.msg, "cannot record the round: ", 25) == 0, "%s", eb.msg);
        ck_assert_str_eq(eb.file, f.path);
    }
    /* The bounds themselves are accepted, and the statement still works after errors. */
    struct store_round lo = { .round = 1, .evaluated = true, .accuracy = 0.0 };
    struct store_round hi = { .round = 2, .evaluated = true, .accuracy = 1.0 };
    ck_assert_int_eq(store_write_round(f.st, id, &lo, &eb), 0);
    ck_assert_int_eq(store_write_round(f.st, id, &hi, &eb), 0);
    /* A run that does not exist (foreign key), and a status outside the list. */
    struct store_round orphan = { .round = 1 };
    ck_assert_int_eq(store_write_round(f.st, id + 100, &orphan, &eb), -ERR_DB);
    ck_assert_msg(strstr(eb.msg, "FOREIGN KEY constraint failed") != NULL, "%s", eb.msg);
    ck_assert_int_eq(store_finish_run(f.st, id, "done", "x", 0.0, NULL, NULL, &eb), -ERR_DB);
    ck_assert_msg(strstr(eb.msg, "CHECK constraint failed") != NULL, "%s", eb.msg);
    st_close(&f);
}
END_TEST

START_TEST(open_in_missing_directory)
{
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/no/such/dir/results.db", dir);
    struct store *st = (struct store *)dir; /* any non-NULL value: store_open resets it */
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(store_open(&st, path, &eb), -ERR_DB);
    ck_assert_ptr_null(st);
    ck_assert_str_eq(eb.file, path);
    ck_assert_str_eq(eb.msg, "cannot open the results database: unable to open database file "
                             "(check the path and its permissions)");
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(newer_schema_is_refused)
{
    struct st_fixture f;
    st_open(&f);
    store_close(f.st);
    f.st = NULL;
    sqlite3 *db = st_peek(f.path);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 5", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(store_open(&f.st, f.path, &eb), -ERR_UNSUPPORTED);
    ck_assert_ptr_null(f.st);
    ck_assert_str_eq(eb.msg, "results schema version 5 is newer than this fedbits (4)");
    st_close(&f);
}
END_TEST

/*
 * A second writer holding the database: another connection keeps BEGIN EXCLUSIVE open,
 * so the store's write waits its busy timeout (shortened here to 50 ms) and then fails
 * with -ERR_DB naming the lock.
 */
START_TEST(second_writer_gets_lock_error)
{
    struct st_fixture f;
    st_open(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    int64_t id;
    ck_assert_int_eq(store_begin_run(f.st, &st_info, &id, &eb), 0);
    store_set_busy_timeout(f.st, 50);
    sqlite3 *other = st_peek(f.path);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    struct store_round r = { .round = 1, .selected = 1 };
    ck_assert_int_eq(store_write_round(f.st, id, &r, &eb), -ERR_DB);
    ck_assert_str_eq(eb.msg, "cannot record the round: database is locked (another process "
                             "holds the database; try again or use --db)");
    ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    /* Once the lock is gone the same write succeeds. */
    ck_assert_int_eq(store_write_round(f.st, id, &r, &eb), 0);
    st_close(&f);
}
END_TEST

/*
 * A version 1 database (before owners, inputs and the privacy columns) gains the new columns,
 * its rows kept.
 */
START_TEST(version_1_is_upgraded)
{
    struct st_fixture f;
    st_open(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    int64_t id;
    ck_assert_int_eq(store_begin_run(f.st, &st_info, &id, &eb), 0);
    store_close(f.st);
    f.st = NULL;
    sqlite3 *db = st_peek(f.path);
    static const char *const drop[] = { "owner_pid", "owner_host", "owner_start", "inputs",
                                        "blas_kernel" };
    for (size_t i = 0; i < 5; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "ALTER TABLE runs DROP COLUMN %s", drop[i]);
        ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    static const char *const drop3[] = { "epsilon", "clip_norm", "noise_std" };
    for (size_t i = 0; i < 3; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "ALTER TABLE rounds DROP COLUMN %s", drop3[i]);
        ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    ck_assert_int_eq(sqlite3_exec(db, "ALTER TABLE rounds DROP COLUMN wrapped", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(store_open(&f.st, f.path, &eb), 0);
    struct store_owner o = { .pid = 4242, .host = "h", .start = "b:1" }, back;
    char status[16];
    ck_assert_int_eq(store_set_run_owner(f.st, id, &o, &eb), 0);
    ck_assert_int_eq(store_run_owner(f.st, id, &back, status, &eb), 0);
    ck_assert_int_eq(back.pid, 4242);
    ck_assert_str_eq(back.host, "h");
    ck_assert_str_eq(back.start, "b:1");
    ck_assert_str_eq(status, "running");
    db = st_peek(f.path);
    ck_assert_int_eq(st_int(db, "PRAGMA user_version"), 4);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM pragma_table_info('rounds') WHERE name = "
                                "'epsilon'"),
                     1);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM pragma_table_info('rounds') WHERE name = "
                                "'wrapped'"),
                     1);
    sqlite3_close(db);
    st_close(&f);
}
END_TEST

/*
 * store_rewind_run() deletes nothing until the continued run writes: a resume that fails
 * first leaves every round; the first write removes the later rounds in its transaction.
 */
START_TEST(rewind_waits_for_the_first_write)
{
    struct st_fixture f;
    st_open(&f);
    struct errbuf eb;
    errbuf_clear(&eb);
    int64_t id;
    ck_assert_int_eq(store_begin_run(f.st, &st_info, &id, &eb), 0);
    for (uint64_t k = 1; k <= 10; k++) {
        struct store_round r = { .round = k, .selected = 1 };
        ck_assert_int_eq(store_write_round(f.st, id, &r, &eb), 0);
    }
    ck_assert_int_eq(store_finish_run(f.st, id, "interrupted", "t", 1.0, NULL, "stop", &eb), 0);
    sqlite3 *db = st_peek(f.path);
    /* A resume that fails before writing: nothing changes, not even the status. */
    ck_assert_int_eq(store_rewind_run(f.st, id, 5, &eb), 0);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM rounds"), 10);
    ck_assert_int_eq(store_finish_run(f.st, id, "failed", "t", 1.0, NULL, "no data", &eb), 0);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM rounds"), 10);
    char buf[64];
    ck_assert_str_eq(st_text(db, "SELECT status FROM runs", buf, sizeof buf), "interrupted");
    /* One that goes on: round 6 replaces rounds 6..10 in one transaction. */
    store_close(f.st);
    ck_assert_int_eq(store_open(&f.st, f.path, &eb), 0);
    ck_assert_int_eq(store_rewind_run(f.st, id, 5, &eb), 0);
    struct store_round r6 = { .round = 6, .selected = 2 };
    ck_assert_int_eq(store_write_round(f.st, id, &r6, &eb), 0);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM rounds"), 6);
    ck_assert_int_eq(st_int(db, "SELECT selected FROM rounds WHERE round = 6"), 2);
    ck_assert_str_eq(st_text(db, "SELECT status FROM runs", buf, sizeof buf), "running");
    ck_assert_str_eq(st_text(db, "SELECT error FROM runs", buf, sizeof buf), "NULL");
    /* Finishing without a new round still rewinds (a checkpoint at the last round). */
    ck_assert_int_eq(store_rewind_run(f.st, id, 3, &eb), 0);
    ck_assert_int_eq(store_finish_run(f.st, id, "finished", "t", 1.0, "fp", NULL, &eb), 0);
    ck_assert_int_eq(st_int(db, "SELECT count(*) FROM rounds"), 3);
    ck_assert_str_eq(st_text(db, "SELECT status FROM runs", buf, sizeof buf), "finished");
    sqlite3_close(db);
    st_close(&f);
}
END_TEST

/* The bytes of a file (owned, free()); *len its size. */
static unsigned char *
st_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/*
 * Another program's SQLite file with tables named runs and rounds: refused before anything
 * is written, its bytes unchanged (no fedbits tables, no user_version, no WAL switch).
 */
START_TEST(foreign_database_is_left_unchanged)
{
    char *dir = tsupport_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/other.db", dir);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "CREATE TABLE runs (a, b); CREATE TABLE rounds (x);"
                                  "INSERT INTO runs VALUES (1, 2)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    size_t n0, n1;
    unsigned char *before = st_slurp(path, &n0);
    for (int versioned = 0; versioned < 2; versioned++) {
        if (versioned) {
            /* Stamped with a version, yet without fedbits' columns: refused as well. */
            db = st_peek(path);
            ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL),
                             SQLITE_OK);
            sqlite3_close(db);
            free(before);
            before = st_slurp(path, &n0);
        }
        struct store *st = NULL;
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(store_open(&st, path, &eb), -ERR_INVALID);
        ck_assert_ptr_null(st);
        ck_assert_str_eq(eb.file, path);
        ck_assert_str_eq(eb.msg, "not a fedbits results database (it holds other tables; left "
                                 "unchanged): choose another file with --db or output.db");
        unsigned char *after = st_slurp(path, &n1);
        ck_assert_uint_eq(n0, n1);
        ck_assert_msg(memcmp(before, after, n0) == 0, "the foreign file was modified");
        free(after);
    }
    free(before);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

/*
 * Processes creating the same new database at the same instant (released together through
 * a pipe): every one opens it, whichever wins the creation. The WAL switch of a loser used
 * to fail at once with "database is locked".
 */
START_TEST(concurrent_creators_all_succeed)
{
    enum { TRIALS = 20, CREATORS = 4 };
    char *dir = tsupport_tmpdir();
    for (int t = 0; t < TRIALS; t++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/race%d.db", dir, t);
        int go[2];
        ck_assert_int_eq(pipe(go), 0);
        pid_t pids[CREATORS];
        for (int c = 0; c < CREATORS; c++) {
            pids[c] = fork();
            ck_assert_int_ge(pids[c], 0);
            if (pids[c] == 0) {
                close(go[1]);
                char b;
                if (read(go[0], &b, 1) < 0)
                    _exit(3);
                struct store *st = NULL;
                struct errbuf eb;
                errbuf_clear(&eb);
                int rc = store_open(&st, path, &eb);
                if (rc < 0)
                    fprintf(stderr, "creator %d of trial %d: %s\n", c, t, eb.msg);
                int64_t id = 0;
                if (rc == 0)
                    rc = store_begin_run(st, &st_info, &id, &eb);
                store_close(st);
                _exit(rc == 0 ? 0 : 1);
            }
        }
        close(go[0]);
        close(go[1]); /* every creator's read returns now */
        for (int c = 0; c < CREATORS; c++) {
            int ws = 0;
            ck_assert_int_eq(waitpid(pids[c], &ws, 0), pids[c]);
            ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "trial %d: creator %d failed", t,
                          c);
        }
        sqlite3 *db = st_peek(path);
        ck_assert_int_eq(st_int(db, "SELECT count(*) FROM runs"), CREATORS);
        sqlite3_close(db);
    }
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_test(tc, open_creates_schema);
    tcase_add_test(tc, run_lifecycle);
    tcase_add_test(tc, many_runs_in_one_db);
    tcase_add_test(tc, constraints_reject_bad_rows);
    tcase_add_test(tc, open_in_missing_directory);
    tcase_add_test(tc, newer_schema_is_refused);
    tcase_add_test(tc, foreign_database_is_left_unchanged);
    tcase_add_test(tc, version_1_is_upgraded);
    tcase_add_test(tc, rewind_waits_for_the_first_write);
    suite_add_tcase(s, tc);
    tc = tcase_create("lock");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, second_writer_gets_lock_error);
    tcase_add_test(tc, concurrent_creators_all_succeed);
    suite_add_tcase(s, tc);
    return s;
}
