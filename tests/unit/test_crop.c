/* test_crop.c - polyp_patch_crop against numpy's np.pad(..., mode='reflect') crops
 * (tests/fixtures/images/crops.csv, made by tests/fixtures/make_image_fixtures.py). The
 * source images are generated here by the same formula as in the fixture script, so this test
 * needs neither the decoder nor ../shared/testdata. */
#include "polyp.h"
#include "test_image_util.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define PS POLYP_PATCH_SIZE

/* v(y, x, c) = (37*y + 11*x + 71*c + ((x*y) ^ (3*c))) mod 256, as formula_image() in the script. */
static polyp_image formula_image(uint32_t w, uint32_t h) {
    polyp_image im = {.width = w, .height = h, .pixels = malloc((size_t)w * h * 3)};
    ck_assert_ptr_nonnull(im.pixels);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < 3; c++)
                im.pixels[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)((37 * y + 11 * x + 71 * c + ((x * y) ^ (3 * c))) % 256);
    return im;
}

START_TEST(test_crop_matches_numpy) {
    tiu_csv csv;
    tiu_csv_read("tests/fixtures/images/crops.csv", &csv);
    static const uint32_t sizes[][2] = {{1, 1}, {5, 1}, {1, 5}, {3, 2}, {2, 3}, {7, 5},
                                        {37, 23}, {23, 37}, {250, 230}}; /* width, height */
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        polyp_image im = formula_image(sizes[i][0], sizes[i][1]);
        size_t n = tiu_check_crops(&csv, "formula", &im);
        ck_assert_msg(n > 0, "no crop fixtures for %ux%u", sizes[i][0], sizes[i][1]);
        total += n;
        free(im.pixels);
    }
    size_t formula_rows = 0;
    for (size_t i = 0; i < csv.nrows; i++) formula_rows += strcmp(csv.rows[i][0], "formula") == 0;
    ck_assert_uint_eq(total, formula_rows); /* every formula row was checked */
    tiu_csv_free(&csv);
}
END_TEST

/* The point sits at patch index (112,112); patch (0,0) is the pixel 112 up and left. */
START_TEST(test_crop_centring) {
    polyp_image im = formula_image(300, 260);
    float *p = malloc(sizeof(float) * PS * PS * 3);
    polyp_point pt = {130, 150};
    ck_assert_int_eq(polyp_patch_crop(&im, pt, p, NULL), POLYP_OK);
    for (int dy = -112; dy < 112; dy += 37)
        for (int dx = -112; dx < 112; dx += 29)
            for (int c = 0; c < 3; c++) {
                uint8_t v = im.pixels[((size_t)(pt.row + dy) * im.width + pt.col + dx) * 3 + c];
                float got = p[((size_t)(112 + dy) * PS + 112 + dx) * 3 + c];
                ck_assert_msg(got == (float)v / 255.0f, "offset (%d,%d) c%d: %g vs %u/255", dy, dx,
                              c, (double)got, v);
            }
    /* last patch row/col = point + 111 */
    ck_assert(p[((size_t)223 * PS + 223) * 3] ==
              (float)im.pixels[((size_t)(pt.row + 111) * im.width + pt.col + 111) * 3] / 255.0f);
    free(p);
    free(im.pixels);
}
END_TEST

/* /255 in float32: 0 -> 0, 255 -> exactly 1, 51 -> 0.2f (float32 of 51/255). */
START_TEST(test_crop_scaling) {
    uint8_t px[3] = {0, 51, 255};
    polyp_image im = {.width = 1, .height = 1, .pixels = px};
    float *p = malloc(sizeof(float) * PS * PS * 3);
    polyp_point pt = {0, 0};
    ck_assert_int_eq(polyp_patch_crop(&im, pt, p, NULL), POLYP_OK);
    for (size_t i = 0; i < (size_t)PS * PS; i++) {
        if (!(p[3 * i] == 0.0f && p[3 * i + 1] == 0.2f && p[3 * i + 2] == 1.0f))
            ck_abort_msg("patch pixel %zu: %g %g %g", i, (double)p[3 * i], (double)p[3 * i + 1],
                         (double)p[3 * i + 2]);
    }
    free(p);
}
END_TEST

START_TEST(test_crop_errors) {
    polyp_image im = formula_image(23, 37);
    float *p = malloc(sizeof(float) * PS * PS * 3);
    polyp_error err;
    polyp_point outs[] = {{37, 0}, {0, 23}, {37, 23}, {UINT32_MAX, 5}, {5, UINT32_MAX}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        memset(&err, 0, sizeof err);
        ck_assert_int_eq(polyp_patch_crop(&im, outs[i], p, &err), POLYP_ERR_INVALID_ARG);
        ck_assert_int_eq(err.status, POLYP_ERR_INVALID_ARG);
        char want[64];
        snprintf(want, sizeof want, "row %u, col %u", outs[i].row, outs[i].col);
        ck_assert_msg(strstr(err.message, want) != NULL, "message names the point: %s", err.message);
        ck_assert_msg(strstr(err.message, "23x37") != NULL, "message names the size: %s", err.message);
    }
    polyp_point last = {36, 22};
    ck_assert_int_eq(polyp_patch_crop(&im, last, p, NULL), POLYP_OK);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(polyp_patch_crop(NULL, last, p, &err), POLYP_ERR_INVALID_ARG);
    ck_assert(err.message[0] != '\0');
    ck_assert_int_eq(polyp_patch_crop(&im, last, NULL, NULL), POLYP_ERR_INVALID_ARG);
    polyp_image empty = {.width = 0, .height = 0, .pixels = NULL};
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(polyp_patch_crop(&empty, (polyp_point){0, 0}, p, &err), POLYP_ERR_INVALID_ARG);
    ck_assert(err.message[0] != '\0');
    free(p);
    free(im.pixels);
}
END_TEST

int main(void) {
    Suite *s = suite_create("crop");
    TCase *tc = tcase_create("crop");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_crop_matches_numpy);
    tcase_add_test(tc, test_crop_centring);
    tcase_add_test(tc, test_crop_scaling);
    tcase_add_test(tc, test_crop_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
