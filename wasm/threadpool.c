/* threadpool.c - see threadpool.h.
 *
 * Jobs are handed out by generation number: run() publishes (fn, arg, n), bumps the
 * generation and wakes the workers; everyone, the caller included, takes indices from an
 * atomic counter until they run out; run() returns when every worker has reported back.
 * Blocking waits are fine here: the module only ever runs in a dedicated worker (or node),
 * never on a page's main thread. */
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

struct polyp_wasm_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* generation changed or stop */
    pthread_cond_t done_cv;   /* active reached 0 */
    pthread_t *threads;       /* n_workers */
    int n_workers;
    int stop;
    uint64_t generation;
    int active;               /* workers still inside the current job */
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    atomic_size_t next;       /* next index to hand out */
    polyp_parallel parallel;  /* {this pool, n_workers + 1, pool_run}: what callers borrow */
};

static void drain(polyp_wasm_pool *pool) {
    for (;;) {
        size_t i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->n) break;
        pool->fn(pool->arg, i);
    }
}

static void *worker_main(void *p) {
    polyp_wasm_pool *pool = p;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->work_cv, &pool->mu);
        if (pool->stop) break;
        seen = pool->generation;
        pthread_mutex_unlock(&pool->mu);
        drain(pool);
        pthread_mutex_lock(&pool->mu);
        if (--pool->active == 0) pthread_cond_signal(&pool->done_cv);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

static void pool_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n) {
    polyp_wasm_pool *pool = ctx;
    if (pool->n_workers == 0 || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(arg, i);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    atomic_store(&pool->next, 0);
    pool->active = pool->n_workers;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    drain(pool);
    pthread_mutex_lock(&pool->mu);
    while (pool->active > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

polyp_wasm_pool *polyp_wasm_pool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    polyp_wasm_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    atomic_init(&pool->next, 0);
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    if (!pool->threads) {
        polyp_wasm_pool_free(pool);
        return NULL;
    }
    for (int t = 0; t < n_threads - 1; t++) {
        if (pthread_create(&pool->threads[t], NULL, worker_main, pool) != 0) {
            polyp_wasm_pool_free(pool);
            return NULL;
        }
        pool->n_workers++;
    }
    pool->parallel = (polyp_parallel){pool, pool->n_workers + 1, pool_run};
    return pool;
}

void polyp_wasm_pool_free(polyp_wasm_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 0; t < pool->n_workers; t++) pthread_join(pool->threads[t], NULL);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool);
}

const polyp_parallel *polyp_wasm_pool_parallel(const polyp_wasm_pool *pool) {
    return &pool->parallel;
}
