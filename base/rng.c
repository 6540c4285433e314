/* rng: ChaCha20 keyed streams behind a gsl_rng. See rng.h. */
#include "base/rng.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "base/le.h"
#include "base/banned.h"

static const unsigned char rng_domain[crypto_generichash_KEYBYTES_MIN] = "fedbits.rng.v1";
/* Zeros the keystream is XORed onto: one buffer refill, or one chunk of a bulk draw. */
#define RNG_BULK_BYTES 4096
static const unsigned char rng_zeros[RNG_BULK_BYTES];
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
 * Bulk draws: the buffered bytes first, then whole buffers' worth of keystream written by
 * libsodium straight into out (large calls let it use its widest vector path), then the
 * buffer is refilled as usual for the tail. The bytes, the position and the buffer
 * afterwards are those of n one-byte draws, so later draws see no difference.
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
    for (size_t done = 0; done < whole;) {
        size_t chunk = whole - done < RNG_BULK_BYTES ? whole - done : RNG_BULK_BYTES;
        crypto_stream_chacha20_xor_ic(o + done, rng_zeros, chunk, rng_nonce, block, st->key_);
        block += chunk / RNG_BLOCK_BYTES;
        done += chunk;
    }
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
