/*
 * rnn_step: the per-step kernels of the recurrent layers (layer_lstm.c): the product of a
 * batch's few state rows by the recurrent weights, and the LSTM cell's gate functions and
 * their gradients.
 *
 * At the batch sizes of local training (about 10 rows) a BLAS library spends most of such a
 * product packing the weights, once per time step; here the weights are packed once per pass
 * over the sequence, and the kernels keep a block of rows x 64 columns of sums in registers. The
 * gate functions use one exponential of their own (below), vectorised, instead of the C library's
 * expf/tanhf.
 *
 * Every path (AVX-512F, AVX2 with FMA, portable C; chosen at run time) computes the same
 * operations in the same order, so results are bit-identical whatever the CPU:
 *   - product, per output element: acc = (the old value, or 0), then acc = fma(a[r], b[r], acc)
 *     over r in increasing order;
 *   - exp(x), x clamped to [-87, 88] (NaN stays NaN): n = x log2(e) rounded to nearest,
 *     r = x - n ln 2 in two fused steps (Cody and Waite, "Software Manual for the Elementary
 *     Functions", 1980, ch. 6), the degree-7 Taylor polynomial of e^r by Horner's rule in
 *     fused multiply-adds, times 2^n built in the exponent field (|r| <= ln 2 / 2, so the
 *     polynomial's relative error is about 1e-8; on every 97th float of [-87, 88] the result
 *     is within 0.92 ulp of e^x);
 *   - sigmoid(x) = 1 / (1 + exp(-x)), tanh(x) = 1 - 2 / (1 + exp(2x)) (absolute errors at
 *     most 9e-8 and 1.8e-7 on [-40, 40]; tests/unit/clients/test_rnn_step.c checks 2e-7);
 *   - the cell (forward and backward) in the expressions of layer_lstm.c, operation by
 *     operation, with no contraction.
 * Nothing is allocated; the caller owns every buffer.
 */
#ifndef FEDBITS_CLIENTS_RNN_STEP_H
#define FEDBITS_CLIENTS_RNN_STEP_H

#include <stddef.h>

#include "clients/kernel_isa.h"

/*
 * A depth x cols matrix b, element (r, c) at b[r rs + c cs], packed for rnn_step_product():
 * panels of 64 columns one after the other (the last one padded with zeros), each depth rows
 * of 64 floats. packed holds rnn_step_packed_floats(depth, cols) floats.
 */
size_t rnn_step_packed_floats(size_t depth, size_t cols);
void rnn_step_pack(const float *b, size_t rs, size_t cs, size_t depth, size_t cols, float *packed);

/*
 * out[i][c] = (accumulate ? out[i][c] : 0) + sum over r < depth of a[i][r] b[r][c], for
 * i < rows and c < cols, b packed by rnn_step_pack(); rows of a and out lie lda and ldo floats
 * apart.
 */
void rnn_step_product(size_t rows, size_t cols, size_t depth, const float *a, size_t lda,
                      const float *packed, float *out, size_t ldo, int accumulate,
                      enum kernel_isa max);

/*
 * The LSTM cell of one sample at one step: g [4H] holds the pre-activations of the input,
 * forget, candidate and output blocks on entry and their activations (sigmoid, sigmoid,
 * tanh, sigmoid) on return; c = f cp + i g, h = o tanh(c).
 */
void rnn_step_lstm_cell(float *g, const float *cp, float *c, float *h, size_t H,
                        enum kernel_isa max);

/*
 * Its gradient: g the activations and cp, c the cells kept by the forward step, dy the
 * gradient arriving at h from above (NULL: none); dh [H] the gradient arriving at h from the
 * next step, dc [H] at c (replaced by the gradient passed on to c_{t-1}); da [4H] receives the
 * gradient of the four pre-activations.
 */
void rnn_step_lstm_cell_grad(const float *g, const float *cp, const float *c, const float *dy,
                             const float *dh, float *dc, float *da, size_t H, enum kernel_isa max);

/* The exponential and the gate functions above, one value (the portable path). */
float rnn_step_exp(float x);
float rnn_step_sigmoid(float x);
float rnn_step_tanh(float x);

#endif
