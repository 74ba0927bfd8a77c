/* tflite_net.c - checks a parsed TFLite graph op by op and turns it into float layers
 * (tflite_net.h): dequantized weights, output clamps, activation slots by liveness. */
#include "tflite_net.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 16

typedef struct builder {
    const polyp_tfl_model *m;
    polyp_error *err;
    int *root;          /* tensor -> the tensor whose values it shares (RESHAPE, QUANTIZE...) */
    size_t *last_use;   /* root tensor -> last executed op reading it */
    int *slot;          /* root tensor -> slot, -1 none */
    char *produced;     /* tensor has its value by now */
    size_t max_floats, im2col;
    float *arena;       /* NULL: sizing pass */
    size_t used;
} builder;

static const char *tname(const polyp_tfl_tensor *t, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*s", (int)(t->name_len < 80 ? t->name_len : 80), t->name);
    return buf;
}

/* "operator 12 (CONV_2D)" */
static const char *opname(const polyp_tfl_op *op, char *buf, size_t cap) {
    char nb[24];
    snprintf(buf, cap, "operator %zu (%s)", op->index, polyp_tfl_op_name(op->code, nb, sizeof nb));
    return buf;
}

#define FAIL(st, ...) polyp_fail(b->err, st, "tflite: " __VA_ARGS__)

static double scale_of(const polyp_tfl_tensor *t, size_t ch) {
    return polyp_tfl_f32(t->scales + 4 * (t->nquant > 1 ? ch : 0));
}
static double zp_of(const polyp_tfl_tensor *t, size_t ch) {
    return (double)polyp_tfl_i64(t->zero_points + 8 * (t->nquant > 1 ? ch : 0));
}

/* Value i of a constant tensor as a double, channel ch choosing the per-channel scale. */
static double dequant(const polyp_tfl_tensor *t, size_t i, size_t ch) {
    switch (t->type) {
    case POLYP_TFL_FLOAT32: return polyp_tfl_f32(t->data + 4 * i);
    case POLYP_TFL_UINT8: return scale_of(t, ch) * ((double)t->data[i] - zp_of(t, ch));
    case POLYP_TFL_INT8: return scale_of(t, ch) * ((double)(int8_t)t->data[i] - zp_of(t, ch));
    case POLYP_TFL_INT32: return scale_of(t, ch) * (double)polyp_tfl_i32(t->data + 4 * i);
    }
    return 0.0;
}

/* An activation map [1][h][w][c] (4-D, batch 1). */
static polyp_status need_map(builder *b, const polyp_tfl_op *op, int32_t ti, const char *role) {
    char on[64], tn[96];
    const polyp_tfl_tensor *t = &b->m->tensors[ti];
    if (ti < 0) return FAIL(POLYP_ERR_FORMAT, "%s: the %s is missing", opname(op, on, sizeof on), role);
    if (t->data) return FAIL(POLYP_ERR_UNSUPPORTED, "%s: the %s %s is a constant", opname(op, on, sizeof on), role, tname(t, tn, sizeof tn));
    if (t->ndim != 4 || t->shape[0] != 1)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: the %s %s is not a [1, H, W, C] map", opname(op, on, sizeof on), role,
                    tname(t, tn, sizeof tn));
    if (t->type != POLYP_TFL_UINT8 && t->type != POLYP_TFL_INT8 && t->type != POLYP_TFL_FLOAT32)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: the %s %s has type %d", opname(op, on, sizeof on), role, tname(t, tn, sizeof tn), t->type);
    if (t->type != POLYP_TFL_FLOAT32 && t->nquant != 1)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: the %s %s is not quantized per tensor", opname(op, on, sizeof on), role,
                    tname(t, tn, sizeof tn));
    return POLYP_OK;
}

/* Output clamp: the fused activation's range intersected with what the quantized output
 * tensor can represent (TFLite's CalculateActivationRangeQuantized). */
static polyp_status clamp_of(builder *b, const polyp_tfl_op *op, float *lo, float *hi) {
    char on[64];
    double l = -FLT_MAX, h = FLT_MAX;
    switch (op->act) {
    case POLYP_TFL_ACT_NONE: break;
    case POLYP_TFL_ACT_RELU: l = 0; break;
    case POLYP_TFL_ACT_RELU6: l = 0, h = 6; break;
    default: return FAIL(POLYP_ERR_UNSUPPORTED, "%s: fused activation %d is not supported (NONE, RELU, RELU6)",
                         opname(op, on, sizeof on), op->act);
    }
    const polyp_tfl_tensor *t = &b->m->tensors[op->output];
    if ((t->type == POLYP_TFL_UINT8 || t->type == POLYP_TFL_INT8) && t->nquant != 1) {
        char tn[96];
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: output %s is not quantized per tensor", opname(op, on, sizeof on),
                    tname(t, tn, sizeof tn));
    }
    if (t->type == POLYP_TFL_UINT8 || t->type == POLYP_TFL_INT8) {
        double qmin = t->type == POLYP_TFL_UINT8 ? 0 : -128, qmax = qmin + 255;
        double s = scale_of(t, 0), z = zp_of(t, 0);
        if (s * (qmin - z) > l) l = s * (qmin - z);
        if (s * (qmax - z) < h) h = s * (qmax - z);
    }
    *lo = (float)l;
    *hi = (float)h;
    return POLYP_OK;
}

/* Output size and leading padding of one spatial axis (TFLite's ComputePaddingHeightWidth). */
static void geometry(int padding, size_t in, size_t k, size_t stride, size_t *out, size_t *pad) {
    if (padding == POLYP_TFL_PAD_SAME) {
        *out = (in + stride - 1) / stride;
        long total = (long)((*out - 1) * stride + k) - (long)in;
        *pad = total > 0 ? (size_t)total / 2 : 0;
    } else {
        *out = in >= k ? (in - k) / stride + 1 : 0;
        *pad = 0;
    }
}

/* CONV_2D and DEPTHWISE_CONV_2D. */
static polyp_status conv(builder *b, const polyp_tfl_op *op, polyp_tn_layer *L) {
    char on[64], tn[96];
    const polyp_tfl_model *m = b->m;
    const bool dw = op->code == POLYP_TFL_OP_DEPTHWISE_CONV_2D;
    polyp_status st;
    opname(op, on, sizeof on);
    if (op->ninputs < 2 || op->inputs[1] < 0) return FAIL(POLYP_ERR_FORMAT, "%s: no filter input", on);
    if ((st = need_map(b, op, op->inputs[0], "input")) || (st = need_map(b, op, op->output, "output"))) return st;
    const polyp_tfl_tensor *x = &m->tensors[op->inputs[0]], *f = &m->tensors[op->inputs[1]], *y = &m->tensors[op->output];
    const polyp_tfl_tensor *bt = op->ninputs > 2 && op->inputs[2] >= 0 ? &m->tensors[op->inputs[2]] : NULL;
    if (op->dilation_w != 1 || op->dilation_h != 1)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: dilation %dx%d is not supported", on, (int)op->dilation_h, (int)op->dilation_w);
    if (op->stride_w != op->stride_h || op->stride_w < 1 || op->stride_w > 8)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: strides %dx%d are not supported (equal, 1..8)", on, (int)op->stride_h,
                    (int)op->stride_w);
    if (op->padding != POLYP_TFL_PAD_SAME && op->padding != POLYP_TFL_PAD_VALID)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: padding %d is not supported", on, op->padding);
    if (!f->data || f->ndim != 4 || (f->type != POLYP_TFL_UINT8 && f->type != POLYP_TFL_INT8 && f->type != POLYP_TFL_FLOAT32))
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: filter %s must be a constant 4-D uint8, int8 or float32 tensor", on,
                    tname(f, tn, sizeof tn));
    const size_t C = (size_t)x->shape[3], CO = (size_t)f->shape[dw ? 3 : 0], K = (size_t)f->shape[1];
    if ((size_t)f->shape[2] != K)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: filter %s is %dx%d (square kernels only)", on, tname(f, tn, sizeof tn),
                    (int)f->shape[1], (int)f->shape[2]);
    if (dw ? (f->shape[0] != 1 || CO != C || op->depth_multiplier != 1) : (size_t)f->shape[3] != C)
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: filter %s does not fit the %zu input channels%s", on,
                    tname(f, tn, sizeof tn), C, dw ? " (depth multiplier 1 only)" : "");
    if (f->type != POLYP_TFL_FLOAT32 && (f->nquant == 0 || (f->nquant > 1 && f->quant_dim != (dw ? 3 : 0))))
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: filter %s is not quantized per tensor or per output channel", on,
                    tname(f, tn, sizeof tn));
    if (bt && (!bt->data || bt->ndim != 1 || (size_t)bt->shape[0] != CO ||
               (bt->type != POLYP_TFL_INT32 && bt->type != POLYP_TFL_FLOAT32) || (bt->type == POLYP_TFL_INT32 && !bt->nquant)))
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: bias %s must be a constant [%zu] quantized int32 or float32 tensor", on,
                    tname(bt, tn, sizeof tn), CO);
    size_t ho, wo, pt, pl, st_ = (size_t)op->stride_w;
    geometry(op->padding, (size_t)x->shape[1], K, st_, &ho, &pt);
    geometry(op->padding, (size_t)x->shape[2], K, st_, &wo, &pl);
    if (ho == 0 || wo == 0 || (size_t)y->shape[1] != ho || (size_t)y->shape[2] != wo || (size_t)y->shape[3] != CO)
        return FAIL(POLYP_ERR_FORMAT, "%s: output %s is [1, %d, %d, %d], the convolution gives [1, %zu, %zu, %zu]", on,
                    tname(y, tn, sizeof tn), (int)y->shape[1], (int)y->shape[2], (int)y->shape[3], ho, wo, CO);
    if ((st = clamp_of(b, op, &L->lo, &L->hi))) return st;
    L->kind = dw ? POLYP_TN_DW : POLYP_TN_CONV;
    L->h = (size_t)x->shape[1], L->w = (size_t)x->shape[2], L->c = C;
    L->ho = ho, L->wo = wo, L->co = CO;
    L->k = K, L->stride = st_, L->pad_top = pt, L->pad_left = pl;
    const size_t nw = f->elems;
    float *w = polyp_arena_take(b->arena, &b->used, nw), *bias = polyp_arena_take(b->arena, &b->used, CO);
    if (!dw && !(K == 1 && st_ == 1) && ho * wo * K * K * C > b->im2col) b->im2col = ho * wo * K * K * C;
    if (!b->arena) return POLYP_OK;
    /* Both TFLite layouts are already the kernels': conv OHWI = [co][k*k*c], depthwise
     * [1][k][k][c] = HWC. The channel of value i: i / (k*k*c) for conv, i % c for depthwise. */
    for (size_t i = 0; i < nw; i++) w[i] = (float)dequant(f, i, dw ? i % CO : i / (nw / CO));
    for (size_t o = 0; o < CO; o++) bias[o] = bt ? (float)dequant(bt, o, o) : 0.0f;
    L->wt = w;
    L->bias = bias;
    return POLYP_OK;
}

static polyp_status add(builder *b, const polyp_tfl_op *op, polyp_tn_layer *L) {
    char on[64];
    polyp_status st;
    opname(op, on, sizeof on);
    if (op->ninputs != 2) return FAIL(POLYP_ERR_FORMAT, "%s: %d inputs (expected 2)", on, op->ninputs);
    if ((st = need_map(b, op, op->inputs[0], "first input")) || (st = need_map(b, op, op->inputs[1], "second input")) ||
        (st = need_map(b, op, op->output, "output")))
        return st;
    const polyp_tfl_tensor *x = &b->m->tensors[op->inputs[0]], *z = &b->m->tensors[op->inputs[1]], *y = &b->m->tensors[op->output];
    if (memcmp(x->shape, z->shape, sizeof x->shape) || memcmp(x->shape, y->shape, sizeof x->shape))
        return FAIL(POLYP_ERR_UNSUPPORTED, "%s: inputs and output differ in shape (no broadcasting)", on);
    if ((st = clamp_of(b, op, &L->lo, &L->hi))) return st;
    L->kind = POLYP_TN_ADD;
    L->h = L->ho = (size_t)x->shape[1], L->w = L->wo = (size_t)x->shape[2], L->c = L->co = (size_t)x->shape[3];
    return POLYP_OK;
}

/* Global pooling only: AVERAGE_POOL_2D with the filter covering the map, MEAN over H, W. */
static polyp_status pool(builder *b, const polyp_tfl_op *op, polyp_tn_layer *L) {
    char on[64];
    polyp_status st;
    opname(op, on, sizeof on);
    if ((st = need_map(b, op, op->inputs[0], "input"))) return st;
    const polyp_tfl_tensor *x = &b->m->tensors[op->inputs[0]], *y = &b->m->tensors[op->output];
    const size_t H = (size_t)x->shape[1], W = (size_t)x->shape[2], C = (size_t)x->shape[3];
    if (op->code == POLYP_TFL_OP_AVERAGE_POOL_2D) {
        if ((size_t)op->filter_h != H || (size_t)op->filter_w != W)
            return FAIL(POLYP_ERR_UNSUPPORTED, "%s: a %dx%d filter on a %zux%zu map (global pooling only)", on,
                        (int)op->filter_h, (int)op->filter_w, H, W);
    } else {
        const polyp_tfl_tensor *ax = op->ninputs == 2 && op->inputs[1] >= 0 ? &b->m->tensors[op->inputs[1]] : NULL;
        if (!ax || !ax->data || ax->type != POLYP_TFL_INT32 || ax->elems != 2 ||
            !((polyp_tfl_i32(ax->data) == 1 && polyp_tfl_i32(ax->data + 4) == 2) ||
              (polyp_tfl_i32(ax->data) == 2 && polyp_tfl_i32(ax->data + 4) == 1)))
            return FAIL(POLYP_ERR_UNSUPPORTED, "%s: only a mean over axes 1 and 2 (height, width) is supported", on);
    }
    if (y->elems != C || y->shape[y->ndim - 1] != (int32_t)C)
        return FAIL(POLYP_ERR_FORMAT, "%s: the output does not hold %zu channels", on, C);
    if ((st = clamp_of(b, op, &L->lo, &L->hi))) return st;
    L->kind = POLYP_TN_POOL;
    L->h = H, L->w = W, L->c = L->co = C, L->ho = L->wo = 1;
    return POLYP_OK;
}

/* ------------------------------------------------------------------ slots */

static polyp_status check_reads(builder *b, const polyp_tfl_op *op) {
    char on[64], tn[96];
    for (int k = 0; k < op->ninputs; k++) {
        int32_t t = op->inputs[k];
        if (t < 0 || b->m->tensors[t].data) continue;
        if (!b->produced[t])
            return FAIL(POLYP_ERR_FORMAT, "%s: input %s is read before any operator writes it", opname(op, on, sizeof on),
                        tname(&b->m->tensors[t], tn, sizeof tn));
    }
    if (b->produced[op->output] || b->m->tensors[op->output].data)
        return FAIL(POLYP_ERR_FORMAT, "%s: output %s is written twice or is a constant", opname(op, on, sizeof on),
                    tname(&b->m->tensors[op->output], tn, sizeof tn));
    return POLYP_OK;
}

static bool is_alias(int code) {
    return code == POLYP_TFL_OP_RESHAPE || code == POLYP_TFL_OP_QUANTIZE || code == POLYP_TFL_OP_DEQUANTIZE;
}

static int take_slot(uint32_t *busy, size_t *nslots) {
    for (int s = 0; s < MAX_SLOTS; s++)
        if (!(*busy & (1u << s))) {
            *busy |= 1u << s;
            if ((size_t)s + 1 > *nslots) *nslots = (size_t)s + 1;
            return s;
        }
    return -1;
}

/* One pass over the ops up to the feature: checks, layers (into net->layers when not NULL),
 * slots by liveness. */
static polyp_status walk(builder *b, size_t last, polyp_tfl_net *net) {
    const polyp_tfl_model *m = b->m;
    char on[64];
    polyp_status st;
    memset(b->produced, 0, m->ntensors);
    for (size_t t = 0; t < m->ntensors; t++) b->slot[t] = -1;
    uint32_t busy = 0;
    size_t nslots = 0, nl = 0;
    b->produced[m->input] = 1;
    b->slot[m->input] = take_slot(&busy, &nslots);
    net->in_slot = b->slot[m->input];
    for (size_t i = 0; i <= last; i++) {
        const polyp_tfl_op *op = &m->ops[i];
        if ((st = check_reads(b, op))) return st;
        b->produced[op->output] = 1;
        const polyp_tfl_tensor *y = &m->tensors[op->output];
        if (is_alias(op->code)) {
            const int32_t x = op->inputs[0];
            if (x < 0 || m->tensors[x].data || m->tensors[x].elems != y->elems)
                return FAIL(POLYP_ERR_UNSUPPORTED, "%s: only a reshape or (de)quantization of a computed tensor with the "
                            "same element count is supported", opname(op, on, sizeof on));
            b->root[op->output] = b->root[x];
        } else {
            polyp_tn_layer L;
            memset(&L, 0, sizeof L);
            L.op = i;
            L.in2 = -1;
            switch (op->code) {
            case POLYP_TFL_OP_CONV_2D: case POLYP_TFL_OP_DEPTHWISE_CONV_2D: st = conv(b, op, &L); break;
            case POLYP_TFL_OP_ADD: st = add(b, op, &L); break;
            case POLYP_TFL_OP_AVERAGE_POOL_2D: case POLYP_TFL_OP_MEAN: st = pool(b, op, &L); break;
            default:
                return FAIL(POLYP_ERR_UNSUPPORTED, "%s: not supported before the pooled feature", opname(op, on, sizeof on));
            }
            if (st) return st;
            if (y->elems > b->max_floats) b->max_floats = y->elems;
            L.in = b->slot[b->root[op->inputs[0]]];
            if (L.kind == POLYP_TN_ADD) L.in2 = b->slot[b->root[op->inputs[1]]];
            L.out = b->slot[op->output] = take_slot(&busy, &nslots);
            if (L.out < 0)
                return FAIL(POLYP_ERR_LIMIT, "%s: more than %d activations alive at once", opname(op, on, sizeof on), MAX_SLOTS);
            if (net->layers) net->layers[nl] = L;
            nl++;
        }
        /* inputs whose last reader this was free their slots (the feature stays) */
        for (int k = 0; k < op->ninputs; k++) {
            int32_t t = op->inputs[k];
            if (t < 0 || m->tensors[t].data) continue;
            int r = b->root[t];
            if (b->last_use[r] == i && b->slot[r] >= 0 && r != b->root[m->ops[last].output]) {
                busy &= ~(1u << b->slot[r]);
                b->slot[r] = -1;
            }
        }
    }
    net->nlayers = nl;
    net->nslots = nslots;
    net->feat_slot = b->slot[b->root[m->ops[last].output]];
    return POLYP_OK;
}

static const char *kind_of(const polyp_tfl_model *m) {
    for (size_t i = 0; i < m->ntensors; i++) {
        const polyp_tfl_tensor *t = &m->tensors[i];
        if (t->name_len >= 12 && !memcmp(t->name, "MobilenetV1/", 12)) return "mobilenet_v1";
        if (t->name_len >= 12 && !memcmp(t->name, "MobilenetV2/", 12)) return "mobilenet_v2";
    }
    return "tflite";
}

polyp_status polyp_tfl_net_build(const polyp_tfl_model *m, polyp_tfl_net **out, polyp_error *err) {
    if (!m || !out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite: NULL argument");
    *out = NULL;
    char tn[96];
    const polyp_tfl_tensor *in = &m->tensors[m->input];
    if (in->type != POLYP_TFL_UINT8 || in->nquant != 1 || in->ndim != 4 || in->shape[0] != 1 ||
        in->shape[1] != POLYP_PATCH_SIZE || in->shape[2] != POLYP_PATCH_SIZE || in->shape[3] != 3 || in->data)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "tflite: input tensor %s must be uint8 [1, 224, 224, 3] quantized "
                          "per tensor (the patch)", tname(in, tn, sizeof tn));
    /* the feature: the last global pooling op */
    size_t last = m->nops;
    for (size_t i = m->nops; i-- > 0;)
        if (m->ops[i].code == POLYP_TFL_OP_AVERAGE_POOL_2D || m->ops[i].code == POLYP_TFL_OP_MEAN) {
            last = i;
            break;
        }
    if (last == m->nops)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "tflite: no AVERAGE_POOL_2D or MEAN operator: polyp needs a pooled "
                          "feature vector");
    polyp_tfl_net *net = calloc(1, sizeof *net);
    builder bb = {m, err, NULL, NULL, NULL, NULL, 0, 0, NULL, 0}, *b = &bb;
    b->root = polyp_malloc(m->ntensors * sizeof *b->root);
    b->slot = polyp_malloc(m->ntensors * sizeof *b->slot);
    b->last_use = polyp_calloc(m->ntensors, sizeof *b->last_use);
    b->produced = polyp_malloc(m->ntensors);
    polyp_status st = POLYP_OK;
    if (!net || !b->root || !b->slot || !b->last_use || !b->produced)
        st = polyp_fail(err, POLYP_ERR_NOMEM, "tflite: out of memory");
    if (!st) {
        /* roots first (aliases point at what they reshape), then last uses per root */
        for (size_t t = 0; t < m->ntensors; t++) b->root[t] = (int)t;
        for (size_t i = 0; i <= last; i++) {
            const polyp_tfl_op *op = &m->ops[i];
            if (is_alias(op->code) && op->inputs[0] >= 0) b->root[op->output] = b->root[op->inputs[0]];
        }
        for (size_t i = 0; i <= last; i++)
            for (int k = 0; k < m->ops[i].ninputs; k++)
                if (m->ops[i].inputs[k] >= 0) b->last_use[b->root[m->ops[i].inputs[k]]] = i;
        st = walk(b, last, net); /* sizing pass: checks everything, counts layers and floats */
    }
    if (!st) {
        net->layers = polyp_calloc(net->nlayers ? net->nlayers : 1, sizeof *net->layers);
        net->arena = polyp_aligned_alloc(b->used * sizeof(float) + 64);
        if (!net->layers || !net->arena) st = polyp_fail(err, POLYP_ERR_NOMEM, "tflite: out of memory for the weights");
    }
    if (!st) {
        b->arena = net->arena;
        b->used = 0;
        st = walk(b, last, net);
    }
    if (!st) {
        net->slot_floats = b->max_floats > in->elems ? b->max_floats : in->elems;
        net->im2col_floats = b->im2col;
        net->in_scale = polyp_tfl_f32(in->scales);
        net->in_zp = (int)polyp_tfl_i64(in->zero_points);
        net->dim = m->tensors[m->ops[last].output].elems;
        net->kind = kind_of(m);
    }
    free(b->root);
    free(b->slot);
    free(b->last_use);
    free(b->produced);
    if (st) {
        polyp_tfl_net_free(net);
        return st;
    }
    *out = net;
    return POLYP_OK;
}

void polyp_tfl_net_free(polyp_tfl_net *net) {
    if (!net) return;
    free(net->layers);
    polyp_aligned_free(net->arena);
    free(net);
}
