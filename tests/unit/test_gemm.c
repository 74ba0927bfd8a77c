/* test_gemm.c - polyp_sgemm (core/gemm.c), every micro-kernel variant this build and CPU
 * can run (portable, v128, avx2, avx512), against a naive product summed in double:
 * odd sizes that leave partial tiles in every kernel's mr x nr, partial K blocks (KC 256)
 * and N blocks (NC 512), both transposes, padded leading dimensions whose padding must stay
 * untouched, beta 0 over NaN, alpha 0; each kernel table's tile on its own for every row
 * and column count and both A layouts. Also: bit-identical results for 1 and 2 threads,
 * the fastest variant is the network's kernel set, and where no kernel can fuse a
 * multiply-add (x86-64 without -mfma, wasm) v128 equals the portable kernel bit for bit -
 * what keeps models trained in wasm equal to the portable build's. */
#include "classifier_internal.h"
#include "gemm.h"
#include "kernels.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float frand(polyp_rng *r) { return (float)(polyp_rng_uniform(r) * 2.0 - 1.0); }

typedef struct prod {
    size_t M, N, K, lda, ldb, ldc;
    int ta, tb;
    float *A, *B, *C0; /* C0: C before the call, [M][ldc] */
} prod;

/* Random operands; leading dimensions 3 past the stored width. */
static prod prod_make(size_t M, size_t N, size_t K, int ta, int tb, polyp_rng *r) {
    prod p = {M, N, K, (ta ? M : K) + 3, (tb ? K : N) + 3, N + 3, ta, tb, NULL, NULL, NULL};
    size_t an = (ta ? K : M) * p.lda, bn = (tb ? N : K) * p.ldb;
    p.A = malloc(an * sizeof(float));
    p.B = malloc(bn * sizeof(float));
    p.C0 = malloc(M * p.ldc * sizeof(float));
    for (size_t i = 0; i < an; i++) p.A[i] = frand(r);
    for (size_t i = 0; i < bn; i++) p.B[i] = frand(r);
    for (size_t i = 0; i < M * p.ldc; i++) p.C0[i] = frand(r);
    return p;
}

static void prod_free(prod *p) { free(p->A), free(p->B), free(p->C0); }

static double a_at(const prod *p, size_t i, size_t k) { return p->ta ? p->A[k * p->lda + i] : p->A[i * p->lda + k]; }
static double b_at(const prod *p, size_t k, size_t j) { return p->tb ? p->B[j * p->ldb + k] : p->B[k * p->ldb + j]; }

/* C = alpha op(A) op(B) + beta C0 with variant v against the double reference; error bound
 * 1e-6 (K + 4) (|alpha| sum |a b| + |beta c|): float summation in any order stays within
 * ~K * 6e-8 of that sum, a wrong index or a lost tile is off by O(1). NaN in C0 with
 * beta == 0 must not reach C; the ldc padding must keep its values. */
static void check_variant(size_t v, const prod *p, float alpha, float beta, int nan_c) {
    float *C = malloc(p->M * p->ldc * sizeof(float));
    for (size_t i = 0; i < p->M * p->ldc; i++) C[i] = nan_c && i % p->ldc < p->N ? NAN : p->C0[i];
    polyp_sgemm_variant(v, p->ta, p->tb, p->M, p->N, p->K, alpha, p->A, p->lda, p->B, p->ldb, beta, C, p->ldc, NULL);
    for (size_t i = 0; i < p->M; i++) {
        for (size_t j = 0; j < p->N; j++) {
            double s = 0, abs_s = 0;
            for (size_t k = 0; k < p->K; k++) {
                double t = a_at(p, i, k) * b_at(p, k, j);
                s += t, abs_s += fabs(t);
            }
            double c0 = nan_c ? 0.0 : p->C0[i * p->ldc + j];
            double ref = alpha * s + beta * c0;
            double tol = 1e-6 * (double)(p->K + 4) * (fabs(alpha) * abs_s + fabs(beta * c0)) + 1e-30;
            double got = C[i * p->ldc + j];
            ck_assert_msg(fabs(got - ref) <= tol,
                          "[%s] %zux%zux%zu ta %d tb %d alpha %g beta %g: C[%zu][%zu] = %.9g, reference %.9g (tol %.3g)",
                          polyp_sgemm_variant_name(v), p->M, p->N, p->K, p->ta, p->tb, alpha, beta, i, j, got, ref, tol);
        }
        for (size_t j = p->N; j < p->ldc; j++)
            ck_assert_msg(!memcmp(&C[i * p->ldc + j], &p->C0[i * p->ldc + j], sizeof(float)),
                          "[%s] wrote into the ldc padding at row %zu", polyp_sgemm_variant_name(v), i);
    }
    free(C);
}

/* M x N x K: partial tiles for mr 4/6/8 and nr 8/16/32, exact tiles, one more than a K
 * block (257) or two (600), N past one and two N blocks (515, 1031), and the MLP's own
 * shapes (minibatch 200 x 1280 features x 100 hidden units, and its transposes). */
static const size_t shapes[][3] = {
    {1, 1, 1},     {3, 5, 7},    {7, 9, 2},      {13, 17, 257}, {49, 33, 31},  {6, 16, 256}, {8, 32, 1},
    {24, 48, 64},  {97, 515, 40}, {5, 1031, 3},  {50, 7, 600},  {130, 100, 1280}, {3, 600, 7}, {67, 33, 300},
};

START_TEST(variant_matches_double_reference) {
    const size_t v = (size_t)_i;
    polyp_rng r = polyp_rng_seed(11, v);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            prod p = prod_make(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1, &r);
            check_variant(v, &p, 0.75f, 0.5f, 0);
            if (s % 3 == 0) {
                check_variant(v, &p, 1.0f, 0.0f, 1); /* beta 0 overwrites NaN */
                check_variant(v, &p, -1.5f, 1.0f, 0);
                check_variant(v, &p, 0.0f, 2.0f, 0); /* alpha 0: C = beta C */
            }
            prod_free(&p);
        }
    printf("sgemm variant %zu [%s]: %zu shapes x 4 transposes within bounds\n", v, polyp_sgemm_variant_name(v),
           sizeof shapes / sizeof shapes[0]);
}
END_TEST

/* Every kernel table's gemm_tile on its own (the scalar one included, which polyp_sgemm
 * leaves to the portable loop): each row count 1 .. mr and column count 1 .. nr, A read
 * row-major (rs = lda, ks = 1) and transposed (rs = 1, ks = lda), against double sums. */
START_TEST(table_tiles_match_reference) {
    polyp_rng r = polyp_rng_seed(17, 0);
    const polyp_kernels *t;
    for (size_t ti = 0; (t = polyp_kernels_available(ti)); ti++) {
        const size_t mr = t->mr, nr = t->nr, kc = 37, ld = 41, ldc = nr + 5;
        float *A = malloc(ld * ld * sizeof(float)), *b = malloc(kc * nr * sizeof(float));
        float *C = malloc(mr * ldc * sizeof(float)), *C0 = malloc(mr * ldc * sizeof(float));
        for (size_t i = 0; i < ld * ld; i++) A[i] = frand(&r);
        for (size_t i = 0; i < kc * nr; i++) b[i] = frand(&r);
        for (size_t i = 0; i < mr * ldc; i++) C0[i] = frand(&r);
        for (int trans = 0; trans < 2; trans++)
            for (size_t rows = 1; rows <= mr; rows++)
                for (size_t cols = 1; cols <= nr; cols++) {
                    const size_t rs = trans ? 1 : ld, ks = trans ? ld : 1;
                    memcpy(C, C0, mr * ldc * sizeof(float));
                    t->gemm_tile(kc, A, rs, ks, b, -0.5f, C, ldc, rows, cols);
                    for (size_t q = 0; q < mr; q++)
                        for (size_t j = 0; j < ldc; j++) {
                            double want = C0[q * ldc + j], tol = 0;
                            if (q < rows && j < cols) {
                                double s = 0, abs_s = 0;
                                for (size_t i = 0; i < kc; i++) {
                                    double p = (double)A[q * rs + i * ks] * b[i * nr + j];
                                    s += p, abs_s += fabs(p);
                                }
                                want += -0.5 * s;
                                tol = 1e-6 * (kc + 4) * (0.5 * abs_s + fabs(C0[q * ldc + j]));
                            }
                            ck_assert_msg(fabs(C[q * ldc + j] - want) <= tol,
                                          "[%s] tile trans %d rows %zu cols %zu: C[%zu][%zu] = %.9g, want %.9g", t->name,
                                          trans, rows, cols, q, j, C[q * ldc + j], want);
                        }
                }
        free(A), free(b), free(C), free(C0);
    }
}
END_TEST

/* K == 0: C = beta C (no products at all), for every variant. */
START_TEST(empty_inner_dimension) {
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {7}, B[1] = {9};
    for (size_t v = 0; v < polyp_sgemm_variants(); v++) {
        float c[6];
        memcpy(c, C, sizeof c);
        polyp_sgemm_variant(v, 0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, c, 3, NULL);
        for (size_t i = 0; i < 6; i++) ck_assert_float_eq(c[i], 0.5f * C[i]);
    }
}
END_TEST

static void reverse_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n) {
    (void)ctx;
    for (size_t i = n; i-- > 0;) fn(arg, i);
}

/* Row panels run as separate tasks (here in reverse order, as a second thread might): the
 * result must be the same bits as one thread's, for every variant. */
START_TEST(threads_do_not_change_results) {
    const polyp_parallel two = {NULL, 2, reverse_run};
    polyp_rng r = polyp_rng_seed(5, 0);
    for (size_t v = 0; v < polyp_sgemm_variants(); v++)
        for (int t = 0; t < 4; t++) {
            prod p = prod_make(200, 101, 300, t & 1, t >> 1, &r); /* 5 row panels, > 2e6 MACs */
            size_t n = p.M * p.ldc;
            float *c1 = malloc(n * sizeof(float)), *c2 = malloc(n * sizeof(float));
            memcpy(c1, p.C0, n * sizeof(float));
            memcpy(c2, p.C0, n * sizeof(float));
            polyp_sgemm_variant(v, p.ta, p.tb, p.M, p.N, p.K, 0.5f, p.A, p.lda, p.B, p.ldb, 1.0f, c1, p.ldc, NULL);
            polyp_sgemm_variant(v, p.ta, p.tb, p.M, p.N, p.K, 0.5f, p.A, p.lda, p.B, p.ldb, 1.0f, c2, p.ldc, &two);
            ck_assert_msg(!memcmp(c1, c2, n * sizeof(float)), "[%s] ta %d tb %d: 2 threads differ from 1",
                          polyp_sgemm_variant_name(v), p.ta, p.tb);
            free(c1), free(c2);
            prod_free(&p);
        }
}
END_TEST

/* polyp_sgemm runs the last variant, and that is the network's kernel set. */
START_TEST(default_is_the_best_kernel_set) {
    const size_t n = polyp_sgemm_variants();
    ck_assert_uint_ge(n, 1);
    ck_assert_str_eq(polyp_sgemm_variant_name(0), "portable");
    const char *best = polyp_kernels_best()->name;
    ck_assert_str_eq(polyp_sgemm_variant_name(n - 1), strcmp(best, "scalar") ? best : "portable");
    ck_assert_str_eq(polyp_sgemm_variant_name(n + 5), polyp_sgemm_variant_name(n - 1));
#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__))
    ck_assert_str_eq(polyp_sgemm_variant_name(1), "v128"); /* the 4-wide set exists wherever it can */
#endif
    polyp_rng r = polyp_rng_seed(9, 0);
    prod p = prod_make(61, 45, 290, 1, 0, &r);
    size_t sz = p.M * p.ldc * sizeof(float);
    float *c1 = malloc(sz), *c2 = malloc(sz);
    memcpy(c1, p.C0, sz);
    memcpy(c2, p.C0, sz);
    polyp_sgemm(1, 0, p.M, p.N, p.K, 1.0f, p.A, p.lda, p.B, p.ldb, 0.25f, c1, p.ldc, NULL);
    polyp_sgemm_variant(n - 1, 1, 0, p.M, p.N, p.K, 1.0f, p.A, p.lda, p.B, p.ldb, 0.25f, c2, p.ldc, NULL);
    ck_assert(!memcmp(c1, c2, sz));
    free(c1), free(c2);
    prod_free(&p);
}
END_TEST

/* Without fused multiply-add (x86-64 builds without -mfma, wasm SIMD128) the v128 tile and
 * the portable loop compute every output with the same operations in the same order: the
 * results must be identical, so switching wasm's training from the portable kernel to v128
 * did not move any trained model. Elsewhere (NEON may fuse) only the bounds above apply. */
START_TEST(v128_equals_portable_without_fma) {
#if defined(__GNUC__) && ((defined(__x86_64__) && defined(__SSE2__) && !defined(__FMA__)) || \
                          (defined(__wasm_simd128__) && !defined(__wasm_relaxed_simd__)))
    ck_assert_str_eq(polyp_sgemm_variant_name(1), "v128");
    polyp_rng r = polyp_rng_seed(21, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            prod p = prod_make(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1, &r);
            size_t sz = p.M * p.ldc * sizeof(float);
            float *c0 = malloc(sz), *c1 = malloc(sz);
            memcpy(c0, p.C0, sz);
            memcpy(c1, p.C0, sz);
            polyp_sgemm_variant(0, p.ta, p.tb, p.M, p.N, p.K, 0.75f, p.A, p.lda, p.B, p.ldb, 0.5f, c0, p.ldc, NULL);
            polyp_sgemm_variant(1, p.ta, p.tb, p.M, p.N, p.K, 0.75f, p.A, p.lda, p.B, p.ldb, 0.5f, c1, p.ldc, NULL);
            ck_assert_msg(!memcmp(c0, c1, sz), "v128 differs from portable: %zux%zux%zu ta %d tb %d", p.M, p.N, p.K,
                          p.ta, p.tb);
            free(c0), free(c1);
            prod_free(&p);
        }
#else
    printf("v128 vs portable: not bit-comparable in this build (FMA possible), bounds only\n");
#endif
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, variant_matches_double_reference, 0, (int)polyp_sgemm_variants());
    tcase_add_test(tc, table_tiles_match_reference);
    tcase_add_test(tc, empty_inner_dimension);
    tcase_add_test(tc, threads_do_not_change_results);
    tcase_add_test(tc, default_is_the_best_kernel_set);
    tcase_add_test(tc, v128_equals_portable_without_fma);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
