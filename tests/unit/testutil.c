/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *tu_source_path(const char *rel) {
    static char buf[4096];
    const char *root = getenv("POLYP_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *tu_testdata_path(const char *rel) {
    static char buf[4096];
    const char *root = getenv("POLYP_TESTDATA");
    struct stat st;
    if (!root || stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return buf;
}

void tu_require_testdata(void) {
    if (!tu_testdata_path("")) {
        fprintf(stderr, "SKIPPED: ../shared/testdata not found (POLYP_TESTDATA=%s)\n",
                getenv("POLYP_TESTDATA") ? getenv("POLYP_TESTDATA") : "(unset)");
        exit(77);
    }
}

void *tu_read(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) ck_abort_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) ck_abort_msg("cannot read %s", path);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

int tu_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void tu_assert_same_model_file(const polyp_classifier *a, const polyp_classifier *b) {
    polyp_error err = {0};
    void *ba, *bb;
    size_t na, nb;
    ck_assert_msg(polyp_classifier_save(a, &ba, &na, &err) == POLYP_OK, "%s", err.message);
    ck_assert_msg(polyp_classifier_save(b, &bb, &nb, &err) == POLYP_OK, "%s", err.message);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(ba, bb, na), 0);
    polyp_free(ba);
    polyp_free(bb);
}
