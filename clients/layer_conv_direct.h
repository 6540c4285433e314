/*
 * layer_conv_direct: direct 2-D convolution kernels (stride 1), without im2col.
 *
 * im2col + sgemm (layer_conv.c) multiplies by a matrix of in_c * k * k rows: with the 1 or 3
 * input channels of an image (25 or 75 rows for a 5x5 kernel) the products are too thin for
 * the BLAS library's kernels, and for every layer the unfolding costs a pass over memory.
 * These kernels compute the forward pass of any stride-1 layer, and the weight gradient of
 * layers with at most 4 input channels or a multiple of 16 output channels, straight from the
 * zero-padded input: vectorised over output columns (few input channels) or over output
 * channels (many), on AVX-512 or AVX2 with FMA when the CPU has them (chosen at run time) and
 * in portable C otherwise. The input gradient of many-channel layers is the forward pass of
 * the transposed layer (below); other layers keep layer_conv.c's (W^T dy folded back by
 * col2im; the first layer of a net needs none).
 *
 * Every path computes the same operations in the same order, so results are bit-identical
 * whatever the CPU and independent of the batch split:
 *   - forward, per output element: acc = 0, then acc = fma(w[t], x[t], acc) over the taps t
 *     in (channel, kernel row, kernel column) order, then y = acc + bias;
 *   - weight gradient, at most 4 input channels, per (output channel, tap): 16 lane sums,
 *     lane l taking the output columns j = 16 v + l of every row of every sample (samples,
 *     rows, then v in order, one fma each), then summed as a tree: lanes l + (l + 8), then
 *     + 4, + 2, + 1;
 *   - weight gradient, more input channels, per (output channel, tap): one fma chain from
 *     zero over the samples and their output positions in order (zero terms of dy skipped
 *     when most are zero, which leaves the chain's bits unchanged).
 *
 * Inputs are padded samples xp [in_c x (h + 2 pad) x (w + 2 pad)] (layer_conv.c makes them);
 * nothing is allocated.
 */
#ifndef FEDBITS_CLIENTS_LAYER_CONV_DIRECT_H
#define FEDBITS_CLIENTS_LAYER_CONV_DIRECT_H

#include <stddef.h>

#include "clients/kernel_isa.h"
#include "clients/layer.h"

/* Whether the conv layer l runs its forward pass here (stride 1), and its weight gradient
 * (stride 1, at most 4 input channels or a multiple of 16 output channels). */
int layer_conv_direct_forward_applies(const struct layer *l);
int layer_conv_direct_grad_applies(const struct layer *l);

/*
 * y [n x out_c x out_h x out_w] of n padded samples xp, one after the other; w is the
 * layer's parameters, pack scratch of layer_conv_direct_pack_floats() floats.
 */
void layer_conv_direct_forward(const struct layer *l, const float *w, const float *xp, float *y,
                               size_t n, float *pack, enum kernel_isa max);
/* Floats of the forward pass's packed weights (out_c x in_c k k). */
size_t layer_conv_direct_pack_floats(const struct layer *l);
/*
 * dw [out_c x in_c k k] = the weight gradient summed over n samples: padded inputs one after
 * the other in xp, output gradients dy (n x out); acc is scratch of
 * layer_conv_direct_acc_floats() floats. The bias gradient is not written.
 */
void layer_conv_direct_weight_grad(const struct layer *l, const float *xp, const float *dy,
                                   float *dw, size_t n, float *acc, enum kernel_isa max);
/* Floats of the weight gradient's scratch: lane sums (out_c x in_c k k x 16) for at most 4
 * input channels, else sums and dy^T (out_c x (in_c k k + out_h out_w)). */
size_t layer_conv_direct_acc_floats(const struct layer *l);

/*
 * The input gradient of a stride-1 layer is the forward pass of its transposed layer on dy:
 * dx[c][a][b] = sum over (co, u, v) of wf[c][co][u][v] dy[co][a + u - q][b + v - q], with
 * wf[c][co][u][v] = w[co][c][k-1-u][k-1-v] (input and output channels swapped, the kernel
 * turned by half a turn), q = k - 1 - pad and dy zero outside its plane (Dumoulin and
 * Visin, "A guide to convolution arithmetic for deep learning", 2016, §4, unit strides). So it
 * runs on the forward kernels, and sums per dx element over (co, k-1-ki, k-1-kj) in that
 * order: the same bits on every kernel set.
 *
 * Whether l's input gradient runs that way (stride 1, a multiple of 16 input channels and
 * more than 4 output channels: the shapes of the many-channel forward kernels).
 */
int layer_conv_direct_input_grad_applies(const struct layer *l);
/* The transposed layer of a stride-1 layer l: input l->out, output l->in, padding k-1-pad. */
struct layer layer_conv_direct_transposed(const struct layer *l);
/* wf = the transposed layer's parameters from l's w: the weights above, then in_c zero
 * biases (layer_conv_direct_flip_floats() floats). */
void layer_conv_direct_flip(const struct layer *l, const float *w, float *wf);
size_t layer_conv_direct_flip_floats(const struct layer *l);

/*
 * Sparse output gradients (behind a max pooling, at most a quarter of dy is nonzero): the
 * weight gradient of a layer with a multiple of 16 input channels, and its input gradient,
 * from the nonzero entries of dy alone, with the bits of the dense kernels (a zero term
 * leaves an fma chain unchanged when every operand is finite). Whether they run: stride 1,
 * a multiple of 16 input channels, more than 4 output channels, and at most half of the n
 * samples' dy nonzero (layer_conv_direct_weight_grad() checks it itself).
 */
int layer_conv_direct_sparse(const struct layer *l, const float *dy, size_t n);
/*
 * dx [n x in] from dy [n x out] and the layer's parameters w; scratch of
 * layer_conv_direct_sparse_floats() floats (the weight gradient's acc holds as many).
 */
void layer_conv_direct_input_grad_sparse(const struct layer *l, const float *w, const float *dy,
                                         float *dx, size_t n, float *scratch, enum kernel_isa max);
size_t layer_conv_direct_sparse_floats(const struct layer *l);
/* layer_conv_direct_weight_grad() on the dense kernels whatever dy (to compare the two). */
void layer_conv_direct_weight_grad_dense(const struct layer *l, const float *xp, const float *dy,
                                         float *dw, size_t n, float *acc, enum kernel_isa max);

#endif
