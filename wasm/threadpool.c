/* threadpool.c - see threadpool.h.
 *
 * Jobs are handed out by generation number: run() publishes (fn, arg, n), bumps the
 * generation and wakes the workers; everyone, the caller included, takes indices from an
 * atomic counter until they run out; run() returns when every worker has reported back.
 * Blocking waits are fine here: the module only ever runs in a dedicated worker (or node),
 * never on a page's main thread.
 *
 * Why spin before blocking: a single patch runs layer by layer, ~66 jobs of ~0.1-1 ms each
 * back to back, and waking a wasm thread from a futex wait (Atomics.wait/notify) costs tens
 * of microseconds on both sides. So a worker polls the generation for a short while before
 * it sleeps on the condition variable, and the caller polls `active` before it sleeps; an
 * idle pool still sleeps (the spin is bounded), so nothing burns CPU between calls. */
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Polls before blocking: about 50-100 us of atomic loads on a current x86 core. */
#define POLYP_POOL_SPIN 20000

struct polyp_wasm_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* generation changed or stop */
    pthread_cond_t done_cv;   /* active reached 0 */
    pthread_t *threads;       /* n_workers */
    int n_workers;
    atomic_int stop;
    _Atomic uint64_t generation;
    atomic_int active;        /* workers still inside the current job */
    atomic_int started;       /* workers that have entered worker_main */
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
    atomic_fetch_add(&pool->started, 1);
    for (;;) {
        for (int s = 0; s < POLYP_POOL_SPIN && atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop); s++) {
        }
        pthread_mutex_lock(&pool->mu);
        while (!atomic_load(&pool->stop) && atomic_load(&pool->generation) == seen)
            pthread_cond_wait(&pool->work_cv, &pool->mu);
        if (atomic_load(&pool->stop)) {
            pthread_mutex_unlock(&pool->mu);
            break;
        }
        seen = atomic_load(&pool->generation);
        pthread_mutex_unlock(&pool->mu);   /* fn, arg, n were published under the mutex */
        drain(pool);
        if (atomic_fetch_sub(&pool->active, 1) == 1) {
            pthread_mutex_lock(&pool->mu);  /* the caller checks `active` under it: no lost wakeup */
            pthread_cond_signal(&pool->done_cv);
            pthread_mutex_unlock(&pool->mu);
        }
    }
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
    atomic_store(&pool->active, pool->n_workers);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    drain(pool);
    for (int s = 0; s < POLYP_POOL_SPIN && atomic_load(&pool->active) > 0; s++) {
    }
    pthread_mutex_lock(&pool->mu);
    while (atomic_load(&pool->active) > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
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
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->active, 0);
    atomic_init(&pool->started, 0);
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
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 0; t < pool->n_workers; t++) pthread_join(pool->threads[t], NULL);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool);
}

int polyp_wasm_pool_started(const polyp_wasm_pool *pool) {
    return atomic_load(&((polyp_wasm_pool *)pool)->started);
}

const polyp_parallel *polyp_wasm_pool_parallel(const polyp_wasm_pool *pool) {
    return &pool->parallel;
}
