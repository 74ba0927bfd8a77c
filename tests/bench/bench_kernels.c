/*
 * bench_kernels - the portable backend's kernel tables (scalar, v128, avx2, avx512: whatever
 * this CPU has) against the xnnpack backend, in the same run, on the seeded test network.
 *
 * For batch B (default 8) and 1 and 2 threads it measures patches/s of every backend as the
 * median of R runs (default 5; runs interleaved across backends so that load from other
 * processes hits them alike) and prints each one's ratio to xnnpack at the same thread
 * count, the 2-thread / 1-thread scaling, and the fraction of a 4-wide multiply + add peak
 * (one 128-bit multiply and one add per cycle per core at the clock /proc/cpuinfo reports,
 * the bound wasm SIMD128 without FMA has) that the network's multiply-adds reach. On a
 * machine shared with other jobs the 2-thread rate says little; "cpu/patch 2T/1T" (CPU
 * seconds per patch with 2 threads over 1 thread; 1.00 = the second thread adds no work,
 * spinning included) is the part of the scaling that load from others does not hide.
 *
 * Not a test: CI never runs it. Build (from the repository root, after the normal build):
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -DPOLYP_HAVE_XNNPACK=1 -Icore -Inative/lib \
 *      tests/bench/bench_kernels.c build/libpolyp.a -lXNNPACK -lpthreadpool -ljpeg -lm -lpthread \
 *      -o build/bench_kernels
 * (or, in tests/bench/CMakeLists.txt: add_executable(bench_kernels bench_kernels.c),
 *  target_include_directories(bench_kernels PRIVATE ${PROJECT_SOURCE_DIR}/core),
 *  target_link_libraries(bench_kernels PRIVATE polyp_lib)).
 *   build/bench_kernels [--batch B] [--runs R] [--bnstats models/testnet-bnstats.safetensors]
 *                      [--kernels NAME]   (only that table, e.g. for perf; scalar only this way)
 */
#include "backend_portable.h"
#include "testnet.h"
#define BENCH_NAME "bench_kernels"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 64
#define MAX_SETS 8

/* ------------------------------------------------------------------ measuring */

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); } /* all the process's threads */

/* Multiply-adds of one patch, from the block table (convolutions and the SE FCs). */
static double network_macs(const polyp_weights *w) {
    double macs = 112.0 * 112 * 32 * 27, h = 112;
    for (int b = 0; b < POLYP_EFFNET_BLOCKS; b++) {
        const polyp_block_spec *s = &w->blocks[b].spec;
        double ho = h / s->stride;
        if (s->expand != 1) macs += h * h * s->in * s->hidden;
        macs += ho * ho * s->hidden * s->kernel * s->kernel;
        macs += 2.0 * s->hidden * s->se + ho * ho * s->hidden * s->out;
        h = ho;
    }
    return macs + h * h * POLYP_HEAD_IN * POLYP_FEATURE_DIM;
}

static double cpu_mhz(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') + 1, "%lf", &mhz) == 1) break;
    if (f) fclose(f);
    return mhz;
}

typedef struct backend {
    const char *name;
    const polyp_backend_ops *ops;
    const polyp_kernels *kernels; /* portable only */
    void *state;
    double runs[MAX_RUNS];
    double cpu[MAX_RUNS]; /* CPU seconds per patch */
} backend;

int main(int argc, char **argv) {
    size_t batch = 8, runs = 5;
    const char *bnstats = "models/testnet-bnstats.safetensors", *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--bnstats")) bnstats = argv[i + 1];
        else if (!strcmp(argv[i], "--kernels")) only = argv[i + 1];
        else die("usage: bench_kernels [--batch B] [--runs R] [--bnstats FILE] [--kernels NAME]", NULL);
    }
    if (batch < 1 || batch > 64 || runs < 1 || runs > MAX_RUNS) die("--batch 1..64, --runs 1..64", NULL);

    polyp_error err = {0};
    void *bn, *net;
    size_t bsize, size;
    if (polyp_read_file(bnstats, &bn, &bsize, &err) != POLYP_OK) die("BN statistics", &err);
    if (polyp_testnet_build(POLYP_TESTNET_DEFAULT_SEED, bn, bsize, &net, &size, &err) != POLYP_OK) die("testnet", &err);
    polyp_weights *w;
    if (polyp_weights_load(net, size, &w, &err) != POLYP_OK) die("weights", &err);

    const size_t patch = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
    float *in = malloc(batch * patch * sizeof *in), *out = malloc(batch * POLYP_FEATURE_DIM * sizeof *out);
    uint32_t x = 12345;
    for (size_t i = 0; i < batch * patch; i++) { /* pixels k/255 from a fixed LCG */
        x = x * 1664525u + 1013904223u;
        in[i] = (float)(x >> 24) / 255.0f;
    }
    const double macs = network_macs(w), mhz = cpu_mhz();
    printf("bench_kernels: batch %zu, median of %zu runs, %.3f GMAC per patch, clock %.0f MHz\n", batch, runs,
           macs * 1e-9, mhz);

    double rate[2][MAX_SETS], cpu[2][MAX_SETS];
    size_t nb = 0;
    const char *names[MAX_SETS];
    for (int threads = 1; threads <= 2; threads++) {
        polyp_threadpool *pool;
        if (polyp_threadpool_init(threads, &pool, &err) != POLYP_OK) die("thread pool", &err);
        polyp_extractor_params p = polyp_extractor_default_params();
        p.batch_size = batch;
        p.parallel = threads > 1 ? polyp_threadpool_parallel(pool) : NULL;
        backend be[MAX_SETS];
        nb = 0;
        const polyp_kernels *k;
        for (size_t i = 0; (k = polyp_kernels_available(i)) && nb < MAX_SETS - 1; i++) {
            if (only ? strcmp(k->name, only) != 0 : !strcmp(k->name, "scalar")) continue; /* scalar: slow */
            be[nb] = (backend){k->name, &polyp_backend_portable_ops, k, NULL, {0}, {0}};
            if (polyp_backend_portable_init_with(w, &p, k, &be[nb].state, &err) != POLYP_OK) die("portable", &err);
            nb++;
        }
#ifdef POLYP_HAVE_XNNPACK
        be[nb] = (backend){"xnnpack", &polyp_backend_xnnpack_ops, NULL, NULL, {0}, {0}};
        if (polyp_backend_xnnpack_ops.init(w, &p, &be[nb].state, &err) != POLYP_OK) die("xnnpack", &err);
        nb++;
#endif
        for (size_t b = 0; b < nb; b++) /* warm-up */
            if (be[b].ops->run(be[b].state, in, batch, out, &err) != POLYP_OK) die(be[b].name, &err);
        for (size_t r = 0; r < runs; r++)
            for (size_t b = 0; b < nb; b++) {
                double t0 = now_s(), c0 = cpu_s();
                if (be[b].ops->run(be[b].state, in, batch, out, &err) != POLYP_OK) die(be[b].name, &err);
                be[b].runs[r] = (double)batch / (now_s() - t0);
                be[b].cpu[r] = (cpu_s() - c0) / (double)batch;
            }
        for (size_t b = 0; b < nb; b++) {
            rate[threads - 1][b] = median(be[b].runs, (int)runs);
            cpu[threads - 1][b] = median(be[b].cpu, (int)runs);
            names[b] = be[b].name;
            be[b].ops->free(be[b].state);
        }
        polyp_threadpool_free(pool);
    }

    const double ref1 = rate[0][nb - 1], ref2 = rate[1][nb - 1];
    printf("%-8s %10s %10s %9s %9s %8s %14s %12s\n", "backend", "p/s 1T", "p/s 2T", "vs xnn 1T", "vs xnn 2T", "2T/1T",
           "4-wide peak 1T", "cpu/patch 2T/1T");
    for (size_t b = 0; b < nb; b++) {
        double peak = mhz > 0 ? rate[0][b] * macs / (4.0 * mhz * 1e6) : 0;
        printf("%-8s %10.2f %10.2f %9.2f %9.2f %8.2f %13.0f%% %12.2f\n", names[b], rate[0][b], rate[1][b],
               rate[0][b] / ref1, rate[1][b] / ref2, rate[1][b] / rate[0][b], 100 * peak, cpu[1][b] / cpu[0][b]);
    }
    free(in);
    free(out);
    polyp_weights_free(w);
    polyp_free(net);
    polyp_free(bn);
    return 0;
}
