/* test_threadpool.c - every index runs exactly once, runs really are concurrent, nested and
 * repeated runs work, and polyp_parallel_for goes through the pool. */
#include "internal.h"
#include "testutil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct counts {
    atomic_int *hits;
    atomic_long sum;
} counts;

static void mark(void *arg, size_t i) {
    counts *c = arg;
    atomic_fetch_add(&c->hits[i], 1);
    atomic_fetch_add(&c->sum, (long)i);
}

/* One run through the pool's polyp_parallel, as every caller uses it. */
static void pool_run(polyp_threadpool *pool, void (*fn)(void *, size_t), void *arg, size_t n) {
    const polyp_parallel *par = polyp_threadpool_parallel(pool);
    par->run(par->ctx, fn, arg, n);
}

START_TEST(each_index_exactly_once) {
    const size_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, 4097};
    for (int threads = 1; threads <= 4; threads++) {
        polyp_threadpool *pool;
        polyp_error err = {0};
        ck_assert_int_eq(polyp_threadpool_init(threads, &pool, &err), POLYP_OK);
        ck_assert_int_eq(polyp_threadpool_size(pool), threads);
        ck_assert_int_eq(polyp_threadpool_parallel(pool)->n_threads, threads);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            for (int rep = 0; rep < 20; rep++) {
                counts c;
                c.hits = calloc(n + 1, sizeof *c.hits);
                atomic_init(&c.sum, 0);
                pool_run(pool, mark, &c, n);
                for (size_t i = 0; i < n; i++) ck_assert_int_eq(atomic_load(&c.hits[i]), 1);
                ck_assert_int_eq(atomic_load(&c.sum), (long)(n ? n * (n - 1) / 2 : 0));
                free(c.hits);
            }
        }
        polyp_threadpool_free(pool);
    }
}
END_TEST

/* Two items that each wait for the other can only finish if they run at the same time. */
typedef struct rendezvous {
    atomic_int arrived;
    atomic_int timed_out;
} rendezvous;

static void meet(void *arg, size_t i) {
    rendezvous *r = arg;
    atomic_fetch_add(&r->arrived, 1);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&r->arrived) < 2) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 10) {
            atomic_store(&r->timed_out, 1);
            return;
        }
    }
}

START_TEST(items_run_concurrently) {
    polyp_threadpool *pool;
    ck_assert_int_eq(polyp_threadpool_init(2, &pool, NULL), POLYP_OK);
    rendezvous r;
    atomic_init(&r.arrived, 0);
    atomic_init(&r.timed_out, 0);
    pool_run(pool, meet, &r, 2);
    ck_assert_int_eq(atomic_load(&r.timed_out), 0);
    polyp_threadpool_free(pool);
}
END_TEST

typedef struct nested {
    polyp_threadpool *pool;
    counts inner[4];
} nested;

static void outer_item(void *arg, size_t i) {
    nested *nn = arg;
    /* A run from inside a run falls back to serial on this thread instead of deadlocking. */
    pool_run(nn->pool, mark, &nn->inner[i], 50);
}

START_TEST(nested_runs_do_not_deadlock) {
    polyp_threadpool *pool;
    ck_assert_int_eq(polyp_threadpool_init(3, &pool, NULL), POLYP_OK);
    nested nn;
    nn.pool = pool;
    for (int k = 0; k < 4; k++) {
        nn.inner[k].hits = calloc(50, sizeof(atomic_int));
        atomic_init(&nn.inner[k].sum, 0);
    }
    pool_run(pool, outer_item, &nn, 4);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 50; i++) ck_assert_int_eq(atomic_load(&nn.inner[k].hits[i]), 1);
        free(nn.inner[k].hits);
    }
    polyp_threadpool_free(pool);
}
END_TEST

START_TEST(parallel_for_uses_the_pool) {
    polyp_threadpool *pool;
    ck_assert_int_eq(polyp_threadpool_init(3, &pool, NULL), POLYP_OK);
    polyp_parallel par = *polyp_threadpool_parallel(pool);
    ck_assert_int_eq(par.n_threads, 3);
    counts c;
    c.hits = calloc(333, sizeof *c.hits);
    atomic_init(&c.sum, 0);
    polyp_parallel_for(&par, mark, &c, 333);
    for (int i = 0; i < 333; i++) ck_assert_int_eq(atomic_load(&c.hits[i]), 1);
    free(c.hits);
    polyp_threadpool_free(pool);
}
END_TEST

START_TEST(running_counts_started_threads) {
    /* Native threads start on their own; wasm's JS waits on this count the same way. */
    polyp_threadpool *pool;
    ck_assert_int_eq(polyp_threadpool_init(4, &pool, NULL), POLYP_OK);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        int r = polyp_threadpool_running(pool);
        ck_assert(r >= 1 && r <= 4);
        if (r == 4) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 10);
    ck_assert_int_eq(polyp_threadpool_running(pool), 4);
    polyp_threadpool_free(pool);
    ck_assert_int_eq(polyp_threadpool_running(NULL), 1);
    ck_assert_ptr_null(polyp_threadpool_parallel(NULL));
}
END_TEST

START_TEST(bad_sizes_are_refused) {
    polyp_threadpool *pool = (polyp_threadpool *)1;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_threadpool_init(0, &pool, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_null(pool);
    ck_assert_ptr_nonnull(strstr(err.message, "0 threads"));
    ck_assert_int_eq(polyp_threadpool_init(100000, &pool, &err), POLYP_ERR_INVALID_ARG);
    polyp_threadpool_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("threadpool");
    TCase *tc = tcase_create("native");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, each_index_exactly_once);
    tcase_add_test(tc, items_run_concurrently);
    tcase_add_test(tc, nested_runs_do_not_deadlock);
    tcase_add_test(tc, parallel_for_uses_the_pool);
    tcase_add_test(tc, running_counts_started_threads);
    tcase_add_test(tc, bad_sizes_are_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
