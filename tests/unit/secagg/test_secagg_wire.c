/*
 * secagg wire: every prefix of every message type of a real run is rejected with an offset
 * (never read past the end), header and count corruption, exact sizes, bit packing.
 */
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "base/rng.h"
#include "crypto/ring.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/harness.h"
#include "tests/unit/secagg/suites.h"

#define WIRE_MAX_MSGS 128

struct collect_ctx {
    size_t count;
    enum secagg_wire_type type[WIRE_MAX_MSGS];
    unsigned char *msg[WIRE_MAX_MSGS];
    size_t len[WIRE_MAX_MSGS];
};

static void
collect_hook(void *vctx, int is_reply, enum secagg_phase phase, uint32_t client, unsigned char *msg,
             size_t *len)
{
    struct collect_ctx *ctx = vctx;
    if (ctx->count >= WIRE_MAX_MSGS)
        return;
    size_t i = ctx->count++;
    ctx->type[i] = (enum secagg_wire_type)(2 * (int)phase + 1 + is_reply);
    ctx->msg[i] = malloc(*len);
    memcpy(ctx->msg[i], msg, *len);
    ctx->len[i] = *len;
}

static struct secagg_params
wire_params(void)
{
    struct secagg_params p = harness_params(5, 3, 19, 13);
    p.threat = SECAGG_THREAT_SEMI_MALICIOUS;
    return p;
}

/* Truncating any message of any type at any byte is a clean error naming an offset. */
START_TEST(every_prefix_rejected)
{
    struct secagg_params p = wire_params();
    uint64_t x[5 * 13] = { 0 }, sum[13];
    const int drop[5] = { HARNESS_NO_DROP, HARNESS_NO_DROP, SECAGG_PHASE_MASKED_INPUT,
                          HARNESS_NO_DROP, HARNESS_NO_DROP };
    static struct collect_ctx ctx;
    struct harness_out out;
    ck_assert_int_eq(harness_run(&p, x, drop, collect_hook, &ctx, NULL, sum, &out), 0);
    unsigned seen = 0;
    for (size_t i = 0; i < ctx.count; i++) {
        struct secagg_wire_msg m;
        struct errbuf eb;
        seen |= 1u << ctx.type[i];
        ck_assert_int_eq(secagg_wire_parse(&m, ctx.msg[i], ctx.len[i], ctx.type[i], &p, NULL), 0);
        for (size_t l = 0; l < ctx.len[i]; l++) {
            /* A fresh heap copy of exactly l bytes, so ASan catches any over-read. */
            unsigned char *cut = malloc(l ? l : 1);
            memcpy(cut, ctx.msg[i], l);
            errbuf_clear(&eb);
            ck_assert_int_eq(secagg_wire_parse(&m, cut, l, ctx.type[i], &p, &eb), -ERR_CORRUPT);
            ck_assert_int_ge(eb.offset, 0);
            ck_assert_int_le(eb.offset, (long)l);
            free(cut);
        }
        unsigned char *longer = malloc(ctx.len[i] + 1);
        memcpy(longer, ctx.msg[i], ctx.len[i]);
        longer[ctx.len[i]] = 0;
        ck_assert_int_eq(secagg_wire_parse(&m, longer, ctx.len[i] + 1, ctx.type[i], &p, NULL),
                         -ERR_CORRUPT);
        /* Each header field corrupted in turn. */
        static const size_t fields[] = { 0, 1, 2, 3, 7, 8, 15, 16, 23 };
        static const long expect[] = { 0, 1, 2, 3, 4, 8, 8, 16, 16 };
        for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
            memcpy(longer, ctx.msg[i], ctx.len[i]);
            longer[fields[f]] ^= 0x80;
            errbuf_clear(&eb);
            ck_assert_int_eq(secagg_wire_parse(&m, longer, ctx.len[i], ctx.type[i], &p, &eb),
                             -ERR_CORRUPT);
            ck_assert_int_eq(eb.offset, expect[f]);
        }
        free(longer);
        free(ctx.msg[i]);
    }
    ck_assert_uint_eq(seen, 0x7FEu); /* all ten message types were exercised */
}
END_TEST

/* Counts above n or implying more bytes than present are rejected before any entry is read. */
START_TEST(counts_and_padding)
{
    struct secagg_params p = wire_params();
    unsigned char buf[SECAGG_WIRE_HEADER_BYTES + 4 + 2 * 100] = { 0 };
    struct secagg_wire_msg m;
    struct errbuf eb;
    secagg_wire_put_header(buf, SECAGG_WIRE_SHARE_REP, 1, &p);
    le_store32(buf + 24, 6); /* n = 5 */
    errbuf_clear(&eb);
    ck_assert_int_eq(secagg_wire_parse(&m, buf, 24 + 4 + 600, SECAGG_WIRE_SHARE_REP, &p, &eb),
                     -ERR_CORRUPT);
    ck_assert_int_eq(eb.offset, 24);
    le_store32(buf + 24, 0xFFFFFFFFu);
    ck_assert_int_eq(secagg_wire_parse(&m, buf, sizeof buf, SECAGG_WIRE_SHARE_REP, &p, NULL),
                     -ERR_CORRUPT);
    le_store32(buf + 24, 2);
    ck_assert_int_eq(secagg_wire_parse(&m, buf, sizeof buf, SECAGG_WIRE_SHARE_REP, &p, NULL), 0);
    ck_assert_uint_eq(m.count1, 2);
    ck_assert_ptr_eq(m.list1, buf + 28);
    ck_assert_uint_eq(secagg_wire_share_rep_bytes(&p, 2), sizeof buf);

    /* MASKED_REP: 13 coordinates of 19 bits = 247 bits, one padding bit must be zero. */
    size_t ml = secagg_wire_masked_rep_bytes(&p);
    ck_assert_uint_eq(ml, 24 + 31);
    unsigned char mb[24 + 31] = { 0 };
    secagg_wire_put_header(mb, SECAGG_WIRE_MASKED_REP, 0, &p);
    ck_assert_int_eq(secagg_wire_parse(&m, mb, ml, SECAGG_WIRE_MASKED_REP, &p, NULL), 0);
    mb[ml - 1] = 0x80;
    ck_assert_int_eq(secagg_wire_parse(&m, mb, ml, SECAGG_WIRE_MASKED_REP, &p, NULL), -ERR_CORRUPT);
    mb[ml - 1] = 0x40;
    ck_assert_int_eq(secagg_wire_parse(&m, mb, ml, SECAGG_WIRE_MASKED_REP, &p, NULL), 0);

    /* The curious model has no ConsistencyCheck messages. */
    p.threat = SECAGG_THREAT_CURIOUS;
    ck_assert_int_eq(secagg_wire_parse(&m, mb, ml, SECAGG_WIRE_CONSIST_REQ, &p, NULL),
                     -ERR_INVALID);
    ck_assert_int_eq(secagg_wire_parse(&m, NULL, 0, SECAGG_WIRE_ADVERTISE_REQ, &p, NULL),
                     -ERR_CORRUPT);
}
END_TEST

/* Exact message sizes (the bytes the simulator charges). */
START_TEST(message_sizes)
{
    struct secagg_params p = harness_params(1000, 17, 26, 100000);
    p.graph = SECAGG_GRAPH_HARARY;
    p.degree = 30;
    ck_assert_uint_eq(secagg_wire_advertise_req_bytes(&p), 24);
    ck_assert_uint_eq(secagg_wire_advertise_rep_bytes(&p), 24 + 64);
    ck_assert_uint_eq(secagg_wire_share_req_bytes(&p, 30), 24 + 4 + 30 * 68);
    ck_assert_uint_eq(secagg_wire_share_rep_bytes(&p, 30), 24 + 4 + 30 * 100);
    ck_assert_uint_eq(secagg_wire_masked_req_bytes(&p, 29), 24 + 4 + 29 * 100);
    ck_assert_uint_eq(secagg_wire_masked_rep_bytes(&p), 24 + 325000);
    ck_assert_uint_eq(secagg_wire_unmask_req_bytes(&p, 31, 0), 24 + 4 + 31 * 5);
    ck_assert_uint_eq(secagg_wire_unmask_rep_bytes(&p, 31), 24 + 4 + 31 * 44);
    p.threat = SECAGG_THREAT_SEMI_MALICIOUS;
    ck_assert_uint_eq(secagg_wire_advertise_rep_bytes(&p), 24 + 128);
    ck_assert_uint_eq(secagg_wire_share_req_bytes(&p, 30), 24 + 4 + 30 * 132);
    ck_assert_uint_eq(secagg_wire_consist_req_bytes(&p), 24 + 125);
    ck_assert_uint_eq(secagg_wire_consist_rep_bytes(&p), 24 + 64);
    ck_assert_uint_eq(secagg_wire_unmask_req_bytes(&p, 31, 20), 24 + 125 + 4 + 155 + 4 + 20 * 68);
}
END_TEST

/* Packing round-trips for every width 1..64 and any length; slices pack independently. */
START_TEST(pack_round_trip)
{
    struct rng r;
    rng_init_stream(&r, 5, RNG_PURPOSE_TEST, 0, 0);
    uint64_t v[67], back[67];
    unsigned char buf[67 * 8 + 8];
    for (unsigned k = 1; k <= 64; k++) {
        for (size_t n = 0; n <= 67; n += 3) {
            for (size_t i = 0; i < n; i++)
                v[i] = rng_u64(&r) & ring_mask(k);
            memset(buf, 0xAB, sizeof buf);
            secagg_wire_pack(buf, v, n, k);
            size_t bytes = (n * k + 7) / 8;
            ck_assert_uint_eq(buf[bytes], 0xAB); /* nothing written past the end */
            memset(back, 0, sizeof back);
            secagg_wire_unpack_add(back, buf, n, k);
            ck_assert_mem_eq(back, v, n * sizeof *v);
            for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(secagg_wire_unpack_one(buf, i, k), v[i]);
        }
        /* Two slices at a multiple of 8 coordinates equal the whole. */
        unsigned char whole[67 * 8], parts[67 * 8];
        for (size_t i = 0; i < 67; i++)
            v[i] = rng_u64(&r) & ring_mask(k);
        secagg_wire_pack(whole, v, 67, k);
        secagg_wire_pack(parts, v, 24, k);
        secagg_wire_pack(parts + 24 * k / 8, v + 24, 43, k);
        ck_assert_mem_eq(whole, parts, (67 * k + 7) / 8);
    }
}
END_TEST

/* Parameter validation names the field. */
START_TEST(params_rejected)
{
    struct secagg_params p = harness_params(6, 4, 16, 3);
    struct errbuf eb;
    ck_assert_int_eq(secagg_wire_params_check(&p, NULL), 0);
    struct secagg_params q = p;
    q.degree = 4;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
    q = p;
    q.graph = SECAGG_GRAPH_HARARY;
    q.degree = 3;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
    q.degree = 2;
    q.t = 3;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), 0);
    q.t = 4;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
    q = p;
    q.ring_bits = 65;
    errbuf_clear(&eb);
    ck_assert_int_eq(secagg_wire_params_check(&q, &eb), -ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(eb.msg, "'ring_bits'"));
    q = p;
    q.n = 1;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
    q = p;
    q.m = 0;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
    q = p;
    q.threat = 0;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
    q = p;
    q.masks = 7;
    ck_assert_int_eq(secagg_wire_params_check(&q, NULL), -ERR_INVALID);
}
END_TEST

Suite *
secagg_wire_suite(void)
{
    Suite *s = suite_create("secagg_wire");
    TCase *tc = tcase_create("wire");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, every_prefix_rejected);
    tcase_add_test(tc, counts_and_padding);
    tcase_add_test(tc, message_sizes);
    tcase_add_test(tc, pack_round_trip);
    tcase_add_test(tc, params_rejected);
    suite_add_tcase(s, tc);
    return s;
}
