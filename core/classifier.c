/* classifier.c - the classifier object: defaults, allocation, accessors, prediction, and
 * CoralNet's acceptance and retraining rules. Training lives in train_session.c. */
#include "classifier_internal.h"

#include <stdlib.h>
#include <string.h>

polyp_train_params polyp_train_default_params(void) {
    polyp_train_params p;
    memset(&p, 0, sizeof p);
    p.kind = POLYP_CLASSIFIER_MLP;
    p.epochs = 10;
    p.chunk_points = 5000;
    p.ref_max_points = 5000;
    return p;
}

int polyp_classifier_accept(double new_acc, double prev_acc) {
    return new_acc >= 1.01 * prev_acc;
}

int polyp_classifier_should_train(size_t n_annotated, size_t n_last) {
    if (n_last == 0) return n_annotated >= 20;
    /* n >= 1.1 last written as 10 n >= 11 last: exact, no rounding of 1.1. */
    return (double)n_annotated * 10.0 >= (double)n_last * 11.0;
}

void polyp_classifier_free(polyp_classifier *c) {
    if (!c) return;
    for (size_t i = 0; c->labels && i < c->n_classes; i++) free(c->labels[i]);
    free(c->labels);
    for (size_t l = 0; l < POLYP_CLF_MAX_LAYERS; l++) {
        free(c->W[l]);
        free(c->b[l]);
    }
    free(c->cal_a);
    free(c->cal_b);
    free(c->extractor_id);
    free(c->ref_acc);
    free(c);
}

polyp_status clf_alloc(polyp_classifier_kind kind, size_t n_classes, const size_t *sizes,
                       size_t n_layers, polyp_classifier **out, polyp_error *err) {
    if (n_layers < 1 || n_layers > POLYP_CLF_MAX_LAYERS)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "classifier: %zu layers (1..%d allowed)", n_layers,
                          POLYP_CLF_MAX_LAYERS);
    if (n_classes < 2 || n_classes > POLYP_CLF_MAX_CLASSES)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "classifier: %zu labels (2..%d allowed)", n_classes,
                          POLYP_CLF_MAX_CLASSES);
    polyp_classifier *c = polyp_calloc(1, sizeof *c);
    if (!c) return polyp_fail(err, POLYP_ERR_NOMEM, "classifier: no memory");
    c->kind = kind;
    c->n_classes = n_classes;
    c->n_layers = n_layers;
    c->dim = sizes[0];
    c->val_acc = -1.0;
    c->output = kind == POLYP_CLASSIFIER_LR ? CLF_OUT_MARGIN : (n_classes == 2 ? CLF_OUT_LOGISTIC : CLF_OUT_SOFTMAX);
    c->n_cal = n_classes == 2 ? 1 : n_classes;
    bool ok = true;
    for (size_t l = 0; l <= n_layers; l++) {
        c->sizes[l] = sizes[l];
        if (sizes[l] == 0 || sizes[l] > POLYP_CLF_MAX_DIM) ok = false;
    }
    if (!ok || sizes[n_layers] != (n_classes == 2 ? 1 : n_classes)) {
        polyp_classifier_free(c);
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "classifier: bad layer sizes");
    }
    for (size_t l = 0; ok && l < n_layers; l++) {
        size_t nw;
        ok = polyp_mul_ok(sizes[l], sizes[l + 1], &nw) && polyp_mul_ok(nw, sizeof(float), &nw) &&
             (c->W[l] = polyp_calloc(1, nw)) && (c->b[l] = polyp_calloc(sizes[l + 1], sizeof(float)));
    }
    ok = ok && (c->labels = polyp_calloc(n_classes, sizeof(char *))) &&
         (c->cal_a = polyp_calloc(c->n_cal, sizeof(double))) && (c->cal_b = polyp_calloc(c->n_cal, sizeof(double)));
    if (!ok) {
        polyp_classifier_free(c);
        return polyp_fail(err, POLYP_ERR_NOMEM, "classifier: no memory for the weights");
    }
    *out = c;
    return POLYP_OK;
}

size_t polyp_classifier_n_labels(const polyp_classifier *c) { return c ? c->n_classes : 0; }
const char *polyp_classifier_label(const polyp_classifier *c, size_t i) {
    return c && i < c->n_classes ? c->labels[i] : NULL;
}
size_t polyp_classifier_feature_dim(const polyp_classifier *c) { return c ? c->dim : 0; }
polyp_classifier_kind polyp_classifier_get_kind(const polyp_classifier *c) { return c->kind; }
const char *polyp_classifier_extractor_id(const polyp_classifier *c) {
    return c && c->extractor_id ? c->extractor_id : "unknown";
}
const double *polyp_classifier_ref_accuracy(const polyp_classifier *c, size_t *n) {
    *n = c ? c->n_epochs : 0;
    return c ? c->ref_acc : NULL;
}
double polyp_classifier_val_accuracy(const polyp_classifier *c) { return c ? c->val_acc : -1.0; }

/* The sha256 inside an extractor id: "<kind>:<sha256>:<dim>" -> sha256, a bare 64-hex id
 * (models trained with `--extractor SHA256` before ids had a kind) -> itself; NULL for
 * other ids. `n` is the id's length (a record's id ends at its first space). */
static const char *id_sha256(const char *id, size_t n) {
    const char *colon = memchr(id, ':', n);
    const char *sha = colon ? colon + 1 : id;
    size_t left = n - (size_t)(sha - id);
    if (left < 64 || (left > 64 && sha[64] != ':') || (colon && left == 64)) return NULL;
    for (size_t i = 0; i < 64; i++)
        if (!((sha[i] >= '0' && sha[i] <= '9') || (sha[i] >= 'a' && sha[i] <= 'f'))) return NULL;
    return sha;
}

polyp_status polyp_classifier_check_features(const polyp_classifier *c, size_t dim,
                                             const char *extractor_id, polyp_error *err) {
    if (!c) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "classifier: NULL");
    if (dim != c->dim)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "features have %zu values per point but the model was trained on %zu", dim, c->dim);
    const char *mine = polyp_classifier_extractor_id(c);
    if (!extractor_id) return POLYP_OK;
    size_t n = strcspn(extractor_id, " "), m = strcspn(mine, " ");
    if ((n == 7 && !strncmp(extractor_id, "unknown", 7)) || (m == 7 && !strncmp(mine, "unknown", 7)) ||
        (n == m && !strncmp(extractor_id, mine, n)))
        return POLYP_OK;
    /* A bare sha256 (older models and --extractor values) matches the id holding it. */
    const char *a = id_sha256(extractor_id, n), *b = id_sha256(mine, m);
    bool bare = (a && a == extractor_id) || (b && b == mine);
    if (bare && a && b && !strncmp(a, b, 64)) return POLYP_OK;
    return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                      "features come from extractor %.*s but the model was trained for extractor %.*s", (int)n,
                      extractor_id, (int)m, mine);
}

polyp_status polyp_classifier_predict(const polyp_classifier *c, const float *feat, size_t n,
                                      size_t dim, float *probs, const polyp_parallel *par,
                                      polyp_error *err) {
    if (!c || (n && (!feat || !probs))) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "predict: NULL argument");
    polyp_status st = polyp_classifier_check_features(c, dim, NULL, err);
    if (st != POLYP_OK) return st;
    if (n == 0) return POLYP_OK;
    size_t w = c->sizes[c->n_layers];
    size_t bytes;
    if (!polyp_mul_ok(n, w * sizeof(float), &bytes))
        return polyp_fail(err, POLYP_ERR_NOMEM, "predict: %zu points is too many", n);
    float *outs = polyp_malloc(bytes);
    if (!outs) return polyp_fail(err, POLYP_ERR_NOMEM, "predict: no memory for %zu points", n);
    st = clf_forward(c, feat, n, outs, par, err);
    if (st == POLYP_OK) clf_apply_calibration(c, outs, n, probs);
    free(outs);
    return st;
}
