/*
 * run: the scenario commands of the fedbits binary, `fedbits run`, `fedbits validate` and
 * `fedbits resume`.
 *
 * run_cmd() loads a scenario (a file or the embedded default), expands its sweep (one
 * combination when it has none; sim/campaign.h), validates every combination before anything
 * runs, and runs them into the results database: one after another, or in --jobs parallel
 * processes (the runs are queued in the database first, so their ids and rows do not depend
 * on the schedule), or shared by the ranks of an MPI job (sim/cluster.h). SIGINT/SIGTERM
 * stop it: the run in progress is marked 'interrupted' with its rounds kept; with --jobs the
 * signal is forwarded to the job processes and the runs they did not start are marked
 * 'interrupted' too; a job process that dies fails its run, reported by run id. Progress
 * goes to stderr on a terminal; a single run's summary, or a sweep's table, to stdout.
 * run_cmd_resume() continues a run from its latest checkpoint. Each takes the command's own
 * argv (argv[0] is the command name) and returns the process exit status (cmd/args.h): 0
 * finished, 1 failed, 2 bad usage or input, 130 interrupted.
 */
#ifndef FEDBITS_CMD_RUN_H
#define FEDBITS_CMD_RUN_H

#include "sim/cluster.h"

/* cl: the MPI ranks sharing the runs (rank 0 writes the database and prints). */
int run_cmd(int argc, char **argv, struct cluster *cl);
int run_cmd_validate(int argc, char **argv);
/* `fedbits resume RESULTS.db --run ID`: continue a run from its latest checkpoint. */
int run_cmd_resume(int argc, char **argv);

#endif
