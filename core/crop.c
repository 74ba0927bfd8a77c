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
    /* A band decode zeroes the rows outside [row_begin, row_end): reading one would give a
     * black stripe instead of the photo, so it is refused (0/0: every row is valid). */
    const int banded = image->row_begin != 0 || image->row_end != 0;

    /* Source column of every patch column: computed once, shared by all 224 rows. When
     * they are consecutive (the patch lies inside the image's width) a row is one run of
     * 224 x 3 bytes. */
    uint32_t src_col[PATCH];
    for (int x = 0; x < PATCH; x++) src_col[x] = polyp_reflect_index((int64_t)point.col - HALF + x, w);
    const int contiguous = src_col[PATCH - 1] == src_col[0] + PATCH - 1;
    /* uint8 / 255 as numpy computes it in float32: division, not multiply by 1/255, so the
     * floats are bit-identical to img.astype(np.float32) / 255. The 256 quotients once per
     * patch, instead of 150,528 divisions. */
    float unit[256];
    for (int v = 0; v < 256; v++) unit[v] = (float)v / 255.0f;

    /* out: 224 x 224 x 3 floats, HWC RGB, out[(y*224 + x)*3 + c]. */
    for (int y = 0; y < PATCH; y++) {
        const uint32_t sy = polyp_reflect_index((int64_t)point.row - HALF + y, h);
        if (banded && (sy < image->row_begin || sy >= image->row_end))
            return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                              "point (row %u, col %u) needs image row %u, outside the decoded rows %u..%u",
                              (unsigned)point.row, (unsigned)point.col, (unsigned)sy,
                              (unsigned)image->row_begin, (unsigned)image->row_end - 1);
        const uint8_t *row = image->pixels + (size_t)sy * stride;
        float *dst = out + (size_t)y * PATCH * 3;
        if (contiguous) {
            const uint8_t *px = row + (size_t)src_col[0] * 3;
            for (int i = 0; i < PATCH * 3; i++) dst[i] = unit[px[i]];
            continue;
        }
        for (int x = 0; x < PATCH; x++) {
            const uint8_t *px = row + (size_t)src_col[x] * 3;
            dst[x * 3 + 0] = unit[px[0]];
            dst[x * 3 + 1] = unit[px[1]];
            dst[x * 3 + 2] = unit[px[2]];
        }
    }
    return POLYP_OK;
}

/* The band of one point, in closed form (the loop above is the definition; the unit test
 * checks this against it for every row of many heights). Unreflected, the patch reads rows
 * row-112 .. row+111. Rows above the top edge mirror to 1 .. 112-row, all <= row+111 except
 * for row 0, whose patch reaches row 112. Rows below the bottom edge (row+111 >= height)
 * mirror to 2(height-1) - y >= row-111, inside [row-112, height-1]. When a pad is wider than
 * the image (height <= 112 or so) numpy reflects again and any row may be read; then
 * row < 112 and row+112 > height, so the band below is already the whole image. */
polyp_status polyp_patch_rows(const polyp_point *points, size_t npoints, uint32_t height,
                              uint32_t *row_begin, uint32_t *row_end, polyp_error *err) {
    if (!row_begin || !row_end) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "patch rows: NULL output");
    *row_begin = *row_end = 0;
    if (npoints == 0) return POLYP_OK;
    if (!points) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "patch rows: NULL points");
    uint64_t lo = UINT64_MAX, hi = 0; /* hi: one past the last row */
    for (size_t i = 0; i < npoints; i++) {
        const uint64_t r = points[i].row;
        if (height && r >= height)
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "point %zu (row %u) is outside an image of %u rows",
                              i + 1, (unsigned)points[i].row, (unsigned)height);
        const uint64_t a = r >= HALF ? r - HALF : 0;
        const uint64_t b = r + HALF + (r == 0); /* row 0 mirrors up to row 112 */
        if (a < lo) lo = a;
        if (b > hi) hi = b;
    }
    if (height && hi > height) hi = height;
    if (hi > UINT32_MAX) hi = UINT32_MAX; /* only with height 0: the decoder clips it */
    *row_begin = (uint32_t)lo;
    *row_end = (uint32_t)hi;
    return POLYP_OK;
}
