/* model: dense layers, ReLU, softmax cross-entropy, SGD on CBLAS. See model.h. */
#include "clients/model.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/mem.h"
#include "clients/net.h"
#include "base/banned.h"

struct model_ws {
    struct model_spec spec;
    size_t n_layers;                    /* n_hidden + 1 */
    size_t width[MODEL_MAX_HIDDEN + 2]; /* width[0] = inputs ... width[n_layers] = classes */
    size_t max_batch;
    float *act[MODEL_MAX_HIDDEN + 2];   /* act[l]: max_batch x width[l]; act[0] unused */
    float *delta[MODEL_MAX_HIDDEN + 2]; /* gradient w.r.t. pre-activation of layer l */
    float *grad;                        /* parameter gradient (momentum / prox paths) */
    struct net *net;                    /* CNN and recurrent: the layer stack */
    float *dlogits;                     /* CNN and recurrent: max_batch x classes */
};

static size_t
model_layer_widths(const struct model_spec *s, size_t *width)
{
    width[0] = s->n_inputs;
    for (size_t l = 0; l < s->n_hidden; l++)
        width[l + 1] = s->hidden[l];
    width[s->n_hidden + 1] = s->n_classes;
    return s->n_hidden + 1;
}

int
model_spec_check(const struct model_spec *s, struct errbuf *eb)
{
    if (s->arch != MODEL_ARCH_DENSE) {
        struct net_plan p;
        return net_plan_build(&p, s, eb);
    }
    if (s->n_hidden > MODEL_MAX_HIDDEN)
        return errbuf_set(eb, -ERR_INVALID, "at most %d hidden layers are supported",
                          MODEL_MAX_HIDDEN);
    if (s->n_inputs == 0 || s->n_classes < 2)
        return errbuf_set(eb, -ERR_INVALID, "a model needs inputs and at least two classes");
    size_t width[MODEL_MAX_HIDDEN + 2];
    size_t layers = model_layer_widths(s, width);
    double total = 0;
    for (size_t l = 1; l <= layers; l++) {
        if (width[l] == 0)
            return errbuf_set(eb, -ERR_INVALID, "hidden layer %zu has no units", l);
        total += (double)width[l] * ((double)width[l - 1] + 1.0);
    }
    if (total > 1e9)
        return errbuf_set(eb, -ERR_RANGE, "model has %.0f parameters, more than 10^9", total);
    return 0;
}

size_t
model_param_count(const struct model_spec *s)
{
    if (s->arch != MODEL_ARCH_DENSE) {
        struct net_plan p;
        struct errbuf eb;
        errbuf_clear(&eb);
        return net_plan_build(&p, s, &eb) < 0 ? 0 : p.n_params;
    }
    size_t width[MODEL_MAX_HIDDEN + 2];
    size_t layers = model_layer_widths(s, width);
    size_t total = 0;
    for (size_t l = 1; l <= layers; l++)
        total += width[l] * (width[l - 1] + 1);
    return total;
}

void
model_init_params(const struct model_spec *s, float *w, struct rng *r)
{
    if (s->arch != MODEL_ARCH_DENSE) {
        struct net_plan p;
        struct errbuf eb;
        errbuf_clear(&eb);
        if (net_plan_build(&p, s, &eb) == 0)
            net_plan_init_params(&p, w, r);
        return;
    }
    size_t width[MODEL_MAX_HIDDEN + 2];
    size_t layers = model_layer_widths(s, width);
    size_t at = 0;
    for (size_t l = 1; l <= layers; l++) {
        size_t nw = width[l] * width[l - 1];
        double a = layers == 1 ? 0.0 : sqrt(6.0 / (double)(width[l] + width[l - 1]));
        for (size_t i = 0; i < nw; i++)
            w[at + i] = a == 0.0 ? 0.0f : (float)((2.0 * rng_uniform(r) - 1.0) * a);
        at += nw;
        memset(w + at, 0, width[l] * sizeof *w);
        at += width[l];
    }
}

struct model_ws *
model_ws_new(const struct model_spec *s, size_t max_batch)
{
    struct model_ws *ws = mem_calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->spec = *s;
    ws->max_batch = max_batch;
    if (s->arch != MODEL_ARCH_DENSE) {
        ws->net = net_new(s, max_batch);
        ws->dlogits = mem_alloc(max_batch * s->n_classes * sizeof(float));
        ws->grad = mem_alloc(model_param_count(s) * sizeof(float));
        if (ws->net == NULL || ws->dlogits == NULL || ws->grad == NULL)
            goto fail;
        return ws;
    }
    ws->n_layers = model_layer_widths(s, ws->width);
    for (size_t l = 1; l <= ws->n_layers; l++) {
        ws->act[l] = mem_alloc(max_batch * ws->width[l] * sizeof(float));
        ws->delta[l] = mem_alloc(max_batch * ws->width[l] * sizeof(float));
        if (ws->act[l] == NULL || ws->delta[l] == NULL)
            goto fail;
    }
    ws->grad = mem_alloc(model_param_count(s) * sizeof(float));
    if (ws->grad == NULL)
        goto fail;
    return ws;
fail:
    model_ws_free(ws);
    return NULL;
}

void
model_ws_free(struct model_ws *ws)
{
    if (ws == NULL)
        return;
    for (size_t l = 0; l < MODEL_MAX_HIDDEN + 2; l++) {
        mem_free(ws->act[l]);
        mem_free(ws->delta[l]);
    }
    mem_free(ws->grad);
    net_free(ws->net);
    mem_free(ws->dlogits);
    mem_free(ws);
}

size_t
model_ws_bytes(const struct model_ws *ws)
{
    size_t floats = model_param_count(&ws->spec);
    if (ws->net != NULL)
        return net_bytes(ws->net) + (floats + ws->max_batch * ws->spec.n_classes) * sizeof(float);
    for (size_t l = 1; l <= ws->n_layers; l++)
        floats += 2 * ws->max_batch * ws->width[l];
    return floats * sizeof(float) + sizeof *ws;
}

/* Forward pass: act[l] = relu(act[l-1] W_l^T + b_l) for hidden layers, logits on top. */
static void
model_forward(struct model_ws *ws, const float *w, const float *x, size_t n)
{
    const float *in = x;
    size_t at = 0;
    for (size_t l = 1; l <= ws->n_layers; l++) {
        size_t fan_in = ws->width[l - 1], fan_out = ws->width[l];
        const float *wl = w + at;
        const float *bl = wl + fan_out * fan_in;
        float *out = ws->act[l];
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * fan_out, bl, fan_out * sizeof *out);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)fan_out, (int)fan_in,
                    1.0f, in, (int)fan_in, wl, (int)fan_in, 1.0f, out, (int)fan_out);
        if (l < ws->n_layers) {
            for (size_t i = 0; i < n * fan_out; i++)
                out[i] = out[i] > 0.0f ? out[i] : 0.0f; /* ReLU */
        }
        in = out;
        at += fan_out * (fan_in + 1);
    }
}

/*
 * Softmax cross-entropy on the logits of row i: writes the probabilities into p (may alias
 * logits) and returns -log p[y].
 */
static double
model_softmax_xent(const float *logits, float *p, size_t classes, uint16_t y)
{
    float mx = logits[0];
    for (size_t c = 1; c < classes; c++)
        mx = logits[c] > mx ? logits[c] : mx;
    double z = 0;
    for (size_t c = 0; c < classes; c++)
        z += exp((double)(logits[c] - mx));
    double logz = log(z) + (double)mx;
    double loss = logz - (double)logits[y];
    for (size_t c = 0; c < classes; c++)
        p[c] = (float)exp((double)logits[c] - logz);
    return loss;
}

/* w -= lr * g after the proximal term and momentum, g holding the loss gradient. */
static void
model_apply_grad(float *g, size_t total, float *w, float lr, float momentum, float *vel,
                 const float *prox_center, float mu)
{
    if (prox_center != NULL) {
        for (size_t i = 0; i < total; i++)
            g[i] += mu * (w[i] - prox_center[i]);
    }
    if (vel != NULL) {
        for (size_t i = 0; i < total; i++) {
            vel[i] = momentum * vel[i] + g[i];
            w[i] -= lr * vel[i];
        }
    } else {
        for (size_t i = 0; i < total; i++)
            w[i] -= lr * g[i];
    }
}

/* The CNN step: softmax gradient at the logits, backward through the net, update. */
static double
model_net_step(struct model_ws *ws, float *w, const float *x, const uint16_t *y, size_t n, float lr,
               float l2, float momentum, float *vel, const float *prox_center, float mu)
{
    size_t classes = ws->spec.n_classes, total = model_param_count(&ws->spec);
    const float *logits = net_forward(ws->net, w, x, n);
    double loss = 0;
    float inv_n = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float *row = ws->dlogits + i * classes;
        loss += model_softmax_xent(logits + i * classes, row, classes, y[i]);
        row[y[i]] -= 1.0f;
        for (size_t c = 0; c < classes; c++)
            row[c] *= inv_n;
    }
    if (vel == NULL && prox_center == NULL) {
        net_backward_sgd(ws->net, w, x, ws->dlogits, lr, l2, ws->grad, n);
        return loss / (double)n;
    }
    net_backward(ws->net, w, x, ws->dlogits, ws->grad, n);
    if (l2 > 0.0f) {
        for (size_t i = 0; i < total; i++)
            ws->grad[i] += l2 * w[i];
    }
    model_apply_grad(ws->grad, total, w, lr, momentum, vel, prox_center, mu);
    return loss / (double)n;
}

double
model_sgd_step(struct model_ws *ws, float *w, const float *x, const uint16_t *y, size_t n, float lr,
               float l2, float momentum, float *vel, const float *prox_center, float mu)
{
    if (ws->net != NULL)
        return model_net_step(ws, w, x, y, n, lr, l2, momentum, vel, prox_center, mu);
    model_forward(ws, w, x, n);
    size_t top = ws->n_layers, classes = ws->width[top];
    float *d = ws->delta[top];
    double loss = 0;
    float inv_n = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float *row = d + i * classes;
        loss += model_softmax_xent(ws->act[top] + i * classes, row, classes, y[i]);
        row[y[i]] -= 1.0f;
        for (size_t c = 0; c < classes; c++)
            row[c] *= inv_n;
    }

    /*
     * Plain SGD fuses the update into the weight-gradient GEMM (alpha = -lr, beta = 1).
     * Momentum and the proximal term need the gradient itself, so that path writes it to
     * ws->grad first and updates afterwards.
     */
    bool fused = vel == NULL && prox_center == NULL;
    size_t total = model_param_count(&ws->spec);
    size_t at = total;
    for (size_t l = top; l >= 1; l--) {
        size_t fan_in = ws->width[l - 1], fan_out = ws->width[l];
        at -= fan_out * (fan_in + 1);
        float *wl = w + at;
        float *bl = wl + fan_out * fan_in;
        const float *in = l == 1 ? x : ws->act[l - 1];
        const float *dl = ws->delta[l];
        if (l > 1) {
            /* Back-propagate through W_l before it changes, then through the ReLU. */
            float *dprev = ws->delta[l - 1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)fan_in,
                        (int)fan_out, 1.0f, dl, (int)fan_out, wl, (int)fan_in, 0.0f, dprev,
                        (int)fan_in);
            const float *a = ws->act[l - 1];
            for (size_t i = 0; i < n * fan_in; i++)
                dprev[i] = a[i] > 0.0f ? dprev[i] : 0.0f; /* ReLU' */
        }
        if (fused) {
            if (l2 > 0.0f)
                cblas_sscal((int)(fan_out * fan_in), 1.0f - lr * l2, wl, 1);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)fan_out, (int)fan_in, (int)n,
                        -lr, dl, (int)fan_out, in, (int)fan_in, 1.0f, wl, (int)fan_in);
            for (size_t i = 0; i < n; i++)
                cblas_saxpy((int)fan_out, -lr, dl + i * fan_out, 1, bl, 1);
        } else {
            float *gw = ws->grad + at;
            float *gb = gw + fan_out * fan_in;
            memcpy(gw, wl, fan_out * fan_in * sizeof *gw);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)fan_out, (int)fan_in, (int)n,
                        1.0f, dl, (int)fan_out, in, (int)fan_in, l2, gw, (int)fan_in);
            memset(gb, 0, fan_out * sizeof *gb);
            for (size_t i = 0; i < n; i++)
                cblas_saxpy((int)fan_out, 1.0f, dl + i * fan_out, 1, gb, 1);
        }
    }
    if (!fused)
        model_apply_grad(ws->grad, total, w, lr, momentum, vel, prox_center, mu);
    return loss / (double)n;
}

void
model_eval_batch(struct model_ws *ws, const float *w, const float *x, const uint16_t *y, size_t n,
                 double *loss_sum, size_t *correct)
{
    size_t classes = ws->spec.n_classes;
    const float *all = NULL;
    float *p = ws->dlogits;
    if (ws->net != NULL) {
        all = net_forward(ws->net, w, x, n);
    } else {
        model_forward(ws, w, x, n);
        all = ws->act[ws->n_layers];
        p = ws->delta[ws->n_layers];
    }
    for (size_t i = 0; i < n; i++) {
        const float *logits = all + i * classes;
        size_t best = 0;
        for (size_t c = 1; c < classes; c++)
            best = logits[c] > logits[best] ? c : best;
        *correct += best == y[i];
        *loss_sum += model_softmax_xent(logits, p + i * classes, classes, y[i]);
    }
}
