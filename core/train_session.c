/* train_session.c - the training pipeline (pyspacer's train_utils.train) as a session that
 * runs one step at a time, and polyp_classifier_train on top of it.
 *
 * Schedule, as pyspacer runs it: the reference set is held in memory; every epoch the
 * training images are shuffled with a seed derived from the epoch (and the user's seed),
 * their kept points are streamed into chunk_points chunks (an image may straddle two
 * chunks; the last chunk of an epoch may be short) and each chunk gets one partial_fit
 * pass; after each epoch the uncalibrated reference accuracy is recorded. Then one Platt
 * sigmoid per class is fitted on the reference set and the calibrated classifier is scored
 * on the validation set. Memory: one chunk + the reference set + one image at a time.
 *
 * Why a session: the browser runs training inside one worker whose event loop must get
 * turns between epochs so that a cancel message can arrive (pages without
 * SharedArrayBuffer have no other way in). polyp_classifier_train is begin + steps +
 * finish, so the one-shot call and the stepped one are the same code and give the same
 * model bit for bit. */
#include "classifier_internal.h"

#include <stdlib.h>
#include <string.h>

#define ALPHA 1e-4          /* L2, MLPClassifier and SGDClassifier defaults */
#define MAX_BATCH 200       /* MLPClassifier batch_size='auto': min(200, n) */
#define BIG_TRAIN 50000     /* CoralNet: (200, 100) at 1e-4 from this many train points */

typedef struct trainer {
    mlp_trainer *mlp;
    sgd_trainer *sgd;
} trainer;

typedef enum session_stage {
    STAGE_EPOCHS,      /* epochs left to run */
    STAGE_FINISHING,   /* all epochs run: calibration + validation next */
    STAGE_DONE,        /* classifier ready for _finish */
    STAGE_TAKEN,       /* _finish handed the classifier out */
    STAGE_FAILED,      /* a step failed (or was cancelled): only _free is left */
} session_stage;

struct polyp_train_session {
    const polyp_dataset *data;  /* borrowed until _free */
    polyp_train_params p;       /* copy; p.parallel and p.on_epoch_user borrowed, p.extractor_id
                                   already copied into clf (set to NULL here) */
    polyp_split split;          /* owned */
    size_t K, dim;              /* kept classes, feature width */
    size_t sizes[4], n_layers;  /* layer sizes: dim, hidden..., n_out */
    double lr;
    polyp_classifier *clf;      /* owned until _finish */
    trainer tr;                 /* owned */
    size_t nref;                /* reference points */
    float *refX;                /* nref x dim */
    uint32_t *refy;             /* nref */
    float *chunkX;              /* chunk_points x dim */
    uint32_t *chunky;           /* chunk_points */
    float *outs;                /* max(nref, chunk_points) x (K + 1): outputs of clf_forward */
    float *probs;               /* max(nref, chunk_points) x K: calibrated probabilities */
    size_t *order;              /* n_train_images indices of the train images, reshuffled per epoch */
    size_t n_train_images;
    size_t epoch;               /* epochs run */
    session_stage stage;
};

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
static polyp_status gather_role(const polyp_dataset *d, const polyp_split *split, int role, float *X,
                                uint32_t *y, size_t *count, polyp_error *err) {
    size_t k = 0;
    for (size_t i = 0; i < d->n_images; i++) {
        if (split->roles[i] != role) continue;
        const float *f;
        polyp_status st = get_feat(d, i, &f, err);
        if (st != POLYP_OK) return polyp_fail_prefix(err, st, "image %zu: ", i);
        for (size_t p = 0; p < d->images[i].npoints; p++) {
            long c = class_of(split, d->images[i].labels[p]);
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

static polyp_status partial_fit(trainer *tr, const float *X, const uint32_t *y, size_t n, polyp_error *err) {
    return tr->mlp ? mlp_partial_fit(tr->mlp, X, y, n, err) : sgd_partial_fit(tr->sgd, X, y, n, err);
}

void polyp_train_session_free(polyp_train_session *s) {
    if (!s) return;
    mlp_trainer_free(s->tr.mlp);
    sgd_trainer_free(s->tr.sgd);
    polyp_classifier_free(s->clf);
    free(s->refX);
    free(s->refy);
    free(s->chunkX);
    free(s->chunky);
    free(s->outs);
    free(s->probs);
    free(s->order);
    polyp_split_free(&s->split);
    free(s);
}

polyp_status polyp_train_session_begin(const polyp_dataset *data, const polyp_train_params *params,
                                       polyp_train_session **out, polyp_error *err) {
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
    polyp_status st = polyp_parallel_check(p.parallel, "train", err);
    if (st != POLYP_OK) return st;

    polyp_train_session *s = polyp_calloc(1, sizeof *s);
    if (!s) return polyp_fail(err, POLYP_ERR_NOMEM, "train: no memory");
    s->data = data;
    s->p = p;
    s->p.extractor_id = NULL;   /* copied into the classifier below; not kept */
    st = polyp_split_dataset(data, p.ref_max_points, &s->split, err);
    if (st != POLYP_OK) {
        free(s);
        return st;
    }
    const polyp_split *split = &s->split;
    size_t K = split->n_classes, dim = data->dim, n_out = K == 2 ? 1 : K;
    size_t *sizes = s->sizes;
    s->K = K;
    s->dim = dim;
    if (p.kind == POLYP_CLASSIFIER_LR) {
        sizes[0] = dim, sizes[1] = n_out, s->n_layers = 1;
    } else if (split->points[POLYP_SPLIT_TRAIN] < BIG_TRAIN) {
        sizes[0] = dim, sizes[1] = 100, sizes[2] = n_out, s->n_layers = 2, s->lr = 1e-3;
    } else {
        sizes[0] = dim, sizes[1] = 200, sizes[2] = 100, sizes[3] = n_out, s->n_layers = 3, s->lr = 1e-4;
    }
    st = clf_alloc(p.kind, K, sizes, s->n_layers, &s->clf, err);
    if (st != POLYP_OK) goto fail;
    polyp_classifier *clf = s->clf;
    clf->learning_rate = s->lr;
    for (size_t c = 0; c < K; c++) {
        size_t len = strlen(split->classes[c]) + 1;
        if (!(clf->labels[c] = polyp_malloc(len))) {
            st = polyp_fail(err, POLYP_ERR_NOMEM, "train: no memory");
            goto fail;
        }
        memcpy(clf->labels[c], split->classes[c], len);
    }
    const char *ext = p.extractor_id ? p.extractor_id : "unknown";
    if (strlen(ext) > 256) {
        st = polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: extractor id longer than 256 characters");
        goto fail;
    }
    clf->extractor_id = polyp_strdup(ext);
    clf->ref_acc = polyp_calloc(p.epochs, sizeof(double));
    size_t nref = s->nref = split->points[POLYP_SPLIT_REFERENCE];
    size_t rows_max = nref > p.chunk_points ? nref : p.chunk_points;
    size_t bytes;
    if (!clf->extractor_id || !clf->ref_acc || !polyp_mul_ok(rows_max, dim * sizeof(float), &bytes) ||
        !(s->refX = polyp_malloc(nref * dim * sizeof(float))) || !(s->refy = polyp_malloc(nref * sizeof(uint32_t))) ||
        !(s->chunkX = polyp_malloc(p.chunk_points * dim * sizeof(float))) ||
        !(s->chunky = polyp_malloc(p.chunk_points * sizeof(uint32_t))) ||
        !(s->outs = polyp_malloc(rows_max * (K + 1) * sizeof(float))) ||
        !(s->probs = polyp_malloc(rows_max * K * sizeof(float))) ||
        !(s->order = polyp_malloc(data->n_images * sizeof(size_t)))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "train: no memory for the reference set and one chunk");
        goto fail;
    }
    size_t got;
    st = gather_role(data, split, POLYP_SPLIT_REFERENCE, s->refX, s->refy, &got, err);
    if (st != POLYP_OK) goto fail;

    if (p.kind == POLYP_CLASSIFIER_MLP) {
        polyp_rng init = polyp_rng_seed(p.seed, 0x494E4954ull /* "INIT" */);
        mlp_init_weights(clf, &init);
        st = mlp_trainer_init(clf, s->lr, ALPHA, MAX_BATCH, p.seed, p.parallel, &s->tr.mlp, err);
    } else {
        st = sgd_trainer_init(clf, ALPHA, p.seed, p.parallel, &s->tr.sgd, err);
    }
    if (st != POLYP_OK) goto fail;

    for (size_t i = 0; i < data->n_images; i++)
        if (split->roles[i] == POLYP_SPLIT_TRAIN) s->order[s->n_train_images++] = i;
    s->stage = STAGE_EPOCHS;
    *out = s;
    return POLYP_OK;

fail:
    polyp_train_session_free(s);
    return st;
}

/* Epoch e: shuffle the train images with the epoch's seed, stream their kept points through
 * one partial_fit per chunk, then record the uncalibrated reference accuracy (the reference
 * outputs stay in s->outs: the last epoch's are what calibration fits on). */
static polyp_status run_epoch(polyp_train_session *s, polyp_error *err) {
    const polyp_dataset *data = s->data;
    const polyp_train_params *p = &s->p;
    polyp_classifier *clf = s->clf;
    size_t e = s->epoch, dim = s->dim;
    polyp_rng er = polyp_rng_seed(p->seed, 0x45504F4300000000ull + e /* "EPOC" + epoch */);
    polyp_rng_shuffle(&er, s->order, s->n_train_images);
    size_t fill = 0;
    polyp_status st = POLYP_OK;
    for (size_t o = 0; o < s->n_train_images; o++) {
        size_t i = s->order[o];
        const float *f;
        st = get_feat(data, i, &f, err);
        if (st != POLYP_OK) return polyp_fail_prefix(err, st, "image %zu: ", i);
        for (size_t q = 0; q < data->images[i].npoints && st == POLYP_OK; q++) {
            long c = class_of(&s->split, data->images[i].labels[q]);
            if (c < 0) continue;
            memcpy(s->chunkX + fill * dim, f + q * dim, dim * sizeof(float));
            s->chunky[fill++] = (uint32_t)c;
            if (fill == p->chunk_points) {
                st = partial_fit(&s->tr, s->chunkX, s->chunky, fill, err);
                fill = 0;
            }
        }
        put_feat(data, i, f);
        if (st != POLYP_OK) return st;
    }
    if (fill) st = partial_fit(&s->tr, s->chunkX, s->chunky, fill, err);
    if (st != POLYP_OK) return st;
    if (s->tr.sgd) sgd_export(s->tr.sgd);
    st = clf_forward(clf, s->refX, s->nref, s->outs, p->parallel, err);
    if (st != POLYP_OK) return st;
    clf->ref_acc[e] = accuracy_of_outputs(clf, s->outs, s->refy, s->nref);
    clf->n_epochs = s->epoch = e + 1;
    if (p->on_epoch && p->on_epoch(p->on_epoch_user, e, p->epochs, clf->ref_acc[e]))
        return polyp_fail(err, POLYP_ERR_CANCELLED, "train: cancelled after epoch %zu", e + 1);
    return POLYP_OK;
}

/* Calibration on the reference outputs of the final weights, then the validation accuracy of
 * the calibrated classifier, streamed image by image through the chunk buffers: memory stays
 * bounded by the chunk, not by the size of the source. */
static polyp_status run_finishing(polyp_train_session *s, polyp_error *err) {
    const polyp_dataset *data = s->data;
    const polyp_split *split = &s->split;
    polyp_classifier *clf = s->clf;
    size_t K = s->K, dim = s->dim, chunk = s->p.chunk_points;
    polyp_status st = clf_calibrate(clf, s->outs, s->refy, s->nref, err);
    if (st != POLYP_OK) return st;
    size_t nv = 0, right = 0, fill = 0;
    for (size_t i = 0; i <= data->n_images && st == POLYP_OK; i++) {
        int last = i == data->n_images;
        if (!last && split->roles[i] != POLYP_SPLIT_VALIDATION) continue;
        const float *f = NULL;
        size_t npts = last ? 0 : data->images[i].npoints;
        if (!last && (st = get_feat(data, i, &f, err)) != POLYP_OK) {
            st = polyp_fail_prefix(err, st, "image %zu: ", i);
            break;
        }
        for (size_t q = 0; q <= npts; q++) {
            long c = q < npts ? class_of(split, data->images[i].labels[q]) : -1;
            if (fill && (fill == chunk || (last && q == npts))) {
                st = polyp_classifier_predict(clf, s->chunkX, fill, dim, s->probs, s->p.parallel, err);
                if (st != POLYP_OK) break;
                for (size_t r = 0; r < fill; r++) right += argmax_row(s->probs + r * K, K) == s->chunky[r];
                nv += fill;
                fill = 0;
            }
            if (c < 0) continue;
            memcpy(s->chunkX + fill * dim, f + q * dim, dim * sizeof(float));
            s->chunky[fill++] = (uint32_t)c;
        }
        if (!last) put_feat(data, i, f);
    }
    if (st != POLYP_OK) return st;
    clf->val_acc = nv ? (double)right / (double)nv : 0.0;
    return POLYP_OK;
}

static polyp_status session_misuse(polyp_train_session *s, polyp_error *err) {
    if (!s) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train session: NULL session");
    if (s->stage == STAGE_FAILED)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train session: an earlier step failed; free the session");
    if (s->stage == STAGE_TAKEN)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train session: already finished; free the session");
    return POLYP_OK;
}

polyp_status polyp_train_session_step(polyp_train_session *s, int *done, polyp_error *err) {
    if (!done) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train session: NULL done flag");
    *done = 0;
    polyp_status st = session_misuse(s, err);
    if (st != POLYP_OK) return st;
    if (s->stage == STAGE_EPOCHS) {
        st = run_epoch(s, err);
        if (st == POLYP_OK && s->epoch == s->p.epochs) s->stage = STAGE_FINISHING;
    } else if (s->stage == STAGE_FINISHING) {
        st = run_finishing(s, err);
        if (st == POLYP_OK) s->stage = STAGE_DONE;
    }
    if (st != POLYP_OK) {
        s->stage = STAGE_FAILED;
        return st;
    }
    *done = s->stage == STAGE_DONE;
    return POLYP_OK;
}

void polyp_train_session_progress(const polyp_train_session *s, size_t *epochs_done, size_t *epochs) {
    if (epochs_done) *epochs_done = s ? s->epoch : 0;
    if (epochs) *epochs = s ? s->p.epochs : 0;
}

polyp_status polyp_train_session_finish(polyp_train_session *s, polyp_classifier **out,
                                        polyp_train_report *report, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train session: NULL output");
    *out = NULL;
    polyp_status st = session_misuse(s, err);
    if (st != POLYP_OK) return st;
    if (s->stage != STAGE_DONE)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "train session: not done (%zu of %zu epochs run); step until done first", s->epoch,
                          s->p.epochs);
    polyp_classifier *clf = s->clf;
    if (report) {
        memset(report, 0, sizeof *report);
        report->n_classes = s->K;
        for (int r = 0; r < 3; r++) {
            report->points[r] = s->split.points[r];
            report->images[r] = s->split.images[r];
        }
        for (size_t l = 1; l < s->n_layers && l <= 2; l++) report->hidden[l - 1] = s->sizes[l];
        report->learning_rate = s->lr;
        report->epochs_done = clf->n_epochs;
        report->ref_accuracy_last = clf->ref_acc[clf->n_epochs - 1];
        report->val_accuracy = clf->val_acc;
    }
    s->clf = NULL;
    s->stage = STAGE_TAKEN;
    *out = clf;
    return POLYP_OK;
}

polyp_status polyp_classifier_train(const polyp_dataset *data, const polyp_train_params *params,
                                    polyp_classifier **out, polyp_train_report *report,
                                    polyp_error *err) {
    if (!data || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "train: NULL dataset or output");
    *out = NULL;
    polyp_train_session *s = NULL;
    polyp_status st = polyp_train_session_begin(data, params, &s, err);
    int done = 0;
    while (st == POLYP_OK && !done) st = polyp_train_session_step(s, &done, err);
    if (st == POLYP_OK) st = polyp_train_session_finish(s, out, report, err);
    polyp_train_session_free(s);
    return st;
}
