/*
 * data_source: the one entry point that turns the scenario's data settings into a dataset.
 *
 * data_source_load() dispatches on the kind: the generators (FedProx Synthetic and its IID
 * variant, clients/synthetic.h; LEAF Synthetic, clients/leaf_synthetic.h) bring their own
 * per-client data and held-out rows and need partition kind `natural`; file datasets
 * (Fashion-MNIST, clients/fashion_mnist.h; CSV, clients/csv.h; IDX, clients/idx.h) are
 * loaded, validated, and their training split partitioned among `clients` clients by
 * clients/partition.h. For file datasets the global test split is the file's own test set
 * (Fashion-MNIST's t10k files, or csv/idx `test_path`), otherwise a seeded held-out
 * fraction of the training file (rows drawn from the stream
 * (seed, RNG_PURPOSE_PARTITION, PARTITION_STREAM_HOLDOUT, RNG_ANY); both parts keep file
 * order). Clients of file datasets have no local test rows.
 *
 * The LEAF kinds (clients/leaf_json.h) read every .json file of `path`/train and `path`/test
 * and need partition kind `natural`: client k is the k-th user in file order (the first
 * `clients` users are kept), with its training rows and its test rows as local test rows;
 * the global test split is the test rows of the kept users.
 *
 * Ownership: the parameters are borrowed; the dataset returned in *out is owned by the
 * caller (dataset_free()). The result is a pure function of (files, params, seed); the
 * synthetic kinds reproduce synthetic_generate() bit for bit.
 */
#ifndef FEDBITS_CLIENTS_DATA_SOURCE_H
#define FEDBITS_CLIENTS_DATA_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "clients/dataset.h"
#include "clients/leaf_synthetic.h"
#include "clients/partition.h"
#include "clients/synthetic.h"

#define DATA_PATH_BYTES 1024

enum data_kind {
    DATA_SYNTHETIC = 0,      /* FedProx Synthetic(alpha, beta) */
    DATA_SYNTHETIC_IID = 1,  /* FedProx Synthetic-IID */
    DATA_FASHION_MNIST = 2,  /* Debian's dataset-fashion-mnist, or a folder in path */
    DATA_CSV = 3,            /* clients/csv.h layout */
    DATA_IDX = 4,            /* images + labels IDX files, plain or gzip */
    DATA_LEAF_SYNTHETIC = 5, /* LEAF Synthetic */
    DATA_CIFAR10 = 6,        /* CIFAR-10 binary batches in path (clients/cifar.h) */
    DATA_CIFAR100 = 7,       /* CIFAR-100 binary files in path, fine labels */
    DATA_FEMNIST = 8,        /* LEAF FEMNIST JSON in path/train, path/test; one client a user */
    DATA_SHAKESPEARE = 9,    /* LEAF Shakespeare JSON, the same layout */
    DATA_KIND_COUNT
};

struct data_params {
    enum data_kind kind;
    char path[DATA_PATH_BYTES];             /* fashion_mnist: folder ("" = default); csv:
                                               training file; idx: training images */
    char labels_path[DATA_PATH_BYTES];      /* idx: training labels */
    char test_path[DATA_PATH_BYTES];        /* csv: test file; idx: test images; "" = hold
                                               out test_fraction of the training file */
    char test_labels_path[DATA_PATH_BYTES]; /* idx: test labels (with test_path) */
    size_t clients;                         /* population, every kind */
    size_t classes;                         /* csv/idx: classes, 0 = largest label + 1 */
    double test_fraction;                   /* csv/idx without test_path: share in (0, 1) */
    size_t max_file_bytes;                  /* cap on one input file (uncompressed bytes) */
    struct synthetic_params synthetic;      /* synthetic kinds; .clients and .iid are set
                                               from clients and kind */
    struct leaf_synthetic_params leaf;      /* leaf_synthetic; .clients is set from clients */
    struct partition_params partition;      /* file kinds; generators need natural */
    bool on_demand;                         /* generators: clients' training rows made
                                               when they are started (data_source_maker) */
    size_t test_ranks;                      /* generators, > 1: the held-out rows made
                                               are only those of clients k = test_rank (mod
                                               test_ranks); the others stay zero (MPI ranks
                                               make a share each and merge them) */
    size_t test_rank;
};

/*
 * Defaults: DATA_SYNTHETIC, empty paths, 30 clients, classes 0, test_fraction 0.2,
 * max_file_bytes 1 GiB, synthetic_params_default(), leaf_synthetic_params_default(), and
 * partition_params_default() with kind PARTITION_NATURAL (a file dataset needs another).
 */
void data_source_params_default(struct data_params *p);

/* Scenario name of a kind ("synthetic", "synthetic_iid", "fashion_mnist", "csv", "idx",
 * "leaf_synthetic"). */
const char *data_source_kind_name(enum data_kind kind);
/* Looks up a scenario name; -ERR_INVALID listing the known names. */
int data_source_kind_parse(const char *name, enum data_kind *kind, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * The checks of data_source_load() that need no file and no generation, for validating a
 * scenario: a generator's population within its sample cap (-ERR_RANGE).
 */
int data_source_check_size(const struct data_params *p, uint64_t seed, struct errbuf *eb)
    __attribute__((warn_unused_result));

/*
 * The image shape of a row (channels, height, width; product `features`) for a
 * convolutional model: Fashion-MNIST's own 1 x 28 x 28, CIFAR's 3 x 32 x 32; for other kinds a
 * square grey image when features is a perfect square (IDX images such as EMNIST), else 1 x 1 x
 * features.
 */
void data_source_input_shape(enum data_kind kind, size_t features, size_t shape[3]);

/*
 * Builds the dataset into *out (NULL on failure). Errors carry the file (eb->file, with
 * line and column for CSV or byte offset for IDX) or the setting (eb->key, e.g.
 * "partition.alpha", "data.test_fraction"): -ERR_INVALID for settings,
 * -ERR_NOTFOUND for a missing file (Fashion-MNIST: naming the Debian package to install),
 * -ERR_IO, -ERR_CORRUPT and -ERR_RANGE from the readers and generators, -ERR_NOMEM.
 */
int data_source_load(struct dataset **out, const struct data_params *p, uint64_t seed,
                     struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * Data on demand: one thread's maker of single clients' rows, for a dataset that
 * data_source_load() built with train_on_demand set (the generators do when p->on_demand
 * is set). data_source_maker_new() returns NULL when out of memory; ds is
 * borrowed and must outlive the maker. data_source_maker_train() makes client k's training
 * rows into the maker's split (rows 0..n-1, valid until the next call), the same rows and
 * bits an eagerly built dataset holds for k; data_source_maker_test() its local test rows
 * (whether or not the dataset stores them). Both return NULL when out of memory: the
 * maker's buffers grow to the largest client made so far.
 */
struct data_source_maker;
struct data_source_maker *data_source_maker_new(const struct data_params *p, uint64_t seed,
                                                const struct dataset *ds);
void data_source_maker_free(struct data_source_maker *m);
const struct dataset_split *data_source_maker_train(struct data_source_maker *m, size_t k);
const struct dataset_split *data_source_maker_test(struct data_source_maker *m, size_t k);

#endif
