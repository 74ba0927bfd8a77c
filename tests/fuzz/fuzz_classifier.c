/* fuzz_classifier.c - libFuzzer target for classifier model files (core/model_io.c: safetensors
 * with JSON metadata). Build and run: tests/fuzz/run.sh (README.md, Correctness).
 * Beyond "no crash": a failure says why; a model that loads answers its accessors, scores a
 * point (rows of probabilities that sum to 1 when finite), and saving it then loading and
 * saving again gives the same bytes. */
#include "polyp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void score_one(const polyp_classifier *clf) {
    size_t dim = polyp_classifier_feature_dim(clf), n = polyp_classifier_n_labels(clf);
    float *feat = calloc(dim, sizeof *feat), *probs = calloc(n, sizeof *probs);
    polyp_error err;
    if (!feat || !probs) abort();
    if (polyp_classifier_predict(clf, feat, 1, dim, probs, NULL, &err) != POLYP_OK) abort();
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += probs[i];
    if (isfinite(sum) && fabs(sum - 1.0) > 1e-3) abort();
    free(feat);
    free(probs);
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
    score_one(clf);

    void *saved = NULL, *saved2 = NULL;
    size_t saved_size = 0, saved2_size = 0;
    polyp_classifier *again = NULL;
    if (polyp_classifier_save(clf, &saved, &saved_size, &err) != POLYP_OK) abort();
    if (polyp_classifier_load(saved, saved_size, &again, &err) != POLYP_OK) abort();
    if (polyp_classifier_save(again, &saved2, &saved2_size, &err) != POLYP_OK) abort();
    if (saved_size != saved2_size || memcmp(saved, saved2, saved_size) != 0) abort();
    polyp_free(saved);
    polyp_free(saved2);
    polyp_classifier_free(again);
    polyp_classifier_free(clf);
    return 0;
}
