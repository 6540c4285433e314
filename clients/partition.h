/*
 * partition: seeded assignment of a labelled training set's rows to N clients.
 *
 * Kinds (label skew as in Yurochkin et al., ICML 2019 and Hsu et al., 2019; shards as in
 * McMahan et al., AISTATS 2017):
 *   - iid: a uniform shuffle cut into client shares: equal sizes (differing by at most one
 *     row), or with quantity skew (size_sigma > 0) sizes proportional to weights
 *     w_k ~ LogNormal(0, size_sigma), rounded by largest remainder.
 *   - dirichlet: per class c, proportions p_c ~ Dir_N(alpha) over the clients and the
 *     class's (shuffled) rows cut at floor(cumsum(p_c) * n_c) (Yurochkin et al., ICML 2019;
 *     NIID-Bench / Flower DirichletPartitioner without self-balancing). The whole draw is
 *     repeated until every client holds at least max(min_size, 1) rows, at most
 *     max_attempts times.
 *   - shards: McMahan et al. (AISTATS 2017, §3): rows sorted by label (random order within a
 *     label) are cut into N * per_client contiguous shards of sizes differing by at most
 *     one, and each client gets per_client shards at random. A client has at most
 *     per_client labels when every class size is a multiple of the shard size (e.g.
 *     Fashion-MNIST, 100 clients, 2 shards: 200 shards of 300); otherwise a shard can
 *     straddle two labels, as in the paper's MNIST.
 *   - labels: "#C = k" of NIID-Bench (Li et al., ICDE 2022): each client holds exactly
 *     per_client distinct labels; the first ceil(C / k) clients' label slots run through a
 *     random permutation of the non-empty classes so every class has a holder, the rest are
 *     drawn at random; a class's shuffled rows are split evenly among its holders.
 *   - natural: not a partition; generators with their own per-client data use it, and
 *     partition_apply() rejects it.
 * Every row goes to exactly one client, and no client is left empty (an error naming the
 * setting otherwise). Within a client, rows are in increasing order.
 *
 * Randomness: one stream (seed, RNG_PURPOSE_PARTITION, PARTITION_STREAM_ASSIGN, RNG_ANY);
 * the result is a pure function of (labels, n_clients, params, seed). The label vector is
 * borrowed; the output arrays are caller-owned (struct dataset_rows with n_clients + 1
 * offsets and n rows, as dataset_new() allocates them).
 */
#ifndef FEDBITS_CLIENTS_PARTITION_H
#define FEDBITS_CLIENTS_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

enum partition_kind {
    PARTITION_IID = 0,
    PARTITION_DIRICHLET = 1,
    PARTITION_SHARDS = 2,
    PARTITION_LABELS = 3,
    PARTITION_NATURAL = 4,
    PARTITION_KIND_COUNT
};

/* Sub-streams of RNG_PURPOSE_PARTITION (the "round" part of the stream name). */
enum partition_stream {
    PARTITION_STREAM_HOLDOUT = 0, /* data_source: the held-out test fraction */
    PARTITION_STREAM_ASSIGN = 1,  /* partition_apply() */
};

struct partition_params {
    enum partition_kind kind;
    double alpha;          /* dirichlet: concentration, > 0 (0.5 moderate, 0.1 severe) */
    size_t min_size;       /* dirichlet: rows every client must get (0 counts as 1) */
    unsigned max_attempts; /* dirichlet: redraws before giving up, >= 1 */
    size_t per_client;     /* shards: shards per client; labels: labels per client; >= 1 */
    double size_sigma;     /* iid: quantity skew, sizes ~ LogNormal(0, size_sigma); 0 = equal */
};

/* iid; alpha 0.5, min_size 10, max_attempts 10000, per_client 2, size_sigma 0. */
void partition_params_default(struct partition_params *p);

/* Scenario name of a kind ("iid", "dirichlet", "shards", "labels", "natural"). */
const char *partition_kind_name(enum partition_kind kind);
/* Looks up a scenario name; -ERR_INVALID listing the known names. */
int partition_kind_parse(const char *name, enum partition_kind *kind, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * Assigns rows 0..n of a split with labels y (each < n_classes) to n_clients clients into
 * out. -ERR_INVALID for bad parameters (eb->key names the setting, e.g.
 * "partition.alpha"), for the natural kind, or when the result would leave a client empty
 * or (labels) a client with fewer than per_client labels; -ERR_NOMEM.
 */
int partition_apply(struct dataset_rows *out, const uint16_t *y, size_t n, size_t n_classes,
                    size_t n_clients, const struct partition_params *p, uint64_t seed,
                    struct errbuf *eb) __attribute__((warn_unused_result));

#endif
