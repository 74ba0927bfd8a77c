/* fuzz_image.c - libFuzzer target for the image decoders (libjpeg path, stb_image path, our
 * header peeks) and the patch cropper. ctest replays its seeds (tests/fuzz/CMakeLists.txt);
 * libFuzzer runs: tests/fuzz/run.sh SECONDS image (clang).
 * Any crash, sanitizer report, leak or abort is a bug: the decoder must answer every input with
 * a status. */
#include "polyp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    polyp_image_free(&im);
    return (int)(sum & 0);
}
