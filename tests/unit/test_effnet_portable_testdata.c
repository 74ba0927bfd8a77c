/* test_effnet_portable_testdata.c - the portable backend against the PyTorch reference on
 * the `testdata` cases of tests/fixtures/effnet/cases.csv: real survey patches, an image
 * smaller than a patch (repeated reflection), gray and RGBA PNGs from ../shared/testdata.
 * Skipped (exit 77) when that folder is absent. */
#include "effnet_cases.h"

START_TEST(testdata_cases_match_pytorch) {
    polyp_weights *w = ec_load_testnet();
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_PORTABLE;
    polyp_extractor *ex;
    polyp_error err = {0};
    ck_assert_msg(polyp_extractor_init(w, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    ec_result r = ec_run(ex, "testdata", ec_stride());
    ec_check(&r);
    polyp_extractor_free(ex);
    polyp_weights_free(w);
}
END_TEST

int main(void) {
    tu_require_testdata();
    Suite *s = suite_create("effnet_portable_testdata");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, testdata_cases_match_pytorch);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
