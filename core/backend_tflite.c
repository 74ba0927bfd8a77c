/* backend_tflite.c - runs a TFLite MobileNet (tflite_net.h) on the portable backend's
 * kernels: 1x1 convolutions are the packed GEMM with a CLAMP epilogue (ReLU6 / the output
 * tensor's range), KxK or strided convolutions the same GEMM over an im2col copy,
 * depthwise convolutions dwconv_clamp, ADD and the global mean small loops.
 *
 * Parallelism: whole patches per task where there are enough: each of W = min(threads,
 * batch) workspaces runs patches w, w + W, ... one after another; the patches left over
 * (fewer than W: a single point's patch, say) run one at a time with each layer's rows
 * split among the threads. Every value is computed by the same instructions in the same
 * order either way, so results are bit-identical for any thread count and batch size. */
#include "backend_portable.h"
#include "tflite_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)

typedef struct workspace {
    float *slot[16];     /* net->nslots activation maps of slot_floats each */
    float *im2col;       /* [ho*wo][k*k*c] */
} workspace;

typedef struct tfl_backend {
    const polyp_tfl_net *net;  /* kept (owned by the weights) */
    const polyp_kernels *k;
    const polyp_parallel *par;
    size_t batch, nws;
    polyp_gemm *gemm;          /* per layer (convolutions only) */
    workspace *ws;
    float *arena;              /* packed weights and every workspace */
    /* the batch being run (set by run, read by the tasks) */
    const float *in;
    float *out;
    size_t n;
} tfl_backend;

/* Rows [ho*wo] of k*k*c taps in (ky, kx, ci) order, the filter's OHWI order, for output
 * pixels [p0, p1); zeros where a tap falls in the padding (the quantized graph pads with the
 * zero point, i.e. real 0). */
static void im2col(const polyp_tn_layer *L, const float *x, float *col, size_t p0, size_t p1) {
    const size_t K = L->k, C = L->c, row = K * K * C;
    for (size_t p = p0; p < p1; p++) {
        const size_t oy = p / L->wo, ox = p % L->wo;
        float *r = col + p * row;
        for (size_t ky = 0; ky < K; ky++) {
            const long iy = (long)(oy * L->stride + ky) - (long)L->pad_top;
            for (size_t kx = 0; kx < K; kx++) {
                const long ix = (long)(ox * L->stride + kx) - (long)L->pad_left;
                float *dst = r + (ky * K + kx) * C;
                if (iy < 0 || ix < 0 || iy >= (long)L->h || ix >= (long)L->w) memset(dst, 0, C * sizeof *dst);
                else memcpy(dst, x + ((size_t)iy * L->w + (size_t)ix) * C, C * sizeof *dst);
            }
        }
    }
}

/* Work units of a layer, the granularity a layer splits into among threads: output
 * pixels (convolutions, ADD), output rows (depthwise), one (the pool). */
static size_t layer_units(const polyp_tn_layer *L) {
    switch (L->kind) {
    case POLYP_TN_DW: return L->ho;
    case POLYP_TN_POOL: return 1;
    default: return L->ho * L->wo;
    }
}

/* Units [u0, u1) of layer li. Every output value is computed by the same instructions
 * whatever the range (the gemm and depthwise kernels guarantee it for row splits), so a
 * layer split among threads gives the same bits as one run whole. */
static void run_units(const tfl_backend *s, size_t li, workspace *w, size_t u0, size_t u1) {
    const polyp_tn_layer *L = &s->net->layers[li];
    const float *x = w->slot[L->in];
    float *y = w->slot[L->out];
    switch (L->kind) {
    case POLYP_TN_CONV:
        if (L->k == 1 && L->stride == 1) {
            s->k->gemm(&s->gemm[li], x, y, NULL, u0, u1, POLYP_ACT_CLAMP);
        } else {
            im2col(L, x, w->im2col, u0, u1);
            s->k->gemm(&s->gemm[li], w->im2col, y, NULL, u0, u1, POLYP_ACT_CLAMP);
        }
        break;
    case POLYP_TN_DW: {
        const polyp_dw_shape sh = {L->h, L->w, L->c, L->ho, L->wo, L->k, L->stride, L->pad_top, L->pad_left};
        s->k->dwconv_clamp(&sh, x, L->wt, L->bias, y, L->lo, L->hi, u0, u1);
        break;
    }
    case POLYP_TN_ADD: {
        const float *z = w->slot[L->in2];
        for (size_t i = u0 * L->c; i < u1 * L->c; i++) {
            float v = x[i] + z[i];
            y[i] = v < L->lo ? L->lo : v > L->hi ? L->hi : v;
        }
        break;
    }
    case POLYP_TN_POOL:
        s->k->mean_rows(x, L->h * L->w, L->c, (float)(L->h * L->w), y);
        for (size_t c = 0; c < L->c; c++) y[c] = y[c] < L->lo ? L->lo : y[c] > L->hi ? L->hi : y[c];
        break;
    }
}

/* The model's input scaling: q = round(255 p) (the crop's p = pixel / 255 gives back the
 * pixel exactly), real = scale * (q - zero point). */
static void load_input(const polyp_tfl_net *net, const float *patch, float *x) {
    for (size_t i = 0; i < PATCH_FLOATS; i++) {
        float q = floorf(patch[i] * 255.0f + 0.5f);
        q = q < 0 ? 0 : q > 255 ? 255 : q;
        x[i] = net->in_scale * (q - (float)net->in_zp);
    }
}

/* One patch on the calling thread: input, every layer, the pooled feature out. */
static void run_patch(const tfl_backend *s, workspace *w, const float *patch, float *feat) {
    const polyp_tfl_net *net = s->net;
    load_input(net, patch, w->slot[net->in_slot]);
    for (size_t li = 0; li < net->nlayers; li++) run_units(s, li, w, 0, layer_units(&net->layers[li]));
    memcpy(feat, w->slot[net->feat_slot], net->dim * sizeof *feat);
}

static void ws_task(void *arg, size_t t) {
    tfl_backend *s = arg;
    for (size_t p = t; p < s->n; p += s->nws) run_patch(s, &s->ws[t], s->in + p * PATCH_FLOATS, s->out + p * s->net->dim);
}

/* One layer of one patch split among the threads (fewer patches than threads). */
typedef struct layer_job {
    const tfl_backend *s;
    size_t li, per, units;
} layer_job;

static void layer_task(void *arg, size_t t) {
    const layer_job *j = arg;
    size_t u0 = t * j->per, u1 = u0 + j->per < j->units ? u0 + j->per : j->units;
    if (u0 < u1) run_units(j->s, j->li, &j->s->ws[0], u0, u1);
}

static void run_patch_split(const tfl_backend *s, const float *patch, float *feat) {
    const polyp_tfl_net *net = s->net;
    const size_t threads = (size_t)s->par->n_threads, mr = s->k->mr;
    load_input(net, patch, s->ws[0].slot[net->in_slot]);
    for (size_t li = 0; li < net->nlayers; li++) {
        const polyp_tn_layer *L = &net->layers[li];
        layer_job j = {s, li, 0, layer_units(L)};
        /* two chunks a thread; gemm chunks in whole micro-tiles of rows */
        size_t chunks = j.units < 2 * threads ? j.units : 2 * threads;
        j.per = (j.units + chunks - 1) / chunks;
        if (L->kind == POLYP_TN_CONV || L->kind == POLYP_TN_ADD) j.per = (j.per + mr - 1) / mr * mr;
        chunks = (j.units + j.per - 1) / j.per;
        if (chunks > 1) polyp_parallel_for(s->par, layer_task, &j, chunks);
        else run_units(s, li, &s->ws[0], 0, j.units);
    }
    memcpy(feat, s->ws[0].slot[net->feat_slot], net->dim * sizeof *feat);
}

static polyp_status tfl_run(void *state, const float *in, size_t n, float *out, polyp_error *err) {
    tfl_backend *s = state;
    if (!s || !in || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite backend: NULL argument");
    if (n > s->batch)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite backend: %zu patches exceed the batch size %zu", n, s->batch);
    /* Whole patches per thread for as many patches as divide evenly among the workspaces
     * (no barrier between layers); the rest one at a time, each layer split among the
     * threads, so a single patch (one point per image) still uses them all. */
    const size_t whole = n / s->nws * s->nws;
    s->in = in;
    s->out = out;
    s->n = whole;
    if (whole) polyp_parallel_for(s->par, ws_task, s, s->nws);
    for (size_t p = whole; p < n; p++) run_patch_split(s, in + p * PATCH_FLOATS, out + p * s->net->dim);
    return POLYP_OK;
}

static void tfl_free(void *state) {
    tfl_backend *s = state;
    if (!s) return;
    polyp_aligned_free(s->arena);
    free(s->gemm);
    free(s->ws);
    free(s);
}

static void layout(tfl_backend *s, float *base, size_t *used) {
    const polyp_tfl_net *net = s->net;
    const size_t nr = s->k->nr;
    for (size_t li = 0; li < net->nlayers; li++) {
        const polyp_tn_layer *L = &net->layers[li];
        if (L->kind != POLYP_TN_CONV) continue;
        polyp_gemm *g = &s->gemm[li];
        const size_t kk = L->k * L->k * L->c;
        float *panels = polyp_arena_take(base, used, polyp_pack_panel_floats(L->co, kk, nr));
        float *bias = polyp_arena_take(base, used, polyp_pack_bias_floats(L->co, nr));
        g->n = L->co;
        g->k = kk;
        g->panels = panels;
        g->bias = bias;
        g->lo = L->lo;
        g->hi = L->hi;
        if (base) polyp_pack_1x1(L->wt, L->bias, L->co, kk, nr, panels, bias);
    }
    for (size_t q = 0; q < s->nws; q++) {
        for (size_t i = 0; i < net->nslots; i++) s->ws[q].slot[i] = polyp_arena_take(base, used, net->slot_floats);
        s->ws[q].im2col = net->im2col_floats ? polyp_arena_take(base, used, net->im2col_floats) : NULL;
    }
}

static polyp_status tfl_init(const polyp_weights *w, const polyp_extractor_params *params, void **state,
                               polyp_error *err) {
    *state = NULL;
    const polyp_tfl_net *net = w ? w->net : NULL;
    if (!net || !params) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite backend: no TFLite network");
    const polyp_kernels *k = polyp_kernels_best();
    if (params->kernels && strcmp(params->kernels, "auto") != 0 && !(k = polyp_kernels_find(params->kernels)))
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "tflite backend: kernel table '%s' is not available in this build "
                          "on this CPU", params->kernels);
    if (params->batch_size == 0 || params->batch_size > 4096)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite backend: batch size %zu (1..4096)", params->batch_size);
    if (net->nslots > 16) return polyp_fail(err, POLYP_ERR_LIMIT, "tflite backend: %zu activation slots", net->nslots);
    tfl_backend *s = calloc(1, sizeof *s);
    if (!s) return polyp_fail(err, POLYP_ERR_NOMEM, "tflite backend: out of memory");
    s->net = net;
    s->k = k;
    s->par = params->parallel;
    s->batch = params->batch_size;
    size_t threads = s->par && s->par->n_threads > 1 ? (size_t)s->par->n_threads : 1;
    s->nws = threads < s->batch ? threads : s->batch;
    s->gemm = calloc(net->nlayers ? net->nlayers : 1, sizeof *s->gemm);
    s->ws = calloc(s->nws, sizeof *s->ws);
    size_t floats = 0, bytes;
    if (s->gemm && s->ws) layout(s, NULL, &floats);
    if (!s->gemm || !s->ws || !polyp_mul_ok(floats, sizeof(float), &bytes) || !(s->arena = polyp_aligned_alloc(bytes))) {
        tfl_free(s);
        return polyp_fail(err, POLYP_ERR_NOMEM, "tflite backend: out of memory (%zu MB)", floats / 262144);
    }
    floats = 0;
    layout(s, s->arena, &floats);
    *state = s;
    return POLYP_OK;
}

const polyp_backend_ops polyp_backend_tflite_ops = {"portable", tfl_init, tfl_run, tfl_free, NULL};
