/* gemm.c - blocked, packed SGEMM in portable C (see gemm.h).
 *
 * Structure (the usual Goto/BLIS loop nest, kept small):
 *   parallel over row panels of C (GEMM_MC rows each; one task per panel)
 *     for each K block (GEMM_KC):
 *       pack op(A)[panel, kblock] into Ap: MR-row slivers, k-major (Ap[s][k][r])
 *       for each N block (GEMM_NC):
 *         pack op(B)[kblock, nblock] into Bp: NR-column slivers, k-major (Bp[s][k][c])
 *         micro-kernel MR x NR over every sliver pair, accumulating in registers.
 * Packing makes every transpose case the same kernel and keeps the inner loop contiguous,
 * which compilers vectorise. The 4 x 8 tile keeps its 8 SSE accumulators (or 4 AVX ones) in
 * registers with plain -O2/-O3 x86-64; a 4 x 16 tile spills and runs ~10x slower. Edge tiles are zero-padded in the packs and masked on store.
 * A task that cannot allocate its pack buffers falls back to a plain triple loop, so the
 * call never fails. */
#include "gemm.h"

#include <string.h>

#ifndef GEMM_MR
#define GEMM_MR 4
#endif
#ifndef GEMM_NR
#define GEMM_NR 8
#endif
#define GEMM_MC 64
#define GEMM_KC 256
#define GEMM_NC 512

typedef struct gemm_job {
    int ta, tb;
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
} gemm_job;

static inline float get_a(const gemm_job *j, size_t i, size_t k) {
    return j->ta ? j->A[k * j->lda + i] : j->A[i * j->lda + k];
}
static inline float get_b(const gemm_job *j, size_t k, size_t n) {
    return j->tb ? j->B[n * j->ldb + k] : j->B[k * j->ldb + n];
}

/* Ap: ceil(mc/MR) slivers of kc x MR. */
static void pack_a(const gemm_job *j, size_t i0, size_t mc, size_t k0, size_t kc, float *Ap) {
    for (size_t s = 0; s < mc; s += GEMM_MR) {
        size_t rows = mc - s < GEMM_MR ? mc - s : GEMM_MR;
        float *dst = Ap + (s / GEMM_MR) * kc * GEMM_MR;
        for (size_t k = 0; k < kc; k++) {
            for (size_t r = 0; r < rows; r++) dst[k * GEMM_MR + r] = get_a(j, i0 + s + r, k0 + k);
            for (size_t r = rows; r < GEMM_MR; r++) dst[k * GEMM_MR + r] = 0.0f;
        }
    }
}

/* Bp: ceil(nc/NR) slivers of kc x NR. */
static void pack_b(const gemm_job *j, size_t k0, size_t kc, size_t n0, size_t nc, float *Bp) {
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

/* acc(MR x NR) = Ap sliver (kc x MR) ^T * Bp sliver (kc x NR); then C tile += alpha * acc
 * (the caller has already applied beta to C). */
static void micro_kernel(size_t kc, const float *restrict a, const float *restrict b, float alpha,
                         float *C, size_t ldc, size_t rows, size_t cols) {
    float acc[GEMM_MR][GEMM_NR];
    memset(acc, 0, sizeof acc);
    for (size_t k = 0; k < kc; k++) {
        const float *bk = b + k * GEMM_NR;
        const float *ak = a + k * GEMM_MR;
        for (int r = 0; r < GEMM_MR; r++) {
            float av = ak[r];
            for (int c = 0; c < GEMM_NR; c++) acc[r][c] += av * bk[c];
        }
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) C[r * ldc + c] += alpha * acc[r][c];
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
    size_t nc_pad = (nc_max + GEMM_NR - 1) / GEMM_NR * GEMM_NR;
    size_t mc_pad = (GEMM_MC + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
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
            for (size_t s = 0; s < mc; s += GEMM_MR) {
                size_t rows = mc - s < GEMM_MR ? mc - s : GEMM_MR;
                const float *a = Ap + (s / GEMM_MR) * kc * GEMM_MR;
                for (size_t t = 0; t < nc; t += GEMM_NR) {
                    size_t cols = nc - t < GEMM_NR ? nc - t : GEMM_NR;
                    micro_kernel(kc, a, Bp + (t / GEMM_NR) * kc * GEMM_NR, j->alpha,
                                 j->C + (i0 + s) * j->ldc + n0 + t, j->ldc, rows, cols);
                }
            }
        }
    }
    polyp_aligned_free(Ap);
    polyp_aligned_free(Bp);
}

void polyp_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                 size_t ldc, const polyp_parallel *par) {
    if (M == 0 || N == 0) return;
    gemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
    size_t tasks = (M + GEMM_MC - 1) / GEMM_MC;
    /* Small products are not worth a thread hand-off. */
    double flops = (double)M * (double)N * (double)K;
    if (flops < 2e6) par = NULL;
    polyp_parallel_for(par, gemm_panel, &j, tasks);
}
