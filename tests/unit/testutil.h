/* testutil.h - helpers shared by the Check unit tests. */
#ifndef POLYP_TESTUTIL_H
#define POLYP_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include "polyp.h"

/* Path under the project source tree (POLYP_SOURCE_DIR), e.g. "tests/fixtures/x.bin".
 * Returns a static buffer; copy it before the next call. */
const char *tu_source_path(const char *rel);

/* Path under ../shared/testdata, or NULL when that folder is missing. */
const char *tu_testdata_path(const char *rel);

/* Exits 77 (ctest: skipped) with a message when the testdata folder is missing. Call it at
 * the start of main() of tests that cannot run without real data. */
void tu_require_testdata(void);

/* Reads a whole file; aborts the test (ck_abort) when it cannot. Caller frees. */
void *tu_read(const char *path, size_t *size);

/* Asserts that a and b save to the same model file bytes (the file holds the whole model:
 * kind, labels, weights, calibration). */
void tu_assert_same_model_file(const polyp_classifier *a, const polyp_classifier *b);

/* Runs one suite with Check's normal output and returns the process exit status. */
int tu_run_suite(Suite *s);

#endif
