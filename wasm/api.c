/* api.c - memory, errors and build facts for the JS side (see api.h). */
#include "api.h"

#include <stdlib.h>

void *polyp_wasm_malloc(size_t size) { return malloc(size ? size : 1); }

void polyp_wasm_free(void *ptr) { free(ptr); }

polyp_error *polyp_wasm_error_new(void) { return calloc(1, sizeof(polyp_error)); }

int polyp_wasm_error_status(const polyp_error *err) { return err ? (int)err->status : 0; }

const char *polyp_wasm_error_message(const polyp_error *err) {
    /* A status without a message still says something readable. */
    if (!err) return "";
    return err->message[0] ? err->message : polyp_status_string(err->status);
}

const char *polyp_wasm_version(void) { return POLYP_VERSION_STRING; }

int polyp_wasm_threads_compiled(void) {
#ifdef __EMSCRIPTEN_PTHREADS__
    return 1;
#else
    return 0;
#endif
}
