/* check_support: shared test helpers. See check_support.h. */
#include "tests/support/check_support.h"

#include <gsl/gsl_errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>

static int
tsupport_run(tsupport_suite_fn *const *suites, size_t shard, size_t of)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return EXIT_FAILURE;
    }
    gsl_set_error_handler_off();
    SRunner *sr = NULL;
    for (size_t i = 0; suites[i] != NULL; i++) {
        if (i % of != shard)
            continue;
        Suite *s = suites[i]();
        if (sr == NULL)
            sr = srunner_create(s);
        else
            srunner_add_suite(sr, s);
    }
    if (sr == NULL)
        return EXIT_SUCCESS;
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
tsupport_main(tsupport_suite_fn *const *suites)
{
    return tsupport_run(suites, 0, 1);
}

int
tsupport_main_shard(tsupport_suite_fn *const *suites, int argc, char **argv)
{
    if (argc == 1)
        return tsupport_run(suites, 0, 1);
    char *end1 = NULL, *end2 = NULL;
    unsigned long k = argc == 3 ? strtoul(argv[1], &end1, 10) : 0;
    unsigned long n = argc == 3 ? strtoul(argv[2], &end2, 10) : 0;
    if (argc != 3 || *end1 != '\0' || *end2 != '\0' || n == 0 || k >= n) {
        fprintf(stderr, "usage: %s [K N]: run the suites i with i %% N == K (0 <= K < N)\n",
                argv[0]);
        return EXIT_FAILURE;
    }
    return tsupport_run(suites, k, n);
}

char *
tsupport_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/fedbits-test-XXXXXX", base != NULL ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    return strdup(dir);
}

static int
tsupport_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
tsupport_rmtree(const char *path)
{
    nftw(path, tsupport_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
