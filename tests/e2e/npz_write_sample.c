/* npz_write_sample.c - writes a feature file with polyp_features_write_npz for
 * tests/e2e/check_npz.py, which loads it with numpy and checks every value.
 *
 * usage: npz_write_sample OUT.npz VALID_ROWCOL NPOINTS DIM
 * Values (check_npz.py computes the same ones independently):
 *   feat[i][j] = ((i * 131 + j * 7) % 1000) / 8 - 60   (exact in float32)
 *   except feat[0][0..4] = -0.0, 0.1f, FLT_MAX, FLT_MIN, 1e-40f (a float32 subnormal)
 *   rows[i] = (i * 2477) % 65536, cols[i] = 65535 - i */
#include "polyp.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s OUT.npz VALID_ROWCOL NPOINTS DIM [EXTRACTOR_RECORD]\n", argv[0]);
        return 2;
    }
    int valid = atoi(argv[2]);
    size_t n = (size_t)strtoull(argv[3], NULL, 10), d = (size_t)strtoull(argv[4], NULL, 10);
    float *feat = malloc((n * d != 0 ? n * d : 1) * sizeof *feat);
    uint16_t *rows = malloc((n ? n : 1) * sizeof *rows), *cols = malloc((n ? n : 1) * sizeof *cols);
    if (!feat || !rows || !cols) return 1;
    for (size_t i = 0; i < n; i++) {
        rows[i] = (uint16_t)((i * 2477) % 65536);
        cols[i] = (uint16_t)(65535 - i);
        for (size_t j = 0; j < d; j++) feat[i * d + j] = (float)((i * 131 + j * 7) % 1000) / 8.0f - 60.0f;
    }
    const float special[5] = {-0.0f, 0.1f, FLT_MAX, FLT_MIN, 1e-40f};
    for (size_t j = 0; j < 5 && n > 0 && j < d; j++) feat[j] = special[j];
    polyp_features f = {n, d, valid, valid ? rows : NULL, valid ? cols : NULL, feat, argc == 6 ? argv[5] : NULL};
    void *buf;
    size_t size;
    polyp_error err = {0};
    if (polyp_features_write_npz(&f, &buf, &size, &err) != POLYP_OK) {
        fprintf(stderr, "npz_write_sample: %s\n", err.message);
        return 1;
    }
    FILE *fp = fopen(argv[1], "wb");
    if (!fp || fwrite(buf, 1, size, fp) != size || fclose(fp) != 0) {
        fprintf(stderr, "npz_write_sample: cannot write %s\n", argv[1]);
        return 1;
    }
    polyp_free(buf);
    free(feat);
    free(rows);
    free(cols);
    return 0;
}
