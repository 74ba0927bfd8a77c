/* threadpool.h - a small pthread pool that implements polyp_parallel for the native build.
 *
 * The calling thread takes part in every run, so a pool of n threads starts n - 1 workers.
 * Work is handed out dynamically: each thread claims the next index from an atomic counter,
 * so uneven items (images of different sizes, batches with a short tail) balance themselves.
 * One run at a time: a run started while another is in progress (from another thread, or
 * from inside fn) executes serially on its calling thread instead of deadlocking. */
#ifndef POLYP_THREADPOOL_H
#define POLYP_THREADPOOL_H

#include "polyp.h"

#define POLYP_THREADPOOL_MAX_THREADS 256

typedef struct polyp_threadpool polyp_threadpool;

/* n_threads in [1, POLYP_THREADPOOL_MAX_THREADS], counting the calling thread (1 = no
 * workers: runs are serial). Owned: polyp_threadpool_destroy. */
polyp_status polyp_threadpool_create(int n_threads, polyp_threadpool **out, polyp_error *err);

/* Calls fn(arg, i) once for every i in [0, n) and returns when all calls have finished. `ctx`
 * is the pool (this is the polyp_parallel `run` signature). */
void polyp_threadpool_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n);

/* The pool as a polyp_parallel (kept: the pool must outlive every use of the struct). */
polyp_parallel polyp_threadpool_parallel(polyp_threadpool *pool);

int polyp_threadpool_size(const polyp_threadpool *pool);

/* Joins the workers. The pool must be idle. NULL is a no-op. */
void polyp_threadpool_destroy(polyp_threadpool *pool);

#endif /* POLYP_THREADPOOL_H */
