/* model: shapes, initialisation, the SGD step against finite differences, evaluation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "clients/model.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

START_TEST(param_counts)
{
    struct model_spec logreg = { .n_inputs = 60, .n_classes = 10 };
    ck_assert_uint_eq(model_param_count(&logreg), 610);
    struct model_spec mlp = { .n_inputs = 784, .n_classes = 10, .n_hidden = 1, .hidden = { 200 } };
    ck_assert_uint_eq(model_param_count(&mlp), 159010);
    /* 5 -> 4 -> 7 -> 3: 4 * 6 + 7 * 5 + 3 * 8. */
    struct model_spec deep = { .n_inputs = 5, .n_classes = 3, .n_hidden = 2, .hidden = { 4, 7 } };
    ck_assert_uint_eq(model_param_count(&deep), 83);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(model_spec_check(&logreg, &eb), 0);
    ck_assert_int_eq(model_spec_check(&mlp, &eb), 0);
    ck_assert_int_eq(model_spec_check(&deep, &eb), 0);
    struct model_spec widest = { .n_inputs = 1, .n_classes = 2, .n_hidden = MODEL_MAX_HIDDEN };
    for (size_t l = 0; l < MODEL_MAX_HIDDEN; l++)
        widest.hidden[l] = 3;
    ck_assert_int_eq(model_spec_check(&widest, &eb), 0);
}
END_TEST

struct model_bad_spec {
    struct model_spec spec;
    int code;
    const char *msg;
};

static const struct model_bad_spec model_bad_specs[] = {
    { { .n_inputs = 5, .n_classes = 3, .n_hidden = MODEL_MAX_HIDDEN + 1 },
      -ERR_INVALID,
      "at most 8 hidden layers are supported" },
    { { .n_inputs = 0, .n_classes = 3 },
      -ERR_INVALID,
      "a model needs inputs and at least two classes" },
    { { .n_inputs = 5, .n_classes = 1 },
      -ERR_INVALID,
      "a model needs inputs and at least two classes" },
    { { .n_inputs = 5, .n_classes = 0, .n_hidden = 1, .hidden = { 3 } },
      -ERR_INVALID,
      "a model needs inputs and at least two classes" },
    { { .n_inputs = 5, .n_classes = 3, .n_hidden = 1, .hidden = { 0 } },
      -ERR_INVALID,
      "hidden layer 1 has no units" },
    { { .n_inputs = 5, .n_classes = 3, .n_hidden = 3, .hidden = { 4, 6, 0 } },
      -ERR_INVALID,
      "hidden layer 3 has no units" },
    /* 2000 * (10^6 + 1) + 10 * 2001 parameters. */
    { { .n_inputs = 1000000, .n_classes = 10, .n_hidden = 1, .hidden = { 2000 } },
      -ERR_RANGE,
      "model has 2000022010 parameters, more than 10^9" },
};

START_TEST(spec_check_rejects)
{
    const struct model_bad_spec *b = &model_bad_specs[_i];
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(model_spec_check(&b->spec, &eb), b->code);
    ck_assert_int_eq(eb.code, b->code);
    ck_assert_str_eq(eb.msg, b->msg);
}
END_TEST

START_TEST(init_params)
{
    struct model_spec logreg = { .n_inputs = 7, .n_classes = 3 };
    float w[24];
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < 24; i++)
        w[i] = 9.5f;
    model_init_params(&logreg, w, &r);
    for (size_t i = 0; i < 24; i++)
        ck_assert_float_eq(w[i], 0.0f);

    /* 6 -> 10 -> 4: layer 1 bound sqrt(6/16), layer 2 bound sqrt(6/14); biases zero. */
    struct model_spec mlp = { .n_inputs = 6, .n_classes = 4, .n_hidden = 1, .hidden = { 10 } };
    size_t dim = model_param_count(&mlp);
    ck_assert_uint_eq(dim, 114);
    float a[114], b[114];
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 1);
    model_init_params(&mlp, a, &r);
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 1);
    model_init_params(&mlp, b, &r);
    ck_assert_mem_eq(a, b, sizeof a);
    double bound1 = sqrt(6.0 / 16.0), bound2 = sqrt(6.0 / 14.0);
    double max1 = 0, max2 = 0;
    for (size_t i = 0; i < 60; i++)
        max1 = fmax(max1, fabs(a[i]));
    for (size_t i = 60; i < 70; i++)
        ck_assert_float_eq(a[i], 0.0f);
    for (size_t i = 70; i < 110; i++)
        max2 = fmax(max2, fabs(a[i]));
    for (size_t i = 110; i < 114; i++)
        ck_assert_float_eq(a[i], 0.0f);
    ck_assert_double_le(max1, bound1);
    ck_assert_double_le(max2, bound2);
    /* 60 uniform draws in +-bound all below half the bound has probability 2^-60. */
    ck_assert_double_gt(max1, 0.5 * bound1);
    ck_assert_double_gt(max2, 0.5 * bound2);
}
END_TEST

/*
 * The gradient-check problem: 5 inputs, one hidden layer of 4 ReLU units, 3 classes, a
 * batch of 3 rows. Parameters layout: W1 [4 x 5], b1 [4], W2 [3 x 4], b2 [3] (39 floats).
 */
enum { GC_IN = 5, GC_HID = 4, GC_OUT = 3, GC_N = 3, GC_DIM = 39 };

struct gc_problem {
    struct model_spec spec;
    float w[GC_DIM];
    float x[GC_N * GC_IN];
    uint16_t y[GC_N];
};

static void
gc_problem_init(struct gc_problem *p)
{
    p->spec = (struct model_spec){
        .n_inputs = GC_IN, .n_classes = GC_OUT, .n_hidden = 1, .hidden = { GC_HID }
    };
    ck_assert_uint_eq(model_param_count(&p->spec), GC_DIM);
    for (size_t i = 0; i < GC_N * GC_IN; i++)
        p->x[i] = (float)(1.5 * sin(1.7 * (double)i + 0.3));
    static const uint16_t y[GC_N] = { 2, 0, 1 };
    memcpy(p->y, y, sizeof y);
    for (size_t i = 0; i < GC_DIM; i++)
        p->w[i] = (float)(0.8 * cos(2.385 * (double)i + 0.7));
}

/* The smallest |pre-activation| of a hidden unit over the batch (distance to the kink). */
static double
gc_kink_margin(const struct gc_problem *p)
{
    double margin = INFINITY;
    for (size_t i = 0; i < GC_N; i++) {
        for (size_t u = 0; u < GC_HID; u++) {
            double z = p->w[GC_HID * GC_IN + u];
            for (size_t j = 0; j < GC_IN; j++)
                z += (double)p->w[u * GC_IN + j] * (double)p->x[i * GC_IN + j];
            margin = fmin(margin, fabs(z));
        }
    }
    return margin;
}

static double
gc_loss(struct model_ws *ws, const struct gc_problem *p, const float *w)
{
    double loss = 0;
    size_t correct = 0;
    model_eval_batch(ws, w, p->x, p->y, GC_N, &loss, &correct);
    return loss / GC_N;
}

/*
 * Central differences of the mean loss, in double, with step h = 1e-2. The perturbed
 * weight is a float, so the step actually taken, (float)(w + h) - w, is used as the
 * denominator. Error budget: the loss is computed from float logits (relative error about
 * 1e-7 on values of order 1), so rounding contributes about 2e-7 / 2h = 1e-5; the
 * truncation error is h^2 / 6 times a third derivative of order 1, about 2e-5. The
 * perturbation moves a hidden pre-activation by at most h * max|x| = 0.015, so the
 * fixture requires every pre-activation to be at least 0.03 away from the ReLU kink.
 */
static void
gc_fd_gradient(const struct gc_problem *p, const float *w, double *g)
{
    const float h = 1e-2f;
    struct model_ws *ws = model_ws_new(&p->spec, GC_N);
    ck_assert_ptr_nonnull(ws);
    float wp[GC_DIM];
    for (size_t i = 0; i < GC_DIM; i++) {
        memcpy(wp, w, sizeof wp);
        wp[i] = w[i] + h;
        double up = (double)wp[i] - (double)w[i];
        double lp = gc_loss(ws, p, wp);
        wp[i] = w[i] - h;
        double down = (double)w[i] - (double)wp[i];
        double lm = gc_loss(ws, p, wp);
        g[i] = (lp - lm) / (up + down);
    }
    model_ws_free(ws);
}

/*
 * Compares an observed gradient to the expected one component by component, with an
 * absolute tolerance of 2e-4 times the largest expected component (of order 1 here): about
 * 7 times the finite-difference error budget above (3e-5; the worst case measured over all
 * cases is 2.8e-5), while the float SGD step itself adds only about 1e-6.
 */
static void
gc_assert_close(const double *obs, const double *expect, const char *what)
{
    double scale = 0;
    for (size_t i = 0; i < GC_DIM; i++)
        scale = fmax(scale, fabs(expect[i]));
    ck_assert_double_gt(scale, 1e-2);
    for (size_t i = 0; i < GC_DIM; i++)
        ck_assert_msg(fabs(obs[i] - expect[i]) <= 2e-4 * scale,
                      "%s: component %zu is %.8g, expected %.8g (scale %.3g)", what, i, obs[i],
                      expect[i], scale);
}

/* Is parameter i a weight (not a bias) of the gradient-check model? */
static bool
gc_is_weight(size_t i)
{
    return i < GC_HID * GC_IN ||
           (i >= GC_HID * (GC_IN + 1) && i < GC_HID * (GC_IN + 1) + GC_OUT * GC_HID);
}

struct gc_case {
    const char *what;
    float l2;
    float mu;
    bool momentum;
};

static const struct gc_case gc_cases[] = {
    { "plain", 0.0f, 0.0f, false },
    { "l2", 0.37f, 0.0f, false },
    { "momentum", 0.0f, 0.0f, true },
    { "prox", 0.0f, 0.53f, false },
    { "l2 + prox + momentum", 0.37f, 0.53f, true },
};

START_TEST(sgd_step_matches_finite_differences)
{
    const struct gc_case *c = &gc_cases[_i];
    struct gc_problem p;
    gc_problem_init(&p);
    ck_assert_double_ge(gc_kink_margin(&p), 0.03);
    double g[GC_DIM];
    gc_fd_gradient(&p, p.w, g);

    float centre[GC_DIM];
    for (size_t i = 0; i < GC_DIM; i++)
        centre[i] = p.w[i] + (float)(0.4 * sin(0.77 * (double)i));
    double expect[GC_DIM];
    for (size_t i = 0; i < GC_DIM; i++) {
        expect[i] = g[i];
        if (gc_is_weight(i))
            expect[i] += (double)c->l2 * (double)p.w[i];
        expect[i] += (double)c->mu * ((double)p.w[i] - (double)centre[i]);
    }

    const float lr = 0.731f;
    struct model_ws *ws = model_ws_new(&p.spec, GC_N);
    ck_assert_ptr_nonnull(ws);
    float w[GC_DIM], vel[GC_DIM];
    memcpy(w, p.w, sizeof w);
    for (size_t i = 0; i < GC_DIM; i++)
        vel[i] = 0.0f;
    double before = gc_loss(ws, &p, p.w);
    double loss = model_sgd_step(ws, w, p.x, p.y, GC_N, lr, c->l2, c->momentum ? 0.9f : 0.0f,
                                 c->momentum ? vel : NULL, c->mu > 0.0f ? centre : NULL, c->mu);
    ck_assert_rel_tol(loss, before, 1e-12);
    double obs[GC_DIM];
    for (size_t i = 0; i < GC_DIM; i++)
        obs[i] = ((double)p.w[i] - (double)w[i]) / (double)lr;
    gc_assert_close(obs, expect, c->what);
    if (!c->momentum) {
        model_ws_free(ws);
        return;
    }

    /* The first momentum step is plain SGD, and vel then holds the gradient. */
    double vel1[GC_DIM];
    for (size_t i = 0; i < GC_DIM; i++)
        vel1[i] = vel[i];
    gc_assert_close(vel1, expect, "velocity after step 1");

    /* Second step: vel = 0.9 vel + grad(w1), w2 = w1 - lr vel. */
    struct gc_problem p1 = p;
    memcpy(p1.w, w, sizeof w);
    ck_assert_double_ge(gc_kink_margin(&p1), 0.03);
    gc_fd_gradient(&p1, p1.w, g);
    for (size_t i = 0; i < GC_DIM; i++) {
        expect[i] = g[i];
        if (gc_is_weight(i))
            expect[i] += (double)c->l2 * (double)p1.w[i];
        expect[i] += (double)c->mu * ((double)p1.w[i] - (double)centre[i]);
    }
    model_sgd_step(ws, w, p.x, p.y, GC_N, lr, c->l2, 0.9f, vel, c->mu > 0.0f ? centre : NULL,
                   c->mu);
    for (size_t i = 0; i < GC_DIM; i++) {
        obs[i] = (double)vel[i] - 0.9 * vel1[i];
        ck_assert_double_eq_tol((double)w[i], (double)p1.w[i] - (double)lr * (double)vel[i], 1e-6);
    }
    gc_assert_close(obs, expect, "gradient in step 2");
    model_ws_free(ws);
}
END_TEST

/* The fused plain path and the explicit-gradient path agree to float rounding. */
START_TEST(first_momentum_step_equals_plain)
{
    struct gc_problem p;
    gc_problem_init(&p);
    struct model_ws *ws = model_ws_new(&p.spec, GC_N);
    ck_assert_ptr_nonnull(ws);
    float a[GC_DIM], b[GC_DIM], vel[GC_DIM] = { 0 };
    memcpy(a, p.w, sizeof a);
    memcpy(b, p.w, sizeof b);
    model_sgd_step(ws, a, p.x, p.y, GC_N, 0.731f, 0.37f, 0.0f, NULL, NULL, 0.0f);
    model_sgd_step(ws, b, p.x, p.y, GC_N, 0.731f, 0.37f, 0.9f, vel, NULL, 0.0f);
    /* Both compute w - lr (g + l2 w) in float from |w| < 1: a few ulps of 1 apart. */
    for (size_t i = 0; i < GC_DIM; i++)
        ck_assert_double_eq_tol(a[i], b[i], 1e-6);
    model_ws_free(ws);
}
END_TEST

/* Linearly separable data (y = [x0 + 0.5 x1 - x2 > 0.1]) in 3 dimensions, 40 rows. */
static void
model_separable(float *x, uint16_t *y, size_t n)
{
    struct rng r;
    rng_init_stream(&r, 5, RNG_PURPOSE_TEST, 1, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < 3; j++)
            x[i * 3 + j] = (float)(4.0 * rng_uniform(&r) - 2.0);
        double s = x[i * 3] + 0.5 * x[i * 3 + 1] - x[i * 3 + 2];
        y[i] = s > 0.1 ? 1 : 0;
    }
}

START_TEST(loss_decreases_on_separable_data)
{
    enum { N = 40 };
    float x[N * 3];
    uint16_t y[N];
    model_separable(x, y, N);
    struct model_spec spec = { .n_inputs = 3, .n_classes = 2 };
    if (_i == 1)
        spec = (struct model_spec){ .n_inputs = 3, .n_classes = 2, .n_hidden = 1, .hidden = { 8 } };
    size_t dim = model_param_count(&spec);
    float *w = calloc(dim, sizeof *w);
    ck_assert_ptr_nonnull(w);
    struct rng r;
    rng_init_stream(&r, 5, RNG_PURPOSE_TEST, 2, 0);
    model_init_params(&spec, w, &r);
    struct model_ws *ws = model_ws_new(&spec, N);
    ck_assert_ptr_nonnull(ws);
    double first = 0, last = 0;
    for (int step = 0; step < 50; step++) {
        /* Minibatches of 10 rows, cycling. */
        size_t at = (size_t)(step % 4) * 10;
        double loss =
            model_sgd_step(ws, w, x + at * 3, y + at, 10, 0.5f, 0.0f, 0.0f, NULL, NULL, 0.0f);
        if (step == 0)
            first = loss;
    }
    size_t correct = 0;
    model_eval_batch(ws, w, x, y, N, &last, &correct);
    last /= N;
    /* Separable data: the loss falls well below its start and nearly all rows are right. */
    ck_assert_msg(last < 0.5 * first, "loss %.4f after 50 steps, %.4f at the start", last, first);
    ck_assert_uint_ge(correct, N - 2);
    model_ws_free(ws);
    free(w);
}
END_TEST

START_TEST(eval_batch_accumulates)
{
    /* Logistic regression 2 -> 2 with W = [[1, 0], [0, 1]], b = [0, 0.5]. */
    struct model_spec spec = { .n_inputs = 2, .n_classes = 2 };
    const float w[6] = { 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.5f };
    const float x[6] = { 2.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f };
    const uint16_t y[3] = { 0, 0, 1 };
    /* Logits: (2, 0.5) right, (0, 1.5) wrong, (1, 1.5) right. */
    struct model_ws *ws = model_ws_new(&spec, 3);
    ck_assert_ptr_nonnull(ws);
    double loss = 1.25;
    size_t correct = 7;
    model_eval_batch(ws, w, x, y, 3, &loss, &correct);
    double expect = log1p(exp(-1.5)) + log1p(exp(1.5)) + log1p(exp(-0.5));
    ck_assert_uint_eq(correct, 9);
    ck_assert_rel_tol(loss - 1.25, expect, 1e-6);
    model_ws_free(ws);
    model_ws_free(NULL);
}
END_TEST

Suite *
model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, param_counts);
    tcase_add_loop_test(tc, spec_check_rejects, 0,
                        (int)(sizeof model_bad_specs / sizeof model_bad_specs[0]));
    tcase_add_test(tc, init_params);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradient");
    tcase_add_loop_test(tc, sgd_step_matches_finite_differences, 0,
                        (int)(sizeof gc_cases / sizeof gc_cases[0]));
    tcase_add_test(tc, first_momentum_step_equals_plain);
    tcase_add_loop_test(tc, loss_decreases_on_separable_data, 0, 2);
    tcase_add_test(tc, eval_batch_accumulates);
    suite_add_tcase(s, tc);
    return s;
}
