/*
 * check_support: helpers shared by the Check unit tests of every library.
 *
 * - ck_assert_rel_tol(a, b, rel): relative tolerance (Check's own is absolute only).
 * - tsupport_main(): the common main() of a test executable: initialises libsodium, turns
 *   GSL's abort-on-error handler off, runs the given suites (CK_RUN_SUITE narrows), and
 *   returns the exit status. tsupport_main_shard() runs every n-th suite only, so that one
 *   executable can be registered as several meson tests that run side by side and still
 *   cover every suite of its list.
 * - tsupport_tmpdir(): a fresh temporary directory for the test (owned string, removed by
 *   the caller with tsupport_rmtree()).
 */
#ifndef FEDBITS_TESTS_CHECK_SUPPORT_H
#define FEDBITS_TESTS_CHECK_SUPPORT_H

#include <check.h>
#include <math.h>

#define ck_assert_rel_tol(a, b, rel)                                                               \
    do {                                                                                           \
        double ck_a_ = (double)(a), ck_b_ = (double)(b), ck_r_ = (double)(rel);                    \
        double ck_s_ = fmax(fabs(ck_a_), fabs(ck_b_));                                             \
        ck_assert_msg(fabs(ck_a_ - ck_b_) <= ck_r_ * ck_s_,                                        \
                      "%s = %.10g and %s = %.10g differ by more than relative %.3g", #a, ck_a_,    \
                      #b, ck_b_, ck_r_);                                                           \
    } while (0)

typedef Suite *tsupport_suite_fn(void);

/* Runs the NULL-terminated list of suites; returns EXIT_SUCCESS when all pass. */
int tsupport_main(tsupport_suite_fn *const *suites);
/*
 * With argv = {prog, "K", "N"} (0 <= K < N) runs the suites whose index i has i % N == K;
 * with no arguments all of them, as tsupport_main(). Bad arguments: a message and
 * EXIT_FAILURE.
 */
int tsupport_main_shard(tsupport_suite_fn *const *suites, int argc, char **argv);

/* Creates a temporary directory; returns an owned path (free()). */
char *tsupport_tmpdir(void);
/* Removes a directory tree made by tsupport_tmpdir(). */
void tsupport_rmtree(const char *path);

#endif
