/* test_sgd.c - SGD log-loss steps with averaging against values computed by hand from
 * scikit-learn's update rule (sgd_fast.pyx _plain_sgd, learning_rate='optimal',
 * alpha = 1e-4, average=True): with alpha = 1e-4, typw = 10, eta0 = 10,
 * optimal_init = 1000, eta_t = 1 / (alpha (1000 + t - 1)). */
#include "classifier_internal.h"
#include "testutil.h"

#include <math.h>

START_TEST(two_steps_by_hand) {
    size_t sizes[2] = {2, 1};
    polyp_classifier *c;
    polyp_error err = {0};
    ck_assert(clf_alloc(POLYP_CLASSIFIER_LR, 2, sizes, 1, &c, &err) == POLYP_OK);
    sgd_trainer *t;
    ck_assert(sgd_trainer_init(c, 1e-4, 0, NULL, &t, &err) == POLYP_OK);
    /* step 1: x = (1, 2), class 1 (y = +1); w = 0, b = 0 -> p = 0, eta = 10,
     * dloss = -1/2, update = 5; w = 0 * 0.999 + 5 x = (5, 10); b = 5. */
    float x1[2] = {1, 2};
    uint32_t y1 = 1;
    ck_assert(sgd_partial_fit(t, x1, &y1, 1, &err) == POLYP_OK);
    sgd_export(t);
    ck_assert_double_eq_tol(c->W[0][0], 5.0, 1e-6);
    ck_assert_double_eq_tol(c->W[0][1], 10.0, 1e-6);
    ck_assert_double_eq_tol(c->b[0][0], 5.0, 1e-6);
    /* step 2: x = (0, 1), class 0 (y = -1); p = 10 + 5 = 15; eta = 1/(1e-4 * 1001);
     * dloss = 1 / (exp(-15) + 1); update = -eta dloss; w = w * (1 - eta 1e-4) + update x;
     * averaged weights = mean of the weights after steps 1 and 2. */
    float x2[2] = {0, 1};
    uint32_t y2 = 0;
    ck_assert(sgd_partial_fit(t, x2, &y2, 1, &err) == POLYP_OK);
    sgd_export(t);
    double eta = 1.0 / (1e-4 * 1001.0);
    double dloss = 1.0 / (exp(-15.0) + 1.0);
    double upd = -eta * dloss, sc = 1.0 - eta * 1e-4;
    double w0 = 5.0 * sc, w1 = 10.0 * sc + upd, b = 5.0 + upd;
    ck_assert_double_eq_tol(c->W[0][0], (5.0 + w0) / 2, 1e-4);
    ck_assert_double_eq_tol(c->W[0][1], (10.0 + w1) / 2, 1e-4);
    ck_assert_double_eq_tol(c->b[0][0], (5.0 + b) / 2, 1e-4);
    sgd_trainer_free(t);
    polyp_classifier_free(c);
}
END_TEST

/* Many steps: the lazy (wscale, average_a, average_b) representation equals a direct
 * dense implementation of the same rule. */
START_TEST(lazy_average_matches_dense) {
    size_t dim = 5, n = 300;
    size_t sizes[2] = {dim, 3};
    polyp_classifier *c;
    polyp_error err = {0};
    ck_assert(clf_alloc(POLYP_CLASSIFIER_LR, 3, sizes, 1, &c, &err) == POLYP_OK);
    sgd_trainer *t;
    ck_assert(sgd_trainer_init(c, 1e-4, 0, NULL, &t, &err) == POLYP_OK);
    polyp_rng r = polyp_rng_seed(9, 0);
    float X[300 * 5];
    uint32_t y[300];
    for (size_t i = 0; i < n * dim; i++) X[i] = (float)(polyp_rng_uniform(&r) * 2 - 1);
    for (size_t i = 0; i < n; i++) y[i] = (uint32_t)(i % 3);
    double w[3][5] = {{0}}, avg[3][5] = {{0}}, b[3] = {0}, ab[3] = {0};
    for (size_t s = 0; s < n; s++) {
        /* one sample per call: no shuffling involved */
        ck_assert(sgd_partial_fit(t, X + s * dim, y + s, 1, &err) == POLYP_OK);
        double tt = (double)s + 1, eta = 1.0 / (1e-4 * (1000.0 + tt - 1));
        for (int k = 0; k < 3; k++) {
            double p = b[k], yy = y[s] == (uint32_t)k ? 1 : -1;
            for (size_t d = 0; d < dim; d++) p += w[k][d] * X[s * dim + d];
            double z = p * yy, dl = z > 18 ? exp(-z) * -yy : z < -18 ? -yy : -yy / (exp(z) + 1);
            for (size_t d = 0; d < dim; d++) w[k][d] = w[k][d] * (1 - eta * 1e-4) - eta * dl * X[s * dim + d];
            b[k] += -eta * dl;
            for (size_t d = 0; d < dim; d++) avg[k][d] += (w[k][d] - avg[k][d]) / tt;
            ab[k] += (b[k] - ab[k]) / tt;
        }
    }
    sgd_export(t);
    for (int k = 0; k < 3; k++) {
        for (size_t d = 0; d < dim; d++) ck_assert_double_eq_tol(c->W[0][d * 3 + k], avg[k][d], 1e-4 * (1 + fabs(avg[k][d])));
        ck_assert_double_eq_tol(c->b[0][k], ab[k], 1e-4 * (1 + fabs(ab[k])));
    }
    sgd_trainer_free(t);
    polyp_classifier_free(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sgd");
    TCase *tc = tcase_create("sgd");
    tcase_add_test(tc, two_steps_by_hand);
    tcase_add_test(tc, lazy_average_matches_dense);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
