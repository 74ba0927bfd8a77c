/* test_backend_xnnpack.c - the XNNPACK backend against PyTorch's features of the seeded test
 * network (tests/fixtures/effnet, made by models/), against the portable backend, across
 * batch sizes (with a short last batch) and thread counts, and its error reporting.
 *
 * Without XNNPACK in the build there is nothing to test: the program exits 77 so ctest
 * reports it skipped, never passed. */
#include "effnet.h"
#include "effnet_cases.h"
#include "testnet.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef POLYP_HAVE_XNNPACK
int main(void) {
    fprintf(stderr, "SKIPPED: built without XNNPACK (POLYP_HAVE_XNNPACK undefined)\n");
    return 77;
}
#else

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)
#define MAX_CASES 256

/* Every test shares one fixture set, loaded once (Check forks per test; loading before
 * srunner_run_all lets the children inherit it). */
static polyp_weights *g_weights;
static float *g_patches;   /* [g_n][224][224][3] HWC, cases of source "fixtures" */
static float *g_expected;  /* [g_n][1280] PyTorch features of the same cases */
static size_t g_n;

static void load_weights(void) {
    size_t stats_size, net_size;
    void *stats = tu_read(tu_source_path("models/testnet-bnstats.safetensors"), &stats_size);
    void *net;
    polyp_error err = {0};
    if (polyp_testnet_build(POLYP_TESTNET_DEFAULT_SEED, stats, stats_size, &net, &net_size, &err) != POLYP_OK) {
        fprintf(stderr, "polyp_testnet_build: %s\n", err.message);
        exit(1);
    }
    if (polyp_weights_load(net, net_size, &g_weights, &err) != POLYP_OK) {
        fprintf(stderr, "polyp_weights_load: %s\n", err.message);
        exit(1);
    }
    polyp_free(net);
    free(stats);
}

/* cases.csv: "source,image,row,col"; features.f32 holds one 1280-float row per line. Only
 * the "fixtures" cases are used (their images are committed; "testdata" ones are not). */
static void load_cases(void) {
    size_t csv_size, feat_size;
    char *csv = tu_read(tu_source_path("tests/fixtures/effnet/cases.csv"), &csv_size);
    float *all = tu_read(tu_source_path("tests/fixtures/effnet/features.f32"), &feat_size);
    char *text = malloc(csv_size + 1);
    memcpy(text, csv, csv_size);
    text[csv_size] = '\0';
    free(csv);

    size_t lines = 0;
    for (size_t i = 0; i < csv_size; i++) lines += text[i] == '\n';
    size_t cap = lines < MAX_CASES ? lines + 1 : MAX_CASES;
    g_patches = malloc(cap * PATCH_FLOATS * sizeof(float));
    g_expected = malloc(cap * POLYP_FEATURE_DIM * sizeof(float));
    size_t line = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save), line++) {
        if (line == 0) continue; /* header */
        char source[32], image[256];
        unsigned row, col;
        if (sscanf(l, "%31[^,],%255[^,],%u,%u", source, image, &row, &col) != 4) {
            fprintf(stderr, "cases.csv line %zu unreadable: %s\n", line + 1, l);
            exit(1);
        }
        size_t idx = line - 1;
        if ((idx + 1) * POLYP_FEATURE_DIM * sizeof(float) > feat_size) {
            fprintf(stderr, "features.f32 has fewer rows than cases.csv\n");
            exit(1);
        }
        if (strcmp(source, "fixtures") != 0) continue;
        if (g_n == cap) break;
        char rel[400];
        snprintf(rel, sizeof rel, "tests/fixtures/effnet/%s", image);
        polyp_image img;
        polyp_error err = {0};
        polyp_point pt = {row, col};
        if (polyp_image_load_file(tu_source_path(rel), NULL, &img, &err) != POLYP_OK ||
            polyp_patch_crop(&img, pt, g_patches + g_n * PATCH_FLOATS, &err) != POLYP_OK) {
            fprintf(stderr, "%s (%u,%u): %s\n", rel, row, col, err.message);
            exit(1);
        }
        polyp_image_free(&img);
        memcpy(g_expected + g_n * POLYP_FEATURE_DIM, all + idx * POLYP_FEATURE_DIM,
               POLYP_FEATURE_DIM * sizeof(float));
        g_n++;
    }
    free(text);
    free(all);
    if (g_n < 9) {
        /* Fewer than 9 cases could not exercise a full batch of 8 plus a short last one. */
        fprintf(stderr, "only %zu fixtures cases in cases.csv: need at least 9\n", g_n);
        exit(1);
    }
}

/* polyp.h's thread rule: XNNPACK takes its thread count from params.parallel and runs on
 * its own pthreadpool, so `run` must never be called. */
static void run_must_not_be_called(void *ctx, void (*fn)(void *, size_t), void *arg, size_t n) {
    ck_abort_msg("the xnnpack backend called parallel->run (%zu items)", n);
}

static polyp_parallel threads_of(int threads) { return (polyp_parallel){NULL, threads, run_must_not_be_called}; }

/* Threads of this process now (Linux: one entry per thread in /proc/self/task). */
static int process_threads(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* Runs the first n fixture patches through `ops` with the given batch size and threads, in
 * chunks of `batch` (the last one short when batch does not divide n). Caller frees. */
static float *extract(const polyp_backend_ops *ops, size_t n, size_t batch, int threads) {
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = batch;
    polyp_parallel par = threads_of(threads);
    p.parallel = &par;
    void *state = NULL;
    polyp_error err = {0};
    polyp_status st = ops->init(g_weights, &p, &state, &err);
    ck_assert_msg(st == POLYP_OK, "%s init (batch %zu): %s", ops->name, batch, err.message);
    float *out = malloc(n * POLYP_FEATURE_DIM * sizeof(float));
    for (size_t i = 0; i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        st = ops->run(state, g_patches + i * PATCH_FLOATS, m, out + i * POLYP_FEATURE_DIM, &err);
        ck_assert_msg(st == POLYP_OK, "%s run: %s", ops->name, err.message);
    }
    ops->free(state);
    return out;
}

/* Largest |a - b| over n feature rows; fails naming the first element beyond tol. */
static double assert_close(const float *a, const float *b, size_t n, double tol, const char *what) {
    double worst = 0;
    for (size_t i = 0; i < n * POLYP_FEATURE_DIM; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        ck_assert_msg(d <= tol, "%s: case %zu feature %zu: %.8g vs %.8g (|diff| %.3g > %.1g)", what,
                      i / POLYP_FEATURE_DIM, i % POLYP_FEATURE_DIM, a[i], b[i], d, tol);
        if (d > worst) worst = d;
    }
    return worst;
}

START_TEST(fixtures_are_not_degenerate) {
    /* A parity test on features ~1e-14 passes whatever the code does (testnet-spec.md). */
    double sum = 0, sq = 0;
    size_t m = g_n * POLYP_FEATURE_DIM;
    for (size_t i = 0; i < m; i++) {
        sum += g_expected[i];
        sq += (double)g_expected[i] * g_expected[i];
    }
    double mean = sum / (double)m, sd = sqrt(sq / (double)m - mean * mean);
    ck_assert_msg(sd > 1e-2, "PyTorch features spread %.3g is too small to test anything", sd);
}
END_TEST

START_TEST(matches_pytorch) {
    float *f = extract(&polyp_backend_xnnpack_ops, g_n, 8, 1);
    double d = assert_close(f, g_expected, g_n, 1e-4, "xnnpack vs PyTorch");
    fprintf(stderr, "xnnpack vs PyTorch: %zu cases, max |diff| %.3g\n", g_n, d);
    free(f);
}
END_TEST

START_TEST(matches_portable) {
    float *x = extract(&polyp_backend_xnnpack_ops, g_n, 8, 1);
    float *p = extract(&polyp_backend_portable_ops, g_n, 8, 1);
    double d = assert_close(x, p, g_n, 1e-4, "xnnpack vs portable");
    fprintf(stderr, "xnnpack vs portable: %zu cases, max |diff| %.3g\n", g_n, d);
    free(x);
    free(p);
}
END_TEST

START_TEST(batch_sizes_agree) {
    /* 1, 3 and 8 patches per run; g_n >= 9 so 3 and 8 both end with a short batch whose
     * zero padding must not leak into the real rows. */
    float *b8 = extract(&polyp_backend_xnnpack_ops, g_n, 8, 1);
    float *b3 = extract(&polyp_backend_xnnpack_ops, g_n, 3, 1);
    float *b1 = extract(&polyp_backend_xnnpack_ops, g_n, 1, 1);
    assert_close(b1, g_expected, g_n, 1e-4, "batch 1 vs PyTorch");
    assert_close(b3, g_expected, g_n, 1e-4, "batch 3 vs PyTorch");
    double d3 = assert_close(b3, b8, g_n, 1e-5, "batch 3 vs batch 8");
    double d1 = assert_close(b1, b8, g_n, 1e-5, "batch 1 vs batch 8");
    fprintf(stderr, "batch 1 / 3 vs 8: max |diff| %.3g / %.3g\n", d1, d3);
    free(b8);
    free(b3);
    free(b1);
}
END_TEST

START_TEST(short_batch_of_one_in_a_runtime_of_eight) {
    /* A single patch run through a batch-8 runtime, after a full batch filled the other
     * slots: stale patches from the previous run must not change it. */
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = 8;
    void *state = NULL;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_backend_xnnpack_ops.init(g_weights, &p, &state, &err), POLYP_OK);
    float *out = malloc(8 * POLYP_FEATURE_DIM * sizeof(float));
    ck_assert_int_eq(polyp_backend_xnnpack_ops.run(state, g_patches, 8, out, &err), POLYP_OK);
    float one[POLYP_FEATURE_DIM];
    ck_assert_int_eq(polyp_backend_xnnpack_ops.run(state, g_patches + 8 * PATCH_FLOATS, 1, one, &err),
                     POLYP_OK);
    assert_close(one, g_expected + 8 * POLYP_FEATURE_DIM, 1, 1e-4, "single patch after a full batch");
    /* n == 0 is a no-op, not an error. */
    ck_assert_int_eq(polyp_backend_xnnpack_ops.run(state, NULL, 0, NULL, &err), POLYP_OK);
    polyp_backend_xnnpack_ops.free(state);
    free(out);
}
END_TEST

START_TEST(threads_agree) {
    float *t1 = extract(&polyp_backend_xnnpack_ops, g_n, 8, 1);
    float *t2 = extract(&polyp_backend_xnnpack_ops, g_n, 8, 2);
    double d = assert_close(t2, t1, g_n, 1e-5, "2 threads vs 1 thread");
    fprintf(stderr, "2 threads vs 1: max |diff| %.3g\n", d);
    free(t1);
    free(t2);
}
END_TEST

START_TEST(parallel_alone_sets_the_threads) {
    /* A caller that sets only params.parallel gets that many XNNPACK threads: its
     * pthreadpool starts n - 1 workers next to the calling thread. */
    int before = process_threads();
    ck_assert_int_gt(before, 0);
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_XNNPACK;
    polyp_parallel par = threads_of(3);
    p.parallel = &par;
    polyp_extractor *ex = NULL;
    polyp_error err = {0};
    ck_assert_msg(polyp_extractor_init(g_weights, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    ck_assert_int_eq(process_threads(), before + 2);
    polyp_extractor_free(ex);
    ck_assert_int_eq(process_threads(), before);
}
END_TEST

START_TEST(padding_variant_matters) {
    /* The parity test can fail: the same weights with torchvision's symmetric padding (one
     * pixel moved at each stride-2 layer) must land far outside the tolerance. */
    polyp_weights sym = *g_weights;
    sym.tf_same_padding = !g_weights->tf_same_padding;
    polyp_weights *saved = g_weights;
    g_weights = &sym;
    float *f = extract(&polyp_backend_xnnpack_ops, 8, 8, 1);
    g_weights = saved;
    double worst = 0;
    for (size_t i = 0; i < 8 * POLYP_FEATURE_DIM; i++) {
        double d = fabs((double)f[i] - (double)g_expected[i]);
        if (d > worst) worst = d;
    }
    fprintf(stderr, "symmetric padding moves features by up to %.3g\n", worst);
    ck_assert_msg(worst > 1e-2, "symmetric padding changed features by only %.3g", worst);
    free(f);
}
END_TEST

/* Through the public API: the extractor picks this backend by name and batches, crops and
 * extracts the fixture points (and ../shared/testdata's real patches when present). */
static void run_extractor(const char *source, int threads) {
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_XNNPACK;
    p.batch_size = 8;
    polyp_parallel par = threads_of(threads);
    p.parallel = &par;
    polyp_extractor *ex = NULL;
    polyp_error err = {0};
    ck_assert_msg(polyp_extractor_init(g_weights, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    ck_assert_str_eq(polyp_extractor_backend_name(ex), "xnnpack");
    ec_result r = ec_run(ex, source, ec_stride());
    ec_check(&r);
    polyp_extractor_free(ex);
}

START_TEST(extractor_fixtures) { run_extractor("fixtures", 2); }
END_TEST

START_TEST(extractor_testdata) { run_extractor("testdata", 2); }
END_TEST

/* init() must fail with `status` and a message containing `needle`. */
static void expect_create_error(const polyp_weights *w, size_t batch, int threads, polyp_status status,
                                const char *needle) {
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = batch;
    polyp_parallel par = threads_of(threads);
    p.parallel = &par;
    void *state = (void *)&p; /* must be reset to NULL on failure */
    polyp_error err = {0};
    polyp_status st = polyp_backend_xnnpack_ops.init(w, &p, &state, &err);
    ck_assert_msg(st == status, "expected status %d, got %d (%s)", status, st, err.message);
    ck_assert_ptr_null(state);
    ck_assert_msg(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
}

START_TEST(errors_name_the_problem) {
    expect_create_error(g_weights, 0, 1, POLYP_ERR_INVALID_ARG, "batch_size 0");
    expect_create_error(g_weights, 1u << 20, 1, POLYP_ERR_LIMIT, "batch_size 1048576");
    expect_create_error(g_weights, 2, -1, POLYP_ERR_INVALID_ARG, "n_threads -1");
    expect_create_error(g_weights, 2, 0, POLYP_ERR_INVALID_ARG, "n_threads 0");
    expect_create_error(g_weights, 2, 1 << 20, POLYP_ERR_LIMIT, "n_threads 1048576");
    expect_create_error(NULL, 2, 1, POLYP_ERR_INVALID_ARG, "weights");

    /* A shallow copy whose block 7 has lost its depthwise filter, and one whose block 3
     * disagrees with the block table (a loader bug must not become an out-of-bounds read). */
    polyp_weights broken = *g_weights;
    broken.blocks[7].dw_w = NULL;
    expect_create_error(&broken, 2, 1, POLYP_ERR_INVALID_ARG, "block 7 depthwise");
    broken = *g_weights;
    broken.blocks[3].spec.se += 1;
    expect_create_error(&broken, 2, 1, POLYP_ERR_INVALID_ARG, "block 3");

    /* More patches than the runtime's batch. */
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = 2;
    void *state = NULL;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_backend_xnnpack_ops.init(g_weights, &p, &state, &err), POLYP_OK);
    float out[3 * POLYP_FEATURE_DIM];
    ck_assert_int_eq(polyp_backend_xnnpack_ops.run(state, g_patches, 3, out, &err),
                     POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "3 patches exceed") && strstr(err.message, "batch size 2"),
                  "%s", err.message);
    ck_assert_int_eq(polyp_backend_xnnpack_ops.run(state, NULL, 1, out, &err), POLYP_ERR_INVALID_ARG);
    polyp_backend_xnnpack_ops.free(state);
    polyp_backend_xnnpack_ops.free(NULL); /* allowed, like free(NULL) */
}
END_TEST

int main(void) {
    load_weights();
    load_cases();
    Suite *s = suite_create("backend_xnnpack");
    TCase *tc = tcase_create("xnnpack");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, fixtures_are_not_degenerate);
    tcase_add_test(tc, matches_pytorch);
    tcase_add_test(tc, matches_portable);
    tcase_add_test(tc, batch_sizes_agree);
    tcase_add_test(tc, short_batch_of_one_in_a_runtime_of_eight);
    tcase_add_test(tc, threads_agree);
    tcase_add_test(tc, parallel_alone_sets_the_threads);
    tcase_add_test(tc, errors_name_the_problem);
    tcase_add_test(tc, padding_variant_matters);
    tcase_add_test(tc, extractor_fixtures);
    if (tu_testdata_path(""))
        tcase_add_test(tc, extractor_testdata);
    else
        fprintf(stderr, "note: ../shared/testdata missing: its 'testdata' parity cases are not run\n");
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    polyp_weights_free(g_weights);
    free(g_patches);
    free(g_expected);
    return rc;
}

#endif /* POLYP_HAVE_XNNPACK */
