/*
 * bench_dnnl: the convolution layers of the FedAvg CNN (McMahan et al., AISTATS 2017, §3:
 * 5x5, same padding, 32 then 64 channels) on a batch of 10, in fedbits (im2col + OpenBLAS
 * sgemm, clients/layer_conv.c) and in oneDNN (its C API: convolution forward, backward data and
 * backward weights with bias), one thread each. A training step needs the forward pass and the
 * weight gradient of both layers and the input gradient of the second only (the first layer's
 * input is the image), and that is what is timed, per layer and for the step.
 *
 * oneDNN runs on fedbits' plain layouts (NCHW activations, OIHW weights) and, second, on the
 * blocked layouts it prefers (format "any", the reorders to and from them left out of the
 * time, which favours it). Each figure is the median over the repeats of the calling
 * thread's CPU milliseconds per step (the machines it runs on are shared; one thread does all
 * the work). Then determinism: the bytes of every output (FNV-1a hash) for two runs on one thread
 * and one on two threads, and the largest difference from fedbits' results. Run it under
 * DNNL_MAX_CPU_ISA=AVX2 (and the default) to see whether the selected instruction set changes
 * the bits; docs/models.md has the figures and the decision. Built only when libdnnl-dev is
 * installed; nothing else in fedbits uses oneDNN.
 *
 * Usage: bench_dnnl [repeats]   (default 5 runs of BD_STEPS steps)
 */
#define _GNU_SOURCE /* RUSAGE_THREAD (Linux getrusage(2)) */
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/mem.h"
#include "base/rng.h"
#include "clients/layer.h"
#include "base/banned.h"

enum { BD_BATCH = 10, BD_KERNEL = 5, BD_PAD = 2, BD_MAX_REPEATS = 1000, BD_STEPS = 20 };

/* One convolution: shapes, buffers in fedbits' layout, oneDNN objects. */
struct bench_dnnl_conv {
    struct layer l;
    int need_dx;
    float *x, *w, *dy;            /* inputs: batch, parameters (W then b), output gradient */
    float *y, *dx, *dw, *scratch; /* fedbits' outputs */
    float *oy, *odx, *odw, *odb;  /* oneDNN's outputs, in fedbits' layout */
    dnnl_primitive_t fwd, bwd_data, bwd_w;
    dnnl_memory_t m_x, m_w, m_b, m_y, m_dy, m_dx, m_dw, m_db; /* the primitives' memories */
    dnnl_memory_t u_x, u_w, u_y, u_dy, u_dx, u_dw;            /* fedbits' layout */
};

/* The oneDNN engine and stream, and whether every call so far succeeded. */
struct bench_dnnl_ctx {
    dnnl_engine_t eng;
    dnnl_stream_t s;
    int ok;
};

static void
bench_dnnl_check(struct bench_dnnl_ctx *cx, dnnl_status_t st, const char *what)
{
    if (st != dnnl_success && cx->ok) {
        fprintf(stderr, "bench_dnnl: %s failed (status %d)\n", what, (int)st);
        cx->ok = 0;
    }
}

static uint64_t
bench_dnnl_hash(uint64_t h, const float *v, size_t n)
{
    const unsigned char *b = (const unsigned char *)v;
    for (size_t i = 0; i < n * sizeof *v; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static double
bench_dnnl_maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        d = d < 0 ? -d : d;
        m = d > m ? d : m;
    }
    return m;
}

/*
 * A memory for md, allocated by oneDNN and cleared (blocked layouts pad channels up to the
 * block, and that padding must not hold stale bytes), or wrapping the caller's buffer.
 */
static dnnl_memory_t
bench_dnnl_mem(struct bench_dnnl_ctx *cx, const dnnl_memory_desc_t *md, void *buf)
{
    dnnl_memory_t m = NULL;
    bench_dnnl_check(cx,
                     dnnl_memory_create(&m, md, cx->eng, buf != NULL ? buf : DNNL_MEMORY_ALLOCATE),
                     "memory_create");
    void *h = NULL;
    if (m != NULL && buf == NULL && dnnl_memory_get_data_handle(m, &h) == dnnl_success && h != NULL)
        memset(h, 0, dnnl_memory_desc_get_size(md));
    return m;
}

/* Copies src into dst through a reorder primitive (between plain and blocked layouts). */
static void
bench_dnnl_reorder(struct bench_dnnl_ctx *cx, dnnl_memory_t src, dnnl_memory_t dst)
{
    const dnnl_memory_desc_t *smd, *dmd;
    bench_dnnl_check(cx, dnnl_memory_get_memory_desc(src, &smd), "get_memory_desc");
    bench_dnnl_check(cx, dnnl_memory_get_memory_desc(dst, &dmd), "get_memory_desc");
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    bench_dnnl_check(cx, dnnl_reorder_primitive_desc_create(&pd, smd, cx->eng, dmd, cx->eng, NULL),
                     "reorder_primitive_desc_create");
    bench_dnnl_check(cx, dnnl_primitive_create(&p, pd), "primitive_create(reorder)");
    dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, src }, { DNNL_ARG_TO, dst } };
    bench_dnnl_check(cx, dnnl_primitive_execute(p, cx->s, 2, args), "execute(reorder)");
    bench_dnnl_check(cx, dnnl_stream_wait(cx->s), "stream_wait");
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
}

/*
 * Creates the three primitives of c on layouts `plain` (fedbits') or "any" (oneDNN's
 * choice), their memories, and copies the inputs in.
 */
static void
bench_dnnl_setup(struct bench_dnnl_ctx *cx, struct bench_dnnl_conv *c, int plain)
{
    const struct layer *l = &c->l;
    dnnl_dims_t xd = { BD_BATCH, (dnnl_dim_t)l->in.c, (dnnl_dim_t)l->in.h, (dnnl_dim_t)l->in.w };
    dnnl_dims_t yd = { BD_BATCH, (dnnl_dim_t)l->out.c, (dnnl_dim_t)l->out.h, (dnnl_dim_t)l->out.w };
    dnnl_dims_t wd = { (dnnl_dim_t)l->out.c, (dnnl_dim_t)l->in.c, BD_KERNEL, BD_KERNEL };
    dnnl_dims_t bd = { (dnnl_dim_t)l->out.c };
    dnnl_dims_t strides = { 1, 1 }, pad = { BD_PAD, BD_PAD };
    dnnl_memory_desc_t ux, uy, uw, ub, ax, ay, aw;
    bench_dnnl_check(cx, dnnl_memory_desc_init_by_tag(&ux, 4, xd, dnnl_f32, dnnl_nchw), "md");
    bench_dnnl_check(cx, dnnl_memory_desc_init_by_tag(&uy, 4, yd, dnnl_f32, dnnl_nchw), "md");
    bench_dnnl_check(cx, dnnl_memory_desc_init_by_tag(&uw, 4, wd, dnnl_f32, dnnl_oihw), "md");
    bench_dnnl_check(cx, dnnl_memory_desc_init_by_tag(&ub, 1, bd, dnnl_f32, dnnl_x), "md");
    dnnl_format_tag_t any = dnnl_format_tag_any;
    bench_dnnl_check(
        cx, dnnl_memory_desc_init_by_tag(&ax, 4, xd, dnnl_f32, plain ? dnnl_nchw : any), "md");
    bench_dnnl_check(
        cx, dnnl_memory_desc_init_by_tag(&ay, 4, yd, dnnl_f32, plain ? dnnl_nchw : any), "md");
    bench_dnnl_check(
        cx, dnnl_memory_desc_init_by_tag(&aw, 4, wd, dnnl_f32, plain ? dnnl_oihw : any), "md");
    dnnl_convolution_desc_t fd, dd, wgd;
    bench_dnnl_check(cx,
                     dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                        dnnl_convolution_direct, &ax, &aw, &ub, &ay,
                                                        strides, pad, pad),
                     "convolution_forward_desc_init");
    dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
    bench_dnnl_check(cx, dnnl_primitive_desc_create(&fpd, &fd, NULL, cx->eng, NULL), "pd(fwd)");
    bench_dnnl_check(cx,
                     dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &ax,
                                                              &aw, &ay, strides, pad, pad),
                     "convolution_backward_data_desc_init");
    bench_dnnl_check(cx, dnnl_primitive_desc_create(&dpd, &dd, NULL, cx->eng, fpd), "pd(bwd data)");
    bench_dnnl_check(cx,
                     dnnl_convolution_backward_weights_desc_init(&wgd, dnnl_convolution_direct, &ax,
                                                                 &aw, &ub, &ay, strides, pad, pad),
                     "convolution_backward_weights_desc_init");
    bench_dnnl_check(cx, dnnl_primitive_desc_create(&wpd, &wgd, NULL, cx->eng, fpd),
                     "pd(bwd weights)");
    if (!cx->ok)
        return;
    const dnnl_memory_desc_t *px = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *pw = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *py = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *pdy = dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0);
    const dnnl_memory_desc_t *pdx = dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_src_md, 0);
    const dnnl_memory_desc_t *pdw =
        dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
    size_t out_c = l->out.c, taps = l->in.c * BD_KERNEL * BD_KERNEL;
    c->m_x = bench_dnnl_mem(cx, px, NULL);
    c->m_w = bench_dnnl_mem(cx, pw, NULL);
    c->m_b = bench_dnnl_mem(cx, &ub, c->w + out_c * taps);
    c->m_y = bench_dnnl_mem(cx, py, NULL);
    c->m_dy = bench_dnnl_mem(cx, pdy, NULL);
    c->m_dx = bench_dnnl_mem(cx, pdx, NULL);
    c->m_dw = bench_dnnl_mem(cx, pdw, NULL);
    c->m_db = bench_dnnl_mem(cx, &ub, c->odb);
    c->u_x = bench_dnnl_mem(cx, &ux, c->x);
    c->u_w = bench_dnnl_mem(cx, &uw, c->w);
    c->u_y = bench_dnnl_mem(cx, &uy, c->oy);
    c->u_dy = bench_dnnl_mem(cx, &uy, c->dy);
    c->u_dx = bench_dnnl_mem(cx, &ux, c->odx);
    c->u_dw = bench_dnnl_mem(cx, &uw, c->odw);
    bench_dnnl_reorder(cx, c->u_x, c->m_x);
    bench_dnnl_reorder(cx, c->u_w, c->m_w);
    bench_dnnl_reorder(cx, c->u_dy, c->m_dy);
    bench_dnnl_check(cx, dnnl_primitive_create(&c->fwd, fpd), "primitive_create(fwd)");
    bench_dnnl_check(cx, dnnl_primitive_create(&c->bwd_data, dpd), "primitive_create(bwd data)");
    bench_dnnl_check(cx, dnnl_primitive_create(&c->bwd_w, wpd), "primitive_create(bwd weights)");
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(dpd);
    dnnl_primitive_desc_destroy(wpd);
}

static void
bench_dnnl_teardown(struct bench_dnnl_conv *c)
{
    dnnl_primitive_destroy(c->fwd);
    dnnl_primitive_destroy(c->bwd_data);
    dnnl_primitive_destroy(c->bwd_w);
    dnnl_memory_t *m[] = { &c->m_x,  &c->m_w, &c->m_b, &c->m_y, &c->m_dy, &c->m_dx, &c->m_dw,
                           &c->m_db, &c->u_x, &c->u_w, &c->u_y, &c->u_dy, &c->u_dx, &c->u_dw };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        dnnl_memory_destroy(*m[i]);
        *m[i] = NULL;
    }
    c->fwd = c->bwd_data = c->bwd_w = NULL;
}

/* One training step's convolution work in oneDNN. */
static void
bench_dnnl_step(struct bench_dnnl_ctx *cx, struct bench_dnnl_conv *c)
{
    dnnl_exec_arg_t fa[4] = { { DNNL_ARG_SRC, c->m_x },
                              { DNNL_ARG_WEIGHTS, c->m_w },
                              { DNNL_ARG_BIAS, c->m_b },
                              { DNNL_ARG_DST, c->m_y } };
    bench_dnnl_check(cx, dnnl_primitive_execute(c->fwd, cx->s, 4, fa), "execute(fwd)");
    dnnl_exec_arg_t wa[4] = { { DNNL_ARG_SRC, c->m_x },
                              { DNNL_ARG_DIFF_DST, c->m_dy },
                              { DNNL_ARG_DIFF_WEIGHTS, c->m_dw },
                              { DNNL_ARG_DIFF_BIAS, c->m_db } };
    bench_dnnl_check(cx, dnnl_primitive_execute(c->bwd_w, cx->s, 4, wa), "execute(bwd weights)");
    if (c->need_dx) {
        dnnl_exec_arg_t da[3] = { { DNNL_ARG_DIFF_DST, c->m_dy },
                                  { DNNL_ARG_WEIGHTS, c->m_w },
                                  { DNNL_ARG_DIFF_SRC, c->m_dx } };
        bench_dnnl_check(cx, dnnl_primitive_execute(c->bwd_data, cx->s, 3, da),
                         "execute(bwd data)");
    }
    bench_dnnl_check(cx, dnnl_stream_wait(cx->s), "stream_wait");
}

/* The same in fedbits. */
static void
bench_dnnl_step_fedbits(struct bench_dnnl_conv *c)
{
    layer_conv_forward(&c->l, c->w, c->x, c->y, BD_BATCH, c->scratch);
    layer_conv_backward(&c->l, c->w, c->x, c->dy, c->need_dx ? c->dx : NULL, c->dw, BD_BATCH,
                        c->scratch);
}

static int
bench_dnnl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU milliseconds the calling thread has used. */
static double
bench_dnnl_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/*
 * CPU milliseconds per step of c, in oneDNN (cx set) or fedbits (cx NULL): the median over
 * `repeats` runs of BD_STEPS steps (the kernel's CPU clock is coarser than one step).
 */
static double
bench_dnnl_time(struct bench_dnnl_ctx *cx, struct bench_dnnl_conv *c, unsigned repeats, double *ms)
{
    for (unsigned i = 0; i <= repeats; i++) {
        double t0 = bench_dnnl_cpu_ms();
        for (unsigned k = 0; k < BD_STEPS; k++) {
            if (cx != NULL)
                bench_dnnl_step(cx, c);
            else
                bench_dnnl_step_fedbits(c);
        }
        if (i > 0)
            ms[i - 1] = (bench_dnnl_cpu_ms() - t0) / BD_STEPS;
    }
    qsort(ms, repeats, sizeof *ms, bench_dnnl_cmp);
    return ms[repeats / 2];
}

/* Hash of oneDNN's outputs of one step, copied back to fedbits' layout. */
static uint64_t
bench_dnnl_outputs(struct bench_dnnl_ctx *cx, struct bench_dnnl_conv *c)
{
    bench_dnnl_step(cx, c);
    bench_dnnl_reorder(cx, c->m_y, c->u_y);
    bench_dnnl_reorder(cx, c->m_dw, c->u_dw);
    if (c->need_dx)
        bench_dnnl_reorder(cx, c->m_dx, c->u_dx);
    size_t xs = BD_BATCH * layer_shape_size(c->l.in), ys = BD_BATCH * layer_shape_size(c->l.out);
    size_t ws = c->l.n_params - c->l.out.c;
    uint64_t h = 14695981039346656037ULL;
    h = bench_dnnl_hash(h, c->oy, ys);
    h = bench_dnnl_hash(h, c->odw, ws);
    h = bench_dnnl_hash(h, c->odb, c->l.out.c);
    return c->need_dx ? bench_dnnl_hash(h, c->odx, xs) : h;
}

static int
bench_dnnl_alloc(struct bench_dnnl_conv *c, struct layer_shape in, size_t out_c, int need_dx,
                 struct rng *r)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    if (layer_conv_init(&c->l, in, out_c, BD_KERNEL, 1, BD_PAD, &eb) < 0)
        return -1;
    c->need_dx = need_dx;
    size_t xs = BD_BATCH * layer_shape_size(in), ys = BD_BATCH * layer_shape_size(c->l.out);
    size_t np = c->l.n_params;
    float **bufs[] = { &c->x, &c->dx, &c->odx };
    for (size_t i = 0; i < 3; i++)
        if ((*bufs[i] = mem_alloc(xs * sizeof(float))) == NULL)
            return -1;
    float **ybufs[] = { &c->y, &c->dy, &c->oy };
    for (size_t i = 0; i < 3; i++)
        if ((*ybufs[i] = mem_alloc(ys * sizeof(float))) == NULL)
            return -1;
    c->w = mem_alloc(np * sizeof(float));
    c->dw = mem_alloc(np * sizeof(float));
    c->odw = mem_alloc(np * sizeof(float));
    c->odb = c->odw + (np - out_c);
    c->scratch = mem_alloc(layer_scratch(&c->l, BD_BATCH) * sizeof(float));
    if (c->w == NULL || c->dw == NULL || c->odw == NULL || c->scratch == NULL)
        return -1;
    for (size_t i = 0; i < xs; i++)
        c->x[i] = (float)rng_uniform(r);
    for (size_t i = 0; i < ys; i++)
        c->dy[i] = (float)(rng_uniform(r) - 0.5);
    layer_init_params(&c->l, c->w, r);
    return 0;
}

static void
bench_dnnl_free(struct bench_dnnl_conv *c)
{
    float *bufs[] = { c->x, c->dx, c->odx, c->y, c->dy, c->oy, c->w, c->dw, c->odw, c->scratch };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        mem_free(bufs[i]);
}

/* The two convolutions of the CNN on ch x hw x hw inputs: times, hashes, differences. */
static int
bench_dnnl_model(struct bench_dnnl_ctx *cx, size_t ch, size_t hw, unsigned repeats, double *ms)
{
    struct rng r;
    rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, RNG_ANY);
    struct bench_dnnl_conv conv[2];
    memset(conv, 0, sizeof conv);
    int rc = -1;
    if (bench_dnnl_alloc(&conv[0], (struct layer_shape){ ch, hw, hw }, 32, 0, &r) < 0 ||
        bench_dnnl_alloc(&conv[1], (struct layer_shape){ 32, hw / 2, hw / 2 }, 64, 1, &r) < 0)
        goto out;
    double total[3] = { 0, 0, 0 };
    for (size_t k = 0; k < 2; k++) {
        struct bench_dnnl_conv *c = &conv[k];
        omp_set_num_threads(1);
        double fb = bench_dnnl_time(NULL, c, repeats, ms);
        double one[2];
        uint64_t h[2][3];
        double diff[3] = { 0, 0, 0 };
        for (int plain = 1; plain >= 0; plain--) {
            bench_dnnl_setup(cx, c, plain);
            if (!cx->ok)
                goto out;
            omp_set_num_threads(1);
            one[plain] = bench_dnnl_time(cx, c, repeats, ms);
            h[plain][0] = bench_dnnl_outputs(cx, c);
            h[plain][1] = bench_dnnl_outputs(cx, c);
            if (plain) {
                size_t xs = BD_BATCH * layer_shape_size(c->l.in);
                size_t ys = BD_BATCH * layer_shape_size(c->l.out);
                diff[0] = bench_dnnl_maxdiff(c->y, c->oy, ys);
                diff[1] = bench_dnnl_maxdiff(c->dw, c->odw, c->l.n_params);
                diff[2] = c->need_dx ? bench_dnnl_maxdiff(c->dx, c->odx, xs) : 0.0;
            }
            bench_dnnl_teardown(c);
            /* Primitives made and run with two threads. */
            omp_set_num_threads(2);
            bench_dnnl_setup(cx, c, plain);
            if (!cx->ok)
                goto out;
            h[plain][2] = bench_dnnl_outputs(cx, c);
            bench_dnnl_teardown(c);
            omp_set_num_threads(1);
        }
        total[0] += fb;
        total[1] += one[1];
        total[2] += one[0];
        printf("conv%zu %zux%zux%zu -> %zu, batch %d (%s): fedbits %.3f ms, oneDNN nchw %.3f ms, "
               "oneDNN blocked %.3f ms per step\n",
               k + 1, c->l.in.c, c->l.in.h, c->l.in.w, c->l.out.c, BD_BATCH,
               c->need_dx ? "fwd, bwd data, bwd weights" : "fwd, bwd weights", fb, one[1], one[0]);
        for (int plain = 1; plain >= 0; plain--)
            printf("  oneDNN %s outputs: run 1 %016llx, run 2 %016llx, 2 threads %016llx%s\n",
                   plain ? "nchw" : "blocked", (unsigned long long)h[plain][0],
                   (unsigned long long)h[plain][1], (unsigned long long)h[plain][2],
                   h[plain][0] == h[plain][1] && h[plain][1] == h[plain][2] ? " (identical)"
                                                                            : " (DIFFER)");
        printf("  largest |oneDNN - fedbits|: output %.3g, weight gradient %.3g, input gradient "
               "%.3g\n",
               diff[0], diff[1], diff[2]);
    }
    printf("cnn-%zux%zux%zu conv layers, one step: fedbits %.3f ms, oneDNN nchw %.3f ms (%.2fx), "
           "oneDNN blocked %.3f ms (%.2fx); per 60-step epoch %.0f / %.0f / %.0f ms\n",
           hw, hw, ch, total[0], total[1], total[1] / total[0], total[2], total[2] / total[0],
           60 * total[0], 60 * total[1], 60 * total[2]);
    rc = 0;
out:
    bench_dnnl_free(&conv[0]);
    bench_dnnl_free(&conv[1]);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned repeats = 5;
    if (argc > 1) {
        char *end = NULL;
        unsigned long v = strtoul(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || v == 0 || v > BD_MAX_REPEATS || argc > 2) {
            fprintf(stderr, "usage: bench_dnnl [repeats 1..%d]\n", BD_MAX_REPEATS);
            return 2;
        }
        repeats = (unsigned)v;
    }
    openblas_set_num_threads(1);
    const dnnl_version_t *ver = dnnl_version();
    printf("oneDNN %d.%d.%d (CPU ISA: %s), OpenBLAS %s; median of %u steps\n", ver->major,
           ver->minor, ver->patch, getenv("DNNL_MAX_CPU_ISA") ? getenv("DNNL_MAX_CPU_ISA") : "all",
           openblas_get_corename(), repeats);
    struct bench_dnnl_ctx ctx = { NULL, NULL, 1 }, *cx = &ctx;
    double *ms = mem_alloc(repeats * sizeof *ms);
    bench_dnnl_check(cx, dnnl_engine_create(&cx->eng, dnnl_cpu, 0), "engine_create");
    if (cx->eng != NULL)
        bench_dnnl_check(cx, dnnl_stream_create(&cx->s, cx->eng, dnnl_stream_default_flags),
                         "stream_create");
    int rc = ms != NULL && cx->ok ? 0 : -1;
    if (rc == 0)
        rc = bench_dnnl_model(cx, 1, 28, repeats, ms);
    if (rc == 0)
        rc = bench_dnnl_model(cx, 3, 32, repeats, ms);
    if (cx->s != NULL)
        dnnl_stream_destroy(cx->s);
    if (cx->eng != NULL)
        dnnl_engine_destroy(cx->eng);
    mem_free(ms);
    return rc == 0 && cx->ok ? 0 : 1;
}
