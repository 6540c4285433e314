/*
 * kdf: key derivation with domain separation, the root of every secret in a run.
 *
 * Secure aggregation needs many independent keys from few secrets: per-pair mask seeds
 * from an X25519 shared secret, per-client self-mask seeds, envelope keys. kdf_derive()
 * maps (master key, 8-character context, 64-bit id) to a subkey with libsodium's
 * crypto_kdf_derive_from_key (BLAKE2b keyed with the master key, personalised by the
 * context and salted by the id), so keys for different purposes never coincide even when
 * ids do. kdf_master_from_stream() makes a master key from a keyed RNG stream, which keeps
 * every run reproducible from its seed (STYLE.md convention 8: no randombytes_buf).
 * Callers own all buffers and wipe secrets with sodium_memzero().
 */
#ifndef FEDBITS_CRYPTO_KDF_H
#define FEDBITS_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

#define KDF_KEY_BYTES     32
#define KDF_CONTEXT_BYTES 8
#define KDF_SUBKEY_MIN    16
#define KDF_SUBKEY_MAX    64

/* Derives out[0..out_len) (16..64 bytes) from key, context (8 chars) and id. */
int kdf_derive(unsigned char *out, size_t out_len, const unsigned char key[KDF_KEY_BYTES],
               const char context[KDF_CONTEXT_BYTES], uint64_t id, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Fills key with the next KDF_KEY_BYTES bytes of stream r. */
void kdf_master_from_stream(unsigned char key[KDF_KEY_BYTES], struct rng *r);

#endif
