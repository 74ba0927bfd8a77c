/* threadpool.c - polyp_threadpool (declared in polyp.h): the one pool of the native library
 * and the threaded wasm module. Kept out of core/, which makes no OS calls.
 *
 * Jobs are handed out by generation number: a run publishes (fn, arg, n) under the mutex,
 * bumps the generation and wakes the workers; everyone, the caller included, claims indices
 * from an atomic counter until they run out; the run returns when every worker has reported
 * back. Blocking waits are fine: in wasm the module only ever runs in a dedicated worker (or
 * node), never on a page's main thread.
 *
 * Why spin before blocking: a single patch runs layer by layer, ~66 jobs of ~0.1-1 ms each
 * back to back, and waking a thread from a futex wait costs tens of microseconds on both
 * sides (more in wasm, where it is Atomics.wait/notify). So a worker polls the generation
 * for a short while before it sleeps on the condition variable, and the caller polls
 * `active` before it sleeps; the spin is bounded, so an idle pool burns no CPU. Measured in
 * wasm (commit 32cfa9d): 2 threads went from the 1-thread rate to 1.99x with it. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Polls before blocking: about 50-100 us of atomic loads on a current x86 core. */
#define POOL_SPIN 20000

struct polyp_threadpool {
    pthread_mutex_t run_lock;    /* held for the whole of one run: a second run goes serial */
    pthread_mutex_t mu;          /* publishes the job; guards the waits */
    pthread_cond_t work_cv;      /* generation changed or stop */
    pthread_cond_t done_cv;      /* active reached 0 */
    pthread_t *threads;          /* n_workers */
    int n_workers;
    atomic_int stop;
    _Atomic uint64_t generation; /* bumped for each job so workers see each job exactly once */
    atomic_int active;           /* workers still inside the current job */
    atomic_int started;          /* workers that have entered worker_main */
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    atomic_size_t next;          /* next unclaimed index; may run past n */
    polyp_parallel parallel;     /* {this pool, n_workers + 1, pool_run}: what callers borrow */
};

static void claim_all(polyp_threadpool *p, void (*fn)(void *, size_t), void *arg, size_t n) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= n) break;
        fn(arg, i);
    }
}

static void *worker_main(void *vp) {
    polyp_threadpool *p = vp;
    uint64_t seen = 0;
    atomic_fetch_add(&p->started, 1);
    for (;;) {
        for (int s = 0; s < POOL_SPIN && atomic_load(&p->generation) == seen && !atomic_load(&p->stop); s++) {
        }
        pthread_mutex_lock(&p->mu);
        while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen) pthread_cond_wait(&p->work_cv, &p->mu);
        if (atomic_load(&p->stop)) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = atomic_load(&p->generation);
        void (*fn)(void *, size_t) = p->fn; /* published under the mutex */
        void *arg = p->arg;
        size_t n = p->n;
        pthread_mutex_unlock(&p->mu);
        claim_all(p, fn, arg, n);
        if (atomic_fetch_sub(&p->active, 1) == 1) {
            pthread_mutex_lock(&p->mu); /* the caller checks `active` under it: no lost wakeup */
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* The polyp_parallel `run`: ctx is the pool. */
static void pool_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n) {
    polyp_threadpool *p = ctx;
    if (n == 0) return;
    if (!p || p->n_workers == 0 || n == 1 || pthread_mutex_trylock(&p->run_lock) != 0) {
        for (size_t i = 0; i < n; i++) fn(arg, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store(&p->active, p->n_workers);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);

    claim_all(p, fn, arg, n);

    for (int s = 0; s < POOL_SPIN && atomic_load(&p->active) > 0; s++) {
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->active) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->run_lock);
}

polyp_status polyp_threadpool_init(int n_threads, polyp_threadpool **out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "threadpool: NULL output");
    *out = NULL;
    if (n_threads < 1 || n_threads > POLYP_THREADPOOL_MAX_THREADS)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "threadpool: %d threads requested (1 to %d)", n_threads,
                          POLYP_THREADPOOL_MAX_THREADS);
    polyp_threadpool *p = calloc(1, sizeof *p);
    if (!p) return polyp_fail(err, POLYP_ERR_NOMEM, "threadpool: out of memory");
    atomic_init(&p->stop, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->active, 0);
    atomic_init(&p->started, 0);
    atomic_init(&p->next, 0);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return polyp_fail(err, POLYP_ERR_NOMEM, "threadpool: out of memory");
    }
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            polyp_threadpool_free(p); /* joins the n_workers that started */
            return polyp_fail(err, POLYP_ERR_BACKEND, "threadpool: could not start thread %d of %d", i + 2,
                              n_threads);
        }
        p->n_workers++;
    }
    p->parallel = (polyp_parallel){p, p->n_workers + 1, pool_run};
    *out = p;
    return POLYP_OK;
}

const polyp_parallel *polyp_threadpool_parallel(const polyp_threadpool *pool) {
    return pool ? &pool->parallel : NULL;
}

int polyp_threadpool_size(const polyp_threadpool *pool) { return pool ? pool->n_workers + 1 : 1; }

int polyp_threadpool_running(const polyp_threadpool *pool) {
    return pool ? 1 + atomic_load(&((polyp_threadpool *)pool)->started) : 1;
}

void polyp_threadpool_free(polyp_threadpool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_workers; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_mutex_destroy(&pool->mu);
    pthread_mutex_destroy(&pool->run_lock);
    free(pool->threads);
    free(pool);
}
