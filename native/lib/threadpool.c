/* threadpool.c - see threadpool.h. */
#include "threadpool.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct polyp_threadpool {
    pthread_mutex_t run_lock;  /* held for the whole of one parallel run */
    pthread_mutex_t lock;      /* guards the fields below except `next` */
    pthread_cond_t work_cv;    /* workers wait here for a new generation or stop */
    pthread_cond_t done_cv;    /* the caller waits here for working == 0 */
    pthread_t *threads;        /* n_workers */
    int n_workers;
    /* The current job. */
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    atomic_size_t next;        /* next unclaimed index; may run past n */
    unsigned long generation;  /* bumped for each job so workers see each job exactly once */
    int working;               /* workers that have not finished the current generation */
    bool stop;
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
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->work_cv, &p->lock);
        if (p->stop) break;
        seen = p->generation;
        void (*fn)(void *, size_t) = p->fn;
        void *arg = p->arg;
        size_t n = p->n;
        pthread_mutex_unlock(&p->lock);
        claim_all(p, fn, arg, n);
        pthread_mutex_lock(&p->lock);
        if (--p->working == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

polyp_status polyp_threadpool_create(int n_threads, polyp_threadpool **out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "threadpool: NULL output");
    *out = NULL;
    if (n_threads < 1 || n_threads > POLYP_THREADPOOL_MAX_THREADS)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "threadpool: %d threads requested (1 to %d)", n_threads,
                          POLYP_THREADPOOL_MAX_THREADS);
    polyp_threadpool *p = calloc(1, sizeof *p);
    if (!p) return polyp_fail(err, POLYP_ERR_NOMEM, "threadpool: out of memory");
    p->n_workers = n_threads - 1;
    atomic_init(&p->next, 0);
    p->threads = calloc((size_t)(p->n_workers ? p->n_workers : 1), sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return polyp_fail(err, POLYP_ERR_NOMEM, "threadpool: out of memory");
    }
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (int i = 0; i < p->n_workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            p->n_workers = i; /* only join what started */
            polyp_threadpool_destroy(p);
            return polyp_fail(err, POLYP_ERR_BACKEND, "threadpool: could not start thread %d of %d", i + 2,
                              n_threads);
        }
    }
    *out = p;
    return POLYP_OK;
}

void polyp_threadpool_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n) {
    polyp_threadpool *p = ctx;
    if (n == 0) return;
    if (!p || p->n_workers == 0 || n == 1 || pthread_mutex_trylock(&p->run_lock) != 0) {
        for (size_t i = 0; i < n; i++) fn(arg, i);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->working = p->n_workers;
    p->generation++;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);

    claim_all(p, fn, arg, n);

    pthread_mutex_lock(&p->lock);
    while (p->working > 0) pthread_cond_wait(&p->done_cv, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->run_lock);
}

polyp_parallel polyp_threadpool_parallel(polyp_threadpool *pool) {
    polyp_parallel par;
    memset(&par, 0, sizeof par);
    par.ctx = pool;
    par.n_threads = pool ? pool->n_workers + 1 : 1;
    par.run = polyp_threadpool_run;
    return par;
}

int polyp_threadpool_size(const polyp_threadpool *pool) { return pool ? pool->n_workers + 1 : 1; }

void polyp_threadpool_destroy(polyp_threadpool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->n_workers; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->run_lock);
    free(pool->threads);
    free(pool);
}
