/* kernels.c - instantiates kernels_impl.h once per instruction set and picks one at run time.
 *
 * Why run-time dispatch instead of -march flags: the library must run on any x86-64 (CMake
 * builds without -march), yet the machines it is measured on have AVX2/AVX-512. The AVX
 * bodies are compiled under `#pragma GCC target` (Clang: `#pragma clang attribute`) and only
 * called after __builtin_cpu_supports said yes; everything else in the build stays
 * baseline. The 4-wide set uses plain GCC/Clang vector extensions, which the compiler maps
 * to SSE2, NEON or wasm SIMD128 without any intrinsics here. The choice is made per
 * backend instance and stored in it: no global state. */
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define POLYP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define POLYP_ALWAYS_INLINE
#endif

static inline float polyp_shl23_scalar(float t) {
    uint32_t u;
    memcpy(&u, &t, sizeof u);
    u <<= 23; /* the low bits of t hold n + 127 (see vexpneg) */
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* exp's constants (kernels_impl.h's vexpneg and swish), read through a volatile pointer so
 * the compiler cannot fold them into immediates: see expk_load there for why. Both are
 * const; nothing here is mutable. */
typedef struct polyp_exp_consts {
    float lo, hi, log2e, magic, ln2_hi, ln2_lo, c5, c4, c3, c2, c1, one;
} polyp_exp_consts;
static const polyp_exp_consts polyp_exp_k = {
    -40.0f, 40.0f,                         /* clamps of swish / sigmoid */
    -1.44269504088896341f, 12583039.0f,    /* -1 / ln 2; 1.5 * 2^23 + 127 */
    -0.693359375f, 2.12194440e-4f,         /* ln 2 in two parts (Cody-Waite), negated */
    0x1.0fa834p-7f, 0x1.573a54p-5f, 0x1.555a6ap-3f, 0x1.fffdc6p-2f, 0x1.fffff6p-1f, /* p(r) */
    1.0f};
static const polyp_exp_consts *const volatile polyp_exp_kp = &polyp_exp_k;

/* ------------------------------------------------------------------ scalar */
#define KSUF(name) name##_scalar
#define NV 2
#define VW 1
#define MR 4
#define VF float
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VSET1(x) ((float)(x))
#define VZERO 0.0f
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VSHL23(t) polyp_shl23_scalar(t)
#define VFMS(a, b, c) ((a) * (b) - (c))
#define SFMA(a, b, c) ((a) * (b) + (c))
#include "kernels_impl.h"

#define POLYP_TABLE(suffix, vw, mr, nv)                                                                                \
    {#suffix,       vw,           mr,          (nv) * (vw),   gemm_##suffix, dwconv_##suffix, dwconv_clamp_##suffix, stem_##suffix,          \
     scale_rows_##suffix, mean_rows_##suffix, sigmoid_##suffix, swish_##suffix, dot_##suffix, axpy_##suffix,     \
     gemm_tile_##suffix}

static const polyp_kernels k_scalar = POLYP_TABLE(scalar, 1, 4, 2);

/* ------------------------------------------------------------------ v128 (vector extensions) */
#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__))
#define POLYP_HAVE_V128 1
typedef float v128f __attribute__((vector_size(16)));
typedef float v128f_u __attribute__((vector_size(16), aligned(4), may_alias));
typedef uint32_t v128u __attribute__((vector_size(16)));

static inline v128f v128_set1(float x) { return (v128f){x, x, x, x}; }
/* min / max through one instruction each (wasm's f32x4.min/max propagate NaN and take ~6 x86
 * instructions; pmin/pmax map to minps/maxps). They differ only for NaN and signed zeros,
 * which the kernels never compare, so every target gives the same values. */
#if defined(__wasm_simd128__)
static inline v128f v128_min(v128f a, v128f b) { return __builtin_wasm_pmin_f32x4(b, a); }
static inline v128f v128_max(v128f a, v128f b) { return __builtin_wasm_pmax_f32x4(b, a); }
#elif defined(__SSE2__)
#include <emmintrin.h>
static inline v128f v128_min(v128f a, v128f b) { return (v128f)_mm_min_ps((__m128)a, (__m128)b); }
static inline v128f v128_max(v128f a, v128f b) { return (v128f)_mm_max_ps((__m128)a, (__m128)b); }
#else
static inline v128f v128_min(v128f a, v128f b) {
    v128u m = (v128u)(a < b);
    return (v128f)(((v128u)a & m) | ((v128u)b & ~m));
}
static inline v128f v128_max(v128f a, v128f b) {
    v128u m = (v128u)(a > b);
    return (v128f)(((v128u)a & m) | ((v128u)b & ~m));
}
#endif

/* 6 rows x 2 vectors: 12 accumulators + 2 weights + 1 broadcast fill SSE's 16 registers
 * exactly (no spills, checked in the assembly). V8 keeps one of x86's 16 for itself and
 * needs a temporary for multiply-then-add, so wasm gets 4 rows, as XNNPACK's wasmsimd x86
 * kernels do. The rows per tile do not change any value (each output sums the same terms in
 * the same order), so wasm and native v128 results stay bit-identical. */
#if defined(__wasm__)
#ifndef V128_MR
#define V128_MR 2
#endif
#ifndef V128_NV
#define V128_NV 4
#endif
#else
#define V128_MR 6
#define V128_NV 2
#endif
#define KSUF(name) name##_v128
#define NV V128_NV
#define VW 4
#define MR V128_MR
#define VF v128f
#define VLOAD(p) (*(const v128f_u *)(p))
#define VSTORE(p, v) (*(v128f_u *)(p) = (v))
#define VSET1(x) v128_set1(x)
#define VZERO ((v128f){0.0f, 0.0f, 0.0f, 0.0f})
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMIN(a, b) v128_min(a, b)
#define VMAX(a, b) v128_max(a, b)
#define VSHL23(t) ((v128f)(((v128u)(t)) << 23))
#define VFMS(a, b, c) ((a) * (b) - (c))
#define SFMA(a, b, c) ((a) * (b) + (c))
#include "kernels_impl.h"
static const polyp_kernels k_v128 = POLYP_TABLE(v128, 4, V128_MR, V128_NV);
#endif

#if defined(__wasm__) && !defined(__wasm_simd128__)
#pragma message("polyp: wasm build without -msimd128: only the scalar kernels (several times slower)")
#endif

/* ------------------------------------------------------------------ x86-64: AVX2, AVX-512 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(POLYP_NO_X86_DISPATCH)
#define POLYP_HAVE_X86 1
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define KSUF(name) name##_avx2
#define NV 2
#define VW 8
#define MR 6 /* 12 accumulators + 2 weight vectors + 1 broadcast of 16 ymm registers */
#define VF __m256
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VZERO _mm256_setzero_ps()
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VSHL23(t) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23))
#define VFMS(a, b, c) _mm256_fmsub_ps(a, b, c)
#define SFMA(a, b, c) fmaf(a, b, c)
#include "kernels_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
static const polyp_kernels k_avx2 = POLYP_TABLE(avx2, 8, 6, 2);

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif
#define KSUF(name) name##_avx512
#define NV 2
#define VW 16
#define MR 8 /* 16 accumulators + 2 + 1 of 32 zmm registers */
#define VF __m512
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VSHL23(t) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23))
#define VFMS(a, b, c) _mm512_fmsub_ps(a, b, c)
#define SFMA(a, b, c) fmaf(a, b, c)
#include "kernels_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
static const polyp_kernels k_avx512 = POLYP_TABLE(avx512, 16, 8, 2);
#endif

/* ------------------------------------------------------------------ selection */

const polyp_kernels *polyp_kernels_available(size_t i) {
    const polyp_kernels *list[4];
    size_t n = 0;
    list[n++] = &k_scalar;
#ifdef POLYP_HAVE_V128
    list[n++] = &k_v128;
#endif
#ifdef POLYP_HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        list[n++] = &k_avx2;
        if (__builtin_cpu_supports("avx512f")) list[n++] = &k_avx512;
    }
#endif
    return i < n ? list[i] : NULL;
}

const polyp_kernels *polyp_kernels_best(void) {
    const polyp_kernels *best = &k_scalar, *k;
    for (size_t i = 0; (k = polyp_kernels_available(i)); i++) best = k;
    return best;
}

const polyp_kernels *polyp_kernels_find(const char *name) {
    const polyp_kernels *k;
    for (size_t i = 0; (k = polyp_kernels_available(i)); i++)
        if (!strcmp(k->name, name)) return k;
    return NULL;
}

/* ------------------------------------------------------------------ packing */

size_t polyp_pack_panel_floats(size_t n, size_t k, size_t nr) { return (n + nr - 1) / nr * nr * k; }
size_t polyp_pack_bias_floats(size_t n, size_t nr) { return (n + nr - 1) / nr * nr; }

void polyp_pack_1x1(const float *w, const float *bias, size_t n, size_t k, size_t nr, float *panels,
                    float *bias_out) {
    const size_t tiles = (n + nr - 1) / nr;
    /* Row by row of w, read in order (a tile's panel, k x nr floats, stays in cache while its
     * nr rows are scattered into it): reading down w's columns instead took twice as long. */
    for (size_t t = 0; t < tiles; t++) {
        float *panel = panels + t * k * nr;
        for (size_t j = 0; j < nr; j++) {
            const size_t o = t * nr + j;
            const float *row = o < n ? w + o * k : NULL;
            for (size_t i = 0; i < k; i++) panel[i * nr + j] = row ? row[i] : 0.0f;
        }
    }
    for (size_t o = 0; o < tiles * nr; o++) bias_out[o] = o < n && bias ? bias[o] : 0.0f;
}
