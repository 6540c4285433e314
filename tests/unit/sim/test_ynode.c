/* ynode: located node trees, and the constructs a scenario must not use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ynode.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static struct ynode *
yd_parse_ok(const char *text)
{
    struct ynode *root = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = ynode_parse("t.yaml", text, strlen(text), &root, &eb);
    ck_assert_msg(rc == 0, "parse failed: %s", eb.msg);
    ck_assert_ptr_nonnull(root);
    return root;
}

/* Parses text expecting failure; returns "FILE:LINE:COL: error: MESSAGE". */
static int
yd_parse_err(const char *text, size_t len, char *out, size_t out_len)
{
    static struct ynode sentinel;
    struct ynode *root = &sentinel; /* must be reset to NULL */
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = ynode_parse("t.yaml", text, len, &root, &eb);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(eb.code, rc);
    ck_assert_ptr_null(root);
    errbuf_format(&eb, out, out_len);
    return rc;
}

START_TEST(locations_of_keys_and_values)
{
    const char *text = "name: x1\n"
                       "data:\n"
                       "  clients: 30\n"
                       "  list: [4, five]\n"
                       "\n"
                       "flow: {a: 1, bb: two}\n";
    struct ynode *root = yd_parse_ok(text);
    ck_assert_int_eq(root->kind, YNODE_MAP);
    ck_assert_uint_eq(root->n, 3);
    ck_assert_str_eq(root->keys[0], "name");
    ck_assert_int_eq(root->key_lines[0], 1);
    ck_assert_int_eq(root->key_columns[0], 1);
    struct ynode *name = ynode_map_get(root, "name");
    ck_assert_int_eq(name->kind, YNODE_SCALAR);
    ck_assert_str_eq(name->text, "x1");
    ck_assert_int_eq(name->line, 1);
    ck_assert_int_eq(name->column, 7);
    ck_assert(!name->quoted);
    ck_assert_ptr_null(name->source);

    ck_assert_int_eq(ynode_map_index(root, "data"), 1);
    ck_assert_int_eq(root->key_lines[1], 2);
    ck_assert_int_eq(root->key_columns[1], 1);
    struct ynode *data = ynode_map_get(root, "data");
    ck_assert_int_eq(data->kind, YNODE_MAP);
    ck_assert_int_eq(data->line, 3);
    ck_assert_int_eq(data->column, 3);
    ck_assert_int_eq(data->key_lines[0], 3);
    ck_assert_int_eq(data->key_columns[0], 3);
    struct ynode *clients = ynode_map_get(data, "clients");
    ck_assert_str_eq(clients->text, "30");
    ck_assert_int_eq(clients->line, 3);
    ck_assert_int_eq(clients->column, 12);
    struct ynode *list = ynode_map_get(data, "list");
    ck_assert_int_eq(list->kind, YNODE_SEQ);
    ck_assert_uint_eq(list->n, 2);
    ck_assert_int_eq(list->line, 4);
    ck_assert_int_eq(list->column, 9);
    ck_assert_str_eq(list->items[1]->text, "five");
    ck_assert_int_eq(list->items[1]->line, 4);
    ck_assert_int_eq(list->items[1]->column, 13);

    struct ynode *flow = ynode_map_get(root, "flow");
    ck_assert_int_eq(root->key_lines[2], 6);
    ck_assert_int_eq(flow->kind, YNODE_MAP);
    ck_assert_int_eq(flow->column, 7);
    ck_assert_int_eq(flow->key_columns[1], 14);
    struct ynode *two = ynode_map_get(flow, "bb");
    ck_assert_str_eq(two->text, "two");
    ck_assert_int_eq(two->line, 6);
    ck_assert_int_eq(two->column, 18);

    ck_assert_ptr_null(ynode_map_get(root, "missing"));
    ck_assert_int_eq(ynode_map_index(root, "missing"), -1);
    /* Lookups on a scalar or a sequence find nothing. */
    ck_assert_ptr_null(ynode_map_get(name, "x1"));
    ck_assert_int_eq(ynode_map_index(list, "five"), -1);
    ynode_free(root);
}
END_TEST

START_TEST(quoted_scalars_are_flagged)
{
    const char *text = "a: '1'\nb: 1\nc: \"x y\"\nd: |\n  block\ne: plain text\n";
    struct ynode *root = yd_parse_ok(text);
    ck_assert(ynode_map_get(root, "a")->quoted);
    ck_assert_str_eq(ynode_map_get(root, "a")->text, "1");
    ck_assert(!ynode_map_get(root, "b")->quoted);
    ck_assert(ynode_map_get(root, "c")->quoted);
    ck_assert_str_eq(ynode_map_get(root, "c")->text, "x y");
    ck_assert(ynode_map_get(root, "d")->quoted);
    ck_assert_str_eq(ynode_map_get(root, "d")->text, "block\n");
    ck_assert(!ynode_map_get(root, "e")->quoted);
    ck_assert_str_eq(ynode_map_get(root, "e")->text, "plain text");
    ynode_free(root);
}
END_TEST

static const char *const yd_empty_docs[] = { "", "# only a comment\n", "\n\n" };

START_TEST(empty_document_is_empty_map)
{
    struct ynode *root = yd_parse_ok(yd_empty_docs[_i]);
    ck_assert_int_eq(root->kind, YNODE_MAP);
    ck_assert_uint_eq(root->n, 0);
    ynode_free(root);
}
END_TEST

START_TEST(top_level_scalar_and_sequence)
{
    struct ynode *root = yd_parse_ok("just text");
    ck_assert_int_eq(root->kind, YNODE_SCALAR);
    ck_assert_str_eq(root->text, "just text");
    ynode_free(root);
    root = yd_parse_ok("- 1\n- [2, 3]\n- {k: v}\n");
    ck_assert_int_eq(root->kind, YNODE_SEQ);
    ck_assert_uint_eq(root->n, 3);
    ck_assert_int_eq(root->items[1]->kind, YNODE_SEQ);
    ck_assert_str_eq(root->items[1]->items[1]->text, "3");
    ck_assert_int_eq(root->items[2]->kind, YNODE_MAP);
    ck_assert_int_eq(root->items[2]->line, 3);
    ck_assert_int_eq(root->items[2]->column, 3);
    ynode_free(root);
}
END_TEST

/* Each rejected input, its code and the exact located message. */
struct yd_bad {
    const char *text;
    int code;
    const char *formatted;
};

static const struct yd_bad yd_bads[] = {
    { "a: 1\nb: 2\na: 3\n", -ERR_INVALID, "t.yaml:3:1: error: duplicate key 'a'" },
    { "s:\n  x: 1\n  x: 2\n", -ERR_INVALID, "t.yaml:3:3: error: duplicate key 'x'" },
    { "a: &anchor 1\n", -ERR_UNSUPPORTED,
      "t.yaml:1:4: error: YAML anchors are not supported in scenarios" },
    { "a: &m {x: 1}\n", -ERR_UNSUPPORTED,
      "t.yaml:1:4: error: YAML anchors are not supported in scenarios" },
    { "a: 1\nb: *x\n", -ERR_UNSUPPORTED,
      "t.yaml:2:4: error: YAML aliases are not supported in scenarios" },
    { "a: 1\n---\nb: 2\n", -ERR_UNSUPPORTED,
      "t.yaml:2:1: error: a scenario file holds one YAML document" },
    { "? [a, b]\n: 1\n", -ERR_CORRUPT, "t.yaml:1:3: error: mapping keys must be plain scalars" },
    { "a: [1, 2\nb: 3\n", -ERR_CORRUPT,
      "t.yaml:2:2: error: invalid YAML: did not find expected ',' or ']' while parsing a flow "
      "sequence" },
    { "a: 1\n b: 2\n", -ERR_CORRUPT,
      "t.yaml:2:3: error: invalid YAML: mapping values are not allowed in this context" },
    { "a: 'open\n", -ERR_CORRUPT,
      "t.yaml:2:1: error: invalid YAML: found unexpected end of stream while scanning a quoted "
      "scalar" },
};

START_TEST(rejects_with_location)
{
    const struct yd_bad *b = &yd_bads[_i];
    char out[ERRBUF_MSG_BYTES + 300];
    int rc = yd_parse_err(b->text, strlen(b->text), out, sizeof out);
    ck_assert_int_eq(rc, b->code);
    ck_assert_str_eq(out, b->formatted);
}
END_TEST

/* A NUL byte inside the text cannot reach a scalar (C strings would truncate it). */
START_TEST(rejects_nul_bytes)
{
    static const char text[] = "a: b\0c\nd: 1\n";
    char out[ERRBUF_MSG_BYTES + 300];
    int rc = yd_parse_err(text, sizeof text - 1, out, sizeof out);
    ck_assert_int_eq(rc, -ERR_CORRUPT);
    ck_assert_msg(strncmp(out, "t.yaml:1:", 9) == 0, "%s", out);
}
END_TEST

START_TEST(rejects_deep_nesting)
{
    char text[200];
    memset(text, '[', 100);
    memset(text + 100, ']', 100);
    char out[ERRBUF_MSG_BYTES + 300];
    int rc = yd_parse_err(text, sizeof text, out, sizeof out);
    ck_assert_int_eq(rc, -ERR_CORRUPT);
    ck_assert_str_eq(out, "t.yaml:1:66: error: YAML nested too deeply");
    /* 64 levels are fine. */
    memset(text, '[', 65);
    memset(text + 65, ']', 65);
    struct ynode *root = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(ynode_parse("t.yaml", text, 130, &root, &eb), 0);
    ynode_free(root);
}
END_TEST

/*
 * Tags are rejected as the header promises ("anchors and aliases, tags and multi-document
 * streams are rejected"): "!!str 5" must not silently parse as the plain scalar "5".
 */
START_TEST(rejects_tags)
{
    char out[ERRBUF_MSG_BYTES + 300];
    int rc = yd_parse_err("a: !!str 5\n", 11, out, sizeof out);
    ck_assert_int_eq(rc, -ERR_UNSUPPORTED);
}
END_TEST

/*
 * An explicit but empty document ("---" alone) is an empty document too: libyaml reports a
 * null scalar for it, which must become the empty map, not "a scenario must be a mapping".
 */
START_TEST(explicit_empty_document_is_empty_map)
{
    static const char *const docs[] = { "---\n", "--- # nothing\n...\n" };
    for (size_t i = 0; i < 2; i++) {
        struct ynode *root = yd_parse_ok(docs[i]);
        ck_assert_int_eq(root->kind, YNODE_MAP);
        ck_assert_uint_eq(root->n, 0);
        ynode_free(root);
    }
}
END_TEST

START_TEST(node_helpers)
{
    struct ynode *m = ynode_new(YNODE_MAP, NULL, 2, 3);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->line, 2);
    ck_assert_int_eq(m->column, 3);
    ck_assert_ptr_null(m->text);
    for (int i = 0; i < 20; i++) {
        char key[8], val[8];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        ck_assert_int_eq(ynode_map_set(m, key, ynode_new(YNODE_SCALAR, val, i, 1), i, 1), 0);
    }
    ck_assert_uint_eq(m->n, 20);
    ck_assert_str_eq(ynode_map_get(m, "k13")->text, "v13");
    ck_assert_int_eq(m->key_lines[13], 13);
    /* Replacing keeps the position and the count. */
    ck_assert_int_eq(ynode_map_set(m, "k13", ynode_new(YNODE_SCALAR, "new", 99, 9), 99, 9), 0);
    ck_assert_uint_eq(m->n, 20);
    ck_assert_int_eq(ynode_map_index(m, "k13"), 13);
    ck_assert_str_eq(ynode_map_get(m, "k13")->text, "new");
    struct ynode *s = ynode_new(YNODE_SEQ, NULL, 1, 1);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 17; i++)
        ck_assert_int_eq(ynode_seq_push(s, ynode_new(YNODE_SCALAR, "x", 1, 1)), 0);
    ck_assert_uint_eq(s->n, 17);
    ck_assert_int_eq(ynode_map_set(m, "seq", s, 30, 1), 0);
    ck_assert_ptr_eq(ynode_map_get(m, "seq"), s);
    ynode_free(m);
    ynode_free(NULL);
}
END_TEST

Suite *
ynode_suite(void)
{
    Suite *s = suite_create("ynode");
    TCase *tc = tcase_create("tree");
    tcase_add_test(tc, locations_of_keys_and_values);
    tcase_add_test(tc, quoted_scalars_are_flagged);
    tcase_add_loop_test(tc, empty_document_is_empty_map, 0,
                        (int)(sizeof yd_empty_docs / sizeof yd_empty_docs[0]));
    tcase_add_test(tc, top_level_scalar_and_sequence);
    tcase_add_test(tc, node_helpers);
    suite_add_tcase(s, tc);
    tc = tcase_create("rejects");
    tcase_add_loop_test(tc, rejects_with_location, 0, (int)(sizeof yd_bads / sizeof yd_bads[0]));
    tcase_add_test(tc, rejects_nul_bytes);
    tcase_add_test(tc, rejects_deep_nesting);
    suite_add_tcase(s, tc);
    tc = tcase_create("fixed bugs");
    tcase_add_test(tc, rejects_tags);
    tcase_add_test(tc, explicit_empty_document_is_empty_map);
    suite_add_tcase(s, tc);
    return s;
}
