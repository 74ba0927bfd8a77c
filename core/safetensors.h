/* safetensors.h - reader and writer for the safetensors container (internal API).
 * Layout: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the byte buffer the offsets index. Used for network weights, the test network's
 * batch-norm statistics and classifier model files. */
#ifndef POLYP_SAFETENSORS_H
#define POLYP_SAFETENSORS_H

#include "internal.h"

#define POLYP_ST_MAX_HEADER ((uint64_t)100 << 20) /* refuse JSON headers past 100 MiB */
#define POLYP_ST_MAX_DIMS 8

typedef enum polyp_st_dtype {
    POLYP_ST_F32, POLYP_ST_F64, POLYP_ST_F16, POLYP_ST_BF16,
    POLYP_ST_I64, POLYP_ST_I32, POLYP_ST_I16, POLYP_ST_I8,
    POLYP_ST_U8, POLYP_ST_BOOL, POLYP_ST_UNKNOWN,
} polyp_st_dtype;

typedef struct polyp_st_tensor {
    const char *name;
    polyp_st_dtype dtype;
    const char *dtype_name;        /* as written in the file, e.g. "F32" */
    int ndim;
    uint64_t shape[POLYP_ST_MAX_DIMS];
    const uint8_t *data;           /* points into the parsed buffer (borrowed) */
    size_t nbytes;
} polyp_st_tensor;

typedef struct polyp_st_file {
    size_t count;
    polyp_st_tensor *tensors;      /* in header order */
    size_t meta_count;
    const char **meta_keys;        /* __metadata__ string entries */
    const char **meta_values;
    void *storage;                 /* internal */
} polyp_st_file;

/* Parses and validates (header length, JSON, dtypes, shapes x dtype size == byte range,
 * ranges inside the buffer and non-overlapping). Tensor data points into `data`, which must
 * outlive `out`. Errors name the offending tensor. Free with polyp_st_free. */
polyp_status polyp_st_parse(const void *data, size_t size, polyp_st_file *out, polyp_error *err);
const polyp_st_tensor *polyp_st_find(const polyp_st_file *file, const char *name);
const char *polyp_st_meta(const polyp_st_file *file, const char *key); /* NULL if absent */
void polyp_st_free(polyp_st_file *file);
size_t polyp_st_dtype_size(polyp_st_dtype dtype);
/* "[a, b, c]" for messages (truncated to cap). */
void polyp_st_shape_str(char *buf, size_t cap, int ndim, const uint64_t *shape);

/* Writer: collect tensors (data borrowed until finish) and metadata, then serialise. */
typedef struct polyp_st_writer polyp_st_writer;
polyp_st_writer *polyp_st_writer_new(void);
polyp_status polyp_st_writer_add(polyp_st_writer *w, const char *name, polyp_st_dtype dtype,
                                 int ndim, const uint64_t *shape, const void *data,
                                 polyp_error *err);
polyp_status polyp_st_writer_meta(polyp_st_writer *w, const char *key, const char *value,
                                  polyp_error *err);
/* *out owned by the caller (polyp_free). */
polyp_status polyp_st_writer_finish(polyp_st_writer *w, void **out, size_t *out_size,
                                    polyp_error *err);
void polyp_st_writer_free(polyp_st_writer *w);

#endif /* POLYP_SAFETENSORS_H */
