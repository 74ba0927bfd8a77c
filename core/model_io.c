/* model_io.c - classifier model files: safetensors with everything needed to check a model
 * before use in its __metadata__ (all strings):
 *   format "polyp-classifier", format_version "1", kind "mlp" | "lr",
 *   output "softmax" | "logistic" | "margin", labels (JSON array of strings, class order,
 *   sorted), hidden (JSON array of sizes), feature_dim, extractor (weights sha256 or
 *   "unknown"), learning_rate, ref_accuracy (JSON array, per epoch), val_accuracy;
 * tensors layers.<l>.weight F32 [in, out] and layers.<l>.bias F32 [out] (scikit-learn's
 * coefs_ / intercepts_ layout), calibration.a / calibration.b F64 [n_calibrators]
 * (Platt: p = 1 / (1 + exp(a f + b))).
 * The loader checks every field and tensor (name, dtype, shape, finiteness) and names
 * the first bad one; unknown tensors are refused so a truncated or foreign file never
 * loads as something else. */
#include "classifier_internal.h"
#include "json.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(polyp_classifier_kind k) { return k == POLYP_CLASSIFIER_LR ? "lr" : "mlp"; }
static const char *output_name(clf_output o) {
    return o == CLF_OUT_SOFTMAX ? "softmax" : o == CLF_OUT_LOGISTIC ? "logistic" : "margin";
}

polyp_status polyp_classifier_save(const polyp_classifier *c, void **out, size_t *out_size,
                                   polyp_error *err) {
    if (!c || !out || !out_size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "model save: NULL argument");
    polyp_st_writer *w = polyp_st_writer_init();
    polyp_strbuf labels = {0}, hidden = {0}, acc = {0};
    polyp_status st = POLYP_OK;
    char num[64];
    bool ok = w != NULL && polyp_strbuf_append_str(&labels, "[");
    for (size_t i = 0; ok && i < c->n_classes; i++)
        ok = (i == 0 || polyp_strbuf_append_str(&labels, ",")) &&
             polyp_json_write_string(&labels, c->labels[i], strlen(c->labels[i]));
    ok = ok && polyp_strbuf_append_str(&labels, "]") && polyp_strbuf_append_str(&hidden, "[");
    for (size_t l = 1; ok && l < c->n_layers; l++)
        ok = (l == 1 || polyp_strbuf_append_str(&hidden, ",")) && polyp_json_write_u64(&hidden, c->sizes[l]);
    ok = ok && polyp_strbuf_append_str(&hidden, "]") && polyp_strbuf_append_str(&acc, "[");
    for (size_t e = 0; ok && e < c->n_epochs; e++) {
        snprintf(num, sizeof num, "%s%.17g", e ? "," : "", c->ref_acc[e]);
        ok = polyp_strbuf_append_str(&acc, num);
    }
    ok = ok && polyp_strbuf_append_str(&acc, "]");
    if (!ok) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "model save: no memory");
        goto done;
    }
    char dim[32], lr[64], val[64];
    snprintf(dim, sizeof dim, "%zu", c->dim);
    snprintf(lr, sizeof lr, "%.17g", c->learning_rate);
    snprintf(val, sizeof val, "%.17g", c->val_acc);
    const char *meta[][2] = {
        {"format", POLYP_MODEL_FORMAT}, {"format_version", "1"}, {"kind", kind_name(c->kind)},
        {"output", output_name(c->output)}, {"labels", labels.data}, {"hidden", hidden.data},
        {"feature_dim", dim}, {"extractor", polyp_classifier_extractor_id(c)},
        {"learning_rate", lr}, {"ref_accuracy", acc.data}, {"val_accuracy", val},
    };
    for (size_t i = 0; st == POLYP_OK && i < sizeof meta / sizeof meta[0]; i++)
        st = polyp_st_writer_meta(w, meta[i][0], meta[i][1], err);
    for (size_t l = 0; st == POLYP_OK && l < c->n_layers; l++) {
        char name[64];
        uint64_t shape[2] = {c->sizes[l], c->sizes[l + 1]};
        snprintf(name, sizeof name, "layers.%zu.weight", l);
        st = polyp_st_writer_add(w, name, POLYP_ST_F32, 2, shape, c->W[l], err);
        snprintf(name, sizeof name, "layers.%zu.bias", l);
        if (st == POLYP_OK) st = polyp_st_writer_add(w, name, POLYP_ST_F32, 1, &shape[1], c->b[l], err);
    }
    uint64_t ncal = c->n_cal;
    if (st == POLYP_OK) st = polyp_st_writer_add(w, "calibration.a", POLYP_ST_F64, 1, &ncal, c->cal_a, err);
    if (st == POLYP_OK) st = polyp_st_writer_add(w, "calibration.b", POLYP_ST_F64, 1, &ncal, c->cal_b, err);
    if (st == POLYP_OK) st = polyp_st_writer_finish(w, out, out_size, err);
done:
    polyp_st_writer_free(w);
    polyp_strbuf_free(&labels);
    polyp_strbuf_free(&hidden);
    polyp_strbuf_free(&acc);
    return st;
}

static polyp_status bad(polyp_error *err, const char *fmt, const char *what) {
    return polyp_fail(err, POLYP_ERR_FORMAT, fmt, what);
}

/* Parses a metadata value as a JSON array of non-negative integers. */
static polyp_status meta_uint_array(const polyp_st_file *f, const char *key, size_t *vals, size_t max,
                                    size_t *n, polyp_error *err) {
    const char *s = polyp_st_meta(f, key);
    if (!s) return bad(err, "model: metadata '%s' missing", key);
    polyp_json_doc doc;
    if (polyp_json_parse(s, strlen(s), NULL, &doc, err) != POLYP_OK)
        return polyp_fail_prefix(err, POLYP_ERR_FORMAT, "model: metadata '%s': ", key);
    const polyp_json_value *a = polyp_json_root(&doc);
    polyp_status st = POLYP_OK;
    if (a->type != POLYP_JSON_ARRAY || a->count > max) st = bad(err, "model: metadata '%s' is not a short array", key);
    size_t i = 0;
    for (const polyp_json_value *v = a->child; st == POLYP_OK && v; v = v->next, i++) {
        if (v->type != POLYP_JSON_NUMBER || !v->is_int || v->ival <= 0 || v->ival > POLYP_CLF_MAX_DIM)
            st = bad(err, "model: metadata '%s' holds a bad size", key);
        else vals[i] = (size_t)v->ival;
    }
    *n = i;
    polyp_json_free(&doc);
    return st;
}

static polyp_status meta_double(const polyp_st_file *f, const char *key, double *out, polyp_error *err) {
    const char *s = polyp_st_meta(f, key);
    if (!s) return bad(err, "model: metadata '%s' missing", key);
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end || !isfinite(*out)) return bad(err, "model: metadata '%s' is not a number", key);
    return POLYP_OK;
}

static polyp_status load_labels(const polyp_st_file *f, polyp_classifier *c, polyp_error *err) {
    const char *s = polyp_st_meta(f, "labels");
    polyp_json_doc doc;
    if (polyp_json_parse(s, strlen(s), NULL, &doc, err) != POLYP_OK)
        return polyp_fail_prefix(err, POLYP_ERR_FORMAT, "model: metadata 'labels': ");
    const polyp_json_value *a = polyp_json_root(&doc);
    polyp_status st = POLYP_OK;
    if (a->type != POLYP_JSON_ARRAY || a->count != c->n_classes)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "model: 'labels' must be an array of %zu strings (the output width)",
                        c->n_classes);
    size_t i = 0;
    for (const polyp_json_value *v = a->child; st == POLYP_OK && v; v = v->next, i++) {
        if (v->type != POLYP_JSON_STRING || v->str_len == 0 || v->str_len != strlen(v->str))
            st = polyp_fail(err, POLYP_ERR_FORMAT, "model: label %zu is not a non-empty string", i);
        else if (i > 0 && strcmp(c->labels[i - 1], v->str) >= 0)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "model: labels not sorted and unique at '%s'", v->str);
        else if (!(c->labels[i] = polyp_malloc(v->str_len + 1)))
            st = polyp_fail(err, POLYP_ERR_NOMEM, "model: no memory");
        else memcpy(c->labels[i], v->str, v->str_len + 1);
    }
    polyp_json_free(&doc);
    return st;
}

/* Checks tensor `name` (dtype, shape [d0] or [d0, d1]) and copies it to dst, refusing
 * non-finite values; with dst NULL only the dtype and shape are checked. */
static polyp_status load_tensor(const polyp_st_file *f, const char *name, polyp_st_dtype dt, size_t d0,
                                size_t d1, int ndim, void *dst, polyp_error *err) {
    const polyp_st_tensor *t = polyp_st_find(f, name);
    if (!t) return bad(err, "model: tensor '%s' missing", name);
    if (t->dtype != dt) return polyp_fail(err, POLYP_ERR_FORMAT, "model: tensor '%s' has dtype %s", name, t->dtype_name);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1))
        return polyp_fail(err, POLYP_ERR_FORMAT, "model: tensor '%s' has the wrong shape (expected [%zu%s%zu])",
                          name, d0, ndim == 2 ? ", " : "", ndim == 2 ? d1 : (size_t)0);
    if (!dst) return POLYP_OK;
    size_t count = ndim == 2 ? d0 * d1 : d0;
    if (dt == POLYP_ST_F32) {
        float *o = dst;
        memcpy(o, t->data, count * sizeof(float));
        for (size_t i = 0; i < count; i++)
            if (!isfinite(o[i])) return bad(err, "model: tensor '%s' holds a non-finite value", name);
    } else {
        double *o = dst;
        memcpy(o, t->data, count * sizeof(double));
        for (size_t i = 0; i < count; i++)
            if (!isfinite(o[i])) return bad(err, "model: tensor '%s' holds a non-finite value", name);
    }
    return POLYP_OK;
}

/* Every layer and calibration tensor of a model with layer sizes sizes[0..nh+1]: checked only
 * (c NULL) or copied into c. */
static polyp_status load_tensors(const polyp_st_file *f, size_t nh, const size_t *sizes, size_t n_cal,
                                 polyp_classifier *c, polyp_error *err) {
    char name[64];
    polyp_status st = POLYP_OK;
    for (size_t l = 0; l <= nh && st == POLYP_OK; l++) {
        snprintf(name, sizeof name, "layers.%zu.weight", l);
        st = load_tensor(f, name, POLYP_ST_F32, sizes[l], sizes[l + 1], 2, c ? c->W[l] : NULL, err);
        snprintf(name, sizeof name, "layers.%zu.bias", l);
        if (st == POLYP_OK) st = load_tensor(f, name, POLYP_ST_F32, sizes[l + 1], 0, 1, c ? c->b[l] : NULL, err);
    }
    if (st == POLYP_OK) st = load_tensor(f, "calibration.a", POLYP_ST_F64, n_cal, 0, 1, c ? c->cal_a : NULL, err);
    if (st == POLYP_OK) st = load_tensor(f, "calibration.b", POLYP_ST_F64, n_cal, 0, 1, c ? c->cal_b : NULL, err);
    return st;
}

polyp_status polyp_classifier_load(const void *data, size_t size, polyp_classifier **out,
                                   polyp_error *err) {
    if (!data || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "model load: NULL argument");
    *out = NULL;
    polyp_st_file f;
    polyp_status st = polyp_st_parse(data, size, &f, err);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "model: ");
    polyp_classifier *c = NULL;
    const char *fmt = polyp_st_meta(&f, "format"), *ver = polyp_st_meta(&f, "format_version");
    const char *kind = polyp_st_meta(&f, "kind"), *output = polyp_st_meta(&f, "output");
    const char *ext = polyp_st_meta(&f, "extractor"), *dims = polyp_st_meta(&f, "feature_dim");
    if (!fmt || strcmp(fmt, POLYP_MODEL_FORMAT) != 0) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "model: not a polyp classifier (metadata format is %s%s%s)",
                        fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "");
        goto done;
    }
    if (!ver || strcmp(ver, "1") != 0) {
        st = polyp_fail(err, POLYP_ERR_UNSUPPORTED, "model: format_version %s is not supported (this build reads 1)",
                        ver ? ver : "missing");
        goto done;
    }
    polyp_classifier_kind k;
    if (kind && !strcmp(kind, "mlp")) k = POLYP_CLASSIFIER_MLP;
    else if (kind && !strcmp(kind, "lr")) k = POLYP_CLASSIFIER_LR;
    else {
        st = bad(err, "model: metadata 'kind' is '%s' (mlp or lr expected)", kind ? kind : "missing");
        goto done;
    }
    if (!polyp_st_meta(&f, "labels") || !ext || !dims || !output) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "model: metadata labels, extractor, feature_dim or output missing");
        goto done;
    }
    size_t hidden[4], nh = 0;
    if ((st = meta_uint_array(&f, "hidden", hidden, 2, &nh, err)) != POLYP_OK) goto done;
    if (k == POLYP_CLASSIFIER_LR && nh) {
        st = bad(err, "model: %s has hidden layers", "an lr model");
        goto done;
    }
    char *end;
    unsigned long long d = strtoull(dims, &end, 10);
    if (*dims < '0' || *dims > '9' || *end || d == 0 || d > POLYP_CLF_MAX_DIM) {
        st = bad(err, "model: metadata 'feature_dim' is '%s'", dims);
        goto done;
    }
    /* The output width comes from the last bias tensor; it fixes the class count. */
    char name[64];
    snprintf(name, sizeof name, "layers.%zu.bias", nh);
    const polyp_st_tensor *lastb = polyp_st_find(&f, name);
    if (!lastb || lastb->ndim != 1 || lastb->shape[0] == 0 || lastb->shape[0] > POLYP_CLF_MAX_CLASSES) {
        st = bad(err, "model: tensor '%s' missing or malformed", name);
        goto done;
    }
    size_t n_out = (size_t)lastb->shape[0];
    size_t n_classes = n_out == 1 ? 2 : n_out;
    clf_output want = k == POLYP_CLASSIFIER_LR ? CLF_OUT_MARGIN : n_classes == 2 ? CLF_OUT_LOGISTIC : CLF_OUT_SOFTMAX;
    if (strcmp(output, output_name(want)) != 0) {
        st = bad(err, "model: metadata 'output' is '%s', which does not match the layers", output);
        goto done;
    }
    size_t sizes[4];
    sizes[0] = (size_t)d;
    for (size_t l = 0; l < nh; l++) sizes[l + 1] = hidden[l];
    sizes[nh + 1] = n_out;
    if (f.count != 2 * (nh + 1) + 2) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "model: %zu tensors, expected %zu", f.count, 2 * (nh + 1) + 2);
        goto done;
    }
    /* Shapes before allocating: the file then holds every weight the model will, so a few
     * hundred bytes of metadata cannot ask for gigabytes (found by tests/fuzz/fuzz_classifier.c:
     * feature_dim 1048576 with hidden [1000] allocated 4 GB before the shape check). */
    if ((st = load_tensors(&f, nh, sizes, n_classes == 2 ? 1 : n_classes, NULL, err)) != POLYP_OK) goto done;
    if ((st = clf_alloc(k, n_classes, sizes, nh + 1, &c, err)) != POLYP_OK) goto done;
    st = load_tensors(&f, nh, sizes, c->n_cal, c, err);
    if (st == POLYP_OK) st = load_labels(&f, c, err);
    if (st != POLYP_OK) goto done;
    if (strlen(ext) == 0 || strlen(ext) > 256) {
        st = bad(err, "model: metadata 'extractor' %s", "must be 1..256 characters");
        goto done;
    }
    if (!(c->extractor_id = polyp_strdup(ext))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "model: no memory");
        goto done;
    }
    /* Informational fields: tolerated when absent, refused when malformed. */
    if (polyp_st_meta(&f, "learning_rate") && (st = meta_double(&f, "learning_rate", &c->learning_rate, err)))
        goto done;
    if (polyp_st_meta(&f, "val_accuracy") && (st = meta_double(&f, "val_accuracy", &c->val_acc, err))) goto done;
    const char *acc = polyp_st_meta(&f, "ref_accuracy");
    if (acc) {
        polyp_json_doc doc;
        if (polyp_json_parse(acc, strlen(acc), NULL, &doc, err) != POLYP_OK) {
            st = polyp_fail_prefix(err, POLYP_ERR_FORMAT, "model: metadata 'ref_accuracy': ");
            goto done;
        }
        const polyp_json_value *a = polyp_json_root(&doc);
        if (a->type != POLYP_JSON_ARRAY || a->count > POLYP_CLF_MAX_EPOCHS) {
            polyp_json_free(&doc);
            st = bad(err, "model: metadata '%s' is not an array", "ref_accuracy");
            goto done;
        }
        c->ref_acc = polyp_calloc(a->count + 1, sizeof(double));
        if (!c->ref_acc) st = polyp_fail(err, POLYP_ERR_NOMEM, "model: no memory");
        for (const polyp_json_value *v = a->child; st == POLYP_OK && v; v = v->next) {
            if (v->type != POLYP_JSON_NUMBER) st = bad(err, "model: metadata '%s' holds a non-number", "ref_accuracy");
            else c->ref_acc[c->n_epochs++] = v->num;
        }
        polyp_json_free(&doc);
    }
done:
    polyp_st_free(&f);
    if (st != POLYP_OK) {
        polyp_classifier_free(c);
        return st;
    }
    *out = c;
    return POLYP_OK;
}

polyp_status polyp_classifier_load_file(const char *path, polyp_classifier **out, polyp_error *err) {
    void *data;
    size_t size;
    polyp_status st = polyp_read_file(path, &data, &size, err);
    if (st != POLYP_OK) return st;
    st = polyp_classifier_load(data, size, out, err);
    free(data);
    if (st != POLYP_OK) polyp_fail_prefix(err, st, "%s: ", path);
    return st;
}
