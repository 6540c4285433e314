/* sweep: grid and zip expansion, its order, value text, locations and every refusal. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "sim/sweep.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static int
sweep_of(struct sweep *sw, const char *text, struct errbuf *eb)
{
    errbuf_clear(eb);
    return sweep_parse(sw, "s.yaml", text, strlen(text), eb);
}

START_TEST(no_sweep_section_is_zero_runs)
{
    struct sweep sw;
    struct errbuf eb;
    ck_assert_int_eq(sweep_of(&sw, "name: x\nseed: 3\n", &eb), 0);
    ck_assert_uint_eq(sw.n, 0);
    ck_assert_ptr_null(sw.sets);
    sweep_release(&sw);
    sweep_release(NULL);
}
END_TEST

START_TEST(plain_mapping_is_a_grid_first_key_slowest)
{
    struct sweep sw;
    struct errbuf eb;
    ck_assert_int_eq(
        sweep_of(&sw, "sweep:\n  uplink.codec: [none, eden]\n  seed: [1, 2, 3]\n", &eb), 0);
    ck_assert_uint_eq(sw.n, 6);
    ck_assert_uint_eq(sw.n_keys, 2);
    ck_assert_str_eq(sw.label_keys, "uplink.codec,seed");
    static const char *const want[6][2] = {
        { "uplink.codec=none", "seed=1" }, { "uplink.codec=none", "seed=2" },
        { "uplink.codec=none", "seed=3" }, { "uplink.codec=eden", "seed=1" },
        { "uplink.codec=eden", "seed=2" }, { "uplink.codec=eden", "seed=3" },
    };
    for (size_t i = 0; i < 6; i++)
        for (size_t k = 0; k < 2; k++)
            ck_assert_str_eq(sw.sets[i][k], want[i][k]);
    /* Locations: the value's line and column in the file (1-based). */
    ck_assert_int_eq(sw.lines[0 * 2 + 0], 2);
    ck_assert_int_eq(sw.columns[0 * 2 + 0], 18);
    ck_assert_int_eq(sw.lines[5 * 2 + 1], 3);
    ck_assert_int_eq(sw.columns[5 * 2 + 1], 16);
    sweep_release(&sw);
    ck_assert_uint_eq(sw.n, 0);
}
END_TEST

START_TEST(grid_times_zip_zip_fastest)
{
    struct sweep sw;
    struct errbuf eb;
    const char *text = "sweep:\n"
                       "  grid: {seed: [1, 2]}\n"
                       "  zip: {uplink.bits: [1, 4, 8], train.lr: [0.1, 0.05, 0.02]}\n";
    ck_assert_int_eq(sweep_of(&sw, text, &eb), 0);
    ck_assert_uint_eq(sw.n, 6);
    ck_assert_uint_eq(sw.n_keys, 3);
    ck_assert_str_eq(sw.label_keys, "seed,uplink.bits,train.lr");
    ck_assert_str_eq(sw.sets[0][0], "seed=1");
    ck_assert_str_eq(sw.sets[0][1], "uplink.bits=1");
    ck_assert_str_eq(sw.sets[0][2], "train.lr=0.1");
    ck_assert_str_eq(sw.sets[2][1], "uplink.bits=8");
    ck_assert_str_eq(sw.sets[2][2], "train.lr=0.02");
    ck_assert_str_eq(sw.sets[3][0], "seed=2");
    ck_assert_str_eq(sw.sets[3][1], "uplink.bits=1");
    ck_assert_str_eq(sw.sets[5][0], "seed=2");
    ck_assert_str_eq(sw.sets[5][2], "train.lr=0.02");
    sweep_release(&sw);
    /* A zip alone walks in step. */
    ck_assert_int_eq(sweep_of(&sw, "sweep:\n  zip: {seed: [4, 5]}\n", &eb), 0);
    ck_assert_uint_eq(sw.n, 2);
    ck_assert_str_eq(sw.sets[1][0], "seed=5");
    sweep_release(&sw);
}
END_TEST

START_TEST(values_keep_their_yaml_text)
{
    struct sweep sw;
    struct errbuf eb;
    const char *text = "sweep:\n  uplink.codec: [\"eden\", 'a\"b', [x, y], {k: 1}]\n";
    ck_assert_int_eq(sweep_of(&sw, text, &eb), 0);
    ck_assert_uint_eq(sw.n, 4);
    ck_assert_str_eq(sw.sets[0][0], "uplink.codec=\"eden\"");
    ck_assert_str_eq(sw.sets[1][0], "uplink.codec=\"a\\\"b\"");
    ck_assert_str_eq(sw.sets[2][0], "uplink.codec=[x, y]");
    ck_assert_str_eq(sw.sets[3][0], "uplink.codec={k: 1}");
    sweep_release(&sw);
}
END_TEST

/* Each refusal: the code, a word of the message, and the line of the culprit. */
static void
sweep_refused(const char *text, int code, const char *words, long line)
{
    struct sweep sw;
    struct errbuf eb;
    ck_assert_int_eq(sweep_of(&sw, text, &eb), code);
    ck_assert_msg(strstr(eb.msg, words) != NULL, "'%s' not in '%s'", words, eb.msg);
    ck_assert_str_eq(eb.file, "s.yaml");
    ck_assert_int_eq(eb.line, line);
    ck_assert_uint_eq(sw.n, 0);
    ck_assert_ptr_null(sw.sets);
}

START_TEST(refusals_are_located)
{
    sweep_refused("sweep:\n  nosuch.key: [1]\n", -ERR_INVALID, "unknown scenario key 'nosuch.key'",
                  2);
    sweep_refused("sweep:\n  seed: []\n", -ERR_INVALID, "needs a non-empty list", 2);
    sweep_refused("sweep:\n  seed: 3\n", -ERR_INVALID, "needs a non-empty list", 2);
    sweep_refused("sweep: [1, 2]\n", -ERR_INVALID, "expected a mapping", 1);
    sweep_refused("sweep:\n  grid: {seed: [1]}\n  seed: [2]\n", -ERR_INVALID,
                  "unknown key 'seed' beside grid/zip", 3);
    sweep_refused("sweep:\n  grid: {seed: [1]}\n  zip: {seed: [2]}\n", -ERR_INVALID,
                  "both in grid and zip", 3);
    sweep_refused("sweep:\n  zip: {seed: [1, 2],\n        train.lr: [0.1]}\n", -ERR_INVALID,
                  "equal lengths ('train.lr' differs)", 3);
    sweep_refused("sweep: {}\n", -ERR_INVALID, "no keys to sweep", 1);
}
END_TEST

START_TEST(combination_cap)
{
    /* 10 x 10 x 10 x 10 x 10 = 100000 is allowed, one more factor of 2 is not. */
    const char *ten = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
    const char *keys[] = { "seed",     "train.rounds", "uplink.bits",
                           "train.lr", "data.clients", "train.local_epochs" };
    char text[1024];
    size_t o = (size_t)snprintf(text, sizeof text, "sweep:\n");
    for (size_t k = 0; k < 5; k++)
        o += (size_t)snprintf(text + o, sizeof text - o, "  %s: %s\n", keys[k], ten);
    struct sweep sw;
    struct errbuf eb;
    int rc = sweep_of(&sw, text, &eb);
    ck_assert_msg(rc == 0, "%s", eb.msg);
    ck_assert_uint_eq(sw.n, SWEEP_MAX_COMBINATIONS);
    ck_assert_str_eq(sw.sets[SWEEP_MAX_COMBINATIONS - 1][4], "data.clients=9");
    sweep_release(&sw);
    snprintf(text + o, sizeof text - o, "  %s: [1, 2]\n", keys[5]);
    ck_assert_int_eq(sweep_of(&sw, text, &eb), -ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(eb.msg, "more than 100000 combinations"));
}
END_TEST

START_TEST(out_of_memory_everywhere)
{
    const char *text = "sweep:\n  grid: {seed: [1, 2]}\n  zip: {uplink.bits: [1, 4]}\n";
    int failed = 0;
    for (long n = 1; n < 400; n++) {
        struct sweep sw;
        struct errbuf eb;
        mem_fault_arm(n);
        int rc = sweep_of(&sw, text, &eb);
        int fired = mem_fault_fired();
        mem_fault_arm(0);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(sw.n, 4);
            sweep_release(&sw);
            break;
        }
        ck_assert_int_eq(rc, -ERR_NOMEM);
        ck_assert_ptr_null(sw.sets);
        failed++;
    }
    ck_assert_int_gt(failed, 5);
}
END_TEST

/* Collections as zipped values: their YAML text, lists included. */
START_TEST(zip_carries_collections)
{
    struct sweep sw;
    struct errbuf eb;
    ck_assert_int_eq(sweep_of(&sw,
                              "sweep:\n"
                              "  grid: {seed: [1, 2]}\n"
                              "  zip: {uplink.bits: [1, 4], model.hidden: [[8, 4], []]}\n",
                              &eb),
                     0);
    ck_assert_uint_eq(sw.n, 4);
    ck_assert_str_eq(sw.sets[0][2], "model.hidden=[8, 4]");
    ck_assert_str_eq(sw.sets[1][2], "model.hidden=[]");
    ck_assert_str_eq(sw.sets[3][1], "uplink.bits=4");
    sweep_release(&sw);
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
sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_add_test(tc, no_sweep_section_is_zero_runs);
    tcase_add_test(tc, plain_mapping_is_a_grid_first_key_slowest);
    tcase_add_test(tc, grid_times_zip_zip_fastest);
    tcase_add_test(tc, values_keep_their_yaml_text);
    tcase_add_test(tc, refusals_are_located);
    tcase_add_test(tc, combination_cap);
    tcase_add_test(tc, out_of_memory_everywhere);
    tcase_add_test(tc, zip_carries_collections);
    tcase_add_test(tc, overlong_value_refused);
    suite_add_tcase(s, tc);
    return s;
}
