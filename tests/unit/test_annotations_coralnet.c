/* test_annotations_coralnet.c - CoralNet's own annotation exports (../shared/testdata, real
 * files with quoted and unquoted fields, CRLF and LF, metadata and machine-suggestion columns)
 * parse with the counts their PROVENANCE.md states, and agree point for point with the common
 * CSVs that a separate conversion script made from them. */
#include "internal.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static polyp_annotations load(const char *rel) {
    const char *path = tu_testdata_path(rel);
    ck_assert_ptr_nonnull(path);
    size_t n;
    void *data = tu_read(path, &n);
    polyp_annotations a;
    polyp_error err = {0};
    polyp_status st = polyp_annotations_parse_csv(data, n, &a, &err);
    free(data);
    ck_assert_msg(st == POLYP_OK, "%s: %s", rel, err.message);
    return a;
}

static size_t distinct_names(const polyp_annotations *a) {
    size_t d = 0;
    for (size_t i = 0; i < a->count; i++) {
        size_t j = 0;
        while (j < i && strcmp(a->items[j].name, a->items[i].name) != 0) j++;
        if (j == i) d++;
    }
    return d;
}

static void check_pair(const char *export_csv, const char *common_csv, size_t points, size_t images) {
    polyp_annotations e = load(export_csv), c = load(common_csv);
    ck_assert_uint_eq(e.count, points);
    ck_assert_uint_eq(c.count, points);
    ck_assert_uint_eq(distinct_names(&e), images);
    for (size_t i = 0; i < points; i++) {
        ck_assert_str_eq(e.items[i].name, c.items[i].name);
        ck_assert_uint_eq(e.items[i].row, c.items[i].row);
        ck_assert_uint_eq(e.items[i].col, c.items[i].col);
        ck_assert_ptr_nonnull(e.items[i].label);
        ck_assert_str_eq(e.items[i].label, c.items[i].label);
    }
    polyp_annotations_free(&e);
    polyp_annotations_free(&c);
}

START_TEST(annotations_for_ai) {
    check_pair("coralnet-export-sample-patagonia/annotations_forAI.csv",
               "coralnet-export-sample-patagonia/points_forAI.csv", 2000, 20);
    polyp_annotations e = load("coralnet-export-sample-patagonia/annotations_forAI.csv");
    /* First data line, read off the file by eye. */
    ck_assert_str_eq(e.items[0].name, "IMG_0430_C2.jpg");
    ck_assert_uint_eq(e.items[0].row, 121);
    ck_assert_uint_eq(e.items[0].col, 120);
    ck_assert_str_eq(e.items[0].label, "FILA");
    size_t carnea = 0;
    for (size_t i = 0; i < e.count; i++) carnea += strcmp(e.items[i].label, "C.carnea") == 0;
    ck_assert_uint_eq(carnea, 704); /* PROVENANCE.md: C.carnea 704 */
    polyp_annotations_free(&e);
}
END_TEST

START_TEST(annotations_golfonuevo) {
    check_pair("coralnet-export-sample-patagonia/annotations_golfonuevo_5images.csv",
               "coralnet-export-sample-patagonia/points_golfonuevo_5images.csv", 500, 5);
    polyp_annotations e = load("coralnet-export-sample-patagonia/annotations_golfonuevo_5images.csv");
    size_t mafr = 0;
    for (size_t i = 0; i < e.count; i++) mafr += strcmp(e.items[i].label, "MAFR") == 0;
    ck_assert_uint_eq(mafr, 301); /* PROVENANCE.md: MAFR 301 */
    polyp_annotations_free(&e);
}
END_TEST

START_TEST(seattle_common_csv) {
    polyp_annotations a = load("seattle-patches/points.csv");
    ck_assert_uint_eq(a.count, 677);
    ck_assert_str_eq(a.items[0].name, "patches/BR_encrust/BR_encrust_10efab59-1941-4f12-bf0a-f722ed8ecb20.jpg");
    ck_assert_str_eq(a.items[0].label, "BR_encrust");
    polyp_annotations_free(&a);
}
END_TEST

int main(void) {
    tu_require_testdata();
    Suite *s = suite_create("annotations_coralnet");
    TCase *tc = tcase_create("testdata");
    tcase_add_test(tc, annotations_for_ai);
    tcase_add_test(tc, annotations_golfonuevo);
    tcase_add_test(tc, seattle_common_csv);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
