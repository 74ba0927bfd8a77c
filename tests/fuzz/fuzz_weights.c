/* fuzz_weights.c - libFuzzer target for the network weights loader: the safetensors container
 * (core/safetensors.c, its JSON header) and the EfficientNet-B0 checks and batch-norm folding
 * (core/weights.c). Build and run: tests/fuzz/run.sh (README.md, Correctness).
 * Beyond "no crash": a failure says why; every tensor the container accepts lies inside the
 * input (ASan sees its first and last byte read); loaded weights name their variant and hash. */
#include "polyp.h"
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_error err;
    err.message[0] = '\0';
    polyp_st_file st;
    unsigned sum = 0;
    if (polyp_st_parse(data, size, &st, &err) == POLYP_OK) {
        for (size_t i = 0; i < st.count; i++) {
            const polyp_st_tensor *t = &st.tensors[i];
            if (!t->name || !t->dtype_name || t->ndim < 0 || t->ndim > POLYP_ST_MAX_DIMS) abort();
            if (t->nbytes) sum += t->data[0] + t->data[t->nbytes - 1];
            if (polyp_st_find(&st, t->name) == NULL) abort();
        }
        for (size_t i = 0; i < st.meta_count; i++)
            sum += (unsigned)strlen(st.meta_keys[i]) + (unsigned)strlen(st.meta_values[i]);
        polyp_st_free(&st);
    } else if (err.message[0] == '\0') {
        abort();
    }

    polyp_weights *w = NULL;
    err.message[0] = '\0';
    if (polyp_weights_load(data, size, &w, &err) != POLYP_OK) {
        if (err.message[0] == '\0' || w) abort();
        return (int)(sum & 0);
    }
    const char *variant = polyp_weights_variant(w), *sha = polyp_weights_sha256(w);
    if (!variant || !sha || strlen(sha) != 64) abort();
    polyp_weights_free(w);
    return (int)(sum & 0);
}
