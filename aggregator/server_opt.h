/*
 * server_opt: how the server turns the round's mean update into the next global model.
 *
 * FedAvg applies the mean client update (client model minus the model it received)
 * scaled by a server learning rate: w <- w + server_lr * mean_update; with server_lr = 1
 * this is McMahan et al.'s FedAvg. The adaptive optimizers of Reddi et al. (ICLR 2021)
 * extend this module and keep their state in it. Lifecycle: server_opt_new() per run,
 * server_opt_apply() per round. The model vector is borrowed.
 */
#ifndef FEDBITS_AGGREGATOR_SERVER_OPT_H
#define FEDBITS_AGGREGATOR_SERVER_OPT_H

#include <stddef.h>

#include "base/errbuf.h"

enum server_opt_kind { SERVER_OPT_FEDAVG = 0, SERVER_OPT_KIND_COUNT };

struct server_opt_params {
    enum server_opt_kind kind;
    double lr; /* server learning rate */
};

struct server_opt;

/* Scenario name of a kind ("fedavg"). */
const char *server_opt_kind_name(enum server_opt_kind kind);
/* Looks up a scenario name; -ERR_INVALID listing the known names. */
int server_opt_kind_parse(const char *name, enum server_opt_kind *kind, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Returns an owned optimizer for models of dim parameters, or NULL if out of memory. */
struct server_opt *server_opt_new(const struct server_opt_params *p, size_t dim);
void server_opt_free(struct server_opt *o);
/* Updates the model w[0..dim) with the round's mean update. */
void server_opt_apply(struct server_opt *o, float *w, const float *mean_update);

#endif
