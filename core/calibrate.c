/* calibrate.c - Platt scaling, as scikit-learn 1.2's CalibratedClassifierCV(cv='prefit',
 * method='sigmoid') does it: one sigmoid per class, fitted on the reference set's outputs
 * (predict_proba for the MLP, decision_function for SGD), targets smoothed to
 * (N+ + 1) / (N+ + 2) and 1 / (N- + 2); calibrated rows are divided by their sum (a
 * zero sum gives the uniform row); with two classes only the positive class is calibrated
 * and the other gets 1 - p.
 * The fit is Platt's objective minimised by Newton's method with backtracking (Lin, Lin &
 * Weng 2007, "A note on Platt's probabilistic outputs"): the objective is convex, so it
 * reaches the same optimum as scikit-learn's BFGS. */
#include "classifier_internal.h"

#include <math.h>
#include <stdlib.h>

static double platt_objective(const double *f, const double *t, size_t n, double A, double B) {
    double v = 0.0;
    for (size_t i = 0; i < n; i++) {
        double z = f[i] * A + B;
        v += z >= 0 ? t[i] * z + log1p(exp(-z)) : (t[i] - 1.0) * z + log1p(exp(z));
    }
    return v;
}

polyp_status polyp_platt_fit(const double *f, const uint8_t *y, size_t n, double *a, double *b,
                             polyp_error *err) {
    if (n == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "calibration: no reference points");
    double prior1 = 0.0;
    for (size_t i = 0; i < n; i++) prior1 += y[i] ? 1.0 : 0.0;
    double prior0 = (double)n - prior1;
    double hi = (prior1 + 1.0) / (prior1 + 2.0), lo = 1.0 / (prior0 + 2.0);
    double *t = polyp_malloc(n * sizeof(double));
    if (!t) return polyp_fail(err, POLYP_ERR_NOMEM, "calibration: no memory for %zu points", n);
    for (size_t i = 0; i < n; i++) t[i] = y[i] ? hi : lo;
    double A = 0.0, B = log((prior0 + 1.0) / (prior1 + 1.0));
    double fval = platt_objective(f, t, n, A, B);
    for (int it = 0; it < 200; it++) {
        double h11 = 1e-12, h22 = 1e-12, h21 = 0.0, g1 = 0.0, g2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            double z = f[i] * A + B, p, q;
            if (z >= 0) {
                double e = exp(-z);
                p = e / (1.0 + e);
                q = 1.0 / (1.0 + e);
            } else {
                double e = exp(z);
                p = 1.0 / (1.0 + e);
                q = e / (1.0 + e);
            }
            double d2 = p * q;
            h11 += f[i] * f[i] * d2;
            h22 += d2;
            h21 += f[i] * d2;
            double d1 = t[i] - p;
            g1 += f[i] * d1;
            g2 += d1;
        }
        if (fabs(g1) < 1e-9 * (double)n && fabs(g2) < 1e-9 * (double)n) break;
        double det = h11 * h22 - h21 * h21;
        double dA = -(h22 * g1 - h21 * g2) / det, dB = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * dA + g2 * dB;
        double step = 1.0;
        while (step >= 1e-10) {
            double nA = A + step * dA, nB = B + step * dB;
            double nf = platt_objective(f, t, n, nA, nB);
            if (nf < fval + 1e-4 * step * gd) {
                A = nA;
                B = nB;
                fval = nf;
                break;
            }
            step /= 2.0;
        }
        if (step < 1e-10) break;
    }
    free(t);
    *a = A;
    *b = B;
    return POLYP_OK;
}

polyp_status clf_calibrate(polyp_classifier *clf, const float *outputs, const uint32_t *y,
                           size_t n, polyp_error *err) {
    size_t w = clf->sizes[clf->n_layers];
    double *f = polyp_malloc(n * sizeof(double) + 1);
    uint8_t *yy = polyp_malloc(n + 1);
    if (!f || !yy) {
        free(f);
        free(yy);
        return polyp_fail(err, POLYP_ERR_NOMEM, "calibration: no memory for %zu points", n);
    }
    polyp_status st = POLYP_OK;
    for (size_t c = 0; c < clf->n_cal && st == POLYP_OK; c++) {
        uint32_t pos = w == 1 ? 1 : (uint32_t)c;
        for (size_t i = 0; i < n; i++) {
            f[i] = outputs[i * w + (w == 1 ? 0 : c)];
            yy[i] = y[i] == pos;
        }
        st = polyp_platt_fit(f, yy, n, &clf->cal_a[c], &clf->cal_b[c], err);
    }
    free(f);
    free(yy);
    return st;
}

void clf_apply_calibration(const polyp_classifier *clf, const float *outputs, size_t n,
                           float *probs) {
    size_t w = clf->sizes[clf->n_layers], k = clf->n_classes;
    for (size_t i = 0; i < n; i++) {
        const float *o = outputs + i * w;
        float *p = probs + i * k;
        if (w == 1) {
            double q = 1.0 / (1.0 + exp(clf->cal_a[0] * o[0] + clf->cal_b[0]));
            p[1] = (float)q;
            p[0] = (float)(1.0 - q);
            continue;
        }
        double sum = 0.0;
        for (size_t c = 0; c < k; c++) sum += 1.0 / (1.0 + exp(clf->cal_a[c] * o[c] + clf->cal_b[c]));
        for (size_t c = 0; c < k; c++) {
            double v = 1.0 / (1.0 + exp(clf->cal_a[c] * o[c] + clf->cal_b[c]));
            p[c] = sum > 0.0 ? (float)(v / sum) : (float)(1.0 / (double)k);
        }
    }
}
