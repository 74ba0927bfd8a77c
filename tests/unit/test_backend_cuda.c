/* test_backend_cuda.c - the CUDA backend on a GPU: both precisions against PyTorch's features
 * of the seeded test network (tests/fixtures/effnet, and the testdata cases when
 * ../shared/testdata is there), exact against the portable backend on real photos (the
 * truncated Moorea JPEG among them), the device crop (polyp_extract_points) against host
 * patches (polyp_extract_patches), and batch sizes with a short last batch.
 *
 * exact: max |cuda - PyTorch| <= 1e-4 * max(1, max |PyTorch|), the CPU backends' bar.
 * fast:  reported (max relative error, 1 - cosine per patch) and only bounded loosely here:
 *        1 - cosine < 1e-3 catches a broken kernel, not a rounding choice.
 * Skipped (77) in a build without CUDA or on a machine without a usable device (CI): it is
 * run by tests/cuda/gpu_check.sh on a GPU machine, never reported as passing elsewhere. */
#include "effnet_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)

#ifndef POLYP_HAVE_CUDA
int main(void) {
    fprintf(stderr, "SKIPPED: built without CUDA (POLYP_HAVE_CUDA undefined)\n");
    return 77;
}
#else

static polyp_weights *g_w;

static polyp_extractor *make(polyp_backend b, polyp_precision prec, size_t batch) {
    if (!g_w) g_w = ec_load_testnet(); /* per forked test; freed with the process */
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = b;
    p.precision = prec;
    p.batch_size = batch;
    polyp_extractor *ex;
    polyp_error err = {0};
    ck_assert_msg(polyp_extractor_init(g_w, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    return ex;
}

typedef struct cmp {
    double max_abs, max_ref, max_rel, max_1mcos;
} cmp;

/* got vs ref, n rows of 1280 */
static cmp compare(const float *got, const float *ref, size_t n) {
    cmp c = {0};
    for (size_t q = 0; q < n; q++) {
        const float *g = got + q * POLYP_FEATURE_DIM, *r = ref + q * POLYP_FEATURE_DIM;
        double dot = 0, gg = 0, rr = 0, rmax = 0, dmax = 0;
        for (size_t k = 0; k < POLYP_FEATURE_DIM; k++) {
            double d = fabs((double)g[k] - r[k]);
            if (!(d <= dmax)) dmax = isnan(d) ? INFINITY : d;
            if (fabs(r[k]) > rmax) rmax = fabs(r[k]);
            dot += (double)g[k] * r[k];
            gg += (double)g[k] * g[k];
            rr += (double)r[k] * r[k];
        }
        if (dmax > c.max_abs) c.max_abs = dmax;
        if (rmax > c.max_ref) c.max_ref = rmax;
        double rel = dmax / (rmax > 1 ? rmax : 1);
        if (!(rel <= c.max_rel)) c.max_rel = isnan(rel) ? INFINITY : rel;
        double omc = 1.0 - dot / (sqrt(gg) * sqrt(rr) + 1e-30);
        if (!(omc <= c.max_1mcos)) c.max_1mcos = isnan(omc) ? INFINITY : omc;
    }
    return c;
}

/* Features of every case of `source` (cases.csv order) into out; returns how many. */
static size_t extract_cases(polyp_extractor *ex, const char *source, float *out, float *expected) {
    static ec_case all[EC_MAX_CASES];
    size_t total = ec_read_cases(all), n = 0, fsize;
    float *ref = tu_read(tu_source_path("tests/fixtures/effnet/features.f32"), &fsize);
    ck_assert_uint_eq(fsize, total * POLYP_FEATURE_DIM * sizeof(float));
    polyp_error err = {0};
    for (size_t i = 0; i < total; i++) {
        if (strcmp(all[i].source, source) != 0) continue;
        char rel[300];
        const char *path;
        if (!strcmp(source, "fixtures")) {
            snprintf(rel, sizeof rel, "tests/fixtures/effnet/%s", all[i].image);
            path = tu_source_path(rel);
        } else {
            path = tu_testdata_path(all[i].image);
        }
        polyp_image img;
        ck_assert_msg(polyp_image_load_file(path, NULL, &img, &err) == POLYP_OK, "%s", err.message);
        ck_assert_msg(polyp_extract_points(ex, &img, &all[i].point, 1, out + n * POLYP_FEATURE_DIM, &err) == POLYP_OK,
                      "%s", err.message);
        polyp_image_free(&img);
        memcpy(expected + n * POLYP_FEATURE_DIM, ref + i * POLYP_FEATURE_DIM, POLYP_FEATURE_DIM * sizeof(float));
        n++;
    }
    free(ref);
    return n;
}

static void parity(const char *source) {
    float *got = malloc(EC_MAX_CASES * POLYP_FEATURE_DIM * sizeof(float));
    float *ref = malloc(EC_MAX_CASES * POLYP_FEATURE_DIM * sizeof(float));
    for (int prec = 0; prec < 2; prec++) {
        polyp_extractor *ex = make(POLYP_BACKEND_CUDA, (polyp_precision)prec, 8);
        size_t n = extract_cases(ex, source, got, ref);
        polyp_extractor_free(ex);
        ck_assert_uint_gt(n, 0);
        cmp c = compare(got, ref, n);
        printf("cuda %s vs PyTorch (%s, %zu cases): max |diff| %.3g, max |ref| %.3g, max rel err %.3g, max 1-cos %.3g\n",
               prec ? "fast" : "exact", source, n, c.max_abs, c.max_ref, c.max_rel, c.max_1mcos);
        if (prec == 0)
            ck_assert_msg(c.max_abs <= 1e-4 * (c.max_ref > 1 ? c.max_ref : 1), "exact: max diff %g (max |ref| %g)",
                          c.max_abs, c.max_ref);
        else
            ck_assert_msg(c.max_1mcos < 1e-3, "fast: 1 - cosine %g", c.max_1mcos);
    }
    free(got);
    free(ref);
}

START_TEST(fixtures_match_pytorch) { parity("fixtures"); }
END_TEST

START_TEST(testdata_cases_match_pytorch) {
    if (!tu_testdata_path("")) { /* a pass of nothing: said on stdout (gpu_check.sh keeps the log) */
        printf("testdata_cases_match_pytorch: no ../shared/testdata, nothing compared\n");
        return;
    }
    parity("testdata");
}
END_TEST

/* The device crop gives the same bits as host patches through the same network, and batch
 * sizes 1, 5 (a short last batch of 2 for 7 points) and 7 (the graph) agree exactly. */
START_TEST(device_crop_equals_host_patches) {
    polyp_image img;
    polyp_error err = {0};
    ck_assert_msg(polyp_image_load_file(tu_source_path("tests/fixtures/effnet/synth_57x41.png"), NULL, &img, &err) ==
                      POLYP_OK, "%s", err.message);
    const polyp_point pts[7] = {{0, 0}, {40, 56}, {20, 28}, {0, 56}, {40, 0}, {7, 3}, {33, 50}};
    float *patches = malloc(7 * PATCH_FLOATS * sizeof(float));
    for (size_t i = 0; i < 7; i++) ck_assert_int_eq(polyp_patch_crop(&img, pts[i], patches + i * PATCH_FLOATS, &err), POLYP_OK);
    float *a = malloc(7 * POLYP_FEATURE_DIM * sizeof(float)), *b = malloc(7 * POLYP_FEATURE_DIM * sizeof(float));
    const size_t batches[3] = {1, 5, 7};
    for (int prec = 0; prec < 2; prec++) {
        polyp_extractor *ref = make(POLYP_BACKEND_CUDA, (polyp_precision)prec, 7);
        ck_assert_int_eq(polyp_extract_patches(ref, patches, 7, a, &err), POLYP_OK);
        polyp_extractor_free(ref);
        for (size_t k = 0; k < 3; k++) {
            polyp_extractor *ex = make(POLYP_BACKEND_CUDA, (polyp_precision)prec, batches[k]);
            ck_assert_msg(polyp_extract_points(ex, &img, pts, 7, b, &err) == POLYP_OK, "%s", err.message);
            polyp_extractor_free(ex);
            ck_assert_msg(!memcmp(a, b, 7 * POLYP_FEATURE_DIM * sizeof(float)),
                          "precision %d batch %zu: device crop differs from host patches", prec, batches[k]);
        }
    }
    free(a);
    free(b);
    free(patches);
    polyp_image_free(&img);
}
END_TEST

/* exact against the portable backend on whole survey photos (a grid of points including
 * the corners, so reflect padding on every side), the truncated JPEG among them. */
START_TEST(photos_match_portable) {
    const char *photos[] = {"unlabeled-real-images/coralnet_p82pkvoqn3.JPG", "mermaid-sample/mermaid_3805.JPG",
                            "unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png"};
    if (!tu_testdata_path("")) {
        printf("photos_match_portable: no ../shared/testdata, nothing compared\n");
        return;
    }
    polyp_extractor *cu = make(POLYP_BACKEND_CUDA, POLYP_PRECISION_EXACT, 16);
    polyp_extractor *cpu = make(POLYP_BACKEND_PORTABLE, POLYP_PRECISION_EXACT, 16);
    enum { G = 5, N = G * G };
    float *a = malloc(N * POLYP_FEATURE_DIM * sizeof(float)), *b = malloc(N * POLYP_FEATURE_DIM * sizeof(float));
    for (size_t f = 0; f < sizeof photos / sizeof photos[0]; f++) {
        const char *path = tu_testdata_path(photos[f]);
        polyp_image img;
        polyp_error err = {0};
        ck_assert_msg(polyp_image_load_file(path, NULL, &img, &err) == POLYP_OK, "%s: %s", photos[f], err.message);
        polyp_point pts[N];
        for (int i = 0; i < G; i++)
            for (int j = 0; j < G; j++)
                pts[i * G + j] = (polyp_point){(uint32_t)((img.height - 1) * (uint64_t)i / (G - 1)),
                                               (uint32_t)((img.width - 1) * (uint64_t)j / (G - 1))};
        ck_assert_msg(polyp_extract_points(cu, &img, pts, N, a, &err) == POLYP_OK, "%s", err.message);
        ck_assert_msg(polyp_extract_points(cpu, &img, pts, N, b, &err) == POLYP_OK, "%s", err.message);
        cmp c = compare(a, b, N);
        printf("cuda exact vs portable, %s (%ux%u%s): max |diff| %.3g, max |ref| %.3g, max 1-cos %.3g\n", photos[f],
               img.width, img.height, img.truncated ? ", truncated" : "", c.max_abs, c.max_ref, c.max_1mcos);
        ck_assert_msg(c.max_abs <= 1e-4 * (c.max_ref > 1 ? c.max_ref : 1), "%s: max diff %g", photos[f], c.max_abs);
        polyp_image_free(&img);
    }
    free(a);
    free(b);
    polyp_extractor_free(cu);
    polyp_extractor_free(cpu);
}
END_TEST

/* Refusals a GPU machine can check: a device index past the last, an absurd batch. */
START_TEST(refusals) {
    if (!g_w) g_w = ec_load_testnet();
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_CUDA;
    p.device = 63;
    polyp_extractor *ex = NULL;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_extractor_init(g_w, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "device 63 does not exist"), "%s", err.message);
    p.device = 0;
    p.batch_size = 4097;
    ck_assert_int_eq(polyp_extractor_init(g_w, &p, &ex, &err), POLYP_ERR_LIMIT);
}
END_TEST

int main(void) {
    if (!polyp_backend_cuda_usable(0)) {
        fprintf(stderr, "SKIPPED: no usable CUDA device 0 (no driver, no device or CUDA_VISIBLE_DEVICES)\n");
        return 77;
    }
    Suite *s = suite_create("backend_cuda");
    TCase *tc = tcase_create("gpu");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, fixtures_match_pytorch);
    tcase_add_test(tc, testdata_cases_match_pytorch);
    tcase_add_test(tc, device_crop_equals_host_patches);
    tcase_add_test(tc, photos_match_portable);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
#endif
