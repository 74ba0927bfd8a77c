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
