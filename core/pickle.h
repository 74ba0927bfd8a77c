/* pickle.h - a restricted unpickler for PyTorch state_dicts (internal API).
 *
 * It builds plain values (None, bools, ints, floats, strings, bytes, tuples, lists, dicts)
 * and understands exactly the globals a state_dict needs, without importing or calling
 * anything: collections.OrderedDict, torch._utils._rebuild_tensor_v2 /
 * _rebuild_parameter (-> a tensor value: storage, offset, shape, strides) and the typed
 * storage classes (torch.FloatStorage, ...) inside persistent ids ('storage', type, key,
 * location, numel[, None]). Any other global (os.system, builtins.eval, ...), any call of
 * something else (REDUCE, NEWOBJ, BUILD on other objects), extension codes and text-protocol
 * opcodes are refused with a one-line reason naming them. Sizes are capped (values, stack,
 * memo, container items) so hostile input cannot exhaust memory. */
#ifndef POLYP_PICKLE_H
#define POLYP_PICKLE_H

#include "internal.h"
#include "safetensors.h"

#define POLYP_PK_MAX_DIMS 8

typedef enum polyp_pk_type {
    POLYP_PK_NONE, POLYP_PK_BOOL, POLYP_PK_INT, POLYP_PK_BIGINT, POLYP_PK_FLOAT, POLYP_PK_STR,
    POLYP_PK_BYTES, POLYP_PK_TUPLE, POLYP_PK_LIST, POLYP_PK_DICT, POLYP_PK_GLOBAL,
    POLYP_PK_STORAGE, POLYP_PK_TENSOR,
} polyp_pk_type;

typedef struct polyp_pk_value polyp_pk_value;

typedef struct polyp_pk_tensor {
    polyp_pk_value *storage;            /* a POLYP_PK_STORAGE value */
    uint64_t offset;                    /* in elements */
    int ndim;
    uint64_t shape[POLYP_PK_MAX_DIMS];
    uint64_t stride[POLYP_PK_MAX_DIMS]; /* in elements */
} polyp_pk_tensor;

struct polyp_pk_value {
    polyp_pk_type type;
    int64_t i;               /* BOOL, INT; STORAGE: numel */
    double f;                /* FLOAT */
    const char *s;           /* STR: NUL-terminated, no NUL inside; BYTES, BIGINT (little-endian
                                two's complement): raw; STORAGE: its key; GLOBAL: "module.name" */
    size_t len;              /* bytes in s */
    polyp_pk_value **items;  /* TUPLE, LIST: n values; DICT: n (key, value) pairs, 2n values */
    size_t n, cap;
    int global;              /* GLOBAL: which (pickle.c); STORAGE: its polyp_st_dtype */
    int ordered;             /* DICT made by OrderedDict() (BUILD may set its attributes) */
    polyp_pk_tensor *tensor; /* TENSOR */
    const unsigned char *data; /* STORAGE: its bytes, filled in by the caller (torch_ckpt.c) */
    size_t nbytes;
};

/* One parsed pickle. Values are owned by it; release with polyp_pickle_free. */
typedef struct polyp_pickle {
    polyp_pk_value *root;
    polyp_pk_value **storages;  /* every STORAGE value, in the order they appear */
    size_t n_storages;
    void *internal;
} polyp_pickle;

/* Parses one pickle from data[0..size) up to its STOP opcode; *consumed = bytes used (the
 * legacy torch.save format is several pickles in a row). */
polyp_status polyp_pickle_parse(const void *data, size_t size, size_t *consumed, polyp_pickle *out,
                                polyp_error *err);
void polyp_pickle_free(polyp_pickle *pickle);

/* Value of `key` (a string) in a DICT, or NULL. */
const polyp_pk_value *polyp_pk_dict_get(const polyp_pk_value *dict, const char *key);
/* "an int", "a dict", ... for messages. */
const char *polyp_pk_type_name(polyp_pk_type type);
/* Bytes per element of a storage dtype (polyp_st_dtype). */
size_t polyp_pk_storage_elem_size(int dtype);

#endif /* POLYP_PICKLE_H */
