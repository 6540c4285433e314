/*
 * entropy: rANS over exact counts. Round trips of skewed and uniform streams, coded length
 * against the empirical entropy, edge cases, and every truncation and header fault.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "codec/entropy.h"
#include "tests/support/check_support.h"
#include "tests/unit/docofl/suites.h"

enum { EN_N = 20000 };

struct en_buf {
    uint32_t *sym, *back, *counts, *counts2, *cum;
    uint8_t *msg;
    size_t cap;
    uint32_t nsym;
    size_t n;
};

static void
en_alloc(struct en_buf *b, size_t n, uint32_t nsym)
{
    b->n = n;
    b->nsym = nsym;
    b->sym = calloc(n, sizeof *b->sym);
    b->back = calloc(n, sizeof *b->back);
    b->counts = calloc(nsym, sizeof *b->counts);
    b->counts2 = calloc(nsym, sizeof *b->counts2);
    b->cum = calloc((size_t)nsym + 1, sizeof *b->cum);
    b->cap = entropy_max_bytes(n, nsym);
    b->msg = malloc(b->cap);
    ck_assert(b->sym && b->back && b->counts && b->counts2 && b->cum && b->msg);
}

static void
en_release(struct en_buf *b)
{
    free(b->sym);
    free(b->back);
    free(b->counts);
    free(b->counts2);
    free(b->cum);
    free(b->msg);
}

/* Geometric(p) symbols clamped to nsym − 1 (skewed), or uniform when p == 0. */
static void
en_fill(struct en_buf *b, double p, uint64_t seed)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < b->n; i++) {
        uint32_t s;
        if (p == 0.0) {
            s = (uint32_t)rng_below(&r, b->nsym);
        } else {
            s = 0;
            while (s + 1 < b->nsym && rng_uniform(&r) > p)
                s++;
        }
        b->sym[i] = s;
    }
    entropy_count(b->counts, b->nsym, b->sym, b->n);
}

/* Encodes, checks the length against n·H and decodes back; returns the length. */
static size_t
en_round_trip(struct en_buf *b)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    size_t len = 0;
    ck_assert_int_eq(
        entropy_encode(b->msg, b->cap, &len, b->sym, b->n, b->counts, b->cum, b->nsym, &eb), 0);
    ck_assert_uint_le(len, b->cap);
    ck_assert_msg(entropy_decode(b->back, b->n, b->counts2, b->cum, b->nsym, b->msg, len, &eb) == 0,
                  "decode: %s", eb.msg);
    ck_assert_mem_eq(b->back, b->sym, b->n * sizeof *b->sym);
    ck_assert_mem_eq(b->counts2, b->counts, b->nsym * sizeof *b->counts);
    return len;
}

/* Bits of the count header as entropy.h defines it (to isolate the rANS payload). */
static size_t
en_header_bytes(const uint32_t *counts, uint32_t nsym)
{
    size_t bits = 0;
    uint32_t next = 0;
    for (uint32_t s = 0; s < nsym; s++) {
        if (counts[s] == 0)
            continue;
        bits += 2 * (size_t)floor(log2((double)(s - next + 1))) + 1;
        bits += 2 * (size_t)floor(log2((double)counts[s])) + 1;
        next = s + 1;
    }
    return (bits + 7) / 8;
}

/*
 * Skewed (geometric 0.3 over 64 symbols, H ≈ 2.9 bits) and uniform (16 symbols, H ≈ 4 bits)
 * streams. With the exact counts as model, the payload is log2 of the multinomial
 * coefficient, which is n·H − O(nsym·log n) bits, plus the 64-bit final state and under one
 * 32-bit word of flushing: we require |payload − n·H| <= 0.1 % of n·H + 96 bits.
 */
START_TEST(round_trip_near_entropy)
{
    static const double ps[] = { 0.3, 0.0, 0.9 };
    static const uint32_t nsyms[] = { 64, 16, 4 };
    int k = _i;
    struct en_buf b;
    en_alloc(&b, EN_N, nsyms[k]);
    en_fill(&b, ps[k], 11 + (uint64_t)k);
    size_t len = en_round_trip(&b);
    double h = entropy_bits(b.counts, b.nsym, b.n);
    double payload = 8.0 * (double)(len - en_header_bytes(b.counts, b.nsym));
    double want = h * (double)b.n;
    ck_assert_msg(fabs(payload - want) <= 0.001 * want + 96, "payload %.0f bits, n·H = %.0f bits",
                  payload, want);
    en_release(&b);
}
END_TEST

/* One symbol repeated: no rANS words at all, only the header and the state. */
START_TEST(single_symbol_streams)
{
    struct en_buf b;
    en_alloc(&b, 1000, 7);
    for (size_t i = 0; i < b.n; i++)
        b.sym[i] = 5;
    entropy_count(b.counts, b.nsym, b.sym, b.n);
    ck_assert_double_eq(entropy_bits(b.counts, b.nsym, b.n), 0.0);
    size_t len = en_round_trip(&b);
    ck_assert_uint_eq(len, en_header_bytes(b.counts, b.nsym) + 8);
    en_release(&b);
    en_alloc(&b, 1, 1);
    b.sym[0] = 0;
    entropy_count(b.counts, b.nsym, b.sym, b.n);
    en_round_trip(&b);
    en_release(&b);
}
END_TEST

START_TEST(rejects_every_truncation_and_trailing_bytes)
{
    struct en_buf b;
    en_alloc(&b, 600, 12);
    en_fill(&b, 0.4, 5);
    struct errbuf eb;
    errbuf_clear(&eb);
    size_t len = 0;
    ck_assert_int_eq(entropy_encode(b.msg, b.cap, &len, b.sym, b.n, b.counts, b.cum, b.nsym, &eb),
                     0);
    ck_assert_uint_lt(len, b.cap);
    for (size_t l = 0; l < len; l++) {
        errbuf_clear(&eb);
        ck_assert_int_eq(entropy_decode(b.back, b.n, b.counts2, b.cum, b.nsym, b.msg, l, &eb),
                         -ERR_CORRUPT);
        ck_assert_int_ge(eb.offset, 0);
    }
    b.msg[len] = 0;
    ck_assert_int_eq(entropy_decode(b.back, b.n, b.counts2, b.cum, b.nsym, b.msg, len + 1, &eb),
                     -ERR_CORRUPT);
    en_release(&b);
}
END_TEST

/*
 * Single-bit flips: the header must still describe n symbols of the alphabet and the rANS
 * state must return to L, so without a CRC a flip escapes with probability about 2^-31 per
 * flip; over these few thousand flips we require every one to be rejected (ECUQ adds a CRC).
 */
START_TEST(rejects_bit_flips)
{
    struct en_buf b;
    en_alloc(&b, 500, 9);
    en_fill(&b, 0.5, 6);
    struct errbuf eb;
    size_t len = 0;
    ck_assert_int_eq(entropy_encode(b.msg, b.cap, &len, b.sym, b.n, b.counts, b.cum, b.nsym, NULL),
                     0);
    for (size_t bit = 0; bit < 8 * len; bit++) {
        b.msg[bit / 8] ^= (uint8_t)(1U << (bit % 8));
        errbuf_clear(&eb);
        int rc = entropy_decode(b.back, b.n, b.counts2, b.cum, b.nsym, b.msg, len, &eb);
        ck_assert_msg(rc == -ERR_CORRUPT, "flip of bit %zu not rejected (%d)", bit, rc);
        b.msg[bit / 8] ^= (uint8_t)(1U << (bit % 8));
    }
    en_release(&b);
}
END_TEST

START_TEST(rejects_bad_arguments)
{
    struct en_buf b;
    en_alloc(&b, 100, 4);
    en_fill(&b, 0.5, 7);
    struct errbuf eb;
    errbuf_clear(&eb);
    size_t len = 0;
    b.counts[0]++; /* sum is now n + 1 */
    ck_assert_int_eq(entropy_encode(b.msg, b.cap, &len, b.sym, b.n, b.counts, b.cum, b.nsym, &eb),
                     -ERR_INVALID);
    entropy_count(b.counts, b.nsym, b.sym, b.n);
    ck_assert_int_eq(entropy_encode(b.msg, 20, &len, b.sym, b.n, b.counts, b.cum, b.nsym, &eb),
                     -ERR_RANGE);
    ck_assert_int_eq(entropy_encode(b.msg, b.cap, &len, b.sym, 0, b.counts, b.cum, b.nsym, &eb),
                     -ERR_INVALID);
    ck_assert_int_eq(entropy_decode(b.back, b.n, b.counts2, b.cum, 0, b.msg, 10, &eb),
                     -ERR_INVALID);
    /* A header naming symbol 4 of a 4-symbol alphabet: gamma(5): bits 0, 0, 1, then 01 LSB-first.
     */
    uint8_t bad[16] = { 0x0C };
    ck_assert_int_eq(entropy_decode(b.back, b.n, b.counts2, b.cum, 4, bad, sizeof bad, &eb),
                     -ERR_CORRUPT);
    /* An over-long gamma code (all zero bits). */
    uint8_t zeros[16] = { 0 };
    ck_assert_int_eq(entropy_decode(b.back, b.n, b.counts2, b.cum, 4, zeros, sizeof zeros, &eb),
                     -ERR_CORRUPT);
    en_release(&b);
}
END_TEST

Suite *
entropy_suite(void)
{
    Suite *s = suite_create("entropy");
    TCase *tc = tcase_create("entropy");
    tcase_add_loop_test(tc, round_trip_near_entropy, 0, 3);
    tcase_add_test(tc, single_symbol_streams);
    tcase_add_test(tc, rejects_every_truncation_and_trailing_bytes);
    tcase_add_test(tc, rejects_bit_flips);
    tcase_add_test(tc, rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
