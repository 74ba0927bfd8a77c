/*
 * kernel_profile - where the portable backend's time goes, kernel by kernel and layer shape by
 * layer shape: every entry of a kernel table is wrapped with a timer, and the seeded test
 * network runs B patches (pixels from a fixed LCG) on the calling thread. Built natively it
 * profiles the native tables; built with emcc it runs in node or, through
 * tests/bench/browser/profile.sh, in headless Chromium (whose V8 compiles wasm differently
 * from node's: profile there). Also counts subnormal GEMM inputs (--subnormals), which cost
 * x86 microcode assists. Not a test: CI never runs it.
 *
 *   kernel_profile [--kernels NAME] [--runs R] [--batch B] [--shapes] [--subnormals]
 *
 * Native build (from the repository root, after the normal build):
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Icore tests/bench/kernel_profile.c build/libpolyp.a \
 *      -ljpeg -lm -lpthread -o build/kernel_profile && build/kernel_profile --shapes
 * (run from the repository root: it reads models/testnet-bnstats.safetensors).
 */
#include "backend_portable.h"
#include "internal.h"
#include "testnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
static double now_ms(void) { return emscripten_get_now(); }
#else
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
#endif

/* The wrapped table and what the wrappers record: a benchmark's own state, one per process. */
static const polyp_kernels *real;
static int count_subnormals;
static double n_subnormal, n_inputs;

enum { K_EXPAND, K_PROJECT, K_HEAD, K_DW, K_STEM, K_OTHER, K_N };
static const char *const kind_name[K_N] = {"1x1 expand + swish", "1x1 project", "1x1 head + swish",
                                           "depthwise + swish", "stem + swish", "SE, pooling, rest"};
static double kind_ms[K_N], kind_mac[K_N];

#define MAX_SHAPES 64
typedef struct shape {
    int kind;
    size_t a, b, c; /* gemm: rows, n, k; depthwise: input h, channels, kernel * 10 + stride */
    double ms, mac;
} shape;
static shape shapes[MAX_SHAPES];
static size_t n_shapes;

static void record(int kind, size_t a, size_t b, size_t c, double ms, double mac) {
    kind_ms[kind] += ms;
    kind_mac[kind] += mac;
    for (size_t i = 0; i < n_shapes; i++)
        if (shapes[i].kind == kind && shapes[i].a == a && shapes[i].b == b && shapes[i].c == c) {
            shapes[i].ms += ms;
            shapes[i].mac += mac;
            return;
        }
    if (n_shapes < MAX_SHAPES) shapes[n_shapes++] = (shape){kind, a, b, c, ms, mac};
}

static void w_gemm(const polyp_gemm *g, const float *a, float *c, const float *r, size_t m0, size_t m1, int act) {
    if (count_subnormals)
        for (size_t i = m0 * g->k; i < m1 * g->k; i++) {
            const float v = a[i] < 0 ? -a[i] : a[i];
            n_inputs++;
            if (v != 0 && v < 1.17549435e-38f) n_subnormal++;
        }
    const double t0 = now_ms();
    real->gemm(g, a, c, r, m0, m1, act);
    const int kind = act ? (g->n == POLYP_FEATURE_DIM ? K_HEAD : K_EXPAND) : K_PROJECT;
    record(kind, m1 - m0, g->n, g->k, now_ms() - t0, (double)(m1 - m0) * (double)g->n * (double)g->k);
}
static void w_dwconv(const polyp_dw_shape *s, const float *in, const float *w, const float *bias, float *out,
                     float *rs, size_t y0, size_t y1) {
    const double t0 = now_ms();
    real->dwconv(s, in, w, bias, out, rs, y0, y1);
    record(K_DW, s->h, s->c, s->k * 10 + s->stride, now_ms() - t0,
           (double)(y1 - y0) * (double)(s->wo * s->c * s->k * s->k));
}
static void w_stem(const float *in, size_t h, size_t w, size_t pad, const float *wts, const float *bias, float *out,
                   size_t wo, size_t y0, size_t y1) {
    const double t0 = now_ms();
    real->stem(in, h, w, pad, wts, bias, out, wo, y0, y1);
    record(K_STEM, wo, 32, 27, now_ms() - t0, (double)(y1 - y0) * (double)wo * 27 * 32);
}
#define OTHER_TIMED(call)                                                                                              \
    do {                                                                                                               \
        const double t0 = now_ms();                                                                                    \
        call;                                                                                                          \
        kind_ms[K_OTHER] += now_ms() - t0;                                                                             \
    } while (0)
static void w_scale_rows(float *x, const float *s, size_t rows, size_t c) { OTHER_TIMED(real->scale_rows(x, s, rows, c)); }
static void w_mean_rows(const float *x, size_t rows, size_t c, float d, float *o) {
    OTHER_TIMED(real->mean_rows(x, rows, c, d, o));
}
static void w_sigmoid(float *x, size_t n) { OTHER_TIMED(real->sigmoid(x, n)); }
static void w_swish(float *x, size_t n) { OTHER_TIMED(real->swish(x, n)); }
static float w_dot(const float *a, const float *b, size_t n) {
    float r;
    OTHER_TIMED(r = real->dot(a, b, n));
    return r;
}
static void w_axpy(float *y, float a, const float *x, size_t n) { OTHER_TIMED(real->axpy(y, a, x, n)); }

static void die(const char *what, const polyp_error *err) {
    fprintf(stderr, "kernel_profile: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

int main(int argc, char **argv) {
    const char *name = NULL;
    size_t runs = 3, batch = 8;
    int show_shapes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kernels") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes")) show_shapes = 1;
        else if (!strcmp(argv[i], "--subnormals")) count_subnormals = 1;
        else die("usage: kernel_profile [--kernels NAME] [--runs R] [--batch B] [--shapes] [--subnormals]", NULL);
    }
    if (runs < 1 || runs > 100 || batch < 1 || batch > 64) die("--runs 1..100, --batch 1..64", NULL);
    real = name ? polyp_kernels_find(name) : polyp_kernels_best();
    if (!real) die("no such kernel table on this CPU", NULL);
    polyp_kernels wrapped = *real;
    wrapped.gemm = w_gemm;
    wrapped.dwconv = w_dwconv;
    wrapped.stem = w_stem;
    wrapped.scale_rows = w_scale_rows;
    wrapped.mean_rows = w_mean_rows;
    wrapped.sigmoid = w_sigmoid;
    wrapped.swish = w_swish;
    wrapped.dot = w_dot;
    wrapped.axpy = w_axpy;

    polyp_error err = {0};
    void *bn, *net;
    size_t bn_size, net_size;
    if (polyp_read_file("models/testnet-bnstats.safetensors", &bn, &bn_size, &err) != POLYP_OK)
        die("BN statistics (run from the repository root)", &err);
    if (polyp_testnet_build(POLYP_TESTNET_DEFAULT_SEED, bn, bn_size, &net, &net_size, &err) != POLYP_OK)
        die("testnet", &err);
    polyp_weights *w;
    if (polyp_weights_load(net, net_size, &w, &err) != POLYP_OK) die("weights", &err);
    const size_t patch = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
    float *in = malloc(batch * patch * sizeof *in), *out = malloc(batch * POLYP_FEATURE_DIM * sizeof *out);
    if (!in || !out) die("out of memory", NULL);
    uint32_t x = 12345;
    for (size_t i = 0; i < batch * patch; i++) { /* pixels k/255 from a fixed LCG */
        x = x * 1664525u + 1013904223u;
        in[i] = (float)(x >> 24) / 255.0f;
    }
    polyp_extractor_params p;
    memset(&p, 0, sizeof p);
    p.batch_size = batch; /* parallel NULL: the calling thread */
    void *plain, *timed;
    if (polyp_backend_portable_init_with(w, &p, real, &plain, &err) != POLYP_OK ||
        polyp_backend_portable_init_with(w, &p, &wrapped, &timed, &err) != POLYP_OK)
        die("portable backend", &err);

    /* untimed kernels first (best of R), then R timed runs after a warm-up */
    double best = 1e300;
    polyp_backend_portable_ops.run(plain, in, batch, out, &err);
    for (size_t r = 0; r < runs; r++) {
        const double t0 = now_ms();
        polyp_backend_portable_ops.run(plain, in, batch, out, &err);
        const double t = now_ms() - t0;
        if (t < best) best = t;
    }
    polyp_backend_portable_ops.run(timed, in, batch, out, &err);
    memset(kind_ms, 0, sizeof kind_ms);
    memset(kind_mac, 0, sizeof kind_mac);
    n_shapes = 0;
    n_subnormal = n_inputs = 0;
    const double t0 = now_ms();
    for (size_t r = 0; r < runs; r++) polyp_backend_portable_ops.run(timed, in, batch, out, &err);
    const double per = (double)(runs * batch), total = (now_ms() - t0) / per;

    printf("kernel_profile: table %s, batch %zu, %zu runs, 1 thread\n", real->name, batch, runs);
    printf("network without timers: %.2f ms/patch (%.1f patches/s, best run)\n", best / (double)batch,
           1000.0 * (double)batch / best);
    printf("with timers:            %.2f ms/patch\n", total);
    for (int k = 0; k < K_N; k++)
        if (kind_ms[k] > 0)
            printf("  %-20s %7.2f ms/patch %5.1f%%  %7.1f MMAC  %6.2f GMAC/s\n", kind_name[k], kind_ms[k] / per,
                   100.0 * kind_ms[k] / per / total, kind_mac[k] / per * 1e-6,
                   kind_mac[k] > 0 ? kind_mac[k] / kind_ms[k] * 1e-6 : 0.0);
    if (count_subnormals)
        printf("subnormal GEMM inputs: %.0f of %.0f (%.3f%%)\n", n_subnormal, n_inputs,
               n_inputs > 0 ? 100.0 * n_subnormal / n_inputs : 0.0);
    if (show_shapes)
        for (size_t i = 0; i < n_shapes; i++) {
            const shape *s = &shapes[i];
            if (s->kind == K_DW)
                printf("  depthwise %4zu x %-4zu x %4zu  %zux%zu stride %zu: %6.3f ms/patch %6.2f GMAC/s\n", s->a, s->a,
                       s->b, s->c / 10, s->c / 10, s->c % 10, s->ms / per, s->mac / s->ms * 1e-6);
            else
                printf("  %-9s m %5zu n %4zu k %4zu:       %6.3f ms/patch %6.2f GMAC/s\n",
                       s->kind == K_STEM ? "stem" : "gemm", s->a, s->b, s->c, s->ms / per, s->mac / s->ms * 1e-6);
        }
    polyp_backend_portable_ops.free(plain);
    polyp_backend_portable_ops.free(timed);
    polyp_weights_free(w);
    free(in);
    free(out);
    free(bn);
    free(net);
    return 0;
}
