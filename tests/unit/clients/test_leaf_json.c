/*
 * leaf_json: LEAF JSON folders written by the test (FEMNIST and Shakespeare are not
 * packaged): token mapping, users as clients, local test rows, and errors located by file
 * and byte offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clients/data_source.h"
#include "clients/leaf_json.h"
#include "tests/support/check_support.h"
#include "tests/unit/clients/suites.h"
#include "tests/unit/clients/testdata.h"

/* An 80-character line: "a" then 78 spaces then c. */
static void
lj_line(char *out, char c)
{
    memset(out, ' ', 80);
    out[0] = 'a';
    out[79] = c;
    out[80] = '\0';
}

static void
lj_write(const char *dir, const char *sub, const char *name, const char *text)
{
    char *d = testdata_path(dir, sub);
    mkdir(d, 0700);
    free(testdata_write(d, name, text, strlen(text), false));
    free(d);
}

START_TEST(shakespeare_users_are_clients)
{
    char *dir = tsupport_tmpdir();
    char l1[81], l2[81], buf[2048];
    lj_line(l1, 'T');
    lj_line(l2, '\x7e'); /* '~' is not in the vocabulary */
    snprintf(buf, sizeof buf,
             "{\"users\": [\"u1\"], \"num_samples\": [3], \"hierarchies\": [],\n"
             " \"user_data\": {\"u1\": {\"x\": [\"%s\", \"%s\", \"%s\"], \"y\": [\"e\", \"}\", "
             "\"\\n\"]}}}",
             l1, l2, l1);
    lj_write(dir, "train", "a.json", buf);
    snprintf(buf, sizeof buf,
             "{\"user_data\": {\"u2\": {\"y\": [\"a\", \" \"], \"x\": [\"%s\", \"%s\"]}}}", l2, l1);
    lj_write(dir, "train", "b.json", buf);
    snprintf(
        buf, sizeof buf,
        "{\"user_data\": {\"u3\": {\"x\": [\"%s\"], \"y\": [\"a\"]}, \"u2\": {\"x\": [\"%s\"], "
        "\"y\": [\"T\"]}}}",
        l1, l2);
    lj_write(dir, "test", "t.json", buf);

    struct data_params p;
    data_source_params_default(&p);
    p.kind = DATA_SHAKESPEARE;
    p.clients = 2;
    snprintf(p.path, sizeof p.path, "%s", dir);
    struct dataset *ds = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(data_source_load(&ds, &p, 1, &eb) == 0, "%s", eb.msg);
    ck_assert_uint_eq(ds->n_features, 80);
    ck_assert_uint_eq(ds->n_classes, 80);
    ck_assert_uint_eq(ds->train.n, 5);
    ck_assert_uint_eq(ds->test.n, 1); /* u3 is no client */
    /* Row 0: 'a' = 53, ' ' = 1, 'T' = 44; row 1 ends in '~', unknown: 79. */
    ck_assert_float_eq(ds->train.x[0], 53.0f);
    ck_assert_float_eq(ds->train.x[1], 1.0f);
    ck_assert_float_eq(ds->train.x[79], 44.0f);
    ck_assert_float_eq(ds->train.x[80 + 79], 79.0f);
    ck_assert_uint_eq(ds->train.y[0], 31 + 1 + 'e' - 'a' + 21); /* 'e' */
    ck_assert_uint_eq(ds->train.y[1], 79);
    ck_assert_uint_eq(ds->train.y[2], 0);
    size_t n;
    const uint32_t *rows = dataset_client_train(ds, 1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(rows[0], 3);
    ck_assert_uint_eq(ds->train.y[3], 53);
    rows = dataset_client_test(ds, 1, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(ds->test.y[rows[0]], 44);
    dataset_client_test(ds, 0, &n);
    ck_assert_uint_eq(n, 0);
    dataset_free(ds);

    p.clients = 3;
    ck_assert_int_eq(data_source_load(&ds, &p, 1, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, "data.clients");

    /* A 79-character x in the second file: located at the end of the string. */
    snprintf(buf, sizeof buf, "{\"user_data\": {\"u2\": {\"x\": [\"%.79s\"], \"y\": [\"a\"]}}}",
             l1);
    lj_write(dir, "train", "b.json", buf);
    p.clients = 2;
    ck_assert_int_eq(data_source_load(&ds, &p, 1, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "b.json': byte 28: a Shakespeare x is not 80 characters") != NULL,
                  "%s", eb.msg);
    /* Truncated JSON. */
    lj_write(dir, "train", "b.json", "{\"user_data\": {\"u2\": {\"x\": [");
    ck_assert_int_eq(data_source_load(&ds, &p, 1, &eb), -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "b.json': byte 28: unterminated string") != NULL ||
                      strstr(eb.msg, "b.json': byte 28:") != NULL,
                  "%s", eb.msg);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(femnist_pixels_and_labels)
{
    char *dir = tsupport_tmpdir();
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    len += (size_t)snprintf(buf + len, cap - len, "{\"user_data\": {\"f1\": {\"x\": [[");
    for (int i = 0; i < 784; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%g", i ? ", " : "", (i % 5) / 4.0);
    len += (size_t)snprintf(buf + len, cap - len, "]], \"y\": [61]}}}");
    lj_write(dir, "train", "x.json", buf);
    lj_write(dir, "test", "x.json", buf);
    struct leaf_rows rows = { 0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    char *train = testdata_path(dir, "train");
    ck_assert_int_eq(leaf_json_read_dir(&rows, train, LEAF_FEMNIST, 1 << 20, &eb), 0);
    ck_assert_uint_eq(rows.n, 1);
    ck_assert_uint_eq(rows.y[0], 61);
    ck_assert_float_eq(rows.x[3], 0.75f);
    ck_assert_str_eq(rows.users[0], "f1");
    leaf_json_rows_release(&rows);
    /* A label of 62 and a pixel of 2. */
    static const char bad_y[] = "{\"user_data\": {\"f1\": {\"x\": [], \"y\": [62]}}}";
    ck_assert_int_eq(leaf_json_parse(&rows, bad_y, strlen(bad_y), "m.json", LEAF_FEMNIST, &eb),
                     -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "'m.json': byte 37: a FEMNIST label is not an integer 0..61");
    leaf_json_rows_release(&rows);
    static const char bad_x[] = "{\"user_data\": {\"f1\": {\"x\": [[2]], \"y\": [1]}}}";
    ck_assert_int_eq(leaf_json_parse(&rows, bad_x, strlen(bad_x), "m.json", LEAF_FEMNIST, &eb),
                     -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "'m.json': byte 29: a FEMNIST pixel is not in [0, 1]");
    leaf_json_rows_release(&rows);
    static const char uneven[] = "{\"user_data\": {\"f1\": {\"x\": [], \"y\": [1]}}}";
    ck_assert_int_eq(leaf_json_parse(&rows, uneven, strlen(uneven), "m.json", LEAF_FEMNIST, &eb),
                     -ERR_CORRUPT);
    ck_assert_msg(strstr(eb.msg, "x and y differ in length") != NULL, "%s", eb.msg);
    leaf_json_rows_release(&rows);
    ck_assert_int_eq(leaf_json_read_dir(&rows, train, LEAF_FEMNIST, 100, &eb), -ERR_RANGE);
    leaf_json_rows_release(&rows);
    free(train);
    free(buf);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
leaf_json_suite(void)
{
    Suite *s = suite_create("leaf_json");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, shakespeare_users_are_clients);
    tcase_add_test(tc, femnist_pixels_and_labels);
    suite_add_tcase(s, tc);
    return s;
}
