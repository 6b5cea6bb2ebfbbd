/*
 * tests/lib/test.h — the project's test harness: cmocka (Debian's libcmocka-dev) plus a few
 * macros in the house style (STYLE §13) and the leak check every test gets for free.
 *
 *   AK_TEST(name) { ... }            defines a cmocka test function
 *   EXPECT_OK(expr)                  expr returns AK_OK
 *   EXPECT_ERR(code, expr)           expr returns exactly that ak_err (prints both reasons if not)
 *   EXPECT_BYTES_EQ(a, alen, b, blen)
 *   EXPECT_STR_EQ(a, b)
 *   AK_RUN_TESTS(group...)           main(): runs the group, checks ak_alloc_live_count() is back
 *                                    to zero after each test, prints cmocka's summary
 * Vectors live in ../shared/vectors (AK_VECTORS_DIR, overridable by the env var of that name).
 */
#ifndef AK_TEST_H
#define AK_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/err.h"

#define AK_TEST(name) static void name(void **state __attribute__((unused)))

#define EXPECT_OK(expr)                                                                                      \
    do {                                                                                                     \
        ak_err ak__r = (expr);                                                                               \
        if (ak__r != AK_OK) fail_msg("%s -> %s, expected ok", #expr, ak_err_reason(ak__r));                  \
    } while (0)
#define EXPECT_ERR(code, expr)                                                                               \
    do {                                                                                                     \
        ak_err ak__r = (expr);                                                                               \
        if (ak__r != (code))                                                                                 \
            fail_msg("%s -> %s, expected %s", #expr, ak_err_reason(ak__r), ak_err_reason(code));             \
    } while (0)
#define EXPECT_TRUE(c) assert_true(c)
#define EXPECT_FALSE(c) assert_false(c)
#define EXPECT_INT_EQ(a, b) assert_int_equal((a), (b))
#define EXPECT_STR_EQ(a, b) assert_string_equal((a), (b))
#define EXPECT_BYTES_EQ(a, alen, b, blen)                                                                    \
    do {                                                                                                     \
        assert_int_equal((alen), (blen));                                                                    \
        assert_memory_equal((a), (b), (blen));                                                               \
    } while (0)

/* Leak check wrappers: every test starts and ends with the same live allocation count. */
int ak_test_setup(void **state);
int ak_test_teardown(void **state);
#define AK_T(fn) cmocka_unit_test_setup_teardown(fn, ak_test_setup, ak_test_teardown)

#define AK_RUN_TESTS(...)                                                                                    \
    int main(void) {                                                                                         \
        ak_test_init();                                                                                      \
        const struct CMUnitTest ak__tests[] = {__VA_ARGS__};                                                 \
        return cmocka_run_group_tests(ak__tests, NULL, NULL);                                                \
    }

void ak_test_init(void);
/* Path of a vector file: "<vectors dir>/<rel>" in a static buffer. */
const char *ak_test_vector_path(const char *rel);
/* Reads a whole file into `out` (max 64 MiB). Fails the test if it cannot. */
void ak_test_read_file(const char *path, ak_buf *out);

#endif
