/*
 * shamir: Z_L known answers, P61 answers from an independent
 * big-integer computation, any t of n, t - 1 shares leave the secret open, error paths.
 */
#include <sodium.h>
#include <string.h>

#include "base/mem.h"
#include "crypto/kx.h"
#include "crypto/shamir.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

#define P61 SHAMIR_P61_PRIME

static const enum shamir_field fields[] = { SHAMIR_FIELD_P61, SHAMIR_FIELD_L };

/* Test-side field arithmetic, written independently of shamir.c. */
__extension__ typedef unsigned __int128 t_u128;

static uint64_t
t_mul(uint64_t a, uint64_t b)
{
    return (uint64_t)(((t_u128)a * b) % P61);
}

static uint64_t
t_pow(uint64_t a, uint64_t e)
{
    uint64_t r = 1;
    for (; e != 0; e >>= 1, a = t_mul(a, a))
        if (e & 1)
            r = t_mul(r, a);
    return r;
}

static uint64_t
t_sub(uint64_t a, uint64_t b)
{
    return (a + P61 - b) % P61;
}

static uint64_t
t_get(const unsigned char *y, size_t c)
{
    uint64_t v = 0;
    for (int j = 0; j < 8; j++)
        v |= (uint64_t)y[8 * c + (size_t)j] << (8 * j);
    return v;
}

static void
t_put(unsigned char *y, size_t c, uint64_t v)
{
    for (int j = 0; j < 8; j++)
        y[8 * c + (size_t)j] = (unsigned char)(v >> (8 * j));
}

static void
sc_u64(unsigned char s[32], uint64_t v)
{
    memset(s, 0, 32);
    for (int j = 0; j < 8; j++)
        s[j] = (unsigned char)(v >> (8 * j));
}

/* A secret that is valid in both fields (a canonical scalar: top byte small). */
static void
make_secret(unsigned char s[SHAMIR_SECRET_BYTES], unsigned tag)
{
    for (unsigned i = 0; i < SHAMIR_SECRET_BYTES; i++)
        s[i] = (unsigned char)(tag * 37 + i * 11 + 5);
    s[31] &= 0x0f;
}

static struct shamir *
new_ws(enum shamir_field f, size_t max)
{
    struct shamir *sh = NULL;
    ck_assert_int_eq(shamir_new(&sh, f, max, NULL), 0);
    ck_assert_ptr_nonnull(sh);
    return sh;
}

/*
 * Reference §7.1.2: secret = reduce(SHA-512("fedbits-shamir-kat-secret0")), shares of
 * f(x) = secret + a1 x + a2 x^2 over Z_L at x = 1..5; all ten 3-subsets reconstruct, and
 * the secret's X25519 public key is the listed one.
 */
START_TEST(z_l_known_answer)
{
    static const char *const y_hex[5] = {
        "a40fae966c6905447decd07563c835deeb839de3a8241604b7514d9172389606",
        "aed154234a5da12562431bd5d91ea96a2c3fae080d999e441cfcd7b1085c270a",
        "40b2816d308e766662cc6c6be736ec657efa9445b59afbe2eaa7a6f17941c503",
        "47852ad2395f975e5424bddb6a0adee4e1b5519aa1292ddf2255b950c6e86f03",
        "c34a4f5166d0030e384b0c2664997ee75671e406d2453339c40310cfed512709",
    };
    unsigned char h[64], secret[32];
    static const char label[] = "fedbits-shamir-kat-secret0";
    crypto_hash_sha512(h, (const unsigned char *)label, sizeof label - 1);
    crypto_core_ed25519_scalar_reduce(secret, h);
    ck_assert_hex_eq(secret, 32,
                     "0f408324b215b5198a6485f0622d71d5bcc862d6883d6221bba80690b7d61109");

    struct shamir_share all[5];
    for (int i = 0; i < 5; i++) {
        memset(&all[i], 0, sizeof all[i]);
        all[i].x = (uint64_t)i + 1;
        hex_decode(all[i].y, 32, y_hex[i]);
    }
    struct shamir *sh = new_ws(SHAMIR_FIELD_L, 5);
    int subsets = 0;
    for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++)
            for (int c = b + 1; c < 5; c++) {
                struct shamir_share s3[3] = { all[a], all[b], all[c] };
                unsigned char got[32];
                ck_assert_int_eq(shamir_combine(sh, got, s3, 3, 3, NULL), 0);
                ck_assert_mem_eq(got, secret, 32);
                subsets++;
            }
    ck_assert_int_eq(subsets, 10);
    unsigned char got[32];
    ck_assert_int_eq(shamir_combine(sh, got, all, 5, 3, NULL), 0);
    ck_assert_mem_eq(got, secret, 32);

    struct kx_keypair kp;
    ck_assert_int_eq(kx_keypair_from_secret(&kp, got, NULL), 0);
    ck_assert_hex_eq(kp.pk, 32, "35810e7b8c27ac1e44ebf14e075682556a36fedf9e75d258c3fac8c9bce8d60f");
    shamir_free(sh);
}
END_TEST

/*
 * P61 shares computed with Python big integers from the chunking of shamir.h: secret byte
 * i = (0xC3 ^ 11i) mod 256, chunk c polynomial (s_c, 123456789 (c+1) 1000003 mod p,
 * p - 1 - 977c), points 3, 10, 1000000007 and p - 1.
 */
START_TEST(p61_known_answer)
{
    static const uint64_t xs[4] = { 3, 10, 1000000007, P61 - 1 };
    static const char *const y_hex[4] = {
        "370c39b7c9458300260067566ee94e0015ec9cf59204230004d8ca1c3821f000fbc479bc41940600",
        "55a920fcc557860072df34e0660d55008f0d51c4873a2c00ac3b65302969fc00d16afa142fee1500",
        "2f6109277e27e712ef4fe9a27b135e1cb036d11ef976dd05701db122f7db55103805129f59971719",
        "43b2b446a7848100be6a5e7529674b00391b10a42bc11d00b4cbb95aae1ce900367de48995cefd1f",
    };
    struct shamir_share all[4];
    for (int i = 0; i < 4; i++) {
        memset(&all[i], 0, sizeof all[i]);
        all[i].x = xs[i];
        hex_decode(all[i].y, 40, y_hex[i]);
    }
    struct shamir *sh = new_ws(SHAMIR_FIELD_P61, 4);
    for (int skip = 0; skip < 4; skip++) {
        struct shamir_share s3[3];
        for (int i = 0, j = 0; i < 4; i++)
            if (i != skip)
                s3[j++] = all[i];
        unsigned char got[32];
        ck_assert_int_eq(shamir_combine(sh, got, s3, 3, 3, NULL), 0);
        ck_assert_hex_eq(got, 32,
                         "c3c8d5e2eff4818e9ba0adba474c5966737805121f24313ecbd0ddeaf7fc8996");
    }
    unsigned char got[32];
    ck_assert_int_eq(shamir_combine(sh, got, all, 4, 3, NULL), 0);
    shamir_free(sh);
}
END_TEST

/* Every t-subset of n = 6, t = 4 (and every larger subset) rebuilds the secret. */
START_TEST(any_t_of_n_reconstruct)
{
    enum shamir_field f = fields[_i];
    enum { N = 6, T = 4 };
    struct shamir *sh = new_ws(f, N);
    unsigned char secret[32], got[32];
    make_secret(secret, 1);
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, (uint64_t)f);
    struct shamir_share sh6[N];
    ck_assert_int_eq(shamir_split(sh, sh6, N, NULL, T, secret, &r, NULL), 0);
    for (int i = 0; i < N; i++)
        ck_assert_uint_eq(sh6[i].x, (uint64_t)i + 1);
    int tried = 0;
    for (unsigned mask = 0; mask < (1u << N); mask++) {
        struct shamir_share sub[N];
        size_t m = 0;
        for (int i = N - 1; i >= 0; i--) /* reverse order: order must not matter */
            if (mask & (1u << i))
                sub[m++] = sh6[i];
        memset(got, 0, sizeof got);
        int rc = shamir_combine(sh, got, sub, m, T, NULL);
        if (m < T) {
            ck_assert_int_eq(rc, -ERR_RANGE);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_mem_eq(got, secret, 32);
        tried++;
    }
    ck_assert_int_eq(tried, 15 + 6 + 1);
    shamir_free(sh);
}
END_TEST

/* Larger cohorts and arbitrary points (holder ids + 1), random t-subsets. */
START_TEST(large_cohort_random_subsets)
{
    enum shamir_field f = fields[_i];
    size_t n = f == SHAMIR_FIELD_P61 ? 300 : 40, t = n * 2 / 3 + 1;
    struct shamir *sh = new_ws(f, n);
    struct shamir_share *shares = mem_calloc(n, sizeof *shares);
    struct shamir_share *sub = mem_calloc(n, sizeof *sub);
    uint64_t *xs = mem_calloc(n, sizeof *xs);
    uint32_t *idx = mem_calloc(n, sizeof *idx);
    ck_assert(shares && sub && xs && idx);
    for (size_t i = 0; i < n; i++)
        xs[i] = 1000003 * (uint64_t)i + 17 + (i == n - 1 ? P61 - 1000003 * n - 20 : 0);
    unsigned char secret[32], got[32];
    make_secret(secret, 2);
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, 0, (uint64_t)f);
    ck_assert_int_eq(shamir_split(sh, shares, n, xs, t, secret, &r, NULL), 0);
    for (int trial = 0; trial < 4; trial++) {
        for (uint32_t i = 0; i < n; i++)
            idx[i] = i;
        rng_shuffle_u32(&r, idx, n);
        for (size_t i = 0; i < t; i++)
            sub[i] = shares[idx[i]];
        ck_assert_int_eq(shamir_combine(sh, got, sub, t, t, NULL), 0);
        ck_assert_mem_eq(got, secret, 32);
    }
    mem_free(shares);
    mem_free(sub);
    mem_free(xs);
    mem_free(idx);
    shamir_free(sh);
}
END_TEST

/*
 * t - 1 shares do not determine the secret: for two different candidate secrets, the
 * polynomial through (0, candidate) and the t - 1 shares gives a t-th share (computed here
 * with the test's own field arithmetic) with which the t - 1 shares rebuild that candidate.
 */
START_TEST(t_minus_one_shares_leave_secret_open)
{
    enum shamir_field f = fields[_i];
    enum { N = 6, T = 4, XSTAR = 1000 };
    struct shamir *sh = new_ws(f, N);
    unsigned char secret[32];
    make_secret(secret, 3);
    struct rng r;
    rng_init_stream(&r, 13, RNG_PURPOSE_TEST, 0, (uint64_t)f);
    struct shamir_share all[N];
    ck_assert_int_eq(shamir_split(sh, all, N, NULL, T, secret, &r, NULL), 0);

    for (unsigned cand_tag = 3; cand_tag <= 4; cand_tag++) {
        unsigned char cand[32], got[32];
        make_secret(cand, cand_tag);
        /* Points of the interpolation: 0 and the first T - 1 shares. */
        uint64_t px[T] = { 0, all[0].x, all[1].x, all[2].x };
        struct shamir_share use[T];
        memcpy(use, all, (T - 1) * sizeof use[0]);
        memset(&use[T - 1], 0, sizeof use[T - 1]);
        use[T - 1].x = XSTAR;
        if (f == SHAMIR_FIELD_P61) {
            for (size_t c = 0; c < SHAMIR_P61_CHUNKS; c++) {
                uint64_t py[T];
                size_t off = 7 * c, w = c < 4 ? 7 : 4;
                py[0] = 0;
                for (size_t j = 0; j < w; j++)
                    py[0] |= (uint64_t)cand[off + j] << (8 * j);
                for (int i = 1; i < T; i++)
                    py[i] = t_get(all[i - 1].y, c);
                uint64_t val = 0;
                for (int i = 0; i < T; i++) {
                    uint64_t num = 1, den = 1;
                    for (int j = 0; j < T; j++)
                        if (j != i) {
                            num = t_mul(num, t_sub(XSTAR, px[j]));
                            den = t_mul(den, t_sub(px[i], px[j]));
                        }
                    val = (val + t_mul(py[i], t_mul(num, t_pow(den, P61 - 2)))) % P61;
                }
                t_put(use[T - 1].y, c, val);
            }
        } else {
            unsigned char val[32] = { 0 };
            for (int i = 0; i < T; i++) {
                unsigned char num[32], den[32], inv[32], d[32], a[32], b[32], term[32];
                sc_u64(num, 1);
                sc_u64(den, 1);
                for (int j = 0; j < T; j++)
                    if (j != i) {
                        sc_u64(a, XSTAR);
                        sc_u64(b, px[j]);
                        crypto_core_ed25519_scalar_sub(d, a, b);
                        crypto_core_ed25519_scalar_mul(num, num, d);
                        sc_u64(a, px[i]);
                        crypto_core_ed25519_scalar_sub(d, a, b);
                        crypto_core_ed25519_scalar_mul(den, den, d);
                    }
                ck_assert_int_eq(crypto_core_ed25519_scalar_invert(inv, den), 0);
                crypto_core_ed25519_scalar_mul(term, num, inv);
                crypto_core_ed25519_scalar_mul(term, term, i == 0 ? cand : all[i - 1].y);
                crypto_core_ed25519_scalar_add(val, val, term);
            }
            memcpy(use[T - 1].y, val, 32);
        }
        ck_assert_int_eq(shamir_combine(sh, got, use, T, T, NULL), 0);
        ck_assert_mem_eq(got, cand, 32);
    }
    shamir_free(sh);
}
END_TEST

START_TEST(split_is_deterministic)
{
    enum shamir_field f = fields[_i];
    struct shamir *sh = new_ws(f, 8);
    unsigned char secret[32];
    make_secret(secret, 5);
    struct shamir_share a[8], b[8], c[8];
    struct rng r1, r2, r3;
    rng_init_stream(&r1, 14, RNG_PURPOSE_TEST, 1, 2);
    rng_init_stream(&r2, 14, RNG_PURPOSE_TEST, 1, 2);
    rng_init_stream(&r3, 15, RNG_PURPOSE_TEST, 1, 2);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    ck_assert_int_eq(shamir_split(sh, a, 8, NULL, 5, secret, &r1, NULL), 0);
    ck_assert_int_eq(shamir_split(sh, b, 8, NULL, 5, secret, &r2, NULL), 0);
    ck_assert_int_eq(shamir_split(sh, c, 8, NULL, 5, secret, &r3, NULL), 0);
    ck_assert_mem_eq(a, b, sizeof a);
    for (int i = 0; i < 8; i++)
        ck_assert_mem_ne(a[i].y, c[i].y, shamir_share_bytes(f));
    unsigned char got[32];
    ck_assert_int_eq(shamir_combine(sh, got, c + 3, 5, 5, NULL), 0);
    ck_assert_mem_eq(got, secret, 32);
    ck_assert_int_eq(shamir_field_of(sh), f);
    shamir_free(sh);
}
END_TEST

START_TEST(workspace_errors)
{
    struct shamir *sh = (struct shamir *)&sh;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(shamir_new(&sh, (enum shamir_field)0, 10, &eb), -ERR_INVALID);
    ck_assert_ptr_null(sh);
    ck_assert_int_eq(shamir_new(&sh, (enum shamir_field)3, 10, &eb), -ERR_INVALID);
    ck_assert_int_eq(shamir_new(&sh, SHAMIR_FIELD_P61, 1, &eb), -ERR_INVALID);
    ck_assert_int_eq(shamir_new(&sh, SHAMIR_FIELD_L, SHAMIR_SHARES_MAX + 1, &eb), -ERR_INVALID);
    ck_assert_uint_eq(shamir_share_bytes((enum shamir_field)7), 0);
    ck_assert_uint_eq(shamir_share_bytes(SHAMIR_FIELD_P61), 40);
    ck_assert_uint_eq(shamir_share_bytes(SHAMIR_FIELD_L), 32);
    shamir_free(NULL);
    /* Out of memory at the first and second allocation: a clean error, nothing leaked. */
    for (long nth = 1; nth <= 2; nth++) {
        mem_fault_arm(nth);
        errbuf_clear(&eb);
        ck_assert_int_eq(shamir_new(&sh, SHAMIR_FIELD_P61, 10, &eb), -ERR_NOMEM);
        ck_assert(mem_fault_fired());
        ck_assert_ptr_null(sh);
        mem_fault_arm(0);
    }
}
END_TEST

START_TEST(split_errors)
{
    enum shamir_field f = fields[_i];
    struct shamir *sh = new_ws(f, 6);
    unsigned char secret[32];
    make_secret(secret, 6);
    struct shamir_share out[7];
    struct rng r;
    rng_init_stream(&r, 16, RNG_PURPOSE_TEST, 0, 0);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(shamir_split(sh, out, 6, NULL, 1, secret, &r, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "threshold 1 below 2");
    ck_assert_int_eq(shamir_split(sh, out, 6, NULL, 7, secret, &r, &eb), -ERR_INVALID);
    ck_assert_int_eq(shamir_split(sh, out, 7, NULL, 3, secret, &r, &eb), -ERR_INVALID);
    static const uint64_t dup[3] = { 4, 9, 4 }, zero[3] = { 1, 0, 2 };
    ck_assert_int_eq(shamir_split(sh, out, 3, dup, 2, secret, &r, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "share point 4 given twice");
    ck_assert_int_eq(shamir_split(sh, out, 3, zero, 2, secret, &r, &eb), -ERR_INVALID);
    if (f == SHAMIR_FIELD_P61) {
        static const uint64_t big[2] = { 1, P61 };
        ck_assert_int_eq(shamir_split(sh, out, 2, big, 2, secret, &r, &eb), -ERR_INVALID);
    } else {
        unsigned char not_scalar[32];
        memset(not_scalar, 0xff, sizeof not_scalar);
        ck_assert_int_eq(shamir_split(sh, out, 6, NULL, 3, not_scalar, &r, &eb), -ERR_RANGE);
        /* L itself is not below L; L - 1 is. */
        unsigned char l_minus_1[32], one[32], el[32];
        sc_u64(one, 1);
        crypto_core_ed25519_scalar_negate(l_minus_1, one);
        ck_assert_int_eq(shamir_split(sh, out, 6, NULL, 3, l_minus_1, &r, &eb), 0);
        memcpy(el, l_minus_1, 32);
        el[0]++;
        ck_assert_int_eq(shamir_split(sh, out, 6, NULL, 3, el, &r, &eb), -ERR_RANGE);
    }
    ck_assert_int_lt(eb.code, 0);
    shamir_free(sh);
}
END_TEST

START_TEST(combine_errors)
{
    enum shamir_field f = fields[_i];
    enum { N = 6, T = 3 };
    struct shamir *sh = new_ws(f, N);
    unsigned char secret[32], got[32], keep[32];
    make_secret(secret, 7);
    memset(keep, 0x77, sizeof keep);
    struct rng r;
    rng_init_stream(&r, 17, RNG_PURPOSE_TEST, 0, 0);
    struct shamir_share good[N], bad[N + 1];
    ck_assert_int_eq(shamir_split(sh, good, N, NULL, T, secret, &r, NULL), 0);
    struct errbuf eb;

#define EXPECT(call, want)                                                                         \
    do {                                                                                           \
        errbuf_clear(&eb);                                                                         \
        memcpy(got, keep, 32);                                                                     \
        ck_assert_int_eq((call), (want));                                                          \
        ck_assert_int_eq(eb.code, (want));                                                         \
        ck_assert_mem_eq(got, keep, 32);                                                           \
    } while (0)

    EXPECT(shamir_combine(sh, got, good, T - 1, T, &eb), -ERR_RANGE);
    ck_assert_str_eq(eb.msg, "2 shares given, threshold 3");
    EXPECT(shamir_combine(sh, got, good, 0, T, &eb), -ERR_RANGE);
    EXPECT(shamir_combine(sh, got, good, N, 1, &eb), -ERR_INVALID);
    memcpy(bad, good, sizeof good);
    bad[N] = good[0];
    bad[N].x = 99;
    EXPECT(shamir_combine(sh, got, bad, N + 1, T, &eb), -ERR_INVALID);

    memcpy(bad, good, sizeof good);
    bad[2].x = bad[0].x;
    EXPECT(shamir_combine(sh, got, bad, T, T, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "shares 0 and 2 have the same point 1");

    memcpy(bad, good, sizeof good);
    bad[1].x = 0;
    EXPECT(shamir_combine(sh, got, bad, T, T, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "share 1 has point 0");

    /* A further share that is off the polynomial by one. */
    memcpy(bad, good, sizeof good);
    if (f == SHAMIR_FIELD_P61) {
        t_put(bad[4].y, 2, (t_get(bad[4].y, 2) + 1) % P61);
    } else {
        unsigned char one[32];
        sc_u64(one, 1);
        crypto_core_ed25519_scalar_add(bad[4].y, bad[4].y, one);
    }
    EXPECT(shamir_combine(sh, got, bad, N, T, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "share 4 (point 5) disagrees with the first 3 shares");
    ck_assert_int_eq(shamir_combine(sh, got, bad, T, T, NULL), 0); /* t shares: undetectable */
    ck_assert_mem_eq(got, secret, 32);

    /* y values outside the field. */
    memcpy(bad, good, sizeof good);
    if (f == SHAMIR_FIELD_P61) {
        t_put(bad[0].y, 3, P61);
        EXPECT(shamir_combine(sh, got, bad, T, T, &eb), -ERR_CORRUPT);
        ck_assert_str_eq(eb.msg, "share 0: chunk 3 is not below 2^61 - 1");
        memcpy(bad, good, sizeof good);
        bad[1].x = P61;
        EXPECT(shamir_combine(sh, got, bad, T, T, &eb), -ERR_CORRUPT);
    } else {
        memset(bad[0].y, 0xff, 32);
        EXPECT(shamir_combine(sh, got, bad, T, T, &eb), -ERR_CORRUPT);
        ck_assert_str_eq(eb.msg, "share 0: value is not below L");
    }
    shamir_free(sh);
#undef EXPECT
}
END_TEST

/* P61: shares whose constant term is not a 7-byte chunk do not encode a 32-byte secret. */
START_TEST(p61_rejects_non_secret)
{
    struct shamir *sh = new_ws(SHAMIR_FIELD_P61, 2);
    struct shamir_share s[2];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 2; i++) {
        s[i].x = (uint64_t)i + 1;
        /* chunk 0: f(x) = 2^60 + 5x; other chunks f = 0. */
        t_put(s[i].y, 0, ((UINT64_C(1) << 60) + 5 * s[i].x) % P61);
    }
    unsigned char got[32];
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(shamir_combine(sh, got, s, 2, 2, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "shares do not encode a 32-byte secret (chunk 0)");
    /* The last chunk holds 4 bytes: 2^32 is too big for it. */
    memset(s[0].y, 0, sizeof s[0].y);
    memset(s[1].y, 0, sizeof s[1].y);
    t_put(s[0].y, 4, UINT64_C(1) << 32);
    t_put(s[1].y, 4, UINT64_C(1) << 32);
    ck_assert_int_eq(shamir_combine(sh, got, s, 2, 2, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "shares do not encode a 32-byte secret (chunk 4)");
    shamir_free(sh);
}
END_TEST

Suite *
shamir_suite(void)
{
    Suite *s = suite_create("shamir");
    TCase *tc = tcase_create("shamir");
    int nf = (int)(sizeof fields / sizeof fields[0]);
    tcase_add_test(tc, z_l_known_answer);
    tcase_add_test(tc, p61_known_answer);
    tcase_add_loop_test(tc, any_t_of_n_reconstruct, 0, nf);
    tcase_add_loop_test(tc, large_cohort_random_subsets, 0, nf);
    tcase_add_loop_test(tc, t_minus_one_shares_leave_secret_open, 0, nf);
    tcase_add_loop_test(tc, split_is_deterministic, 0, nf);
    tcase_add_test(tc, workspace_errors);
    tcase_add_loop_test(tc, split_errors, 0, nf);
    tcase_add_loop_test(tc, combine_errors, 0, nf);
    tcase_add_test(tc, p61_rejects_non_secret);
    suite_add_tcase(s, tc);
    return s;
}
