/* api_csv.c - CoralNet annotation CSV import for the JS side (see api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

polyp_annotations *polyp_wasm_csv_parse(const void *data, size_t size, polyp_error *err) {
    polyp_annotations *a = calloc(1, sizeof *a);
    if (!a) {
        if (err) { err->status = POLYP_ERR_NOMEM; snprintf(err->message, sizeof err->message, "csv: out of memory"); }
        return NULL;
    }
    if (polyp_annotations_parse_csv(data, size, a, err) != POLYP_OK) {
        free(a);
        return NULL;
    }
    return a;
}

size_t polyp_wasm_csv_count(const polyp_annotations *a) { return a->count; }
const char *polyp_wasm_csv_name(const polyp_annotations *a, size_t i) { return a->items[i].name; }
uint32_t polyp_wasm_csv_row(const polyp_annotations *a, size_t i) { return a->items[i].row; }
uint32_t polyp_wasm_csv_col(const polyp_annotations *a, size_t i) { return a->items[i].col; }
const char *polyp_wasm_csv_label(const polyp_annotations *a, size_t i) { return a->items[i].label; }

void polyp_wasm_csv_free(polyp_annotations *a) {
    if (!a) return;
    polyp_annotations_free(a);
    free(a);
}
