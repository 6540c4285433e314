/*
 * prg: ChaCha20-IETF keystream chunks converted to ring elements. See prg.h.
 *
 * The keystream is produced 4 KiB at a time by xoring a zeroed stack buffer from the
 * block that holds the first wanted byte (which is also how libsodium's own keystream
 * function works, so the cost is that of raw ChaCha20 plus one pass over a cached chunk).
 * The conversion loops are specialised per element width w and read each element with one
 * word load.
 */
#include "crypto/prg.h"

#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "base/le.h"
#include "crypto/kdf.h"
#include "crypto/ring.h"

#include "base/banned.h"

_Static_assert(PRG_KEY_BYTES == crypto_stream_chacha20_ietf_KEYBYTES, "prg key size");
_Static_assert(PRG_NONCE_BYTES == crypto_stream_chacha20_ietf_NONCEBYTES, "prg nonce size");
_Static_assert(PRG_SEED_BYTES == KDF_KEY_BYTES, "a seed is a kdf master key");
_Static_assert(PRG_KEY_BYTES >= KDF_SUBKEY_MIN && PRG_KEY_BYTES <= KDF_SUBKEY_MAX,
               "a prg key is a kdf subkey");
_Static_assert(PRG_BITS_MAX == RING_BITS_MAX, "prg elements are ring elements");

/* Keystream bytes per refill: whole blocks, small enough to stay in the L1 cache. */
#define PRG_CHUNK_BYTES 4096
#define PRG_CHUNK_SLACK 8 /* a word load may read up to 7 bytes past the last element */
_Static_assert(PRG_CHUNK_BYTES % PRG_BLOCK_BYTES == 0, "chunk is whole blocks");

enum prg_op { PRG_OP_FILL, PRG_OP_ADD, PRG_OP_SUB };

/* The plaintext that xor_ic turns into keystream (read-only, so not mutable state). */
static const unsigned char prg_zeros[PRG_CHUNK_BYTES];

int
prg_key_derive(struct prg_key *key, const unsigned char seed[PRG_SEED_BYTES], enum prg_kind kind,
               uint64_t round, struct errbuf *eb)
{
    const char *ctx;
    switch (kind) {
    case PRG_KIND_PAIR:
        ctx = KDF_CTX_PAIR;
        break;
    case PRG_KIND_SELF:
        ctx = KDF_CTX_SELF;
        break;
    default:
        return errbuf_set(eb, -ERR_INVALID, "unknown mask kind %d", (int)kind);
    }
    return kdf_derive(key->bytes, sizeof key->bytes, seed, ctx, round, eb);
}

void
prg_key_wipe(struct prg_key *key)
{
    sodium_memzero(key, sizeof *key);
}

unsigned
prg_element_bytes(unsigned k)
{
    assert(k >= 1 && k <= PRG_BITS_MAX);
    return (k + 7) / 8;
}

uint64_t
prg_max_elements(unsigned k)
{
    return PRG_STREAM_BYTES_MAX / prg_element_bytes(k);
}

/*
 * An element of w bytes is read as the little-endian word (le_load32/64) that starts at its
 * first byte, then masked to k <= 8w bits, which drops the bytes of the next element: one
 * unaligned load per element whatever w. The chunk buffer has PRG_CHUNK_SLACK spare bytes
 * so that the last element's word stays inside it. With w a constant after inlining, each
 * width gets its own loop (vectorised for w = 4, 8).
 */
static inline __attribute__((always_inline)) void
prg_convert_u32(uint32_t *restrict out, const unsigned char *restrict src, size_t cnt, unsigned w,
                uint32_t m, enum prg_op op)
{
    switch (op) {
    case PRG_OP_FILL:
        for (size_t i = 0; i < cnt; i++)
            out[i] = le_load32(src + w * i) & m;
        break;
    case PRG_OP_ADD:
        for (size_t i = 0; i < cnt; i++)
            out[i] = (out[i] + le_load32(src + w * i)) & m;
        break;
    case PRG_OP_SUB:
        for (size_t i = 0; i < cnt; i++)
            out[i] = (out[i] - le_load32(src + w * i)) & m;
        break;
    }
}

static inline __attribute__((always_inline)) void
prg_convert_u64(uint64_t *restrict out, const unsigned char *restrict src, size_t cnt, unsigned w,
                uint64_t m, enum prg_op op)
{
    switch (op) {
    case PRG_OP_FILL:
        for (size_t i = 0; i < cnt; i++)
            out[i] = le_load64(src + w * i) & m;
        break;
    case PRG_OP_ADD:
        for (size_t i = 0; i < cnt; i++)
            out[i] = (out[i] + le_load64(src + w * i)) & m;
        break;
    case PRG_OP_SUB:
        for (size_t i = 0; i < cnt; i++)
            out[i] = (out[i] - le_load64(src + w * i)) & m;
        break;
    }
}

/* Dispatch on w so that each width gets its own specialised loop. */
static void
prg_chunk_u32(uint32_t *restrict out, const unsigned char *restrict src, size_t cnt, unsigned w,
              uint32_t m, enum prg_op op)
{
    switch (w) {
    case 1:
        prg_convert_u32(out, src, cnt, 1, m, op);
        break;
    case 2:
        prg_convert_u32(out, src, cnt, 2, m, op);
        break;
    case 3:
        prg_convert_u32(out, src, cnt, 3, m, op);
        break;
    default:
        prg_convert_u32(out, src, cnt, 4, m, op);
        break;
    }
}

static void
prg_chunk_u64(uint64_t *restrict out, const unsigned char *restrict src, size_t cnt, unsigned w,
              uint64_t m, enum prg_op op)
{
    switch (w) {
    case 1:
        prg_convert_u64(out, src, cnt, 1, m, op);
        break;
    case 2:
        prg_convert_u64(out, src, cnt, 2, m, op);
        break;
    case 3:
        prg_convert_u64(out, src, cnt, 3, m, op);
        break;
    case 4:
        prg_convert_u64(out, src, cnt, 4, m, op);
        break;
    case 5:
        prg_convert_u64(out, src, cnt, 5, m, op);
        break;
    case 6:
        prg_convert_u64(out, src, cnt, 6, m, op);
        break;
    case 7:
        prg_convert_u64(out, src, cnt, 7, m, op);
        break;
    default:
        prg_convert_u64(out, src, cnt, 8, m, op);
        break;
    }
}

/*
 * The one loop behind every public expansion: out is a uint32_t array when width is 32,
 * a uint64_t array when 64. Each pass covers as many whole elements as fit in one chunk
 * after the offset of the first wanted byte inside its block.
 */
static int
prg_apply(void *out, unsigned width, enum prg_op op, size_t n, const struct prg_key *key,
          uint32_t vector, unsigned k, uint64_t start, struct errbuf *eb)
{
    if (k < 1 || k > width)
        return errbuf_set(eb, -ERR_INVALID, "ring width %u outside 1..%u", k, width);
    uint64_t max = prg_max_elements(k);
    if (start > max || n > max - start)
        return errbuf_set(eb, -ERR_RANGE, "mask elements [%llu, %llu) run past the stream end %llu",
                          (unsigned long long)start,
                          (unsigned long long)start + (unsigned long long)n,
                          (unsigned long long)max);

    unsigned w = prg_element_bytes(k);
    uint64_t m = ring_mask(k);
    unsigned char nonce[PRG_NONCE_BYTES] = { 0 };
    for (unsigned j = 0; j < 4; j++)
        nonce[j] = (unsigned char)(vector >> (8 * j));

    /* Zeroed once so that slack bytes read by a word load are never uninitialised. */
    unsigned char buf[PRG_CHUNK_BYTES + PRG_CHUNK_SLACK];
    memset(buf, 0, sizeof buf);
    size_t done = 0;
    while (done < n) {
        uint64_t byte = (start + done) * w;
        uint32_t block = (uint32_t)(byte / PRG_BLOCK_BYTES);
        size_t skip = (size_t)(byte % PRG_BLOCK_BYTES);
        size_t cnt = (PRG_CHUNK_BYTES - skip) / w;
        if (cnt > n - done)
            cnt = n - done;
        size_t span = skip + cnt * w;
        size_t gen = (span + PRG_BLOCK_BYTES - 1) / PRG_BLOCK_BYTES * PRG_BLOCK_BYTES;
        crypto_stream_chacha20_ietf_xor_ic(buf, prg_zeros, gen, nonce, block, key->bytes);
        if (width == 32)
            prg_chunk_u32((uint32_t *)out + done, buf + skip, cnt, w, (uint32_t)m, op);
        else
            prg_chunk_u64((uint64_t *)out + done, buf + skip, cnt, w, m, op);
        done += cnt;
    }
    sodium_memzero(buf, sizeof buf);
    return 0;
}

int
prg_fill_u32(uint32_t *out, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
             uint64_t start, struct errbuf *eb)
{
    return prg_apply(out, 32, PRG_OP_FILL, n, key, vector, k, start, eb);
}

int
prg_fill_u64(uint64_t *out, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
             uint64_t start, struct errbuf *eb)
{
    return prg_apply(out, 64, PRG_OP_FILL, n, key, vector, k, start, eb);
}

int
prg_add_u32(uint32_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
            uint64_t start, struct errbuf *eb)
{
    return prg_apply(acc, 32, PRG_OP_ADD, n, key, vector, k, start, eb);
}

int
prg_sub_u32(uint32_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
            uint64_t start, struct errbuf *eb)
{
    return prg_apply(acc, 32, PRG_OP_SUB, n, key, vector, k, start, eb);
}

int
prg_add_u64(uint64_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
            uint64_t start, struct errbuf *eb)
{
    return prg_apply(acc, 64, PRG_OP_ADD, n, key, vector, k, start, eb);
}

int
prg_sub_u64(uint64_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
            uint64_t start, struct errbuf *eb)
{
    return prg_apply(acc, 64, PRG_OP_SUB, n, key, vector, k, start, eb);
}
