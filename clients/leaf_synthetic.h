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
 * k's data do not depend on the number of clients. Ownership as clients/synthetic.h.
 */
#ifndef FEDBITS_CLIENTS_LEAF_SYNTHETIC_H
#define FEDBITS_CLIENTS_LEAF_SYNTHETIC_H

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
};

/* LEAF's README settings: 1000 clients, d = 60, 5 classes, train fraction 0.6, 5..1000. */
void leaf_synthetic_params_default(struct leaf_synthetic_params *p);

/*
 * Generates the dataset into *out (owned by the caller, free with dataset_free()).
 * -ERR_INVALID for impossible parameters, -ERR_RANGE when the sizes exceed max_samples,
 * -ERR_NOMEM.
 */
int leaf_synthetic_generate(struct dataset **out, const struct leaf_synthetic_params *p,
                            uint64_t seed, struct errbuf *eb) __attribute__((warn_unused_result));

#endif
