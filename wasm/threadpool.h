/* threadpool.h - a persistent pthread pool behind polyp_parallel, for the threaded wasm
 * artifact only (native builds use native/lib/threadpool). The calling thread takes part
 * in every job, so a pool of n threads starts n - 1 pthreads. */
#ifndef POLYP_WASM_THREADPOOL_H
#define POLYP_WASM_THREADPOOL_H

#include "polyp.h"

typedef struct polyp_wasm_pool polyp_wasm_pool;

/* NULL when a thread cannot be started. Owned: polyp_wasm_pool_free. */
polyp_wasm_pool *polyp_wasm_pool_create(int n_threads);
void polyp_wasm_pool_free(polyp_wasm_pool *pool);
/* Workers (pthreads) that have started running. A pthread created from a worker starts
 * only once that worker's event loop has had a turn, so this can lag pthread_create. */
int polyp_wasm_pool_started(const polyp_wasm_pool *pool);
/* The polyp_parallel that runs on the pool; owned by the pool (valid until _free). */
const polyp_parallel *polyp_wasm_pool_parallel(const polyp_wasm_pool *pool);

#endif
