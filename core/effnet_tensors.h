/* effnet_tensors.h - the canonical tensor list of EfficientNet-B0 (lukemelas state_dict
 * names, PyTorch shapes), derived from the block table. Shared by the weights loader (what
 * must be present) and the test network builder (what to generate). Internal. */
#ifndef POLYP_EFFNET_TENSORS_H
#define POLYP_EFFNET_TENSORS_H

#include "effnet.h"

/* stem 1 + bn 4, block 0 (no expansion) 14, blocks 1..15 19 each, head 1 + bn 4 */
#define POLYP_EFFNET_TENSORS 309

typedef enum polyp_tensor_kind {
    POLYP_TENSOR_CONV_WEIGHT,   /* every conv / SE weight: [out, in/groups, k, k] */
    POLYP_TENSOR_CONV_BIAS,     /* SE biases */
    POLYP_TENSOR_BN_WEIGHT,     /* gamma */
    POLYP_TENSOR_BN_BIAS,       /* beta */
    POLYP_TENSOR_BN_MEAN,       /* running_mean */
    POLYP_TENSOR_BN_VAR,        /* running_var */
} polyp_tensor_kind;

typedef struct polyp_effnet_tensor {
    char name[48];
    polyp_tensor_kind kind;
    int ndim;
    uint64_t shape[4];
} polyp_effnet_tensor;

/* Fills out[0..POLYP_EFFNET_TENSORS) in state_dict order; returns the count written. */
size_t polyp_effnet_tensors(polyp_effnet_tensor out[POLYP_EFFNET_TENSORS]);

#endif /* POLYP_EFFNET_TENSORS_H */
