/* test_annotations.c - CoralNet annotation CSV import: every header variant CoralNet accepts,
 * the project's common CSV, and hand-made bad files whose errors must name line and column. */
#include "internal.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static polyp_annotations parse_ok(const char *csv) {
    polyp_annotations a;
    polyp_error err = {0};
    polyp_status st = polyp_annotations_parse_csv(csv, strlen(csv), &a, &err);
    ck_assert_msg(st == POLYP_OK, "parse failed: %s", err.message);
    return a;
}

static void expect_point(const polyp_annotations *a, size_t i, const char *name, uint32_t row,
                         uint32_t col, const char *label) {
    ck_assert_uint_lt(i, a->count);
    ck_assert_str_eq(a->items[i].name, name);
    ck_assert_uint_eq(a->items[i].row, row);
    ck_assert_uint_eq(a->items[i].col, col);
    if (label) ck_assert_str_eq(a->items[i].label, label);
    else ck_assert_ptr_null(a->items[i].label);
}

START_TEST(current_export_header) {
    polyp_annotations a = parse_ok("Name,Row,Column,Label code\nimg1.jpg,10,20,Porites\nimg2.jpg,0,5,CCA\n");
    ck_assert_uint_eq(a.count, 2);
    expect_point(&a, 0, "img1.jpg", 10, 20, "Porites");
    expect_point(&a, 1, "img2.jpg", 0, 5, "CCA");
    polyp_annotations_free(&a);
    ck_assert_ptr_null(a.items);
}
END_TEST

START_TEST(headers_case_whitespace_bom_order_extras) {
    const char *variants[] = {
        "name,row,column,label code\n",
        "NAME,ROW,COLUMN,LABEL CODE\n",
        "  Name\t, Row ,Column ,  Label code \n",
        "\xEF\xBB\xBFName,Row,Column,Label code\n",
        "\"Name\",\"Row\",\"Column\",\"Label code\"\n",
        "\xEF\xBB\xBF\" Name \",Row,Column,Label code\r\n",
        "Date,Name,Annotator,Row,Comments,Column,Label code,Machine suggestion 1\n",
    };
    const char *bodies[] = {
        "a.jpg,1,2,X\n", "a.jpg,1,2,X\n", "a.jpg,1,2,X\n", "a.jpg,1,2,X\n", "a.jpg,1,2,X\n",
        "a.jpg,1,2,X\r\n", "2020-01-01,a.jpg,bob,1,\"multi\nline, comment\",2,X,Y\n",
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char csv[512];
        snprintf(csv, sizeof csv, "%s%s", variants[v], bodies[v]);
        polyp_annotations a = parse_ok(csv);
        ck_assert_msg(a.count == 1, "variant %zu: %zu points", v, a.count);
        expect_point(&a, 0, "a.jpg", 1, 2, "X");
        polyp_annotations_free(&a);
    }
}
END_TEST

START_TEST(legacy_label_and_preference) {
    polyp_annotations a = parse_ok("Name,Row,Column,Label\nx.png,3,4,Sand\n");
    expect_point(&a, 0, "x.png", 3, 4, "Sand");
    polyp_annotations_free(&a);
    /* Both present: "Label code" wins, whatever the column order. */
    a = parse_ok("Name,Label,Row,Column,Label code\nx.png,Full name,3,4,CODE\n");
    expect_point(&a, 0, "x.png", 3, 4, "CODE");
    polyp_annotations_free(&a);
    a = parse_ok("Label code,Name,Row,Column,label\nCODE,x.png,3,4,Full name\n");
    expect_point(&a, 0, "x.png", 3, 4, "CODE");
    polyp_annotations_free(&a);
}
END_TEST

START_TEST(labels_optional_or_empty) {
    polyp_annotations a = parse_ok("Name,Row,Column\nx.png,3,4\n");
    expect_point(&a, 0, "x.png", 3, 4, NULL);
    polyp_annotations_free(&a);
    a = parse_ok("Name,Row,Column,Label code\nx.png,3,4,\ny.png,5,6,  \nz.png,7,8, Algae \n");
    expect_point(&a, 0, "x.png", 3, 4, NULL);
    expect_point(&a, 1, "y.png", 5, 6, NULL);
    expect_point(&a, 2, "z.png", 7, 8, "Algae");
    polyp_annotations_free(&a);
    /* A row may stop before an optional label column. */
    a = parse_ok("Name,Row,Column,Label code\nx.png,3,4\n");
    expect_point(&a, 0, "x.png", 3, 4, NULL);
    polyp_annotations_free(&a);
}
END_TEST

START_TEST(common_csv_image_column) {
    polyp_annotations a = parse_ok("image,row,column,label\r\npatches/A/p1.jpg,112,112,BR_encrust\r\np2.jpg,0,65535,\r\n");
    ck_assert_uint_eq(a.count, 2);
    expect_point(&a, 0, "patches/A/p1.jpg", 112, 112, "BR_encrust");
    expect_point(&a, 1, "p2.jpg", 0, 65535, NULL);
    polyp_annotations_free(&a);
    /* Name wins over image when both exist. */
    a = parse_ok("image,Name,Row,Column\nthumb.jpg,full.jpg,1,1\n");
    expect_point(&a, 0, "full.jpg", 1, 1, NULL);
    polyp_annotations_free(&a);
}
END_TEST

START_TEST(order_duplicates_and_blank_lines_kept) {
    polyp_annotations a = parse_ok("Name,Row,Column\nb.jpg,1,1\n\na.jpg,2,2\nb.jpg,1,1\n\n");
    ck_assert_uint_eq(a.count, 3);
    expect_point(&a, 0, "b.jpg", 1, 1, NULL);
    expect_point(&a, 1, "a.jpg", 2, 2, NULL);
    expect_point(&a, 2, "b.jpg", 1, 1, NULL);
    polyp_annotations_free(&a);
    a = parse_ok("Name,Row,Column\n");
    ck_assert_uint_eq(a.count, 0);
    polyp_annotations_free(&a);
}
END_TEST

static void expect_bad(const char *csv, polyp_status want, const char *n1, const char *n2) {
    polyp_annotations a;
    polyp_error err = {0};
    polyp_status st = polyp_annotations_parse_csv(csv, strlen(csv), &a, &err);
    ck_assert_msg(st == want, "status %d for %s (%s)", st, csv, err.message);
    ck_assert_msg(strstr(err.message, n1), "'%s' not in '%s'", n1, err.message);
    if (n2) ck_assert_msg(strstr(err.message, n2), "'%s' not in '%s'", n2, err.message);
    ck_assert_uint_eq(a.count, 0);
    ck_assert_ptr_null(a.items);
}

START_TEST(bad_files_name_line_and_column) {
    expect_bad("", POLYP_ERR_FORMAT, "empty", NULL);
    expect_bad("\n\n", POLYP_ERR_FORMAT, "empty", NULL);
    expect_bad("Name,Column,Label\na,1,x\n", POLYP_ERR_FORMAT, "line 1", "missing required column \"Row\"");
    expect_bad("Row,Column\n1,1\n", POLYP_ERR_FORMAT, "line 1", "\"Name\"");
    expect_bad("Name,Row\na,1\n", POLYP_ERR_FORMAT, "line 1", "\"Column\"");
    expect_bad("Name,Row,Row,Column\na,1,1,1\n", POLYP_ERR_FORMAT, "line 1", "\"Row\" appears twice");
    expect_bad("Name,Row,Column\na,1,1\nb,x1,2\n", POLYP_ERR_FORMAT, "line 3, column \"Row\"", "not an integer");
    expect_bad("Name,Row,Column\na,1,1\nb,1.5,2\n", POLYP_ERR_FORMAT, "line 3, column \"Row\"", "not an integer");
    expect_bad("Name,Row,Column\na,1,-4\n", POLYP_ERR_FORMAT, "line 2, column \"Column\"", "negative");
    expect_bad("Name,Row,Column\na,1,65536\n", POLYP_ERR_FORMAT, "line 2, column \"Column\"", "too large");
    expect_bad("Name,Row,Column\na,99999999999999999999999,1\n", POLYP_ERR_FORMAT, "line 2, column \"Row\"",
               "too large");
    expect_bad("Name,Row,Column\na,,1\n", POLYP_ERR_FORMAT, "line 2, column \"Row\"", "empty");
    expect_bad("Name,Row,Column\n  ,1,1\n", POLYP_ERR_FORMAT, "line 2, column \"Name\"", "empty image name");
    expect_bad("image,row,column\n,1,1\n", POLYP_ERR_FORMAT, "line 2, column \"image\"", "empty image name");
    expect_bad("Name,Row,Column\na,1\n", POLYP_ERR_FORMAT, "line 2, column \"Column\"", "missing");
    /* Line numbers count the physical lines of multi-line quoted fields. */
    expect_bad("Name,Note,Row,Column\na,\"x\ny\nz\",1,1\nb,q,1,oops\n", POLYP_ERR_FORMAT,
               "line 5, column \"Column\"", NULL);
    expect_bad("Name,Row,Column\na,\"1,1\n", POLYP_ERR_FORMAT, "never closed", NULL);
}
END_TEST

START_TEST(null_arguments) {
    polyp_annotations a;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_annotations_parse_csv(NULL, 5, &a, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_int_eq(polyp_annotations_parse_csv("x", 1, NULL, &err), POLYP_ERR_INVALID_ARG);
    polyp_annotations_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("annotations");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, current_export_header);
    tcase_add_test(tc, headers_case_whitespace_bom_order_extras);
    tcase_add_test(tc, legacy_label_and_preference);
    tcase_add_test(tc, labels_optional_or_empty);
    tcase_add_test(tc, common_csv_image_column);
    tcase_add_test(tc, order_duplicates_and_blank_lines_kept);
    tcase_add_test(tc, bad_files_name_line_and_column);
    tcase_add_test(tc, null_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
