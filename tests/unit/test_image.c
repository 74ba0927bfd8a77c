/* test_image.c - the decoder against Pillow on hand-made images
 * (tests/fixtures/images/synthetic/, expectations in synthetic_pixels.csv written by
 * tests/fixtures/make_image_fixtures.py with Image.open(p).convert('RGB')), and hand-made
 * corrupt inputs. Needs no ../shared/testdata (see test_image_testdata.c for real files). */
#include "polyp.h"
#include "test_image_util.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *read_synthetic(const char *name, size_t *size) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/images/synthetic/%s", name);
    return tu_read(tu_source_path(rel), size);
}

/* Every hand-made image: 16-bit gray (Pillow clips), 16-bit RGB/RGBA/gray+alpha (high byte),
 * palette (+tRNS), bilevel, 4-bit gray, gray+alpha and RGBA (alpha dropped), 1x1, JPEG
 * 4:2:0/4:2:2/4:4:4/odd sizes/progressive/gray/CMYK, truncated baseline and progressive JPEG,
 * BMP, GIF, TGA. */
START_TEST(test_synthetic_equal_pillow) {
    tiu_csv csv;
    tiu_csv_read("tests/fixtures/images/synthetic_pixels.csv", &csv);
    ck_assert_uint_ge(csv.nrows, 20);
    for (size_t i = 0; i < csv.nrows; i++) {
        char **row = csv.rows[i];
        size_t size;
        void *data = read_synthetic(row[0], &size);
        polyp_image im;
        polyp_error err = {0};
        polyp_status st = polyp_image_decode(data, size, NULL, &im, &err);
        ck_assert_msg(st == POLYP_OK, "%s: %s", row[0], err.message);
        tiu_check_pixels(row[0], &im, &csv, row);
        polyp_image_free(&im);
        ck_assert_ptr_null(im.pixels);
        free(data);

        /* The file convenience gives the same image. */
        char rel[256];
        snprintf(rel, sizeof rel, "tests/fixtures/images/synthetic/%s", row[0]);
        st = polyp_image_load_file(tu_source_path(rel), NULL, &im, &err);
        ck_assert_msg(st == POLYP_OK, "%s: %s", row[0], err.message);
        tiu_check_pixels(row[0], &im, &csv, row);
        polyp_image_free(&im);
    }
    tiu_csv_free(&csv);
}
END_TEST

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Signature + IHDR (with a correct CRC) + a tiny IDAT + IEND, declaring w x h RGB 8-bit. */
static size_t png_header(uint8_t *out, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t idat[] = {0, 0, 0, 2, 'I', 'D', 'A', 'T', 0x78, 0x9c, 0, 0, 0, 0,
                                   0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    size_t n = 0;
    memcpy(out, sig, 8);
    n += 8;
    put32(out + n, 13);
    memcpy(out + n + 4, "IHDR", 4);
    put32(out + n + 8, w);
    put32(out + n + 12, h);
    out[n + 16] = 8; out[n + 17] = 2; out[n + 18] = 0; out[n + 19] = 0; out[n + 20] = 0;
    put32(out + n + 21, crc32_png(out + n + 4, 17));
    n += 25;
    memcpy(out + n, idat, sizeof idat);
    return n + sizeof idat;
}

/* Rewrites the SOF0 height/width of a JPEG in place. */
static void jpeg_set_size(uint8_t *d, size_t n, unsigned w, unsigned h) {
    for (size_t i = 2; i + 9 < n; i++) {
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
            d[i + 5] = (uint8_t)(h >> 8); d[i + 6] = (uint8_t)h;
            d[i + 7] = (uint8_t)(w >> 8); d[i + 8] = (uint8_t)w;
            return;
        }
    }
    ck_abort_msg("no SOF marker");
}

static void expect_fail(const char *what, const void *data, size_t size,
                        const polyp_decode_params *params, polyp_status want) {
    polyp_image im;
    polyp_error err;
    memset(&err, 0, sizeof err);
    clock_t t0 = clock();
    polyp_status st = polyp_image_decode(data, size, params, &im, &err);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ck_assert_msg(st == want, "%s: status %s (%s), expected %s", what, polyp_status_string(st),
                  err.message, polyp_status_string(want));
    ck_assert_int_eq(err.status, want);
    ck_assert_msg(err.message[0] != '\0', "%s: empty error message", what);
    ck_assert_ptr_null(im.pixels);
    ck_assert_msg(secs < 2.0, "%s: refusing took %.2f s", what, secs);
}

START_TEST(test_corrupt_inputs) {
    static const uint8_t ten[10] = {0x3b, 0x91, 0x07, 0xe2, 0x55, 0xc8, 0x1f, 0x60, 0xaa, 0x04};
    static const uint8_t ten_jpeg[10] = {0xFF, 0xD8, 0x07, 0xe2, 0x55, 0xc8, 0x1f, 0x60, 0xaa, 0x04};
    expect_fail("empty", ten, 0, NULL, POLYP_ERR_FORMAT);
    expect_fail("10 random bytes", ten, sizeof ten, NULL, POLYP_ERR_FORMAT);
    expect_fail("JPEG magic + 8 random bytes", ten_jpeg, sizeof ten_jpeg, NULL, POLYP_ERR_FORMAT);

    uint8_t png[128];
    size_t n = png_header(png, 100000, 100000);
    expect_fail("PNG declaring 100000x100000", png, n, NULL, POLYP_ERR_LIMIT);
    n = png_header(png, 60000, 60000); /* sides fit, pixel count does not */
    expect_fail("PNG declaring 60000x60000", png, n, NULL, POLYP_ERR_LIMIT);
    n = png_header(png, 0, 10);
    expect_fail("PNG with zero width", png, n, NULL, POLYP_ERR_FORMAT);
    n = png_header(png, 10, 0);
    expect_fail("PNG with zero height", png, n, NULL, POLYP_ERR_FORMAT);
    n = png_header(png, 3, 3); /* valid header, IDAT holds no pixels */
    expect_fail("PNG with empty IDAT", png, n, NULL, POLYP_ERR_FORMAT);

    size_t size;
    uint8_t *g = read_synthetic("gray8.png", &size);
    expect_fail("truncated PNG", g, size / 2, NULL, POLYP_ERR_FORMAT);
    expect_fail("PNG cut inside the header", g, 20, NULL, POLYP_ERR_FORMAT);
    free(g);

    uint8_t *j = read_synthetic("rgb420.jpg", &size);
    expect_fail("JPEG cut inside the header", j, 40, NULL, POLYP_ERR_FORMAT);
    jpeg_set_size(j, size, 65535, 65535);
    expect_fail("JPEG declaring 65535x65535", j, size, NULL, POLYP_ERR_LIMIT);
    jpeg_set_size(j, size, 60000, 60000); /* within libjpeg's 65500, over our pixel cap */
    expect_fail("JPEG declaring 60000x60000", j, size, NULL, POLYP_ERR_LIMIT);
    jpeg_set_size(j, size, 0, 40);
    expect_fail("JPEG with zero width", j, size, NULL, POLYP_ERR_FORMAT);
    jpeg_set_size(j, size, 48, 0);
    expect_fail("JPEG with zero height", j, size, NULL, POLYP_ERR_FORMAT);
    free(j);

    j = read_synthetic("progressive.jpg", &size);
    jpeg_set_size(j, size, 65535, 65535);
    expect_fail("progressive JPEG declaring 65535x65535", j, size, NULL, POLYP_ERR_LIMIT);
    free(j);
}
END_TEST

START_TEST(test_caps_from_params) {
    size_t size;
    polyp_decode_params p = polyp_decode_default_params();
    ck_assert_uint_eq(p.max_pixels, (uint64_t)1 << 28);
    ck_assert_uint_eq(p.max_side, 65535);
    static const char *files[] = {"rgb420.jpg", "rgba8.png", "rgb.bmp"};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *d = read_synthetic(files[i], &size);
        polyp_image im;
        ck_assert_int_eq(polyp_image_decode(d, size, &p, &im, NULL), POLYP_OK);
        polyp_decode_params side = p, pix = p;
        side.max_side = im.width > im.height ? im.width - 1 : im.height - 1;
        pix.max_pixels = (uint64_t)im.width * im.height - 1;
        polyp_image_free(&im);
        expect_fail(files[i], d, size, &side, POLYP_ERR_LIMIT);
        expect_fail(files[i], d, size, &pix, POLYP_ERR_LIMIT);
        pix.max_pixels++; /* exactly at the cap is allowed */
        ck_assert_int_eq(polyp_image_decode(d, size, &pix, &im, NULL), POLYP_OK);
        polyp_image_free(&im);
        free(d);
    }
}
END_TEST

/* A 46-byte truncated TGA (found by fuzz_image.c: two decodes of it differed): stb reports
 * success without writing the pixels, and Pillow (LOAD_TRUNCATED_IMAGES) gives 261x36 black.
 * The heap is dirtied first so that pixels left unwritten in a malloc'd buffer show. */
START_TEST(test_truncated_tga_is_black) {
    size_t size;
    void *data = tu_read(tu_source_path("tests/fuzz/seeds/image/tga_unwritten_pixels_261x36.tga"), &size);
    const size_t n = (size_t)261 * 36 * 3;
    for (int round = 0; round < 3; round++) {
        unsigned char *junk = malloc(n);
        ck_assert_ptr_nonnull(junk);
        memset(junk, 0xA5 + round, n);
        free(junk);
        polyp_image im;
        polyp_error err = {0};
        ck_assert_msg(polyp_image_decode(data, size, NULL, &im, &err) == POLYP_OK, "%s", err.message);
        ck_assert_uint_eq(im.width, 261);
        ck_assert_uint_eq(im.height, 36);
        for (size_t i = 0; i < n; i++)
            if (im.pixels[i]) ck_abort_msg("byte %zu = %u, Pillow 0", i, im.pixels[i]);
        polyp_image_free(&im);
    }
    free(data);
}
END_TEST

START_TEST(test_bad_arguments) {
    polyp_image im;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_image_decode(NULL, 10, NULL, &im, &err), POLYP_ERR_INVALID_ARG);
    ck_assert(err.message[0] != '\0');
    ck_assert_int_eq(polyp_image_decode("abc", 3, NULL, NULL, NULL), POLYP_ERR_INVALID_ARG);
    memset(&err, 0, sizeof err);
    const char *missing = "/nonexistent/polyp/none.png";
    ck_assert_int_eq(polyp_image_load_file(missing, NULL, &im, &err), POLYP_ERR_IO);
    ck_assert_msg(strstr(err.message, missing) != NULL, "message names the file: %s", err.message);
    ck_assert_int_eq(polyp_image_load_file(NULL, NULL, &im, NULL), POLYP_ERR_INVALID_ARG);
    /* A decode error through the file convenience names the file too. */
    memset(&err, 0, sizeof err);
    const char *self = tu_source_path("tests/fixtures/images/crops.csv");
    char path[4096];
    snprintf(path, sizeof path, "%s", self);
    ck_assert_int_eq(polyp_image_load_file(path, NULL, &im, &err), POLYP_ERR_FORMAT);
    ck_assert_msg(strstr(err.message, "crops.csv") != NULL, "%s", err.message);
    polyp_image_free(NULL);
    polyp_image zero = {0};
    polyp_image_free(&zero);
}
END_TEST

int main(void) {
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("image");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_synthetic_equal_pillow);
    tcase_add_test(tc, test_corrupt_inputs);
    tcase_add_test(tc, test_caps_from_params);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_truncated_tga_is_black);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
