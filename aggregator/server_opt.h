/*
 * server_opt: how the server turns the round's mean update into the next global model.
 *
 * The mean update is Delta_t = mean over clients of (client model - model it received).
 *   - FedAvg: w <- w + lr * Delta_t; with lr = 1 this is McMahan et al.'s FedAvg.
 *   - FedAvgM (server momentum; Hsu et al. 2019, Reddi et al. §2):
 *       m_t = momentum * m_{t-1} + Delta_t,  w <- w + lr * m_t.
 *   - FedAdagrad / FedAdam / FedYogi: Reddi et al., "Adaptive Federated Optimization",
 *     ICLR 2021, Algorithm 2, with m_{-1} = 0 and v_{-1} = tau^2, no bias correction:
 *       m_t = beta1 * m_{t-1} + (1 - beta1) * Delta_t
 *       Adagrad: v_t = v_{t-1} + Delta_t^2
 *       Yogi:    v_t = v_{t-1} - (1 - beta2) * Delta_t^2 * sign(v_{t-1} - Delta_t^2)
 *       Adam:    v_t = beta2 * v_{t-1} + (1 - beta2) * Delta_t^2
 *       w <- w + lr * m_t / (sqrt(v_t) + tau)
 *     (the paper's η is lr and its τ is tau; the formulas are evaluated in double per
 *     coordinate, and m, v and w are stored as float).
 *
 * Lifecycle: server_opt_params_check() the settings, server_opt_new() per run,
 * server_opt_apply() per round, server_opt_free(). The model vector and the update are
 * borrowed. The optimizer state (m, then v) can be saved and restored as one flat float
 * vector of server_opt_state_len() entries for checkpoints; restoring it and replaying
 * the same updates gives the same models bit for bit. Not thread-safe.
 */
#ifndef FEDBITS_AGGREGATOR_SERVER_OPT_H
#define FEDBITS_AGGREGATOR_SERVER_OPT_H

#include <stddef.h>

#include "base/errbuf.h"

/*
 * The server-optimizer table: one row per optimizer, in kind order (new rows go at the end).
 * SERVER_OPT_ROW(ID, def) makes SERVER_OPT_<ID> and names its row in aggregator/server_opt.c
 * (name, summary, state vectors, parameter check, update). The `server.optimizer` choices,
 * `fedbits list` and docs/scenarios.md follow from it; docs/extending.md adds one.
 */
#define SERVER_OPT_TABLE(SERVER_OPT_ROW)                                                           \
    SERVER_OPT_ROW(FEDAVG, server_opt_fedavg)                                                      \
    SERVER_OPT_ROW(FEDAVGM, server_opt_fedavgm)                                                    \
    SERVER_OPT_ROW(FEDADAM, server_opt_fedadam)                                                    \
    SERVER_OPT_ROW(FEDYOGI, server_opt_fedyogi)                                                    \
    SERVER_OPT_ROW(FEDADAGRAD, server_opt_fedadagrad)                                              \
    /* new rows go above this line */

#define SERVER_OPT_ENUM_ROW(id, def) SERVER_OPT_##id,
enum server_opt_kind { SERVER_OPT_TABLE(SERVER_OPT_ENUM_ROW) SERVER_OPT_KIND_COUNT };
#undef SERVER_OPT_ENUM_ROW

/* The struct server_opt_params fields beyond lr an optimizer reads (server_opt_kind_reads()):
 * they are checked for it, and the scenario refuses them for the others. */
enum server_opt_reads {
    SERVER_OPT_READS_MOMENTUM = 1u << 0,
    SERVER_OPT_READS_BETA1 = 1u << 1,
    SERVER_OPT_READS_BETA2 = 1u << 2,
    SERVER_OPT_READS_TAU = 1u << 3,
};

struct server_opt_params {
    enum server_opt_kind kind;
    double lr;       /* server learning rate (eta), > 0 */
    double beta1;    /* adaptive kinds: first-moment decay in [0, 1) */
    double beta2;    /* fedadam, fedyogi: second-moment decay in [0, 1) */
    double tau;      /* adaptive kinds: adaptivity (epsilon), > 0; v starts at tau^2 */
    double momentum; /* fedavgm: server momentum in [0, 1) */
};

struct server_opt;

/* Settings */
/*
 * kind fedavg, lr 1, beta1 0.9, beta2 0.99, tau 1e-3, momentum 0.9 (Reddi et al.'s
 * defaults for the decays and tau; lr must be tuned per kind, e.g. 1e-2 for FedAdam).
 */
void server_opt_params_default(struct server_opt_params *p);
/* -ERR_INVALID naming the offending field (eb->key "server.<field>") for bad settings. */
int server_opt_params_check(const struct server_opt_params *p, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Scenario name of a kind ("fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"). */
const char *server_opt_kind_name(enum server_opt_kind kind);
/* One-line description of kind, for `fedbits list`. */
const char *server_opt_kind_summary(enum server_opt_kind kind);
/* The enum server_opt_reads flags of kind (0 for an unknown kind). */
unsigned server_opt_kind_reads(enum server_opt_kind kind);
/* Looks up a scenario name; -ERR_INVALID listing the known names. */
int server_opt_kind_parse(const char *name, enum server_opt_kind *kind, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Lifecycle */
/*
 * Returns an owned optimizer for models of dim parameters (state m = 0, v = tau^2), or
 * NULL if out of memory. The parameters are copied; they must pass
 * server_opt_params_check().
 */
struct server_opt *server_opt_new(const struct server_opt_params *p, size_t dim);
void server_opt_free(struct server_opt *o);
/* Updates the model w[0..dim) with the round's mean update. */
void server_opt_apply(struct server_opt *o, float *w, const float *mean_update);

/* State for checkpoints */
/* Floats of state: 0 for fedavg, dim for fedavgm (m), 2 * dim for the adaptive kinds. */
size_t server_opt_state_len(const struct server_opt *o);
/* Copies the state (m, then v) into out[0..len); -ERR_INVALID if len is not the length. */
int server_opt_state_get(const struct server_opt *o, float *out, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));
/*
 * Replaces the state with in[0..len); -ERR_INVALID if len is not the length,
 * -ERR_CORRUPT (state left unchanged) if a value is not finite or a v entry is negative.
 */
int server_opt_state_set(struct server_opt *o, const float *in, size_t len, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
