/* test_tflite.c - the TFLite reader and float network on a hand-made flatbuffer: a 1x1
 * CONV_2D (3 -> 4 channels, ReLU6) and a global AVERAGE_POOL_2D over the 224x224 input,
 * written byte by byte here (no flatbuffer library), whose feature is worked out by hand;
 * then the same bytes corrupted every way the reader must refuse (bad root, vtable and
 * field offsets, self-referencing vtables and zero offsets, huge vector lengths, huge
 * dimensions, wrong buffer sizes, unsupported ops and types, every truncation), and a few
 * thousand random byte mutations that must never crash. With POLYP_WRITE_TFLITE_SEED=PATH
 * it also writes the model there (tests/fuzz/seeds/tflite/tiny.tflite comes from that). */
#include "tflite_net.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ a forward flatbuffer writer */

typedef struct fbw {
    uint8_t b[8192];
    size_t n;
} fbw;

static size_t align4(fbw *w) {
    while (w->n % 4) w->b[w->n++] = 0;
    return w->n;
}
static void put32(fbw *w, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) w->b[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}
static void put16(fbw *w, size_t at, uint16_t v) {
    w->b[at] = (uint8_t)v;
    w->b[at + 1] = (uint8_t)(v >> 8);
}

/* A table of nf 4-byte fields (ids 0..nf-1, `present` bit i = field i stored), its vtable
 * right before it. Returns the table's position; field i is at pos + 4 + 4 * i. */
static size_t table(fbw *w, int nf, uint32_t present, const uint32_t *vals) {
    align4(w);
    size_t vt = w->n, vsize = 4 + 2 * (size_t)nf;
    vsize = (vsize + 3) & ~(size_t)3;
    memset(w->b + vt, 0, vsize);
    put16(w, vt, (uint16_t)(4 + 2 * nf));
    put16(w, vt + 2, (uint16_t)(4 + 4 * nf));
    for (int i = 0; i < nf; i++)
        if (present & (1u << i)) put16(w, vt + 4 + 2 * (size_t)i, (uint16_t)(4 + 4 * i));
    size_t pos = vt + vsize;
    put32(w, pos, (uint32_t)(pos - vt));
    for (int i = 0; i < nf; i++) put32(w, pos + 4 + 4 * (size_t)i, vals ? vals[i] : 0);
    w->n = pos + 4 + 4 * (size_t)nf;
    return pos;
}
/* Where a table's vtable is (from its soffset). */
static size_t vt_of(const fbw *w, size_t pos) {
    int32_t so = (int32_t)((uint32_t)w->b[pos] | (uint32_t)w->b[pos + 1] << 8 | (uint32_t)w->b[pos + 2] << 16 |
                           (uint32_t)w->b[pos + 3] << 24);
    return (size_t)((long)pos - so);
}
static size_t fpos(size_t table_pos, int field) { return table_pos + 4 + 4 * (size_t)field; }
/* Points the reference at `at` to `target` (forward only). */
static void ref(fbw *w, size_t at, size_t target) { put32(w, at, (uint32_t)(target - at)); }

static size_t vec(fbw *w, const void *elems, size_t n, size_t es) {
    align4(w);
    size_t pos = w->n;
    put32(w, pos, (uint32_t)n);
    memcpy(w->b + pos + 4, elems, n * es);
    w->n = pos + 4 + n * es;
    return pos;
}
static size_t vec_i32(fbw *w, const int32_t *v, size_t n) { return vec(w, v, n, 4); }
/* A vector of n table references; entries filled by ref(w, entry(v, i), table). */
static size_t vec_refs(fbw *w, size_t n) { return vec(w, (uint32_t[16]){0}, n, 4); }
static size_t entry(size_t v, size_t i) { return v + 4 + 4 * i; }

/* ------------------------------------------------------------------ the tiny model */

static const uint8_t W_Q[12] = {138, 118, 128, 148, 108, 133, 128, 128, 250, 100, 160, 128}; /* [4][1][1][3] */
static const int32_t B_Q[4] = {1280, -640, 0, 25600};
#define W_SCALE 0.01f
#define IN_SCALE 0.0078125f
#define OUT_SCALE (6.0f / 255.0f)

typedef struct offsets {
    size_t root_field, model, tensors_vec, t_input, t_input_shape, op0, op0_inputs, conv_opts, opcode0, weights_shape,
        buffers_vec, t_weights;
} offsets;

/* Writes the model into w; records where the pieces are for the corruption tests. */
static void build(fbw *w, offsets *o) {
    memset(w, 0, sizeof *w);
    w->n = 8;
    memcpy(w->b + 4, "TFL3", 4);
    /* Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers */
    uint32_t mv[5] = {3, 0, 0, 0, 0};
    o->model = table(w, 5, 0x17, mv);
    put32(w, 0, (uint32_t)o->model);
    o->root_field = 0;
    size_t codes = vec_refs(w, 2), subs = vec_refs(w, 1), bufs = vec_refs(w, 3);
    ref(w, fpos(o->model, 1), codes);
    ref(w, fpos(o->model, 2), subs);
    ref(w, fpos(o->model, 4), bufs);
    o->buffers_vec = bufs;
    /* OperatorCode: 0 deprecated_builtin_code, 1 custom, 2 version, 3 builtin_code */
    uint32_t c0[4] = {POLYP_TFL_OP_CONV_2D, 0, 1, POLYP_TFL_OP_CONV_2D}, c1[4] = {POLYP_TFL_OP_AVERAGE_POOL_2D, 0, 1, 1};
    o->opcode0 = table(w, 4, 0xd, c0);
    ref(w, entry(codes, 0), o->opcode0);
    ref(w, entry(codes, 1), table(w, 4, 0xd, c1));
    /* Buffers: 0 empty, 1 weights, 2 bias */
    ref(w, entry(bufs, 0), table(w, 1, 0, NULL));
    size_t b1 = table(w, 1, 1, NULL);
    ref(w, entry(bufs, 1), b1);
    ref(w, fpos(b1, 0), vec(w, W_Q, 12, 1));
    size_t b2 = table(w, 1, 1, NULL);
    ref(w, entry(bufs, 2), b2);
    ref(w, fpos(b2, 0), vec(w, B_Q, 16, 1)); /* [ubyte] data */
    /* SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators */
    size_t sg = table(w, 4, 0xf, NULL);
    ref(w, entry(subs, 0), sg);
    size_t tv = vec_refs(w, 5), ops = vec_refs(w, 2);
    o->tensors_vec = tv;
    ref(w, fpos(sg, 0), tv);
    ref(w, fpos(sg, 1), vec_i32(w, (int32_t[]){0}, 1));
    ref(w, fpos(sg, 2), vec_i32(w, (int32_t[]){4}, 1));
    ref(w, fpos(sg, 3), ops);
    /* Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization */
    static const struct { int32_t shape[4]; int nd, type, buffer; const char *name; float scale; int64_t zp; } T[5] = {
        {{1, 224, 224, 3}, 4, POLYP_TFL_UINT8, 0, "input", IN_SCALE, 128},
        {{4, 1, 1, 3}, 4, POLYP_TFL_UINT8, 1, "weights", W_SCALE, 128},
        {{4}, 1, POLYP_TFL_INT32, 2, "bias", IN_SCALE * W_SCALE, 0},
        {{1, 224, 224, 4}, 4, POLYP_TFL_UINT8, 0, "conv", OUT_SCALE, 0},
        {{1, 1, 1, 4}, 4, POLYP_TFL_UINT8, 0, "pool", OUT_SCALE, 0},
    };
    for (size_t i = 0; i < 5; i++) {
        uint32_t tvals[5] = {0, (uint32_t)T[i].type, (uint32_t)T[i].buffer, 0, 0};
        size_t t = table(w, 5, 0x1f, tvals);
        ref(w, entry(tv, i), t);
        size_t shape = vec_i32(w, T[i].shape, (size_t)T[i].nd);
        ref(w, fpos(t, 0), shape);
        ref(w, fpos(t, 3), vec(w, T[i].name, strlen(T[i].name), 1));
        size_t q = table(w, 4, 0xc, NULL); /* 2 scale, 3 zero_point */
        ref(w, fpos(t, 4), q);
        ref(w, fpos(q, 2), vec(w, &T[i].scale, 1, 4));
        ref(w, fpos(q, 3), vec(w, &T[i].zp, 1, 8));
        if (i == 0) o->t_input = t, o->t_input_shape = shape;
        if (i == 1) o->t_weights = t, o->weights_shape = shape;
    }
    /* Operator: 0 opcode_index, 1 inputs, 2 outputs, 3 options type, 4 options */
    uint32_t ov0[5] = {0, 0, 0, 1, 0}, ov1[5] = {1, 0, 0, 5, 0};
    o->op0 = table(w, 5, 0x1f, ov0);
    ref(w, entry(ops, 0), o->op0);
    o->op0_inputs = vec_i32(w, (int32_t[]){0, 1, 2}, 3);
    ref(w, fpos(o->op0, 1), o->op0_inputs);
    ref(w, fpos(o->op0, 2), vec_i32(w, (int32_t[]){3}, 1));
    uint32_t conv[4] = {POLYP_TFL_PAD_VALID, 1, 1, POLYP_TFL_ACT_RELU6}; /* padding, stride_w, stride_h, act */
    o->conv_opts = table(w, 4, 0xf, conv);
    ref(w, fpos(o->op0, 4), o->conv_opts);
    size_t op1 = table(w, 5, 0x1f, ov1);
    ref(w, entry(ops, 1), op1);
    ref(w, fpos(op1, 1), vec_i32(w, (int32_t[]){3}, 1));
    ref(w, fpos(op1, 2), vec_i32(w, (int32_t[]){4}, 1));
    uint32_t pool[6] = {POLYP_TFL_PAD_VALID, 1, 1, 224, 224, 0}; /* padding, strides, filter w, h, act */
    ref(w, fpos(op1, 4), table(w, 6, 0x3f, pool));
}

/* The feature of a patch of one colour (r, g, b) worked out by hand: every pixel gives the
 * same conv output, so the mean is that output. */
static void expected(const uint8_t px[3], float out[4]) {
    for (int o = 0; o < 4; o++) {
        double s = (double)B_Q[o] * IN_SCALE * W_SCALE;
        for (int i = 0; i < 3; i++) s += W_SCALE * ((double)W_Q[o * 3 + i] - 128) * IN_SCALE * ((double)px[i] - 128);
        out[o] = (float)(s < 0 ? 0 : s > 6 ? 6 : s);
    }
}

static polyp_status load(const fbw *w, size_t n, polyp_error *err) {
    polyp_weights *wt = NULL;
    polyp_status st = polyp_weights_load(w->b, n, &wt, err);
    if (st == POLYP_OK) ck_assert(wt != NULL);
    polyp_weights_free(wt);
    return st;
}

static void reverse_run(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n) {
    (void)ctx;
    for (size_t i = n; i-- > 0;) fn(arg, i);
}

START_TEST(tiny_model_gives_the_hand_worked_feature) {
    fbw w;
    offsets o;
    build(&w, &o);
    const char *seed = getenv("POLYP_WRITE_TFLITE_SEED");
    if (seed) {
        FILE *f = fopen(seed, "wb");
        ck_assert(f && fwrite(w.b, 1, w.n, f) == w.n && fclose(f) == 0);
    }
    polyp_error err = {0};
    polyp_weights *wt = NULL;
    ck_assert_msg(polyp_weights_load(w.b, w.n, &wt, &err) == POLYP_OK, "%s", err.message);
    ck_assert_str_eq(polyp_weights_kind(wt), "tflite");
    ck_assert_uint_eq(polyp_weights_feature_dim(wt), 4);
    ck_assert_int_eq(strlen(polyp_weights_sha256(wt)), 64);
    polyp_extractor *ex = NULL;
    polyp_extractor_params p = polyp_extractor_default_params();
    p.batch_size = 2;
    ck_assert_msg(polyp_extractor_init(wt, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    const size_t PF = 224 * 224 * 3;
    float *patches = malloc(3 * PF * sizeof *patches), feat[12], want[4];
    static const uint8_t colours[3][3] = {{255, 0, 128}, {0, 255, 40}, {200, 200, 10}};
    for (size_t q = 0; q < 3; q++)
        for (size_t i = 0; i < PF; i++) patches[q * PF + i] = (float)colours[q][i % 3] / 255.0f;
    ck_assert_msg(polyp_extract_patches(ex, patches, 3, feat, &err) == POLYP_OK, "%s", err.message);
    for (size_t q = 0; q < 3; q++) {
        expected(colours[q], want);
        for (int c = 0; c < 4; c++)
            /* 3e-3 relative: the pool sums 224 x 224 equal floats in order, whose float32 error
             * is bounded by 50176 x 2^-24 = 3e-3 relative (7e-4 measured); a wrong weight, bias
             * or input scale is off by >= 0.05, i.e. >= 2% */
            ck_assert_msg(fabsf(feat[q * 4 + c] - want[c]) <= 3e-3f * fmaxf(1.0f, fabsf(want[c])), "patch %zu channel %d: %g, want %g", q, c,
                          (double)feat[q * 4 + c], (double)want[c]);
    }
    /* two "threads" (a parallel_for that runs tasks backwards): whole patches, and a single
     * patch split layer by layer, give the same bits as the calling thread */
    polyp_parallel par = {NULL, 2, reverse_run};
    polyp_extractor *exp2 = NULL;
    p.parallel = &par;
    ck_assert_msg(polyp_extractor_init(wt, &p, &exp2, &err) == POLYP_OK, "%s", err.message);
    float feat2[12];
    ck_assert(polyp_extract_patches(exp2, patches, 3, feat2, &err) == POLYP_OK);
    ck_assert(!memcmp(feat, feat2, sizeof feat));
    ck_assert(polyp_extract_patches(exp2, patches + PF, 1, feat2, &err) == POLYP_OK);
    ck_assert(!memcmp(feat + 4, feat2, 4 * sizeof *feat));
    polyp_extractor_free(exp2);
    p.parallel = NULL;
    /* a TFLite network runs on the portable kernels only */
    polyp_extractor *ex2 = NULL;
    p.backend = POLYP_BACKEND_XNNPACK;
    ck_assert_int_eq(polyp_extractor_init(wt, &p, &ex2, &err), POLYP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "portable"));
    free(patches);
    polyp_extractor_free(ex);
    polyp_weights_free(wt);
}
END_TEST

/* Applies one corruption to a fresh copy and expects refusal with `status` and a message
 * containing `needle`. */
#define EXPECT_REFUSED(status, needle, ...)                                                                           \
    do {                                                                                                              \
        fbw c;                                                                                                        \
        offsets oc;                                                                                                   \
        build(&c, &oc);                                                                                               \
        size_t n = c.n;                                                                                               \
        { __VA_ARGS__; }                                                                                              \
        polyp_error e = {0};                                                                                          \
        polyp_status st = load(&c, n, &e);                                                                            \
        ck_assert_msg(st == (status), "%s: status %d (%s), want %d", #__VA_ARGS__, st, e.message, status);             \
        ck_assert_msg(strstr(e.message, needle), "%s: message '%s' lacks '%s'", #__VA_ARGS__, e.message, needle);    \
    } while (0)

START_TEST(corrupt_files_are_refused) {
    const polyp_status F = POLYP_ERR_FORMAT, U = POLYP_ERR_UNSUPPORTED;
    { /* without the identifier polyp_weights_load reads safetensors; the reader itself says why */
        fbw c;
        offsets oc;
        build(&c, &oc);
        memcpy(c.b + 4, "TFL2", 4);
        polyp_tfl_model m;
        polyp_error e = {0};
        ck_assert_int_eq(polyp_tfl_parse(c.b, c.n, &m, &e), F);
        ck_assert_ptr_nonnull(strstr(e.message, "TFL3"));
    }
    EXPECT_REFUSED(F, "outside", put32(&c, 0, 0x7ffffff0u));                 /* root past the end */
    EXPECT_REFUSED(F, "zero", put32(&c, 0, 0));                              /* root offset 0 */
    EXPECT_REFUSED(F, "vtable", put32(&c, oc.model, 0x40000000u));            /* vtable before the file */
    EXPECT_REFUSED(F, "vtable", put32(&c, oc.model, (uint32_t)-0x100000));    /* vtable past the end */
    EXPECT_REFUSED(F, "vtable", put32(&c, oc.model, 0));                      /* vtable = the table itself */
    EXPECT_REFUSED(F, "vtable", put16(&c, vt_of(&c, oc.model), 0xffff));  /* vtable size past the end */
    EXPECT_REFUSED(F, "vtable", put16(&c, vt_of(&c, oc.model), 7));       /* odd vtable size */
    EXPECT_REFUSED(F, "past the end", put16(&c, vt_of(&c, oc.model) + 2, 0xfff0)); /* table size */
    EXPECT_REFUSED(F, "outside its", put16(&c, vt_of(&c, oc.model) + 6, 200)); /* field beyond its table */
    EXPECT_REFUSED(F, "zero offset", put32(&c, fpos(oc.model, 2), 0));       /* a reference to itself */
    EXPECT_REFUSED(F, "past the end", put32(&c, fpos(oc.model, 2), 0x7fffff00u));
    EXPECT_REFUSED(F, "cap", put32(&c, oc.tensors_vec, 0xfffffff0u));         /* huge tensor count */
    EXPECT_REFUSED(F, "past the end", put32(&c, oc.tensors_vec, 1000));       /* more tensors than bytes */
    EXPECT_REFUSED(F, "cap", put32(&c, oc.t_input_shape, 1u << 30));          /* huge rank */
    EXPECT_REFUSED(U, "dimension 1", put32(&c, oc.t_input_shape + 8, 1u << 30)); /* huge dimension */
    EXPECT_REFUSED(U, "dimension 2", put32(&c, oc.t_input_shape + 12, 0));       /* zero dimension */
    EXPECT_REFUSED(F, "needs", put32(&c, oc.weights_shape + 4, 5));           /* buffer smaller than the shape */
    EXPECT_REFUSED(F, "buffer index", put32(&c, fpos(oc.t_weights, 2), 9));   /* buffer index out of range */
    EXPECT_REFUSED(U, "type 1", put32(&c, fpos(oc.t_input, 1), 1));           /* float16 */
    EXPECT_REFUSED(U, "MAX_POOL_2D", put32(&c, fpos(oc.opcode0, 0), 17); put32(&c, fpos(oc.opcode0, 3), 17));
    EXPECT_REFUSED(U, "builtin 200", put32(&c, fpos(oc.opcode0, 3), 200));
    EXPECT_REFUSED(F, "past the 5 tensors", put32(&c, oc.op0_inputs + 8, 77));
    EXPECT_REFUSED(U, "fused activation 4", put32(&c, fpos(oc.conv_opts, 3), 4));  /* TANH */
    EXPECT_REFUSED(U, "strides 2x1", put32(&c, fpos(oc.conv_opts, 2), 2));
    EXPECT_REFUSED(F, "the convolution gives", put32(&c, fpos(oc.conv_opts, 0), POLYP_TFL_PAD_SAME);
                   put32(&c, fpos(oc.conv_opts, 1), 2); put32(&c, fpos(oc.conv_opts, 2), 2));
    EXPECT_REFUSED(U, "input tensor input", put32(&c, oc.t_input_shape + 12, 200)); /* not 224x224 */
}
END_TEST

/* Every prefix of the file is refused (a clean error, never a read past the end). */
START_TEST(every_truncation_is_refused) {
    fbw w;
    offsets o;
    build(&w, &o);
    for (size_t n = 0; n < w.n; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches any read past it */
        memcpy(copy, w.b, n);
        polyp_weights *wt = NULL;
        polyp_error e = {0};
        polyp_status st = polyp_weights_load(copy, n, &wt, &e);
        ck_assert_msg(st != POLYP_OK, "a %zu-byte prefix of the %zu-byte model loaded", n, w.n);
        ck_assert_msg(e.message[0] != 0, "no message for the %zu-byte prefix", n);
        ck_assert(wt == NULL);
        free(copy);
    }
}
END_TEST

/* Random byte mutations: each loads or is refused with a message, never crashes (under
 * ASan + UBSan in the sanitize build). */
START_TEST(random_mutations_never_crash) {
    fbw w;
    offsets o;
    build(&w, &o);
    uint32_t rng = 12345;
    size_t loaded = 0;
    for (int it = 0; it < 3000; it++) {
        uint8_t *copy = malloc(w.n);
        memcpy(copy, w.b, w.n);
        int k = 1 + (int)(rng % 4);
        for (int j = 0; j < k; j++) {
            rng = rng * 1664525u + 1013904223u;
            size_t at = (rng >> 8) % w.n;
            rng = rng * 1664525u + 1013904223u;
            copy[at] = (uint8_t)(rng >> 24);
        }
        polyp_weights *wt = NULL;
        polyp_error e = {0};
        if (polyp_weights_load(copy, w.n, &wt, &e) == POLYP_OK) loaded++;
        else ck_assert_msg(e.message[0] != 0, "mutation %d refused without a message", it);
        polyp_weights_free(wt);
        free(copy);
    }
    ck_assert(loaded < 3000); /* most mutations hit something checked */
}
END_TEST

/* Inputs the fuzzer found (tests/fuzz/seeds/tflite): refused with a message, no crash. */
START_TEST(fuzz_findings_are_refused) {
    static const char *const files[] = {"tests/fuzz/seeds/tflite/unquantized-pool-output.tflite"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        size_t n;
        void *data = tu_read(tu_source_path(files[i]), &n);
        memcpy((uint8_t *)data + 4, "TFL3", 4); /* as the fuzz target does */
        polyp_weights *wt = NULL;
        polyp_error e = {0};
        ck_assert_msg(polyp_weights_load(data, n, &wt, &e) != POLYP_OK, "%s loaded", files[i]);
        ck_assert_msg(e.message[0] && wt == NULL, "%s: no message", files[i]);
        free(data);
    }
}
END_TEST

/* The real files, when ../shared/testdata is there: kinds, widths, every layer built. */
START_TEST(real_mobilenets_load) {
    if (!tu_testdata_path("mobilenet-tflite")) return; /* the hand-made tests above still run */
    static const struct { const char *file, *kind; size_t dim, layers; } M[2] = {
        {"mobilenet_v1_1.0_224_quant_embedding_extractor.tflite", "mobilenet_v1", 1024, 28},
        {"mobilenet_v2_1.0_224_quant.tflite", "mobilenet_v2", 1280, 63},
    };
    for (int i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "mobilenet-tflite/%s", M[i].file);
        const char *path = tu_testdata_path(rel);
        polyp_weights *wt = NULL;
        polyp_error e = {0};
        ck_assert_msg(polyp_weights_load_file(path, &wt, &e) == POLYP_OK, "%s", e.message);
        ck_assert_str_eq(polyp_weights_kind(wt), M[i].kind);
        ck_assert_uint_eq(polyp_weights_feature_dim(wt), M[i].dim);
        ck_assert_str_eq(polyp_weights_variant(wt), "tflite");
        polyp_weights_free(wt);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("tflite");
    TCase *tc = tcase_create("tflite");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, tiny_model_gives_the_hand_worked_feature);
    tcase_add_test(tc, corrupt_files_are_refused);
    tcase_add_test(tc, every_truncation_is_refused);
    tcase_add_test(tc, random_mutations_never_crash);
    tcase_add_test(tc, fuzz_findings_are_refused);
    tcase_add_test(tc, real_mobilenets_load);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
