/* gemm.h - single-precision matrix product used by classifier training and inference.
 * Row-major throughout: C (M x N, leading dimension ldc) =
 *   alpha * op(A) * op(B) + beta * C,  op(A) is M x K, op(B) is K x N,
 * where op(X) = X (stored with leading dimension ld) or X^T when trans_x is set (then X is
 * stored K x M, resp. N x K). beta == 0 overwrites C without reading it (NaN-safe).
 * Internal API. The SIMD micro-kernels are the compute-kernel tables' (core/kernels.h). */
#ifndef POLYP_GEMM_H
#define POLYP_GEMM_H

#include "internal.h"

void polyp_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                 size_t ldc, const polyp_parallel *par);

/* The micro-kernels this CPU can run: variant 0 is the portable one, the last is what
 * polyp_sgemm uses. For tests and benchmarks (every variant is checked against the same
 * reference). A variant past the last means the last. */
size_t polyp_sgemm_variants(void);
const char *polyp_sgemm_variant_name(size_t variant);
void polyp_sgemm_variant(size_t variant, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                         const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                         size_t ldc, const polyp_parallel *par);

#endif /* POLYP_GEMM_H */
