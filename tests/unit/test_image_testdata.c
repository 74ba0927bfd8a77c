/* test_image_testdata.c - the decoder and cropper on real survey images from
 * ../shared/testdata against Pillow (tests/fixtures/images/pillow_pixels.csv: width, height,
 * FNV-1a of Image.open(p).convert('RGB') with LOAD_TRUNCATED_IMAGES as CoralNet sets it, and
 * sampled pixels) and numpy crops (crops.csv rows whose source is "testdata:<file>").
 * Includes every JPEG: the truncated Moorea JPEG must decode to Pillow's exact pixels. */
#include "polyp.h"
#include "test_image_util.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_real_images_equal_pillow) {
    tiu_csv csv;
    tiu_csv_read("tests/fixtures/images/pillow_pixels.csv", &csv);
    size_t jpegs = 0, truncated = 0;
    for (size_t i = 0; i < csv.nrows; i++) {
        char **row = csv.rows[i];
        const char *path = tu_testdata_path(row[0]);
        polyp_image im;
        polyp_error err = {0};
        polyp_status st = polyp_image_load_file(path, NULL, &im, &err);
        ck_assert_msg(st == POLYP_OK, "%s: %s", row[0], err.message);
        tiu_check_pixels(row[0], &im, &csv, row);
        polyp_image_free(&im);
        const char *dot = strrchr(row[0], '.');
        if (dot && (strcmp(dot, ".jpg") == 0 || strcmp(dot, ".JPG") == 0)) jpegs++;
        truncated += atoi(row[3]) != 0;
    }
    ck_assert_uint_ge(jpegs, 10);
    ck_assert_uint_eq(truncated, 1); /* the Moorea JPEG */
    tiu_csv_free(&csv);
}
END_TEST

START_TEST(test_real_crops_equal_numpy) {
    tiu_csv csv;
    tiu_csv_read("tests/fixtures/images/crops.csv", &csv);
    static const char *sources[] = {"parity-images/tiny_23x37.png",
                                    "parity-images/patch_unknown_a7bdcedf-0e22-4b69-93f.png"};
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        polyp_image im;
        polyp_error err = {0};
        ck_assert_msg(polyp_image_load_file(tu_testdata_path(sources[i]), NULL, &im, &err) == POLYP_OK,
                      "%s: %s", sources[i], err.message);
        char source[512];
        snprintf(source, sizeof source, "testdata:%s", sources[i]);
        size_t n = tiu_check_crops(&csv, source, &im);
        ck_assert_msg(n >= 9, "%s: only %zu crop fixtures", sources[i], n);
        polyp_image_free(&im);
    }
    tiu_csv_free(&csv);
}
END_TEST

int main(void) {
    tu_require_testdata();
    Suite *s = suite_create("image_testdata");
    TCase *tc = tcase_create("image_testdata");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_real_images_equal_pillow);
    tcase_add_test(tc, test_real_crops_equal_numpy);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
