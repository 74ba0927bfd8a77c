/* fuzz_image.c - libFuzzer target for the image decoders (libjpeg path, stb_image path, our
 * header peeks) and the patch cropper. ctest replays its seeds (tests/fuzz/CMakeLists.txt);
 * libFuzzer runs: tests/fuzz/run.sh SECONDS image (clang). A decode of the centre point's row
 * band is checked against the full decode byte for byte (a differential oracle for the skip),
 * and so is a decode of that band into dirty memory from a polyp_pixel_allocator (the rows
 * the data never reaches must come out zero, as in fresh memory).
 * Any crash, sanitizer report, leak or abort is a bug: the decoder must answer every input with
 * a status. */
#include "polyp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Hands out memory full of 0xA5, as a reused buffer is. */
static void *dirty_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *p = malloc(size);
    if (p) memset(p, 0xA5, size);
    return p;
}

static void dirty_release(void *ctx, void *pixels) {
    (void)ctx;
    free(pixels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_decode_params params = polyp_decode_default_params();
    params.max_pixels = (uint64_t)1 << 22; /* keep each run fast; the cap logic is exercised */
    polyp_image im;
    polyp_error err;
    polyp_status st = polyp_image_decode(data, size, &params, &im, &err);
    if (st != POLYP_OK) {
        if (err.message[0] == '\0') abort(); /* every failure must say why */
        if (im.pixels) abort();
        return 0;
    }
    if (im.width == 0 || im.height == 0 || !im.pixels) abort();
    /* Touch every pixel (ASan catches a short buffer) and crop at the corners and centre. */
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)im.width * im.height * 3; i++) sum += im.pixels[i];
    static float patch[POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3];
    polyp_point pts[3] = {{0, 0}, {im.height - 1, im.width - 1}, {im.height / 2, im.width / 2}};
    for (int i = 0; i < 3; i++)
        if (polyp_patch_crop(&im, pts[i], patch, &err) != POLYP_OK) abort();
    polyp_point outside = {im.height, 0};
    if (polyp_patch_crop(&im, outside, patch, &err) != POLYP_ERR_INVALID_ARG) abort();

    /* The band the centre point needs: the same bytes as the full decode inside it (the JPEG
     * path skips the other rows), zero outside, and the crop works on it. */
    polyp_decode_params band = params;
    if (polyp_patch_rows(&pts[2], 1, 0, &band.row_begin, &band.row_end, &err) != POLYP_OK) abort();
    polyp_image part;
    if (polyp_image_decode(data, size, &band, &part, &err) != POLYP_OK) abort();
    const size_t stride = (size_t)im.width * 3;
    if (part.width != im.width || part.height != im.height || part.row_end > part.height ||
        part.row_begin >= part.row_end)
        abort();
    for (uint32_t y = 0; y < part.height; y++) {
        const uint8_t *a = part.pixels + y * stride, *b = im.pixels + y * stride;
        int inside = y >= part.row_begin && y < part.row_end;
        for (size_t k = 0; k < stride; k++)
            if (a[k] != (inside ? b[k] : 0)) abort();
    }
    if (polyp_patch_crop(&part, pts[2], patch, &err) != POLYP_OK) abort();

    /* The same band into the allocator's dirty memory: the same rows (outside them, anything). */
    static const polyp_pixel_allocator dirty = {dirty_alloc, dirty_release, NULL};
    polyp_decode_params reused = band;
    reused.allocator = &dirty;
    polyp_image again;
    if (polyp_image_decode(data, size, &reused, &again, &err) != POLYP_OK) abort();
    if (again.width != part.width || again.height != part.height || again.row_begin != part.row_begin ||
        again.row_end != part.row_end)
        abort();
    for (uint32_t y = part.row_begin; y < part.row_end; y++)
        if (memcmp(again.pixels + y * stride, part.pixels + y * stride, stride) != 0) abort();
    polyp_image_free(&again);
    polyp_image_free(&part);
    polyp_image_free(&im);
    return (int)(sum & 0);
}
