/* test_image_util.h - helpers for the image and crop tests: FNV-1a (the hash
 * tests/fixtures/make_image_fixtures.py writes), a tiny CSV reader for those fixtures, and the
 * checks shared by test_image.c, test_image_testdata.c and test_crop.c. Header-only (static)
 * so it is not linked into every other test executable. */
#ifndef POLYP_TEST_IMAGE_UTIL_H
#define POLYP_TEST_IMAGE_UTIL_H

#include "polyp.h"
#include "testutil.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t tiu_fnv1a64(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A fixture CSV split into rows of fields (no quoting: the fixtures never need it). */
#define TIU_MAX_FIELDS 12
typedef struct tiu_csv {
    char *text;
    size_t nrows;             /* data rows, header excluded */
    char *(*rows)[TIU_MAX_FIELDS];
    int nfields;
    char *header[TIU_MAX_FIELDS];
} tiu_csv;

static inline int tiu_split(char *line, char **fields) {
    int n = 0;
    for (char *p = line; n < TIU_MAX_FIELDS;) {
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static inline void tiu_csv_read(const char *rel, tiu_csv *csv) {
    size_t size;
    char *raw = tu_read(tu_source_path(rel), &size);
    csv->text = malloc(size + 1);
    ck_assert_ptr_nonnull(csv->text);
    memcpy(csv->text, raw, size);
    csv->text[size] = '\0';
    free(raw);
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += csv->text[i] == '\n';
    csv->rows = calloc(lines + 1, sizeof *csv->rows);
    ck_assert_ptr_nonnull(csv->rows);
    csv->nrows = 0;
    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(csv->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) {
            csv->nfields = tiu_split(line, csv->header);
            first = 0;
            continue;
        }
        char **f = csv->rows[csv->nrows++];
        for (int k = 0; k < TIU_MAX_FIELDS; k++) f[k] = "";
        tiu_split(line, f);
    }
    ck_assert_msg(csv->nrows > 0, "%s has no rows", rel);
}

static inline int tiu_col(const tiu_csv *csv, const char *name) {
    for (int k = 0; k < csv->nfields; k++)
        if (strcmp(csv->header[k], name) == 0) return k;
    ck_abort_msg("fixture column %s missing", name);
    return -1;
}

static inline void tiu_csv_free(tiu_csv *csv) {
    free(csv->text);
    free(csv->rows);
}

/* Compares a decoded image with one fixture row: dimensions, truncated flag, hash of the RGB
 * bytes, the sampled pixels ("x:y:r:g:b;...") and, when present, the full RGB hex. */
static inline void tiu_check_pixels(const char *name, const polyp_image *im, const tiu_csv *csv,
                                    char **row) {
    unsigned w = (unsigned)strtoul(row[tiu_col(csv, "width")], NULL, 10);
    unsigned h = (unsigned)strtoul(row[tiu_col(csv, "height")], NULL, 10);
    int trunc = atoi(row[tiu_col(csv, "truncated")]);
    ck_assert_msg(im->width == w && im->height == h, "%s: %ux%u, Pillow %ux%u", name,
                  (unsigned)im->width, (unsigned)im->height, w, h);
    ck_assert_msg(im->truncated == trunc, "%s: truncated=%d, expected %d", name, im->truncated, trunc);
    /* Sampled pixels first: a mismatch there says where. */
    char samples[4096];
    snprintf(samples, sizeof samples, "%s", row[tiu_col(csv, "samples")]);
    char *save = NULL;
    for (char *s = strtok_r(samples, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
        unsigned x, y, r, g, b;
        ck_assert_msg(sscanf(s, "%u:%u:%u:%u:%u", &x, &y, &r, &g, &b) == 5, "bad sample %s", s);
        const uint8_t *p = im->pixels + ((size_t)y * im->width + x) * 3;
        ck_assert_msg(p[0] == r && p[1] == g && p[2] == b,
                      "%s: pixel (x %u, y %u) = %u,%u,%u, Pillow %u,%u,%u", name, x, y, p[0], p[1],
                      p[2], r, g, b);
    }
    size_t n = (size_t)w * h * 3;
    for (int k = 0; k < csv->nfields; k++) {
        if (strcmp(csv->header[k], "rgb_hex") != 0 || row[k][0] == '\0') continue;
        ck_assert_uint_eq(strlen(row[k]), n * 2);
        for (size_t i = 0; i < n; i++) {
            unsigned v;
            sscanf(row[k] + 2 * i, "%2x", &v);
            if (im->pixels[i] != v)
                ck_abort_msg("%s: byte %zu (x %zu, y %zu, c %zu) = %u, Pillow %u",
                          name, i, (i / 3) % w, i / 3 / w, i % 3, im->pixels[i], v);
        }
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, tiu_fnv1a64(im->pixels, n));
    ck_assert_msg(strcmp(hash, row[tiu_col(csv, "fnv1a64")]) == 0,
                  "%s: RGB hash %s, Pillow's %s", name, hash, row[tiu_col(csv, "fnv1a64")]);
}

/* Crops every fixture row of crops.csv whose source is `source` from `im` and compares the
 * float patch bit-for-bit (hash of the float32 bytes) and the uint8 values behind it. Returns
 * the number of rows checked. */
static inline size_t tiu_check_crops(const tiu_csv *csv, const char *source, const polyp_image *im) {
    int cs = tiu_col(csv, "source"), cw = tiu_col(csv, "width"), ch = tiu_col(csv, "height");
    int cr = tiu_col(csv, "row"), cc = tiu_col(csv, "col"), cu8 = tiu_col(csv, "fnv1a64_u8");
    int cf = tiu_col(csv, "fnv1a64_f32"), cctr = tiu_col(csv, "centre_rgb");
    size_t checked = 0;
    float *patch = malloc(sizeof(float) * POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3);
    uint8_t *u8 = malloc(POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3);
    ck_assert(patch && u8);
    for (size_t i = 0; i < csv->nrows; i++) {
        char **row = csv->rows[i];
        if (strcmp(row[cs], source) != 0) continue;
        if (strtoul(row[cw], NULL, 10) != im->width || strtoul(row[ch], NULL, 10) != im->height)
            continue;
        polyp_point pt = {(uint32_t)strtoul(row[cr], NULL, 10), (uint32_t)strtoul(row[cc], NULL, 10)};
        polyp_error err = {0};
        ck_assert_msg(polyp_patch_crop(im, pt, patch, &err) == POLYP_OK, "%s", err.message);
        const size_t n = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
        for (size_t k = 0; k < n; k++) {
            /* Every float must be exactly some uint8 / 255 (float32 division). */
            float v = patch[k] * 255.0f;
            long q = (long)(v + 0.5f);
            /* plain `if` in hot loops: every ck_assert call writes to Check's pipe */
            if (!(q >= 0 && q <= 255 && patch[k] == (float)q / 255.0f))
                ck_abort_msg("%s %ux%u point (%u,%u): patch value %zu = %.9g is not a uint8/255",
                          source, (unsigned)im->width, (unsigned)im->height, pt.row, pt.col, k,
                          (double)patch[k]);
            u8[k] = (uint8_t)q;
        }
        unsigned r, g, b;
        ck_assert(sscanf(row[cctr], "%u:%u:%u", &r, &g, &b) == 3);
        const uint8_t *c = u8 + ((size_t)112 * POLYP_PATCH_SIZE + 112) * 3;
        ck_assert_msg(c[0] == r && c[1] == g && c[2] == b, "%s point (%u,%u): centre %u,%u,%u, numpy %u,%u,%u",
                      source, pt.row, pt.col, c[0], c[1], c[2], r, g, b);
        char hash[17];
        snprintf(hash, sizeof hash, "%016" PRIx64, tiu_fnv1a64(u8, n));
        ck_assert_msg(strcmp(hash, row[cu8]) == 0, "%s %ux%u point (%u,%u): uint8 patch hash %s, numpy %s",
                      source, (unsigned)im->width, (unsigned)im->height, pt.row, pt.col, hash, row[cu8]);
        /* The floats themselves, little-endian float32 as numpy wrote them. */
        uint64_t hf = 0xcbf29ce484222325ULL;
        for (size_t k = 0; k < n; k++) {
            uint32_t bits;
            memcpy(&bits, &patch[k], 4);
            for (int j = 0; j < 4; j++) {
                hf ^= (uint8_t)(bits >> (8 * j));
                hf *= 0x100000001b3ULL;
            }
        }
        snprintf(hash, sizeof hash, "%016" PRIx64, hf);
        ck_assert_msg(strcmp(hash, row[cf]) == 0, "%s point (%u,%u): float patch hash %s, numpy %s",
                      source, pt.row, pt.col, hash, row[cf]);
        checked++;
    }
    free(patch);
    free(u8);
    return checked;
}

#endif
