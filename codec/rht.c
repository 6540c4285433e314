/* rht: randomized Hadamard transform. See rht.h. */
#include "codec/rht.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/banned.h"

/*
 * Blocking. A block of RHT_L1_BLOCK floats (16 KiB) gets all its low levels while it sits
 * in L1; a chunk of RHT_L2_CHUNK floats (512 KiB) then gets the middle levels while it sits
 * in L2; the top levels are passes over the whole vector, three levels per pass (radix 8),
 * so a 2^20 transform touches memory beyond L2 about twice.
 */
#ifndef RHT_L1_LOG
#define RHT_L1_LOG 11
#endif
#ifndef RHT_L2_LOG
#define RHT_L2_LOG 17
#endif
#define RHT_L1_BLOCK ((size_t)1 << RHT_L1_LOG)
#define RHT_L2_CHUNK ((size_t)1 << RHT_L2_LOG)

/* GCC vector extensions: 8 floats, lowered to AVX2 or to pairs of SSE registers. */
typedef float rht_v8 __attribute__((vector_size(32)));
typedef int32_t rht_i8 __attribute__((vector_size(32)));

/*
 * Lane swaps of the in-vector levels: lane k takes lane k ^ 1, k ^ 2 or k ^ 4. GCC spells a
 * constant shuffle __builtin_shuffle(x, mask), clang __builtin_shufflevector(x, x, ...).
 */
#if defined(__clang__)
#define RHT_SWAP1(x) __builtin_shufflevector((x), (x), 1, 0, 3, 2, 5, 4, 7, 6)
#define RHT_SWAP2(x) __builtin_shufflevector((x), (x), 2, 3, 0, 1, 6, 7, 4, 5)
#define RHT_SWAP4(x) __builtin_shufflevector((x), (x), 4, 5, 6, 7, 0, 1, 2, 3)
#else
#define RHT_SWAP1(x) __builtin_shuffle((x), (rht_i8){ 1, 0, 3, 2, 5, 4, 7, 6 })
#define RHT_SWAP2(x) __builtin_shuffle((x), (rht_i8){ 2, 3, 0, 1, 6, 7, 4, 5 })
#define RHT_SWAP4(x) __builtin_shuffle((x), (rht_i8){ 4, 5, 6, 7, 0, 1, 2, 3 })
#endif

#define RHT_LOAD(x, p)  memcpy(&(x), (p), sizeof(rht_v8))
#define RHT_STORE(p, x) memcpy((p), &(x), sizeof(rht_v8))
#define RHT_BFLY(a, b)                                                                             \
    do {                                                                                           \
        rht_v8 t_ = (a);                                                                           \
        (a) = t_ + (b);                                                                            \
        (b) = t_ - (b);                                                                            \
    } while (0)

size_t
rht_padded_len(size_t d)
{
    assert(d >= 1 && d <= ((size_t)1 << (sizeof(size_t) * 8 - 2)));
    size_t D = 1;
    while (D < d)
        D <<= 1;
    return D;
}

size_t
rht_sign_bytes(size_t D)
{
    return (D + 7) / 8;
}

void
rht_signs_draw(uint8_t *signs, size_t D, struct rng *r)
{
    rng_bytes(r, signs, rht_sign_bytes(D));
}

float
rht_sign(const uint8_t *signs, size_t i)
{
    return (signs[i / 8] >> (i % 8) & 1) ? -1.0f : 1.0f;
}

/*
 * Σ x_i² of x[0..end) as one chain of double additions in coordinate order
 * (rht_forward_norm()), advanced RHT_CHAIN_STEP coordinates at each vector step of the
 * butterflies: the chain waits on the latency of its additions, the butterflies on their
 * throughput, so the two overlap. NULL in every other transform (compiled out).
 */
#define RHT_CHAIN_STEP  12
#define RHT_CHAIN_AHEAD 256 /* prefetch distance of the chain's reads of x, in floats */
struct rht_chain {
    const float *x;
    size_t pos, end;
    double sum;
};

static inline __attribute__((always_inline)) void
rht_chain_tick(struct rht_chain *ch)
{
    if (ch == NULL || ch->pos + RHT_CHAIN_STEP > ch->end)
        return;
    const float *p = ch->x + ch->pos;
    double s = ch->sum;
    __builtin_prefetch(p + RHT_CHAIN_AHEAD);
#pragma GCC unroll 32
    for (size_t k = 0; k < RHT_CHAIN_STEP; k++)
        s += (double)p[k] * p[k];
    ch->sum = s;
    ch->pos += RHT_CHAIN_STEP;
}

/*
 * The fused ending of rht_inverse_add(): instead of being stored, each output vector of
 * the last pass, at coordinate pos, goes straight into acc[pos..] (signs flipped, only the
 * coordinates below d). The same per-coordinate operations as the separate pass
 * rht_signs_add_kernel() below: a vector wherever 8 coordinates lie below d, else scalars.
 */
struct rht_out {
    float *acc;
    size_t d;
    const uint8_t *signs;
};

static inline __attribute__((always_inline)) void
rht_emit(const struct rht_out *o, size_t pos, const rht_v8 *xp)
{
    rht_v8 x = *xp; /* by address: a vector argument would change the ABI of portable code */
    if (pos + 8 <= o->d) {
        const rht_i8 sel = { 1, 2, 4, 8, 16, 32, 64, 128 };
        const rht_i8 zero = { 0 };
        const rht_i8 sign_bit = { INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                                  INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN };
        rht_v8 a;
        RHT_LOAD(a, o->acc + pos);
        if (o->signs != NULL) {
            int32_t b = (int32_t)o->signs[pos / 8];
            rht_i8 bb = { b, b, b, b, b, b, b, b };
            rht_i8 on = (bb & sel) != zero;
            x = (rht_v8)((rht_i8)x ^ (on & sign_bit));
        }
        a += x;
        RHT_STORE(o->acc + pos, a);
    } else if (pos < o->d) {
        float t[8];
        RHT_STORE(t, x);
        for (size_t l = 0; pos + l < o->d; l++)
            o->acc[pos + l] += o->signs != NULL ? rht_sign(o->signs, pos + l) * t[l] : t[l];
    }
}

/* Stores x at v[j], or with o emits it as coordinate base + j. */
#define RHT_PUT(v, j, x, o, base)                                                                  \
    do {                                                                                           \
        if ((o) != NULL)                                                                           \
            rht_emit((o), (base) + (j), &(x));                                                     \
        else                                                                                       \
            RHT_STORE((v) + (j), (x));                                                             \
    } while (0)

/* Levels h = 1, 2, 4 inside each 8-lane vector, after the optional signs and scale. */
static inline __attribute__((always_inline)) void
rht_levels_in8(float *v, size_t n, const uint8_t *signs, float scale)
{
    const rht_v8 m1 = { 1, -1, 1, -1, 1, -1, 1, -1 };
    const rht_v8 m2 = { 1, 1, -1, -1, 1, 1, -1, -1 };
    const rht_v8 m4 = { 1, 1, 1, 1, -1, -1, -1, -1 };
    const rht_i8 sel = { 1, 2, 4, 8, 16, 32, 64, 128 };
    const rht_i8 zero = { 0 };
    const rht_i8 sign_bit = { INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                              INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN };
    for (size_t i = 0; i < n; i += 8) {
        rht_v8 x;
        RHT_LOAD(x, v + i);
        if (signs != NULL) {
            /* Lane k gets its sign bit flipped when bit k of the sign byte is set. */
            int32_t b = (int32_t)signs[i / 8];
            rht_i8 bb = { b, b, b, b, b, b, b, b };
            rht_i8 on = (bb & sel) != zero;
            x = (rht_v8)((rht_i8)x ^ (on & sign_bit));
        }
        x = x * scale;
        x = RHT_SWAP1(x) + x * m1;
        x = RHT_SWAP2(x) + x * m2;
        x = RHT_SWAP4(x) + x * m4;
        RHT_STORE(v + i, x);
    }
}

/*
 * Levels h and 2h over the columns j in [j0, j1) of v[0..4h) (h >= 8); with o, the outputs
 * go to rht_emit() (v[j] being coordinate base_off + j).
 */
static inline __attribute__((always_inline)) void
rht_cols4(float *v, size_t h, size_t j0, size_t j1, const struct rht_out *o, size_t base_off,
          struct rht_chain *ch)
{
    for (size_t j = j0; j < j1; j += 8) {
        rht_chain_tick(ch);
        rht_v8 a0, a1, a2, a3;
        RHT_LOAD(a0, v + j);
        RHT_LOAD(a1, v + j + h);
        RHT_LOAD(a2, v + j + 2 * h);
        RHT_LOAD(a3, v + j + 3 * h);
        RHT_BFLY(a0, a1);
        RHT_BFLY(a2, a3);
        RHT_BFLY(a0, a2);
        RHT_BFLY(a1, a3);
        RHT_PUT(v, j, a0, o, base_off);
        RHT_PUT(v, j + h, a1, o, base_off);
        RHT_PUT(v, j + 2 * h, a2, o, base_off);
        RHT_PUT(v, j + 3 * h, a3, o, base_off);
    }
}

/* Levels h, 2h and 4h over the columns j in [j0, j1) of v[0..8h), as rht_cols4(). */
static inline __attribute__((always_inline)) void
rht_cols8(float *v, size_t h, size_t j0, size_t j1, const struct rht_out *o, size_t base_off,
          struct rht_chain *ch)
{
    for (size_t j = j0; j < j1; j += 8) {
        rht_chain_tick(ch);
        rht_v8 a0, a1, a2, a3, a4, a5, a6, a7;
        RHT_LOAD(a0, v + j);
        RHT_LOAD(a1, v + j + h);
        RHT_LOAD(a2, v + j + 2 * h);
        RHT_LOAD(a3, v + j + 3 * h);
        RHT_LOAD(a4, v + j + 4 * h);
        RHT_LOAD(a5, v + j + 5 * h);
        RHT_LOAD(a6, v + j + 6 * h);
        RHT_LOAD(a7, v + j + 7 * h);
        RHT_BFLY(a0, a1);
        RHT_BFLY(a2, a3);
        RHT_BFLY(a4, a5);
        RHT_BFLY(a6, a7);
        RHT_BFLY(a0, a2);
        RHT_BFLY(a1, a3);
        RHT_BFLY(a4, a6);
        RHT_BFLY(a5, a7);
        RHT_BFLY(a0, a4);
        RHT_BFLY(a1, a5);
        RHT_BFLY(a2, a6);
        RHT_BFLY(a3, a7);
        RHT_PUT(v, j, a0, o, base_off);
        RHT_PUT(v, j + h, a1, o, base_off);
        RHT_PUT(v, j + 2 * h, a2, o, base_off);
        RHT_PUT(v, j + 3 * h, a3, o, base_off);
        RHT_PUT(v, j + 4 * h, a4, o, base_off);
        RHT_PUT(v, j + 5 * h, a5, o, base_off);
        RHT_PUT(v, j + 6 * h, a6, o, base_off);
        RHT_PUT(v, j + 7 * h, a7, o, base_off);
    }
}

/* Level h over the columns j in [j0, j1) of v[0..2h), as rht_cols4(). */
static inline __attribute__((always_inline)) void
rht_cols2(float *v, size_t h, size_t j0, size_t j1, const struct rht_out *o, size_t base_off,
          struct rht_chain *ch)
{
    for (size_t j = j0; j < j1; j += 8) {
        rht_chain_tick(ch);
        rht_v8 a, b;
        RHT_LOAD(a, v + j);
        RHT_LOAD(b, v + j + h);
        RHT_BFLY(a, b);
        RHT_PUT(v, j, a, o, base_off);
        RHT_PUT(v, j + h, b, o, base_off);
    }
}

/* Levels h and 2h over v[0..n) (h >= 8); with o, the outputs go to rht_emit(). */
static inline __attribute__((always_inline)) void
rht_pass4(float *v, size_t n, size_t h, const struct rht_out *o, size_t base_off,
          struct rht_chain *ch)
{
    for (size_t base = 0; base < n; base += 4 * h)
        rht_cols4(v + base, h, 0, h, o, base_off + base, ch);
}

/* Levels h, 2h and 4h over v[0..n) (h >= 8); with o, the outputs go to rht_emit(). */
static inline __attribute__((always_inline)) void
rht_pass8(float *v, size_t n, size_t h, const struct rht_out *o, size_t base_off,
          struct rht_chain *ch)
{
    for (size_t base = 0; base < n; base += 8 * h)
        rht_cols8(v + base, h, 0, h, o, base_off + base, ch);
}

/* One butterfly level h over v[0..n) with n = 2h (h >= 8). */
static inline __attribute__((always_inline)) void
rht_pass2(float *v, size_t h, const struct rht_out *o, size_t base_off, struct rht_chain *ch)
{
    rht_cols2(v, h, 0, h, o, base_off, ch);
}

/*
 * Levels h0, 2·h0, ..., n/2 over v[0..n), up to three per pass (h0 >= 8). With o, the
 * last pass hands its outputs (v[j] being coordinate base_off + j) to rht_emit().
 */
static inline __attribute__((always_inline)) void
rht_levels_from(float *v, size_t n, size_t h0, const struct rht_out *o, size_t base_off,
                struct rht_chain *ch)
{
    size_t h = h0;
    while (h < n) {
        size_t left = 0;
        for (size_t t = h; t < n; t <<= 1)
            left++;
        if (left >= 3 && left != 4) {
            if (o != NULL && left == 3)
                rht_pass8(v, n, h, o, base_off, ch);
            else
                rht_pass8(v, n, h, NULL, 0, ch);
            h <<= 3;
        } else if (left >= 2) {
            if (o != NULL && left == 2)
                rht_pass4(v, n, h, o, base_off, ch);
            else
                rht_pass4(v, n, h, NULL, 0, ch);
            h <<= 2;
        } else {
            if (o != NULL)
                rht_pass2(v, h, o, base_off, ch);
            else
                rht_pass2(v, h, NULL, 0, ch);
            h <<= 1;
        }
    }
}

/*
 * Levels h0, 2·h0, ..., n/2 over v[0..n) (h0 < n) as rht_levels_from(), but the last pass
 * runs in slabs of RHT_RUN columns: after each slab, its 2, 4 or 8 runs (v[j] being
 * coordinate base_off + j) go to the sink while they sit in cache.
 */
static inline __attribute__((always_inline)) void
rht_levels_sink(float *v, size_t n, size_t h0, const struct rht_sink *sink, size_t base_off)
{
    assert(h0 < n);
    size_t h = h0, left;
    for (;;) {
        left = 0;
        for (size_t t = h; t < n; t <<= 1)
            left++;
        if (left <= 3 && left != 0) /* 1, 2 or 3 levels: the last pass (as rht_levels_from) */
            break;
        if (left != 4) {
            rht_pass8(v, n, h, NULL, 0, NULL);
            h <<= 3;
        } else {
            rht_pass4(v, n, h, NULL, 0, NULL);
            h <<= 2;
        }
    }
    size_t run = h < RHT_RUN ? h : RHT_RUN;
    for (size_t j0 = 0; j0 < h; j0 += run) {
        if (left == 3)
            rht_cols8(v, h, j0, j0 + run, NULL, 0, NULL);
        else if (left == 2)
            rht_cols4(v, h, j0, j0 + run, NULL, 0, NULL);
        else
            rht_cols2(v, h, j0, j0 + run, NULL, 0, NULL);
        for (size_t k = 0; k < ((size_t)1 << left); k++)
            sink->put(sink->ctx, v + k * h + j0, base_off + k * h + j0, run);
    }
}

/*
 * Where a transform's input comes from and its output goes (all optional): src copies
 * x[0..src_len) in (zeros beyond) and adds Σ x² to *norm2; load fills each block through a
 * callback; out sends the last pass to rht_emit(), sink hands it to a consumer.
 */
struct rht_io {
    const float *src;
    size_t src_len;
    double *norm2;
    rht_load_fn *load;
    void *ctx;
    const struct rht_out *out;
    const struct rht_sink *sink;
};

/* Σ x² in double, for when the float partial sums overflow. */
static double
rht_norm2_double(const float *x, size_t d)
{
    double norm2 = 0;
    for (size_t i = 0; i < d; i++)
        norm2 += (double)x[i] * x[i];
    return norm2;
}

/* The rest of the chain, in order; with a sink, its sum is the ‖x‖² the sink is given. */
static inline __attribute__((always_inline)) void
rht_chain_finish(struct rht_chain *ch, const struct rht_io *io)
{
    if (ch == NULL)
        return;
    double s = ch->sum;
    for (size_t i = ch->pos; i < ch->end; i++)
        s += (double)ch->x[i] * ch->x[i];
    ch->sum = s;
    ch->pos = ch->end;
    *io->norm2 = s;
}

/* Before the last pass of a transform with a sink: ‖x‖² is complete, tell the sink. */
static void
rht_sink_begin(const struct rht_io *io)
{
    if (!isfinite(*io->norm2))
        *io->norm2 = rht_norm2_double(io->src, io->src_len);
    io->sink->begin(io->sink->ctx, *io->norm2);
}

/*
 * All levels of a block of n <= RHT_L1_BLOCK floats (n >= 8), coordinates off..off+n of
 * the vector. The block is first filled from io's src or load when given: that costs
 * nothing extra because the block then sits in L1 for its levels. When the block is the
 * whole vector (last; n >= 16), its last pass goes to io's out or sink.
 */
static inline __attribute__((always_inline)) void
rht_block(float *v, size_t n, const uint8_t *signs, float scale, const struct rht_io *io,
          size_t off, bool last, struct rht_chain *ch)
{
    if (io != NULL && io->src != NULL) {
        const float *src = io->src + off;
        size_t src_len = io->src_len > off ? io->src_len - off : 0;
        size_t m = src_len < n ? src_len : n;
        rht_v8 acc = { 0 }; /* lane l sums the squares of coordinates l mod 8, in order */
        size_t i = 0;
        for (; i + 8 <= m; i += 8) {
            rht_v8 t;
            RHT_LOAD(t, src + i);
            RHT_STORE(v + i, t);
            acc += t * t;
        }
        /* Constant lane indices: taking acc's address would keep it on the stack in the loop
         * (a store-to-load chain per step). */
        float part[8] = { acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7] };
        for (; i < m; i++) {
            v[i] = src[i];
            part[0] += src[i] * src[i];
        }
        for (; i < n; i++)
            v[i] = 0.0f;
        double sum = 0;
        for (int l = 0; l < 8; l++)
            sum += (double)part[l];
        *io->norm2 += sum;
    } else if (io != NULL && io->load != NULL) {
        io->load(io->ctx, v, off, n);
    }
    rht_levels_in8(v, n, signs, scale);
    if (last && io != NULL && io->out != NULL) {
        rht_levels_from(v, n, 8, io->out, off, ch);
    } else if (last && io != NULL && io->sink != NULL) {
        rht_chain_finish(ch, io);
        rht_sink_begin(io);
        rht_levels_sink(v, n, 8, io->sink, off);
    } else {
        rht_levels_from(v, n, 8, NULL, 0, ch);
    }
}

/* The whole transform for n >= 8 (n >= 16 with out or sink); inlined into each ISA's entry. */
static inline __attribute__((always_inline)) void
rht_kernel(float *v, size_t n, const uint8_t *signs, float scale, const struct rht_io *io,
           struct rht_chain *ch)
{
    const struct rht_out *o = io != NULL ? io->out : NULL;
    const struct rht_sink *sk = io != NULL ? io->sink : NULL;
    if (n <= RHT_L1_BLOCK) {
        rht_block(v, n, signs, scale, io, 0, true, ch);
        return;
    }
    size_t chunk = n < RHT_L2_CHUNK ? n : RHT_L2_CHUNK;
    for (size_t c = 0; c < n; c += chunk) {
        for (size_t k = c; k < c + chunk; k += RHT_L1_BLOCK)
            rht_block(v + k, RHT_L1_BLOCK, signs != NULL ? signs + k / 8 : NULL, scale, io, k,
                      false, ch);
        if (n == chunk && o != NULL) {
            rht_levels_from(v, chunk, RHT_L1_BLOCK, o, 0, ch);
        } else if (n == chunk && sk != NULL) {
            rht_chain_finish(ch, io);
            rht_sink_begin(io);
            rht_levels_sink(v, chunk, RHT_L1_BLOCK, sk, 0);
        } else {
            rht_levels_from(v + c, chunk, RHT_L1_BLOCK, NULL, 0, ch);
        }
    }
    if (n > chunk) {
        if (o != NULL) {
            rht_levels_from(v, n, chunk, o, 0, ch);
        } else if (sk != NULL) {
            rht_chain_finish(ch, io);
            rht_sink_begin(io);
            rht_levels_sink(v, n, chunk, sk, 0);
        } else {
            rht_levels_from(v, n, chunk, NULL, 0, ch);
        }
    }
}

__attribute__((target("avx2"))) static void
rht_kernel_avx2(float *v, size_t n, const uint8_t *signs, float scale, const struct rht_io *io)
{
    rht_kernel(v, n, signs, scale, io, NULL);
}

static void
rht_kernel_portable(float *v, size_t n, const uint8_t *signs, float scale, const struct rht_io *io)
{
    rht_kernel(v, n, signs, scale, io, NULL);
}

/* The kernel for this CPU, or the portable one (n >= 8). */
static void
rht_kernel_run(float *v, size_t n, const uint8_t *signs, float scale, const struct rht_io *io,
               bool portable)
{
    if (!portable && __builtin_cpu_supports("avx2"))
        rht_kernel_avx2(v, n, signs, scale, io);
    else
        rht_kernel_portable(v, n, signs, scale, io);
}

/* With AVX-512F the same 8-wide code, but 32 vector registers: the chain's sum stays in one. */
__attribute__((target("avx512f"))) static void
rht_kernel_chain_avx512(float *v, size_t n, const uint8_t *signs, float scale,
                        const struct rht_io *io, struct rht_chain *ch)
{
    struct rht_chain c = *ch;
    rht_kernel(v, n, signs, scale, io, &c);
    *ch = c;
}

__attribute__((target("avx2"))) static void
rht_kernel_chain_avx2(float *v, size_t n, const uint8_t *signs, float scale,
                      const struct rht_io *io, struct rht_chain *ch)
{
    struct rht_chain c = *ch; /* a local: kept in registers across the passes */
    rht_kernel(v, n, signs, scale, io, &c);
    *ch = c;
}

static void
rht_kernel_chain_portable(float *v, size_t n, const uint8_t *signs, float scale,
                          const struct rht_io *io, struct rht_chain *ch)
{
    struct rht_chain c = *ch;
    rht_kernel(v, n, signs, scale, io, &c);
    *ch = c;
}

/* Textbook butterflies for D < 8. */
static void
rht_small(float *v, size_t n, const uint8_t *signs, float scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] *= signs != NULL ? scale * rht_sign(signs, i) : scale;
    for (size_t h = 1; h < n; h <<= 1) {
        for (size_t base = 0; base < n; base += 2 * h) {
            for (size_t j = base; j < base + h; j++) {
                float a = v[j], b = v[j + h];
                v[j] = a + b;
                v[j + h] = a - b;
            }
        }
    }
}

void
rht_fwht(float *v, size_t D, const uint8_t *signs, float scale)
{
    assert(D >= 1 && (D & (D - 1)) == 0);
    if (D < 8)
        rht_small(v, D, signs, scale);
    else
        rht_kernel_run(v, D, signs, scale, NULL, false);
}

void
rht_forward(float *v, size_t D, const uint8_t *signs)
{
    rht_fwht(v, D, signs, (float)(1.0 / sqrt((double)D)));
}

double
rht_forward_from(float *y, const float *x, size_t d, size_t D, const uint8_t *signs)
{
    assert(d >= 1 && d <= D && (D & (D - 1)) == 0);
    float scale = (float)(1.0 / sqrt((double)D));
    double norm2 = 0;
    if (D < 8) {
        for (size_t i = 0; i < D; i++) {
            y[i] = i < d ? x[i] : 0.0f;
            norm2 += (double)y[i] * y[i];
        }
        rht_small(y, D, signs, scale);
    } else {
        struct rht_io io = { .src = x, .src_len = d, .norm2 = &norm2 };
        rht_kernel_run(y, D, signs, scale, &io, false);
    }
    if (!isfinite(norm2)) {
        /* The float partial sums overflow for finite inputs above ~1e17 per coordinate
         * (4096 × 3e18 is fine in double): sum again in double. Stays inf/NaN when x is. */
        norm2 = rht_norm2_double(x, d);
    }
    return norm2;
}

double
rht_forward_norm(float *y, const float *x, size_t d, size_t D, const uint8_t *signs,
                 const struct rht_sink *sink, unsigned flags)
{
    assert(d >= 1 && d <= D && (D & (D - 1)) == 0);
    struct rht_chain ch = { .x = x, .pos = 0, .end = d, .sum = 0 };
    if ((flags & RHT_UNFUSED) != 0 || D < 16) {
        (void)rht_forward_from(y, x, d, D, signs);
        if (sink != NULL) {
            for (size_t i = 0; i < d; i++)
                ch.sum += (double)x[i] * x[i];
            sink->begin(sink->ctx, ch.sum);
            sink->put(sink->ctx, y, 0, D);
            return ch.sum;
        }
    } else {
        double norm2 = 0; /* the float partial sums, then (with a sink) the chain's sum */
        struct rht_io io = { .src = x, .src_len = d, .norm2 = &norm2, .sink = sink };
        float scale = (float)(1.0 / sqrt((double)D));
        if ((flags & (RHT_PORTABLE | RHT_AVX2)) == 0 && __builtin_cpu_supports("avx512f"))
            rht_kernel_chain_avx512(y, D, signs, scale, &io, &ch);
        else if ((flags & RHT_PORTABLE) == 0 && __builtin_cpu_supports("avx2"))
            rht_kernel_chain_avx2(y, D, signs, scale, &io, &ch);
        else
            rht_kernel_chain_portable(y, D, signs, scale, &io, &ch);
    }
    double sum = ch.sum; /* the rest of the chain, in order */
    for (size_t i = ch.pos; i < d; i++)
        sum += (double)x[i] * x[i];
    return sum;
}

double
rht_forward_sink(float *y, const float *x, size_t d, size_t D, const uint8_t *signs,
                 const struct rht_sink *sink, unsigned flags)
{
    assert(d >= 1 && d <= D && (D & (D - 1)) == 0);
    if ((flags & RHT_UNFUSED) != 0 || D < 16) {
        double norm2 = rht_forward_from(y, x, d, D, signs);
        sink->begin(sink->ctx, norm2);
        sink->put(sink->ctx, y, 0, D);
        return norm2;
    }
    double norm2 = 0;
    struct rht_io io = { .src = x, .src_len = d, .norm2 = &norm2, .sink = sink };
    rht_kernel_run(y, D, signs, (float)(1.0 / sqrt((double)D)), &io, (flags & RHT_PORTABLE) != 0);
    return norm2;
}

/* v[i] <- s_i · v[i] for i < n, branch-free (flips the sign bit). */
static inline __attribute__((always_inline)) void
rht_signs_kernel(float *v, size_t n, const uint8_t *signs)
{
    const rht_i8 sel = { 1, 2, 4, 8, 16, 32, 64, 128 };
    const rht_i8 zero = { 0 };
    const rht_i8 sign_bit = { INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                              INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN };
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        rht_v8 x;
        RHT_LOAD(x, v + i);
        int32_t b = (int32_t)signs[i / 8];
        rht_i8 bb = { b, b, b, b, b, b, b, b };
        rht_i8 on = (bb & sel) != zero;
        x = (rht_v8)((rht_i8)x ^ (on & sign_bit));
        RHT_STORE(v + i, x);
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        u ^= (uint32_t)(signs[i / 8] >> (i % 8) & 1) << 31;
        memcpy(&v[i], &u, sizeof u);
    }
}

__attribute__((target("avx2"))) static void
rht_signs_avx2(float *v, size_t n, const uint8_t *signs)
{
    rht_signs_kernel(v, n, signs);
}

static void
rht_apply_signs(float *v, size_t n, const uint8_t *signs)
{
    if (__builtin_cpu_supports("avx2"))
        rht_signs_avx2(v, n, signs);
    else
        rht_signs_kernel(v, n, signs);
}

void
rht_inverse(float *v, size_t D, const uint8_t *signs)
{
    rht_fwht(v, D, NULL, (float)(1.0 / sqrt((double)D)));
    if (signs != NULL)
        rht_apply_signs(v, D, signs);
}

/* acc[i] += s_i · v[i] for i < n, branch-free; with set (a constant in each copy) acc is not
 * read: acc[i] = 0 + s_i · v[i], the bits of a zeroed acc. */
static inline __attribute__((always_inline)) void
rht_signs_add_kernel(float *acc, const float *v, size_t n, const uint8_t *signs, bool set)
{
    const rht_i8 sel = { 1, 2, 4, 8, 16, 32, 64, 128 };
    const rht_i8 zero = { 0 };
    const rht_i8 sign_bit = { INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                              INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN };
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        rht_v8 x, a = { 0 };
        RHT_LOAD(x, v + i);
        if (!set)
            RHT_LOAD(a, acc + i);
        if (signs != NULL) {
            int32_t b = (int32_t)signs[i / 8];
            rht_i8 bb = { b, b, b, b, b, b, b, b };
            rht_i8 on = (bb & sel) != zero;
            x = (rht_v8)((rht_i8)x ^ (on & sign_bit));
        }
        a += x;
        RHT_STORE(acc + i, a);
    }
    for (; i < n; i++)
        acc[i] = (set ? 0.0f : acc[i]) + (signs != NULL ? rht_sign(signs, i) * v[i] : v[i]);
}

__attribute__((target("avx2"))) static void
rht_signs_add_avx2(float *acc, const float *v, size_t n, const uint8_t *signs)
{
    rht_signs_add_kernel(acc, v, n, signs, false);
}

__attribute__((target("avx2"))) static void
rht_signs_set_avx2(float *acc, const float *v, size_t n, const uint8_t *signs)
{
    rht_signs_add_kernel(acc, v, n, signs, true);
}

static void
rht_signs_set_portable(float *acc, const float *v, size_t n, const uint8_t *signs)
{
    rht_signs_add_kernel(acc, v, n, signs, true);
}

/* The separate ending of rht_inverse_add(): transform, then one pass over acc. */
static void
rht_inverse_add_unfused(float *acc, size_t d, float *v, size_t D, const uint8_t *signs,
                        float weight, rht_load_fn *load, void *ctx, bool portable)
{
    float scale = (float)((double)weight / sqrt((double)D));
    if (load != NULL)
        load(ctx, v, 0, D);
    if (D < 8)
        rht_small(v, D, NULL, scale);
    else
        rht_kernel_run(v, D, NULL, scale, NULL, portable);
    if (!portable && __builtin_cpu_supports("avx2"))
        rht_signs_add_avx2(acc, v, d, signs);
    else
        rht_signs_add_kernel(acc, v, d, signs, false);
}

/*
 * RHT_SET's ending: a sink (struct rht_sink) given the last pass's runs while they sit in
 * cache, setting acc[off..) = 0 + s ⊙ y below d. The fused kernels' own ending (rht_emit())
 * is left as it is: a second, setting variant of it there would change the code every
 * other decoder runs.
 */
struct rht_set {
    float *acc;
    size_t d;
    const uint8_t *signs;
    bool avx2;
};

static void
rht_set_begin(void *ctx, double norm2)
{
    (void)ctx;
    (void)norm2;
}

/* Runs start on a multiple of 8 (rht_levels_sink()), so signs + off/8 is their first bit. */
static void
rht_set_put(void *ctx, const float *y, size_t off, size_t n)
{
    const struct rht_set *st = ctx;
    if (off >= st->d)
        return;
    size_t m = st->d - off < n ? st->d - off : n;
    if (st->avx2)
        rht_signs_set_avx2(st->acc + off, y, m, st->signs + off / 8);
    else
        rht_signs_set_portable(st->acc + off, y, m, st->signs + off / 8);
}

void
rht_inverse_add_load(float *acc, size_t d, float *ws, size_t D, const uint8_t *signs, float weight,
                     rht_load_fn *load, void *ctx, unsigned flags)
{
    assert(d <= D && (D & (D - 1)) == 0);
    bool portable = (flags & RHT_PORTABLE) != 0;
    float scale = (float)((double)weight / sqrt((double)D));
    if ((flags & RHT_UNFUSED) != 0 || D < 16) {
        if ((flags & RHT_SET) != 0)
            memset(acc, 0, d * sizeof *acc);
        rht_inverse_add_unfused(acc, d, ws, D, signs, weight, load, ctx, portable);
        return;
    }
    if ((flags & RHT_SET) != 0) {
        struct rht_set st = {
            .acc = acc, .d = d, .signs = signs, .avx2 = !portable && __builtin_cpu_supports("avx2")
        };
        struct rht_sink sink = { rht_set_begin, rht_set_put, &st };
        double norm2 = 0; /* (no input to measure) */
        struct rht_io io = { .load = load, .ctx = ctx, .norm2 = &norm2, .sink = &sink };
        rht_kernel_run(ws, D, NULL, scale, &io, portable);
        return;
    }
    struct rht_out o = { .acc = acc, .d = d, .signs = signs };
    struct rht_io io = { .load = load, .ctx = ctx, .out = &o };
    rht_kernel_run(ws, D, NULL, scale, &io, portable);
}

void
rht_inverse_add(float *acc, size_t d, float *v, size_t D, const uint8_t *signs, float weight)
{
    rht_inverse_add_load(acc, d, v, D, signs, weight, NULL, NULL, 0);
}

void
rht_signs_draw_key(uint8_t *signs, size_t D, const struct rng_key *key)
{
    size_t n = rht_sign_bytes(D), whole = n / RNG_BLOCK_BYTES;
    rng_chacha_blocks(signs, key->bytes, 0, 0, whole, 20, RNG_CHACHA_BEST);
    if (n % RNG_BLOCK_BYTES != 0) {
        unsigned char last[RNG_BLOCK_BYTES];
        rng_chacha_blocks(last, key->bytes, 0, whole, 1, 20, RNG_CHACHA_BEST);
        memcpy(signs + whole * RNG_BLOCK_BYTES, last, n % RNG_BLOCK_BYTES);
    }
}
