/* weights.c - loads network weights (format detected from the bytes: safetensors, PyTorch
 * checkpoints via torch_ckpt.h, TFLite) and EfficientNet-B0 from safetensors: checks every tensor (presence, dtype,
 * shape, finite values), folds batch norm into the convolutions and re-lays the parameters
 * out for NHWC kernels (effnet.h) in one 64-byte-aligned arena. */
#include "effnet.h"
#include "effnet_tensors.h"
#include "safetensors.h"
#include "sha256.h"
#include "tflite_net.h"
#include "torch_ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tensors are little-endian F32 at any byte offset: load through bytes. */
static float ld(const polyp_st_tensor *t, size_t i) {
    const uint8_t *p = t->data + 4 * i;
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static bool ignored(const char *name) {
    size_t n = strlen(name);
    static const char suffix[] = ".num_batches_tracked";
    return !strncmp(name, "_fc.", 4) || (n >= sizeof suffix - 1 && !strcmp(name + n - (sizeof suffix - 1), suffix));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Every expected tensor present, F32, exact shape, finite (running_var >= 0); no others
 * except the ignored ones. */
static polyp_status check_tensors(const polyp_st_file *f, const polyp_effnet_tensor *exp, size_t nexp,
                                  polyp_error *err) {
    char want[96], got[96];
    for (size_t i = 0; i < nexp; i++) {
        const polyp_effnet_tensor *e = &exp[i];
        const polyp_st_tensor *t = polyp_st_find(f, e->name);
        polyp_st_shape_str(want, sizeof want, e->ndim, e->shape);
        if (!t) return polyp_fail(err, POLYP_ERR_FORMAT, "weights: tensor %s %s is missing", e->name, want);
        if (t->dtype != POLYP_ST_F32)
            return polyp_fail(err, POLYP_ERR_FORMAT, "weights: tensor %s has dtype %s, expected F32", e->name, t->dtype_name);
        bool same = t->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
        if (!same) {
            polyp_st_shape_str(got, sizeof got, t->ndim, t->shape);
            return polyp_fail(err, POLYP_ERR_FORMAT, "weights: tensor %s has shape %s, expected %s", e->name, got, want);
        }
        size_t n = t->nbytes / 4;
        for (size_t j = 0; j < n; j++) {
            float v = ld(t, j);
            if (!isfinite(v))
                return polyp_fail(err, POLYP_ERR_FORMAT, "weights: tensor %s has a non-finite value at index %zu", e->name, j);
            if (e->kind == POLYP_TENSOR_BN_VAR && v < 0)
                return polyp_fail(err, POLYP_ERR_FORMAT, "weights: tensor %s has a negative variance (%g) at index %zu",
                                  e->name, (double)v, j);
        }
    }
    const char *names[POLYP_EFFNET_TENSORS];
    for (size_t i = 0; i < nexp; i++) names[i] = exp[i].name;
    qsort(names, nexp, sizeof names[0], cmp_str);
    size_t extra = 0;
    const char *first_extra = NULL;
    for (size_t i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name;
        if (ignored(name) || bsearch(&name, names, nexp, sizeof names[0], cmp_str)) continue;
        if (!extra++) first_extra = name;
    }
    if (extra)
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "weights: unexpected tensor %s (%zu unknown in all): not an EfficientNet-B0 state_dict in the "
                          "canonical naming", first_extra, extra);
    return POLYP_OK;
}

/* Floats reserved per parameter block, rounded up to 64 bytes so each starts aligned. */
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

typedef struct arena {
    float *base;
    size_t used;
} arena;

static float *take(arena *a, size_t n) {
    float *p = a->base ? a->base + a->used : NULL;
    a->used += round16(n);
    return p;
}

/* Per output channel: scale = gamma / sqrt(var + eps), bias = beta - mean * scale (double,
 * rounded once). bn is the prefix, e.g. "_blocks.3._bn1". */
static void bn_fold(const polyp_st_file *f, const char *bn, double eps, size_t ch, double *scale, float *bias) {
    char name[64];
    snprintf(name, sizeof name, "%s.weight", bn);
    const polyp_st_tensor *g = polyp_st_find(f, name);
    snprintf(name, sizeof name, "%s.bias", bn);
    const polyp_st_tensor *b = polyp_st_find(f, name);
    snprintf(name, sizeof name, "%s.running_mean", bn);
    const polyp_st_tensor *m = polyp_st_find(f, name);
    snprintf(name, sizeof name, "%s.running_var", bn);
    const polyp_st_tensor *v = polyp_st_find(f, name);
    for (size_t c = 0; c < ch; c++) {
        scale[c] = (double)ld(g, c) / sqrt((double)ld(v, c) + eps);
        bias[c] = (float)((double)ld(b, c) - (double)ld(m, c) * scale[c]);
    }
}

static const polyp_st_tensor *get(const polyp_st_file *f, const char *fmt, int block) {
    char name[64];
    snprintf(name, sizeof name, fmt, block);
    return polyp_st_find(f, name);
}

/* 1x1 conv [out][in][1][1] -> [out][in], scaled per output channel (scale NULL: copy). */
static void fold_1x1(const polyp_st_tensor *t, size_t out, size_t in, const double *scale, float *dst) {
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++) {
            float w = ld(t, o * in + i);
            dst[o * in + i] = scale ? (float)(w * scale[o]) : w;
        }
}

static void copy_vec(const polyp_st_tensor *t, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) dst[i] = ld(t, i);
}

/* Lays every parameter out in the arena (a->base NULL: only counts floats). */
static void build(const polyp_st_file *f, polyp_weights *w, arena *a) {
    double scale[POLYP_FEATURE_DIM]; /* the widest layer (head: 1280; hidden max 1152) */
    double eps = w->tf_same_padding ? 1e-3 : 1e-5; /* as PyTorch: eps in double */
    const bool fill = a->base != NULL;

    float *sw = take(a, POLYP_STEM_CH * 27), *sb = take(a, POLYP_STEM_CH);
    if (fill) {
        /* OIHW [32][3][3][3] -> OHWI [32][3][3][3] */
        const polyp_st_tensor *t = polyp_st_find(f, "_conv_stem.weight");
        bn_fold(f, "_bn0", eps, POLYP_STEM_CH, scale, sb);
        for (size_t o = 0; o < POLYP_STEM_CH; o++)
            for (size_t i = 0; i < 3; i++)
                for (size_t y = 0; y < 3; y++)
                    for (size_t x = 0; x < 3; x++)
                        sw[((o * 3 + y) * 3 + x) * 3 + i] = (float)(ld(t, ((o * 3 + i) * 3 + y) * 3 + x) * scale[o]);
        w->stem_w = sw;
        w->stem_b = sb;
    }
    const polyp_block_spec *specs = polyp_effnet_blocks();
    for (int bi = 0; bi < POLYP_EFFNET_BLOCKS; bi++) {
        const polyp_block_spec *s = &specs[bi];
        polyp_block_params *p = &w->blocks[bi];
        size_t in = (size_t)s->in, hid = (size_t)s->hidden, se = (size_t)s->se, out = (size_t)s->out;
        size_t k = (size_t)s->kernel;
        char bn[32];
        p->spec = *s;
        if (s->expand != 1) {
            float *ew = take(a, hid * in), *eb = take(a, hid);
            if (fill) {
                snprintf(bn, sizeof bn, "_blocks.%d._bn0", bi);
                bn_fold(f, bn, eps, hid, scale, eb);
                fold_1x1(get(f, "_blocks.%d._expand_conv.weight", bi), hid, in, scale, ew);
                p->expand_w = ew;
                p->expand_b = eb;
            }
        }
        float *dw = take(a, k * k * hid), *db = take(a, hid);
        float *rw = take(a, se * hid), *rb = take(a, se);
        float *xw = take(a, hid * se), *xb = take(a, hid);
        float *pw = take(a, out * hid), *pb = take(a, out);
        if (!fill) continue;
        /* depthwise [hid][1][k][k] -> HWC [k][k][hid] */
        snprintf(bn, sizeof bn, "_blocks.%d._bn1", bi);
        bn_fold(f, bn, eps, hid, scale, db);
        const polyp_st_tensor *t = get(f, "_blocks.%d._depthwise_conv.weight", bi);
        for (size_t c = 0; c < hid; c++)
            for (size_t y = 0; y < k; y++)
                for (size_t x = 0; x < k; x++)
                    dw[(y * k + x) * hid + c] = (float)(ld(t, (c * k + y) * k + x) * scale[c]);
        fold_1x1(get(f, "_blocks.%d._se_reduce.weight", bi), se, hid, NULL, rw);
        copy_vec(get(f, "_blocks.%d._se_reduce.bias", bi), se, rb);
        fold_1x1(get(f, "_blocks.%d._se_expand.weight", bi), hid, se, NULL, xw);
        copy_vec(get(f, "_blocks.%d._se_expand.bias", bi), hid, xb);
        snprintf(bn, sizeof bn, "_blocks.%d._bn2", bi);
        bn_fold(f, bn, eps, out, scale, pb);
        fold_1x1(get(f, "_blocks.%d._project_conv.weight", bi), out, hid, scale, pw);
        p->dw_w = dw;
        p->dw_b = db;
        p->se_reduce_w = rw;
        p->se_reduce_b = rb;
        p->se_expand_w = xw;
        p->se_expand_b = xb;
        p->project_w = pw;
        p->project_b = pb;
    }
    float *hw = take(a, (size_t)POLYP_FEATURE_DIM * POLYP_HEAD_IN), *hb = take(a, POLYP_FEATURE_DIM);
    if (fill) {
        bn_fold(f, "_bn1", eps, POLYP_FEATURE_DIM, scale, hb);
        fold_1x1(polyp_st_find(f, "_conv_head.weight"), POLYP_FEATURE_DIM, POLYP_HEAD_IN, scale, hw);
        w->head_w = hw;
        w->head_b = hb;
    }
}

/* The file's own sha256, or for a converter-made safetensors file the sha256 of the
 * checkpoint it came from (recorded as `source_sha256`): see polyp_weights_sha256. */
static polyp_status identity_sha256(const polyp_st_file *f, const void *data, size_t size, char out[65],
                                    polyp_error *err) {
    const char *src = polyp_st_meta(f, "source_sha256");
    if (!src) {
        polyp_sha256_hex(data, size, out);
        return POLYP_OK;
    }
    size_t n = strlen(src);
    bool hex = n == 64;
    for (size_t i = 0; hex && i < n; i++) hex = (src[i] >= '0' && src[i] <= '9') || (src[i] >= 'a' && src[i] <= 'f');
    if (!hex)
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "weights: metadata source_sha256 \"%.80s\" is not 64 lowercase hex digits", src);
    memcpy(out, src, 65);
    return POLYP_OK;
}

/* EfficientNet-B0 from a parsed safetensors file; `data`/`size` are the bytes it came from
 * (hashed when no source_sha256 is recorded). */
static polyp_status load_effnet(const polyp_st_file *f, const void *data, size_t size, polyp_weights **out,
                                polyp_error *err) {
    int tf_same = 1;
    const char *variant = polyp_st_meta(f, "variant");
    if (variant && !strcmp(variant, "torchvision")) tf_same = 0;
    else if (variant && strcmp(variant, "lukemelas") != 0)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED,
                          "weights: unknown variant \"%.64s\" in metadata (expected \"lukemelas\" or \"torchvision\")",
                          variant);
    char sha[65];
    polyp_status st = identity_sha256(f, data, size, sha, err);
    if (st != POLYP_OK) return st;
    polyp_effnet_tensor *exp = polyp_malloc(POLYP_EFFNET_TENSORS * sizeof *exp);
    if (!exp) return polyp_fail(err, POLYP_ERR_NOMEM, "weights: out of memory");
    size_t nexp = polyp_effnet_tensors(exp);
    st = check_tensors(f, exp, nexp, err);
    free(exp);
    if (st != POLYP_OK) return st;
    polyp_weights *w = calloc(1, sizeof *w);
    if (!w) return polyp_fail(err, POLYP_ERR_NOMEM, "weights: out of memory");
    atomic_init(&w->cache, NULL);
    w->tf_same_padding = tf_same;
    w->bn_eps = tf_same ? 1e-3f : 1e-5f;
    arena a = {NULL, 0};
    build(f, w, &a); /* sizing pass */
    w->arena_floats = a.used;
    w->arena = polyp_aligned_alloc(a.used * sizeof(float));
    if (!w->arena) {
        free(w);
        return polyp_fail(err, POLYP_ERR_NOMEM, "weights: out of memory (%zu floats)", a.used);
    }
    memset(w->arena, 0, a.used * sizeof(float));
    a.base = w->arena;
    a.used = 0;
    build(f, w, &a);
    memcpy(w->sha256, sha, sizeof sha);
    w->kind = "efficientnet_b0";
    w->feature_dim = POLYP_FEATURE_DIM;
    snprintf(w->extractor_id, sizeof w->extractor_id, "%s:%s:%zu", w->kind, w->sha256, w->feature_dim);
    *out = w;
    return POLYP_OK;
}

static polyp_status load_safetensors(const void *data, size_t size, polyp_weights **out, polyp_error *err) {
    polyp_st_file f;
    polyp_status st = polyp_st_parse(data, size, &f, err);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "weights: ");
    st = load_effnet(&f, data, size, out, err);
    polyp_st_free(&f);
    return st;
}

polyp_status polyp_weights_load(const void *data, size_t size, polyp_weights **out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "weights: out is NULL");
    *out = NULL;
    if (!data) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "weights: data is NULL");
    const unsigned char *b = data;
    /* ---- TFLite dispatch point: "TFL3" at byte 4 (weights_tflite.c) ---- */
    if (polyp_tfl_detect(b, size)) return polyp_weights_load_tflite(data, size, out, err);
    if (polyp_torch_detect(data, size)) {
        /* A PyTorch checkpoint becomes the safetensors file models/convert.py would write
         * (its source_sha256 is this file's, see identity_sha256), then loads as one. */
        void *st_bytes;
        size_t st_size;
        polyp_status st = polyp_torch_to_safetensors(data, size, &st_bytes, &st_size, err);
        if (st != POLYP_OK) return polyp_fail_prefix(err, st, "weights: ");
        st = load_safetensors(st_bytes, st_size, out, err);
        polyp_free(st_bytes);
        return st;
    }
    return load_safetensors(data, size, out, err);
}

polyp_status polyp_weights_load_file(const char *path, polyp_weights **out, polyp_error *err) {
    if (out) *out = NULL;
    if (!path) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "weights: path is NULL");
    polyp_file_view v;
    polyp_status st = polyp_file_view_open(path, &v, err);
    if (st != POLYP_OK) return st;
    st = polyp_weights_load(v.data, v.size, out, err);
    polyp_file_view_close(&v);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "%s: ", path);
    return POLYP_OK;
}

polyp_weights_cache *polyp_weights_cache_find(const polyp_weights *w, const void *key) {
    polyp_weights_cache *e = atomic_load_explicit(&((polyp_weights *)w)->cache, memory_order_acquire);
    for (; e; e = e->next)
        if (e->key == key) return e;
    return NULL;
}

polyp_weights_cache *polyp_weights_cache_publish(const polyp_weights *w, polyp_weights_cache *e) {
    _Atomic(polyp_weights_cache *) *head = &((polyp_weights *)w)->cache;
    polyp_weights_cache *old = atomic_load_explicit(head, memory_order_acquire);
    for (;;) {
        for (polyp_weights_cache *c = old; c; c = c->next)
            if (c->key == e->key) { /* another thread built it first */
                e->free(e);
                return c;
            }
        e->next = old;
        if (atomic_compare_exchange_weak_explicit(head, &old, e, memory_order_acq_rel, memory_order_acquire))
            return e;
    }
}

void polyp_weights_free(polyp_weights *weights) {
    if (!weights) return;
    for (polyp_weights_cache *e = atomic_load(&weights->cache), *next; e; e = next) {
        next = e->next;
        e->free(e);
    }
    polyp_tfl_net_free(weights->net);
    polyp_aligned_free(weights->arena);
    free(weights);
}

const char *polyp_weights_variant(const polyp_weights *weights) {
    if (weights && weights->net) return "tflite";
    return weights && !weights->tf_same_padding ? "torchvision" : "lukemelas";
}

const char *polyp_weights_sha256(const polyp_weights *weights) { return weights ? weights->sha256 : ""; }

const char *polyp_weights_kind(const polyp_weights *weights) {
    return weights && weights->kind ? weights->kind : "efficientnet_b0";
}

size_t polyp_weights_feature_dim(const polyp_weights *weights) { return weights ? weights->feature_dim : 0; }

const char *polyp_weights_extractor_id(const polyp_weights *weights) { return weights ? weights->extractor_id : ""; }
