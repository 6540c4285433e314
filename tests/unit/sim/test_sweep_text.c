/* sweep: grid and zip expansion, override texts and their locations, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "sim/sweep.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static void
sweep_ok(struct sweep *sw, const char *text)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    char out[1024];
    int rc = sweep_parse(sw, "s.yaml", text, strlen(text), &eb);
    ck_assert_msg(rc == 0, "sweep failed: %s", errbuf_format(&eb, out, sizeof out));
}

START_TEST(no_sweep_is_empty)
{
    struct sweep sw;
    sweep_ok(&sw, "train: {rounds: 3}\n");
    ck_assert_uint_eq(sw.n, 0);
    sweep_release(&sw);
}
END_TEST

/* A grid is the cartesian product with the first key slowest; values keep their YAML form. */
START_TEST(grid_first_key_slowest)
{
    struct sweep sw;
    sweep_ok(&sw, "sweep:\n"
                  "  grid: {uplink.codec: [none, eden], name: [\"a b\", 'c\"d', x]}\n");
    ck_assert_uint_eq(sw.n, 6);
    ck_assert_uint_eq(sw.n_keys, 2);
    ck_assert_str_eq(sw.label_keys, "uplink.codec,name");
    static const char *const want[6][2] = {
        { "uplink.codec=none", "name=\"a b\"" },    { "uplink.codec=none", "name=\"c\\\"d\"" },
        { "uplink.codec=none", "name=x" },          { "uplink.codec=eden", "name=\"a b\"" },
        { "uplink.codec=eden", "name=\"c\\\"d\"" }, { "uplink.codec=eden", "name=x" },
    };
    for (size_t c = 0; c < 6; c++)
        for (size_t k = 0; k < 2; k++)
            ck_assert_str_eq(sw.sets[c][k], want[c][k]);
    /* Where each value stands in the file. */
    ck_assert_int_eq(sw.lines[0], 2);
    ck_assert_int_eq(sw.columns[0], 25);
    ck_assert_int_eq(sw.lines[5 * 2 + 1], 2);
    ck_assert_int_eq(sw.columns[5 * 2 + 1], 59);
    sweep_release(&sw);
}
END_TEST

/* Zip lists walk in step; with a grid, each grid point takes every zip position. */
START_TEST(zip_in_step_and_collections)
{
    struct sweep sw;
    sweep_ok(&sw, "sweep:\n"
                  "  grid: {seed: [1, 2]}\n"
                  "  zip: {uplink.bits: [1, 4], model.hidden: [[8, 4], []]}\n");
    ck_assert_uint_eq(sw.n, 4);
    ck_assert_str_eq(sw.label_keys, "seed,uplink.bits,model.hidden");
    ck_assert_str_eq(sw.sets[0][0], "seed=1");
    ck_assert_str_eq(sw.sets[0][1], "uplink.bits=1");
    ck_assert_str_eq(sw.sets[0][2], "model.hidden=[8, 4]");
    ck_assert_str_eq(sw.sets[1][0], "seed=1");
    ck_assert_str_eq(sw.sets[1][2], "model.hidden=[]");
    ck_assert_str_eq(sw.sets[3][0], "seed=2");
    ck_assert_str_eq(sw.sets[3][1], "uplink.bits=4");
    sweep_release(&sw);
}
END_TEST

struct sweep_bad {
    const char *what;
    const char *text;
    int code;
    const char *formatted;
};

static const struct sweep_bad sweep_bads[] = {
    { "unknown key", "sweep:\n  grid: {uplink.bitz: [1, 2]}\n", -ERR_INVALID,
      "s.yaml:2:10: error: sweep: unknown scenario key 'uplink.bitz'" },
    { "empty list", "sweep:\n  grid: {seed: []}\n", -ERR_INVALID, NULL },
    { "zip lengths differ", "sweep:\n  zip: {seed: [1, 2], train.lr: [0.1]}\n", -ERR_INVALID,
      NULL },
};

START_TEST(rejects_with_location)
{
    const struct sweep_bad *b = &sweep_bads[_i];
    struct sweep sw;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = sweep_parse(&sw, "s.yaml", b->text, strlen(b->text), &eb);
    char out[1024];
    errbuf_format(&eb, out, sizeof out);
    ck_assert_msg(rc == b->code, "%s: code %d (%s)", b->what, rc, out);
    ck_assert_msg(strncmp(out, "s.yaml:2:", 9) == 0, "%s: not located: %s", b->what, out);
    if (b->formatted != NULL)
        ck_assert_str_eq(out, b->formatted);
}
END_TEST

/* An override text is bounded (the buffer's cap): a huge value is refused, located. */
START_TEST(overlong_value_refused)
{
    size_t n = ((size_t)1 << 20) + 16;
    const char *head = "sweep:\n  grid: {name: [x, \"";
    size_t hl = strlen(head);
    char *text = mem_alloc(hl + n + 8);
    ck_assert_ptr_nonnull(text);
    memcpy(text, head, hl);
    memset(text + hl, 'a', n);
    memcpy(text + hl + n, "\"]}\n", 5);
    struct sweep sw;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = sweep_parse(&sw, "s.yaml", text, strlen(text), &eb);
    char out[1024];
    errbuf_format(&eb, out, sizeof out);
    ck_assert_int_eq(rc, -ERR_RANGE);
    ck_assert_str_eq(out, "s.yaml:2:20: error: sweep: name: value longer than 1 MiB");
    mem_free(text);
}
END_TEST

Suite *
sweep_text_suite(void)
{
    Suite *s = suite_create("sweep_text");
    TCase *tc = tcase_create("expands");
    tcase_add_test(tc, no_sweep_is_empty);
    tcase_add_test(tc, grid_first_key_slowest);
    tcase_add_test(tc, zip_in_step_and_collections);
    tcase_add_test(tc, overlong_value_refused);
    tcase_add_loop_test(tc, rejects_with_location, 0,
                        (int)(sizeof sweep_bads / sizeof sweep_bads[0]));
    suite_add_tcase(s, tc);
    return s;
}
