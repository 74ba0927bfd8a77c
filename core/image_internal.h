/* image_internal.h - what image.c and image_jpeg.c share; not part of the public API. */
#ifndef POLYP_IMAGE_INTERNAL_H
#define POLYP_IMAGE_INTERNAL_H

#include "internal.h"

/* The one place that decides who decodes JPEG. Native builds link libjpeg-turbo (CMake
 * defines POLYP_HAVE_LIBJPEG) so JPEG pixels equal Pillow's; a build without it (Emscripten,
 * until libjpeg-turbo is compiled for wasm) falls back to stb_image's JPEG decoder, whose
 * pixels differ from Pillow's by a few levels. */
#if defined(POLYP_HAVE_LIBJPEG) && POLYP_HAVE_LIBJPEG
#define POLYP_JPEG_LIBJPEG 1
#else
#define POLYP_JPEG_LIBJPEG 0
#endif

/* The one size check of every decoder (stb's in image.c, libjpeg's in image_jpeg.c), here
 * where both include it. Refuses dimensions outside the caps before anything is allocated:
 * zero -> FORMAT, too large -> LIMIT. `what` names the format in the message ("JPEG",
 * "PNG"...). */
static inline polyp_status polyp_image_check_size(uint64_t width, uint64_t height,
                                                  const polyp_decode_params *params,
                                                  const char *what, polyp_error *err) {
    if (width == 0 || height == 0)
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: zero-sized image (%llux%llu)", what,
                          (unsigned long long)width, (unsigned long long)height);
    if (width > params->max_side || height > params->max_side)
        return polyp_fail(err, POLYP_ERR_LIMIT,
                          "%s: image is %llux%llu, larger than the %u-pixel side limit", what,
                          (unsigned long long)width, (unsigned long long)height,
                          (unsigned)params->max_side);
    /* width, height < 2^32 here, so the product fits in 64 bits. */
    if (width * height > params->max_pixels)
        return polyp_fail(err, POLYP_ERR_LIMIT,
                          "%s: image is %llux%llu = %llu pixels, more than the limit of %llu",
                          what, (unsigned long long)width, (unsigned long long)height,
                          (unsigned long long)(width * height),
                          (unsigned long long)params->max_pixels);
    return POLYP_OK;
}

#if POLYP_JPEG_LIBJPEG
/* Decodes JPEG bytes with libjpeg-turbo the way Pillow does (ISLOW IDCT, fancy upsampling,
 * gray replicated, Adobe CMYK/YCCK converted with Pillow's formula, a truncated file decoded
 * as far as its data goes with the rest left black and out->truncated = 1). */
polyp_status polyp_jpeg_decode(const uint8_t *data, size_t size, const polyp_decode_params *params,
                               polyp_image *out, polyp_error *err);
#endif

#endif /* POLYP_IMAGE_INTERNAL_H */
