/* fuzz_npz.c - libFuzzer target for the feature-file reader (npz: zip, deflate, npy headers).
 * Build and run: tests/fuzz/run.sh (README.md, Correctness).
 * Beyond "no crash": a failure says why and leaves the output empty; a file that reads is
 * consistent (rows/cols present exactly when valid_rowcol), and writing it back and reading
 * that again gives the same features, bit for bit. */
#include "polyp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_abort(const polyp_features *a, const polyp_features *b) {
    if (a->npoints != b->npoints || a->dim != b->dim || a->valid_rowcol != b->valid_rowcol) abort();
    size_t n = a->npoints;
    if (n && a->dim && memcmp(a->feat, b->feat, n * a->dim * sizeof(float)) != 0) abort();
    if (a->valid_rowcol && n &&
        (memcmp(a->rows, b->rows, n * sizeof(uint16_t)) != 0 || memcmp(a->cols, b->cols, n * sizeof(uint16_t)) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_features f;
    polyp_error err;
    err.message[0] = '\0';
    if (polyp_features_read_npz(data, size, &f, &err) != POLYP_OK) {
        if (err.message[0] == '\0') abort(); /* every failure must say why */
        if (f.feat || f.rows || f.cols) abort();
        return 0;
    }
    if (f.npoints && f.dim && !f.feat) abort();
    if (f.valid_rowcol && f.npoints && (!f.rows || !f.cols)) abort();
    if (!f.valid_rowcol && (f.rows || f.cols)) abort();
    void *npz = NULL;
    size_t npz_size = 0;
    if (polyp_features_write_npz(&f, &npz, &npz_size, &err) != POLYP_OK) abort();
    polyp_features again;
    if (polyp_features_read_npz(npz, npz_size, &again, &err) != POLYP_OK) abort();
    same_or_abort(&f, &again);
    polyp_features_free(&again);
    polyp_free(npz);
    polyp_features_free(&f);
    return 0;
}
