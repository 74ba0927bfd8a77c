/* extractor.c - the public feature-extraction API over the backends: picks the backend (the
 * only place that knows which ones are compiled in), splits work into batches, crops points,
 * reports progress and honours cancellation. */
#include "effnet.h"
#include "kernels.h"

#ifdef POLYP_HAVE_CUDA_PLAN /* native builds (native/cuda/cuda_plan.c), with or without CUDA */
#include "cuda_plan.h"
#endif

#include <stdlib.h>
#include <string.h>

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)

struct polyp_extractor {
    const polyp_weights *weights;       /* kept */
    polyp_extractor_params params;
    const polyp_backend_ops *ops;
    void *state;
    float *patches;                     /* [batch][224][224][3] crop buffer for extract_points;
                                           NULL when the backend crops itself (run_points) */
    size_t dim;                         /* feature width of the weights */
};

polyp_extractor_params polyp_extractor_default_params(void) {
    polyp_extractor_params p;
    memset(&p, 0, sizeof p);
    p.backend = POLYP_BACKEND_AUTO;
    p.batch_size = 8;
    return p;
}

/* The backend's ops when compiled into this build, else NULL. */
static const polyp_backend_ops *compiled_ops(polyp_backend b) {
    switch (b) {
    case POLYP_BACKEND_PORTABLE: return &polyp_backend_portable_ops;
    case POLYP_BACKEND_XNNPACK:
#ifdef POLYP_HAVE_XNNPACK
        return &polyp_backend_xnnpack_ops;
#else
        return NULL;
#endif
    case POLYP_BACKEND_CUDA:
#ifdef POLYP_HAVE_CUDA
        return &polyp_backend_cuda_ops;
#else
        return NULL;
#endif
    case POLYP_BACKEND_AUTO: break;
    }
    return NULL;
}

static const char *backend_label(polyp_backend b) {
    switch (b) {
    case POLYP_BACKEND_AUTO: return "auto";
    case POLYP_BACKEND_PORTABLE: return "portable";
    case POLYP_BACKEND_XNNPACK: return "xnnpack";
    case POLYP_BACKEND_CUDA: return "cuda";
    }
    return "?";
}

/* AUTO takes CUDA only when it is compiled in and the device answers (CI machines build
 * the CUDA code but have no driver: they must fall back without a word). */
static int auto_cuda(const polyp_extractor_params *p) {
#ifdef POLYP_HAVE_CUDA
    return polyp_backend_cuda_usable(p->device);
#else
    (void)p;
    return 0;
#endif
}

polyp_status polyp_extractor_init(const polyp_weights *weights, const polyp_extractor_params *params,
                                  polyp_extractor **out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extractor: out is NULL");
    *out = NULL;
    if (!weights) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extractor: weights is NULL");
    polyp_extractor_params p = params ? *params : polyp_extractor_default_params();
    if (p.batch_size == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extractor: batch_size must be at least 1");
    if (p.batch_size > 4096)
        return polyp_fail(err, POLYP_ERR_LIMIT, "extractor: batch_size %zu exceeds 4096", p.batch_size);
    polyp_status st = polyp_parallel_check(p.parallel, "extractor", err);
    if (st != POLYP_OK) return st;
    if ((unsigned)p.backend > POLYP_BACKEND_CUDA)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extractor: unknown backend %d", (int)p.backend);
    if ((unsigned)p.precision > POLYP_PRECISION_FAST)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extractor: unknown precision %d", (int)p.precision);
    if (p.device < 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extractor: device %d is negative", p.device);

    polyp_extractor *ex = calloc(1, sizeof *ex);
    if (!ex) return polyp_fail(err, POLYP_ERR_NOMEM, "extractor: out of memory");
    ex->weights = weights;
    ex->params = p;
    ex->dim = polyp_weights_feature_dim(weights);
    if (weights->net) {
        /* A TFLite MobileNet runs on the portable kernels only (tflite_net.h). */
        if (p.backend != POLYP_BACKEND_AUTO && p.backend != POLYP_BACKEND_PORTABLE) {
            polyp_extractor_free(ex);
            return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "extractor: %s weights run on the portable backend only, not %s",
                              polyp_weights_kind(weights), backend_label(p.backend));
        }
        st = polyp_backend_tflite_ops.init(weights, &p, &ex->state, err);
        if (st == POLYP_OK) ex->ops = &polyp_backend_tflite_ops;
    } else if (p.backend == POLYP_BACKEND_AUTO && auto_cuda(&p)) {
        /* A usable GPU beats every CPU backend; its failure from here on (memory, a driver
         * error) is reported, not hidden behind a silent CPU run of a GPU-sized job. */
        const polyp_backend_ops *ops = compiled_ops(POLYP_BACKEND_CUDA);
        st = ops->init(weights, &p, &ex->state, err);
        if (st == POLYP_OK) ex->ops = ops;
    } else if (p.backend == POLYP_BACKEND_AUTO) {
        /* The fastest compiled in: the first of `order` this build has (its failure is
         * final: both are CPU backends, a second would fail alike). With AVX2 or AVX-512 kernels the portable
         * backend outruns Debian's XNNPACK (tests/bench/run_bench.sh, 2 cores, batch 32:
         * 86 vs 57 patches/s on 1 thread) and its pool does not spin when the machine is
         * busy, so it goes first there; elsewhere (SSE2-only x86, ARM) XNNPACK does. */
        const char *best = polyp_kernels_best()->name;
        int wide = !strcmp(best, "avx2") || !strcmp(best, "avx512");
        const polyp_backend order[] = {wide ? POLYP_BACKEND_PORTABLE : POLYP_BACKEND_XNNPACK,
                                       wide ? POLYP_BACKEND_XNNPACK : POLYP_BACKEND_PORTABLE};
        st = POLYP_ERR_UNSUPPORTED;
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            const polyp_backend_ops *ops = compiled_ops(order[i]);
            if (!ops) continue;
            st = ops->init(weights, &p, &ex->state, err);
            if (st == POLYP_OK) ex->ops = ops;
            break;
        }
    } else {
        const polyp_backend_ops *ops = compiled_ops(p.backend);
        if (!ops) {
            polyp_extractor_free(ex);
#ifdef POLYP_HAVE_CUDA_PLAN
            if (p.backend == POLYP_BACKEND_CUDA) return polyp_cuda_unavailable(PCU_NOT_BUILT, p.device, 0, NULL, err);
#endif
            return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "extractor: the %s backend is not compiled into this build of polyp",
                              backend_label(p.backend));
        }
        st = ops->init(weights, &p, &ex->state, err);
        if (st == POLYP_OK) ex->ops = ops;
    }
    size_t bytes;
    if (st == POLYP_OK && !ex->ops->run_points &&
        (!polyp_mul_ok(p.batch_size, PATCH_FLOATS * sizeof(float), &bytes) ||
         !(ex->patches = polyp_aligned_alloc(bytes))))
        st = polyp_fail(err, POLYP_ERR_NOMEM, "extractor: out of memory for a batch of %zu patches", p.batch_size);
    if (st != POLYP_OK) {
        polyp_extractor_free(ex);
        return st;
    }
    *out = ex;
    return POLYP_OK;
}

void polyp_extractor_free(polyp_extractor *extractor) {
    if (!extractor) return;
    if (extractor->ops && extractor->state) extractor->ops->free(extractor->state);
    polyp_aligned_free(extractor->patches);
    free(extractor);
}

const char *polyp_extractor_backend_name(const polyp_extractor *extractor) {
    return extractor && extractor->ops ? extractor->ops->name : "none";
}

static polyp_status report(const polyp_extractor *ex, size_t done, size_t total, polyp_error *err) {
    if (ex->params.progress && ex->params.progress(ex->params.progress_user, done, total))
        return polyp_fail(err, POLYP_ERR_CANCELLED, "extraction cancelled after %zu of %zu patches", done, total);
    return POLYP_OK;
}

polyp_status polyp_extract_patches(polyp_extractor *extractor, const float *patches, size_t n, float *features,
                                   polyp_error *err) {
    if (!extractor) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extract: extractor is NULL");
    if (n == 0) return POLYP_OK;
    if (!patches || !features) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extract: patches or features is NULL");
    const size_t batch = extractor->params.batch_size;
    for (size_t done = 0; done < n;) {
        size_t m = n - done < batch ? n - done : batch;
        polyp_status st = extractor->ops->run(extractor->state, patches + done * PATCH_FLOATS, m,
                                              features + done * extractor->dim, err);
        if (st != POLYP_OK) return st;
        done += m;
        if ((st = report(extractor, done, n, err)) != POLYP_OK) return st;
    }
    return POLYP_OK;
}

polyp_status polyp_extract_points(polyp_extractor *extractor, const polyp_image *image, const polyp_point *points,
                                  size_t n, float *features, polyp_error *err) {
    if (!extractor || !image) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extract: extractor or image is NULL");
    if (n == 0) return POLYP_OK;
    if (!points || !features) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "extract: points or features is NULL");
    /* Every point first: a bad one at the end must not cost a whole image's compute. */
    for (size_t i = 0; i < n; i++)
        if (points[i].row >= image->height || points[i].col >= image->width)
            return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                              "extract: point %zu (row %u, column %u) is outside the %ux%u image", i, points[i].row,
                              points[i].col, image->width, image->height);
    const size_t batch = extractor->params.batch_size;
    if (extractor->ops->run_points) {
        /* The backend crops (on the GPU): the photo goes up once, the points per batch. */
        for (size_t done = 0; done < n;) {
            size_t m = n - done < batch ? n - done : batch;
            polyp_status st = extractor->ops->run_points(extractor->state, image, points + done, m, done == 0,
                                                         features + done * extractor->dim, err);
            if (st != POLYP_OK) return st;
            done += m;
            if ((st = report(extractor, done, n, err)) != POLYP_OK) return st;
        }
        return POLYP_OK;
    }
    for (size_t done = 0; done < n;) {
        size_t m = n - done < batch ? n - done : batch;
        for (size_t i = 0; i < m; i++) {
            polyp_status st = polyp_patch_crop(image, points[done + i], extractor->patches + i * PATCH_FLOATS, err);
            if (st != POLYP_OK) return polyp_fail_prefix(err, st, "extract: point %zu: ", done + i);
        }
        polyp_status st = extractor->ops->run(extractor->state, extractor->patches, m, features + done * extractor->dim, err);
        if (st != POLYP_OK) return st;
        done += m;
        if ((st = report(extractor, done, n, err)) != POLYP_OK) return st;
    }
    return POLYP_OK;
}
