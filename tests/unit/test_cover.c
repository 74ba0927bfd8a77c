/* test_cover.c - percent cover on cases worked out by hand: per-image shares, images in
 * first-seen order, labels sorted, unlabelled points left out, the mean and the standard
 * error over images (sample sd / sqrt(m)), images without labelled points outside the mean;
 * the CSV layout; the import of "Machine suggestion 1". */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The CSV of c must be exactly `want`. */
static void assert_cover_csv(const polyp_cover *c, const char *want) {
    void *csv;
    size_t size;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cover_csv(c, &csv, &size, &err), POLYP_OK);
    ck_assert_uint_eq(size, strlen(want));
    ck_assert_mem_eq(csv, want, size);
    polyp_free(csv);
}

START_TEST(cover_by_hand) {
    /* img "b" first: SAND SAND CCA -> CCA 33.33 SAND 66.67; "a": CCA + one unlabelled ->
     * CCA 100; "c": only unlabelled -> not in the mean.
     * mean CCA = (33.333 + 100) / 2 = 66.667, sd = sqrt(2 * 33.333^2) = 47.140, SE = 33.333 */
    const char *names[] = {"b", "a", "b", "c", "b", "a"};
    const char *labels[] = {"SAND", "CCA", "SAND", NULL, "CCA", ""};
    polyp_cover c;
    polyp_error err = {0};
    const uint8_t confirmed[] = {1, 1, 0, 0, 1, 0};
    ck_assert_int_eq(polyp_cover_compute(names, labels, confirmed, 6, &c, &err), POLYP_OK);
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
    ck_assert_uint_eq(c.machine[0], 1);
    ck_assert_uint_eq(c.machine[1], 0);
    ck_assert_str_eq(polyp_cover_status(&c, 0), "Unconfirmed");
    ck_assert_str_eq(polyp_cover_status(&c, 1), "Unclassified"); /* a point without a label */
    ck_assert_str_eq(polyp_cover_status(&c, 2), "Unclassified");
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

    /* image "c" has nothing labelled: left out, as CoralNet does */
    assert_cover_csv(&c, "Image ID,Image name,Annotation status,Points,CCA,SAND\r\n"
                         "1,b,Unconfirmed,3,33.333,66.667\r\n2,a,Unclassified,2,100.000,0.000\r\n"
                         "ALL IMAGES,,,,66.667,33.333\r\n");
    polyp_cover_free(&c);
}
END_TEST

/* The lines of CoralNet's own covers-export test (project/export/tests/test_covers.py):
 * 5 points each, A B A B A / A B B B B / A A A A A, all confirmed. */
START_TEST(cover_coralnet_export_lines) {
    const char *names[15], *labels[15];
    const char *pattern = "ABABAABBBBAAAAA";
    static const char *const image_names[3] = {"1.jpg", "2.jpg", "3.jpg"};
    for (int i = 0; i < 15; i++) {
        names[i] = image_names[i / 5];
        labels[i] = pattern[i] == 'A' ? "A" : "B";
    }
    polyp_cover c;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cover_compute(names, labels, NULL, 15, &c, &err), POLYP_OK);
    assert_cover_csv(&c, "Image ID,Image name,Annotation status,Points,A,B\r\n"
                         "1,1.jpg,Confirmed,5,60.000,40.000\r\n"
                         "2,2.jpg,Confirmed,5,20.000,80.000\r\n"
                         "3,3.jpg,Confirmed,5,100.000,0.000\r\n"
                         "ALL IMAGES,,,,60.000,40.000\r\n");
    polyp_cover_free(&c);
}
END_TEST

START_TEST(cover_single_image_and_empty) {
    const char *names[] = {"x", "x"};
    const char *labels[] = {"A", "A"};
    polyp_cover c;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cover_compute(names, labels, NULL, 2, &c, &err), POLYP_OK);
    ck_assert_double_eq_tol(c.mean[0], 100.0, 1e-12);
    ck_assert_double_eq_tol(c.se[0], 0.0, 1e-12); /* one image: no spread to estimate */
    polyp_cover_free(&c);
    ck_assert_int_eq(polyp_cover_compute(NULL, NULL, NULL, 0, &c, &err), POLYP_OK);
    ck_assert_uint_eq(c.n_images, 0);
    ck_assert_uint_eq(c.n_labels, 0);
    polyp_cover_free(&c);
    const char *bad[] = {"x", ""};
    ck_assert_int_eq(polyp_cover_compute(bad, labels, NULL, 2, &c, &err), POLYP_ERR_INVALID_ARG);
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
    tcase_add_test(tc, cover_coralnet_export_lines);
    tcase_add_test(tc, cover_single_image_and_empty);
    tcase_add_test(tc, annotations_read_machine_suggestion);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
