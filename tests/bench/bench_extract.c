/*
 * bench_extract - polyp's side of the extraction benchmark (tests/bench/run_bench.sh).
 *
 * Measures, through the public API only (polyp.h), the batch-1 latency and the batch-N
 * throughput of one backend at one thread count, on patches the caller gives in a file
 * (so that every peer in the same run sees the very same pixels), and prints one JSON line.
 * It also writes the seeded test network's safetensors bytes, the benchmark patches and the
 * features it computed, so the peers can load the same weights and the harness can check
 * that everyone computed the same thing before comparing speeds.
 *
 * Not a test: CI never runs it. Timings mean something only on a quiet machine.
 *
 *   bench_extract --testnet BNSTATS [--seed S] --write-weights OUT.safetensors
 *   bench_extract --image IMG --npatch N --write-patches OUT.f32
 *   bench_extract --weights W --patches P.f32 --npatch N --backend xnnpack|portable
 *                 --threads T [--lat-iters K] [--thr-iters K] [--budget SEC]
 *                 [--write-features OUT.f32]
 *
 * Patch files: raw little-endian float32, N x 224 x 224 x 3 (HWC, RGB, values k/255), the
 * layout polyp_extract_patches takes. Feature files: float32, N x 1280.
 */
#define _POSIX_C_SOURCE 200809L
#include "polyp.h"
#define BENCH_NAME "bench_extract"
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)
#define MAX_PATCHES 1024
#define MAX_RUNS 1000

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

static void *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_extract: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) die("out of memory", NULL);
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f)) die("read error", NULL);
    fclose(f);
    *size = len;
    return buf;
}

static void write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "bench_extract: cannot write %s\n", path);
        exit(1);
    }
}

/* ---------------------------------------------------------------- options */
typedef struct opts {
    const char *testnet_bnstats, *write_weights, *weights, *image, *patches;
    const char *write_patches, *write_features, *backend;
    unsigned long long seed;
    size_t npatch;
    int threads, lat_iters, thr_iters;
    double budget_s;
} opts;

static void usage(void)
{
    fputs("usage: see the comment at the top of tests/bench/bench_extract.c\n", stderr);
    exit(2);
}

static opts parse(int argc, char **argv)
{
    opts o = {.seed = 20261128ULL, .npatch = 32, .threads = 1, .lat_iters = 10,
              .thr_iters = 5, .budget_s = 30.0, .backend = "xnnpack"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--testnet")) o.testnet_bnstats = v;
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--write-weights")) o.write_weights = v;
        else if (!strcmp(a, "--weights")) o.weights = v;
        else if (!strcmp(a, "--image")) o.image = v;
        else if (!strcmp(a, "--patches")) o.patches = v;
        else if (!strcmp(a, "--write-patches")) o.write_patches = v;
        else if (!strcmp(a, "--write-features")) o.write_features = v;
        else if (!strcmp(a, "--backend")) o.backend = v;
        else if (!strcmp(a, "--npatch")) o.npatch = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads")) o.threads = atoi(v);
        else if (!strcmp(a, "--lat-iters")) o.lat_iters = atoi(v);
        else if (!strcmp(a, "--thr-iters")) o.thr_iters = atoi(v);
        else if (!strcmp(a, "--budget")) o.budget_s = atof(v);
        else usage();
    }
    if (o.npatch < 1 || o.npatch > MAX_PATCHES || o.threads < 1 || o.threads > 256 ||
        o.lat_iters < 1 || o.lat_iters > MAX_RUNS || o.thr_iters < 1 || o.thr_iters > MAX_RUNS)
        usage();
    return o;
}

/* The seeded test network's safetensors bytes, exactly what `polyp testnet` would write. */
static void write_testnet(const opts *o)
{
    size_t bn_size = 0, size = 0;
    void *bn = read_all(o->testnet_bnstats, &bn_size), *bytes = NULL;
    polyp_error err;
    if (polyp_testnet_build(o->seed, bn, bn_size, &bytes, &size, &err) != POLYP_OK)
        die("polyp_testnet_build", &err);
    write_all(o->write_weights, bytes, size);
    polyp_free(bytes);
    free(bn);
}

/* Patches from a real photo: a grid of npatch points spread over the image, cropped with
 * polyp's own crop (the peers get the same floats through the file). */
static void write_patches(const opts *o)
{
    polyp_image img;
    polyp_error err;
    if (polyp_image_load_file(o->image, NULL, &img, &err) != POLYP_OK) die(o->image, &err);
    float *buf = malloc(o->npatch * PATCH_FLOATS * sizeof *buf);
    if (!buf) die("out of memory", NULL);
    size_t side = 1;
    while (side * side < o->npatch) side++;
    for (size_t i = 0; i < o->npatch; i++) {
        polyp_point pt = {
            .row = (uint32_t)(((i / side) * 2 + 1) * (uint64_t)img.height / (2 * side)),
            .col = (uint32_t)(((i % side) * 2 + 1) * (uint64_t)img.width / (2 * side)),
        };
        if (polyp_patch_crop(&img, pt, buf + i * PATCH_FLOATS, &err) != POLYP_OK)
            die("polyp_patch_crop", &err);
    }
    write_all(o->write_patches, buf, o->npatch * PATCH_FLOATS * sizeof *buf);
    free(buf);
    polyp_image_free(&img);
}

static polyp_extractor *make_extractor(const opts *o, const polyp_weights *w, size_t batch,
                                       const polyp_parallel *par)
{
    polyp_extractor_params p = polyp_extractor_default_params();
    if (!strcmp(o->backend, "xnnpack")) p.backend = POLYP_BACKEND_XNNPACK;
    else if (!strcmp(o->backend, "portable")) p.backend = POLYP_BACKEND_PORTABLE;
    else if (!strcmp(o->backend, "auto")) p.backend = POLYP_BACKEND_AUTO;
    else die("--backend must be xnnpack, portable or auto", NULL);
    p.batch_size = batch;
    p.parallel = par; /* the threads of every backend (polyp.h's thread rule) */
    polyp_extractor *ex = NULL;
    polyp_error err;
    if (polyp_extractor_init(w, &p, &ex, &err) != POLYP_OK) die("polyp_extractor_init", &err);
    return ex;
}

/* Runs `n` patches up to `iters` times after one warm-up run, stopping early once `budget_s`
 * seconds are spent (at least one timed run): the median seconds per run. The same rule in
 * every peer keeps slow engines (PyTorch on glibc malloc) from dominating the total time. */
static double time_runs(polyp_extractor *ex, const float *patches, size_t n, float *feat,
                        int iters, double budget_s, int *runs_done)
{
    static double t[MAX_RUNS];
    polyp_error err;
    if (polyp_extract_patches(ex, patches, n, feat, &err) != POLYP_OK)
        die("polyp_extract_patches", &err);
    double spent = 0;
    int k = 0;
    while (k < iters && (k == 0 || spent < budget_s)) {
        double t0 = now_s();
        if (polyp_extract_patches(ex, patches, n, feat, &err) != POLYP_OK)
            die("polyp_extract_patches", &err);
        t[k] = now_s() - t0;
        spent += t[k++];
    }
    *runs_done = k;
    return median(t, k);
}

static void bench(const opts *o)
{
    polyp_weights *w = NULL;
    polyp_error err;
    if (polyp_weights_load_file(o->weights, &w, &err) != POLYP_OK) die(o->weights, &err);
    size_t size = 0;
    float *patches = read_all(o->patches, &size);
    if (size != o->npatch * PATCH_FLOATS * sizeof(float))
        die("--patches file size is not npatch x 224 x 224 x 3 float32", NULL);
    float *feat = malloc(o->npatch * POLYP_FEATURE_DIM * sizeof *feat);
    if (!feat) die("out of memory", NULL);

    /* polyp.h's pool, started before any timed run so thread start-up is never timed. */
    polyp_threadpool *pl = NULL;
    if (polyp_threadpool_init(o->threads, &pl, &err) != POLYP_OK) die("polyp_threadpool_init", &err);
    const polyp_parallel *parp = o->threads > 1 ? polyp_threadpool_parallel(pl) : NULL;

    /* Batch-1 latency: an extractor sized for single patches, as an interactive app uses it. */
    polyp_extractor *ex1 = make_extractor(o, w, 1, parp);
    char backend_name[32];
    snprintf(backend_name, sizeof backend_name, "%s", polyp_extractor_backend_name(ex1));
    int lat_runs = 0;
    double lat = time_runs(ex1, patches, 1, feat, o->lat_iters, o->budget_s, &lat_runs);
    polyp_extractor_free(ex1);

    /* Batch-N throughput: all patches in one call, the extractor's batch = N. */
    polyp_extractor *exn = make_extractor(o, w, o->npatch, parp);
    int thr_runs = 0;
    double thr = time_runs(exn, patches, o->npatch, feat, o->thr_iters, o->budget_s, &thr_runs);
    polyp_extractor_free(exn);

    if (o->write_features)
        write_all(o->write_features, feat, o->npatch * POLYP_FEATURE_DIM * sizeof *feat);
    printf("{\"engine\": \"polyp-%s\", \"threads\": %d, \"lat_ms\": %.3f, \"lat_runs\": %d, "
           "\"batch\": %zu, \"batch_s\": %.5f, \"pps\": %.3f, \"thr_runs\": %d}\n",
           backend_name, o->threads, lat * 1e3, lat_runs, o->npatch, thr,
           (double)o->npatch / thr, thr_runs);
    polyp_threadpool_free(pl);
    free(feat);
    free(patches);
    polyp_weights_free(w);
}

int main(int argc, char **argv)
{
    opts o = parse(argc, argv);
    if (o.testnet_bnstats && o.write_weights) write_testnet(&o);
    else if (o.image && o.write_patches) write_patches(&o);
    else if (o.weights && o.patches) bench(&o);
    else usage();
    return 0;
}
