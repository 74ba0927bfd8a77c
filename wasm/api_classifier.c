/* api_classifier.c - classifier training, scoring, model files, evaluation and point
 * generation for the JS side (see api.h).
 *
 * Labels cross the boundary as a table: `label_blob` holds n_labels NUL-terminated label
 * codes back to back, and every point carries an int32 index into it (-1 = unlabelled).
 * Images are concatenated: npoints[i] points of image i, in the stable image order that
 * fixes CoralNet's splits; feat is total_points x dim float32. */
#include "api.h"

#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-epoch progress into JS (wasm/engine.js sets Module.polypOnEpoch around each training
 * step); a non-zero return cancels training (the shared-memory cancel flag of isolated pages). */
EM_JS(int, polyp_wasm_js_on_epoch, (double epoch, double n_epochs, double ref_accuracy), {
    return Module["polypOnEpoch"] ? (Module["polypOnEpoch"](epoch, n_epochs, ref_accuracy) | 0) : 0;
});

static int on_epoch(void *user, size_t epoch, size_t n_epochs, double ref_accuracy) {
    (void)user;
    return polyp_wasm_js_on_epoch((double)epoch, (double)n_epochs, ref_accuracy);
}

static void set_err(polyp_error *err, polyp_status status, const char *message) {
    if (!err) return;
    err->status = status;
    snprintf(err->message, sizeof err->message, "%s", message);
}

/* Splits the label blob into n pointers into it (owned array, borrowed strings). */
static const char **label_table(const char *blob, size_t n_labels, polyp_error *err) {
    const char **t = malloc((n_labels ? n_labels : 1) * sizeof *t);
    if (!t) {
        set_err(err, POLYP_ERR_NOMEM, "labels: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n_labels; i++) {
        t[i] = blob;
        blob += strlen(blob) + 1;
    }
    return t;
}

/* Per-point label pointers from indices; NULL where the index is -1. */
static const char **point_labels(const int32_t *index, size_t n, const char **table,
                                 size_t n_labels, polyp_error *err) {
    const char **out = malloc((n ? n : 1) * sizeof *out);
    if (!out) {
        set_err(err, POLYP_ERR_NOMEM, "labels: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (index[i] < -1 || (index[i] >= 0 && (size_t)index[i] >= n_labels)) {
            free(out);
            if (err) {
                err->status = POLYP_ERR_INVALID_ARG;
                snprintf(err->message, sizeof err->message,
                         "labels: point %zu has label index %d outside -1..%zu", i, (int)index[i],
                         n_labels ? n_labels - 1 : 0);
            }
            return NULL;
        }
        out[i] = index[i] < 0 ? NULL : table[index[i]];
    }
    return out;
}

/* A training session with the dataset it reads: the session borrows the dataset, so the
 * dataset's tables and the JS-filled buffers live here until polyp_wasm_classifier_train_free. */
struct polyp_wasm_train {
    polyp_train_session *session;
    polyp_dataset data;
    polyp_dataset_image *images;   /* n_images, pointing into feat and labels */
    const char **labels;           /* total points: pointers into label_blob, NULL = unlabelled */
    const char **table;            /* n_labels pointers into label_blob */
    /* the caller's buffers, owned from begin on */
    uint32_t *npoints;
    float *feat;
    int32_t *label_index;
    char *label_blob;
};

void polyp_wasm_classifier_train_free(polyp_wasm_train *t) {
    if (!t) return;
    polyp_train_session_free(t->session);
    free(t->images);
    free(t->labels);
    free(t->table);
    free(t->npoints);
    free(t->feat);
    free(t->label_index);
    free(t->label_blob);
    free(t);
}

polyp_wasm_train *polyp_wasm_classifier_train_begin(size_t dim, size_t n_images, uint32_t *npoints,
                                                    float *feat, int32_t *label_index,
                                                    char *label_blob, size_t n_labels, int kind,
                                                    uint32_t seed_lo, uint32_t seed_hi, size_t epochs,
                                                    const char *extractor_id,
                                                    const polyp_wasm_pool *pool, polyp_error *err) {
    polyp_wasm_train *t = calloc(1, sizeof *t);
    if (!t) {
        free(npoints);
        free(feat);
        free(label_index);
        free(label_blob);
        set_err(err, POLYP_ERR_NOMEM, "train: out of memory");
        return NULL;
    }
    t->npoints = npoints;
    t->feat = feat;
    t->label_index = label_index;
    t->label_blob = label_blob;
    size_t total = 0;
    for (size_t i = 0; i < n_images; i++) total += npoints[i];
    t->table = label_table(label_blob, n_labels, err);
    t->labels = t->table ? point_labels(label_index, total, t->table, n_labels, err) : NULL;
    t->images = t->labels ? calloc(n_images ? n_images : 1, sizeof *t->images) : NULL;
    if (t->labels && !t->images) set_err(err, POLYP_ERR_NOMEM, "train: out of memory");
    if (!t->images) {
        polyp_wasm_classifier_train_free(t);
        return NULL;
    }
    size_t at = 0;
    for (size_t i = 0; i < n_images; i++) {
        t->images[i].npoints = npoints[i];
        t->images[i].labels = t->labels + at;
        t->images[i].feat = feat + at * dim;
        at += npoints[i];
    }
    polyp_dataset data = {dim, n_images, t->images, NULL, NULL, NULL};
    t->data = data;
    polyp_train_params p = polyp_train_default_params();
    p.kind = kind == 1 ? POLYP_CLASSIFIER_LR : POLYP_CLASSIFIER_MLP;
    p.seed = ((uint64_t)seed_hi << 32) | seed_lo;
    if (epochs) p.epochs = epochs;
    p.extractor_id = extractor_id;
    p.on_epoch = on_epoch;
    p.parallel = polyp_wasm_parallel(pool);
    if (polyp_train_session_begin(&t->data, &p, &t->session, err) != POLYP_OK) {
        polyp_wasm_classifier_train_free(t);
        return NULL;
    }
    return t;
}

int polyp_wasm_classifier_train_step(polyp_wasm_train *t, polyp_error *err) {
    int done = 0;
    if (!t) {
        set_err(err, POLYP_ERR_INVALID_ARG, "train: no training session");
        return -1;
    }
    if (polyp_train_session_step(t->session, &done, err) != POLYP_OK) return -1;
    return done;
}

polyp_classifier *polyp_wasm_classifier_train_finish(polyp_wasm_train *t, double *report,
                                                     polyp_error *err) {
    if (!t) {
        set_err(err, POLYP_ERR_INVALID_ARG, "train: no training session");
        return NULL;
    }
    polyp_classifier *clf = NULL;
    polyp_train_report r;
    memset(&r, 0, sizeof r);
    if (polyp_train_session_finish(t->session, &clf, &r, err) != POLYP_OK) return NULL;
    if (report) {
        /* report: n_classes, points[3], images[3], hidden[2], learning_rate, epochs_done,
         * ref_accuracy_last, val_accuracy */
        double v[13] = {(double)r.n_classes, (double)r.points[0], (double)r.points[1],
                        (double)r.points[2], (double)r.images[0], (double)r.images[1],
                        (double)r.images[2], (double)r.hidden[0], (double)r.hidden[1],
                        r.learning_rate, (double)r.epochs_done, r.ref_accuracy_last,
                        r.val_accuracy};
        memcpy(report, v, sizeof v);
    }
    return clf;
}

void polyp_wasm_classifier_free(polyp_classifier *clf) { polyp_classifier_free(clf); }
size_t polyp_wasm_classifier_n_labels(const polyp_classifier *clf) { return polyp_classifier_n_labels(clf); }
const char *polyp_wasm_classifier_label(const polyp_classifier *clf, size_t i) { return polyp_classifier_label(clf, i); }
size_t polyp_wasm_classifier_feature_dim(const polyp_classifier *clf) { return polyp_classifier_feature_dim(clf); }
int polyp_wasm_classifier_kind(const polyp_classifier *clf) { return (int)polyp_classifier_get_kind(clf); }
const char *polyp_wasm_classifier_extractor_id(const polyp_classifier *clf) { return polyp_classifier_extractor_id(clf); }
double polyp_wasm_classifier_val_accuracy(const polyp_classifier *clf) { return polyp_classifier_val_accuracy(clf); }

const double *polyp_wasm_classifier_ref_accuracy(const polyp_classifier *clf, size_t *n) {
    return polyp_classifier_ref_accuracy(clf, n);
}

int polyp_wasm_classifier_predict(const polyp_classifier *clf, const float *feat, size_t n,
                                  size_t dim, float *probs, const polyp_wasm_pool *pool,
                                  polyp_error *err) {
    return (int)polyp_classifier_predict(clf, feat, n, dim, probs, polyp_wasm_parallel(pool), err);
}

void *polyp_wasm_classifier_save(const polyp_classifier *clf, size_t *out_size, polyp_error *err) {
    void *out = NULL;
    if (polyp_classifier_save(clf, &out, out_size, err) != POLYP_OK) return NULL;
    return out;
}

polyp_classifier *polyp_wasm_classifier_load(const void *data, size_t size, polyp_error *err) {
    polyp_classifier *clf = NULL;
    if (polyp_classifier_load(data, size, &clf, err) != POLYP_OK) return NULL;
    return clf;
}

int polyp_wasm_classifier_accept(double new_acc, double prev_acc) {
    return polyp_classifier_accept(new_acc, prev_acc);
}

int polyp_wasm_classifier_should_train(size_t n_annotated, size_t n_last) {
    return polyp_classifier_should_train(n_annotated, n_last);
}

polyp_evaluation *polyp_wasm_classifier_evaluate(const polyp_classifier *clf, const float *probs,
                                                 size_t n, const int32_t *label_index,
                                                 const char *label_blob, size_t n_labels,
                                                 polyp_error *err) {
    const char **table = label_table(label_blob, n_labels, err);
    if (!table) return NULL;
    const char **truth = point_labels(label_index, n, table, n_labels, err);
    polyp_evaluation *ev = truth ? calloc(1, sizeof *ev) : NULL;
    if (truth && !ev) set_err(err, POLYP_ERR_NOMEM, "evaluate: out of memory");
    if (ev && polyp_evaluate(clf, probs, truth, n, ev, err) != POLYP_OK) {
        free(ev);
        ev = NULL;
    }
    free(truth);
    free(table);
    return ev;
}

/* Evaluation accessors. which: 0 precision, 1 recall, 2 f1, 3 support. */
double polyp_wasm_classifier_evaluation_accuracy(const polyp_evaluation *ev) { return ev->accuracy; }
double polyp_wasm_classifier_evaluation_macro_f1(const polyp_evaluation *ev) { return ev->macro_f1; }
size_t polyp_wasm_classifier_evaluation_n_labels(const polyp_evaluation *ev) { return ev->n_labels; }
const char *polyp_wasm_classifier_evaluation_label(const polyp_evaluation *ev, size_t i) {
    return i < ev->n_labels ? ev->labels[i] : NULL;
}
double polyp_wasm_classifier_evaluation_metric(const polyp_evaluation *ev, size_t i, int which) {
    if (i >= ev->n_labels) return 0;
    const polyp_label_metrics *m = &ev->per_label[i];
    return which == 0 ? m->precision : which == 1 ? m->recall : which == 2 ? m->f1 : (double)m->support;
}
const size_t *polyp_wasm_classifier_evaluation_confusion(const polyp_evaluation *ev) { return ev->confusion; }
const double *polyp_wasm_classifier_evaluation_alleviate_accuracy(const polyp_evaluation *ev) { return ev->alleviate_accuracy; }
const double *polyp_wasm_classifier_evaluation_alleviate_fraction(const polyp_evaluation *ev) { return ev->alleviate_fraction; }
void polyp_wasm_classifier_evaluation_free(polyp_evaluation *ev) {
    if (!ev) return;
    polyp_evaluation_free(ev);
    free(ev);
}

uint32_t *polyp_wasm_classifier_points_generate(int method, size_t n, size_t cell_rows,
                                                size_t cell_cols, size_t per_cell,
                                                uint32_t min_row, uint32_t max_row,
                                                uint32_t min_col, uint32_t max_col,
                                                uint32_t seed_lo, uint32_t seed_hi,
                                                size_t *n_out, polyp_error *err) {
    polyp_points_params p = polyp_points_default_params(max_col + 1, max_row + 1);
    p.method = method == 2 ? POLYP_POINTS_GRID : method == 1 ? POLYP_POINTS_STRATIFIED : POLYP_POINTS_RANDOM;
    p.n = n;
    p.cell_rows = cell_rows;
    p.cell_cols = cell_cols;
    p.per_cell = per_cell;
    p.min_row = min_row;
    p.max_row = max_row;
    p.min_col = min_col;
    p.max_col = max_col;
    p.seed = ((uint64_t)seed_hi << 32) | seed_lo;
    polyp_point *pts = NULL;
    if (polyp_points_generate(&p, &pts, n_out, err) != POLYP_OK) return NULL;
    /* polyp_point is {row, col} uint32: return it as the rowcol pairs JS expects. */
    _Static_assert(sizeof(polyp_point) == 2 * sizeof(uint32_t), "polyp_point is two uint32");
    return (uint32_t *)pts;
}

/* CoralNet export CSV. Rows: names = n_rows NUL-terminated names back to back, rowcol pairs,
 * label_index into label_blob (-1 = blank "Label code"); probs n_rows x (clf's labels) with
 * has_probs[i] = 0 for rows without machine suggestions; clf may be NULL (no suggestions).
 * Free the result with polyp_wasm_free. */
void *polyp_wasm_classifier_export_csv(size_t n_rows, const char *name_blob, const uint32_t *rowcol,
                                       const int32_t *label_index, const char *label_blob,
                                       size_t n_label_codes, const polyp_classifier *clf,
                                       const float *probs, const uint8_t *has_probs, size_t top,
                                       int all_scores, size_t *out_size, polyp_error *err) {
    size_t n_classes = clf ? polyp_classifier_n_labels(clf) : 0;
    const char **names = label_table(name_blob, n_rows, err);
    const char **codes = names ? label_table(label_blob, n_label_codes, err) : NULL;
    const char **labels = codes ? point_labels(label_index, n_rows, codes, n_label_codes, err) : NULL;
    const char **classes = labels ? malloc((n_classes ? n_classes : 1) * sizeof *classes) : NULL;
    polyp_export_row *rows = classes ? calloc(n_rows ? n_rows : 1, sizeof *rows) : NULL;
    void *out = NULL;
    if (labels && !rows) set_err(err, POLYP_ERR_NOMEM, "export: out of memory");
    if (rows) {
        for (size_t c = 0; c < n_classes; c++) classes[c] = polyp_classifier_label(clf, c);
        for (size_t i = 0; i < n_rows; i++) {
            rows[i].name = names[i];
            rows[i].row = rowcol[2 * i];
            rows[i].col = rowcol[2 * i + 1];
            rows[i].label = labels[i];
            rows[i].probs = (clf && probs && (!has_probs || has_probs[i])) ? probs + i * n_classes : NULL;
        }
        polyp_export_params p = polyp_export_default_params();
        p.top = clf ? top : 0;
        p.all_scores = clf ? all_scores : 0;
        if (polyp_export_csv(rows, n_rows, classes, n_classes, &p, &out, out_size, err) != POLYP_OK) out = NULL;
    }
    free(rows);
    free(classes);
    free(labels);
    free(codes);
    free(names);
    return out;
}
