/*
 * quicfl_digest: QUIC-FL's messages and decoded vectors, pinned bit for bit across its
 * parameters (bits, shared bits, exact fraction p, shared rotation, packet loss, block
 * ) and dimensions (powers of two and not), and the same with the portable loops
 * forced (quicfl_set_portable()), so the vector paths give exactly the plain code's bytes.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/quicfl.h"
#include "codec/rht.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

struct qd_case {
    unsigned bits, shared_bits;
    double p, loss;
    enum codec_rotation rotation;
    size_t d;
    unsigned rounds;
    uint64_t digest;
};

/*
 * FNV-1a over `rounds` rounds of messages and decoded vectors: the decode of each message
 * alone (as codec_decode(): a zeroed accumulator, then finish), and both clients' messages
 * weighted into one accumulator.
 */
static uint64_t
qd_digest(const struct qd_case *t, bool portable)
{
    struct codec_params p;
    codec_params_default(&p);
    p.kind = CODEC_QUICFL;
    p.bits = t->bits;
    p.shared_bits = t->shared_bits;
    if (t->p > 0)
        p.p = t->p;
    p.packet_loss = t->loss;
    p.rotation = t->rotation;
    size_t d = t->d;
    struct quicfl *q = quicfl_new(&p, d);
    ck_assert(q != NULL);
    quicfl_set_portable(q, portable);
    size_t cap = quicfl_max_bytes(q), acc_len = quicfl_acc_len(q);
    float *x = mem_alloc(d * sizeof *x), *out = mem_alloc(d * sizeof *out);
    float *acc = mem_alloc(acc_len * sizeof *acc), *acc2 = mem_alloc(acc_len * sizeof *acc2);
    uint8_t *msg = mem_alloc(cap);
    ck_assert(x != NULL && out != NULL && acc != NULL && acc2 != NULL && msg != NULL);
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t k = 0; k < t->rounds; k++) {
        memset(acc2, 0, acc_len * sizeof *acc2);
        for (uint64_t client = 0; client < 2; client++) {
            struct rng r;
            rng_init_stream(&r, 7, RNG_PURPOSE_TEST, k, client);
            /* spikes (many exact coordinates) every third round, a constant vector once */
            for (size_t i = 0; i < d; i++)
                x[i] = k == 4 ? 0.5f
                              : (float)(rng_uniform(&r) - 0.5) *
                                    (k % 3 == 0 ? (float)(i % 97 == 0 ? 1000 : i % 13) : 1.0f);
            struct codec_link l = { .seed = 3, .round = k, .client = client };
            struct errbuf eb;
            size_t len;
            ck_assert_int_eq(quicfl_encode(q, msg, cap, &len, x, &l, &eb), 0);
            h = tdme_fnv1a(h, &len, sizeof len);
            h = tdme_fnv1a(h, msg, len);
            memset(acc, 0, acc_len * sizeof *acc);
            ck_assert_int_eq(quicfl_decode_add(q, acc, msg, len, 1.0, &l, &eb), 0);
            quicfl_decode_finish(q, out, acc, &l);
            h = tdme_fnv1a(h, out, d * sizeof *out);
            double w = 0.75 + 0.5 * (double)client;
            ck_assert_int_eq(quicfl_decode_add(q, acc2, msg, len, w, &l, &eb), 0);
        }
        struct codec_link l = { .seed = 3, .round = k, .client = 0 };
        quicfl_decode_finish(q, out, acc2, &l);
        h = tdme_fnv1a(h, out, d * sizeof *out);
    }
    quicfl_free(q);
    mem_free(x);
    mem_free(out);
    mem_free(acc);
    mem_free(acc2);
    mem_free(msg);
    return h;
}

#define QD_SHARED CODEC_ROTATION_SHARED
#define QD_OWN    CODEC_ROTATION_PER_CLIENT

/* Taken from the build before the fused encoder and decoder (the per-coordinate loops). */
static const struct qd_case qd_cases[] = {
    { 1, 0, 0, 0, QD_OWN, 1000, 6, UINT64_C(0x5364f7904c56fafb) },
    { 2, 0, 0, 0, QD_OWN, 1000, 6, UINT64_C(0xbe7bdee47fcf029f) },
    { 3, 0, 0, 0, QD_OWN, 1000, 6, UINT64_C(0xafe8f9009253a96a) },
    { 4, 0, 0, 0, QD_OWN, 1000, 6, UINT64_C(0x1cb8b202937ea721) },
    { 1, 0, 0, 0, QD_OWN, 100000, 6, UINT64_C(0x9431ce067fea6ab9) },
    { 2, 0, 0, 0, QD_OWN, 100000, 6, UINT64_C(0xcff1cad52fa476f7) },
    { 4, 0, 0, 0, QD_OWN, 100000, 6, UINT64_C(0x3165880bd225f9a5) },
    { 1, 0, 0, 0, QD_OWN, 131072, 4, UINT64_C(0xd3b30213bc955258) },
    { 1, 0, 0, 0, QD_OWN, 4097, 6, UINT64_C(0x14391ce25e8be089) },
    { 2, 0, 0, 0, QD_OWN, 16, 6, UINT64_C(0x74efa1a80cf4caad) },
    { 2, 0, 0, 0, QD_OWN, 7, 6, UINT64_C(0xf6da9ba06cc1eeeb) },
    { 2, 0, 0, 0, QD_OWN, 65536, 6, UINT64_C(0xfe906aac06a03637) },
    { 1, 1, 0, 0, QD_OWN, 5000, 6, UINT64_C(0x5c82df2028aa15d6) },
    { 2, 3, 0, 0, QD_OWN, 5000, 6, UINT64_C(0xf3554a3eb29901a1) },
    { 4, 2, 0, 0, QD_OWN, 5000, 6, UINT64_C(0x5bb760fd4e58a1d1) },
    { 3, 2, 0, 0, QD_OWN, 5000, 6, UINT64_C(0x0befcff06c8f318d) },
    { 2, 0, 0.05, 0, QD_OWN, 5000, 6, UINT64_C(0xaf4f6ee795f2523e) },
    { 2, 0, 0, 0, QD_SHARED, 5000, 6, UINT64_C(0x179195bba9e83352) },
    { 4, 0, 0, 0, QD_SHARED, 70000, 6, UINT64_C(0xa56c31a3ce18c2d3) },
    { 2, 0, 0, 0.1, QD_OWN, 5000, 6, UINT64_C(0x03153d04475831eb) },
    { 2, 0, 0, 0, QD_OWN, 1048576, 2, UINT64_C(0x1a9d4c0fc24ffc7e) },
    { 1, 0, 0, 0, QD_OWN, 600000, 2, UINT64_C(0x7d44fb9f3d010402) },
    /* shared bits around the 16-wide encoder's limits (added before it, main's digests) */
    { 2, 6, 0, 0, QD_OWN, 5000, 6, UINT64_C(0x0a13ffd2e22684f3) },
    { 3, 5, 0, 0, QD_OWN, 5000, 6, UINT64_C(0x55a7b4d946097e6a) },
    { 4, 5, 0, 0, QD_OWN, 5000, 6, UINT64_C(0xb99fd05631ef39ae) },
    { 4, 1, 0, 0, QD_OWN, 5000, 6, UINT64_C(0x3fd9faa0a9681126) },
    { 3, 0, 0.01, 0, QD_OWN, 5000, 6, UINT64_C(0x34cba1283d176fb7) },
    { 3, 0, 0, 0, QD_OWN, 100000, 2, UINT64_C(0xe40863750634c7fb) },
};

#define QD_NCASES (sizeof qd_cases / sizeof qd_cases[0])

/* Loop indices below QD_NCASES: the vector paths; the others: the same case, portable. */
START_TEST(digests_pinned)
{
    const struct qd_case *t = &qd_cases[(size_t)_i % QD_NCASES];
    bool portable = (size_t)_i >= QD_NCASES;
    uint64_t h = qd_digest(t, portable);
    ck_assert_msg(h == t->digest, "case %d (b %u, d %zu%s): digest 0x%016llx, pinned 0x%016llx", _i,
                  t->bits, t->d, portable ? ", portable" : "", (unsigned long long)h,
                  (unsigned long long)t->digest);
}
END_TEST

/*
 * Random vectors of random scale (2^-60 .. 2^60, some with a few huge coordinates or
 * exact zeros) through the vector and the portable encoder: the same messages, and the
 * decoder's vector (AVX-512 and AVX2) and portable table lookups give the same vectors.
 */
START_TEST(vector_matches_portable_any_scale)
{
    static const unsigned bits[] = { 1, 2, 3, 4 };
    for (size_t bi = 0; bi < 4; bi++) {
        struct codec_params p;
        codec_params_default(&p);
        p.kind = CODEC_QUICFL;
        p.bits = bits[bi];
        size_t d = 200;
        struct quicfl *qv = quicfl_new(&p, d), *qp = quicfl_new(&p, d), *q2 = quicfl_new(&p, d);
        ck_assert(qv != NULL && qp != NULL && q2 != NULL);
        quicfl_set_portable(qp, true);
        quicfl_set_no_avx512(q2, true);
        size_t cap = quicfl_max_bytes(qv), D = quicfl_acc_len(qv);
        uint8_t *mv = mem_alloc(cap), *mp = mem_alloc(cap);
        float *x = mem_alloc(d * sizeof *x), *av = mem_alloc(D * sizeof *av);
        float *ap = mem_alloc(D * sizeof *ap), *a2 = mem_alloc(D * sizeof *a2);
        ck_assert(mv != NULL && mp != NULL && x != NULL && av != NULL && ap != NULL && a2 != NULL);
        for (uint64_t k = 0; k < 300; k++) {
            struct rng r;
            rng_init_stream(&r, 11, RNG_PURPOSE_TEST, k, bi);
            double scale = ldexp(1.0, (int)rng_below(&r, 121) - 60);
            for (size_t i = 0; i < d; i++) {
                double v = (rng_uniform(&r) - 0.5) * scale;
                if (k % 5 == 1 && rng_below(&r, 50) == 0)
                    v *= 1e6;
                x[i] = k % 7 == 2 && i % 3 != 0 ? 0.0f : (float)v;
            }
            struct codec_link l = { .seed = 5, .round = k, .client = 1 };
            struct errbuf eb;
            size_t lv, lp;
            ck_assert_int_eq(quicfl_encode(qv, mv, cap, &lv, x, &l, &eb), 0);
            ck_assert_int_eq(quicfl_encode(qp, mp, cap, &lp, x, &l, &eb), 0);
            ck_assert_msg(lv == lp && memcmp(mv, mp, lv) == 0, "b %u round %llu: messages differ",
                          bits[bi], (unsigned long long)k);
            memset(av, 0, D * sizeof *av);
            memset(ap, 0, D * sizeof *ap);
            memset(a2, 0, D * sizeof *a2);
            ck_assert_int_eq(quicfl_decode_add(qv, av, mv, lv, 0.5, &l, &eb), 0);
            ck_assert_int_eq(quicfl_decode_add(qp, ap, mv, lv, 0.5, &l, &eb), 0);
            ck_assert_int_eq(quicfl_decode_add(q2, a2, mv, lv, 0.5, &l, &eb), 0);
            ck_assert(memcmp(av, ap, D * sizeof *av) == 0);
            ck_assert(memcmp(a2, ap, D * sizeof *a2) == 0);
        }
        quicfl_free(qv);
        quicfl_free(qp);
        quicfl_free(q2);
        mem_free(mv);
        mem_free(mp);
        mem_free(x);
        mem_free(av);
        mem_free(ap);
        mem_free(a2);
    }
}
END_TEST

/*
 * The encoder's three paths (16-wide AVX-512 where the tables allow it, AVX2, portable)
 * give the same messages: every bit width with small and large column tables, dimensions
 * that are not multiples of 16, many exact coordinates, zero and constant vectors (no
 * certificate anywhere) and random scales.
 */
START_TEST(encoder_paths_agree)
{
    static const unsigned cfg[][2] = { { 1, 0 }, { 2, 0 }, { 3, 0 }, { 4, 0 },
                                       { 1, 2 }, { 2, 6 }, { 3, 5 }, { 4, 1 } };
    static const size_t dims[] = { 7, 31, 1000, 4097 };
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        struct codec_params p;
        codec_params_default(&p);
        p.kind = CODEC_QUICFL;
        p.bits = cfg[c][0];
        p.shared_bits = cfg[c][1];
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            size_t d = dims[di];
            if (cfg[c][1] != 0 && di % 2 == 0)
                continue; /* a table to solve: two dimensions */
            struct quicfl *q = quicfl_new(&p, d);
            ck_assert(q != NULL);
            size_t cap = quicfl_max_bytes(q);
            uint8_t *m[3] = { mem_alloc(cap), mem_alloc(cap), mem_alloc(cap) };
            float *x = mem_alloc(d * sizeof *x);
            ck_assert(m[0] != NULL && m[1] != NULL && m[2] != NULL && x != NULL);
            for (uint64_t k = 0; k < (d < 1000 ? 24u : 8u); k++) {
                struct rng r;
                rng_init_stream(&r, 13, RNG_PURPOSE_TEST, k, c * 16 + di);
                double scale = ldexp(1.0, (int)rng_below(&r, 81) - 40);
                for (size_t i = 0; i < d; i++) {
                    double v = (rng_uniform(&r) - 0.5) * scale;
                    if (k % 4 == 1 && rng_below(&r, 20) == 0)
                        v *= 1e4; /* many exact coordinates */
                    x[i] = k == 2 ? 0.0f : k == 3 ? 0.25f : (float)v;
                }
                struct codec_link l = { .seed = 9, .round = k, .client = c };
                size_t len[3];
                for (int path = 0; path < 3; path++) {
                    quicfl_set_no_avx512(q, path == 1);
                    quicfl_set_portable(q, path == 2);
                    struct errbuf eb;
                    ck_assert_int_eq(quicfl_encode(q, m[path], cap, &len[path], x, &l, &eb), 0);
                }
                for (int path = 1; path < 3; path++)
                    ck_assert_msg(len[path] == len[0] && memcmp(m[path], m[0], len[0]) == 0,
                                  "b %u ell %u d %zu round %llu: path %d differs", cfg[c][0],
                                  cfg[c][1], d, (unsigned long long)k, path);
            }
            quicfl_free(q);
            for (int path = 0; path < 3; path++)
                mem_free(m[path]);
            mem_free(x);
        }
    }
}
END_TEST

/* rht_signs_draw_key() gives rht_signs_draw()'s bytes on a fresh stream, whole blocks or not. */
START_TEST(signs_draw_key_matches_stream)
{
    static const size_t dims[] = { 1, 8, 64, 512, 520, 4096, 1 << 15 };
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        size_t D = dims[k], n = rht_sign_bytes(D);
        uint8_t *a = mem_alloc(n), *b = mem_alloc(n);
        ck_assert(a != NULL && b != NULL);
        struct rng_key key;
        rng_key_derive(&key, 9, RNG_PURPOSE_CODEC_SHARED, k, 3);
        struct rng r;
        rng_init(&r, &key);
        rht_signs_draw(a, D, &r);
        rht_signs_draw_key(b, D, &key);
        ck_assert_msg(memcmp(a, b, n) == 0, "D = %zu", D);
        mem_free(a);
        mem_free(b);
    }
}
END_TEST

Suite *
quicfl_digest_suite(void)
{
    Suite *s = suite_create("quicfl_digest");
    TCase *tc = tcase_create("quicfl_digest");
    tcase_add_loop_test(tc, digests_pinned, 0, (int)(2 * QD_NCASES));
    tcase_add_test(tc, vector_matches_portable_any_scale);
    tcase_add_test(tc, encoder_paths_agree);
    tcase_add_test(tc, signs_draw_key_matches_stream);
    suite_add_tcase(s, tc);
    return s;
}
