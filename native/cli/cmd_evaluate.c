/* cmd_evaluate.c - `polyp evaluate`: accuracy, per-label precision / recall / F1 / support,
 * macro-F1, the confusion matrix and the Alleviate curve of a model on labelled points,
 * as text or JSON. */
#include "clf_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "evaluate";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp evaluate --model MODEL --features DIR --annotations CSV [--out REPORT]\n"
            "                      [--json] [--validation-only] [--threads N]\n\n"
            "Scores every labelled point of CSV and reports accuracy, per-label precision, recall,\n"
            "F1 and support, macro-F1 (scikit-learn's conventions), the confusion matrix (rows: true\n"
            "label, columns: predicted) and the Alleviate curve: for each confidence threshold\n"
            "0..100, the accuracy of the points whose top confidence reaches it and their share.\n"
            "True labels the model does not know count as errors.\n\n"
            "  --model MODEL       model written by polyp train\n"
            "  --features DIR      folder of <Name>.featurevector files\n"
            "  --annotations CSV   CoralNet annotation CSV with labels\n"
            "  --out REPORT        write the report there (default: stdout)\n"
            "  --json              JSON instead of text\n"
            "  --validation-only   only CoralNet's validation images (index %% 8 == 0 in CSV order)\n"
            "  --threads N         compute threads (default: the number of CPUs)\n"
            "  --help              this text\n");
}

typedef struct buf {
    char *data;
    size_t len, cap;
    bool failed;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->data && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
}

static void put_json_string(buf *b, const char *s) {
    put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') put(b, "\\%c", c);
        else if (c < 0x20) put(b, "\\u%04x", c);
        else put(b, "%c", c);
    }
    put(b, "\"");
}

static void report_json(buf *b, const polyp_evaluation *ev) {
    size_t L = ev->n_labels;
    put(b, "{\n  \"points\": %zu,\n  \"accuracy\": %.6f,\n  \"macro_f1\": %.6f,\n  \"labels\": [", ev->n_points,
        ev->accuracy, ev->macro_f1);
    for (size_t l = 0; l < L; l++) {
        const polyp_label_metrics *m = &ev->per_label[l];
        put(b, "%s\n    {\"label\": ", l ? "," : "");
        put_json_string(b, ev->labels[l]);
        put(b, ", \"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %zu}", m->precision, m->recall,
            m->f1, m->support);
    }
    put(b, "\n  ],\n  \"confusion\": [");
    for (size_t t = 0; t < L; t++) {
        put(b, "%s\n    [", t ? "," : "");
        for (size_t p = 0; p < L; p++) put(b, "%s%zu", p ? ", " : "", ev->confusion[t * L + p]);
        put(b, "]");
    }
    put(b, "\n  ],\n  \"alleviate\": [");
    for (int th = 0; th < POLYP_ALLEVIATE_STEPS; th++) {
        put(b, "%s\n    {\"threshold\": %d, \"fraction\": %.6f, \"accuracy\": ", th ? "," : "", th,
            ev->alleviate_fraction[th]);
        if (ev->alleviate_accuracy[th] < 0) put(b, "null}");
        else put(b, "%.6f}", ev->alleviate_accuracy[th]);
    }
    put(b, "\n  ]\n}\n");
}

static void report_text(buf *b, const polyp_evaluation *ev) {
    size_t L = ev->n_labels, w = 5;
    for (size_t l = 0; l < L; l++) w = strlen(ev->labels[l]) > w ? strlen(ev->labels[l]) : w;
    put(b, "points    %zu\naccuracy  %.4f\nmacro-F1  %.4f\n\n", ev->n_points, ev->accuracy, ev->macro_f1);
    put(b, "%-*s  precision  recall      f1  support\n", (int)w, "label");
    for (size_t l = 0; l < L; l++) {
        const polyp_label_metrics *m = &ev->per_label[l];
        put(b, "%-*s  %9.4f  %6.4f  %6.4f  %7zu\n", (int)w, ev->labels[l], m->precision, m->recall, m->f1, m->support);
    }
    put(b, "\nconfusion matrix (rows: true label, columns: predicted, in the order above)\n");
    for (size_t t = 0; t < L; t++) {
        put(b, "%-*s", (int)w, ev->labels[t]);
        for (size_t p = 0; p < L; p++) put(b, " %6zu", ev->confusion[t * L + p]);
        put(b, "\n");
    }
    put(b, "\nAlleviate (threshold %%: accuracy of the points at or above it, their share)\n");
    for (int th = 0; th < POLYP_ALLEVIATE_STEPS; th += 5) {
        if (ev->alleviate_accuracy[th] < 0) put(b, "%3d  accuracy      -  share %.4f\n", th, ev->alleviate_fraction[th]);
        else put(b, "%3d  accuracy %.4f  share %.4f\n", th, ev->alleviate_accuracy[th], ev->alleviate_fraction[th]);
    }
}

int polyp_cmd_evaluate(int argc, char **argv) {
    const char *model = NULL, *features = NULL, *annotations = NULL, *out = NULL;
    bool json = false, val_only = false;
    size_t threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(a, "--validation-only")) {
            val_only = true;
            continue;
        }
        if (i + 1 >= argc) return cli_fail(CMD, "unknown option or missing value: %s (polyp evaluate --help)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--features")) features = v;
        else if (!strcmp(a, "--annotations")) annotations = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--threads")) {
            if (!cli_parse_size(CMD, a, v, &threads)) return 1;
        } else {
            return cli_fail(CMD, "unknown option %s (polyp evaluate --help)", a);
        }
    }
    if (!model || !features || !annotations)
        return cli_fail(CMD, "--model, --features and --annotations are required (polyp evaluate --help)");
    polyp_error err = {0};
    polyp_classifier *clf = NULL;
    clf_source src;
    if (!clf_open_model_and_source(CMD, model, annotations, features, &clf, &src)) return 1;
    int rc = 0;
    size_t K = polyp_classifier_n_labels(clf), n = src.ann.count, used = 0;
    float *probs = malloc(n * K * sizeof(float) + 1);
    const char **truth = malloc(n * sizeof(char *) + 1);
    polyp_evaluation ev = {0};
    buf b = {0};
    clf_threads th;
    if (!clf_threads_start(CMD, threads, &th)) {
        rc = 1;
        goto done;
    }
    if (!probs || !truth) {
        rc = cli_fail(CMD, "out of memory for %zu points", n);
        goto done;
    }
    const char *extractor;
    if (!clf_source_extractor(CMD, &src, NULL, &extractor)) {
        rc = 1;
        goto done;
    }
    if (polyp_classifier_check_features(clf, src.dim, extractor, &err) != POLYP_OK) {
        rc = cli_fail(CMD, "%s: %s", model, err.message);
        goto done;
    }
    for (size_t i = 0; i < src.n_images; i++) {
        if (val_only && i % 8 != 0) continue;
        size_t m = src.images[i].npoints;
        const float *x;
        if (clf_source_get(&src, i, &x, &err) != POLYP_OK) {
            rc = cli_fail_err(CMD, &err);
            goto done;
        }
        polyp_status st = polyp_classifier_predict(clf, x, m, src.dim, probs + used * K, &th.par, &err);
        clf_source_put(&src, i, x);
        if (st != POLYP_OK) {
            rc = cli_fail(CMD, "%s: %s", src.names[i], err.message);
            goto done;
        }
        for (size_t q = 0; q < m; q++) truth[used + q] = src.labels[i][q];
        used += m;
    }
    if (polyp_evaluate(clf, probs, truth, used, &ev, &err) != POLYP_OK) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    if (ev.n_points == 0) {
        rc = cli_fail(CMD, "%s: no labelled points to evaluate", annotations);
        goto done;
    }
    if (json) report_json(&b, &ev);
    else report_text(&b, &ev);
    if (b.failed) {
        rc = cli_fail(CMD, "out of memory writing the report");
        goto done;
    }
    if (out) {
        if (!cli_write_file_atomic(out, b.data, b.len, &err)) rc = cli_fail_err(CMD, &err);
    } else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
        rc = cli_fail(CMD, "cannot write to stdout");
    }
done:
    free(b.data);
    polyp_evaluation_free(&ev);
    free(probs);
    free(truth);
    clf_threads_stop(&th);
    clf_source_free(&src);
    polyp_classifier_free(clf);
    return rc;
}
