/* cmd_train.c - `polyp train`: feature files + annotations -> a calibrated classifier,
 * with CoralNet's split, schedule, calibration and (with --previous) acceptance rule. */
#include "clf_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "train";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp train --features DIR --annotations CSV --out MODEL\n"
            "                   [--classifier mlp|lr] [--seed N] [--epochs N] [--previous MODEL]\n"
            "                   [--extractor ID] [--threads N]\n\n"
            "Trains a per-source classifier as CoralNet 1.0 does: images in CSV order, every 8th\n"
            "(index %% 8 == 0) for validation, every 10th of the rest for the reference set (up to\n"
            "5,000 points), labels present in both training and reference only; MLP (or SGD logistic\n"
            "regression) trained 10 epochs over 5,000-point chunks, Platt-calibrated on the reference\n"
            "set. Prints the reference accuracy after each epoch and the validation accuracy.\n\n"
            "  --features DIR     folder of <Name>.featurevector files (polyp extract, or pyspacer's)\n"
            "  --annotations CSV  CoralNet annotation CSV (Name, Row, Column, Label code)\n"
            "  --out MODEL        model file to write (safetensors)\n"
            "  --classifier K     mlp (default) or lr\n"
            "  --seed N           seed for initialisation and shuffles (default 0): same seed, same model\n"
            "  --epochs N         epochs (default 10)\n"
            "  --previous MODEL   the source's current model: the new one is written only when its\n"
            "                     validation accuracy is >= 1.01 x the previous model's on the same\n"
            "                     validation set (CoralNet's acceptance rule); otherwise MODEL is not\n"
            "                     written and the previous model stays\n"
            "  --extractor ID     the features' extractor id (kind:sha256:dim), for feature files that\n"
            "                     carry no record (pyspacer's); polyp extract's files record it and the\n"
            "                     model is bound to it without this option (default: recorded, else\n"
            "                     'unknown')\n"
            "  --threads N        compute threads (default: the number of CPUs)\n"
            "  --cache-mb N       keep up to N MiB of features in memory between epochs (default %d);\n"
            "                     the rest is re-read from disk every epoch, so memory stays bounded\n"
            "  --help             this text\n\n"
            "Ctrl-C cancels after the current epoch; nothing is written then.\n", CLF_DEFAULT_CACHE_MB);
}

static int on_epoch(void *user, size_t epoch, size_t n, double acc) {
    fprintf(stderr, "epoch %zu/%zu: reference accuracy %.4f\n", epoch + 1, n, acc);
    return cli_interrupted;
}

/* Accuracy of `clf` on the kept-label validation points of `src` under `split`. */
static bool validation_accuracy(clf_source *src, const polyp_split *split, const polyp_classifier *clf,
                                const polyp_parallel *par, double *acc, polyp_error *err) {
    size_t right = 0, total = 0, K = polyp_classifier_n_labels(clf);
    if (polyp_classifier_check_features(clf, src->dim, src->extractor, err) != POLYP_OK) return false;
    for (size_t i = 0; i < src->n_images; i++) {
        if (split->roles[i] != POLYP_SPLIT_VALIDATION) continue;
        size_t n = src->images[i].npoints;
        const float *x;
        float *p = malloc(n * K * sizeof(float) + 1);
        if (!p || clf_source_get(src, i, &x, err) != POLYP_OK) {
            free(p);
            return false;
        }
        polyp_status st = polyp_classifier_predict(clf, x, n, src->dim, p, par, err);
        clf_source_put(src, i, x);
        if (st != POLYP_OK) {
            free(p);
            return false;
        }
        for (size_t q = 0; q < n; q++) {
            const char *t = src->labels[i][q];
            bool kept = false;
            for (size_t c = 0; t && c < split->n_classes && !kept; c++) kept = !strcmp(split->classes[c], t);
            if (!kept) continue;
            size_t best = 0;
            for (size_t c = 1; c < K; c++)
                if (p[q * K + c] > p[q * K + best]) best = c;
            right += !strcmp(polyp_classifier_label(clf, best), t);
            total++;
        }
        free(p);
    }
    *acc = total ? (double)right / (double)total : 0.0;
    return true;
}

int polyp_cmd_train(int argc, char **argv) {
    const char *features = NULL, *annotations = NULL, *out = NULL, *previous = NULL, *extractor = NULL;
    polyp_train_params tp = polyp_train_default_params();
    size_t threads = 0, cache_mb = CLF_DEFAULT_CACHE_MB;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return cli_fail(CMD, "unknown option or missing value: %s (polyp train --help)", a);
        const char *v = argv[++i];
        size_t num;
        if (!strcmp(a, "--features")) features = v;
        else if (!strcmp(a, "--annotations")) annotations = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--previous")) previous = v;
        else if (!strcmp(a, "--extractor")) extractor = v;
        else if (!strcmp(a, "--classifier")) {
            if (!strcmp(v, "mlp")) tp.kind = POLYP_CLASSIFIER_MLP;
            else if (!strcmp(v, "lr")) tp.kind = POLYP_CLASSIFIER_LR;
            else return cli_fail(CMD, "--classifier must be mlp or lr, not '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_size(CMD, a, v, &num)) return 1;
            tp.seed = num;
        } else if (!strcmp(a, "--epochs")) {
            if (!cli_parse_size(CMD, a, v, &num)) return 1;
            if (num == 0 || num > 100000) return cli_fail(CMD, "--epochs must be 1..100000");
            tp.epochs = num;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_size(CMD, a, v, &threads)) return 1;
        } else if (!strcmp(a, "--cache-mb")) {
            if (!cli_parse_size(CMD, a, v, &cache_mb)) return 1;
            if (cache_mb > ((size_t)1 << 24)) return cli_fail(CMD, "--cache-mb must be at most 16777216");
        } else {
            return cli_fail(CMD, "unknown option %s (polyp train --help)", a);
        }
    }
    if (!features || !annotations || !out)
        return cli_fail(CMD, "--features, --annotations and --out are required (polyp train --help)");

    polyp_error err = {0};
    polyp_classifier *prev = NULL;
    if (previous && polyp_classifier_load_file(previous, &prev, &err) != POLYP_OK) return cli_fail_err(CMD, &err);
    clf_source src;
    if (!clf_source_open(CMD, annotations, features, cache_mb << 20, &src)) {
        polyp_classifier_free(prev);
        return 1;
    }
    int rc = 0;
    clf_threads th;
    polyp_split split = {0};
    polyp_classifier *clf = NULL;
    void *bytes = NULL;
    size_t nbytes = 0;
    if (!clf_threads_start(CMD, threads, &th)) {
        rc = 1;
        goto done;
    }
    if (!clf_source_extractor(CMD, &src, extractor, &tp.extractor_id)) {
        rc = 1;
        goto done;
    }
    if (polyp_split_dataset(&src.data, tp.ref_max_points, &split, &err) != POLYP_OK) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    fprintf(stderr,
            "%zu images: %zu train (%zu points), %zu reference (%zu points), %zu validation (%zu points); %zu labels\n",
            src.n_images, split.images[0], split.points[0], split.images[1], split.points[1], split.images[2],
            split.points[2], split.n_classes);
    if (split.n_dropped) {
        fprintf(stderr, "left out %zu label%s not present in both the training and the reference set:",
                split.n_dropped, split.n_dropped == 1 ? "" : "s");
        for (size_t i = 0; i < split.n_dropped && i < 20; i++) fprintf(stderr, " %s", split.dropped[i]);
        fprintf(stderr, "%s\n", split.n_dropped > 20 ? " ..." : "");
    }
    cli_install_signal_handlers();
    tp.parallel = &th.par;
    tp.on_epoch = on_epoch;
    polyp_train_report rep;
    double t0 = cli_now();
    if (polyp_classifier_train(&src.data, &tp, &clf, &rep, &err) != POLYP_OK) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    fprintf(stderr, "trained %s", tp.kind == POLYP_CLASSIFIER_MLP ? "MLP" : "logistic regression");
    if (rep.hidden[0]) fprintf(stderr, " hidden (%zu%s", rep.hidden[0], rep.hidden[1] ? "," : ")");
    if (rep.hidden[1]) fprintf(stderr, " %zu)", rep.hidden[1]);
    fprintf(stderr, " in %.1f s\n", cli_now() - t0);
    printf("validation accuracy %.4f (%zu points, %zu labels)\n", rep.val_accuracy, rep.points[2], rep.n_classes);
    fprintf(stderr, "model bound to extractor %s\n", polyp_classifier_extractor_id(clf));
    if (prev) {
        double pacc;
        if (!validation_accuracy(&src, &split, prev, &th.par, &pacc, &err)) {
            rc = cli_fail(CMD, "previous model %s: %s", previous, err.message);
            goto done;
        }
        bool accept = polyp_classifier_accept(rep.val_accuracy, pacc);
        printf("previous model accuracy %.4f on the same validation set: %s (new %.4f %s 1.01 x %.4f = %.4f)\n",
               pacc, accept ? "new model accepted" : "previous model kept", rep.val_accuracy, accept ? ">=" : "<",
               pacc, 1.01 * pacc);
        if (!accept) goto done;
    }
    if (polyp_classifier_save(clf, &bytes, &nbytes, &err) != POLYP_OK || !cli_write_file_atomic(out, bytes, nbytes, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    fprintf(stderr, "wrote %s\n", out);
done:
    polyp_free(bytes);
    polyp_classifier_free(clf);
    polyp_classifier_free(prev);
    polyp_split_free(&split);
    clf_threads_stop(&th);
    clf_source_free(&src);
    return rc;
}
