/* crop.c - the 224x224 patch around a point, as pyspacer crops it.
 *
 * pyspacer pads the whole image with numpy's np.pad(img, ((224,224),(224,224),(0,0)),
 * mode='reflect') and slices rows row-112 .. row+111 (point at patch index 112). We never
 * build the padded image: each patch coordinate is mapped back to a source pixel.
 *
 * numpy 'reflect' mirrors about the edge pixel without repeating it; when the pad is
 * wider than the axis it reflects again and again, which is the same as the periodic
 * extension with period 2*(n-1) (checked against np.pad for every n in 1..39 and by the
 * crop fixtures). A size-1 axis has period 0: numpy repeats the single pixel.
 */
#include "internal.h"
#include "reflect.h"

#include <stdint.h>

#define PATCH POLYP_PATCH_SIZE
#define HALF (POLYP_PATCH_SIZE / 2)

polyp_status polyp_patch_crop(const polyp_image *image, polyp_point point, float *out,
                              polyp_error *err) {
    if (!image || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "patch crop: NULL image or output");
    if (!image->pixels || image->width == 0 || image->height == 0)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "patch crop: empty image (%ux%u)",
                          (unsigned)image->width, (unsigned)image->height);
    if (point.row >= image->height || point.col >= image->width)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "point (row %u, col %u) is outside the %ux%u image (width x height)",
                          (unsigned)point.row, (unsigned)point.col, (unsigned)image->width,
                          (unsigned)image->height);

    const uint32_t w = image->width, h = image->height;
    const size_t stride = (size_t)w * 3;   /* bytes per source row, HWC RGB */

    /* Source column of every patch column: computed once, shared by all 224 rows. */
    uint32_t src_col[PATCH];
    for (int x = 0; x < PATCH; x++) src_col[x] = polyp_reflect_index((int64_t)point.col - HALF + x, w);

    /* out: 224 x 224 x 3 floats, HWC RGB, out[(y*224 + x)*3 + c]. */
    for (int y = 0; y < PATCH; y++) {
        const uint8_t *row = image->pixels + (size_t)polyp_reflect_index((int64_t)point.row - HALF + y, h) * stride;
        float *dst = out + (size_t)y * PATCH * 3;
        for (int x = 0; x < PATCH; x++) {
            const uint8_t *px = row + (size_t)src_col[x] * 3;
            /* uint8 / 255 as numpy computes it in float32: division, not multiply by 1/255,
             * so the floats are bit-identical to img.astype(np.float32) / 255. */
            dst[x * 3 + 0] = (float)px[0] / 255.0f;
            dst[x * 3 + 1] = (float)px[1] / 255.0f;
            dst[x * 3 + 2] = (float)px[2] / 255.0f;
        }
    }
    return POLYP_OK;
}
