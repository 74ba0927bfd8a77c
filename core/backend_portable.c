/* backend_portable.c - the reference backend: EfficientNet-B0 in C11, NHWC float32, over the
 * SIMD kernels of kernels.h (scalar, 4-wide vector extensions = SSE2 / NEON / wasm SIMD128,
 * AVX2 + FMA, AVX-512; the fastest the CPU has is chosen at init time).
 *
 * Every other backend is tested against this one. 1x1 convolutions (expand, project, head;
 * ~90% of the multiply-adds) are a register-blocked matrix product over weights packed into
 * panels at init time, with bias + swish (or the residual add) fused into its epilogue;
 * the depthwise convolution fuses bias + swish and the per-row sums squeeze-excite needs;
 * the squeeze-excite gate is applied to the project conv's input rows just before they are
 * multiplied (while they are in cache). All buffers are allocated once at init time, one
 * set of activations per patch in flight (min(batch, threads)); run() allocates nothing.
 *
 * Parallelism: each layer runs as tasks (patch x chunk of rows or pixels) through the
 * caller's polyp_parallel, so batches and single patches both use the threads. Every output
 * value is computed by the same instructions in the same order whatever the chunking, and
 * reductions (SE and head means) sum per row and then over rows in a fixed order: results
 * are bit-identical for any thread count and batch size. */
#include "backend_portable.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(POLYP_STEM_CH == 32, "the stem kernel computes exactly 32 output channels");

typedef struct layer_dims {
    size_t h, w;       /* block input */
    size_t ho, wo;     /* after the depthwise conv */
    size_t pad_top, pad_left;
} layer_dims;

typedef struct patch_buf {
    float *x, *y;      /* block input / output (ping-pong), NHWC */
    float *e;          /* expanded activation [h][w][hidden]; also the head's [7][7][1280] */
    float *d;          /* depthwise output [ho][wo][hidden] */
    float *row_sums;   /* depthwise output summed over each row [ho][hidden] */
    float *gate;       /* SE mean, then gate [hidden] */
    float *se_mid;     /* SE hidden [se] */
} patch_buf;

/* The weights in the layouts the kernels read, for one kernel table (its panel width): built
 * by the first extractor on these weights and this table, and shared by every later one (a
 * polyp_weights_cache entry keyed by the table; the weights free it). Read-only once built. */
typedef struct packed {
    polyp_weights_cache base;          /* first: the cache entry */
    float *arena;                      /* owns every array below */
    float *stem_w;                     /* [ky][kx][ci][32] */
    polyp_gemm expand[POLYP_EFFNET_BLOCKS], project[POLYP_EFFNET_BLOCKS], head;
    float *se_expand_t[POLYP_EFFNET_BLOCKS]; /* SE expand transposed: [se][hidden] */
} packed;

typedef struct portable {
    const polyp_weights *w;
    const polyp_kernels *k;
    const polyp_parallel *par;
    const packed *pk;                  /* shared, the weights' (see packed) */
    size_t batch;
    size_t stem_hw;                    /* 112 */
    size_t stem_pad;                   /* top/left padding of the stem */
    layer_dims dims[POLYP_EFFNET_BLOCKS];
    patch_buf *bufs;                   /* nbufs sets of activations (see slot_claim) */
    atomic_flag *busy;                 /* per set: claimed by a whole-patch task */
    size_t nbufs;                      /* min(batch, threads): the patches in flight at once */
    float *arena;                      /* owns the activations of bufs */
} portable;

/* Squeeze-excite gate of one patch from the depthwise row sums:
 * gate = sigmoid(We swish(Wr mean + br) + be). */
static void se_gate(const portable *s, int bi, patch_buf *b) {
    const polyp_block_params *p = &s->w->blocks[bi];
    const layer_dims *d = &s->dims[bi];
    const polyp_kernels *k = s->k;
    const size_t C = (size_t)p->spec.hidden, S = (size_t)p->spec.se;
    float *mean = b->gate; /* reused: the mean is consumed before the gate is written */
    k->mean_rows(b->row_sums, d->ho, C, (float)(d->ho * d->wo), mean);
    for (size_t j = 0; j < S; j++) b->se_mid[j] = k->dot(p->se_reduce_w + j * C, mean, C) + p->se_reduce_b[j];
    k->swish(b->se_mid, S);
    memcpy(b->gate, p->se_expand_b, C * sizeof *b->gate);
    for (size_t j = 0; j < S; j++) k->axpy(b->gate, b->se_mid[j], s->pk->se_expand_t[bi] + j * C, C);
    k->sigmoid(b->gate, C);
}

/* ------------------------------------------------------------------ scheduling */

enum phase { PH_STEM, PH_EXPAND, PH_DW, PH_SE, PH_PROJECT, PH_HEAD, PH_POOL };

typedef struct job {
    portable *s;
    const float *in;
    float *out;
    size_t first, n;   /* patches [first, first + n) of the batch */
    size_t buf0;       /* their activations: bufs[buf0 .. buf0 + n) */
    enum phase phase;
    int block;
    size_t units;      /* rows (or pixels, for the gemm phases) of the output per patch */
    size_t per;        /* units per chunk */
    size_t chunks;     /* chunks per patch */
    size_t lo;         /* first unit of chunk 0 (run_range_here; 0 otherwise) */
} job;

static void task(void *arg, size_t t) {
    job *j = arg;
    portable *s = j->s;
    const polyp_kernels *k = s->k;
    size_t patch = j->first + t / j->chunks, chunk = t % j->chunks;
    size_t u0 = j->lo + chunk * j->per, u1 = u0 + j->per < j->units ? u0 + j->per : j->units;
    patch_buf *b = &s->bufs[j->buf0 + (patch - j->first)];
    if (u0 >= u1) return;
    const polyp_block_params *p = j->block >= 0 ? &s->w->blocks[j->block] : NULL;
    const layer_dims *d = j->block >= 0 ? &s->dims[j->block] : NULL;
    switch (j->phase) {
    case PH_STEM:
        k->stem(j->in + patch * POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3, POLYP_PATCH_SIZE, POLYP_PATCH_SIZE,
                s->stem_pad, s->pk->stem_w, s->w->stem_b, b->x, s->stem_hw, u0, u1);
        break;
    case PH_EXPAND: /* pixels [u0, u1) of the block input */
        k->gemm(&s->pk->expand[j->block], b->x, b->e, NULL, u0, u1, POLYP_ACT_SWISH);
        break;
    case PH_DW: {
        const polyp_dw_shape sh = {d->h, d->w, (size_t)p->spec.hidden, d->ho, d->wo, (size_t)p->spec.kernel,
                                   (size_t)p->spec.stride, d->pad_top, d->pad_left};
        k->dwconv(&sh, p->spec.expand != 1 ? b->e : b->x, p->dw_w, p->dw_b, b->d, b->row_sums, u0, u1);
        break;
    }
    case PH_SE:
        se_gate(s, j->block, b);
        break;
    case PH_PROJECT: { /* gate the input pixels [u0, u1), then project them */
        const size_t C = (size_t)p->spec.hidden;
        bool residual = p->spec.stride == 1 && p->spec.in == p->spec.out;
        k->scale_rows(b->d + u0 * C, b->gate, u1 - u0, C);
        k->gemm(&s->pk->project[j->block], b->d, b->y, residual ? b->x : NULL, u0, u1, POLYP_ACT_NONE);
        break;
    }
    case PH_HEAD:
        k->gemm(&s->pk->head, b->x, b->e, NULL, u0, u1, POLYP_ACT_SWISH);
        break;
    case PH_POOL: {
        const layer_dims *last = &s->dims[POLYP_EFFNET_BLOCKS - 1];
        size_t hw = last->ho * last->wo;
        k->mean_rows(b->e, hw, POLYP_FEATURE_DIM, (float)hw, j->out + patch * POLYP_FEATURE_DIM);
        break;
    }
    }
}

/* Runs one phase over the job's patches: enough chunks that every thread has work even for
 * a single patch, few enough that each task is substantial. align: chunk sizes are
 * multiples of it (the gemm's micro-tile rows, so no chunk splits a tile's work unevenly). */
static void run_phase(job *j, enum phase ph, int block, size_t units, size_t align) {
    size_t threads = (size_t)polyp_parallel_threads(j->s->par);
    size_t chunks = 1;
    if (threads > 1 && ph != PH_SE && ph != PH_POOL) chunks = (2 * threads + j->n - 1) / j->n;
    size_t per = (units + chunks - 1) / chunks;
    per = (per + align - 1) / align * align;
    j->phase = ph;
    j->block = block;
    j->units = units;
    j->per = per;
    j->chunks = (units + per - 1) / per;
    j->lo = 0;
    polyp_parallel_for(j->s->par, task, j, j->n * j->chunks);
}

/* Units [u0, u1) of a phase for the job's single patch on the calling thread. */
static void run_range_here(job *j, enum phase ph, int block, size_t u0, size_t u1) {
    j->phase = ph;
    j->block = block;
    j->units = u1;
    j->per = u1 - u0;
    j->chunks = 1;
    j->lo = u0;
    task(j, 0);
}

/* The same phase for the job's single patch on the calling thread, in one chunk. */
static void run_phase_here(job *j, enum phase ph, int block, size_t units, size_t align) {
    (void)align;
    run_range_here(j, ph, block, 0, units);
}

/* Expansion and depthwise convolution of one block for the job's single patch, in bands of
 * output rows: each band expands just the input rows its windows need beyond those already
 * expanded (about 256 KB of them), then convolves, so the expanded rows are read back from
 * L2 instead of memory (block 2's expansion is 112 x 112 x 96 floats, 4.8 MB). Every value
 * is computed exactly as by the whole-layer phases. */
static void expand_dw_banded(job *j, int bi) {
    const portable *s = j->s;
    const polyp_block_params *p = &s->w->blocks[bi];
    const layer_dims *d = &s->dims[bi];
    const size_t st = (size_t)p->spec.stride, k = (size_t)p->spec.kernel, hid = (size_t)p->spec.hidden;
    const size_t row_bytes = d->w * hid * sizeof(float);
    size_t band = (256u << 10) / (st * row_bytes + 1);
    if (band < 1) band = 1;
    size_t expanded = 0; /* input rows expanded so far */
    for (size_t y0 = 0; y0 < d->ho; y0 += band) {
        const size_t y1 = y0 + band < d->ho ? y0 + band : d->ho;
        /* last input row the band's windows touch, exclusive: (y1 - 1) * st - pad + k */
        const long need = (long)((y1 - 1) * st + k) - (long)d->pad_top;
        const size_t rows = need < 0 ? 0 : (size_t)need > d->h ? d->h : (size_t)need;
        if (rows > expanded) {
            run_range_here(j, PH_EXPAND, bi, expanded * d->w, rows * d->w);
            expanded = rows;
        }
        run_range_here(j, PH_DW, bi, y0, y1);
    }
}

/* The network, phase by phase, over the job's patches. */
static void network(job *j, void (*phase)(job *, enum phase, int, size_t, size_t)) {
    portable *s = j->s;
    const size_t mr = s->k->mr;
    phase(j, PH_STEM, -1, s->stem_hw, 1);
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_params *p = &s->w->blocks[bi];
        const layer_dims *d = &s->dims[bi];
        if (p->spec.expand != 1 && phase == run_phase_here) {
            expand_dw_banded(j, bi);
        } else {
            if (p->spec.expand != 1) phase(j, PH_EXPAND, bi, d->h * d->w, mr);
            phase(j, PH_DW, bi, d->ho, 1);
        }
        phase(j, PH_SE, bi, 1, 1);
        phase(j, PH_PROJECT, bi, d->ho * d->wo, mr);
        for (size_t q = j->buf0; q < j->buf0 + j->n; q++) { /* the output becomes the next block's input */
            float *t = s->bufs[q].x;
            s->bufs[q].x = s->bufs[q].y;
            s->bufs[q].y = t;
        }
    }
    const layer_dims *last = &s->dims[POLYP_EFFNET_BLOCKS - 1];
    phase(j, PH_HEAD, -1, last->ho * last->wo, mr);
    phase(j, PH_POOL, -1, 1, 1);
}

/* A free set of activations for a whole-patch task. At most n_threads tasks run at once
 * (polyp_parallel's contract) and there are min(batch, threads) sets, so one is always
 * free. Sets per thread rather than per patch: one worker thread's batch of 8 reuses one
 * 10 MB set, warm in cache, instead of touching 80 MB. */
static size_t slot_claim(portable *s) {
    for (;;)
        for (size_t q = 0; q < s->nbufs; q++)
            if (!atomic_flag_test_and_set_explicit(&s->busy[q], memory_order_acquire)) return q;
}

/* One whole patch per task: no barrier between layers. */
static void patch_task(void *arg, size_t i) {
    job j = *(const job *)arg;
    j.first = i;
    j.n = 1;
    j.buf0 = slot_claim(j.s);
    network(&j, run_phase_here);
    atomic_flag_clear_explicit(&j.s->busy[j.buf0], memory_order_release);
}

static polyp_status portable_run(void *state, const float *in, size_t n, float *out, polyp_error *err) {
    portable *s = state;
    if (!s || !in || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: NULL argument");
    if (n > s->batch)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: %zu patches exceed the batch size %zu", n, s->batch);
    if (n == 0) return POLYP_OK;
    /* Whole patches per task for as many patches as divide evenly among the threads: one
     * barrier per batch instead of ~66 (one per layer), which matters where waking threads
     * is dear (wasm workers) or a core is shared, and one patch's ~10 MB of activations stay
     * in cache from layer to layer (layer by layer over a batch of 8 they do not). The
     * remaining patches run layer by layer, each layer split among the threads. Either way
     * every value is computed by the same instructions. */
    size_t threads = (size_t)polyp_parallel_threads(s->par);
    size_t whole = n / threads * threads;
    job j = {s, in, out, 0, whole, 0, PH_STEM, -1, 0, 1, 1, 0};
    if (whole) polyp_parallel_for(s->par, patch_task, &j, whole);
    if (whole < n) { /* fewer than `threads` patches, so at most nbufs: sets [0, n - whole) */
        j.first = whole;
        j.n = n - whole;
        j.buf0 = 0;
        network(&j, run_phase);
    }
    return POLYP_OK;
}

/* ------------------------------------------------------------------ init / free */

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }

static void portable_free(void *state) {
    portable *s = state;
    if (!s) return;
    polyp_aligned_free(s->arena);
    free(s->bufs);
    free(s->busy);
    free(s);
}

/* Carves n floats (64-byte aligned) from the arena; a NULL base only counts. */
static float *carve(float *base, size_t *used, size_t n) {
    float *p = base ? base + *used : NULL;
    *used += r16(n);
    return p;
}

static void pack_gemm(size_t nr, polyp_gemm *g, const float *w, const float *bias, size_t n, size_t k, float *base,
                      size_t *used) {
    float *panels = carve(base, used, polyp_pack_panel_floats(n, k, nr));
    float *b = carve(base, used, polyp_pack_bias_floats(n, nr));
    g->n = n;
    g->k = k;
    g->panels = panels;
    g->bias = b;
    if (base) polyp_pack_1x1(w, bias, n, k, nr, panels, b);
}

/* Lays out (and with a base, fills) the packed weights (base NULL: sizing pass). */
static void layout_packed(const polyp_weights *w, size_t nr, packed *pk, float *base, size_t *used) {
    pk->stem_w = carve(base, used, 9 * 3 * POLYP_STEM_CH);
    if (base) /* OHWI [32][3][3][3] -> [ky][kx][ci][32] */
        for (size_t o = 0; o < POLYP_STEM_CH; o++)
            for (size_t q = 0; q < 27; q++) pk->stem_w[q * POLYP_STEM_CH + o] = w->stem_w[o * 27 + q];
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_params *p = &w->blocks[bi];
        size_t hid = (size_t)p->spec.hidden, se = (size_t)p->spec.se;
        if (p->spec.expand != 1)
            pack_gemm(nr, &pk->expand[bi], p->expand_w, p->expand_b, hid, (size_t)p->spec.in, base, used);
        pack_gemm(nr, &pk->project[bi], p->project_w, p->project_b, (size_t)p->spec.out, hid, base, used);
        pk->se_expand_t[bi] = carve(base, used, se * hid);
        if (base) /* [hidden][se] -> [se][hidden] */
            for (size_t c = 0; c < hid; c++)
                for (size_t q = 0; q < se; q++) pk->se_expand_t[bi][q * hid + c] = p->se_expand_w[c * se + q];
    }
    pack_gemm(nr, &pk->head, w->head_w, w->head_b, POLYP_FEATURE_DIM, POLYP_HEAD_IN, base, used);
}

static void packed_free(polyp_weights_cache *e) {
    packed *pk = (packed *)e;
    polyp_aligned_free(pk->arena);
    free(pk);
}

/* The packed weights of w for kernel table k: the shared copy, built on first use. */
static const packed *get_packed(const polyp_weights *w, const polyp_kernels *k, polyp_error *err) {
    polyp_weights_cache *c = polyp_weights_cache_find(w, k);
    if (c) return (const packed *)c;
    packed *pk = calloc(1, sizeof *pk);
    size_t floats = 0, bytes;
    if (pk) layout_packed(w, k->nr, pk, NULL, &floats);
    if (!pk || !polyp_mul_ok(floats, sizeof(float), &bytes) || !(pk->arena = polyp_aligned_alloc(bytes))) {
        free(pk);
        polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory for the packed weights");
        return NULL;
    }
    floats = 0;
    layout_packed(w, k->nr, pk, pk->arena, &floats);
    pk->base.key = k;
    pk->base.free = packed_free;
    return (const packed *)polyp_weights_cache_publish(w, &pk->base);
}

/* Lays out the activations, one set per patch in flight (base NULL: sizing pass). */
static void layout_bufs(portable *s, float *base, size_t *used) {
    const polyp_weights *w = s->w;
    size_t max_x = s->stem_hw * s->stem_hw * POLYP_STEM_CH, max_e = 0, max_d = 0, max_c = 0, max_se = 0, max_rs = 0;
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_params *p = &w->blocks[bi];
        const layer_dims *d = &s->dims[bi];
        size_t hid = (size_t)p->spec.hidden, se = (size_t)p->spec.se;
        if (p->spec.expand != 1 && d->h * d->w * hid > max_e) max_e = d->h * d->w * hid;
        if (d->ho * d->wo * hid > max_d) max_d = d->ho * d->wo * hid;
        if (d->ho * hid > max_rs) max_rs = d->ho * hid;
        if (d->ho * d->wo * (size_t)p->spec.out > max_x) max_x = d->ho * d->wo * (size_t)p->spec.out;
        if (hid > max_c) max_c = hid;
        if (se > max_se) max_se = se;
    }
    const layer_dims *last = &s->dims[POLYP_EFFNET_BLOCKS - 1];
    if (last->ho * last->wo * POLYP_FEATURE_DIM > max_e) max_e = last->ho * last->wo * POLYP_FEATURE_DIM;
    for (size_t q = 0; q < s->nbufs; q++) {
        patch_buf *b = &s->bufs[q];
        b->x = carve(base, used, max_x);
        b->y = carve(base, used, max_x);
        b->e = carve(base, used, max_e);
        b->d = carve(base, used, max_d);
        b->row_sums = carve(base, used, max_rs);
        b->gate = carve(base, used, max_c);
        b->se_mid = carve(base, used, max_se);
    }
}

polyp_status polyp_backend_portable_init_with(const polyp_weights *w, const polyp_extractor_params *params,
                                              const polyp_kernels *kernels, void **state, polyp_error *err) {
    *state = NULL;
    if (!w || !params || !kernels) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: NULL argument");
    if (params->batch_size == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: batch size 0");
    if (params->batch_size > 4096)
        return polyp_fail(err, POLYP_ERR_LIMIT, "portable backend: batch size %zu exceeds 4096", params->batch_size);
    portable *s = calloc(1, sizeof *s);
    if (!s) return polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory");
    s->w = w;
    s->k = kernels;
    s->par = params->parallel;
    s->batch = params->batch_size;
    size_t threads = (size_t)polyp_parallel_threads(s->par);
    s->nbufs = threads < s->batch ? threads : s->batch;
    s->bufs = calloc(s->nbufs, sizeof *s->bufs);
    s->busy = malloc(s->nbufs * sizeof *s->busy);
    if (s->busy)
        for (size_t q = 0; q < s->nbufs; q++) atomic_flag_clear(&s->busy[q]);
    if (!s->bufs || !s->busy) {
        portable_free(s);
        return polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory");
    }
    /* Spatial sizes from the padding rule: out = (in + before + after - k) / stride + 1. */
    int pb, pa;
    polyp_effnet_padding(3, 2, w->tf_same_padding, POLYP_PATCH_SIZE, &pb, &pa);
    s->stem_pad = (size_t)pb;
    s->stem_hw = (size_t)(POLYP_PATCH_SIZE + pb + pa - 3) / 2 + 1;
    size_t h = s->stem_hw;
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_spec *sp = &w->blocks[bi].spec;
        layer_dims *d = &s->dims[bi];
        polyp_effnet_padding(sp->kernel, sp->stride, w->tf_same_padding, (int)h, &pb, &pa);
        d->h = d->w = h;
        d->pad_top = d->pad_left = (size_t)pb;
        d->ho = d->wo = (h + (size_t)pb + (size_t)pa - (size_t)sp->kernel) / (size_t)sp->stride + 1;
        h = d->ho;
    }
    if (!(s->pk = get_packed(w, kernels, err))) {
        portable_free(s);
        return POLYP_ERR_NOMEM;
    }
    size_t floats = 0, bytes;
    layout_bufs(s, NULL, &floats);
    if (!polyp_mul_ok(floats, sizeof(float), &bytes) || !(s->arena = polyp_aligned_alloc(bytes))) {
        portable_free(s);
        return polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory (%zu MB for batch %zu)",
                          floats / (262144), params->batch_size);
    }
    floats = 0;
    layout_bufs(s, s->arena, &floats);
    *state = s;
    return POLYP_OK;
}

const char *polyp_backend_portable_kernels(const void *state) {
    const portable *s = state;
    return s ? s->k->name : NULL;
}

static polyp_status portable_init(const polyp_weights *w, const polyp_extractor_params *params, void **state,
                                  polyp_error *err) {
    const polyp_kernels *k = polyp_kernels_best();
    if (params && params->kernels && strcmp(params->kernels, "auto") != 0) {
        k = polyp_kernels_find(params->kernels);
        if (!k) {
            *state = NULL;
            return polyp_fail(err, POLYP_ERR_UNSUPPORTED,
                              "portable backend: kernel table '%s' is not available in this build on this CPU",
                              params->kernels);
        }
    }
    return polyp_backend_portable_init_with(w, params, k, state, err);
}

const polyp_backend_ops polyp_backend_portable_ops = {"portable", portable_init, portable_run, portable_free, NULL};
