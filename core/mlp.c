/* mlp.c - training the multilayer perceptron: init, backprop and Adam (the forward pass it
 * shares with inference is the classifier's, classifier.c), following
 * scikit-learn 1.2's MLPClassifier (neural_network/_multilayer_perceptron.py) exactly:
 *   hidden: ReLU; output: softmax (> 2 classes) or logistic with one unit (2 classes);
 *   loss = mean log loss + 0.5 * alpha * sum ||W||^2 / batch_size;
 *   dW = (A^T delta + alpha W) / batch_size, db = mean(delta);
 *   partial_fit = one pass over the chunk in a fresh random order, minibatches of
 *   min(200, n) (gen_batches: the last one may be smaller), one Adam step each.
 * Weights are float32 (scikit-learn keeps the input's float64): the difference is far below
 * the run-to-run spread of the random init. */
#include "classifier_internal.h"
#include "gemm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mlp_trainer {
    polyp_classifier *clf;      /* kept: the weights being trained */
    const polyp_parallel *par;  /* kept */
    double lr, alpha, beta1, beta2, eps;
    uint64_t step;              /* Adam's t */
    size_t max_batch;
    polyp_rng rng;
    float *xbatch;              /* max_batch x dim: gathered rows of the shuffled chunk */
    uint32_t *ybatch;
    size_t *idx;                /* chunk permutation */
    size_t idx_cap;
    float *act[POLYP_CLF_MAX_LAYERS + 1];   /* act[l]: max_batch x sizes[l], l >= 1 */
    float *delta[POLYP_CLF_MAX_LAYERS + 1]; /* same shapes */
    float *gW[POLYP_CLF_MAX_LAYERS], *gb[POLYP_CLF_MAX_LAYERS];
    float *mW[POLYP_CLF_MAX_LAYERS], *vW[POLYP_CLF_MAX_LAYERS];
    float *mb[POLYP_CLF_MAX_LAYERS], *vb[POLYP_CLF_MAX_LAYERS];
};

void mlp_init_weights(polyp_classifier *clf, polyp_rng *rng) {
    for (size_t l = 0; l < clf->n_layers; l++) {
        size_t fan_in = clf->sizes[l], fan_out = clf->sizes[l + 1];
        /* scikit-learn: factor 6, or 2 when the *hidden* activation is logistic; ReLU -> 6. */
        double bound = sqrt(6.0 / (double)(fan_in + fan_out));
        for (size_t i = 0; i < fan_in * fan_out; i++)
            clf->W[l][i] = (float)((2.0 * polyp_rng_uniform(rng) - 1.0) * bound);
        for (size_t i = 0; i < fan_out; i++)
            clf->b[l][i] = (float)((2.0 * polyp_rng_uniform(rng) - 1.0) * bound);
    }
}

void mlp_trainer_free(mlp_trainer *t) {
    if (!t) return;
    free(t->xbatch);
    free(t->ybatch);
    free(t->idx);
    for (size_t l = 0; l <= POLYP_CLF_MAX_LAYERS; l++) {
        free(t->act[l]);
        free(t->delta[l]);
    }
    for (size_t l = 0; l < POLYP_CLF_MAX_LAYERS; l++) {
        free(t->gW[l]); free(t->gb[l]);
        free(t->mW[l]); free(t->vW[l]);
        free(t->mb[l]); free(t->vb[l]);
    }
    free(t);
}

polyp_status mlp_trainer_init(polyp_classifier *clf, double learning_rate, double alpha,
                              size_t max_batch, uint64_t seed, const polyp_parallel *par,
                              mlp_trainer **out, polyp_error *err) {
    mlp_trainer *t = polyp_calloc(1, sizeof *t);
    if (!t) return polyp_fail(err, POLYP_ERR_NOMEM, "mlp: no memory");
    t->clf = clf;
    t->par = par;
    t->lr = learning_rate;
    t->alpha = alpha;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->max_batch = max_batch;
    t->rng = polyp_rng_seed(seed, 0x5348554646ull /* "SHUFF" */);
    bool ok = (t->xbatch = polyp_malloc(max_batch * clf->dim * sizeof(float))) &&
              (t->ybatch = polyp_malloc(max_batch * sizeof(uint32_t)));
    for (size_t l = 1; ok && l <= clf->n_layers; l++)
        ok = (t->act[l] = polyp_malloc(max_batch * clf->sizes[l] * sizeof(float))) &&
             (t->delta[l] = polyp_malloc(max_batch * clf->sizes[l] * sizeof(float)));
    for (size_t l = 0; ok && l < clf->n_layers; l++) {
        size_t nw = clf->sizes[l] * clf->sizes[l + 1], nb = clf->sizes[l + 1];
        ok = (t->gW[l] = polyp_calloc(nw, sizeof(float))) && (t->gb[l] = polyp_calloc(nb, sizeof(float))) &&
             (t->mW[l] = polyp_calloc(nw, sizeof(float))) && (t->vW[l] = polyp_calloc(nw, sizeof(float))) &&
             (t->mb[l] = polyp_calloc(nb, sizeof(float))) && (t->vb[l] = polyp_calloc(nb, sizeof(float)));
    }
    if (!ok) {
        mlp_trainer_free(t);
        return polyp_fail(err, POLYP_ERR_NOMEM, "mlp: no memory for training buffers");
    }
    *out = t;
    return POLYP_OK;
}

float *mlp_grad_W(mlp_trainer *t, size_t l) { return t->gW[l]; }
float *mlp_grad_b(mlp_trainer *t, size_t l) { return t->gb[l]; }

double mlp_backprop(mlp_trainer *t, const float *X, const uint32_t *y, size_t n) {
    polyp_classifier *c = t->clf;
    size_t L = c->n_layers;
    float *act[POLYP_CLF_MAX_LAYERS + 1];
    for (size_t l = 1; l <= L; l++) act[l] = t->act[l];
    act[0] = (float *)X;
    clf_forward_into(c, X, n, act, t->par);

    /* Loss (scikit-learn clips probabilities to [eps, 1 - eps] of the dtype). */
    size_t w = c->sizes[L];
    const float *P = act[L];
    float *D = t->delta[L];
    const double clip = DBL_EPSILON;
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (w == 1) {
            double p = P[i], yy = y[i] ? 1.0 : 0.0;
            p = p < clip ? clip : (p > 1.0 - clip ? 1.0 - clip : p);
            loss -= yy * log(p) + (1.0 - yy) * log(1.0 - p);
            D[i] = P[i] - (float)yy;
        } else {
            double p = P[i * w + y[i]];
            p = p < clip ? clip : (p > 1.0 - clip ? 1.0 - clip : p);
            loss -= log(p);
            for (size_t j = 0; j < w; j++) D[i * w + j] = P[i * w + j] - (j == y[i] ? 1.0f : 0.0f);
        }
    }
    loss /= (double)n;
    double sq = 0.0;
    for (size_t l = 0; l < L; l++)
        for (size_t i = 0; i < c->sizes[l] * c->sizes[l + 1]; i++) sq += (double)c->W[l][i] * c->W[l][i];
    loss += 0.5 * t->alpha * sq / (double)n;

    float inv_n = 1.0f / (float)n, a_n = (float)(t->alpha / (double)n);
    for (size_t l = L; l-- > 0;) {
        size_t k = c->sizes[l], m = c->sizes[l + 1];
        float *dl = t->delta[l + 1];
        /* gW = (act[l]^T delta + alpha W) / n */
        memcpy(t->gW[l], c->W[l], k * m * sizeof(float));
        polyp_sgemm(1, 0, k, m, n, inv_n, act[l], k, dl, m, a_n, t->gW[l], m, t->par);
        for (size_t j = 0; j < m; j++) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++) s += dl[i * m + j];
            t->gb[l][j] = (float)(s / (double)n);
        }
        if (l == 0) break;
        /* delta[l] = delta[l+1] W^T, times ReLU'(act[l]) (act > 0). */
        float *dp = t->delta[l];
        polyp_sgemm(0, 1, n, k, m, 1.0f, dl, m, c->W[l], m, 0.0f, dp, k, t->par);
        for (size_t i = 0; i < n * k; i++)
            if (act[l][i] <= 0.0f) dp[i] = 0.0f;
    }
    return loss;
}

void polyp_adam_update(float *restrict param, const float *restrict grad, float *restrict m, float *restrict v,
                       size_t n, double lr, double beta1, double beta2, double eps, uint64_t t) {
    double lr_t = lr * sqrt(1.0 - pow(beta2, (double)t)) / (1.0 - pow(beta1, (double)t));
    float b1 = (float)beta1, b2 = (float)beta2, c1 = (float)(1.0 - beta1), c2 = (float)(1.0 - beta2);
    float lrf = (float)lr_t, epsf = (float)eps;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = b1 * m[i] + c1 * g;
        v[i] = b2 * v[i] + c2 * g * g;
        param[i] -= lrf * m[i] / (sqrtf(v[i]) + epsf);
    }
}

/* Adam over one layer's weights, split into fixed slices so threads share the work; the
 * update is elementwise, so the result does not depend on the split. */
#define ADAM_SLICE 16384
typedef struct adam_job {
    mlp_trainer *t;
    size_t layer, n;
} adam_job;

static void adam_slice(void *arg, size_t task) {
    const adam_job *j = arg;
    mlp_trainer *t = j->t;
    size_t l = j->layer, i0 = task * ADAM_SLICE, len = j->n - i0 < ADAM_SLICE ? j->n - i0 : ADAM_SLICE;
    polyp_adam_update(t->clf->W[l] + i0, t->gW[l] + i0, t->mW[l] + i0, t->vW[l] + i0, len, t->lr, t->beta1,
                      t->beta2, t->eps, t->step);
}

void mlp_adam_step(mlp_trainer *t) {
    polyp_classifier *c = t->clf;
    t->step++;
    for (size_t l = 0; l < c->n_layers; l++) {
        size_t nw = c->sizes[l] * c->sizes[l + 1], nb = c->sizes[l + 1];
        adam_job job = {t, l, nw};
        polyp_parallel_for(t->par, adam_slice, &job, (nw + ADAM_SLICE - 1) / ADAM_SLICE);
        polyp_adam_update(c->b[l], t->gb[l], t->mb[l], t->vb[l], nb, t->lr, t->beta1, t->beta2, t->eps, t->step);
    }
}

polyp_status mlp_partial_fit(mlp_trainer *t, const float *X, const uint32_t *y, size_t n,
                             polyp_error *err) {
    if (n == 0) return POLYP_OK;
    if (n > t->idx_cap) {
        size_t *idx = realloc(t->idx, n * sizeof(size_t));
        if (!idx) return polyp_fail(err, POLYP_ERR_NOMEM, "mlp: no memory for a chunk of %zu points", n);
        t->idx = idx;
        t->idx_cap = n;
    }
    for (size_t i = 0; i < n; i++) t->idx[i] = i;
    polyp_rng_shuffle(&t->rng, t->idx, n);
    size_t dim = t->clf->dim;
    size_t bs = n < t->max_batch ? n : t->max_batch;
    for (size_t s = 0; s < n; s += bs) {
        size_t m = n - s < bs ? n - s : bs;
        for (size_t i = 0; i < m; i++) {
            memcpy(t->xbatch + i * dim, X + t->idx[s + i] * dim, dim * sizeof(float));
            t->ybatch[i] = y[t->idx[s + i]];
        }
        mlp_backprop(t, t->xbatch, t->ybatch, m);
        mlp_adam_step(t);
    }
    return POLYP_OK;
}
