/* safetensors.c - strict reader and writer of the safetensors container (safetensors.h).
 *
 * The reader accepts what the reference implementation (Rust `safetensors`) accepts: a JSON
 * object of tensors plus an optional `__metadata__` object of strings; tensor byte ranges
 * must tile the data buffer exactly (sorted, contiguous from 0, ending at the file's end).
 * Every refusal names the tensor and the reason. */
#include "safetensors.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tensors per file and JSON values per header: far beyond any real network (B0 has ~310
 * tensors; the largest checkpoints a few thousand) and small enough that a hostile header
 * cannot make the parser allocate more than ~150 MB. */
#define ST_MAX_TENSORS ((size_t)1 << 18)
#define ST_MAX_NODES ((size_t)1 << 21)

typedef struct st_storage {
    polyp_json_doc doc;
    const polyp_st_tensor **by_name;   /* the tensors sorted by name, for polyp_st_find */
} st_storage;

static const struct {
    const char *name;
    polyp_st_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F32", POLYP_ST_F32, 4}, {"F64", POLYP_ST_F64, 8}, {"F16", POLYP_ST_F16, 2},
    {"BF16", POLYP_ST_BF16, 2}, {"I64", POLYP_ST_I64, 8}, {"I32", POLYP_ST_I32, 4},
    {"I16", POLYP_ST_I16, 2}, {"I8", POLYP_ST_I8, 1}, {"U8", POLYP_ST_U8, 1},
    {"BOOL", POLYP_ST_BOOL, 1},
    /* Valid safetensors dtypes polyp has no use for: parsed (sizes checked) as UNKNOWN. */
    {"U16", POLYP_ST_UNKNOWN, 2}, {"U32", POLYP_ST_UNKNOWN, 4}, {"U64", POLYP_ST_UNKNOWN, 8},
    {"F8_E4M3", POLYP_ST_UNKNOWN, 1}, {"F8_E5M2", POLYP_ST_UNKNOWN, 1},
};

void polyp_st_shape_str(char *buf, size_t cap, int ndim, const uint64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ", %llu" : "%llu", (unsigned long long)shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

size_t polyp_st_dtype_size(polyp_st_dtype dtype) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == dtype && dtype != POLYP_ST_UNKNOWN) return dtypes[i].size;
    return 0;
}

static const char *dtype_name(polyp_st_dtype dtype) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == dtype && dtype != POLYP_ST_UNKNOWN) return dtypes[i].name;
    return NULL;
}

static uint64_t read_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A non-negative integer JSON value that fits uint64 (ival is int64: enough for offsets,
 * which are bounded by the file size anyway). */
static bool json_uint(const polyp_json_value *v, uint64_t *out) {
    if (!v || v->type != POLYP_JSON_NUMBER || !v->is_int || v->ival < 0) return false;
    *out = (uint64_t)v->ival;
    return true;
}

static void storage_free(st_storage *s) {
    if (!s) return;
    polyp_json_free(&s->doc);
    free(s->by_name);
    free(s);
}

void polyp_st_free(polyp_st_file *file) {
    if (!file) return;
    free(file->tensors);
    free(file->meta_keys);
    free(file->meta_values);
    storage_free(file->storage);
    memset(file, 0, sizeof *file);
}

static int cmp_by_begin(const void *a, const void *b) {
    const polyp_st_tensor *x = *(const polyp_st_tensor *const *)a, *y = *(const polyp_st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static bool key_is(const polyp_json_value *m, const char *key) {
    return m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0;
}

/* Parses one tensor entry `m` (key = name) into t. */
static polyp_status parse_tensor(const polyp_json_value *m, const uint8_t *buf, size_t buf_size,
                                 polyp_st_tensor *t, polyp_error *err) {
    const char *name = m->key;
    if (m->key_len == 0) return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: a tensor has an empty name");
    if (strlen(name) != m->key_len)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor name \"%s...\" contains a NUL byte", name);
    if (m->type != POLYP_JSON_OBJECT)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: entry is a %s, expected an object",
                          name, polyp_json_type_name(m->type));
    const polyp_json_value *dt = NULL, *shape = NULL, *offs = NULL;
    for (const polyp_json_value *f = m->child; f; f = f->next) {
        const polyp_json_value **slot = key_is(f, "dtype")          ? &dt
                                        : key_is(f, "shape")        ? &shape
                                        : key_is(f, "data_offsets") ? &offs
                                                                    : NULL;
        if (!slot) return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: unknown field \"%s\"", name, f->key);
        if (*slot) return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: field \"%s\" appears twice", name, f->key);
        *slot = f;
    }
    if (!dt || !shape || !offs)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: missing \"%s\"", name,
                          !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    if (dt->type != POLYP_JSON_STRING)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: dtype is a %s, expected a string", name,
                          polyp_json_type_name(dt->type));
    size_t esize = 0;
    t->dtype = POLYP_ST_UNKNOWN;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dt->str, dtypes[i].name) && strlen(dt->str) == dt->str_len) {
            t->dtype = dtypes[i].dtype;
            t->dtype_name = dtypes[i].name;
            esize = dtypes[i].size;
        }
    if (!esize) return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: unknown dtype \"%.32s\"", name, dt->str);
    if (shape->type != POLYP_JSON_ARRAY)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: shape is a %s, expected an array", name,
                          polyp_json_type_name(shape->type));
    if (shape->count > POLYP_ST_MAX_DIMS)
        return polyp_fail(err, POLYP_ERR_LIMIT, "safetensors: tensor %s: %zu dimensions (at most %d supported)", name,
                          shape->count, POLYP_ST_MAX_DIMS);
    size_t nbytes = esize;
    bool overflow = false;
    t->ndim = (int)shape->count;
    int d = 0;
    for (const polyp_json_value *e = shape->child; e; e = e->next, d++) {
        uint64_t dim;
        if (!json_uint(e, &dim))
            return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: shape[%d] is not a non-negative integer", name, d);
        t->shape[d] = dim;
        if (dim > SIZE_MAX || !polyp_mul_ok(nbytes, (size_t)dim, &nbytes)) overflow = true;
    }
    if (overflow) nbytes = SIZE_MAX; /* cannot match any byte range below */
    uint64_t begin, end;
    if (offs->type != POLYP_JSON_ARRAY || offs->count != 2 || !json_uint(offs->child, &begin) ||
        !json_uint(offs->child->next, &end))
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: data_offsets must be [begin, end] integers", name);
    if (begin > end)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s: data_offsets [%llu, %llu] end before begin", name,
                          (unsigned long long)begin, (unsigned long long)end);
    if (end > buf_size)
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "safetensors: tensor %s: data_offsets [%llu, %llu] past the end of the %zu-byte data buffer", name,
                          (unsigned long long)begin, (unsigned long long)end, buf_size);
    if (overflow || nbytes != end - begin)
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "safetensors: tensor %s: shape x %s size is %s bytes but data_offsets [%llu, %llu] hold %llu",
                          name, t->dtype_name, overflow ? "too many" : "a different number of",
                          (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin));
    t->name = name;
    t->data = buf + begin;
    t->nbytes = nbytes;
    return POLYP_OK;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const polyp_st_tensor *const *)a)->name, (*(const polyp_st_tensor *const *)b)->name);
}

polyp_status polyp_st_parse(const void *data, size_t size, polyp_st_file *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors: data is NULL");
    const uint8_t *bytes = data;
    if (size < 8)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: file is %zu bytes, shorter than the 8-byte header length", size);
    uint64_t hlen = read_u64le(bytes);
    if (hlen > POLYP_ST_MAX_HEADER)
        return polyp_fail(err, POLYP_ERR_LIMIT, "safetensors: header length %llu exceeds the %llu-byte limit",
                          (unsigned long long)hlen, (unsigned long long)POLYP_ST_MAX_HEADER);
    if (hlen > size - 8)
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: header length %llu exceeds the file (%zu bytes): truncated or not safetensors",
                          (unsigned long long)hlen, size);
    if (hlen < 2 || bytes[8] != '{')
        return polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: header does not start with '{'");
    const uint8_t *buf = bytes + 8 + hlen;
    size_t buf_size = size - 8 - (size_t)hlen;

    st_storage *stg = calloc(1, sizeof *stg);
    if (!stg) return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors: out of memory");
    out->storage = stg;
    polyp_json_limits lim = {8, ST_MAX_NODES};
    polyp_status st = polyp_json_parse((const char *)bytes + 8, (size_t)hlen, &lim, &stg->doc, err);
    if (st != POLYP_OK) {
        st = polyp_fail_prefix(err, st, "safetensors header: ");
        goto fail;
    }
    const polyp_json_value *root = polyp_json_root(&stg->doc);
    if (root->type != POLYP_JSON_OBJECT) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: header is a %s, expected an object", polyp_json_type_name(root->type));
        goto fail;
    }
    int nomem = 0;
    const polyp_json_value *dup = polyp_json_find_duplicate_key(root, &nomem);
    if (nomem || dup) {
        st = nomem ? polyp_fail(err, POLYP_ERR_NOMEM, "safetensors: out of memory")
                   : polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s appears twice in the header", dup->key);
        goto fail;
    }
    const polyp_json_value *meta = polyp_json_get(root, "__metadata__");
    size_t ntensors = root->count - (meta ? 1 : 0);
    if (ntensors > ST_MAX_TENSORS) {
        st = polyp_fail(err, POLYP_ERR_LIMIT, "safetensors: %zu tensors (limit %zu)", ntensors, ST_MAX_TENSORS);
        goto fail;
    }
    size_t nmeta = meta && meta->type == POLYP_JSON_OBJECT ? meta->count : 0;
    out->tensors = calloc(ntensors ? ntensors : 1, sizeof *out->tensors);
    out->meta_keys = calloc(nmeta ? nmeta : 1, sizeof *out->meta_keys);
    out->meta_values = calloc(nmeta ? nmeta : 1, sizeof *out->meta_values);
    stg->by_name = calloc(ntensors ? ntensors : 1, sizeof *stg->by_name);
    if (!out->tensors || !out->meta_keys || !out->meta_values || !stg->by_name) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "safetensors: out of memory");
        goto fail;
    }
    if (meta) {
        if (meta->type != POLYP_JSON_OBJECT) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: __metadata__ is a %s, expected an object of strings",
                            polyp_json_type_name(meta->type));
            goto fail;
        }
        dup = polyp_json_find_duplicate_key(meta, &nomem);
        if (nomem || dup) {
            st = nomem ? polyp_fail(err, POLYP_ERR_NOMEM, "safetensors: out of memory")
                       : polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: __metadata__ key \"%s\" appears twice", dup->key);
            goto fail;
        }
        for (const polyp_json_value *m = meta->child; m; m = m->next) {
            if (m->type != POLYP_JSON_STRING) {
                st = polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: __metadata__ \"%s\" is a %s, expected a string", m->key,
                                polyp_json_type_name(m->type));
                goto fail;
            }
            out->meta_keys[out->meta_count] = m->key;
            out->meta_values[out->meta_count++] = m->str;
        }
    }
    for (const polyp_json_value *m = root->child; m; m = m->next) {
        if (m == meta) continue;
        st = parse_tensor(m, buf, buf_size, &out->tensors[out->count], err);
        if (st != POLYP_OK) goto fail;
        out->count++;
    }
    /* The ranges must tile the buffer: sorted by begin, each starts where the previous one
     * ended (no overlap, no hole), the last ends at the end of the file. */
    const polyp_st_tensor **by_begin = polyp_malloc(out->count * sizeof *by_begin);
    if (!by_begin) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "safetensors: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < out->count; i++) by_begin[i] = &out->tensors[i];
    qsort(by_begin, out->count, sizeof *by_begin, cmp_by_begin);
    size_t expect = 0;
    const polyp_st_tensor *prev = NULL;
    for (size_t i = 0; i < out->count && st == POLYP_OK; i++) {
        size_t begin = (size_t)(by_begin[i]->data - buf);
        if (begin < expect)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s (bytes %zu..%zu) overlaps tensor %s (ends at %zu)",
                            by_begin[i]->name, begin, begin + by_begin[i]->nbytes, prev->name, expect);
        else if (begin > expect)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: tensor %s starts at byte %zu, leaving a hole after byte %zu",
                            by_begin[i]->name, begin, expect);
        expect = begin + by_begin[i]->nbytes;
        prev = by_begin[i];
    }
    free(by_begin);
    if (st == POLYP_OK && expect != buf_size)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "safetensors: data buffer is %zu bytes but the tensors cover %zu", buf_size, expect);
    if (st != POLYP_OK) goto fail;
    /* Name index for polyp_st_find: tensor pointers sorted by name. */
    for (size_t i = 0; i < out->count; i++) stg->by_name[i] = &out->tensors[i];
    qsort(stg->by_name, out->count, sizeof *stg->by_name, cmp_by_name);
    return POLYP_OK;
fail:
    /* Messages above may point into the parsed header: free only after formatting them. */
    polyp_st_free(out);
    return st;
}

const polyp_st_tensor *polyp_st_find(const polyp_st_file *file, const char *name) {
    if (!file || !file->storage || !name || !file->count) return NULL;
    const st_storage *stg = file->storage;
    size_t lo = 0, hi = file->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(stg->by_name[mid]->name, name);
        if (c == 0) return stg->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *polyp_st_meta(const polyp_st_file *file, const char *key) {
    if (!file || !key) return NULL;
    for (size_t i = 0; i < file->meta_count; i++)
        if (!strcmp(file->meta_keys[i], key)) return file->meta_values[i];
    return NULL;
}

/* ------------------------------------------------------------------ writer */

typedef struct st_entry {
    char *name;
    polyp_st_dtype dtype;
    int ndim;
    uint64_t shape[POLYP_ST_MAX_DIMS];
    const void *data;   /* borrowed until finish */
    size_t nbytes;
} st_entry;

struct polyp_st_writer {
    st_entry *entries;
    size_t count, cap;
    char **meta;        /* key, value, key, value, ... */
    size_t meta_count, meta_cap;
};

polyp_st_writer *polyp_st_writer_init(void) { return calloc(1, sizeof(polyp_st_writer)); }

void polyp_st_writer_free(polyp_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free(w->entries[i].name);
    for (size_t i = 0; i < 2 * w->meta_count; i++) free(w->meta[i]);
    free(w->entries);
    free(w->meta);
    free(w);
}

polyp_status polyp_st_writer_add(polyp_st_writer *w, const char *name, polyp_st_dtype dtype,
                                 int ndim, const uint64_t *shape, const void *data,
                                 polyp_error *err) {
    if (!w || !name) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    if (!*name || !strcmp(name, "__metadata__"))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: invalid tensor name \"%s\"", name);
    size_t esize = polyp_st_dtype_size(dtype);
    if (!esize) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: tensor %s: unsupported dtype", name);
    if (ndim < 0 || ndim > POLYP_ST_MAX_DIMS || (ndim && !shape))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: tensor %s: bad rank %d", name, ndim);
    size_t nbytes = esize;
    for (int d = 0; d < ndim; d++)
        if (shape[d] > SIZE_MAX || !polyp_mul_ok(nbytes, (size_t)shape[d], &nbytes))
            return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors writer: tensor %s: size overflows", name);
    if (nbytes && !data) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: tensor %s: data is NULL", name);
    for (size_t i = 0; i < w->count; i++)
        if (!strcmp(w->entries[i].name, name))
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: tensor %s added twice", name);
    if (w->count == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 32;
        st_entry *ne = realloc(w->entries, ncap * sizeof *ne);
        if (!ne) return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors writer: out of memory");
        w->entries = ne;
        w->cap = ncap;
    }
    st_entry *e = &w->entries[w->count];
    memset(e, 0, sizeof *e);
    if (!(e->name = polyp_strdup(name))) return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->data = data;
    e->nbytes = nbytes;
    w->count++;
    return POLYP_OK;
}

polyp_status polyp_st_writer_meta(polyp_st_writer *w, const char *key, const char *value,
                                  polyp_error *err) {
    if (!w || !key || !value) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    for (size_t i = 0; i < w->meta_count; i++)
        if (!strcmp(w->meta[2 * i], key))
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: metadata key \"%s\" set twice", key);
    if (w->meta_count == w->meta_cap) {
        size_t ncap = w->meta_cap ? w->meta_cap * 2 : 8;
        char **nm = realloc(w->meta, 2 * ncap * sizeof *nm);
        if (!nm) return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors writer: out of memory");
        w->meta = nm;
        w->meta_cap = ncap;
    }
    char *k = polyp_strdup(key), *v = polyp_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors writer: out of memory");
    }
    w->meta[2 * w->meta_count] = k;
    w->meta[2 * w->meta_count + 1] = v;
    w->meta_count++;
    return POLYP_OK;
}

/* Header: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}
 * padded with spaces so the data buffer starts 8-byte aligned (as the Rust writer does). */
polyp_status polyp_st_writer_finish(polyp_st_writer *w, void **out, size_t *out_size,
                                    polyp_error *err) {
    if (!w || !out || !out_size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    *out = NULL;
    *out_size = 0;
    polyp_strbuf b = {0};
    bool ok = polyp_strbuf_append_str(&b, "{");
    bool first = true;
    if (w->meta_count) {
        ok = ok && polyp_strbuf_append_str(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->meta_count && ok; i++) {
            ok = (i == 0 || polyp_strbuf_append_str(&b, ",")) &&
                 polyp_json_write_string(&b, w->meta[2 * i], strlen(w->meta[2 * i])) && polyp_strbuf_append_str(&b, ":") &&
                 polyp_json_write_string(&b, w->meta[2 * i + 1], strlen(w->meta[2 * i + 1]));
        }
        ok = ok && polyp_strbuf_append_str(&b, "}");
        first = false;
    }
    size_t offset = 0;
    for (size_t i = 0; i < w->count && ok; i++) {
        const st_entry *e = &w->entries[i];
        ok = (first || polyp_strbuf_append_str(&b, ",")) && polyp_json_write_string(&b, e->name, strlen(e->name)) &&
             polyp_strbuf_append_str(&b, ":{\"dtype\":\"") && polyp_strbuf_append_str(&b, dtype_name(e->dtype)) &&
             polyp_strbuf_append_str(&b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim && ok; d++)
            ok = (d == 0 || polyp_strbuf_append_str(&b, ",")) && polyp_json_write_u64(&b, e->shape[d]);
        ok = ok && polyp_strbuf_append_str(&b, "],\"data_offsets\":[") && polyp_json_write_u64(&b, offset) &&
             polyp_strbuf_append_str(&b, ",") && polyp_add_ok(offset, e->nbytes, &offset) &&
             polyp_json_write_u64(&b, offset) && polyp_strbuf_append_str(&b, "]}");
        first = false;
    }
    ok = ok && polyp_strbuf_append_str(&b, "}");
    while (ok && b.len % 8 != 0) ok = polyp_strbuf_append_str(&b, " ");
    size_t total;
    uint8_t *buf = NULL;
    if (ok && polyp_add_ok(8, b.len, &total) && polyp_add_ok(total, offset, &total)) buf = polyp_malloc(total);
    if (!buf) {
        polyp_strbuf_free(&b);
        return polyp_fail(err, POLYP_ERR_NOMEM, "safetensors writer: out of memory");
    }
    uint64_t hlen = b.len;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, b.data, b.len);
    size_t pos = 8 + b.len;
    for (size_t i = 0; i < w->count; i++) {
        if (w->entries[i].nbytes) memcpy(buf + pos, w->entries[i].data, w->entries[i].nbytes);
        pos += w->entries[i].nbytes;
    }
    polyp_strbuf_free(&b);
    *out = buf;
    *out_size = total;
    return POLYP_OK;
}
