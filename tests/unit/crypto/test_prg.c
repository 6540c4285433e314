/*
 * prg: a toy SecAgg run (three clients) as a known answer, keystream answers from an
 * independent ChaCha20, slice independence, exact cancellation, uniformity, error paths.
 */
#include <gsl/gsl_cdf.h>
#include <string.h>

#include "base/mem.h"
#include "crypto/kdf.h"
#include "crypto/kx.h"
#include "crypto/prg.h"
#include "crypto/ring.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

/* Key of the independent vectors: byte i = (7i + 3) mod 256. */
static void
test_key(struct prg_key *key)
{
    for (int i = 0; i < PRG_KEY_BYTES; i++)
        key->bytes[i] = (unsigned char)((7 * i + 3) & 255);
}

/*
 * The toy run: clients u = 1, 2, 3, R = 2^16, m = 4, round 7,
 * vector 0: public keys, pair seeds, PRG outputs, self masks, masked inputs, the unmasked
 * sum, and the recovery when client 3 drops after ShareKeys.
 */
START_TEST(toy_secagg_known_answer)
{
    enum { N = 3, M = 4, K = 16, ROUND = 7 };
    static const char *const pk_hex[N] = {
        "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c",
        "5869aff450549732cbaaed5e5df9b30a6da31cb0e5742bad5ad4a1a768f1a67b",
        "64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d48466",
    };
    static const char *const seed_hex[N][N] = {
        { NULL, "b222729cc76b361b0a9f0bf1323d6c2d0602933d6c8ab980146492df70a75d71",
          "1ee27383819f49ec8a2a8923051fa0565d7a40987e67f31ff966c6a120e48959" },
        { NULL, NULL, "41d762367c850be8681e1d4e34aacef0fafc0ee5ae99c46757e59b4b52a8eea4" },
        { NULL, NULL, NULL },
    };
    static const uint32_t prg_pair[N][N][M] = {
        { { 0 }, { 44717, 35781, 42134, 47825 }, { 47589, 14875, 20168, 41970 } },
        { { 0 }, { 0 }, { 54421, 1480, 61481, 47042 } },
    };
    static const uint32_t self[N][M] = { { 53615, 32027, 4410, 2460 },
                                         { 22731, 11345, 32017, 31645 },
                                         { 22901, 38571, 5687, 20865 } };
    static const uint32_t x[N][M] = { { 1, 2, 3, 4 },
                                      { 100, 200, 300, 400 },
                                      { 65535, 0, 12345, 54321 } };
    static const uint32_t y_exp[N][M] = { { 26846, 46909, 7647, 43741 },
                                          { 13127, 45846, 12970, 32828 },
                                          { 59374, 54926, 34145, 33126 } };

    struct kx_keypair kp[N];
    for (int u = 0; u < N; u++) {
        unsigned char sk[KX_SECRET_BYTES];
        for (int i = 0; i < KX_SECRET_BYTES; i++)
            sk[i] = (unsigned char)(32 * u + i + 1);
        ck_assert_int_eq(kx_keypair_from_secret(&kp[u], sk, NULL), 0);
        ck_assert_hex_eq(kp[u].pk, KX_PUBLIC_BYTES, pk_hex[u]);
    }

    /* Each client derives its own copy of every pair key: u's view of (u, v). */
    struct prg_key pair[N][N];
    for (int u = 0; u < N; u++)
        for (int v = 0; v < N; v++) {
            if (u == v)
                continue;
            unsigned char seed[KX_SHARED_BYTES];
            ck_assert_int_eq(kx_agree(seed, &kp[u], kp[v].pk, NULL, 0, NULL), 0);
            int lo = u < v ? u : v, hi = u < v ? v : u;
            ck_assert_hex_eq(seed, KX_SHARED_BYTES, seed_hex[lo][hi]);
            ck_assert_int_eq(prg_key_derive(&pair[u][v], seed, PRG_KIND_PAIR, ROUND, NULL), 0);
            uint32_t mask[M];
            ck_assert_int_eq(prg_fill_u32(mask, M, &pair[u][v], 0, K, 0, NULL), 0);
            ck_assert_mem_eq(mask, prg_pair[lo][hi], sizeof mask);
        }

    struct prg_key selfkey[N];
    uint32_t y[N][M];
    for (int u = 0; u < N; u++) {
        unsigned char b[PRG_SEED_BYTES];
        for (int i = 0; i < PRG_SEED_BYTES; i++)
            b[i] = (unsigned char)(0xA0 + u + i);
        ck_assert_int_eq(prg_key_derive(&selfkey[u], b, PRG_KIND_SELF, ROUND, NULL), 0);
        uint32_t p[M];
        ck_assert_int_eq(prg_fill_u32(p, M, &selfkey[u], 0, K, 0, NULL), 0);
        ck_assert_mem_eq(p, self[u], sizeof p);

        /* y_u = x_u + p_u + sum_v delta_{u,v} PRG(s_{u,v}), delta = +1 when u > v. */
        memcpy(y[u], x[u], sizeof y[u]);
        ck_assert_int_eq(prg_add_u32(y[u], M, &selfkey[u], 0, K, 0, NULL), 0);
        for (int v = 0; v < N; v++) {
            if (v == u)
                continue;
            if (u > v)
                ck_assert_int_eq(prg_add_u32(y[u], M, &pair[u][v], 0, K, 0, NULL), 0);
            else
                ck_assert_int_eq(prg_sub_u32(y[u], M, &pair[u][v], 0, K, 0, NULL), 0);
        }
        ck_assert_mem_eq(y[u], y_exp[u], sizeof y[u]);
    }

    /* Everyone survives: sum y - sum p = sum x. */
    uint32_t sum[M] = { 0 };
    for (int u = 0; u < N; u++)
        ring_add_u32(sum, y[u], M, K);
    static const uint32_t sum_y[M] = { 33811, 16609, 54762, 44159 };
    ck_assert_mem_eq(sum, sum_y, sizeof sum);
    for (int u = 0; u < N; u++)
        ck_assert_int_eq(prg_sub_u32(sum, M, &selfkey[u], 0, K, 0, NULL), 0);
    static const uint32_t sum_x[M] = { 100, 202, 12648, 54725 };
    ck_assert_mem_eq(sum, sum_x, sizeof sum);

    /* Client 3 drops after ShareKeys: the server rebuilds its pair keys from sk_3. */
    uint32_t rec[M] = { 0 };
    ring_add_u32(rec, y[0], M, K);
    ring_add_u32(rec, y[1], M, K);
    ck_assert_int_eq(prg_sub_u32(rec, M, &selfkey[0], 0, K, 0, NULL), 0);
    ck_assert_int_eq(prg_sub_u32(rec, M, &selfkey[1], 0, K, 0, NULL), 0);
    ck_assert_int_eq(prg_add_u32(rec, M, &pair[2][0], 0, K, 0, NULL), 0);
    ck_assert_int_eq(prg_add_u32(rec, M, &pair[2][1], 0, K, 0, NULL), 0);
    static const uint32_t x12[M] = { 101, 202, 303, 404 };
    ck_assert_mem_eq(rec, x12, sizeof rec);
}
END_TEST

/*
 * Elements from an independent ChaCha20 (Python `cryptography`, nonce = le32 counter 0 ||
 * le32 vector 3 || 8 zero bytes over zero bytes), read as w = ceil(k/8) little-endian bytes
 * at offset w*i and masked to k bits; the slices cross block boundaries for k = 24 and 61.
 */
START_TEST(independent_keystream_answers)
{
    static const struct {
        unsigned k;
        uint64_t start;
        size_t n;
        uint64_t v[8];
    } cases[] = {
        { 24, 20, 6, { 0xbd4b18, 0x3d8e1f, 0x8ef6ca, 0xfc6635, 0x9f353e, 0xa3ecf9 } },
        { 61,
          1000,
          4,
          { 0xd764aa196280147, 0x1f7570ea9b04c377, 0x1928c1a054939cd1, 0xa8bcce0675a29e6 } },
        { 64, 7, 3, { 0x1fbd4b182452f655, 0xfc66358ef6ca3d8e, 0xcf96a3ecf99f353e } },
        { 5, 60, 8, { 0x18, 0xb, 0x1d, 0x1f, 0xe, 0x1d, 0xa, 0x16 } },
        { 13, 30, 4, { 0xb18, 0x1fbd, 0x1d8e, 0x16ca } },
        { 32, 15, 3, { 0x1fbd4b18, 0xf6ca3d8e, 0xfc66358e } },
    };
    struct prg_key key;
    test_key(&key);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t got[8];
        ck_assert_int_eq(prg_fill_u64(got, cases[c].n, &key, 3, cases[c].k, cases[c].start, NULL),
                         0);
        for (size_t i = 0; i < cases[c].n; i++)
            ck_assert_uint_eq(got[i], cases[c].v[i]);
        if (cases[c].k <= 32) {
            uint32_t got32[8];
            ck_assert_int_eq(
                prg_fill_u32(got32, cases[c].n, &key, 3, cases[c].k, cases[c].start, NULL), 0);
            for (size_t i = 0; i < cases[c].n; i++)
                ck_assert_uint_eq(got32[i], cases[c].v[i]);
        }
    }
}
END_TEST

static const unsigned slice_bits[] = { 1, 5, 8, 13, 16, 24, 32, 40, 61, 64 };

/* [a, b) + [b, c) = [a, c) for splits at and around block and chunk boundaries. */
START_TEST(slices_concatenate)
{
    unsigned k = slice_bits[_i];
    enum { A = 3, C = 3000 };
    struct prg_key key;
    test_key(&key);
    static uint64_t whole[C - A], parts[C - A];
    ck_assert_int_eq(prg_fill_u64(whole, C - A, &key, 1, k, A, NULL), 0);
    static const uint64_t splits[] = {
        A, A + 1, 21, 22, 63, 64, 65, 512, 513, 1365, 1366, C - 1, C
    };
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        uint64_t b = splits[s];
        memset(parts, 0xee, sizeof parts);
        ck_assert_int_eq(prg_fill_u64(parts, (size_t)(b - A), &key, 1, k, A, NULL), 0);
        ck_assert_int_eq(prg_fill_u64(parts + (b - A), (size_t)(C - b), &key, 1, k, b, NULL), 0);
        ck_assert_mem_eq(parts, whole, sizeof whole);
    }
    /* As T threads would cut it: equal slices, the last one shorter. */
    for (size_t t = 2; t <= 7; t++) {
        size_t per = (C - A + t - 1) / t;
        memset(parts, 0xee, sizeof parts);
        for (size_t s = 0; s * per < C - A; s++) {
            size_t len = (s + 1) * per <= C - A ? per : C - A - s * per;
            ck_assert_int_eq(prg_fill_u64(parts + s * per, len, &key, 1, k, A + s * per, NULL), 0);
        }
        ck_assert_mem_eq(parts, whole, sizeof whole);
    }
    /* u32 and u64 agree for k <= 32; values are reduced. */
    if (k <= 32) {
        static uint32_t w32[C - A];
        ck_assert_int_eq(prg_fill_u32(w32, C - A, &key, 1, k, A, NULL), 0);
        for (size_t i = 0; i < C - A; i++)
            ck_assert_uint_eq(w32[i], whole[i]);
    }
    for (size_t i = 0; i < C - A; i++)
        ck_assert_uint_le(whole[i], ring_mask(k));
    /* Another vector index is another stream. */
    ck_assert_int_eq(prg_fill_u64(parts, C - A, &key, 2, k, A, NULL), 0);
    ck_assert_mem_ne(parts, whole, sizeof whole);
}
END_TEST

static const unsigned cancel_bits[] = { 8, 16, 32, 61, 64 };

/*
 * Pairwise masks cancel exactly: u adds PRG(s_{u,v}) and v subtracts PRG(s_{v,u}), each
 * from its own agreement, so y_u + y_v = x_u + x_v in Z_{2^k} for every coordinate.
 */
START_TEST(pairwise_masks_cancel)
{
    unsigned k = cancel_bits[_i];
    enum { D = 10007 };
    struct kx_keypair u, v;
    unsigned char s[KX_SEED_BYTES];
    memset(s, 0x11, sizeof s);
    ck_assert_int_eq(kx_keypair_from_seed(&u, s, NULL), 0);
    memset(s, 0x22, sizeof s);
    ck_assert_int_eq(kx_keypair_from_seed(&v, s, NULL), 0);
    unsigned char suv[KX_SHARED_BYTES], svu[KX_SHARED_BYTES];
    ck_assert_int_eq(kx_agree(suv, &u, v.pk, (const unsigned char *)"sess", 4, NULL), 0);
    ck_assert_int_eq(kx_agree(svu, &v, u.pk, (const unsigned char *)"sess", 4, NULL), 0);
    struct prg_key kuv, kvu;
    ck_assert_int_eq(prg_key_derive(&kuv, suv, PRG_KIND_PAIR, 3, NULL), 0);
    ck_assert_int_eq(prg_key_derive(&kvu, svu, PRG_KIND_PAIR, 3, NULL), 0);

    uint64_t *xu = mem_alloc(D * sizeof *xu), *xv = mem_alloc(D * sizeof *xv);
    uint64_t *yu = mem_alloc(D * sizeof *yu), *yv = mem_alloc(D * sizeof *yv);
    ck_assert_ptr_nonnull(xu);
    ck_assert_ptr_nonnull(xv);
    ck_assert_ptr_nonnull(yu);
    ck_assert_ptr_nonnull(yv);
    struct rng r;
    rng_init_stream(&r, 77, RNG_PURPOSE_TEST, k, 0);
    for (size_t i = 0; i < D; i++) {
        xu[i] = rng_u64(&r) & ring_mask(k);
        xv[i] = rng_u64(&r) & ring_mask(k);
    }
    memcpy(yu, xu, D * sizeof *yu);
    memcpy(yv, xv, D * sizeof *yv);
    ck_assert_int_eq(prg_add_u64(yu, D, &kuv, 0, k, 0, NULL), 0);
    ck_assert_int_eq(prg_sub_u64(yv, D, &kvu, 0, k, 0, NULL), 0);
    ck_assert_mem_ne(yu, xu, D * sizeof *yu);
    ring_add_u64(yu, yv, D, k);
    ring_add_u64(xu, xv, D, k);
    ck_assert_mem_eq(yu, xu, D * sizeof *yu);

    if (k <= 32) {
        uint32_t *a = mem_calloc(D, sizeof *a);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(prg_add_u32(a, D, &kuv, 0, k, 0, NULL), 0);
        ck_assert_int_eq(prg_sub_u32(a, D, &kvu, 0, k, 0, NULL), 0);
        for (size_t i = 0; i < D; i++)
            ck_assert_uint_eq(a[i], 0);
        mem_free(a);
    }
    /* fill then ring_add equals the fused add. */
    memcpy(yu, xv, D * sizeof *yu);
    ck_assert_int_eq(prg_add_u64(yu, D, &kuv, 0, k, 0, NULL), 0);
    ck_assert_int_eq(prg_fill_u64(yv, D, &kuv, 0, k, 0, NULL), 0);
    ring_add_u64(yv, xv, D, k);
    ck_assert_mem_eq(yu, yv, D * sizeof *yu);
    mem_free(xu);
    mem_free(xv);
    mem_free(yu);
    mem_free(yv);
}
END_TEST

/*
 * Chi-square of k = 8 elements over 2^20 draws (256 buckets, mean 4096, 255 degrees of
 * freedom); with a fixed key the test is deterministic, and it fails if the upper tail
 * probability is below 1e-4 (a uniform stream passes with probability 1 - 1e-4).
 */
START_TEST(uniform_k8)
{
    enum { N = 1 << 20 };
    uint32_t *v = mem_alloc(N * sizeof *v);
    ck_assert_ptr_nonnull(v);
    struct prg_key key;
    test_key(&key);
    ck_assert_int_eq(prg_fill_u32(v, N, &key, 9, 8, 0, NULL), 0);
    double count[256] = { 0 };
    for (size_t i = 0; i < N; i++)
        count[v[i]] += 1;
    double chi2 = 0, mean = N / 256.0;
    for (int b = 0; b < 256; b++)
        chi2 += (count[b] - mean) * (count[b] - mean) / mean;
    ck_assert_double_gt(gsl_cdf_chisq_Q(chi2, 255), 1e-4);
    mem_free(v);
}
END_TEST

START_TEST(key_derivation_uses_registered_contexts)
{
    unsigned char seed[PRG_SEED_BYTES], direct[PRG_KEY_BYTES];
    memset(seed, 0x5a, sizeof seed);
    struct prg_key pk, sk;
    ck_assert_int_eq(prg_key_derive(&pk, seed, PRG_KIND_PAIR, 12, NULL), 0);
    ck_assert_int_eq(kdf_derive(direct, sizeof direct, seed, KDF_CTX_PAIR, 12, NULL), 0);
    ck_assert_mem_eq(pk.bytes, direct, PRG_KEY_BYTES);
    ck_assert_int_eq(prg_key_derive(&sk, seed, PRG_KIND_SELF, 12, NULL), 0);
    ck_assert_int_eq(kdf_derive(direct, sizeof direct, seed, KDF_CTX_SELF, 12, NULL), 0);
    ck_assert_mem_eq(sk.bytes, direct, PRG_KEY_BYTES);
    prg_key_wipe(&sk);
    unsigned char zero[PRG_KEY_BYTES] = { 0 };
    ck_assert_mem_eq(sk.bytes, zero, PRG_KEY_BYTES);

    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(prg_key_derive(&sk, seed, (enum prg_kind)9, 12, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "unknown mask kind 9");
}
END_TEST

START_TEST(rejects_bad_width_and_range)
{
    struct prg_key key;
    test_key(&key);
    uint32_t a32[4] = { 1, 2, 3, 4 };
    uint64_t a64[4] = { 1, 2, 3, 4 };
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(prg_fill_u32(a32, 4, &key, 0, 0, 0, &eb), -ERR_INVALID);
    ck_assert_int_eq(prg_add_u32(a32, 4, &key, 0, 33, 0, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "ring width 33 outside 1..32");
    ck_assert_int_eq(prg_sub_u32(a32, 4, &key, 0, 40, 0, &eb), -ERR_INVALID);
    ck_assert_int_eq(prg_fill_u64(a64, 4, &key, 0, 65, 0, &eb), -ERR_INVALID);
    ck_assert_int_eq(prg_add_u64(a64, 4, &key, 0, 0, 0, &eb), -ERR_INVALID);

    /* The stream holds 2^38 bytes: 2^35 elements of 8 bytes, 2^36 of 4, 2^38 of 1. */
    ck_assert_uint_eq(prg_max_elements(64), UINT64_C(1) << 35);
    ck_assert_uint_eq(prg_max_elements(32), UINT64_C(1) << 36);
    ck_assert_uint_eq(prg_max_elements(24), (UINT64_C(1) << 38) / 3);
    ck_assert_uint_eq(prg_max_elements(8), UINT64_C(1) << 38);
    uint64_t end = prg_max_elements(64);
    ck_assert_int_eq(prg_sub_u64(a64, 4, &key, 0, 64, end - 3, &eb), -ERR_RANGE);
    ck_assert_int_eq(prg_add_u32(a32, 1, &key, 0, 32, prg_max_elements(32), &eb), -ERR_RANGE);
    ck_assert_int_eq(prg_fill_u64(a64, 1, &key, 0, 64, UINT64_MAX, &eb), -ERR_RANGE);
    ck_assert_int_eq(eb.code, -ERR_RANGE);
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(a32[i], i + 1);
        ck_assert_uint_eq(a64[i], i + 1);
    }
    /* The last elements of the stream are reachable (the last block is 2^32 - 1). */
    ck_assert_int_eq(prg_fill_u64(a64, 4, &key, 0, 64, end - 4, &eb), 0);
    ck_assert_int_eq(prg_fill_u32(a32, 4, &key, 0, 24, prg_max_elements(24) - 4, &eb), 0);
    ck_assert_int_eq(prg_fill_u64(a64, 0, &key, 0, 64, end, &eb), 0);
}
END_TEST

Suite *
prg_suite(void)
{
    Suite *s = suite_create("prg");
    TCase *tc = tcase_create("prg");
    tcase_add_test(tc, toy_secagg_known_answer);
    tcase_add_test(tc, independent_keystream_answers);
    tcase_add_loop_test(tc, slices_concatenate, 0, sizeof slice_bits / sizeof slice_bits[0]);
    tcase_add_loop_test(tc, pairwise_masks_cancel, 0, sizeof cancel_bits / sizeof cancel_bits[0]);
    tcase_add_test(tc, uniform_k8);
    tcase_add_test(tc, key_derivation_uses_registered_contexts);
    tcase_add_test(tc, rejects_bad_width_and_range);
    suite_add_tcase(s, tc);
    return s;
}
