/* data_source: generators and file datasets behind one call. See data_source.h. */
#include "clients/data_source.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "clients/cifar.h"
#include "clients/csv.h"
#include "clients/fashion_mnist.h"
#include "clients/idx.h"
#include "clients/leaf_json.h"
#include "base/banned.h"

static const char *const data_source_names[DATA_KIND_COUNT] = {
    [DATA_SYNTHETIC] = "synthetic",
    [DATA_SYNTHETIC_IID] = "synthetic_iid",
    [DATA_FASHION_MNIST] = "fashion_mnist",
    [DATA_CSV] = "csv",
    [DATA_IDX] = "idx",
    [DATA_LEAF_SYNTHETIC] = "leaf_synthetic",
    [DATA_CIFAR10] = "cifar10",
    [DATA_CIFAR100] = "cifar100",
    [DATA_FEMNIST] = "femnist",
    [DATA_SHAKESPEARE] = "shakespeare",
};

void
data_source_params_default(struct data_params *p)
{
    memset(p, 0, sizeof *p);
    p->kind = DATA_SYNTHETIC;
    p->clients = 30;
    p->classes = 0;
    p->test_fraction = 0.2;
    p->max_file_bytes = (size_t)1 << 30;
    synthetic_params_default(&p->synthetic);
    leaf_synthetic_params_default(&p->leaf);
    partition_params_default(&p->partition);
    p->partition.kind = PARTITION_NATURAL;
}

const char *
data_source_kind_name(enum data_kind kind)
{
    return (unsigned)kind < DATA_KIND_COUNT ? data_source_names[kind] : "?";
}

int
data_source_kind_parse(const char *name, enum data_kind *kind, struct errbuf *eb)
{
    for (unsigned k = 0; k < DATA_KIND_COUNT; k++) {
        if (strcmp(name, data_source_names[k]) == 0) {
            *kind = (enum data_kind)k;
            return 0;
        }
    }
    return errbuf_set(eb, -ERR_INVALID,
                      "unknown dataset '%s' (known: synthetic, synthetic_iid, fashion_mnist, "
                      "csv, idx, leaf_synthetic)",
                      name);
}

static int
data_source_bad(struct errbuf *eb, const char *key, const char *msg, const char *detail)
{
    errbuf_set_key(eb, key);
    return errbuf_set(eb, -ERR_INVALID, "%s%s", msg, detail);
}

static void
data_source_split_free(struct dataset_split *s)
{
    mem_free(s->x);
    mem_free(s->y);
    memset(s, 0, sizeof *s);
}

static int
data_source_generate(struct dataset **out, const struct data_params *p, uint64_t seed,
                     struct errbuf *eb)
{
    if (p->partition.kind != PARTITION_NATURAL)
        return data_source_bad(eb, "partition.type", "dataset generators bring their own clients: ",
                               "partition type must be 'natural'");
    if (p->kind == DATA_LEAF_SYNTHETIC) {
        struct leaf_synthetic_params lp = p->leaf;
        lp.clients = p->clients;
        lp.train_on_demand = p->on_demand;
        lp.test_ranks = p->test_ranks;
        lp.test_rank = p->test_rank;
        return leaf_synthetic_generate(out, &lp, seed, eb);
    }
    struct synthetic_params sp = p->synthetic;
    sp.clients = p->clients;
    sp.iid = p->kind == DATA_SYNTHETIC_IID;
    sp.train_on_demand = p->on_demand;
    sp.test_ranks = p->test_ranks;
    sp.test_rank = p->test_rank;
    return synthetic_generate(out, &sp, seed, eb);
}

struct data_source_maker {
    struct synthetic_gen *gen;       /* the FedProx kinds */
    struct leaf_synthetic_gen *leaf; /* leaf_synthetic */
    const struct dataset *ds;
    struct dataset_split split; /* the client's rows being made */
    size_t cap;                 /* rows split.x and split.y have room for */
};

struct data_source_maker *
data_source_maker_new(const struct data_params *p, uint64_t seed, const struct dataset *ds)
{
    struct data_source_maker *m = mem_calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->ds = ds;
    if (p->kind == DATA_LEAF_SYNTHETIC) {
        struct leaf_synthetic_params lp = p->leaf;
        lp.clients = p->clients;
        m->leaf = leaf_synthetic_gen_new(&lp, seed);
    } else {
        struct synthetic_params sp = p->synthetic;
        sp.clients = p->clients;
        sp.iid = p->kind == DATA_SYNTHETIC_IID;
        m->gen = synthetic_gen_new(&sp, seed);
    }
    if (m->gen == NULL && m->leaf == NULL) {
        data_source_maker_free(m);
        return NULL;
    }
    return m;
}

void
data_source_maker_free(struct data_source_maker *m)
{
    if (m == NULL)
        return;
    synthetic_gen_free(m->gen);
    leaf_synthetic_gen_free(m->leaf);
    data_source_split_free(&m->split);
    mem_free(m);
}

/*
 * Room for n rows. The buffers grow to the largest client made so far (not the largest of
 * the population, which a cohort rarely meets), doubling so that growth stays rare.
 */
static int
data_source_maker_reserve(struct data_source_maker *m, size_t n)
{
    if (n <= m->cap)
        return 0;
    size_t cap = m->cap * 2 > n ? m->cap * 2 : n;
    size_t d = m->ds->n_features;
    if (cap > SIZE_MAX / sizeof(float) / d)
        return -ERR_NOMEM;
    float *x = mem_alloc(cap * d * sizeof *x);
    uint16_t *y = mem_alloc(cap * sizeof *y);
    if (x == NULL || y == NULL) {
        mem_free(x);
        mem_free(y);
        return -ERR_NOMEM;
    }
    mem_free(m->split.x);
    mem_free(m->split.y);
    m->split.x = x;
    m->split.y = y;
    m->cap = cap;
    return 0;
}

const struct dataset_split *
data_source_maker_train(struct data_source_maker *m, size_t k)
{
    size_t n;
    dataset_client_train(m->ds, k, &n);
    if (data_source_maker_reserve(m, n) < 0)
        return NULL;
    m->split.n = n;
    if (m->leaf != NULL)
        leaf_synthetic_gen_train(m->leaf, k, m->split.x, m->split.y);
    else
        synthetic_gen_train(m->gen, k, m->split.x, m->split.y);
    return &m->split;
}

const struct dataset_split *
data_source_maker_test(struct data_source_maker *m, size_t k)
{
    size_t n_all, n_train;
    if (m->leaf != NULL)
        leaf_synthetic_gen_sizes(m->leaf, k, &n_all, &n_train);
    else
        synthetic_gen_sizes(m->gen, k, &n_all, &n_train);
    if (data_source_maker_reserve(m, n_all - n_train) < 0)
        return NULL;
    m->split.n = n_all - n_train;
    if (m->leaf != NULL)
        leaf_synthetic_gen_test(m->leaf, k, m->split.x, m->split.y);
    else
        synthetic_gen_test(m->gen, k, m->split.x, m->split.y);
    return &m->split;
}

/* Reads one labelled file of the csv or idx kinds. */
static int
data_source_read(struct dataset_split *s, size_t *nf, unsigned *top, const struct data_params *p,
                 const char *path, const char *labels_path, const char *labels_key,
                 struct errbuf *eb)
{
    unsigned limit = (unsigned)p->classes;
    if (p->kind == DATA_CSV)
        return csv_read(s, nf, top, path, limit, p->max_file_bytes, eb);
    if (labels_path[0] == '\0')
        return data_source_bad(eb, labels_key, "dataset idx needs a labels file for ", path);
    return idx_read_split(s, nf, top, path, labels_path, limit, p->max_file_bytes, eb);
}

/*
 * Without data.classes the classes of a file dataset are its labels 0..K-1, and every one of
 * them must occur: a label past a class no sample has (a stray 255 among digits 0..9) would
 * otherwise grow the model by hundreds of empty classes. *classes gets K; on a gap the files
 * are read again limited to the classes before it, so that the error names the file and the
 * record (CSV line, IDX byte) of the first label outside them.
 */
static int
data_source_infer_classes(size_t *classes, const struct dataset_split *a,
                          const struct dataset_split *b, unsigned top, const struct data_params *p,
                          struct errbuf *eb)
{
    unsigned char *seen = mem_calloc((size_t)top + 1, 1);
    if (seen == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory checking the labels");
    for (size_t i = 0; i < a->n; i++)
        seen[a->y[i]] = 1;
    for (size_t i = 0; b != NULL && i < b->n; i++)
        seen[b->y[i]] = 1;
    size_t k = 0;
    while (k <= top && seen[k])
        k++;
    mem_free(seen);
    *classes = (size_t)top + 1;
    if (k > top || k < 2)
        return 0; /* no gap (or a single class, refused by the caller) */
    struct data_params limited = *p;
    limited.classes = k;
    struct dataset_split s = { 0 };
    size_t nf = 0;
    unsigned t = 0;
    int rc =
        data_source_read(&s, &nf, &t, &limited, p->path, p->labels_path, "data.labels_path", eb);
    data_source_split_free(&s);
    if (rc == 0 && p->test_path[0] != '\0') {
        rc = data_source_read(&s, &nf, &t, &limited, p->test_path, p->test_labels_path,
                              "data.test_labels_path", eb);
        data_source_split_free(&s);
    }
    if (rc == -ERR_CORRUPT)
        return errbuf_prefix(
            eb, "without data.classes the classes are the labels 0..%zu (none is %zu)", k - 1, k);
    if (rc < 0)
        return rc;
    return errbuf_set(eb, -ERR_INTERNAL, "no sample has label %zu, yet none is above it", k);
}

/* Copies the rows of src flagged (or not) in `pick` into dst, keeping their order. */
static void
data_source_copy_rows(struct dataset_split *dst, const struct dataset_split *src, size_t nf,
                      const unsigned char *pick, unsigned char want)
{
    size_t at = 0;
    for (size_t i = 0; i < src->n; i++) {
        if (pick[i] != want)
            continue;
        memcpy(dst->x + at * nf, src->x + i * nf, nf * sizeof *dst->x);
        dst->y[at] = src->y[i];
        at++;
    }
    dst->n = at;
}

/* Splits all into train and test: round(fraction * n) rows drawn at random go to test. */
static int
data_source_hold_out(struct dataset_split *train, struct dataset_split *test,
                     struct dataset_split *all, size_t nf, const struct data_params *p,
                     uint64_t seed, struct errbuf *eb)
{
    size_t n = all->n;
    double t = floor(p->test_fraction * (double)n + 0.5);
    size_t n_test = (size_t)t;
    if (n_test == 0 || n_test >= n) {
        errbuf_set_key(eb, "data.test_fraction");
        return errbuf_set(eb, -ERR_INVALID,
                          "test_fraction %g of %zu rows leaves the training or the test set "
                          "empty",
                          p->test_fraction, n);
    }
    int rc = -ERR_NOMEM;
    uint32_t *perm = mem_alloc(n * sizeof *perm);
    unsigned char *pick = mem_calloc(n, 1);
    train->x = mem_alloc((n - n_test) * nf * sizeof *train->x);
    train->y = mem_alloc((n - n_test) * sizeof *train->y);
    test->x = mem_alloc(n_test * nf * sizeof *test->x);
    test->y = mem_alloc(n_test * sizeof *test->y);
    if (perm == NULL || pick == NULL || train->x == NULL || train->y == NULL || test->x == NULL ||
        test->y == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_PARTITION, PARTITION_STREAM_HOLDOUT, RNG_ANY);
    rng_shuffle_u32(&r, perm, n);
    for (size_t i = 0; i < n_test; i++)
        pick[perm[i]] = 1;
    data_source_copy_rows(train, all, nf, pick, 0);
    data_source_copy_rows(test, all, nf, pick, 1);
    rc = 0;
out:
    mem_free(perm);
    mem_free(pick);
    if (rc < 0) {
        data_source_split_free(train);
        data_source_split_free(test);
        errbuf_set(eb, rc, "out of memory holding out a test set");
    }
    return rc;
}

static int
data_source_files(struct dataset **out, const struct data_params *p, uint64_t seed,
                  struct errbuf *eb)
{
    if (p->partition.kind == PARTITION_NATURAL)
        return data_source_bad(eb, "partition.type", "file datasets need a partition: ",
                               "type iid, dirichlet, shards or labels");
    if (p->clients == 0)
        return data_source_bad(eb, "data.clients", "data needs at least one client", "");
    if (p->classes > (size_t)UINT16_MAX + 1 || p->classes == 1)
        return data_source_bad(eb, "data.classes", "data classes must be 0 (from the labels) or ",
                               "2..65536");
    if (memchr(p->path, '\0', sizeof p->path) == NULL ||
        memchr(p->labels_path, '\0', sizeof p->labels_path) == NULL ||
        memchr(p->test_path, '\0', sizeof p->test_path) == NULL ||
        memchr(p->test_labels_path, '\0', sizeof p->test_labels_path) == NULL)
        return data_source_bad(eb, "data.path", "a data path is not terminated", "");
    if ((p->kind == DATA_CIFAR10 || p->kind == DATA_CIFAR100) && p->path[0] == '\0')
        return data_source_bad(eb, "data.path", "dataset ",
                               "cifar10 and cifar100 need data.path (the binary version's folder)");
    if ((p->kind == DATA_CSV || p->kind == DATA_IDX) && p->path[0] == '\0')
        return data_source_bad(eb, "data.path", "dataset ",
                               p->kind == DATA_CSV ? "csv needs data.path" : "idx needs data.path");

    struct dataset_split train = { 0 }, test = { 0 }, all = { 0 };
    struct dataset *ds = NULL;
    size_t nf = 0, nf_test = 0, classes = p->classes;
    unsigned top = 0, top_test = 0;
    int rc = 0;
    if (p->kind == DATA_FASHION_MNIST) {
        rc = fashion_mnist_load(&train, &test, p->path, eb);
        nf = nf_test = FASHION_MNIST_FEATURES;
        classes = FASHION_MNIST_CLASSES;
    } else if (p->kind == DATA_CIFAR10 || p->kind == DATA_CIFAR100) {
        bool hundred = p->kind == DATA_CIFAR100;
        rc = cifar_load(&train, &test, p->path, hundred, p->max_file_bytes, eb);
        nf = nf_test = CIFAR_FEATURES;
        classes = hundred ? 100 : 10;
    } else {
        bool hold_out = p->test_path[0] == '\0';
        if (hold_out && !(p->test_fraction > 0.0 && p->test_fraction < 1.0)) {
            rc = data_source_bad(eb, "data.test_fraction",
                                 "without data.test_path, test_fraction must lie in (0, 1)", "");
            goto out;
        }
        rc = data_source_read(hold_out ? &all : &train, &nf, &top, p, p->path, p->labels_path,
                              "data.labels_path", eb);
        if (rc < 0)
            goto out;
        if (hold_out) {
            rc = data_source_hold_out(&train, &test, &all, nf, p, seed, eb);
            nf_test = nf;
        } else {
            rc = data_source_read(&test, &nf_test, &top_test, p, p->test_path, p->test_labels_path,
                                  "data.test_labels_path", eb);
        }
        if (rc < 0)
            goto out;
        if (nf_test != nf) {
            errbuf_set_location(eb, p->test_path, 0, 0);
            rc = errbuf_set(eb, -ERR_CORRUPT, "'%s' has %zu features but '%s' has %zu",
                            p->test_path, nf_test, p->path, nf);
            goto out;
        }
        if (classes == 0) {
            rc = data_source_infer_classes(&classes, &train, &test, top > top_test ? top : top_test,
                                           p, eb);
            if (rc < 0)
                goto out;
        }
        if (classes < 2) {
            errbuf_set_key(eb, "data.classes");
            rc = errbuf_set(eb, -ERR_INVALID,
                            "'%s' has only label 0; set data.classes or provide two classes",
                            p->path);
            goto out;
        }
    }
    if (rc < 0)
        goto out;
    if (train.n > UINT32_MAX || test.n > UINT32_MAX) {
        rc = errbuf_set(eb, -ERR_RANGE, "'%s' has more than 2^32-1 rows", p->path);
        goto out;
    }
    ds = dataset_new(nf, classes, p->clients, train.n, test.n);
    if (ds == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory building the dataset");
        goto out;
    }
    /* Hand the loaded buffers to the dataset in place of the zeroed ones it made. */
    mem_free(ds->train.x);
    mem_free(ds->train.y);
    mem_free(ds->test.x);
    mem_free(ds->test.y);
    ds->train = train;
    ds->test = test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    rc = partition_apply(&ds->client_train, ds->train.y, ds->train.n, classes, p->clients,
                         &p->partition, seed, eb);
    if (rc < 0)
        goto out;
    rc = dataset_check(ds, eb);
    if (rc < 0)
        goto out;
    *out = ds;
    ds = NULL;
out:
    dataset_free(ds);
    data_source_split_free(&train);
    data_source_split_free(&test);
    data_source_split_free(&all);
    return rc;
}

void
data_source_input_shape(enum data_kind kind, size_t features, size_t shape[3])
{
    if (kind == DATA_FASHION_MNIST && features == FASHION_MNIST_FEATURES) {
        shape[0] = FASHION_MNIST_CHANNELS;
        shape[1] = FASHION_MNIST_HEIGHT;
        shape[2] = FASHION_MNIST_WIDTH;
        return;
    }
    if ((kind == DATA_CIFAR10 || kind == DATA_CIFAR100) && features == CIFAR_FEATURES) {
        shape[0] = CIFAR_CHANNELS;
        shape[1] = shape[2] = CIFAR_SIDE;
        return;
    }
    size_t side = (size_t)sqrt((double)features);
    while (side * side > features)
        side--;
    while ((side + 1) * (side + 1) <= features)
        side++;
    bool square = side * side == features;
    shape[0] = 1;
    shape[1] = square ? side : 1;
    shape[2] = square ? side : features;
}

/* Reads path/<split> of a LEAF task into rows. */
static int
data_source_leaf_split(struct leaf_rows *rows, const struct data_params *p, const char *split,
                       struct errbuf *eb)
{
    char dir[DATA_PATH_BYTES + 16];
    int len = snprintf(dir, sizeof dir, "%s/%s", p->path, split);
    if (len < 0 || (size_t)len >= sizeof dir)
        return data_source_bad(eb, "data.path", "data.path is too long", "");
    return leaf_json_read_dir(rows, dir, p->kind == DATA_FEMNIST ? LEAF_FEMNIST : LEAF_SHAKESPEARE,
                              p->max_file_bytes, eb);
}

/* The LEAF kinds: one client per user (see data_source.h). */
static int
data_source_leaf(struct dataset **out, const struct data_params *p, struct errbuf *eb)
{
    if (p->partition.kind != PARTITION_NATURAL)
        return data_source_bad(eb, "partition.type", "LEAF datasets take the natural partition",
                               "");
    if (p->path[0] == '\0' || memchr(p->path, '\0', sizeof p->path) == NULL)
        return data_source_bad(eb, "data.path", "femnist and shakespeare need data.path (the ",
                               "folder holding LEAF's train/ and test/)");
    struct leaf_rows tr = { 0 }, te = { 0 };
    struct dataset *ds = NULL;
    uint32_t *map = NULL;
    int rc = data_source_leaf_split(&tr, p, "train", eb);
    if (rc == 0)
        rc = data_source_leaf_split(&te, p, "test", eb);
    if (rc < 0)
        goto out;
    if (p->clients == 0 || p->clients > tr.n_users) {
        rc = data_source_bad(eb, "data.clients", "data.clients must lie in 1..the number of ",
                             "LEAF users in train/");
        goto out;
    }
    /* Test users by training index (UINT32_MAX: not a kept client). */
    map = mem_alloc((te.n_users + 1) * sizeof *map);
    if (map == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory for LEAF users");
        goto out;
    }
    for (size_t u = 0; u < te.n_users; u++) {
        map[u] = UINT32_MAX;
        for (size_t k = 0; k < p->clients; k++)
            if (strcmp(te.users[u], tr.users[k]) == 0)
                map[u] = (uint32_t)k;
    }
    size_t n_train = 0, n_test = 0,
           nf = tr.n > 0
                    ? leaf_json_features(p->kind == DATA_FEMNIST ? LEAF_FEMNIST : LEAF_SHAKESPEARE)
                    : 0;
    for (size_t i = 0; i < tr.n; i++)
        n_train += tr.user[i] < p->clients;
    for (size_t i = 0; i < te.n; i++)
        n_test += map[te.user[i]] != UINT32_MAX;
    size_t classes = p->kind == DATA_FEMNIST ? LEAF_FEMNIST_CLASSES : LEAF_SHAKESPEARE_VOCAB;
    ds = dataset_new(nf, classes, p->clients, n_train, n_test);
    if (ds == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory building the dataset");
        goto out;
    }
    /* Rows in file order; each client's row list in the same order (counting sort). */
    for (int s = 0; s < 2; s++) {
        const struct leaf_rows *src = s == 0 ? &tr : &te;
        struct dataset_split *dst = s == 0 ? &ds->train : &ds->test;
        struct dataset_rows *cr = s == 0 ? &ds->client_train : &ds->client_test;
        memset(cr->off, 0, (p->clients + 1) * sizeof *cr->off);
        size_t at = 0;
        for (size_t i = 0; i < src->n; i++) {
            uint32_t k = s == 0 ? src->user[i] : map[src->user[i]];
            if (k >= p->clients)
                continue;
            memcpy(dst->x + at * nf, src->x + i * nf, nf * sizeof *dst->x);
            dst->y[at] = src->y[i];
            cr->off[k + 1]++;
            at++;
        }
        for (size_t k = 0; k < p->clients; k++)
            cr->off[k + 1] += cr->off[k];
        at = 0;
        for (size_t i = 0; i < src->n; i++) {
            uint32_t k = s == 0 ? src->user[i] : map[src->user[i]];
            if (k >= p->clients)
                continue;
            cr->rows[cr->off[k]++] = (uint32_t)at++;
        }
        for (size_t k = p->clients; k > 0; k--)
            cr->off[k] = cr->off[k - 1];
        cr->off[0] = 0;
    }
    rc = dataset_check(ds, eb);
out:
    leaf_json_rows_release(&tr);
    leaf_json_rows_release(&te);
    mem_free(map);
    if (rc < 0) {
        dataset_free(ds);
        ds = NULL;
    }
    *out = ds;
    return rc;
}

int
data_source_check_size(const struct data_params *p, uint64_t seed, struct errbuf *eb)
{
    if (p->kind != DATA_SYNTHETIC && p->kind != DATA_SYNTHETIC_IID)
        return 0;
    struct synthetic_params sp = p->synthetic;
    sp.clients = p->clients;
    sp.train_on_demand = p->on_demand;
    return synthetic_check_size(&sp, seed, eb);
}

int
data_source_load(struct dataset **out, const struct data_params *p, uint64_t seed,
                 struct errbuf *eb)
{
    *out = NULL;
    switch (p->kind) {
    case DATA_SYNTHETIC:
    case DATA_SYNTHETIC_IID:
    case DATA_LEAF_SYNTHETIC:
        return data_source_generate(out, p, seed, eb);
    case DATA_FASHION_MNIST:
    case DATA_CSV:
    case DATA_IDX:
    case DATA_CIFAR10:
    case DATA_CIFAR100:
        return data_source_files(out, p, seed, eb);
    case DATA_FEMNIST:
    case DATA_SHAKESPEARE:
        return data_source_leaf(out, p, eb);
    case DATA_KIND_COUNT:
        break;
    }
    errbuf_set_key(eb, "data.dataset");
    return errbuf_set(eb, -ERR_INVALID, "unknown dataset kind %u", (unsigned)p->kind);
}
