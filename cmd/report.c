/* report: `fedbits report`, `fedbits export` and `fedbits check`. See report.h. */
#include "cmd/report.h"

#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mem.h"
#include "cmd/args.h"
#include "cmd/table.h"
#include "sim/carriage.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "base/banned.h"

/* How long a read waits for a writer's lock (a run committing a round is quick). */
#define REPORT_BUSY_TIMEOUT_MS 10000

/* Two-sided confidence level of the interval over seeds. */
#define REPORT_CONFIDENCE 0.95

/* Opening the database */

/*
 * Opens path read-only into *out and checks that it is a fedbits results database of a
 * schema this binary understands. On failure prints one message naming the file and returns
 * -1 (*out is NULL).
 */
static int
report_open(const char *cmd, const char *path, sqlite3 **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "fedbits %s: cannot open '%s': %s\n", cmd, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "fedbits %s: '%s' is not a regular file\n", cmd, path);
        return -1;
    }
    sqlite3 *db = NULL;
    if (store_sqlite_open_readonly(path, &db) != SQLITE_OK) {
        fprintf(stderr, "fedbits %s: cannot open '%s': %s\n", cmd, path,
                db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, REPORT_BUSY_TIMEOUT_MS);
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                      "name IN ('runs', 'rounds')), (SELECT user_version FROM pragma_user_version)";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        fprintf(stderr, "fedbits %s: '%s' is not a fedbits results database: %s\n", cmd, path,
                sqlite3_errmsg(db));
        goto fail;
    }
    if (sqlite3_column_int(st, 0) != 2) {
        fprintf(stderr,
                "fedbits %s: '%s' is not a fedbits results database (it has no runs and rounds "
                "tables)\n",
                cmd, path);
        goto fail;
    }
    if (sqlite3_column_int(st, 1) > STORE_SCHEMA_VERSION) {
        fprintf(stderr,
                "fedbits %s: '%s' has schema version %d, newer than this fedbits reads (%d)\n", cmd,
                path, sqlite3_column_int(st, 1), STORE_SCHEMA_VERSION);
        goto fail;
    }
    sqlite3_finalize(st);
    *out = db;
    return 0;
fail:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return -1;
}

/* Prepares sql on db; prints the error and returns NULL on failure. */
static sqlite3_stmt *
report_prepare(const char *cmd, const char *path, sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "fedbits %s: '%s': %s\n", cmd, path, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Returns 1 when the table holds a row with the given id, 0 when not, -1 on error (printed). */
static int
report_exists(const char *cmd, const char *path, sqlite3 *db, const char *table, int64_t id)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE id = ?1", table);
    sqlite3_stmt *st = report_prepare(cmd, path, db, sql);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found < 0)
        fprintf(stderr, "fedbits %s: '%s': %s\n", cmd, path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return found;
}

/* Parses the positive id s of option flag ("--run"); -1 (message printed) when it is not one. */
static int
report_parse_id(const char *cmd, const char *flag, const char *s, int64_t *out)
{
    uint64_t v;
    if (args_uint(cmd, flag, s, 1, INT64_MAX, &v) < 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int
report_bits_per_coord(const char *path, int64_t run_id, double *out)
{
    *out = 0.0;
    sqlite3 *db = NULL;
    if (report_open("run", path, &db) < 0)
        return -1;
    sqlite3_stmt *st = report_prepare(
        "run", path, db,
        "SELECT r.model_params, (SELECT coalesce(sum(participants), 0) FROM rounds d "
        "WHERE d.run_id = r.id), (SELECT coalesce(sum(uplink_bits), 0) FROM rounds d "
        "WHERE d.run_id = r.id) FROM runs r WHERE r.id = ?");
    int rc = -1;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, run_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            double params = sqlite3_column_double(st, 0), parts = sqlite3_column_double(st, 1);
            double up = sqlite3_column_double(st, 2);
            *out = params > 0 && parts > 0 ? up / (parts * params) : 0.0;
            rc = 0;
        } else {
            fprintf(stderr, "fedbits run: '%s' has no run %lld\n", path, (long long)run_id);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* report */

static void
report_usage(FILE *f)
{
    fprintf(f,
            "usage: fedbits report RESULTS.db [--sweep ID] [--run ID]... [--target ACC]\n"
            "                      [--format table|csv|json|markdown]\n"
            "\n"
            "One row per run: id, name, sweep label, uplink codec and bits, status, rounds,\n"
            "final and best test accuracy, rounds and simulated time to reach --target\n"
            "(without it, each run's own train.target_accuracy when some run has one;\n"
            "empty when never reached), total uplink and downlink bits, and uplink bits per\n"
            "coordinate (uplink bits / (participants x model parameters)); the payload bits per\n"
            "coordinate (the updates alone) and, under secure aggregation, how the uplink was\n"
            "carried ('carried as': fixed point or homomorphic ring, k bits); total bits (the\n"
            "table in Mbit), final simulated time and seconds per round, and bits to --target;\n"
            "for runs with differential privacy, the epsilon spent after their last round at\n"
            "their delta (the columns appear when some run has it; '-' for the others).\n"
            "Then, when finished\n"
            "runs differ only by their seed, one row per such group: the mean final accuracy\n"
            "over its seeds with a 95%% confidence interval (Student t; none for one seed).\n"
            "\n"
            "options:\n"
            "  --sweep ID       only the runs of sweep ID\n"
            "  --run ID         only run ID (repeatable)\n"
            "  --target ACC     accuracy target in [0, 1] for the time-to-accuracy columns\n"
            "  --format FMT     table (default, aligned columns), csv (with a header and a\n"
            "                   'kind' column: run or group), json (an array of objects with\n"
            "                   \"kind\": \"run\" or \"group\") or markdown (pipe tables)\n"
            "  -h, --help       show this help\n"
            "\n"
            "The database is opened read-only. Exit status: 0 success, 2 bad options, an\n"
            "unreadable or non-fedbits database, or an unknown run or sweep id.\n");
}

/* The columns of report rows; run rows and group rows share the grid (and the CSV). */
enum {
    REPORT_C_KIND,
    REPORT_C_ID,
    REPORT_C_RUNS,
    REPORT_C_NAME,
    REPORT_C_SWEEP,
    REPORT_C_CODEC,
    REPORT_C_BITS,
    REPORT_C_CARRIED,
    REPORT_C_STATUS,
    REPORT_C_ROUNDS,
    REPORT_C_FINAL,
    REPORT_C_BEST,
    REPORT_C_EPS,
    REPORT_C_DELTA,
    REPORT_C_TROUND,
    REPORT_C_TTIME,
    REPORT_C_TBITS,
    REPORT_C_UP,
    REPORT_C_DOWN,
    REPORT_C_BPC,
    REPORT_C_EFF,
    REPORT_C_TOTAL,
    REPORT_C_SIMTIME,
    REPORT_C_ROUNDS_S,
    REPORT_C_SEEDS,
    REPORT_C_MEAN,
    REPORT_C_LOW,
    REPORT_C_HIGH,
    REPORT_C_CINOTE,
    REPORT_C_COUNT,
};
_Static_assert(REPORT_C_COUNT <= TABLE_MAX_COLS, "report columns fit a view mask");

#define REPORT_BIT(c) (UINT64_C(1) << (c))

/* One selected run, as read from the database. */
struct report_run {
    int64_t id;
    bool finished;
    bool has_final;
    double final_accuracy;
    int64_t seed;
    char *group_key;   /* owned: config_json without seed and output.db */
    char *group_label; /* owned: sweep label without its seed=N part, or NULL */
    long group;        /* index into the groups */
};

/* "uplink.bits=2 seed=3" -> "uplink.bits=2" (owned), NULL for NULL. */
static char *
report_label_without_seed(const char *label)
{
    if (label == NULL)
        return NULL;
    char *out = mem_alloc(strlen(label) + 1);
    if (out == NULL)
        return NULL;
    size_t at = 0;
    const char *p = label;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > 0 && strncmp(p, "seed=", 5) != 0) {
            if (at > 0)
                out[at++] = ' ';
            memcpy(out + at, p, len);
            at += len;
        }
        p += len;
    }
    out[at] = '\0';
    return out;
}

/*
 * Sets a real-valued cell: human formats with `decimals` (%g when negative), machine formats
 * exactly (shortest round trip).
 */
static int
report_set_real(struct table *g, size_t row, size_t col, double v, bool human, int decimals)
{
    if (!isfinite(v))
        return 0; /* empty: JSON has no NaN */
    if (human && decimals < 0)
        return table_set(g, row, col, "%g", v);
    if (human)
        return table_set(g, row, col, "%.*f", decimals, v);
    char buf[40];
    table_format_real(buf, sizeof buf, v);
    return table_set(g, row, col, "%s", buf);
}

/* The run rows query: ?1 target accuracy (NULL: each run's train.target_accuracy, if any),
 * ?2 sweep id (NULL for all). */
static const char report_runs_sql[] =
    "SELECT r.id, r.name, r.sweep_label, json_extract(r.config_json, '$.uplink.codec'), "
    "json_extract(r.config_json, '$.uplink.bits'), r.status, r.model_params, "
    "(SELECT count(*) FROM rounds d WHERE d.run_id = r.id), "
    "(SELECT d.accuracy FROM rounds d WHERE d.run_id = r.id AND d.accuracy IS NOT NULL "
    " ORDER BY d.round DESC LIMIT 1), "
    "(SELECT max(d.accuracy) FROM rounds d WHERE d.run_id = r.id), "
    "(SELECT d.round FROM rounds d WHERE d.run_id = r.id AND d.accuracy >= "
    "coalesce(?1, nullif(json_extract(r.config_json, '$.train.target_accuracy'), 0)) "
    " ORDER BY d.round LIMIT 1), "
    "(SELECT d.sim_time_s FROM rounds d WHERE d.run_id = r.id AND d.accuracy >= "
    "coalesce(?1, nullif(json_extract(r.config_json, '$.train.target_accuracy'), 0)) "
    " ORDER BY d.round LIMIT 1), "
    "(SELECT coalesce(sum(d.uplink_bits), 0) FROM rounds d WHERE d.run_id = r.id), "
    "(SELECT coalesce(sum(d.downlink_bits), 0) FROM rounds d WHERE d.run_id = r.id), "
    "(SELECT coalesce(sum(d.participants), 0) FROM rounds d WHERE d.run_id = r.id), "
    "json_remove(r.config_json, '$.seed', '$.output.db'), r.config_json, "
    "(SELECT coalesce(sum(d.uplink_payload_bits), 0) FROM rounds d WHERE d.run_id = r.id), "
    "(SELECT max(d.sim_time_s) FROM rounds d WHERE d.run_id = r.id), "
    "(SELECT sum(e.uplink_bits + e.downlink_bits) FROM rounds e WHERE e.run_id = r.id AND "
    " e.round <= (SELECT d.round FROM rounds d WHERE d.run_id = r.id AND d.accuracy >= "
    "coalesce(?1, nullif(json_extract(r.config_json, '$.train.target_accuracy'), 0)) "
    " ORDER BY d.round LIMIT 1)), json_extract(r.config_json, '$.seed'), "
    "(SELECT d.epsilon FROM rounds d WHERE d.run_id = r.id AND d.epsilon IS NOT NULL "
    " ORDER BY d.round DESC LIMIT 1), json_extract(r.config_json, '$.privacy.delta') "
    "FROM runs r WHERE ?2 IS NULL OR r.sweep_id = ?2 ORDER BY r.id";

/* report_run.group of a run whose seed its group already has (a re-run): left out. */
#define REPORT_GROUP_REPEAT (-2)

/* --sweep all; without --sweep (0) the runs of the latest run's sweep. */
#define REPORT_SWEEP_ALL (-1)

struct report_opts {
    const char *db;
    int64_t sweep;    /* > 0: that sweep; 0: the latest run's; REPORT_SWEEP_ALL: every run */
    int64_t *run_ids; /* owned; n_runs of them (none: all) */
    size_t n_runs;
    bool has_target;
    double target;
    bool own_target; /* no --target, and some run has train.target_accuracy */
    enum table_format format;
};

static bool
report_selected(const struct report_opts *o, int64_t id)
{
    if (o->n_runs == 0)
        return true;
    for (size_t i = 0; i < o->n_runs; i++)
        if (o->run_ids[i] == id)
            return true;
    return false;
}

static void
report_runs_release(struct report_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mem_free(runs[i].group_key);
        mem_free(runs[i].group_label);
    }
    mem_free(runs);
}

/*
 * How the run's uplink was carried (sim/carriage.h) from its stored configuration: "codec",
 * "fixed point 23 bits" or "homomorphic ring 17 bits"; "" when the configuration does not
 * load (a database from another version).
 */
static void
report_carriage(const char *config, char *out, size_t len)
{
    out[0] = '\0';
    if (config == NULL)
        return;
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (scenario_load_resolved(&s, "(stored configuration)", config, strlen(config), NULL, 0, &eb) <
        0)
        return;
    struct carriage c;
    if (carriage_of(&s, &c, &eb) == 0)
        carriage_format_short(&c, out, len);
    scenario_release(&s);
}

/*
 * Adds one run row to the grid from the current row of the runs statement, and records the
 * run in *run. Returns -1 when out of memory.
 */
static int
report_add_run(struct table *g, sqlite3_stmt *st, bool human, struct report_run *run)
{
    long row = table_add_row(g);
    if (row < 0)
        return -1;
    size_t r = (size_t)row;
    int64_t id = sqlite3_column_int64(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *label = (const char *)sqlite3_column_text(st, 2);
    const char *codec = (const char *)sqlite3_column_text(st, 3);
    const char *status = (const char *)sqlite3_column_text(st, 5);
    int64_t rounds = sqlite3_column_int64(st, 7);
    int64_t up = sqlite3_column_int64(st, 12);
    int64_t down = sqlite3_column_int64(st, 13);
    int64_t parts = sqlite3_column_int64(st, 14);
    int64_t params = sqlite3_column_int64(st, 6);
    int rc = 0;
    rc |= table_set(g, r, REPORT_C_KIND, "run");
    rc |= table_set(g, r, REPORT_C_ID, "%lld", (long long)id);
    rc |= table_set(g, r, REPORT_C_NAME, "%s", name != NULL ? name : "");
    if (label != NULL)
        rc |= table_set(g, r, REPORT_C_SWEEP, "%s", label);
    if (codec != NULL)
        rc |= table_set(g, r, REPORT_C_CODEC, "%s", codec);
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        rc |= report_set_real(g, r, REPORT_C_BITS, sqlite3_column_double(st, 4), human, -1);
    rc |= table_set(g, r, REPORT_C_STATUS, "%s", status != NULL ? status : "");
    rc |= table_set(g, r, REPORT_C_ROUNDS, "%lld", (long long)rounds);
    if (sqlite3_column_type(st, 8) != SQLITE_NULL)
        rc |= report_set_real(g, r, REPORT_C_FINAL, sqlite3_column_double(st, 8), human, 4);
    if (sqlite3_column_type(st, 9) != SQLITE_NULL)
        rc |= report_set_real(g, r, REPORT_C_BEST, sqlite3_column_double(st, 9), human, 4);
    /* Differential privacy: epsilon after the last stored round, at the run's delta. */
    if (sqlite3_column_type(st, 21) != SQLITE_NULL) {
        double eps = sqlite3_column_double(st, 21);
        if (isinf(eps) && human) /* the accountant overflowed: no finite guarantee */
            rc |= table_set(g, r, REPORT_C_EPS, "inf");
        else
            rc |= report_set_real(g, r, REPORT_C_EPS, eps, human, 4);
        rc |= report_set_real(g, r, REPORT_C_DELTA, sqlite3_column_double(st, 22), human, -1);
    } else if (human) {
        rc |= table_set(g, r, REPORT_C_EPS, "-"); /* no privacy spent: none promised */
        rc |= table_set(g, r, REPORT_C_DELTA, "-");
    }
    if (sqlite3_column_type(st, 10) != SQLITE_NULL)
        rc |= table_set(g, r, REPORT_C_TROUND, "%lld", (long long)sqlite3_column_int64(st, 10));
    if (sqlite3_column_type(st, 11) != SQLITE_NULL)
        rc |= report_set_real(g, r, REPORT_C_TTIME, sqlite3_column_double(st, 11), human, 1);
    rc |= table_set(g, r, REPORT_C_UP, "%lld", (long long)up);
    rc |= table_set(g, r, REPORT_C_DOWN, "%lld", (long long)down);
    if (parts > 0 && params > 0)
        rc |= report_set_real(g, r, REPORT_C_BPC, (double)up / ((double)parts * (double)params),
                              human, 4);
    char carried[64];
    report_carriage((const char *)sqlite3_column_text(st, 16), carried, sizeof carried);
    if (carried[0] != '\0')
        rc |= table_set(g, r, REPORT_C_CARRIED, "%s", carried);
    int64_t payload = sqlite3_column_int64(st, 17);
    if (parts > 0 && params > 0)
        rc |= report_set_real(g, r, REPORT_C_EFF,
                              (double)payload / ((double)parts * (double)params), human, 2);
    /* Machine formats in bits; the table in Mbit (its column title says so). */
    double total = (double)up + (double)down;
    rc |= report_set_real(g, r, REPORT_C_TOTAL, human ? total / 1e6 : total, human, 2);
    if (sqlite3_column_type(st, 18) != SQLITE_NULL) {
        double sim_s = sqlite3_column_double(st, 18);
        rc |= report_set_real(g, r, REPORT_C_SIMTIME, sim_s, human, 1);
        /* The mean simulated duration of a round: protocols compared per unit of time. */
        if (rounds > 0)
            rc |= report_set_real(g, r, REPORT_C_ROUNDS_S, sim_s / (double)rounds, human, 2);
    }
    if (sqlite3_column_type(st, 19) != SQLITE_NULL) {
        double tb = sqlite3_column_double(st, 19);
        rc |= report_set_real(g, r, REPORT_C_TBITS, human ? tb / 1e6 : tb, human, 2);
    }
    const char *key = (const char *)sqlite3_column_text(st, 15);
    *run = (struct report_run){
        .id = id,
        .finished = status != NULL && strcmp(status, "finished") == 0,
        .has_final = sqlite3_column_type(st, 8) != SQLITE_NULL,
        .final_accuracy = sqlite3_column_double(st, 8),
        .seed = sqlite3_column_int64(st, 20),
        .group_key = mem_strdup(key != NULL ? key : ""),
        .group_label = report_label_without_seed(label),
        .group = -1,
    };
    if (run->group_key == NULL || (label != NULL && run->group_label == NULL))
        rc = -1;
    return rc != 0 ? -1 : 0;
}

/*
 * Groups the finished runs with a final accuracy by group_key and adds one group row per
 * group (first-run order). Sets *any_repeated when some group has two or more runs.
 */
static int
report_add_groups(struct table *g, struct report_run *runs, size_t n, const size_t *run_row,
                  bool human, bool *any_repeated)
{
    *any_repeated = false;
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].finished || !runs[i].has_final || runs[i].group != -1)
            continue;
        /* Run i opens a new group; collect every later run with the same key and a seed of
         * its own (a re-run of the same seed is the same experiment, not another sample). */
        size_t count = 0;
        double sum = 0.0;
        for (size_t j = i; j < n; j++) {
            if (!runs[j].finished || !runs[j].has_final || runs[j].group != -1 ||
                strcmp(runs[j].group_key, runs[i].group_key) != 0)
                continue;
            bool repeat = false;
            for (size_t k = i; k < j && !repeat; k++)
                repeat = runs[k].group == (long)i && runs[k].seed == runs[j].seed;
            if (repeat) {
                runs[j].group = REPORT_GROUP_REPEAT;
                continue;
            }
            runs[j].group = (long)i;
            count++;
            sum += runs[j].final_accuracy;
        }
        double mean = sum / (double)count;
        long row = table_add_row(g);
        if (row < 0)
            return -1;
        size_t r = (size_t)row;
        /* The list of run ids, comma-separated. */
        size_t cap = 24 * count + 1, at = 0;
        char *ids = mem_alloc(cap);
        if (ids == NULL)
            return -1;
        ids[0] = '\0';
        double ss = 0.0;
        for (size_t j = i; j < n; j++) {
            if (runs[j].group != (long)i)
                continue;
            int w =
                snprintf(ids + at, cap - at, "%s%lld", at > 0 ? "," : "", (long long)runs[j].id);
            at += w > 0 ? (size_t)w : 0;
            ss += (runs[j].final_accuracy - mean) * (runs[j].final_accuracy - mean);
        }
        int rc = 0;
        rc |= table_set(g, r, REPORT_C_KIND, "group");
        rc |= table_set(g, r, REPORT_C_RUNS, "%s", ids);
        mem_free(ids);
        /* Name, codec and bits are the same for the whole group: copy the first run's. */
        static const int same[] = { REPORT_C_NAME, REPORT_C_CODEC, REPORT_C_BITS,
                                    REPORT_C_CARRIED };
        for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
            const char *s = table_cell(g, run_row[i], (size_t)same[k]);
            if (s != NULL)
                rc |= table_set(g, r, (size_t)same[k], "%s", s);
        }
        if (runs[i].group_label != NULL && runs[i].group_label[0] != '\0')
            rc |= table_set(g, r, REPORT_C_SWEEP, "%s", runs[i].group_label);
        rc |= table_set(g, r, REPORT_C_SEEDS, "%zu", count);
        rc |= report_set_real(g, r, REPORT_C_MEAN, mean, human, 4);
        if (count >= 2) {
            /* Student t with n - 1 degrees of freedom on the sample standard deviation. */
            double sd = sqrt(ss / (double)(count - 1));
            double t = gsl_cdf_tdist_Pinv(0.5 + REPORT_CONFIDENCE / 2, (double)(count - 1));
            double half = t * sd / sqrt((double)count);
            /* Accuracy lies in [0, 1]: the interval is clipped there, and says so. */
            double low = mean - half, high = mean + half;
            bool clipped = low < 0.0 || high > 1.0;
            rc |= report_set_real(g, r, REPORT_C_LOW, low < 0.0 ? 0.0 : low, human, 4);
            rc |= report_set_real(g, r, REPORT_C_HIGH, high > 1.0 ? 1.0 : high, human, 4);
            if (count == 2 || clipped)
                rc |= table_set(
                    g, r, REPORT_C_CINOTE, "%s%s%s", count == 2 ? "2 seeds: t = 12.7, wide" : "",
                    count == 2 && clipped ? "; " : "", clipped ? "clipped to [0, 1]" : "");
            *any_repeated = true;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int
report_parse_opts(int argc, char **argv, struct report_opts *o)
{
    enum { OPT_SWEEP = 256, OPT_RUN, OPT_TARGET, OPT_FORMAT };
    static const struct option opts[] = {
        { "sweep", required_argument, NULL, OPT_SWEEP },
        { "run", required_argument, NULL, OPT_RUN },
        { "target", required_argument, NULL, OPT_TARGET },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0];
    struct args a = args_start(cmd, argc, argv);
    for (;;) {
        int c = args_next(&a, "h", opts);
        if (c == -1)
            break;
        switch (c) {
        case 'h':
            return 1;
        case OPT_SWEEP:
            if (strcmp(optarg, "all") == 0)
                o->sweep = REPORT_SWEEP_ALL;
            else if (report_parse_id(cmd, "--sweep", optarg, &o->sweep) < 0)
                return -1;
            break;
        case OPT_RUN: {
            int64_t id;
            if (report_parse_id(cmd, "--run", optarg, &id) < 0)
                return -1;
            int64_t *ids = mem_realloc(o->run_ids, (o->n_runs + 1) * sizeof *ids);
            if (ids == NULL) {
                args_error(cmd, "out of memory");
                return -1;
            }
            o->run_ids = ids;
            o->run_ids[o->n_runs++] = id;
            break;
        }
        case OPT_TARGET: {
            double t;
            if (args_number(cmd, "--target", optarg, &t) < 0)
                return -1;
            if (!(t >= 0.0 && t <= 1.0)) {
                args_error(cmd, "--target '%s' must be an accuracy in [0, 1]", optarg);
                return -1;
            }
            o->has_target = true;
            o->target = t;
            break;
        }
        case OPT_FORMAT:
            if (table_parse_format(optarg, true, &o->format) < 0) {
                args_error(cmd, "--format '%s' must be table, csv, json or markdown", optarg);
                return -1;
            }
            break;
        default:
            return -1;
        }
    }
    return args_operand(&a, &o->db, "which results database? (fedbits report RESULTS.db)") != 0 ? -1
                                                                                                : 0;
}

/* Checks that the --sweep and --run ids exist; prints the first that does not. */
/*
 * Without --sweep and --run: the sweep of the latest run (re-running a scenario into the same
 * database adds a sweep, which must not pass for more seeds), or every run when the latest is
 * not part of a sweep. Says on stderr what is left out. -1 on a database error (printed).
 */
static int
report_default_sweep(const char *cmd, struct report_opts *o, sqlite3 *db)
{
    if (o->sweep != 0 || o->n_runs > 0) {
        if (o->sweep == REPORT_SWEEP_ALL)
            o->sweep = 0;
        return 0;
    }
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT (SELECT sweep_id FROM runs ORDER BY id DESC LIMIT 1), "
                      "(SELECT count(*) FROM runs), (SELECT count(*) FROM runs WHERE sweep_id = "
                      "(SELECT sweep_id FROM runs ORDER BY id DESC LIMIT 1))";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        fprintf(stderr, "fedbits %s: '%s': %s\n", cmd, o->db, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    int64_t sweep = sqlite3_column_int64(st, 0);
    int64_t all = sqlite3_column_int64(st, 1), in_sweep = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    if (sweep > 0 && in_sweep < all) {
        o->sweep = sweep;
        fprintf(stderr,
                "fedbits %s: the latest sweep (%lld: %lld of %lld runs); --sweep all for every "
                "run\n",
                cmd, (long long)sweep, (long long)in_sweep, (long long)all);
    }
    return 0;
}

static int
report_check_ids(const char *cmd, const struct report_opts *o, sqlite3 *db)
{
    if (o->sweep > 0) {
        int found = report_exists(cmd, o->db, db, "sweeps", o->sweep);
        if (found <= 0) {
            if (found == 0)
                fprintf(stderr, "fedbits %s: '%s' has no sweep %lld\n", cmd, o->db,
                        (long long)o->sweep);
            return -1;
        }
    }
    for (size_t i = 0; i < o->n_runs; i++) {
        int found = report_exists(cmd, o->db, db, "runs", o->run_ids[i]);
        if (found <= 0) {
            if (found == 0)
                fprintf(stderr, "fedbits %s: '%s' has no run %lld\n", cmd, o->db,
                        (long long)o->run_ids[i]);
            return -1;
        }
    }
    return 0;
}

/* True when a run of o's sweep (all runs: any) sets train.target_accuracy. */
static bool
report_any_own_target(const struct report_opts *o, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM runs WHERE (?1 IS NULL OR sweep_id = ?1) AND "
                           "json_extract(config_json, '$.train.target_accuracy') > 0 LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return false;
    }
    if (o->sweep > 0)
        sqlite3_bind_int64(st, 1, o->sweep);
    bool any = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return any;
}

/* Prints the run rows (and the group rows when has_groups) of g in o's format. */
static void
report_print(const struct report_opts *o, const struct table *g, bool has_groups)
{
    bool human = o->format == TABLE_FORMAT_TEXT || o->format == TABLE_FORMAT_MARKDOWN;
    uint64_t all = REPORT_BIT(REPORT_C_COUNT) - 1;
    uint64_t run_cols =
        all & ~(REPORT_BIT(REPORT_C_RUNS) | REPORT_BIT(REPORT_C_SEEDS) | REPORT_BIT(REPORT_C_MEAN) |
                REPORT_BIT(REPORT_C_LOW) | REPORT_BIT(REPORT_C_HIGH) | REPORT_BIT(REPORT_C_CINOTE));
    uint64_t group_cols =
        REPORT_BIT(REPORT_C_KIND) | REPORT_BIT(REPORT_C_RUNS) | REPORT_BIT(REPORT_C_NAME) |
        REPORT_BIT(REPORT_C_SWEEP) | REPORT_BIT(REPORT_C_CODEC) | REPORT_BIT(REPORT_C_BITS) |
        REPORT_BIT(REPORT_C_CARRIED) | REPORT_BIT(REPORT_C_SEEDS) | REPORT_BIT(REPORT_C_MEAN) |
        REPORT_BIT(REPORT_C_LOW) | REPORT_BIT(REPORT_C_HIGH) | REPORT_BIT(REPORT_C_CINOTE);
    if (human) {
        /* The kind is said by the section; empty sweep and target columns are left out. */
        uint64_t hide = REPORT_BIT(REPORT_C_KIND);
        if (!o->has_target && !o->own_target)
            hide |= REPORT_BIT(REPORT_C_TROUND) | REPORT_BIT(REPORT_C_TTIME) |
                    REPORT_BIT(REPORT_C_TBITS);
        bool any_sweep = false, any_secure = false;
        for (size_t r = 0; r < g->nrows; r++) {
            const char *carried = table_cell(g, r, REPORT_C_CARRIED);
            any_sweep |= table_cell(g, r, REPORT_C_SWEEP) != NULL;
            any_secure |= carried != NULL && strcmp(carried, "codec") != 0;
        }
        if (!any_sweep)
            hide |= REPORT_BIT(REPORT_C_SWEEP);
        bool any_note = false;
        for (size_t r = 0; r < g->nrows; r++)
            any_note |= table_cell(g, r, REPORT_C_CINOTE) != NULL;
        if (!any_note)
            hide |= REPORT_BIT(REPORT_C_CINOTE);
        /* Without secure aggregation every update is its codec's message: nothing to add. */
        if (!any_secure)
            hide |= REPORT_BIT(REPORT_C_CARRIED) | REPORT_BIT(REPORT_C_EFF);
        /* Privacy columns only when some run spent privacy; "-" for the runs that did not. */
        bool any_dp = false;
        for (size_t r = 0; r < g->nrows; r++) {
            const char *eps = table_cell(g, r, REPORT_C_EPS);
            any_dp |= eps != NULL && strcmp(eps, "-") != 0;
        }
        if (!any_dp)
            hide |= REPORT_BIT(REPORT_C_EPS) | REPORT_BIT(REPORT_C_DELTA);
        run_cols &= ~hide;
        group_cols &= ~hide;
    }
    struct table_view run_view = { "run", REPORT_C_KIND, run_cols };
    struct table_view group_view = { "group", REPORT_C_KIND, group_cols };
    struct table_view all_view = { NULL, 0, all };
    switch (o->format) {
    case TABLE_FORMAT_TEXT:
        table_print_text(stdout, g, &run_view);
        if (has_groups) {
            printf("\nmean final accuracy over seeds (%g%% confidence interval, Student t):\n",
                   100 * REPORT_CONFIDENCE);
            table_print_text(stdout, g, &group_view);
        }
        break;
    case TABLE_FORMAT_MARKDOWN:
        table_print_markdown(stdout, g, &run_view);
        if (has_groups) {
            printf("\nMean final accuracy over seeds (%g%% confidence interval, Student t):\n\n",
                   100 * REPORT_CONFIDENCE);
            table_print_markdown(stdout, g, &group_view);
        }
        break;
    case TABLE_FORMAT_CSV:
        table_print_csv(stdout, g, &all_view);
        break;
    case TABLE_FORMAT_JSON: {
        bool first = true;
        fputs("[\n", stdout);
        table_print_json_objects(stdout, g, &run_view, &first);
        table_print_json_objects(stdout, g, &group_view, &first);
        fputs(first ? "]\n" : "\n]\n", stdout);
        break;
    }
    }
}

int
report_cmd(int argc, char **argv)
{
    const char *cmd = argv[0];
    struct report_opts o = { .format = TABLE_FORMAT_TEXT };
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct report_run *runs = NULL;
    size_t *run_row = NULL;
    size_t n = 0, cap = 0;
    char tround_title[48], ttime_title[48], tbits_title[48];
    const struct table_col cols[REPORT_C_COUNT] = {
        [REPORT_C_KIND] = { "kind", "kind", TABLE_TEXT },
        [REPORT_C_ID] = { "id", "id", TABLE_NUM },
        [REPORT_C_RUNS] = { "runs", "runs", TABLE_LIST },
        [REPORT_C_NAME] = { "name", "name", TABLE_TEXT },
        [REPORT_C_SWEEP] = { "sweep", "sweep", TABLE_TEXT },
        [REPORT_C_CODEC] = { "codec", "codec", TABLE_TEXT },
        [REPORT_C_BITS] = { "bits", "bits", TABLE_NUM },
        [REPORT_C_CARRIED] = { "carried", "carried as", TABLE_TEXT },
        [REPORT_C_STATUS] = { "status", "status", TABLE_TEXT },
        [REPORT_C_ROUNDS] = { "rounds", "rounds", TABLE_NUM },
        [REPORT_C_FINAL] = { "final_accuracy", "final acc", TABLE_NUM },
        [REPORT_C_BEST] = { "best_accuracy", "best acc", TABLE_NUM },
        [REPORT_C_EPS] = { "epsilon", "epsilon", TABLE_NUM },
        [REPORT_C_DELTA] = { "delta", "delta", TABLE_NUM },
        [REPORT_C_TROUND] = { "target_round", tround_title, TABLE_NUM },
        [REPORT_C_TTIME] = { "target_time_s", ttime_title, TABLE_NUM },
        [REPORT_C_UP] = { "uplink_bits", "uplink bits", TABLE_NUM },
        [REPORT_C_DOWN] = { "downlink_bits", "downlink bits", TABLE_NUM },
        [REPORT_C_BPC] = { "uplink_bits_per_coord", "up bits/coord", TABLE_NUM },
        [REPORT_C_EFF] = { "uplink_payload_bits_per_coord", "payload bits/coord", TABLE_NUM },
        [REPORT_C_TOTAL] = { "total_bits", "total Mbit", TABLE_NUM },
        [REPORT_C_SIMTIME] = { "sim_time_s", "sim time s", TABLE_NUM },
        [REPORT_C_ROUNDS_S] = { "round_duration_s", "s/round", TABLE_NUM },
        [REPORT_C_TBITS] = { "target_bits", tbits_title, TABLE_NUM },
        [REPORT_C_SEEDS] = { "seeds", "seeds", TABLE_NUM },
        [REPORT_C_MEAN] = { "mean_final_accuracy", "mean final acc", TABLE_NUM },
        [REPORT_C_LOW] = { "ci95_low", "95% CI low", TABLE_NUM },
        [REPORT_C_HIGH] = { "ci95_high", "95% CI high", TABLE_NUM },
        [REPORT_C_CINOTE] = { "ci_note", "CI note", TABLE_TEXT },
    };
    struct table g = table_make(cols, REPORT_C_COUNT);
    int status = ARGS_EXIT_USAGE;
    int prc = report_parse_opts(argc, argv, &o);
    if (prc != 0) {
        if (prc > 0) {
            report_usage(stdout);
            status = EXIT_SUCCESS;
        }
        goto out;
    }
    bool human = o.format == TABLE_FORMAT_TEXT || o.format == TABLE_FORMAT_MARKDOWN;
    if (report_open(cmd, o.db, &db) < 0 || report_default_sweep(cmd, &o, db) < 0 ||
        report_check_ids(cmd, &o, db) < 0)
        goto out;
    o.own_target = !o.has_target && report_any_own_target(&o, db);
    bool own_target = o.own_target;
    snprintf(tround_title, sizeof tround_title, own_target ? "rounds to target" : "rounds to %g",
             o.target);
    snprintf(ttime_title, sizeof ttime_title, own_target ? "sim s to target" : "sim s to %g",
             o.target);
    snprintf(tbits_title, sizeof tbits_title, own_target ? "Mbit to target" : "Mbit to %g",
             o.target);
    st = report_prepare(cmd, o.db, db, report_runs_sql);
    if (st == NULL)
        goto out;
    if (o.has_target)
        sqlite3_bind_double(st, 1, o.target);
    if (o.sweep > 0)
        sqlite3_bind_int64(st, 2, o.sweep);
    int rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (!report_selected(&o, sqlite3_column_int64(st, 0)))
            continue;
        if (n == cap) {
            cap = cap > 0 ? 2 * cap : 16;
            struct report_run *r2 = mem_realloc(runs, cap * sizeof *r2);
            size_t *rr2 = r2 != NULL ? mem_realloc(run_row, cap * sizeof *rr2) : NULL;
            if (r2 != NULL)
                runs = r2;
            if (rr2 == NULL)
                goto nomem;
            run_row = rr2;
        }
        runs[n] = (struct report_run){ .group = -1 };
        run_row[n] = g.nrows;
        n++;
        if (report_add_run(&g, st, human, &runs[n - 1]) < 0)
            goto nomem;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "fedbits %s: '%s': %s\n", cmd, o.db, sqlite3_errmsg(db));
        goto out;
    }
    size_t n_run_rows = g.nrows;
    bool repeated = false;
    if (report_add_groups(&g, runs, n, run_row, human, &repeated) < 0)
        goto nomem;
    if (!repeated) {
        /* No seed repeats: the group rows would only restate the run rows. */
        for (size_t i = n_run_rows * g.ncols; i < g.nrows * g.ncols; i++)
            mem_free(g.cells[i]);
        g.nrows = n_run_rows;
    }

    report_print(&o, &g, g.nrows > n_run_rows);
    status = EXIT_SUCCESS;
    goto out;
nomem:
    fprintf(stderr, "fedbits %s: out of memory\n", cmd);
    status = ARGS_EXIT_FAILURE;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    table_release(&g);
    report_runs_release(runs, n);
    mem_free(run_row);
    mem_free(o.run_ids);
    return status;
}

/* export */

static void
report_export_usage(FILE *f)
{
    fprintf(f,
            "usage: fedbits export RESULTS.db --run ID [--table rounds|clients_rounds]\n"
            "                      [--format csv|json]\n"
            "\n"
            "Writes the rows of one run to stdout, every column of the table (docs/results.md),\n"
            "ordered by round (and client): CSV with a header line (empty fields for NULL),\n"
            "or a JSON array of objects (null for NULL). clients_rounds has rows only for runs\n"
            "made with output.client_events: true.\n"
            "\n"
            "options:\n"
            "  --run ID        the run to export (required)\n"
            "  --table T       rounds (default) or clients_rounds\n"
            "  --format FMT    csv (default) or json\n"
            "  -h, --help      show this help\n"
            "\n"
            "Exit status: 0 success, 2 bad options, an unreadable or non-fedbits database,\n"
            "or an unknown run.\n");
}

/* Formats column i of the current row into buf; returns NULL for SQL NULL (and NaN). */
static const char *
report_export_value(sqlite3_stmt *st, int i, char *buf, size_t len, bool *is_text)
{
    *is_text = false;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return NULL;
    case SQLITE_INTEGER:
        snprintf(buf, len, "%lld", (long long)sqlite3_column_int64(st, i));
        return buf;
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(st, i);
        if (!isfinite(v))
            return NULL;
        /* Round-trip precision; an integral value keeps a ".0" so it reads back as a real. */
        table_format_real(buf, len, v);
        if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 2 < len)
            memcpy(buf + strlen(buf), ".0", 3);
        return buf;
    }
    default:
        *is_text = true;
        return (const char *)sqlite3_column_text(st, i);
    }
}

/* The options of fedbits export: 0, 1 after --help, or ARGS_EXIT_USAGE (message printed). */
static int
report_export_parse(int argc, char **argv, const char **path, int64_t *run_id, bool *clients,
                    enum table_format *format)
{
    enum { OPT_RUN = 256, OPT_TABLE, OPT_FORMAT };
    static const struct option opts[] = {
        { "run", required_argument, NULL, OPT_RUN },
        { "table", required_argument, NULL, OPT_TABLE },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0];
    struct args a = args_start(cmd, argc, argv);
    for (;;) {
        int c = args_next(&a, "h", opts);
        if (c == -1)
            break;
        switch (c) {
        case 'h':
            report_export_usage(stdout);
            return 1;
        case OPT_RUN:
            if (report_parse_id(cmd, "--run", optarg, run_id) < 0)
                return ARGS_EXIT_USAGE;
            break;
        case OPT_TABLE:
            if (strcmp(optarg, "rounds") != 0 && strcmp(optarg, "clients_rounds") != 0)
                return args_error(cmd, "--table '%s' must be rounds or clients_rounds", optarg);
            *clients = strcmp(optarg, "clients_rounds") == 0;
            break;
        case OPT_FORMAT:
            if (table_parse_format(optarg, false, format) < 0)
                return args_error(cmd, "--format '%s' must be csv or json", optarg);
            break;
        default:
            return ARGS_EXIT_USAGE;
        }
    }
    if (args_operand(&a, path, "which results database? (fedbits export RESULTS.db --run ID)") != 0)
        return ARGS_EXIT_USAGE;
    if (*run_id == 0)
        return args_error(cmd, "which run? (--run ID; 'fedbits report %s' lists them)", *path);
    return 0;
}

int
report_cmd_export(int argc, char **argv)
{
    const char *cmd = argv[0], *path = NULL;
    int64_t run_id = 0;
    bool clients = false;
    enum table_format format = TABLE_FORMAT_CSV;
    int prc = report_export_parse(argc, argv, &path, &run_id, &clients, &format);
    if (prc != 0)
        return prc == 1 ? EXIT_SUCCESS : prc;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int status = ARGS_EXIT_USAGE;
    if (report_open(cmd, path, &db) < 0)
        goto out;
    int found = report_exists(cmd, path, db, "runs", run_id);
    if (found <= 0) {
        if (found == 0)
            fprintf(stderr, "fedbits %s: '%s' has no run %lld\n", cmd, path, (long long)run_id);
        goto out;
    }
    if (clients) {
        sqlite3_stmt *t = report_prepare(
            cmd, path, db,
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clients_rounds'");
        int has = t != NULL && sqlite3_step(t) == SQLITE_ROW;
        sqlite3_finalize(t);
        if (!has) {
            fprintf(stderr, "fedbits %s: '%s' has no clients_rounds table\n", cmd, path);
            goto out;
        }
    }
    st = report_prepare(cmd, path, db,
                        clients ? "SELECT * FROM clients_rounds WHERE run_id = ?1 "
                                  "ORDER BY round, client, rowid"
                                : "SELECT * FROM rounds WHERE run_id = ?1 ORDER BY round");
    if (st == NULL)
        goto out;
    sqlite3_bind_int64(st, 1, run_id);
    int ncols = sqlite3_column_count(st);
    if (format == TABLE_FORMAT_CSV) {
        for (int i = 0; i < ncols; i++) {
            fputs(i > 0 ? "," : "", stdout);
            table_print_csv_field(stdout, sqlite3_column_name(st, i));
        }
        fputc('\n', stdout);
    } else {
        fputs("[", stdout);
    }
    size_t rows = 0;
    int rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (format == TABLE_FORMAT_JSON)
            fputs(rows > 0 ? ",\n  {" : "\n  {", stdout);
        for (int i = 0; i < ncols; i++) {
            char buf[64];
            bool is_text;
            const char *v = report_export_value(st, i, buf, sizeof buf, &is_text);
            if (format == TABLE_FORMAT_CSV) {
                fputs(i > 0 ? "," : "", stdout);
                table_print_csv_field(stdout, v);
                continue;
            }
            fputs(i > 0 ? ", " : "", stdout);
            table_print_json_string(stdout, sqlite3_column_name(st, i));
            fputs(": ", stdout);
            if (v == NULL)
                fputs("null", stdout);
            else if (is_text)
                table_print_json_string(stdout, v);
            else
                fputs(v, stdout);
        }
        fputs(format == TABLE_FORMAT_CSV ? "\n" : "}", stdout);
        rows++;
    }
    if (format == TABLE_FORMAT_JSON)
        fputs(rows > 0 ? "\n]\n" : "]\n", stdout);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "fedbits %s: '%s': %s\n", cmd, path, sqlite3_errmsg(db));
        status = ARGS_EXIT_FAILURE;
        goto out;
    }
    if (rows == 0 && clients)
        fprintf(stderr,
                "fedbits %s: run %lld has no clients_rounds rows (it ran without "
                "output.client_events: true)\n",
                cmd, (long long)run_id);
    status = EXIT_SUCCESS;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return status;
}

/* check */

static void
report_check_usage(FILE *f)
{
    fprintf(f, "usage: fedbits check RESULTS.db --baseline BASELINE.db\n"
               "                     [--tolerance accuracy=A,bits=B] [--allow-missing]\n"
               "                     [--format text|junit]\n"
               "\n"
               "Regression check for CI. Matches the runs of the two databases by config_hash\n"
               "(the same resolved scenario; the latest finished run of each hash on each side)\n"
               "and prints one line per configuration: baseline and current final accuracy and\n"
               "total bits (uplink + downlink), and a verdict. A matched run regressed when its\n"
               "final accuracy is lower than the baseline's by more than A (absolute), or its\n"
               "total bits exceed the baseline's by more than the fraction B (0: any growth).\n"
               "\n"
               "options:\n"
               "  --baseline DB     the baseline results database (required)\n"
               "  --tolerance SPEC  accuracy=A,bits=B, either part optional\n"
               "                    (default accuracy=0.01,bits=0)\n"
               "  --allow-missing   a baseline run without a finished match is a warning, not\n"
               "                    a failure\n"
               "  --format FMT      text (default, the diff table) or junit (JUnit XML on\n"
               "                    stdout: one test case per configuration, for CI systems)\n"
               "  -h, --help        show this help\n"
               "\n"
               "Exit status: 0 no matched run regressed and none missing, 1 some run regressed\n"
               "or a baseline run has no finished match (unless --allow-missing), 2 unusable\n"
               "input (unreadable database, bad tolerance, or no baseline run matched).\n");
}

/* The latest finished run of one config_hash. */
struct report_entry {
    char *hash;  /* owned */
    char *label; /* owned: "name" or "name (sweep label)" */
    int64_t id;
    bool has_accuracy;
    double accuracy;
    uint64_t bits; /* uplink + downlink */
    bool matched;
};

struct report_entries {
    struct report_entry *v;
    size_t n;
};

static void
report_entries_release(struct report_entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        mem_free(e->v[i].hash);
        mem_free(e->v[i].label);
    }
    mem_free(e->v);
    *e = (struct report_entries){ 0 };
}

/* Reads the latest finished run per config_hash of db; -1 on error (printed). */
static int
report_entries_load(const char *cmd, const char *path, sqlite3 *db, struct report_entries *out)
{
    static const char sql[] =
        "SELECT r.config_hash, r.id, r.name, r.sweep_label, "
        "(SELECT d.accuracy FROM rounds d WHERE d.run_id = r.id AND d.accuracy IS NOT NULL "
        " ORDER BY d.round DESC LIMIT 1), "
        "(SELECT coalesce(sum(d.uplink_bits), 0) + coalesce(sum(d.downlink_bits), 0) "
        " FROM rounds d WHERE d.run_id = r.id) "
        "FROM runs r WHERE r.status = 'finished' AND r.id = (SELECT max(r2.id) FROM runs r2 "
        " WHERE r2.config_hash = r.config_hash AND r2.status = 'finished') ORDER BY r.id";
    sqlite3_stmt *st = report_prepare(cmd, path, db, sql);
    if (st == NULL)
        return -1;
    size_t cap = 0;
    int rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (out->n == cap) {
            cap = cap > 0 ? 2 * cap : 16;
            struct report_entry *v = mem_realloc(out->v, cap * sizeof *v);
            if (v == NULL)
                goto nomem;
            out->v = v;
        }
        const char *hash = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        const char *label = (const char *)sqlite3_column_text(st, 3);
        struct report_entry *e = &out->v[out->n++];
        *e = (struct report_entry){
            .id = sqlite3_column_int64(st, 1),
            .has_accuracy = sqlite3_column_type(st, 4) != SQLITE_NULL,
            .accuracy = sqlite3_column_double(st, 4),
            .bits = (uint64_t)sqlite3_column_int64(st, 5),
            .hash = mem_strdup(hash != NULL ? hash : ""),
        };
        size_t len = (name != NULL ? strlen(name) : 0) + (label != NULL ? strlen(label) : 0) + 4;
        e->label = mem_alloc(len);
        if (e->hash == NULL || e->label == NULL)
            goto nomem;
        if (label != NULL)
            snprintf(e->label, len, "%s (%s)", name != NULL ? name : "", label);
        else
            snprintf(e->label, len, "%s", name != NULL ? name : "");
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "fedbits %s: '%s': %s\n", cmd, path, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
nomem:
    fprintf(stderr, "fedbits %s: out of memory\n", cmd);
    sqlite3_finalize(st);
    return -1;
}

/* Parses "accuracy=0.01,bits=0" (either part optional, any order); -1 on a bad spec. */
static int
report_parse_tolerance(const char *spec, double *acc, double *bits)
{
    const char *p = spec;
    if (*p == '\0')
        return -1;
    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            return -1;
        double *dst;
        size_t klen = (size_t)(eq - p);
        if (klen == 8 && strncmp(p, "accuracy", 8) == 0)
            dst = acc;
        else if (klen == 4 && strncmp(p, "bits", 4) == 0)
            dst = bits;
        else
            return -1;
        const char *v = eq + 1;
        if (*v == '\0' || *v == ',' || *v == ' ' || *v == '-' || *v == '+')
            return -1;
        char *end = NULL;
        errno = 0;
        double x = strtod(v, &end);
        if (errno != 0 || end == v || (*end != '\0' && *end != ',') || !isfinite(x) || x < 0.0)
            return -1;
        *dst = x;
        p = end;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return -1;
        }
    }
    return 0;
}

enum {
    REPORT_K_CONFIG,
    REPORT_K_NAME,
    REPORT_K_RUNS,
    REPORT_K_BASE_ACC,
    REPORT_K_ACC,
    REPORT_K_DACC,
    REPORT_K_BASE_BITS,
    REPORT_K_BITS,
    REPORT_K_DBITS,
    REPORT_K_VERDICT,
    REPORT_K_COUNT,
};
_Static_assert(REPORT_K_COUNT <= TABLE_MAX_COLS, "check columns fit a view mask");

/* Adds one line of the diff table; base or cur may be NULL (missing, new). */
static int
report_check_row(struct table *g, const struct report_entry *base, const struct report_entry *cur,
                 const char *verdict)
{
    const struct report_entry *any = base != NULL ? base : cur;
    long row = table_add_row(g);
    if (row < 0)
        return -1;
    size_t r = (size_t)row;
    int rc = 0;
    rc |= table_set(g, r, REPORT_K_CONFIG, "%.8s", any->hash);
    rc |= table_set(g, r, REPORT_K_NAME, "%s", any->label);
    char bid[24] = "-", cid[24] = "-";
    if (base != NULL)
        snprintf(bid, sizeof bid, "%lld", (long long)base->id);
    if (cur != NULL)
        snprintf(cid, sizeof cid, "%lld", (long long)cur->id);
    rc |= table_set(g, r, REPORT_K_RUNS, "%s -> %s", bid, cid);
    if (base != NULL && base->has_accuracy)
        rc |= table_set(g, r, REPORT_K_BASE_ACC, "%.4f", base->accuracy);
    if (cur != NULL && cur->has_accuracy)
        rc |= table_set(g, r, REPORT_K_ACC, "%.4f", cur->accuracy);
    if (base != NULL && cur != NULL && base->has_accuracy && cur->has_accuracy)
        rc |= table_set(g, r, REPORT_K_DACC, "%+.4f", cur->accuracy - base->accuracy);
    if (base != NULL)
        rc |= table_set(g, r, REPORT_K_BASE_BITS, "%llu", (unsigned long long)base->bits);
    if (cur != NULL)
        rc |= table_set(g, r, REPORT_K_BITS, "%llu", (unsigned long long)cur->bits);
    if (base != NULL && cur != NULL && base->bits > 0)
        rc |= table_set(g, r, REPORT_K_DBITS, "%+.2f%%",
                        100.0 * ((double)cur->bits - (double)base->bits) / (double)base->bits);
    rc |= table_set(g, r, REPORT_K_VERDICT, "%s", verdict);
    return rc != 0 ? -1 : 0;
}

/* XML text of s (&, <, >, " escaped) on f. */
static void
report_xml_text(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* One "title value" pair of a JUnit message, skipped when the cell is empty. */
static void
report_junit_field(FILE *f, const struct table *g, size_t r, size_t col, const char *title)
{
    const char *v = table_cell(g, r, col);
    if (v == NULL)
        return;
    fprintf(f, " %s ", title);
    report_xml_text(f, v);
}

/*
 * The diff table g as JUnit XML: one test case per configuration (its name and config
 * hash); a regression, and a missing run unless allow_missing, is a failure, a new run
 * or an allowed missing one is skipped.
 */
static void
report_check_junit(FILE *f, const struct table *g, size_t failures, size_t skipped)
{
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites>\n"
            "<testsuite name=\"fedbits check\" tests=\"%zu\" failures=\"%zu\" "
            "skipped=\"%zu\">\n",
            g->nrows, failures, skipped);
    for (size_t r = 0; r < g->nrows; r++) {
        const char *verdict = table_cell(g, r, REPORT_K_VERDICT);
        fputs("  <testcase classname=\"fedbits.check\" name=\"", f);
        report_xml_text(f, table_cell(g, r, REPORT_K_NAME));
        fputs(" [", f);
        report_xml_text(f, table_cell(g, r, REPORT_K_CONFIG));
        fputs("]\">", f);
        bool ok = verdict != NULL && strcmp(verdict, "ok") == 0;
        bool fails = verdict != NULL &&
                     (strncmp(verdict, "REGRESSED", 9) == 0 || strcmp(verdict, "missing") == 0);
        if (!ok) {
            fprintf(f, "<%s message=\"", fails ? "failure" : "skipped");
            report_xml_text(f, verdict);
            fputs(":", f);
            report_junit_field(f, g, r, REPORT_K_RUNS, "runs");
            report_junit_field(f, g, r, REPORT_K_BASE_ACC, "baseline accuracy");
            report_junit_field(f, g, r, REPORT_K_ACC, "accuracy");
            report_junit_field(f, g, r, REPORT_K_BASE_BITS, "baseline bits");
            report_junit_field(f, g, r, REPORT_K_BITS, "bits");
            fputs("\"/>", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("</testsuite>\n</testsuites>\n", f);
}

struct report_check_opts {
    const char *path, *baseline;
    double tol_acc, tol_bits;
    bool allow_missing;
    bool junit;
};

/* The options of fedbits check: 0, 1 after --help, or ARGS_EXIT_USAGE (message printed). */
static int
report_check_parse(int argc, char **argv, struct report_check_opts *o)
{
    enum { OPT_BASELINE = 256, OPT_TOLERANCE, OPT_ALLOW_MISSING, OPT_FORMAT };
    static const struct option opts[] = {
        { "baseline", required_argument, NULL, OPT_BASELINE },
        { "tolerance", required_argument, NULL, OPT_TOLERANCE },
        { "allow-missing", no_argument, NULL, OPT_ALLOW_MISSING },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0];
    struct args a = args_start(cmd, argc, argv);
    for (;;) {
        int c = args_next(&a, "h", opts);
        if (c == -1)
            break;
        switch (c) {
        case 'h':
            report_check_usage(stdout);
            return 1;
        case OPT_BASELINE:
            o->baseline = optarg;
            break;
        case OPT_ALLOW_MISSING:
            o->allow_missing = true;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "junit") != 0 && strcmp(optarg, "text") != 0)
                return args_error(cmd, "--format '%s' must be text or junit", optarg);
            o->junit = strcmp(optarg, "junit") == 0;
            break;
        case OPT_TOLERANCE:
            if (report_parse_tolerance(optarg, &o->tol_acc, &o->tol_bits) < 0)
                return args_error(cmd,
                                  "--tolerance '%s' must read accuracy=A,bits=B with "
                                  "non-negative numbers (either part optional)",
                                  optarg);
            break;
        default:
            return ARGS_EXIT_USAGE;
        }
    }
    if (args_operand(&a, &o->path,
                     "which results database? (fedbits check RESULTS.db --baseline BASELINE.db)") !=
        0)
        return ARGS_EXIT_USAGE;
    if (o->baseline == NULL)
        return args_error(cmd, "--baseline BASELINE.db is required");
    return 0;
}

int
report_cmd_check(int argc, char **argv)
{
    static const struct table_col cols[REPORT_K_COUNT] = {
        [REPORT_K_CONFIG] = { "config", "config", TABLE_TEXT },
        [REPORT_K_NAME] = { "name", "name", TABLE_TEXT },
        [REPORT_K_RUNS] = { "runs", "runs", TABLE_TEXT },
        [REPORT_K_BASE_ACC] = { "baseline_accuracy", "baseline acc", TABLE_NUM },
        [REPORT_K_ACC] = { "accuracy", "acc", TABLE_NUM },
        [REPORT_K_DACC] = { "accuracy_change", "change", TABLE_NUM },
        [REPORT_K_BASE_BITS] = { "baseline_bits", "baseline bits", TABLE_NUM },
        [REPORT_K_BITS] = { "bits", "bits", TABLE_NUM },
        [REPORT_K_DBITS] = { "bits_change", "change", TABLE_NUM },
        [REPORT_K_VERDICT] = { "verdict", "verdict", TABLE_TEXT },
    };
    const char *cmd = argv[0];
    struct report_check_opts o = { .tol_acc = 0.01, .tol_bits = 0.0 };
    int prc = report_check_parse(argc, argv, &o);
    if (prc != 0)
        return prc == 1 ? EXIT_SUCCESS : prc;
    const char *path = o.path, *baseline = o.baseline;
    double tol_acc = o.tol_acc, tol_bits = o.tol_bits;
    sqlite3 *db_cur = NULL, *db_base = NULL;
    struct report_entries cur = { 0 }, base = { 0 };
    struct table g = table_make(cols, REPORT_K_COUNT);
    int status = ARGS_EXIT_USAGE;
    if (report_open(cmd, baseline, &db_base) < 0 || report_open(cmd, path, &db_cur) < 0 ||
        report_entries_load(cmd, baseline, db_base, &base) < 0 ||
        report_entries_load(cmd, path, db_cur, &cur) < 0)
        goto out;
    if (base.n == 0) {
        fprintf(stderr, "fedbits %s: baseline '%s' has no finished run\n", cmd, baseline);
        goto out;
    }
    size_t matched = 0, regressed = 0, missing = 0, added = 0;
    for (size_t i = 0; i < base.n; i++) {
        struct report_entry *b = &base.v[i];
        struct report_entry *c = NULL;
        for (size_t j = 0; j < cur.n && c == NULL; j++)
            if (strcmp(cur.v[j].hash, b->hash) == 0)
                c = &cur.v[j];
        const char *verdict = "missing";
        if (c == NULL) {
            missing++;
        } else {
            c->matched = true;
            matched++;
            bool acc_bad =
                b->has_accuracy && (!c->has_accuracy || b->accuracy - c->accuracy > tol_acc);
            /* Integer comparison first, so that tolerance 0 means any growth, exactly. */
            bool bits_bad =
                c->bits > b->bits && (double)(c->bits - b->bits) > tol_bits * (double)b->bits;
            verdict = acc_bad && bits_bad ? "REGRESSED (accuracy, bits)"
                      : acc_bad           ? "REGRESSED (accuracy)"
                      : bits_bad          ? "REGRESSED (bits)"
                                          : "ok";
            regressed += acc_bad || bits_bad;
        }
        if (report_check_row(&g, b, c, verdict) < 0)
            goto nomem;
    }
    for (size_t j = 0; j < cur.n; j++) {
        if (cur.v[j].matched)
            continue;
        added++;
        if (report_check_row(&g, NULL, &cur.v[j], "new (no baseline)") < 0)
            goto nomem;
    }
    if (o.junit) {
        report_check_junit(stdout, &g, regressed + (o.allow_missing ? 0 : missing),
                           added + (o.allow_missing ? missing : 0));
    } else {
        printf("%s against baseline %s (tolerance accuracy=%g, bits=%g)\n", path, baseline, tol_acc,
               tol_bits);
        struct table_view view = table_all(&g);
        table_print_text(stdout, &g, &view);
        printf("%zu matched: %zu ok, %zu regressed; %zu baseline runs missing, %zu new\n", matched,
               matched - regressed, regressed, missing, added);
    }
    fflush(stdout);
    if (matched == 0) {
        fprintf(stderr,
                "fedbits %s: no run of baseline '%s' matched a finished run of '%s'; "
                "missing:\n",
                cmd, baseline, path);
        for (size_t i = 0; i < base.n; i++)
            fprintf(stderr, "  run %lld %s (config %s)\n", (long long)base.v[i].id, base.v[i].label,
                    base.v[i].hash);
        goto out;
    }
    if (missing > 0) {
        fprintf(stderr, "fedbits %s: %s: %zu baseline runs have no finished match in '%s'%s:\n",
                cmd, o.allow_missing ? "warning" : "error", missing, path,
                o.allow_missing ? "" : " (--allow-missing to accept)");
        for (size_t i = 0; i < base.n; i++) {
            bool found = false;
            for (size_t j = 0; j < cur.n && !found; j++)
                found = strcmp(cur.v[j].hash, base.v[i].hash) == 0;
            if (!found)
                fprintf(stderr, "  run %lld %s (config %s)\n", (long long)base.v[i].id,
                        base.v[i].label, base.v[i].hash);
        }
    }
    status = regressed > 0 || (missing > 0 && !o.allow_missing) ? ARGS_EXIT_FAILURE : EXIT_SUCCESS;
    goto out;
nomem:
    fprintf(stderr, "fedbits %s: out of memory\n", cmd);
    status = ARGS_EXIT_USAGE;
out:
    table_release(&g);
    report_entries_release(&cur);
    report_entries_release(&base);
    sqlite3_close(db_cur);
    sqlite3_close(db_base);
    return status;
}
