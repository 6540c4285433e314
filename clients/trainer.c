/* trainer: per-client SGD and evaluation. See trainer.h. */
#include "clients/trainer.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

/* Rows gathered per evaluation batch (a multiple of typical SIMD widths; any value works). */
#define TRAINER_EVAL_BATCH 512
/* The same for CNNs and recurrent models, whose activations take about 0.3 MB per 28 x 28
 * image (FedAvg CNN) and 1 MB per 80-character sequence (Shakespeare LSTM). */
#define TRAINER_EVAL_BATCH_NET 32

struct trainer {
    const struct dataset *ds;
    struct model_spec spec;
    size_t batch; /* rows a workspace batch can hold */
    struct model_ws *ws;
    float *x;        /* batch x n_features gather buffer */
    uint16_t *y;     /* batch labels */
    uint32_t *order; /* a client's row order, room for cap rows */
    size_t cap;
    float *vel; /* momentum buffer, one per parameter */
};

struct trainer *
trainer_new(const struct model_spec *spec, const struct dataset *ds, size_t batch_size)
{
    struct trainer *t = mem_calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ds = ds;
    t->spec = *spec;
    size_t eval_batch =
        spec->arch != MODEL_ARCH_DENSE ? TRAINER_EVAL_BATCH_NET : TRAINER_EVAL_BATCH;
    t->batch = batch_size > eval_batch ? batch_size : eval_batch;
    t->ws = model_ws_new(spec, t->batch);
    t->x = mem_alloc(t->batch * ds->n_features * sizeof *t->x);
    t->y = mem_alloc(t->batch * sizeof *t->y);
    /* Data on demand: the order grows with the clients trained (trainer_reserve()). */
    t->cap = ds->train_on_demand ? 1 : dataset_max_client_train(ds) + 1;
    t->order = mem_alloc(t->cap * sizeof *t->order);
    t->vel = mem_alloc(model_param_count(spec) * sizeof *t->vel);
    if (t->ws == NULL || t->x == NULL || t->y == NULL || t->order == NULL || t->vel == NULL) {
        trainer_free(t);
        return NULL;
    }
    return t;
}

void
trainer_free(struct trainer *t)
{
    if (t == NULL)
        return;
    model_ws_free(t->ws);
    mem_free(t->x);
    mem_free(t->y);
    mem_free(t->order);
    mem_free(t->vel);
    mem_free(t);
}

int
trainer_reserve(struct trainer *t, size_t n)
{
    if (n <= t->cap)
        return 0;
    size_t cap = t->cap * 2 > n ? t->cap * 2 : n;
    if (cap > SIZE_MAX / sizeof *t->order)
        return -ERR_NOMEM;
    uint32_t *order = mem_alloc(cap * sizeof *order);
    if (order == NULL)
        return -ERR_NOMEM;
    mem_free(t->order);
    t->order = order;
    t->cap = cap;
    return 0;
}

static void
trainer_gather(struct trainer *t, const struct dataset_split *s, const uint32_t *rows, size_t first,
               size_t n)
{
    size_t d = t->ds->n_features;
    for (size_t i = 0; i < n; i++) {
        size_t row = rows != NULL ? rows[first + i] : first + i;
        memcpy(t->x + i * d, s->x + row * d, d * sizeof *t->x);
        t->y[i] = s->y[row];
    }
}

void
trainer_train(struct trainer *t, float *w, const float *global, size_t k,
              const struct train_params *p, struct rng *r, struct train_result *res)
{
    size_t n;
    const uint32_t *rows = dataset_client_train(t->ds, k, &n);
    trainer_train_rows(t, w, global, &t->ds->train, rows, n, p, r, res);
}

void
trainer_train_rows(struct trainer *t, float *w, const float *global,
                   const struct dataset_split *split, const uint32_t *rows, size_t n,
                   const struct train_params *p, struct rng *r, struct train_result *res)
{
    *res = (struct train_result){ .samples = n };
    if (n == 0)
        return;
    assert(n <= t->cap);
    size_t bs = p->batch_size < n ? p->batch_size : n;
    size_t per_epoch = (n + bs - 1) / bs;
    size_t total = p->steps > 0 ? p->steps : per_epoch * p->epochs;
    float *vel = NULL;
    if (p->momentum > 0.0f) {
        vel = t->vel;
        memset(vel, 0, model_param_count(&t->spec) * sizeof *vel);
    }
    const float *centre = p->prox_mu > 0.0f ? global : NULL;
    double loss = 0;
    size_t pos = n; /* forces a shuffle before the first step */
    for (size_t step = 0; step < total; step++) {
        if (pos >= n) {
            if (rows != NULL)
                memcpy(t->order, rows, n * sizeof *t->order);
            else
                for (size_t i = 0; i < n; i++)
                    t->order[i] = (uint32_t)i;
            rng_shuffle_u32(r, t->order, n);
            pos = 0;
        }
        size_t take = n - pos < bs ? n - pos : bs;
        trainer_gather(t, split, t->order, pos, take);
        pos += take;
        loss += model_sgd_step(t->ws, w, t->x, t->y, take, p->lr, p->l2, p->momentum, vel, centre,
                               p->prox_mu);
    }
    res->steps = total;
    res->loss = total > 0 ? loss / (double)total : 0.0;
}

void
trainer_evaluate(struct trainer *t, const float *w, const struct dataset_split *split,
                 const uint32_t *rows, size_t n, struct eval_result *res)
{
    double loss = 0;
    size_t correct = 0;
    for (size_t at = 0; at < n; at += t->batch) {
        size_t take = n - at < t->batch ? n - at : t->batch;
        trainer_gather(t, split, rows, at, take);
        model_eval_batch(t->ws, w, t->x, t->y, take, &loss, &correct);
    }
    *res = (struct eval_result){
        .n = n,
        .correct = correct,
        .loss = n > 0 ? loss / (double)n : 0.0,
    };
}
