/*
 * model: classifiers over one contiguous parameter vector.
 *
 * A dense model is a chain of dense layers, ReLU between them and softmax cross-entropy on
 * top: no hidden layer is multinomial logistic regression, hidden layers make an MLP. A
 * convolutional model (arch MODEL_ARCH_CNN) runs conv blocks first (clients/net.h: each a
 * same-padded convolution, optional group normalisation, ReLU and 2x2 max pooling), then
 * the same dense layers. A recurrent model (MODEL_ARCH_LSTM, MODEL_ARCH_GRU) reads each row
 * as n_inputs token indices: embedding, stacked recurrent layers of the hidden widths, and
 * a dense layer on the last step's state. The parameters of all layers live in one float vector
 * (layer by layer: W_l row-major [out x in], then b_l; clients/layer.h for the other kinds), so a
 * codec can take a model or an update as a plain vector.
 *
 * struct model_spec is a value type describing the shape. struct model_ws is a workspace
 * for batches of up to max_batch rows (activations and gradients), made once per thread
 * with model_ws_new(); model_sgd_step() and model_eval_batch() allocate nothing. The
 * parameter vector is borrowed. Dense algebra runs on CBLAS (OpenBLAS); with one BLAS
 * thread results are a pure function of the inputs, so training is deterministic.
 */
#ifndef FEDBITS_CLIENTS_MODEL_H
#define FEDBITS_CLIENTS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

#define MODEL_MAX_HIDDEN 8
#define MODEL_MAX_CONV   4

enum model_arch {
    MODEL_ARCH_DENSE = 0, /* logistic regression or MLP */
    MODEL_ARCH_CNN = 1,   /* conv blocks, then the dense layers */
    MODEL_ARCH_LSTM = 2,  /* embedding, LSTM layers of the hidden widths, dense on the last step */
    MODEL_ARCH_GRU = 3,   /* the same with GRU layers */
};

struct model_spec {
    size_t n_inputs;
    size_t n_classes;
    size_t n_hidden;                 /* 0 = logistic regression */
    size_t hidden[MODEL_MAX_HIDDEN]; /* widths of the hidden layers */
    enum model_arch arch;            /* MODEL_ARCH_DENSE unless set */
    size_t shape[3];                 /* cnn: channels, height, width (product n_inputs) */
    size_t n_conv;                   /* cnn: conv blocks */
    size_t conv[MODEL_MAX_CONV];     /* cnn: output channels of each block */
    size_t kernel;                   /* cnn: odd square kernel */
    size_t groups;                   /* cnn: group-norm groups per block, 0 for none */
    size_t embed;                    /* lstm, gru: embedding width (inputs are token indices) */
    size_t vocab;                    /* lstm, gru: vocabulary, 0 = n_classes */
};

struct model_ws;

/* Shape */
/* -ERR_INVALID for an empty layer, too many layers or an overflowing size. */
int model_spec_check(const struct model_spec *s, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Number of parameters (weights and biases of every layer). */
size_t model_param_count(const struct model_spec *s);

/*
 * Initial parameters: zeros for logistic regression (as in FedProx); for an MLP, weights
 * uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot) and zero biases, drawn from r; for a
 * CNN, layer_init_params() of clients/layer.h layer by layer.
 */
void model_init_params(const struct model_spec *s, float *w, struct rng *r);

/* Workspace */
/* Returns an owned workspace (free with model_ws_free), or NULL if out of memory. */
struct model_ws *model_ws_new(const struct model_spec *s, size_t max_batch);
void model_ws_free(struct model_ws *ws);
/* Bytes the workspace holds (activations, gradients, scratch): bounded by the shape. */
size_t model_ws_bytes(const struct model_ws *ws);

/* Training and evaluation on one batch of n <= max_batch rows (x row-major, n x inputs) */
/*
 * One SGD step on the mean softmax cross-entropy of the batch plus (l2 / 2) * ||W||^2 over
 * the weights (not biases; a CNN decays every parameter): w -= lr * grad. When vel is not NULL it
 * is the momentum buffer (same length as w): vel = momentum * vel + grad, w -= lr * vel. When
 * prox_center is not NULL the FedProx term (mu / 2) * ||w - prox_center||^2 is added. Returns the
 * batch's mean cross-entropy before the step.
 */
double model_sgd_step(struct model_ws *ws, float *w, const float *x, const uint16_t *y, size_t n,
                      float lr, float l2, float momentum, float *vel, const float *prox_center,
                      float mu);
/* Adds the batch's summed cross-entropy to *loss_sum and its correct predictions to *correct. */
void model_eval_batch(struct model_ws *ws, const float *w, const float *x, const uint16_t *y,
                      size_t n, double *loss_sum, size_t *correct);

#endif
