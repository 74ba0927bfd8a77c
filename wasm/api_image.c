/* api_image.c - image decoding for the JS side (see api.h). */
#include "api.h"

#include <stdlib.h>

polyp_image *polyp_wasm_image_decode(const void *data, size_t size, polyp_error *err) {
    polyp_image *image = calloc(1, sizeof *image);
    if (!image) {
        if (err) { err->status = POLYP_ERR_NOMEM; err->message[0] = '\0'; }
        return NULL;
    }
    if (polyp_image_decode(data, size, NULL, image, err) != POLYP_OK) {
        free(image);
        return NULL;
    }
    return image;
}

void polyp_wasm_image_free(polyp_image *image) {
    if (!image) return;
    polyp_image_free(image);
    free(image);
}

/* The 224x224x3 float patch of one point (polyp_patch_crop takes the point by value, which
 * JS cannot pass) into caller memory. */
polyp_status polyp_wasm_image_crop(const polyp_image *image, uint32_t row, uint32_t col, float *out,
                                   polyp_error *err) {
    polyp_point p = {row, col};
    return polyp_patch_crop(image, p, out, err);
}
