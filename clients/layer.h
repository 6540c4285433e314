/*
 * layer: the building blocks of the convolutional models, forward and backward.
 *
 * A struct layer is a value type that describes one layer: its kind, the shape of one
 * input and one output sample (channels x height x width, row-major, NCHW for a batch), the
 * number of parameters it owns and the scratch it needs. It holds no buffers: parameters,
 * activations, gradients and scratch are borrowed from the caller (clients/net.h), so a
 * layer can be shared by any number of threads and a training step allocates nothing.
 *
 * Every kind is a pure function of its inputs: layer_forward(w, x) -> y and
 * layer_backward(w, x, y, dy) -> (dx, dw), where dw is overwritten with the gradient of the
 * batch (summed over the samples) and dx may be NULL when the input needs no gradient (the
 * first layer). The recurrent kinds keep l->saved floats per sample (gate activations, cell
 * states) from layer_forward() for layer_backward(), in a buffer the caller passes to both;
 * other kinds ignore it. Dense algebra runs on CBLAS with one thread; every loop has a fixed order,
 * so results are bit-identical from run to run. Flattening a C x H x W output for a dense layer is
 * the identity on this layout and needs no layer.
 *
 * Kinds, one source file each:
 *   - dense (layer_dense.c): y = x W^T + b, W row-major [out x in], then b.
 *   - conv (layer_conv.c): 2-D cross-correlation with square kernel, stride and zero padding,
 *     through im2col and sgemm (Chellapilla, Puri and Simard, 2006), or direct kernels for
 *     stride 1 (layer_conv_direct.c); W [out_c x in_c x k x k], then b [out_c].
 *   - max and average pooling (layer_pool.c): square windows, no padding, floor size; max
 *     routes the gradient to the first maximum of its window.
 *   - relu (layer_relu.c): max(x, 0), gradient 0 at 0.
 *   - group normalisation (layer_gnorm.c; Wu and He, ECCV 2018, eq. 1-3 with the per-channel
 *     affine of §3.1): channels split in `groups` groups normalised per sample with the
 *     biased variance and eps = 1e-5; parameters gamma [c] then beta [c].
 *   - embedding (layer_embed.c): a row of T token indices (stored as floats, clamped to the
 *     vocabulary) becomes T x dim vectors; parameters the table [vocab x dim].
 *   - LSTM (layer_lstm.c; Hochreiter and Schmidhuber, 1997, with the forget gate of Gers,
 *     Schmidhuber and Cummins, 2000) and GRU (layer_gru.c; Cho et al., EMNLP 2014) over T
 *     steps of `in.w` features (in = {1, T, D}), zero initial state, full backpropagation
 *     through time; output every step's state {1, T, H} or only the last {H, 1, 1}.
 */
#ifndef FEDBITS_CLIENTS_LAYER_H
#define FEDBITS_CLIENTS_LAYER_H

#include <stddef.h>

#include "base/errbuf.h"
#include "base/rng.h"

enum layer_kind {
    LAYER_DENSE = 0,
    LAYER_CONV,
    LAYER_MAXPOOL,
    LAYER_AVGPOOL,
    LAYER_RELU,
    LAYER_GNORM,
    LAYER_EMBED,
    LAYER_LSTM,
    LAYER_GRU,
};

/* Shape of one sample: c channels of h x w (a vector of n is c = n, h = w = 1). */
struct layer_shape {
    size_t c, h, w;
};

struct layer {
    enum layer_kind kind;
    struct layer_shape in, out;
    size_t kernel, stride, pad; /* conv, pools */
    size_t groups;              /* group normalisation */
    size_t steps, hidden;       /* recurrent: sequence length and state width */
    int last_only;              /* recurrent: output only the last step's state */
    size_t n_params;            /* parameters, in the layout of its kind */
    size_t scratch;             /* floats of scratch per sample of a batch */
    size_t scratch_fixed;       /* plus floats of scratch whatever the batch size */
    size_t saved;               /* floats per sample the forward pass keeps for backward */
};

/* Construction: each checks its arguments (-ERR_INVALID, -ERR_RANGE) and fills *l. */
int layer_dense_init(struct layer *l, struct layer_shape in, size_t out, struct errbuf *eb)
    __attribute__((warn_unused_result));
int layer_conv_init(struct layer *l, struct layer_shape in, size_t out_c, size_t kernel,
                    size_t stride, size_t pad, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* kind is LAYER_MAXPOOL or LAYER_AVGPOOL; the input must hold at least one window. */
int layer_pool_init(struct layer *l, enum layer_kind kind, struct layer_shape in, size_t kernel,
                    size_t stride, struct errbuf *eb) __attribute__((warn_unused_result));
int layer_relu_init(struct layer *l, struct layer_shape in, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* groups must divide the channel count. */
int layer_gnorm_init(struct layer *l, struct layer_shape in, size_t groups, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* steps tokens per sample, vocab >= 1 rows of dim floats. */
int layer_embed_init(struct layer *l, size_t steps, size_t vocab, size_t dim, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* kind LAYER_LSTM or LAYER_GRU over in = {1, T, D}, hidden width H. */
int layer_rnn_init(struct layer *l, enum layer_kind kind, struct layer_shape in, size_t hidden,
                   int last_only, struct errbuf *eb) __attribute__((warn_unused_result));

/* Floats of one sample's input or output. */
size_t layer_shape_size(struct layer_shape s);
/* Floats of scratch a pass of n samples needs: n * l->scratch + l->scratch_fixed. */
size_t layer_scratch(const struct layer *l, size_t n);

/*
 * Initial parameters drawn from r: dense and conv weights and biases uniform in
 * +-1/sqrt(fan_in) (LeCun et al., "Efficient BackProp", 1998, §4.6); group normalisation
 * gamma = 1, beta = 0. Kinds without parameters draw nothing.
 */
void layer_init_params(const struct layer *l, float *w, struct rng *r);

/*
 * Forward pass of n samples: x is n x in, y is n x out (distinct buffers); scratch holds
 * layer_scratch(l, n) floats.
 */
void layer_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                   float *saved, float *scratch);
/*
 * Backward pass of n samples given x, y and saved of the forward pass and dy (n x out):
 * writes dx (n x in, unless NULL) and dw (l->n_params floats, the gradient summed over the
 * batch).
 */
void layer_backward(const struct layer *l, const float *w, const float *x, const float *y,
                    const float *dy, float *dx, float *dw, size_t n, const float *saved,
                    float *scratch);

/* Multiply-adds of a forward pass of one sample (for benchmarks' FLOP counts). */
double layer_forward_macs(const struct layer *l);

/* Shared by the recurrent kinds (G = gates x hidden columns of W, b right after W). */
/* Input products of every step, out_i [T x G] = x_i Wx^T + b, out_i at out + i * l->saved. */
void layer_rnn_project(const struct layer *l, size_t gates, const float *w, const float *x,
                       float *out, size_t n);
/* Copies sample i's state h after step t into y when the layer outputs that step. */
void layer_rnn_emit(const struct layer *l, const float *h, float *y, size_t i, size_t t);
/*
 * Weight gradients from the gate gradients of every step: dWx from ax [n][T][G] and x, dWh
 * from ah and the previous states (h_i rows 0..T-1 at hprev + i * l->saved, gathered into
 * hcat [n T x H]), db from ax; dx (unless NULL) = ax Wx. Each is one product over all n T
 * rows of the batch.
 */
void layer_rnn_weight_grads(const struct layer *l, size_t gates, const float *w, const float *ax,
                            const float *ah, const float *x, const float *hprev, float *dw,
                            float *dx, size_t n, float *hcat);

/* The kinds' passes, called through layer_forward()/layer_backward(). */
void layer_dense_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n);
void layer_dense_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                          float *dx, float *dw, size_t n);
/*
 * The dense backward pass fused with an SGD step: dx (unless NULL) from the weights before
 * the step, then w = (1 - lr l2) w - lr dw straight from the weight-gradient sgemm, so the
 * gradient of the largest layers is never stored.
 */
void layer_dense_backward_sgd(const struct layer *l, float *w, const float *x, const float *dy,
                              float *dx, float lr, float l2, size_t n);
void layer_conv_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                        float *scratch);
void layer_conv_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                         float *dx, float *dw, size_t n, float *scratch);
/* The im2col + sgemm passes whatever the layer (layer_conv_forward() and _backward() run the
 * direct kernels of clients/layer_conv_direct.h where they apply); same scratch. */
void layer_conv_forward_im2col(const struct layer *l, const float *w, const float *x, float *y,
                               size_t n, float *scratch);
void layer_conv_backward_im2col(const struct layer *l, const float *w, const float *x,
                                const float *dy, float *dx, float *dw, size_t n, float *scratch);
void layer_pool_forward(const struct layer *l, const float *x, float *y, size_t n);
void layer_pool_backward(const struct layer *l, const float *x, const float *y, const float *dy,
                         float *dx, size_t n);
void layer_relu_forward(const struct layer *l, const float *x, float *y, size_t n);
void layer_relu_backward(const struct layer *l, const float *y, const float *dy, float *dx,
                         size_t n);
void layer_gnorm_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n);
void layer_gnorm_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                          float *dx, float *dw, size_t n);
void layer_embed_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n);
void layer_embed_backward(const struct layer *l, const float *x, const float *dy, float *dx,
                          float *dw, size_t n);
void layer_lstm_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                        float *saved, float *scratch);
void layer_lstm_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                         float *dx, float *dw, size_t n, const float *saved, float *scratch);
void layer_gru_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                       float *saved, float *scratch);
void layer_gru_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                        float *dx, float *dw, size_t n, const float *saved, float *scratch);

#endif
