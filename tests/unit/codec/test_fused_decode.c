/*
 * Pins the messages and decoded vectors of THC, QSGD (both norms) and Hadamard+SQ, whose
 * encoders and decoders fuse their passes over memory (codec/thc.c, codec/qsgd.c,
 * codec/hadamard_sq.c): each digest covers, for 8 rounds, the message, codec_decode() of it
 * and a weighted codec_decode_add() of three clients into one accumulator, and for THC the
 * integers and sums of its homomorphic interface. The digests were taken with the unfused
 * code (one pass per step); a deliberate change of a codec's output changes them: then take
 * the new value from the failure message.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/sround.h"
#include "codec/thc.h"
#include "tests/unit/codec/suites.h"

#define FD_ROUNDS 8

/* x[0..d): uniform(-0.5, 0.5), times i % 97 every third round (large coordinates too). */
static void
fd_fill(float *x, size_t d, uint64_t k)
{
    struct rng r;
    rng_init_stream(&r, 7, RNG_PURPOSE_TEST, k, 0);
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(rng_uniform(&r) - 0.5) * (k % 3 == 0 ? (float)(i % 97) : 1.0f);
}

static uint64_t
fd_digest(const struct codec_params *p, size_t d)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(codec_params_check(p, d, &eb), 0);
    struct codec *c = codec_new(p, d);
    ck_assert_ptr_nonnull(c);
    size_t cap = codec_max_bytes(c), A = codec_acc_len(c);
    float *x = mem_alloc(d * sizeof *x), *out = mem_alloc(d * sizeof *out);
    float *acc = mem_alloc(A * sizeof *acc);
    uint8_t *msg = mem_alloc(cap);
    ck_assert(x != NULL && out != NULL && acc != NULL && msg != NULL);
    static const double weights[3] = { 0.37, 1.0, 2.5 };
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t k = 0; k < FD_ROUNDS; k++) {
        memset(acc, 0, A * sizeof *acc);
        for (uint64_t cl = 0; cl < 3; cl++) {
            fd_fill(x, d, k * 3 + cl);
            struct codec_link l = { .seed = 1, .round = k, .client = cl };
            size_t len;
            ck_assert_int_eq(codec_encode(c, msg, cap, &len, x, &l, &eb), 0);
            h = tdme_fnv1a(h, msg, len);
            ck_assert_int_eq(codec_decode_add(c, acc, msg, len, weights[cl], &l, &eb), 0);
            if (cl == 0) {
                ck_assert_int_eq(codec_decode(c, out, msg, len, &l, &eb), 0);
                h = tdme_fnv1a(h, out, d * sizeof *out);
            }
        }
        struct codec_link l = { .seed = 1, .round = k, .client = 0 };
        codec_decode_finish(c, out, acc, &l);
        h = tdme_fnv1a(h, out, d * sizeof *out);
    }
    codec_free(c);
    mem_free(x);
    mem_free(out);
    mem_free(acc);
    mem_free(msg);
    return h;
}

/* THC's homomorphic interface: integers of three clients, their sum and one decoded alone. */
static uint64_t
fd_thc_ints_digest(const struct codec_params *p, size_t d)
{
    struct thc *t = thc_new(p, d);
    ck_assert_ptr_nonnull(t);
    size_t D = thc_padded_len(t);
    float *x = mem_alloc(d * sizeof *x), *out = mem_alloc(d * sizeof *out);
    uint16_t *ints = mem_alloc(D * sizeof *ints);
    uint64_t *sum = mem_alloc(D * sizeof *sum);
    ck_assert(x != NULL && out != NULL && ints != NULL && sum != NULL);
    uint64_t h = UINT64_C(1469598103934665603);
    struct errbuf eb;
    for (uint64_t k = 0; k < FD_ROUNDS; k++) {
        memset(sum, 0, D * sizeof *sum);
        struct codec_link l = { .seed = 3, .round = k, .client = 0 };
        for (uint64_t cl = 0; cl < 3; cl++) {
            fd_fill(x, d, k * 3 + cl);
            l.client = cl;
            ck_assert_int_eq(thc_encode_ints(t, ints, x, 40.0 + (double)k, &l, &eb), 0);
            h = tdme_fnv1a(h, ints, D * sizeof *ints);
            for (size_t i = 0; i < D; i++)
                sum[i] += ints[i];
        }
        thc_decode_ints(t, out, ints, 40.0 + (double)k, &l);
        h = tdme_fnv1a(h, out, d * sizeof *out);
        thc_decode_sum(t, out, sum, 3, 40.0 + (double)k, &l);
        h = tdme_fnv1a(h, out, d * sizeof *out);
    }
    thc_free(t);
    mem_free(x);
    mem_free(out);
    mem_free(ints);
    mem_free(sum);
    return h;
}

struct fd_pin {
    enum codec_kind kind;
    double bits;
    size_t d;
    unsigned g;      /* thc_g */
    bool uniform;    /* thc_uniform */
    bool shared;     /* round-shared rotation */
    bool pad;        /* blocks: pad */
    double loss;     /* packet_loss */
    uint64_t digest; /* fd_digest() */
    uint64_t ints;   /* fd_thc_ints_digest() (THC only) */
};

static void
fd_params(struct codec_params *p, const struct fd_pin *pin)
{
    codec_params_default(p);
    p->kind = pin->kind;
    p->bits = pin->bits;
    p->thc_g = pin->g;
    p->thc_uniform = pin->uniform;
    p->rotation = pin->shared ? CODEC_ROTATION_SHARED : CODEC_ROTATION_PER_CLIENT;
    p->blocks = pin->pad ? CODEC_BLOCKS_PAD : CODEC_BLOCKS_POW2;
    p->packet_loss = pin->loss;
}

static const struct fd_pin fd_pins[] = {
    { CODEC_THC, 4, 70000, 0, false, false, false, 0, UINT64_C(0x41b378736d2610dc),
      UINT64_C(0xf4cd3807d661632d) },
    { CODEC_THC, 4, 4096, 0, false, false, false, 0, UINT64_C(0xfa69a4940df0227c),
      UINT64_C(0x26bf13ba80e135a0) },
    { CODEC_THC, 2, 1000, 0, false, false, false, 0, UINT64_C(0x0989cd9a7f3e5b55),
      UINT64_C(0x1d2785d4cc82a9a8) },
    { CODEC_THC, 3, 100000, 0, false, false, true, 0, UINT64_C(0xf13dd38364ddf2aa),
      UINT64_C(0xe1c29f4af8aa9d22) },
    { CODEC_THC, 1, 4096, 0, false, false, false, 0, UINT64_C(0x573d3b56957ac45b),
      UINT64_C(0x4b391c253ca618ea) },
    { CODEC_THC, 8, 1000, 0, false, false, false, 0, UINT64_C(0x49a0cda161d0f17d),
      UINT64_C(0xfee1389df072426d) },
    { CODEC_THC, 4, 70000, 0, true, false, false, 0, UINT64_C(0x3b7c4ad0b362d23d),
      UINT64_C(0x9ae2e040e7dec9f8) },
    { CODEC_THC, 2, 1000, 9, true, false, false, 0, UINT64_C(0x0989cd9a7f3e5b55),
      UINT64_C(0xb821c0ad1cb4d5f0) },
    { CODEC_THC, 3, 4096, 16, false, false, false, 0, UINT64_C(0x38de7d89ffef95af),
      UINT64_C(0xde67afbac10304d8) },
    { CODEC_THC, 4, 1000, 16, false, false, false, 0, UINT64_C(0x22416b9dd4eebe15),
      UINT64_C(0x152257a9e51e61ad) },
    { CODEC_THC, 4, 70000, 0, false, true, false, 0, UINT64_C(0x17382e40f391de99),
      UINT64_C(0xb37cfacc154b7ee5) },
    { CODEC_THC, 4, 4096, 0, false, false, false, 0.1, UINT64_C(0x7f579cd5a6336fd0),
      UINT64_C(0x26bf13ba80e135a0) },
    { CODEC_QSGD, 2, 70000, 0, false, false, false, 0, UINT64_C(0xae6cba2908c692c8), 0 },
    { CODEC_QSGD, 4, 1000, 0, false, false, false, 0, UINT64_C(0x6876385fc26809dd), 0 },
    { CODEC_QSGD, 8, 4097, 0, false, false, false, 0, UINT64_C(0x0f9fa1ec3482460b), 0 },
    { CODEC_QSGD, 1, 100000, 0, false, false, false, 0, UINT64_C(0xec154bc5d9fbcdc0), 0 },
    { CODEC_QSGD, 15, 1000, 0, false, false, false, 0, UINT64_C(0x8ceb75d13f774a98), 0 },
    { CODEC_QSGD_L2, 2, 70000, 0, false, false, false, 0, UINT64_C(0x49f5bfce50ca8200), 0 },
    { CODEC_QSGD_L2, 4, 1000, 0, false, false, false, 0, UINT64_C(0x8b6b252972e50925), 0 },
    { CODEC_QSGD_L2, 1, 4097, 0, false, false, false, 0, UINT64_C(0x7f78cda645ffdc02), 0 },
    { CODEC_QSGD_L2, 8, 1000, 0, false, false, false, 0, UINT64_C(0x373f4c121c5e7741), 0 },
    { CODEC_HADAMARD_SQ, 2, 70000, 0, false, false, false, 0, UINT64_C(0x0a96d558d9cda689), 0 },
    { CODEC_HADAMARD_SQ, 4, 4096, 0, false, false, false, 0, UINT64_C(0xde92a3e2db4aa93e), 0 },
    { CODEC_HADAMARD_SQ, 1, 1000, 0, false, false, false, 0, UINT64_C(0x64cf317e12ec5365), 0 },
    { CODEC_HADAMARD_SQ, 8, 1000, 0, false, false, false, 0, UINT64_C(0x7059e33de9866d8e), 0 },
    { CODEC_HADAMARD_SQ, 12, 4096, 0, false, false, false, 0, UINT64_C(0xf0cf212897ec8199), 0 },
    { CODEC_HADAMARD_SQ, 2, 70000, 0, false, true, false, 0, UINT64_C(0x7c456074d0fc2f45), 0 },
    { CODEC_HADAMARD_SQ, 2, 4096, 0, false, false, false, 0.1, UINT64_C(0x64d4b54d02eb40ee), 0 },
    { CODEC_HADAMARD_SQ, 3, 100000, 0, false, false, true, 0, UINT64_C(0x4a77fdcba5fb0d61), 0 },
};

START_TEST(fused_codecs_match_pinned_digests)
{
    const struct fd_pin *pin = &fd_pins[_i];
    struct codec_params p;
    fd_params(&p, pin);
    uint64_t h = fd_digest(&p, pin->d);
    ck_assert_msg(
        h == pin->digest, "%s %g bits d %zu g %u%s%s%s loss %g: digest %016llx, pinned %016llx",
        codec_kind_name(pin->kind), pin->bits, pin->d, pin->g, pin->uniform ? " uniform" : "",
        pin->shared ? " shared" : "", pin->pad ? " pad" : "", pin->loss, (unsigned long long)h,
        (unsigned long long)pin->digest);
    if (pin->kind == CODEC_THC) {
        uint64_t hi = fd_thc_ints_digest(&p, pin->d);
        ck_assert_msg(hi == pin->ints, "thc ints %g bits d %zu: digest %016llx, pinned %016llx",
                      pin->bits, pin->d, (unsigned long long)hi, (unsigned long long)pin->ints);
    }
}
END_TEST

/*
 * sround_cells()'s vector path decides in float and hands anything in doubt to the portable
 * loop: values at and next to the clamp ±T, to integer u and to the table's levels, for
 * tables from g = 1 to the largest the vector path takes, give the portable levels and
 * take the same tie draws.
 */
START_TEST(sround_cells_vector_matches_portable_at_edges)
{
    enum { N = 1 << 16 };
    static float y[N];
    static uint16_t k1[N], k2[N];
    static const unsigned gs[] = { 1, 6, 16, 30, 45, 510, SROUND_CELLS_MAX - 1 };
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++) {
        unsigned g = gs[gi], levels = g + 1 < 16 ? g + 1 : 16;
        uint16_t table[16], cell[SROUND_CELLS_MAX];
        for (unsigned j = 0; j < levels; j++) /* increasing from 0 to g, uneven when g > 15 */
            table[j] = (uint16_t)(j * g / (levels - 1));
        for (unsigned j = 0, u = 0; u <= g; u++) {
            while (j + 2 < levels && table[j + 1] <= u)
                j++;
            cell[u] = (uint16_t)j;
        }
        double sc = 0.77, T = 2.1538746940614564, to_u = g / (2.0 * T);
        struct rng r, c;
        rng_init_stream(&r, 8, RNG_PURPOSE_TEST, g, 0);
        rng_init_stream(&c, 9, RNG_PURPOSE_TEST, g, 0);
        static uint16_t rd[N]; /* the draws sround_cells() will take */
        rng_fast_u16s(&c, rd, N);
        for (size_t i = 0; i < N; i++) {
            /* z = sc·y at a chosen u (an integer, a level, a clamp, or where the coin's
             * probability times 2^16 is the draw or the draw + 1), nudged by a few ulps */
            unsigned k = (unsigned)rng_below(&r, levels - 1);
            double at_draw =
                table[k] + (rd[i] + (double)rng_below(&r, 2)) * 0x1p-16 * (table[k + 1] - table[k]);
            double u = i % 5 == 0   ? (double)rng_below(&r, g + 1)
                       : i % 5 == 1 ? (double)table[rng_below(&r, levels)]
                       : i % 5 == 2 ? (rng_below(&r, 2) ? 0.0 : (double)g)
                       : i % 5 == 3 ? at_draw
                                    : rng_uniform(&r) * g;
            float v = (float)((u / to_u - T) / sc);
            for (int n = (int)rng_below(&r, 7) - 3; n != 0; n += n > 0 ? -1 : 1)
                v = nextafterf(v, n > 0 ? INFINITY : -INFINITY);
            y[i] = i % 97 == 0 ? v * 1e6f : v;
        }
        struct rng a, b;
        rng_init_stream(&a, 9, RNG_PURPOSE_TEST, g, 0);
        rng_init_stream(&b, 9, RNG_PURPOSE_TEST, g, 0);
        ck_assert_int_eq(sround_cells(k1, y, N, sc, T, to_u, g, cell, table, &a, SROUND_BEST), 0);
        ck_assert_int_eq(sround_cells(k2, y, N, sc, T, to_u, g, cell, table, &b, SROUND_PORTABLE),
                         0);
        ck_assert_mem_eq(k1, k2, sizeof k1);
        ck_assert_uint_eq(rng_tell(&a), rng_tell(&b));
    }
}
END_TEST

/*
 * sround()'s vector path against the portable loop: values whose u is an integer, or whose coin's
 * probability times 2^16 is the draw or the draw + 1, nudged by a few ulps, with a negative offset
 * (the min-max quantiser) and with |v| (QSGD).
 */
START_TEST(sround_vector_matches_portable_at_edges)
{
    enum { N = 1 << 16 };
    static float v[N];
    static uint16_t k1[N], k2[N], rd[N];
    static const unsigned tops[] = { 1, 3, 15, 255, 1023, 4095 };
    for (size_t ti = 0; ti < sizeof tops / sizeof tops[0]; ti++) {
        for (int absval = 0; absval < 2; absval++) {
            unsigned top = tops[ti];
            double off = absval ? 0.0 : -1.375, mul = top / 2.75; /* v in [-1.375, 1.375] */
            struct rng r, c;
            rng_init_stream(&r, 10, RNG_PURPOSE_TEST, top, (uint64_t)absval);
            rng_init_stream(&c, 11, RNG_PURPOSE_TEST, top, 0);
            rng_fast_u16s(&c, rd, N);
            for (size_t i = 0; i < N; i++) {
                double fl = (double)rng_below(&r, top);
                double u = i % 3 == 0   ? fl + (double)rng_below(&r, 2)
                           : i % 3 == 1 ? fl + (rd[i] + (double)rng_below(&r, 2)) * 0x1p-16
                                        : rng_uniform(&r) * top;
                float x = (float)(u / mul + off);
                for (int n = (int)rng_below(&r, 7) - 3; n != 0; n += n > 0 ? -1 : 1)
                    x = nextafterf(x, n > 0 ? INFINITY : -INFINITY);
                x = fminf(fmaxf(x, (float)off), (float)(top / mul + off));
                v[i] = absval && i % 2 ? -x : x;
            }
            struct rng a, b;
            rng_init_stream(&a, 11, RNG_PURPOSE_TEST, top, 0);
            rng_init_stream(&b, 11, RNG_PURPOSE_TEST, top, 0);
            sround_run(k1, v, N, off, mul, absval != 0, top, &a, SROUND_BEST);
            sround_run(k2, v, N, off, mul, absval != 0, top, &b, SROUND_PORTABLE);
            ck_assert_mem_eq(k1, k2, sizeof k1);
            ck_assert_uint_eq(rng_tell(&a), rng_tell(&b));
        }
    }
}
END_TEST

Suite *
fused_decode_suite(void)
{
    Suite *s = suite_create("fused_decode");
    TCase *tc = tcase_create("fused_decode");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, sround_cells_vector_matches_portable_at_edges);
    tcase_add_test(tc, sround_vector_matches_portable_at_edges);
    tcase_add_loop_test(tc, fused_codecs_match_pinned_digests, 0,
                        (int)(sizeof fd_pins / sizeof fd_pins[0]));
    suite_add_tcase(s, tc);
    return s;
}
