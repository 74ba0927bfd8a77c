/* fuzz_checkpoint.c - libFuzzer target for PyTorch checkpoints: the restricted unpickler on
 * the raw bytes, and the whole weights loader (format detection, zip reader, legacy stream,
 * state_dict checks, safetensors). Built only with clang and -DPOLYP_FUZZ=ON:
 *   CC=clang cmake -S . -B build-fuzz -DPOLYP_FUZZ=ON && cmake --build build-fuzz --target fuzz_checkpoint
 *   build-fuzz/tests/fuzz/fuzz_checkpoint -max_len=65536 tests/fixtures/checkpoints
 * Every input must get a status with a message; no crash, sanitizer report, leak or abort. */
#include "pickle.h"
#include "polyp.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_error err;
    polyp_pickle pk;
    size_t used;
    err.message[0] = '\0';
    if (polyp_pickle_parse(data, size, &used, &pk, &err) == POLYP_OK) {
        if (!pk.root || used > size) abort();
        polyp_pickle_free(&pk);
    } else if (err.message[0] == '\0' || pk.root) {
        abort();
    }
    polyp_weights *w = NULL;
    err.message[0] = '\0';
    if (polyp_weights_load(data, size, &w, &err) == POLYP_OK) {
        if (!w || polyp_weights_feature_dim(w) == 0) abort();
        polyp_weights_free(w);
    } else if (err.message[0] == '\0' || w) {
        abort();
    }
    return 0;
}
