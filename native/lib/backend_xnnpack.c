/* backend_xnnpack.c - EfficientNet-B0 as one XNNPACK subgraph: the native fast path.
 *
 * Built against Debian's libxnnpack-dev (snapshot 2022-02-16): its subgraph API has no swish
 * node, so swish is sigmoid followed by multiply2. The graph is built once per extractor for
 * a fixed batch size (XNNPACK runtimes have static shapes); a short last batch is padded with
 * zero patches whose outputs are dropped.
 *
 * Weights: polyp_weights already stores every tensor in the layout XNNPACK wants
 * (convolution OHWI, 1x1 / fully-connected [out][in], depthwise [1][k][k][C]), so the
 * subgraph points straight at the weights' arena, without copies. XNNPACK requires static
 * data to outlive the runtime: polyp_extractor_init's contract (weights are kept and must
 * outlive the extractor) guarantees it. */
#include "effnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthreadpool.h>
#include <xnnpack.h>

/* A runtime holds the batch's intermediate tensors (the widest, block 1's expanded
 * 112x112x96, alone is 4.8 MB per patch): refuse batch sizes that would ask for gigabytes
 * per layer. */
#define XNN_MAX_BATCH 1024
#define XNN_MAX_THREADS 1024

#define XNN_INPUT_ID 0u   /* external value ids reserved at subgraph creation */
#define XNN_OUTPUT_ID 1u
#define XNN_EXTERNAL_IDS 2u

typedef struct xnn_state {
    xnn_runtime_t runtime;
    pthreadpool_t pool;  /* NULL: XNNPACK runs on the calling thread */
    size_t batch;        /* patches per invocation, fixed by the runtime's shapes */
    float *input;        /* [batch][224][224][3] NHWC + XNN_EXTRA_BYTES slack */
    float *output;       /* [batch][1][1][1280] + XNN_EXTRA_BYTES slack */
    int initialized;     /* xnn_initialize succeeded: pair it with xnn_deinitialize */
} xnn_state;

static const char *xnn_status_name(enum xnn_status s) {
    switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
    }
    return "unknown";
}

static polyp_status xnn_failed(polyp_error *err, const char *step, enum xnn_status s) {
    return polyp_fail(err, POLYP_ERR_BACKEND, "xnnpack: failed to %s: status %d (%s)", step,
                      (int)s, xnn_status_name(s));
}

/* ---------------------------------------------------------------- graph building */

/* An NHWC activation inside the subgraph. */
typedef struct xnn_act {
    uint32_t id;
    size_t h, w, c;
} xnn_act;

typedef struct xnn_builder {
    xnn_subgraph_t graph;
    size_t batch;
    int tf_same;
    char where[64];  /* the part being defined, for error messages ("block 7") */
    polyp_error *err;
} xnn_builder;

static polyp_status fail_define(xnn_builder *b, const char *what, enum xnn_status s) {
    char step[160];
    snprintf(step, sizeof step, "define %s %s", b->where, what);
    return xnn_failed(b->err, step, s);
}

/* Defines an internal (or, with ext_id, external) fp32 tensor of the given dims. */
static polyp_status define_tensor(xnn_builder *b, const char *what, size_t ndims, const size_t *dims,
                                  const float *data, uint32_t ext_id, uint32_t flags, uint32_t *id) {
    enum xnn_status s = xnn_define_tensor_value(b->graph, xnn_datatype_fp32, ndims, dims, data, ext_id,
                                                flags, id);
    return s == xnn_status_success ? POLYP_OK : fail_define(b, what, s);
}

static polyp_status define_act(xnn_builder *b, const char *what, size_t h, size_t w, size_t c,
                               xnn_act *out) {
    const size_t dims[4] = {b->batch, h, w, c};
    out->h = h;
    out->w = w;
    out->c = c;
    return define_tensor(b, what, 4, dims, NULL, XNN_INVALID_VALUE_ID, 0, &out->id);
}

/* kxk convolution (dense, or depthwise when `depthwise`) with bias and the block table's
 * padding. Dense filter: [cout][k][k][cin] (OHWI); depthwise filter: [1][k][k][c] (HWC). */
static polyp_status define_conv(xnn_builder *b, const char *what, const xnn_act *x, size_t cout,
                                int k, int stride, int depthwise, const float *w, const float *bias,
                                xnn_act *y) {
    if (!w || !bias)
        return polyp_fail(b->err, POLYP_ERR_INVALID_ARG, "xnnpack: %s %s: missing weights", b->where,
                          what);
    if (depthwise && cout != x->c)
        return polyp_fail(b->err, POLYP_ERR_INVALID_ARG,
                          "xnnpack: %s %s: depthwise output channels %zu != input channels %zu",
                          b->where, what, cout, x->c);
    int pb_h, pa_h, pb_w, pa_w;
    polyp_effnet_padding(k, stride, b->tf_same, (int)x->h, &pb_h, &pa_h);
    polyp_effnet_padding(k, stride, b->tf_same, (int)x->w, &pb_w, &pa_w);
    const size_t oh = (x->h + (size_t)pb_h + (size_t)pa_h - (size_t)k) / (size_t)stride + 1;
    const size_t ow = (x->w + (size_t)pb_w + (size_t)pa_w - (size_t)k) / (size_t)stride + 1;
    const size_t uk = (size_t)k;
    const size_t wdims[4] = {depthwise ? 1 : cout, uk, uk, x->c};
    const size_t bdims[1] = {cout};
    uint32_t wid, bid;
    polyp_status st;
    if ((st = define_tensor(b, what, 4, wdims, w, XNN_INVALID_VALUE_ID, 0, &wid)) ||
        (st = define_tensor(b, what, 1, bdims, bias, XNN_INVALID_VALUE_ID, 0, &bid)) ||
        (st = define_act(b, what, oh, ow, cout, y)))
        return st;
    enum xnn_status s;
    if (depthwise)
        s = xnn_define_depthwise_convolution_2d(
            b->graph, (uint32_t)pb_h, (uint32_t)pa_w, (uint32_t)pa_h, (uint32_t)pb_w, (uint32_t)k,
            (uint32_t)k, (uint32_t)stride, (uint32_t)stride, 1, 1, /*depth_multiplier=*/1, x->c,
            -INFINITY, INFINITY, x->id, wid, bid, y->id, 0);
    else
        s = xnn_define_convolution_2d(b->graph, (uint32_t)pb_h, (uint32_t)pa_w, (uint32_t)pa_h,
                                      (uint32_t)pb_w, (uint32_t)k, (uint32_t)k, (uint32_t)stride,
                                      (uint32_t)stride, 1, 1, /*groups=*/1, x->c, cout, -INFINITY,
                                      INFINITY, x->id, wid, bid, y->id, 0);
    return s == xnn_status_success ? POLYP_OK : fail_define(b, what, s);
}

/* swish(x) = x * sigmoid(x): this XNNPACK has no fused swish node. */
static polyp_status define_swish(xnn_builder *b, const char *what, const xnn_act *x, xnn_act *y) {
    xnn_act sig;
    polyp_status st;
    if ((st = define_act(b, what, x->h, x->w, x->c, &sig)) ||
        (st = define_act(b, what, x->h, x->w, x->c, y)))
        return st;
    enum xnn_status s = xnn_define_sigmoid(b->graph, x->id, sig.id, 0);
    if (s != xnn_status_success) return fail_define(b, what, s);
    s = xnn_define_multiply2(b->graph, -INFINITY, INFINITY, x->id, sig.id, y->id, 0);
    return s == xnn_status_success ? POLYP_OK : fail_define(b, what, s);
}

/* Global mean over H and W: [N][H][W][C] -> [N][1][1][C] (into `out` when given: the
 * external output). */
static polyp_status define_mean(xnn_builder *b, const char *what, const xnn_act *x, const xnn_act *out,
                                xnn_act *y) {
    polyp_status st;
    if (out)
        *y = *out;
    else if ((st = define_act(b, what, 1, 1, x->c, y)))
        return st;
    enum xnn_status s =
        xnn_define_global_average_pooling_2d(b->graph, -INFINITY, INFINITY, x->id, y->id, 0);
    return s == xnn_status_success ? POLYP_OK : fail_define(b, what, s);
}

/* Fully connected on [N][1][1][cin] -> [N][1][1][cout]; w: [cout][cin], bias: [cout]. */
static polyp_status define_fc(xnn_builder *b, const char *what, const xnn_act *x, size_t cout,
                              const float *w, const float *bias, xnn_act *y) {
    if (!w || !bias)
        return polyp_fail(b->err, POLYP_ERR_INVALID_ARG, "xnnpack: %s %s: missing weights", b->where,
                          what);
    const size_t wdims[2] = {cout, x->c};
    const size_t bdims[1] = {cout};
    uint32_t wid, bid;
    polyp_status st;
    if ((st = define_tensor(b, what, 2, wdims, w, XNN_INVALID_VALUE_ID, 0, &wid)) ||
        (st = define_tensor(b, what, 1, bdims, bias, XNN_INVALID_VALUE_ID, 0, &bid)) ||
        (st = define_act(b, what, 1, 1, cout, y)))
        return st;
    enum xnn_status s =
        xnn_define_fully_connected(b->graph, -INFINITY, INFINITY, x->id, wid, bid, y->id, 0);
    return s == xnn_status_success ? POLYP_OK : fail_define(b, what, s);
}

/* Elementwise binary op with numpy broadcasting (the SE scale is [N][1][1][C]). */
static polyp_status define_binary(xnn_builder *b, const char *what, int multiply, const xnn_act *x1,
                                  const xnn_act *x2, xnn_act *y) {
    polyp_status st = define_act(b, what, x1->h, x1->w, x1->c, y);
    if (st) return st;
    enum xnn_status s = multiply
        ? xnn_define_multiply2(b->graph, -INFINITY, INFINITY, x1->id, x2->id, y->id, 0)
        : xnn_define_add2(b->graph, -INFINITY, INFINITY, x1->id, x2->id, y->id, 0);
    return s == xnn_status_success ? POLYP_OK : fail_define(b, what, s);
}

/* One MBConv block: [expand 1x1 + swish] -> depthwise kxk + swish -> squeeze-excite ->
 * project 1x1 -> [+ input]. */
static polyp_status define_block(xnn_builder *b, const polyp_block_params *p, const xnn_act *x,
                                 xnn_act *y) {
    const polyp_block_spec *s = &p->spec;
    xnn_act h = *x, t, dw, pooled, red, red_act, exc, gate, scaled, proj;
    polyp_status st;
    if (s->expand != 1) {
        if ((st = define_conv(b, "expand", x, (size_t)s->hidden, 1, 1, 0, p->expand_w, p->expand_b, &t)) ||
            (st = define_swish(b, "expand swish", &t, &h)))
            return st;
    }
    if ((st = define_conv(b, "depthwise", &h, (size_t)s->hidden, s->kernel, s->stride, 1, p->dw_w,
                          p->dw_b, &t)) ||
        (st = define_swish(b, "depthwise swish", &t, &dw)) ||
        (st = define_mean(b, "squeeze mean", &dw, NULL, &pooled)) ||
        (st = define_fc(b, "squeeze reduce", &pooled, (size_t)s->se, p->se_reduce_w, p->se_reduce_b,
                        &red)) ||
        (st = define_swish(b, "squeeze swish", &red, &red_act)) ||
        (st = define_fc(b, "squeeze expand", &red_act, (size_t)s->hidden, p->se_expand_w,
                        p->se_expand_b, &exc)) ||
        (st = define_act(b, "squeeze sigmoid", 1, 1, (size_t)s->hidden, &gate)))
        return st;
    enum xnn_status xs = xnn_define_sigmoid(b->graph, exc.id, gate.id, 0);
    if (xs != xnn_status_success) return fail_define(b, "squeeze sigmoid", xs);
    if ((st = define_binary(b, "squeeze scale", 1, &dw, &gate, &scaled)) ||
        (st = define_conv(b, "project", &scaled, (size_t)s->out, 1, 1, 0, p->project_w, p->project_b,
                          &proj)))
        return st;
    if (s->stride == 1 && s->in == s->out) return define_binary(b, "residual add", 0, &proj, x, y);
    *y = proj;
    return POLYP_OK;
}

static polyp_status build_graph(xnn_builder *b, const polyp_weights *w) {
    const polyp_block_spec *table = polyp_effnet_blocks();
    const size_t in_dims[4] = {b->batch, POLYP_PATCH_SIZE, POLYP_PATCH_SIZE, 3};
    const size_t out_dims[4] = {b->batch, 1, 1, POLYP_FEATURE_DIM};
    xnn_act x = {0, POLYP_PATCH_SIZE, POLYP_PATCH_SIZE, 3}, out = {0, 1, 1, POLYP_FEATURE_DIM}, t;
    polyp_status st;

    snprintf(b->where, sizeof b->where, "network");
    if ((st = define_tensor(b, "input", 4, in_dims, NULL, XNN_INPUT_ID, XNN_VALUE_FLAG_EXTERNAL_INPUT,
                            &x.id)) ||
        (st = define_tensor(b, "output", 4, out_dims, NULL, XNN_OUTPUT_ID,
                            XNN_VALUE_FLAG_EXTERNAL_OUTPUT, &out.id)))
        return st;

    snprintf(b->where, sizeof b->where, "stem");
    if ((st = define_conv(b, "conv", &x, POLYP_STEM_CH, 3, 2, 0, w->stem_w, w->stem_b, &t)) ||
        (st = define_swish(b, "swish", &t, &x)))
        return st;

    for (int i = 0; i < POLYP_EFFNET_BLOCKS; i++) {
        const polyp_block_params *p = &w->blocks[i];
        const polyp_block_spec *s = &p->spec, *e = &table[i];
        snprintf(b->where, sizeof b->where, "block %d", i);
        /* The weights carry their own copy of the spec: a mismatch means a loader bug, and
         * would otherwise read past the end of a tensor. */
        if (s->in != e->in || s->out != e->out || s->kernel != e->kernel || s->stride != e->stride ||
            s->expand != e->expand || s->hidden != e->hidden || s->se != e->se)
            return polyp_fail(b->err, POLYP_ERR_INVALID_ARG,
                              "xnnpack: block %d: weights spec differs from the block table", i);
        if ((size_t)s->in != x.c)
            return polyp_fail(b->err, POLYP_ERR_INVALID_ARG,
                              "xnnpack: block %d expects %d input channels, previous layer has %zu",
                              i, s->in, x.c);
        xnn_act y;
        if ((st = define_block(b, p, &x, &y))) return st;
        x = y;
    }

    snprintf(b->where, sizeof b->where, "head");
    if (x.c != POLYP_HEAD_IN)
        return polyp_fail(b->err, POLYP_ERR_INVALID_ARG, "xnnpack: head expects %d channels, got %zu",
                          POLYP_HEAD_IN, x.c);
    xnn_act h;
    if ((st = define_conv(b, "conv", &x, POLYP_FEATURE_DIM, 1, 1, 0, w->head_w, w->head_b, &t)) ||
        (st = define_swish(b, "swish", &t, &h)))
        return st;
    return define_mean(b, "mean", &h, &out, &t);
}

/* ---------------------------------------------------------------- backend ops */

static void xnn_free(void *state) {
    xnn_state *s = state;
    if (!s) return;
    if (s->runtime) xnn_delete_runtime(s->runtime);
    if (s->pool) pthreadpool_destroy(s->pool);
    polyp_aligned_free(s->input);
    polyp_aligned_free(s->output);
    if (s->initialized) xnn_deinitialize();
    free(s);
}

static polyp_status xnn_init(const polyp_weights *w, const polyp_extractor_params *p, void **out,
                             polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "xnnpack: state pointer is NULL");
    *out = NULL;
    if (!w || !p) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "xnnpack: weights or params is NULL");
    if (p->batch_size < 1)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "xnnpack: batch_size 0: must be at least 1");
    if (p->batch_size > XNN_MAX_BATCH)
        return polyp_fail(err, POLYP_ERR_LIMIT, "xnnpack: batch_size %zu exceeds %d", p->batch_size,
                          XNN_MAX_BATCH);
    /* polyp.h's thread rule: the parallel's thread count, though XNNPACK runs on its own
     * pthreadpool and never calls parallel->run. */
    polyp_status st = polyp_parallel_check(p->parallel, "xnnpack", err);
    if (st != POLYP_OK) return st;
    const int n_threads = p->parallel ? p->parallel->n_threads : 1;
    if (n_threads > XNN_MAX_THREADS)
        return polyp_fail(err, POLYP_ERR_LIMIT, "xnnpack: n_threads %d exceeds %d", n_threads, XNN_MAX_THREADS);

    xnn_state *s = polyp_calloc(1, sizeof *s);
    if (!s) return polyp_fail(err, POLYP_ERR_NOMEM, "xnnpack: out of memory for the backend state");
    s->batch = p->batch_size;
    xnn_subgraph_t graph = NULL;
    enum xnn_status xs;

    size_t in_bytes, out_bytes;  /* batch <= XNN_MAX_BATCH: these cannot overflow, but check */
    if (!polyp_mul_ok(s->batch, (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3 * sizeof(float),
                      &in_bytes) ||
        !polyp_mul_ok(s->batch, (size_t)POLYP_FEATURE_DIM * sizeof(float), &out_bytes) ||
        !(s->input = polyp_aligned_alloc(in_bytes + XNN_EXTRA_BYTES)) ||
        !(s->output = polyp_aligned_alloc(out_bytes + XNN_EXTRA_BYTES))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "xnnpack: out of memory for batch %zu buffers", s->batch);
        goto fail;
    }
    /* XNNPACK may read (never write) the slack past the end: keep it defined. */
    memset(s->input, 0, in_bytes + XNN_EXTRA_BYTES);
    memset(s->output, 0, out_bytes + XNN_EXTRA_BYTES);

    if ((xs = xnn_initialize(NULL)) != xnn_status_success) {
        st = xnn_failed(err, "initialize", xs);
        goto fail;
    }
    s->initialized = 1;
    if (n_threads > 1 && !(s->pool = pthreadpool_create((size_t)n_threads))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "xnnpack: cannot create a pool of %d threads", n_threads);
        goto fail;
    }

    if ((xs = xnn_create_subgraph(XNN_EXTERNAL_IDS, 0, &graph)) != xnn_status_success) {
        st = xnn_failed(err, "create subgraph", xs);
        goto fail;
    }
    xnn_builder b = {.graph = graph, .batch = s->batch, .tf_same = w->tf_same_padding, .err = err};
    if ((st = build_graph(&b, w))) goto fail;

    if ((xs = xnn_create_runtime_v2(graph, s->pool, 0, &s->runtime)) != xnn_status_success) {
        s->runtime = NULL;
        st = xnn_failed(err, "create runtime", xs);
        goto fail;
    }
    xnn_delete_subgraph(graph);  /* the runtime is independent of it */
    graph = NULL;

    /* The buffers never move: bind them once. */
    const struct xnn_external_value ext[2] = {{XNN_INPUT_ID, s->input}, {XNN_OUTPUT_ID, s->output}};
    if ((xs = xnn_setup_runtime(s->runtime, 2, ext)) != xnn_status_success) {
        st = xnn_failed(err, "set up runtime", xs);
        goto fail;
    }
    *out = s;
    return POLYP_OK;

fail:
    if (graph) xnn_delete_subgraph(graph);
    xnn_free(s);
    return st;
}

static polyp_status xnn_run(void *state, const float *in, size_t n, float *out, polyp_error *err) {
    xnn_state *s = state;
    if (!s || (n && (!in || !out)))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "xnnpack: NULL state, input or output");
    if (n > s->batch)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "xnnpack: %zu patches exceed the runtime's batch size %zu", n, s->batch);
    if (n == 0) return POLYP_OK;
    const size_t patch = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
    /* Copy into the runtime's own buffer: the caller's has no XNN_EXTRA_BYTES slack, and a
     * short batch needs zero patches after it. */
    memcpy(s->input, in, n * patch * sizeof(float));
    if (n < s->batch) memset(s->input + n * patch, 0, (s->batch - n) * patch * sizeof(float));
    enum xnn_status xs = xnn_invoke_runtime(s->runtime);
    if (xs != xnn_status_success) return xnn_failed(err, "invoke runtime", xs);
    memcpy(out, s->output, n * (size_t)POLYP_FEATURE_DIM * sizeof(float));
    return POLYP_OK;
}

const polyp_backend_ops polyp_backend_xnnpack_ops = {
    .name = "xnnpack",
    .init = xnn_init,
    .run = xnn_run,
    .free = xnn_free,
};
