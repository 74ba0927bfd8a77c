/* test_calibrate.c - Platt fit against scikit-learn's _sigmoid_calibration
 * (tests/fixtures/classifier/platt.txt, made by make_classifier_fixtures.py) and against the
 * optimality conditions checked by hand: at the optimum the gradient of Platt's objective
 * vanishes, sum(t - p) = 0 and sum(f (t - p)) = 0 with the smoothed targets t. */
#include "classifier_internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int read_line(const char *text, const char *key, double *v, int max) {
    const char *l = strstr(text, key);
    if (!l) return 0;
    l += strlen(key);
    int n = 0;
    while (n < max) {
        char *end;
        double x = strtod(l, &end);
        if (end == l) break;
        v[n++] = x;
        l = end;
    }
    return n;
}

START_TEST(platt_matches_sklearn) {
    size_t sz;
    char *text = tu_read(tu_source_path("tests/fixtures/classifier/platt.txt"), &sz);
    text = realloc(text, sz + 1);
    text[sz] = 0;
    double F[10], Y[10], ab[2];
    ck_assert_int_eq(read_line(text, "\nF ", F, 10), 10);
    ck_assert_int_eq(read_line(text, "\ny ", Y, 10), 10);
    ck_assert_int_eq(read_line(text, "\nab ", ab, 2), 2);
    uint8_t y[10];
    for (int i = 0; i < 10; i++) y[i] = Y[i] > 0;
    double a, b;
    polyp_error err = {0};
    ck_assert(polyp_platt_fit(F, y, 10, &a, &b, &err) == POLYP_OK);
    ck_assert_double_eq_tol(a, ab[0], 1e-4 * fabs(ab[0]));
    ck_assert_double_eq_tol(b, ab[1], 1e-4 * fabs(ab[1]));
    /* stationarity: 5 positives -> t+ = 6/7, 5 negatives -> t- = 1/7 */
    double g1 = 0, g2 = 0;
    for (int i = 0; i < 10; i++) {
        double t = y[i] ? 6.0 / 7.0 : 1.0 / 7.0, p = 1.0 / (1.0 + exp(a * F[i] + b));
        g1 += F[i] * (t - p);
        g2 += t - p;
    }
    ck_assert_double_eq_tol(g1, 0, 1e-7);
    ck_assert_double_eq_tol(g2, 0, 1e-7);
    free(text);
}
END_TEST

/* Perfectly separable but smoothed: with f = 0 for negatives and 1 for positives the
 * optimum puts p exactly at the smoothed targets: 1/(1+exp(b)) = 1/(N- + 2),
 * 1/(1+exp(a+b)) = (N+ + 1)/(N+ + 2). With N+ = 3, N- = 2: b = ln 3, a + b = ln(1/4). */
START_TEST(platt_two_point_values_by_hand) {
    double f[5] = {0, 0, 1, 1, 1};
    uint8_t y[5] = {0, 0, 1, 1, 1};
    double a, b;
    polyp_error err = {0};
    ck_assert(polyp_platt_fit(f, y, 5, &a, &b, &err) == POLYP_OK);
    ck_assert_double_eq_tol(b, log(3.0), 1e-6);
    ck_assert_double_eq_tol(a + b, log(0.25), 1e-6);
    ck_assert_int_eq(polyp_platt_fit(f, y, 0, &a, &b, &err), POLYP_ERR_INVALID_ARG);
}
END_TEST

START_TEST(calibrated_rows_sum_to_one) {
    size_t sizes3[2] = {4, 3}, sizes2[2] = {4, 1};
    polyp_classifier *c3, *c2;
    polyp_error err = {0};
    ck_assert(clf_alloc(POLYP_CLASSIFIER_MLP, 3, sizes3, 1, &c3, &err) == POLYP_OK);
    ck_assert(clf_alloc(POLYP_CLASSIFIER_MLP, 2, sizes2, 1, &c2, &err) == POLYP_OK);
    for (int k = 0; k < 3; k++) c3->cal_a[k] = -5 - k, c3->cal_b[k] = 2 + 0.5 * k;
    c2->cal_a[0] = -4, c2->cal_b[0] = 2;
    float o3[6] = {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f}, p3[6];
    clf_apply_calibration(c3, o3, 2, p3);
    for (int i = 0; i < 2; i++) {
        double s = p3[3 * i] + p3[3 * i + 1] + p3[3 * i + 2];
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
        /* by hand: row 0 unnormalised q_k = 1/(1+exp(a_k o_k + b_k)) */
    }
    double q0 = 1 / (1 + exp(-5 * 0.7 + 2)), q1 = 1 / (1 + exp(-6 * 0.2 + 2.5)), q2 = 1 / (1 + exp(-7 * 0.1 + 3));
    ck_assert_double_eq_tol(p3[0], q0 / (q0 + q1 + q2), 1e-6);
    ck_assert_double_eq_tol(p3[2], q2 / (q0 + q1 + q2), 1e-6);
    /* binary: only the positive class is calibrated, the other is 1 - p */
    float o2[1] = {0.9f}, p2[2];
    clf_apply_calibration(c2, o2, 1, p2);
    double q = 1 / (1 + exp(-4 * 0.9 + 2));
    ck_assert_double_eq_tol(p2[1], q, 1e-6);
    ck_assert_double_eq_tol(p2[0], 1 - q, 1e-6);
    polyp_classifier_free(c3);
    polyp_classifier_free(c2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("calibrate");
    TCase *tc = tcase_create("calibrate");
    tcase_add_test(tc, platt_matches_sklearn);
    tcase_add_test(tc, platt_two_point_values_by_hand);
    tcase_add_test(tc, calibrated_rows_sum_to_one);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
