/* test_png_idat.c - the PNG chunk check in front of stb_image (core/image.c png_check_chunks,
 * issue 8): stb reads an empty IDAT before any image data with memcpy(NULL, ..., 0), so such
 * chunks are left out before stb sees the file, and a chunk longer than the file is refused
 * before stb allocates its declared length. The files are the fuzz seeds that
 * tests/fuzz/make_seeds.py writes; their pixels are known by construction: gray
 * (40 x + 3 y) mod 256 in every channel. The sanitizer build runs this too, so a UBSan report
 * fails it. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void check_gradient(const char *name) {
    size_t size;
    void *data = tu_read(tu_source_path(name), &size);
    polyp_image im;
    polyp_error err;
    ck_assert_msg(polyp_image_decode(data, size, NULL, &im, &err) == POLYP_OK, "%s: %s", name, err.message);
    ck_assert_uint_eq(im.width, 7);
    ck_assert_uint_eq(im.height, 6);
    for (uint32_t y = 0; y < im.height; y++)
        for (uint32_t x = 0; x < im.width; x++)
            for (int c = 0; c < 3; c++)
                ck_assert_msg(im.pixels[(y * im.width + x) * 3 + c] == ((40 * x + 3 * y) & 255),
                              "%s: pixel (%u, %u) channel %d is %u", name, x, y, c,
                              im.pixels[(y * im.width + x) * 3 + c]);
    polyp_image_free(&im);
    free(data);
}

START_TEST(empty_idat_first) { check_gradient("tests/fuzz/seeds/image/png_idat0_7x6.png"); }
END_TEST

START_TEST(empty_idat_between) { check_gradient("tests/fuzz/seeds/image/png_idat0_between_7x6.png"); }
END_TEST

START_TEST(no_empty_idat) { check_gradient("tests/fuzz/seeds/image/png_plain_7x6.png"); }
END_TEST

/* The file must fail as POLYP_ERR_FORMAT, with no pixels and a message containing `needle`. */
static void check_format_error(const char *name, const char *needle) {
    size_t size;
    void *data = tu_read(tu_source_path(name), &size);
    polyp_image im;
    polyp_error err;
    ck_assert_int_eq(polyp_image_decode(data, size, NULL, &im, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_null(im.pixels);
    ck_assert_msg(strstr(err.message, needle) != NULL, "%s: message: %s", name, err.message);
    free(data);
}

START_TEST(only_empty_idat_fails_cleanly) {
    check_format_error("tests/fuzz/seeds/image/png_only_empty_idat_7x6.png", "no IDAT");
}
END_TEST

/* A chunk that claims more bytes than the file holds is refused before stb allocates them. */
START_TEST(overlong_chunk_fails_cleanly) {
    check_format_error("tests/fuzz/seeds/image/png_overlong_idat_7x6.png", "truncated");
}
END_TEST

int main(void) {
    Suite *s = suite_create("png_idat");
    TCase *tc = tcase_create("empty IDAT chunks");
    tcase_add_test(tc, empty_idat_first);
    tcase_add_test(tc, empty_idat_between);
    tcase_add_test(tc, no_empty_idat);
    tcase_add_test(tc, only_empty_idat_fails_cleanly);
    tcase_add_test(tc, overlong_chunk_fails_cleanly);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
