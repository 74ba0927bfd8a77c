/* test_weights.c - the EfficientNet-B0 weights loader: every refusal names the tensor and
 * what was expected/found; batch-norm folding and the NHWC re-layout against values
 * computed by hand; variants (SHA-256 itself: test_sha256.c). */
#include "effnet.h"
#include "safetensors.h"
#include "sha256.h"
#include "testnet.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The seeded test network as the starting point for edited files. */
static void *base_net;
static size_t base_size;

static void make_base(void) {
    size_t bsize;
    void *bn = tu_read(tu_source_path("models/testnet-bnstats.safetensors"), &bsize);
    polyp_error err = {0};
    ck_assert_msg(polyp_testnet_build(POLYP_TESTNET_DEFAULT_SEED, bn, bsize, &base_net, &base_size, &err) == POLYP_OK,
                  "%s", err.message);
    free(bn);
}

static void free_base(void) {
    polyp_free(base_net);
    base_net = NULL;
}

typedef struct edit {
    const char *name;     /* tensor to change, drop or add */
    int drop;
    polyp_st_dtype dtype;
    int ndim;             /* 0 with data NULL: keep the shape */
    uint64_t shape[4];
    const void *data;     /* NULL: keep the data */
} edit;

/* Rewrites the base network with edits (tensors not in the base are appended) and optional
 * variant metadata. Caller polyp_frees. */
static void *rebuild(const edit *edits, size_t nedits, const char *variant, size_t *size) {
    polyp_st_file f;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_st_parse(base_net, base_size, &f, &err), POLYP_OK);
    polyp_st_writer *w = polyp_st_writer_init();
    for (size_t i = 0; i < f.count; i++) {
        const polyp_st_tensor *t = &f.tensors[i];
        const edit *e = NULL;
        for (size_t k = 0; k < nedits; k++)
            if (!strcmp(edits[k].name, t->name)) e = &edits[k];
        if (e && e->drop) continue;
        if (e)
            ck_assert_int_eq(polyp_st_writer_add(w, t->name, e->dtype, e->ndim ? e->ndim : t->ndim,
                                                 e->ndim ? e->shape : t->shape, e->data ? e->data : t->data, &err),
                             POLYP_OK);
        else
            ck_assert_int_eq(polyp_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err), POLYP_OK);
    }
    for (size_t k = 0; k < nedits; k++)
        if (!edits[k].drop && !polyp_st_find(&f, edits[k].name))
            ck_assert_int_eq(polyp_st_writer_add(w, edits[k].name, edits[k].dtype, edits[k].ndim, edits[k].shape,
                                                 edits[k].data, &err), POLYP_OK);
    if (variant) polyp_st_writer_meta(w, "variant", variant, &err);
    void *out;
    ck_assert_int_eq(polyp_st_writer_finish(w, &out, size, &err), POLYP_OK);
    polyp_st_writer_free(w);
    polyp_st_free(&f);
    return out;
}

static polyp_status load_edited(const edit *edits, size_t n, const char *variant, polyp_weights **w, polyp_error *err) {
    size_t size;
    void *buf = rebuild(edits, n, variant, &size);
    polyp_status st = polyp_weights_load(buf, size, w, err);
    polyp_free(buf);
    return st;
}

START_TEST(loads_the_test_network) {
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_msg(polyp_weights_load(base_net, base_size, &w, &err) == POLYP_OK, "%s", err.message);
    ck_assert_str_eq(polyp_weights_variant(w), "lukemelas");
    ck_assert_int_eq(w->tf_same_padding, 1);
    char hex[65];
    polyp_sha256_hex(base_net, base_size, hex);
    ck_assert_str_eq(polyp_weights_sha256(w), hex);
    ck_assert_str_eq(polyp_weights_kind(w), "efficientnet_b0");
    ck_assert_uint_eq(polyp_weights_feature_dim(w), 1280);
    char id[POLYP_EXTRACTOR_ID_MAX];
    snprintf(id, sizeof id, "efficientnet_b0:%s:1280", hex);
    ck_assert_str_eq(polyp_weights_extractor_id(w), id);
    ck_assert_ptr_null(w->blocks[0].expand_w);
    ck_assert_ptr_nonnull(w->blocks[1].expand_w);
    /* Every parameter pointer 64-byte aligned inside the arena. */
    ck_assert_uint_eq((uintptr_t)w->stem_w % 64, 0);
    ck_assert_uint_eq((uintptr_t)w->head_w % 64, 0);
    for (int b = 0; b < POLYP_EFFNET_BLOCKS; b++) {
        ck_assert_uint_eq((uintptr_t)w->blocks[b].dw_w % 64, 0);
        ck_assert_uint_eq((uintptr_t)w->blocks[b].project_b % 64, 0);
        ck_assert_int_eq(w->blocks[b].spec.hidden, w->blocks[b].spec.in * w->blocks[b].spec.expand);
    }
    polyp_weights_free(w);
}
END_TEST

START_TEST(missing_tensor_is_named) {
    edit e = {.name = "_blocks.7._se_expand.bias", .drop = 1};
    polyp_weights *w = (void *)1;
    polyp_error err = {0};
    ck_assert_int_eq(load_edited(&e, 1, NULL, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(err.message, "_blocks.7._se_expand.bias"));
    ck_assert_ptr_nonnull(strstr(err.message, "missing"));
    ck_assert_ptr_nonnull(strstr(err.message, "[480]"));
}
END_TEST

START_TEST(wrong_shape_is_named) {
    static float zeros[16 * 240];
    edit e = {.name = "_blocks.6._project_conv.weight", .dtype = POLYP_ST_F32, .ndim = 4, .shape = {80, 480, 1, 1},
              .data = NULL};
    /* same element count, transposed: a classic converter mistake */
    edit t = {.name = "_blocks.6._project_conv.weight", .dtype = POLYP_ST_F32, .ndim = 2, .shape = {16, 240},
              .data = zeros};
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_int_eq(load_edited(&e, 1, NULL, &w, &err), POLYP_OK); /* unchanged shape loads */
    polyp_weights_free(w);
    ck_assert_int_eq(load_edited(&t, 1, NULL, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "_blocks.6._project_conv.weight"));
    ck_assert_ptr_nonnull(strstr(err.message, "shape [16, 240], expected [80, 480, 1, 1]"));
}
END_TEST

START_TEST(wrong_dtype_is_named) {
    static uint16_t half[32];
    edit e = {.name = "_bn0.running_var", .dtype = POLYP_ST_F16, .ndim = 1, .shape = {32}, .data = half};
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_int_eq(load_edited(&e, 1, NULL, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "_bn0.running_var has dtype F16, expected F32"));
}
END_TEST

START_TEST(extra_tensor_is_named_and_ignored_ones_pass) {
    static float v[8];
    static int64_t steps[1] = {1000};
    edit extra = {.name = "_blocks.16._bn0.weight", .dtype = POLYP_ST_F32, .ndim = 1, .shape = {8}, .data = v};
    edit ok[3] = {
        {.name = "_fc.weight", .dtype = POLYP_ST_F32, .ndim = 2, .shape = {4, 2}, .data = v},
        {.name = "_fc.bias", .dtype = POLYP_ST_F32, .ndim = 1, .shape = {4}, .data = v},
        {.name = "_blocks.3._bn1.num_batches_tracked", .dtype = POLYP_ST_I64, .ndim = 0, .data = steps},
    };
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_int_eq(load_edited(&extra, 1, NULL, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "_blocks.16._bn0.weight"));
    ck_assert_msg(load_edited(ok, 3, NULL, &w, &err) == POLYP_OK, "%s", err.message);
    polyp_weights_free(w);
}
END_TEST

START_TEST(bad_values_are_named) {
    float v[32];
    for (int i = 0; i < 32; i++) v[i] = 1;
    v[5] = -0.5f;
    edit neg = {.name = "_bn0.running_var", .dtype = POLYP_ST_F32, .ndim = 1, .shape = {32}, .data = v};
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_int_eq(load_edited(&neg, 1, NULL, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "_bn0.running_var"));
    ck_assert_ptr_nonnull(strstr(err.message, "index 5"));
    v[5] = NAN;
    neg.name = "_bn0.bias";
    ck_assert_int_eq(load_edited(&neg, 1, NULL, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "_bn0.bias has a non-finite value at index 5"));
}
END_TEST

START_TEST(variants) {
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_int_eq(load_edited(NULL, 0, "torchvision", &w, &err), POLYP_OK);
    ck_assert_str_eq(polyp_weights_variant(w), "torchvision");
    ck_assert_int_eq(w->tf_same_padding, 0);
    ck_assert(w->bn_eps == 1e-5f);
    polyp_weights_free(w);
    /* No metadata at all (CoralNet's converted checkpoint): lukemelas, eps 1e-3. */
    ck_assert_int_eq(load_edited(NULL, 0, NULL, &w, &err), POLYP_OK);
    ck_assert_str_eq(polyp_weights_variant(w), "lukemelas");
    ck_assert(w->bn_eps == 1e-3f);
    polyp_weights_free(w);
    ck_assert_int_eq(load_edited(NULL, 0, "keras", &w, &err), POLYP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "keras"));
}
END_TEST

/* A converter-made file is identified by the checkpoint it came from (source_sha256), so
 * the .pth read directly and its conversion are one extractor; a malformed claim is refused. */
static polyp_status load_with_source(const char *source, polyp_weights **w, polyp_error *err) {
    polyp_st_file f;
    ck_assert_int_eq(polyp_st_parse(base_net, base_size, &f, err), POLYP_OK);
    polyp_st_writer *wr = polyp_st_writer_init();
    for (size_t i = 0; i < f.count; i++) {
        const polyp_st_tensor *t = &f.tensors[i];
        ck_assert_int_eq(polyp_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data, err), POLYP_OK);
    }
    ck_assert_int_eq(polyp_st_writer_meta(wr, "source_sha256", source, err), POLYP_OK);
    void *buf;
    size_t size;
    ck_assert_int_eq(polyp_st_writer_finish(wr, &buf, &size, err), POLYP_OK);
    polyp_st_writer_free(wr);
    polyp_st_free(&f);
    polyp_status st = polyp_weights_load(buf, size, w, err);
    polyp_free(buf);
    return st;
}

START_TEST(identity_of_converted_files) {
    polyp_weights *w;
    polyp_error err = {0};
    const char *src = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ck_assert_msg(load_with_source(src, &w, &err) == POLYP_OK, "%s", err.message);
    ck_assert_str_eq(polyp_weights_sha256(w), src);
    ck_assert_str_eq(polyp_weights_extractor_id(w),
                     "efficientnet_b0:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef:1280");
    polyp_weights_free(w);
    ck_assert_int_eq(load_with_source("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", &w, &err),
                     POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "source_sha256"));
    ck_assert_int_eq(load_with_source("abc", &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_null(w);
    /* TFLite bytes reach the TFLite reader (a root table past the 16 bytes: refused). */
    static const unsigned char tfl[16] = {0x1c, 0, 0, 0, 'T', 'F', 'L', '3'};
    ck_assert_int_eq(polyp_weights_load(tfl, sizeof tfl, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "tflite"));
    ck_assert_str_eq(polyp_weights_extractor_id(NULL), "");
    ck_assert_uint_eq(polyp_weights_feature_dim(NULL), 0);
}
END_TEST

START_TEST(truncated_and_garbage_files) {
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_weights_load(base_net, base_size - 1, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "weights: "));
    ck_assert_int_eq(polyp_weights_load(base_net, 100, &w, &err), POLYP_ERR_FORMAT);
    ck_assert_int_eq(polyp_weights_load_file("/nonexistent/w.safetensors", &w, &err), POLYP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/w.safetensors"));
}
END_TEST

/* BN folding and layouts against hand-computed values: the stem (OIHW -> OHWI, scale and
 * bias per output channel), block 1's depthwise ([c][1][k][k] -> [k][k][c]) and project
 * (1x1, [out][in]) and the SE weights (copied, no BN). */
START_TEST(folds_batch_norm_by_hand) {
    float stem[32 * 27], g[32], b[32], m[32], v[32];
    for (int i = 0; i < 32 * 27; i++) stem[i] = (float)(i % 7) - 3.0f; /* OIHW */
    for (int c = 0; c < 32; c++) {
        g[c] = 1.0f;
        b[c] = 0.0f;
        m[c] = 0.0f;
        v[c] = 1.0f;
    }
    /* channel 2: gamma 2, beta 0.5, mean 1, var 3.999 -> var + eps = 4, scale = 1,
     * bias = 0.5 - 1 * 1 = -0.5; channel 5: gamma -3, var 0.999 -> scale -3, mean 2,
     * beta 1 -> bias 1 - 2 * -3 = 7 */
    g[2] = 2.0f, b[2] = 0.5f, m[2] = 1.0f, v[2] = 3.999f;
    g[5] = -3.0f, b[5] = 1.0f, m[5] = 2.0f, v[5] = 0.999f;
    float dw[96 * 9], db_g[96], db_b[96], db_m[96], db_v[96];
    for (int i = 0; i < 96 * 9; i++) dw[i] = (float)i;
    for (int c = 0; c < 96; c++) db_g[c] = 0.5f, db_b[c] = 0.25f, db_m[c] = 4.0f, db_v[c] = 0.999f;
    float proj[24 * 96];
    for (int i = 0; i < 24 * 96; i++) proj[i] = (float)(i % 11);
    edit e[] = {
        {"_conv_stem.weight", 0, POLYP_ST_F32, 4, {32, 3, 3, 3}, stem},
        {"_bn0.weight", 0, POLYP_ST_F32, 1, {32}, g},
        {"_bn0.bias", 0, POLYP_ST_F32, 1, {32}, b},
        {"_bn0.running_mean", 0, POLYP_ST_F32, 1, {32}, m},
        {"_bn0.running_var", 0, POLYP_ST_F32, 1, {32}, v},
        {"_blocks.1._depthwise_conv.weight", 0, POLYP_ST_F32, 4, {96, 1, 3, 3}, dw},
        {"_blocks.1._bn1.weight", 0, POLYP_ST_F32, 1, {96}, db_g},
        {"_blocks.1._bn1.bias", 0, POLYP_ST_F32, 1, {96}, db_b},
        {"_blocks.1._bn1.running_mean", 0, POLYP_ST_F32, 1, {96}, db_m},
        {"_blocks.1._bn1.running_var", 0, POLYP_ST_F32, 1, {96}, db_v},
        {"_blocks.1._project_conv.weight", 0, POLYP_ST_F32, 4, {24, 96, 1, 1}, proj},
        {"_blocks.1._bn2.weight", 0, POLYP_ST_F32, 1, {24}, g},
        {"_blocks.1._bn2.bias", 0, POLYP_ST_F32, 1, {24}, b},
        {"_blocks.1._bn2.running_mean", 0, POLYP_ST_F32, 1, {24}, m},
        {"_blocks.1._bn2.running_var", 0, POLYP_ST_F32, 1, {24}, v},
    };
    polyp_weights *w;
    polyp_error err = {0};
    ck_assert_msg(load_edited(e, sizeof e / sizeof e[0], NULL, &w, &err) == POLYP_OK, "%s", err.message);
    const double tol = 1e-6;
    for (int o = 0; o < 32; o++) {
        double scale = o == 2 ? 1.0 : o == 5 ? -3.0 : 1.0 / sqrt(1.001);
        double bias = o == 2 ? -0.5 : o == 5 ? 7.0 : 0.0;
        ck_assert_msg(fabs(w->stem_b[o] - bias) < tol, "stem bias %d: %g vs %g", o, w->stem_b[o], bias);
        for (int i = 0; i < 3; i++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) {
                    double want = stem[((o * 3 + i) * 3 + y) * 3 + x] * scale;
                    double got = w->stem_w[((o * 3 + y) * 3 + x) * 3 + i];
                    ck_assert_msg(fabs(got - want) < tol * 4, "stem w[%d][%d][%d][%d]: %g vs %g", o, y, x, i, got, want);
                }
    }
    /* depthwise: scale 0.5 / sqrt(1) = 0.5, bias 0.25 - 4 * 0.5 = -1.75 */
    const polyp_block_params *p = &w->blocks[1];
    ck_assert_int_eq(p->spec.hidden, 96);
    for (int c = 0; c < 96; c++) {
        ck_assert(fabs(p->dw_b[c] - (-1.75)) < tol);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                ck_assert(fabs(p->dw_w[(y * 3 + x) * 96 + c] - 0.5 * dw[(c * 3 + y) * 3 + x]) < tol * 1000);
    }
    for (int o = 0; o < 24; o++) {
        double scale = o == 2 ? 1.0 : o == 5 ? -3.0 : 1.0 / sqrt(1.001);
        for (int i = 0; i < 96; i++) ck_assert(fabs(p->project_w[o * 96 + i] - proj[o * 96 + i] * scale) < tol * 40);
    }
    /* SE weights are copied as they are: compare with the file. */
    polyp_st_file f;
    ck_assert_int_eq(polyp_st_parse(base_net, base_size, &f, &err), POLYP_OK);
    const polyp_st_tensor *se = polyp_st_find(&f, "_blocks.1._se_reduce.weight");
    ck_assert(memcmp(se->data, p->se_reduce_w, se->nbytes) == 0);
    se = polyp_st_find(&f, "_blocks.1._se_expand.bias");
    ck_assert(memcmp(se->data, p->se_expand_b, se->nbytes) == 0);
    polyp_st_free(&f);
    polyp_weights_free(w);
}
END_TEST

int main(void) {
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_base, free_base);
    tcase_add_test(tc, loads_the_test_network);
    tcase_add_test(tc, missing_tensor_is_named);
    tcase_add_test(tc, wrong_shape_is_named);
    tcase_add_test(tc, wrong_dtype_is_named);
    tcase_add_test(tc, extra_tensor_is_named_and_ignored_ones_pass);
    tcase_add_test(tc, bad_values_are_named);
    tcase_add_test(tc, variants);
    tcase_add_test(tc, truncated_and_garbage_files);
    tcase_add_test(tc, identity_of_converted_files);
    tcase_add_test(tc, folds_batch_norm_by_hand);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
