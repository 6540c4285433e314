/*
 * run: one simulation run of a scenario, driven by the discrete-event loop.
 *
 * run_execute() builds the world the scenario describes (dataset, population, global
 * model, codecs, aggregator), then processes events in virtual-time order until the last
 * round closes. A client's participation is a *job*, the event chain
 *
 *   start -> DOWNLINK_DONE -> TRAIN_DONE -> UPLINK_DONE      (or DROPOUT at its phase)
 *
 * where transfer times come from the exact message sizes over the client's own network
 * (latency + bits / bandwidth, jittered) and training time from the work done times the
 * client's seconds per sample, so compression changes simulated time.
 *
 * Protocols (scenario `protocol:`):
 *  - sync: ROUND_START selects ceil(over_selection * clients_per_round) available clients;
 *    the round closes at the clients_per_round-th update, when every job has ended, or at
 *    the DEADLINE; with fewer than min_clients updates it fails and the model is unchanged.
 *  - async (FedBuff, Nguyen et al., AISTATS 2022): `concurrency` jobs run at all times; each
 *    update joins a buffer with weight samples * w(staleness); every buffer_size updates the
 *    server aggregates ("a round") and the model version advances.
 *
 * Determinism: every random draw comes from a stream named (seed, purpose, round, client).
 * Jobs that start together from the same model version are computed in parallel (OpenMP,
 * `threads`), each into its own slot, and across MPI ranks (sim/cluster.h: each rank computes
 * the clients it owns, every rank runs the same event loop). Updates are summed exactly
 * (aggregator/exact_sum.h), so the results are bit-identical whatever the number of threads
 * and ranks. A BLAKE2b fingerprint over every processed event (time, type, client) is
 * returned so that two runs can be compared.
 *
 * The caller owns the store and the scenario (with several ranks, only rank 0 passes a
 * store; the others pass NULL); run_execute() reports each round to the
 * store and to an optional callback (progress display) and returns a summary. It checks
 * *stop between events and returns -ERR_INTERRUPTED when it is set (rounds already
 * reported stay in the store).
 *
 * Stop rules besides train.rounds: train.target_accuracy ends the run after the first
 * evaluated round whose test accuracy reaches it (under MPI, rank 0's verdict is summed with
 * the round-end stop flag, so every rank ends at the same round); train.time_budget_s ends it
 * when a round (async: an aggregation) closes after the budget: that round is neither applied
 * nor stored, so the run's rounds are exactly those closing within the budget. Both depend on
 * the round's state only, so a resumed run stops where the uninterrupted one did.
 */
#ifndef FEDBITS_SIM_RUN_H
#define FEDBITS_SIM_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "sim/cluster.h"
#include "sim/scenario.h"
#include "sim/store.h"

#define RUN_FINGERPRINT_HEX 65 /* 32-byte BLAKE2b in hex, plus NUL */

/* Event types (their values enter the fingerprint: never renumber). */
enum run_event {
    RUN_EV_ROUND_START = 1,
    RUN_EV_DOWNLINK_DONE = 2,
    RUN_EV_TRAIN_DONE = 3,
    RUN_EV_UPLINK_DONE = 4,
    RUN_EV_DROPOUT = 5,
    RUN_EV_AGGREGATE = 6,
    RUN_EV_DEADLINE = 7,
    RUN_EV_SECAGG_REPLY = 8, /* a secure-aggregation reply reached the server */
};

typedef void run_round_fn(void *ctx, const struct scenario *s, const struct store_round *r);

struct run_options {
    unsigned threads;                  /* 0 = as many as the machine has */
    const volatile sig_atomic_t *stop; /* set by a signal handler; may be NULL */
    run_round_fn *on_round;            /* called after each round is stored; may be NULL */
    void *ctx;                         /* passed to on_round */
    const unsigned char *resume;       /* a checkpoint to continue from, or NULL */
    size_t resume_len;
    uint64_t resume_round;   /* resume: the round the checkpoint follows (checkpoints.round) */
    bool rewind;             /* resume: once the checkpoint is accepted, delete the rounds
                                stored after resume_round (store_rewind_run) */
    struct cluster *cluster; /* MPI ranks sharing the run; NULL: one process */
};

struct run_summary {
    uint64_t rounds;       /* rounds completed */
    double final_accuracy; /* last evaluated accuracy */
    double final_loss;     /* last evaluated loss */
    uint64_t uplink_bits;  /* total over the run */
    uint64_t downlink_bits;
    int64_t sim_time_us;   /* virtual time when the last round closed */
    uint64_t events;       /* events processed */
    uint64_t participants; /* updates aggregated over the run */
    size_t model_dim;      /* parameters of the model */
    unsigned threads;      /* threads used (by this rank) */
    unsigned ranks;        /* processes that shared the run */
    uint64_t rank_bytes;   /* payload bytes this rank put into collectives (0 with one) */
    char fingerprint[RUN_FINGERPRINT_HEX];

    /* Uplink bits of the updates alone (the masked inputs under secure aggregation). */
    uint64_t uplink_payload_bits;
    /* Differential privacy: epsilon after the last round at privacy.delta (rounds.epsilon). */
    bool has_epsilon;
    double epsilon;
};

/* Why a finished run ended (train.rounds, train.target_accuracy, train.time_budget_s). */
enum run_stop {
    RUN_STOP_ROUNDS = 0, /* it ran train.rounds rounds without reaching a target */
    RUN_STOP_TARGET,     /* its last round reached train.target_accuracy */
    RUN_STOP_BUDGET,     /* the round after its last closed after train.time_budget_s */
};

/*
 * The stop reason of a run of s that finished with summary sum. Nothing extra is recorded:
 * the rules make it follow from the rounds and the last evaluated accuracy (a run stops at
 * the first evaluated round reaching the target, so only its last one can).
 */
enum run_stop run_stop_reason(const struct scenario *s, const struct run_summary *sum);

/*
 * Runs scenario s as run run_id of st. On error the summary holds the rounds completed so
 * far; the caller decides the run's final status.
 */
int run_execute(const struct scenario *s, struct store *st, int64_t run_id,
                const struct run_options *o, struct run_summary *sum, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
