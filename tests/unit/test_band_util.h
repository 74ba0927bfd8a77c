/* test_band_util.h - checks shared by test_image_band.c (fixtures) and
 * test_image_band_testdata.c (real photos): a decode of a band of rows against the full
 * decode of the same bytes, and every patch cropped from a band decode against the patch
 * from the full decode. The reference is always the full decode (a separate, plain
 * jpeg_read_scanlines pass), never a value captured from the band path. Header-only (static),
 * like test_image_util.h. */
#ifndef POLYP_TEST_BAND_UTIL_H
#define POLYP_TEST_BAND_UTIL_H

#include "polyp.h"
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TBU_PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)

/* numpy 'reflect' by its definition (mirror about the edge pixel, again and again while the
 * index is outside), not crop.c's periodic shortcut. */
static inline int64_t tbu_np_reflect(int64_t x, int64_t n) {
    if (n == 1) return 0;
    while (x < 0 || x >= n) {
        if (x < 0) x = -x;
        if (x >= n) x = 2 * (n - 1) - x;
    }
    return x;
}

/* The rows [*lo, *hi) a 224-row patch on each point reads, by brute force over its rows. */
static inline void tbu_rows_read(const polyp_point *pts, size_t n, uint32_t height, uint32_t *lo, uint32_t *hi) {
    int64_t mn = INT64_MAX, mx = -1;
    for (size_t i = 0; i < n; i++)
        for (int y = 0; y < POLYP_PATCH_SIZE; y++) {
            int64_t s = tbu_np_reflect((int64_t)pts[i].row - POLYP_PATCH_SIZE / 2 + y, height);
            if (s < mn) mn = s;
            if (s > mx) mx = s;
        }
    *lo = (uint32_t)mn;
    *hi = (uint32_t)(mx + 1);
}

/* Decodes rows [begin, end) of the file and compares with `full` (the same bytes decoded
 * whole): same size; the band the image reports covers the one asked for (clipped to the
 * image), and is exactly it when `exact`; every byte inside the reported band equals the full
 * decode's, every byte outside is zero. Returns the number of rows decoded. */
static inline uint32_t tbu_check_band(const char *name, const void *data, size_t size, const polyp_image *full,
                                      uint32_t begin, uint32_t end, int exact) {
    polyp_decode_params p = polyp_decode_default_params();
    p.row_begin = begin;
    p.row_end = end;
    polyp_image im;
    polyp_error err = {0};
    polyp_status st = polyp_image_decode(data, size, &p, &im, &err);
    ck_assert_msg(st == POLYP_OK, "%s rows %u..%u: %s", name, begin, end, err.message);
    ck_assert_msg(im.width == full->width && im.height == full->height, "%s rows %u..%u: %ux%u, full %ux%u", name,
                  begin, end, im.width, im.height, full->width, full->height);
    uint32_t want_end = end < full->height ? end : full->height;
    ck_assert_msg(im.row_begin <= begin && im.row_end >= want_end && im.row_end <= im.height,
                  "%s: asked rows %u..%u, decoded %u..%u", name, begin, end, im.row_begin, im.row_end);
    if (exact)
        ck_assert_msg(im.row_begin == begin && im.row_end == want_end, "%s: asked rows %u..%u, decoded %u..%u", name,
                      begin, end, im.row_begin, im.row_end);
    const size_t stride = (size_t)im.width * 3;
    for (uint32_t y = 0; y < im.height; y++) {
        const uint8_t *a = im.pixels + y * stride, *b = full->pixels + y * stride;
        if (y >= im.row_begin && y < im.row_end) {
            if (memcmp(a, b, stride) != 0) {
                size_t k = 0;
                while (a[k] == b[k]) k++;
                ck_abort_msg("%s rows %u..%u: row %u differs from the full decode at x %zu channel %zu: %u vs %u",
                             name, begin, end, y, k / 3, k % 3, a[k], b[k]);
            }
        } else {
            for (size_t k = 0; k < stride; k++)
                if (a[k]) ck_abort_msg("%s rows %u..%u: row %u outside the band is not zero", name, begin, end, y);
        }
    }
    uint32_t rows = im.row_end - im.row_begin;
    polyp_image_free(&im);
    return rows;
}

/* The band of `pts` (polyp_patch_rows; height known, or 0 = unknown as the CLI calls it),
 * a decode of that band, and every point's patch from it against the patch from `full`,
 * float for float. Returns the rows the band decode kept. */
static inline uint32_t tbu_check_patches(const char *name, const void *data, size_t size, const polyp_image *full,
                                         const polyp_point *pts, size_t n, int height_known) {
    polyp_decode_params p = polyp_decode_default_params();
    polyp_error err = {0};
    ck_assert_msg(polyp_patch_rows(pts, n, height_known ? full->height : 0, &p.row_begin, &p.row_end, &err) ==
                      POLYP_OK, "%s: %s", name, err.message);
    polyp_image im;
    ck_assert_msg(polyp_image_decode(data, size, &p, &im, &err) == POLYP_OK, "%s: %s", name, err.message);
    float *a = malloc(TBU_PATCH_FLOATS * sizeof *a), *b = malloc(TBU_PATCH_FLOATS * sizeof *b);
    ck_assert(a && b);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(polyp_patch_crop(&im, pts[i], a, &err) == POLYP_OK, "%s point %zu (row %u, col %u): %s", name,
                      i, pts[i].row, pts[i].col, err.message);
        ck_assert_msg(polyp_patch_crop(full, pts[i], b, &err) == POLYP_OK, "%s: %s", name, err.message);
        if (memcmp(a, b, TBU_PATCH_FLOATS * sizeof *a) != 0)
            ck_abort_msg("%s: the patch of point %zu (row %u, col %u) from rows %u..%u differs from the full decode's",
                         name, i, pts[i].row, pts[i].col, im.row_begin, im.row_end);
    }
    free(a);
    free(b);
    uint32_t rows = im.row_end - im.row_begin;
    polyp_image_free(&im);
    return rows;
}

/* xorshift64*: seeded random points, the same on every run. */
static inline uint64_t tbu_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

#endif
