/* backend_cuda.c - the CUDA backend's ops (effnet.h), compiled when CMake finds the CUDA
 * toolkit (POLYP_CUDA): checks the device, packs the BN-folded weights into one array,
 * sizes the batch's device memory (cuda_plan.c) and hands both to the CUDA side
 * (cuda_net.cu). run() takes host patches (polyp_extract_patches); run_points() crops on the
 * device from the photo uploaded once (polyp_extract_points), so patches never pass through
 * host memory. */
#include "cuda_plan.h"
#include "effnet.h"

#include <stdlib.h>
#include <string.h>

typedef struct cuda_state {
    pcu_net *net;
    size_t batch;
    int device;
    unsigned *rows, *cols;   /* one batch of point coordinates (owned) */
} cuda_state;

/* Copies the n floats at src to the packed array (base NULL: sizing pass) and returns
 * their offset. */
static size_t put(float *base, size_t *used, const float *src, size_t n) {
    size_t at = *used;
    if (base) memcpy(base + at, src, n * sizeof(float));
    *used += n;
    return at;
}

/* Every parameter into one array with its offsets in the layout's blocks and in pw. */
static void pack(const polyp_weights *w, pcu_layout *L, pcu_weights *pw, float *base, size_t *used) {
    pw->stem_w = put(base, used, w->stem_w, (size_t)POLYP_STEM_CH * 27);
    pw->stem_b = put(base, used, w->stem_b, POLYP_STEM_CH);
    for (int i = 0; i < POLYP_EFFNET_BLOCKS; i++) {
        const polyp_block_params *p = &w->blocks[i];
        pcu_block *b = &L->blocks[i];
        const size_t in = (size_t)b->in, hid = (size_t)b->hidden, se = (size_t)b->se, k = (size_t)b->kernel;
        if (b->expand != 1) {
            b->expand_w = put(base, used, p->expand_w, hid * in);
            b->expand_b = put(base, used, p->expand_b, hid);
        }
        b->dw_w = put(base, used, p->dw_w, k * k * hid);
        b->dw_b = put(base, used, p->dw_b, hid);
        b->ser_w = put(base, used, p->se_reduce_w, se * hid);
        b->ser_b = put(base, used, p->se_reduce_b, se);
        b->see_w = put(base, used, p->se_expand_w, hid * se);
        b->see_b = put(base, used, p->se_expand_b, hid);
        b->proj_w = put(base, used, p->project_w, (size_t)b->out * hid);
        b->proj_b = put(base, used, p->project_b, (size_t)b->out);
    }
    pw->head_w = put(base, used, w->head_w, (size_t)POLYP_FEATURE_DIM * POLYP_HEAD_IN);
    pw->head_b = put(base, used, w->head_b, POLYP_FEATURE_DIM);
    pw->floats = *used;
}

int polyp_backend_cuda_usable(int device) {
    int count;
    char detail[160];
    return pcu_probe(device, &count, detail, sizeof detail) == PCU_OK;
}

static void cuda_free(void *state) {
    cuda_state *s = state;
    if (!s) return;
    pcu_net_destroy(s->net);
    free(s->rows);
    free(s->cols);
    free(s);
}

static polyp_status cuda_init(const polyp_weights *w, const polyp_extractor_params *p, void **out, polyp_error *err) {
    *out = NULL;
    if (!w || !p) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: weights or params is NULL");
    int count;
    char detail[160];
    pcu_reason why = pcu_probe(p->device, &count, detail, sizeof detail);
    if (why != PCU_OK) return polyp_cuda_unavailable(why, p->device, count, detail, err);
    /* The weights carry their own copy of the spec: a mismatch is a loader bug and would
     * read past the end of a tensor on the device. */
    const polyp_block_spec *table = polyp_effnet_blocks();
    for (int i = 0; i < POLYP_EFFNET_BLOCKS; i++)
        if (memcmp(&w->blocks[i].spec, &table[i], sizeof table[i]) != 0)
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: block %d: weights spec differs from the block table", i);

    pcu_layout L;
    polyp_status st = polyp_cuda_layout_plan(p->batch_size, p->precision, w->tf_same_padding, &L, err);
    if (st != POLYP_OK) return st;
    pcu_weights pw;
    memset(&pw, 0, sizeof pw);
    size_t floats = 0;
    pack(w, &L, &pw, NULL, &floats);
    /* fp32 weights, plus their fp16 copy for precision fast */
    const size_t weight_bytes = floats * (p->precision == POLYP_PRECISION_FAST ? 6 : 4);
    if ((st = polyp_cuda_layout_fits(&L, weight_bytes, pcu_free_bytes(p->device), p->device, err)) != POLYP_OK)
        return st;

    cuda_state *s = calloc(1, sizeof *s);
    float *packed = malloc(floats * sizeof *packed);
    if (s) {
        s->rows = malloc(p->batch_size * sizeof *s->rows);
        s->cols = malloc(p->batch_size * sizeof *s->cols);
    }
    if (!s || !packed || !s->rows || !s->cols) {
        free(packed);
        cuda_free(s);
        return polyp_fail(err, POLYP_ERR_NOMEM, "cuda: out of host memory for the weights");
    }
    s->batch = p->batch_size;
    s->device = p->device;
    floats = 0;
    pack(w, &L, &pw, packed, &floats);
    pw.data = packed;
    char msg[256];
    int rc = pcu_net_create(p->device, &L, &pw, &s->net, msg, sizeof msg);
    free(packed);
    if (rc != 0) {
        cuda_free(s);
        return polyp_fail(err, POLYP_ERR_BACKEND, "%s (device %d)", msg, p->device);
    }
    *out = s;
    return POLYP_OK;
}

static polyp_status cuda_run(void *state, const float *in, size_t n, float *out, polyp_error *err) {
    cuda_state *s = state;
    if (!s || (n && (!in || !out))) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: NULL state, input or output");
    if (n > s->batch)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: %zu patches exceed the batch size %zu", n, s->batch);
    char msg[256];
    if (pcu_net_run_patches(s->net, in, n, out, msg, sizeof msg) != 0)
        return polyp_fail(err, POLYP_ERR_BACKEND, "%s (device %d)", msg, s->device);
    return POLYP_OK;
}

static polyp_status cuda_run_points(void *state, const polyp_image *image, const polyp_point *points, size_t n,
                                    int first, float *out, polyp_error *err) {
    cuda_state *s = state;
    if (!s || !image || !image->pixels || (n && (!points || !out)))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: NULL state, image, points or output");
    if (n > s->batch)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: %zu points exceed the batch size %zu", n, s->batch);
    /* The kernel trusts its coordinates: check them here (the extractor already has, but
     * this is the last place before device memory is read with them). */
    for (size_t i = 0; i < n; i++) {
        if (points[i].row >= image->height || points[i].col >= image->width)
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: point %zu (row %u, column %u) is outside the %ux%u image",
                              i, points[i].row, points[i].col, image->width, image->height);
        s->rows[i] = points[i].row;
        s->cols[i] = points[i].col;
    }
    char msg[256];
    if ((first && pcu_net_upload_image(s->net, image->pixels, image->width, image->height, msg, sizeof msg) != 0) ||
        pcu_net_run_points(s->net, s->rows, s->cols, n, out, msg, sizeof msg) != 0)
        return polyp_fail(err, POLYP_ERR_BACKEND, "%s (device %d)", msg, s->device);
    return POLYP_OK;
}

const polyp_backend_ops polyp_backend_cuda_ops = {"cuda", cuda_init, cuda_run, cuda_free, cuda_run_points};
