/* cmd_classify.c - `polyp classify`: a trained model + feature files + points CSV ->
 * CoralNet's export CSV with machine suggestions and confidences. */
#include "clf_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "classify";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp classify --model MODEL --features DIR --points CSV --out SCORES.csv\n"
            "                      [--all-scores] [--top N] [--extractor ID] [--threads N]\n\n"
            "Scores every point of CSV with the model and writes CoralNet's export columns:\n"
            "Name, Row, Column, Label code (copied from CSV when present), then Machine suggestion n /\n"
            "Machine confidence n for n = 1..5 (integer percent), rows in CSV order.\n\n"
            "  --model MODEL     model written by polyp train\n"
            "  --features DIR    folder of <Name>.featurevector files holding every point of CSV\n"
            "  --points CSV      CoralNet CSV with Name, Row, Column (labels optional)\n"
            "  --out SCORES.csv  output (written atomically)\n"
            "  --all-scores      also one column per label with its probability (integer percent)\n"
            "  --top N           machine suggestions per point (default 5)\n"
            "  --extractor ID    the features' extractor id, for files without a record (pyspacer's);\n"
            "                    polyp extract's files record it. Features of another extractor than\n"
            "                    the model's are refused (unknown ones are not checked)\n"
            "  --threads N       compute threads (default: the number of CPUs)\n"
            "  --help            this text\n");
}

int polyp_cmd_classify(int argc, char **argv) {
    const char *model = NULL, *features = NULL, *points = NULL, *out = NULL, *extractor = NULL;
    polyp_export_params ep = polyp_export_default_params();
    size_t threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--all-scores")) {
            ep.all_scores = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_fail(CMD, "unknown option or missing value: %s (polyp classify --help)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--features")) features = v;
        else if (!strcmp(a, "--points")) points = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--extractor")) extractor = v;
        else if (!strcmp(a, "--top")) {
            if (!cli_parse_size(CMD, a, v, &ep.top)) return 1;
            if (ep.top > 1000) return cli_fail(CMD, "--top must be at most 1000");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_size(CMD, a, v, &threads)) return 1;
        } else {
            return cli_fail(CMD, "unknown option %s (polyp classify --help)", a);
        }
    }
    if (!model || !features || !points || !out)
        return cli_fail(CMD, "--model, --features, --points and --out are required (polyp classify --help)");
    polyp_error err = {0};
    polyp_classifier *clf = NULL;
    clf_source src;
    if (!clf_open_model_and_source(CMD, model, points, features, &clf, &src)) return 1;
    int rc = 0;
    size_t K = polyp_classifier_n_labels(clf), n = src.ann.count;
    float *probs = NULL;
    polyp_export_row *rows = NULL;
    const char **labels = NULL;
    void *csv = NULL;
    size_t csv_size = 0;
    clf_threads th;
    if (!clf_threads_start(CMD, threads, &th)) {
        rc = 1;
        goto done;
    }
    if (!clf_source_extractor(CMD, &src, extractor, &extractor)) {
        rc = 1;
        goto done;
    }
    if (polyp_classifier_check_features(clf, src.dim, extractor, &err) != POLYP_OK) {
        rc = cli_fail(CMD, "%s: %s", model, err.message);
        goto done;
    }
    probs = malloc(n * K * sizeof(float));
    rows = calloc(n, sizeof *rows);
    labels = malloc(K * sizeof(char *));
    if (!probs || !rows || !labels) {
        rc = cli_fail(CMD, "out of memory for %zu points", n);
        goto done;
    }
    for (size_t c = 0; c < K; c++) labels[c] = polyp_classifier_label(clf, c);
    cli_progress prog;
    cli_progress_begin(&prog, "classifying", src.n_images);
    double t0 = cli_now();
    for (size_t i = 0; i < src.n_images; i++) {
        size_t m = src.images[i].npoints;
        const float *x;
        float *p = malloc(m * K * sizeof(float) + 1);
        if (!p || clf_source_get(&src, i, &x, &err) != POLYP_OK) {
            free(p);
            cli_progress_end(&prog);
            rc = p ? cli_fail_err(CMD, &err) : cli_fail(CMD, "out of memory");
            goto done;
        }
        polyp_status st = polyp_classifier_predict(clf, x, m, src.dim, p, &th.par, &err);
        clf_source_put(&src, i, x);
        if (st != POLYP_OK) {
            free(p);
            cli_progress_end(&prog);
            rc = cli_fail(CMD, "%s: %s", src.names[i], err.message);
            goto done;
        }
        for (size_t q = 0; q < m; q++) memcpy(probs + src.items[i][q] * K, p + q * K, K * sizeof(float));
        free(p);
        if (cli_interrupted) {
            cli_progress_end(&prog);
            rc = cli_fail(CMD, "interrupted; nothing written");
            goto done;
        }
        double el = cli_now() - t0;
        cli_progress_update(&prog, i + 1, el > 0 ? (double)(i + 1) / el : 0, "images");
    }
    cli_progress_end(&prog);
    for (size_t k = 0; k < n; k++) {
        const polyp_annotation *a = &src.ann.items[k];
        rows[k] = (polyp_export_row){a->name, a->row, a->col, a->label, probs + k * K};
    }
    if (polyp_export_csv(rows, n, labels, K, &ep, &csv, &csv_size, &err) != POLYP_OK ||
        !cli_write_file_atomic(out, csv, csv_size, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    fprintf(stderr, "polyp classify: scored %zu points of %zu images -> %s\n", n, src.n_images, out);
done:
    polyp_free(csv);
    free(probs);
    free(rows);
    free(labels);
    clf_threads_stop(&th);
    clf_source_free(&src);
    polyp_classifier_free(clf);
    return rc;
}
