/* bench_cuda_net.c - the CUDA backend's network alone, for tests/bench/bench_cuda.py (never
 * run by CI; needs a GPU). Public API only.
 *
 *   bench_cuda_net WEIGHTS PATCHES.f32 N BATCH exact|fast RUNS FEATURES_OUT.f32
 *
 * PATCHES.f32 holds N x 224 x 224 x 3 float32 (HWC, [0,1]); N must be a multiple of BATCH.
 * One warm-up pass over all N, then RUNS timed passes; prints one JSON line with the median
 * patches/s, and writes the features of the warm-up pass (N x 1280 float32). */
#define _POSIX_C_SOURCE 200809L
#include "polyp.h"

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
    if (argc != 8) die("usage: bench_cuda_net WEIGHTS PATCHES.f32 N BATCH exact|fast RUNS FEATURES_OUT.f32", NULL);
    const size_t n = strtoul(argv[3], NULL, 10), batch = strtoul(argv[4], NULL, 10);
    const int runs = atoi(argv[6]);
    if (!n || !batch || n % batch || runs < 1 || runs > MAX_RUNS) die("bad N, BATCH or RUNS", NULL);
    polyp_error err = {0};
    polyp_weights *w;
    if (polyp_weights_load_file(argv[1], &w, &err) != POLYP_OK) die("weights", &err);
    float *patches = malloc(n * PATCH_FLOATS * sizeof(float)), *feat = malloc(n * POLYP_FEATURE_DIM * sizeof(float));
    if (!patches || !feat) die("out of memory", NULL);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(patches, sizeof(float), n * PATCH_FLOATS, f) != n * PATCH_FLOATS) die("cannot read the patches", NULL);
    fclose(f);
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_CUDA;
    p.batch_size = batch;
    if (!strcmp(argv[5], "fast")) p.precision = POLYP_PRECISION_FAST;
    else if (strcmp(argv[5], "exact") != 0) die("precision must be exact or fast", NULL);
    polyp_extractor *ex;
    double t0 = now();
    if (polyp_extractor_init(w, &p, &ex, &err) != POLYP_OK) die("init", &err);
    const double init_s = now() - t0;
    if (polyp_extract_patches(ex, patches, n, feat, &err) != POLYP_OK) die("warm-up", &err);
    double t[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        t0 = now();
        if (polyp_extract_patches(ex, patches, n, feat, &err) != POLYP_OK) die("run", &err);
        t[r] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    const double med = t[runs / 2];
    printf("{\"engine\": \"polyp cuda %s\", \"batch\": %zu, \"patches\": %zu, \"runs\": %d, \"median_s\": %.6f, "
           "\"patches_per_s\": %.1f, \"init_s\": %.3f}\n",
           argv[5], batch, n, runs, med, (double)n / med, init_s);
    f = fopen(argv[7], "wb");
    if (!f || fwrite(feat, sizeof(float), n * POLYP_FEATURE_DIM, f) != n * POLYP_FEATURE_DIM || fclose(f) != 0)
        die("cannot write the features", NULL);
    polyp_extractor_free(ex);
    polyp_weights_free(w);
    free(patches);
    free(feat);
    return 0;
}
