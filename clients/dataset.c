/* dataset: splits and per-client rows. See dataset.h. */
#include "clients/dataset.h"

#include <math.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/banned.h"

static int
dataset_split_init(struct dataset_split *s, size_t n, size_t n_features)
{
    s->n = n;
    if (n_features != 0 && n > SIZE_MAX / sizeof(float) / n_features)
        return -1;
    s->x = mem_calloc(n * n_features, sizeof *s->x);
    s->y = mem_calloc(n, sizeof *s->y);
    return s->x != NULL && s->y != NULL ? 0 : -1;
}

static int
dataset_rows_init(struct dataset_rows *r, size_t n_clients, size_t n_rows)
{
    r->off = mem_calloc(n_clients + 1, sizeof *r->off);
    r->rows = mem_calloc(n_rows, sizeof *r->rows);
    return r->off != NULL && r->rows != NULL ? 0 : -1;
}

/* A dataset of n_clients clients, the first n_listed of them listed in client_test (all of
 * them in client_train too, unless the training rows are made on demand). */
static struct dataset *
dataset_new_layout(size_t n_features, size_t n_classes, size_t n_clients, size_t n_listed,
                   size_t n_train, size_t n_test, bool train_on_demand)
{
    if ((n_train > UINT32_MAX && !train_on_demand) || n_test > UINT32_MAX || n_clients == SIZE_MAX)
        return NULL;
    struct dataset *ds = mem_calloc(1, sizeof *ds);
    if (ds == NULL)
        return NULL;
    ds->n_features = n_features;
    ds->n_classes = n_classes;
    ds->n_clients = n_clients;
    ds->n_test_clients = n_listed;
    ds->train_on_demand = train_on_demand;
    if (dataset_split_init(&ds->train, train_on_demand ? 0 : n_train, n_features) < 0 ||
        dataset_split_init(&ds->test, n_test, n_features) < 0 ||
        (!train_on_demand && dataset_rows_init(&ds->client_train, n_clients, n_train) < 0) ||
        dataset_rows_init(&ds->client_test, n_listed, n_test) < 0) {
        dataset_free(ds);
        return NULL;
    }
    return ds;
}

struct dataset *
dataset_new(size_t n_features, size_t n_classes, size_t n_clients, size_t n_train, size_t n_test)
{
    return dataset_new_layout(n_features, n_classes, n_clients, n_clients, n_train, n_test, false);
}

int
dataset_new_clients(struct dataset **out, size_t n_features, size_t n_classes, size_t n_clients,
                    size_t n_listed, const size_t *n_all, const size_t *n_train, size_t max_samples,
                    const struct dataset_on_demand *on_demand, const char *what, struct errbuf *eb)
{
    *out = NULL;
    bool lazy = on_demand != NULL;
    size_t total_train = 0, total_test = 0;
    for (size_t k = 0; k < n_listed; k++) {
        total_train += n_train[k];
        total_test += n_all[k] - n_train[k];
        if ((lazy ? 0 : total_train) + total_test > max_samples) {
            if (lazy)
                mem_free(on_demand->ctx);
            return errbuf_set(eb, -ERR_RANGE, "%s for %zu clients exceeds the cap of %zu samples",
                              what, n_clients, max_samples);
        }
    }
    *out = dataset_new_layout(n_features, n_classes, n_clients, lazy ? n_listed : n_clients,
                              total_train, total_test, lazy);
    if (*out == NULL) {
        if (lazy)
            mem_free(on_demand->ctx);
        return errbuf_set(eb, -ERR_NOMEM, "out of memory for %s", what);
    }
    if (lazy) {
        (*out)->train_count = on_demand->count;
        (*out)->count_ctx = on_demand->ctx;
    }
    return 0;
}

void
dataset_free(struct dataset *ds)
{
    if (ds == NULL)
        return;
    mem_free(ds->train.x);
    mem_free(ds->train.y);
    mem_free(ds->test.x);
    mem_free(ds->test.y);
    mem_free(ds->client_train.off);
    mem_free(ds->client_train.rows);
    mem_free(ds->client_test.off);
    mem_free(ds->client_test.rows);
    mem_free(ds->count_ctx);
    mem_free(ds);
}

void
dataset_fill_client(struct dataset *ds, struct dataset_fill *f, size_t k)
{
    if (ds->client_train.off != NULL)
        ds->client_train.off[k] = f->train_;
    ds->client_test.off[k] = f->test_;
}

float *
dataset_fill_row(struct dataset *ds, struct dataset_fill *f, bool train, uint16_t **label)
{
    struct dataset_split *s = train ? &ds->train : &ds->test;
    struct dataset_rows *r = train ? &ds->client_train : &ds->client_test;
    size_t row = train ? f->train_++ : f->test_++;
    if (train && ds->train_on_demand)
        return NULL;
    r->rows[row] = (uint32_t)row;
    *label = s->y + row;
    return s->x + row * ds->n_features;
}

void
dataset_fill_end(struct dataset *ds, const struct dataset_fill *f)
{
    if (ds->client_train.off != NULL)
        ds->client_train.off[ds->n_clients] = f->train_;
    ds->client_test.off[ds->n_test_clients] = f->test_;
}

size_t
dataset_sink_begin(struct dataset_sink *s, size_t k, size_t n_all, size_t n_train, bool held,
                   bool made)
{
    s->n_train_ = n_train;
    s->held_ = s->ds != NULL && held;
    bool keep_test = s->x_test != NULL || (s->ds != NULL && made);
    bool keep_train = s->x_train != NULL || (s->ds != NULL && !s->ds->train_on_demand);
    if (s->ds != NULL)
        dataset_fill_client(s->ds, s->f, k);
    return keep_test ? n_all : keep_train ? n_train : 0;
}

float *
dataset_sink_row(struct dataset_sink *s, size_t i, uint16_t **label)
{
    bool train = i < s->n_train_;
    float *x = NULL;
    if (s->ds != NULL && (train || s->held_))
        x = dataset_fill_row(s->ds, s->f, train, label); /* counts the row even when not stored */
    if (x != NULL)
        return x;
    size_t d = s->n_features;
    if (train && s->x_train != NULL) {
        *label = s->y_train + i;
        return s->x_train + i * d;
    }
    if (!train && s->x_test != NULL) {
        *label = s->y_test + (i - s->n_train_);
        return s->x_test + (i - s->n_train_) * d;
    }
    *label = &s->scratch_y_;
    return s->scratch;
}

const uint32_t *
dataset_client_train(const struct dataset *ds, size_t k, size_t *n)
{
    const struct dataset_rows *r = &ds->client_train;
    if (r->off == NULL) {
        *n = ds->train_count(ds->count_ctx, k);
        return NULL;
    }
    *n = r->off[k + 1] - r->off[k];
    return r->rows != NULL ? r->rows + r->off[k] : NULL;
}

const uint32_t *
dataset_client_test(const struct dataset *ds, size_t k, size_t *n)
{
    const struct dataset_rows *r = &ds->client_test;
    if (k >= ds->n_test_clients) {
        *n = 0;
        return NULL;
    }
    *n = r->off[k + 1] - r->off[k];
    return r->rows + r->off[k];
}

size_t
dataset_max_client_train_every(const struct dataset *ds, size_t first, size_t step)
{
    size_t best = 0;
    for (size_t k = first; k < ds->n_clients; k += step) {
        size_t n;
        dataset_client_train(ds, k, &n);
        if (n > best)
            best = n;
    }
    return best;
}

size_t
dataset_max_client_train(const struct dataset *ds)
{
    return dataset_max_client_train_every(ds, 0, 1);
}

static int
dataset_check_rows(const struct dataset_rows *r, size_t n_clients, size_t n_split, size_t cap,
                   const char *what, struct errbuf *eb)
{
    if (r->off == NULL)
        return 0; /* counts drawn on demand, no rows */
    if (r->off[0] != 0)
        return errbuf_set(eb, -ERR_CORRUPT, "%s rows: first offset is not 0", what);
    for (size_t k = 0; k < n_clients; k++) {
        if (r->off[k + 1] < r->off[k] || r->off[k + 1] > cap)
            return errbuf_set(eb, -ERR_CORRUPT, "%s rows: bad offset for client %zu", what, k);
    }
    for (size_t i = 0; r->rows != NULL && i < r->off[n_clients]; i++) {
        if (r->rows[i] >= n_split)
            return errbuf_set(eb, -ERR_CORRUPT, "%s rows: row %u out of range", what,
                              (unsigned)r->rows[i]);
    }
    return 0;
}

static int
dataset_check_split(const struct dataset *ds, const struct dataset_split *s, const char *what,
                    struct errbuf *eb)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->y[i] >= ds->n_classes)
            return errbuf_set(eb, -ERR_CORRUPT, "%s row %zu: label %u not below %zu classes", what,
                              i, (unsigned)s->y[i], ds->n_classes);
    }
    for (size_t i = 0; i < s->n * ds->n_features; i++) {
        if (!isfinite(s->x[i]))
            return errbuf_set(eb, -ERR_CORRUPT, "%s row %zu: feature %zu is not finite", what,
                              i / ds->n_features, i % ds->n_features);
    }
    return 0;
}

int
dataset_check(const struct dataset *ds, struct errbuf *eb)
{
    int rc = dataset_check_split(ds, &ds->train, "train", eb);
    if (rc == 0)
        rc = dataset_check_split(ds, &ds->test, "test", eb);
    if (rc == 0)
        rc = dataset_check_rows(&ds->client_train, ds->n_clients, ds->train.n, ds->train.n, "train",
                                eb);
    if (rc == 0)
        rc = dataset_check_rows(&ds->client_test, ds->n_test_clients, ds->test.n, ds->test.n,
                                "test", eb);
    return rc;
}
