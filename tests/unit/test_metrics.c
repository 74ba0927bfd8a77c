/* test_metrics.c - accuracy, per-label precision / recall / F1, macro-F1, confusion matrix
 * and the Alleviate curve on a case worked out by hand; CoralNet's integer percent; the
 * export CSV format (header, interleaved suggestion / confidence pairs, blanks). */
#include "classifier_internal.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static polyp_classifier *three_labels(void) {
    size_t sizes[2] = {2, 3};
    polyp_classifier *c;
    polyp_error err = {0};
    ck_assert(clf_alloc(POLYP_CLASSIFIER_MLP, 3, sizes, 1, &c, &err) == POLYP_OK);
    const char *names[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        c->labels[i] = malloc(2);
        strcpy(c->labels[i], names[i]);
    }
    return c;
}

START_TEST(metrics_by_hand) {
    /* truth A A B B C D, predicted A B B B A A (D unknown to the model).
     * A: tp 1, predicted 3, true 2 -> P 1/3, R 1/2, F1 0.4
     * B: tp 2, predicted 3, true 2 -> P 2/3, R 1, F1 0.8
     * C: tp 0, predicted 0, true 1 -> 0, 0, 0;  D: true 1, never predicted -> 0
     * macro over A, B, C, D = (0.4 + 0.8) / 4 = 0.3; accuracy 3/6.
     * top confidences (percent): 90 60 80 51 49.5->50 95. */
    polyp_classifier *c = three_labels();
    float probs[6 * 3] = {0.9f, 0.05f, 0.05f, 0.3f, 0.6f, 0.1f, 0.1f, 0.8f, 0.1f,
                          0.2f, 0.51f, 0.29f, 0.495f, 0.3f, 0.205f, 0.95f, 0.03f, 0.02f};
    const char *truth[7] = {"A", "A", "B", "B", "C", "D", NULL};
    polyp_evaluation ev;
    polyp_error err = {0};
    ck_assert(polyp_evaluate(c, probs, truth, 6, &ev, &err) == POLYP_OK);
    ck_assert_uint_eq(ev.n_points, 6);
    ck_assert_uint_eq(ev.n_labels, 4);
    ck_assert_str_eq(ev.labels[3], "D");
    ck_assert_double_eq_tol(ev.accuracy, 0.5, 1e-12);
    ck_assert_double_eq_tol(ev.per_label[0].precision, 1.0 / 3, 1e-12);
    ck_assert_double_eq_tol(ev.per_label[0].recall, 0.5, 1e-12);
    ck_assert_double_eq_tol(ev.per_label[0].f1, 0.4, 1e-12);
    ck_assert_double_eq_tol(ev.per_label[1].f1, 0.8, 1e-12);
    ck_assert_double_eq_tol(ev.per_label[2].f1, 0.0, 1e-12);
    ck_assert_uint_eq(ev.per_label[2].support, 1);
    ck_assert_double_eq_tol(ev.macro_f1, 0.3, 1e-12);
    /* confusion [true][pred] */
    ck_assert_uint_eq(ev.confusion[0 * 4 + 0], 1);
    ck_assert_uint_eq(ev.confusion[0 * 4 + 1], 1);
    ck_assert_uint_eq(ev.confusion[1 * 4 + 1], 2);
    ck_assert_uint_eq(ev.confusion[2 * 4 + 0], 1);
    ck_assert_uint_eq(ev.confusion[3 * 4 + 0], 1);
    /* Alleviate: threshold 0 -> all 6, accuracy 1/2; 60 -> {90 A ok, 60 B wrong, 80 B ok,
     * 95 D wrong} 4 points, 2 right; 81 -> {90 ok, 95 wrong}; 96 -> none. */
    ck_assert_double_eq_tol(ev.alleviate_fraction[0], 1.0, 1e-12);
    ck_assert_double_eq_tol(ev.alleviate_accuracy[0], 0.5, 1e-12);
    ck_assert_double_eq_tol(ev.alleviate_fraction[60], 4.0 / 6, 1e-12);
    ck_assert_double_eq_tol(ev.alleviate_accuracy[60], 0.5, 1e-12);
    ck_assert_double_eq_tol(ev.alleviate_fraction[81], 2.0 / 6, 1e-12);
    ck_assert_double_eq_tol(ev.alleviate_accuracy[90], 0.5, 1e-12);
    ck_assert_double_eq_tol(ev.alleviate_fraction[96], 0.0, 1e-12);
    ck_assert_double_eq(ev.alleviate_accuracy[96], -1.0);
    polyp_evaluation_free(&ev);
    polyp_classifier_free(c);
}
END_TEST

START_TEST(score_percent_rounds_half_up) {
    ck_assert_int_eq(polyp_score_percent(0.494f), 49);
    ck_assert_int_eq(polyp_score_percent(0.5f), 50);
    ck_assert_int_eq(polyp_score_percent(0.125f), 13);
    ck_assert_int_eq(polyp_score_percent(0.0f), 0);
    ck_assert_int_eq(polyp_score_percent(1.0f), 100);
    ck_assert_int_eq(polyp_score_percent(1.2f), 100);
}
END_TEST

START_TEST(export_format) {
    const char *labels[3] = {"A", "B,x", "C"};
    float p0[3] = {0.2f, 0.7f, 0.1f};
    polyp_export_row rows[2] = {{"img 1.jpg", 10, 20, "A", p0}, {"b.jpg", 1, 2, NULL, NULL}};
    polyp_export_params ep = polyp_export_default_params();
    ck_assert_uint_eq(ep.top, 5);
    void *out;
    size_t n;
    polyp_error err = {0};
    ck_assert(polyp_export_csv(rows, 2, labels, 3, &ep, &out, &n, &err) == POLYP_OK);
    const char *want =
        "Name,Row,Column,Label code,Machine suggestion 1,Machine confidence 1,Machine suggestion 2,"
        "Machine confidence 2,Machine suggestion 3,Machine confidence 3,Machine suggestion 4,Machine "
        "confidence 4,Machine suggestion 5,Machine confidence 5\r\n"
        "img 1.jpg,10,20,A,\"B,x\",70,A,20,C,10,,,,\r\n"
        "b.jpg,1,2,,,,,,,,,,,\r\n";
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_int_eq(memcmp(out, want, n), 0);
    polyp_free(out);
    ep.top = 1;
    ep.all_scores = 1;
    ck_assert(polyp_export_csv(rows, 1, labels, 3, &ep, &out, &n, &err) == POLYP_OK);
    const char *want2 =
        "Name,Row,Column,Label code,Machine suggestion 1,Machine confidence 1,A,\"B,x\",C\r\n"
        "img 1.jpg,10,20,A,\"B,x\",70,20,70,10\r\n";
    ck_assert_uint_eq(n, strlen(want2));
    ck_assert_int_eq(memcmp(out, want2, n), 0);
    polyp_free(out);
    rows[0].name = NULL;
    ck_assert_int_eq(polyp_export_csv(rows, 1, labels, 3, &ep, &out, &n, &err), POLYP_ERR_INVALID_ARG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, metrics_by_hand);
    tcase_add_test(tc, score_percent_rounds_half_up);
    tcase_add_test(tc, export_format);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
