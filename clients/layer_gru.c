/*
 * layer_gru: gated recurrent unit over a sequence (Cho et al., "Learning Phrase
 * Representations using RNN Encoder-Decoder", EMNLP 2014, §2.3), trained by full
 * backpropagation through time. See layer.h.
 *
 * The reset gate multiplies the recurrent product of the candidate (the form cuDNN and the
 * common frameworks use, which lets one product per step compute all three recurrent
 * products, clients/rnn_step.h): with Wx, Wh the input and recurrent columns of W
 * [3H x (D + H)],
 *   r = sigma(Wx_r x + b_r + Wh_r h'),  z = sigma(Wx_z x + b_z + Wh_z h'),
 *   m = tanh(Wx_m x + b_m + r (Wh_m h' + bh)),  h = (1 - z) m + z h',
 * h' the previous state (zero before the first step). Parameters: W, b [3H], bh [H].
 */
#include "clients/layer.h"

#include <math.h>
#include <string.h>

#include "clients/rnn_step.h"

#include "base/banned.h"

static float
layer_gru_sigmoid(float a)
{
    return 1.0f / (1.0f + expf(-a));
}

/* Saved per sample: gates g [T x 3H] (r, z, m), recurrent products p [T x 3H] (the m block
 * with bh added), states h [(T + 1) x H] (row 0 zero). */
void
layer_gru_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n,
                  float *saved, float *scratch)
{
    size_t T = l->steps, D = l->in.w, H = l->hidden, G3 = 3 * H, S = l->saved;
    size_t ld = D + H, poff = T * G3, hoff = 2 * T * G3;
    const float *bh = w + G3 * (ld + 1);
    float *wt = scratch; /* wt[k][j] = W[j][D + k], packed */
    rnn_step_pack(w + D, 1, ld, H, G3, wt);
    layer_rnn_project(l, 3, w, x, saved, n);
    for (size_t i = 0; i < n; i++)
        memset(saved + i * S + hoff, 0, H * sizeof *saved); /* h_{-1} */
    for (size_t t = 0; t < T; t++) {
        rnn_step_product(n, G3, H, saved + hoff + t * H, S, wt, saved + poff + t * G3, S, 0,
                         KERNEL_ISA_BEST);
        for (size_t i = 0; i < n; i++) {
            float *g = saved + i * S + t * G3, *p = saved + i * S + poff + t * G3;
            const float *hp = saved + i * S + hoff + t * H;
            float *h = saved + i * S + hoff + (t + 1) * H;
            for (size_t u = 0; u < H; u++) {
                p[2 * H + u] += bh[u];
                float r = layer_gru_sigmoid(g[u] + p[u]);
                float z = layer_gru_sigmoid(g[H + u] + p[H + u]);
                float m = tanhf(g[2 * H + u] + r * p[2 * H + u]);
                g[u] = r;
                g[H + u] = z;
                g[2 * H + u] = m;
                h[u] = (1.0f - z) * m + z * hp[u];
            }
            layer_rnn_emit(l, h, y, i, t);
        }
    }
}

/* Scratch: input-side gate gradients ax [n][T][3H], recurrent-side ah [n][T][3H], the state
 * gradient [n x H] (and n H unused), the gathered states [n T x H], the packed weights. */
void
layer_gru_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                   float *dx, float *dw, size_t n, const float *saved, float *scratch)
{
    size_t T = l->steps, D = l->in.w, H = l->hidden, G3 = 3 * H, S = l->saved;
    size_t ld = D + H, poff = T * G3, hoff = 2 * T * G3;
    float *ax = scratch, *ah = ax + n * T * G3, *dh_next = ah + n * T * G3;
    float *wp = scratch + n * l->scratch; /* the recurrent columns of W, packed */
    rnn_step_pack(w + D, ld, 1, G3, H, wp);
    memset(dh_next, 0, n * H * sizeof *dh_next);
    for (size_t t = T; t-- > 0;) {
        for (size_t i = 0; i < n; i++) {
            const float *g = saved + i * S + t * G3, *p = saved + i * S + poff + t * G3;
            const float *hp = saved + i * S + hoff + t * H;
            const float *dyt =
                l->last_only ? (t + 1 == T ? dy + i * H : NULL) : dy + (i * T + t) * H;
            float *a = ax + (i * T + t) * G3, *q = ah + (i * T + t) * G3;
            float *dhn = dh_next + i * H;
            for (size_t u = 0; u < H; u++) {
                float r = g[u], z = g[H + u], m = g[2 * H + u];
                float dh = dhn[u] + (dyt != NULL ? dyt[u] : 0.0f);
                float dm = dh * (1.0f - z) * (1.0f - m * m);
                float dr = dm * p[2 * H + u] * r * (1.0f - r);
                float dz = dh * (hp[u] - m) * z * (1.0f - z);
                a[u] = q[u] = dr;
                a[H + u] = q[H + u] = dz;
                a[2 * H + u] = dm;
                q[2 * H + u] = dm * r;
                dhn[u] = dh * z;
            }
        }
        if (t > 0)
            rnn_step_product(n, H, G3, ah + t * G3, T * G3, wp, dh_next, H, 1, KERNEL_ISA_BEST);
    }
    layer_rnn_weight_grads(l, 3, w, ax, ah, x, saved + hoff, dw, dx, n, dh_next + 2 * n * H);
    float *dbh = dw + G3 * (ld + 1);
    memset(dbh, 0, H * sizeof *dbh);
    for (size_t r = 0; r < n * T; r++)
        for (size_t u = 0; u < H; u++)
            dbh[u] += ah[r * G3 + 2 * H + u];
}
