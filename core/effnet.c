/* effnet.c - EfficientNet-B0 as data: the 16 MBConv blocks, the padding rule and the
 * canonical tensor list every other part derives from. */
#include "effnet.h"

#include "effnet_tensors.h"

#include <stdio.h>
#include <string.h>

/* lukemelas EfficientNet-PyTorch, efficientnet-b0 (width 1.0, depth 1.0): the seven stages
 * of DESIGN.md repeated out. se = max(1, in / 4) with `in` the block's input channels. */
#define B(i, o, k, s, e) {i, o, k, s, e, (i) * (e), (i) / 4 > 1 ? (i) / 4 : 1}
static const polyp_block_spec blocks[POLYP_EFFNET_BLOCKS] = {
    B(32, 16, 3, 1, 1),                                                             /* stage 1 */
    B(16, 24, 3, 2, 6),   B(24, 24, 3, 1, 6),                                       /* stage 2 */
    B(24, 40, 5, 2, 6),   B(40, 40, 5, 1, 6),                                       /* stage 3 */
    B(40, 80, 3, 2, 6),   B(80, 80, 3, 1, 6),   B(80, 80, 3, 1, 6),                 /* stage 4 */
    B(80, 112, 5, 1, 6),  B(112, 112, 5, 1, 6), B(112, 112, 5, 1, 6),               /* stage 5 */
    B(112, 192, 5, 2, 6), B(192, 192, 5, 1, 6), B(192, 192, 5, 1, 6), B(192, 192, 5, 1, 6), /* 6 */
    B(192, 320, 3, 1, 6),                                                           /* stage 7 */
};
#undef B

const polyp_block_spec *polyp_effnet_blocks(void) { return blocks; }

void polyp_effnet_padding(int kernel, int stride, int tf_same, int in_size, int *pad_before,
                          int *pad_after) {
    if (!tf_same) {
        /* torchvision: symmetric k/2 */
        *pad_before = *pad_after = kernel / 2;
        return;
    }
    /* TensorFlow SAME (lukemelas' Conv2dStaticSamePadding for the 224 input): the output is
     * ceil(in / stride); the total padding needed goes mostly after. */
    int out = (in_size + stride - 1) / stride;
    int total = (out - 1) * stride + kernel - in_size;
    if (total < 0) total = 0;
    *pad_before = total / 2;
    *pad_after = total - total / 2;
}

static void put(polyp_effnet_tensor *out, size_t *n, polyp_tensor_kind kind, int ndim, uint64_t d0,
                uint64_t d1, uint64_t d2, uint64_t d3, const char *fmt, int block, const char *suffix) {
    polyp_effnet_tensor *t = &out[(*n)++];
    memset(t, 0, sizeof *t);
    if (block >= 0) snprintf(t->name, sizeof t->name, fmt, block, suffix);
    else snprintf(t->name, sizeof t->name, fmt, suffix);
    t->kind = kind;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d2;
    t->shape[3] = d3;
}

static void put_bn(polyp_effnet_tensor *out, size_t *n, const char *fmt, int block, uint64_t ch) {
    static const char *suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    static const polyp_tensor_kind kinds[4] = {POLYP_TENSOR_BN_WEIGHT, POLYP_TENSOR_BN_BIAS, POLYP_TENSOR_BN_MEAN,
                                               POLYP_TENSOR_BN_VAR};
    for (int i = 0; i < 4; i++) put(out, n, kinds[i], 1, ch, 0, 0, 0, fmt, block, suffix[i]);
}

size_t polyp_effnet_tensors(polyp_effnet_tensor out[POLYP_EFFNET_TENSORS]) {
    size_t n = 0;
    const polyp_tensor_kind W = POLYP_TENSOR_CONV_WEIGHT, BIAS = POLYP_TENSOR_CONV_BIAS;
    put(out, &n, W, 4, POLYP_STEM_CH, 3, 3, 3, "_conv_stem.%s", -1, "weight");
    put_bn(out, &n, "_bn0.%s", -1, POLYP_STEM_CH);
    for (int b = 0; b < POLYP_EFFNET_BLOCKS; b++) {
        const polyp_block_spec *s = &blocks[b];
        uint64_t in = (uint64_t)s->in, hid = (uint64_t)s->hidden, se = (uint64_t)s->se, k = (uint64_t)s->kernel;
        if (s->expand != 1) {
            put(out, &n, W, 4, hid, in, 1, 1, "_blocks.%d._expand_conv.%s", b, "weight");
            put_bn(out, &n, "_blocks.%d._bn0.%s", b, hid);
        }
        put(out, &n, W, 4, hid, 1, k, k, "_blocks.%d._depthwise_conv.%s", b, "weight");
        put_bn(out, &n, "_blocks.%d._bn1.%s", b, hid);
        put(out, &n, W, 4, se, hid, 1, 1, "_blocks.%d._se_reduce.%s", b, "weight");
        put(out, &n, BIAS, 1, se, 0, 0, 0, "_blocks.%d._se_reduce.%s", b, "bias");
        put(out, &n, W, 4, hid, se, 1, 1, "_blocks.%d._se_expand.%s", b, "weight");
        put(out, &n, BIAS, 1, hid, 0, 0, 0, "_blocks.%d._se_expand.%s", b, "bias");
        put(out, &n, W, 4, (uint64_t)s->out, hid, 1, 1, "_blocks.%d._project_conv.%s", b, "weight");
        put_bn(out, &n, "_blocks.%d._bn2.%s", b, (uint64_t)s->out);
    }
    put(out, &n, W, 4, POLYP_FEATURE_DIM, POLYP_HEAD_IN, 1, 1, "_conv_head.%s", -1, "weight");
    put_bn(out, &n, "_bn1.%s", -1, POLYP_FEATURE_DIM);
    return n;
}
