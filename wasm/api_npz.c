/* api_npz.c - pyspacer .featurevector (npz) files for the JS side (see api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

void *polyp_wasm_npz_write(const uint32_t *rowcol, size_t n, const float *feat, size_t dim,
                           const char *extractor, size_t *out_size, polyp_error *err) {
    uint16_t *rc = malloc(2 * (n ? n : 1) * sizeof *rc);   /* rows then cols */
    if (!rc) {
        if (err) { err->status = POLYP_ERR_NOMEM; snprintf(err->message, sizeof err->message, "npz: out of memory"); }
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (rowcol[2 * i] > UINT16_MAX || rowcol[2 * i + 1] > UINT16_MAX) {
            free(rc);
            if (err) {
                err->status = POLYP_ERR_INVALID_ARG;
                snprintf(err->message, sizeof err->message,
                         "npz: point %zu (%u, %u) does not fit the file's uint16 rows/cols", i,
                         (unsigned)rowcol[2 * i], (unsigned)rowcol[2 * i + 1]);
            }
            return NULL;
        }
        rc[i] = (uint16_t)rowcol[2 * i];
        rc[n + i] = (uint16_t)rowcol[2 * i + 1];
    }
    /* The core only reads the record (polyp_features is not const-correct for writers). */
    polyp_features f = {n, dim, 1, rc, rc + n, (float *)feat, (char *)extractor};
    void *out = NULL;
    polyp_status st = polyp_features_write_npz(&f, &out, out_size, err);
    free(rc);
    return st == POLYP_OK ? out : NULL;
}

polyp_features *polyp_wasm_npz_read(const void *data, size_t size, polyp_error *err) {
    polyp_features *f = calloc(1, sizeof *f);
    if (!f) {
        if (err) { err->status = POLYP_ERR_NOMEM; snprintf(err->message, sizeof err->message, "npz: out of memory"); }
        return NULL;
    }
    if (polyp_features_read_npz(data, size, f, err) != POLYP_OK) {
        free(f);
        return NULL;
    }
    return f;
}

void polyp_wasm_npz_free(polyp_features *f) {
    if (!f) return;
    polyp_features_free(f);
    free(f);
}
