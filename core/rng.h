/* rng.h - the core's one PRNG (splitmix64), shared by the seeded test network, the
 * classifier's weight init and shuffles, and point generation. Its numbers are part of the
 * project's reproducibility promise: models/testnet.py and the fixtures' numpy scripts
 * replay them bit for bit, so never change a constant. Internal, not public API. */
#ifndef POLYP_RNG_H
#define POLYP_RNG_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64's increment (2^64 / golden ratio). */
#define POLYP_RNG_GAMMA 0x9E3779B97F4A7C15ull

/* Counter-free splitmix64 stream; mix64 is testnet-spec's finaliser, so numpy can replay
 * the same numbers (tests/fixtures/make_classifier_fixtures.py does). */
static inline uint64_t polyp_mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}
typedef struct polyp_rng {
    uint64_t state;
} polyp_rng;
static inline polyp_rng polyp_rng_seed(uint64_t seed, uint64_t stream) {
    polyp_rng r = {polyp_mix64(seed ^ polyp_mix64(stream + POLYP_RNG_GAMMA))};
    return r;
}
static inline uint64_t polyp_rng_next(polyp_rng *r) {
    r->state += POLYP_RNG_GAMMA;
    return polyp_mix64(r->state);
}
/* Uniform double in [0, 1) with 53 random bits. */
static inline double polyp_rng_uniform(polyp_rng *r) {
    return (double)(polyp_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
/* Uniform integer in [0, n) without modulo bias (n > 0). */
static inline uint64_t polyp_rng_below(polyp_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = polyp_rng_next(r); while (x >= limit);
    return x % n;
}
/* Fisher-Yates shuffle of idx[0..n). */
static inline void polyp_rng_shuffle(polyp_rng *r, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)polyp_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

#endif /* POLYP_RNG_H */
