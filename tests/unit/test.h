/* test.h: a tiny unit-test harness: CHECK(cond) records and reports by name,
 * TEST_MAIN prints "N passed, M failed" and exits non-zero on any failure. */
#ifndef EVITRACK_TEST_H
#define EVITRACK_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond) do { \
    if (cond) test_passed++; \
    else { test_failed++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(a, b) do { \
    const char *check_a_ = (a), *check_b_ = (b); \
    if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) test_passed++; \
    else { test_failed++; fprintf(stderr, "FAIL %s:%d: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, \
        #a, #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); } \
} while (0)

#define CHECK_INT(a, b) do { \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
    if (check_a_ == check_b_) test_passed++; \
    else { test_failed++; fprintf(stderr, "FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, \
        #a, #b, check_a_, check_b_); } \
} while (0)

#define TEST_DONE() do { \
    printf("%d passed, %d failed\n", test_passed, test_failed); \
    return test_failed ? 1 : (test_passed ? 0 : 1); \
} while (0)

#endif
