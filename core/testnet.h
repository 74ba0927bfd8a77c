/* testnet.h - the seeded test network's PRNG (testnet-spec.md), shared bit for bit with
 * models/testnet.py. Internal: the public entry point is polyp_testnet_build. */
#ifndef POLYP_TESTNET_H
#define POLYP_TESTNET_H

#include "effnet_tensors.h"

#define POLYP_TESTNET_DEFAULT_SEED 20261128u

/* Uniform v in [-1, 1) for element `index` of tensor `name` (exact multiple of 2^-23). */
float polyp_testnet_uniform(uint64_t seed, const char *name, uint64_t index);

/* The value of element `index` of a PRNG-defined tensor (every kind but BN running
 * statistics, which come from the committed file): conv weights v * sqrt(3 / fan_in), SE
 * biases and BN beta v / 4, BN gamma 1 + v / 4, all in float32. */
float polyp_testnet_value(uint64_t seed, const polyp_effnet_tensor *t, uint64_t index);

#endif /* POLYP_TESTNET_H */
