/*
 * net: a feed-forward stack of layers (clients/layer.h) built from a model_spec.
 *
 * A convolutional model_spec becomes, for each conv block b, a convolution with conv[b]
 * output channels, a kernel x kernel window, stride 1 and same padding (kernel / 2), group
 * normalisation when groups > 0, ReLU and 2x2 max pooling with stride 2 (run as pooling then
 * ReLU, which computes the same values and gradients); then the flattened C x H x W output feeds
 * dense layers of the hidden widths, each followed by ReLU, and a dense layer of n_classes logits.
 * With conv = [32, 64], kernel 5 and hidden = [512] this is the CNN of McMahan et al. (AISTATS
 * 2017, §3, "CNN"): 1,663,370 parameters on 28 x 28 x 1 inputs and 10 classes.
 *
 * A recurrent spec (MODEL_ARCH_LSTM, MODEL_ARCH_GRU) becomes an embedding of `embed` floats per
 * token, one LSTM or GRU layer per hidden width (the last keeping only its last step's state)
 * and a dense layer of n_classes logits: with embed 8, hidden [256, 256] and 80 symbols this is
 * the next-character model of LEAF's Shakespeare task (Caldas et al., 2018; McMahan et al.,
 * 2017), 817,872 parameters (one bias vector per gate set). The parameters of the layers are
 * laid out one after the other.
 *
 * struct net_plan is a value type: the layers and their sizes, no buffers. struct net is a
 * workspace for batches of up to max_batch samples (every layer's output and saved state, two
 * gradient buffers, the largest layer's scratch); net_forward() and net_backward() allocate
 * nothing. Parameters are borrowed. One net per thread; results are a pure function of the inputs.
 */
#ifndef FEDBITS_CLIENTS_NET_H
#define FEDBITS_CLIENTS_NET_H

#include <stddef.h>

#include "base/errbuf.h"
#include "base/rng.h"
#include "clients/layer.h"
#include "clients/model.h"

#define NET_MAX_LAYERS (4 * MODEL_MAX_CONV + 2 * MODEL_MAX_HIDDEN + 1)

struct net_plan {
    size_t n_layers;
    struct layer layer[NET_MAX_LAYERS];
    size_t offset[NET_MAX_LAYERS]; /* first parameter of each layer */
    size_t n_params;
    size_t max_size; /* largest per-sample input or output, in floats */
};

struct net;

/*
 * Builds the layers of a MODEL_ARCH_CNN, _LSTM or _GRU spec: -ERR_INVALID for a shape that does not
 * match n_inputs, an even kernel, too many blocks or groups that do not divide a width, and the
 * layers' own errors; -ERR_RANGE above 10^9 parameters.
 */
int net_plan_build(struct net_plan *p, const struct model_spec *s, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Initial parameters, layer by layer (layer_init_params()). */
void net_plan_init_params(const struct net_plan *p, float *w, struct rng *r);
/* Multiply-adds of the forward pass of one sample. */
double net_plan_forward_macs(const struct net_plan *p);

/* Returns an owned workspace (free with net_free), or NULL for a bad spec or out of memory. */
struct net *net_new(const struct model_spec *s, size_t max_batch);
void net_free(struct net *net);
/* Bytes of the workspace's buffers. */
size_t net_bytes(const struct net *net);

/* Forward pass of n <= max_batch samples; returns the n x classes logits (valid until the
 * next call). */
const float *net_forward(struct net *net, const float *w, const float *x, size_t n);
/*
 * Backward pass after net_forward() on the same w, x and n: dlogits (n x classes) is the
 * loss gradient at the logits; writes the parameter gradient into grad (n_params floats).
 */
void net_backward(struct net *net, const float *w, const float *x, const float *dlogits,
                  float *grad, size_t n);
/*
 * The backward pass fused with a plain SGD step on the loss plus (l2 / 2) ||w||^2: each
 * layer's parameters become w - lr (grad + l2 w) as soon as the gradient at its input has
 * been computed (dense layers inside the weight-gradient sgemm, the others from grad, which
 * is scratch of n_params floats). Equal to net_backward() then the step, up to rounding.
 */
void net_backward_sgd(struct net *net, float *w, const float *x, const float *dlogits, float lr,
                      float l2, float *grad, size_t n);

#endif
