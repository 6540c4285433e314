/* bitpack: fields round-trip, bounds are enforced, bulk packing matches field packing. */
#include <string.h>

#include "base/bitpack.h"
#include "base/rng.h"
#include "tests/support/check_support.h"
#include "tests/unit/base/suites.h"

START_TEST(fields_round_trip)
{
    uint8_t buf[64];
    struct bitpack_writer w;
    bitpack_writer_init(&w, buf, sizeof buf);
    bitpack_write(&w, 5, 3);
    bitpack_write(&w, 0x1234, 13);
    bitpack_write(&w, UINT64_MAX, 64);
    bitpack_write(&w, 1, 1);
    bitpack_write_bytes(&w, "abc", 3);
    ck_assert_uint_eq(bitpack_writer_bits(&w), 3 + 13 + 64 + 1 + 7 + 24);
    long n = bitpack_writer_finish(&w, NULL);
    ck_assert_int_eq(n, 14);

    struct bitpack_reader r;
    bitpack_reader_init(&r, buf, (size_t)n);
    uint64_t v;
    ck_assert_int_eq(bitpack_read(&r, &v, 3, NULL), 0);
    ck_assert_uint_eq(v, 5);
    ck_assert_int_eq(bitpack_read(&r, &v, 13, NULL), 0);
    ck_assert_uint_eq(v, 0x1234);
    ck_assert_int_eq(bitpack_read(&r, &v, 64, NULL), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(bitpack_read(&r, &v, 1, NULL), 0);
    ck_assert_uint_eq(v, 1);
    char s[3];
    ck_assert_int_eq(bitpack_read_bytes(&r, s, 3, NULL), 0);
    ck_assert_mem_eq(s, "abc", 3);
    ck_assert_uint_eq(bitpack_reader_left(&r), 0);
}
END_TEST

START_TEST(writer_overflow_is_reported)
{
    uint8_t buf[2];
    struct bitpack_writer w;
    bitpack_writer_init(&w, buf, sizeof buf);
    bitpack_write(&w, 0xff, 8);
    bitpack_write(&w, 0x1ff, 9);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(bitpack_writer_finish(&w, &eb), -ERR_RANGE);
    bitpack_writer_init(&w, buf, sizeof buf);
    bitpack_write_bytes(&w, "abc", 3);
    ck_assert_int_eq(bitpack_writer_finish(&w, NULL), -ERR_RANGE);
}
END_TEST

START_TEST(reader_rejects_truncation)
{
    uint8_t buf[3] = { 1, 2, 3 };
    struct bitpack_reader r;
    bitpack_reader_init(&r, buf, sizeof buf);
    uint64_t v;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(bitpack_read(&r, &v, 20, &eb), 0);
    ck_assert_int_eq(bitpack_read(&r, &v, 5, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(eb.offset, 2);
    ck_assert_ptr_nonnull(strstr(eb.msg, "truncated"));
    char out[4];
    bitpack_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(bitpack_read_bytes(&r, out, 4, &eb), -ERR_CORRUPT);
}
END_TEST

/* bitpack_pack() lays out exactly what a field-by-field writer would, for b = 1..16. */
START_TEST(bulk_matches_fields)
{
    unsigned b = (unsigned)_i;
    enum { N = 1001 };
    uint16_t idx[N], back[N];
    struct rng r;
    rng_init_stream(&r, 9, RNG_PURPOSE_TEST, b, 0);
    for (size_t i = 0; i < N; i++)
        idx[i] = (uint16_t)(rng_u32(&r) & ((1u << b) - 1u));
    uint8_t bulk[N * 2 + 1], fields[N * 2 + 1];
    memset(bulk, 0xaa, sizeof bulk);
    bitpack_pack(bulk, idx, N, b);
    struct bitpack_writer w;
    bitpack_writer_init(&w, fields, sizeof fields);
    for (size_t i = 0; i < N; i++)
        bitpack_write(&w, idx[i], b);
    long n = bitpack_writer_finish(&w, NULL);
    ck_assert_int_eq(n, (long)bitpack_bytes(N, b));
    ck_assert_mem_eq(bulk, fields, (size_t)n);
    bitpack_unpack(back, bulk, N, b);
    ck_assert_mem_eq(back, idx, sizeof idx);
}
END_TEST

Suite *
bitpack_suite(void)
{
    Suite *s = suite_create("bitpack");
    TCase *tc = tcase_create("bitpack");
    tcase_add_test(tc, fields_round_trip);
    tcase_add_test(tc, writer_overflow_is_reported);
    tcase_add_test(tc, reader_rejects_truncation);
    tcase_add_loop_test(tc, bulk_matches_fields, 1, 17);
    suite_add_tcase(s, tc);
    return s;
}
