/* fuzz_csv.c - libFuzzer target for the CoralNet annotation CSV parser (core/annotations.c over
 * core/csv.c). Build and run: tests/fuzz/run.sh (README.md, Correctness).
 * Beyond "no crash": a failure says why and leaves the output empty; every parsed row has a
 * NUL-terminated name and label (or no label) that ASan sees read in full. */
#include "polyp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_annotations a;
    polyp_error err;
    err.message[0] = '\0';
    if (polyp_annotations_parse_csv(data, size, &a, &err) != POLYP_OK) {
        if (err.message[0] == '\0') abort(); /* every failure must say why */
        if (a.count || a.items) abort();
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < a.count; i++) {
        const polyp_annotation *it = &a.items[i];
        if (!it->name) abort();
        total += strlen(it->name) + it->row + it->col;
        if (it->label) total += strlen(it->label);
    }
    polyp_annotations_free(&a);
    return (int)(total & 0);
}
