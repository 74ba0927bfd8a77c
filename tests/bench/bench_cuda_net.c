/* bench_cuda_net.c - the CUDA backend's network, for tests/bench/bench_cuda.py (never run by
 * CI; needs a GPU). Public API only.
 *
 *   bench_cuda_net WEIGHTS IMAGE N BATCH exact|fast RUNS FEATURES_OUT.f32 [PATCHES_OUT.f32]
 *
 * N points on a grid over IMAGE go through polyp_extract_points as `polyp extract` sends
 * them: the photo uploaded once per pass, every patch cropped on the device, batches of
 * BATCH. One warm-up pass, then RUNS timed passes; prints one JSON line with the median
 * patches/s and writes the features (N x 1280 float32). PATCHES_OUT gets the same patches
 * cropped by polyp on the CPU (N x 224 x 224 x 3 float32, HWC), for the PyTorch peers. */
#define _POSIX_C_SOURCE 200809L
#include "polyp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)
#define MAX_RUNS 64

static void die(const char *what, const polyp_error *err) {
    fprintf(stderr, "bench_cuda_net: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9)
        die("usage: bench_cuda_net WEIGHTS IMAGE N BATCH exact|fast RUNS FEATURES_OUT.f32 [PATCHES_OUT.f32]", NULL);
    const size_t n = strtoul(argv[3], NULL, 10), batch = strtoul(argv[4], NULL, 10);
    const int runs = atoi(argv[6]);
    if (!n || !batch || runs < 1 || runs > MAX_RUNS) die("bad N, BATCH or RUNS", NULL);
    polyp_error err = {0};
    polyp_weights *w;
    if (polyp_weights_load_file(argv[1], &w, &err) != POLYP_OK) die("weights", &err);
    polyp_image img;
    if (polyp_image_load_file(argv[2], NULL, &img, &err) != POLYP_OK) die(argv[2], &err);
    polyp_point *pts = malloc(n * sizeof *pts);
    float *feat = malloc(n * POLYP_FEATURE_DIM * sizeof(float));
    if (!pts || !feat) die("out of memory", NULL);
    size_t side = 1;
    while (side * side < n) side++;
    for (size_t i = 0; i < n; i++) /* cell centres of a side x side grid */
        pts[i] = (polyp_point){(uint32_t)(((i / side) * 2 + 1) * (uint64_t)img.height / (2 * side)),
                               (uint32_t)(((i % side) * 2 + 1) * (uint64_t)img.width / (2 * side))};
    FILE *f;
    if (argc == 9) {
        float *patch = malloc(PATCH_FLOATS * sizeof(float));
        if (!patch || !(f = fopen(argv[8], "wb"))) die("cannot write the patches", NULL);
        for (size_t i = 0; i < n; i++) {
            if (polyp_patch_crop(&img, pts[i], patch, &err) != POLYP_OK) die("polyp_patch_crop", &err);
            if (fwrite(patch, sizeof(float), PATCH_FLOATS, f) != PATCH_FLOATS) die("cannot write the patches", NULL);
        }
        if (fclose(f) != 0) die("cannot write the patches", NULL);
        free(patch);
    }
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_CUDA;
    p.batch_size = batch;
    if (!strcmp(argv[5], "fast")) p.precision = POLYP_PRECISION_FAST;
    else if (strcmp(argv[5], "exact") != 0) die("precision must be exact or fast", NULL);
    polyp_extractor *ex;
    double t0 = now();
    if (polyp_extractor_init(w, &p, &ex, &err) != POLYP_OK) die("init", &err);
    const double init_s = now() - t0;
    if (polyp_extract_points(ex, &img, pts, n, feat, &err) != POLYP_OK) die("warm-up", &err);
    double t[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        t0 = now();
        if (polyp_extract_points(ex, &img, pts, n, feat, &err) != POLYP_OK) die("run", &err);
        t[r] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    const double med = t[runs / 2];
    printf("{\"engine\": \"polyp cuda %s\", \"batch\": %zu, \"patches\": %zu, \"runs\": %d, \"median_s\": %.6f, "
           "\"patches_per_s\": %.1f, \"init_s\": %.3f, \"image\": \"%ux%u\"}\n",
           argv[5], batch, n, runs, med, (double)n / med, init_s, img.width, img.height);
    f = fopen(argv[7], "wb");
    if (!f || fwrite(feat, sizeof(float), n * POLYP_FEATURE_DIM, f) != n * POLYP_FEATURE_DIM || fclose(f) != 0)
        die("cannot write the features", NULL);
    polyp_extractor_free(ex);
    polyp_image_free(&img);
    polyp_weights_free(w);
    free(pts);
    free(feat);
    return 0;
}
