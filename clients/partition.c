/* partition: iid, dirichlet, shards and labels partitions. See partition.h. */
#include "clients/partition.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/banned.h"

static const char *const partition_names[PARTITION_KIND_COUNT] = {
    [PARTITION_IID] = "iid",         [PARTITION_DIRICHLET] = "dirichlet",
    [PARTITION_SHARDS] = "shards",   [PARTITION_LABELS] = "labels",
    [PARTITION_NATURAL] = "natural",
};

void
partition_params_default(struct partition_params *p)
{
    *p = (struct partition_params){
        .kind = PARTITION_IID,
        .alpha = 0.5,
        .min_size = 10,
        .max_attempts = 10000,
        .per_client = 2,
        .size_sigma = 0.0,
    };
}

const char *
partition_kind_name(enum partition_kind kind)
{
    return (unsigned)kind < PARTITION_KIND_COUNT ? partition_names[kind] : "?";
}

int
partition_kind_parse(const char *name, enum partition_kind *kind, struct errbuf *eb)
{
    for (unsigned k = 0; k < PARTITION_KIND_COUNT; k++) {
        if (strcmp(name, partition_names[k]) == 0) {
            *kind = (enum partition_kind)k;
            return 0;
        }
    }
    return errbuf_set(eb, -ERR_INVALID,
                      "unknown partition type '%s' (known: iid, dirichlet, shards, labels, "
                      "natural)",
                      name);
}

/* An invalid setting: records the key and the message, returns -ERR_INVALID. */
static int partition_bad(struct errbuf *eb, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
partition_bad(struct errbuf *eb, const char *key, const char *fmt, ...)
{
    char msg[ERRBUF_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errbuf_set_key(eb, key);
    return errbuf_set(eb, -ERR_INVALID, "%s", msg);
}

/* Scratch arrays of one call. */
struct partition_work {
    uint32_t *perm;  /* n: a shuffled row order, then rows grouped by class */
    uint32_t *owner; /* n: client of each row */
    size_t *cls_off; /* n_classes + 1: class c's rows are perm[cls_off[c] .. cls_off[c + 1]) */
    size_t *sizes;   /* n_clients */
};

/* Shuffles 0..n-1 and groups it by class, keeping the shuffled order within a class. */
static int
partition_group_by_class(struct partition_work *w, const uint16_t *y, size_t n, size_t n_classes,
                         struct rng *r)
{
    uint32_t *tmp = mem_alloc(n * sizeof *tmp);
    if (tmp == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint32_t)i;
    rng_shuffle_u32(r, tmp, n);
    memset(w->cls_off, 0, (n_classes + 1) * sizeof *w->cls_off);
    for (size_t i = 0; i < n; i++)
        w->cls_off[y[i] + 1]++;
    for (size_t c = 0; c < n_classes; c++)
        w->cls_off[c + 1] += w->cls_off[c];
    size_t *cursor = mem_alloc(n_classes * sizeof *cursor);
    if (cursor == NULL) {
        mem_free(tmp);
        return -1;
    }
    memcpy(cursor, w->cls_off, n_classes * sizeof *cursor);
    for (size_t i = 0; i < n; i++)
        w->perm[cursor[y[tmp[i]]]++] = tmp[i];
    mem_free(cursor);
    mem_free(tmp);
    return 0;
}

/* Cuts perm[0..n) into consecutive client shares of sizes[0..n_clients). */
static void
partition_cut(struct partition_work *w, size_t n_clients)
{
    size_t at = 0;
    for (size_t k = 0; k < n_clients; k++)
        for (size_t j = 0; j < w->sizes[k]; j++)
            w->owner[w->perm[at++]] = (uint32_t)k;
}

static int
partition_iid(struct partition_work *w, size_t n, size_t n_clients,
              const struct partition_params *p, struct rng *r, struct errbuf *eb)
{
    for (size_t i = 0; i < n; i++)
        w->perm[i] = (uint32_t)i;
    rng_shuffle_u32(r, w->perm, n);
    if (p->size_sigma == 0.0) {
        for (size_t k = 0; k < n_clients; k++)
            w->sizes[k] = n / n_clients + (k < n % n_clients ? 1 : 0);
        if (n < n_clients)
            return partition_bad(eb, "data.clients",
                                 "partition iid leaves clients empty: %zu rows for %zu clients", n,
                                 n_clients);
    } else {
        /* Largest-remainder rounding of n * w_k / sum(w), ties to the lower index. */
        double *wt = mem_alloc(n_clients * sizeof *wt);
        if (wt == NULL)
            return -ERR_NOMEM;
        double sum = 0.0;
        for (size_t k = 0; k < n_clients; k++) {
            wt[k] = gsl_ran_lognormal(rng_gsl(r), 0.0, p->size_sigma);
            sum += wt[k];
        }
        size_t given = 0;
        for (size_t k = 0; k < n_clients; k++) {
            double t = (double)n * wt[k] / sum;
            w->sizes[k] = (size_t)floor(t);
            wt[k] = t - floor(t);
            given += w->sizes[k];
        }
        while (given < n) {
            size_t best = 0;
            for (size_t k = 1; k < n_clients; k++)
                if (wt[k] > wt[best])
                    best = k;
            w->sizes[best]++;
            wt[best] = -1.0;
            given++;
        }
        mem_free(wt);
        for (size_t k = 0; k < n_clients; k++)
            if (w->sizes[k] == 0)
                return partition_bad(eb, "partition.size_sigma",
                                     "partition iid with size_sigma = %g leaves client %zu "
                                     "empty (%zu rows in all); lower size_sigma or use fewer "
                                     "clients",
                                     p->size_sigma, k, n);
    }
    partition_cut(w, n_clients);
    return 0;
}

static int
partition_dirichlet(struct partition_work *w, const uint16_t *y, size_t n, size_t n_classes,
                    size_t n_clients, const struct partition_params *p, struct rng *r,
                    struct errbuf *eb)
{
    if (partition_group_by_class(w, y, n, n_classes, r) < 0)
        return -ERR_NOMEM;
    int rc = -ERR_NOMEM;
    double *alpha = mem_alloc(n_clients * sizeof *alpha);
    double *prop = mem_alloc(n_clients * sizeof *prop);
    size_t *counts = mem_calloc(n_classes * n_clients, sizeof *counts);
    if (alpha == NULL || prop == NULL || counts == NULL)
        goto out;
    for (size_t k = 0; k < n_clients; k++)
        alpha[k] = p->alpha;
    size_t need = p->min_size > 0 ? p->min_size : 1;
    bool ok = false;
    for (unsigned attempt = 0; attempt < p->max_attempts && !ok; attempt++) {
        memset(w->sizes, 0, n_clients * sizeof *w->sizes);
        for (size_t c = 0; c < n_classes; c++) {
            size_t nc = w->cls_off[c + 1] - w->cls_off[c];
            size_t *cnt = counts + c * n_clients;
            gsl_ran_dirichlet(rng_gsl(r), n_clients, alpha, prop);
            /* NumPy's (cumsum(p) * n_c).astype(int)[:-1]: the last client takes the rest. */
            double cum = 0.0;
            size_t prev = 0;
            for (size_t k = 0; k < n_clients; k++) {
                size_t cut = nc;
                if (k + 1 < n_clients) {
                    cum += prop[k];
                    double f = floor(cum * (double)nc);
                    cut = f < (double)prev ? prev : (f > (double)nc ? nc : (size_t)f);
                }
                cnt[k] = cut - prev;
                w->sizes[k] += cnt[k];
                prev = cut;
            }
        }
        ok = true;
        for (size_t k = 0; k < n_clients && ok; k++)
            ok = w->sizes[k] >= need;
    }
    if (!ok) {
        errbuf_set_key(eb, "partition.min_size");
        rc = errbuf_set(eb, -ERR_INVALID,
                        "partition dirichlet with alpha = %g could not give each of %zu clients "
                        "min_size = %zu rows in %u attempts; raise alpha, lower min_size or use "
                        "fewer clients",
                        p->alpha, n_clients, need, p->max_attempts);
        goto out;
    }
    for (size_t c = 0; c < n_classes; c++) {
        size_t at = w->cls_off[c];
        for (size_t k = 0; k < n_clients; k++)
            for (size_t j = 0; j < counts[c * n_clients + k]; j++)
                w->owner[w->perm[at++]] = (uint32_t)k;
    }
    rc = 0;
out:
    mem_free(alpha);
    mem_free(prop);
    mem_free(counts);
    return rc;
}

static int
partition_shards(struct partition_work *w, const uint16_t *y, size_t n, size_t n_classes,
                 size_t n_clients, const struct partition_params *p, struct rng *r,
                 struct errbuf *eb)
{
    if (p->per_client > n / n_clients)
        return partition_bad(eb, "partition.per_client",
                             "partition shards with per_client = %zu needs at least %zu rows "
                             "(%zu given)",
                             p->per_client, p->per_client * n_clients, n);
    size_t n_shards = n_clients * p->per_client;
    if (n_shards > UINT32_MAX)
        return partition_bad(eb, "partition.per_client",
                             "partition shards: %zu shards per client times %zu clients is "
                             "too many",
                             p->per_client, n_clients);
    if (partition_group_by_class(w, y, n, n_classes, r) < 0)
        return -ERR_NOMEM;
    uint32_t *order = mem_alloc(n_shards * sizeof *order);
    if (order == NULL)
        return -ERR_NOMEM;
    for (size_t s = 0; s < n_shards; s++)
        order[s] = (uint32_t)s;
    rng_shuffle_u32(r, order, n_shards);
    for (size_t k = 0; k < n_clients; k++) {
        for (size_t j = 0; j < p->per_client; j++) {
            uint64_t s = order[k * p->per_client + j];
            size_t lo = (size_t)(s * n / n_shards), hi = (size_t)((s + 1) * n / n_shards);
            for (size_t i = lo; i < hi; i++)
                w->owner[w->perm[i]] = (uint32_t)k;
        }
    }
    mem_free(order);
    return 0;
}

static int
partition_labels(struct partition_work *w, const uint16_t *y, size_t n, size_t n_classes,
                 size_t n_clients, const struct partition_params *p, struct rng *r,
                 struct errbuf *eb)
{
    if (partition_group_by_class(w, y, n, n_classes, r) < 0)
        return -ERR_NOMEM;
    int rc = -ERR_NOMEM;
    size_t k_lab = p->per_client;
    uint32_t *present = mem_alloc(n_classes * sizeof *present);
    uint32_t *avail = mem_alloc(n_classes * sizeof *avail);
    uint32_t *held = mem_alloc(n_clients * k_lab * sizeof *held);
    size_t *holders = mem_calloc(n_classes, sizeof *holders);
    size_t *seen = mem_calloc(n_classes, sizeof *seen);
    unsigned char *mark = mem_calloc(n_classes, 1);
    if (present == NULL || avail == NULL || held == NULL || holders == NULL || seen == NULL ||
        mark == NULL)
        goto out;
    size_t n_present = 0;
    for (size_t c = 0; c < n_classes; c++)
        if (w->cls_off[c + 1] > w->cls_off[c])
            present[n_present++] = (uint32_t)c;
    if (k_lab > n_present) {
        rc = partition_bad(eb, "partition.per_client",
                           "partition labels with per_client = %zu exceeds the %zu classes "
                           "present",
                           k_lab, n_present);
        goto out;
    }
    if (n_clients * k_lab < n_present) {
        rc = partition_bad(eb, "partition.per_client",
                           "partition labels with per_client = %zu and %zu clients leaves "
                           "some of the %zu classes without a client",
                           k_lab, n_clients, n_present);
        goto out;
    }
    rng_shuffle_u32(r, present, n_present);
    for (size_t k = 0; k < n_clients; k++) {
        uint32_t *mine = held + k * k_lab;
        size_t j = 0;
        for (; j < k_lab && k * k_lab + j < n_present; j++)
            mine[j] = present[k * k_lab + j];
        for (size_t i = 0; i < j; i++)
            mark[mine[i]] = 1;
        size_t n_avail = 0;
        for (size_t i = 0; i < n_present; i++)
            if (!mark[present[i]])
                avail[n_avail++] = present[i];
        /* Partial Fisher-Yates: the remaining labels, distinct, uniformly at random. */
        for (; j < k_lab; j++) {
            size_t t = (size_t)rng_below(r, n_avail);
            mine[j] = avail[t];
            avail[t] = avail[--n_avail];
        }
        for (size_t i = 0; i < k_lab; i++) {
            mark[mine[i]] = 0;
            holders[mine[i]]++;
        }
    }
    for (size_t c = 0; c < n_classes; c++) {
        size_t nc = w->cls_off[c + 1] - w->cls_off[c];
        if (holders[c] > nc) {
            rc = partition_bad(eb, "partition.per_client",
                               "partition labels: class %zu has %zu rows for %zu clients "
                               "holding it; lower per_client or use fewer clients",
                               c, nc, holders[c]);
            goto out;
        }
    }
    /* The h-th holder of class c (in client order) takes the h-th of holders[c] even slices. */
    for (size_t k = 0; k < n_clients; k++) {
        for (size_t i = 0; i < k_lab; i++) {
            size_t c = held[k * k_lab + i];
            size_t nc = w->cls_off[c + 1] - w->cls_off[c], h = seen[c]++;
            size_t lo = h * nc / holders[c], hi = (h + 1) * nc / holders[c];
            for (size_t j = lo; j < hi; j++)
                w->owner[w->perm[w->cls_off[c] + j]] = (uint32_t)k;
        }
    }
    rc = 0;
out:
    mem_free(present);
    mem_free(avail);
    mem_free(held);
    mem_free(holders);
    mem_free(seen);
    mem_free(mark);
    return rc;
}

static int
partition_check_params(const struct partition_params *p, size_t n, size_t n_classes,
                       size_t n_clients, struct errbuf *eb)
{
    if ((unsigned)p->kind >= PARTITION_KIND_COUNT)
        return partition_bad(eb, "partition.type", "unknown partition kind %u", (unsigned)p->kind);
    if (p->kind == PARTITION_NATURAL)
        return partition_bad(eb, "partition.type",
                             "partition 'natural' is only for generators with their own "
                             "per-client data");
    if (n_clients == 0)
        return partition_bad(eb, "data.clients", "partition needs at least one client");
    if (n == 0 || n > UINT32_MAX)
        return partition_bad(eb, "data", "partition needs 1..2^32-1 rows (%zu given)", n);
    if (n_classes == 0 || n_classes > (size_t)UINT16_MAX + 1)
        return partition_bad(eb, "data", "partition needs 1..65536 classes (%zu given)", n_classes);
    if (!(p->size_sigma >= 0.0) || !isfinite(p->size_sigma))
        return partition_bad(eb, "partition.size_sigma",
                             "partition size_sigma must be finite and >= 0 (%g given)",
                             p->size_sigma);
    if (p->size_sigma != 0.0 && p->kind != PARTITION_IID)
        return partition_bad(eb, "partition.size_sigma",
                             "partition size_sigma = %g applies to type iid only, not %s",
                             p->size_sigma, partition_kind_name(p->kind));
    if (p->kind == PARTITION_DIRICHLET) {
        if (!(p->alpha > 0.0) || !isfinite(p->alpha))
            return partition_bad(eb, "partition.alpha",
                                 "partition dirichlet needs a finite alpha > 0 (%g given)",
                                 p->alpha);
        if (p->max_attempts == 0)
            return partition_bad(eb, "partition.max_attempts",
                                 "partition dirichlet needs max_attempts >= 1");
        if (n_classes > SIZE_MAX / sizeof(size_t) / n_clients)
            return partition_bad(eb, "data.clients", "partition: too many clients (%zu)",
                                 n_clients);
    }
    if ((p->kind == PARTITION_SHARDS || p->kind == PARTITION_LABELS) &&
        (p->per_client == 0 || p->per_client > SIZE_MAX / sizeof(uint32_t) / n_clients))
        return partition_bad(eb, "partition.per_client",
                             "partition %s needs per_client >= 1 (%zu given)",
                             partition_kind_name(p->kind), p->per_client);
    return 0;
}

int
partition_apply(struct dataset_rows *out, const uint16_t *y, size_t n, size_t n_classes,
                size_t n_clients, const struct partition_params *p, uint64_t seed,
                struct errbuf *eb)
{
    int rc = partition_check_params(p, n, n_classes, n_clients, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= n_classes) {
            errbuf_set_key(eb, "data");
            return errbuf_set(eb, -ERR_RANGE, "label %u of row %zu is not below %zu classes",
                              (unsigned)y[i], i, n_classes);
        }
    }
    struct partition_work w = {
        .perm = mem_alloc(n * sizeof *w.perm),
        .owner = mem_alloc(n * sizeof *w.owner),
        .cls_off = mem_alloc((n_classes + 1) * sizeof *w.cls_off),
        .sizes = mem_calloc(n_clients, sizeof *w.sizes),
    };
    rc = -ERR_NOMEM;
    if (w.perm == NULL || w.owner == NULL || w.cls_off == NULL || w.sizes == NULL)
        goto out;
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_PARTITION, PARTITION_STREAM_ASSIGN, RNG_ANY);
    switch (p->kind) {
    case PARTITION_IID:
        rc = partition_iid(&w, n, n_clients, p, &r, eb);
        break;
    case PARTITION_DIRICHLET:
        rc = partition_dirichlet(&w, y, n, n_classes, n_clients, p, &r, eb);
        break;
    case PARTITION_SHARDS:
        rc = partition_shards(&w, y, n, n_classes, n_clients, p, &r, eb);
        break;
    case PARTITION_LABELS:
        rc = partition_labels(&w, y, n, n_classes, n_clients, p, &r, eb);
        break;
    case PARTITION_NATURAL:
    case PARTITION_KIND_COUNT:
        rc = -ERR_INTERNAL; /* rejected by partition_check_params() */
        break;
    }
    if (rc < 0)
        goto out;

    /* Counting sort by owner: offsets, then rows in increasing order within each client. */
    memset(out->off, 0, (n_clients + 1) * sizeof *out->off);
    for (size_t i = 0; i < n; i++)
        out->off[w.owner[i] + 1]++;
    for (size_t k = 0; k < n_clients; k++) {
        if (out->off[k + 1] == 0) {
            errbuf_set_key(eb, "partition.type");
            rc = errbuf_set(eb, -ERR_INVALID,
                            "partition %s leaves client %zu of %zu empty (%zu rows in all)",
                            partition_kind_name(p->kind), k, n_clients, n);
            goto out;
        }
        out->off[k + 1] += out->off[k];
    }
    memcpy(w.sizes, out->off, n_clients * sizeof *w.sizes);
    for (size_t i = 0; i < n; i++)
        out->rows[w.sizes[w.owner[i]]++] = (uint32_t)i;
    rc = 0;
out:
    if (rc == -ERR_NOMEM)
        errbuf_set(eb, rc, "out of memory partitioning %zu rows among %zu clients", n, n_clients);
    mem_free(w.perm);
    mem_free(w.owner);
    mem_free(w.cls_off);
    mem_free(w.sizes);
    return rc;
}
