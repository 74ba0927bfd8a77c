/* kernels.h - the portable backend's compute kernels (internal).
 *
 * One generic body (kernels_impl.h) is compiled once per instruction set into a table of
 * function pointers; the backend picks a table at init time (polyp_kernels_best) and
 * keeps it, so there is no global state and a given build on a given CPU always runs the
 * same instructions. Tables:
 *   "scalar"  plain C11, always present (the fallback for compilers without vector types);
 *   "v128"    4-wide GCC/Clang vector extensions: SSE2 on x86-64, NEON on arm64,
 *             SIMD128 in wasm (-msimd128); no fused multiply-add (wasm has none);
 *   "avx2"    8-wide AVX2 + FMA (x86-64, chosen at run time by __builtin_cpu_supports);
 *   "avx512"  16-wide AVX-512F + FMA (same).
 * Results differ between tables in the last bits (FMA, summation width), never between
 * thread counts or batch sizes for one table. */
#ifndef POLYP_KERNELS_H
#define POLYP_KERNELS_H

#include <stddef.h>

/* CLAMP: y = min(max(y, lo), hi), the fused ReLU6 / quantized output range of TFLite graphs
 * (polyp_gemm's lo and hi; dwconv_clamp's arguments). */
enum { POLYP_ACT_NONE = 0, POLYP_ACT_SWISH = 1, POLYP_ACT_CLAMP = 2 };

/* A 1x1 convolution (or any [n][k] weight matrix) packed for one table's gemm:
 * panels[(t * k + i) * nr + j] = W[t * nr + j][i] for tile t (zero past n); bias padded to
 * tiles * nr. polyp_pack_1x1 writes it; the memory belongs to the caller. */
typedef struct polyp_gemm {
    size_t n, k;
    const float *panels;
    const float *bias;
    float lo, hi;   /* POLYP_ACT_CLAMP's bounds (unused by the other activations) */
} polyp_gemm;

/* Depthwise convolution geometry: input [h][w][c], output [ho][wo][c], weights [k][k][c];
 * explicit top/left padding, bottom/right implied by the output size. */
typedef struct polyp_dw_shape {
    size_t h, w, c, ho, wo, k, stride;
    size_t pad_top, pad_left;
} polyp_dw_shape;

typedef struct polyp_kernels {
    const char *name;
    size_t vw;  /* floats per vector */
    size_t mr;  /* rows per gemm micro-tile */
    size_t nr;  /* output channels per packed panel (NV vectors) */

    /* C[m][n] = act(sum_i A[m][i] W[n][i] + bias[n]) (+ R[m][n]) for rows m in [m0, m1).
     * A: [rows][k]; C, R: [rows][n]; R may be NULL (added after the activation). */
    void (*gemm)(const polyp_gemm *g, const float *a, float *c, const float *r, size_t m0, size_t m1, int act);
    /* Depthwise conv + bias + swish for output rows [y0, y1). When row_sums is not NULL,
     * row_sums[oy][c] = sum over ox of the outputs of row oy (squeeze-excite's mean, summed
     * per row so the result does not depend on how rows are split among threads). */
    void (*dwconv)(const polyp_dw_shape *s, const float *in, const float *w, const float *bias, float *out,
                   float *row_sums, size_t y0, size_t y1);
    /* The same convolution with bias then y = min(max(y, lo), hi) instead of swish (no row
     * sums): MobileNet's ReLU6 / quantized output ranges. */
    void (*dwconv_clamp)(const polyp_dw_shape *s, const float *in, const float *w, const float *bias, float *out,
                         float lo, float hi, size_t y0, size_t y1);
    /* Stem: 3x3 stride 2, 3 -> 32 channels + bias + swish, output rows [y0, y1).
     * in [h][w][3], w [3][3][3][32] (ky, kx, ci, co), out [wo][wo][32]; top/left padding pad. */
    void (*stem)(const float *in, size_t h, size_t w, size_t pad, const float *wts, const float *bias, float *out,
                 size_t wo, size_t y0, size_t y1);
    void (*scale_rows)(float *x, const float *s, size_t rows, size_t c);   /* x[r][c] *= s[c] */
    /* out[c] = (sum over r in order of x[r][c]) / divisor */
    void (*mean_rows)(const float *x, size_t rows, size_t c, float divisor, float *out);
    void (*sigmoid)(float *x, size_t n);                                   /* in place */
    void (*swish)(float *x, size_t n);                                     /* in place */
    float (*dot)(const float *a, const float *b, size_t n);
    void (*axpy)(float *y, float a, const float *x, size_t n);            /* y += a x */
    /* polyp_sgemm's micro-kernel (core/gemm.c), an mr x nr tile, same inner loop as gemm:
     * C[q][j] += alpha * sum_i a[q * rs + i * ks] * b[i * nr + j] for q < rows (>= 1),
     * j < cols; b is packed (zero past the matrix), C has leading dimension ldc. */
    void (*gemm_tile)(size_t k, const float *a, size_t rs, size_t ks, const float *b, float alpha, float *c,
                      size_t ldc, size_t rows, size_t cols);
} polyp_kernels;

/* The fastest table usable on this CPU. */
const polyp_kernels *polyp_kernels_best(void);
/* The i-th table usable on this CPU (0 is "scalar"), NULL past the end: tests run them all. */
const polyp_kernels *polyp_kernels_available(size_t i);
/* The usable table with that name, or NULL. */
const polyp_kernels *polyp_kernels_find(const char *name);

/* Floats of packed panels for an [n][k] matrix with panel width nr (bias: tiles * nr). */
size_t polyp_pack_panel_floats(size_t n, size_t k, size_t nr);
size_t polyp_pack_bias_floats(size_t n, size_t nr);
/* Packs w [n][k] and bias [n] (bias may be NULL: zeros) into panels / bias_out. */
void polyp_pack_1x1(const float *w, const float *bias, size_t n, size_t k, size_t nr, float *panels,
                    float *bias_out);

#endif /* POLYP_KERNELS_H */
