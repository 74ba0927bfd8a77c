/* torch_ckpt.c - PyTorch checkpoints to the canonical safetensors file (torch_ckpt.h). The
 * checks and messages follow models/convert.py, which stays the reference: the same
 * checkpoint either converted or read here gives the same safetensors tensors, hence the
 * same weights and features bit for bit. Storage bytes are read in place (zip entries are
 * STORED by torch.save; DEFLATED ones are inflated). */
#include "torch_ckpt.h"

#include "effnet_tensors.h"
#include "pickle.h"
#include "safetensors.h"
#include "sha256.h"
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAX_ENTRIES ((size_t)1 << 16)
#define CKPT_MAX_PICKLE ((size_t)256 << 20)   /* data.pkl of a plain state_dict: kilobytes */
#define CKPT_MAX_STORAGE ((size_t)1 << 30)    /* one storage: B0's largest is 1.6 MB; fits wasm32 */

/* torch/serialization.py: MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, PROTOCOL_VERSION = 1001,
 * pickled as LONG1 (10 bytes, little-endian) and BININT2. */
static const unsigned char LEGACY_MAGIC[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

int polyp_torch_detect(const void *data, size_t size) {
    const unsigned char *b = data;
    if (!b || size < 4) return 0;
    if (!memcmp(b, "PK\3\4", 4)) return 1;
    /* PROTO n, LONG1 10 <magic> */
    return size >= 14 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5 && b[2] == 0x8a && b[3] == 10 &&
           !memcmp(b + 4, LEGACY_MAGIC, 10);
}

static const char *torch_dtype_name(int dtype) {
    switch (dtype) {
    case POLYP_ST_F32: return "float32";
    case POLYP_ST_F64: return "float64";
    case POLYP_ST_F16: return "float16";
    case POLYP_ST_BF16: return "bfloat16";
    case POLYP_ST_I64: return "int64";
    case POLYP_ST_I32: return "int32";
    case POLYP_ST_I16: return "int16";
    case POLYP_ST_I8: return "int8";
    case POLYP_ST_U8: return "uint8";
    case POLYP_ST_BOOL: return "bool";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------------ the two containers */

/* What a parsed checkpoint holds: the object and the pickles that own its values. */
typedef struct ckpt {
    polyp_pickle obj;
    unsigned char **owned;  /* inflated entries */
    size_t n_owned;
} ckpt;

static void ckpt_free(ckpt *c) {
    polyp_pickle_free(&c->obj);
    for (size_t i = 0; i < c->n_owned; i++) free(c->owned[i]);
    free(c->owned);
    memset(c, 0, sizeof *c);
}

/* Gives every storage reference its bytes: numel x element size, all references to one key
 * agreeing. `lookup` finds a key's bytes. */
typedef polyp_status (*storage_lookup)(void *user, const polyp_pk_value *ref, const unsigned char **data,
                                       size_t *nbytes, polyp_error *err);

static polyp_status bind_storages(ckpt *c, storage_lookup lookup, void *user, polyp_error *err) {
    for (size_t i = 0; i < c->obj.n_storages; i++) {
        polyp_pk_value *s = c->obj.storages[i];
        size_t es = polyp_pk_storage_elem_size(s->global), want;
        if ((uint64_t)s->i > SIZE_MAX || !polyp_mul_ok((size_t)s->i, es, &want) || want > CKPT_MAX_STORAGE)
            return polyp_fail(err, POLYP_ERR_LIMIT, "checkpoint: storage %s of %lld elements is too large", s->s,
                              (long long)s->i);
        const polyp_pk_value *same = NULL;
        for (size_t j = 0; j < i && !same; j++)
            if (!strcmp(c->obj.storages[j]->s, s->s)) same = c->obj.storages[j];
        if (same) {
            if (same->global != s->global || same->i != s->i)
                return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s is referenced with two types or sizes",
                                  s->s);
            s->data = same->data;
            s->nbytes = same->nbytes;
            continue;
        }
        size_t got = 0;
        polyp_status st = lookup(user, s, &s->data, &got, err);
        if (st != POLYP_OK) return st;
        if (got != want)
            return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s holds %zu bytes, expected %zu (%lld x %s)",
                              s->s, got, want, (long long)s->i, torch_dtype_name(s->global));
        s->nbytes = got;
    }
    return POLYP_OK;
}

typedef struct zip_ctx {
    polyp_zip zip;
    char prefix[256];
    ckpt *c;
} zip_ctx;

static polyp_status zip_lookup(void *user, const polyp_pk_value *ref, const unsigned char **data, size_t *nbytes,
                               polyp_error *err) {
    zip_ctx *z = user;
    char name[512];
    if (strchr(ref->s, '/') || (size_t)snprintf(name, sizeof name, "%s/data/%s", z->prefix, ref->s) >= sizeof name)
        return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: bad storage key \"%.64s\"", ref->s);
    const polyp_zip_entry *e = polyp_zip_find(&z->zip, name);
    if (!e) return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s (%s) is missing from the archive", ref->s, name);
    unsigned char *owned, **grown;
    polyp_status st = polyp_zip_read(&z->zip, e, CKPT_MAX_STORAGE, data, &owned, err);
    if (st != POLYP_OK || !owned) {
        *nbytes = e->usize;
        return st;
    }
    if (!(grown = realloc(z->c->owned, (z->c->n_owned + 1) * sizeof *grown))) {
        free(owned);
        return polyp_fail(err, POLYP_ERR_NOMEM, "checkpoint: out of memory");
    }
    z->c->owned = grown;
    z->c->owned[z->c->n_owned++] = owned;
    *nbytes = e->usize;
    return POLYP_OK;
}

static polyp_status read_zip(const void *data, size_t size, ckpt *c, polyp_error *err) {
    zip_ctx z = {.c = c};
    polyp_status st = polyp_zip_open(data, size, CKPT_MAX_ENTRIES, "checkpoint", &z.zip, err);
    if (st != POLYP_OK) return st;
    /* The one "<prefix>/data.pkl" (torch names the folder after the file or "archive"). */
    const polyp_zip_entry *pkl = NULL;
    for (size_t i = 0; i < z.zip.count && st == POLYP_OK; i++) {
        const polyp_zip_entry *e = &z.zip.entries[i];
        const char *slash = memchr(e->name, '/', e->name_len);
        if (!slash || (size_t)(e->name + e->name_len - slash) != 9 || memcmp(slash, "/data.pkl", 9) != 0) continue;
        size_t pl = (size_t)(slash - e->name);
        if (pkl) st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: the archive holds two data.pkl entries");
        else if (pl == 0 || pl >= sizeof z.prefix) st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: bad archive folder name");
        else {
            memcpy(z.prefix, e->name, pl);
            z.prefix[pl] = '\0';
            pkl = e;
        }
    }
    if (st == POLYP_OK && !pkl)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: a zip without <name>/data.pkl (not a torch.save file)");
    char name[300];
    snprintf(name, sizeof name, "%s/byteorder", z.prefix);
    const polyp_zip_entry *bo = st == POLYP_OK ? polyp_zip_find(&z.zip, name) : NULL;
    const unsigned char *bytes;
    unsigned char *owned = NULL;
    if (bo && (st = polyp_zip_read(&z.zip, bo, 16, &bytes, &owned, err)) == POLYP_OK &&
        (bo->usize != 6 || memcmp(bytes, "little", 6) != 0))
        st = polyp_fail(err, POLYP_ERR_UNSUPPORTED, "checkpoint: saved on a big-endian machine (byteorder is not \"little\")");
    free(owned);
    owned = NULL;
    if (st == POLYP_OK) st = polyp_zip_read(&z.zip, pkl, CKPT_MAX_PICKLE, &bytes, &owned, err);
    size_t used = 0;
    if (st == POLYP_OK && (st = polyp_pickle_parse(bytes, pkl->usize, &used, &c->obj, err)) != POLYP_OK)
        st = polyp_fail_prefix(err, st, "checkpoint: data.pkl: ");
    if (st == POLYP_OK && used != pkl->usize)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: data.pkl has %zu bytes after its STOP opcode", pkl->usize - used);
    free(owned); /* the values copied what they keep */
    if (st == POLYP_OK) st = bind_storages(c, zip_lookup, &z, err);
    polyp_zip_close(&z.zip);
    return st;
}

typedef struct legacy_ctx {
    const unsigned char *p;
    size_t size, pos;
} legacy_ctx;

/* One header pickle of the legacy stream (magic, protocol, sys info, key list). */
static polyp_status legacy_pickle(legacy_ctx *L, const char *what, polyp_pickle *pk, polyp_error *err) {
    size_t used;
    polyp_status st = polyp_pickle_parse(L->p + L->pos, L->size - L->pos, &used, pk, err);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "checkpoint: %s: ", what);
    L->pos += used;
    return POLYP_OK;
}

static polyp_status read_legacy(const void *data, size_t size, ckpt *c, polyp_error *err) {
    legacy_ctx L = {data, size, 0};
    polyp_pickle hdr[4];
    memset(hdr, 0, sizeof hdr);
    polyp_status st = legacy_pickle(&L, "magic number", &hdr[0], err);
    const polyp_pk_value *v;
    if (st == POLYP_OK && ((v = hdr[0].root)->type != POLYP_PK_BIGINT || v->len != 10 || memcmp(v->s, LEGACY_MAGIC, 10)))
        st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: bad magic number (not a torch.save file)");
    if (st == POLYP_OK) st = legacy_pickle(&L, "protocol version", &hdr[1], err);
    if (st == POLYP_OK && ((v = hdr[1].root)->type != POLYP_PK_INT || v->i != 1001))
        st = polyp_fail(err, POLYP_ERR_UNSUPPORTED, "checkpoint: legacy protocol version %lld (only 1001 is known)",
                        v->type == POLYP_PK_INT ? (long long)v->i : -1LL);
    if (st == POLYP_OK) st = legacy_pickle(&L, "sys info", &hdr[2], err);
    if (st == POLYP_OK) {
        const polyp_pk_value *le = polyp_pk_dict_get(hdr[2].root, "little_endian");
        if (hdr[2].root->type != POLYP_PK_DICT || !le || le->type != POLYP_PK_BOOL)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: sys info is not a dict with little_endian");
        else if (!le->i)
            st = polyp_fail(err, POLYP_ERR_UNSUPPORTED, "checkpoint: saved on a big-endian machine");
    }
    if (st == POLYP_OK) {
        size_t used;
        st = polyp_pickle_parse(L.p + L.pos, L.size - L.pos, &used, &c->obj, err);
        if (st != POLYP_OK) st = polyp_fail_prefix(err, st, "checkpoint: ");
        else L.pos += used;
    }
    if (st == POLYP_OK) st = legacy_pickle(&L, "storage keys", &hdr[3], err);
    const polyp_pk_value *keys = st == POLYP_OK ? hdr[3].root : NULL;
    if (st == POLYP_OK && keys->type != POLYP_PK_LIST)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage keys are %s, expected a list",
                        polyp_pk_type_name(keys->type));
    if (st == POLYP_OK && keys->n > c->obj.n_storages)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: %zu storage keys for %zu storage references", keys->n,
                        c->obj.n_storages);
    /* The storages, in key order: int64 element count, then the bytes. */
    for (size_t k = 0; st == POLYP_OK && k < keys->n; k++) {
        const polyp_pk_value *key = keys->items[k];
        if (key->type != POLYP_PK_STR) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage key %zu is %s", k, polyp_pk_type_name(key->type));
            break;
        }
        polyp_pk_value *first = NULL;
        for (size_t i = 0; i < c->obj.n_storages; i++) {
            polyp_pk_value *s = c->obj.storages[i];
            if (strcmp(s->s, key->s) != 0) continue;
            if (!first) first = s;
            else if (first->global != s->global || first->i != s->i)
                st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s is referenced with two types or sizes", s->s);
        }
        if (st != POLYP_OK) break;
        if (!first) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s is listed but no tensor uses it", key->s);
            break;
        }
        if (L.size - L.pos < 8) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: truncated before storage %s", key->s);
            break;
        }
        uint64_t numel = 0;
        for (int i = 7; i >= 0; i--) numel = numel << 8 | L.p[L.pos + (size_t)i];
        L.pos += 8;
        size_t es = polyp_pk_storage_elem_size(first->global), nb;
        if (numel != (uint64_t)first->i) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s holds %llu elements, its tensors say %lld",
                            key->s, (unsigned long long)numel, (long long)first->i);
        } else if (numel > SIZE_MAX || !polyp_mul_ok((size_t)numel, es, &nb) || nb > CKPT_MAX_STORAGE) {
            st = polyp_fail(err, POLYP_ERR_LIMIT, "checkpoint: storage %s is too large", key->s);
        } else if (L.size - L.pos < nb) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: truncated inside storage %s (%zu of %zu bytes)", key->s,
                            L.size - L.pos, nb);
        } else {
            for (size_t i = 0; i < c->obj.n_storages; i++)
                if (!strcmp(c->obj.storages[i]->s, key->s)) {
                    c->obj.storages[i]->data = L.p + L.pos;
                    c->obj.storages[i]->nbytes = nb;
                }
            L.pos += nb;
        }
    }
    if (st == POLYP_OK && L.pos != L.size)
        st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: %zu unexpected bytes after the last storage", L.size - L.pos);
    for (size_t i = 0; st == POLYP_OK && i < c->obj.n_storages; i++)
        if (!c->obj.storages[i]->data && c->obj.storages[i]->i > 0)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: storage %s is not in the stream's key list",
                            c->obj.storages[i]->s);
    for (int i = 0; i < 4; i++) polyp_pickle_free(&hdr[i]);
    return st;
}

/* ------------------------------------------------------------------ the state_dict */

static const char *const CONTAINER_KEYS[] = {"net", "state_dict", "model", "model_state_dict"};

static bool is_tensor_dict(const polyp_pk_value *v) {
    if (!v || v->type != POLYP_PK_DICT || v->n == 0) return false;
    for (size_t i = 0; i < v->n; i++)
        if (v->items[2 * i]->type != POLYP_PK_STR || v->items[2 * i + 1]->type != POLYP_PK_TENSOR) return false;
    return true;
}

static polyp_status find_state_dict(const polyp_pk_value *root, const polyp_pk_value **sd, const char **container,
                                    polyp_error *err) {
    if (root->type != POLYP_PK_DICT)
        return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: not a checkpoint (top-level object is %s, expected a dict)",
                          polyp_pk_type_name(root->type));
    if (is_tensor_dict(root)) {
        *sd = root;
        *container = "state_dict";
        return POLYP_OK;
    }
    for (size_t k = 0; k < sizeof CONTAINER_KEYS / sizeof CONTAINER_KEYS[0]; k++) {
        const polyp_pk_value *v = polyp_pk_dict_get(root, CONTAINER_KEYS[k]);
        if (is_tensor_dict(v)) {
            *sd = v;
            *container = CONTAINER_KEYS[k];
            return POLYP_OK;
        }
    }
    char keys[160] = "none";
    size_t n = 0;
    for (size_t i = 0; i < root->n && i < 6 && n < sizeof keys; i++) {
        const polyp_pk_value *k = root->items[2 * i];
        n += (size_t)snprintf(keys + n, sizeof keys - n, "%s%.24s", i ? ", " : "",
                              k->type == POLYP_PK_STR ? k->s : polyp_pk_type_name(k->type));
    }
    return polyp_fail(err, POLYP_ERR_FORMAT,
                      "checkpoint: unknown layout (a dict with keys %s; expected a state_dict or one under "
                      "net/state_dict/model/model_state_dict)", keys);
}

/* torchvision's name for a canonical (lukemelas) one, as models/convert.py maps them. */
static bool torchvision_name(const char *canon, char *out, size_t cap) {
    static const char *const fields[] = {"weight", "bias", "running_mean", "running_var"};
    const char *f = strrchr(canon, '.');
    if (!f) return false;
    f++;
    if (!strcmp(canon, "_conv_stem.weight")) return snprintf(out, cap, "features.0.0.weight") < (int)cap;
    if (!strcmp(canon, "_conv_head.weight")) return snprintf(out, cap, "features.8.0.weight") < (int)cap;
    for (size_t i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "_bn0.%s", fields[i]);
        if (!strcmp(canon, name)) return snprintf(out, cap, "features.0.1.%s", f) < (int)cap;
        snprintf(name, sizeof name, "_bn1.%s", fields[i]);
        if (!strcmp(canon, name)) return snprintf(out, cap, "features.8.1.%s", f) < (int)cap;
    }
    int bi, len = 0;
    if (sscanf(canon, "_blocks.%d.%n", &bi, &len) != 1 || len == 0 || bi < 0 || bi >= POLYP_EFFNET_BLOCKS) return false;
    /* Stage = how many times the output width changed so far (B0's stages all differ). */
    const polyp_block_spec *b = polyp_effnet_blocks();
    int stage = 1, j = 0;
    for (int k = 1; k <= bi; k++) {
        if (b[k].out != b[k - 1].out) stage++, j = 0;
        else j++;
    }
    int seq = b[bi].expand != 1 ? 1 : 0;
    const char *part = canon + len;
    char tail[64];
    if (!strcmp(part, "_expand_conv.weight")) snprintf(tail, sizeof tail, "0.0.weight");
    else if (!strncmp(part, "_bn0.", 5)) snprintf(tail, sizeof tail, "0.1.%s", f);
    else if (!strcmp(part, "_depthwise_conv.weight")) snprintf(tail, sizeof tail, "%d.0.weight", seq);
    else if (!strncmp(part, "_bn1.", 5)) snprintf(tail, sizeof tail, "%d.1.%s", seq, f);
    else if (!strncmp(part, "_se_reduce.", 11)) snprintf(tail, sizeof tail, "%d.fc1.%s", seq + 1, f);
    else if (!strncmp(part, "_se_expand.", 11)) snprintf(tail, sizeof tail, "%d.fc2.%s", seq + 1, f);
    else if (!strcmp(part, "_project_conv.weight")) snprintf(tail, sizeof tail, "%d.0.weight", seq + 2);
    else if (!strncmp(part, "_bn2.", 5)) snprintf(tail, sizeof tail, "%d.1.%s", seq + 2, f);
    else return false;
    return snprintf(out, cap, "features.%d.%d.block.%s", stage, j, tail) < (int)cap;
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static const polyp_pk_tensor *sd_find(const polyp_pk_value *sd, size_t strip, const char *name) {
    for (size_t i = 0; i < sd->n; i++)
        if (!strcmp(sd->items[2 * i]->s + strip, name)) return sd->items[2 * i + 1]->tensor;
    return NULL;
}

static float half_to_float(uint32_t h) {
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) bits = sign | 0x7F800000u | man << 13;
    else if (exp) bits = sign | (exp + 112) << 23 | man << 13;
    else if (!man) bits = sign;
    else { /* subnormal: normalise */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3FF) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* The tensor as contiguous little-endian float32 bytes: borrowed from the storage when it
 * already is, else converted (float16 / bfloat16 exactly, float64 rounded to nearest as
 * torch's .to(float32)) into *owned. */
static polyp_status tensor_f32(const polyp_pk_tensor *t, const char *name, const unsigned char **out,
                               unsigned char **owned, polyp_error *err) {
    const polyp_pk_value *s = t->storage;
    size_t es = polyp_pk_storage_elem_size(s->global), count = 1, extent = 1, c_stride = 1;
    bool contiguous = true;
    /* Offsets and strides come from the file: past size_t (wasm32) they would wrap. */
    bool wide = t->offset > SIZE_MAX;
    for (int d = 0; d < t->ndim; d++) wide |= t->stride[d] > SIZE_MAX || t->shape[d] > SIZE_MAX;
    if (wide) return polyp_fail(err, POLYP_ERR_LIMIT, "checkpoint: tensor %s: offset or stride too large", name);
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] > 1 && t->stride[d] != c_stride) contiguous = false;
        size_t last;
        if (!polyp_mul_ok(count, (size_t)t->shape[d], &count) || !polyp_mul_ok(c_stride, (size_t)t->shape[d], &c_stride) ||
            (t->shape[d] && (!polyp_mul_ok((size_t)t->shape[d] - 1, (size_t)t->stride[d], &last) ||
                             !polyp_add_ok(extent, last, &extent))))
            return polyp_fail(err, POLYP_ERR_LIMIT, "checkpoint: tensor %s: size overflows", name);
    }
    size_t end;
    if (count && (!polyp_add_ok((size_t)t->offset, extent, &end) || end > s->nbytes / es))
        return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: tensor %s reaches past the end of its storage %s", name, s->s);
    *owned = NULL;
    if (contiguous && s->global == POLYP_ST_F32) {
        *out = s->data + (size_t)t->offset * 4;
        return POLYP_OK;
    }
    unsigned char *buf = polyp_malloc(count * 4 + 1);
    if (!buf) return polyp_fail(err, POLYP_ERR_NOMEM, "checkpoint: out of memory for tensor %s", name);
    size_t idx[POLYP_PK_MAX_DIMS] = {0};
    for (size_t k = 0; k < count; k++) {
        size_t e = (size_t)t->offset;
        for (int d = 0; d < t->ndim; d++) e += idx[d] * (size_t)t->stride[d];
        const unsigned char *p = s->data + e * es;
        float f;
        uint32_t bits;
        if (s->global == POLYP_ST_F32) {
            bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&f, &bits, 4);
        } else if (s->global == POLYP_ST_F16) {
            f = half_to_float((uint32_t)p[0] | (uint32_t)p[1] << 8);
        } else if (s->global == POLYP_ST_BF16) {
            bits = ((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16;
            memcpy(&f, &bits, 4);
        } else {
            uint64_t u = 0;
            for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
            double dv;
            memcpy(&dv, &u, 8);
            f = (float)dv;
        }
        memcpy(&bits, &f, 4);
        for (int i = 0; i < 4; i++) buf[4 * k + (size_t)i] = (unsigned char)(bits >> (8 * i));
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    *out = *owned = buf;
    return POLYP_OK;
}

/* convert.py's canonicalise + the safetensors it writes. */
static polyp_status write_canonical(const polyp_pk_value *sd, const char *container, const void *data, size_t size,
                                    void **out, size_t *out_size, polyp_error *err) {
    static const char prefix[] = "module.";
    size_t strip = sizeof prefix - 1;
    for (size_t i = 0; i < sd->n && strip; i++)
        if (strncmp(sd->items[2 * i]->s, prefix, sizeof prefix - 1) != 0) strip = 0;
    const char *layout = sd_find(sd, strip, "_conv_stem.weight") ? "lukemelas"
                       : sd_find(sd, strip, "features.0.0.weight") ? "torchvision" : NULL;
    if (!layout)
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "checkpoint: unknown layout (tensor names like %.64s are neither lukemelas "
                          "(_conv_stem.weight) nor torchvision (features.0.0.weight))", sd->items[0]->s + strip);
    bool tv = layout[0] == 't';
    polyp_effnet_tensor *exp = polyp_malloc(POLYP_EFFNET_TENSORS * sizeof *exp);
    char (*src)[64] = polyp_malloc(POLYP_EFFNET_TENSORS * sizeof *src);
    const unsigned char **bytes = calloc(POLYP_EFFNET_TENSORS, sizeof *bytes);
    unsigned char **owned = calloc(POLYP_EFFNET_TENSORS, sizeof *owned);
    polyp_st_writer *w = polyp_st_writer_new();
    polyp_status st = exp && src && bytes && owned && w ? POLYP_OK
                                                       : polyp_fail(err, POLYP_ERR_NOMEM, "checkpoint: out of memory");
    size_t nexp = st == POLYP_OK ? polyp_effnet_tensors(exp) : 0;
    for (size_t i = 0; i < nexp && st == POLYP_OK; i++) {
        if (!tv) snprintf(src[i], sizeof src[i], "%s", exp[i].name);
        else if (!torchvision_name(exp[i].name, src[i], sizeof src[i]))
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: no torchvision name for %s", exp[i].name);
    }
    /* Unknown tensors first, as convert.py: another model or size is named by its first. */
    const char *head = tv ? "classifier." : "_fc.";
    for (size_t i = 0; i < sd->n && st == POLYP_OK; i++) {
        const char *name = sd->items[2 * i]->s + strip;
        if (has_suffix(name, "num_batches_tracked") || !strncmp(name, head, strlen(head))) continue;
        size_t k = 0;
        while (k < nexp && strcmp(src[k], name) != 0) k++;
        if (k == nexp)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: unexpected tensor %.96s for a %s EfficientNet-B0 (another "
                            "model or size?)", name, layout);
    }
    char want[96], got[96];
    for (size_t i = 0; i < nexp && st == POLYP_OK; i++) {
        const polyp_pk_tensor *t = sd_find(sd, strip, src[i]);
        if (!t) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: missing tensor %s", src[i]);
            break;
        }
        bool same = t->ndim == exp[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == exp[i].shape[d];
        if (!same) {
            polyp_st_shape_str(got, sizeof got, t->ndim, t->shape);
            polyp_st_shape_str(want, sizeof want, exp[i].ndim, exp[i].shape);
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: wrong shape for %s: %s, expected %s", src[i], got, want);
            break;
        }
        int dt = t->storage->global;
        if (dt != POLYP_ST_F32 && dt != POLYP_ST_F64 && dt != POLYP_ST_F16 && dt != POLYP_ST_BF16) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: wrong dtype for %s: %s, expected a float tensor", src[i],
                            torch_dtype_name(dt));
            break;
        }
        if ((st = tensor_f32(t, src[i], &bytes[i], &owned[i], err)) != POLYP_OK) break;
        st = polyp_st_writer_add(w, exp[i].name, POLYP_ST_F32, exp[i].ndim, exp[i].shape, bytes[i], err);
    }
    char sha[65];
    if (st == POLYP_OK) polyp_sha256_hex(data, size, sha);
    const char *source_layout = !strcmp(container, "net") ? "coralnet" : layout;
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "format", "polyp-efficientnet-b0", err);
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "variant", layout, err);
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "source_sha256", sha, err);
    if (st == POLYP_OK) st = polyp_st_writer_meta(w, "source_layout", source_layout, err);
    if (st == POLYP_OK) st = polyp_st_writer_finish(w, out, out_size, err);
    polyp_st_writer_free(w);
    for (size_t i = 0; owned && i < POLYP_EFFNET_TENSORS; i++) free(owned[i]);
    free(owned);
    free(bytes);
    free(src);
    free(exp);
    return st;
}

polyp_status polyp_torch_to_safetensors(const void *data, size_t size, void **out, size_t *out_size,
                                        polyp_error *err) {
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!data || !out || !out_size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "checkpoint: NULL argument");
    if (!polyp_torch_detect(data, size))
        return polyp_fail(err, POLYP_ERR_FORMAT, "checkpoint: not a torch.save file (neither zip nor legacy magic)");
    ckpt c;
    memset(&c, 0, sizeof c);
    polyp_status st = !memcmp(data, "PK", 2) ? read_zip(data, size, &c, err) : read_legacy(data, size, &c, err);
    const polyp_pk_value *sd = NULL;
    const char *container = NULL;
    if (st == POLYP_OK) st = find_state_dict(c.obj.root, &sd, &container, err);
    if (st == POLYP_OK) st = write_canonical(sd, container, data, size, out, out_size, err);
    ckpt_free(&c);
    return st;
}
