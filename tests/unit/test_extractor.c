/* test_extractor.c - the extraction API: backend selection and refusals, batching, progress
 * and cancellation, point validation, and determinism of the portable backend across batch
 * sizes, task orders and real threads (bit-identical features). Feature values themselves
 * are checked against PyTorch in test_effnet_portable. */
#include "effnet_cases.h"
#include "kernels.h"

#include <pthread.h>
#include <stdatomic.h>

static polyp_weights *weights;

static void setup(void) { weights = ec_load_testnet(); }
static void teardown(void) { polyp_weights_free(weights); }

#define NPATCH 3
#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)

/* Smooth deterministic patches in [0, 1] (different per patch). */
static float *make_patches(void) {
    float *p = malloc(NPATCH * PATCH_FLOATS * sizeof(float));
    for (size_t q = 0; q < NPATCH; q++)
        for (size_t i = 0; i < PATCH_FLOATS; i++) {
            size_t y = i / (POLYP_PATCH_SIZE * 3), x = i / 3 % POLYP_PATCH_SIZE, c = i % 3;
            p[q * PATCH_FLOATS + i] = 0.5f + 0.45f * sinf(0.05f * (float)(x * (q + 1)) + 0.07f * (float)y + (float)c);
        }
    return p;
}

static float *extract_with(const polyp_extractor_params *p, const float *patches) {
    polyp_extractor *ex;
    polyp_error err = {0};
    ck_assert_msg(polyp_extractor_init(weights, p, &ex, &err) == POLYP_OK, "%s", err.message);
    float *f = malloc(NPATCH * POLYP_FEATURE_DIM * sizeof(float));
    ck_assert_msg(polyp_extract_patches(ex, patches, NPATCH, f, &err) == POLYP_OK, "%s", err.message);
    polyp_extractor_free(ex);
    return f;
}

START_TEST(default_params) {
    polyp_extractor_params p = polyp_extractor_default_params();
    ck_assert_int_eq(p.backend, POLYP_BACKEND_AUTO);
    ck_assert_uint_eq(p.batch_size, 8);
    ck_assert_ptr_null(p.parallel);
    ck_assert_ptr_null(p.progress);
    ck_assert_ptr_null(p.kernels);
}
END_TEST

/* A "pool" that runs the tasks on the calling thread in reverse order: a different task
 * order and chunking (n_threads > 1) must not change a single bit. */
static void reverse_run(void *ctx, void (*fn)(void *, size_t), void *arg, size_t n) {
    (void)ctx;
    for (size_t i = n; i-- > 0;) fn(arg, i);
}

START_TEST(backend_selection) {
    polyp_extractor *ex;
    polyp_error err = {0};
    polyp_extractor_params p = polyp_extractor_default_params();
    ck_assert_msg(polyp_extractor_init(weights, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    /* AUTO: the portable backend when it has AVX2/AVX-512 kernels, else XNNPACK when built. */
    const char *best = polyp_kernels_best()->name;
    int wide = !strcmp(best, "avx2") || !strcmp(best, "avx512");
    /* ... unless a CUDA device answers (a GPU machine): then AUTO is cuda. */
    int gpu = 0;
#ifdef POLYP_HAVE_CUDA
    gpu = polyp_backend_cuda_usable(0);
#endif
#ifdef POLYP_HAVE_XNNPACK
    ck_assert_str_eq(polyp_extractor_backend_name(ex), gpu ? "cuda" : wide ? "portable" : "xnnpack");
#else
    (void)wide;
    ck_assert_str_eq(polyp_extractor_backend_name(ex), gpu ? "cuda" : "portable");
#endif
    polyp_extractor_free(ex);
#ifndef POLYP_HAVE_XNNPACK
    p.backend = POLYP_BACKEND_XNNPACK;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "xnnpack"));
#endif
    /* The portable backend's kernel table can be named; an unknown one is refused by name. */
    p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_PORTABLE;
    p.kernels = "scalar";
    ck_assert_msg(polyp_extractor_init(weights, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    polyp_extractor_free(ex);
    p.kernels = "mmx";
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "'mmx'"));
    ck_assert_ptr_null(ex);
    p = polyp_extractor_default_params();
    p.backend = (polyp_backend)42;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    p = polyp_extractor_default_params();
    p.batch_size = 0;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    p.batch_size = 1u << 20;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_LIMIT);
    /* polyp.h's thread rule: the parallel is the thread count, so it must make sense. */
    p = polyp_extractor_default_params();
    polyp_parallel zero = {NULL, 0, reverse_run}, no_run = {NULL, 2, NULL};
    p.parallel = &zero;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "n_threads 0"));
    p.parallel = &no_run;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "no run function"));
    ck_assert_ptr_null(ex);
    ck_assert_int_eq(polyp_extractor_init(NULL, NULL, &ex, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_str_eq(polyp_extractor_backend_name(NULL), "none");
}
END_TEST

/* A real pool: n_threads threads pulling task indices from an atomic counter. */
typedef struct pool_job {
    void (*fn)(void *, size_t);
    void *arg;
    size_t n;
    atomic_size_t next;
} pool_job;

static void *pool_worker(void *p) {
    pool_job *j = p;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) j->fn(j->arg, i);
    return NULL;
}

static void thread_run(void *ctx, void (*fn)(void *, size_t), void *arg, size_t n) {
    int threads = *(int *)ctx;
    pool_job j = {fn, arg, n, 0};
    pthread_t t[8];
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, pool_worker, &j);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
}

START_TEST(deterministic_across_batches_orders_and_threads) {
    float *patches = make_patches();
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_PORTABLE;
    float *ref = extract_with(&p, patches); /* one batch of 3 */
    p.batch_size = 2;                       /* 2 + 1 */
    float *b2 = extract_with(&p, patches);
    ck_assert(memcmp(ref, b2, NPATCH * POLYP_FEATURE_DIM * sizeof(float)) == 0);
    polyp_parallel rev = {NULL, 3, reverse_run};
    p.parallel = &rev;
    float *r3 = extract_with(&p, patches);
    ck_assert(memcmp(ref, r3, NPATCH * POLYP_FEATURE_DIM * sizeof(float)) == 0);
    int threads = 4;
    polyp_parallel pool = {&threads, threads, thread_run};
    p.parallel = &pool;
    p.batch_size = 8;
    float *t4 = extract_with(&p, patches);
    ck_assert(memcmp(ref, t4, NPATCH * POLYP_FEATURE_DIM * sizeof(float)) == 0);
    /* Different patches give different features (the network is not degenerate). */
    double d = 0;
    for (size_t c = 0; c < POLYP_FEATURE_DIM; c++) d += fabs(ref[c] - ref[POLYP_FEATURE_DIM + c]);
    ck_assert(d / POLYP_FEATURE_DIM > 1e-3);
    free(t4);
    free(r3);
    free(b2);
    free(ref);
    free(patches);
}
END_TEST

typedef struct progress_log {
    size_t calls, done[16], total;
    size_t cancel_at; /* return non-zero on this call (1-based); 0: never */
} progress_log;

static int on_progress(void *user, size_t done, size_t total) {
    progress_log *l = user;
    l->done[l->calls++] = done;
    l->total = total;
    return l->cancel_at && l->calls == l->cancel_at;
}

START_TEST(progress_and_cancellation) {
    float *patches = make_patches();
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_PORTABLE;
    p.batch_size = 2;
    progress_log log = {0};
    p.progress = on_progress;
    p.progress_user = &log;
    polyp_extractor *ex;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_OK);
    float f[NPATCH * POLYP_FEATURE_DIM];
    ck_assert_int_eq(polyp_extract_patches(ex, patches, NPATCH, f, &err), POLYP_OK);
    ck_assert_uint_eq(log.calls, 2);
    ck_assert(log.done[0] == 2 && log.done[1] == 3 && log.total == 3);
    polyp_extractor_free(ex);
    progress_log stop = {.cancel_at = 1};
    p.progress_user = &stop;
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_OK);
    ck_assert_int_eq(polyp_extract_patches(ex, patches, NPATCH, f, &err), POLYP_ERR_CANCELLED);
    ck_assert_uint_eq(stop.calls, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "cancelled"));
    ck_assert_int_eq(polyp_extract_patches(ex, patches, 0, f, &err), POLYP_OK); /* nothing to do */
    polyp_extractor_free(ex);
    free(patches);
}
END_TEST

START_TEST(points_are_validated_before_any_work) {
    uint8_t px[5 * 4 * 3] = {0};
    polyp_image img = {.width = 5, .height = 4, .pixels = px}; /* width 5, height 4 */
    polyp_extractor_params p = polyp_extractor_default_params();
    p.backend = POLYP_BACKEND_PORTABLE;
    p.batch_size = 1;
    progress_log log = {0};
    p.progress = on_progress;
    p.progress_user = &log;
    polyp_extractor *ex;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_extractor_init(weights, &p, &ex, &err), POLYP_OK);
    polyp_point pts[3] = {{0, 0}, {3, 4}, {4, 0}}; /* the last: row 4 of a 4-row image */
    float f[3 * POLYP_FEATURE_DIM];
    ck_assert_int_eq(polyp_extract_points(ex, &img, pts, 3, f, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "point 2 (row 4, column 0)"));
    ck_assert_uint_eq(log.calls, 0);
    pts[2].row = 0;
    pts[2].col = 5;
    ck_assert_int_eq(polyp_extract_points(ex, &img, pts, 3, f, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "column 5"));
    ck_assert_int_eq(polyp_extract_points(ex, NULL, pts, 3, f, &err), POLYP_ERR_INVALID_ARG);
    /* A uniform black image: a valid point works, duplicates give identical rows. */
    ck_assert_msg(polyp_extract_points(ex, &img, pts, 2, f, &err) == POLYP_OK, "%s", err.message);
    polyp_point dup[2] = {{1, 1}, {1, 1}};
    ck_assert_int_eq(polyp_extract_points(ex, &img, dup, 2, f, &err), POLYP_OK);
    ck_assert(memcmp(f, f + POLYP_FEATURE_DIM, POLYP_FEATURE_DIM * sizeof(float)) == 0);
    polyp_extractor_free(ex);
}
END_TEST

int main(void) {
    Suite *s = suite_create("extractor");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 1200);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, default_params);
    tcase_add_test(tc, backend_selection);
    tcase_add_test(tc, deterministic_across_batches_orders_and_threads);
    tcase_add_test(tc, progress_and_cancellation);
    tcase_add_test(tc, points_are_validated_before_any_work);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
