/*
 * net memory: the workspace of one training step of the paper models (the FedAvg CNN on
 * 28 x 28 x 1 with 10 and 62 classes and on 32 x 32 x 3, LEAF's Shakespeare LSTM), computed
 * from the layer shapes and compared with model_ws_bytes(), and printed.
 *
 * Exact part: the workspace holds, per sample of the largest batch, every layer's output and
 * saved state and two gradient buffers of the largest layer input or output; plus the
 * parameter gradient and the logits' gradient (clients/net.h, clients/model.h), four bytes
 * a float. The rest is the layers' scratch, which must cover every layer's per-sample scratch
 * for the batch and may add at most one image's convolution work, and the workspace's fixed
 * header (the plan and a pointer per layer buffer): nothing else.
 * First-principles part: whatever the layers' scratch, backpropagation keeps the parameter
 * gradient, every convolution and pooling output and, through time, every recurrent layer's
 * state at every step; the workspace can be no smaller.
 */
#include <stdio.h>

#include "base/mem.h"
#include "base/rng.h"
#include "clients/model.h"
#include "clients/net.h"
#include "clients/rnn_step.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"

struct nm_case {
    const char *what;
    struct model_spec spec;
    size_t batch;
    size_t kept; /* floats per sample backpropagation cannot do without (see the header) */
};

/* The FedAvg CNN (McMahan et al., AISTATS 2017, §3) on c x hw x hw with `classes` outputs. */
#define NM_CNN(c, hw, classes)                                                                     \
    {                                                                                              \
        .n_inputs = (c) * (hw) * (hw), .n_classes = (classes), .n_hidden = 1, .hidden = { 512 },   \
        .arch = MODEL_ARCH_CNN, .shape = { (c), (hw), (hw) }, .n_conv = 2, .conv = { 32, 64 },     \
        .kernel = 5,                                                                               \
    }
/* Conv outputs (same padding) and their 2 x 2 pooled outputs, the dense layer and logits. */
#define NM_CNN_KEPT(hw, classes)                                                                   \
    (32 * (hw) * (hw) + 32 * ((hw) / 2) * ((hw) / 2) + 64 * ((hw) / 2) * ((hw) / 2) +              \
     64 * ((hw) / 4) * ((hw) / 4) + 512 + (classes))

/* LEAF's Shakespeare model (Caldas et al., 2018): embedding 8, 2 x LSTM 256 over 80 steps. */
#define NM_LSTM                                                                                    \
    {                                                                                              \
        .n_inputs = 80, .n_classes = 80, .n_hidden = 2, .hidden = { 256, 256 },                    \
        .arch = MODEL_ARCH_LSTM, .embed = 8,                                                       \
    }
/* Embedded tokens, both layers' states at every step (the cell states too), the logits. */
#define NM_LSTM_KEPT (80 * 8 + 2 * 2 * 80 * 256 + 80)

static const struct nm_case nm_cases[] = {
    { "FedAvg CNN 28x28x1, 10 classes", NM_CNN(1, 28, 10), 10, NM_CNN_KEPT(28, 10) },
    { "FedAvg CNN 28x28x1, 62 classes (FEMNIST)", NM_CNN(1, 28, 62), 20, NM_CNN_KEPT(28, 62) },
    { "FedAvg CNN 32x32x3 (CIFAR-10)", NM_CNN(3, 32, 10), 20, NM_CNN_KEPT(32, 10) },
    { "Shakespeare LSTM", NM_LSTM, 4, NM_LSTM_KEPT },
    { "Shakespeare LSTM", NM_LSTM, 10, NM_LSTM_KEPT },
};

/*
 * Workspace floats of a batch of b from the plan's layer shapes (clients/net.h), but for the
 * scratch: the parameter gradient, the logits' gradient, every layer's output and saved state
 * and the two gradient buffers of the largest layer input or output.
 */
static size_t
nm_plan_floats(const struct net_plan *p, const struct model_spec *s, size_t b, size_t *act,
               size_t *saved)
{
    *act = *saved = 0;
    for (size_t l = 0; l < p->n_layers; l++) {
        *act += b * layer_shape_size(p->layer[l].out);
        *saved += b * p->layer[l].saved;
    }
    return p->n_params + b * s->n_classes + *act + *saved + 2 * b * p->max_size;
}

/*
 * The scratch, bracketed: at least every layer's per-sample scratch for the whole batch, at
 * most that plus the batch-independent work of a convolution done one image at a time (the
 * image zero-padded, its unfolded taps x positions matrix and its output columns) or of an
 * recurrent layer (its recurrent weights packed: gates x H x H and the panels' padding).
 */
static void
nm_scratch_bounds(const struct net_plan *p, size_t b, size_t *lo, size_t *hi)
{
    size_t per_sample = 0, one_image = 0;
    for (size_t l = 0; l < p->n_layers; l++) {
        const struct layer *ly = &p->layer[l];
        per_sample = ly->scratch > per_sample ? ly->scratch : per_sample;
        size_t gates = ly->kind == LAYER_LSTM ? 4 : 3;
        size_t packed = rnn_step_packed_floats(gates * ly->hidden, ly->hidden);
        if ((ly->kind == LAYER_LSTM || ly->kind == LAYER_GRU) && packed > one_image)
            one_image = packed;
        if (ly->kind != LAYER_CONV)
            continue;
        size_t padded = ly->in.c * (ly->in.h + 2 * ly->pad) * (ly->in.w + 2 * ly->pad);
        size_t unfolded = ly->in.c * ly->kernel * ly->kernel * ly->out.h * ly->out.w;
        size_t img = padded + unfolded + layer_shape_size(ly->out);
        one_image = img > one_image ? img : one_image;
    }
    *lo = b * per_sample;
    *hi = b * per_sample + one_image + 1;
}

START_TEST(workspace_matches_layer_shapes)
{
    const struct nm_case *c = &nm_cases[_i];
    struct net_plan p;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(net_plan_build(&p, &c->spec, &eb), 0);
    ck_assert_uint_eq(p.n_params, model_param_count(&c->spec));
    size_t act, saved, lo, hi;
    size_t floats = nm_plan_floats(&p, &c->spec, c->batch, &act, &saved);
    nm_scratch_bounds(&p, c->batch, &lo, &hi);
    struct model_ws *ws = model_ws_new(&c->spec, c->batch);
    ck_assert_ptr_nonnull(ws);
    size_t bytes = model_ws_bytes(ws);
    /* The workspace's fixed header: the plan and a pointer per layer buffer. */
    size_t header = sizeof p + (2 * NET_MAX_LAYERS + 8) * sizeof(void *);
    ck_assert_uint_ge(bytes, 4 * (floats + lo));
    ck_assert_uint_le(bytes, 4 * (floats + hi) + header);
    fprintf(stderr,
            "%s, batch %zu: workspace %zu bytes = 4 x (%zu gradient + %zu activations + %zu "
            "saved + %zu logits and gradient buffers) + %zu scratch and header\n",
            c->what, c->batch, bytes, p.n_params, act, saved, floats - p.n_params - act - saved,
            bytes - 4 * floats);
    /* No smaller than what backpropagation itself keeps. */
    ck_assert_uint_ge(bytes, 4 * (p.n_params + c->batch * c->kept));
    model_ws_free(ws);
}
END_TEST

/*
 * A training step of the Shakespeare LSTM at batch 4 (the papers' batch) allocates nothing and
 * lowers the loss of its batch; at initialisation the loss is near log 80.
 */
START_TEST(lstm_step_allocates_nothing)
{
    struct model_spec s = NM_LSTM;
    size_t dim = model_param_count(&s);
    struct model_ws *ws = model_ws_new(&s, 4);
    ck_assert_ptr_nonnull(ws);
    float *w = mem_alloc(dim * sizeof *w);
    float x[4 * 80];
    ck_assert_ptr_nonnull(w);
    struct rng r;
    rng_init_stream(&r, 5, 0, 0, 0);
    model_init_params(&s, w, &r);
    for (size_t i = 0; i < 4 * 80; i++)
        x[i] = (float)((i * 7 + i / 80) % 80);
    uint16_t y[4] = { 3, 17, 42, 79 };
    mem_fault_arm(1);
    double first = model_sgd_step(ws, w, x, y, 4, 1.0f, 0.0f, 0.0f, NULL, NULL, 0.0f);
    double second = model_sgd_step(ws, w, x, y, 4, 1.0f, 0.0f, 0.0f, NULL, NULL, 0.0f);
    ck_assert(!mem_fault_fired());
    mem_fault_arm(0);
    ck_assert_double_gt(first, 3.5);
    ck_assert_double_lt(first, 5.5);
    ck_assert_double_lt(second, first);
    mem_free(w);
    model_ws_free(ws);
}
END_TEST

Suite *
net_memory_suite(void)
{
    Suite *s = suite_create("net_memory");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, workspace_matches_layer_shapes, 0,
                        (int)(sizeof nm_cases / sizeof nm_cases[0]));
    tcase_add_test(tc, lstm_step_allocates_nothing);
    suite_add_tcase(s, tc);
    return s;
}
