/* test_mlp.c - MLP gradients against finite differences (softmax and the binary logistic
 * output, one and two hidden layers) and Adam steps against hand-computed values. The
 * SGEMM underneath has its own tests (test_gemm.c). */
#include "classifier_internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Loss of the batch as mlp_backprop computes it, in double, from scratch (independent). */
static double ref_loss(const polyp_classifier *c, const float *X, const uint32_t *y, size_t n, double alpha) {
    double total = 0, sq = 0;
    size_t L = c->n_layers;
    for (size_t i = 0; i < n; i++) {
        double a[2][512];
        for (size_t d = 0; d < c->sizes[0]; d++) a[0][d] = X[i * c->sizes[0] + d];
        int cur = 0;
        for (size_t l = 0; l < L; l++) {
            size_t k = c->sizes[l], m = c->sizes[l + 1];
            for (size_t j = 0; j < m; j++) {
                double z = c->b[l][j];
                for (size_t q = 0; q < k; q++) z += a[cur][q] * c->W[l][q * m + j];
                a[1 - cur][j] = (l + 1 < L) ? (z > 0 ? z : 0) : z;
            }
            cur = 1 - cur;
        }
        size_t m = c->sizes[L];
        if (m == 1) {
            double p = 1 / (1 + exp(-a[cur][0]));
            total -= y[i] ? log(p) : log(1 - p);
        } else {
            double mx = a[cur][0], s = 0;
            for (size_t j = 1; j < m; j++) mx = fmax(mx, a[cur][j]);
            for (size_t j = 0; j < m; j++) s += exp(a[cur][j] - mx);
            total -= a[cur][y[i]] - mx - log(s);
        }
    }
    for (size_t l = 0; l < L; l++)
        for (size_t i = 0; i < c->sizes[l] * c->sizes[l + 1]; i++) sq += (double)c->W[l][i] * c->W[l][i];
    return total / n + 0.5 * alpha * sq / n;
}

static void check_gradients(size_t n_classes, size_t n_hidden_layers) {
    size_t dim = 7, n = 9;
    size_t sizes[4] = {dim, 6, 5, 0}, n_layers = n_hidden_layers + 1;
    sizes[n_layers] = n_classes == 2 ? 1 : n_classes;
    polyp_classifier *c;
    polyp_error err = {0};
    ck_assert(clf_alloc(POLYP_CLASSIFIER_MLP, n_classes, sizes, n_layers, &c, &err) == POLYP_OK);
    polyp_rng r = polyp_rng_seed(42, n_classes);
    mlp_init_weights(c, &r);
    /* biases away from 0 so no ReLU sits on its kink */
    for (size_t l = 0; l < n_layers; l++)
        for (size_t j = 0; j < sizes[l + 1]; j++) c->b[l][j] += 0.3f;
    float X[9 * 7];
    uint32_t y[9];
    for (size_t i = 0; i < n * dim; i++) X[i] = (float)(2 * polyp_rng_uniform(&r) - 1);
    for (size_t i = 0; i < n; i++) y[i] = (uint32_t)(i % n_classes);
    const double alpha = 0.05; /* large enough that a wrong L2 scaling shows */
    mlp_trainer *t;
    ck_assert(mlp_trainer_init(c, 1e-3, alpha, 200, 1, NULL, &t, &err) == POLYP_OK);
    double loss = mlp_backprop(t, X, y, n);
    ck_assert_double_eq_tol(loss, ref_loss(c, X, y, n, alpha), 1e-5);
    for (size_t l = 0; l < n_layers; l++) {
        for (int which = 0; which < 2; which++) {
            float *param = which ? c->b[l] : c->W[l];
            float *grad = which ? mlp_grad_b(t, l) : mlp_grad_W(t, l);
            size_t count = which ? sizes[l + 1] : sizes[l] * sizes[l + 1];
            for (size_t i = 0; i < count; i++) {
                float keep = param[i];
                const float h = 1e-2f;
                param[i] = keep + h;
                double lp = ref_loss(c, X, y, n, alpha);
                param[i] = keep - h;
                double lm = ref_loss(c, X, y, n, alpha);
                param[i] = keep;
                double fd = (lp - lm) / (2.0 * ((double)(keep + h) - (double)keep));
                ck_assert_msg(fabs(fd - grad[i]) <= 2e-4 + 2e-3 * fabs(fd),
                              "classes %zu layer %zu %s[%zu]: backprop %g, finite difference %g", n_classes, l,
                              which ? "b" : "W", i, grad[i], fd);
            }
        }
    }
    mlp_trainer_free(t);
    polyp_classifier_free(c);
}

START_TEST(gradients_softmax_one_hidden) { check_gradients(4, 1); }
END_TEST
START_TEST(gradients_softmax_two_hidden) { check_gradients(3, 2); }
END_TEST
START_TEST(gradients_binary_logistic) { check_gradients(2, 1); }
END_TEST

/* Adam by hand (scikit-learn's AdamOptimizer): g = 0.5, then -0.25, lr 0.1.
 * t=1: m = 0.05, v = 0.00025, lr_t = 0.1*sqrt(0.001)/0.1 = sqrt(0.001) = 0.0316227766;
 *      step = lr_t * m / (sqrt(v) + 1e-8) = 0.0316227766 * 0.05 / 0.0158113883 = 0.1 (-1e-8 rel)
 * t=2: m = 0.9*0.05 - 0.025 = 0.02, v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225,
 *      lr_t = 0.1*sqrt(1-0.998001)/(1-0.81) = 0.1*0.0447101778/0.19 = 0.0235316725,
 *      step = 0.0235316725 * 0.02 / 0.0176706536 = 0.0266335... */
START_TEST(adam_steps_by_hand) {
    float p = 1.0f, m = 0, v = 0;
    float g1 = 0.5f, g2 = -0.25f;
    polyp_adam_update(&p, &g1, &m, &v, 1, 0.1, 0.9, 0.999, 1e-8, 1);
    ck_assert_float_eq_tol(m, 0.05f, 1e-7f);
    ck_assert_float_eq_tol(v, 0.00025f, 1e-9f);
    ck_assert_double_eq_tol(p, 1.0 - 0.1, 1e-6);
    polyp_adam_update(&p, &g2, &m, &v, 1, 0.1, 0.9, 0.999, 1e-8, 2);
    ck_assert_float_eq_tol(m, 0.02f, 1e-7f);
    ck_assert_float_eq_tol(v, 0.00031225f, 1e-9f);
    double lr2 = 0.1 * sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
    double step2 = lr2 * 0.02 / (sqrt(0.00031225) + 1e-8);
    ck_assert_double_eq_tol(step2, 0.0266335, 1e-6);
    ck_assert_double_eq_tol(p, 0.9 - step2, 1e-6);
}
END_TEST

/* Glorot-uniform bounds: sqrt(6 / (fan_in + fan_out)). */
START_TEST(glorot_bounds) {
    size_t sizes[3] = {1280, 100, 20};
    polyp_classifier *c;
    polyp_error err = {0};
    ck_assert(clf_alloc(POLYP_CLASSIFIER_MLP, 20, sizes, 2, &c, &err) == POLYP_OK);
    polyp_rng r = polyp_rng_seed(1, 0);
    mlp_init_weights(c, &r);
    double b0 = sqrt(6.0 / 1380), b1 = sqrt(6.0 / 120), mx = 0, mean = 0;
    for (size_t i = 0; i < 1280 * 100; i++) {
        mx = fmax(mx, fabs(c->W[0][i]));
        mean += c->W[0][i] / (1280.0 * 100);
    }
    ck_assert(mx <= b0 && mx > 0.99 * b0);
    ck_assert(fabs(mean) < 0.01 * b0);
    for (size_t i = 0; i < 100 * 20; i++) ck_assert(fabs(c->W[1][i]) <= b1);
    polyp_classifier_free(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mlp");
    TCase *tc = tcase_create("mlp");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, gradients_softmax_one_hidden);
    tcase_add_test(tc, gradients_softmax_two_hidden);
    tcase_add_test(tc, gradients_binary_logistic);
    tcase_add_test(tc, adam_steps_by_hand);
    tcase_add_test(tc, glorot_bounds);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
