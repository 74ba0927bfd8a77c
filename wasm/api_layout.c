/* api_layout.c - the layout of every core struct that JS reads by field name, and of the enums
 * it passes, as one JSON text (SQLite's wasm ctype JSON is the model).
 *
 * Why: JS reads results (images, feature files, CSV rows, evaluations, the training report)
 * straight from the core's own structs instead of through one accessor function per field or
 * a positional array of numbers. Offsets and sizes come from the compiler (offsetof/sizeof),
 * so a field added or moved in polyp.h changes what JS reads without any hand-kept copy.
 * wasm/bindings.js turns this into struct readers.
 *
 * Field types (the element type; `count` > 1 for fixed arrays): u32, i32, size (size_t),
 * f64, ptr (any pointer), str (const char *, read as a string; null for NULL). The enums JS
 * passes (classifier kind, point method) come along, and polyp_status, against which
 * wasm/common.js's STATUS is checked at start-up. */
#include "api.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct field {
    const char *strct;
    size_t strct_size;
    const char *name;
    const char *type;
    size_t offset;
    size_t count;
} field;

/* JS's name of a field's C element type: the five JS can read (char * read as a string like
 * const char *), any other pointer "ptr", and "?" for scalars it cannot (JS refuses a layout
 * with one at start-up). */
#define POLYP_JS_TYPE(T)                                                                  \
    _Generic((T){0}, uint32_t: "u32", int: "i32", size_t: "size", double: "f64",           \
             const char *: "str", char *: "str", float: "?", uint8_t: "?", uint16_t: "?",  \
             uint64_t: "?", int64_t: "?", default: "ptr")

/* One field of struct S: member f of element type T. F for a scalar member, FA for a fixed
 * array (count = its length). The char array of size -1 makes a T that is not the member's
 * type a compile error, and the JS type is derived from T, so neither can be wrong. */
#define POLYP_CHECK(ok) (0 * sizeof(char[(ok) ? 1 : -1]))
#define F(S, f, T)                                          \
    {#S, sizeof(S), #f, POLYP_JS_TYPE(T), offsetof(S, f),   \
     1 + POLYP_CHECK(_Generic(((S *)0)->f, T: 1, default: 0))}
#define FA(S, f, T)                                         \
    {#S, sizeof(S), #f, POLYP_JS_TYPE(T), offsetof(S, f),   \
     sizeof(((S *)0)->f) / sizeof(T) + POLYP_CHECK(_Generic(((S *)0)->f, T *: 1, default: 0))}

static const field fields[] = {
    F(polyp_error, status, polyp_status),

    F(polyp_image, width, uint32_t),
    F(polyp_image, height, uint32_t),
    F(polyp_image, pixels, uint8_t *),
    F(polyp_image, truncated, int),

    F(polyp_features, npoints, size_t),
    F(polyp_features, dim, size_t),
    F(polyp_features, valid_rowcol, int),
    F(polyp_features, rows, uint16_t *),
    F(polyp_features, cols, uint16_t *),
    F(polyp_features, feat, float *),
    F(polyp_features, extractor, char *),

    F(polyp_annotations, count, size_t),
    F(polyp_annotations, items, polyp_annotation *),
    F(polyp_annotation, name, const char *),
    F(polyp_annotation, row, uint32_t),
    F(polyp_annotation, col, uint32_t),
    F(polyp_annotation, label, const char *),

    F(polyp_train_report, n_classes, size_t),
    FA(polyp_train_report, points, size_t),
    FA(polyp_train_report, images, size_t),
    FA(polyp_train_report, hidden, size_t),
    F(polyp_train_report, learning_rate, double),
    F(polyp_train_report, epochs_done, size_t),
    F(polyp_train_report, ref_accuracy_last, double),
    F(polyp_train_report, val_accuracy, double),

    F(polyp_label_metrics, precision, double),
    F(polyp_label_metrics, recall, double),
    F(polyp_label_metrics, f1, double),
    F(polyp_label_metrics, support, size_t),

    F(polyp_evaluation, n_points, size_t),
    F(polyp_evaluation, n_labels, size_t),
    F(polyp_evaluation, labels, char **),
    F(polyp_evaluation, accuracy, double),
    F(polyp_evaluation, macro_f1, double),
    F(polyp_evaluation, per_label, polyp_label_metrics *),
    F(polyp_evaluation, confusion, size_t *),
    FA(polyp_evaluation, alleviate_accuracy, double),
    FA(polyp_evaluation, alleviate_fraction, double),
};

/* The enums JS passes or reads, by their C names. */
#define E(en, name) {#en, #name, name}
static const struct { const char *enum_name, *name; int value; } enums[] = {
    E(polyp_status, POLYP_OK), E(polyp_status, POLYP_ERR_INVALID_ARG),
    E(polyp_status, POLYP_ERR_NOMEM), E(polyp_status, POLYP_ERR_IO),
    E(polyp_status, POLYP_ERR_FORMAT), E(polyp_status, POLYP_ERR_UNSUPPORTED),
    E(polyp_status, POLYP_ERR_LIMIT), E(polyp_status, POLYP_ERR_CANCELLED),
    E(polyp_status, POLYP_ERR_BACKEND),
    E(polyp_classifier_kind, POLYP_CLASSIFIER_MLP), E(polyp_classifier_kind, POLYP_CLASSIFIER_LR),
    E(polyp_points_method, POLYP_POINTS_RANDOM), E(polyp_points_method, POLYP_POINTS_STRATIFIED),
    E(polyp_points_method, POLYP_POINTS_GRID),
};

/* Appends to the JSON buffer; 0 once it is full (then the result is refused, never cut). */
static int put(char *buf, size_t cap, size_t *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *at) return 0;
    *at += (size_t)n;
    return 1;
}

/* {"structs": {"polyp_image": {"size": 16, "fields": {"width": {"offset": 0, "type": "u32",
 *  "count": 1}, ...}}, ...},
 *  "enums": {"polyp_status": {"POLYP_OK": 0, ...}, ...}}
 * Built once into a static buffer (about 3 KB); borrowed, never freed. */
const char *polyp_wasm_layout(void) {
    static char json[8192];
    if (json[0]) return json;
    size_t at = 0, cap = sizeof json;
    int ok = put(json, cap, &at, "{\"structs\":{");
    const char *open = NULL;
    for (size_t i = 0; ok && i < sizeof fields / sizeof *fields; i++) {
        const field *f = &fields[i];
        int same = open && strcmp(open, f->strct) == 0;
        if (!same) {
            ok = put(json, cap, &at, "%s\"%s\":{\"size\":%zu,\"fields\":{", open ? "}}," : "",
                     f->strct, f->strct_size);
            open = f->strct;
        }
        ok = ok && put(json, cap, &at, "%s\"%s\":{\"offset\":%zu,\"type\":\"%s\",\"count\":%zu}",
                       same ? "," : "", f->name, f->offset, f->type, f->count);
    }
    ok = ok && put(json, cap, &at, "}}},\"enums\":{");
    open = NULL;
    for (size_t i = 0; ok && i < sizeof enums / sizeof *enums; i++) {
        int same = open && strcmp(open, enums[i].enum_name) == 0;
        if (!same) ok = put(json, cap, &at, "%s\"%s\":{", open ? "}," : "", enums[i].enum_name);
        open = enums[i].enum_name;
        ok = ok && put(json, cap, &at, "%s\"%s\":%d", same ? "," : "", enums[i].name, enums[i].value);
    }
    ok = ok && put(json, cap, &at, "}}}");
    if (!ok) {
        json[0] = '\0';
        return "{\"error\":\"polyp_wasm_layout: the JSON outgrew its buffer\"}";
    }
    return json;
}
