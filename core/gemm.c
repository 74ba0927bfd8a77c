/* gemm.c - blocked SGEMM with packed B and SIMD micro-kernels (see gemm.h).
 *
 * Structure (the Goto/BLIS loop nest, kept small):
 *   pack all of op(B) once, on the calling thread: per K block (GEMM_KC), NR-column
 *     slivers, k-major (Bp[kblock][s][k][c]), zero past N; read-only from then on
 *   parallel over row panels of C (GEMM_MC rows each; one task per panel)
 *     for each K block, each N block (GEMM_NC), each MR-row sliver of the panel:
 *       micro-kernel MR x NR per B sliver, accumulating in registers.
 * The SIMD tiles read op(A) in place (row or column stride per transpose; only the portable
 * loop gets it packed per panel, which it needs to vectorise), and B is packed once rather
 * than once per row panel: with the MLP's shapes (200 x 100 x 1280,
 * 1280 x 100 x 200) packing had taken over a third of wasm training time. The packed B is
 * K x ceil(N / NR) * NR floats - the classifier's matrices are at most a few MB.
 * The micro-kernels are the SIMD tiles of core/kernels_impl.h (see available_kernels), so
 * the classifier and the network share one set of vector kernels and one run-time choice.
 * Edge tiles: B's pack is zero-padded, short row slivers repeat their last row, stores are
 * masked. Every output value is summed over k in the same order (K blocks of GEMM_KC, then
 * k within a block) whatever the thread count or its place in a tile, so results are
 * deterministic for a given build and CPU. When the B pack cannot be allocated the rows
 * fall back to a plain triple loop, so the call never fails (only then do results depend
 * on memory). */
#include "gemm.h"

#include "kernels.h"

#include <string.h>

/* Blocking. Each kernel variant packs B for its own nr (passed at run time). */
#define GEMM_MC 48   /* a multiple of every kernel's mr (4, 6, 8): no short sliver mid-panel */
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
    const float *Bp; /* packed op(B): K block at k0 starts at Bp + k0 * npad; NULL: not packed */
    size_t npad;     /* N rounded up to the kernel's nr */
} gemm_job;

/* C tile += alpha * op(A) rows (rows <= mr, read in place: A(q, i) = a[q * rs + i * ks])
 * times a packed B sliver (kc x nr); beta was applied before. cols <= nr masks edge tiles. */
typedef void (*gemm_kernel_fn)(size_t kc, const float *a, size_t rs, size_t ks, const float *b, float alpha,
                               float *C, size_t ldc, size_t rows, size_t cols);
typedef struct gemm_kernel {
    size_t mr, nr;
    int packed_a; /* wants each panel's op(A) packed k-major (a = sliver, rs = 1, ks = mr) */
    gemm_kernel_fn fn;
    const char *name;
} gemm_kernel;

static inline float get_a(const gemm_job *j, size_t i, size_t k) {
    return j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k];
}
static inline float get_b(const gemm_job *j, size_t k, size_t n) {
    return j->tb ? j->B[n * j->ldb + k] : j->B[k * j->ldb + n];
}

/* For a packed_a kernel: op(A)[i0 .. i0 + mc, k0 .. k0 + kc] as ceil(mc / MR) slivers of
 * kc x MR at Ap, k-major, rows past mc repeating the last row (as the SIMD tiles do). */
static void pack_a(const gemm_job *j, size_t i0, size_t mc, size_t k0, size_t kc, float *Ap) {
    const size_t MR = j->kern->mr, lda = j->lda;
    for (size_t s = 0; s < mc; s += MR) {
        float *dst = Ap + (s / MR) * kc * MR;
        for (size_t r = 0; r < MR; r++) {
            const size_t i = i0 + s + (s + r < mc ? r : mc - 1 - s);
            if (!j->ta) {
                const float *src = j->A + i * lda + k0;
                for (size_t k = 0; k < kc; k++) dst[k * MR + r] = src[k];
            } else {
                const float *src = j->A + k0 * lda + i;
                for (size_t k = 0; k < kc; k++) dst[k * MR + r] = src[k * lda];
            }
        }
    }
}

/* Packs op(B)[k0 .. k0 + kc, all N] into ceil(N/NR) slivers of kc x NR at Bp, columns past
 * N zero. Plain loops rather than memcpy: a memcpy call per NR floats is slow in wasm. */
static void pack_b(const gemm_job *j, size_t k0, size_t kc, float *Bp) {
    const size_t NR = j->kern->nr, N = j->N, ldb = j->ldb;
    for (size_t s = 0; s < N; s += NR) {
        const size_t cols = N - s < NR ? N - s : NR;
        float *dst = Bp + (s / NR) * kc * NR;
        if (!j->tb) { /* B is K x N */
            for (size_t k = 0; k < kc; k++) {
                const float *src = j->B + (k0 + k) * ldb + s;
                for (size_t c = 0; c < cols; c++) dst[k * NR + c] = src[c];
            }
        } else { /* B is N x K */
            for (size_t c = 0; c < cols; c++) {
                const float *src = j->B + (s + c) * ldb + k0;
                for (size_t k = 0; k < kc; k++) dst[k * NR + c] = src[k];
            }
        }
        if (cols < NR)
            for (size_t k = 0; k < kc; k++)
                for (size_t c = cols; c < NR; c++) dst[k * NR + c] = 0.0f;
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
static void kernel_4x8(size_t kc, const float *a, size_t rs, size_t ks, const float *restrict b, float alpha,
                       float *C, size_t ldc, size_t rows, size_t cols) {
    (void)rs, (void)ks; /* packed: A(q, i) = a[i * 4 + q] (see gemm_kernel.packed_a) */
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
    out[n++] = (gemm_kernel){4, 8, 1, kernel_4x8, "portable"};
    const polyp_kernels *t;
    for (size_t i = 1; n < GEMM_MAX_VARIANTS && (t = polyp_kernels_available(i)); i++)
        out[n++] = (gemm_kernel){t->mr, t->nr, 0, t->gemm_tile, t->name};
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
    const size_t i0 = task * GEMM_MC;
    const size_t mc = j->M - i0 < GEMM_MC ? j->M - i0 : GEMM_MC;
    scale_rows(j, i0, mc);
    if (j->K == 0 || j->alpha == 0.0f) return;
    if (!j->Bp) {
        naive_rows(j, i0, mc);
        return;
    }
    const size_t MR = j->kern->mr, NR = j->kern->nr;
    float *Ap = NULL;
    if (j->kern->packed_a) {
        const size_t kc_max = j->K < GEMM_KC ? j->K : GEMM_KC, mc_pad = (GEMM_MC + MR - 1) / MR * MR;
        if (!(Ap = polyp_aligned_alloc(mc_pad * kc_max * sizeof(float)))) {
            naive_rows(j, i0, mc);
            return;
        }
    }
    /* op(A)(i, k) = A[i * rs + k * ks], read in place by the SIMD tiles */
    const size_t rs = j->ta ? 1 : j->lda, ks = j->ta ? j->lda : 1;
    for (size_t k0 = 0; k0 < j->K; k0 += GEMM_KC) {
        const size_t kc = j->K - k0 < GEMM_KC ? j->K - k0 : GEMM_KC;
        const float *Bk = j->Bp + k0 * j->npad; /* this K block's slivers, kc x NR each */
        if (Ap) pack_a(j, i0, mc, k0, kc, Ap);
        for (size_t n0 = 0; n0 < j->N; n0 += GEMM_NC) {
            const size_t nc = j->N - n0 < GEMM_NC ? j->N - n0 : GEMM_NC;
            for (size_t s = 0; s < mc; s += MR) {
                const size_t rows = mc - s < MR ? mc - s : MR;
                const float *a = Ap ? Ap + (s / MR) * kc * MR : j->A + (i0 + s) * rs + k0 * ks;
                for (size_t t = n0; t < n0 + nc; t += NR) {
                    const size_t cols = n0 + nc - t < NR ? n0 + nc - t : NR;
                    j->kern->fn(kc, a, Ap ? 1 : rs, Ap ? MR : ks, Bk + (t / NR) * kc * NR, j->alpha,
                                j->C + (i0 + s) * j->ldc + t, j->ldc, rows, cols);
                }
            }
        }
    }
    polyp_aligned_free(Ap);
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
    const gemm_kernel *kern = &ks[variant < nk ? variant : nk - 1];
    gemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, kern, NULL, 0};
    float *Bp = NULL;
    size_t bytes;
    j.npad = (N + kern->nr - 1) / kern->nr * kern->nr;
    if (K > 0 && alpha != 0.0f && polyp_mul_ok(j.npad, K, &bytes) && polyp_mul_ok(bytes, sizeof(float), &bytes) &&
        (Bp = polyp_aligned_alloc(bytes)) != NULL) {
        for (size_t k0 = 0; k0 < K; k0 += GEMM_KC) pack_b(&j, k0, K - k0 < GEMM_KC ? K - k0 : GEMM_KC, Bp + k0 * j.npad);
        j.Bp = Bp;
    }
    size_t tasks = (M + GEMM_MC - 1) / GEMM_MC;
    /* Small products are not worth a thread hand-off. */
    double flops = (double)M * (double)N * (double)K;
    if (flops < 2e6) par = NULL;
    polyp_parallel_for(par, gemm_panel, &j, tasks);
    polyp_aligned_free(Bp);
}
