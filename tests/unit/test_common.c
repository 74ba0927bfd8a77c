/* test_common.c - status strings, error records, checked arithmetic. */
#include "internal.h"
#include "testutil.h"

#include <string.h>

START_TEST(fail_records_status_and_message) {
    polyp_error err = {0};
    polyp_status st = polyp_fail(&err, POLYP_ERR_FORMAT, "tensor %s has shape %d", "_bn0.weight", 7);
    ck_assert_int_eq(st, POLYP_ERR_FORMAT);
    ck_assert_int_eq(err.status, POLYP_ERR_FORMAT);
    ck_assert_str_eq(err.message, "tensor _bn0.weight has shape 7");
    polyp_fail_prefix(&err, POLYP_ERR_FORMAT, "%s: ", "w.safetensors");
    ck_assert_str_eq(err.message, "w.safetensors: tensor _bn0.weight has shape 7");
    /* NULL err is allowed everywhere. */
    ck_assert_int_eq(polyp_fail(NULL, POLYP_ERR_IO, "x"), POLYP_ERR_IO);
}
END_TEST

START_TEST(status_strings_are_distinct) {
    for (int a = POLYP_OK; a <= POLYP_ERR_BACKEND; a++)
        for (int b = a + 1; b <= POLYP_ERR_BACKEND; b++)
            ck_assert_str_ne(polyp_status_string(a), polyp_status_string(b));
}
END_TEST

START_TEST(checked_arithmetic_detects_overflow) {
    size_t r;
    ck_assert(polyp_mul_ok(1u << 20, 1u << 10, &r) && r == (size_t)1 << 30);
    ck_assert(!polyp_mul_ok(SIZE_MAX / 2 + 1, 2, &r));
    ck_assert(!polyp_add_ok(SIZE_MAX, 1, &r));
}
END_TEST

START_TEST(read_file_reports_missing_path) {
    polyp_error err = {0};
    void *buf;
    size_t n;
    ck_assert_int_eq(polyp_read_file("/nonexistent/polyp/file", &buf, &n, &err), POLYP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/polyp/file"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fail_records_status_and_message);
    tcase_add_test(tc, status_strings_are_distinct);
    tcase_add_test(tc, checked_arithmetic_detects_overflow);
    tcase_add_test(tc, read_file_reports_missing_path);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
