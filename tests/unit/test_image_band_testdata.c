/* test_image_band_testdata.c - band decodes (polyp_decode_params.row_begin/row_end) of real
 * photos from ../shared/testdata against their full decode: every JPEG of
 * tests/fixtures/images/pillow_pixels.csv (survey photos up to 5568x4872, the truncated
 * CoralNet photo, Seattle patches) plus the MERMAID photo of the benchmark. For each: bands
 * starting at every offset within two iMCU rows and at random rows, and random point sets
 * (the benchmark's 50 points over the whole photo, points on the top and bottom edges, a
 * cluster): every byte of the band and every patch equal the full decode's. Exit 77 without
 * ../shared/testdata. */
#include "polyp.h"
#include "test_band_util.h"
#include "test_image_util.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_jpeg_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".jpg") == 0 || strcmp(dot, ".JPG") == 0 || strcmp(dot, ".jpeg") == 0);
}

static void check_photo(const char *rel, uint64_t *seed, uint64_t *rows_kept, uint64_t *rows_total) {
    const char *path = tu_testdata_path(rel);
    size_t size;
    void *data = tu_read(path, &size);
    polyp_image full;
    polyp_error err = {0};
    ck_assert_msg(polyp_image_decode(data, size, NULL, &full, &err) == POLYP_OK, "%s: %s", rel, err.message);
    const uint32_t h = full.height, w = full.width;
    /* The decode must keep exactly the band unless the file is truncated (full fallback). */
    const int exact = !full.truncated;

    /* Bands: every first row in 0..33 (two 16-row iMCU rows and a bit), and random ones. */
    for (uint32_t b = 0; b < 34 && b < h; b++) {
        uint32_t e = b + 1 + (uint32_t)(tbu_rand(seed) % 300);
        tbu_check_band(rel, data, size, &full, b, e, exact);
    }
    for (int k = 0; k < 4; k++) {
        uint32_t b = (uint32_t)(tbu_rand(seed) % h);
        uint32_t e = b + 1 + (uint32_t)(tbu_rand(seed) % (h - b));
        tbu_check_band(rel, data, size, &full, b, e, exact);
    }

    /* Point sets. */
    polyp_point pts[50];
    for (int set = 0; set < 5; set++) {
        size_t n = set == 0 ? 50 : set == 4 ? 10 : 1 + (size_t)(tbu_rand(seed) % 3);
        uint32_t centre = (uint32_t)(tbu_rand(seed) % h);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = (uint32_t)(tbu_rand(seed) % h); /* set 0: anywhere, as `polyp points` */
            if (set == 1) r = (uint32_t)(tbu_rand(seed) % 3) % h;               /* top edge */
            if (set == 2) r = h - 1 - (uint32_t)(tbu_rand(seed) % 3) % h;       /* bottom edge */
            if (set == 4) r = (centre + (uint32_t)(tbu_rand(seed) % 150)) % h; /* a cluster */
            pts[i].row = r;
            pts[i].col = (uint32_t)(tbu_rand(seed) % w);
        }
        *rows_kept += tbu_check_patches(rel, data, size, &full, pts, n, set % 2);
        *rows_total += h;
    }
    polyp_image_free(&full);
    free(data);
}

START_TEST(test_real_photos_band_equal_full) {
    tiu_csv csv;
    tiu_csv_read("tests/fixtures/images/pillow_pixels.csv", &csv);
    uint64_t seed = 2026, kept = 0, total = 0;
    size_t photos = 0;
    for (size_t i = 0; i < csv.nrows; i++) {
        if (!is_jpeg_name(csv.rows[i][0])) continue;
        check_photo(csv.rows[i][0], &seed, &kept, &total);
        photos++;
    }
    check_photo("mermaid-sample/mermaid_3805.JPG", &seed, &kept, &total);
    ck_assert_uint_ge(photos, 10);
    ck_assert_msg(kept < total, "no point set decoded fewer rows than the photos have");
    tiu_csv_free(&csv);
}
END_TEST

int main(void) {
    tu_require_testdata();
    Suite *s = suite_create("image_band_testdata");
    TCase *tc = tcase_create("image_band_testdata");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_real_photos_band_equal_full);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
