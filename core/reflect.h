/* reflect.h - numpy 'reflect' padding as an index map, shared by the CPU crop (crop.c) and
 * the CUDA backend's device crop (native/cuda/cuda_kernels.cuh), so both take the very same
 * source pixels. Plain C, also valid CUDA C++ (compiled for host and device there). */
#ifndef POLYP_REFLECT_H
#define POLYP_REFLECT_H

#include <stdint.h>

#ifdef __CUDACC__
#define POLYP_HOST_DEVICE __host__ __device__
#else
#define POLYP_HOST_DEVICE
#endif

/* Source index in [0, n) for a (possibly negative or >= n) coordinate x, numpy 'reflect'.
 * |x| stays below 2^32 + 224, so int64 arithmetic never overflows. */
static inline POLYP_HOST_DEVICE uint32_t polyp_reflect_index(int64_t x, uint32_t n) {
    if (n == 1) return 0;
    int64_t period = 2 * ((int64_t)n - 1);
    int64_t m = x % period;
    if (m < 0) m += period;
    if (m >= (int64_t)n) m = period - m;
    return (uint32_t)m;
}

#endif /* POLYP_REFLECT_H */
