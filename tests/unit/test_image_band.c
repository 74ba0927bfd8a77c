/* test_image_band.c - decoding only the rows the points need (polyp_decode_params.row_begin /
 * row_end, polyp_patch_rows), on the project's own fixtures; needs no ../shared/testdata (see
 * test_image_band_testdata.c for real photos).
 * - polyp_patch_rows against hand-worked values and against a brute force over every patch
 *   row with numpy's reflect written out by its definition;
 * - for every first row of every JPEG fixture (baseline 4:2:0 / 4:2:2 / 4:4:4, odd sizes,
 *   gray, CMYK, progressive, truncated baseline and progressive; the tall ones in
 *   tests/fixtures/images/band/ from make_band_fixtures.py), the band's rows equal the full
 *   decode's and the rest is zero;
 * - random point sets: every patch from the band decode equals the full decode's;
 * - PNG ignores the band; empty bands are refused; crop refuses rows outside the band;
 * - pixels from a caller's polyp_pixel_allocator (dirty memory) are the same inside the band. */
#include "polyp.h"
#include "test_band_util.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PS POLYP_PATCH_SIZE

/* name, exact: 1 when the decode must keep exactly the band asked for (complete JPEGs);
 * truncated files may fall back to a full decode. */
static const struct {
    const char *name;
    int exact;
} jpegs[] = {
    {"band/band_420.jpg", 1},          {"band/band_422.jpg", 1},
    {"band/band_444.jpg", 1},          {"band/band_odd_420.jpg", 1},
    {"band/band_gray.jpg", 1},         {"band/band_cmyk.jpg", 1},
    {"band/band_progressive_420.jpg", 1}, {"band/band_progressive_444.jpg", 1},
    {"band/band_truncated_420.jpg", 0}, {"band/band_truncated_progressive.jpg", 0},
    {"synthetic/rgb420.jpg", 1},       {"synthetic/rgb422.jpg", 1},
    {"synthetic/rgb444.jpg", 1},       {"synthetic/odd_420.jpg", 1},
    {"synthetic/gray.jpg", 1},         {"synthetic/cmyk.jpg", 1},
    {"synthetic/progressive.jpg", 1},  {"synthetic/px1x1.jpg", 1},
    {"synthetic/truncated.jpg", 0},    {"synthetic/truncated_progressive.jpg", 0},
};
#define NJPEGS (sizeof jpegs / sizeof jpegs[0])

static void *read_fixture(const char *name, size_t *size) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/images/%s", name);
    return tu_read(tu_source_path(rel), size);
}

static polyp_image decode_full(const char *name, const void *data, size_t size) {
    polyp_image im;
    polyp_error err = {0};
    ck_assert_msg(polyp_image_decode(data, size, NULL, &im, &err) == POLYP_OK, "%s: %s", name, err.message);
    ck_assert_uint_eq(im.row_begin, 0);
    ck_assert_uint_eq(im.row_end, im.height);
    return im;
}

static void rows_of(uint32_t row, uint32_t height, uint32_t *b, uint32_t *e) {
    polyp_point p = {row, 0};
    polyp_error err = {0};
    ck_assert_msg(polyp_patch_rows(&p, 1, height, b, e, &err) == POLYP_OK, "%s", err.message);
}

/* Worked by hand from the crop: rows row-112 .. row+111, mirrored about rows 0 and h-1. */
START_TEST(test_patch_rows_hand_values) {
    uint32_t b, e;
    rows_of(0, 3000, &b, &e); /* rows -112..111: -112 mirrors to 112 */
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 113);
    rows_of(1, 3000, &b, &e); /* -111..112: -111 mirrors to 111 */
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 113);
    rows_of(5, 3000, &b, &e); /* -107..116 */
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 117);
    rows_of(112, 3000, &b, &e); /* 0..223, no mirror */
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 224);
    rows_of(113, 3000, &b, &e); /* 1..224 */
    ck_assert_uint_eq(b, 1); ck_assert_uint_eq(e, 225);
    rows_of(1500, 3000, &b, &e); /* 1388..1611 */
    ck_assert_uint_eq(b, 1388); ck_assert_uint_eq(e, 1612);
    rows_of(2950, 3000, &b, &e); /* 2838..3061: 3000..3061 mirror to 2998..2937 */
    ck_assert_uint_eq(b, 2838); ck_assert_uint_eq(e, 3000);
    rows_of(2999, 3000, &b, &e); /* 2887..3110: 3000.. mirror to 2998..2888 */
    ck_assert_uint_eq(b, 2887); ck_assert_uint_eq(e, 3000);
    rows_of(2999, 0, &b, &e); /* height unknown: the decoder clips 3111 to the height */
    ck_assert_uint_eq(b, 2887); ck_assert_uint_eq(e, 3111);
    rows_of(50, 100, &b, &e); /* the pad is wider than the image: every row */
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 100);
    rows_of(0, 1, &b, &e);
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 1);

    /* Several points: from the top of the highest patch to the bottom of the lowest. */
    polyp_point pts[3] = {{2000, 7}, {500, 9}, {1200, 3}};
    polyp_error err = {0};
    ck_assert_int_eq(polyp_patch_rows(pts, 3, 3000, &b, &e, &err), POLYP_OK);
    ck_assert_uint_eq(b, 388); ck_assert_uint_eq(e, 2112);

    /* No points: 0/0, i.e. decode everything. */
    ck_assert_int_eq(polyp_patch_rows(NULL, 0, 3000, &b, &e, &err), POLYP_OK);
    ck_assert_uint_eq(b, 0); ck_assert_uint_eq(e, 0);

    /* A point below the image (height known) is an error naming it. */
    polyp_point out[2] = {{10, 0}, {3000, 5}};
    ck_assert_int_eq(polyp_patch_rows(out, 2, 3000, &b, &e, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "point 2") && strstr(err.message, "3000"), "%s", err.message);
    ck_assert_int_eq(polyp_patch_rows(out, 1, 3000, NULL, &e, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_int_eq(polyp_patch_rows(NULL, 1, 3000, &b, &e, &err), POLYP_ERR_INVALID_ARG);
}
END_TEST

/* For every row of many heights (tiny, around the patch size, tall), one point at a time
 * and random pairs: the band equals the rows the patches read, brute force; with the height
 * unknown, the band clipped to the height is the same. */
START_TEST(test_patch_rows_equal_brute_force) {
    static const uint32_t heights[] = {1,   2,   3,   5,   17,  56,  57,  100, 111, 112, 113, 114,
                                       150, 223, 224, 225, 226, 300, 335, 336, 337, 449, 1000};
    uint64_t seed = 12345;
    for (size_t k = 0; k < sizeof heights / sizeof heights[0]; k++) {
        const uint32_t h = heights[k];
        for (uint32_t r = 0; r < h; r++) {
            polyp_point pts[2] = {{r, 0}, {(uint32_t)(tbu_rand(&seed) % h), 0}};
            for (size_t n = 1; n <= 2; n++) {
                uint32_t lo, hi, b, e, ub, ue;
                tbu_rows_read(pts, n, h, &lo, &hi);
                ck_assert_int_eq(polyp_patch_rows(pts, n, h, &b, &e, NULL), POLYP_OK);
                if (b != lo || e != hi)
                    ck_abort_msg("height %u, points (%u, %u) of %zu: band %u..%u, the patches read %u..%u", h, r,
                                 pts[1].row, n, b, e, lo, hi);
                ck_assert_int_eq(polyp_patch_rows(pts, n, 0, &ub, &ue, NULL), POLYP_OK);
                if (ue > h) ue = h;
                if (ub != b || ue != e)
                    ck_abort_msg("height %u, row %u: unknown-height band %u..%u, known %u..%u", h, r, ub, ue, b, e);
            }
        }
    }
}
END_TEST

/* Every first row, a few lengths each (1 row, a bit over an iMCU row, to the end, past the
 * end): the band's rows are the full decode's, byte for byte. */
START_TEST(test_band_rows_equal_full_decode) {
    uint64_t banded_rows = 0, full_rows = 0;
    for (size_t f = 0; f < NJPEGS; f++) {
        size_t size;
        void *data = read_fixture(jpegs[f].name, &size);
        polyp_image full = decode_full(jpegs[f].name, data, size);
        const uint32_t h = full.height;
        for (uint32_t b = 0; b < h; b++) {
            const uint32_t ends[] = {b + 1, b + 17, h, h + 40};
            for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
                if (ends[k] > h && k != 3) continue;
                banded_rows += tbu_check_band(jpegs[f].name, data, size, &full, b, ends[k], jpegs[f].exact);
                full_rows += h;
            }
        }
        polyp_image_free(&full);
        free(data);
    }
    /* Something was skipped: a test of a decoder that ignores the band would stop here. */
    ck_assert_msg(banded_rows < full_rows / 2, "band decodes kept %llu of %llu rows", (unsigned long long)banded_rows,
                  (unsigned long long)full_rows);
}
END_TEST

/* Random point sets (1 to 6 points; rows anywhere, and often near the top or bottom edge):
 * every patch from the band decode equals the full decode's, with the height known or not. */
START_TEST(test_band_patches_equal_full_decode) {
    uint64_t seed = 99;
    for (size_t f = 0; f < NJPEGS; f++) {
        size_t size;
        void *data = read_fixture(jpegs[f].name, &size);
        polyp_image full = decode_full(jpegs[f].name, data, size);
        for (int trial = 0; trial < 60; trial++) {
            polyp_point pts[6];
            size_t n = 1 + tbu_rand(&seed) % 6;
            for (size_t i = 0; i < n; i++) {
                uint32_t r = (uint32_t)(tbu_rand(&seed) % full.height);
                if (trial % 3 == 1) r = (uint32_t)(tbu_rand(&seed) % 4) % full.height;             /* top edge */
                if (trial % 3 == 2) r = full.height - 1 - (uint32_t)(tbu_rand(&seed) % 4) % full.height; /* bottom */
                pts[i].row = r;
                pts[i].col = (uint32_t)(tbu_rand(&seed) % full.width);
            }
            tbu_check_patches(jpegs[f].name, data, size, &full, pts, n, trial % 2);
        }
        polyp_image_free(&full);
        free(data);
    }
}
END_TEST

/* A point on one of the tall fixtures whose patch fits well inside: fewer rows decoded. */
START_TEST(test_band_decodes_fewer_rows) {
    size_t size;
    void *data = read_fixture("band/band_420.jpg", &size);
    polyp_image full = decode_full("band_420", data, size);
    polyp_point p = {150, 20};
    uint32_t rows = tbu_check_patches("band_420", data, size, &full, &p, 1, 0);
    ck_assert_uint_eq(rows, 224); /* rows 38..261 of 300 */
    polyp_image_free(&full);
    free(data);
}
END_TEST

/* stb formats decode every row whatever the band; an empty band is refused; a band that
 * starts below the image decodes everything (the caller's points are then outside it, which
 * the crop and the CLI report). */
START_TEST(test_band_other_formats_and_refusals) {
    size_t size;
    void *png = read_fixture("synthetic/rgb16.png", &size);
    polyp_image full = decode_full("rgb16.png", png, size);
    tbu_check_band("rgb16.png", png, size, &full, 1, 2, 0);
    polyp_decode_params p = polyp_decode_default_params();
    p.row_begin = 1;
    p.row_end = 2;
    polyp_image im;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_image_decode(png, size, &p, &im, &err), POLYP_OK);
    ck_assert_uint_eq(im.row_begin, 0);
    ck_assert_uint_eq(im.row_end, im.height);
    polyp_image_free(&im);
    polyp_image_free(&full);
    free(png);

    void *jpg = read_fixture("band/band_420.jpg", &size);
    p.row_begin = 40;
    p.row_end = 40;
    ck_assert_int_eq(polyp_image_decode(jpg, size, &p, &im, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "40..40"), "%s", err.message);
    ck_assert_ptr_null(im.pixels);
    p.row_begin = 41;
    ck_assert_int_eq(polyp_image_decode(jpg, size, &p, &im, &err), POLYP_ERR_INVALID_ARG);
    p.row_begin = 0; /* 0..40: a band from the top */
    ck_assert_int_eq(polyp_image_decode(jpg, size, &p, &im, &err), POLYP_OK);
    ck_assert_uint_eq(im.row_begin, 0);
    ck_assert_uint_eq(im.row_end, 40);
    polyp_image_free(&im);
    p.row_begin = 300; /* the image has rows 0..299 */
    p.row_end = 400;
    ck_assert_int_eq(polyp_image_decode(jpg, size, &p, &im, &err), POLYP_OK);
    ck_assert_uint_eq(im.row_begin, 0);
    ck_assert_uint_eq(im.row_end, 300);
    polyp_image_free(&im);
    free(jpg);
}
END_TEST

/* A polyp_pixel_allocator that hands out dirty memory (as a reused buffer is), counts its
 * calls, and can be told to fail. */
typedef struct dirty_alloc {
    int allocs, releases, fail;
    void *last;       /* what alloc returned last */
    void *released;   /* what release was given last */
} dirty_alloc;

static void *dirty_alloc_fn(void *ctx, size_t size) {
    dirty_alloc *d = ctx;
    d->allocs++;
    if (d->fail) return NULL;
    d->last = malloc(size);
    if (d->last) memset(d->last, 0xA5, size);
    return d->last;
}

static void dirty_release_fn(void *ctx, void *pixels) {
    dirty_alloc *d = ctx;
    d->releases++;
    d->released = pixels;
    free(pixels);
}

/* Pixels from a caller's allocator: every JPEG fixture (truncated ones included: the rows
 * its data never reaches must come out zero, as in fresh memory), whole and in bands, equals
 * the plain decode inside the band; the buffer is the allocator's and goes back to it once;
 * a failing allocator is out of memory; other formats do not use it. */
START_TEST(test_band_pixel_allocator) {
    dirty_alloc d = {0};
    const polyp_pixel_allocator pa = {dirty_alloc_fn, dirty_release_fn, &d};
    for (size_t f = 0; f < NJPEGS; f++) {
        size_t size;
        void *data = read_fixture(jpegs[f].name, &size);
        polyp_image full = decode_full(jpegs[f].name, data, size);
        const uint32_t h = full.height, stride = full.width * 3;
        const uint32_t bands[][2] = {{0, 0}, {h / 3, h / 3 + 20}, {h / 2, h}};
        for (size_t k = 0; k < 3; k++) {
            if (bands[k][1] && bands[k][1] <= bands[k][0]) continue;
            polyp_decode_params p = polyp_decode_default_params();
            p.row_begin = bands[k][0];
            p.row_end = bands[k][1];
            p.allocator = &pa;
            polyp_image im;
            polyp_error err = {0};
            int allocs = d.allocs, releases = d.releases;
            ck_assert_msg(polyp_image_decode(data, size, &p, &im, &err) == POLYP_OK, "%s: %s", jpegs[f].name,
                          err.message);
            ck_assert_ptr_eq(im.allocator, &pa);
            ck_assert_ptr_eq(im.pixels, d.last);
            ck_assert_msg(im.row_begin <= bands[k][0] && im.row_end <= h, "%s", jpegs[f].name);
            for (uint32_t y = im.row_begin; y < im.row_end; y++)
                if (memcmp(im.pixels + (size_t)y * stride, full.pixels + (size_t)y * stride, stride) != 0)
                    ck_abort_msg("%s rows %u..%u from the allocator: row %u differs from the plain decode%s",
                                 jpegs[f].name, bands[k][0], bands[k][1], y,
                                 full.truncated ? " (a truncated file: rows past its data must be zero)" : "");
            /* a truncated band decode is redone whole: two buffers, the first given back */
            ck_assert_int_eq(d.allocs - allocs - (d.releases - releases), 1);
            void *px = im.pixels;
            polyp_image_free(&im);
            ck_assert_ptr_eq(d.released, px);
            ck_assert_int_eq(d.allocs - d.releases, 0);
        }
        polyp_image_free(&full);
        free(data);
    }

    /* Every cut of a baseline and a progressive file (what a photo still arriving looks
     * like): where the plain decode succeeds, the allocator's pixels equal its own. Some cuts
     * stop the decoder before rows it never writes (a suspension), which fresh memory leaves
     * black and the allocator's dirty buffer must too. */
    static const char *const cuts[] = {"synthetic/rgb420.jpg", "synthetic/progressive.jpg"};
    int decoded = 0;
    for (size_t c = 0; c < 2; c++) {
        size_t whole;
        uint8_t *bytes = read_fixture(cuts[c], &whole);
        for (size_t len = 2; len < whole; len++) {
            polyp_image plain, im;
            polyp_error err = {0};
            if (polyp_image_decode(bytes, len, NULL, &plain, &err) != POLYP_OK) continue;
            polyp_decode_params p = polyp_decode_default_params();
            p.allocator = &pa;
            ck_assert_msg(polyp_image_decode(bytes, len, &p, &im, &err) == POLYP_OK, "%s cut at %zu: %s", cuts[c],
                          len, err.message);
            const size_t n = (size_t)plain.width * plain.height * 3;
            if (im.width != plain.width || im.height != plain.height || memcmp(im.pixels, plain.pixels, n) != 0)
                ck_abort_msg("%s cut at %zu bytes: the allocator's pixels differ from the plain decode's", cuts[c], len);
            decoded++;
            polyp_image_free(&im);
            polyp_image_free(&plain);
        }
        free(bytes);
    }
    ck_assert_int_gt(decoded, 100);
    ck_assert_int_eq(d.allocs - d.releases, 0);

    /* out of memory from the allocator: an error, nothing to give back */
    size_t size;
    void *jpg = read_fixture("band/band_420.jpg", &size);
    polyp_decode_params p = polyp_decode_default_params();
    p.allocator = &pa;
    d.fail = 1;
    polyp_image im;
    polyp_error err = {0};
    int releases = d.releases;
    ck_assert_int_eq(polyp_image_decode(jpg, size, &p, &im, &err), POLYP_ERR_NOMEM);
    ck_assert_ptr_null(im.pixels);
    ck_assert_int_eq(d.releases, releases);
    free(jpg);

    /* PNG (stb) allocates its own: the allocator is not called, and the image does not name it */
    d.fail = 0;
    void *png = read_fixture("synthetic/rgb16.png", &size);
    int allocs = d.allocs;
    ck_assert_int_eq(polyp_image_decode(png, size, &p, &im, &err), POLYP_OK);
    ck_assert_int_eq(d.allocs, allocs);
    ck_assert_ptr_null(im.allocator);
    polyp_image_free(&im);
    ck_assert_int_eq(d.releases, releases);
    free(png);
}
END_TEST

/* A patch that would read a row outside the decoded band is refused, naming the row; the
 * rows just inside are accepted. */
START_TEST(test_crop_refuses_rows_outside_band) {
    size_t size;
    void *jpg = read_fixture("band/band_420.jpg", &size);
    polyp_decode_params p = polyp_decode_default_params();
    polyp_point pt = {150, 20};
    polyp_error err = {0};
    ck_assert_int_eq(polyp_patch_rows(&pt, 1, 0, &p.row_begin, &p.row_end, &err), POLYP_OK);
    polyp_image im;
    ck_assert_int_eq(polyp_image_decode(jpg, size, &p, &im, &err), POLYP_OK);
    ck_assert_uint_eq(im.row_begin, 38);
    ck_assert_uint_eq(im.row_end, 262);
    float *patch = malloc(sizeof(float) * PS * PS * 3);
    ck_assert_int_eq(polyp_patch_crop(&im, pt, patch, &err), POLYP_OK);
    polyp_point up = {149, 20}, down = {151, 20};
    ck_assert_int_eq(polyp_patch_crop(&im, up, patch, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "row 37") && strstr(err.message, "38..261"), "%s", err.message);
    ck_assert_int_eq(polyp_patch_crop(&im, down, patch, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "row 262"), "%s", err.message);
    free(patch);
    polyp_image_free(&im);
    free(jpg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("image_band");
    TCase *tc = tcase_create("image_band");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_patch_rows_hand_values);
    tcase_add_test(tc, test_patch_rows_equal_brute_force);
    tcase_add_test(tc, test_band_rows_equal_full_decode);
    tcase_add_test(tc, test_band_patches_equal_full_decode);
    tcase_add_test(tc, test_band_decodes_fewer_rows);
    tcase_add_test(tc, test_band_other_formats_and_refusals);
    tcase_add_test(tc, test_crop_refuses_rows_outside_band);
    tcase_add_test(tc, test_band_pixel_allocator);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
