/* cuda_kernels.cuh - the CUDA backend's kernels, NHWC, one template per layer kind over the
 * activation type T (float for precision exact, __half for fast) and the GEMM weight type TW
 * (the same). Every product is accumulated in fp32 with fmaf; nothing uses TF32 or
 * fast-math intrinsics (expf, IEEE division), so `exact` follows PyTorch FP32 to rounding.
 *
 * Fusion, as DESIGN.md's portable backend does it on the CPU:
 *   stem      3x3/2 conv + bias + swish
 *   gemm1x1   1x1 conv as a tiled GEMM; bias + swish, or the SE gate applied to A while it
 *             is loaded (the projection's input) with bias + residual in the epilogue
 *   dwconv    depthwise kxk + bias + swish, and the per-row sums the SE mean needs
 *   se_gate   mean, reduce FC + swish, expand FC + sigmoid: one block per patch
 *   head      1x1 320->1280 + bias + swish + the global mean, writing the features
 * Reductions run in a fixed order (row sums, then rows in order): results do not depend
 * on the batch size or on scheduling.
 *
 * Included by cuda_net.cu only (one translation unit keeps the nvcc time short). */
#ifndef POLYP_CUDA_KERNELS_CUH
#define POLYP_CUDA_KERNELS_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <stdint.h>

#include "reflect.h" /* core/: the CPU crop's index map, compiled for the device too */

namespace pcu {

template <typename T> __device__ __forceinline__ float ld(const T *p);
template <> __device__ __forceinline__ float ld<float>(const float *p) { return __ldg(p); }
template <> __device__ __forceinline__ float ld<__half>(const __half *p) { return __half2float(__ldg(p)); }

template <typename T> __device__ __forceinline__ void st(T *p, float v);
template <> __device__ __forceinline__ void st<float>(float *p, float v) { *p = v; }
template <> __device__ __forceinline__ void st<__half>(__half *p, float v) { *p = __float2half_rn(v); }

/* x * sigmoid(x) written as PyTorch computes sigmoid, 1 / (1 + exp(-x)); expf is the
 * accurate one (not __expf). */
__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float swishf(float x) { return x * sigmoidf(x); }

/* ------------------------------------------------------------------ crop */

/* Patches of the points (rows[i], cols[i]) of one uint8 HWC RGB image into float HWC
 * [n][224][224][3], point at index 112, values uint8 / 255 (a division, as numpy's
 * float32 does, so bit-identical to core/crop.c). grid (224 rows, n), block 224 columns. */
__global__ void crop(const uint8_t *__restrict__ img, uint32_t w, uint32_t h, const uint32_t *__restrict__ rows,
                     const uint32_t *__restrict__ cols, float *__restrict__ out) {
    const int y = blockIdx.x, x = threadIdx.x, p = blockIdx.y;
    const uint32_t sy = polyp_reflect_index((int64_t)rows[p] - 112 + y, h);
    const uint32_t sx = polyp_reflect_index((int64_t)cols[p] - 112 + x, w);
    const uint8_t *px = img + ((size_t)sy * w + sx) * 3;
    float *dst = out + (((size_t)p * 224 + y) * 224 + x) * 3;
    dst[0] = (float)px[0] / 255.0f;
    dst[1] = (float)px[1] / 255.0f;
    dst[2] = (float)px[2] / 255.0f;
}

/* ------------------------------------------------------------------ stem */

/* in [n][224][224][3] fp32, w OHWI [32][3][3][3], out [n][ho][ho][32]. 8 pixels x 32
 * channels per 256-thread block; the 27 inputs of a pixel are broadcast to its 32 threads. */
template <typename T>
__global__ void __launch_bounds__(256) stem(const float *__restrict__ in, const float *__restrict__ w,
                                            const float *__restrict__ b, T *__restrict__ out, int npix, int ho,
                                            int pad) {
    __shared__ float ws[32 * 27];
    __shared__ float bs[32];
    for (int i = threadIdx.x; i < 32 * 27; i += blockDim.x) ws[i] = w[i];
    if (threadIdx.x < 32) bs[threadIdx.x] = b[threadIdx.x];
    __syncthreads();
    const int co = threadIdx.x & 31, pix = blockIdx.x * 8 + (threadIdx.x >> 5);
    if (pix >= npix) return;
    const int n = pix / (ho * ho), rem = pix % (ho * ho), oy = rem / ho, ox = rem % ho;
    const float *src = in + (size_t)n * 224 * 224 * 3;
    float acc = bs[co];
    for (int ky = 0; ky < 3; ky++) {
        const int iy = oy * 2 - pad + ky;
        if (iy < 0 || iy >= 224) continue;
        for (int kx = 0; kx < 3; kx++) {
            const int ix = ox * 2 - pad + kx;
            if (ix < 0 || ix >= 224) continue;
            const float *px = src + ((size_t)iy * 224 + ix) * 3;
            const float *wk = ws + co * 27 + (ky * 3 + kx) * 3;
            acc = fmaf(px[0], wk[0], acc);
            acc = fmaf(px[1], wk[1], acc);
            acc = fmaf(px[2], wk[2], acc);
        }
    }
    st(out + (size_t)pix * 32 + co, swishf(acc));
}

/* ------------------------------------------------------------------ 1x1 GEMMs */

#define PCU_BM 64
#define PCU_BN 64
#define PCU_BK 16

/* acc[4][4] += A[m0 + tm .. +4][:] . W[n0 + tn .. +4][:] over all of K, A [M][K] (rows >= M
 * read as 0), W [N][K]. With GATE, A[m][k] is multiplied by gate[m / hw][k] as it is
 * loaded: squeeze-excite costs no pass of its own. 256 threads, each a 4x4 tile. */
template <typename T, typename TW, bool GATE>
__device__ __forceinline__ void gemm_main(const T *__restrict__ A, const TW *__restrict__ W,
                                          const float *__restrict__ gate, int hw, int M, int N, int K, int m0, int n0,
                                          float (*As)[PCU_BM + 4], float (*Ws)[PCU_BN + 4], float acc[4][4]) {
    const int tid = threadIdx.x, tm = (tid / 16) * 4, tn = (tid % 16) * 4;
    for (int k0 = 0; k0 < K; k0 += PCU_BK) {
        for (int i = 0; i < 4; i++) {
            const int idx = tid + i * 256, r = idx / PCU_BK, kk = idx % PCU_BK; /* 16 threads per row: contiguous k */
            const int m = m0 + r, n = n0 + r, k = k0 + kk;
            float a = 0.0f, wv = 0.0f;
            if (m < M && k < K) {
                a = ld(A + (size_t)m * K + k);
                if (GATE) a *= gate[(size_t)(m / hw) * K + k];
            }
            if (n < N && k < K) wv = ld(W + (size_t)n * K + k);
            As[kk][r] = a;
            Ws[kk][r] = wv;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < PCU_BK; kk++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                a[i] = As[kk][tm + i];
                b[i] = Ws[kk][tn + i];
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
}

/* C[M][N] = act(A W^T + bias (+ res)); the projection passes gate and res, the expansion
 * SWISH. grid (ceil(M / 64), ceil(N / 64)). */
template <typename T, typename TW, bool SWISH, bool GATE, bool RES>
__global__ void __launch_bounds__(256) gemm1x1(const T *__restrict__ A, const TW *__restrict__ W,
                                               const float *__restrict__ bias, const float *__restrict__ gate, int hw,
                                               const T *__restrict__ res, T *__restrict__ C, int M, int N, int K) {
    __shared__ float As[PCU_BK][PCU_BM + 4];
    __shared__ float Ws[PCU_BK][PCU_BN + 4];
    const int m0 = blockIdx.x * PCU_BM, n0 = blockIdx.y * PCU_BN;
    float acc[4][4] = {};
    gemm_main<T, TW, GATE>(A, W, gate, hw, M, N, K, m0, n0, As, Ws, acc);
    const int tm = (threadIdx.x / 16) * 4, tn = (threadIdx.x % 16) * 4;
    for (int i = 0; i < 4; i++) {
        const int m = m0 + tm + i;
        if (m >= M) continue;
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tn + j;
            if (n >= N) continue;
            float v = acc[i][j] + bias[n];
            if (RES) v += ld(res + (size_t)m * N + n);
            if (SWISH) v = swishf(v);
            st(C + (size_t)m * N + n, v);
        }
    }
}

/* Precision fast's 1x1 GEMM on the tensor cores (WMMA, fp16 inputs, fp32 accumulation):
 * the same contract as gemm1x1<__half, __half, ...>. 128 threads = 4 warps, each a 32x32
 * quarter of the 64x64 tile as 2x2 16x16x16 fragments. Tiles are staged through shared
 * memory with bounds checks (zeros past M, N, K: K = 24 or 40 is not a multiple of 16), and
 * the accumulators go back through shared memory so the epilogue (bias, residual, swish) is
 * the SIMT one. */
template <bool SWISH, bool GATE, bool RES>
__global__ void __launch_bounds__(128) gemm1x1_tc(const __half *__restrict__ A, const __half *__restrict__ W,
                                                  const float *__restrict__ bias, const float *__restrict__ gate,
                                                  int hw, const __half *__restrict__ res, __half *__restrict__ C, int M,
                                                  int N, int K) {
    using namespace nvcuda;
    constexpr int LDH = PCU_BK + 8;       /* halves per smem row: a multiple of 8, as WMMA needs */
    constexpr int LDC = PCU_BN + 4;       /* floats per smem row of the result tile */
    __shared__ __align__(32) __half As[PCU_BM * LDH];
    __shared__ __align__(32) __half Bs[PCU_BN * LDH];
    __shared__ __align__(32) float Cs[PCU_BM * LDC];
    const int tid = threadIdx.x, warp = tid >> 5;
    const int m0 = blockIdx.x * PCU_BM, n0 = blockIdx.y * PCU_BN;
    const int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    for (int k0 = 0; k0 < K; k0 += PCU_BK) {
        for (int i = 0; i < 8; i++) {
            const int idx = tid + i * 128, r = idx / PCU_BK, kk = idx % PCU_BK;
            const int m = m0 + r, n = n0 + r, k = k0 + kk;
            float a = 0.0f;
            if (m < M && k < K) {
                a = __half2float(A[(size_t)m * K + k]);
                if (GATE) a *= gate[(size_t)(m / hw) * K + k];
            }
            As[r * LDH + kk] = __float2half_rn(a);
            Bs[r * LDH + kk] = (n < N && k < K) ? W[(size_t)n * K + k] : __float2half_rn(0.0f);
        }
        __syncthreads();
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[2];
        /* B(k, n) = W[n][k]: W's rows are B's columns, so B is col-major with stride LDH. */
        for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], As + (wm + 16 * i) * LDH, LDH);
        for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], Bs + (wn + 16 * j) * LDH, LDH);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        __syncthreads();
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(Cs + (wm + 16 * i) * LDC + wn + 16 * j, acc[i][j], LDC, wmma::mem_row_major);
    __syncthreads();
    for (int idx = tid; idx < PCU_BM * PCU_BN; idx += 128) {
        const int r = idx / PCU_BN, c = idx % PCU_BN, m = m0 + r, n = n0 + c;
        if (m >= M || n >= N) continue;
        float v = Cs[r * LDC + c] + bias[n];
        if (RES) v += __half2float(res[(size_t)m * N + n]);
        if (SWISH) v = swishf(v);
        C[(size_t)m * N + n] = __float2half_rn(v);
    }
}

/* The head: per patch, mean over its hw (<= 64) pixels of swish(x W^T + b) -> feat[p][N].
 * One block = one patch x 64 features; the row sums go through shared memory and are added
 * in row-group order (deterministic). grid (ceil(N / 64), patches). */
template <typename T, typename TW>
__global__ void __launch_bounds__(256) head(const T *__restrict__ x, const TW *__restrict__ W,
                                            const float *__restrict__ bias, float *__restrict__ feat, int hw, int N,
                                            int K) {
    __shared__ float As[PCU_BK][PCU_BM + 4];
    __shared__ float Ws[PCU_BK][PCU_BN + 4];
    __shared__ float part[16][PCU_BN];
    const int p = blockIdx.y, n0 = blockIdx.x * PCU_BN;
    float acc[4][4] = {};
    gemm_main<T, TW, false>(x + (size_t)p * hw * K, W, nullptr, hw, hw, N, K, 0, n0, As, Ws, acc);
    const int tm = (threadIdx.x / 16) * 4, tn = (threadIdx.x % 16) * 4;
    for (int j = 0; j < 4; j++) {
        const int n = n0 + tn + j;
        float s = 0.0f;
        if (n < N)
            for (int i = 0; i < 4; i++)
                if (tm + i < hw) s += swishf(acc[i][j] + bias[n]);
        part[threadIdx.x / 16][tn + j] = s;
    }
    __syncthreads();
    if (threadIdx.x < PCU_BN && n0 + threadIdx.x < N) {
        float s = 0.0f;
        for (int g = 0; g < 16; g++) s += part[g][threadIdx.x];
        feat[(size_t)p * N + n0 + threadIdx.x] = s / (float)hw;
    }
}

/* ------------------------------------------------------------------ depthwise + SE */

/* in [n][H][H][C], w [k][k][C], out [n][ho][ho][C] = swish(conv + b), rowsum[n][ho][C] =
 * sum over the row of the fp32 outputs. One thread = one channel of one output row (loads
 * coalesced across channels). grid (ceil(C / 128), ho, n). */
template <typename T>
__global__ void __launch_bounds__(128) dwconv(const T *__restrict__ in, const float *__restrict__ w,
                                              const float *__restrict__ b, T *__restrict__ out,
                                              float *__restrict__ rowsum, int H, int C, int ho, int k, int stride,
                                              int pad) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y, p = blockIdx.z;
    if (c >= C) return;
    const T *src = in + (size_t)p * H * H * C;
    T *dst = out + ((size_t)p * ho + y) * ho * C;
    const float bias = b[c];
    float sum = 0.0f;
    for (int x = 0; x < ho; x++) {
        float acc = bias;
        for (int ky = 0; ky < k; ky++) {
            const int iy = y * stride - pad + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < k; kx++) {
                const int ix = x * stride - pad + kx;
                if (ix < 0 || ix >= H) continue;
                acc = fmaf(ld(src + ((size_t)iy * H + ix) * C + c), __ldg(w + (ky * k + kx) * C + c), acc);
            }
        }
        const float v = swishf(acc);
        st(dst + (size_t)x * C + c, v);
        sum += v;
    }
    rowsum[((size_t)p * ho + y) * C + c] = sum;
}

/* gate[p][C] = sigmoid(We swish(Wr mean + br) + be), mean = sum of rowsum rows / (ho*ho).
 * One block per patch; shared memory holds C + S floats. */
__global__ void __launch_bounds__(256) se_gate(const float *__restrict__ rowsum, int ho, int C, int S,
                                               const float *__restrict__ wr, const float *__restrict__ br,
                                               const float *__restrict__ we, const float *__restrict__ be,
                                               float *__restrict__ gate) {
    extern __shared__ float sm[];
    float *mean = sm, *mid = sm + C;
    const int p = blockIdx.x, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, warps = blockDim.x >> 5;
    const float *rs = rowsum + (size_t)p * ho * C;
    for (int c = tid; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int y = 0; y < ho; y++) s += rs[(size_t)y * C + c];
        mean[c] = s / (float)(ho * ho);
    }
    __syncthreads();
    for (int j = warp; j < S; j += warps) {
        float s = 0.0f;
        for (int c = lane; c < C; c += 32) s = fmaf(wr[(size_t)j * C + c], mean[c], s);
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) mid[j] = swishf(s + br[j]);
    }
    __syncthreads();
    for (int c = tid; c < C; c += blockDim.x) {
        float s = be[c];
        for (int j = 0; j < S; j++) s = fmaf(we[(size_t)c * S + j], mid[j], s);
        gate[(size_t)p * C + c] = sigmoidf(s);
    }
}

/* fp32 -> fp16 copy of the weights for precision fast (round to nearest even). */
__global__ void to_half(const float *__restrict__ in, __half *__restrict__ out, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __float2half_rn(in[i]);
}

} // namespace pcu

#endif /* POLYP_CUDA_KERNELS_CUH */
