/* test_points.c - CoralNet's point generation on cases worked out by hand. */
#include "polyp.h"
#include "testutil.h"

#include <string.h>

START_TEST(grid_centres_by_hand) {
    /* Area rows 10..19 (H = 10), columns 0..6 (W = 7); 3 x 2 cells.
     * Row cells: [0*10/3, 1*10/3 - 1] = [0, 2], [3, 5], [6, 9] (+10) -> centres 11, 14, 17.
     * Column cells: [0, 2], [3, 6] -> centres 1, 4. Row-major order. */
    polyp_points_params p = polyp_points_default_params(7, 20);
    p.method = POLYP_POINTS_GRID;
    p.cell_rows = 3, p.cell_cols = 2;
    p.min_row = 10, p.max_row = 19;
    polyp_point *pts;
    size_t n;
    polyp_error err = {0};
    ck_assert(polyp_points_generate(&p, &pts, &n, &err) == POLYP_OK);
    ck_assert_uint_eq(n, 6);
    uint32_t want[6][2] = {{11, 1}, {11, 4}, {14, 1}, {14, 4}, {17, 1}, {17, 4}};
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(pts[i].row, want[i][0]);
        ck_assert_uint_eq(pts[i].col, want[i][1]);
    }
    polyp_free(pts);
}
END_TEST

START_TEST(stratified_points_stay_in_their_cells) {
    polyp_points_params p = polyp_points_default_params(100, 50);
    p.method = POLYP_POINTS_STRATIFIED;
    p.cell_rows = 3, p.cell_cols = 4, p.per_cell = 5;
    p.seed = 3;
    polyp_point *pts;
    size_t n;
    polyp_error err = {0};
    ck_assert(polyp_points_generate(&p, &pts, &n, &err) == POLYP_OK);
    ck_assert_uint_eq(n, 60);
    /* H = 50: rows [0,15], [16,32], [33,49]; W = 100: cols [0,24], [25,49], [50,74], [75,99] */
    uint32_t r0[3] = {0, 16, 33}, r1[3] = {15, 32, 49}, c0[4] = {0, 25, 50, 75}, c1[4] = {24, 49, 74, 99};
    for (size_t i = 0; i < n; i++) {
        size_t cell = i / 5, r = cell / 4, c = cell % 4;
        ck_assert(pts[i].row >= r0[r] && pts[i].row <= r1[r]);
        ck_assert(pts[i].col >= c0[c] && pts[i].col <= c1[c]);
    }
    /* same seed, same points; another seed, other points */
    polyp_point *again;
    ck_assert(polyp_points_generate(&p, &again, &n, &err) == POLYP_OK);
    ck_assert_int_eq(memcmp(pts, again, n * sizeof *pts), 0);
    p.seed = 4;
    polyp_free(again);
    ck_assert(polyp_points_generate(&p, &again, &n, &err) == POLYP_OK);
    ck_assert_int_ne(memcmp(pts, again, n * sizeof *pts), 0);
    polyp_free(again);
    polyp_free(pts);
}
END_TEST

START_TEST(random_points_cover_the_area) {
    /* a 2 x 3 area: 600 points must hit all 6 pixels and nothing outside */
    polyp_points_params p = polyp_points_default_params(10, 10);
    p.min_row = 4, p.max_row = 5, p.min_col = 7, p.max_col = 9;
    p.n = 600;
    polyp_point *pts;
    size_t n;
    polyp_error err = {0};
    ck_assert(polyp_points_generate(&p, &pts, &n, &err) == POLYP_OK);
    ck_assert_uint_eq(n, 600);
    int seen[2][3] = {{0}};
    for (size_t i = 0; i < n; i++) {
        ck_assert(pts[i].row >= 4 && pts[i].row <= 5 && pts[i].col >= 7 && pts[i].col <= 9);
        seen[pts[i].row - 4][pts[i].col - 7]++;
    }
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) ck_assert_int_gt(seen[r][c], 50);
    polyp_free(pts);
    polyp_points_params d = polyp_points_default_params(640, 480);
    ck_assert_uint_eq(d.n, 30);
    ck_assert_uint_eq(d.max_row, 479);
    ck_assert_uint_eq(d.max_col, 639);
}
END_TEST

START_TEST(point_errors) {
    polyp_points_params p = polyp_points_default_params(10, 10);
    polyp_point *pts;
    size_t n;
    polyp_error err = {0};
    p.min_row = 5, p.max_row = 4;
    ck_assert_int_eq(polyp_points_generate(&p, &pts, &n, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "empty area"));
    p = polyp_points_default_params(10, 10);
    p.method = POLYP_POINTS_GRID;
    p.cell_rows = 11;
    ck_assert_int_eq(polyp_points_generate(&p, &pts, &n, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "do not fit"));
    p = polyp_points_default_params(10, 10);
    p.n = 0;
    ck_assert_int_eq(polyp_points_generate(&p, &pts, &n, &err), POLYP_ERR_INVALID_ARG);
    p.n = (size_t)1 << 30;
    ck_assert_int_eq(polyp_points_generate(&p, &pts, &n, &err), POLYP_ERR_LIMIT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("points");
    TCase *tc = tcase_create("points");
    tcase_add_test(tc, grid_centres_by_hand);
    tcase_add_test(tc, stratified_points_stay_in_their_cells);
    tcase_add_test(tc, random_points_cover_the_area);
    tcase_add_test(tc, point_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
