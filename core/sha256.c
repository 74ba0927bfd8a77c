/* sha256.c - SHA-256 (FIPS 180-4). Weights files are hashed once at load: 21 MB for
 * EfficientNet-B0, 60 ms with the portable rounds, serial time at the start of every
 * `polyp extract` (6% of a four-photo run on two cores). x86-64 CPUs with the SHA
 * extensions run the rounds in hardware (SHA256RNDS2 / MSG1 / MSG2, about 5x faster), chosen
 * at run time by CPUID; every other target uses the portable rounds. Both give the same
 * digest (tests/unit/test_sha256.c: FIPS vectors on both, and one against the other). */
#include "sha256.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#if POLYP_SHA256_HW
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) { return x >> n | x << (32 - n); }

static void compress_one(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void compress_portable(uint32_t h[8], const uint8_t *p, size_t nblocks) {
    for (; nblocks; nblocks--, p += 64) compress_one(h, p);
}

#if POLYP_SHA256_HW
/* The SHA extensions keep the state as two vectors, ABEF and CDGH (A in the top lane), and
 * SHA256RNDS2(CDGH, ABEF, WK) does two rounds with the low two lanes of WK, returning the new
 * ABEF; the old ABEF is then the new CDGH, so the two state registers swap roles every two
 * rounds. MSG1 and MSG2 compute the message schedule four words at a time:
 * W[t..t+3] = MSG2(MSG1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..t-1]). */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_shani(uint32_t h[8], const uint8_t *p,
                                                                        size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* b a d c */
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* h g f e */
    __m128i abef = _mm_alignr_epi8(abcd, efgh, 8);                                     /* f e b a */
    __m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);                                  /* h g d c */
    for (; nblocks; nblocks--, p += 64) {
        __m128i save_abef = abef, save_cdgh = cdgh, m[4];
        for (int i = 0; i < 4; i++) m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
        for (int r = 0; r < 16; r++) { /* rounds 4r .. 4r+3 */
            if (r >= 4) {
                __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(m[r & 3], m[(r + 1) & 3]),
                                          _mm_alignr_epi8(m[(r + 3) & 3], m[(r + 2) & 3], 4));
                m[r & 3] = _mm_sha256msg2_epu32(t, m[(r + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(m[r & 3], _mm_loadu_si128((const __m128i *)&K[4 * r]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                        /* now ABEF */
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E)); /* ABEF again */
        }
        abef = _mm_add_epi32(abef, save_abef);
        cdgh = _mm_add_epi32(cdgh, save_cdgh);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B); /* a b e f */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1); /* g h c d */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0)); /* a b c d */
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));    /* e f g h */
}

static bool cpu_has_sha_ni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) return false; /* SSE4.1, SSSE3 */
    if (__get_cpuid_max(0, NULL) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1u; /* SHA */
}
#endif

typedef void (*compress_fn)(uint32_t h[8], const uint8_t *p, size_t nblocks);

/* NULL = not chosen yet (CPUID can trap to a hypervisor: asked once, not per block). Threads
 * that race here store the same value. */
static _Atomic(compress_fn) chosen;

static compress_fn pick(void) {
#if POLYP_SHA256_HW
    if (cpu_has_sha_ni()) return compress_shani;
#endif
    return compress_portable;
}

static void compress(uint32_t h[8], const uint8_t *p, size_t nblocks) {
    compress_fn f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (!f) {
        f = pick();
        atomic_store_explicit(&chosen, f, memory_order_relaxed);
    }
    f(h, p, nblocks);
}

bool polyp_sha256_use_hardware(bool on) {
    compress_fn hw = pick();
    atomic_store(&chosen, on ? hw : compress_portable);
    return hw != compress_portable;
}

void polyp_sha256_init(polyp_sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->total = 0;
    s->fill = 0;
}

void polyp_sha256_update(polyp_sha256 *s, const void *data, size_t size) {
    const uint8_t *p = data;
    s->total += size;
    if (s->fill) {
        size_t take = 64 - s->fill < size ? 64 - s->fill : size;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        size -= take;
        if (s->fill < 64) return;
        compress(s->h, s->block, 1);
        s->fill = 0;
    }
    size_t nblocks = size / 64;
    if (nblocks) compress(s->h, p, nblocks);
    p += 64 * nblocks;
    size -= 64 * nblocks;
    if (size) memcpy(s->block, p, size);
    s->fill = size;
}

void polyp_sha256_final(polyp_sha256 *s, uint8_t digest[32]) {
    uint64_t bits = s->total * 8;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        compress(s->h, s->block, 1);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    for (int i = 0; i < 8; i++) s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(s->h, s->block, 1);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(s->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void polyp_sha256_hex(const void *data, size_t size, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    polyp_sha256 s;
    uint8_t d[32];
    polyp_sha256_init(&s);
    polyp_sha256_update(&s, data, size);
    polyp_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}
