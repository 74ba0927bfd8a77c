/* fuzz_tflite.c - libFuzzer target for the TFLite reader and network builder (core/tflite.c,
 * core/tflite_net.c) through polyp_weights_load. Built only with clang and -DPOLYP_FUZZ=ON:
 *   CC=clang cmake -S . -B build-fuzz -DPOLYP_FUZZ=ON && cmake --build build-fuzz --target fuzz_tflite
 *   build-fuzz/tests/fuzz/fuzz_tflite -max_len=4096 tests/fuzz/seeds/tflite
 * The seed is test_tflite's hand-written model (a 1x1 conv and a global pool). Inputs without
 * "TFL3" at byte 4 are given it, so mutations stay on the TFLite path. Any crash, sanitizer
 * report, leak or abort is a bug: every input must be answered with a status. */
#include "polyp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8 || size > (1u << 20)) return 0;
    uint8_t *copy = malloc(size); /* exact size: ASan sees any read past the end */
    if (!copy) return 0;
    memcpy(copy, data, size);
    memcpy(copy + 4, "TFL3", 4);
    polyp_weights *w = NULL;
    polyp_error err;
    err.message[0] = '\0';
    polyp_status st = polyp_weights_load(copy, size, &w, &err);
    if (st != POLYP_OK) {
        if (err.message[0] == '\0' || w) abort(); /* every failure says why and returns nothing */
    } else {
        if (!w || polyp_weights_feature_dim(w) == 0) abort();
        polyp_weights_free(w);
    }
    free(copy);
    return 0;
}
