/*
 * codec: the interface the simulator uses. Names and parameter checks, a round trip of
 * every wire format, decoders attacked with truncated and random bytes, determinism
 * (same link, same bytes, in any thread), shared-rotation aggregation, error feedback.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "codec/error_feedback.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

/* One configuration per wire format. */
struct fmt {
    enum codec_kind kind;
    double bits;
    enum codec_rotation rot;
    double loss;
    bool plus;
    size_t dim;
};

static const struct fmt fmts[] = {
    { CODEC_NONE, 32, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_DRIVE, 1, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_DRIVE, 1, CODEC_ROTATION_SHARED, 0.1, true, 300 },
    { CODEC_EDEN, 1, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_EDEN, 3, CODEC_ROTATION_SHARED, 0, false, 300 },
    { CODEC_EDEN, 8, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_EDEN, 2.5, CODEC_ROTATION_PER_CLIENT, 0.2, false, 300 },
    { CODEC_EDEN, 0.3, CODEC_ROTATION_SHARED, 0, false, 300 },
    { CODEC_QUICFL, 1, CODEC_ROTATION_SHARED, 0, false, 300 },
    { CODEC_QUICFL, 4, CODEC_ROTATION_PER_CLIENT, 0.1, false, 300 },
    { CODEC_THC, 4, CODEC_ROTATION_SHARED, 0, false, 300 },
    { CODEC_HADAMARD_SQ, 2, CODEC_ROTATION_SHARED, 0, false, 300 },
    { CODEC_KASHIN_SQ, 3, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_QSGD, 5, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_QSGD_L2, 3, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_TURBOQUANT_MSE, 2, CODEC_ROTATION_PER_CLIENT, 0, false, 300 },
    { CODEC_TURBOQUANT_PROD, 3, CODEC_ROTATION_PER_CLIENT, 0, false, 100 },
    { CODEC_EDEN, 2, CODEC_ROTATION_PER_CLIENT, 0, false, 1 },
    { CODEC_QUICFL, 2, CODEC_ROTATION_PER_CLIENT, 0, false, 5 },
};
#define NFMTS ((int)(sizeof fmts / sizeof fmts[0]))

static struct codec *
fmt_codec(int i)
{
    struct codec_params p;
    tdme_params(&p, fmts[i].kind, fmts[i].bits);
    p.rotation = fmts[i].rot;
    p.packet_loss = fmts[i].loss;
    p.drive_plus = fmts[i].plus;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(codec_params_check(&p, fmts[i].dim, &eb) == 0, "fmt %d: %s", i, eb.msg);
    struct codec *c = codec_new(&p, fmts[i].dim);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void
fill(float *x, size_t d, uint64_t key)
{
    tdme_fill(x, d, 1, key);
}

START_TEST(names)
{
    for (unsigned k = 0; k < CODEC_KIND_COUNT; k++) {
        enum codec_kind got;
        ck_assert_int_eq(codec_kind_parse(codec_kind_name((enum codec_kind)k), &got, NULL), 0);
        ck_assert_int_eq(got, k);
        ck_assert_str_ne(codec_kind_summary((enum codec_kind)k), "?");
    }
    static const char *const kinds[] = { "none",           "drive", "eden",
                                         "quicfl",         "thc",   "hadamard_sq",
                                         "kashin_sq",      "qsgd",  "turboquant_mse",
                                         "turboquant_prod" };
    for (unsigned k = 0; k < 10; k++)
        ck_assert_str_eq(codec_kind_name((enum codec_kind)k), kinds[k]);
    struct errbuf eb;
    errbuf_clear(&eb);
    enum codec_kind kind;
    ck_assert_int_eq(codec_kind_parse("zip", &kind, &eb), -ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(eb.msg, "'zip'"));
    ck_assert_ptr_nonnull(strstr(eb.msg, "turboquant_prod"));
    enum codec_scale sc;
    ck_assert_int_eq(codec_scale_parse("matched_norm", &sc, NULL), 0);
    ck_assert_int_eq(sc, CODEC_SCALE_MATCHED_NORM);
    ck_assert_str_eq(codec_scale_name(CODEC_SCALE_BIASED), "biased");
    ck_assert_int_eq(codec_scale_parse("unbiassed", &sc, &eb), -ERR_INVALID);
    enum codec_rotation ro;
    ck_assert_int_eq(codec_rotation_parse("shared", &ro, NULL), 0);
    ck_assert_int_eq(ro, CODEC_ROTATION_SHARED);
    ck_assert_str_eq(codec_rotation_name(CODEC_ROTATION_PER_CLIENT), "per_client");
    ck_assert_int_eq(codec_rotation_parse("global", &ro, &eb), -ERR_INVALID);
}
END_TEST

/* Every impossible parameter is refused with a message naming it. */
START_TEST(params_rejected)
{
    static const struct {
        enum codec_kind kind;
        double bits, p, loss;
        unsigned shared;
        size_t dim;
        const char *word;
    } bad[] = {
        { CODEC_EDEN, 0, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_EDEN, 8.5, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_EDEN, NAN, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_DRIVE, 2, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_QUICFL, 5, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_QUICFL, 1.5, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_QUICFL, 2, 0, 0, 0, 10, "p " },
        { CODEC_QUICFL, 2, 1, 0, 0, 10, "p " },
        { CODEC_QUICFL, 2, 1.0 / 512, 0, 9, 10, "shared_bits" },
        { CODEC_THC, 9, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_HADAMARD_SQ, 0, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_KASHIN_SQ, 17, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_QSGD, 16, 1.0 / 512, 0, 0, 10, "bits" },
        { CODEC_TURBOQUANT_PROD, 3, 1.0 / 512, 0, 0, 8192, "dimension" },
        { CODEC_EDEN, 2, 1.0 / 512, 1.0, 0, 10, "packet_loss" },
        { CODEC_EDEN, 2, 1.0 / 512, -0.1, 0, 10, "packet_loss" },
        { CODEC_QSGD, 2, 1.0 / 512, 0.1, 0, 10, "packet_loss" },
        { CODEC_EDEN, 2, 1.0 / 512, 0, 0, 0, "dimension" },
        { CODEC_EDEN, 7, 1.0 / 512, 0, 1, 10, "exact_codebook" },
        { CODEC_EDEN, 2, 1.0 / 512, 0, 1, 131072, "exact_codebook" },
        { CODEC_TURBOQUANT_PROD, 8, 1.0 / 512, 0, 1, 64, "exact_codebook" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct codec_params p;
        tdme_params(&p, bad[k].kind, bad[k].bits);
        p.p = bad[k].p;
        p.packet_loss = bad[k].loss;
        /* shared_bits doubles as the exact-codebook switch for the non-QUIC-FL rows. */
        if (bad[k].kind == CODEC_QUICFL)
            p.shared_bits = bad[k].shared;
        else
            p.exact_codebook = bad[k].shared != 0;
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = codec_params_check(&p, bad[k].dim, &eb);
        ck_assert_msg(rc < 0, "case %zu accepted", k);
        ck_assert_msg(strstr(eb.msg, bad[k].word) != NULL, "case %zu: '%s' lacks '%s'", k, eb.msg,
                      bad[k].word);
    }
    struct codec_params p;
    tdme_params(&p, CODEC_EDEN, 2);
    p.kind = CODEC_KIND_COUNT;
    ck_assert_int_eq(codec_params_check(&p, 10, NULL), -ERR_INVALID);
}
END_TEST

/* Round trip: length within max, decode succeeds, error bounded, same link same bytes. */
START_TEST(round_trip)
{
    int i = _i;
    struct codec *c = fmt_codec(i);
    size_t d = fmts[i].dim, cap = codec_max_bytes(c);
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
    uint8_t *m1 = malloc(cap), *m2 = malloc(cap);
    fill(x, d, (uint64_t)i);
    struct codec_link link = { .seed = 9, .round = 3, .client = 7 };
    size_t l1, l2;
    ck_assert_int_eq(codec_encode(c, m1, cap, &l1, x, &link, NULL), 0);
    ck_assert_uint_le(l1, cap);
    ck_assert_int_eq(codec_decode(c, xh, m1, l1, &link, NULL), 0);
    double e = 0, n2 = 0;
    for (size_t k = 0; k < d; k++) {
        e += ((double)xh[k] - x[k]) * ((double)xh[k] - x[k]);
        n2 += (double)x[k] * x[k];
    }
    ck_assert_msg(isfinite(e) && e <= 64 * n2, "fmt %d: error %g for norm %g", i, e, n2);
    if (fmts[i].kind == CODEC_NONE)
        ck_assert_double_eq(e, 0);
    /* Determinism: a second codec gives the same bytes for the same link. */
    struct codec *c2 = fmt_codec(i);
    ck_assert_int_eq(codec_encode(c2, m2, cap, &l2, x, &link, NULL), 0);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(m1, m2, l1);
    /* Too small a buffer is an error, not an overflow. */
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_lt(codec_encode(c2, m2, l1 > 0 ? l1 - 1 : 0, &l2, x, &link, &eb), 0);
    codec_free(c);
    codec_free(c2);
    free(x);
    free(xh);
    free(m1);
    free(m2);
}
END_TEST

/* Every truncation of a valid message is refused with an offset; none is read past. */
START_TEST(truncated)
{
    int i = _i;
    struct codec *c = fmt_codec(i);
    size_t d = fmts[i].dim, cap = codec_max_bytes(c);
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
    uint8_t *m = malloc(cap);
    fill(x, d, 100 + (uint64_t)i);
    struct codec_link link = { .seed = 9, .round = 4, .client = 1 };
    size_t len;
    ck_assert_int_eq(codec_encode(c, m, cap, &len, x, &link, NULL), 0);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh heap copy of exactly `cut` bytes, so ASan sees any over-read. */
        uint8_t *t = malloc(cut > 0 ? cut : 1);
        memcpy(t, m, cut);
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = codec_decode(c, xh, t, cut, &link, &eb);
        /* QUIC-FL's exact list makes some shorter lengths valid messages (fewer pairs). */
        if (fmts[i].kind == CODEC_QUICFL && rc == 0)
            ck_assert_uint_eq((len - cut) % 8, 0);
        else {
            ck_assert_int_eq(rc, -ERR_CORRUPT);
            ck_assert_int_ge(eb.offset, 0);
        }
        free(t);
    }
    /* Non-finite scales are refused. */
    if (fmts[i].kind != CODEC_NONE && fmts[i].kind != CODEC_TURBOQUANT_PROD) {
        float nan = NAN;
        uint8_t *t = malloc(len);
        memcpy(t, m, len);
        memcpy(t, &nan, 4);
        ck_assert_int_eq(codec_decode(c, xh, t, len, &link, NULL), -ERR_CORRUPT);
        free(t);
    }
    codec_free(c);
    free(x);
    free(xh);
    free(m);
}
END_TEST

/* Random bytes of random lengths: decoders return 0 or an error, never crash. */
START_TEST(random_bytes)
{
    int i = _i;
    struct codec *c = fmt_codec(i);
    size_t d = fmts[i].dim, cap = codec_max_bytes(c);
    size_t acc_len = codec_acc_len(c);
    float *acc = calloc(acc_len, sizeof *acc), *out = malloc(d * sizeof *out);
    struct rng r;
    rng_init_stream(&r, 2, RNG_PURPOSE_TEST, (uint64_t)i, 0);
    for (int t = 0; t < 300; t++) {
        size_t len = (size_t)rng_below(&r, cap < 2048 ? cap + 16 : 2048);
        if (t % 3 == 0)
            len = cap < 4096 ? cap : 4096;
        uint8_t *m = malloc(len > 0 ? len : 1);
        rng_bytes(&r, m, len);
        struct codec_link link = { .seed = 1, .round = (uint64_t)t, .client = 0 };
        struct errbuf eb;
        errbuf_clear(&eb);
        int rc = codec_decode_add(c, acc, m, len, 1.0, &link, &eb);
        ck_assert(rc == 0 || rc == -ERR_CORRUPT);
        free(m);
    }
    struct codec_link link = { .seed = 1, .round = 0, .client = 0 };
    codec_decode_finish(c, out, acc, &link);
    codec_free(c);
    free(acc);
    free(out);
}
END_TEST

/*
 * A float field overwritten by FLT_MAX (a scale, a norm, a min/max) anywhere in the first
 * 32 bytes: the decoder returns -ERR_CORRUPT or a finite vector; the scale of EDEN, DRIVE
 * and TurboQuant_mse (byte 0) always makes the decode overflow, so there it is an error.
 */
START_TEST(huge_fields)
{
    int i = _i;
    struct codec *c = fmt_codec(i);
    size_t d = fmts[i].dim, cap = codec_max_bytes(c);
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
    uint8_t *m = malloc(cap), *t = malloc(cap);
    fill(x, d, 300 + (uint64_t)i);
    struct codec_link link = { .seed = 9, .round = 5, .client = 2 };
    size_t len;
    ck_assert_int_eq(codec_encode(c, m, cap, &len, x, &link, NULL), 0);
    const float big[2] = { FLT_MAX, -FLT_MAX };
    for (size_t off = 0; off + 4 <= len && off <= 32; off++) {
        for (int s = 0; s < 2; s++) {
            memcpy(t, m, len);
            memcpy(t + off, &big[s], 4);
            struct errbuf eb;
            errbuf_clear(&eb);
            int rc = codec_decode(c, xh, t, len, &link, &eb);
            if (rc == 0) {
                for (size_t k = 0; k < d; k++)
                    ck_assert_msg(isfinite(xh[k]), "fmt %d, FLT_MAX at %zu: out[%zu] = %g", i, off,
                                  k, (double)xh[k]);
            } else {
                ck_assert_int_eq(rc, -ERR_CORRUPT);
            }
            enum codec_kind kind = fmts[i].kind;
            bool scaled = kind == CODEC_EDEN || kind == CODEC_DRIVE || kind == CODEC_TURBOQUANT_MSE;
            if (off == 0 && scaled && fmts[i].bits >= 1)
                ck_assert_msg(rc == -ERR_CORRUPT, "fmt %d: FLT_MAX scale accepted", i);
        }
    }
    codec_free(c);
    free(x);
    free(xh);
    free(m);
    free(t);
}
END_TEST

/* A finite input of 4096 coordinates of magnitude 3e18 (‖x‖² = 3.7e40 overflows float):
 * every codec encodes it and decodes a finite estimate with its usual relative error. */
START_TEST(large_finite_input)
{
    enum codec_kind kind = (enum codec_kind)_i;
    struct codec_params p;
    tdme_params(&p, kind, codec_kind_default_bits(kind));
    size_t d = kind == CODEC_TURBOQUANT_PROD ? 1024 : 4096;
    struct codec *c = codec_new(&p, d);
    ck_assert_ptr_nonnull(c);
    size_t cap = codec_max_bytes(c), len;
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
    uint8_t *m = malloc(cap);
    fill(x, d, 77);
    for (size_t k = 0; k < d; k++)
        x[k] = x[k] < 0 ? -3e18f : 3e18f;
    struct codec_link link = { .seed = 2, .round = 1, .client = 5 };
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(codec_encode(c, m, cap, &len, x, &link, &eb) == 0, "%s: %s",
                  codec_kind_name(kind), eb.msg);
    ck_assert_msg(codec_decode(c, xh, m, len, &link, &eb) == 0, "%s: %s", codec_kind_name(kind),
                  eb.msg);
    double e = 0, n2 = 0;
    for (size_t k = 0; k < d; k++) {
        ck_assert(isfinite(xh[k]));
        e += ((double)xh[k] - x[k]) * ((double)xh[k] - x[k]);
        n2 += (double)x[k] * x[k];
    }
    ck_assert_msg(e <= 64 * n2, "%s: vNMSE %g", codec_kind_name(kind), e / n2);
    codec_free(c);
    free(x);
    free(xh);
    free(m);
}
END_TEST

/* `none` refuses to send or accept NaN, inf or values above CODEC_MAX_ABS. */
START_TEST(none_not_finite)
{
    struct codec_params p;
    tdme_params(&p, CODEC_NONE, 32);
    struct codec *c = codec_new(&p, 4);
    float x[4] = { 1, 2, 3, 4 }, out[4];
    uint8_t m[16];
    size_t len;
    struct codec_link link = { .seed = 1, .round = 2, .client = 3 };
    const float bad[3] = { NAN, INFINITY, 2 * CODEC_MAX_ABS };
    for (int k = 0; k < 3; k++) {
        x[2] = bad[k];
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(codec_encode(c, m, sizeof m, &len, x, &link, &eb), -ERR_RANGE);
        ck_assert_ptr_nonnull(strstr(eb.msg, "not finite"));
        memcpy(m, x, sizeof x);
        ck_assert_int_eq(codec_decode(c, out, m, sizeof m, &link, &eb), -ERR_CORRUPT);
        ck_assert_ptr_nonnull(strstr(eb.msg, "not finite"));
    }
    x[2] = CODEC_MAX_ABS;
    ck_assert_int_eq(codec_encode(c, m, sizeof m, &len, x, &link, NULL), 0);
    ck_assert_int_eq(codec_decode(c, out, m, len, &link, NULL), 0);
    ck_assert_float_eq(out[2], CODEC_MAX_ABS);
    codec_free(c);
}
END_TEST

/* Parameters a codec does not read are errors naming them. */
START_TEST(params_not_applying)
{
    static const struct {
        enum codec_kind kind;
        const char *word;
    } bad[] = {
        { CODEC_THC, "drive_plus" },   { CODEC_QUICFL, "exact_codebook" },
        { CODEC_EDEN, "shared_bits" }, { CODEC_HADAMARD_SQ, "p does" },
        { CODEC_QUICFL, "scale" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct codec_params p;
        tdme_params(&p, bad[k].kind, codec_kind_default_bits(bad[k].kind));
        p.rotation = CODEC_ROTATION_SHARED;
        if (k == 0)
            p.drive_plus = true;
        else if (k == 1)
            p.exact_codebook = true;
        else if (k == 2)
            p.shared_bits = 3;
        else if (k == 3)
            p.p = 0.01;
        else
            p.scale = CODEC_SCALE_BIASED;
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(codec_params_check(&p, 64, &eb), -ERR_INVALID);
        ck_assert_msg(strstr(eb.msg, bad[k].word) != NULL, "case %zu: %s", k, eb.msg);
    }
}
END_TEST

/* Encoding in two threads at once gives the bytes one thread gives (no hidden state). */
struct thread_job {
    int fmt;
    size_t clients;
    uint8_t *msgs;
    size_t *lens;
    size_t cap;
};

static void *
thread_encode(void *arg)
{
    struct thread_job *j = arg;
    struct codec *c = fmt_codec(j->fmt);
    size_t d = fmts[j->fmt].dim;
    float *x = malloc(d * sizeof *x);
    for (size_t k = 0; k < j->clients; k++) {
        fill(x, d, 1000 + k);
        struct codec_link link = { .seed = 8, .round = 1, .client = k };
        if (codec_encode(c, j->msgs + k * j->cap, j->cap, &j->lens[k], x, &link, NULL) != 0)
            j->lens[k] = SIZE_MAX;
    }
    free(x);
    codec_free(c);
    return NULL;
}

START_TEST(threads_same_bytes)
{
    for (int f = 0; f < NFMTS; f++) {
        struct codec *c = fmt_codec(f);
        size_t cap = codec_max_bytes(c);
        codec_free(c);
        size_t n = 6;
        struct thread_job one = { f, n, malloc(n * cap), malloc(n * sizeof(size_t)), cap };
        struct thread_job two[2] = {
            { f, n, malloc(n * cap), malloc(n * sizeof(size_t)), cap },
            { f, n, malloc(n * cap), malloc(n * sizeof(size_t)), cap },
        };
        thread_encode(&one);
        pthread_t th[2];
        for (int k = 0; k < 2; k++)
            ck_assert_int_eq(pthread_create(&th[k], NULL, thread_encode, &two[k]), 0);
        for (int k = 0; k < 2; k++)
            pthread_join(th[k], NULL);
        for (int k = 0; k < 2; k++) {
            for (size_t cl = 0; cl < n; cl++) {
                ck_assert_uint_ne(one.lens[cl], SIZE_MAX);
                ck_assert_uint_eq(one.lens[cl], two[k].lens[cl]);
                ck_assert_mem_eq(one.msgs + cl * cap, two[k].msgs + cl * cap, one.lens[cl]);
            }
            free(two[k].msgs);
            free(two[k].lens);
        }
        free(one.msgs);
        free(one.lens);
    }
}
END_TEST

/* decode_add of n clients + one finish equals the mean of the clients' own decodes. */
START_TEST(aggregate_equals_mean_of_decodes)
{
    int i = _i;
    struct codec *c = fmt_codec(i);
    size_t d = fmts[i].dim, cap = codec_max_bytes(c), acc_len = codec_acc_len(c);
    size_t n = 4;
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
    float *acc = calloc(acc_len, sizeof *acc), *out = malloc(d * sizeof *out);
    double *want = calloc(d, sizeof *want);
    uint8_t *m = malloc(cap);
    double scale = 0;
    for (size_t k = 0; k < n; k++) {
        fill(x, d, 200 + k);
        struct codec_link link = { .seed = 6, .round = 5, .client = k };
        size_t len;
        ck_assert_int_eq(codec_encode(c, m, cap, &len, x, &link, NULL), 0);
        ck_assert_int_eq(codec_decode_add(c, acc, m, len, 0.25, &link, NULL), 0);
        ck_assert_int_eq(codec_decode(c, xh, m, len, &link, NULL), 0);
        for (size_t j = 0; j < d; j++) {
            want[j] += 0.25 * xh[j];
            scale = fmax(scale, fabs(xh[j]));
        }
    }
    struct codec_link round = { .seed = 6, .round = 5, .client = 99 };
    codec_decode_finish(c, out, acc, &round);
    for (size_t j = 0; j < d; j++)
        ck_assert_msg(fabs(out[j] - want[j]) <= 1e-5 * (scale + 1), "fmt %d coord %zu: %g vs %g", i,
                      j, (double)out[j], want[j]);
    codec_free(c);
    free(x);
    free(xh);
    free(acc);
    free(out);
    free(want);
    free(m);
}
END_TEST

/* Error feedback: e <- (x + e) − decode(Q(x + e)), exactly; for `none` e stays 0. */
START_TEST(error_feedback)
{
    size_t d = 500;
    struct codec_params p;
    tdme_params(&p, CODEC_EDEN, 1);
    struct codec *c = codec_new(&p, d), *dec = codec_new(&p, d);
    struct error_feedback *ef = error_feedback_new(c);
    float *x = malloc(d * sizeof *x), *e = calloc(d, sizeof *e), *xe = malloc(d * sizeof *xe);
    float *xh = malloc(d * sizeof *xh);
    uint8_t *m = malloc(codec_max_bytes(c));
    double sent = 0, want = 0;
    for (uint64_t t = 0; t < 50; t++) {
        fill(x, d, 300 + t);
        for (size_t j = 0; j < d; j++)
            xe[j] = x[j] + e[j];
        struct codec_link link = { .seed = 3, .round = t, .client = 0 };
        size_t len;
        ck_assert_int_eq(error_feedback_encode(ef, e, m, codec_max_bytes(c), &len, x, &link, NULL),
                         0);
        ck_assert_int_eq(codec_decode(dec, xh, m, len, &link, NULL), 0);
        for (size_t j = 0; j < d; j++) {
            ck_assert_float_eq(e[j], xe[j] - xh[j]);
            sent += xh[j];
            want += x[j];
        }
    }
    /* Over T rounds the total sent differs from the total input only by the last residual. */
    double last = 0;
    for (size_t j = 0; j < d; j++)
        last += e[j];
    ck_assert_double_eq_tol(sent + last, want, 1e-2 * fabs(want) + 1e-2);
    error_feedback_free(ef);
    codec_free(c);
    codec_free(dec);
    free(x);
    free(e);
    free(xe);
    free(xh);
    free(m);
}
END_TEST

Suite *
codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("interface");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, names);
    tcase_add_test(tc, params_rejected);
    tcase_add_loop_test(tc, round_trip, 0, NFMTS);
    tcase_add_loop_test(tc, truncated, 0, NFMTS);
    tcase_add_loop_test(tc, random_bytes, 0, NFMTS);
    tcase_add_test(tc, threads_same_bytes);
    tcase_add_loop_test(tc, aggregate_equals_mean_of_decodes, 0, NFMTS);
    tcase_add_test(tc, error_feedback);
    tcase_add_loop_test(tc, huge_fields, 0, NFMTS);
    tcase_add_loop_test(tc, large_finite_input, 0, CODEC_KIND_COUNT);
    tcase_add_test(tc, none_not_finite);
    tcase_add_test(tc, params_not_applying);
    suite_add_tcase(s, tc);
    return s;
}
