/*
 * cluster: the one-process cluster (no mpirun): rank 0 of 1, every client owned by rank 0,
 * collectives that leave their buffers as they are and count no traffic, NULL accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "sim/cluster.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

/* Makes sure cluster_init() cannot believe it was started by mpirun. */
static void
cluster_unlaunched(void)
{
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMIX_RANK");
    unsetenv("PMI_SIZE");
}

START_TEST(one_process_cluster)
{
    cluster_unlaunched();
    int argc = 1;
    char arg0[] = "test_sim";
    char *args[] = { arg0, NULL };
    char **argv = args;
    struct cluster *c = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(cluster_init(&c, &argc, &argv, &eb), 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(argc, 1);
    ck_assert_uint_eq(cluster_rank(c), 0);
    ck_assert_uint_eq(cluster_size(c), 1);
    ck_assert_uint_eq(cluster_local_size(c), 1);
    for (uint64_t k = 0; k < 100; k += 7)
        ck_assert_uint_eq(cluster_owner(c, k), 0);

    uint64_t u[3] = { 1, UINT64_MAX, 42 };
    uint64_t w[4] = { 5, 6, 7, 8 };
    double d[2] = { -1.5, 2.5 };
    ck_assert_int_eq(cluster_sum_u64(c, u, 3, &eb), 0);
    ck_assert_int_eq(cluster_sum_i128(c, w, 2, &eb), 0);
    ck_assert_int_eq(cluster_max_f64(c, d, 2, &eb), 0);
    ck_assert_uint_eq(u[0], 1);
    ck_assert_uint_eq(u[1], UINT64_MAX);
    ck_assert_uint_eq(u[2], 42);
    ck_assert_uint_eq(w[3], 8);
    ck_assert_double_eq(d[0], -1.5);
    ck_assert_double_eq(d[1], 2.5);
    /* One process sends nothing to anyone. */
    ck_assert_uint_eq(cluster_bytes(c), 0);
    ck_assert_int_eq(eb.code, 0);
    ck_assert_int_eq(cluster_end(c, 3), 3);
}
END_TEST

START_TEST(null_cluster_is_one_process)
{
    uint64_t u[1] = { 9 };
    ck_assert_uint_eq(cluster_rank(NULL), 0);
    ck_assert_uint_eq(cluster_size(NULL), 1);
    ck_assert_uint_eq(cluster_local_size(NULL), 1);
    ck_assert_uint_eq(cluster_owner(NULL, 12345), 0);
    ck_assert_uint_eq(cluster_bytes(NULL), 0);
    ck_assert_int_eq(cluster_sum_u64(NULL, u, 1, NULL), 0);
    ck_assert_uint_eq(u[0], 9);
    cluster_finalize(NULL);
}
END_TEST

START_TEST(init_out_of_memory)
{
    cluster_unlaunched();
    int argc = 0;
    char **argv = NULL;
    struct cluster *c = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    mem_fault_arm(1);
    int rc = cluster_init(&c, &argc, &argv, &eb);
    mem_fault_arm(0);
    ck_assert_int_eq(rc, -ERR_NOMEM);
    ck_assert_int_eq(eb.code, -ERR_NOMEM);
    /* Init again after the failure: an ordinary one-process cluster. */
    ck_assert_int_eq(cluster_init(&c, &argc, &argv, &eb), 0);
    ck_assert_uint_eq(cluster_size(c), 1);
    cluster_finalize(c);
}
END_TEST

Suite *
cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_add_test(tc, one_process_cluster);
    tcase_add_test(tc, null_cluster_is_one_process);
    tcase_add_test(tc, init_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
