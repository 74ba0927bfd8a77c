/* test_effnet_portable.c - the portable backend against the PyTorch reference on the
 * synthetic fixture images (tests/fixtures/effnet): the seeded test network built in memory
 * from the committed BN statistics, every `fixtures` case of cases.csv cropped and
 * extracted, features within 1e-4 absolute of features.f32. The `testdata` cases run in
 * test_effnet_portable_testdata (they need ../shared/testdata).
 * Sanitizer builds run every 4th case (see ec_stride). */
#include "effnet_cases.h"

START_TEST(fixture_cases_match_pytorch) {
    polyp_weights *w = ec_load_testnet();
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_PORTABLE;
    p.batch_size = 4; /* several batches per image, and a partial last batch */
    polyp_extractor *ex;
    polyp_error err = {0};
    ck_assert_msg(polyp_extractor_init(w, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    ck_assert_str_eq(polyp_extractor_backend_name(ex), "portable");
    ec_result r = ec_run(ex, "fixtures", ec_stride());
    ec_check(&r);
    polyp_extractor_free(ex);
    polyp_weights_free(w);
}
END_TEST

int main(void) {
    Suite *s = suite_create("effnet_portable");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, fixture_cases_match_pytorch);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
