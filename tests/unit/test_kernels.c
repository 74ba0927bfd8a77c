/* test_kernels.c - every SIMD kernel table this CPU can run (scalar, v128, avx2, avx512)
 * against straightforward double-precision loops written here, on odd sizes (channel counts
 * that are not multiples of any vector width, single rows, 1x1 to 5x5, stride 1 and 2, both
 * padding rules), plus the whole network per table: batch 1 vs batch 3, 1 vs 2 "threads"
 * (a parallel_for that runs tasks in reverse order, so chunking changes) bit-identical, and
 * every table within 1e-4 of the best one and of the PyTorch reference features. */
#include "backend_portable.h"
#include "effnet_cases.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t g_rng = 1;
static float frand(void) { /* uniform [-1, 1) */
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)(g_rng >> 8) / 8388608.0f - 1.0f;
}
static float *rand_buf(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}
static double ref_swish(double x) { return x / (1.0 + exp(-x)); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* |got - want| <= tol * scale, where scale bounds the terms that were summed. */
static void expect_close(const char *what, const polyp_kernels *k, size_t i, double got, double want, double scale,
                         double tol) {
    ck_assert_msg(fabs(got - want) <= tol * (scale > 1 ? scale : 1), "%s [%s] element %zu: got %.9g, want %.9g", what,
                  k->name, i, got, want);
}

static size_t n_tables(void) {
    size_t n = 0;
    while (polyp_kernels_available(n)) n++;
    return n;
}

/* ------------------------------------------------------------------ elementwise */

START_TEST(swish_sigmoid_are_accurate) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i);
    enum { N = 4003 };
    float *x = malloc(N * sizeof *x), *s = malloc(N * sizeof *s), *g = malloc(N * sizeof *g);
    for (size_t i = 0; i < N; i++) x[i] = -100.0f + 200.0f * (float)i / (N - 1); /* past the clamps too */
    x[0] = -1e30f;
    x[1] = 1e30f;
    x[2] = 0.0f;
    memcpy(s, x, N * sizeof *x);
    memcpy(g, x, N * sizeof *x);
    k->swish(s, N);
    k->sigmoid(g, N);
    for (size_t i = 0; i < N; i++) {
        double ws = ref_swish(x[i]), wg = ref_sigmoid(x[i]);
        if (isinf(ws) || isnan(ws)) ws = x[i] > 0 ? x[i] : 0.0;
        if (x[i] < -40.0f) { /* clamped (kernels_impl.h): tiny, never subnormal, swish <= 0 < sigmoid */
            ck_assert_msg(s[i] <= 0.0f && s[i] >= -1.8e-16f && (s[i] == 0.0f || fabsf(s[i]) >= 1e-20f),
                          "swish [%s] (%.9g) = %.9g, want in [-1.8e-16, 0]", k->name, x[i], s[i]);
            ck_assert_msg(g[i] > 1e-20f && g[i] <= 4.3e-18f, "sigmoid [%s] (%.9g) = %.9g, want in (1e-20, 4.3e-18]",
                          k->name, x[i], g[i]);
            continue;
        }
        /* relative 1e-6 (a few float ulps), absolute 1e-30 where the value underflows */
        ck_assert_msg(fabs(s[i] - ws) <= 1e-6 * fabs(ws) + 1e-30, "swish [%s] (%.9g) = %.9g, want %.9g", k->name,
                      x[i], s[i], ws);
        ck_assert_msg(fabs(g[i] - wg) <= 1e-6 * fabs(wg) + 1e-30, "sigmoid [%s] (%.9g) = %.9g, want %.9g", k->name,
                      x[i], g[i], wg);
    }
    free(x);
    free(s);
    free(g);
}
END_TEST

START_TEST(small_helpers_match) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i);
    const size_t sizes[] = {1, 3, 7, 17, 33, 101};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const size_t n = sizes[si], rows = 5;
        float *a = rand_buf(n), *b = rand_buf(n), *y = rand_buf(n), *y0 = malloc(n * sizeof *y0);
        float *x = rand_buf(rows * n), *x0 = malloc(rows * n * sizeof *x0), *m = malloc(n * sizeof *m);
        double d = 0, scale = 0;
        for (size_t i = 0; i < n; i++) d += (double)a[i] * b[i], scale += fabs((double)a[i] * b[i]);
        expect_close("dot", k, n, k->dot(a, b, n), d, scale, 1e-6);
        memcpy(y0, y, n * sizeof *y);
        k->axpy(y, 0.37f, a, n);
        for (size_t i = 0; i < n; i++) expect_close("axpy", k, i, y[i], y0[i] + 0.37 * a[i], 1, 1e-6);
        k->mean_rows(x, rows, n, 3.0f, m);
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t r = 0; r < rows; r++) s += x[r * n + j];
            expect_close("mean_rows", k, j, m[j], s / 3.0, rows, 1e-6);
        }
        memcpy(x0, x, rows * n * sizeof *x);
        k->scale_rows(x, b, rows, n);
        for (size_t i = 0; i < rows * n; i++) ck_assert_float_eq(x[i], x0[i] * b[i % n]);
        free(a), free(b), free(y), free(y0), free(x), free(x0), free(m);
    }
}
END_TEST

/* ------------------------------------------------------------------ gemm */

START_TEST(gemm_matches_reference) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i);
    const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {13, 37, 19}, {50, 20, 96}, {9, 33, 3}, {3, 64, 40}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const size_t m = shapes[si][0], n = shapes[si][1], kk = shapes[si][2];
        float *a = rand_buf(m * kk), *w = rand_buf(n * kk), *bias = rand_buf(n), *res = rand_buf(m * n);
        float *panels = malloc(polyp_pack_panel_floats(n, kk, k->nr) * sizeof(float));
        float *pb = malloc(polyp_pack_bias_floats(n, k->nr) * sizeof(float));
        polyp_pack_1x1(w, bias, n, kk, k->nr, panels, pb);
        polyp_gemm g = {n, kk, panels, pb, -0.7f, 0.9f}; /* CLAMP's bounds cut both tails of the sums */
        for (int act = 0; act < 3; act++)
            for (int with_res = 0; with_res < 2; with_res++) {
                const float *r = with_res ? res : NULL;
                float *c = malloc(m * n * sizeof *c), *c2 = malloc(m * n * sizeof *c2);
                k->gemm(&g, a, c, r, 0, m, act);
                for (size_t q = 0; q < m; q++)
                    for (size_t o = 0; o < n; o++) {
                        double s = bias[o], scale = fabs(bias[o]);
                        for (size_t i = 0; i < kk; i++)
                            s += (double)a[q * kk + i] * w[o * kk + i], scale += fabs((double)a[q * kk + i] * w[o * kk + i]);
                        if (act == POLYP_ACT_SWISH) s = ref_swish(s);
                        if (act == POLYP_ACT_CLAMP) s = s < -0.7 ? -0.7f : s > 0.9 ? 0.9f : s;
                        if (r) s += r[q * n + o], scale += fabs(r[q * n + o]);
                        expect_close(act == 1 ? "gemm+swish" : act == 2 ? "gemm+clamp" : "gemm", k, q * n + o,
                                     c[q * n + o], s, scale, 2e-6);
                    }
                /* rows split at every point give the very same bits */
                for (size_t cut = 1; cut < m; cut += 2) {
                    k->gemm(&g, a, c2, r, cut, m, act);
                    k->gemm(&g, a, c2, r, 0, cut, act);
                    ck_assert_msg(!memcmp(c, c2, m * n * sizeof *c), "gemm [%s] %zux%zux%zu split at %zu differs", k->name,
                                  m, n, kk, cut);
                }
                free(c);
                free(c2);
            }
        free(a), free(w), free(bias), free(res), free(panels), free(pb);
    }
}
END_TEST

/* ------------------------------------------------------------------ depthwise */

/* Depthwise sum (bias included) of output (oy, ox, c) in double; *scale = sum of |terms|. */
static double ref_dw(const polyp_dw_shape *s, const float *in, const float *w, const float *bias, size_t oy,
                     size_t ox, size_t c, double *scale) {
    const size_t C = s->c, ks = s->k;
    double acc = bias[c];
    *scale = fabs(bias[c]);
    for (size_t ky = 0; ky < ks; ky++)
        for (size_t kx = 0; kx < ks; kx++) {
            long iy = (long)(oy * s->stride + ky) - (long)s->pad_top, ix = (long)(ox * s->stride + kx) - (long)s->pad_left;
            if (iy < 0 || ix < 0 || iy >= (long)s->h || ix >= (long)s->w) continue;
            double t = (double)in[((size_t)iy * s->w + (size_t)ix) * C + c] * w[(ky * ks + kx) * C + c];
            acc += t;
            *scale += fabs(t);
        }
    return acc;
}

START_TEST(dwconv_matches_reference) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i);
    const size_t chans[] = {1, 7, 21, 40, 67}; /* 67: four 16-wide vectors + a tail */
    for (size_t ks = 3; ks <= 5; ks += 2)
        for (size_t st = 1; st <= 2; st++)
            for (int tf = 0; tf < 2; tf++)
                for (size_t ci = 0; ci < sizeof chans / sizeof *chans; ci++) {
                    const size_t C = chans[ci], h = 9, wd = 19; /* wide enough for the 4-pixel path at stride 2, k 5 */
                    int pb, pa, qb, qa;
                    polyp_effnet_padding((int)ks, (int)st, tf, (int)h, &pb, &pa);
                    polyp_effnet_padding((int)ks, (int)st, tf, (int)wd, &qb, &qa);
                    const size_t ho = (h + (size_t)(pb + pa) - ks) / st + 1, wo = (wd + (size_t)(qb + qa) - ks) / st + 1;
                    polyp_dw_shape s = {h, wd, C, ho, wo, ks, st, (size_t)pb, (size_t)qb};
                    float *in = rand_buf(h * wd * C), *w = rand_buf(ks * ks * C), *bias = rand_buf(C);
                    float *out = malloc(ho * wo * C * sizeof *out), *rs = malloc(ho * C * sizeof *rs);
                    float *out2 = malloc(ho * wo * C * sizeof *out), *rs2 = malloc(ho * C * sizeof *rs);
                    k->dwconv(&s, in, w, bias, out, rs, 0, ho);
                    for (size_t oy = 0; oy < ho; oy++)
                        for (size_t c = 0; c < C; c++) {
                            double rsum = 0;
                            for (size_t ox = 0; ox < wo; ox++) {
                                double scale, v = ref_swish(ref_dw(&s, in, w, bias, oy, ox, c, &scale));
                                rsum += out[(oy * wo + ox) * C + c];
                                expect_close("dwconv", k, (oy * wo + ox) * C + c, out[(oy * wo + ox) * C + c], v, scale, 2e-6);
                            }
                            expect_close("dwconv row sums", k, oy * C + c, rs[oy * C + c], rsum, (double)wo, 1e-6);
                        }
                    /* dwconv_clamp: the same sums, clamped to [-0.5, 0.8] instead of swish */
                    k->dwconv_clamp(&s, in, w, bias, out2, -0.5f, 0.8f, 0, ho);
                    for (size_t oy = 0; oy < ho; oy++)
                        for (size_t ox = 0; ox < wo; ox++)
                            for (size_t c = 0; c < C; c++) {
                                double scale, acc = ref_dw(&s, in, w, bias, oy, ox, c, &scale);
                                double v = acc < -0.5 ? -0.5f : acc > 0.8 ? 0.8f : acc;
                                expect_close("dwconv_clamp", k, (oy * wo + ox) * C + c, out2[(oy * wo + ox) * C + c], v,
                                             scale, 2e-6);
                            }
                    for (size_t cut = 1; cut < ho; cut++) { /* any row split: same bits */
                        k->dwconv(&s, in, w, bias, out2, rs2, cut, ho);
                        k->dwconv(&s, in, w, bias, out2, rs2, 0, cut);
                        ck_assert(!memcmp(out, out2, ho * wo * C * sizeof *out));
                        ck_assert(!memcmp(rs, rs2, ho * C * sizeof *rs));
                    }
                    free(in), free(w), free(bias), free(out), free(rs), free(out2), free(rs2);
                }
}
END_TEST

/* ------------------------------------------------------------------ stem */

START_TEST(stem_matches_reference) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i);
    for (size_t pad = 0; pad <= 1; pad++) {
        const size_t h = 11, wd = 11, wo = (h + 2 * pad + 1 - pad - 3) / 2 + 1; /* after: 1 (tf) or 1 (sym) */
        float *in = rand_buf(h * wd * 3), *w = rand_buf(27 * 32), *bias = rand_buf(32);
        float *out = malloc(wo * wo * 32 * sizeof *out);
        k->stem(in, h, wd, pad, w, bias, out, wo, 0, wo);
        for (size_t oy = 0; oy < wo; oy++)
            for (size_t ox = 0; ox < wo; ox++)
                for (size_t o = 0; o < 32; o++) {
                    double acc = bias[o], scale = fabs(bias[o]);
                    for (size_t ky = 0; ky < 3; ky++)
                        for (size_t kx = 0; kx < 3; kx++) {
                            long iy = (long)(oy * 2 + ky) - (long)pad, ix = (long)(ox * 2 + kx) - (long)pad;
                            if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)wd) continue;
                            for (size_t c = 0; c < 3; c++) {
                                double t = (double)in[((size_t)iy * wd + (size_t)ix) * 3 + c] * w[((ky * 3 + kx) * 3 + c) * 32 + o];
                                acc += t;
                                scale += fabs(t);
                            }
                        }
                    expect_close("stem", k, (oy * wo + ox) * 32 + o, out[(oy * wo + ox) * 32 + o], ref_swish(acc), scale,
                                 2e-6);
                }
        free(in), free(w), free(bias), free(out);
    }
}
END_TEST

/* ------------------------------------------------------------------ whole network */

/* A parallel_for claiming 2 threads that runs the tasks backwards on the calling thread:
 * the backend chunks as for 2 threads and the order differs from the serial one. */
static void reverse_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n) {
    for (size_t i = n; i-- > 0;) fn(arg, i);
}

static polyp_weights *g_w;

static void run_net(const polyp_kernels *k, size_t batch, const polyp_parallel *par, const float *in, size_t n,
                    float *out) {
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = batch;
    p.parallel = par;
    void *st;
    polyp_error err = {0};
    ck_assert_msg(polyp_backend_portable_init_with(g_w, &p, k, &st, &err) == POLYP_OK, "%s", err.message);
    ck_assert_str_eq(polyp_backend_portable_kernels(st), k->name);
    const size_t patch = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
    for (size_t i = 0; i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        ck_assert_msg(polyp_backend_portable_ops.run(st, in + i * patch, m, out + i * POLYP_FEATURE_DIM, &err) == POLYP_OK,
                      "%s", err.message);
    }
    polyp_backend_portable_ops.free(st);
}

START_TEST(network_deterministic_and_close_to_best) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i), *best = polyp_kernels_best();
    if (!g_w) g_w = ec_load_testnet();
#if defined(__SANITIZE_ADDRESS__)
    const size_t n = 1; /* ~30x slower under ASan */
#else
    const size_t n = 3;
#endif
    const size_t patch = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
    float *in = malloc(n * patch * sizeof *in);
    /* smooth, photo-like patches (white noise drives this random-weight network to features
     * in the thousands, where float rounding alone moves them by more than 1e-4) */
    for (size_t q = 0; q < n; q++)
        for (size_t y = 0; y < POLYP_PATCH_SIZE; y++)
            for (size_t x = 0; x < POLYP_PATCH_SIZE; x++)
                for (size_t c = 0; c < 3; c++)
                    in[q * patch + (y * POLYP_PATCH_SIZE + x) * 3 + c] =
                        0.5f + 0.35f * sinf(0.05f * (float)x * (float)(q + 1) + (float)c) * cosf(0.07f * (float)y + (float)q) +
                        0.05f * frand();
    float *f1 = malloc(n * POLYP_FEATURE_DIM * sizeof(float)), *f3 = malloc(n * POLYP_FEATURE_DIM * sizeof(float));
    float *fb = malloc(n * POLYP_FEATURE_DIM * sizeof(float));
    const polyp_parallel two = {NULL, 2, reverse_run};
    run_net(k, 1, NULL, in, n, f1);
    run_net(k, 3, &two, in, n, f3); /* 3 patches on 2 threads: every layer split */
    ck_assert_msg(!memcmp(f1, f3, n * POLYP_FEATURE_DIM * sizeof(float)),
                  "[%s] batch 3 / 2 threads differs from batch 1 / 1 thread", k->name);
    run_net(k, 2, &two, in, n, f3); /* 2 patches on 2 threads: one whole patch per task */
    ck_assert_msg(!memcmp(f1, f3, n * POLYP_FEATURE_DIM * sizeof(float)),
                  "[%s] batch 2 / 2 threads differs from batch 1 / 1 thread", k->name);
    run_net(best, 2, NULL, in, n, fb);
    double maxd = 0, maxf = 0;
    for (size_t i = 0; i < n * POLYP_FEATURE_DIM; i++)
        maxd = fmax(maxd, fabs((double)f1[i] - fb[i])), maxf = fmax(maxf, fabs((double)fb[i]));
    printf("network [%s] vs [%s]: %zu patches, max |diff| %.3g (max |feature| %.3g)\n", k->name, best->name, n, maxd,
           maxf);
    ck_assert_msg(maxd <= 1e-4, "[%s] differs from [%s] by %g", k->name, best->name, maxd);
    free(in), free(f1), free(f3), free(fb);
}
END_TEST

/* Each table straight against PyTorch: the fixture cases of cases.csv, cropped by
 * polyp_patch_crop, through a backend on that table, within 1e-4 of features.f32. */
START_TEST(network_matches_pytorch) {
    const polyp_kernels *k = polyp_kernels_available((size_t)_i);
    if (!g_w) g_w = ec_load_testnet();
    static ec_case cases[EC_MAX_CASES];
    const size_t total = ec_read_cases(cases), stride = ec_stride();
    size_t fsize;
    float *expected = tu_read(tu_source_path("tests/fixtures/effnet/features.f32"), &fsize);
    ck_assert_uint_eq(fsize, total * POLYP_FEATURE_DIM * sizeof(float));
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = 1;
    void *st;
    polyp_error err = {0};
    ck_assert_msg(polyp_backend_portable_init_with(g_w, &p, k, &st, &err) == POLYP_OK, "%s", err.message);
    float *patch = malloc((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3 * sizeof *patch), got[POLYP_FEATURE_DIM];
    double maxd = 0;
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        if (strcmp(cases[i].source, "fixtures") != 0 || i % stride != 0) continue;
        char rel[300];
        snprintf(rel, sizeof rel, "tests/fixtures/effnet/%s", cases[i].image);
        polyp_image img;
        ck_assert_msg(polyp_image_load_file(tu_source_path(rel), NULL, &img, &err) == POLYP_OK, "%s", err.message);
        ck_assert_msg(polyp_patch_crop(&img, cases[i].point, patch, &err) == POLYP_OK, "%s", err.message);
        polyp_image_free(&img);
        ck_assert_msg(polyp_backend_portable_ops.run(st, patch, 1, got, &err) == POLYP_OK, "%s", err.message);
        for (size_t c = 0; c < POLYP_FEATURE_DIM; c++)
            maxd = fmax(maxd, fabs((double)got[c] - expected[i * POLYP_FEATURE_DIM + c]));
        n++;
    }
    printf("network [%s] vs PyTorch: %zu fixture cases, max |diff| %.3g\n", k->name, n, maxd);
    ck_assert_uint_gt(n, 0);
    ck_assert_msg(maxd <= EC_TOLERANCE, "[%s] differs from PyTorch by %g", k->name, maxd);
    polyp_backend_portable_ops.free(st);
    free(patch);
    free(expected);
}
END_TEST

START_TEST(tables_are_listed) {
    ck_assert_str_eq(polyp_kernels_available(0)->name, "scalar");
    ck_assert_ptr_nonnull(polyp_kernels_best());
    ck_assert_ptr_eq(polyp_kernels_find(polyp_kernels_best()->name), polyp_kernels_best());
    ck_assert_ptr_null(polyp_kernels_find("no-such-set"));
    for (size_t i = 0; polyp_kernels_available(i); i++) {
        const polyp_kernels *k = polyp_kernels_available(i);
        /* panels are whole vectors, 2 or 4 of them (the wasm v128 tile is 2 x 16) */
        ck_assert_msg(k->nr == 2 * k->vw || k->nr == 4 * k->vw, "[%s] nr %zu, vw %zu", k->name, k->nr, k->vw);
        printf("kernel table %zu: %s (%zu-wide, %zux%zu gemm tile)\n", i, k->name, k->vw, k->mr, k->nr);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 1200);
    const int n = (int)n_tables();
    tcase_add_test(tc, tables_are_listed);
    tcase_add_loop_test(tc, swish_sigmoid_are_accurate, 0, n);
    tcase_add_loop_test(tc, small_helpers_match, 0, n);
    tcase_add_loop_test(tc, gemm_matches_reference, 0, n);
    tcase_add_loop_test(tc, dwconv_matches_reference, 0, n);
    tcase_add_loop_test(tc, stem_matches_reference, 0, n);
    tcase_add_loop_test(tc, network_deterministic_and_close_to_best, 0, n);
    tcase_add_loop_test(tc, network_matches_pytorch, 0, n);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
