/*
 * shamir: t-of-n Shamir secret sharing of 32-byte secrets over a prime field.
 *
 * In SecAgg each client shares its mask secret key s_u^SK and its self-mask seed b_u among
 * its neighbours; any t of the shares rebuild a secret, fewer reveal nothing (Shamir,
 * CACM 1979; Bonawitz et al., CCS 2017, §4). libsodium has
 * no secret sharing, so the polynomial arithmetic is here, over one of two fields:
 *
 *  - SHAMIR_FIELD_P61, GF(p) with p = 2^61 - 1 (the default, an order of magnitude
 *    faster): a secret is cut into 5 chunks (bytes 0-6, 7-13, 14-20, 21-27 and
 *    28-31, each read little-endian, so every chunk is < 2^56 < p and any 32 bytes can be
 *    shared) and each chunk is shared with its own polynomial. A share is 5 field elements.
 *  - SHAMIR_FIELD_L, Z_L with L = 2^252 + 27742317777372353535851937790883648493, the
 *    ed25519 group order, through libsodium's constant-time scalar arithmetic (the
 *    known-answer vectors of tests/unit/crypto use it). The secret is one canonical scalar
 *    (< L, little-endian), e.g. 64 random bytes reduced with
 *    crypto_core_ed25519_scalar_reduce; a share is one scalar.
 *
 * Share y-values on the wire (SHAMIR_*_SHARE_BYTES, x is not sent: it is the holder's
 * evaluation point, fixed by the protocol):
 *
 *   field  OFFSET  SIZE  MEANING
 *   P61    8c      8     chunk c (c = 0..4) of f(x), little-endian, < 2^61 - 1
 *   L      0       32    f(x) mod L, little-endian, canonical
 *
 * Evaluation points are non-zero, distinct and < p (any uint64_t x >= 1 for L); the usual
 * choice is holder index + 1. Coefficients are drawn from a caller-given keyed RNG stream
 * (never randombytes): P61 draws t - 1 uniform values with rng_below() per chunk, chunk 0
 * first; L reduces 64 stream bytes per coefficient. The same stream position, secret,
 * points and t give the same shares.
 *
 * Lifecycle: shamir_new() makes a workspace for up to max_shares shares (all scratch space
 * is allocated there, so split and combine allocate nothing); shamir_free(). The workspace
 * keeps no secret between calls (scratch is wiped). Not thread-safe: one per thread.
 * Shares are plain caller-owned structs; wipe secret ones with sodium_memzero().
 *
 * Reconstruction (shamir_combine) uses Lagrange interpolation at 0 from the first t
 * shares. If more than t shares are given, every further share must lie on the same
 * polynomial, otherwise -ERR_CORRUPT: this detects (does not correct) a forged or damaged
 * share. Exactly t shares cannot be checked this way; for s_u^SK the caller should rebuild
 * the public key and compare it. Cost: O(t^2) multiplications
 * plus t inversions per secret, and O(t) more per extra share and chunk.
 */
#ifndef FEDBITS_CRYPTO_SHAMIR_H
#define FEDBITS_CRYPTO_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "base/rng.h"

/* Sizes */
#define SHAMIR_SECRET_BYTES    32
#define SHAMIR_P61_CHUNKS      5
#define SHAMIR_P61_SHARE_BYTES 40 /* 5 x 8 bytes */
#define SHAMIR_L_SHARE_BYTES   32 /* crypto_core_ed25519_SCALARBYTES */
#define SHAMIR_SHARE_BYTES_MAX 40
#define SHAMIR_THRESHOLD_MIN   2          /* t = 1 would hand the secret to every holder */
#define SHAMIR_SHARES_MAX      (1u << 24) /* bound on a workspace (and so on n) */
#define SHAMIR_P61_PRIME       ((UINT64_C(1) << 61) - 1)

enum shamir_field {
    SHAMIR_FIELD_P61 = 1, /* GF(2^61 - 1), chunked secrets */
    SHAMIR_FIELD_L = 2,   /* Z_L, the ed25519 scalar field, one scalar per secret */
};

/* One share: the evaluation point and f(x) in the wire layout above. */
struct shamir_share {
    uint64_t x;                              /* evaluation point, never 0 */
    unsigned char y[SHAMIR_SHARE_BYTES_MAX]; /* shamir_share_bytes(field) bytes used */
};

struct shamir;

/* Lifecycle */
/*
 * Makes a workspace for field and at most max_shares shares per call into *out.
 * -ERR_INVALID for an unknown field or max_shares outside SHAMIR_THRESHOLD_MIN..
 * SHAMIR_SHARES_MAX, -ERR_NOMEM.
 */
int shamir_new(struct shamir **out, enum shamir_field field, size_t max_shares, struct errbuf *eb)
    __attribute__((warn_unused_result));
/* Frees sh; NULL is a no-op. */
void shamir_free(struct shamir *sh);

/* Accessors */
enum shamir_field shamir_field_of(const struct shamir *sh);
/* Bytes of y used by a share of field (0 for an unknown field). */
size_t shamir_share_bytes(enum shamir_field field);

/* Sharing */
/*
 * Splits secret into n shares with threshold t at points xs[0..n) (NULL means 1..n),
 * drawing coefficients from r. -ERR_INVALID for t < 2, t > n, n above the workspace, or a
 * zero, duplicated or out-of-field point; -ERR_RANGE for an L secret that is not < L.
 */
int shamir_split(struct shamir *sh, struct shamir_share *shares, size_t n, const uint64_t *xs,
                 size_t t, const unsigned char secret[SHAMIR_SECRET_BYTES], struct rng *r,
                 struct errbuf *eb) __attribute__((warn_unused_result));

/*
 * Rebuilds the secret of threshold t from shares[0..m) into secret. -ERR_RANGE when m < t;
 * -ERR_INVALID for t < 2 or m above the workspace; -ERR_CORRUPT for a zero, duplicated or
 * out-of-field point, a y that is not a field element, shares that disagree (m > t), or
 * (P61) a result that is not a 32-byte secret. secret is written only on success.
 */
int shamir_combine(struct shamir *sh, unsigned char secret[SHAMIR_SECRET_BYTES],
                   const struct shamir_share *shares, size_t m, size_t t, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
