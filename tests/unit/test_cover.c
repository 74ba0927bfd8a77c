/* test_cover.c - percent cover on cases worked out by hand: per-image shares, images in
 * first-seen order, labels sorted, unlabelled points left out, the mean and the standard
 * error over images (sample sd / sqrt(m)), images without labelled points outside the mean;
 * the CSV layout; the import of "Machine suggestion 1". */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(cover_by_hand) {
    /* img "b" first: SAND SAND CCA -> CCA 33.33 SAND 66.67; "a": CCA + one unlabelled ->
     * CCA 100; "c": only unlabelled -> not in the mean.
     * mean CCA = (33.333 + 100) / 2 = 66.667, sd = sqrt(2 * 33.333^2) = 47.140, SE = 33.333 */
    const char *names[] = {"b", "a", "b", "c", "b", "a"};
    const char *labels[] = {"SAND", "CCA", "SAND", NULL, "CCA", ""};
    polyp_cover c;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cover_compute(names, labels, 6, &c, &err), POLYP_OK);
    ck_assert_uint_eq(c.n_images, 3);
    ck_assert_str_eq(c.images[0], "b");
    ck_assert_str_eq(c.images[1], "a");
    ck_assert_str_eq(c.images[2], "c");
    ck_assert_uint_eq(c.n_labels, 2);
    ck_assert_str_eq(c.labels[0], "CCA");
    ck_assert_str_eq(c.labels[1], "SAND");
    ck_assert_uint_eq(c.points[0], 3);
    ck_assert_uint_eq(c.points[1], 1);
    ck_assert_uint_eq(c.points[2], 0);
    ck_assert_uint_eq(c.unlabelled[1], 1);
    ck_assert_uint_eq(c.unlabelled[2], 1);
    ck_assert_uint_eq(c.n_images_labelled, 2);
    ck_assert_double_eq_tol(c.percent[0 * 2 + 0], 100.0 / 3, 1e-9);
    ck_assert_double_eq_tol(c.percent[0 * 2 + 1], 200.0 / 3, 1e-9);
    ck_assert_double_eq_tol(c.percent[1 * 2 + 0], 100.0, 1e-9);
    ck_assert_double_eq_tol(c.percent[2 * 2 + 0], 0.0, 1e-12);
    ck_assert_double_eq_tol(c.mean[0], 200.0 / 3, 1e-9);
    ck_assert_double_eq_tol(c.mean[1], 100.0 / 3, 1e-9);
    ck_assert_double_eq_tol(c.se[0], 100.0 / 3, 1e-9);
    ck_assert_double_eq_tol(c.se[1], 100.0 / 3, 1e-9);

    void *csv;
    size_t size;
    ck_assert_int_eq(polyp_cover_csv(&c, &csv, &size, &err), POLYP_OK);
    const char *want = "Name,Points,CCA,SAND\r\nb,3,33.33,66.67\r\na,1,100.00,0.00\r\nc,0,0.00,0.00\r\n";
    ck_assert_uint_eq(size, strlen(want));
    ck_assert_mem_eq(csv, want, size);
    polyp_free(csv);
    polyp_cover_free(&c);
}
END_TEST

START_TEST(cover_single_image_and_empty) {
    const char *names[] = {"x", "x"};
    const char *labels[] = {"A", "A"};
    polyp_cover c;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cover_compute(names, labels, 2, &c, &err), POLYP_OK);
    ck_assert_double_eq_tol(c.mean[0], 100.0, 1e-12);
    ck_assert_double_eq_tol(c.se[0], 0.0, 1e-12); /* one image: no spread to estimate */
    polyp_cover_free(&c);
    ck_assert_int_eq(polyp_cover_compute(NULL, NULL, 0, &c, &err), POLYP_OK);
    ck_assert_uint_eq(c.n_images, 0);
    ck_assert_uint_eq(c.n_labels, 0);
    polyp_cover_free(&c);
    const char *bad[] = {"x", ""};
    ck_assert_int_eq(polyp_cover_compute(bad, labels, 2, &c, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "point 1 has no image name"));
}
END_TEST

START_TEST(annotations_read_machine_suggestion) {
    const char *csv = "name,row,column,label code,machine suggestion 1,Machine confidence 1\n"
                      "a.jpg,1,2,,SAND,80\na.jpg,3,4,CCA,CCA,90\na.jpg,5,6,,,\n";
    polyp_annotations ann;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_annotations_parse_csv(csv, strlen(csv), &ann, &err), POLYP_OK);
    ck_assert_uint_eq(ann.count, 3);
    ck_assert_ptr_null(ann.items[0].label);
    ck_assert_str_eq(ann.items[0].suggestion, "SAND");
    ck_assert_str_eq(ann.items[1].label, "CCA");
    ck_assert_str_eq(ann.items[1].suggestion, "CCA");
    ck_assert_ptr_null(ann.items[2].suggestion);
    polyp_annotations_free(&ann);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cover");
    TCase *tc = tcase_create("cover");
    tcase_add_test(tc, cover_by_hand);
    tcase_add_test(tc, cover_single_image_and_empty);
    tcase_add_test(tc, annotations_read_machine_suggestion);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
