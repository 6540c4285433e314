/*
 * run_int: internals shared by the files of the run module. Not for other modules: the
 * structures below are the run's private state, owned by run_execute() for one run.
 *
 *   run.c            the event loop, job events, cross-rank and parallel helpers
 *   run_world.c      building and freeing the world
 *   run_job.c        starting, computing and timing client jobs
 *   run_sync.c       the synchronous round (selection, deadline, close)
 *   run_async.c      the FedBuff loop
 *   run_close.c      closing a round: aggregate, apply, store, open the next
 *   run_eval.c       evaluation and NMSE
 *   run_secure.c     the secure-aggregation round
 *   run_checkpoint.c the run's state as bytes and back
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
#include "base/dgauss.h"
#include "base/errbuf.h"
#include "clients/data_source.h"
#include "clients/dataset.h"
#include "clients/docofl_client.h"
#include "clients/secagg_client.h"
#include "clients/trainer.h"
#include "codec/codec.h"
#include "codec/error_feedback.h"
#include "codec/fixed_point.h"
#include "codec/thc.h"
#include "sim/cluster.h"
#include "sim/cohort.h"
#include "sim/event_queue.h"
#include "sim/population.h"
#include "sim/privacy_accountant.h"
#include "sim/privacy_distributed.h"
#include "sim/run.h"

#define RUN_NO_CLIENT  UINT64_MAX
#define RUN_NO_DROPOUT (-1)
/* Deadlines sort after every client event at the same instant: an update arriving exactly
 * at the deadline counts. */
#define RUN_DEADLINE_KEY UINT64_MAX
/* What ranks share per started job (run_job_flush): downlink bits, uplink bytes | flags, loss. */
#define RUN_META_WORDS  3
#define RUN_META_FAILED (UINT64_C(1) << 63)
#define RUN_META_WITHIN (UINT64_C(1) << 62) /* central DP: the update was within the clip */

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
    bool within_clip; /* central DP: its update's norm was at most the clip (run_privacy.c) */
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
    int64_t *ddp_int;     /* distributed DP: its noisy integer vector before the ring (D) */
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
    struct thc *thc;           /* THC with a common norm: integer encoder (NULL otherwise) */
    uint16_t *thc_ints;        /* its table integers, thc_padded_len() */
    float *thc_x;              /* the vector a client sends (update + residual), dim floats */
    uint64_t *thc_sum;         /* plain THC: its share of the round's integer sum (len + 1) */
    float *ddp_x;              /* distributed DP: the rotated update, D floats */
    uint8_t *ddp_signs;        /* distributed DP: the round's rotation signs */
    struct fedavg *agg;        /* sync: its share of the round's sum (merged at close) */
    struct exact_sum *raw;     /* output.nmse: its share of the uncompressed sum */
    /* Data on demand (clients/data_source.h): makes the clients' training rows, or NULL. */
    struct data_source_maker *maker;
};

/*
 * The run's state, split by the file that owns it. The top-level fields are the world as
 * run_world_init() (run_world.c) builds it: fixed for the run, freed by run_world_release().
 * Each embedded sub-struct is mutable state with one owner, the file that writes it; the
 * others only read it (exceptions are named at the field). run_checkpoint.c saves and
 * restores the parts a resumed run needs (see its header for the layout).
 */

/* The event loop (run.c): the queue, virtual time and the run's fingerprint. */
struct run_loop {
    struct event_queue *q;
    crypto_generichash_state fp; /* BLAKE2b over every processed event (time, type, client) */
    int64_t now;                 /* virtual time of the event being handled */
    bool done;                   /* the last round has closed */
    bool checkpoint_due;         /* set by run_close(): a round that asks for one was stored */
    bool stop_agreed;            /* several ranks: one was signalled; all stop after this round */
};

/* Jobs being started (run_job.c). */
struct run_pool {
    size_t *batch; /* slots started at the current instant, not yet computed */
    size_t n_batch;
    uint64_t dealt;    /* jobs dealt out to ranks in turn so far */
    uint64_t next_gen; /* the next job number */
    bool *busy; /* per client: it has an active job (cleared by run.c when the job ends, and by
                 * run_sync.c when the round times it out) */
};

/* The global model and the aggregate that updates it (run_close.c). */
struct run_model {
    float *w;           /* global model, dim floats */
    float *mean;        /* the round's mean update (run_secure.c writes it for secure rounds) */
    struct fedavg *agg; /* the round's sum (async: run.c adds updates as they arrive, on their
                           owners) */
    int agg_rc;         /* async: an add that failed on this rank, reported at the close */
    struct errbuf agg_eb;
    struct server_opt *opt;
    uint64_t version;      /* aggregations applied so far */
    struct exact_sum *raw; /* output.nmse: uncompressed weighted sum and weight (dim + 1) */
};

/* What clients carry from one round to the next (allocated by run_world.c, used by
 * run_job.c). */
struct run_carry {
    float **residual; /* error feedback: per-client residual, allocated on first use; NULL
                         without error feedback */
    struct docofl_server *docofl;           /* DoCoFL anchor deposit, NULL without */
    struct docofl_client_states *dc_states; /* anchor ids of the clients that took part */
};

/* The FedBuff loop (run_async.c). */
struct run_async {
    uint64_t selections; /* client draws so far (names their streams) */
};

/* The open round (sync) or aggregation period (async): opened by run_sync.c / run_async.c,
 * filled by run.c as updates arrive, closed and reset by run_close.c. */
struct run_open {
    uint64_t round;
    bool closed;
    size_t received; /* updates accepted */
    size_t pending;  /* sync: jobs of the round still active */
    double train_loss_sum;
    double staleness_sum;
    struct store_round rec;
    struct store_client_event *events; /* clients_rounds rows of the open round */
    size_t n_events, cap_events;
};

/* Checkpoint identity (run_checkpoint.c): the data fingerprint, computed once. */
struct run_ckpt {
    bool has_data_fp;
    unsigned char data_fp[32];
};

/* Secure aggregation of the open round (run_secure.c). */
struct run_secure {
    struct secagg_server *sa; /* NULL between rounds and for plain aggregation */
    struct secagg_params sa_params;
    struct fixed_point ring_fp; /* the ring embedding of the updates */
    double weight_norm;         /* FedAvg weights are samples / weight_norm, in [0, 1] */
    int sa_phase;               /* the open phase (enum secagg_phase) */
    size_t sa_pending;          /* replies still expected in the open phase */
    size_t sa_n;                /* clients in the protocol (the cohort) */
    uint64_t *ring_sum;         /* the unmasked sum, sa_m elements */
    double *mean_d;             /* its decoded weighted mean */
    bool secure_mean_ready;     /* model.mean holds the unmasked mean of the round */
    size_t sa_m;                /* ring elements per client (dim + 1, or D + 1 for THC) */
    bool thc_ring;              /* THC integers are summed directly in the ring */
};

/* THC with the round's common norm (run_thc.c; uplink.thc_norm = common). */
struct run_thc {
    bool on;
    size_t len;         /* integers per client: the padded length D */
    double norm;        /* the round's common norm N */
    double weight_norm; /* the largest client's training rows (weights with samples) */
    uint64_t *sum;      /* plain rounds: the weighted integer sums, then the weight sum */
    bool mean_ready;    /* plain rounds: model.mean holds the round's decoded mean */
};

/* The test rows evaluated (run_eval.c): output.eval_samples draws a fixed sample. */
struct run_eval {
    uint32_t *rows; /* the sampled test rows in file order, NULL: the whole test set */
    size_t n;       /* test rows evaluated */
};

/* Central DP-FedAvg (run_privacy.c): fixed for the run, but for the clip when it adapts. */
struct run_privacy {
    bool on;       /* privacy.mechanism: central */
    bool adaptive; /* privacy.adaptive.quantile > 0 */
    double q;      /* Poisson rate clients_per_round / population */
    double clip;   /* L2 clip norm S of the open round (adaptive: updated at each release) */
    double z;      /* noise multiplier of the update: z, or z_Δ when the clip adapts */
    double denom;  /* fixed denominator q N of the mean (and of the clipped fraction) */
    double rdp[PRIVACY_ACCOUNTANT_N_ORDERS]; /* one round's RDP at each order (of z) */
};

/* Distributed DP inside secure aggregation (run_ddp.c): fixed for the run, but for the
 * accountant's running total and the round's outcome. */
struct run_ddp {
    bool on;                      /* privacy.mechanism: ddgauss or skellam */
    size_t len;                   /* D: the rotation's padded length, ring elements per client */
    unsigned bits;                /* ring bits k */
    struct privacy_distributed m; /* clip, granularity, bias, D, clients_per_round, noise */
    double bound2;                /* squared L2 bound of a rounded vector, grid units */
    double local;     /* each client's noise: s2 (ddgauss) or mu (skellam), grid units */
    struct dgauss dg; /* ddgauss: N_Z(0, local) */
    double rdp[PRIVACY_ACCOUNTANT_N_ORDERS]; /* RDP spent by the rounds released so far */
    uint64_t *sum;    /* the round's exact integer sum (two's complement), D */
    float *y;         /* the decoded sum, D */
    uint8_t *signs;   /* the server's copy of the round's rotation signs */
    size_t round_n;   /* clients whose noise the round's released sum holds */
    uint64_t wrapped; /* coordinates of that sum that wrapped around the ring */
};

struct run_world {
    const struct scenario *s;
    struct store *st; /* NULL on ranks other than 0 */
    int64_t run_id;
    const struct run_options *o;
    struct dataset *ds;
    struct population *pop;
    struct model_spec spec;
    size_t dim;
    struct run_job *jobs;
    size_t n_jobs; /* pool size */
    struct run_thread *th;
    unsigned n_threads;
    struct cluster *cl; /* the ranks sharing the run (sim/cluster.h); NULL: one process */
    bool root;          /* rank 0: evaluates and writes the store */
    double weight_norm; /* run_world_weight_norm()'s result once known, else 0 */
    /* Scratch, meaningful only inside one call */
    uint32_t *eligible; /* client selection and sampling, n_clients entries */
    bool *chosen;       /* protocol.selection draw: cohort_select()'s marks, n_clients */
    double *phase;      /* selection by scan with diurnal availability: every client's
                           phase, drawn once (a scan checks every client each round) */
    size_t *owned;      /* slots this rank computes, n_jobs entries */
    uint64_t *meta;     /* per-job sizes, loss and status exchanged between ranks */

    struct run_loop loop;
    struct run_pool pool;
    struct run_model model;
    struct run_carry carry;
    struct run_async async;
    struct run_open open;
    struct run_secure sec;
    struct run_thc thc;
    struct run_ckpt ckpt;
    struct run_eval eval;
    struct run_privacy dp;
    struct run_ddp ddp;
};

/* Central DP-FedAvg (run_privacy.c; McMahan et al., ICLR 2018) */
/* Fills w->dp from the scenario (the per-round RDP at every order). */
int run_privacy_init(struct run_world *w, struct errbuf *eb) __attribute__((warn_unused_result));
/* Scales the update u (dim floats) to L2 norm at most the clip; true when it was within. */
bool run_privacy_clip(const struct run_world *w, float *u);
/*
 * Turns the round's mean of clipped updates (uniform weights) into the private mean
 * (sum + N(0, (z S)^2 I)) / (q N), from the round's noise stream, and records epsilon; with
 * adaptive clipping, then moves the clip by the round's noised clipped fraction.
 */
void run_privacy_release(struct run_world *w, struct store_round *rec);

/* Distributed DP (run_ddp.c; Kairouz et al., ICML 2021; Agarwal et al., NeurIPS 2021) */
/* Fills w->ddp from the scenario (granularity, noise) and allocates its workspaces. */
int run_ddp_init(struct run_world *w, struct errbuf *eb) __attribute__((warn_unused_result));
void run_ddp_release(struct run_world *w);
/* Client side: j's update (dim floats in x) to its noisy ring vector j->ring (D elements). */
void run_ddp_encode(struct run_world *w, struct run_job *j, struct run_thread *th, const float *x);
/* Server side: the unmasked ring sum of the clients accepted[i] to model.mean. */
int run_ddp_decode(struct run_world *w, const uint64_t *ring_sum, const bool *accepted,
                   size_t included, struct errbuf *eb) __attribute__((warn_unused_result));
/* Records the round's epsilon, noise and wrapped coordinates in rec (spends the round's RDP
 * when its sum was released). */
void run_ddp_record(struct run_world *w, struct store_round *rec);

/* The event loop and job events (run.c) */
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
/* World setup (run_world.c) */
/* Builds the world for w->s, w->o and w->cl (set by the caller, the rest zeroed). On error
 * the world is partly built: run_world_release() frees whatever was. */
int run_world_init(struct run_world *w, struct errbuf *eb) __attribute__((warn_unused_result));
void run_world_release(struct run_world *w);
/*
 * Chooses up to `want` clients available at `now` (availability drawn for `draw`) and not
 * busy (busy may be NULL) into w->eligible[0..m), the way protocol.selection says
 * (sim/cohort.h); returns m and the number of eligible clients counted in *n_eligible.
 */
size_t run_world_select(struct run_world *w, const bool *busy, uint64_t draw, int64_t now,
                        size_t want, size_t *n_eligible);
/*
 * *norm <- the largest number of training rows of any client (at least 1): the normaliser
 * of the FedAvg weights samples / norm of secure aggregation and THC. Looked up only by the
 * configurations that weight by samples: O(population) once (each rank its share of the
 * clients, then the ranks' maximum), then kept.
 */
int run_world_weight_norm(struct run_world *w, double *norm, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Jobs (run_job.c) */
/* Starts a job for client at `now` in slot; it is computed at the next run_job_flush(). */
int run_job_start(struct run_world *w, size_t slot, uint64_t client, uint64_t stream, int64_t now,
                  struct errbuf *eb) __attribute__((warn_unused_result));
/* Computes the jobs started at this instant and queues their events. */
int run_job_flush(struct run_world *w, int64_t now, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Records a clients_rounds row for job j (output.client_events). */
int run_job_note(struct run_world *w, const struct run_job *j, int outcome, int64_t now,
                 uint64_t staleness, struct errbuf *eb) __attribute__((warn_unused_result));
/* The sync round (run_sync.c) */
/* train.sampling: poisson's rate q = clients_per_round / population (docs/privacy.md). */
double run_sync_poisson_rate(const struct run_world *w);
int run_sync_round_start(struct run_world *w, int64_t now, struct run_summary *sum,
                         struct errbuf *eb) __attribute__((warn_unused_result));
int run_sync_close(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* The FedBuff loop (run_async.c) */
/* Fills every free slot with a new job (or retries later when nobody is online). */
int run_async_fill(struct run_world *w, int64_t now, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* The weight factor of an update `staleness` versions old. */
double run_async_staleness_weight(const struct scenario *s, uint64_t staleness);
/* Closing a round (run_close.c) */
/* Applies the aggregate (if enough updates), evaluates, stores the round, opens the next;
 * accepted (sync, may be NULL) marks the slots whose update counts, for the NMSE. */
int run_close(struct run_world *w, int64_t now, int64_t next_at, const bool *accepted,
              struct run_summary *sum, struct errbuf *eb) __attribute__((warn_unused_result));
/* Evaluation (run_eval.c) */
/* Draws the output.eval_samples test rows into w->eval; -1 when out of memory. */
int run_eval_init(struct run_world *w) __attribute__((warn_unused_result));
/* Frees what run_eval_init() allocated. */
void run_eval_release(struct run_world *w);
/* Root only: the global model on the test split (and the client sample) into rec and sum. */
int run_eval_round(struct run_world *w, struct store_round *rec, struct run_summary *sum,
                   struct errbuf *eb) __attribute__((warn_unused_result));
/* NMSE of the round's decoded mean against the exact mean of the accepted updates. */
int run_eval_nmse(struct run_world *w, const bool *accepted, double *nmse, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Checkpoints (run_checkpoint.c; the format is documented there) */
/* The run's state after round sum->rounds as owned bytes (free with mem_free). Only between
 * events, batch flushed; w is not changed but for a cached data fingerprint. */
int run_checkpoint_save(struct run_world *w, const struct run_summary *sum, unsigned char **out,
                        size_t *out_len, struct errbuf *eb) __attribute__((warn_unused_result));
/* Checks that p is an intact checkpoint of this format for run w after `round` (magic,
 * version, length, checksum, identity), without reading its body; -ERR_CORRUPT with a
 * message naming the first field that does not match. */
int run_checkpoint_check(struct run_world *w, const unsigned char *p, size_t len, uint64_t round,
                         struct errbuf *eb) __attribute__((warn_unused_result));
/* Checks as run_checkpoint_check(), then restores the state into a freshly initialised
 * world and *sum (left unchanged on error; the world is then only fit for release). */
int run_checkpoint_load(struct run_world *w, struct run_summary *sum, const unsigned char *in,
                        size_t len, uint64_t round, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Rewrites the length and checksum of p[0, len) (tests: crafting valid-looking input). */
void run_checkpoint_seal(unsigned char *p, size_t len);
/* Writes run w's identity into the header of p[0, len) (keeping its round), then seals it
 * (the fuzz target: reaching the body's checks). */
int run_checkpoint_stamp(struct run_world *w, unsigned char *p, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* BLAKE2b-256 of the data set as loaded: shapes, features, labels, every client's rows. */
void run_checkpoint_data_fingerprint(const struct dataset *ds, unsigned char out[32]);
/* THC with a common norm (run_thc.c) */
/* True when the scenario's uplink is THC summed as integers under a common norm. */
bool run_thc_common(const struct scenario *s);
/* Allocates the per-thread encoders and sums; no-op unless run_thc_common(). */
int run_thc_init(struct run_world *w, struct errbuf *eb) __attribute__((warn_unused_result));
void run_thc_release(struct run_world *w);
/* A client's integer weight (aggregation.weighting), and the largest possible one. */
uint64_t run_thc_weight(const struct run_world *w, size_t samples);
uint64_t run_thc_weight_max(const struct run_world *w);
/* w->thc.norm <- the largest norm of the vectors of jobs[slots[0..n)] (this rank's uploading
 * clients) over all ranks. */
int run_thc_norm(struct run_world *w, const size_t *slots, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* th->thc_ints <- job j's integers under w->thc.norm; updates its residual (j->rc on error). */
void run_thc_encode(struct run_world *w, struct run_job *j, struct run_thread *th);
/* Plain sync round: the common norm and integer sum of the accepted updates, decoded into
 * model.mean (thc.mean_ready). */
int run_thc_aggregate(struct run_world *w, struct errbuf *eb) __attribute__((warn_unused_result));
/* model.mean <- the mean from sum[0..len] (integer sums, then the weight sum). */
void run_thc_decode(struct run_world *w, const uint64_t *sum);
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
