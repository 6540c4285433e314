/* layer_pool: max and average pooling over square windows. See layer.h. */
#include "clients/layer.h"

#include <stdint.h>
#include <string.h>

#include "base/banned.h"

int
layer_pool_init(struct layer *l, enum layer_kind kind, struct layer_shape in, size_t kernel,
                size_t stride, struct errbuf *eb)
{
    if (kind != LAYER_MAXPOOL && kind != LAYER_AVGPOOL)
        return errbuf_set(eb, -ERR_INVALID, "pool: not a pooling kind");
    if (layer_shape_size(in) == 0 || kernel == 0 || stride == 0)
        return errbuf_set(eb, -ERR_INVALID, "pool: empty input, window or stride");
    if (in.h < kernel || in.w < kernel)
        return errbuf_set(eb, -ERR_INVALID, "pool: a %zux%zu window does not fit a %zux%zu input",
                          kernel, kernel, in.h, in.w);
    *l = (struct layer){
        .kind = kind,
        .in = in,
        .out = { in.c, (in.h - kernel) / stride + 1, (in.w - kernel) / stride + 1 },
        .kernel = kernel,
        .stride = stride,
    };
    return 0;
}

/* Whether l is 2x2 max pooling with stride 2 whose windows tile the input exactly. */
static int
layer_pool_is_2x2_tiling(const struct layer *l)
{
    return l->kind == LAYER_MAXPOOL && l->kernel == 2 && l->stride == 2 && l->in.h % 2 == 0 &&
           l->in.w % 2 == 0;
}

/* 2x2 max pooling, stride 2, over planes of h x w with even h and w. */
static void
layer_pool_forward_2x2(const float *x, float *y, size_t planes, size_t h, size_t w)
{
    size_t ow = w / 2;
    for (size_t r = 0; r < planes * h / 2; r++) {
        const float *a = x + 2 * r * w, *b = a + w;
        float *dst = y + r * ow;
        for (size_t j = 0; j < ow; j++) {
            float m0 = a[2 * j + 1] > a[2 * j] ? a[2 * j + 1] : a[2 * j];
            float m1 = b[2 * j + 1] > b[2 * j] ? b[2 * j + 1] : b[2 * j];
            dst[j] = m1 > m0 ? m1 : m0;
        }
    }
}

/* Four lanes (GCC and Clang vector extensions) and lane masks. */
typedef float layer_pool_v4 __attribute__((vector_size(16)));
typedef uint32_t layer_pool_u4 __attribute__((vector_size(16)));

/*
 * Its gradient: each window's dy goes to the first of its taps, in row-major order, that
 * holds the maximum, and the other three get zero, so dx needs no clearing. Four windows at a
 * time (the even and odd columns of two rows of eight), then one at a time, with the same
 * masks.
 */
static void
layer_pool_backward_2x2(const float *x, const float *y, const float *dy, float *dx, size_t planes,
                        size_t h, size_t w)
{
    size_t ow = w / 2;
    for (size_t r = 0; r < planes * h / 2; r++) {
        const float *a = x + 2 * r * w, *b = a + w;
        float *da = dx + 2 * r * w, *dbr = da + w;
        const float *yr = y + r * ow, *g = dy + r * ow;
        size_t j = 0;
        for (; j + 4 <= ow; j += 4) {
            layer_pool_v4 a0, a1, b0, b1, m;
            layer_pool_u4 d;
            memcpy(&a0, a + 2 * j, sizeof a0);
            memcpy(&a1, a + 2 * j + 4, sizeof a1);
            memcpy(&b0, b + 2 * j, sizeof b0);
            memcpy(&b1, b + 2 * j + 4, sizeof b1);
            memcpy(&m, yr + j, sizeof m);
            memcpy(&d, g + j, sizeof d);
            layer_pool_u4 t0 = (layer_pool_u4)(__builtin_shufflevector(a0, a1, 0, 2, 4, 6) == m);
            layer_pool_u4 t1 =
                ~t0 & (layer_pool_u4)(__builtin_shufflevector(a0, a1, 1, 3, 5, 7) == m);
            layer_pool_u4 t2 =
                ~(t0 | t1) & (layer_pool_u4)(__builtin_shufflevector(b0, b1, 0, 2, 4, 6) == m);
            layer_pool_u4 v0 = d & t0, v1 = d & t1, v2 = d & t2, v3 = d & ~(t0 | t1 | t2);
            layer_pool_u4 o[4] = { __builtin_shufflevector(v0, v1, 0, 4, 1, 5),
                                   __builtin_shufflevector(v0, v1, 2, 6, 3, 7),
                                   __builtin_shufflevector(v2, v3, 0, 4, 1, 5),
                                   __builtin_shufflevector(v2, v3, 2, 6, 3, 7) };
            memcpy(da + 2 * j, &o[0], 2 * sizeof o[0]);
            memcpy(dbr + 2 * j, &o[2], 2 * sizeof o[2]);
        }
        for (; j < ow; j++) {
            /* Masks rather than branches: which tap wins is data, and mispredicts cost. */
            float m = yr[j];
            uint32_t d, t0, t1, t2;
            memcpy(&d, &g[j], sizeof d);
            t0 = -(uint32_t)(a[2 * j] == m);
            t1 = ~t0 & -(uint32_t)(a[2 * j + 1] == m);
            t2 = ~(t0 | t1) & -(uint32_t)(b[2 * j] == m);
            uint32_t v[4] = { d & t0, d & t1, d & t2, d & ~(t0 | t1 | t2) };
            memcpy(&da[2 * j], &v[0], 2 * sizeof *da);
            memcpy(&dbr[2 * j], &v[2], 2 * sizeof *dbr);
        }
    }
}

void
layer_pool_forward(const struct layer *l, const float *x, float *y, size_t n)
{
    if (layer_pool_is_2x2_tiling(l)) {
        layer_pool_forward_2x2(x, y, n * l->in.c, l->in.h, l->in.w);
        return;
    }
    size_t k = l->kernel, s = l->stride, w = l->in.w, oh = l->out.h, ow = l->out.w;
    size_t planes = n * l->in.c;
    float inv = 1.0f / (float)(k * k);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * l->in.h * w;
        float *yp = y + pl * oh * ow;
        for (size_t i = 0; i < oh; i++) {
            for (size_t j = 0; j < ow; j++) {
                const float *win = xp + i * s * w + j * s;
                float acc = l->kind == LAYER_MAXPOOL ? win[0] : 0.0f;
                for (size_t a = 0; a < k; a++) {
                    for (size_t b = 0; b < k; b++) {
                        float v = win[a * w + b];
                        if (l->kind == LAYER_MAXPOOL)
                            acc = v > acc ? v : acc;
                        else
                            acc += v;
                    }
                }
                yp[i * ow + j] = l->kind == LAYER_MAXPOOL ? acc : acc * inv;
            }
        }
    }
}

void
layer_pool_backward(const struct layer *l, const float *x, const float *y, const float *dy,
                    float *dx, size_t n)
{
    size_t k = l->kernel, s = l->stride, w = l->in.w, oh = l->out.h, ow = l->out.w;
    size_t planes = n * l->in.c;
    float inv = 1.0f / (float)(k * k);
    if (layer_pool_is_2x2_tiling(l)) {
        layer_pool_backward_2x2(x, y, dy, dx, planes, l->in.h, w);
        return;
    }
    memset(dx, 0, planes * l->in.h * w * sizeof *dx);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * l->in.h * w;
        float *dxp = dx + pl * l->in.h * w;
        for (size_t i = 0; i < oh; i++) {
            for (size_t j = 0; j < ow; j++) {
                size_t at = (i * s) * w + j * s, o = pl * oh * ow + i * ow + j;
                if (l->kind == LAYER_AVGPOOL) {
                    for (size_t a = 0; a < k; a++)
                        for (size_t b = 0; b < k; b++)
                            dxp[at + a * w + b] += dy[o] * inv;
                    continue;
                }
                /* The first tap (row-major in the window) that holds the maximum. */
                size_t arg = at;
                for (size_t a = 0; a < k && xp[arg] != y[o]; a++)
                    for (size_t b = 0; b < k; b++)
                        if (xp[at + a * w + b] == y[o]) {
                            arg = at + a * w + b;
                            break;
                        }
                dxp[arg] += dy[o];
            }
        }
    }
}
