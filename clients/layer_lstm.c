/*
 * layer_lstm: long short-term memory over a sequence (Hochreiter and Schmidhuber, Neural
 * Computation 1997, with the forget gate of Gers, Schmidhuber and Cummins, 2000), trained by
 * full backpropagation through time. See layer.h.
 *
 * With a_t = W [x_t; h_{t-1}] + b split into four blocks of H:
 *   i = sigma(a_i), f = sigma(a_f), g = tanh(a_g), o = sigma(a_o),
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t),  h_{-1} = c_{-1} = 0.
 * Parameters: W [4H x (D + H)] (input columns, then recurrent), b [4H].
 *
 * The input products of all steps are one sgemm per sample before the recurrence; each step
 * then multiplies the batch's states by the recurrent weights (rnn_step_product, on a
 * transposed copy of them packed once per pass in scratch) and runs the cell
 * (rnn_step_lstm_cell; the samples' rows lie l->saved floats apart). The backward pass keeps
 * the gate gradients of every step so that the weight gradient is two sgemm over the whole
 * sequence of every sample of the batch; its per-step products run on a packed copy of the weights
 * too.
 */
#include "clients/layer.h"

#include <string.h>

#include "clients/rnn_step.h"

#include "base/banned.h"

void
layer_lstm_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                   float *saved, float *scratch)
{
    size_t T = l->steps, D = l->in.w, H = l->hidden, G4 = 4 * H, S = l->saved;
    size_t ld = D + H;
    float *wt = scratch; /* wt[k][j] = W[j][D + k], packed */
    rnn_step_pack(w + D, 1, ld, H, G4, wt);
    layer_rnn_project(l, 4, w, x, saved, n);
    for (size_t i = 0; i < n; i++)
        memset(saved + i * S + T * G4, 0, H * sizeof *saved); /* c_{-1} */
    for (size_t i = 0; i < n; i++)
        memset(saved + i * S + T * G4 + (T + 1) * H, 0, H * sizeof *saved); /* h_{-1} */
    size_t coff = T * G4, hoff = coff + (T + 1) * H;
    for (size_t t = 0; t < T; t++) {
        rnn_step_product(n, G4, H, saved + hoff + t * H, S, wt, saved + t * G4, S, 1,
                         KERNEL_ISA_BEST);
        for (size_t i = 0; i < n; i++) {
            float *h = saved + i * S + hoff + (t + 1) * H;
            rnn_step_lstm_cell(saved + i * S + t * G4, saved + i * S + coff + t * H,
                               saved + i * S + coff + (t + 1) * H, h, H, KERNEL_ISA_BEST);
            layer_rnn_emit(l, h, y, i, t);
        }
    }
}

void
layer_lstm_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                    float *dx, float *dw, size_t n, const float *saved, float *scratch)
{
    size_t T = l->steps, D = l->in.w, H = l->hidden, G4 = 4 * H, S = l->saved;
    size_t ld = D + H, coff = T * G4, hoff = coff + (T + 1) * H;
    float *da = scratch, *dh_next = da + n * T * G4, *dc_next = dh_next + n * H;
    float *wp = scratch + n * l->scratch; /* the recurrent columns of W, packed */
    rnn_step_pack(w + D, ld, 1, G4, H, wp);
    memset(dh_next, 0, 2 * n * H * sizeof *dh_next);
    for (size_t t = T; t-- > 0;) {
        for (size_t i = 0; i < n; i++) {
            const float *dyt =
                l->last_only ? (t + 1 == T ? dy + i * H : NULL) : dy + (i * T + t) * H;
            rnn_step_lstm_cell_grad(saved + i * S + t * G4, saved + i * S + coff + t * H,
                                    saved + i * S + coff + (t + 1) * H, dyt, dh_next + i * H,
                                    dc_next + i * H, da + (i * T + t) * G4, H, KERNEL_ISA_BEST);
        }
        if (t > 0)
            rnn_step_product(n, H, G4, da + t * G4, T * G4, wp, dh_next, H, 0, KERNEL_ISA_BEST);
    }
    layer_rnn_weight_grads(l, 4, w, da, da, x, saved + hoff, dw, dx, n, dc_next + n * H);
}
