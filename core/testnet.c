/* testnet.c - builds the seeded, untrained EfficientNet-B0 used by tests and the sample run
 * (testnet-spec.md). Weights come from a counter-based PRNG that models/testnet.py computes
 * bit for bit; batch-norm running statistics come from the committed
 * models/testnet-bnstats.safetensors (measured once in PyTorch over real patches) so the
 * activations stay O(1) instead of vanishing. */
#include "testnet.h"

#include "rng.h"
#include "safetensors.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a64(const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

static float uniform_from_base(uint64_t base, uint64_t index) {
    uint64_t r = polyp_mix64(base + (index + 1) * POLYP_RNG_GAMMA); /* a counter-based stream */
    return (float)((int32_t)(r >> 40) - 8388608) * (1.0f / 8388608.0f);
}

float polyp_testnet_uniform(uint64_t seed, const char *name, uint64_t index) {
    return uniform_from_base(seed + fnv1a64(name), index);
}

/* Per-tensor scale and offset: value = offset + v * scale, float32 (offset 0 or 1). */
static void kind_affine(const polyp_effnet_tensor *t, float *scale, float *offset) {
    *offset = 0.0f;
    switch (t->kind) {
    case POLYP_TENSOR_CONV_WEIGHT:
        *scale = (float)sqrt(3.0 / (double)(t->shape[1] * t->shape[2] * t->shape[3]));
        break;
    case POLYP_TENSOR_BN_WEIGHT:
        *offset = 1.0f;
        /* fall through */
    default:
        *scale = 0.25f;
        break;
    }
}

float polyp_testnet_value(uint64_t seed, const polyp_effnet_tensor *t, uint64_t index) {
    float scale, offset;
    kind_affine(t, &scale, &offset);
    float prod = polyp_testnet_uniform(seed, t->name, index) * scale; /* rounded to float32 */
    return offset + prod;
}

static size_t numel(const polyp_effnet_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

static bool is_stat(const polyp_effnet_tensor *t) {
    return t->kind == POLYP_TENSOR_BN_MEAN || t->kind == POLYP_TENSOR_BN_VAR;
}

/* Checks the statistics file: format, seed, and every running_mean/var present as F32 of the
 * right shape. */
static polyp_status check_stats(const polyp_st_file *bn, uint64_t seed, const polyp_effnet_tensor *list, size_t n,
                                polyp_error *err) {
    const char *format = polyp_st_meta(bn, "format");
    if (!format || strcmp(format, "polyp-testnet-bnstats") != 0)
        return polyp_fail(err, POLYP_ERR_FORMAT, "testnet: bn stats: metadata format is \"%s\", expected \"polyp-testnet-bnstats\"",
                          format ? format : "(absent)");
    char want[24];
    snprintf(want, sizeof want, "%" PRIu64, seed);
    const char *got = polyp_st_meta(bn, "seed");
    if (!got || strcmp(got, want) != 0)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "testnet: bn stats were measured for seed %s, not %s (only the committed seed's statistics exist; "
                          "regenerate them with models/testnet.py for another seed)", got ? got : "(absent)", want);
    for (size_t i = 0; i < n; i++) {
        if (!is_stat(&list[i])) continue;
        const polyp_st_tensor *t = polyp_st_find(bn, list[i].name);
        if (!t) return polyp_fail(err, POLYP_ERR_FORMAT, "testnet: bn stats: tensor %s is missing", list[i].name);
        if (t->dtype != POLYP_ST_F32 || t->ndim != 1 || t->shape[0] != list[i].shape[0])
            return polyp_fail(err, POLYP_ERR_FORMAT, "testnet: bn stats: tensor %s is not F32 [%llu]", list[i].name,
                              (unsigned long long)list[i].shape[0]);
    }
    return POLYP_OK;
}

polyp_status polyp_testnet_build(uint64_t seed, const void *bn_stats, size_t bn_stats_size, void **out,
                                 size_t *out_size, polyp_error *err) {
    if (!out || !out_size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "testnet: out is NULL");
    *out = NULL;
    *out_size = 0;
    if (!bn_stats) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "testnet: bn_stats is NULL");
    polyp_st_file bn;
    polyp_status st = polyp_st_parse(bn_stats, bn_stats_size, &bn, err);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "testnet: bn stats: ");
    polyp_effnet_tensor *list = polyp_malloc(POLYP_EFFNET_TENSORS * sizeof *list);
    float *values = NULL;
    polyp_st_writer *w = polyp_st_writer_init();
    if (!list || !w) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "testnet: out of memory");
        goto done;
    }
    size_t n = polyp_effnet_tensors(list), total = 0;
    if ((st = check_stats(&bn, seed, list, n, err)) != POLYP_OK) goto done;
    for (size_t i = 0; i < n; i++)
        if (!is_stat(&list[i])) total += numel(&list[i]);
    values = polyp_malloc(total * sizeof *values); /* ~5.3 M floats */
    if (!values) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "testnet: out of memory (%zu floats)", total);
        goto done;
    }
    float *v = values;
    for (size_t i = 0; i < n && st == POLYP_OK; i++) {
        const polyp_effnet_tensor *t = &list[i];
        const void *data;
        if (is_stat(t)) {
            data = polyp_st_find(&bn, t->name)->data; /* little-endian F32 bytes, as written */
        } else {
            float scale, offset;
            kind_affine(t, &scale, &offset);
            uint64_t base = seed + fnv1a64(t->name);
            size_t m = numel(t);
            for (size_t j = 0; j < m; j++) {
                float prod = uniform_from_base(base, j) * scale;
                v[j] = offset + prod;
            }
            data = v;
            v += m;
        }
        st = polyp_st_writer_add(w, t->name, POLYP_ST_F32, t->ndim, t->shape, data, err);
    }
    char seed_str[24];
    snprintf(seed_str, sizeof seed_str, "%" PRIu64, seed);
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "format", "polyp-efficientnet-b0", err);
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "variant", "lukemelas", err);
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "seed", seed_str, err);
    if (st == POLYP_OK) st = polyp_st_writer_finish(w, out, out_size, err);
done:
    polyp_st_writer_free(w);
    free(values);
    free(list);
    polyp_st_free(&bn);
    return st;
}
