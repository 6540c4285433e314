/*
 * campaign: the runs one `fedbits run` makes of a scenario.
 *
 * The plan (campaign_open()) reads a scenario (a file, or the embedded default) and expands
 * its sweep into combinations, one when it has none; campaign_load() gives combination i as a
 * validated scenario: its sweep overrides first, then the command line's, with an error in a
 * sweep value located in the file. The queue (campaign_record()) writes combination i as a
 * runs row, 'running' to run it now or 'queued' for a job process, so run ids and rows do not
 * depend on the schedule. The pool (campaign_pool_run()) runs the combinations in `jobs`
 * forked processes, combination i in process i mod jobs, in index order; it forwards a stop
 * request (the caller's signal flag) to the processes as SIGTERM and reports how each process
 * ended. campaign_settle() then marks in the store what the pool did not finish: the run a
 * killed process was running is the one of its combinations still 'running'. Nothing here prints or
 * exits: errors are errbuf codes, outcomes are returned records (the command layer, cmd/run.c,
 * reports them).
 */
#ifndef FEDBITS_SIM_CAMPAIGN_H
#define FEDBITS_SIM_CAMPAIGN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/errbuf.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "sim/sweep.h"

/* The scenario source and its sweep: what every combination is loaded from. */
struct campaign {
    const char *name; /* file name for errors */
    char *owned_text; /* file contents (NULL for the embedded default) */
    const char *text;
    size_t len;
    struct sweep sweep;      /* n = 0 without a sweep (or with no_sweep) */
    size_t n;                /* runs: sweep.n, or 1 without a sweep */
    const char *const *user; /* the command line's overrides (borrowed) */
    size_t n_user;
    const char **sets; /* scratch: sweep sets + user sets */
    size_t *set_keys;  /* scratch: sets[j] (j < swept) is sweep key set_keys[j] */
};

/*
 * Reads scenario (NULL: the embedded default, scenarios/default.yaml) and its sweep into *c;
 * user[0..n_user) are "key=value" overrides applied after a combination's own (borrowed, they
 * must outlive c). With no_sweep the sweep is checked, then set aside: one run.
 */
int campaign_open(struct campaign *c, const char *scenario, const char *const *user, size_t n_user,
                  bool no_sweep, struct errbuf *eb) __attribute__((warn_unused_result));
void campaign_release(struct campaign *c);
/*
 * Loads and validates combination i into *s (scenario_release() it). Keys swept to `~` are
 * left as the base scenario has them. An error in a sweep value names the combination, its
 * values and the value's place in the file; an error the base scenario has on its own (with
 * the command line's overrides) is reported as the base scenario's, not the sweep's.
 */
int campaign_load(struct campaign *c, size_t i, struct scenario *s, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* "uplink.codec=eden seed=2" for combination i (owned; mem_free), or NULL without a sweep. */
char *campaign_label(const struct campaign *c, size_t i);

/*
 * Records combination i (loaded as s) in st as a runs row of sweep sweep_id (0: none),
 * 'queued' when queued, else 'running'. Sets *run_id, and *label to campaign_label() (owned).
 */
int campaign_record(const struct campaign *c, struct store *st, size_t i, const struct scenario *s,
                    const char *started_at, int64_t sweep_id, bool queued, int64_t *run_id,
                    char **label, struct errbuf *eb) __attribute__((warn_unused_result));

/* What the job processes do; every call runs in a job process. */
struct campaign_worker {
    /* Runs combination index; returns its exit status (0 finished). */
    int (*run)(void *ctx, size_t index);
    /*
     * After the process's last combination: closes what it opened and ends the job process
     * with exit status `status` (the worst one run returned). It must not return: the command
     * layer ends processes, not this module.
     */
    void (*end)(void *ctx, int status);
    void *ctx;
};

/* How one job process ended. */
struct campaign_child {
    pid_t pid;        /* 0 when it could not be started */
    bool ended;       /* waited for */
    int status;       /* exit status, -1 when killed by a signal or not started */
    int signal;       /* the signal that killed it, 0 when it exited */
    bool stopped;     /* it was sent SIGTERM because of a stop request */
    int64_t lost_run; /* set by campaign_settle(): the run it was killed in, 0 if none */
};

/* What a pool run gives back: one record per job process (owned; campaign_pool_release). */
struct campaign_pool {
    size_t jobs;
    struct campaign_child *children;
    bool stopped; /* a stop request reached the pool */
};

/*
 * Runs combinations 0..n-1 in min(jobs, n) forked processes through w; combination i runs in
 * process i mod jobs, after the ones before it there. While they run, a nonzero *stop (set by
 * the caller's SIGINT/SIGTERM handler) is forwarded to every process as SIGTERM, once; each
 * process then starts no further combination. Waits for every process, filling *out. Fails
 * (-ERR_NOMEM) only when the pool cannot be set up; processes that could not be
 * started are records with pid 0 (the others still run).
 */
int campaign_pool_run(size_t n, size_t jobs, const struct campaign_worker *w,
                      const volatile sig_atomic_t *stop, struct campaign_pool *out,
                      struct errbuf *eb) __attribute__((warn_unused_result));
void campaign_pool_release(struct campaign_pool *p);
/* The process that runs (ran) combination i, or NULL for an empty pool. */
const struct campaign_child *campaign_pool_child(const struct campaign_pool *p, size_t i);

/*
 * After a pool run of the runs ids[0..n): a run left 'running' by a killed process becomes
 * 'failed' (its error names the signal), and a run left 'queued' becomes 'interrupted' when
 * the pool was stopped or a process died, so `fedbits resume` can run it later (it has no
 * checkpoint, so it starts from the beginning). The killed process's record gets the run in
 * lost_run. finished_at is the time written.
 */
int campaign_settle(struct store *st, const int64_t *ids, size_t n, struct campaign_pool *p,
                    const char *finished_at, struct errbuf *eb) __attribute__((warn_unused_result));

#endif
