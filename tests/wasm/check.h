/* check.h - a tiny stand-in for the Check unit-test framework, so the SAME
 * tests/unit/test_*.c build as WebAssembly and run under node (there is no Check for wasm).
 *
 * It implements the subset of Check 0.15's API that the tests use, with the same macro
 * shapes (START_TEST/END_TEST, tcase_*, suite_*, srunner_*, ck_assert*, ck_abort*). There is
 * no fork: a failed assertion longjmps out of the test, which is then counted as failed and
 * the next test runs. A trap (wasm RuntimeError) ends the whole program; tests/wasm/run.sh
 * counts that as a failure. Each test prints one line the runner counts:
 *   polyp-check: PASS <suite>:<tcase>:<test>
 *   polyp-check: FAIL <suite>:<tcase>:<test>: <file>:<line>: <message>
 */
#ifndef POLYP_WASM_CHECK_H
#define POLYP_WASM_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CK_ATTRIBUTE_UNUSED __attribute__((unused))

enum print_output { CK_SILENT, CK_MINIMAL, CK_NORMAL, CK_VERBOSE, CK_ENV, CK_SUBUNIT, CK_LAST };
enum fork_status { CK_FORK_GETENV, CK_FORK, CK_NOFORK };

typedef struct Suite Suite;
typedef struct TCase TCase;
typedef struct SRunner SRunner;
typedef void (*SFun)(void);
typedef void (*TFun)(int);

typedef struct TTest {
    const char *name;
    TFun fn;
    const char *file;
    int line;
} TTest;

#define START_TEST(__testname)                                                              \
    static void __testname##_fn(int _i CK_ATTRIBUTE_UNUSED);                                \
    static const TTest __testname##_ttest = {"" #__testname, __testname##_fn, __FILE__,      \
                                             __LINE__};                                     \
    static const TTest *__testname = &__testname##_ttest;                                   \
    static void __testname##_fn(int _i CK_ATTRIBUTE_UNUSED)
#define END_TEST

Suite *suite_create(const char *name);
void suite_add_tcase(Suite *s, TCase *tc);
TCase *tcase_create(const char *name);
void tcase_set_timeout(TCase *tc, double timeout);
void tcase_add_checked_fixture(TCase *tc, SFun setup, SFun teardown);
void tcase_add_unchecked_fixture(TCase *tc, SFun setup, SFun teardown);
void _tcase_add_test(TCase *tc, const TTest *t, int signal, int allowed_exit_value, int start,
                     int end);
#define tcase_add_test(tc, tf) _tcase_add_test((tc), (tf), 0, 0, 0, 1)
#define tcase_add_loop_test(tc, tf, s, e) _tcase_add_test((tc), (tf), 0, 0, (s), (e))
/* Signal and exit tests need fork: they are reported as failures, never silently passed. */
#define tcase_add_test_raise_signal(tc, tf, sig) _tcase_add_test((tc), (tf), (sig), 0, 0, 1)
#define tcase_add_exit_test(tc, tf, ev) _tcase_add_test((tc), (tf), -1, (ev), 0, 1)

SRunner *srunner_create(Suite *s);
void srunner_add_suite(SRunner *sr, Suite *s);
void srunner_set_fork_status(SRunner *sr, enum fork_status fstat);
void srunner_run_all(SRunner *sr, enum print_output mode);
int srunner_ntests_failed(SRunner *sr);
int srunner_ntests_run(SRunner *sr);
void srunner_free(SRunner *sr);

/* Records a failure and leaves the test. The variadic part is (fmt, args..., NULL) or NULL,
 * as in Check. */
void _ck_assert_failed(const char *file, int line, const char *expr, ...)
    __attribute__((noreturn));
#define mark_point() ((void)0)

#define ck_assert_msg(expr, ...)                                                             \
    ((expr) ? (void)0                                                                        \
            : _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed",          \
                                ##__VA_ARGS__, NULL))
#define ck_assert(expr) ck_assert_msg(expr, NULL)
#define ck_abort() ck_abort_msg(NULL)
#define ck_abort_msg(...) _ck_assert_failed(__FILE__, __LINE__, "Failed", ##__VA_ARGS__, NULL)

#define _ck_assert_int(X, OP, Y)                                                             \
    do {                                                                                     \
        intmax_t _ck_x = (X), _ck_y = (Y);                                                   \
        ck_assert_msg(_ck_x OP _ck_y, "Assertion '%s' failed: %s == %jd, %s == %jd",         \
                      #X " " #OP " " #Y, #X, _ck_x, #Y, _ck_y);                              \
    } while (0)
#define ck_assert_int_eq(X, Y) _ck_assert_int(X, ==, Y)
#define ck_assert_int_ne(X, Y) _ck_assert_int(X, !=, Y)
#define ck_assert_int_lt(X, Y) _ck_assert_int(X, <, Y)
#define ck_assert_int_le(X, Y) _ck_assert_int(X, <=, Y)
#define ck_assert_int_gt(X, Y) _ck_assert_int(X, >, Y)
#define ck_assert_int_ge(X, Y) _ck_assert_int(X, >=, Y)

#define _ck_assert_uint(X, OP, Y)                                                            \
    do {                                                                                     \
        uintmax_t _ck_x = (X), _ck_y = (Y);                                                  \
        ck_assert_msg(_ck_x OP _ck_y, "Assertion '%s' failed: %s == %ju, %s == %ju",         \
                      #X " " #OP " " #Y, #X, _ck_x, #Y, _ck_y);                              \
    } while (0)
#define ck_assert_uint_eq(X, Y) _ck_assert_uint(X, ==, Y)
#define ck_assert_uint_ne(X, Y) _ck_assert_uint(X, !=, Y)
#define ck_assert_uint_lt(X, Y) _ck_assert_uint(X, <, Y)
#define ck_assert_uint_le(X, Y) _ck_assert_uint(X, <=, Y)
#define ck_assert_uint_gt(X, Y) _ck_assert_uint(X, >, Y)
#define ck_assert_uint_ge(X, Y) _ck_assert_uint(X, >=, Y)

#define _ck_assert_floating(X, OP, Y, T)                                                     \
    do {                                                                                     \
        T _ck_x = (X), _ck_y = (Y);                                                          \
        ck_assert_msg(_ck_x OP _ck_y, "Assertion '%s' failed: %s == %.9Lg, %s == %.9Lg",     \
                      #X " " #OP " " #Y, #X, (long double)_ck_x, #Y, (long double)_ck_y);    \
    } while (0)
#define _ck_assert_floating_tol(X, Y, T, TY)                                                 \
    do {                                                                                     \
        TY _ck_x = (X), _ck_y = (Y), _ck_t = (T);                                            \
        ck_assert_msg(fabsl((long double)_ck_x - (long double)_ck_y) <= (long double)_ck_t,  \
                      "Assertion '%s' failed: %s == %.9Lg, %s == %.9Lg, %s == %.9Lg",        \
                      "fabsl(" #X " - " #Y ") <= " #T, #X, (long double)_ck_x, #Y,           \
                      (long double)_ck_y, #T, (long double)_ck_t);                           \
    } while (0)
#define ck_assert_float_eq(X, Y) _ck_assert_floating(X, ==, Y, float)
#define ck_assert_float_ne(X, Y) _ck_assert_floating(X, !=, Y, float)
#define ck_assert_float_lt(X, Y) _ck_assert_floating(X, <, Y, float)
#define ck_assert_float_le(X, Y) _ck_assert_floating(X, <=, Y, float)
#define ck_assert_float_gt(X, Y) _ck_assert_floating(X, >, Y, float)
#define ck_assert_float_ge(X, Y) _ck_assert_floating(X, >=, Y, float)
#define ck_assert_float_eq_tol(X, Y, T) _ck_assert_floating_tol(X, Y, T, float)
#define ck_assert_double_eq(X, Y) _ck_assert_floating(X, ==, Y, double)
#define ck_assert_double_ne(X, Y) _ck_assert_floating(X, !=, Y, double)
#define ck_assert_double_lt(X, Y) _ck_assert_floating(X, <, Y, double)
#define ck_assert_double_le(X, Y) _ck_assert_floating(X, <=, Y, double)
#define ck_assert_double_gt(X, Y) _ck_assert_floating(X, >, Y, double)
#define ck_assert_double_ge(X, Y) _ck_assert_floating(X, >=, Y, double)
#define ck_assert_double_eq_tol(X, Y, T) _ck_assert_floating_tol(X, Y, T, double)
#define ck_assert_ldouble_eq_tol(X, Y, T) _ck_assert_floating_tol(X, Y, T, long double)
#define ck_assert_float_finite(X) ck_assert_msg(isfinite(X), "'%s' is not finite", #X)
#define ck_assert_double_finite(X) ck_assert_msg(isfinite(X), "'%s' is not finite", #X)
#define ck_assert_double_nan(X) ck_assert_msg(isnan(X), "'%s' is not NaN", #X)
#define ck_assert_float_nan(X) ck_assert_msg(isnan(X), "'%s' is not NaN", #X)

#define _ck_assert_str(X, OP, Y)                                                             \
    do {                                                                                     \
        const char *_ck_x = (X), *_ck_y = (Y);                                               \
        ck_assert_msg(_ck_x && _ck_y && strcmp(_ck_x, _ck_y) OP 0,                           \
                      "Assertion '%s' failed: %s == \"%s\", %s == \"%s\"",                   \
                      #X " " #OP " " #Y, #X, _ck_x ? _ck_x : "(null)", #Y,                   \
                      _ck_y ? _ck_y : "(null)");                                             \
    } while (0)
#define ck_assert_str_eq(X, Y) _ck_assert_str(X, ==, Y)
#define ck_assert_str_ne(X, Y) _ck_assert_str(X, !=, Y)
#define ck_assert_str_lt(X, Y) _ck_assert_str(X, <, Y)
#define ck_assert_str_le(X, Y) _ck_assert_str(X, <=, Y)
#define ck_assert_str_gt(X, Y) _ck_assert_str(X, >, Y)
#define ck_assert_str_ge(X, Y) _ck_assert_str(X, >=, Y)

#define ck_assert_mem_eq(X, Y, L)                                                            \
    ck_assert_msg(memcmp((X), (Y), (L)) == 0, "Assertion '%s' failed: memory differs",       \
                  "memcmp(" #X ", " #Y ", " #L ") == 0")
#define ck_assert_mem_ne(X, Y, L)                                                            \
    ck_assert_msg(memcmp((X), (Y), (L)) != 0, "Assertion '%s' failed: memory equal",         \
                  "memcmp(" #X ", " #Y ", " #L ") != 0")

#define _ck_assert_ptr(X, OP, Y)                                                             \
    do {                                                                                     \
        const void *_ck_x = (X), *_ck_y = (Y);                                               \
        ck_assert_msg(_ck_x OP _ck_y, "Assertion '%s' failed: %s == %p, %s == %p",           \
                      #X " " #OP " " #Y, #X, _ck_x, #Y, _ck_y);                              \
    } while (0)
#define ck_assert_ptr_eq(X, Y) _ck_assert_ptr(X, ==, Y)
#define ck_assert_ptr_ne(X, Y) _ck_assert_ptr(X, !=, Y)
#define ck_assert_ptr_null(X) _ck_assert_ptr(X, ==, NULL)
#define ck_assert_ptr_nonnull(X) _ck_assert_ptr(X, !=, NULL)

#endif
