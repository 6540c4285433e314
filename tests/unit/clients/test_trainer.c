/* trainer: local SGD schedule, determinism and evaluation counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clients/trainer.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

/*
 * A hand-made dataset: 3 features, 3 classes, 3 clients. Client 0 holds the 23 training
 * rows 0..22, client 1 none, client 2 the 4 rows 23..26. The test split has 1200 rows (more
 * than the trainer's evaluation batch of 512), all held by client 0.
 */
enum { TR_FEAT = 3, TR_CLASSES = 3, TR_TRAIN = 27, TR_TEST = 1200 };

static struct dataset *
trainer_dataset(void)
{
    struct dataset *ds = dataset_new(TR_FEAT, TR_CLASSES, 3, TR_TRAIN, TR_TEST);
    ck_assert_ptr_nonnull(ds);
    for (size_t i = 0; i < TR_TRAIN * TR_FEAT; i++)
        ds->train.x[i] = (float)sin(0.61 * (double)i + 0.2);
    for (size_t i = 0; i < TR_TRAIN; i++)
        ds->train.y[i] = (uint16_t)((i * 7) % TR_CLASSES);
    for (size_t i = 0; i < TR_TEST * TR_FEAT; i++)
        ds->test.x[i] = (float)cos(0.37 * (double)i);
    for (size_t i = 0; i < TR_TEST; i++)
        ds->test.y[i] = (uint16_t)((i * 5) % TR_CLASSES);
    ds->client_train.off[0] = 0;
    ds->client_train.off[1] = 23;
    ds->client_train.off[2] = 23;
    ds->client_train.off[3] = TR_TRAIN;
    for (uint32_t i = 0; i < TR_TRAIN; i++)
        ds->client_train.rows[i] = i;
    ds->client_test.off[1] = TR_TEST;
    ds->client_test.off[2] = TR_TEST;
    ds->client_test.off[3] = TR_TEST;
    for (uint32_t i = 0; i < TR_TEST; i++)
        ds->client_test.rows[i] = i;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(dataset_check(ds, &eb), 0);
    return ds;
}

static const struct model_spec trainer_spec = { .n_inputs = TR_FEAT, .n_classes = TR_CLASSES };
#define TR_DIM ((TR_FEAT + 1) * TR_CLASSES)

static void
trainer_w0(float *w)
{
    for (size_t i = 0; i < TR_DIM; i++)
        w[i] = (float)(0.3 * sin(2.385 * (double)i));
}

/*
 * The documented schedule written out: shuffle the client's rows with r whenever a pass
 * starts, take batches of min(batch, n) rows in that order (the last one of a pass may be
 * smaller), one SGD step each. Returns the number of steps.
 */
static size_t
trainer_reference(const struct dataset *ds, float *w, size_t k, const struct train_params *p,
                  struct rng *r)
{
    size_t n;
    const uint32_t *rows = dataset_client_train(ds, k, &n);
    size_t bs = p->batch_size < n ? p->batch_size : n;
    size_t total = p->steps > 0 ? p->steps : p->epochs * ((n + bs - 1) / bs);
    uint32_t order[TR_TRAIN];
    float x[TR_TRAIN * TR_FEAT];
    uint16_t y[TR_TRAIN];
    struct model_ws *ws = model_ws_new(&trainer_spec, TR_TRAIN);
    ck_assert_ptr_nonnull(ws);
    size_t pos = n;
    for (size_t s = 0; s < total; s++) {
        if (pos == n) {
            memcpy(order, rows, n * sizeof *order);
            rng_shuffle_u32(r, order, n);
            pos = 0;
        }
        size_t take = n - pos < bs ? n - pos : bs;
        for (size_t i = 0; i < take; i++) {
            memcpy(x + i * TR_FEAT, ds->train.x + order[pos + i] * TR_FEAT,
                   TR_FEAT * sizeof(float));
            y[i] = ds->train.y[order[pos + i]];
        }
        pos += take;
        model_sgd_step(ws, w, x, y, take, p->lr, p->l2, 0.0f, NULL, NULL, 0.0f);
    }
    model_ws_free(ws);
    return total;
}

/* (epochs, steps, batch) and the steps the trainer must take on client 0 (23 rows). */
struct trainer_schedule {
    unsigned epochs;
    size_t steps;
    size_t batch;
    size_t expect;
};

static const struct trainer_schedule trainer_schedules[] = {
    { 3, 0, 5, 15 },                   /* 3 x ceil(23 / 5) */
    { 2, 0, 23, 2 },                   /* one batch per epoch */
    { 2, 0, 100, 2 },                  /* batch larger than the client: one batch of 23 */
    { 1, 0, 1, 23 },   { 4, 7, 5, 7 }, /* steps override epochs, reshuffling after 5 steps */
    { 1, 12, 10, 12 },
};

START_TEST(steps_follow_epochs_and_batches)
{
    const struct trainer_schedule *sc = &trainer_schedules[_i];
    struct dataset *ds = trainer_dataset();
    struct trainer *t = trainer_new(&trainer_spec, ds, sc->batch);
    ck_assert_ptr_nonnull(t);
    struct train_params p = {
        .epochs = sc->epochs, .steps = sc->steps, .batch_size = sc->batch, .lr = 0.173f
    };
    float w[TR_DIM], ref[TR_DIM];
    trainer_w0(w);
    trainer_w0(ref);
    struct rng r, rr;
    rng_init_stream(&r, 8, RNG_PURPOSE_TRAIN, 3, 0);
    rng_init_stream(&rr, 8, RNG_PURPOSE_TRAIN, 3, 0);
    struct train_result res;
    trainer_train(t, w, NULL, 0, &p, &r, &res);
    ck_assert_uint_eq(res.samples, 23);
    ck_assert_uint_eq(res.steps, sc->expect);
    ck_assert(isfinite(res.loss) && res.loss > 0.0);
    ck_assert_uint_eq(trainer_reference(ds, ref, 0, &p, &rr), sc->expect);
    /* Bit-identical to the schedule written out by hand. */
    ck_assert_mem_eq(w, ref, sizeof w);
    /* Both consumed the same randomness. */
    ck_assert_uint_eq(rng_tell(&r), rng_tell(&rr));
    trainer_free(t);
    dataset_free(ds);
}
END_TEST

START_TEST(client_without_rows_takes_no_step)
{
    struct dataset *ds = trainer_dataset();
    struct trainer *t = trainer_new(&trainer_spec, ds, 5);
    ck_assert_ptr_nonnull(t);
    struct train_params p = { .epochs = 3, .batch_size = 5, .lr = 0.5f, .steps = 4 };
    float w[TR_DIM], w0[TR_DIM];
    trainer_w0(w);
    trainer_w0(w0);
    struct rng r;
    rng_init_stream(&r, 8, RNG_PURPOSE_TRAIN, 1, 1);
    struct train_result res = { .samples = 99, .steps = 99, .loss = 9.0 };
    trainer_train(t, w, NULL, 1, &p, &r, &res);
    ck_assert_uint_eq(res.samples, 0);
    ck_assert_uint_eq(res.steps, 0);
    ck_assert_double_eq(res.loss, 0.0);
    ck_assert_mem_eq(w, w0, sizeof w);
    ck_assert_uint_eq(rng_tell(&r), 0);
    trainer_free(t);
    trainer_free(NULL);
    dataset_free(ds);
}
END_TEST

START_TEST(same_stream_same_model)
{
    struct dataset *ds = trainer_dataset();
    struct trainer *t = trainer_new(&trainer_spec, ds, 4);
    ck_assert_ptr_nonnull(t);
    struct train_params p = {
        .epochs = 2, .batch_size = 4, .lr = 0.05f, .momentum = 0.5f, .l2 = 1e-3f, .prox_mu = 0.1f
    };
    float a[TR_DIM], b[TR_DIM], c[TR_DIM], global[TR_DIM];
    trainer_w0(a);
    trainer_w0(b);
    trainer_w0(c);
    trainer_w0(global);
    struct train_result ra, rb, rc;
    struct rng r;
    rng_init_stream(&r, 8, RNG_PURPOSE_TRAIN, 2, 2);
    trainer_train(t, a, global, 2, &p, &r, &ra);
    /* A second trainer, or the same one reused, gives the same bytes. */
    struct trainer *t2 = trainer_new(&trainer_spec, ds, 4);
    ck_assert_ptr_nonnull(t2);
    rng_init_stream(&r, 8, RNG_PURPOSE_TRAIN, 2, 2);
    trainer_train(t2, b, global, 2, &p, &r, &rb);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_double_eq(ra.loss, rb.loss);
    /* Another stream shuffles differently and ends elsewhere. */
    rng_init_stream(&r, 9, RNG_PURPOSE_TRAIN, 2, 2);
    trainer_train(t, c, global, 2, &p, &r, &rc);
    for (size_t i = 0; i < TR_DIM; i++)
        ck_assert(isfinite(a[i]) && isfinite(c[i]));
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
    trainer_free(t);
    trainer_free(t2);
    dataset_free(ds);
}
END_TEST

/* Hand count: mean cross-entropy and argmax hits of a logistic regression, in double. */
static void
trainer_hand_eval(const struct dataset_split *s, const float *w, const uint32_t *rows, size_t n,
                  size_t *correct, double *loss)
{
    *correct = 0;
    *loss = 0;
    for (size_t i = 0; i < n; i++) {
        size_t row = rows != NULL ? rows[i] : i;
        double z[TR_CLASSES], mx = -INFINITY;
        size_t best = 0;
        for (size_t c = 0; c < TR_CLASSES; c++) {
            z[c] = w[TR_CLASSES * TR_FEAT + c];
            for (size_t j = 0; j < TR_FEAT; j++)
                z[c] += (double)w[c * TR_FEAT + j] * (double)s->x[row * TR_FEAT + j];
            if (z[c] > mx) {
                mx = z[c];
                best = c;
            }
        }
        double sum = 0;
        for (size_t c = 0; c < TR_CLASSES; c++)
            sum += exp(z[c] - mx);
        *loss += log(sum) + mx - z[s->y[row]];
        *correct += best == s->y[row];
    }
    *loss /= (double)n;
}

/* Training on a copy of client 2's rows (rows 0..n-1 of their own split, as data made on
 * demand is laid out) takes the same steps to the same bytes as training on the dataset. */
START_TEST(rows_made_on_demand_train_alike)
{
    struct dataset *ds = trainer_dataset();
    struct trainer *t = trainer_new(&trainer_spec, ds, 3);
    ck_assert_ptr_nonnull(t);
    struct train_params p = { .epochs = 3, .batch_size = 3, .lr = 0.1f, .momentum = 0.3f };
    float copy_x[4 * TR_FEAT];
    uint16_t copy_y[4];
    memcpy(copy_x, ds->train.x + 23 * TR_FEAT, sizeof copy_x);
    memcpy(copy_y, ds->train.y + 23, sizeof copy_y);
    struct dataset_split own = { .x = copy_x, .y = copy_y, .n = 4 };
    float a[TR_DIM], b[TR_DIM];
    trainer_w0(a);
    trainer_w0(b);
    struct train_result ra, rb;
    struct rng r;
    rng_init_stream(&r, 3, RNG_PURPOSE_TRAIN, 1, 2);
    trainer_train(t, a, NULL, 2, &p, &r, &ra);
    rng_init_stream(&r, 3, RNG_PURPOSE_TRAIN, 1, 2);
    trainer_train_rows(t, b, NULL, &own, NULL, own.n, &p, &r, &rb);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_uint_eq(ra.steps, rb.steps);
    ck_assert_uint_eq(rb.steps, 6);
    ck_assert_uint_eq(rb.samples, 4);
    ck_assert_double_eq(ra.loss, rb.loss);
    /* The rows matter: another client's rows end elsewhere. */
    memcpy(copy_x, ds->train.x, sizeof copy_x);
    trainer_w0(b);
    rng_init_stream(&r, 3, RNG_PURPOSE_TRAIN, 1, 2);
    trainer_train_rows(t, b, NULL, &own, NULL, own.n, &p, &r, &rb);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    trainer_free(t);
    dataset_free(ds);
}
END_TEST

START_TEST(evaluate_matches_hand_count)
{
    struct dataset *ds = trainer_dataset();
    struct trainer *t = trainer_new(&trainer_spec, ds, 5);
    ck_assert_ptr_nonnull(t);
    float w[TR_DIM];
    trainer_w0(w);
    struct eval_result res;
    size_t correct;
    double loss;

    /* Rows given explicitly: 3 rows of the train split. */
    static const uint32_t rows[3] = { 20, 2, 11 };
    trainer_evaluate(t, w, &ds->train, rows, 3, &res);
    trainer_hand_eval(&ds->train, w, rows, 3, &correct, &loss);
    ck_assert_uint_eq(res.n, 3);
    ck_assert_uint_eq(res.correct, correct);
    /* float logits against double: 1e-6 relative covers a few float ulps. */
    ck_assert_rel_tol(res.loss, loss, 1e-6);

    /* The whole test split, in several evaluation batches. */
    trainer_evaluate(t, w, &ds->test, NULL, TR_TEST, &res);
    trainer_hand_eval(&ds->test, w, NULL, TR_TEST, &correct, &loss);
    ck_assert_uint_eq(res.n, TR_TEST);
    ck_assert_uint_eq(res.correct, correct);
    ck_assert_uint_gt(correct, 0);
    ck_assert_uint_lt(correct, TR_TEST);
    ck_assert_rel_tol(res.loss, loss, 1e-6);

    /* No rows: nothing evaluated, loss 0. */
    trainer_evaluate(t, w, &ds->test, NULL, 0, &res);
    ck_assert_uint_eq(res.n, 0);
    ck_assert_uint_eq(res.correct, 0);
    ck_assert_double_eq(res.loss, 0.0);
    trainer_free(t);
    dataset_free(ds);
}
END_TEST

Suite *
trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("schedule");
    tcase_add_loop_test(tc, steps_follow_epochs_and_batches, 0,
                        (int)(sizeof trainer_schedules / sizeof trainer_schedules[0]));
    tcase_add_test(tc, client_without_rows_takes_no_step);
    tcase_add_test(tc, same_stream_same_model);
    tcase_add_test(tc, rows_made_on_demand_train_alike);
    suite_add_tcase(s, tc);
    tc = tcase_create("evaluate");
    tcase_add_test(tc, evaluate_matches_hand_count);
    suite_add_tcase(s, tc);
    return s;
}
