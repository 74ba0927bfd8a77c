/* pickle.c - the restricted unpickler of pickle.h: a stack machine over the binary opcodes
 * (protocols 2-5) that torch.save emits for state_dicts. Nothing is ever imported or called:
 * a GLOBAL only names one of the few known callables, and REDUCE of those builds a plain
 * value (an empty dict, a tensor description). Everything else stops the parse, naming the
 * opcode or global and its byte offset. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caps: a B0 state_dict pickle holds ~20k values and its largest SETITEMS batch 1000 pairs. */
#define PK_MAX_VALUES ((size_t)1 << 19)
#define PK_MAX_ITEMS ((size_t)1 << 22)  /* container slots in all */
#define PK_MAX_STACK ((size_t)1 << 20)
#define PK_MAX_MARKS ((size_t)1 << 16)
#define PK_MAX_MEMO ((size_t)1 << 20)
#define PK_MAX_NAME 256                 /* GLOBAL module / name lines */
/* Pairs per dict and storage references per pickle: keys and storages are matched by linear
 * search (B0's state_dict has ~360 entries, 309 storages), so these bound the quadratic work. */
#define PK_MAX_DICT 8192
#define PK_MAX_STORAGES 4096

enum {
    G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_STORAGE_FIRST,
};

/* torch's typed storage classes and the dtype of their elements. */
static const struct {
    const char *name;
    polyp_st_dtype dtype;
    size_t size;
} storage_types[] = {
    {"FloatStorage", POLYP_ST_F32, 4}, {"DoubleStorage", POLYP_ST_F64, 8}, {"HalfStorage", POLYP_ST_F16, 2},
    {"BFloat16Storage", POLYP_ST_BF16, 2}, {"LongStorage", POLYP_ST_I64, 8}, {"IntStorage", POLYP_ST_I32, 4},
    {"ShortStorage", POLYP_ST_I16, 2}, {"CharStorage", POLYP_ST_I8, 1}, {"ByteStorage", POLYP_ST_U8, 1},
    {"BoolStorage", POLYP_ST_BOOL, 1},
};
#define N_STORAGE_TYPES (sizeof storage_types / sizeof storage_types[0])

size_t polyp_pk_storage_elem_size(int dtype) {
    for (size_t i = 0; i < N_STORAGE_TYPES; i++)
        if ((int)storage_types[i].dtype == dtype) return storage_types[i].size;
    return 0;
}

typedef struct pk_state {
    const unsigned char *p;
    size_t size, pos, op_pos;
    unsigned char op;
    polyp_pk_value **all;       /* every value made, for freeing */
    size_t n_all, cap_all, items_total;
    polyp_pk_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    polyp_pk_value **memo;
    size_t memo_cap, memo_len;
    polyp_pk_value **storages;
    size_t n_storages, storages_cap;
    polyp_error *err;
} pk_state;

const char *polyp_pk_type_name(polyp_pk_type t) {
    static const char *const names[] = {"None", "a bool", "an int", "a big int", "a float", "a string", "bytes",
                                        "a tuple", "a list", "a dict", "a global", "a storage", "a tensor"};
    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static const char *op_name(unsigned char op) {
    static const struct {
        unsigned char op;
        const char *name;
    } t[] = {
        {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
        {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
        {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
        {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
        {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
        {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
        {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
        {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
        {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
        {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
        {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
        {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
        {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
        {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].op == op) return t[i].name;
    return "unknown";
}

#define FAIL(S, status, ...) polyp_fail((S)->err, status, __VA_ARGS__)

/* Makes room for one more element in a growable array (*arr of *cap elements of `size`
 * bytes, doubling from `first`). */
static polyp_status grow(pk_state *S, void *arr, size_t *cap, size_t used, size_t size, size_t first) {
    if (used < *cap) return POLYP_OK;
    size_t nc = *cap ? *cap * 2 : first;
    void *old, *n;
    memcpy(&old, arr, sizeof old); /* arr is a T **: copied, not aliased */
    if (!(n = realloc(old, nc * size))) return FAIL(S, POLYP_ERR_NOMEM, "pickle: out of memory");
    memcpy(arr, &n, sizeof n);
    *cap = nc;
    return POLYP_OK;
}

static polyp_status bad(pk_state *S, const char *why) {
    return FAIL(S, POLYP_ERR_FORMAT, "pickle: %s %s at byte %zu", op_name(S->op), why, S->op_pos);
}

static polyp_status need(pk_state *S, size_t n, const unsigned char **out) {
    if (S->size - S->pos < n)
        return FAIL(S, POLYP_ERR_FORMAT, "pickle: truncated inside %s at byte %zu", op_name(S->op), S->op_pos);
    *out = S->p + S->pos;
    S->pos += n;
    return POLYP_OK;
}

static uint64_t le(const unsigned char *b, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | b[i];
    return v;
}

static polyp_pk_value *new_value(pk_state *S, polyp_pk_type type) {
    if (S->n_all >= PK_MAX_VALUES) {
        FAIL(S, POLYP_ERR_LIMIT, "pickle: more than %zu values", PK_MAX_VALUES);
        return NULL;
    }
    if (grow(S, &S->all, &S->cap_all, S->n_all, sizeof *S->all, 256) != POLYP_OK) return NULL;
    polyp_pk_value *v = calloc(1, sizeof *v);
    if (!v) {
        FAIL(S, POLYP_ERR_NOMEM, "pickle: out of memory");
        return NULL;
    }
    v->type = type;
    S->all[S->n_all++] = v;
    return v;
}

static polyp_status push(pk_state *S, polyp_pk_value *v) {
    if (!v) return S->err ? S->err->status : POLYP_ERR_NOMEM;
    if (S->sp >= PK_MAX_STACK) return FAIL(S, POLYP_ERR_LIMIT, "pickle: stack deeper than %zu", PK_MAX_STACK);
    polyp_status st = grow(S, &S->stack, &S->stack_cap, S->sp, sizeof *S->stack, 64);
    if (st != POLYP_OK) return st;
    S->stack[S->sp++] = v;
    return POLYP_OK;
}

static polyp_pk_value *pop(pk_state *S) {
    size_t floor = S->n_marks ? S->marks[S->n_marks - 1] : 0;
    if (S->sp <= floor) {
        bad(S, "on an empty stack");
        return NULL;
    }
    return S->stack[--S->sp];
}

static polyp_pk_value *top(pk_state *S) {
    size_t floor = S->n_marks ? S->marks[S->n_marks - 1] : 0;
    if (S->sp <= floor) {
        bad(S, "on an empty stack");
        return NULL;
    }
    return S->stack[S->sp - 1];
}

/* Start of the items above the last MARK; pops the mark. */
static polyp_status pop_mark(pk_state *S, size_t *start) {
    if (!S->n_marks) return bad(S, "without a MARK");
    *start = S->marks[--S->n_marks];
    return POLYP_OK;
}

static polyp_status add_item(pk_state *S, polyp_pk_value *c, polyp_pk_value *v) {
    if (S->items_total >= PK_MAX_ITEMS)
        return FAIL(S, POLYP_ERR_LIMIT, "pickle: more than %zu container items", PK_MAX_ITEMS);
    polyp_status st = grow(S, &c->items, &c->cap, c->n, sizeof *c->items, 4);
    if (st != POLYP_OK) return st;
    c->items[c->n++] = v;
    S->items_total++;
    return POLYP_OK;
}

/* A dict's n counts pairs: slots 2n and 2n + 1. */
static polyp_status add_pair(pk_state *S, polyp_pk_value *d, polyp_pk_value *k, polyp_pk_value *v) {
    if (d->n >= PK_MAX_DICT) return FAIL(S, POLYP_ERR_LIMIT, "pickle: a dict with more than %d entries", PK_MAX_DICT);
    if (S->items_total >= PK_MAX_ITEMS - 1)
        return FAIL(S, POLYP_ERR_LIMIT, "pickle: more than %zu container items", PK_MAX_ITEMS);
    polyp_status st = grow(S, &d->items, &d->cap, 2 * d->n + 1, sizeof *d->items, 8); /* two slots */
    if (st != POLYP_OK) return st;
    d->items[2 * d->n] = k;
    d->items[2 * d->n + 1] = v;
    d->n++;
    S->items_total += 2;
    return POLYP_OK;
}

/* A tuple of the stack items from `start` up (popped). */
static polyp_status make_tuple(pk_state *S, size_t start) {
    polyp_pk_value *t = new_value(S, POLYP_PK_TUPLE);
    if (!t) return S->err ? S->err->status : POLYP_ERR_NOMEM;
    for (size_t i = start; i < S->sp; i++) {
        polyp_status st = add_item(S, t, S->stack[i]);
        if (st != POLYP_OK) return st;
    }
    S->sp = start;
    return push(S, t);
}

static polyp_status make_string(pk_state *S, polyp_pk_type type, size_t len) {
    const unsigned char *b = NULL;
    polyp_status st = need(S, len, &b);
    if (st != POLYP_OK) return st;
    if (type == POLYP_PK_STR && memchr(b, 0, len)) return bad(S, "holds a NUL byte");
    polyp_pk_value *v = new_value(S, type);
    if (!v) return S->err ? S->err->status : POLYP_ERR_NOMEM;
    char *s = polyp_malloc(len + 1);
    if (!s) return FAIL(S, POLYP_ERR_NOMEM, "pickle: out of memory");
    memcpy(s, b, len);
    s[len] = '\0';
    v->s = s;
    v->len = len;
    return push(S, v);
}

static polyp_status make_int(pk_state *S, int64_t i) {
    polyp_pk_value *v = new_value(S, POLYP_PK_INT);
    if (v) v->i = i;
    return push(S, v);
}

/* GLOBAL / STACK_GLOBAL: only the callables a state_dict needs; everything else is named. */
static polyp_status make_global(pk_state *S, const char *module, size_t mlen, const char *name, size_t nlen) {
    int g = -1;
#define IS(m, n) (mlen == strlen(m) && !memcmp(module, m, mlen) && nlen == strlen(n) && !memcmp(name, n, nlen))
    if (IS("collections", "OrderedDict")) g = G_ORDERED_DICT;
    else if (IS("torch._utils", "_rebuild_tensor_v2")) g = G_REBUILD_TENSOR_V2;
    else if (IS("torch._utils", "_rebuild_parameter")) g = G_REBUILD_PARAMETER;
    for (size_t i = 0; g < 0 && i < N_STORAGE_TYPES; i++)
        if (IS("torch", storage_types[i].name)) g = G_STORAGE_FIRST + (int)i;
#undef IS
    if (g < 0)
        return FAIL(S, POLYP_ERR_FORMAT,
                    "pickle: global %.*s.%.*s (byte %zu) is not allowed: a state_dict needs only tensors, "
                    "storages and OrderedDict, and polyp never imports or calls anything else",
                    (int)(mlen > 80 ? 80 : mlen), module, (int)(nlen > 80 ? 80 : nlen), name, S->op_pos);
    polyp_pk_value *v = new_value(S, POLYP_PK_GLOBAL);
    if (!v) return S->err ? S->err->status : POLYP_ERR_NOMEM;
    char *s = polyp_malloc(mlen + nlen + 2);
    if (!s) return FAIL(S, POLYP_ERR_NOMEM, "pickle: out of memory");
    memcpy(s, module, mlen);
    s[mlen] = '.';
    memcpy(s + mlen + 1, name, nlen);
    s[mlen + 1 + nlen] = '\0';
    v->s = s;
    v->len = mlen + 1 + nlen;
    v->global = g;
    return push(S, v);
}

static polyp_status read_line(pk_state *S, const char **line, size_t *len) {
    const unsigned char *start = S->p + S->pos;
    size_t left = S->size - S->pos, max = left < PK_MAX_NAME + 1 ? left : PK_MAX_NAME + 1;
    const unsigned char *nl = memchr(start, '\n', max);
    if (!nl) return left <= PK_MAX_NAME ? need(S, left + 1, &start) : bad(S, "has a name longer than 256 bytes");
    *line = (const char *)start;
    *len = (size_t)(nl - start);
    S->pos += *len + 1;
    return POLYP_OK;
}

static bool is_uint_tuple(const polyp_pk_value *v, size_t max_n) {
    if (v->type != POLYP_PK_TUPLE || v->n > max_n) return false;
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i]->type != POLYP_PK_INT || v->items[i]->i < 0) return false;
    return true;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]): the tensor is described, never built. */
static polyp_status rebuild_tensor(pk_state *S, const polyp_pk_value *args) {
    if (args->n != 6 && args->n != 7) return bad(S, "calls _rebuild_tensor_v2 with the wrong number of arguments");
    polyp_pk_value *const *a = args->items;
    if (a[0]->type != POLYP_PK_STORAGE) return bad(S, "calls _rebuild_tensor_v2 without a storage");
    if (a[1]->type != POLYP_PK_INT || a[1]->i < 0) return bad(S, "calls _rebuild_tensor_v2 with a bad offset");
    if (!is_uint_tuple(a[2], POLYP_PK_MAX_DIMS) || !is_uint_tuple(a[3], POLYP_PK_MAX_DIMS) || a[2]->n != a[3]->n)
        return bad(S, "calls _rebuild_tensor_v2 with a bad size or stride (at most 8 dimensions)");
    if (a[4]->type != POLYP_PK_BOOL) return bad(S, "calls _rebuild_tensor_v2 with a non-bool requires_grad");
    if (a[5]->type != POLYP_PK_DICT || a[5]->n != 0) return bad(S, "rebuilds a tensor with backward hooks");
    if (args->n == 7 && a[6]->type != POLYP_PK_NONE && a[6]->type != POLYP_PK_DICT)
        return bad(S, "calls _rebuild_tensor_v2 with bad metadata");
    polyp_pk_value *v = new_value(S, POLYP_PK_TENSOR);
    if (!v) return S->err ? S->err->status : POLYP_ERR_NOMEM;
    if (!(v->tensor = calloc(1, sizeof *v->tensor))) return FAIL(S, POLYP_ERR_NOMEM, "pickle: out of memory");
    polyp_pk_tensor *t = v->tensor;
    t->storage = a[0];
    t->offset = (uint64_t)a[1]->i;
    t->ndim = (int)a[2]->n;
    for (int d = 0; d < t->ndim; d++) {
        t->shape[d] = (uint64_t)a[2]->items[d]->i;
        t->stride[d] = (uint64_t)a[3]->items[d]->i;
    }
    return push(S, v);
}

static polyp_status reduce(pk_state *S) {
    polyp_pk_value *args = pop(S), *fn = args ? pop(S) : NULL;
    if (!fn) return S->err->status;
    if (fn->type != POLYP_PK_GLOBAL)
        return FAIL(S, POLYP_ERR_FORMAT, "pickle: REDUCE at byte %zu calls %s (only the allowed globals)", S->op_pos,
                    polyp_pk_type_name(fn->type));
    if (args->type != POLYP_PK_TUPLE) return bad(S, "with arguments that are not a tuple");
    switch (fn->global) {
    case G_ORDERED_DICT: {
        if (args->n != 0) return bad(S, "calls OrderedDict with arguments");
        polyp_pk_value *d = new_value(S, POLYP_PK_DICT);
        if (d) d->ordered = 1;
        return push(S, d);
    }
    case G_REBUILD_TENSOR_V2:
        return rebuild_tensor(S, args);
    case G_REBUILD_PARAMETER:
        /* _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself. */
        if (args->n != 3 || args->items[0]->type != POLYP_PK_TENSOR || args->items[1]->type != POLYP_PK_BOOL ||
            args->items[2]->type != POLYP_PK_DICT || args->items[2]->n != 0)
            return bad(S, "calls _rebuild_parameter with unexpected arguments");
        return push(S, args->items[0]);
    default:
        return FAIL(S, POLYP_ERR_FORMAT, "pickle: REDUCE at byte %zu calls %s (storages are only referenced)",
                    S->op_pos, fn->s);
    }
}

/* BINPERSID: torch's storage reference ('storage', type, key, location, numel[, view]). */
static polyp_status persistent_id(pk_state *S) {
    polyp_pk_value *pid = pop(S);
    if (!pid) return S->err->status;
    polyp_pk_value *const *a = pid->items;
    if (pid->type != POLYP_PK_TUPLE || (pid->n != 5 && pid->n != 6) || a[0]->type != POLYP_PK_STR ||
        strcmp(a[0]->s, "storage") != 0)
        return bad(S, "is not a ('storage', type, key, location, numel) reference");
    if (a[1]->type != POLYP_PK_GLOBAL || a[1]->global < G_STORAGE_FIRST)
        return bad(S, "names a storage type that is not a torch storage class");
    if (a[2]->type != POLYP_PK_STR || a[3]->type != POLYP_PK_STR || a[4]->type != POLYP_PK_INT || a[4]->i < 0)
        return bad(S, "has a bad storage key, location or size");
    if (pid->n == 6 && a[5]->type != POLYP_PK_NONE) return bad(S, "references a storage view (torch < 0.4 files)");
    polyp_pk_value *v = new_value(S, POLYP_PK_STORAGE);
    if (!v) return S->err->status;
    v->global = (int)storage_types[a[1]->global - G_STORAGE_FIRST].dtype;
    v->s = a[2]->s; /* owned by the key string value */
    v->len = a[2]->len;
    v->i = a[4]->i;
    if (S->n_storages >= PK_MAX_STORAGES)
        return FAIL(S, POLYP_ERR_LIMIT, "pickle: more than %d storage references", PK_MAX_STORAGES);
    polyp_status st = grow(S, &S->storages, &S->storages_cap, S->n_storages, sizeof *S->storages, 64);
    if (st != POLYP_OK) return st;
    S->storages[S->n_storages++] = v;
    return push(S, v);
}

static polyp_status memo_put(pk_state *S, size_t idx) {
    if (idx >= PK_MAX_MEMO) return bad(S, "uses a memo index past the limit");
    if (idx >= S->memo_cap) {
        size_t nc = S->memo_cap ? S->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        polyp_pk_value **nm = realloc(S->memo, nc * sizeof *nm);
        if (!nm) return FAIL(S, POLYP_ERR_NOMEM, "pickle: out of memory");
        memset(nm + S->memo_cap, 0, (nc - S->memo_cap) * sizeof *nm);
        S->memo = nm;
        S->memo_cap = nc;
    }
    polyp_pk_value *v = top(S);
    if (!v) return S->err->status;
    if (!S->memo[idx]) S->memo_len++; /* len(memo), which MEMOIZE uses as the next index */
    S->memo[idx] = v;
    return POLYP_OK;
}

static polyp_status memo_get(pk_state *S, size_t idx) {
    if (idx >= S->memo_cap || !S->memo[idx]) return bad(S, "reads a memo entry never stored");
    return push(S, S->memo[idx]);
}

static polyp_status set_items(pk_state *S, size_t start) {
    if (start == 0 || ((S->sp - start) & 1)) return bad(S, "without a dict and key/value pairs");
    polyp_pk_value *d = S->stack[start - 1];
    if (d->type != POLYP_PK_DICT) return bad(S, "on something that is not a dict");
    for (size_t i = start; i < S->sp; i += 2) {
        polyp_pk_value *k = S->stack[i];
        if (k->type != POLYP_PK_STR && k->type != POLYP_PK_INT) return bad(S, "with a key that is not a string or int");
        /* A repeated key replaces the value, as in Python. */
        size_t j = 0;
        for (; k->type == POLYP_PK_STR && j < d->n; j++)
            if (d->items[2 * j]->type == POLYP_PK_STR && !strcmp(d->items[2 * j]->s, k->s)) break;
        if (k->type == POLYP_PK_STR && j < d->n) {
            d->items[2 * j + 1] = S->stack[i + 1];
            continue;
        }
        polyp_status st = add_pair(S, d, k, S->stack[i + 1]);
        if (st != POLYP_OK) return st;
    }
    S->sp = start;
    return POLYP_OK;
}

static polyp_status step(pk_state *S, bool *stop) {
    const unsigned char *b = NULL;
    polyp_status st;
    size_t start = 0;
    S->op_pos = S->pos;
    if ((st = need(S, 1, &b)) != POLYP_OK)
        return FAIL(S, POLYP_ERR_FORMAT, "pickle: truncated at byte %zu (no STOP opcode)", S->op_pos);
    S->op = *b;
    switch (S->op) {
    case 0x80: /* PROTO */
        if ((st = need(S, 1, &b)) != POLYP_OK) return st;
        if (*b > 5) return bad(S, "asks for a protocol newer than 5");
        return POLYP_OK;
    case 0x95: /* FRAME: a length hint only */
        return need(S, 8, &b);
    case '.': {
        if (S->n_marks || S->sp != 1) return bad(S, "leaves the stack with other than one value");
        *stop = true;
        return POLYP_OK;
    }
    case '(':
        if (S->n_marks >= PK_MAX_MARKS) return FAIL(S, POLYP_ERR_LIMIT, "pickle: more than %zu open MARKs", PK_MAX_MARKS);
        if ((st = grow(S, &S->marks, &S->marks_cap, S->n_marks, sizeof *S->marks, 16)) != POLYP_OK) return st;
        S->marks[S->n_marks++] = S->sp;
        return POLYP_OK;
    case '0':
        return pop(S) ? POLYP_OK : S->err->status;
    case '1':
        if ((st = pop_mark(S, &start)) != POLYP_OK) return st;
        S->sp = start;
        return POLYP_OK;
    case '2': {
        polyp_pk_value *v = top(S);
        return v ? push(S, v) : S->err->status;
    }
    case 'N':
        return push(S, new_value(S, POLYP_PK_NONE));
    case 0x88:
    case 0x89: {
        polyp_pk_value *v = new_value(S, POLYP_PK_BOOL);
        if (v) v->i = S->op == 0x88;
        return push(S, v);
    }
    case 'J':
        if ((st = need(S, 4, &b)) != POLYP_OK) return st;
        return make_int(S, (int32_t)(uint32_t)le(b, 4));
    case 'K':
        if ((st = need(S, 1, &b)) != POLYP_OK) return st;
        return make_int(S, b[0]);
    case 'M':
        if ((st = need(S, 2, &b)) != POLYP_OK) return st;
        return make_int(S, (int64_t)le(b, 2));
    case 0x8a: { /* LONG1: n-byte two's complement; up to 8 bytes become ints, the rest raw */
        if ((st = need(S, 1, &b)) != POLYP_OK) return st;
        size_t n = b[0];
        if ((st = need(S, n, &b)) != POLYP_OK) return st;
        if (n <= 8) {
            uint64_t u = le(b, n);
            if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
            return make_int(S, (int64_t)u);
        }
        S->pos -= n;
        return make_string(S, POLYP_PK_BIGINT, n);
    }
    case 'G': {
        if ((st = need(S, 8, &b)) != POLYP_OK) return st;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | b[i]; /* big-endian */
        polyp_pk_value *v = new_value(S, POLYP_PK_FLOAT);
        if (v) memcpy(&v->f, &u, 8);
        return push(S, v);
    }
    case 'X':
    case 'T':
    case 'B':
        if ((st = need(S, 4, &b)) != POLYP_OK) return st;
        return make_string(S, S->op == 'B' ? POLYP_PK_BYTES : POLYP_PK_STR, (size_t)le(b, 4));
    case 0x8c:
    case 'U':
    case 'C':
        if ((st = need(S, 1, &b)) != POLYP_OK) return st;
        return make_string(S, S->op == 'C' ? POLYP_PK_BYTES : POLYP_PK_STR, b[0]);
    case 0x8d:
    case 0x8e: {
        if ((st = need(S, 8, &b)) != POLYP_OK) return st;
        uint64_t n = le(b, 8);
        if (n > S->size - S->pos) return need(S, S->size - S->pos + 1, &b);
        return make_string(S, S->op == 0x8e ? POLYP_PK_BYTES : POLYP_PK_STR, (size_t)n);
    }
    case ')':
        return make_tuple(S, S->sp);
    case 't':
        if ((st = pop_mark(S, &start)) != POLYP_OK) return st;
        return make_tuple(S, start);
    case 0x85:
    case 0x86:
    case 0x87: {
        size_t n = (size_t)(S->op - 0x84);
        size_t floor = S->n_marks ? S->marks[S->n_marks - 1] : 0;
        if (S->sp - floor < n) return bad(S, "on a stack with too few values");
        return make_tuple(S, S->sp - n);
    }
    case ']':
        return push(S, new_value(S, POLYP_PK_LIST));
    case 'l': {
        if ((st = pop_mark(S, &start)) != POLYP_OK) return st;
        if ((st = make_tuple(S, start)) != POLYP_OK) return st;
        S->stack[S->sp - 1]->type = POLYP_PK_LIST;
        return POLYP_OK;
    }
    case 'a':
    case 'e': {
        if (S->op == 'a') {
            if (S->sp < 2 || (S->n_marks && S->marks[S->n_marks - 1] > S->sp - 2))
                return bad(S, "on a stack with too few values");
            start = S->sp - 1;
        } else if ((st = pop_mark(S, &start)) != POLYP_OK) {
            return st;
        }
        if (start == 0 || S->stack[start - 1]->type != POLYP_PK_LIST) return bad(S, "on something that is not a list");
        for (size_t i = start; i < S->sp; i++)
            if ((st = add_item(S, S->stack[start - 1], S->stack[i])) != POLYP_OK) return st;
        S->sp = start;
        return POLYP_OK;
    }
    case '}':
        return push(S, new_value(S, POLYP_PK_DICT));
    case 'd': {
        if ((st = pop_mark(S, &start)) != POLYP_OK) return st;
        /* Insert the dict under the pairs, then fill it as SETITEMS does. */
        if ((st = push(S, new_value(S, POLYP_PK_DICT))) != POLYP_OK) return st;
        polyp_pk_value *d = S->stack[--S->sp];
        memmove(S->stack + start + 1, S->stack + start, (S->sp - start) * sizeof *S->stack);
        S->stack[start] = d;
        S->sp++;
        return set_items(S, start + 1);
    }
    case 's':
        if (S->sp < 3 || (S->n_marks && S->marks[S->n_marks - 1] > S->sp - 3))
            return bad(S, "on a stack with too few values");
        return set_items(S, S->sp - 2);
    case 'u':
        if ((st = pop_mark(S, &start)) != POLYP_OK) return st;
        return set_items(S, start);
    case 'q':
        if ((st = need(S, 1, &b)) != POLYP_OK) return st;
        return memo_put(S, b[0]);
    case 'r':
        if ((st = need(S, 4, &b)) != POLYP_OK) return st;
        return memo_put(S, (size_t)le(b, 4));
    case 0x94:
        return memo_put(S, S->memo_len);
    case 'h':
        if ((st = need(S, 1, &b)) != POLYP_OK) return st;
        return memo_get(S, b[0]);
    case 'j':
        if ((st = need(S, 4, &b)) != POLYP_OK) return st;
        return memo_get(S, (size_t)le(b, 4));
    case 'c': {
        const char *m = NULL, *n = NULL;
        size_t ml = 0, nl = 0;
        if ((st = read_line(S, &m, &ml)) != POLYP_OK || (st = read_line(S, &n, &nl)) != POLYP_OK) return st;
        return make_global(S, m, ml, n, nl);
    }
    case 0x93: {
        polyp_pk_value *name = pop(S), *module = name ? pop(S) : NULL;
        if (!module) return S->err->status;
        if (name->type != POLYP_PK_STR || module->type != POLYP_PK_STR) return bad(S, "with names that are not strings");
        return make_global(S, module->s, module->len, name->s, name->len);
    }
    case 'R':
        return reduce(S);
    case 'b': {
        /* BUILD: only OrderedDict attributes (state_dict's _metadata), which are dropped. */
        polyp_pk_value *state = pop(S), *obj = state ? top(S) : NULL;
        if (!obj) return S->err->status;
        if (obj->type != POLYP_PK_DICT || !obj->ordered || (state->type != POLYP_PK_DICT && state->type != POLYP_PK_NONE))
            return FAIL(S, POLYP_ERR_FORMAT, "pickle: BUILD at byte %zu sets the state of %s (only an OrderedDict's "
                        "attributes are allowed)", S->op_pos, polyp_pk_type_name(obj->type));
        return POLYP_OK;
    }
    case 'Q':
        return persistent_id(S);
    default:
        return FAIL(S, POLYP_ERR_FORMAT, "pickle: opcode %s (0x%02x) at byte %zu is not allowed in a state_dict",
                    op_name(S->op), S->op, S->op_pos);
    }
}

static void free_values(polyp_pk_value **all, size_t n) {
    for (size_t i = 0; i < n; i++) {
        polyp_pk_value *v = all[i];
        if (v->type != POLYP_PK_STORAGE) free((void *)v->s);
        free(v->items);
        free(v->tensor);
        free(v);
    }
    free(all);
}

typedef struct pk_internal {
    polyp_pk_value **all;
    size_t n_all;
} pk_internal;

polyp_status polyp_pickle_parse(const void *data, size_t size, size_t *consumed, polyp_pickle *out,
                                polyp_error *err) {
    memset(out, 0, sizeof *out);
    if (consumed) *consumed = 0;
    pk_state S = {0};
    S.p = data;
    S.size = data ? size : 0;
    polyp_error local;
    S.err = err ? err : &local;
    polyp_status st = POLYP_OK;
    bool stop = false;
    while (st == POLYP_OK && !stop) st = step(&S, &stop);
    polyp_pk_value *root = st == POLYP_OK ? S.stack[0] : NULL;
    pk_internal *in = st == POLYP_OK ? calloc(1, sizeof *in) : NULL;
    if (st == POLYP_OK && !in) st = polyp_fail(S.err, POLYP_ERR_NOMEM, "pickle: out of memory");
    free(S.stack);
    free(S.marks);
    free(S.memo);
    if (st != POLYP_OK) {
        free_values(S.all, S.n_all);
        free(S.storages);
        return st;
    }
    in->all = S.all;
    in->n_all = S.n_all;
    out->internal = in;
    out->root = root;
    out->storages = S.storages;
    out->n_storages = S.n_storages;
    if (consumed) *consumed = S.pos;
    return POLYP_OK;
}

void polyp_pickle_free(polyp_pickle *p) {
    if (!p) return;
    pk_internal *in = p->internal;
    if (in) free_values(in->all, in->n_all);
    free(in);
    free(p->storages);
    memset(p, 0, sizeof *p);
}

const polyp_pk_value *polyp_pk_dict_get(const polyp_pk_value *d, const char *key) {
    if (!d || d->type != POLYP_PK_DICT) return NULL;
    for (size_t i = 0; i < d->n; i++)
        if (d->items[2 * i]->type == POLYP_PK_STR && !strcmp(d->items[2 * i]->s, key)) return d->items[2 * i + 1];
    return NULL;
}
