/* test_split.c - CoralNet's split rules on small cases worked out by hand. */
#include "polyp.h"
#include "testutil.h"

#include <string.h>

enum { T = POLYP_SPLIT_TRAIN, R = POLYP_SPLIT_REFERENCE, V = POLYP_SPLIT_VALIDATION };

START_TEST(roles_by_index) {
    /* 25 images of 10 points: validation 0, 8, 16, 24; the rest numbered j = 0..20:
     * i = 1 (j 0), i = 12 (j 10: i 1..7 -> j 0..6, i 9..15 -> j 7..13), i = 23 (j 20) -> ref. */
    size_t lab[25];
    for (int i = 0; i < 25; i++) lab[i] = 10;
    uint8_t roles[25];
    polyp_error err = {0};
    ck_assert(polyp_split_images(lab, 25, 5000, roles, &err) == POLYP_OK);
    for (int i = 0; i < 25; i++) {
        int want = i % 8 == 0 ? V : (i == 1 || i == 12 || i == 23) ? R : T;
        ck_assert_msg(roles[i] == want, "image %d: role %d, expected %d", i, roles[i], want);
    }
}
END_TEST

START_TEST(reference_cap) {
    /* reference candidates i = 1, 12, 23: 3000 + 2500 would exceed 5000 -> i = 12 trains;
     * i = 23 (1000) still fits: 4000 <= 5000. A cap of exactly 5000 is allowed. */
    size_t lab[25];
    for (int i = 0; i < 25; i++) lab[i] = 10;
    lab[1] = 3000, lab[12] = 2500, lab[23] = 1000;
    uint8_t roles[25];
    polyp_error err = {0};
    ck_assert(polyp_split_images(lab, 25, 5000, roles, &err) == POLYP_OK);
    ck_assert_int_eq(roles[1], R);
    ck_assert_int_eq(roles[12], T);
    ck_assert_int_eq(roles[23], R);
    lab[23] = 2000; /* 3000 + 2000 = 5000 exactly */
    ck_assert(polyp_split_images(lab, 25, 5000, roles, &err) == POLYP_OK);
    ck_assert_int_eq(roles[23], R);
    lab[23] = 2001;
    ck_assert(polyp_split_images(lab, 25, 5000, roles, &err) == POLYP_OK);
    ck_assert_int_eq(roles[23], T);
}
END_TEST

START_TEST(kept_labels) {
    /* 12 images: V = {0, 8}, R = {1}, T = the rest. Labels: "a" everywhere, "b" in train
     * and reference, "c" only in train, "d" only in reference and validation, NULL points
     * ignored. Kept: a, b. Dropped: c, d. */
    const char *ref[4] = {"a", "b", "d", NULL};
    const char *tr[3] = {"a", "b", "c"};
    const char *val[3] = {"a", "d", "b"};
    polyp_dataset_image im[12];
    for (int i = 0; i < 12; i++) {
        im[i].feat = NULL;
        if (i == 0 || i == 8) im[i].labels = val, im[i].npoints = 3;
        else if (i == 1) im[i].labels = ref, im[i].npoints = 4;
        else im[i].labels = tr, im[i].npoints = 3;
    }
    polyp_dataset d = {4, 12, im, NULL, NULL, NULL};
    polyp_split s;
    polyp_error err = {0};
    ck_assert_msg(polyp_split_dataset(&d, 5000, &s, &err) == POLYP_OK, "%s", err.message);
    ck_assert_uint_eq(s.n_classes, 2);
    ck_assert_str_eq(s.classes[0], "a");
    ck_assert_str_eq(s.classes[1], "b");
    ck_assert_uint_eq(s.n_dropped, 2);
    ck_assert_str_eq(s.dropped[0], "c");
    ck_assert_str_eq(s.dropped[1], "d");
    ck_assert_uint_eq(s.images[T], 9);
    ck_assert_uint_eq(s.images[R], 1);
    ck_assert_uint_eq(s.images[V], 2);
    ck_assert_uint_eq(s.points[T], 18); /* a + b in 9 train images */
    ck_assert_uint_eq(s.points[R], 2);
    ck_assert_uint_eq(s.points[V], 4);
    polyp_split_free(&s);
}
END_TEST

START_TEST(split_errors) {
    polyp_dataset_image im[3] = {{1, NULL, NULL}, {0, NULL, NULL}, {0, NULL, NULL}};
    polyp_dataset d = {4, 3, im, NULL, NULL, NULL};
    polyp_split s;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_split_dataset(&d, 5000, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "no labels"));
    d.n_images = 0;
    ck_assert_int_eq(polyp_split_dataset(&d, 5000, &s, &err), POLYP_ERR_INVALID_ARG);
    /* validation without kept labels */
    const char *ab[2] = {"a", "b"}, *c[1] = {"c"};
    polyp_dataset_image im2[3] = {{1, c, NULL}, {2, ab, NULL}, {2, ab, NULL}};
    polyp_dataset d2 = {4, 3, im2, NULL, NULL, NULL};
    ck_assert_int_eq(polyp_split_dataset(&d2, 5000, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "validation"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("split");
    TCase *tc = tcase_create("split");
    tcase_add_test(tc, roles_by_index);
    tcase_add_test(tc, reference_cap);
    tcase_add_test(tc, kept_labels);
    tcase_add_test(tc, split_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
