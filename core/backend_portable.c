/* backend_portable.c - the reference backend: EfficientNet-B0 in plain C11, NHWC float32.
 *
 * Every other backend is tested against this one, so it favours clarity and determinism,
 * but it is not naive: 1x1 convolutions (expand, project, head; ~90% of the FLOPs) are a
 * register-blocked matrix product over weights packed into 8-wide panels at create time,
 * the depthwise convolution streams contiguous channel vectors, and bias + swish (+ the
 * residual) are fused into the producing loop. All activation buffers are allocated once at
 * create time for the batch size; run() allocates nothing.
 *
 * Parallelism: each layer runs as tasks (patch x row chunk) through the caller's
 * polyp_parallel, so batches and single patches both use the threads. Every output value is
 * computed by the same instructions in the same order whatever the chunking, and reductions
 * (SE and head means) run per patch in a fixed order: results are bit-identical for any
 * thread count. */
#include "effnet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NR 8 /* output channels per panel (one or two SIMD registers) */
#define MR 4 /* rows per micro-tile */

enum { ACT_NONE, ACT_SWISH };

static inline float swish(float x) { return x / (1.0f + expf(-x)); }
static inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* A 1x1 convolution packed for gemm: panels[(t * k + i) * NR + j] = W[t * NR + j][i]
 * (zero for channels past n); bias padded the same way. */
typedef struct packed_1x1 {
    size_t n, k;
    float *panels;
    float *bias;
} packed_1x1;

typedef struct layer_dims {
    size_t h, w;       /* block input */
    size_t ho, wo;     /* after the depthwise conv */
    int pad_top, pad_left;
} layer_dims;

typedef struct patch_buf {
    float *x, *y;      /* block input / output (ping-pong), NHWC */
    float *e;          /* expanded activation [h][w][hidden]; also the head's [7][7][1280] */
    float *d;          /* depthwise output [ho][wo][hidden] */
    float *gate;       /* SE gate [hidden] */
    float *se_mid;     /* SE hidden [se] */
} patch_buf;

typedef struct portable {
    const polyp_weights *w;
    const polyp_parallel *par;
    size_t batch;
    size_t stem_hw;                    /* 112 */
    int stem_pad;                      /* top/left padding of the stem */
    float *stem_w;                     /* [ky][kx][ci][32] */
    packed_1x1 expand[POLYP_EFFNET_BLOCKS], project[POLYP_EFFNET_BLOCKS], head;
    layer_dims dims[POLYP_EFFNET_BLOCKS];
    patch_buf *bufs;                   /* one per patch of a batch */
    float *arena;                      /* owns every buffer above */
} portable;

/* ------------------------------------------------------------------ kernels */

/* C[m][n] = act(bias[n] + sum_i A[m][i] * W[n][i]) (+ R[m][n]) for rows [m0, m1).
 * A: [rows][k], C and R: [rows][n] (R may be NULL). */
static void gemm_rows(const float *a, const packed_1x1 *p, float *c, const float *r, size_t m0, size_t m1, int act) {
    const size_t k = p->k, n = p->n, tiles = (n + NR - 1) / NR;
    for (size_t m = m0; m < m1; m += MR) {
        size_t rows = m1 - m < MR ? m1 - m : MR;
        const float *a0 = a + m * k, *a1 = a0 + (rows > 1 ? k : 0), *a2 = a0 + (rows > 2 ? 2 * k : 0),
                    *a3 = a0 + (rows > 3 ? 3 * k : 0);
        for (size_t t = 0; t < tiles; t++) {
            const float *wp = p->panels + t * k * NR;
            float acc0[NR] = {0}, acc1[NR] = {0}, acc2[NR] = {0}, acc3[NR] = {0};
            for (size_t i = 0; i < k; i++) {
                const float *wv = wp + i * NR;
                const float v0 = a0[i], v1 = a1[i], v2 = a2[i], v3 = a3[i];
                for (int j = 0; j < NR; j++) {
                    acc0[j] += v0 * wv[j];
                    acc1[j] += v1 * wv[j];
                    acc2[j] += v2 * wv[j];
                    acc3[j] += v3 * wv[j];
                }
            }
            float *accs[MR] = {acc0, acc1, acc2, acc3};
            size_t n0 = t * NR, nn = n - n0 < NR ? n - n0 : NR;
            for (size_t q = 0; q < rows; q++) {
                float *out = c + (m + q) * n + n0;
                const float *res = r ? r + (m + q) * n + n0 : NULL;
                for (size_t j = 0; j < nn; j++) {
                    float v = accs[q][j] + p->bias[n0 + j];
                    if (act == ACT_SWISH) v = swish(v);
                    if (res) v += res[j];
                    out[j] = v;
                }
            }
        }
    }
}

/* Stem: 3x3 stride 2, 3 -> 32 channels, + bias + swish, output rows [y0, y1). Input
 * [224][224][3], output [112][112][32]; padding top/left = pad, the rest implicit. */
static void stem_rows(const portable *s, const float *in, float *out, size_t y0, size_t y1) {
    const size_t H = POLYP_PATCH_SIZE, W = POLYP_PATCH_SIZE, HO = s->stem_hw, C = POLYP_STEM_CH;
    const float *bias = s->w->stem_b;
    for (size_t oy = y0; oy < y1; oy++)
        for (size_t ox = 0; ox < HO; ox++) {
            float acc[POLYP_STEM_CH] = {0};
            for (int ky = 0; ky < 3; ky++) {
                long iy = (long)(oy * 2) - s->stem_pad + ky;
                if (iy < 0 || iy >= (long)H) continue;
                for (int kx = 0; kx < 3; kx++) {
                    long ix = (long)(ox * 2) - s->stem_pad + kx;
                    if (ix < 0 || ix >= (long)W) continue;
                    const float *px = in + ((size_t)iy * W + (size_t)ix) * 3;
                    const float *wk = s->stem_w + (size_t)(ky * 3 + kx) * 3 * C;
                    for (size_t ci = 0; ci < 3; ci++)
                        for (size_t o = 0; o < C; o++) acc[o] += px[ci] * wk[ci * C + o];
                }
            }
            float *o = out + (oy * HO + ox) * C;
            for (size_t c = 0; c < C; c++) o[c] = swish(acc[c] + bias[c]);
        }
}

/* Depthwise kxk (stride 1 or 2) + bias + swish for output rows [y0, y1). in [h][w][c],
 * weights [k][k][c], out [ho][wo][c]; explicit top/left padding, bottom/right implicit. */
static void depthwise_rows(const float *in, const polyp_block_params *p, const layer_dims *d, float *out, size_t y0,
                           size_t y1) {
    const size_t C = (size_t)p->spec.hidden, k = (size_t)p->spec.kernel, st = (size_t)p->spec.stride;
    for (size_t oy = y0; oy < y1; oy++)
        for (size_t ox = 0; ox < d->wo; ox++) {
            float *o = out + (oy * d->wo + ox) * C;
            for (size_t c = 0; c < C; c++) o[c] = 0.0f;
            for (size_t ky = 0; ky < k; ky++) {
                long iy = (long)(oy * st) - d->pad_top + (long)ky;
                if (iy < 0 || iy >= (long)d->h) continue;
                for (size_t kx = 0; kx < k; kx++) {
                    long ix = (long)(ox * st) - d->pad_left + (long)kx;
                    if (ix < 0 || ix >= (long)d->w) continue;
                    const float *x = in + ((size_t)iy * d->w + (size_t)ix) * C;
                    const float *wk = p->dw_w + (ky * k + kx) * C;
                    for (size_t c = 0; c < C; c++) o[c] += x[c] * wk[c];
                }
            }
            for (size_t c = 0; c < C; c++) o[c] = swish(o[c] + p->dw_b[c]);
        }
}

/* Squeeze-excite on one patch: gate = sigmoid(We swish(Wr mean(d) + br) + be), d *= gate. */
static void squeeze_excite(const polyp_block_params *p, size_t hw, float *d, patch_buf *b) {
    const size_t C = (size_t)p->spec.hidden, S = (size_t)p->spec.se;
    double sum[1152]; /* widest hidden layer of B0 (192 * 6) */
    for (size_t c = 0; c < C; c++) sum[c] = 0.0;
    for (size_t i = 0; i < hw; i++)
        for (size_t c = 0; c < C; c++) sum[c] += d[i * C + c];
    float *mean = b->gate; /* reused: the mean is consumed before the gate is written */
    for (size_t c = 0; c < C; c++) mean[c] = (float)(sum[c] / (double)hw);
    for (size_t j = 0; j < S; j++) {
        const float *wr = p->se_reduce_w + j * C;
        float acc = 0.0f;
        for (size_t c = 0; c < C; c++) acc += wr[c] * mean[c];
        b->se_mid[j] = swish(acc + p->se_reduce_b[j]);
    }
    for (size_t c = 0; c < C; c++) {
        const float *we = p->se_expand_w + c * S;
        float acc = 0.0f;
        for (size_t j = 0; j < S; j++) acc += we[j] * b->se_mid[j];
        b->gate[c] = sigmoid(acc + p->se_expand_b[c]);
    }
    for (size_t i = 0; i < hw; i++)
        for (size_t c = 0; c < C; c++) d[i * C + c] *= b->gate[c];
}

/* ------------------------------------------------------------------ scheduling */

enum phase { PH_STEM, PH_EXPAND, PH_DW, PH_SE, PH_PROJECT, PH_HEAD, PH_POOL };

typedef struct job {
    portable *s;
    const float *in;
    float *out;
    size_t n;          /* patches in this run */
    enum phase phase;
    int block;
    size_t rows;       /* rows of the phase's output per patch */
    size_t chunks;     /* row chunks per patch */
} job;

static void task(void *arg, size_t t) {
    job *j = arg;
    portable *s = j->s;
    size_t patch = t / j->chunks, chunk = t % j->chunks;
    size_t per = (j->rows + j->chunks - 1) / j->chunks;
    size_t y0 = chunk * per, y1 = y0 + per < j->rows ? y0 + per : j->rows;
    patch_buf *b = &s->bufs[patch];
    if (y0 >= y1 && j->phase != PH_SE && j->phase != PH_POOL) return;
    const polyp_block_params *p = j->block >= 0 ? &s->w->blocks[j->block] : NULL;
    const layer_dims *d = j->block >= 0 ? &s->dims[j->block] : NULL;
    switch (j->phase) {
    case PH_STEM:
        stem_rows(s, j->in + patch * POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3, b->x, y0, y1);
        break;
    case PH_EXPAND: /* rows of the input image: pixels [y0*w, y1*w) */
        gemm_rows(b->x, &s->expand[j->block], b->e, NULL, y0 * d->w, y1 * d->w, ACT_SWISH);
        break;
    case PH_DW:
        depthwise_rows(p->spec.expand != 1 ? b->e : b->x, p, d, b->d, y0, y1);
        break;
    case PH_SE:
        squeeze_excite(p, d->ho * d->wo, b->d, b);
        break;
    case PH_PROJECT: {
        bool residual = p->spec.stride == 1 && p->spec.in == p->spec.out;
        gemm_rows(b->d, &s->project[j->block], b->y, residual ? b->x : NULL, y0 * d->wo, y1 * d->wo, ACT_NONE);
        break;
    }
    case PH_HEAD: {
        const layer_dims *last = &s->dims[POLYP_EFFNET_BLOCKS - 1];
        gemm_rows(b->x, &s->head, b->e, NULL, y0 * last->wo, y1 * last->wo, ACT_SWISH);
        break;
    }
    case PH_POOL: {
        const layer_dims *last = &s->dims[POLYP_EFFNET_BLOCKS - 1];
        size_t hw = last->ho * last->wo;
        float *o = j->out + patch * POLYP_FEATURE_DIM;
        for (size_t c = 0; c < POLYP_FEATURE_DIM; c++) {
            double acc = 0.0;
            for (size_t i = 0; i < hw; i++) acc += b->e[i * POLYP_FEATURE_DIM + c];
            o[c] = (float)(acc / (double)hw);
        }
        break;
    }
    }
}

/* Runs one phase over all patches: enough row chunks that every thread has work even for a
 * single patch, few enough that each task is substantial. */
static void run_phase(job *j, enum phase ph, int block, size_t rows) {
    size_t threads = j->s->par && j->s->par->n_threads > 1 ? (size_t)j->s->par->n_threads : 1;
    size_t chunks = 1;
    if (threads > 1 && ph != PH_SE && ph != PH_POOL) {
        chunks = (2 * threads + j->n - 1) / j->n;
        if (chunks > rows) chunks = rows;
        if (chunks < 1) chunks = 1;
    }
    j->phase = ph;
    j->block = block;
    j->rows = rows;
    j->chunks = chunks;
    polyp_parallel_for(j->s->par, task, j, j->n * chunks);
}

static polyp_status portable_run(void *state, const float *in, size_t n, float *out, polyp_error *err) {
    portable *s = state;
    if (!s || !in || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: NULL argument");
    if (n > s->batch)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: %zu patches exceed the batch size %zu", n, s->batch);
    if (n == 0) return POLYP_OK;
    job j = {s, in, out, n, PH_STEM, -1, 0, 1};
    run_phase(&j, PH_STEM, -1, s->stem_hw);
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_params *p = &s->w->blocks[bi];
        if (p->spec.expand != 1) run_phase(&j, PH_EXPAND, bi, s->dims[bi].h);
        run_phase(&j, PH_DW, bi, s->dims[bi].ho);
        run_phase(&j, PH_SE, bi, 1);
        run_phase(&j, PH_PROJECT, bi, s->dims[bi].ho);
        for (size_t q = 0; q < n; q++) { /* the output becomes the next block's input */
            float *t = s->bufs[q].x;
            s->bufs[q].x = s->bufs[q].y;
            s->bufs[q].y = t;
        }
    }
    run_phase(&j, PH_HEAD, -1, s->dims[POLYP_EFFNET_BLOCKS - 1].ho);
    run_phase(&j, PH_POOL, -1, 1);
    return POLYP_OK;
}

/* ------------------------------------------------------------------ create / destroy */

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }

static void portable_destroy(void *state) {
    portable *s = state;
    if (!s) return;
    polyp_aligned_free(s->arena);
    free(s->bufs);
    free(s);
}

/* Carves n floats (64-byte aligned) from the arena; a NULL base only counts. */
static float *carve(float *base, size_t *used, size_t n) {
    float *p = base ? base + *used : NULL;
    *used += r16(n);
    return p;
}

static void pack_1x1(packed_1x1 *p, const float *w, const float *bias, size_t n, size_t k, float *base, size_t *used) {
    size_t tiles = (n + NR - 1) / NR;
    p->n = n;
    p->k = k;
    p->panels = carve(base, used, tiles * NR * k);
    p->bias = carve(base, used, tiles * NR);
    if (!base) return;
    for (size_t t = 0; t < tiles; t++)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < NR; j++) {
                size_t o = t * NR + j;
                p->panels[(t * k + i) * NR + j] = o < n ? w[o * k + i] : 0.0f;
            }
    for (size_t o = 0; o < tiles * NR; o++) p->bias[o] = o < n ? bias[o] : 0.0f;
}

/* Lays out packed weights and per-patch buffers (base NULL: sizing pass). */
static void layout(portable *s, float *base, size_t *used) {
    const polyp_weights *w = s->w;
    s->stem_w = carve(base, used, 9 * 3 * POLYP_STEM_CH);
    if (base) /* OHWI [32][3][3][3] -> [ky][kx][ci][32] */
        for (size_t o = 0; o < POLYP_STEM_CH; o++)
            for (size_t q = 0; q < 27; q++) s->stem_w[q * POLYP_STEM_CH + o] = w->stem_w[o * 27 + q];
    size_t max_x = s->stem_hw * s->stem_hw * POLYP_STEM_CH, max_e = 0, max_d = 0, max_c = 0, max_se = 0;
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_params *p = &w->blocks[bi];
        const layer_dims *d = &s->dims[bi];
        size_t hid = (size_t)p->spec.hidden;
        if (p->spec.expand != 1) {
            pack_1x1(&s->expand[bi], p->expand_w, p->expand_b, hid, (size_t)p->spec.in, base, used);
            if (d->h * d->w * hid > max_e) max_e = d->h * d->w * hid;
        }
        pack_1x1(&s->project[bi], p->project_w, p->project_b, (size_t)p->spec.out, hid, base, used);
        if (d->ho * d->wo * hid > max_d) max_d = d->ho * d->wo * hid;
        if (d->ho * d->wo * (size_t)p->spec.out > max_x) max_x = d->ho * d->wo * (size_t)p->spec.out;
        if (hid > max_c) max_c = hid;
        if ((size_t)p->spec.se > max_se) max_se = (size_t)p->spec.se;
    }
    pack_1x1(&s->head, w->head_w, w->head_b, POLYP_FEATURE_DIM, POLYP_HEAD_IN, base, used);
    const layer_dims *last = &s->dims[POLYP_EFFNET_BLOCKS - 1];
    if (last->ho * last->wo * POLYP_FEATURE_DIM > max_e) max_e = last->ho * last->wo * POLYP_FEATURE_DIM;
    for (size_t q = 0; q < s->batch; q++) {
        patch_buf *b = &s->bufs[q];
        b->x = carve(base, used, max_x);
        b->y = carve(base, used, max_x);
        b->e = carve(base, used, max_e);
        b->d = carve(base, used, max_d);
        b->gate = carve(base, used, max_c);
        b->se_mid = carve(base, used, max_se);
    }
}

static polyp_status portable_create(const polyp_weights *w, const polyp_extractor_params *params, void **state,
                                    polyp_error *err) {
    *state = NULL;
    if (!w || !params) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: NULL argument");
    if (params->batch_size == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "portable backend: batch size 0");
    if (params->batch_size > 4096)
        return polyp_fail(err, POLYP_ERR_LIMIT, "portable backend: batch size %zu exceeds 4096", params->batch_size);
    portable *s = calloc(1, sizeof *s);
    if (!s) return polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory");
    s->w = w;
    s->par = params->parallel;
    s->batch = params->batch_size;
    s->bufs = calloc(s->batch, sizeof *s->bufs);
    if (!s->bufs) {
        portable_destroy(s);
        return polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory");
    }
    /* Spatial sizes from the padding rule: out = (in + before + after - k) / stride + 1. */
    int pb, pa;
    polyp_effnet_padding(3, 2, w->tf_same_padding, POLYP_PATCH_SIZE, &pb, &pa);
    s->stem_pad = pb;
    s->stem_hw = (size_t)(POLYP_PATCH_SIZE + pb + pa - 3) / 2 + 1;
    size_t h = s->stem_hw;
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_spec *sp = &w->blocks[bi].spec;
        layer_dims *d = &s->dims[bi];
        polyp_effnet_padding(sp->kernel, sp->stride, w->tf_same_padding, (int)h, &pb, &pa);
        d->h = d->w = h;
        d->pad_top = d->pad_left = pb;
        d->ho = d->wo = (h + (size_t)pb + (size_t)pa - (size_t)sp->kernel) / (size_t)sp->stride + 1;
        h = d->ho;
    }
    size_t floats = 0, bytes;
    layout(s, NULL, &floats);
    if (!polyp_mul_ok(floats, sizeof(float), &bytes) || !(s->arena = polyp_aligned_alloc(bytes))) {
        portable_destroy(s);
        return polyp_fail(err, POLYP_ERR_NOMEM, "portable backend: out of memory (%zu MB for batch %zu)",
                          floats / (262144), params->batch_size);
    }
    floats = 0;
    layout(s, s->arena, &floats);
    *state = s;
    return POLYP_OK;
}

const polyp_backend_ops polyp_backend_portable_ops = {"portable", portable_create, portable_run, portable_destroy};
