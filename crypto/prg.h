/*
 * prg: the mask PRG of secure aggregation, a block-indexed ChaCha20 keystream read as
 * elements of Z_{2^k}.
 *
 * Every mask of SecAgg (Bonawitz et al., CCS 2017, §4: the pairwise masks PRG(s_{u,v}) and
 * the self mask PRG(b_u)) and of SecAgg+ is expanded here. The construction (whose toy
 * three-client run is a known-answer test, tests/unit/crypto/test_prg.c) is:
 *
 *   key     = crypto_kdf(seed, context KDF_CTX_PAIR or KDF_CTX_SELF, id = round)  [32 B]
 *   stream  = ChaCha20-IETF(key, nonce = le32(vector) || 8 zero bytes)
 *   element i of a vector = the w = ceil(k/8) keystream bytes at offset w*i, read
 *             little-endian, keeping the low k bits
 *
 * Element i depends only on keystream bytes [w*i, w*i + w), so prg_fill_*() computes any
 * slice [start, start + n) directly from its block index (crypto_stream_chacha20_ietf_xor_ic):
 * slices computed by different threads concatenate to the bit-identical whole, whatever the
 * split. Elements are uniform on Z_{2^k} because 2^k divides 2^(8w) (no rejection needed).
 * For k <= 32 the u32 and u64 variants give the same values. One (key, vector) stream holds
 * at most PRG_STREAM_BYTES_MAX bytes (IETF's 32-bit block counter): prg_max_elements(k).
 *
 * The "vector" index separates several vectors masked under one key in one round (use 0
 * for the single model update); the key already differs per round and per seed.
 *
 * Lifecycle: derive a struct prg_key (caller-owned; wipe with prg_key_wipe()), then call
 * the expansion functions any number of times. They allocate nothing (a 4 KiB stack chunk,
 * wiped on return) and are thread-safe. The add/sub variants fuse expansion with ring
 * arithmetic, acc[i] = acc[i] +/- mask[i] mod 2^k, which is what clients (adding masks)
 * and the server (removing them) need; sign conventions (which pair adds) belong to the
 * protocol.
 */
#ifndef FEDBITS_CRYPTO_PRG_H
#define FEDBITS_CRYPTO_PRG_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

/* Sizes (tied to libsodium in prg.c) */
#define PRG_SEED_BYTES       32 /* a pair seed (kx_agree) or a self-mask seed b_u */
#define PRG_KEY_BYTES        32 /* crypto_stream_chacha20_ietf_KEYBYTES */
#define PRG_NONCE_BYTES      12 /* crypto_stream_chacha20_ietf_NONCEBYTES */
#define PRG_BLOCK_BYTES      64
#define PRG_BITS_MAX         64
#define PRG_STREAM_BYTES_MAX (UINT64_C(1) << 38) /* 2^32 blocks of 64 bytes */

/* Which mask a key is for; selects the kdf context. */
enum prg_kind {
    PRG_KIND_PAIR = 1, /* pairwise mask, from a pair seed: KDF_CTX_PAIR */
    PRG_KIND_SELF = 2, /* self mask, from the self-mask seed b_u: KDF_CTX_SELF */
};

struct prg_key {
    unsigned char bytes[PRG_KEY_BYTES];
};

/* Keys */
/* Derives the mask key of seed for one round. -ERR_INVALID for an unknown kind. */
int prg_key_derive(struct prg_key *key, const unsigned char seed[PRG_SEED_BYTES],
                   enum prg_kind kind, uint64_t round, struct errbuf *eb)
    __attribute__((warn_unused_result));
void prg_key_wipe(struct prg_key *key);

/* Sizes of a stream */
/* Keystream bytes per element, ceil(k/8), for 1 <= k <= 64. */
unsigned prg_element_bytes(unsigned k);
/* The number of elements one (key, vector) stream can hold for ring width k. */
uint64_t prg_max_elements(unsigned k);

/*
 * Expansion of elements [start, start + n) of stream (key, vector) in Z_{2^k}.
 * fill writes them; add/sub add them to or subtract them from acc (elements of acc must be
 * reduced). -ERR_INVALID when k is outside 1..32 (u32) or 1..64 (u64), -ERR_RANGE when the
 * slice runs past prg_max_elements(k); acc is untouched on error.
 */
int prg_fill_u32(uint32_t *out, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
                 uint64_t start, struct errbuf *eb) __attribute__((warn_unused_result));
int prg_fill_u64(uint64_t *out, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
                 uint64_t start, struct errbuf *eb) __attribute__((warn_unused_result));
int prg_add_u32(uint32_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
                uint64_t start, struct errbuf *eb) __attribute__((warn_unused_result));
int prg_sub_u32(uint32_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
                uint64_t start, struct errbuf *eb) __attribute__((warn_unused_result));
int prg_add_u64(uint64_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
                uint64_t start, struct errbuf *eb) __attribute__((warn_unused_result));
int prg_sub_u64(uint64_t *acc, size_t n, const struct prg_key *key, uint32_t vector, unsigned k,
                uint64_t start, struct errbuf *eb) __attribute__((warn_unused_result));

#endif
