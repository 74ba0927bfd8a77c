/* metrics.c - evaluation of scored points: accuracy, per-label precision / recall / F1 /
 * support and macro-F1 with scikit-learn's conventions (zero_division = 0; macro over the
 * labels present in the truth or the predictions), the confusion matrix, and CoralNet's
 * Alleviate curve (for each integer-percent threshold, the points whose top confidence
 * reaches it: their accuracy and their share of all points). The label universe is the
 * union of the model's labels and the true labels, sorted, so a true label the model does
 * not know counts as an error instead of vanishing. */
#include "classifier_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int polyp_score_percent(float p) {
    double v = floor((double)p * 100.0 + 0.5);
    return v < 0 ? 0 : v > 100 ? 100 : (int)v;
}

void polyp_evaluation_free(polyp_evaluation *ev) {
    if (!ev) return;
    for (size_t i = 0; ev->labels && i < ev->n_labels; i++) free(ev->labels[i]);
    free(ev->labels);
    free(ev->per_label);
    free(ev->confusion);
    memset(ev, 0, sizeof *ev);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

polyp_status polyp_evaluate(const polyp_classifier *clf, const float *probs,
                            const char *const *truth, size_t n, polyp_evaluation *out,
                            polyp_error *err) {
    memset(out, 0, sizeof *out);
    if (!clf || (n && (!probs || !truth))) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "evaluate: NULL argument");
    size_t K = clf->n_classes;
    /* Universe: model labels + true labels, sorted unique. */
    size_t cap = K + n;
    const char **all = polyp_malloc(cap * sizeof(char *));
    if (!all) return polyp_fail(err, POLYP_ERR_NOMEM, "evaluate: no memory for %zu points", n);
    size_t m = 0;
    for (size_t c = 0; c < K; c++) all[m++] = clf->labels[c];
    size_t scored = 0;
    for (size_t i = 0; i < n; i++)
        if (truth[i]) all[m++] = truth[i], scored++;
    qsort(all, m, sizeof(char *), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0) all[u++] = all[i];
    size_t L = u, cells;
    polyp_status st = POLYP_OK;
    size_t *model_to_u = polyp_malloc(K * sizeof(size_t));
    out->labels = polyp_calloc(L, sizeof(char *));
    out->per_label = polyp_calloc(L, sizeof(polyp_label_metrics));
    if (!polyp_mul_ok(L, L, &cells) || !model_to_u || !out->labels || !out->per_label ||
        !(out->confusion = polyp_calloc(cells, sizeof(size_t)))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "evaluate: no memory for %zu labels", L);
        goto done;
    }
    out->n_labels = L;
    for (size_t i = 0; i < L; i++) {
        size_t len = strlen(all[i]) + 1;
        if (!(out->labels[i] = polyp_malloc(len))) {
            st = polyp_fail(err, POLYP_ERR_NOMEM, "evaluate: no memory");
            goto done;
        }
        memcpy(out->labels[i], all[i], len);
    }
    for (size_t c = 0; c < K; c++) {
        const char *key = clf->labels[c];
        char **hit = bsearch(&key, out->labels, L, sizeof(char *), cmp_str);
        model_to_u[c] = (size_t)(hit - out->labels);
    }
    size_t right = 0, at[POLYP_ALLEVIATE_STEPS] = {0}, right_at[POLYP_ALLEVIATE_STEPS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!truth[i]) continue;
        const float *p = probs + i * K;
        size_t best = 0;
        for (size_t c = 1; c < K; c++)
            if (p[c] > p[best]) best = c;
        const char *key = truth[i];
        size_t t = (size_t)((char **)bsearch(&key, out->labels, L, sizeof(char *), cmp_str) - out->labels);
        size_t pr = model_to_u[best];
        out->confusion[t * L + pr]++;
        int ok = t == pr;
        right += ok;
        int conf = polyp_score_percent(p[best]);
        for (int th = 0; th <= conf; th++) {
            at[th]++;
            right_at[th] += ok;
        }
    }
    out->n_points = scored;
    out->accuracy = scored ? (double)right / (double)scored : 0.0;
    double f1sum = 0.0;
    size_t present = 0;
    for (size_t l = 0; l < L; l++) {
        size_t tp = out->confusion[l * L + l], row = 0, col = 0;
        for (size_t j = 0; j < L; j++) {
            row += out->confusion[l * L + j];
            col += out->confusion[j * L + l];
        }
        polyp_label_metrics *pm = &out->per_label[l];
        pm->support = row;
        pm->precision = col ? (double)tp / (double)col : 0.0;
        pm->recall = row ? (double)tp / (double)row : 0.0;
        pm->f1 = pm->precision + pm->recall > 0 ? 2 * pm->precision * pm->recall / (pm->precision + pm->recall) : 0.0;
        if (row || col) {
            f1sum += pm->f1;
            present++;
        }
    }
    out->macro_f1 = present ? f1sum / (double)present : 0.0;
    for (int th = 0; th < POLYP_ALLEVIATE_STEPS; th++) {
        out->alleviate_fraction[th] = scored ? (double)at[th] / (double)scored : 0.0;
        out->alleviate_accuracy[th] = at[th] ? (double)right_at[th] / (double)at[th] : -1.0;
    }
done:
    free(all);
    free(model_to_u);
    if (st != POLYP_OK) polyp_evaluation_free(out);
    return st;
}
