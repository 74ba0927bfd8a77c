/* cuda_net.h - the boundary between the CUDA backend's C side (backend_cuda.c, cuda_plan.c)
 * and its CUDA side (cuda_net.cu, cuda_kernels.cu). Plain C types only, so nvcc never sees
 * the project's C11 headers and the C side never sees CUDA's. Not part of the public API.
 *
 * Everything here is described in elements and byte offsets computed on the C side
 * (cuda_plan.c, unit-tested without a GPU); the CUDA side only allocates and launches. */
#ifndef POLYP_CUDA_NET_H
#define POLYP_CUDA_NET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCU_BLOCKS 16
#define PCU_PATCH 224
#define PCU_STEM_CH 32
#define PCU_HEAD_IN 320
#define PCU_FEATURES 1280

/* One MBConv block: its shape, the spatial sizes of its input and output, and where its
 * BN-folded parameters start in the packed fp32 weight array (in floats). */
typedef struct pcu_block {
    int in, out, kernel, stride, expand, hidden, se;
    int h, ho, pad;                       /* input side, output side, top/left padding */
    size_t expand_w, expand_b;            /* [hidden][in], [hidden]; unused when expand == 1 */
    size_t dw_w, dw_b;                    /* [k][k][hidden], [hidden] */
    size_t ser_w, ser_b, see_w, see_b;    /* SE reduce [se][hidden], [se]; expand [hidden][se] */
    size_t proj_w, proj_b;                /* [out][hidden], [out] */
} pcu_block;

/* Device memory of one batch: byte offsets into one allocation, each 256-byte aligned.
 * Activations are `act_bytes` wide (4 exact, 2 fast); input, SE and features are fp32. */
typedef struct pcu_layout {
    size_t batch;
    int precision;                        /* polyp_precision: 0 exact, 1 fast */
    size_t act_bytes;
    /* elements per patch */
    size_t in_elems, x_elems, e_elems, d_elems, rowsum_elems, gate_elems;
    /* byte offsets */
    size_t input, x, y, e, d, rowsum, gate, feat;
    size_t total;                         /* bytes of the whole batch allocation */
    int stem_hw, stem_pad;
    pcu_block blocks[PCU_BLOCKS];
} pcu_layout;

/* The packed network: every parameter in one fp32 array (borrowed during pcu_net_create). */
typedef struct pcu_weights {
    const float *data;
    size_t floats;
    size_t stem_w, stem_b, head_w, head_b; /* stem [32][3][3][3] OHWI; head [1280][320] */
} pcu_weights;

/* Why CUDA cannot be used (pcu_probe). */
typedef enum pcu_reason {
    PCU_OK = 0,
    PCU_NOT_BUILT,      /* this polyp was configured without CUDA */
    PCU_NO_DRIVER,      /* no libcuda / a driver older than the runtime */
    PCU_NO_DEVICE,      /* driver present, no device visible (CUDA_VISIBLE_DEVICES) */
    PCU_BAD_INDEX,      /* the device index asked for is not there */
    PCU_OLD_DEVICE,     /* compute capability below 9.0: no code for it in this build */
    PCU_RUNTIME_ERROR   /* any other CUDA error: the detail says which */
} pcu_reason;

typedef struct pcu_net pcu_net;

/* Counts devices and checks `device`: PCU_OK, or why not with `detail` (the CUDA error
 * string, NUL-terminated, may be empty) and *count the devices seen. Never aborts. */
pcu_reason pcu_probe(int device, int *count, char *detail, size_t detail_size);

/* Device memory free on `device` in bytes (0 when it cannot be asked). */
size_t pcu_free_bytes(int device);

/* Allocates the layout's buffers and the weights on `device`, uploads them, captures the
 * full-batch network as a CUDA Graph. 0 on success, else -1 with a message in msg. */
int pcu_net_create(int device, const pcu_layout *layout, const pcu_weights *weights, pcu_net **out, char *msg,
                   size_t msg_size);
void pcu_net_destroy(pcu_net *net);

/* n (<= batch) float HWC patches in host memory -> n x 1280 features. */
int pcu_net_run_patches(pcu_net *net, const float *patches, size_t n, float *features, char *msg, size_t msg_size);

/* Uploads one decoded photo (uint8 HWC RGB, width x height) for pcu_net_run_points. */
int pcu_net_upload_image(pcu_net *net, const unsigned char *pixels, unsigned width, unsigned height, char *msg,
                         size_t msg_size);

/* n (<= batch) points (rows[i], cols[i], inside the uploaded photo) cropped on the device as
 * core/crop.c does (numpy reflect padding, uint8 / 255) into the network input -> features. */
int pcu_net_run_points(pcu_net *net, const unsigned *rows, const unsigned *cols, size_t n, float *features, char *msg,
                       size_t msg_size);

#ifdef __cplusplus
}
#endif

#endif /* POLYP_CUDA_NET_H */
