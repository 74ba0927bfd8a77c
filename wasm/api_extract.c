/* api_extract.c - weights, test network and feature extraction for the JS side (api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

struct polyp_wasm_extractor {
    polyp_extractor *extractor;
    int n_threads;
};

static void set_err(polyp_error *err, polyp_status status, const char *message) {
    if (!err) return;
    err->status = status;
    snprintf(err->message, sizeof err->message, "%s", message);
}

polyp_weights *polyp_wasm_weights_load(const void *data, size_t size, polyp_error *err) {
    polyp_weights *w = NULL;
    if (polyp_weights_load(data, size, &w, err) != POLYP_OK) return NULL;
    return w;
}

void polyp_wasm_weights_free(polyp_weights *weights) { polyp_weights_free(weights); }

const char *polyp_wasm_weights_sha256(const polyp_weights *weights) {
    return polyp_weights_sha256(weights);
}

const char *polyp_wasm_weights_variant(const polyp_weights *weights) {
    return polyp_weights_variant(weights);
}

const char *polyp_wasm_weights_kind(const polyp_weights *weights) { return polyp_weights_kind(weights); }

size_t polyp_wasm_weights_feature_dim(const polyp_weights *weights) { return polyp_weights_feature_dim(weights); }

const char *polyp_wasm_weights_extractor_id(const polyp_weights *weights) {
    return polyp_weights_extractor_id(weights);
}

void *polyp_wasm_testnet_build(uint32_t seed_lo, uint32_t seed_hi, const void *bn_stats,
                               size_t bn_stats_size, size_t *out_size, polyp_error *err) {
    void *out = NULL;
    uint64_t seed = ((uint64_t)seed_hi << 32) | seed_lo;
    if (polyp_testnet_build(seed, bn_stats, bn_stats_size, &out, out_size, err) != POLYP_OK)
        return NULL;
    return out;
}

polyp_wasm_extractor *polyp_wasm_extractor_init(const polyp_weights *weights,
                                                const polyp_wasm_pool *pool, size_t batch_size,
                                                polyp_error *err) {
    polyp_wasm_extractor *x = calloc(1, sizeof *x);
    if (!x) {
        set_err(err, POLYP_ERR_NOMEM, "extractor: out of memory");
        return NULL;
    }
    polyp_extractor_params params = polyp_extractor_default_params();
    params.backend = POLYP_BACKEND_PORTABLE;  /* the only backend a wasm build has */
    if (batch_size) params.batch_size = batch_size;
    params.parallel = polyp_wasm_parallel(pool);
    x->n_threads = polyp_wasm_pool_threads(pool);
    if (polyp_extractor_init(weights, &params, &x->extractor, err) != POLYP_OK) {
        polyp_wasm_extractor_free(x);
        return NULL;
    }
    return x;
}

void polyp_wasm_extractor_free(polyp_wasm_extractor *x) {
    if (!x) return;
    polyp_extractor_free(x->extractor);
    free(x);
}

const char *polyp_wasm_extractor_backend(const polyp_wasm_extractor *x) {
    return polyp_extractor_backend_name(x->extractor);
}

int polyp_wasm_extractor_threads(const polyp_wasm_extractor *x) { return x->n_threads; }

int polyp_wasm_extract_points(polyp_wasm_extractor *x, const polyp_image *image,
                              const uint32_t *rowcol, size_t n, float *features, polyp_error *err) {
    /* rowcol pairs have polyp_point's layout, but copy rather than rely on struct layout. */
    polyp_point *points = malloc((n ? n : 1) * sizeof *points);
    if (!points) {
        set_err(err, POLYP_ERR_NOMEM, "extract: out of memory for the point list");
        return POLYP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        points[i].row = rowcol[2 * i];
        points[i].col = rowcol[2 * i + 1];
    }
    polyp_status st = polyp_extract_points(x->extractor, image, points, n, features, err);
    free(points);
    return (int)st;
}
