/* clf_common.c - see clf_common.h. */
#define _POSIX_C_SOURCE 200809L
#include "clf_common.h"
#include "threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *feature_path(const clf_source *s, const char *name) {
    size_t n = strlen(s->dir) + strlen(name) + 32;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.featurevector", s->dir, name);
    return p;
}

static polyp_status read_features(const clf_source *s, size_t i, polyp_features *f, polyp_error *err) {
    char *path = feature_path(s, s->names[i]);
    if (!path) return POLYP_ERR_NOMEM;
    void *data;
    size_t size;
    polyp_status st = POLYP_OK;
    if (!cli_read_file(path, &data, &size, err)) {
        st = err->status ? err->status : POLYP_ERR_IO;
    } else {
        st = polyp_features_read_npz(data, size, f, err);
        polyp_free(data);
        if (st != POLYP_OK) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s: %s", path, err->message);
            memcpy(err->message, msg, sizeof msg);
        }
    }
    free(path);
    return st;
}

polyp_status clf_source_features(const clf_source *s, size_t i, float **out, polyp_error *err) {
    polyp_features f;
    polyp_status st = read_features(s, i, &f, err);
    if (st != POLYP_OK) return st;
    if (f.dim != s->dim) {
        polyp_features_free(&f);
        snprintf(err->message, sizeof err->message, "%s: %zu features per point, other images have %zu",
                 s->names[i], f.dim, s->dim);
        return err->status = POLYP_ERR_FORMAT;
    }
    size_t n = s->images[i].npoints;
    float *x = malloc(n * s->dim * sizeof(float) + 1);
    if (!x) {
        polyp_features_free(&f);
        return err->status = POLYP_ERR_NOMEM;
    }
    for (size_t p = 0; p < n; p++) {
        size_t r = s->rows[i][p];
        if (r >= f.npoints) { /* the file changed since it was opened */
            free(x);
            polyp_features_free(&f);
            snprintf(err->message, sizeof err->message, "%s: feature file changed while in use", s->names[i]);
            return err->status = POLYP_ERR_FORMAT;
        }
        memcpy(x + p * s->dim, f.feat + r * s->dim, s->dim * sizeof(float));
    }
    polyp_features_free(&f);
    *out = x;
    return POLYP_OK;
}

polyp_status clf_source_get(clf_source *s, size_t i, const float **feat, polyp_error *err) {
    if (s->cache && s->cache[i]) {
        *feat = s->cache[i];
        return POLYP_OK;
    }
    float *x;
    polyp_error local = {0};
    polyp_status st = clf_source_features(s, i, &x, err ? err : &local);
    if (st != POLYP_OK) return st;
    size_t bytes = s->images[i].npoints * s->dim * sizeof(float);
    if (s->cache && bytes <= s->cache_budget - s->cache_used) {
        s->cache[i] = x;
        s->cache_used += bytes;
    }
    *feat = x;
    return POLYP_OK;
}
void clf_source_put(clf_source *s, size_t i, const float *feat) {
    if (!s->cache || s->cache[i] != feat) free((void *)feat);
}

static polyp_status load_cb(void *user, size_t i, const float **feat, polyp_error *err) {
    return clf_source_get(user, i, feat, err);
}
static void release_cb(void *user, size_t i, const float *feat) { clf_source_put(user, i, feat); }

void clf_source_free(clf_source *s) {
    for (size_t i = 0; i < s->n_images; i++) {
        if (s->cache) free(s->cache[i]);
        if (s->items) free(s->items[i]);
        if (s->rows) free(s->rows[i]);
        if (s->labels) free(s->labels[i]);
    }
    free(s->cache);
    free(s->items);
    free(s->rows);
    free(s->labels);
    free(s->names);
    free(s->images);
    free(s->dir);
    free(s->extractor);
    polyp_annotations_free(&s->ann);
    memset(s, 0, sizeof *s);
}

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

bool clf_source_open(const char *cmd, const char *csv_path, const char *feature_dir, size_t cache_bytes,
                     clf_source *s) {
    memset(s, 0, sizeof *s);
    polyp_error err = {0};
    void *data;
    size_t size;
    if (!cli_read_file(csv_path, &data, &size, &err)) return cli_fail_err(cmd, &err), false;
    polyp_status st = polyp_annotations_parse_csv(data, size, &s->ann, &err);
    polyp_free(data);
    if (st != POLYP_OK) return cli_fail(cmd, "%s: %s", csv_path, err.message), false;
    if (s->ann.count == 0) return cli_fail(cmd, "%s: no points", csv_path), clf_source_free(s), false;
    size_t n = s->ann.count;
    s->dir = strdup(feature_dir);
    /* Group by image name: open addressing over first-appearance indices. */
    size_t nslots = 16;
    while (nslots < 2 * n) nslots *= 2;
    size_t *slots = calloc(nslots, sizeof(size_t));
    size_t *img_of = malloc(n * sizeof(size_t)), *counts = calloc(n, sizeof(size_t));
    s->names = malloc(n * sizeof(char *));
    if (!s->dir || !slots || !img_of || !counts || !s->names) {
        free(slots), free(img_of), free(counts);
        clf_source_free(s);
        return cli_fail(cmd, "out of memory"), false;
    }
    for (size_t k = 0; k < n; k++) {
        const char *name = s->ann.items[k].name;
        size_t h = (size_t)(hash_name(name) & (nslots - 1));
        while (slots[h] && strcmp(s->names[slots[h] - 1], name) != 0) h = (h + 1) & (nslots - 1);
        if (!slots[h]) {
            s->names[s->n_images] = name;
            slots[h] = ++s->n_images;
        }
        img_of[k] = slots[h] - 1;
        counts[img_of[k]]++;
    }
    free(slots);
    size_t m = s->n_images;
    s->items = calloc(m, sizeof(size_t *));
    s->rows = calloc(m, sizeof(size_t *));
    s->labels = calloc(m, sizeof(char **));
    s->images = calloc(m, sizeof(polyp_dataset_image));
    bool ok = s->items && s->rows && s->labels && s->images;
    for (size_t i = 0; ok && i < m; i++)
        ok = (s->items[i] = malloc(counts[i] * sizeof(size_t))) && (s->rows[i] = malloc(counts[i] * sizeof(size_t))) &&
             (s->labels[i] = malloc(counts[i] * sizeof(char *)));
    if (!ok) {
        free(img_of), free(counts);
        clf_source_free(s);
        return cli_fail(cmd, "out of memory"), false;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = img_of[k];
        polyp_dataset_image *im = &s->images[i];
        s->items[i][im->npoints] = k;
        s->labels[i][im->npoints] = s->ann.items[k].label;
        im->npoints++;
    }
    free(img_of);
    free(counts);
    for (size_t i = 0; i < m; i++) s->images[i].labels = s->labels[i];
    s->cache = calloc(m, sizeof(float *));
    s->cache_budget = s->cache ? cache_bytes : 0;
    /* Open every feature file once: existence, width, and the point -> row mapping. */
    cli_progress prog;
    cli_progress_begin(&prog, "checking feature files", m);
    double t0 = cli_now();
    for (size_t i = 0; i < m; i++) {
        polyp_features f;
        if (read_features(s, i, &f, &err) != POLYP_OK) {
            cli_progress_end(&prog);
            cli_fail(cmd, "%s", err.message);
            clf_source_free(s);
            return false;
        }
        if (i == 0) s->dim = f.dim;
        bool bad_dim = f.dim != s->dim;
        /* One extractor per source: records (their id, up to the first space) must agree. */
        size_t idn = f.extractor ? strcspn(f.extractor, " ") : 0;
        if (!f.extractor) {
            s->unrecorded++;
        } else if (!s->extractor) {
            if (!(s->extractor = strndup(f.extractor, idn))) {
                cli_progress_end(&prog);
                cli_fail(cmd, "out of memory");
                polyp_features_free(&f);
                clf_source_free(s);
                return false;
            }
            s->extractor_image = i;
        } else if (strlen(s->extractor) != idn || strncmp(s->extractor, f.extractor, idn) != 0) {
            cli_progress_end(&prog);
            cli_fail(cmd, "%s/%s.featurevector comes from extractor %.*s, but %s from %s: features of two "
                     "extractors cannot be mixed (re-extract one of them)", s->dir, s->names[i], (int)idn,
                     f.extractor, s->names[s->extractor_image], s->extractor);
            polyp_features_free(&f);
            clf_source_free(s);
            return false;
        }
        polyp_dataset_image *im = &s->images[i];
        bool *used = calloc(f.npoints + 1, 1);
        const polyp_annotation *missing = NULL;
        for (size_t p = 0; !bad_dim && used && p < im->npoints && !missing; p++) {
            const polyp_annotation *a = &s->ann.items[s->items[i][p]];
            size_t r = SIZE_MAX;
            if (!f.valid_rowcol) {
                if (p < f.npoints) r = p;
            } else {
                for (size_t q = 0; q < f.npoints; q++)
                    if (!used[q] && f.rows[q] == a->row && f.cols[q] == a->col) {
                        r = q;
                        break;
                    }
            }
            if (r == SIZE_MAX) missing = a;
            else used[r] = true, s->rows[i][p] = r;
        }
        free(used);
        /* The file is in memory now: keep its points when the cache has room, so the
         * first epoch does not read it again. */
        size_t bytes = im->npoints * s->dim * sizeof(float);
        if (!bad_dim && !missing && s->cache && bytes <= s->cache_budget - s->cache_used &&
            (s->cache[i] = malloc(bytes + 1))) {
            for (size_t p = 0; p < im->npoints; p++)
                memcpy(s->cache[i] + p * s->dim, f.feat + s->rows[i][p] * s->dim, s->dim * sizeof(float));
            s->cache_used += bytes;
        }
        polyp_features_free(&f);
        if (bad_dim || missing) {
            cli_progress_end(&prog);
            if (bad_dim) cli_fail(cmd, "%s/%s.featurevector: %zu features per point, but %s has %zu", s->dir,
                                  s->names[i], f.dim, s->names[0], s->dim);
            else cli_fail(cmd, "%s/%s.featurevector has no feature for the point at row %u, column %u (run polyp extract "
                          "for these points)", s->dir, s->names[i], missing->row, missing->col);
            clf_source_free(s);
            return false;
        }
        double el = cli_now() - t0;
        cli_progress_update(&prog, i + 1, el > 0 ? (double)(i + 1) / el : 0.0, "files");
    }
    cli_progress_end(&prog);
    s->data.dim = s->dim;
    s->data.n_images = m;
    s->data.images = s->images;
    s->data.load = load_cb;
    s->data.release = release_cb;
    s->data.user = s;
    return true;
}

bool clf_source_extractor(const char *cmd, const clf_source *src, const char *given, const char **out) {
    *out = src->extractor ? src->extractor : given;
    if (src->extractor && given && strcmp(given, src->extractor) != 0) {
        cli_fail(cmd, "--extractor %s disagrees with the extractor recorded in the feature files (%s)", given,
                 src->extractor);
        return false;
    }
    if (src->unrecorded && (src->extractor || given))
        fprintf(stderr, "polyp %s: note: %zu of %zu feature files carry no extractor record (pyspacer's?); taken "
                "to come from %s\n", cmd, src->unrecorded, src->n_images, *out);
    else if (src->unrecorded)
        fprintf(stderr, "polyp %s: note: the feature files carry no extractor record (pyspacer's): the extractor "
                "is unknown and not checked (--extractor ID names it)\n", cmd);
    return true;
}

bool clf_open_model_and_source(const char *cmd, const char *model_path, const char *csv_path,
                               const char *feature_dir, polyp_classifier **clf, clf_source *src) {
    polyp_error err = {0};
    *clf = NULL;
    if (polyp_classifier_load_file(model_path, clf, &err) != POLYP_OK) return cli_fail_err(cmd, &err), false;
    if (!clf_source_open(cmd, csv_path, feature_dir, (size_t)CLF_DEFAULT_CACHE_MB << 20, src)) {
        polyp_classifier_free(*clf);
        *clf = NULL;
        return false;
    }
    return true;
}

bool clf_threads_start(const char *cmd, size_t n, clf_threads *t) {
    memset(t, 0, sizeof *t);
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (size_t)cpus : 1;
    }
    if (n > POLYP_THREADPOOL_MAX_THREADS) n = POLYP_THREADPOOL_MAX_THREADS;
    t->par.n_threads = 1;
    if (n <= 1) return true;
    polyp_error err = {0};
    polyp_threadpool *pool;
    if (polyp_threadpool_create((int)n, &pool, &err) != POLYP_OK) return cli_fail_err(cmd, &err), false;
    t->pool = pool;
    t->par = polyp_threadpool_parallel(pool);
    return true;
}

void clf_threads_stop(clf_threads *t) {
    if (t->pool) polyp_threadpool_destroy(t->pool);
    memset(t, 0, sizeof *t);
}
