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
 * is then one sgemm over the batch (the samples' rows lie l->saved floats apart). The
 * backward pass keeps the gate gradients of every step so that the weight gradient is two
 * sgemm per sample over the whole sequence.
 */
#include "clients/layer.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "base/banned.h"

static float
layer_lstm_sigmoid(float a)
{
    return 1.0f / (1.0f + expf(-a));
}

void
layer_lstm_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                   float *saved)
{
    size_t T = l->steps, D = l->in.w, H = l->hidden, G4 = 4 * H, S = l->saved;
    size_t ld = D + H;
    layer_rnn_project(l, 4, w, x, saved, n);
    for (size_t i = 0; i < n; i++)
        memset(saved + i * S + T * G4, 0, H * sizeof *saved); /* c_{-1} */
    for (size_t i = 0; i < n; i++)
        memset(saved + i * S + T * G4 + (T + 1) * H, 0, H * sizeof *saved); /* h_{-1} */
    size_t coff = T * G4, hoff = coff + (T + 1) * H;
    for (size_t t = 0; t < T; t++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)G4, (int)H, 1.0f,
                    saved + hoff + t * H, (int)S, w + D, (int)ld, 1.0f, saved + t * G4, (int)S);
        for (size_t i = 0; i < n; i++) {
            float *g = saved + i * S + t * G4;
            const float *cp = saved + i * S + coff + t * H;
            float *c = saved + i * S + coff + (t + 1) * H;
            float *h = saved + i * S + hoff + (t + 1) * H;
            for (size_t u = 0; u < H; u++) {
                float ig = layer_lstm_sigmoid(g[u]), fg = layer_lstm_sigmoid(g[H + u]);
                float gg = tanhf(g[2 * H + u]), og = layer_lstm_sigmoid(g[3 * H + u]);
                g[u] = ig;
                g[H + u] = fg;
                g[2 * H + u] = gg;
                g[3 * H + u] = og;
                c[u] = fg * cp[u] + ig * gg;
                h[u] = og * tanhf(c[u]);
            }
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
    memset(dh_next, 0, 2 * n * H * sizeof *dh_next);
    for (size_t t = T; t-- > 0;) {
        for (size_t i = 0; i < n; i++) {
            const float *g = saved + i * S + t * G4;
            const float *cp = saved + i * S + coff + t * H;
            const float *c = cp + H;
            const float *dyt =
                l->last_only ? (t + 1 == T ? dy + i * H : NULL) : dy + (i * T + t) * H;
            float *a = da + (i * T + t) * G4, *dhn = dh_next + i * H, *dcn = dc_next + i * H;
            for (size_t u = 0; u < H; u++) {
                float ig = g[u], fg = g[H + u], gg = g[2 * H + u], og = g[3 * H + u];
                float dh = dhn[u] + (dyt != NULL ? dyt[u] : 0.0f);
                float tc = tanhf(c[u]);
                float dc = dh * og * (1.0f - tc * tc) + dcn[u];
                a[u] = dc * gg * ig * (1.0f - ig);
                a[H + u] = dc * cp[u] * fg * (1.0f - fg);
                a[2 * H + u] = dc * ig * (1.0f - gg * gg);
                a[3 * H + u] = dh * tc * og * (1.0f - og);
                dcn[u] = dc * fg;
            }
        }
        if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)H, (int)G4, 1.0f,
                        da + t * G4, (int)(T * G4), w + D, (int)ld, 0.0f, dh_next, (int)H);
    }
    layer_rnn_weight_grads(l, 4, w, da, da, x, saved + hoff, dw, dx, n);
}
