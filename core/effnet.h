/* effnet.h - EfficientNet-B0 as data: the block table, the BN-folded parameters every
 * backend consumes, and the internal backend interface. Not part of the public API. */
#ifndef POLYP_EFFNET_H
#define POLYP_EFFNET_H

#include "internal.h"

#include <stdatomic.h>

#define POLYP_EFFNET_BLOCKS 16
#define POLYP_STEM_CH 32
#define POLYP_HEAD_IN 320

/* One MBConv block. hidden = in * expand; se = max(1, in / 4) (lukemelas: se_ratio 0.25 of
 * the block's input channels). */
typedef struct polyp_block_spec {
    int in, out, kernel, stride, expand;
    int hidden, se;
} polyp_block_spec;

/* The 16 blocks of B0 in order (stages repeated out), from the table in effnet.c. */
const polyp_block_spec *polyp_effnet_blocks(void);

/* TF "SAME" padding for a 224 input (lukemelas): stride-2 3x3 pads 0 before / 1 after,
 * stride-2 5x5 pads 1 / 2, stride-1 kxk (k-1)/2 both sides. torchvision: k/2 both sides. */
void polyp_effnet_padding(int kernel, int stride, int tf_same, int in_size, int *pad_before,
                          int *pad_after);

/* BN-folded parameters (y = conv(x, w) + b already includes the batch norm).
 * All layouts are "output channel outermost", NHWC-friendly, and match XNNPACK's:
 *   conv kxk:   w[out][k][k][in]   (OHWI)
 *   1x1 / fc:   w[out][in]
 *   depthwise:  w[k][k][channels]  (HWC)                                          */
typedef struct polyp_block_params {
    polyp_block_spec spec;
    const float *expand_w, *expand_b;    /* [hidden][in], [hidden]; NULL when expand == 1 */
    const float *dw_w, *dw_b;            /* [k][k][hidden], [hidden] */
    const float *se_reduce_w, *se_reduce_b;  /* [se][hidden], [se] */
    const float *se_expand_w, *se_expand_b;  /* [hidden][se], [hidden] */
    const float *project_w, *project_b;  /* [out][hidden], [out] */
} polyp_block_params;

/* What a backend derives from the weights once and shares among all its instances (the
 * portable backend's packed panels, ~20 MB: one copy however many extractors, e.g. one per
 * pipeline worker). An entry is immutable once published; the weights own and free it. */
typedef struct polyp_weights_cache {
    struct polyp_weights_cache *next;
    const void *key;                                /* the backend's choice, e.g. its kernel table */
    void (*free)(struct polyp_weights_cache *self);
} polyp_weights_cache;

/* The entry of `key`, or NULL. Any thread. */
polyp_weights_cache *polyp_weights_cache_find(const polyp_weights *w, const void *key);
/* Publishes e (its key and free set) unless an entry of its key is there already, which
 * wins: e is then freed. Returns the entry that stays. Any thread, any number at once. */
polyp_weights_cache *polyp_weights_cache_publish(const polyp_weights *w, polyp_weights_cache *e);

struct polyp_weights {
    int tf_same_padding;                 /* 1: lukemelas (CoralNet), 0: torchvision */
    float bn_eps;                        /* 1e-3 or 1e-5; already applied when folding */
    const float *stem_w, *stem_b;        /* [32][3][3][3], [32] */
    polyp_block_params blocks[POLYP_EFFNET_BLOCKS];
    const float *head_w, *head_b;        /* [1280][320], [1280] */
    float *arena;                        /* owns every float above (64-byte aligned) */
    size_t arena_floats;
    char sha256[65];                     /* polyp_weights_sha256 */
    const char *kind;                    /* polyp_weights_kind: static string */
    size_t feature_dim;
    char extractor_id[POLYP_EXTRACTOR_ID_MAX];  /* "<kind>:<sha256>:<feature_dim>" */
    /* A TFLite MobileNet instead of B0 (tflite_net.h; owned, freed with the weights): then
     * none of the B0 fields above is set and polyp_backend_tflite_ops runs it. */
    struct polyp_tfl_net *net;
    /* Derived data (polyp_weights_cache_*): the one field that changes after loading, as a
     * lock-free list, so that extractors on other threads can share one copy. */
    _Atomic(polyp_weights_cache *) cache;
};

/* A compute backend: builds its runtime once for a batch size, then runs batches.
 * in: n x 224 x 224 x 3 floats (HWC, [0,1]); out: n x 1280 floats; n <= batch. */
typedef struct polyp_backend_ops {
    const char *name;
    polyp_status (*init)(const polyp_weights *w, const polyp_extractor_params *p, void **state,
                         polyp_error *err);
    polyp_status (*run)(void *state, const float *in, size_t n, float *out, polyp_error *err);
    void (*free)(void *state);
    /* Optional (NULL: the extractor crops on the CPU and calls run). n <= batch points of
     * one photo, all inside it, cropped by the backend itself as polyp_patch_crop does;
     * first is 1 on the first batch of a photo (upload it), 0 while the same photo goes
     * on. The CUDA backend crops on the device so patches never pass through host memory. */
    polyp_status (*run_points)(void *state, const polyp_image *image, const polyp_point *points, size_t n, int first,
                               float *out, polyp_error *err);
} polyp_backend_ops;

extern const polyp_backend_ops polyp_backend_portable_ops;
extern const polyp_backend_ops polyp_backend_tflite_ops;   /* weights with a TFLite net */

/* TFLite weights (weights_tflite.c): polyp_weights_load's branch for "TFL3" files. */
polyp_status polyp_weights_load_tflite(const void *data, size_t size, polyp_weights **out, polyp_error *err);
#ifdef POLYP_HAVE_XNNPACK
extern const polyp_backend_ops polyp_backend_xnnpack_ops;
#endif
#ifdef POLYP_HAVE_CUDA
extern const polyp_backend_ops polyp_backend_cuda_ops;
/* 1 when CUDA device `device` can run this build's code (what AUTO asks before it picks
 * CUDA: a machine without a driver or device falls back to the CPU silently). */
int polyp_backend_cuda_usable(int device);
#endif

#endif /* POLYP_EFFNET_H */
