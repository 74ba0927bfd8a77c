/* classifier.c - training pipeline (pyspacer's train_utils.train), prediction, accessors.
 *
 * Schedule, as pyspacer runs it: the reference set is held in memory; every epoch the
 * training images are shuffled with a seed derived from the epoch (and the user's seed),
 * their kept points are streamed into chunk_points chunks (an image may straddle two
 * chunks; the last chunk of an epoch may be short) and each chunk gets one partial_fit
 * pass; after each epoch the uncalibrated reference accuracy is recorded. Then one Platt
 * sigmoid per class is fitted on the reference set and the calibrated classifier is scored
 * on the validation set. Memory: one chunk + the reference set + one image at a time. */
#include "classifier_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 1e-4          /* L2, MLPClassifier and SGDClassifier defaults */
#define MAX_BATCH 200       /* MLPClassifier batch_size='auto': min(200, n) */
#define BIG_TRAIN 50000     /* CoralNet: (200, 100) at 1e-4 from this many train points */

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

polyp_status polyp_classifier_check_features(const polyp_classifier *c, size_t dim,
                                             const char *extractor_id, polyp_error *err) {
    if (!c) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "classifier: NULL");
    if (dim != c->dim)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "features have %zu values per point but the model was trained on %zu", dim, c->dim);
    const char *mine = polyp_classifier_extractor_id(c);
    if (extractor_id && strcmp(extractor_id, "unknown") != 0 && strcmp(mine, "unknown") != 0 &&
        strcmp(extractor_id, mine) != 0)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "features come from extractor %s but the model was trained for extractor %s",
                          extractor_id, mine);
    return POLYP_OK;
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

/* ------------------------------------------------------------------ training */

typedef struct train_ctx {
    const polyp_dataset *data;
    const polyp_split *split;
    polyp_classifier *clf;
    const polyp_parallel *par;
} train_ctx;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Class index of label (sorted classes), or -1 when it is not kept. */
static long class_of(const polyp_split *s, const char *label) {
    if (!label) return -1;
    char **hit = bsearch(&label, s->classes, s->n_classes, sizeof(char *), cmp_str);
    return hit ? (long)(hit - s->classes) : -1;
}

static polyp_status get_feat(const polyp_dataset *d, size_t i, const float **feat, polyp_error *err) {
    if (d->images[i].feat) {
        *feat = d->images[i].feat;
        return POLYP_OK;
    }
    if (d->images[i].npoints == 0) {
        *feat = NULL;
        return POLYP_OK;
    }
    if (!d->load) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "dataset: image %zu has no features and no loader", i);
    polyp_status st = d->load(d->user, i, feat, err);
    if (st == POLYP_OK && !*feat) st = polyp_fail(err, POLYP_ERR_INVALID_ARG, "dataset: loader gave no features for image %zu", i);
    return st;
}
static void put_feat(const polyp_dataset *d, size_t i, const float *feat) {
    if (!d->images[i].feat && feat && d->release) d->release(d->user, i, feat);
}

/* Gathers the kept points of every image with `role` into X (rows x dim) / y. */
static polyp_status gather_role(const train_ctx *t, int role, float *X, uint32_t *y, size_t *count,
                                polyp_error *err) {
    const polyp_dataset *d = t->data;
    size_t k = 0;
    for (size_t i = 0; i < d->n_images; i++) {
        if (t->split->roles[i] != role) continue;
        const float *f;
        polyp_status st = get_feat(d, i, &f, err);
        if (st != POLYP_OK) return polyp_fail_prefix(err, st, "image %zu: ", i);
        for (size_t p = 0; p < d->images[i].npoints; p++) {
            long c = class_of(t->split, d->images[i].labels[p]);
            if (c < 0) continue;
            memcpy(X + k * d->dim, f + p * d->dim, d->dim * sizeof(float));
            y[k++] = (uint32_t)c;
        }
        put_feat(d, i, f);
    }
    *count = k;
    return POLYP_OK;
}

static double accuracy_of_outputs(const polyp_classifier *c, const float *outs, const uint32_t *y, size_t n) {
    size_t w = c->sizes[c->n_layers], ok = 0;
    for (size_t i = 0; i < n; i++) ok += clf_argmax_output(c, outs + i * w) == y[i];
    return n ? (double)ok / (double)n : 0.0;
}

static size_t argmax_row(const float *p, size_t k) {
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (p[j] > p[best]) best = j;
    return best;
}

typedef struct trainer {
    mlp_trainer *mlp;
    sgd_trainer *sgd;
} trainer;

static polyp_status partial_fit(trainer *tr, const float *X, const uint32_t *y, size_t n, polyp_error *err) {
    return tr->mlp ? mlp_partial_fit(tr->mlp, X, y, n, err) : sgd_partial_fit(tr->sgd, X, y, n, err);
}

polyp_status polyp_classifier_train(const polyp_dataset *data, const polyp_train_params *params,
                                    polyp_classifier **out, polyp_train_report *report,
                                    polyp_error *err) {
    if (!data || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: NULL dataset or output");
    *out = NULL;
    polyp_train_params p = params ? *params : polyp_train_default_params();
    if (p.kind != POLYP_CLASSIFIER_MLP && p.kind != POLYP_CLASSIFIER_LR)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: unknown classifier kind %d", (int)p.kind);
    if (p.epochs == 0 || p.epochs > POLYP_CLF_MAX_EPOCHS)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: epochs %zu outside 1..%d", p.epochs, POLYP_CLF_MAX_EPOCHS);
    if (p.chunk_points == 0 || p.chunk_points > ((size_t)1 << 24))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: chunk_points %zu outside 1..2^24", p.chunk_points);
    if (data->dim == 0 || data->dim > POLYP_CLF_MAX_DIM)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: feature dimension %zu outside 1..%u", data->dim,
                          POLYP_CLF_MAX_DIM);
    if (p.ref_max_points > ((size_t)1 << 24))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: ref_max_points %zu too large", p.ref_max_points);

    polyp_split split;
    polyp_status st = polyp_split_dataset(data, p.ref_max_points, &split, err);
    if (st != POLYP_OK) return st;
    size_t K = split.n_classes, dim = data->dim, n_out = K == 2 ? 1 : K;
    size_t sizes[4], n_layers;
    double lr = 0.0;
    if (p.kind == POLYP_CLASSIFIER_LR) {
        sizes[0] = dim, sizes[1] = n_out, n_layers = 1;
    } else if (split.points[POLYP_SPLIT_TRAIN] < BIG_TRAIN) {
        sizes[0] = dim, sizes[1] = 100, sizes[2] = n_out, n_layers = 2, lr = 1e-3;
    } else {
        sizes[0] = dim, sizes[1] = 200, sizes[2] = 100, sizes[3] = n_out, n_layers = 3, lr = 1e-4;
    }
    polyp_classifier *clf = NULL;
    float *refX = NULL, *chunkX = NULL, *outs = NULL, *probs = NULL;
    uint32_t *refy = NULL, *chunky = NULL;
    size_t *order = NULL;
    trainer tr = {0};
    st = clf_alloc(p.kind, K, sizes, n_layers, &clf, err);
    if (st != POLYP_OK) goto done;
    clf->learning_rate = lr;
    for (size_t c = 0; c < K; c++) {
        size_t len = strlen(split.classes[c]) + 1;
        if (!(clf->labels[c] = polyp_malloc(len))) {
            st = polyp_fail(err, POLYP_ERR_NOMEM, "train: no memory");
            goto done;
        }
        memcpy(clf->labels[c], split.classes[c], len);
    }
    const char *ext = p.extractor_id ? p.extractor_id : "unknown";
    if (strlen(ext) > 256) {
        st = polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: extractor id longer than 256 characters");
        goto done;
    }
    clf->extractor_id = polyp_malloc(strlen(ext) + 1);
    clf->ref_acc = polyp_calloc(p.epochs, sizeof(double));
    size_t nref = split.points[POLYP_SPLIT_REFERENCE];
    size_t rows_max = nref > p.chunk_points ? nref : p.chunk_points;
    size_t bytes;
    if (!clf->extractor_id || !clf->ref_acc || !polyp_mul_ok(rows_max, dim * sizeof(float), &bytes) ||
        !(refX = polyp_malloc(nref * dim * sizeof(float))) || !(refy = polyp_malloc(nref * sizeof(uint32_t))) ||
        !(chunkX = polyp_malloc(p.chunk_points * dim * sizeof(float))) ||
        !(chunky = polyp_malloc(p.chunk_points * sizeof(uint32_t))) ||
        !(outs = polyp_malloc(rows_max * (K + 1) * sizeof(float))) ||
        !(probs = polyp_malloc(rows_max * K * sizeof(float))) ||
        !(order = polyp_malloc(data->n_images * sizeof(size_t)))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "train: no memory for the reference set and one chunk");
        goto done;
    }
    strcpy(clf->extractor_id, ext);
    train_ctx tc = {data, &split, clf, p.parallel};
    size_t got;
    st = gather_role(&tc, POLYP_SPLIT_REFERENCE, refX, refy, &got, err);
    if (st != POLYP_OK) goto done;

    if (p.kind == POLYP_CLASSIFIER_MLP) {
        polyp_rng init = polyp_rng_seed(p.seed, 0x494E4954ull /* "INIT" */);
        mlp_init_weights(clf, &init);
        st = mlp_trainer_new(clf, lr, ALPHA, MAX_BATCH, p.seed, p.parallel, &tr.mlp, err);
    } else {
        st = sgd_trainer_new(clf, ALPHA, p.seed, p.parallel, &tr.sgd, err);
    }
    if (st != POLYP_OK) goto done;

    size_t n_train_images = 0;
    for (size_t i = 0; i < data->n_images; i++)
        if (split.roles[i] == POLYP_SPLIT_TRAIN) order[n_train_images++] = i;
    for (size_t e = 0; e < p.epochs; e++) {
        polyp_rng er = polyp_rng_seed(p.seed, 0x45504F4300000000ull + e /* "EPOC" + epoch */);
        polyp_rng_shuffle(&er, order, n_train_images);
        size_t fill = 0;
        for (size_t o = 0; o < n_train_images; o++) {
            size_t i = order[o];
            const float *f;
            st = get_feat(data, i, &f, err);
            if (st != POLYP_OK) {
                polyp_fail_prefix(err, st, "image %zu: ", i);
                goto done;
            }
            for (size_t q = 0; q < data->images[i].npoints && st == POLYP_OK; q++) {
                long c = class_of(&split, data->images[i].labels[q]);
                if (c < 0) continue;
                memcpy(chunkX + fill * dim, f + q * dim, dim * sizeof(float));
                chunky[fill++] = (uint32_t)c;
                if (fill == p.chunk_points) {
                    st = partial_fit(&tr, chunkX, chunky, fill, err);
                    fill = 0;
                }
            }
            put_feat(data, i, f);
            if (st != POLYP_OK) goto done;
        }
        if (fill) st = partial_fit(&tr, chunkX, chunky, fill, err);
        if (st != POLYP_OK) goto done;
        if (tr.sgd) sgd_export(tr.sgd);
        st = clf_forward(clf, refX, nref, outs, p.parallel, err);
        if (st != POLYP_OK) goto done;
        clf->ref_acc[e] = accuracy_of_outputs(clf, outs, refy, nref);
        clf->n_epochs = e + 1;
        if (p.on_epoch && p.on_epoch(p.on_epoch_user, e, p.epochs, clf->ref_acc[e])) {
            st = polyp_fail(err, POLYP_ERR_CANCELLED, "train: cancelled after epoch %zu", e + 1);
            goto done;
        }
    }

    /* Calibrate on the reference outputs of the final weights (already in outs). */
    st = clf_calibrate(clf, outs, refy, nref, err);
    if (st != POLYP_OK) goto done;

    /* Validation accuracy of the calibrated classifier, streamed image by image through the
     * chunk buffers: memory stays bounded by the chunk, not by the size of the source. */
    size_t nv = 0, right = 0, fill = 0;
    for (size_t i = 0; i <= data->n_images && st == POLYP_OK; i++) {
        int last = i == data->n_images;
        if (!last && split.roles[i] != POLYP_SPLIT_VALIDATION) continue;
        const float *f = NULL;
        size_t npts = last ? 0 : data->images[i].npoints;
        if (!last && (st = get_feat(data, i, &f, err)) != POLYP_OK) {
            st = polyp_fail_prefix(err, st, "image %zu: ", i);
            break;
        }
        for (size_t q = 0; q <= npts; q++) {
            long c = q < npts ? class_of(&split, data->images[i].labels[q]) : -1;
            if (fill && (fill == p.chunk_points || (last && q == npts))) {
                st = polyp_classifier_predict(clf, chunkX, fill, dim, probs, p.parallel, err);
                if (st != POLYP_OK) break;
                for (size_t r = 0; r < fill; r++) right += argmax_row(probs + r * K, K) == chunky[r];
                nv += fill;
                fill = 0;
            }
            if (c < 0) continue;
            memcpy(chunkX + fill * dim, f + q * dim, dim * sizeof(float));
            chunky[fill++] = (uint32_t)c;
        }
        if (!last) put_feat(data, i, f);
    }
    if (st != POLYP_OK) goto done;
    clf->val_acc = nv ? (double)right / (double)nv : 0.0;

    if (report) {
        memset(report, 0, sizeof *report);
        report->n_classes = K;
        for (int r = 0; r < 3; r++) {
            report->points[r] = split.points[r];
            report->images[r] = split.images[r];
        }
        for (size_t l = 1; l < n_layers && l <= 2; l++) report->hidden[l - 1] = sizes[l];
        report->learning_rate = lr;
        report->epochs_done = clf->n_epochs;
        report->ref_accuracy_last = clf->ref_acc[clf->n_epochs - 1];
        report->val_accuracy = clf->val_acc;
    }

done:
    mlp_trainer_free(tr.mlp);
    sgd_trainer_free(tr.sgd);
    free(refX);
    free(refy);
    free(chunkX);
    free(chunky);
    free(outs);
    free(probs);
    free(order);
    polyp_split_free(&split);
    if (st != POLYP_OK) {
        polyp_classifier_free(clf);
        return st;
    }
    *out = clf;
    return POLYP_OK;
}
