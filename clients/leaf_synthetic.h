/*
 * leaf_synthetic: LEAF's Synthetic generator (Caldas et al., "LEAF: A Benchmark for
 * Federated Settings", 2018; TalwalkarLab/leaf data/synthetic, one cluster as in its
 * main.py).
 *
 * Process: a global Q in R^{(d+1) x C} with N(0, 1) entries and a cluster mean
 * mu ~ N(N(0, 1), 1). Task (client) k holds n_k = min(floor(LogNormal(3, 2)) + 5, 1000)
 * samples; B_k ~ N(0, 1), m_k,j ~ N(B_k, 1), model information z_k ~ N(mu, 0.1^2) and
 * w_k = Q z_k; each sample is x ~ N(m_k, Sigma) with Sigma_jj = j^-1.2 and
 * y = argmax([1, x] w_k + eps), eps ~ N(0, 0.1^2) per class; the leading 1 (bias) is not
 * stored. Each client keeps the first max(1, floor(train_fraction * n_k)) samples for
 * training and the rest as its share of the held-out test set (LEAF's per-sample split,
 * --tf 0.6 in its README; samples are i.i.d. within a task, so no shuffle is needed).
 *
 * Randomness: the streams (seed, RNG_PURPOSE_DATA, 16, RNG_ANY) for Q and mu, and
 * (seed, RNG_PURPOSE_DATA, 17/18/19, k) for client k's size, task and samples, so client
 * k's data do not depend on the number of clients, nor on when they are made: a client's
 * training rows are the first rows of its sample stream, so leaf_synthetic_gen_train()
 * remakes them alone, bit for bit, whenever a client is started (data on demand, as
 * clients/synthetic.h). Ownership as clients/synthetic.h.
 */
#ifndef FEDBITS_CLIENTS_LEAF_SYNTHETIC_H
#define FEDBITS_CLIENTS_LEAF_SYNTHETIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

struct leaf_synthetic_params {
    size_t clients;            /* tasks; 1000 in LEAF's README */
    size_t dim;                /* features, 60 */
    size_t classes;            /* 5 */
    double train_fraction;     /* 0.6 */
    size_t min_client_samples; /* added to the lognormal draw, 5 */
    size_t max_client_samples; /* cap per client, 1000 */
    size_t max_samples;        /* cap on the total number of samples (memory guard) */
    bool train_on_demand;      /* keep only the test rows; training rows via the gen */
    size_t test_clients;       /* the held-out set is the test rows of clients
                                  0..test_clients-1 (0: every client), with train_on_demand */
    size_t test_ranks;         /* > 1: the held-out rows made are those of clients
                                  k = test_rank (mod test_ranks) only (synthetic.h) */
    size_t test_rank;
};

/* LEAF's README settings: 1000 clients, d = 60, 5 classes, train fraction 0.6, 5..1000. */
void leaf_synthetic_params_default(struct leaf_synthetic_params *p);

/*
 * Generates the dataset into *out (owned by the caller, free with dataset_free()).
 * -ERR_INVALID for impossible parameters, -ERR_RANGE when the sizes exceed max_samples,
 * -ERR_NOMEM. With train_on_demand the training split stays empty and only the test rows
 * of the held-out clients are stored (as synthetic_generate()).
 */
int leaf_synthetic_generate(struct dataset **out, const struct leaf_synthetic_params *p,
                            uint64_t seed, struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * A generator of single clients' data (one thread's workspace; Q and mu are drawn once
 * here). The parameters are copied. Returns NULL when out of memory; free with
 * leaf_synthetic_gen_free().
 */
struct leaf_synthetic_gen;
struct leaf_synthetic_gen *leaf_synthetic_gen_new(const struct leaf_synthetic_params *p,
                                                  uint64_t seed);
void leaf_synthetic_gen_free(struct leaf_synthetic_gen *g);
/* Client k's sample count and training rows, drawn without generating any data. */
void leaf_synthetic_gen_sizes(const struct leaf_synthetic_gen *g, size_t k, size_t *n_all,
                              size_t *n_train);
/* Client k's training rows into x (n_train * dim floats) and y, the same bits
 * leaf_synthetic_generate() stores for it. */
void leaf_synthetic_gen_train(struct leaf_synthetic_gen *g, size_t k, float *x, uint16_t *y);
/* Client k's local test rows (n_all - n_train of them) into x and y. */
void leaf_synthetic_gen_test(struct leaf_synthetic_gen *g, size_t k, float *x, uint16_t *y);

#endif
