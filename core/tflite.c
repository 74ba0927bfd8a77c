/* tflite.c - strict TFLite flatbuffer reader (see tflite.h).
 *
 * Flatbuffer layout, as checked here: a table at position t starts with an int32 soffset;
 * its vtable is at t - soffset: uint16 vtable size, uint16 table size, then one uint16 per
 * field (offset inside the table, 0 = absent). Reference fields (tables, vectors, strings)
 * hold a uint32 offset relative to the field's own position. Offsets are unsigned and a
 * zero one is refused, so every reference points strictly forward: a walk can never loop
 * back to a table it came from, and the schema's fixed depth bounds it. A vtable may sit
 * anywhere in the file (before or after its table) but must lie wholly inside it, be at
 * least 4 bytes, even-sized, and every field it names must lie inside the table it
 * describes and the file. */
#include "tflite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float polyp_tfl_f32(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int32_t polyp_tfl_i32(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

int64_t polyp_tfl_i64(const uint8_t *p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld32(const uint8_t *p) { return (uint32_t)polyp_tfl_i32(p); }

const char *polyp_tfl_op_name(int code, char *buf, size_t cap) {
    switch (code) {
    case POLYP_TFL_OP_ADD: return "ADD";
    case POLYP_TFL_OP_AVERAGE_POOL_2D: return "AVERAGE_POOL_2D";
    case POLYP_TFL_OP_CONV_2D: return "CONV_2D";
    case POLYP_TFL_OP_DEPTHWISE_CONV_2D: return "DEPTHWISE_CONV_2D";
    case POLYP_TFL_OP_DEQUANTIZE: return "DEQUANTIZE";
    case POLYP_TFL_OP_RESHAPE: return "RESHAPE";
    case POLYP_TFL_OP_SOFTMAX: return "SOFTMAX";
    case POLYP_TFL_OP_MEAN: return "MEAN";
    case POLYP_TFL_OP_QUANTIZE: return "QUANTIZE";
    case 9: return "FULLY_CONNECTED";
    case 17: return "MAX_POOL_2D";
    case 18: return "MUL";
    case 32: return "CUSTOM";
    }
    snprintf(buf, cap, "builtin %d", code);
    return buf;
}

int polyp_tfl_detect(const void *data, size_t size) {
    return data && size >= 8 && !memcmp((const uint8_t *)data + 4, "TFL3", 4);
}

/* ------------------------------------------------------------------ checked access */

typedef struct fb {
    const uint8_t *p;
    size_t n;
    polyp_error *err;
} fb;

typedef struct table {
    size_t pos;       /* the table's first byte (its soffset) */
    size_t vt;        /* its vtable */
    uint16_t vt_size, size;
} table;

#define BAD(...) polyp_fail(b->err, POLYP_ERR_FORMAT, "tflite: " __VA_ARGS__)

static bool in_file(const fb *b, size_t pos, size_t len) { return pos <= b->n && len <= b->n - pos; }

static polyp_status table_at(const fb *b, size_t pos, const char *what, table *t) {
    if (!in_file(b, pos, 4)) return BAD("%s: table at byte %zu is outside the %zu-byte file", what, pos, b->n);
    int64_t vt = (int64_t)pos - (int64_t)polyp_tfl_i32(b->p + pos);
    if (vt < 0 || !in_file(b, (size_t)vt, 4))
        return BAD("%s: vtable at byte %lld is outside the file", what, (long long)vt);
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vt_size = ld16(b->p + t->vt);
    t->size = ld16(b->p + t->vt + 2);
    if (t->vt_size < 4 || t->vt_size % 2 || !in_file(b, t->vt, t->vt_size))
        return BAD("%s: vtable at byte %zu has a bad size %u", what, t->vt, t->vt_size);
    if (t->size < 4 || !in_file(b, pos, t->size))
        return BAD("%s: table at byte %zu claims %u bytes, past the end of the file", what, pos, t->size);
    return POLYP_OK;
}

/* Offset of field `id` inside the table, 0 when absent; fails when the field's `width`
 * bytes would cross the table's end. */
static polyp_status field(const fb *b, const table *t, int id, size_t width, const char *what, size_t *off) {
    *off = 0;
    size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > t->vt_size) return POLYP_OK;
    size_t fo = ld16(b->p + t->vt + slot);
    if (fo == 0) return POLYP_OK;
    if (fo < 4 || fo + width > t->size) return BAD("%s: field %d at offset %zu lies outside its %u-byte table", what, id, fo, t->size);
    *off = t->pos + fo;
    return POLYP_OK;
}

static polyp_status get_u8(const fb *b, const table *t, int id, int def, const char *what, int *v) {
    size_t o;
    polyp_status st = field(b, t, id, 1, what, &o);
    *v = o ? b->p[o] : def;
    return st;
}

static polyp_status get_i32(const fb *b, const table *t, int id, int32_t def, const char *what, int32_t *v) {
    size_t o;
    polyp_status st = field(b, t, id, 4, what, &o);
    *v = o ? polyp_tfl_i32(b->p + o) : def;
    return st;
}

static polyp_status get_f32(const fb *b, const table *t, int id, float def, const char *what, float *v) {
    size_t o;
    polyp_status st = field(b, t, id, 4, what, &o);
    *v = o ? polyp_tfl_f32(b->p + o) : def;
    return st;
}

/* Follows reference field `id`: *target = where it points (0 = absent). */
static polyp_status get_ref(const fb *b, const table *t, int id, const char *what, size_t *target) {
    size_t o;
    *target = 0;
    polyp_status st = field(b, t, id, 4, what, &o);
    if (st != POLYP_OK || !o) return st;
    uint32_t rel = ld32(b->p + o);
    if (rel == 0) return BAD("%s: field %d is a zero offset (points at itself)", what, id);
    if ((size_t)rel > b->n - o) return BAD("%s: field %d points past the end of the file", what, id);
    *target = o + rel;
    return POLYP_OK;
}

/* A vector at `pos`: *len elements of `width` bytes from *data, all inside the file. */
static polyp_status vec_at(const fb *b, size_t pos, size_t width, size_t cap, const char *what, size_t *len,
                           size_t *data) {
    if (!in_file(b, pos, 4)) return BAD("%s: vector at byte %zu is outside the file", what, pos);
    size_t n = ld32(b->p + pos), bytes;
    if (n > cap) return BAD("%s: %zu entries exceed the cap of %zu", what, n, cap);
    if (!polyp_mul_ok(n, width, &bytes) || !in_file(b, pos + 4, bytes))
        return BAD("%s: %zu entries of %zu bytes run past the end of the file", what, n, width);
    *len = n;
    *data = pos + 4;
    return POLYP_OK;
}

/* An optional vector field (absent: length 0). */
static polyp_status get_vec(const fb *b, const table *t, int id, size_t width, size_t cap, const char *what,
                            size_t *len, size_t *data) {
    size_t pos;
    *len = 0;
    *data = 0;
    polyp_status st = get_ref(b, t, id, what, &pos);
    if (st != POLYP_OK || !pos) return st;
    return vec_at(b, pos, width, cap, what, len, data);
}

/* Element i of a vector of tables. */
static polyp_status vec_table(const fb *b, size_t data, size_t i, const char *what, table *t) {
    size_t e = data + 4 * i;
    uint32_t rel = ld32(b->p + e);
    if (rel == 0) return BAD("%s: entry %zu is a zero offset (points at itself)", what, i);
    if ((size_t)rel > b->n - e) return BAD("%s: entry %zu points past the end of the file", what, i);
    return table_at(b, e + rel, what, t);
}

/* ------------------------------------------------------------------ model pieces */

/* OperatorCode (0 deprecated_builtin_code:byte, 1 custom_code, 2 version, 3 builtin_code:int):
 * the code is the larger of the two fields (schema 3.x convention). */
static polyp_status read_opcode(const fb *b, const table *t, size_t i, int *code) {
    char what[48];
    snprintf(what, sizeof what, "operator code %zu", i);
    int dep;
    int32_t full;
    polyp_status st;
    if ((st = get_u8(b, t, 0, 0, what, &dep)) || (st = get_i32(b, t, 3, 0, what, &full))) return st;
    int8_t d8 = (int8_t)(uint8_t)dep;
    *code = full > d8 ? full : d8;
    return POLYP_OK;
}

static polyp_status read_tensor(const fb *b, const table *t, size_t i, const size_t *buf_pos, size_t nbuf,
                                polyp_tfl_tensor *x) {
    char what[64];
    snprintf(what, sizeof what, "tensor %zu", i);
    polyp_status st;
    size_t n, d;
    /* 3 name:string */
    size_t name_pos;
    if ((st = get_ref(b, t, 3, what, &name_pos))) return st;
    if (name_pos) {
        if ((st = vec_at(b, name_pos, 1, 4096, what, &n, &d))) return st;
        x->name = (const char *)b->p + d;
        x->name_len = n;
        snprintf(what, sizeof what, "tensor %zu (%.*s)", i, (int)(n < 40 ? n : 40), x->name);
    } else {
        x->name = "";
        x->name_len = 0;
    }
    /* 0 shape:[int] */
    if ((st = get_vec(b, t, 0, 4, POLYP_TFL_MAX_DIMS, what, &n, &d))) return st;
    x->ndim = (int)n;
    x->elems = 1;
    for (size_t k = 0; k < n; k++) {
        int32_t v = polyp_tfl_i32(b->p + d + 4 * k);
        if (v < 1 || v > POLYP_TFL_MAX_DIM)
            return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: dimension %zu is %d (must be 1..%d)", what, k,
                              (int)v, POLYP_TFL_MAX_DIM);
        x->shape[k] = v;
        if (!polyp_mul_ok(x->elems, (size_t)v, &x->elems) || x->elems > POLYP_TFL_MAX_ELEMS)
            return polyp_fail(b->err, POLYP_ERR_LIMIT, "tflite: %s: more than %u elements", what, POLYP_TFL_MAX_ELEMS);
    }
    /* 1 type:byte, 2 buffer:uint, 5 is_variable, 6 sparsity */
    int32_t buffer;
    int is_var;
    size_t sparsity;
    if ((st = get_u8(b, t, 1, 0, what, &x->type)) || (st = get_i32(b, t, 2, 0, what, &buffer)) ||
        (st = get_u8(b, t, 5, 0, what, &is_var)) || (st = get_ref(b, t, 6, what, &sparsity)))
        return st;
    if (is_var || sparsity)
        return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: %s tensors are not supported", what,
                          is_var ? "variable" : "sparse");
    size_t esize;
    switch (x->type) {
    case POLYP_TFL_FLOAT32: case POLYP_TFL_INT32: esize = 4; break;
    case POLYP_TFL_UINT8: case POLYP_TFL_INT8: esize = 1; break;
    case POLYP_TFL_INT64: esize = 8; break;
    default:
        return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: tensor type %d is not supported", what, x->type);
    }
    if ((uint32_t)buffer >= nbuf)
        return BAD("%s: buffer index %u is past the %zu buffers", what, (unsigned)(uint32_t)buffer, nbuf);
    x->data = NULL;
    x->nbytes = 0;
    if (buffer != 0 && buf_pos[buffer]) { /* buffer 0 is the schema's empty sentinel */
        size_t want = x->elems * esize;
        if (buf_pos[buffer] == (size_t)-1)
            return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: data outside the flatbuffer is not supported", what);
        table bt;
        size_t len, data;
        if ((st = table_at(b, buf_pos[buffer], what, &bt)) || (st = get_vec(b, &bt, 0, 1, b->n, what, &len, &data)))
            return st;
        if (len && len != want)
            return BAD("%s: buffer %d holds %zu bytes, the shape needs %zu", what, (int)buffer, len, want);
        if (len) {
            x->data = b->p + data;
            x->nbytes = len;
        }
    }
    /* 4 quantization: 2 scale:[float], 3 zero_point:[long], 4/5 details union, 6 quantized_dimension */
    size_t qpos;
    x->nquant = 0;
    if ((st = get_ref(b, t, 4, what, &qpos))) return st;
    if (qpos) {
        table q;
        size_t ns, ds, nz, dz, det;
        int det_type;
        if ((st = table_at(b, qpos, what, &q)) || (st = get_vec(b, &q, 2, 4, POLYP_TFL_MAX_DIM, what, &ns, &ds)) ||
            (st = get_vec(b, &q, 3, 8, POLYP_TFL_MAX_DIM, what, &nz, &dz)) || (st = get_u8(b, &q, 4, 0, what, &det_type)) ||
            (st = get_ref(b, &q, 5, what, &det)) || (st = get_i32(b, &q, 6, 0, what, &x->quant_dim)))
            return st;
        if (det_type || det)
            return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: custom quantization details are not supported", what);
        if (ns != nz) return BAD("%s: %zu quantization scales but %zu zero points", what, ns, nz);
        if (ns > 1 && (x->quant_dim < 0 || x->quant_dim >= x->ndim || (size_t)x->shape[x->quant_dim] != ns))
            return BAD("%s: %zu per-channel scales do not match dimension %d", what, ns, (int)x->quant_dim);
        for (size_t k = 0; k < ns; k++) {
            float s = polyp_tfl_f32(b->p + ds + 4 * k);
            int64_t z = polyp_tfl_i64(b->p + dz + 8 * k);
            if (!isfinite(s) || s <= 0 || s > 1e30f) return BAD("%s: quantization scale %zu is %g", what, k, (double)s);
            if (z < -128 || z > 255) return BAD("%s: zero point %zu is %lld", what, k, (long long)z);
        }
        x->nquant = ns;
        x->scales = ns ? b->p + ds : NULL;
        x->zero_points = ns ? b->p + dz : NULL;
    }
    return POLYP_OK;
}

/* Options tables, by builtin code (schema tables Conv2DOptions, DepthwiseConv2DOptions,
 * Pool2DOptions, AddOptions, SoftmaxOptions, ReducerOptions). */
static polyp_status read_options(const fb *b, const table *o, polyp_tfl_op *op, const char *what) {
    polyp_status st = POLYP_OK;
    switch (op->code) {
    case POLYP_TFL_OP_CONV_2D: /* padding, stride_w, stride_h, act, dilation_w, dilation_h */
        if ((st = get_u8(b, o, 0, 0, what, &op->padding)) || (st = get_i32(b, o, 1, 1, what, &op->stride_w)) ||
            (st = get_i32(b, o, 2, 1, what, &op->stride_h)) || (st = get_u8(b, o, 3, 0, what, &op->act)) ||
            (st = get_i32(b, o, 4, 1, what, &op->dilation_w)) || (st = get_i32(b, o, 5, 1, what, &op->dilation_h)))
            return st;
        break;
    case POLYP_TFL_OP_DEPTHWISE_CONV_2D: /* padding, stride_w, stride_h, depth_multiplier, act, dilations */
        if ((st = get_u8(b, o, 0, 0, what, &op->padding)) || (st = get_i32(b, o, 1, 1, what, &op->stride_w)) ||
            (st = get_i32(b, o, 2, 1, what, &op->stride_h)) || (st = get_i32(b, o, 3, 1, what, &op->depth_multiplier)) ||
            (st = get_u8(b, o, 4, 0, what, &op->act)) || (st = get_i32(b, o, 5, 1, what, &op->dilation_w)) ||
            (st = get_i32(b, o, 6, 1, what, &op->dilation_h)))
            return st;
        break;
    case POLYP_TFL_OP_AVERAGE_POOL_2D: /* padding, stride_w, stride_h, filter_width, filter_height, act */
        if ((st = get_u8(b, o, 0, 0, what, &op->padding)) || (st = get_i32(b, o, 1, 1, what, &op->stride_w)) ||
            (st = get_i32(b, o, 2, 1, what, &op->stride_h)) || (st = get_i32(b, o, 3, 1, what, &op->filter_w)) ||
            (st = get_i32(b, o, 4, 1, what, &op->filter_h)) || (st = get_u8(b, o, 5, 0, what, &op->act)))
            return st;
        break;
    case POLYP_TFL_OP_ADD: st = get_u8(b, o, 0, 0, what, &op->act); break;
    case POLYP_TFL_OP_SOFTMAX: st = get_f32(b, o, 0, 1.0f, what, &op->beta); break;
    case POLYP_TFL_OP_MEAN: st = get_u8(b, o, 0, 0, what, &op->keep_dims); break;
    default: break; /* RESHAPE (new_shape duplicates its shape input), QUANTIZE, DEQUANTIZE */
    }
    return st;
}

static polyp_status read_op(const fb *b, const table *t, size_t i, const int *codes, size_t ncodes, size_t ntensors,
                            polyp_tfl_op *op) {
    char what[64], nb[24];
    snprintf(what, sizeof what, "operator %zu", i);
    polyp_status st;
    int32_t opcode_index;
    if ((st = get_i32(b, t, 0, 0, what, &opcode_index))) return st;
    if ((uint32_t)opcode_index >= ncodes)
        return BAD("%s: operator code index %u is past the %zu codes", what, (unsigned)(uint32_t)opcode_index, ncodes);
    memset(op, 0, sizeof *op);
    op->index = i;
    op->code = codes[opcode_index];
    const char *name = polyp_tfl_op_name(op->code, nb, sizeof nb);
    switch (op->code) {
    case POLYP_TFL_OP_ADD: case POLYP_TFL_OP_AVERAGE_POOL_2D: case POLYP_TFL_OP_CONV_2D:
    case POLYP_TFL_OP_DEPTHWISE_CONV_2D: case POLYP_TFL_OP_DEQUANTIZE: case POLYP_TFL_OP_RESHAPE:
    case POLYP_TFL_OP_SOFTMAX: case POLYP_TFL_OP_MEAN: case POLYP_TFL_OP_QUANTIZE: break;
    default:
        return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: %s is not supported (polyp runs CONV_2D, "
                          "DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, MEAN, RESHAPE, QUANTIZE, DEQUANTIZE, SOFTMAX)", what, name);
    }
    snprintf(what, sizeof what, "operator %zu (%s)", i, name);
    size_t nin, din, nout, dout;
    if ((st = get_vec(b, t, 1, 4, 64, what, &nin, &din)) || (st = get_vec(b, t, 2, 4, 64, what, &nout, &dout))) return st;
    if (nin < 1 || nin > POLYP_TFL_MAX_IO) return BAD("%s: %zu inputs", what, nin);
    if (nout != 1) return BAD("%s: %zu outputs (expected 1)", what, nout);
    op->ninputs = (int)nin;
    for (size_t k = 0; k < nin; k++) {
        op->inputs[k] = polyp_tfl_i32(b->p + din + 4 * k);
        if (op->inputs[k] < -1 || op->inputs[k] >= (int64_t)ntensors)
            return BAD("%s: input %zu is tensor %d, past the %zu tensors", what, k, (int)op->inputs[k], ntensors);
    }
    op->output = polyp_tfl_i32(b->p + dout);
    if (op->output < 0 || op->output >= (int64_t)ntensors)
        return BAD("%s: output is tensor %d, past the %zu tensors", what, (int)op->output, ntensors);
    /* 3 builtin_options_type, 4 builtin_options, 5 custom_options */
    int otype;
    size_t opos, ncust, dcust;
    if ((st = get_u8(b, t, 3, 0, what, &otype)) || (st = get_ref(b, t, 4, what, &opos)) ||
        (st = get_vec(b, t, 5, 1, b->n, what, &ncust, &dcust)))
        return st;
    if (ncust) return polyp_fail(b->err, POLYP_ERR_UNSUPPORTED, "tflite: %s: custom options are not supported", what);
    op->stride_w = op->stride_h = op->dilation_w = op->dilation_h = op->depth_multiplier = 1;
    op->filter_w = op->filter_h = 1;
    op->beta = 1.0f;
    if (opos) {
        table o;
        if ((st = table_at(b, opos, what, &o)) || (st = read_options(b, &o, op, what))) return st;
    }
    (void)otype; /* the code decides which options table it is; the union tag is redundant */
    return POLYP_OK;
}

/* ------------------------------------------------------------------ the model */

polyp_status polyp_tfl_parse(const void *data, size_t size, polyp_tfl_model *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "tflite: data is NULL");
    fb bb = {data, size, err}, *b = &bb;
    if (!polyp_tfl_detect(data, size)) return BAD("not a TFLite file (no \"TFL3\" identifier at byte 4)");
    if (size > ((size_t)1 << 31)) return polyp_fail(err, POLYP_ERR_LIMIT, "tflite: file of %zu bytes exceeds 2 GiB", size);
    polyp_status st;
    table model;
    size_t root = ld32(b->p);
    if (root == 0) return BAD("root offset is zero");
    if ((st = table_at(b, root, "model", &model))) return st;
    /* Model: 0 version, 1 operator_codes, 2 subgraphs, 4 buffers */
    int32_t version;
    size_t ncodes, dcodes, nsub, dsub, nbuf, dbuf;
    if ((st = get_i32(b, &model, 0, 0, "model", &version)) ||
        (st = get_vec(b, &model, 1, 4, 1024, "operator codes", &ncodes, &dcodes)) ||
        (st = get_vec(b, &model, 2, 4, 16, "subgraphs", &nsub, &dsub)) ||
        (st = get_vec(b, &model, 4, 4, POLYP_TFL_MAX_TENSORS + 1, "buffers", &nbuf, &dbuf)))
        return st;
    if (version != 3)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "tflite: schema version %d is not supported (expected 3)", (int)version);
    if (nsub != 1)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "tflite: %zu subgraphs (polyp runs single-subgraph models)", nsub);
    int *codes = polyp_malloc((ncodes ? ncodes : 1) * sizeof *codes);
    size_t *buf_pos = polyp_calloc(nbuf ? nbuf : 1, sizeof *buf_pos);
    if (!codes || !buf_pos) {
        free(codes);
        free(buf_pos);
        return polyp_fail(err, POLYP_ERR_NOMEM, "tflite: out of memory");
    }
    for (size_t i = 0; i < ncodes && !st; i++) {
        table t;
        if (!(st = vec_table(b, dcodes, i, "operator codes", &t))) st = read_opcode(b, &t, i, &codes[i]);
    }
    /* Buffer: 0 data:[ubyte], 1 offset:ulong, 2 size:ulong (external data: refused later, when used) */
    for (size_t i = 0; i < nbuf && !st; i++) {
        table t;
        size_t off;
        if ((st = vec_table(b, dbuf, i, "buffers", &t))) break;
        buf_pos[i] = t.pos;
        if (!(st = field(b, &t, 1, 8, "buffers", &off)) && off && polyp_tfl_i64(b->p + off) != 0) buf_pos[i] = (size_t)-1;
    }
    table sg;
    size_t nt = 0, dt, nops = 0, dops, nin, din, nout, dout;
    if (!st) st = vec_table(b, dsub, 0, "subgraph 0", &sg);
    /* SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators */
    if (!st && !(st = get_vec(b, &sg, 0, 4, POLYP_TFL_MAX_TENSORS, "tensors", &nt, &dt)) &&
        !(st = get_vec(b, &sg, 1, 4, 16, "subgraph inputs", &nin, &din)) &&
        !(st = get_vec(b, &sg, 2, 4, 16, "subgraph outputs", &nout, &dout)) &&
        !(st = get_vec(b, &sg, 3, 4, POLYP_TFL_MAX_OPS, "operators", &nops, &dops))) {
        if (nin != 1 || nout != 1)
            st = polyp_fail(err, POLYP_ERR_UNSUPPORTED, "tflite: %zu inputs and %zu outputs (expected one of each)", nin, nout);
        else if (nt == 0 || nops == 0)
            st = BAD("the subgraph has %zu tensors and %zu operators", nt, nops);
    }
    if (!st) {
        out->tensors = polyp_calloc(nt, sizeof *out->tensors);
        out->ops = polyp_calloc(nops, sizeof *out->ops);
        if (!out->tensors || !out->ops) st = polyp_fail(err, POLYP_ERR_NOMEM, "tflite: out of memory for %zu tensors", nt);
    }
    for (size_t i = 0; i < nt && !st; i++) {
        table t;
        if (!(st = vec_table(b, dt, i, "tensors", &t))) st = read_tensor(b, &t, i, buf_pos, nbuf, &out->tensors[i]);
    }
    out->ntensors = nt;
    for (size_t i = 0; i < nops && !st; i++) {
        table t;
        if (!(st = vec_table(b, dops, i, "operators", &t))) st = read_op(b, &t, i, codes, ncodes, nt, &out->ops[i]);
    }
    out->nops = nops;
    if (!st) {
        out->input = polyp_tfl_i32(b->p + din);
        out->output = polyp_tfl_i32(b->p + dout);
        if (out->input < 0 || (size_t)out->input >= nt || out->output < 0 || (size_t)out->output >= nt)
            st = BAD("subgraph input %d or output %d is not a tensor", (int)out->input, (int)out->output);
    }
    free(codes);
    free(buf_pos);
    if (st) polyp_tfl_free(out);
    return st;
}

void polyp_tfl_free(polyp_tfl_model *m) {
    if (!m) return;
    free(m->tensors);
    free(m->ops);
    memset(m, 0, sizeof *m);
}
