/* gemm.c - blocked, packed SGEMM in portable C (see gemm.h).
 *
 * Structure (the usual Goto/BLIS loop nest, kept small):
 *   parallel over row panels of C (GEMM_MC rows each; one task per panel)
 *     for each K block (GEMM_KC):
 *       pack op(A)[panel, kblock] into Ap: MR-row slivers, k-major (Ap[s][k][r])
 *       for each N block (GEMM_NC):
 *         pack op(B)[kblock, nblock] into Bp: NR-column slivers, k-major (Bp[s][k][c])
 *         micro-kernel MR x NR over every sliver pair, accumulating in registers.
 * Packing makes every transpose case the same kernel and keeps the inner loop contiguous.
 * The micro-kernels are the SIMD tiles of core/kernels_impl.h (see available_kernels), so
 * the classifier and the network share one set of vector kernels and one run-time choice.
 * Edge tiles are zero-padded in the packs and masked on store. Every output value is summed
 * over k in the same order (K blocks of GEMM_KC, then k within a block) whatever the thread
 * count or its place in a tile, so results are deterministic for a given build and CPU.
 * A task that cannot allocate its pack buffers falls back to a plain triple loop, so the
 * call never fails. */
#include "gemm.h"

#include "kernels.h"

#include <string.h>

/* Blocking. Each kernel variant packs for its own mr x nr (passed at run time). */
#define GEMM_MC 48   /* a multiple of every kernel's mr (4, 6, 8): no partial sliver mid-panel */
#define GEMM_KC 256
#define GEMM_NC 512  /* a multiple of every kernel's nr (8, 16, 32) */

typedef struct gemm_job {
    int ta, tb;
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
    const struct gemm_kernel *kern;
} gemm_job;

/* acc(mr x nr) = Ap sliver (kc x mr)^T * Bp sliver (kc x nr); C tile += alpha * acc (beta
 * was applied before). rows <= mr, cols <= nr mask the edge tiles. */
typedef void (*gemm_kernel_fn)(size_t kc, const float *a, const float *b, float alpha, float *C, size_t ldc,
                               size_t rows, size_t cols);
typedef struct gemm_kernel {
    size_t mr, nr;
    gemm_kernel_fn fn;
    const char *name;
} gemm_kernel;

static inline float get_a(const gemm_job *j, size_t i, size_t k) {
    return j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k];
}
static inline float get_b(const gemm_job *j, size_t k, size_t n) {
    return j->tb ? j->B[n * j->ldb + k] : j->B[k * j->ldb + n];
}

/* Ap: ceil(mc/MR) slivers of kc x MR. */
static void pack_a(const gemm_job *j, size_t i0, size_t mc, size_t k0, size_t kc, float *Ap) {
    const size_t MR = j->kern->mr;
    for (size_t s = 0; s < mc; s += MR) {
        size_t rows = mc - s < MR ? mc - s : MR;
        float *dst = Ap + (s / MR) * kc * MR;
        for (size_t k = 0; k < kc; k++) {
            for (size_t r = 0; r < rows; r++) dst[k * MR + r] = get_a(j, i0 + s + r, k0 + k);
            for (size_t r = rows; r < MR; r++) dst[k * MR + r] = 0.0f;
        }
    }
}

/* Bp: ceil(nc/NR) slivers of kc x NR. */
static void pack_b(const gemm_job *j, size_t k0, size_t kc, size_t n0, size_t nc, float *Bp) {
    const size_t GEMM_NR = j->kern->nr;
    for (size_t s = 0; s < nc; s += GEMM_NR) {
        size_t cols = nc - s < GEMM_NR ? nc - s : GEMM_NR;
        float *dst = Bp + (s / GEMM_NR) * kc * GEMM_NR;
        if (!j->tb) {
            for (size_t k = 0; k < kc; k++) {
                const float *src = j->B + (k0 + k) * j->ldb + n0 + s;
                memcpy(dst + k * GEMM_NR, src, cols * sizeof(float));
                for (size_t c = cols; c < GEMM_NR; c++) dst[k * GEMM_NR + c] = 0.0f;
            }
        } else {
            for (size_t k = 0; k < kc; k++) {
                for (size_t c = 0; c < cols; c++) dst[k * GEMM_NR + c] = get_b(j, k0 + k, n0 + s + c);
                for (size_t c = cols; c < GEMM_NR; c++) dst[k * GEMM_NR + c] = 0.0f;
            }
        }
    }
}

/* Micro-kernels. Variant 0 is a plain C loop over a 4 x 8 tile (any C11 compiler; GCC and
 * Clang vectorise it at -O3). The others are the `gemm_tile` entries of the compute-kernel
 * tables (core/kernels.h): the same body (core/kernels_impl.h) and the same inner loop as
 * the network's 1x1 convolutions, compiled per instruction set - v128 (4-wide vector
 * extensions: SSE2, NEON, wasm SIMD128; 6 x 8, 4 x 8 in wasm), avx2 (6 x 16, FMA),
 * avx512 (8 x 32, FMA) - and listed only where this build and CPU can run them. Without
 * FMA every variant sums each output's products in the same order with the same
 * roundings, so v128 and the portable kernel give identical results. */
static void kernel_4x8(size_t kc, const float *restrict a, const float *restrict b, float alpha, float *C,
                       size_t ldc, size_t rows, size_t cols) {
    float acc[4][8];
    memset(acc, 0, sizeof acc);
    for (size_t k = 0; k < kc; k++) {
        const float *bk = b + k * 8, *ak = a + k * 4;
        for (int r = 0; r < 4; r++) {
            float av = ak[r];
            for (int c = 0; c < 8; c++) acc[r][c] = acc[r][c] + av * bk[c];
        }
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) C[r * ldc + c] = C[r * ldc + c] + alpha * acc[r][c];
}

enum { GEMM_MAX_VARIANTS = 4 };

/* Kernels this build and CPU can run, best last; [0] is the portable one. The tables'
 * scalar set (1 x 2 vectors of one float) is skipped: the portable 4 x 8 tile is its
 * better-shaped equivalent. */
static size_t available_kernels(gemm_kernel *out) {
    size_t n = 0;
    out[n++] = (gemm_kernel){4, 8, kernel_4x8, "portable"};
    const polyp_kernels *t;
    for (size_t i = 1; n < GEMM_MAX_VARIANTS && (t = polyp_kernels_available(i)); i++)
        out[n++] = (gemm_kernel){t->mr, t->nr, t->gemm_tile, t->name};
    return n;
}

size_t polyp_sgemm_variants(void) {
    gemm_kernel k[GEMM_MAX_VARIANTS];
    return available_kernels(k);
}

const char *polyp_sgemm_variant_name(size_t variant) {
    gemm_kernel k[GEMM_MAX_VARIANTS];
    size_t n = available_kernels(k);
    return k[variant < n ? variant : n - 1].name;
}

static void scale_rows(const gemm_job *j, size_t i0, size_t mc) {
    for (size_t i = i0; i < i0 + mc; i++) {
        float *c = j->C + i * j->ldc;
        if (j->beta == 0.0f) memset(c, 0, j->N * sizeof(float));
        else if (j->beta != 1.0f) for (size_t n = 0; n < j->N; n++) c[n] *= j->beta;
    }
}

static void naive_rows(const gemm_job *j, size_t i0, size_t mc) {
    for (size_t i = i0; i < i0 + mc; i++)
        for (size_t n = 0; n < j->N; n++) {
            float s = 0.0f;
            for (size_t k = 0; k < j->K; k++) s += get_a(j, i, k) * get_b(j, k, n);
            j->C[i * j->ldc + n] += j->alpha * s;
        }
}

static void gemm_panel(void *arg, size_t task) {
    const gemm_job *j = arg;
    size_t i0 = task * GEMM_MC;
    size_t mc = j->M - i0 < GEMM_MC ? j->M - i0 : GEMM_MC;
    scale_rows(j, i0, mc);
    if (j->K == 0 || j->alpha == 0.0f) return;
    size_t kc_max = j->K < GEMM_KC ? j->K : GEMM_KC;
    size_t nc_max = j->N < GEMM_NC ? j->N : GEMM_NC;
    const size_t MR = j->kern->mr, NR = j->kern->nr;
    size_t nc_pad = (nc_max + NR - 1) / NR * NR;
    size_t mc_pad = (GEMM_MC + MR - 1) / MR * MR;
    float *Ap = polyp_aligned_alloc(mc_pad * kc_max * sizeof(float));
    float *Bp = polyp_aligned_alloc(nc_pad * kc_max * sizeof(float));
    if (!Ap || !Bp) {
        polyp_aligned_free(Ap);
        polyp_aligned_free(Bp);
        naive_rows(j, i0, mc);
        return;
    }
    for (size_t k0 = 0; k0 < j->K; k0 += GEMM_KC) {
        size_t kc = j->K - k0 < GEMM_KC ? j->K - k0 : GEMM_KC;
        pack_a(j, i0, mc, k0, kc, Ap);
        for (size_t n0 = 0; n0 < j->N; n0 += GEMM_NC) {
            size_t nc = j->N - n0 < GEMM_NC ? j->N - n0 : GEMM_NC;
            pack_b(j, k0, kc, n0, nc, Bp);
            for (size_t s = 0; s < mc; s += MR) {
                size_t rows = mc - s < MR ? mc - s : MR;
                const float *a = Ap + (s / MR) * kc * MR;
                for (size_t t = 0; t < nc; t += NR) {
                    size_t cols = nc - t < NR ? nc - t : NR;
                    j->kern->fn(kc, a, Bp + (t / NR) * kc * NR, j->alpha, j->C + (i0 + s) * j->ldc + n0 + t,
                                j->ldc, rows, cols);
                }
            }
        }
    }
    polyp_aligned_free(Ap);
    polyp_aligned_free(Bp);
}

/* Build-time override for benchmarks and for trying a fallback on a CPU that has more:
 * -DPOLYP_SGEMM_VARIANT=n makes polyp_sgemm run variant n (capped at the last). */
#ifndef POLYP_SGEMM_VARIANT
#define POLYP_SGEMM_VARIANT SIZE_MAX
#endif

void polyp_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                 size_t ldc, const polyp_parallel *par) {
    polyp_sgemm_variant(POLYP_SGEMM_VARIANT, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, par);
}

void polyp_sgemm_variant(size_t variant, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                         const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                         size_t ldc, const polyp_parallel *par) {
    if (M == 0 || N == 0) return;
    gemm_kernel ks[GEMM_MAX_VARIANTS];
    size_t nk = available_kernels(ks);
    gemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, &ks[variant < nk ? variant : nk - 1]};
    size_t tasks = (M + GEMM_MC - 1) / GEMM_MC;
    /* Small products are not worth a thread hand-off. */
    double flops = (double)M * (double)N * (double)K;
    if (flops < 2e6) par = NULL;
    polyp_parallel_for(par, gemm_panel, &j, tasks);
}
