/*
 * store: the SQLite results database (docs/results.md).
 *
 * One database holds many runs. store_open() creates or upgrades the schema (documented in
 * docs/results.md; the version is PRAGMA user_version), switches to WAL mode and sets a
 * busy timeout. A run is begun (status 'running'), receives one row per round, each in its
 * own transaction so an interrupted process loses nothing that was reported, and is
 * finished with its final status: finished, failed or interrupted.
 *
 * Schema (version 2; version 1 databases gain the owner_* to blas_kernel columns):
 *   runs(id INTEGER PRIMARY KEY, name, scenario TEXT, config_json TEXT, config_hash, seed,
 *        version, status, started_at, finished_at, wall_time_s, event_fingerprint, error,
 *        sweep_id, sweep_index, sweep_label, model_params, owner_pid, owner_host,
 *        owner_start, inputs, blas_kernel)
 *   sweeps(id INTEGER PRIMARY KEY, name, scenario TEXT, swept_keys, combinations, created_at)
 *   checkpoints(run_id, round, created_at, state BLOB, PRIMARY KEY (run_id, round))
 *   rounds(run_id, round, sim_time_s, accuracy, loss, train_loss, selected, participants,
 *          dropped, uplink_bits, downlink_bits, nmse, timed_out, stale, staleness_mean,
 *          staleness_max, discarded, failed, uplink_payload_bits, uplink_protocol_bits,
 *          downlink_protocol_bits, secure_aborted, client_acc_mean, client_acc_p10,
 *          downlink_anchor_bits, downlink_correction_bits, PRIMARY KEY (run_id, round))
 *   clients_rounds(run_id, round, client, outcome, dropout_phase, started_s, finished_s,
 *          samples, downlink_bits, uplink_bits, staleness)
 *          (optional, output.client_events; indexed by (run_id, round): in async runs a
 *          client may appear twice in a round)
 * accuracy and loss are NULL in rounds without evaluation; bits are exact integers, the
 * total over the round's clients. docs/results.md documents every column.
 *
 * Errors (a locked or read-only database, a full disk) are -ERR_DB with SQLite's message.
 * The struct store owns its connection; it is not thread-safe.
 */
#ifndef FEDBITS_SIM_STORE_H
#define FEDBITS_SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

#define STORE_SCHEMA_VERSION  4
#define STORE_CONFIG_HASH_HEX 33 /* runs.config_hash: 32 hex digits and a NUL */

#define STORE_HOST_BYTES  256
#define STORE_START_BYTES 64

/* The process that owns a run (runs.owner_*): what tells whether it is still alive. */
struct store_owner {
    int64_t pid;                   /* 0: not recorded (runs made before schema version 2) */
    char host[STORE_HOST_BYTES];   /* gethostname() */
    char start[STORE_START_BYTES]; /* boot id and start time in clock ticks since boot */
};

struct store;
struct sqlite3;

/* What one round reports. */
struct store_round {
    uint64_t round;                  /* 1-based */
    int64_t sim_time_us;             /* virtual time at which the round closed */
    bool evaluated;                  /* accuracy and loss are set */
    double accuracy;                 /* global test accuracy in [0, 1] */
    double loss;                     /* global test loss */
    double train_loss;               /* mean local training loss of the participants */
    uint64_t selected;               /* clients selected */
    uint64_t participants;           /* updates aggregated */
    uint64_t dropped;                /* selected clients that dropped out */
    uint64_t uplink_bits;            /* bits sent client -> server (payload + protocol) */
    uint64_t downlink_bits;          /* bits sent server -> clients (model + protocol) */
    uint64_t uplink_payload_bits;    /* of uplink_bits: the updates (k bits per coordinate
                                        under secure aggregation) */
    uint64_t uplink_protocol_bits;   /* of uplink_bits: keys, envelopes, shares, headers */
    uint64_t downlink_protocol_bits; /* of downlink_bits: protocol requests */
    uint64_t downlink_anchor_bits;   /* of downlink_bits: DoCoFL anchors (off the critical path) */
    uint64_t downlink_correction_bits; /* of downlink_bits: DoCoFL corrections */
    bool has_client_eval;              /* client_acc_* are set (output.client_eval) */
    double client_acc_mean;            /* mean accuracy on a sample of clients' local data */
    double client_acc_p10;             /* its 10th percentile (the fairness view) */
    bool secure;                       /* the round ran secure aggregation */
    bool secure_aborted;               /* too few clients survived the protocol */
    bool has_nmse;                     /* nmse is set */
    double nmse;                       /* ||aggregate - exact mean||^2 / ||exact mean||^2 */
    uint64_t timed_out;                /* selected clients still working when the round closed */
    uint64_t stale;                    /* aggregated updates computed from an older model (async) */
    double staleness_mean;             /* mean staleness of the aggregated updates */
    uint64_t staleness_max;            /* largest staleness aggregated */
    uint64_t discarded;                /* updates that arrived but were not used (too stale) */
    bool failed;                       /* too few updates: the model did not change */
    bool has_privacy;                  /* epsilon, clip_norm, noise_std are set */
    double epsilon;                    /* cumulative epsilon after this round at privacy.delta */
    double clip_norm;                  /* L2 clip norm of the updates */
    double noise_std;                  /* std of the server's Gaussian noise on the sum */
    bool has_wrapped;                  /* wrapped is set (distributed DP) */
    uint64_t wrapped;                  /* coordinates whose ring sum wrapped around */
};

/* Outcome of one selected client in a round (clients_rounds). */
enum store_outcome {
    STORE_COMPLETED = 0, /* its update was aggregated */
    STORE_DROPPED,       /* it dropped out (after_upload: aggregated and dropped) */
    STORE_TIMED_OUT,     /* still working when the round closed */
    STORE_DISCARDED,     /* arrived but not used (too stale, or after the round was full) */
};

struct store_client_event {
    uint64_t client;
    int outcome;               /* enum store_outcome */
    const char *dropout_phase; /* NULL when it did not drop */
    int64_t started_us, finished_us;
    uint64_t samples;
    uint64_t downlink_bits, uplink_bits;
    uint64_t staleness;
};

/* What the runs row says about a run before it starts. */
struct store_run_info {
    const char *name;
    const char *scenario_text;
    const char *config_json;
    const char *hash_json; /* what config_hash is computed from (NULL: config_json); the
                              simulator hashes scenario_identity() */
    uint64_t seed;
    const char *version;
    const char *started_at;  /* ISO 8601 UTC */
    int64_t sweep_id;        /* sweeps row the run belongs to, 0 for none */
    uint64_t sweep_index;    /* its combination number in the sweep */
    const char *sweep_label; /* its overrides, "uplink.bits=2 seed=3" (NULL for none) */
};

/* What a finished (or stopped) run amounts to, read back from the database. */
struct store_run_result {
    char status[16];       /* runs.status */
    uint64_t rounds;       /* rounds stored */
    double final_accuracy; /* last evaluated accuracy (0 when none) */
    uint64_t uplink_bits;  /* sum over the rounds */
    uint64_t downlink_bits;
    double sim_time_s;  /* last round's close */
    double wall_time_s; /* runs.wall_time_s (0 while running) */
};

/* Opens (creating if needed) the database at path into *out (owned; store_close()). */
int store_open(struct store **out, const char *path, struct errbuf *eb)
    __attribute__((warn_unused_result));
void store_close(struct store *st);

/*
 * Opens path read-only for the commands that only read results (report, export, check) into
 * *out, as sqlite3_open_v2() does, and returns its result code. When the file cannot be read
 * in place because nothing may be created beside it (a read-only filesystem, where SQLite
 * cannot make a WAL database's shared-memory file), opens it as immutable instead: nobody
 * can be writing it there.
 */
int store_sqlite_open_readonly(const char *path, struct sqlite3 **out);

/* Sets how long a write waits for another connection's lock (default 10 s). */
void store_set_busy_timeout(struct store *st, int ms);

/*
 * runs.config_hash of a run: the hex BLAKE2b-128 of `identity` (what store_run_info's
 * hash_json holds, scenario_identity()), so equal experiments have equal hashes; `fedbits
 * check` matches runs on it.
 */
void store_config_hash(char out[STORE_CONFIG_HASH_HEX], const char *identity);

/* Inserts a runs row with status 'running'; its id goes to *run_id. */
int store_begin_run(struct store *st, const struct store_run_info *info, int64_t *run_id,
                    struct errbuf *eb) __attribute__((warn_unused_result));
/* Inserts a runs row with status 'queued' (a sweep run another process will start). */
int store_queue_run(struct store *st, const struct store_run_info *info, int64_t *run_id,
                    struct errbuf *eb) __attribute__((warn_unused_result));
/* Marks a queued run 'running' from started_at. */
int store_start_run(struct store *st, int64_t run_id, const char *started_at, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Records the number of model parameters of a run (for bits per coordinate). */
int store_set_model_params(struct store *st, int64_t run_id, uint64_t params, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Checkpoints */
/* Stores the state of run_id after `round`, replacing the run's older checkpoints. */
int store_save_checkpoint(struct store *st, int64_t run_id, uint64_t round,
                          const unsigned char *state, size_t len, const char *created_at,
                          struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * The latest checkpoint of run_id into *state (owned, mem_free) and its round; *state = NULL
 * and *round = 0 when the run has none.
 */
int store_load_checkpoint(struct store *st, int64_t run_id, unsigned char **state, size_t *len,
                          uint64_t *round, struct errbuf *eb) __attribute__((warn_unused_result));
/* What resuming a run needs from its row: the resolved configuration and the status. */
int store_run_config(struct store *st, int64_t run_id, char **config_json, char status[16],
                     struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * Prepares run_id to continue after `round`. Nothing changes yet: its later rounds and
 * client rows are deleted, and it is marked running again, in the transaction of the first
 * row the continued run writes (round, checkpoint, or its finish as 'finished'). A resume
 * that stops before writing anything (failed or interrupted) leaves the run as it was:
 * store_finish_run() then changes nothing.
 */
int store_rewind_run(struct store *st, int64_t run_id, uint64_t round, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Owner and inputs (resume safety, sim/resume.h) */
/* Records the process that owns run_id. */
int store_set_run_owner(struct store *st, int64_t run_id, const struct store_owner *owner,
                        struct errbuf *eb) __attribute__((warn_unused_result));
/* The recorded owner and status of run_id (owner->pid 0 when none is recorded). */
int store_run_owner(struct store *st, int64_t run_id, struct store_owner *owner, char status[16],
                    struct errbuf *eb) __attribute__((warn_unused_result));
/* Records the fingerprint of run_id's input files (text, sim/resume.h) and the BLAS kernel. */
int store_set_run_inputs(struct store *st, int64_t run_id, const char *inputs, const char *kernel,
                         struct errbuf *eb) __attribute__((warn_unused_result));
/*
 * The recorded inputs (owned, mem_free; NULL when none) and kernel ("" when none) of run_id.
 */
int store_run_inputs(struct store *st, int64_t run_id, char **inputs, char kernel[64],
                     struct errbuf *eb) __attribute__((warn_unused_result));
/* BEGIN IMMEDIATE and COMMIT (or ROLLBACK when !commit) around a read-check-write. */
int store_begin(struct store *st, struct errbuf *eb) __attribute__((warn_unused_result));
int store_end(struct store *st, bool commit, struct errbuf *eb);

/* Reads back run run_id's outcome; -ERR_NOTFOUND when there is no such run. */
int store_run_result(struct store *st, int64_t run_id, struct store_run_result *out,
                     struct errbuf *eb) __attribute__((warn_unused_result));
/* Inserts a sweeps row; its id goes to *sweep_id. */
int store_begin_sweep(struct store *st, const char *name, const char *scenario_text,
                      const char *swept_keys, uint64_t combinations, const char *created_at,
                      int64_t *sweep_id, struct errbuf *eb) __attribute__((warn_unused_result));
/* Writes one rounds row in its own transaction. */
int store_write_round(struct store *st, int64_t run_id, const struct store_round *r,
                      struct errbuf *eb) __attribute__((warn_unused_result));
/* Writes a rounds row and n clients_rounds rows in one transaction. */
int store_write_round_clients(struct store *st, int64_t run_id, const struct store_round *r,
                              const struct store_client_event *ev, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Sets the run's final status ("finished", "failed", "interrupted"), finish time, wall
 * time, event fingerprint (may be NULL) and error text (may be NULL).
 */
int store_finish_run(struct store *st, int64_t run_id, const char *status, const char *finished_at,
                     double wall_time_s, const char *fingerprint, const char *error,
                     struct errbuf *eb) __attribute__((warn_unused_result));

#endif
