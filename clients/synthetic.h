/*
 * synthetic: the FedProx Synthetic(alpha, beta) generator and its IID variant.
 *
 * Reproduces the process of Li et al., "Federated Optimization in Heterogeneous Networks"
 * (MLSys 2020), §5.1, as released in litian96/FedProx data/synthetic_*:
 * client k holds n_k = floor(LogNormal(4, 2)) + 50
 * samples; x ~ N(v_k, Sigma) with Sigma_jj = j^-1.2; y = argmax(W_k^T x + b_k). In the
 * non-IID variant u_k ~ N(0, alpha^2), B_k ~ N(0, beta^2), v_k,j ~ N(B_k, 1) and W_k, b_k
 * have entries ~ N(u_k, 1) (alpha and beta are standard deviations, as in the code); in the
 * IID variant one W, b ~ N(0, 1) is shared and v_k = 0. Each client keeps the first
 * floor(train_fraction * n_k) of its samples for training and the rest as its share of
 * the held-out test set (samples are i.i.d. within a client, so the original's shuffle
 * before the split changes nothing in distribution and is omitted).
 *
 * Randomness: client k's sizes, model and samples come from the streams
 * (seed, RNG_PURPOSE_DATA, 0/1/2, k), the shared IID model from (seed, RNG_PURPOSE_DATA, 1,
 * RNG_ANY); so client k's data do not depend on how many clients there are, nor on when
 * they are made: a client's training rows are the first rows of its sample stream, so
 * synthetic_gen_train() remakes them alone, bit for bit, whenever a client is started
 * (data on demand, docs/population.md).
 */
#ifndef FEDBITS_CLIENTS_SYNTHETIC_H
#define FEDBITS_CLIENTS_SYNTHETIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

struct synthetic_params {
    bool iid;              /* one shared model and v_k = 0 */
    double alpha;          /* std of u_k (model heterogeneity) */
    double beta;           /* std of B_k (feature heterogeneity) */
    size_t clients;        /* population */
    size_t dim;            /* features, 60 in the paper */
    size_t classes;        /* 10 in the paper */
    double train_fraction; /* 0.9 in the paper */
    size_t max_samples;    /* cap on the total number of samples (memory guard) */
    bool train_on_demand;  /* keep only the test rows; training rows via synthetic_gen */
    size_t test_clients;   /* the held-out set is the test rows of clients 0..test_clients-1
                              (0: every client); the others' test rows via synthetic_gen */
    size_t test_ranks;     /* > 1: synthetic_generate() makes the held-out rows of clients
                              k = test_rank (mod test_ranks) only and leaves the others' zero
                              (each MPI rank makes its share; the ranks merge them) */
    size_t test_rank;
};

/* The paper's defaults: non-IID, alpha = beta = 0, 30 clients, d = 60, 10 classes, 0.9. */
void synthetic_params_default(struct synthetic_params *p);

/*
 * Whether the samples synthetic_generate() would store fit max_samples, without generating
 * anything (what it checks first): every sample, or with train_on_demand only the held-out
 * test rows. -ERR_RANGE when they do not.
 */
int synthetic_check_size(const struct synthetic_params *p, uint64_t seed, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * Generates the dataset into *out (owned by the caller, free with dataset_free()).
 * -ERR_INVALID for impossible parameters, -ERR_RANGE when the drawn sizes exceed
 * max_samples, -ERR_NOMEM when memory runs out. With train_on_demand the training split
 * stays empty (the dataset's train_on_demand, clients/dataset.h) and only the clients'
 * sizes and test rows are stored.
 */
int synthetic_generate(struct dataset **out, const struct synthetic_params *p, uint64_t seed,
                       struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * A generator of single clients' data (one thread's workspace, sized for one row of the
 * model; the IID variant's shared model is drawn once here). The parameters are copied.
 * Returns NULL when out of memory; free with synthetic_gen_free().
 */
struct synthetic_gen;
struct synthetic_gen *synthetic_gen_new(const struct synthetic_params *p, uint64_t seed);
void synthetic_gen_free(struct synthetic_gen *g);
/* Client k's sample count and training rows, drawn without generating any data. */
void synthetic_gen_sizes(const struct synthetic_gen *g, size_t k, size_t *n_all, size_t *n_train);
/*
 * Client k's training rows into x (n_train * dim floats) and y (n_train labels), the same
 * bits synthetic_generate() stores for it.
 */
void synthetic_gen_train(struct synthetic_gen *g, size_t k, float *x, uint16_t *y);
/* Client k's local test rows (n_all - n_train of them) into x and y. */
void synthetic_gen_test(struct synthetic_gen *g, size_t k, float *x, uint16_t *y);

#endif
