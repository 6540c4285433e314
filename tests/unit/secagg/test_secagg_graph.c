/*
 * secagg graph: the SecAgg+ parameter table of FCP's tests (Bell et al., CCS 2020; degree
 * equal, threshold not above the listed one), infeasible inputs, and the relabelled Harary
 * graph's shape (symmetric, k neighbours, no self, deterministic per seed and round).
 */
#include <stdlib.h>

#include "aggregator/secagg_graph.h"
#include "tests/support/check_support.h"
#include "tests/unit/secagg/suites.h"

static const uint32_t table_n[5] = { 100, 1000, 10000, 100000, 1000000 };

static const struct {
    double gamma, delta;
    enum secagg_threat threat;
    uint32_t k[5], t[5];
} table[] = {
#define C SECAGG_THREAT_CURIOUS
#define S SECAGG_THREAT_SEMI_MALICIOUS
    { .05, .05, C, { 12, 30, 34, 36, 38 }, { 6, 17, 20, 21, 22 } },
    { .05, .05, S, { 16, 52, 62, 68, 74 }, { 11, 37, 44, 48, 52 } },
    { .05, .33, C, { 28, 72, 86, 96, 102 }, { 6, 24, 29, 32, 34 } },
    { .05, .33, S, { 72, 398, 746, 882, 970 }, { 39, 223, 420, 496, 545 } },
    { .33, .05, C, { 34, 78, 92, 102, 110 }, { 29, 60, 70, 77, 83 } },
    { .33, .05, S, { 42, 132, 178, 196, 212 }, { 37, 109, 146, 160, 173 } },
    { .33, .33, C, { 68, 286, 422, 480, 518 }, { 34, 150, 221, 251, 270 } },
    { .30, .30, S, { 92, 872, 4822, 9388, 11136 }, { 62, 584, 3230, 6286, 7454 } },
    { .45, .45, C, { 92, 822, 3494, 5508, 6240 }, { 46, 417, 1771, 2788, 3156 } },
    { .33, 0, C, { 26, 38, 42, 46, 50 }, { 25, 36, 40, 44, 47 } },
    { .33, 0, S, { 26, 38, 42, 46, 50 }, { 26, 37, 41, 45, 49 } },
    { 0, .33, C, { 26, 38, 42, 46, 50 }, { 2, 2, 2, 2, 2 } },
    { 0, .33, S, { 68, 228, 326, 372, 410 }, { 35, 115, 164, 187, 206 } },
    { 0, 0, C, { 2, 2, 2, 2, 2 }, { 2, 2, 2, 2, 2 } },
    { 0, 0, S, { 2, 2, 2, 2, 2 }, { 2, 2, 2, 2, 2 } },
#undef C
#undef S
};

/* One row of the expected table per loop index, all five cohort sizes. */
START_TEST(parameter_table)
{
    for (int j = 0; j < 5; j++) {
        uint32_t k = 0, t = 0;
        ck_assert_int_eq(secagg_graph_harary_params(&k, &t, table_n[j], table[_i].gamma,
                                                    table[_i].delta, table[_i].threat, NULL),
                         0);
        ck_assert_msg(k == table[_i].k[j], "row %d n=%u: k = %u, table %u", _i, table_n[j], k,
                      table[_i].k[j]);
        ck_assert_msg(t <= table[_i].t[j] && t >= 2 && t <= k + 1, "row %d n=%u: t = %u, table %u",
                      _i, table_n[j], t, table[_i].t[j]);
    }
}
END_TEST

START_TEST(parameter_rule_small_and_infeasible)
{
    uint32_t k, t;
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 10, .33, .33, SECAGG_THREAT_CURIOUS, NULL),
                     0);
    ck_assert_uint_eq(k, 8);
    ck_assert_uint_le(t, 4);
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 10, .05, .05, SECAGG_THREAT_CURIOUS, NULL),
                     0);
    ck_assert_uint_eq(k, 2);
    ck_assert_uint_le(t, 2);
    /* No Harary degree fits: the complete graph (classic SecAgg) is the answer. */
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 3, .3, .3, SECAGG_THREAT_CURIOUS, NULL), 1);
    ck_assert_uint_eq(k, 2);
    ck_assert_uint_eq(t, 0);
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 0, .05, .05, SECAGG_THREAT_CURIOUS, NULL),
                     -ERR_INVALID);
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 100, .05, 1, SECAGG_THREAT_CURIOUS, NULL),
                     -ERR_INVALID);
    ck_assert_int_eq(
        secagg_graph_harary_params(&k, &t, 100, .05, -0.1, SECAGG_THREAT_CURIOUS, NULL),
        -ERR_INVALID);
    ck_assert_int_eq(secagg_graph_harary_params(&k, &t, 100, .5, .5, SECAGG_THREAT_CURIOUS, NULL),
                     -ERR_INVALID);
    ck_assert_int_eq(
        secagg_graph_harary_params(&k, &t, 100, .5, .5, SECAGG_THREAT_SEMI_MALICIOUS, NULL),
        -ERR_INVALID);
    ck_assert_int_eq(
        secagg_graph_harary_params(&k, &t, 1000, .33, .33, SECAGG_THREAT_SEMI_MALICIOUS, NULL),
        -ERR_INVALID);
}
END_TEST

/* k + 1 with self, symmetric, sorted, no self; same seed and round give the same graph. */
START_TEST(harary_shape)
{
    struct secagg_graph *g, *h, *o;
    ck_assert_int_eq(secagg_graph_new(&g, SECAGG_GRAPH_HARARY, 101, 12, 7, 2, NULL), 0);
    ck_assert_int_eq(secagg_graph_new(&h, SECAGG_GRAPH_HARARY, 101, 12, 7, 2, NULL), 0);
    ck_assert_int_eq(secagg_graph_new(&o, SECAGG_GRAPH_HARARY, 101, 12, 7, 3, NULL), 0);
    ck_assert_uint_eq(secagg_graph_degree(g), 12);
    bool differs = false;
    for (uint32_t u = 0; u < 101; u++) {
        const uint32_t *nb = secagg_graph_neighbors(g, u);
        ck_assert_mem_eq(nb, secagg_graph_neighbors(h, u), 12 * sizeof *nb);
        differs |= memcmp(nb, secagg_graph_neighbors(o, u), 12 * sizeof *nb) != 0;
        for (uint32_t j = 0; j < 12; j++) {
            ck_assert_uint_ne(nb[j], u);
            if (j > 0)
                ck_assert_uint_lt(nb[j - 1], nb[j]);
            ck_assert(secagg_graph_adjacent(g, nb[j], u));
            ck_assert_int_eq(secagg_graph_slot(g, u, nb[j]), (long)j);
        }
        ck_assert_int_eq(secagg_graph_slot(g, u, u), -1);
    }
    ck_assert(differs); /* a fresh relabelling per round */
    secagg_graph_free(g);
    secagg_graph_free(h);
    secagg_graph_free(o);
    ck_assert_int_eq(secagg_graph_new(&g, SECAGG_GRAPH_COMPLETE, 9, 8, 7, 2, NULL), 0);
    for (uint32_t u = 0; u < 9; u++)
        for (uint32_t v = 0; v < 9; v++)
            ck_assert_int_eq(secagg_graph_adjacent(g, u, v), u != v);
    secagg_graph_free(g);
    ck_assert_int_eq(secagg_graph_new(&g, SECAGG_GRAPH_HARARY, 9, 3, 7, 2, NULL), -ERR_INVALID);
    ck_assert_int_eq(secagg_graph_new(&g, SECAGG_GRAPH_HARARY, 9, 8, 7, 2, NULL), -ERR_INVALID);
    ck_assert_int_eq(secagg_graph_new(&g, SECAGG_GRAPH_COMPLETE, 9, 4, 7, 2, NULL), -ERR_INVALID);
}
END_TEST

Suite *
secagg_graph_suite(void)
{
    Suite *s = suite_create("secagg_graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, parameter_table, 0, (int)(sizeof table / sizeof *table));
    tcase_add_test(tc, parameter_rule_small_and_infeasible);
    tcase_add_test(tc, harary_shape);
    suite_add_tcase(s, tc);
    return s;
}
