/* api.c - memory, errors and build facts for the JS side (see api.h). */
#include "api.h"

#include <stdlib.h>

void *polyp_wasm_malloc(size_t size) { return malloc(size ? size : 1); }

void polyp_wasm_free(void *ptr) { free(ptr); }

polyp_error *polyp_wasm_error_new(void) { return calloc(1, sizeof(polyp_error)); }

const char *polyp_wasm_error_message(const polyp_error *err) {
    /* A status without a message still says something readable. */
    if (!err) return "";
    return err->message[0] ? err->message : polyp_status_string(err->status);
}

const char *polyp_wasm_version(void) { return POLYP_VERSION_STRING; }

polyp_wasm_pool *polyp_wasm_pool_new(int n_threads, polyp_error *err) {
#ifdef __EMSCRIPTEN_PTHREADS__
    if (n_threads <= 1) return NULL;
    polyp_threadpool *pool = NULL;
    polyp_threadpool_init(n_threads, &pool, err); /* the native library's pool (polyp.h) */
    return pool;
#else
    (void)n_threads;
    (void)err;
    return NULL;
#endif
}

void polyp_wasm_pool_delete(polyp_wasm_pool *pool) {
#ifdef __EMSCRIPTEN_PTHREADS__
    polyp_threadpool_free(pool);
#else
    (void)pool;
#endif
}

int polyp_wasm_pool_threads(const polyp_wasm_pool *pool) {
    const polyp_parallel *par = polyp_wasm_parallel(pool);
    return par ? par->n_threads : 1;
}

int polyp_wasm_pool_running(const polyp_wasm_pool *pool) {
#ifdef __EMSCRIPTEN_PTHREADS__
    return polyp_threadpool_running(pool);
#else
    (void)pool;
    return 1;
#endif
}

const polyp_parallel *polyp_wasm_parallel(const polyp_wasm_pool *pool) {
#ifdef __EMSCRIPTEN_PTHREADS__
    return polyp_threadpool_parallel(pool);
#else
    (void)pool;
    return NULL;
#endif
}
