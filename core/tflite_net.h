/* tflite_net.h - a parsed TFLite MobileNet as a float network for the portable kernels
 * (internal).
 *
 * The float path: constant weights are dequantized once (w = scale * (q - zero_point), per
 * tensor or per output channel; int32 biases b = bias_scale * q), activations stay float32
 * and run on the same depthwise and 1x1 GEMM kernels as EfficientNet-B0. TFLite's uint8
 * graph clamps every op's output to what its uint8 output tensor can hold (and to the
 * fused ReLU/ReLU6); the float path keeps those clamps (they are free: the kernels' CLAMP
 * activation) but not the rounding to 256 levels. The model's own input scaling applies:
 * q = round(255 p) for the patch value p in [0, 1], real = scale * (q - zero_point).
 *
 * The feature is the output of the last global pooling op (AVERAGE_POOL_2D over the whole
 * map, or MEAN over height and width): MobileNet v1's embedding extractor ends there
 * (1024-d); v2's classifier after it (1x1 conv, RESHAPE, SOFTMAX) is read and checked but
 * not run (1280-d pooled feature). */
#ifndef POLYP_TFLITE_NET_H
#define POLYP_TFLITE_NET_H

#include "tflite.h"

enum { POLYP_TN_CONV, POLYP_TN_DW, POLYP_TN_ADD, POLYP_TN_POOL };

/* One layer; activations are NHWC floats in numbered slots. */
typedef struct polyp_tn_layer {
    int kind;                 /* POLYP_TN_* */
    size_t op;                /* the TFLite operator it comes from */
    int in, in2, out;         /* slots (in2: ADD's second input, else -1) */
    size_t h, w, c;           /* input map */
    size_t ho, wo, co;        /* output map */
    size_t k, stride, pad_top, pad_left;  /* conv / depthwise geometry (square kernels) */
    float lo, hi;             /* output clamp */
    const float *wt;          /* conv: [co][k][k][c] (OHWI, i.e. [co][k*k*c]); depthwise: [k][k][c] */
    const float *bias;        /* [co] */
} polyp_tn_layer;

typedef struct polyp_tfl_net {
    size_t nlayers;
    polyp_tn_layer *layers;   /* in execution order */
    size_t nslots;            /* activation slots one patch needs at once */
    size_t slot_floats;       /* floats per slot (the largest map) */
    size_t im2col_floats;     /* scratch for KxK or strided convolutions (0: none) */
    int in_slot, feat_slot;
    float in_scale;           /* real input = in_scale * (q - in_zp) */
    int in_zp;
    size_t dim;               /* feature width */
    const char *kind;         /* "mobilenet_v1", "mobilenet_v2" (from tensor names) or "tflite" */
    float *arena;             /* owns wt and bias of every layer */
} polyp_tfl_net;

/* Builds from a parsed model (borrowed during the call only). Refuses, naming the op or
 * tensor, any op, type, shape or option the float path does not run. Owned:
 * polyp_tfl_net_free. */
polyp_status polyp_tfl_net_build(const polyp_tfl_model *m, polyp_tfl_net **out, polyp_error *err);
void polyp_tfl_net_free(polyp_tfl_net *net);

#endif /* POLYP_TFLITE_NET_H */
