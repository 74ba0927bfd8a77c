/* fuzz_classifier.c - libFuzzer target for classifier model files (core/model_io.c: safetensors
 * with JSON metadata). Build and run: tests/fuzz/run.sh (README.md, Correctness).
 * Beyond "no crash": a failure says why; a model that loads answers its accessors, scores a
 * point (rows of probabilities that sum to 1 when finite), and the model saved and loaded
 * again is the same model: labels, extractor, kind, and the same probabilities bit for bit.
 * (Not the same file bytes: the JSON parser reads a 17-digit ref_accuracy value within 1 ulp,
 * not exactly, json.h; "0.71999999999999997" comes back as 0.72000000000000008.) */
#include "polyp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Probabilities of one all-zero point (n_labels floats, owned by the caller). */
static float *score_zero(const polyp_classifier *clf) {
    size_t dim = polyp_classifier_feature_dim(clf), n = polyp_classifier_n_labels(clf);
    float *feat = calloc(dim, sizeof *feat), *probs = calloc(n, sizeof *probs);
    polyp_error err;
    if (!feat || !probs) abort();
    if (polyp_classifier_predict(clf, feat, 1, dim, probs, NULL, &err) != POLYP_OK) abort();
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += probs[i];
    if (isfinite(sum) && fabs(sum - 1.0) > 1e-3) abort();
    free(feat);
    return probs;
}

static void same_model_or_abort(const polyp_classifier *a, const polyp_classifier *b) {
    size_t n = polyp_classifier_n_labels(a);
    if (polyp_classifier_n_labels(b) != n || polyp_classifier_feature_dim(a) != polyp_classifier_feature_dim(b) ||
        polyp_classifier_get_kind(a) != polyp_classifier_get_kind(b) ||
        strcmp(polyp_classifier_extractor_id(a), polyp_classifier_extractor_id(b)) != 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if (strcmp(polyp_classifier_label(a, i), polyp_classifier_label(b, i)) != 0) abort();
    float *pa = score_zero(a), *pb = score_zero(b);
    if (memcmp(pa, pb, n * sizeof *pa) != 0) abort();
    free(pa);
    free(pb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_classifier *clf = NULL;
    polyp_error err;
    err.message[0] = '\0';
    if (polyp_classifier_load(data, size, &clf, &err) != POLYP_OK) {
        if (err.message[0] == '\0' || clf) abort();
        return 0;
    }
    size_t n = polyp_classifier_n_labels(clf);
    if (n < 2) abort();
    for (size_t i = 0; i < n; i++)
        if (!polyp_classifier_label(clf, i)) abort();
    if (polyp_classifier_label(clf, n) != NULL || !polyp_classifier_extractor_id(clf)) abort();
    size_t epochs = 0;
    (void)polyp_classifier_ref_accuracy(clf, &epochs);

    void *saved = NULL;
    size_t saved_size = 0;
    polyp_classifier *again = NULL;
    if (polyp_classifier_save(clf, &saved, &saved_size, &err) != POLYP_OK) abort();
    if (polyp_classifier_load(saved, saved_size, &again, &err) != POLYP_OK) abort();
    same_model_or_abort(clf, again);
    polyp_free(saved);
    polyp_classifier_free(again);
    polyp_classifier_free(clf);
    return 0;
}
