/* sgd.c - logistic regression by SGD with weight averaging, as scikit-learn 1.2's
 * SGDClassifier(loss='log_loss', average=True) trains it with partial_fit:
 *   one-vs-rest (one binary problem per class; a single one, for classes[1], when there
 *   are two classes), targets +1 / -1, penalty L2 with alpha = 1e-4, learning rate
 *   'optimal': eta_t = 1 / (alpha * (optimal_init + t - 1)) with
 *   optimal_init = 1 / (eta0 * alpha), eta0 = typw / max(1, dloss(-typw, 1)),
 *   typw = sqrt(1 / sqrt(alpha)); per sample: w *= max(0, 1 - eta alpha); w += -eta dloss x;
 *   intercept += -eta dloss; the averaged weights are the running mean of w after every
 *   step since the first (average=True -> averaging from t = 1). t counts samples over
 *   every partial_fit call. Each call shuffles the chunk (per class, as scikit-learn seeds
 *   each binary problem separately).
 * The weight vector uses scikit-learn's WeightVector representation (w = wscale * v, lazy
 * average aw / average_a / average_b) so each sample costs O(dim). Classes train in
 * parallel: they are independent problems. */
#include "classifier_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sgd_class {
    double *v;          /* dim: unscaled weights, w = wscale * v */
    double *aw;         /* dim: lazy average accumulator */
    double wscale, average_a, average_b;
    double intercept, avg_intercept;
    polyp_rng rng;
    size_t *order;      /* chunk permutation scratch */
    size_t order_cap;
} sgd_class;

struct sgd_trainer {
    polyp_classifier *clf;   /* kept */
    const polyp_parallel *par; /* kept */
    double alpha, optimal_init;
    double t;                /* scikit-learn's t_, starts at 1 */
    size_t n_problems;
    sgd_class *cls;
    /* per call */
    const float *X;
    const uint32_t *y;
    size_t n;
    int failed;
};

/* Log loss derivative wrt the margin p for y in {-1, +1} (scikit-learn's Log.dloss). */
static double log_dloss(double p, double y) {
    double z = p * y;
    if (z > 18.0) return exp(-z) * -y;
    if (z < -18.0) return -y;
    return -y / (exp(z) + 1.0);
}

void sgd_trainer_free(sgd_trainer *t) {
    if (!t) return;
    for (size_t c = 0; t->cls && c < t->n_problems; c++) {
        free(t->cls[c].v);
        free(t->cls[c].aw);
        free(t->cls[c].order);
    }
    free(t->cls);
    free(t);
}

polyp_status sgd_trainer_init(polyp_classifier *clf, double alpha, uint64_t seed,
                              const polyp_parallel *par, sgd_trainer **out, polyp_error *err) {
    sgd_trainer *t = polyp_calloc(1, sizeof *t);
    if (!t) return polyp_fail(err, POLYP_ERR_NOMEM, "sgd: no memory");
    t->clf = clf;
    t->par = par;
    t->alpha = alpha;
    double typw = sqrt(1.0 / sqrt(alpha));
    double d = log_dloss(-typw, 1.0); /* scikit-learn: max(1.0, loss.dloss(-typw, 1.0)) */
    double eta0 = typw / (d > 1.0 ? d : 1.0);
    t->optimal_init = 1.0 / (eta0 * alpha);
    t->t = 1.0;
    t->n_problems = clf->sizes[1];
    t->cls = polyp_calloc(t->n_problems, sizeof(sgd_class));
    bool ok = t->cls != NULL;
    for (size_t c = 0; ok && c < t->n_problems; c++) {
        sgd_class *k = &t->cls[c];
        ok = (k->v = polyp_calloc(clf->dim, sizeof(double))) && (k->aw = polyp_calloc(clf->dim, sizeof(double)));
        k->wscale = 1.0;
        k->average_a = 0.0;
        k->average_b = 1.0;
        k->rng = polyp_rng_seed(seed, 0x534744ull + c);
    }
    if (!ok) {
        sgd_trainer_free(t);
        return polyp_fail(err, POLYP_ERR_NOMEM, "sgd: no memory for %zu classes", clf->n_classes);
    }
    *out = t;
    return POLYP_OK;
}

/* Folds the lazy scale and average into v and aw (scikit-learn's reset_wscale). */
static void reset_wscale(sgd_class *k, size_t dim) {
    for (size_t i = 0; i < dim; i++) {
        k->aw[i] = (k->aw[i] + k->average_a * k->v[i]) / k->average_b;
        k->v[i] *= k->wscale;
    }
    k->average_a = 0.0;
    k->average_b = 1.0;
    k->wscale = 1.0;
}

static void fit_class(void *arg, size_t c) {
    sgd_trainer *t = arg;
    sgd_class *k = &t->cls[c];
    size_t dim = t->clf->dim, n = t->n;
    /* The positive class of problem c: c itself, or class 1 in the binary case. */
    uint32_t pos = t->n_problems == 1 ? 1 : (uint32_t)c;
    if (n > k->order_cap) {
        size_t *o = realloc(k->order, n * sizeof(size_t));
        if (!o) {
            t->failed = 1;
            return;
        }
        k->order = o;
        k->order_cap = n;
    }
    for (size_t i = 0; i < n; i++) k->order[i] = i;
    polyp_rng_shuffle(&k->rng, k->order, n);
    double tt = t->t;
    for (size_t s = 0; s < n; s++) {
        const float *x = t->X + k->order[s] * dim;
        double yy = t->y[k->order[s]] == pos ? 1.0 : -1.0;
        double dot = 0.0;
        for (size_t i = 0; i < dim; i++) dot += k->v[i] * x[i];
        double p = dot * k->wscale + k->intercept;
        double eta = 1.0 / (t->alpha * (t->optimal_init + tt - 1.0));
        double dloss = log_dloss(p, yy);
        if (dloss < -1e12) dloss = -1e12;
        if (dloss > 1e12) dloss = 1e12;
        double update = -eta * dloss;
        double scale = 1.0 - eta * t->alpha;
        k->wscale *= scale > 0.0 ? scale : 0.0;
        if (k->wscale < 1e-9) reset_wscale(k, dim);
        if (update != 0.0) {
            double c1 = update / k->wscale;
            for (size_t i = 0; i < dim; i++) k->v[i] += c1 * x[i];
            k->intercept += update;
        }
        /* add_average with num_iter = tt (average starts at t = 1). */
        double mu = 1.0 / tt;
        double c2 = -k->average_a * update / k->wscale;
        if (c2 != 0.0)
            for (size_t i = 0; i < dim; i++) k->aw[i] += c2 * x[i];
        if (tt > 1.0) k->average_b /= (1.0 - mu);
        k->average_a += mu * k->average_b * k->wscale;
        k->avg_intercept += (k->intercept - k->avg_intercept) / tt;
        tt += 1.0;
    }
    reset_wscale(k, dim);
}

polyp_status sgd_partial_fit(sgd_trainer *t, const float *X, const uint32_t *y, size_t n,
                             polyp_error *err) {
    if (n == 0) return POLYP_OK;
    t->X = X;
    t->y = y;
    t->n = n;
    t->failed = 0;
    polyp_parallel_for(t->par, fit_class, t, t->n_problems);
    if (t->failed) return polyp_fail(err, POLYP_ERR_NOMEM, "sgd: no memory for a chunk of %zu points", n);
    t->t += (double)n;
    return POLYP_OK;
}

void sgd_export(sgd_trainer *t) {
    polyp_classifier *c = t->clf;
    size_t w = t->n_problems;
    for (size_t j = 0; j < w; j++) {
        for (size_t i = 0; i < c->dim; i++) c->W[0][i * w + j] = (float)t->cls[j].aw[i];
        c->b[0][j] = (float)t->cls[j].avg_intercept;
    }
}
