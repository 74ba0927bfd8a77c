/* test_export.c - CoralNet's own export CSVs (../shared/testdata/coralnet-export-sample-
 * patagonia, never copied) import, go through polyp's export writer and import again with
 * every name, row, column and label unchanged; machine columns come out blank when the
 * points have no scores and filled with integer percents when they do. */
#include "polyp.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void round_trip(const char *rel) {
    const char *path = tu_testdata_path(rel);
    ck_assert_ptr_nonnull(path);
    size_t size;
    void *data = tu_read(path, &size);
    polyp_annotations a, b;
    polyp_error err = {0};
    ck_assert_msg(polyp_annotations_parse_csv(data, size, &a, &err) == POLYP_OK, "%s: %s", rel, err.message);
    ck_assert_uint_gt(a.count, 0);
    polyp_export_row *rows = calloc(a.count, sizeof *rows);
    const char *labels[2] = {"X", "Y"};
    float probs[2] = {0.25f, 0.75f};
    for (size_t i = 0; i < a.count; i++) {
        rows[i].name = a.items[i].name;
        rows[i].row = a.items[i].row;
        rows[i].col = a.items[i].col;
        rows[i].label = a.items[i].label;
        rows[i].probs = (i % 2) ? probs : NULL;
    }
    void *out;
    size_t n;
    ck_assert(polyp_export_csv(rows, a.count, labels, 2, NULL, &out, &n, &err) == POLYP_OK);
    ck_assert_msg(polyp_annotations_parse_csv(out, n, &b, &err) == POLYP_OK, "re-import: %s", err.message);
    ck_assert_uint_eq(a.count, b.count);
    size_t labelled = 0;
    for (size_t i = 0; i < a.count; i++) {
        ck_assert_str_eq(a.items[i].name, b.items[i].name);
        ck_assert_uint_eq(a.items[i].row, b.items[i].row);
        ck_assert_uint_eq(a.items[i].col, b.items[i].col);
        ck_assert_int_eq(a.items[i].label == NULL, b.items[i].label == NULL);
        if (a.items[i].label) {
            ck_assert_str_eq(a.items[i].label, b.items[i].label);
            labelled++;
        }
    }
    ck_assert_uint_gt(labelled, 0);
    /* the second data line has scores: Y 75, X 25, then three blank pairs */
    char *text = malloc(n + 1);
    memcpy(text, out, n);
    text[n] = 0;
    char *line2 = strstr(strstr(text, "\r\n") + 2, "\r\n") + 2;
    ck_assert_ptr_nonnull(strstr(line2, ",Y,75,X,25,,,,,,\r\n"));
    free(text);
    polyp_free(out);
    polyp_annotations_free(&a);
    polyp_annotations_free(&b);
    free(rows);
    free(data);
}

START_TEST(patagonia_5images) { round_trip("coralnet-export-sample-patagonia/annotations_golfonuevo_5images.csv"); }
END_TEST
START_TEST(patagonia_forAI) { round_trip("coralnet-export-sample-patagonia/annotations_forAI.csv"); }
END_TEST

int main(void) {
    tu_require_testdata();
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_add_test(tc, patagonia_5images);
    tcase_add_test(tc, patagonia_forAI);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
