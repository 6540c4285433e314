/*
 * run_int: internals shared by the files of the run module (run.c, the event loop and the
 * plain round; run_secure.c, the secure-aggregation round). Not for other modules: the
 * structures below are the run's private state, owned by run_execute() for one run.
 */
#ifndef FEDBITS_SIM_RUN_INT_H
#define FEDBITS_SIM_RUN_INT_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator/docofl.h"
#include "aggregator/fedavg.h"
#include "aggregator/secagg_server.h"
#include "aggregator/server_opt.h"
#include "base/errbuf.h"
#include "clients/dataset.h"
#include "clients/docofl_client.h"
#include "clients/secagg_client.h"
#include "clients/trainer.h"
#include "codec/codec.h"
#include "codec/error_feedback.h"
#include "codec/fixed_point.h"
#include "codec/thc.h"
#include "sim/cluster.h"
#include "sim/event_queue.h"
#include "sim/population.h"
#include "sim/run.h"

#define RUN_NO_CLIENT  UINT64_MAX
#define RUN_NO_DROPOUT (-1)
/* Deadlines sort after every client event at the same instant: an update arriving exactly
 * at the deadline counts. */
#define RUN_DEADLINE_KEY UINT64_MAX
/* What ranks share per started job (run_flush): downlink bits, uplink bytes | failed, loss. */
#define RUN_META_WORDS  3
#define RUN_META_FAILED (UINT64_C(1) << 63)

/* One client's participation: its inputs, computed work, timing and fate. */
struct run_job {
    bool active;  /* started and not yet ended */
    uint64_t gen; /* job number (names its random streams in async runs) */
    uint64_t client;
    unsigned owner;    /* the rank that computes it (sim/cluster.h) */
    uint64_t round;    /* round (sync) or aggregation period (async) it started in */
    uint64_t stream;   /* the "round" part of its random streams' names */
    uint64_t version;  /* model version it trained from */
    int dropout;       /* enum dropout_phase, or RUN_NO_DROPOUT */
    double drop_frac;  /* where in training a during_training dropout happens */
    size_t samples;    /* training rows (the FedAvg weight) */
    double agg_weight; /* sync: weight its update joins the round's sum with at close (0: none) */
    float *w;          /* received model, then the update (dim floats) */
    uint8_t *msg;      /* uplink message */
    size_t msg_len;
    uint64_t down_bits;
    int64_t t_down, t_train, t_up; /* phase durations */
    int64_t exp_total;             /* expected duration without jitter (deadline quantile) */
    int64_t started_at;
    struct train_result tr;
    /* Secure aggregation (aggregation.secure != none) */
    uint64_t *ring;           /* its input: dim + 1 ring elements (weighted update, weight) */
    struct secagg_client *sa; /* its protocol state this round */
    unsigned char *req;       /* the request of the open phase */
    size_t req_cap, req_len;
    unsigned char *reply; /* its reply */
    size_t reply_cap, reply_len;
    bool replies; /* answers the open phase */
    int sa_rc;    /* its protocol step's result */
    /* DoCoFL downlink (downlink.codec = docofl): views into the server's deposit */
    const uint8_t *anchor_msg; /* the anchor it holds or fetches */
    size_t anchor_len;
    const uint8_t *corr_msg; /* this round's correction for that anchor */
    size_t corr_len;
    uint64_t anchor_bits; /* anchor bits fetched now (off the critical path), or 0 */
    uint64_t corr_bits;   /* correction bits (on the critical path) */
    int rc;
    struct errbuf eb;
};

/* Per-thread workspaces. */
struct run_thread {
    struct trainer *trainer;
    struct codec *up;          /* uplink encoder */
    struct error_feedback *ef; /* wraps `up` when uplink.error_feedback is on */
    struct codec *down;        /* downlink encoder and decoder */
    uint8_t *down_msg;         /* downlink message buffer */
    float *received;           /* the model as the client decoded it */
    float *decoded;            /* secure aggregation: its update as the server decodes it */
    struct docofl_client *dc;  /* DoCoFL reconstruction workspace */
    struct thc *thc;           /* secure THC: integer encoder (NULL otherwise) */
    uint16_t *thc_ints;        /* its table integers, thc_padded_len() */
    struct fedavg *agg;        /* sync: its share of the round's sum (merged at close) */
    struct exact_sum *raw;     /* output.nmse: its share of the uncompressed sum */
};

struct run_world {
    const struct scenario *s;
    struct store *st;
    int64_t run_id;
    const struct run_options *o;
    struct dataset *ds;
    struct population *pop;
    struct model_spec spec;
    size_t dim;
    float *w;           /* global model */
    float *mean;        /* the round's mean update */
    struct fedavg *agg; /* the round's sum (async: added as updates arrive, by their owners) */
    int agg_rc;         /* async: an add that failed on this rank, reported at the close */
    struct errbuf agg_eb;
    struct server_opt *opt;
    struct run_job *jobs;
    size_t n_jobs; /* pool size */
    size_t *batch; /* jobs started at the current instant, not yet computed */
    size_t n_batch;
    uint32_t *eligible;           /* selection scratch, n_clients entries */
    uint32_t *eval_rows;          /* output.eval_samples: the test rows evaluated, else NULL */
    size_t n_eval;                /* test rows evaluated */
    bool *busy;                   /* client has an active job (async) */
    float **residual;             /* error feedback: per-client residual, allocated on first use */
    struct docofl_server *docofl; /* DoCoFL anchor deposit, NULL without */
    struct docofl_client_state *dc_state; /* each client's anchor id (DoCoFL) */
    struct run_thread *th;
    unsigned n_threads;
    struct cluster *cl;    /* the ranks sharing the run (sim/cluster.h); NULL: one process */
    bool root;             /* rank 0: evaluates and writes the store */
    bool stop_agreed;      /* several ranks: one was signalled; all stop after this round */
    uint64_t dealt;        /* jobs dealt out to ranks in turn so far */
    size_t *owned;         /* scratch: slots this rank computes, n_jobs entries */
    uint64_t *meta;        /* scratch: per-job sizes, loss and status exchanged between ranks */
    struct exact_sum *raw; /* output.nmse: uncompressed weighted sum and weight (dim + 1) */
    struct event_queue *q;
    crypto_generichash_state fp;
    int64_t now; /* virtual time of the event being handled */
    uint64_t next_gen;
    uint64_t version;    /* aggregations applied so far */
    uint64_t selections; /* async client draws so far (names their streams) */
    bool done;
    bool checkpoint_due; /* a round that asks for a checkpoint has just been stored */

    /* The open round (sync) or aggregation period (async). */
    uint64_t round;
    bool closed;
    size_t received; /* updates accepted */
    size_t pending;  /* sync: jobs of the round still active */
    double train_loss_sum;
    double staleness_sum;
    struct store_round rec;
    /* Secure aggregation of the open round */
    struct secagg_server *sa; /* NULL between rounds and for plain aggregation */
    struct secagg_params sa_params;
    struct fixed_point ring_fp;        /* the ring embedding of the updates */
    double weight_norm;                /* FedAvg weights are samples / weight_norm, in [0, 1] */
    int sa_phase;                      /* the open phase (enum secagg_phase) */
    size_t sa_pending;                 /* replies still expected in the open phase */
    size_t sa_n;                       /* clients in the protocol (the cohort) */
    uint64_t *ring_sum;                /* the unmasked sum, dim + 1 elements */
    double *mean_d;                    /* its decoded weighted mean */
    bool secure_mean_ready;            /* w->mean holds the unmasked mean of the round */
    size_t sa_m;                       /* ring elements per client (dim + 1, or D + 1 for THC) */
    bool thc_ring;                     /* THC integers are summed directly in the ring */
    double thc_norm;                   /* the round's common norm (THC) */
    struct store_client_event *events; /* clients_rounds rows of the open round */
    size_t n_events, cap_events;
};

/* Shared by run.c and run_secure.c */
bool run_is_async(const struct run_world *w);
/* True when this rank computes job j's client (always with one process). */
bool run_owns(const struct run_world *w, const struct run_job *j);
/* Runs fn(w, jobs[slots[i]], thread) for i in [0, n) on the run's threads. */
void run_parallel(struct run_world *w, const size_t *slots, size_t n,
                  void (*fn)(struct run_world *, struct run_job *, struct run_thread *));
/* Agrees across ranks on whether one failed (local_rc < 0); returns its error, or the
 * error of a rank that failed elsewhere. */
int run_agree(struct run_world *w, int local_rc, struct errbuf *eb)
    __attribute__((warn_unused_result));
int run_push(struct run_world *w, int64_t time, uint32_t type, uint64_t client, uint64_t key,
             uint64_t arg, struct errbuf *eb) __attribute__((warn_unused_result));
int run_push_job(struct run_world *w, int64_t time, uint32_t type, size_t slot, struct errbuf *eb)
    __attribute__((warn_unused_result));
int run_close(struct run_world *w, int64_t now, int64_t next_at, const bool *accepted,
              struct run_summary *sum, struct errbuf *eb) __attribute__((warn_unused_result));
int run_note_client(struct run_world *w, const struct run_job *j, int outcome, int64_t now,
                    uint64_t staleness, struct errbuf *eb) __attribute__((warn_unused_result));
/* Checkpoints (run_checkpoint.c) */
/* The run's state as owned bytes (free with mem_free). Only between events, batch flushed. */
int run_checkpoint_save(const struct run_world *w, const struct run_summary *sum,
                        unsigned char **out, size_t *out_len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Restores a state saved by run_checkpoint_save() into a freshly initialised world. */
int run_checkpoint_load(struct run_world *w, struct run_summary *sum, const unsigned char *in,
                        size_t len, struct errbuf *eb) __attribute__((warn_unused_result));
/* The secure round (run_secure.c) */
/* Allocates the per-slot protocol buffers; no-op for plain aggregation. */
int run_secure_init(struct run_world *w, struct errbuf *eb) __attribute__((warn_unused_result));
void run_secure_release(struct run_world *w);
/* The client's ring input: its decoded update, weighted, in fixed point (in parallel). */
void run_secure_encode_job(struct run_world *w, struct run_job *j, struct run_thread *th);
/* Starts the protocol for the round's cohort, whose jobs have been computed. */
int run_secure_round_start(struct run_world *w, int64_t now, size_t n, struct run_summary *sum,
                           struct errbuf *eb) __attribute__((warn_unused_result));
/* A protocol reply arrived (RUN_EV_SECAGG_REPLY). */
int run_secure_reply(struct run_world *w, const struct event *ev, struct run_summary *sum,
                     struct errbuf *eb) __attribute__((warn_unused_result));

#endif
