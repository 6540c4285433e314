/*
 * dataset: samples, labels and which client holds which rows.
 *
 * A struct dataset holds a train split and a test split, each a row-major float matrix
 * (n rows of n_features) with one uint16 label per row, and for every client the list of
 * its train rows and its local test rows (compressed-row form: client k's rows are
 * rows[off[k] .. off[k+1])). The global held-out test set is the whole test split.
 * A dataset whose training rows are made on demand (data on demand, docs/population.md)
 * stores no per-client record for training at all: a client's count is drawn when asked,
 * through the generator's dataset_count_fn, so building it costs nothing per client beyond
 * the clients whose test rows it stores.
 * Generators and loaders (clients/synthetic.h, ...) build a dataset with dataset_new() and
 * fill it; the simulator owns the result and frees it with dataset_free(). After it is
 * built a dataset is read-only, so any number of threads may read it at once.
 */
#ifndef FEDBITS_CLIENTS_DATASET_H
#define FEDBITS_CLIENTS_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

struct dataset_split {
    float *x;    /* n * n_features, row-major */
    uint16_t *y; /* n labels in [0, n_classes) */
    size_t n;    /* rows */
};

/* Client k's number of training rows, a pure function of (ctx, k) (data on demand). */
typedef size_t dataset_count_fn(const void *ctx, size_t k);

/* Rows of each client in one split: client k has rows[off[k] .. off[k + 1]). */
struct dataset_rows {
    size_t *off;    /* n_clients + 1 offsets, off[0] = 0 */
    uint32_t *rows; /* off[n_clients] row indices into the split */
};

struct dataset {
    size_t n_features;
    size_t n_classes;
    size_t n_clients;
    struct dataset_split train;
    struct dataset_split test;
    struct dataset_rows client_train; /* every client's training rows (see below) */
    struct dataset_rows client_test;  /* local test rows of clients 0..n_test_clients-1 */
    size_t n_test_clients;            /* clients listed in client_test (n_clients unless
                                         train_on_demand); the others hold no stored row */
    /* Training rows made on demand by the generator when a client is started: the train
     * split and client_train are empty (off and rows NULL), and client k's count is
     * train_count(count_ctx, k) (dataset_client_train() returns NULL with the count). */
    bool train_on_demand;
    dataset_count_fn *train_count;
    void *count_ctx; /* owned (freed with mem_free by dataset_free) */
};

/*
 * Returns an owned dataset (free with dataset_free) with zeroed splits of the given sizes
 * and room for n_train (n_test) client row entries, or NULL if out of memory or if a size
 * overflows. The caller fills x, y, off and rows.
 */
struct dataset *dataset_new(size_t n_features, size_t n_classes, size_t n_clients, size_t n_train,
                            size_t n_test);
void dataset_free(struct dataset *ds);
/*
 * dataset_new() for n_clients clients holding n_all[k] samples each, the first n_train[k]
 * of them for training (the generators' layout): -ERR_RANGE when the samples add up to
 * more than max_samples (the message names `what`, e.g. "synthetic data"), -ERR_NOMEM
 * when memory runs out. on_demand NULL: every client is listed (n_listed = n_clients) and
 * stored. Otherwise the training rows are made on demand: only the test rows are
 * allocated and counted against the cap, n_all and n_train list the first n_listed
 * clients (those whose test rows are stored; the others hold none), the training counts
 * come from on_demand->count, and the dataset takes on_demand->ctx (an allocation of
 * base/mem.h), also on error.
 */
struct dataset_on_demand {
    dataset_count_fn *count; /* client k's training rows */
    void *ctx;               /* owned by the dataset once passed */
};
int dataset_new_clients(struct dataset **out, size_t n_features, size_t n_classes, size_t n_clients,
                        size_t n_listed, const size_t *n_all, const size_t *n_train,
                        size_t max_samples, const struct dataset_on_demand *on_demand,
                        const char *what, struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * Filling a dataset client by client, as the synthetic generators do: each client's rows
 * are appended in order to the split they belong to, and client k's row list is exactly
 * its rows. Start from a zeroed struct dataset_fill; call dataset_fill_client() for
 * clients 0, 1, ... in turn, dataset_fill_row() for each of the current client's rows, and
 * dataset_fill_end() once after the last. The splits must have been sized (dataset_new)
 * for all the rows appended.
 */
struct dataset_fill {
    size_t train_; /* rows appended to the train split */
    size_t test_;  /* rows appended to the test split */
};
void dataset_fill_client(struct dataset *ds, struct dataset_fill *f, size_t k);
/* The next row of the current client in the train (train = true) or test split: its
 * n_features floats; *label receives where its label goes. NULL for a training row of a
 * train_on_demand dataset (counted, not stored). */
float *dataset_fill_row(struct dataset *ds, struct dataset_fill *f, bool train, uint16_t **label);
void dataset_fill_end(struct dataset *ds, const struct dataset_fill *f);

/*
 * Where a generator puts the rows of one client, made in stream order (its training rows
 * first): into the dataset being filled (ds, f) where it stores them, else into the
 * caller's buffers of the client's training rows (x_train, y_train) or of its test rows
 * (x_test, y_test, from row 0), else into a scratch row nobody keeps. Set the public
 * fields, call dataset_sink_begin() once for the client, then dataset_sink_row() for each
 * of its rows in order, drawing the first n_draw of them.
 */
struct dataset_sink {
    size_t n_features;  /* floats per row */
    struct dataset *ds; /* the dataset being filled, or NULL */
    struct dataset_fill *f;
    float *x_train; /* the client's training rows, or NULL */
    uint16_t *y_train;
    float *x_test; /* the client's test rows, or NULL */
    uint16_t *y_test;
    float *scratch;      /* one row */
    size_t n_train_;     /* the client's training rows */
    bool held_;          /* ds lists the client's test rows */
    uint16_t scratch_y_; /* the scratch row's label */
};
/*
 * Starts client k of n_all samples, the first n_train for training; held: ds lists its test
 * rows; made: ds gets them from here (its share of the held-out set). Returns n_draw, how
 * many of its rows must be drawn for anybody to keep them (0: none, its model need not be
 * drawn either).
 */
size_t dataset_sink_begin(struct dataset_sink *s, size_t k, size_t n_all, size_t n_train, bool held,
                          bool made);
/* Row i's place (n_features floats; *label receives its label's), counted in ds. */
float *dataset_sink_row(struct dataset_sink *s, size_t i, uint16_t **label);

/* Rows of client k in the train split, as a (pointer, count) pair valid as long as ds
 * (pointer NULL when the dataset makes its training rows on demand). */
const uint32_t *dataset_client_train(const struct dataset *ds, size_t k, size_t *n);
/* Rows of client k in the test split. */
const uint32_t *dataset_client_test(const struct dataset *ds, size_t k, size_t *n);
/*
 * The largest number of training rows any client holds: O(n_clients), and for a dataset
 * made on demand one count drawn per client. _every() looks only at clients first,
 * first + step, ... (a share of the clients: each MPI rank its own).
 */
size_t dataset_max_client_train(const struct dataset *ds);
size_t dataset_max_client_train_every(const struct dataset *ds, size_t first, size_t step);

/*
 * Checks the invariants (offsets non-decreasing and in range, rows in range, labels below
 * n_classes, features finite); -ERR_CORRUPT naming the first violation.
 */
int dataset_check(const struct dataset *ds, struct errbuf *eb) __attribute__((warn_unused_result));

#endif
