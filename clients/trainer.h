/*
 * trainer: local training of one client and evaluation of a model on rows of a dataset.
 *
 * A struct trainer is one thread's workspace for a model shape and a dataset: the model
 * workspace, a gather buffer for one minibatch, the shuffled row order and the momentum
 * buffer. trainer_new() sizes it for the largest client of a stored dataset, so
 * trainer_train() and trainer_evaluate() allocate nothing; for rows made on demand it
 * grows with trainer_reserve() to the largest client trained so far (the population's
 * largest is never looked up). The dataset is borrowed and must outlive the
 * trainer; parameter vectors are borrowed.
 *
 * Local training is minibatch SGD (McMahan et al., AISTATS 2017, Algorithm 1,
 * ClientUpdate): each epoch visits the client's rows in an order shuffled by the stream
 * given by the caller (named (seed, RNG_PURPOSE_TRAIN, round, client) by the simulator),
 * in batches of batch_size (the last batch may be smaller). With `steps` > 0 it runs
 * exactly that many steps instead, reshuffling whenever a pass ends.
 */
#ifndef FEDBITS_CLIENTS_TRAINER_H
#define FEDBITS_CLIENTS_TRAINER_H

#include <stddef.h>

#include "base/errbuf.h"
#include "base/rng.h"
#include "clients/dataset.h"
#include "clients/model.h"

struct train_params {
    unsigned epochs;   /* local epochs (ignored when steps > 0) */
    size_t steps;      /* fixed number of local steps, 0 to use epochs */
    size_t batch_size; /* rows per minibatch, >= 1 */
    float lr;          /* client learning rate */
    float momentum;    /* 0 for plain SGD */
    float l2;          /* weight decay on weights */
    float prox_mu;     /* FedProx proximal coefficient, 0 for none */
};

struct train_result {
    size_t samples; /* training rows the client holds */
    size_t steps;   /* SGD steps taken */
    double loss;    /* mean minibatch loss over the steps */
};

struct eval_result {
    size_t n;       /* rows evaluated */
    size_t correct; /* correct predictions */
    double loss;    /* mean cross-entropy */
};

struct trainer;

/* Returns an owned trainer (free with trainer_free), or NULL if out of memory. */
struct trainer *trainer_new(const struct model_spec *spec, const struct dataset *ds,
                            size_t batch_size);
void trainer_free(struct trainer *t);

/*
 * Trains w (in place, starting from the values it holds) on client k's training rows.
 * global is the model the client received (the FedProx centre); it may be NULL when
 * prox_mu is 0. A client with no rows takes no step.
 */
void trainer_train(struct trainer *t, float *w, const float *global, size_t k,
                   const struct train_params *p, struct rng *r, struct train_result *res);

/* Room for a client of n training rows in trainer_train_rows(); -ERR_NOMEM when out of
 * memory (the trainer is unchanged). Grows by doubling, so growth stays rare. */
int trainer_reserve(struct trainer *t, size_t n) __attribute__((warn_unused_result));

/* trainer_train() on rows[0..n) of split (rows NULL means rows 0..n-1): for a client whose
 * rows were made on demand (clients/data_source.h), after trainer_reserve(t, n). Same steps
 * and bits as trainer_train() on the same data. */
void trainer_train_rows(struct trainer *t, float *w, const float *global,
                        const struct dataset_split *split, const uint32_t *rows, size_t n,
                        const struct train_params *p, struct rng *r, struct train_result *res);

/* Evaluates w on rows[0..n) of split (rows NULL means rows 0..n-1). */
void trainer_evaluate(struct trainer *t, const float *w, const struct dataset_split *split,
                      const uint32_t *rows, size_t n, struct eval_result *res);

#endif
