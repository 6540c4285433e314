/* net: layer stacks, their workspace, forward and backward passes. See net.h. */
#include "clients/net.h"

#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

struct net {
    struct net_plan plan;
    size_t max_batch;
    float *act[NET_MAX_LAYERS];   /* act[l]: max_batch x out of layer l */
    float *saved[NET_MAX_LAYERS]; /* saved[l]: max_batch x layer l's saved, or NULL */
    float *grad_a, *grad_b;       /* max_batch x max_size, gradients at layer boundaries */
    float *scratch;
    size_t scratch_floats; /* the largest layer_scratch() at max_batch */
};

/* Appends a layer built by the caller into p->layer[p->n_layers]. */
static int
net_plan_push(struct net_plan *p, int rc)
{
    if (rc < 0)
        return rc;
    const struct layer *l = &p->layer[p->n_layers];
    p->offset[p->n_layers] = p->n_params;
    p->n_params += l->n_params;
    size_t in = layer_shape_size(l->in), out = layer_shape_size(l->out);
    p->max_size = in > p->max_size ? in : p->max_size;
    p->max_size = out > p->max_size ? out : p->max_size;
    p->n_layers++;
    return 0;
}

/* Embedding, recurrent layers (the last keeping only its last step), dense logits. */
static int
net_plan_build_rnn(struct net_plan *p, const struct model_spec *s, struct errbuf *eb)
{
    if (s->n_hidden == 0 || s->n_hidden > MODEL_MAX_HIDDEN || s->n_classes < 2)
        return errbuf_set(eb, -ERR_INVALID,
                          "a recurrent model needs 1 to %d layers and at least two classes",
                          MODEL_MAX_HIDDEN);
    struct layer *l = p->layer;
    size_t vocab = s->vocab != 0 ? s->vocab : s->n_classes;
    int rc = net_plan_push(p, layer_embed_init(&l[0], s->n_inputs, vocab, s->embed, eb));
    enum layer_kind kind = s->arch == MODEL_ARCH_GRU ? LAYER_GRU : LAYER_LSTM;
    for (size_t h = 0; rc == 0 && h < s->n_hidden; h++)
        rc = net_plan_push(
            p, layer_rnn_init(&l[h + 1], kind, l[h].out, s->hidden[h], h + 1 == s->n_hidden, eb));
    if (rc == 0)
        rc = net_plan_push(
            p, layer_dense_init(&l[s->n_hidden + 1], l[s->n_hidden].out, s->n_classes, eb));
    if (rc == 0 && p->n_params > 1000000000)
        return errbuf_set(eb, -ERR_RANGE, "model has %zu parameters, more than 10^9", p->n_params);
    return rc;
}

int
net_plan_build(struct net_plan *p, const struct model_spec *s, struct errbuf *eb)
{
    memset(p, 0, sizeof *p);
    if (s->arch == MODEL_ARCH_LSTM || s->arch == MODEL_ARCH_GRU)
        return net_plan_build_rnn(p, s, eb);
    if (s->n_conv > MODEL_MAX_CONV || s->n_hidden > MODEL_MAX_HIDDEN)
        return errbuf_set(eb, -ERR_INVALID, "at most %d conv blocks and %d hidden layers",
                          MODEL_MAX_CONV, MODEL_MAX_HIDDEN);
    if (s->n_classes < 2)
        return errbuf_set(eb, -ERR_INVALID, "a model needs inputs and at least two classes");
    struct layer_shape at = { s->shape[0], s->shape[1], s->shape[2] };
    if (layer_shape_size(at) == 0 || layer_shape_size(at) != s->n_inputs)
        return errbuf_set(eb, -ERR_INVALID,
                          "cnn: input shape %zu x %zu x %zu does not hold the %zu features", at.c,
                          at.h, at.w, s->n_inputs);
    if (s->kernel % 2 == 0)
        return errbuf_set(eb, -ERR_INVALID, "cnn: same padding needs an odd kernel, not %zu",
                          s->kernel);
    int rc;
    for (size_t b = 0; b < s->n_conv; b++) {
        struct layer *l = p->layer;
        size_t k = p->n_layers;
        if ((rc = net_plan_push(
                 p, layer_conv_init(&l[k], at, s->conv[b], s->kernel, 1, s->kernel / 2, eb))) < 0)
            return rc;
        if (s->groups > 0 &&
            (rc = net_plan_push(p, layer_gnorm_init(&l[k + 1], l[k].out, s->groups, eb))) < 0)
            return rc;
        /* Max pooling commutes with ReLU (both monotone), gradients included: pooling first
         * runs the ReLU on a quarter of the values. */
        k = p->n_layers;
        if ((rc = net_plan_push(p, layer_pool_init(&l[k], LAYER_MAXPOOL, l[k - 1].out, 2, 2, eb))) <
                0 ||
            (rc = net_plan_push(p, layer_relu_init(&l[k + 1], l[k].out, eb))) < 0)
            return rc;
        at = l[k + 1].out;
    }
    for (size_t h = 0; h <= s->n_hidden; h++) {
        struct layer *l = p->layer;
        size_t k = p->n_layers;
        size_t width = h < s->n_hidden ? s->hidden[h] : s->n_classes;
        if ((rc = net_plan_push(p, layer_dense_init(&l[k], at, width, eb))) < 0)
            return rc;
        if (h < s->n_hidden &&
            (rc = net_plan_push(p, layer_relu_init(&l[k + 1], l[k].out, eb))) < 0)
            return rc;
        at = l[k].out;
    }
    if (p->n_params > 1000000000)
        return errbuf_set(eb, -ERR_RANGE, "model has %zu parameters, more than 10^9", p->n_params);
    return 0;
}

void
net_plan_init_params(const struct net_plan *p, float *w, struct rng *r)
{
    for (size_t l = 0; l < p->n_layers; l++)
        layer_init_params(&p->layer[l], w + p->offset[l], r);
}

double
net_plan_forward_macs(const struct net_plan *p)
{
    double macs = 0.0;
    for (size_t l = 0; l < p->n_layers; l++)
        macs += layer_forward_macs(&p->layer[l]);
    return macs;
}

struct net *
net_new(const struct model_spec *s, size_t max_batch)
{
    struct net *net = mem_calloc(1, sizeof *net);
    if (net == NULL)
        return NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (net_plan_build(&net->plan, s, &eb) < 0 || max_batch == 0) {
        mem_free(net);
        return NULL;
    }
    net->max_batch = max_batch;
    const struct net_plan *p = &net->plan;
    for (size_t l = 0; l < p->n_layers; l++) {
        net->act[l] = mem_alloc(max_batch * layer_shape_size(p->layer[l].out) * sizeof(float));
        if (net->act[l] == NULL)
            goto fail;
        if (p->layer[l].saved > 0) {
            net->saved[l] = mem_alloc(max_batch * p->layer[l].saved * sizeof(float));
            if (net->saved[l] == NULL)
                goto fail;
        }
    }
    net->grad_a = mem_alloc(max_batch * p->max_size * sizeof(float));
    net->grad_b = mem_alloc(max_batch * p->max_size * sizeof(float));
    for (size_t l = 0; l < p->n_layers; l++) {
        size_t f = layer_scratch(&p->layer[l], max_batch);
        net->scratch_floats = f > net->scratch_floats ? f : net->scratch_floats;
    }
    if (net->scratch_floats == 0)
        net->scratch_floats = 1;
    net->scratch = mem_alloc(net->scratch_floats * sizeof(float));
    if (net->grad_a == NULL || net->grad_b == NULL || net->scratch == NULL)
        goto fail;
    return net;
fail:
    net_free(net);
    return NULL;
}

void
net_free(struct net *net)
{
    if (net == NULL)
        return;
    for (size_t l = 0; l < NET_MAX_LAYERS; l++) {
        mem_free(net->act[l]);
        mem_free(net->saved[l]);
    }
    mem_free(net->grad_a);
    mem_free(net->grad_b);
    mem_free(net->scratch);
    mem_free(net);
}

size_t
net_bytes(const struct net *net)
{
    const struct net_plan *p = &net->plan;
    size_t floats = 2 * net->max_batch * p->max_size + net->scratch_floats;
    for (size_t l = 0; l < p->n_layers; l++)
        floats += net->max_batch * (layer_shape_size(p->layer[l].out) + p->layer[l].saved);
    return floats * sizeof(float) + sizeof *net;
}

const float *
net_forward(struct net *net, const float *w, const float *x, size_t n)
{
    const struct net_plan *p = &net->plan;
    const float *in = x;
    for (size_t l = 0; l < p->n_layers; l++) {
        layer_forward(&p->layer[l], w + p->offset[l], in, net->act[l], n, net->saved[l],
                      net->scratch);
        in = net->act[l];
    }
    return in;
}

/*
 * The backward pass; with upd (the same vector as w) not NULL, each layer's parameters take
 * their SGD step once the gradient at the layer's input is computed.
 */
static void
net_backward_run(struct net *net, const float *w, float *upd, const float *x, const float *dlogits,
                 float lr, float l2, float *grad, size_t n)
{
    const struct net_plan *p = &net->plan;
    const float *dy = dlogits;
    for (size_t l = p->n_layers; l-- > 0;) {
        const struct layer *ly = &p->layer[l];
        const float *in = l == 0 ? x : net->act[l - 1];
        float *dx = l == 0 ? NULL : dy == net->grad_a ? net->grad_b : net->grad_a;
        float *gl = grad + p->offset[l];
        if (upd != NULL && ly->kind == LAYER_DENSE) {
            layer_dense_backward_sgd(ly, upd + p->offset[l], in, dy, dx, lr, l2, n);
        } else {
            layer_backward(ly, w + p->offset[l], in, net->act[l], dy, dx, gl, n, net->saved[l],
                           net->scratch);
            for (size_t i = 0; upd != NULL && i < ly->n_params; i++) {
                float *wl = upd + p->offset[l];
                wl[i] -= lr * (gl[i] + l2 * wl[i]);
            }
        }
        dy = dx;
    }
}

void
net_backward_sgd(struct net *net, float *w, const float *x, const float *dlogits, float lr,
                 float l2, float *grad, size_t n)
{
    net_backward_run(net, w, w, x, dlogits, lr, l2, grad, n);
}

void
net_backward(struct net *net, const float *w, const float *x, const float *dlogits, float *grad,
             size_t n)
{
    net_backward_run(net, w, NULL, x, dlogits, 0.0f, 0.0f, grad, n);
}
