/* rng: ChaCha20 keyed streams behind a gsl_rng. See rng.h. */
#include "base/rng.h"

#include <assert.h>
#include <immintrin.h>
#include <sodium.h>
#include <string.h>

#include "base/le.h"
#include "base/banned.h"

static const unsigned char rng_domain[crypto_generichash_KEYBYTES_MIN] = "fedbits.rng.v1";
/* Zeros the keystream is XORed onto: one buffer refill. */
static const unsigned char rng_zeros[RNG_BUFFER_BYTES];
static const unsigned char rng_nonce[crypto_stream_chacha20_NONCEBYTES];

void
rng_key_derive(struct rng_key *out, uint64_t seed, uint32_t purpose, uint64_t round,
               uint64_t client)
{
    unsigned char msg[28];
    le_store64(msg, seed);
    le_store32(msg + 8, purpose);
    le_store64(msg + 12, round);
    le_store64(msg + 20, client);
    int rc = crypto_generichash(out->bytes, sizeof out->bytes, msg, sizeof msg, rng_domain,
                                sizeof rng_domain);
    assert(rc == 0);
    (void)rc;
}

static void
rng_refill(struct rng_state *st)
{
    crypto_stream_chacha20_xor_ic(st->buf_, rng_zeros, sizeof st->buf_, rng_nonce, st->block_,
                                  st->key_);
}

static void
rng_state_init(struct rng_state *st, const unsigned char key[RNG_KEY_BYTES])
{
    memcpy(st->key_, key, RNG_KEY_BYTES);
    st->fast_block_ = 0;
    st->block_ = 0;
    st->pos_ = 0;
    rng_refill(st);
}

static uint32_t
rng_state_u32(struct rng_state *st)
{
    if (st->pos_ + 4 > sizeof st->buf_) {
        st->block_ += sizeof st->buf_ / RNG_BLOCK_BYTES;
        st->pos_ = 0;
        rng_refill(st);
    }
    const unsigned char *p = st->buf_ + st->pos_;
    st->pos_ += 4;
    return le_load32(p);
}

static double
rng_state_uniform(struct rng_state *st)
{
    uint64_t hi = rng_state_u32(st) >> 5; /* 27 bits */
    uint64_t lo = rng_state_u32(st) >> 6; /* 26 bits */
    return (double)((hi << 26) | lo) * 0x1.0p-53;
}

/* gsl_rng_type callbacks */
static void
rng_gsl_set(void *vstate, unsigned long seed)
{
    struct rng_key key;
    rng_key_derive(&key, (uint64_t)seed, RNG_PURPOSE_GSL_SEED, RNG_ANY, RNG_ANY);
    rng_state_init(vstate, key.bytes);
}

static unsigned long
rng_gsl_get(void *vstate)
{
    return rng_state_u32(vstate);
}

static double
rng_gsl_get_double(void *vstate)
{
    return rng_state_uniform(vstate);
}

static const gsl_rng_type rng_chacha20_type_impl = {
    .name = "fedbits-chacha20",
    .max = 0xffffffffUL,
    .min = 0,
    .size = sizeof(struct rng_state),
    .set = rng_gsl_set,
    .get = rng_gsl_get,
    .get_double = rng_gsl_get_double,
};

const gsl_rng_type *const rng_chacha20_type = &rng_chacha20_type_impl;

void
rng_init(struct rng *r, const struct rng_key *key)
{
    r->gsl_.type = &rng_chacha20_type_impl;
    r->gsl_.state = &r->st_;
    rng_state_init(&r->st_, key->bytes);
}

void
rng_init_stream(struct rng *r, uint64_t seed, uint32_t purpose, uint64_t round, uint64_t client)
{
    struct rng_key key;
    rng_key_derive(&key, seed, purpose, round, client);
    rng_init(r, &key);
    sodium_memzero(&key, sizeof key);
}

gsl_rng *
rng_gsl(struct rng *r)
{
    assert(r->gsl_.state == &r->st_ && "struct rng was copied after rng_init");
    return &r->gsl_;
}

struct rng *
rng_from_gsl(gsl_rng *g)
{
    if (g == NULL || g->type != &rng_chacha20_type_impl)
        return NULL;
    struct rng *r = (struct rng *)g; /* gsl_ is the first member */
    return r->gsl_.state == &r->st_ ? r : NULL;
}

void
rng_seek(struct rng *r, uint64_t byte)
{
    struct rng_state *st = &r->st_;
    uint64_t first = byte / RNG_BUFFER_BYTES * (RNG_BUFFER_BYTES / RNG_BLOCK_BYTES);
    st->block_ = first;
    st->pos_ = (size_t)(byte % RNG_BUFFER_BYTES);
    rng_refill(st);
}

uint64_t
rng_tell(const struct rng *r)
{
    return r->st_.block_ * RNG_BLOCK_BYTES + r->st_.pos_;
}

/*
 * Bulk draws: the buffered bytes first, then whole buffers' worth of keystream written
 * straight into out by rng_chacha_blocks() at 20 rounds (sixteen blocks at a time with
 * AVX-512F or eight with AVX2; the same bytes as libsodium's crypto_stream_chacha20, which the
 * tests check, about four times faster than libsodium's own path here), then the buffer is refilled
 * as usual for the tail. The bytes, the position and the buffer afterwards are those of n one-byte
 * draws, so later draws see no difference.
 */
void
rng_bytes(struct rng *r, void *out, size_t n)
{
    struct rng_state *st = &r->st_;
    unsigned char *o = out;
    size_t take = sizeof st->buf_ - st->pos_;
    if (take > n)
        take = n;
    memcpy(o, st->buf_ + st->pos_, take);
    st->pos_ += take;
    o += take;
    n -= take;
    if (n == 0)
        return;
    uint64_t block = st->block_ + sizeof st->buf_ / RNG_BLOCK_BYTES;
    size_t whole = n - n % RNG_BUFFER_BYTES;
    rng_chacha_blocks(o, st->key_, 0, block, whole / RNG_BLOCK_BYTES, 20, RNG_CHACHA_BEST);
    block += whole / RNG_BLOCK_BYTES;
    o += whole;
    n -= whole;
    st->block_ = block;
    st->pos_ = n;
    rng_refill(st);
    memcpy(o, st->buf_, n);
}

/*
 * rng_u32() skips the bytes left in the buffer when fewer than 4 remain, which matters only
 * after draws of a size not a multiple of 4: then the values are drawn one by one.
 */
void
rng_u32s(struct rng *r, uint32_t *out, size_t n)
{
    if (r->st_.pos_ % 4 != 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = rng_state_u32(&r->st_);
        return;
    }
    rng_bytes(r, out, n * sizeof *out);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    for (size_t i = 0; i < n; i++)
        out[i] = le_load32(&out[i]);
#endif
}

void
rng_uniforms(struct rng *r, double *out, size_t n)
{
    if (r->st_.pos_ % 4 != 0) { /* as in rng_u32s() */
        for (size_t i = 0; i < n; i++)
            out[i] = rng_state_uniform(&r->st_);
        return;
    }
    /* Each double is made in place from the 8 keystream bytes it occupies. */
    rng_bytes(r, out, n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)&out[i];
        uint64_t hi = le_load32(p) >> 5;     /* 27 bits */
        uint64_t lo = le_load32(p + 4) >> 6; /* 26 bits */
        out[i] = (double)((hi << 26) | lo) * 0x1.0p-53;
    }
}

uint32_t
rng_u32(struct rng *r)
{
    return rng_state_u32(&r->st_);
}

uint64_t
rng_u64(struct rng *r)
{
    uint64_t lo = rng_state_u32(&r->st_);
    uint64_t hi = rng_state_u32(&r->st_);
    return lo | hi << 32;
}

double
rng_uniform(struct rng *r)
{
    return rng_state_uniform(&r->st_);
}

uint64_t
rng_below(struct rng *r, uint64_t n)
{
    assert(n >= 1);
    /* Lemire-free classic rejection: accept v below the largest multiple of n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = rng_u64(r);
    } while (v >= limit);
    return v % n;
}

void
rng_shuffle_u32(struct rng *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* ChaCha (Bernstein, "ChaCha, a variant of Salsa20", SASC 2008): the block function. */

#define RNG_FAST_ROUNDS 8
#define RNG_ROTL(v, n)  ((v) << (n) | (v) >> (32 - (n)))
#define RNG_QR(a, b, c, d)                                                                         \
    do {                                                                                           \
        a += b;                                                                                    \
        d = RNG_ROTL(d ^ a, 16);                                                                   \
        c += d;                                                                                    \
        b = RNG_ROTL(b ^ c, 12);                                                                   \
        a += b;                                                                                    \
        d = RNG_ROTL(d ^ a, 8);                                                                    \
        c += d;                                                                                    \
        b = RNG_ROTL(b ^ c, 7);                                                                    \
    } while (0)

/* The 16 input words of block `block`: constants, key, counter, nonce. */
static void
rng_chacha_input(uint32_t in[16], const unsigned char key[RNG_KEY_BYTES], uint64_t nonce,
                 uint64_t block)
{
    in[0] = 0x61707865;
    in[1] = 0x3320646e;
    in[2] = 0x79622d32;
    in[3] = 0x6b206574;
    for (int k = 0; k < 8; k++)
        in[4 + k] = le_load32(key + 4 * k);
    in[12] = (uint32_t)block;
    in[13] = (uint32_t)(block >> 32);
    in[14] = (uint32_t)nonce;
    in[15] = (uint32_t)(nonce >> 32);
}

static void
rng_chacha_portable(unsigned char *out, const unsigned char key[RNG_KEY_BYTES], uint64_t nonce,
                    uint64_t first, size_t nblocks, unsigned rounds)
{
    for (size_t j = 0; j < nblocks; j++) {
        uint32_t in[16], x[16];
        rng_chacha_input(in, key, nonce, first + j);
        memcpy(x, in, sizeof x);
        for (unsigned r = 0; r < rounds; r += 2) {
            RNG_QR(x[0], x[4], x[8], x[12]);
            RNG_QR(x[1], x[5], x[9], x[13]);
            RNG_QR(x[2], x[6], x[10], x[14]);
            RNG_QR(x[3], x[7], x[11], x[15]);
            RNG_QR(x[0], x[5], x[10], x[15]);
            RNG_QR(x[1], x[6], x[11], x[12]);
            RNG_QR(x[2], x[7], x[8], x[13]);
            RNG_QR(x[3], x[4], x[9], x[14]);
        }
        for (int k = 0; k < 16; k++)
            le_store32(out + 64 * j + 4 * (size_t)k, x[k] + in[k]);
    }
}

/* AVX2: eight blocks at a time, lane l of word vector k is word k of block l. */
#define RNG_V_ROTL(v, n)                                                                           \
    _mm256_or_si256(_mm256_slli_epi32((v), (n)), _mm256_srli_epi32((v), 32 - (n)))
#define RNG_V_QR(a, b, c, d)                                                                       \
    do {                                                                                           \
        a = _mm256_add_epi32(a, b);                                                                \
        d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot16);                                    \
        c = _mm256_add_epi32(c, d);                                                                \
        b = RNG_V_ROTL(_mm256_xor_si256(b, c), 12);                                                \
        a = _mm256_add_epi32(a, b);                                                                \
        d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot8);                                     \
        c = _mm256_add_epi32(c, d);                                                                \
        b = RNG_V_ROTL(_mm256_xor_si256(b, c), 7);                                                 \
    } while (0)

/* Transposes 8 vectors of 8 words: on return, v[l] holds lane l of the inputs in order. */
__attribute__((target("avx2"))) static inline void
rng_transpose8(__m256i v[8])
{
    __m256i a0 = _mm256_unpacklo_epi32(v[0], v[1]), a1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i a2 = _mm256_unpacklo_epi32(v[2], v[3]), a3 = _mm256_unpackhi_epi32(v[2], v[3]);
    __m256i a4 = _mm256_unpacklo_epi32(v[4], v[5]), a5 = _mm256_unpackhi_epi32(v[4], v[5]);
    __m256i a6 = _mm256_unpacklo_epi32(v[6], v[7]), a7 = _mm256_unpackhi_epi32(v[6], v[7]);
    __m256i b0 = _mm256_unpacklo_epi64(a0, a2), b1 = _mm256_unpackhi_epi64(a0, a2);
    __m256i b2 = _mm256_unpacklo_epi64(a1, a3), b3 = _mm256_unpackhi_epi64(a1, a3);
    __m256i b4 = _mm256_unpacklo_epi64(a4, a6), b5 = _mm256_unpackhi_epi64(a4, a6);
    __m256i b6 = _mm256_unpacklo_epi64(a5, a7), b7 = _mm256_unpackhi_epi64(a5, a7);
    v[0] = _mm256_permute2x128_si256(b0, b4, 0x20);
    v[1] = _mm256_permute2x128_si256(b1, b5, 0x20);
    v[2] = _mm256_permute2x128_si256(b2, b6, 0x20);
    v[3] = _mm256_permute2x128_si256(b3, b7, 0x20);
    v[4] = _mm256_permute2x128_si256(b0, b4, 0x31);
    v[5] = _mm256_permute2x128_si256(b1, b5, 0x31);
    v[6] = _mm256_permute2x128_si256(b2, b6, 0x31);
    v[7] = _mm256_permute2x128_si256(b3, b7, 0x31);
}

/* Whole groups of eight blocks; returns the number of blocks written. */
__attribute__((target("avx2"))) static size_t
rng_chacha_avx2(unsigned char *out, const unsigned char key[RNG_KEY_BYTES], uint64_t nonce,
                uint64_t first, size_t nblocks, unsigned rounds)
{
    const __m256i rot16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2,
                                           3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const __m256i rot8 = _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3,
                                          0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
    uint32_t in[16];
    rng_chacha_input(in, key, nonce, 0);
    __m256i s[16];
    for (int k = 0; k < 12; k++)
        s[k] = _mm256_set1_epi32((int)in[k]);
    s[14] = _mm256_set1_epi32((int)in[14]);
    s[15] = _mm256_set1_epi32((int)in[15]);
    size_t j = 0;
    for (; j + 8 <= nblocks; j += 8) {
        uint32_t lo[8], hi[8];
        for (int l = 0; l < 8; l++) {
            uint64_t c = first + j + (uint64_t)l;
            lo[l] = (uint32_t)c;
            hi[l] = (uint32_t)(c >> 32);
        }
        s[12] = _mm256_loadu_si256((const __m256i *)lo);
        s[13] = _mm256_loadu_si256((const __m256i *)hi);
        __m256i x0 = s[0], x1 = s[1], x2 = s[2], x3 = s[3], x4 = s[4], x5 = s[5], x6 = s[6];
        __m256i x7 = s[7], x8 = s[8], x9 = s[9], x10 = s[10], x11 = s[11], x12 = s[12];
        __m256i x13 = s[13], x14 = s[14], x15 = s[15];
        for (unsigned r = 0; r < rounds; r += 2) {
            RNG_V_QR(x0, x4, x8, x12);
            RNG_V_QR(x1, x5, x9, x13);
            RNG_V_QR(x2, x6, x10, x14);
            RNG_V_QR(x3, x7, x11, x15);
            RNG_V_QR(x0, x5, x10, x15);
            RNG_V_QR(x1, x6, x11, x12);
            RNG_V_QR(x2, x7, x8, x13);
            RNG_V_QR(x3, x4, x9, x14);
        }
        __m256i a[8] = { x0, x1, x2, x3, x4, x5, x6, x7 };
        __m256i b[8] = { x8, x9, x10, x11, x12, x13, x14, x15 };
        for (int k = 0; k < 8; k++) {
            a[k] = _mm256_add_epi32(a[k], s[k]);
            b[k] = _mm256_add_epi32(b[k], s[8 + k]);
        }
        rng_transpose8(a);
        rng_transpose8(b);
        unsigned char *o = out + 64 * j;
        for (int l = 0; l < 8; l++) {
            _mm256_storeu_si256((__m256i *)(o + 64 * l), a[l]);
            _mm256_storeu_si256((__m256i *)(o + 64 * l + 32), b[l]);
        }
    }
    return j;
}

/* AVX-512F: sixteen blocks at a time, lane l of word vector k is word k of block l. */
#define RNG_Z_QR(a, b, c, d)                                                                       \
    do {                                                                                           \
        a = _mm512_add_epi32(a, b);                                                                \
        d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);                                          \
        c = _mm512_add_epi32(c, d);                                                                \
        b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);                                          \
        a = _mm512_add_epi32(a, b);                                                                \
        d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);                                           \
        c = _mm512_add_epi32(c, d);                                                                \
        b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);                                           \
    } while (0)

/*
 * Writes the 16 blocks whose words are x[0..16) (lane l of x[k] is word k of block l) to
 * o[0 .. 1024). First a 4x4 transpose of 32-bit words inside each 128-bit lane, per group
 * of four words: afterwards t[g][i] holds, in its 128-bit lane q, words 4g .. 4g+3 of block
 * 4q + i. Then a 4x4 transpose of 128-bit lanes across the four groups.
 */
__attribute__((target("avx512f"))) static inline void
rng_store16(unsigned char *o, const __m512i x[16])
{
    __m512i t[4][4];
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        const __m512i *v = x + 4 * g;
        __m512i a0 = _mm512_unpacklo_epi32(v[0], v[1]), a1 = _mm512_unpackhi_epi32(v[0], v[1]);
        __m512i a2 = _mm512_unpacklo_epi32(v[2], v[3]), a3 = _mm512_unpackhi_epi32(v[2], v[3]);
        t[g][0] = _mm512_unpacklo_epi64(a0, a2);
        t[g][1] = _mm512_unpackhi_epi64(a0, a2);
        t[g][2] = _mm512_unpacklo_epi64(a1, a3);
        t[g][3] = _mm512_unpackhi_epi64(a1, a3);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        /* c0 = lanes 0,1 of groups 0 and 1; c1 = lanes 2,3 of them; c2, c3 for groups 2, 3 */
        __m512i c0 = _mm512_shuffle_i32x4(t[0][i], t[1][i], 0x44);
        __m512i c1 = _mm512_shuffle_i32x4(t[0][i], t[1][i], 0xee);
        __m512i c2 = _mm512_shuffle_i32x4(t[2][i], t[3][i], 0x44);
        __m512i c3 = _mm512_shuffle_i32x4(t[2][i], t[3][i], 0xee);
        _mm512_storeu_si512(o + 64 * (0 + i), _mm512_shuffle_i32x4(c0, c2, 0x88));
        _mm512_storeu_si512(o + 64 * (4 + i), _mm512_shuffle_i32x4(c0, c2, 0xdd));
        _mm512_storeu_si512(o + 64 * (8 + i), _mm512_shuffle_i32x4(c1, c3, 0x88));
        _mm512_storeu_si512(o + 64 * (12 + i), _mm512_shuffle_i32x4(c1, c3, 0xdd));
    }
}

/* Whole groups of sixteen blocks; returns the number of blocks written. */
__attribute__((target("avx512f"))) static size_t
rng_chacha_avx512(unsigned char *out, const unsigned char key[RNG_KEY_BYTES], uint64_t nonce,
                  uint64_t first, size_t nblocks, unsigned rounds)
{
    uint32_t in[16];
    rng_chacha_input(in, key, nonce, 0);
    __m512i s[16];
    for (int k = 0; k < 16; k++)
        s[k] = _mm512_set1_epi32((int)in[k]);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i one = _mm512_set1_epi32(1);
    size_t j = 0;
    for (; j + 16 <= nblocks; j += 16) {
        /* counter first + j + l, the low word's carry into the high word where it wraps */
        uint64_t c = first + j;
        __m512i lo = _mm512_set1_epi32((int)(uint32_t)c);
        __m512i hi = _mm512_set1_epi32((int)(uint32_t)(c >> 32));
        s[12] = _mm512_add_epi32(lo, lane);
        s[13] = _mm512_mask_add_epi32(hi, _mm512_cmplt_epu32_mask(s[12], lo), hi, one);
        /* unrolled so that x[] lives in registers (about 10% faster at 8 rounds) */
        __m512i x[16];
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++)
            x[k] = s[k];
        for (unsigned r = 0; r < rounds; r += 2) {
            RNG_Z_QR(x[0], x[4], x[8], x[12]);
            RNG_Z_QR(x[1], x[5], x[9], x[13]);
            RNG_Z_QR(x[2], x[6], x[10], x[14]);
            RNG_Z_QR(x[3], x[7], x[11], x[15]);
            RNG_Z_QR(x[0], x[5], x[10], x[15]);
            RNG_Z_QR(x[1], x[6], x[11], x[12]);
            RNG_Z_QR(x[2], x[7], x[8], x[13]);
            RNG_Z_QR(x[3], x[4], x[9], x[14]);
        }
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++)
            x[k] = _mm512_add_epi32(x[k], s[k]);
        rng_store16(out + 64 * j, x);
    }
    return j;
}

/*
 * The widest kernel that impl allows and the CPU has, then the next narrower one for what
 * is left, down to the portable one for the last blocks (fewer than eight).
 */
void
rng_chacha_blocks(unsigned char *out, const unsigned char key[RNG_KEY_BYTES], uint64_t nonce,
                  uint64_t first_block, size_t nblocks, unsigned rounds, enum rng_chacha_impl impl)
{
    size_t done = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if ((impl == RNG_CHACHA_BEST || impl == RNG_CHACHA_AVX512) && __builtin_cpu_supports("avx512f"))
        done = rng_chacha_avx512(out, key, nonce, first_block, nblocks, rounds);
    if (impl != RNG_CHACHA_PORTABLE && __builtin_cpu_supports("avx2"))
        done += rng_chacha_avx2(out + 64 * done, key, nonce, first_block + done, nblocks - done,
                                rounds);
#else
    (void)impl;
#endif
    rng_chacha_portable(out + 64 * done, key, nonce, first_block + done, nblocks - done, rounds);
}

void
rng_fast_bytes(struct rng *r, void *out, size_t n)
{
    struct rng_state *st = &r->st_;
    size_t whole = n / RNG_BLOCK_BYTES;
    rng_chacha_blocks(out, st->key_, RNG_FAST_NONCE, st->fast_block_, whole, RNG_FAST_ROUNDS,
                      RNG_CHACHA_BEST);
    st->fast_block_ += whole;
    if (n % RNG_BLOCK_BYTES != 0) {
        unsigned char last[RNG_BLOCK_BYTES];
        rng_chacha_blocks(last, st->key_, RNG_FAST_NONCE, st->fast_block_, 1, RNG_FAST_ROUNDS,
                          RNG_CHACHA_PORTABLE);
        st->fast_block_++;
        memcpy((unsigned char *)out + whole * RNG_BLOCK_BYTES, last, n % RNG_BLOCK_BYTES);
    }
}

void
rng_fast_blocks(const struct rng_key *key, uint64_t first_block, size_t nblocks, void *out)
{
    rng_chacha_blocks(out, key->bytes, RNG_FAST_NONCE, first_block, nblocks, RNG_FAST_ROUNDS,
                      RNG_CHACHA_BEST);
}

void
rng_fast_u16s(struct rng *r, uint16_t *out, size_t n)
{
    rng_fast_bytes(r, out, n * sizeof *out);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)&out[i];
        out[i] = (uint16_t)(p[0] | p[1] << 8);
    }
#endif
}
