/* tflite.h - a strict reader of TensorFlow Lite flatbuffers (internal).
 *
 * Reads the one subgraph of a .tflite file: its tensors (shape, type, quantization, constant
 * data) and operators (builtin code, inputs, outputs, the options of the ops polyp runs).
 * Every offset, vtable, vector length and buffer size is checked against the file before it
 * is read; sizes are capped; anything unsupported (custom ops, several subgraphs, sparse
 * tensors, external buffers, ops outside POLYP_TFL_OP_*) is refused with a one-line reason
 * naming the op or tensor. Nothing is allocated per field: the model points into `data`.
 *
 * Schema: tensorflow/lite/schema/schema.fbs (field ids are noted where they are read). */
#ifndef POLYP_TFLITE_H
#define POLYP_TFLITE_H

#include "internal.h"

#define POLYP_TFL_MAX_DIMS 6
#define POLYP_TFL_MAX_TENSORS 65536
#define POLYP_TFL_MAX_OPS 65536
#define POLYP_TFL_MAX_IO 4           /* inputs per operator (CONV_2D has 3) */
#define POLYP_TFL_MAX_DIM 65536      /* one dimension */
#define POLYP_TFL_MAX_ELEMS (1u << 28)  /* elements of one tensor */

/* TensorType values polyp understands. */
enum { POLYP_TFL_FLOAT32 = 0, POLYP_TFL_INT32 = 2, POLYP_TFL_UINT8 = 3, POLYP_TFL_INT64 = 4, POLYP_TFL_INT8 = 9 };

/* BuiltinOperator codes polyp accepts (all others are refused by name or number). */
enum {
    POLYP_TFL_OP_ADD = 0,
    POLYP_TFL_OP_AVERAGE_POOL_2D = 1,
    POLYP_TFL_OP_CONV_2D = 3,
    POLYP_TFL_OP_DEPTHWISE_CONV_2D = 4,
    POLYP_TFL_OP_DEQUANTIZE = 6,
    POLYP_TFL_OP_RESHAPE = 22,
    POLYP_TFL_OP_SOFTMAX = 25,
    POLYP_TFL_OP_MEAN = 40,
    POLYP_TFL_OP_QUANTIZE = 114,
};

/* Padding and fused activations (schema enums Padding, ActivationFunctionType). */
enum { POLYP_TFL_PAD_SAME = 0, POLYP_TFL_PAD_VALID = 1 };
enum { POLYP_TFL_ACT_NONE = 0, POLYP_TFL_ACT_RELU = 1, POLYP_TFL_ACT_RELU6 = 3 };

typedef struct polyp_tfl_tensor {
    int ndim;
    int32_t shape[POLYP_TFL_MAX_DIMS];
    size_t elems;            /* product of shape (1 for a scalar) */
    int type;                /* POLYP_TFL_* */
    const char *name;        /* points into the file (not NUL-terminated): name_len bytes */
    size_t name_len;
    const uint8_t *data;     /* constant data in the file, NULL for activations */
    size_t nbytes;           /* == elems * element size when data != NULL */
    size_t nquant;           /* quantization scales (0: not quantized; 1: per tensor; >1:
                                per channel along quant_dim) */
    const uint8_t *scales;   /* nquant little-endian float32, in the file */
    const uint8_t *zero_points; /* nquant little-endian int64, in the file */
    int quant_dim;
} polyp_tfl_tensor;

typedef struct polyp_tfl_op {
    int code;                /* POLYP_TFL_OP_* */
    size_t index;            /* position in the subgraph (for messages) */
    int ninputs;
    int32_t inputs[POLYP_TFL_MAX_IO];  /* tensor indices; -1 = optional input absent */
    int32_t output;
    /* options (those of the op's own table; defaults as in the schema) */
    int padding, act;
    int32_t stride_w, stride_h, dilation_w, dilation_h;
    int32_t depth_multiplier;
    int32_t filter_w, filter_h;
    int keep_dims;
    float beta;
} polyp_tfl_op;

/* A parsed model; everything points into the bytes given to polyp_tfl_parse, which must
 * outlive it. Owned: polyp_tfl_free (frees the two arrays only). */
typedef struct polyp_tfl_model {
    size_t ntensors;
    polyp_tfl_tensor *tensors;
    size_t nops;
    polyp_tfl_op *ops;
    int32_t input, output;   /* the subgraph's single input and output tensors */
} polyp_tfl_model;

/* 1 when the bytes carry the TFLite file identifier ("TFL3" at offset 4). */
int polyp_tfl_detect(const void *data, size_t size);

/* Parses and validates; `data` is borrowed and kept by *out (see above). */
polyp_status polyp_tfl_parse(const void *data, size_t size, polyp_tfl_model *out, polyp_error *err);
void polyp_tfl_free(polyp_tfl_model *m);

/* Name of a builtin operator code for messages ("CONV_2D", or "builtin 17"). buf: >= 24. */
const char *polyp_tfl_op_name(int code, char *buf, size_t cap);

/* Little-endian loads from the file's bytes (any alignment). */
float polyp_tfl_f32(const uint8_t *p);
int32_t polyp_tfl_i32(const uint8_t *p);
int64_t polyp_tfl_i64(const uint8_t *p);

#endif /* POLYP_TFLITE_H */
