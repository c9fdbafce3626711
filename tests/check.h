/*
 * check.h - the tests' tiny harness. A test file defines functions `static void test_x(void)`,
 * lists them in a TESTS table, and ends with `CHECK_MAIN(tests)`. Each CHECK that fails prints
 * its place and values and marks the current test failed; the run ends with the line
 * "N passed, M failed" that CI reads, and exits non-zero on any failure.
 * Run one test by name: ./test_x name
 */
#ifndef VAS_CHECK_H
#define VAS_CHECK_H

#include "vas.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_in_test;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
            check_failures_in_test++;                                                         \
        }                                                                                     \
    } while (0)

/* Compares two integers and prints both in hex when they differ. */
#define CHECK_EQ(actual, expected)                                                            \
    do {                                                                                      \
        uint64_t check_a_ = (uint64_t)(actual), check_e_ = (uint64_t)(expected);              \
        if (check_a_ != check_e_) {                                                           \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s is 0x%" PRIx64 ", expected %s = 0x%" PRIx64 "\n", \
                    __FILE__, __LINE__, #actual, check_a_, #expected, check_e_);              \
            check_failures_in_test++;                                                         \
        }                                                                                     \
    } while (0)

/* A failed Win32 call: the result is 0 and vas_last_error() is `error`. */
#define CHECK_FAILS(call, error)                                                              \
    do {                                                                                      \
        vas_set_last_error(0xDEADBEEFu);                                                      \
        uint64_t check_r_ = (uint64_t)(call);                                                 \
        CHECK_EQ(check_r_, 0);                                                                \
        CHECK_EQ(vas_last_error(), (error));                                                  \
    } while (0)

typedef struct check_test {
    const char *name;
    void (*run)(void);
} check_test;

#define TEST(fn) {#fn, fn}

static inline int check_run(const check_test *tests, size_t count, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < count; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        check_failures_in_test = 0;
        tests[i].run();
        if (check_failures_in_test) {
            fprintf(stderr, "FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define CHECK_MAIN(tests)                                                                     \
    int main(int argc, char **argv)                                                           \
    {                                                                                         \
        return check_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);                \
    }

#endif
