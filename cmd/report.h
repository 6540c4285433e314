/*
 * report: the results commands of the fedbits binary, `fedbits report`, `fedbits export`
 * and `fedbits check` (docs/results.md for the tables they read).
 *
 * Each command opens a results database read-only with SQLite (SQLITE_OPEN_READONLY; it never
 * writes, so it can read while a run is writing), queries it, prints to stdout and returns the
 * process exit status; errors go to stderr, once, naming the file. Each takes the command's
 * own argv (argv[0] is the command name). Exit status: 0 success; 2 unusable input (a missing
 * or unreadable file, a database that is not a fedbits results database or is newer than this
 * binary, an unknown run or sweep id, bad options); `fedbits check` also returns 1 when a
 * matched run regressed. Output is a pure function of the database contents and the options.
 *
 * report: one row per run (codec and bits from runs.config_json, final and best accuracy, the
 * first round and simulated time at which a target accuracy was reached, bits on the wire,
 * uplink bits per coordinate), then one row per group of finished runs that differ only by
 * seed (json_remove(config_json, '$.seed', '$.output.db')) with the mean final accuracy and a
 * 95% Student-t confidence interval; the group rows are printed when some group holds two or
 * more seeds.
 * export: the rounds (or clients_rounds) rows of one run as CSV or JSON.
 * check: compares the latest finished run of each config_hash in a results database with the
 * same in a baseline database: a regression is a drop in final accuracy beyond an absolute
 * tolerance or a growth in total bits beyond a relative one.
 */
#ifndef FEDBITS_CMD_REPORT_H
#define FEDBITS_CMD_REPORT_H

#include <stdint.h>

/* fedbits report DB [--sweep ID] [--run ID]... [--target ACC] [--format table|csv|json|markdown] */
int report_cmd(int argc, char **argv);
/* fedbits export DB --run ID [--table rounds|clients_rounds] [--format csv|json] */
int report_cmd_export(int argc, char **argv);
/* fedbits check DB --baseline BASELINE_DB [--tolerance accuracy=A,bits=B]; 1 on regression */
int report_cmd_check(int argc, char **argv);
/*
 * The uplink bits per coordinate and participant of run run_id of the database at path (the
 * report's "up bits/coord": uplink bits / (participants x model parameters)) into *out, 0
 * when it has no rounds. Returns 0, or -1 on error (printed).
 */
int report_bits_per_coord(const char *path, int64_t run_id, double *out);

#endif
