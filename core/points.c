/* points.c - CoralNet's point generation inside an annotation area (inclusive bounds
 * min..max on each axis, H = max_row - min_row + 1, W likewise):
 *   simple random: n points, row and column uniform integers in the area;
 *   stratified random: R x C cells, cell r spanning rows [r*H/R + min_row,
 *     (r+1)*H/R + min_row - 1] (integer division; columns likewise), per_cell uniform
 *     points in each cell, cells in row-major order;
 *   uniform grid: one point per cell at the cell's integer centre, (first + last) / 2.
 * Seeded: the same parameters always give the same points. */
#include "internal.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

#define MAX_POINTS ((size_t)1 << 24)

polyp_points_params polyp_points_default_params(uint32_t width, uint32_t height) {
    polyp_points_params p;
    memset(&p, 0, sizeof p);
    p.method = POLYP_POINTS_RANDOM;
    p.n = 30;
    p.cell_rows = p.cell_cols = 1;
    p.per_cell = 1;
    p.max_row = height ? height - 1 : 0;
    p.max_col = width ? width - 1 : 0;
    return p;
}

static uint32_t uniform_in(polyp_rng *r, uint32_t lo, uint32_t hi) {
    return lo + (uint32_t)polyp_rng_below(r, (uint64_t)hi - lo + 1);
}

polyp_status polyp_points_generate(const polyp_points_params *p, polyp_point **out, size_t *n_out,
                                   polyp_error *err) {
    if (!p || !out || !n_out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "points: NULL argument");
    *out = NULL;
    *n_out = 0;
    if (p->min_row > p->max_row || p->min_col > p->max_col)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "points: empty area (rows %u..%u, columns %u..%u)", p->min_row,
                          p->max_row, p->min_col, p->max_col);
    size_t H = (size_t)p->max_row - p->min_row + 1, W = (size_t)p->max_col - p->min_col + 1;
    size_t count, R = p->cell_rows, C = p->cell_cols;
    if (p->method == POLYP_POINTS_RANDOM) {
        count = p->n;
    } else if (p->method == POLYP_POINTS_STRATIFIED || p->method == POLYP_POINTS_GRID) {
        if (R == 0 || C == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "points: %zu x %zu cells", R, C);
        if (R > H || C > W)
            return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                              "points: %zu x %zu cells do not fit an area of %zu x %zu pixels (rows x columns)", R, C,
                              H, W);
        size_t per = p->method == POLYP_POINTS_GRID ? 1 : p->per_cell;
        if (per == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "points: 0 points per cell");
        if (!polyp_mul_ok(R, C, &count) || !polyp_mul_ok(count, per, &count)) count = SIZE_MAX;
    } else {
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "points: unknown method %d", (int)p->method);
    }
    if (count == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "points: no points requested");
    if (count > MAX_POINTS)
        return polyp_fail(err, POLYP_ERR_LIMIT, "points: %zu points requested (at most %zu)", count, MAX_POINTS);
    polyp_point *pts = polyp_malloc(count * sizeof *pts);
    if (!pts) return polyp_fail(err, POLYP_ERR_NOMEM, "points: no memory for %zu points", count);
    polyp_rng rng = polyp_rng_seed(p->seed, 0x504F494E54ull /* "POINT" */);
    size_t k = 0;
    if (p->method == POLYP_POINTS_RANDOM) {
        for (; k < count; k++) {
            pts[k].row = uniform_in(&rng, p->min_row, p->max_row);
            pts[k].col = uniform_in(&rng, p->min_col, p->max_col);
        }
    } else {
        for (size_t r = 0; r < R; r++) {
            uint32_t r0 = (uint32_t)(r * H / R + p->min_row), r1 = (uint32_t)((r + 1) * H / R + p->min_row - 1);
            for (size_t c = 0; c < C; c++) {
                uint32_t c0 = (uint32_t)(c * W / C + p->min_col), c1 = (uint32_t)((c + 1) * W / C + p->min_col - 1);
                if (p->method == POLYP_POINTS_GRID) {
                    pts[k].row = (uint32_t)(((uint64_t)r0 + r1) / 2);
                    pts[k].col = (uint32_t)(((uint64_t)c0 + c1) / 2);
                    k++;
                } else {
                    for (size_t q = 0; q < p->per_cell; q++, k++) {
                        pts[k].row = uniform_in(&rng, r0, r1);
                        pts[k].col = uniform_in(&rng, c0, c1);
                    }
                }
            }
        }
    }
    *out = pts;
    *n_out = k;
    return POLYP_OK;
}
