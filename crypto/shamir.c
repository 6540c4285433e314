/*
 * shamir: polynomial sharing and Lagrange reconstruction over GF(2^61 - 1) or Z_L.
 * See shamir.h for the formats and contracts.
 *
 * Both fields follow the same steps. Split: for each chunk, f(X) = secret + a_1 X + ... +
 * a_{t-1} X^{t-1} with uniform a_j, evaluated at every point by Horner's rule. Combine:
 * lambda_i(X0) = prod_{j != i} (X0 - x_j) / (x_i - x_j) over the first t points, the
 * numerators from prefix and suffix products, each denominator by a direct product and one
 * inversion; f(X0) = sum_i lambda_i(X0) y_i. X0 = 0 gives the secret, X0 = x_e the value a
 * further share e must have.
 */
#include "crypto/shamir.h"

#include <string.h>

#include <sodium.h>

#include "base/le.h"
#include "base/mem.h"

#include "base/banned.h"

_Static_assert(SHAMIR_L_SHARE_BYTES == crypto_core_ed25519_SCALARBYTES, "Z_L share size");
_Static_assert(SHAMIR_SECRET_BYTES == crypto_core_ed25519_SCALARBYTES, "Z_L secret size");
_Static_assert(SHAMIR_P61_SHARE_BYTES == SHAMIR_P61_CHUNKS * 8, "P61 share is 5 words");
_Static_assert(SHAMIR_SHARE_BYTES_MAX >= SHAMIR_P61_SHARE_BYTES &&
                   SHAMIR_SHARE_BYTES_MAX >= SHAMIR_L_SHARE_BYTES,
               "a share holds either field");
/* Chunks of 7 bytes (4 for the last) are below p = 2^61 - 1, so any 32 bytes share. */
_Static_assert(4 * 7 + 4 == SHAMIR_SECRET_BYTES, "secret = 4 chunks of 7 bytes + 4 bytes");
_Static_assert(7 * 8 < 61, "a 7-byte chunk is a field element");

__extension__ typedef unsigned __int128 shamir_u128;

#define SC crypto_core_ed25519_SCALARBYTES

struct shamir {
    enum shamir_field field;
    size_t max;           /* max shares per call */
    uint64_t *words;      /* P61: coef[max * 5] | lam[max] | tmp[max] */
    unsigned char *bytes; /* L: coef[max] | lam[max] | tmp[max] scalars of SC bytes */
};

/* GF(2^61 - 1): reduce by folding the bits above 61, since 2^61 = 1 mod p. */
#define P61 SHAMIR_P61_PRIME

static uint64_t
p61_mul(uint64_t a, uint64_t b)
{
    shamir_u128 z = (shamir_u128)a * b;
    uint64_t lo = (uint64_t)z & P61;
    uint64_t hi = (uint64_t)(z >> 61);
    uint64_t s = lo + hi;
    s = (s & P61) + (s >> 61);
    return s >= P61 ? s - P61 : s;
}

static uint64_t
p61_add(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s >= P61 ? s - P61 : s;
}

static uint64_t
p61_sub(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a + P61 - b;
}

/* a^(p-2) = a^-1 for a != 0 (Fermat). */
static uint64_t
p61_inv(uint64_t a)
{
    uint64_t e = P61 - 2, r = 1;
    while (e != 0) {
        if (e & 1)
            r = p61_mul(r, a);
        a = p61_mul(a, a);
        e >>= 1;
    }
    return r;
}

/* Chunk c of a secret: offset and width. */
static size_t
chunk_offset(size_t c)
{
    return 7 * c;
}

static size_t
chunk_width(size_t c)
{
    return c + 1 < SHAMIR_P61_CHUNKS ? 7 : SHAMIR_SECRET_BYTES - 7 * c;
}

/* Z_L helpers on 32-byte little-endian scalars. */
static void
sc_from_u64(unsigned char s[SC], uint64_t v)
{
    memset(s, 0, SC);
    le_store64(s, v);
}

static int
sc_is_canonical(const unsigned char s[SC])
{
    unsigned char wide[64] = { 0 };
    unsigned char red[SC];
    memcpy(wide, s, SC);
    crypto_core_ed25519_scalar_reduce(red, wide);
    int same = sodium_memcmp(red, s, SC) == 0;
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(red, sizeof red);
    return same;
}

int
shamir_new(struct shamir **out, enum shamir_field field, size_t max_shares, struct errbuf *eb)
{
    *out = NULL;
    if (field != SHAMIR_FIELD_P61 && field != SHAMIR_FIELD_L)
        return errbuf_set(eb, -ERR_INVALID, "unknown shamir field %d", (int)field);
    if (max_shares < SHAMIR_THRESHOLD_MIN || max_shares > SHAMIR_SHARES_MAX)
        return errbuf_set(eb, -ERR_INVALID, "shamir workspace for %zu shares (%d..%u allowed)",
                          max_shares, SHAMIR_THRESHOLD_MIN, SHAMIR_SHARES_MAX);
    struct shamir *sh = mem_calloc(1, sizeof *sh);
    if (sh == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory for a shamir workspace");
    sh->field = field;
    sh->max = max_shares;
    if (field == SHAMIR_FIELD_P61)
        sh->words = mem_calloc(max_shares * (SHAMIR_P61_CHUNKS + 2), sizeof *sh->words);
    else
        sh->bytes = mem_calloc(max_shares * 3, SC);
    if (sh->words == NULL && sh->bytes == NULL) {
        shamir_free(sh);
        return errbuf_set(eb, -ERR_NOMEM, "out of memory for a shamir workspace of %zu shares",
                          max_shares);
    }
    *out = sh;
    return 0;
}

void
shamir_free(struct shamir *sh)
{
    if (sh == NULL)
        return;
    mem_free(sh->words);
    mem_free(sh->bytes);
    mem_free(sh);
}

enum shamir_field
shamir_field_of(const struct shamir *sh)
{
    return sh->field;
}

size_t
shamir_share_bytes(enum shamir_field field)
{
    switch (field) {
    case SHAMIR_FIELD_P61:
        return SHAMIR_P61_SHARE_BYTES;
    case SHAMIR_FIELD_L:
        return SHAMIR_L_SHARE_BYTES;
    }
    return 0;
}

static uint64_t
point_at(const uint64_t *xs, size_t i)
{
    return xs != NULL ? xs[i] : (uint64_t)i + 1;
}

static int
check_split_points(const struct shamir *sh, const uint64_t *xs, size_t n, struct errbuf *eb)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = point_at(xs, i);
        if (x == 0)
            return errbuf_set(eb, -ERR_INVALID, "share point %zu is 0 (the secret itself)", i);
        if (sh->field == SHAMIR_FIELD_P61 && x >= P61)
            return errbuf_set(eb, -ERR_INVALID, "share point %llu is not below 2^61 - 1",
                              (unsigned long long)x);
        for (size_t j = 0; j < i; j++)
            if (point_at(xs, j) == x)
                return errbuf_set(eb, -ERR_INVALID, "share point %llu given twice",
                                  (unsigned long long)x);
    }
    return 0;
}

static void
split_p61(struct shamir *sh, struct shamir_share *shares, size_t n, const uint64_t *xs, size_t t,
          const unsigned char secret[SHAMIR_SECRET_BYTES], struct rng *r)
{
    uint64_t *coef = sh->words;
    for (size_t c = 0; c < SHAMIR_P61_CHUNKS; c++) {
        coef[0] = le_load_n(secret + chunk_offset(c), chunk_width(c));
        for (size_t j = 1; j < t; j++)
            coef[j] = rng_below(r, P61);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = point_at(xs, i);
            uint64_t acc = coef[t - 1];
            for (size_t j = t - 1; j-- > 0;)
                acc = p61_add(p61_mul(acc, x), coef[j]);
            le_store64(shares[i].y + 8 * c, acc);
        }
    }
    sodium_memzero(coef, t * sizeof *coef);
}

static void
split_l(struct shamir *sh, struct shamir_share *shares, size_t n, const uint64_t *xs, size_t t,
        const unsigned char secret[SHAMIR_SECRET_BYTES], struct rng *r)
{
    unsigned char *coef = sh->bytes;
    unsigned char wide[64];
    memcpy(coef, secret, SC);
    for (size_t j = 1; j < t; j++) {
        rng_bytes(r, wide, sizeof wide);
        crypto_core_ed25519_scalar_reduce(coef + SC * j, wide);
    }
    unsigned char x[SC], acc[SC];
    for (size_t i = 0; i < n; i++) {
        sc_from_u64(x, point_at(xs, i));
        memcpy(acc, coef + SC * (t - 1), SC);
        for (size_t j = t - 1; j-- > 0;) {
            crypto_core_ed25519_scalar_mul(acc, acc, x);
            crypto_core_ed25519_scalar_add(acc, acc, coef + SC * j);
        }
        memcpy(shares[i].y, acc, SC);
        memset(shares[i].y + SC, 0, SHAMIR_SHARE_BYTES_MAX - SC);
    }
    sodium_memzero(acc, sizeof acc);
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(coef, t * SC);
}

int
shamir_split(struct shamir *sh, struct shamir_share *shares, size_t n, const uint64_t *xs, size_t t,
             const unsigned char secret[SHAMIR_SECRET_BYTES], struct rng *r, struct errbuf *eb)
{
    if (t < SHAMIR_THRESHOLD_MIN)
        return errbuf_set(eb, -ERR_INVALID, "threshold %zu below %d", t, SHAMIR_THRESHOLD_MIN);
    if (t > n)
        return errbuf_set(eb, -ERR_INVALID, "threshold %zu above the %zu shares", t, n);
    if (n > sh->max)
        return errbuf_set(eb, -ERR_INVALID, "%zu shares requested from a workspace for %zu", n,
                          sh->max);
    int rc = check_split_points(sh, xs, n, eb);
    if (rc < 0)
        return rc;
    if (sh->field == SHAMIR_FIELD_L && !sc_is_canonical(secret))
        return errbuf_set(eb, -ERR_RANGE, "secret is not a scalar below the group order L");

    for (size_t i = 0; i < n; i++)
        shares[i].x = point_at(xs, i);
    if (sh->field == SHAMIR_FIELD_P61)
        split_p61(sh, shares, n, xs, t, secret, r);
    else
        split_l(sh, shares, n, xs, t, secret, r);
    return 0;
}

static int
check_combine_shares(const struct shamir *sh, const struct shamir_share *shares, size_t m,
                     struct errbuf *eb)
{
    for (size_t i = 0; i < m; i++) {
        uint64_t x = shares[i].x;
        if (x == 0)
            return errbuf_set(eb, -ERR_CORRUPT, "share %zu has point 0", i);
        if (sh->field == SHAMIR_FIELD_P61) {
            if (x >= P61)
                return errbuf_set(eb, -ERR_CORRUPT, "share %zu has point %llu >= 2^61 - 1", i,
                                  (unsigned long long)x);
            for (size_t c = 0; c < SHAMIR_P61_CHUNKS; c++)
                if (le_load64(shares[i].y + 8 * c) >= P61)
                    return errbuf_set(eb, -ERR_CORRUPT,
                                      "share %zu: chunk %zu is not below 2^61 - 1", i, c);
        } else if (!sc_is_canonical(shares[i].y)) {
            return errbuf_set(eb, -ERR_CORRUPT, "share %zu: value is not below L", i);
        }
        for (size_t j = 0; j < i; j++)
            if (shares[j].x == x)
                return errbuf_set(eb, -ERR_CORRUPT, "shares %zu and %zu have the same point %llu",
                                  j, i, (unsigned long long)x);
    }
    return 0;
}

/* lam[i] = lambda_i(x0) over the first t points, P61. tmp holds t words of scratch. */
static void
lagrange_p61(uint64_t *lam, uint64_t *tmp, const struct shamir_share *s, size_t t, uint64_t x0)
{
    /* Numerators: prefix products in lam, then multiplied by the running suffix. */
    uint64_t run = 1;
    for (size_t i = 0; i < t; i++) {
        lam[i] = run;
        run = p61_mul(run, p61_sub(x0, s[i].x));
    }
    run = 1;
    for (size_t i = t; i-- > 0;) {
        lam[i] = p61_mul(lam[i], run);
        run = p61_mul(run, p61_sub(x0, s[i].x));
    }
    for (size_t i = 0; i < t; i++) {
        uint64_t den = 1;
        for (size_t j = 0; j < t; j++)
            if (j != i)
                den = p61_mul(den, p61_sub(s[i].x, s[j].x));
        tmp[i] = den;
    }
    for (size_t i = 0; i < t; i++)
        lam[i] = p61_mul(lam[i], p61_inv(tmp[i]));
}

static uint64_t
interpolate_p61(const uint64_t *lam, const struct shamir_share *s, size_t t, size_t c)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < t; i++)
        acc = p61_add(acc, p61_mul(lam[i], le_load64(s[i].y + 8 * c)));
    return acc;
}

static int
combine_p61(struct shamir *sh, unsigned char secret[SHAMIR_SECRET_BYTES],
            const struct shamir_share *s, size_t m, size_t t, struct errbuf *eb)
{
    uint64_t *lam = sh->words + sh->max * SHAMIR_P61_CHUNKS;
    uint64_t *tmp = lam + sh->max;
    uint64_t chunk[SHAMIR_P61_CHUNKS];
    int rc = 0;

    for (size_t e = t; e < m; e++) {
        lagrange_p61(lam, tmp, s, t, s[e].x);
        for (size_t c = 0; c < SHAMIR_P61_CHUNKS; c++)
            if (interpolate_p61(lam, s, t, c) != le_load64(s[e].y + 8 * c)) {
                rc = errbuf_set(eb, -ERR_CORRUPT,
                                "share %zu (point %llu) disagrees with the first %zu shares", e,
                                (unsigned long long)s[e].x, t);
                goto out;
            }
    }
    lagrange_p61(lam, tmp, s, t, 0);
    for (size_t c = 0; c < SHAMIR_P61_CHUNKS; c++) {
        chunk[c] = interpolate_p61(lam, s, t, c);
        if (chunk[c] >> (8 * chunk_width(c)) != 0) {
            rc = errbuf_set(eb, -ERR_CORRUPT, "shares do not encode a 32-byte secret (chunk %zu)",
                            c);
            goto out;
        }
    }
    for (size_t c = 0; c < SHAMIR_P61_CHUNKS; c++)
        le_store_n(secret + chunk_offset(c), chunk[c], chunk_width(c));
out:
    sodium_memzero(chunk, sizeof chunk);
    return rc;
}

/* lam[i] = lambda_i(x0) over the first t points, Z_L. tmp holds t scalars of scratch. */
static void
lagrange_l(unsigned char *lam, unsigned char *tmp, const struct shamir_share *s, size_t t,
           const unsigned char x0[SC])
{
    unsigned char run[SC], xi[SC], xj[SC], d[SC];
    sc_from_u64(run, 1);
    for (size_t i = 0; i < t; i++) {
        memcpy(lam + SC * i, run, SC);
        sc_from_u64(xi, s[i].x);
        crypto_core_ed25519_scalar_sub(d, x0, xi);
        crypto_core_ed25519_scalar_mul(run, run, d);
    }
    sc_from_u64(run, 1);
    for (size_t i = t; i-- > 0;) {
        crypto_core_ed25519_scalar_mul(lam + SC * i, lam + SC * i, run);
        sc_from_u64(xi, s[i].x);
        crypto_core_ed25519_scalar_sub(d, x0, xi);
        crypto_core_ed25519_scalar_mul(run, run, d);
    }
    for (size_t i = 0; i < t; i++) {
        unsigned char *den = tmp + SC * i;
        sc_from_u64(den, 1);
        sc_from_u64(xi, s[i].x);
        for (size_t j = 0; j < t; j++) {
            if (j == i)
                continue;
            sc_from_u64(xj, s[j].x);
            crypto_core_ed25519_scalar_sub(d, xi, xj);
            crypto_core_ed25519_scalar_mul(den, den, d);
        }
        /* den != 0: the points are distinct and below L. Separate output: invert reads its
         * input after writing parts of its result. */
        (void)crypto_core_ed25519_scalar_invert(d, den);
        crypto_core_ed25519_scalar_mul(lam + SC * i, lam + SC * i, d);
    }
}

static void
interpolate_l(unsigned char out[SC], const unsigned char *lam, const struct shamir_share *s,
              size_t t)
{
    unsigned char term[SC];
    memset(out, 0, SC);
    for (size_t i = 0; i < t; i++) {
        crypto_core_ed25519_scalar_mul(term, lam + SC * i, s[i].y);
        crypto_core_ed25519_scalar_add(out, out, term);
    }
    sodium_memzero(term, sizeof term);
}

static int
combine_l(struct shamir *sh, unsigned char secret[SHAMIR_SECRET_BYTES],
          const struct shamir_share *s, size_t m, size_t t, struct errbuf *eb)
{
    unsigned char *lam = sh->bytes + SC * sh->max;
    unsigned char *tmp = lam + SC * sh->max;
    unsigned char x0[SC], val[SC];
    int rc = 0;

    for (size_t e = t; e < m; e++) {
        sc_from_u64(x0, s[e].x);
        lagrange_l(lam, tmp, s, t, x0);
        interpolate_l(val, lam, s, t);
        if (sodium_memcmp(val, s[e].y, SC) != 0) {
            rc = errbuf_set(eb, -ERR_CORRUPT,
                            "share %zu (point %llu) disagrees with the first %zu shares", e,
                            (unsigned long long)s[e].x, t);
            goto out;
        }
    }
    sc_from_u64(x0, 0);
    lagrange_l(lam, tmp, s, t, x0);
    interpolate_l(val, lam, s, t);
    memcpy(secret, val, SC);
out:
    sodium_memzero(val, sizeof val);
    return rc;
}

int
shamir_combine(struct shamir *sh, unsigned char secret[SHAMIR_SECRET_BYTES],
               const struct shamir_share *shares, size_t m, size_t t, struct errbuf *eb)
{
    if (t < SHAMIR_THRESHOLD_MIN)
        return errbuf_set(eb, -ERR_INVALID, "threshold %zu below %d", t, SHAMIR_THRESHOLD_MIN);
    if (m < t)
        return errbuf_set(eb, -ERR_RANGE, "%zu shares given, threshold %zu", m, t);
    if (m > sh->max)
        return errbuf_set(eb, -ERR_INVALID, "%zu shares given to a workspace for %zu", m, sh->max);
    int rc = check_combine_shares(sh, shares, m, eb);
    if (rc < 0)
        return rc;
    if (sh->field == SHAMIR_FIELD_P61)
        return combine_p61(sh, secret, shares, m, t, eb);
    return combine_l(sh, secret, shares, m, t, eb);
}
