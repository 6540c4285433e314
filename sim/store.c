/* store: SQLite results. See store.h. */
#include "sim/store.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

/* How long a writer waits for another process's lock before giving up. */
#define STORE_BUSY_TIMEOUT_MS 10000
/* The pause between two attempts of a step SQLite does not retry itself. */
#define STORE_RETRY_MS 20

struct store {
    sqlite3 *db;
    char path[1024];
    sqlite3_stmt *insert_round;
    sqlite3_stmt *insert_client;
    bool rewind_pending; /* store_rewind_run() waits for the run's first write */
    int64_t rewind_run;
    uint64_t rewind_round;
};

static const char store_schema_v1[] =
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " scenario TEXT NOT NULL,"
    " config_json TEXT NOT NULL,"
    " config_hash TEXT NOT NULL,"
    " seed INTEGER NOT NULL,"
    " version TEXT NOT NULL,"
    " status TEXT NOT NULL"
    "  CHECK (status IN ('queued','running','finished','failed','interrupted')),"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT,"
    " wall_time_s REAL,"
    " event_fingerprint TEXT,"
    " error TEXT,"
    " sweep_id INTEGER REFERENCES sweeps(id),"
    " sweep_index INTEGER,"
    " sweep_label TEXT,"
    " model_params INTEGER);"
    "CREATE TABLE IF NOT EXISTS sweeps ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " scenario TEXT NOT NULL,"
    " swept_keys TEXT NOT NULL,"
    " combinations INTEGER NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rounds ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " round INTEGER NOT NULL,"
    " sim_time_s REAL NOT NULL,"
    " accuracy REAL CHECK (accuracy IS NULL OR (accuracy >= 0 AND accuracy <= 1)),"
    " loss REAL,"
    " train_loss REAL,"
    " selected INTEGER NOT NULL,"
    " participants INTEGER NOT NULL,"
    " dropped INTEGER NOT NULL,"
    " uplink_bits INTEGER NOT NULL,"
    " downlink_bits INTEGER NOT NULL,"
    " nmse REAL,"
    " timed_out INTEGER NOT NULL DEFAULT 0,"
    " stale INTEGER NOT NULL DEFAULT 0,"
    " staleness_mean REAL,"
    " staleness_max INTEGER NOT NULL DEFAULT 0,"
    " discarded INTEGER NOT NULL DEFAULT 0,"
    " uplink_payload_bits INTEGER NOT NULL DEFAULT 0,"
    " uplink_protocol_bits INTEGER NOT NULL DEFAULT 0,"
    " downlink_protocol_bits INTEGER NOT NULL DEFAULT 0,"
    " secure_aborted INTEGER,"
    " downlink_anchor_bits INTEGER NOT NULL DEFAULT 0,"
    " downlink_correction_bits INTEGER NOT NULL DEFAULT 0,"
    " client_acc_mean REAL,"
    " client_acc_p10 REAL,"
    " failed INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (run_id, round));"
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " round INTEGER NOT NULL,"
    " created_at TEXT NOT NULL,"
    " state BLOB NOT NULL,"
    " PRIMARY KEY (run_id, round));"
    "CREATE TABLE IF NOT EXISTS clients_rounds ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " round INTEGER NOT NULL,"
    " client INTEGER NOT NULL,"
    " outcome TEXT NOT NULL CHECK (outcome IN ('completed','dropped','timed_out','discarded')),"
    " dropout_phase TEXT,"
    " started_s REAL NOT NULL,"
    " finished_s REAL,"
    " samples INTEGER NOT NULL,"
    " downlink_bits INTEGER NOT NULL,"
    " uplink_bits INTEGER NOT NULL,"
    " staleness INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS clients_rounds_by_round ON clients_rounds (run_id, round);";

static bool store_rewind_due(const struct store *st, int64_t run_id);
static int store_apply_rewind(struct store *st, struct errbuf *eb);

/* Version 2: the process owning a run, its input files and the BLAS kernel (sim/resume.h). */
static const char store_schema_v2[] = "ALTER TABLE runs ADD COLUMN owner_pid INTEGER;"
                                      "ALTER TABLE runs ADD COLUMN owner_host TEXT;"
                                      "ALTER TABLE runs ADD COLUMN owner_start TEXT;"
                                      "ALTER TABLE runs ADD COLUMN inputs TEXT;"
                                      "ALTER TABLE runs ADD COLUMN blas_kernel TEXT;";

/* Version 3: differential privacy per round (docs/privacy.md). */
static const char store_schema_v3[] = "ALTER TABLE rounds ADD COLUMN epsilon REAL;"
                                      "ALTER TABLE rounds ADD COLUMN clip_norm REAL;"
                                      "ALTER TABLE rounds ADD COLUMN noise_std REAL;";

/* Version 4: coordinates of the distributed DP sum that wrapped around the ring. */
static const char store_schema_v4[] = "ALTER TABLE rounds ADD COLUMN wrapped INTEGER;";

static int
store_db_error(struct store *st, struct errbuf *eb, const char *what)
{
    int code = sqlite3_errcode(st->db);
    const char *hint = "";
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        hint = " (another process holds the database; try again or use --db)";
    else if (code == SQLITE_FULL)
        hint = " (the disk is full)";
    else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
        hint = " (check the path and its permissions)";
    errbuf_set_location(eb, st->path, 0, 0);
    return errbuf_set(eb, -ERR_DB, "%s: %s%s", what, sqlite3_errmsg(st->db), hint);
}

static int
store_exec(struct store *st, const char *sql, const char *what, struct errbuf *eb)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_db_error(st, eb, what);
    return 0;
}

/*
 * Refuses, before anything is written, a database that is not a fedbits results database:
 * one with tables but no schema version (another program's SQLite file), or a versioned one
 * whose runs table lacks fedbits' columns, or one newer than this build. *version gets the
 * schema version (0 for an empty, new file). One statement, so one consistent snapshot even
 * while another process creates the schema.
 */
static int
store_check_schema(struct store *st, int *version, struct errbuf *eb)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT (SELECT user_version FROM pragma_user_version), "
                           "(SELECT count(*) FROM sqlite_master), "
                           "(SELECT count(*) FROM pragma_table_info('runs') WHERE name IN "
                           "('config_hash', 'event_fingerprint', 'config_json'))",
                           -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot read the database schema");
    if (sqlite3_step(q) != SQLITE_ROW) {
        int rc = store_db_error(st, eb, "cannot read the database schema");
        sqlite3_finalize(q);
        return rc;
    }
    *version = sqlite3_column_int(q, 0);
    int objects = sqlite3_column_int(q, 1), ours = sqlite3_column_int(q, 2);
    sqlite3_finalize(q);
    if (*version > STORE_SCHEMA_VERSION) {
        errbuf_set_location(eb, st->path, 0, 0);
        return errbuf_set(eb, -ERR_UNSUPPORTED,
                          "results schema version %d is newer than this fedbits (%d)", *version,
                          STORE_SCHEMA_VERSION);
    }
    if ((*version == 0 && objects > 0) || (*version > 0 && ours != 3)) {
        errbuf_set_location(eb, st->path, 0, 0);
        return errbuf_set(eb, -ERR_INVALID,
                          "not a fedbits results database (it holds other tables; left "
                          "unchanged): choose another file with --db or output.db");
    }
    return 0;
}

static int
store_migrate(struct store *st, struct errbuf *eb)
{
    int rc = store_exec(st, "BEGIN IMMEDIATE", "cannot start the schema transaction", eb);
    if (rc < 0)
        return rc;
    /* Read again under the write lock: another process may have created it meanwhile. */
    int version = 0;
    rc = store_check_schema(st, &version, eb);
    if (rc == 0 && version < 1)
        rc = store_exec(st, store_schema_v1, "cannot create the results schema", eb);
    if (rc == 0 && version < 2)
        rc = store_exec(st, store_schema_v2, "cannot upgrade the results schema to version 2", eb);
    if (rc == 0 && version < 3)
        rc = store_exec(st, store_schema_v3, "cannot upgrade the results schema to version 3", eb);
    if (rc == 0 && version < 4)
        rc = store_exec(st, store_schema_v4, "cannot upgrade the results schema to version 4", eb);
    if (rc == 0 && version < STORE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
        rc = store_exec(st, sql, "cannot set the schema version", eb);
    }
    if (rc == 0)
        return store_exec(st, "COMMIT", "cannot commit the schema", eb);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/*
 * Switches to WAL mode. The switch takes an exclusive lock without calling the busy handler
 * when another connection is creating the same file, so it is retried here for as long as
 * the busy timeout allows.
 */
static int
store_enable_wal(struct store *st, struct errbuf *eb)
{
    for (int waited = 0;; waited += STORE_RETRY_MS) {
        int rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= STORE_BUSY_TIMEOUT_MS)
            return store_db_error(st, eb, "cannot switch to WAL mode");
        sqlite3_sleep(STORE_RETRY_MS);
    }
}

int
store_open(struct store **out, const char *path, struct errbuf *eb)
{
    *out = NULL;
    struct store *st = mem_calloc(1, sizeof *st);
    if (st == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory opening the results database");
    snprintf(st->path, sizeof st->path, "%s", path);
    int rc = 0;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = st->db != NULL ? store_db_error(st, eb, "cannot open the results database")
                            : errbuf_set(eb, -ERR_NOMEM, "out of memory opening '%s'", path);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    /* Nothing is written (not even the journal mode) before the schema is known to be ours. */
    int version = 0;
    rc = store_check_schema(st, &version, eb);
    if (rc == 0)
        rc = store_enable_wal(st, eb);
    if (rc == 0)
        rc = store_exec(st, "PRAGMA foreign_keys = ON", "cannot enable foreign keys", eb);
    if (rc == 0 && version < STORE_SCHEMA_VERSION)
        rc = store_migrate(st, eb);
    if (rc < 0)
        goto fail;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO rounds (run_id, round, sim_time_s, accuracy, loss, "
                           "train_loss, selected, participants, dropped, uplink_bits, "
                           "downlink_bits, nmse, timed_out, stale, staleness_mean, "
                           "staleness_max, discarded, failed, uplink_payload_bits, "
                           "uplink_protocol_bits, downlink_protocol_bits, secure_aborted, "
                           "client_acc_mean, client_acc_p10, downlink_anchor_bits, "
                           "downlink_correction_bits, epsilon, clip_norm, noise_std, wrapped) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st->insert_round, NULL) != SQLITE_OK) {
        rc = store_db_error(st, eb, "cannot prepare the rounds insert");
        goto fail;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO clients_rounds (run_id, round, client, outcome, "
                           "dropout_phase, started_s, finished_s, samples, downlink_bits, "
                           "uplink_bits, staleness) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st->insert_client, NULL) != SQLITE_OK) {
        rc = store_db_error(st, eb, "cannot prepare the clients_rounds insert");
        goto fail;
    }
    *out = st;
    return 0;
fail:
    store_close(st);
    return rc;
}

int
store_sqlite_open_readonly(const char *path, sqlite3 **out)
{
    int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK)
        return rc;
    /* The first read is what needs the shared-memory file of a WAL database. */
    rc = sqlite3_exec(*out, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_CANTOPEN && rc != SQLITE_READONLY)
        return SQLITE_OK; /* readable, or an error the caller reports on its first query */
    /* "file:" URI of the path, every byte outside [A-Za-z0-9/._-] percent-encoded. */
    char uri[3 * 1024 + 32];
    size_t at = (size_t)snprintf(uri, sizeof uri, "file:");
    for (const char *c = path; *c != '\0' && at + 4 < sizeof uri; c++) {
        unsigned char b = (unsigned char)*c;
        bool plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                     b == '/' || b == '.' || b == '_' || b == '-';
        at += (size_t)snprintf(uri + at, sizeof uri - at, plain ? "%c" : "%%%02X", b);
    }
    snprintf(uri + at, sizeof uri - at, "?immutable=1");
    sqlite3_close(*out);
    *out = NULL;
    return sqlite3_open_v2(uri, out, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
}

void
store_close(struct store *st)
{
    if (st == NULL)
        return;
    sqlite3_finalize(st->insert_round);
    sqlite3_finalize(st->insert_client);
    sqlite3_close(st->db);
    mem_free(st);
}

void
store_set_busy_timeout(struct store *st, int ms)
{
    sqlite3_busy_timeout(st->db, ms);
}

/* The hex BLAKE2b-128 of the resolved configuration: equal configs, equal hashes. */
void
store_config_hash(char out[STORE_CONFIG_HASH_HEX], const char *config_json)
{
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)config_json, strlen(config_json), NULL,
                       0);
    sodium_bin2hex(out, 33, h, sizeof h);
}

static int
store_insert_run(struct store *st, const struct store_run_info *info, const char *status,
                 int64_t *run_id, struct errbuf *eb)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO runs (name, scenario, config_json, config_hash, seed, "
                           "version, status, started_at, sweep_id, sweep_index, sweep_label) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the runs insert");
    char hash[33];
    store_config_hash(hash, info->hash_json != NULL ? info->hash_json : info->config_json);
    sqlite3_bind_text(q, 1, info->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, info->scenario_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, info->config_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 4, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)info->seed);
    sqlite3_bind_text(q, 6, info->version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 7, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, info->started_at, -1, SQLITE_TRANSIENT);
    if (info->sweep_id > 0) {
        sqlite3_bind_int64(q, 9, info->sweep_id);
        sqlite3_bind_int64(q, 10, (sqlite3_int64)info->sweep_index);
        sqlite3_bind_text(q, 11, info->sweep_label, -1, SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot record the run");
    sqlite3_finalize(q);
    if (rc == 0)
        *run_id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int
store_begin_run(struct store *st, const struct store_run_info *info, int64_t *run_id,
                struct errbuf *eb)
{
    return store_insert_run(st, info, "running", run_id, eb);
}

int
store_queue_run(struct store *st, const struct store_run_info *info, int64_t *run_id,
                struct errbuf *eb)
{
    return store_insert_run(st, info, "queued", run_id, eb);
}

int
store_start_run(struct store *st, int64_t run_id, const char *started_at, struct errbuf *eb)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND "
                           "status = 'queued'",
                           -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run start");
    sqlite3_bind_text(q, 1, started_at, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, run_id);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot start the run");
    sqlite3_finalize(q);
    if (rc == 0 && sqlite3_changes(st->db) != 1) {
        errbuf_set_location(eb, st->path, 0, 0);
        return errbuf_set(eb, -ERR_NOTFOUND, "run %lld is not queued", (long long)run_id);
    }
    return rc;
}

int
store_set_model_params(struct store *st, int64_t run_id, uint64_t params, struct errbuf *eb)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "UPDATE runs SET model_params = ? WHERE id = ?", -1, &q, NULL) !=
        SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run update");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)params);
    sqlite3_bind_int64(q, 2, run_id);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot update the run");
    sqlite3_finalize(q);
    return rc;
}

int
store_save_checkpoint(struct store *st, int64_t run_id, uint64_t round, const unsigned char *state,
                      size_t len, const char *created_at, struct errbuf *eb)
{
    bool rewind = store_rewind_due(st, run_id);
    int rc = store_exec(st, "BEGIN IMMEDIATE", "cannot start the checkpoint transaction", eb);
    if (rc < 0)
        return rc;
    sqlite3_stmt *q = NULL;
    if (rewind && (rc = store_apply_rewind(st, eb)) < 0)
        goto out;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM checkpoints WHERE run_id = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        rc = store_db_error(st, eb, "cannot prepare the checkpoint cleanup");
        goto out;
    }
    sqlite3_bind_int64(q, 1, run_id);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = store_db_error(st, eb, "cannot remove older checkpoints");
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO checkpoints (run_id, round, created_at, state) "
                           "VALUES (?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = store_db_error(st, eb, "cannot prepare the checkpoint insert");
        goto out;
    }
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)round);
    sqlite3_bind_text(q, 3, created_at, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob64(q, 4, state, (sqlite3_uint64)len, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = store_db_error(st, eb, "cannot store the checkpoint");
out:
    sqlite3_finalize(q);
    if (rc == 0)
        rc = store_exec(st, "COMMIT", "cannot commit the checkpoint", eb);
    else
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == 0 && rewind)
        st->rewind_pending = false;
    return rc;
}

int
store_load_checkpoint(struct store *st, int64_t run_id, unsigned char **state, size_t *len,
                      uint64_t *round, struct errbuf *eb)
{
    *state = NULL;
    *len = 0;
    *round = 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT round, state FROM checkpoints WHERE run_id = ? "
                           "ORDER BY round DESC LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the checkpoint query");
    sqlite3_bind_int64(q, 1, run_id);
    int rc = 0;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 1);
        const void *blob = sqlite3_column_blob(q, 1);
        unsigned char *copy = mem_alloc(n > 0 ? n : 1);
        if (copy == NULL) {
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading a checkpoint");
        } else {
            if (n > 0)
                memcpy(copy, blob, n);
            *state = copy;
            *len = n;
            *round = (uint64_t)sqlite3_column_int64(q, 0);
        }
    } else if (step != SQLITE_DONE) {
        rc = store_db_error(st, eb, "cannot read the checkpoint");
    }
    sqlite3_finalize(q);
    return rc;
}

int
store_run_config(struct store *st, int64_t run_id, char **config_json, char status[16],
                 struct errbuf *eb)
{
    *config_json = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT config_json, status FROM runs WHERE id = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run query");
    sqlite3_bind_int64(q, 1, run_id);
    int rc = 0;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *config_json = mem_strdup((const char *)sqlite3_column_text(q, 0));
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(q, 1));
        if (*config_json == NULL)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        errbuf_set_location(eb, st->path, 0, 0);
        rc = errbuf_set(eb, -ERR_NOTFOUND, "no run %lld in the database", (long long)run_id);
    } else {
        rc = store_db_error(st, eb, "cannot read the run");
    }
    sqlite3_finalize(q);
    return rc;
}

int
store_rewind_run(struct store *st, int64_t run_id, uint64_t round, struct errbuf *eb)
{
    (void)eb;
    st->rewind_pending = true;
    st->rewind_run = run_id;
    st->rewind_round = round;
    return 0;
}

/* Whether a write to run_id must first carry out its pending rewind. */
static bool
store_rewind_due(const struct store *st, int64_t run_id)
{
    return st->rewind_pending && st->rewind_run == run_id;
}

/* The pending rewind of store_rewind_run(), inside the caller's transaction. */
static int
store_apply_rewind(struct store *st, struct errbuf *eb)
{
    static const char *const sql[] = {
        "DELETE FROM rounds WHERE run_id = ?1 AND round > ?2",
        "DELETE FROM clients_rounds WHERE run_id = ?1 AND round > ?2",
        ("UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, "
         "event_fingerprint = NULL WHERE id = ?1"),
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, sql[i], -1, &q, NULL) != SQLITE_OK)
            return store_db_error(st, eb, "cannot prepare the rewind");
        sqlite3_bind_int64(q, 1, st->rewind_run);
        if (sqlite3_bind_parameter_count(q) >= 2)
            sqlite3_bind_int64(q, 2, (sqlite3_int64)st->rewind_round);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = store_db_error(st, eb, "cannot rewind the run");
        sqlite3_finalize(q);
    }
    return rc;
}

int
store_begin(struct store *st, struct errbuf *eb)
{
    return store_exec(st, "BEGIN IMMEDIATE", "cannot start a transaction", eb);
}

int
store_end(struct store *st, bool commit, struct errbuf *eb)
{
    if (commit)
        return store_exec(st, "COMMIT", "cannot commit", eb);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return 0;
}

/* Runs one UPDATE of runs binding run_id to ?1 and up to three texts to ?2..?4. */
static int
store_update_run(struct store *st, const char *sql, int64_t run_id, const char *const *text,
                 size_t n_text, int64_t pid, struct errbuf *eb)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run update");
    sqlite3_bind_int64(q, 1, run_id);
    for (size_t i = 0; i < n_text; i++) {
        if (text[i] != NULL)
            sqlite3_bind_text(q, (int)i + 2, text[i], -1, SQLITE_TRANSIENT);
    }
    if (pid > 0)
        sqlite3_bind_int64(q, (int)n_text + 2, pid);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot update the run");
    sqlite3_finalize(q);
    return rc;
}

int
store_set_run_owner(struct store *st, int64_t run_id, const struct store_owner *owner,
                    struct errbuf *eb)
{
    const char *text[] = { owner->host, owner->start };
    return store_update_run(st,
                            "UPDATE runs SET owner_host = ?2, owner_start = ?3, owner_pid = ?4 "
                            "WHERE id = ?1",
                            run_id, text, 2, owner->pid, eb);
}

int
store_set_run_inputs(struct store *st, int64_t run_id, const char *inputs, const char *kernel,
                     struct errbuf *eb)
{
    const char *text[] = { inputs, kernel };
    return store_update_run(st, "UPDATE runs SET inputs = ?2, blas_kernel = ?3 WHERE id = ?1",
                            run_id, text, 2, 0, eb);
}

/* The row of run_id from a one-row SELECT into *q (prepared and stepped). */
static int
store_select_run(struct store *st, const char *sql, int64_t run_id, sqlite3_stmt **q,
                 struct errbuf *eb)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run query");
    sqlite3_bind_int64(*q, 1, run_id);
    int step = sqlite3_step(*q);
    if (step == SQLITE_ROW)
        return 0;
    int rc = step == SQLITE_DONE
                 ? (errbuf_set_location(eb, st->path, 0, 0),
                    errbuf_set(eb, -ERR_NOTFOUND, "no run %lld in the database", (long long)run_id))
                 : store_db_error(st, eb, "cannot read the run");
    sqlite3_finalize(*q);
    *q = NULL;
    return rc;
}

/* Column i of q as text into out ("" for NULL). */
static void
store_column_text(sqlite3_stmt *q, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    snprintf(out, len, "%s", t != NULL ? (const char *)t : "");
}

int
store_run_owner(struct store *st, int64_t run_id, struct store_owner *owner, char status[16],
                struct errbuf *eb)
{
    *owner = (struct store_owner){ 0 };
    sqlite3_stmt *q = NULL;
    int rc = store_select_run(
        st, "SELECT coalesce(owner_pid, 0), owner_host, owner_start, status FROM runs WHERE id = ?",
        run_id, &q, eb);
    if (rc < 0)
        return rc;
    owner->pid = sqlite3_column_int64(q, 0);
    store_column_text(q, 1, owner->host, sizeof owner->host);
    store_column_text(q, 2, owner->start, sizeof owner->start);
    store_column_text(q, 3, status, 16);
    sqlite3_finalize(q);
    return 0;
}

int
store_run_inputs(struct store *st, int64_t run_id, char **inputs, char kernel[64],
                 struct errbuf *eb)
{
    *inputs = NULL;
    kernel[0] = '\0';
    sqlite3_stmt *q = NULL;
    int rc =
        store_select_run(st, "SELECT inputs, blas_kernel FROM runs WHERE id = ?", run_id, &q, eb);
    if (rc < 0)
        return rc;
    if (sqlite3_column_type(q, 0) != SQLITE_NULL) {
        *inputs = mem_strdup((const char *)sqlite3_column_text(q, 0));
        if (*inputs == NULL)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory");
    }
    store_column_text(q, 1, kernel, 64);
    sqlite3_finalize(q);
    return rc;
}

int
store_run_result(struct store *st, int64_t run_id, struct store_run_result *out, struct errbuf *eb)
{
    *out = (struct store_run_result){ 0 };
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(
            st->db,
            "SELECT r.status, count(d.round), coalesce(sum(d.uplink_bits), 0), "
            "coalesce(sum(d.downlink_bits), 0), coalesce(max(d.sim_time_s), 0), "
            "(SELECT accuracy FROM rounds WHERE run_id = r.id AND accuracy IS NOT NULL "
            " ORDER BY round DESC LIMIT 1), coalesce(r.wall_time_s, 0) "
            "FROM runs r LEFT JOIN rounds d ON d.run_id = r.id WHERE r.id = ? GROUP BY r.id",
            -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run summary");
    sqlite3_bind_int64(q, 1, run_id);
    int step = sqlite3_step(q);
    int rc = 0;
    if (step == SQLITE_ROW) {
        snprintf(out->status, sizeof out->status, "%s", (const char *)sqlite3_column_text(q, 0));
        out->rounds = (uint64_t)sqlite3_column_int64(q, 1);
        out->uplink_bits = (uint64_t)sqlite3_column_int64(q, 2);
        out->downlink_bits = (uint64_t)sqlite3_column_int64(q, 3);
        out->sim_time_s = sqlite3_column_double(q, 4);
        out->final_accuracy = sqlite3_column_double(q, 5);
        out->wall_time_s = sqlite3_column_double(q, 6);
    } else if (step == SQLITE_DONE) {
        errbuf_set_location(eb, st->path, 0, 0);
        rc = errbuf_set(eb, -ERR_NOTFOUND, "no run %lld in the database", (long long)run_id);
    } else {
        rc = store_db_error(st, eb, "cannot read the run summary");
    }
    sqlite3_finalize(q);
    return rc;
}

int
store_begin_sweep(struct store *st, const char *name, const char *scenario_text,
                  const char *swept_keys, uint64_t combinations, const char *created_at,
                  int64_t *sweep_id, struct errbuf *eb)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO sweeps (name, scenario, swept_keys, combinations, "
                           "created_at) VALUES (?,?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the sweeps insert");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, scenario_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, swept_keys, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)combinations);
    sqlite3_bind_text(q, 5, created_at, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot record the sweep");
    sqlite3_finalize(q);
    if (rc == 0)
        *sweep_id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int
store_insert_round(struct store *st, int64_t run_id, const struct store_round *r, struct errbuf *eb)
{
    sqlite3_stmt *q = st->insert_round;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)r->round);
    sqlite3_bind_double(q, 3, (double)r->sim_time_us / 1e6);
    if (r->evaluated) {
        sqlite3_bind_double(q, 4, r->accuracy);
        sqlite3_bind_double(q, 5, r->loss);
    }
    if (r->participants > 0)
        sqlite3_bind_double(q, 6, r->train_loss);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)r->selected);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)r->participants);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)r->dropped);
    sqlite3_bind_int64(q, 10, (sqlite3_int64)r->uplink_bits);
    sqlite3_bind_int64(q, 11, (sqlite3_int64)r->downlink_bits);
    if (r->has_nmse)
        sqlite3_bind_double(q, 12, r->nmse);
    sqlite3_bind_int64(q, 13, (sqlite3_int64)r->timed_out);
    sqlite3_bind_int64(q, 14, (sqlite3_int64)r->stale);
    if (r->participants > 0)
        sqlite3_bind_double(q, 15, r->staleness_mean);
    sqlite3_bind_int64(q, 16, (sqlite3_int64)r->staleness_max);
    sqlite3_bind_int64(q, 17, (sqlite3_int64)r->discarded);
    sqlite3_bind_int(q, 18, r->failed ? 1 : 0);
    sqlite3_bind_int64(q, 19, (sqlite3_int64)r->uplink_payload_bits);
    sqlite3_bind_int64(q, 20, (sqlite3_int64)r->uplink_protocol_bits);
    sqlite3_bind_int64(q, 21, (sqlite3_int64)r->downlink_protocol_bits);
    if (r->secure)
        sqlite3_bind_int(q, 22, r->secure_aborted ? 1 : 0);
    if (r->has_client_eval) {
        sqlite3_bind_double(q, 23, r->client_acc_mean);
        sqlite3_bind_double(q, 24, r->client_acc_p10);
    }
    sqlite3_bind_int64(q, 25, (sqlite3_int64)r->downlink_anchor_bits);
    sqlite3_bind_int64(q, 26, (sqlite3_int64)r->downlink_correction_bits);
    if (r->has_privacy) {
        sqlite3_bind_double(q, 27, r->epsilon);
        sqlite3_bind_double(q, 28, r->clip_norm);
        sqlite3_bind_double(q, 29, r->noise_std);
    }
    if (r->has_wrapped)
        sqlite3_bind_int64(q, 30, (sqlite3_int64)r->wrapped);
    /* A single statement outside BEGIN is its own transaction (autocommit). */
    int step = sqlite3_step(q);
    int rc = step == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot record the round");
    sqlite3_reset(q);
    return rc;
}

int
store_write_round(struct store *st, int64_t run_id, const struct store_round *r, struct errbuf *eb)
{
    if (!store_rewind_due(st, run_id))
        return store_insert_round(st, run_id, r, eb);
    return store_write_round_clients(st, run_id, r, NULL, 0, eb);
}

static int
store_insert_client(struct store *st, int64_t run_id, uint64_t round,
                    const struct store_client_event *e, struct errbuf *eb)
{
    static const char *const outcomes[] = { "completed", "dropped", "timed_out", "discarded" };
    sqlite3_stmt *q = st->insert_client;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)round);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)e->client);
    sqlite3_bind_text(q, 4, outcomes[e->outcome], -1, SQLITE_STATIC);
    if (e->dropout_phase != NULL)
        sqlite3_bind_text(q, 5, e->dropout_phase, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, 6, (double)e->started_us / 1e6);
    if (e->finished_us >= 0)
        sqlite3_bind_double(q, 7, (double)e->finished_us / 1e6);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)e->samples);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)e->downlink_bits);
    sqlite3_bind_int64(q, 10, (sqlite3_int64)e->uplink_bits);
    sqlite3_bind_int64(q, 11, (sqlite3_int64)e->staleness);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot record a client");
    sqlite3_reset(q);
    return rc;
}

int
store_write_round_clients(struct store *st, int64_t run_id, const struct store_round *r,
                          const struct store_client_event *ev, size_t n, struct errbuf *eb)
{
    bool rewind = store_rewind_due(st, run_id);
    if (n == 0 && !rewind)
        return store_insert_round(st, run_id, r, eb);
    int rc = store_exec(st, "BEGIN IMMEDIATE", "cannot start the round transaction", eb);
    if (rc < 0)
        return rc;
    if (rewind)
        rc = store_apply_rewind(st, eb);
    if (rc == 0)
        rc = store_insert_round(st, run_id, r, eb);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = store_insert_client(st, run_id, r->round, &ev[i], eb);
    if (rc == 0)
        rc = store_exec(st, "COMMIT", "cannot commit the round", eb);
    else
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == 0 && rewind)
        st->rewind_pending = false;
    return rc;
}

int
store_finish_run(struct store *st, int64_t run_id, const char *status, const char *finished_at,
                 double wall_time_s, const char *fingerprint, const char *error, struct errbuf *eb)
{
    bool rewind = store_rewind_due(st, run_id);
    if (rewind && strcmp(status, "finished") != 0)
        return 0; /* a resume that wrote nothing leaves the run as it was */
    if (rewind) {
        int rc = store_exec(st, "BEGIN IMMEDIATE", "cannot start the finish transaction", eb);
        if (rc == 0)
            rc = store_apply_rewind(st, eb);
        if (rc == 0) {
            st->rewind_pending = false;
            rc = store_finish_run(st, run_id, status, finished_at, wall_time_s, fingerprint, error,
                                  eb);
            st->rewind_pending = rc < 0;
        }
        if (rc == 0)
            return store_exec(st, "COMMIT", "cannot commit the finish", eb);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE runs SET status = ?, finished_at = ?, wall_time_s = ?, "
                           "event_fingerprint = ?, error = ? WHERE id = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return store_db_error(st, eb, "cannot prepare the run update");
    sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, finished_at, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, 3, wall_time_s);
    if (fingerprint != NULL)
        sqlite3_bind_text(q, 4, fingerprint, -1, SQLITE_TRANSIENT);
    if (error != NULL)
        sqlite3_bind_text(q, 5, error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 6, run_id);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : store_db_error(st, eb, "cannot finish the run");
    sqlite3_finalize(q);
    return rc;
}
