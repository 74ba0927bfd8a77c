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

void polyp_wasm_csv_free(polyp_annotations *a) {
    if (!a) return;
    polyp_annotations_free(a);
    free(a);
}
