/* npz.c - pyspacer's .featurevector files: a zip (npz) of four .npy arrays.
 *
 *   meta.npy  int64 [3]      [valid_rowcol, npoints, feature_dim]  (pyspacer: np.array of a
 *                            bool and two ints, which numpy makes int64)
 *   rows.npy  uint16 [N]     point rows; legacy files (valid_rowcol 0): float64 [0]
 *   cols.npy  uint16 [N]     point columns; same
 *   feat.npy  float64 [N, D] features, row-major, in point order
 *   extractor.npy  <U n []   optional (polyp's own): the extractor record, a 0-d unicode
 *                            string ("<kind>:<sha256>:<dim> variant=<variant>")
 *
 * Writing: STORED entries laid out as numpy.savez lays them out, npy v1.0 headers byte for
 * byte as numpy writes them (dict, growth-axis spaces, padded with spaces and '\n' to a
 * multiple of 64 bytes). Reading: STORED and DEFLATED entries (pyspacer writes
 * savez_compressed), CRC-checked; little-endian bool/int/uint/float dtypes; C order only;
 * shapes checked against meta. Zip64, encryption and other compression methods are refused
 * with a reason. Values are written and read byte by byte in little-endian order, so the
 * code does not depend on the host's byte order. */
#include "crc32.h"
#include "internal.h"
#include "zip.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPZ_MAX_ENTRIES 1024                  /* central directory entries we look at */
#define NPZ_MAX_ENTRY_BYTES ((size_t)1 << 31) /* one decompressed array */
#define NPY_MAX_HEADER 65536                  /* npy header text */
#define NPZ_MAX_POINTS ((size_t)1 << 24)
#define NPZ_MAX_DIM ((size_t)1 << 20)
#define NPZ_MAX_RECORD 1024                   /* characters of the extractor record */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void wr32(unsigned char *p, uint32_t v) {
    wr16(p, v & 0xFFFF);
    wr16(p + 2, v >> 16);
}
static void wr64(unsigned char *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------------------------------ writing */

/* An array to write: its npy header and its raw little-endian data size. */
typedef struct npy_member {
    const char *name;
    char header[192];
    size_t header_len;
    size_t data_len;
} npy_member;

/* numpy's header for a C-order array (numpy/lib/format.py _write_array_header + _wrap_header,
 * version 1.0). */
static void npy_make_header(npy_member *m, const char *descr, const size_t *shape, int ndim) {
    char dict[160], shape_s[64];
    if (ndim == 0) snprintf(shape_s, sizeof shape_s, "()");
    else if (ndim == 1) snprintf(shape_s, sizeof shape_s, "(%zu,)", shape[0]);
    else snprintf(shape_s, sizeof shape_s, "(%zu, %zu)", shape[0], shape[1]);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape_s);
    /* Spare room numpy leaves so the first axis can grow in place: 21 digits minus its own
     * (none for a 0-d array). */
    char first[32];
    int growth = ndim ? 21 - snprintf(first, sizeof first, "%zu", shape[0]) : 0;
    size_t dict_len = (size_t)n + (size_t)(growth > 0 ? growth : 0);
    size_t hlen = dict_len + 1;                  /* + the final '\n' */
    size_t pad = 64 - ((10 + hlen) % 64);        /* numpy pads a full 64 when already aligned */
    size_t total = 10 + hlen + pad;
    memcpy(m->header, "\x93NUMPY\x01\x00", 8);
    wr16((unsigned char *)m->header + 8, (uint32_t)(hlen + pad));
    memcpy(m->header + 10, dict, (size_t)n);
    memset(m->header + 10 + n, ' ', total - 10 - (size_t)n - 1);
    m->header[total - 1] = '\n';
    m->header_len = total;
}

polyp_status polyp_features_write_npz(const polyp_features *features, void **out, size_t *out_size,
                                      polyp_error *err) {
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!features || !out || !out_size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "npz: NULL argument");
    const polyp_features *f = features;
    size_t n = f->npoints, d = f->dim, nd;
    if (n > NPZ_MAX_POINTS || d > NPZ_MAX_DIM || !polyp_mul_ok(n, d, &nd))
        return polyp_fail(err, POLYP_ERR_LIMIT, "npz: %zu points x %zu features is too large", n, d);
    if (nd > 0 && !f->feat) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "npz: feat is NULL");
    if (f->valid_rowcol && n > 0 && (!f->rows || !f->cols))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "npz: valid_rowcol is set but rows or cols is NULL");

    /* The record: printable ASCII, stored as numpy's UTF-32LE '<U' string. */
    size_t rec_len = f->extractor ? strlen(f->extractor) : 0;
    for (size_t k = 0; k < rec_len; k++)
        if (f->extractor[k] < 0x20 || f->extractor[k] > 0x7e)
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "npz: extractor record has a non-printable character");
    if (rec_len > NPZ_MAX_RECORD)
        return polyp_fail(err, POLYP_ERR_LIMIT, "npz: extractor record of %zu characters (at most %d)", rec_len,
                          NPZ_MAX_RECORD);
    int members = f->extractor && rec_len ? 5 : 4;
    npy_member m[5];
    size_t s3[1] = {3}, sn[1] = {f->valid_rowcol ? n : 0}, snd[2] = {n, d};
    m[0].name = "meta.npy";
    npy_make_header(&m[0], "<i8", s3, 1);
    m[0].data_len = 3 * 8;
    /* pyspacer writes np.array([]) (float64, empty) for legacy files' rows and cols. */
    const char *rc_descr = f->valid_rowcol ? "<u2" : "<f8";
    m[1].name = "rows.npy";
    npy_make_header(&m[1], rc_descr, sn, 1);
    m[1].data_len = sn[0] * 2;
    m[2].name = "cols.npy";
    npy_make_header(&m[2], rc_descr, sn, 1);
    m[2].data_len = sn[0] * 2;
    m[3].name = "feat.npy";
    npy_make_header(&m[3], "<f8", snd, 2);
    m[3].data_len = nd * 8;
    if (members == 5) {
        char descr[32];
        snprintf(descr, sizeof descr, "<U%zu", rec_len);
        m[4].name = "extractor.npy";
        npy_make_header(&m[4], descr, NULL, 0);
        m[4].data_len = rec_len * 4;
    }

    /* Layout: [local header, name, npy header, data] x members, central directory, end record. */
    size_t total = 22, central = 0;
    for (int i = 0; i < members; i++) {
        size_t nl = strlen(m[i].name), entry = 30 + nl + m[i].header_len + m[i].data_len;
        if (m[i].header_len + m[i].data_len >= 0xFFFFFFFFu || !polyp_add_ok(total, entry + 46 + nl, &total))
            return polyp_fail(err, POLYP_ERR_LIMIT, "npz: features too large for a zip without zip64");
        central += 46 + nl;
    }
    if (total >= 0xFFFFFFFFu)
        return polyp_fail(err, POLYP_ERR_LIMIT, "npz: features too large for a zip without zip64");
    unsigned char *buf = polyp_malloc(total);
    if (!buf) return polyp_fail(err, POLYP_ERR_NOMEM, "npz: out of memory for %zu bytes", total);

    size_t pos = 0, offsets[5];
    uint32_t crcs[5];
    for (int i = 0; i < members; i++) {
        size_t nl = strlen(m[i].name);
        size_t usize = m[i].header_len + m[i].data_len;
        unsigned char *lh = buf + pos;
        offsets[i] = pos;
        unsigned char *data = lh + 30 + nl;
        memcpy(data, m[i].header, m[i].header_len);
        unsigned char *p = data + m[i].header_len;
        if (i == 0) {
            wr64(p, (uint64_t)(f->valid_rowcol ? 1 : 0));
            wr64(p + 8, (uint64_t)n);
            wr64(p + 16, (uint64_t)d);
        } else if (i == 4) {
            for (size_t k = 0; k < rec_len; k++) wr32(p + 4 * k, (unsigned char)f->extractor[k]);
        } else if (i == 1 || i == 2) {
            const uint16_t *v = i == 1 ? f->rows : f->cols;
            for (size_t k = 0; k < sn[0]; k++) wr16(p + 2 * k, v[k]);
        } else if (i == 3) {
            for (size_t k = 0; k < nd; k++) {
                double x = (double)f->feat[k];
                uint64_t bits;
                memcpy(&bits, &x, 8);
                wr64(p + 8 * k, bits);
            }
        }
        crcs[i] = polyp_crc32_update(0, data, usize);
        /* Local file header, as Python's zipfile writes it for numpy (made on 1980-01-01). */
        wr32(lh, 0x04034b50u);
        wr16(lh + 4, 20);          /* version needed */
        wr16(lh + 6, 0);           /* flags */
        wr16(lh + 8, 0);           /* method: stored */
        wr16(lh + 10, 0);          /* time */
        wr16(lh + 12, 0x21);       /* date: 1980-01-01 */
        wr32(lh + 14, crcs[i]);
        wr32(lh + 18, (uint32_t)usize);
        wr32(lh + 22, (uint32_t)usize);
        wr16(lh + 26, (uint32_t)nl);
        wr16(lh + 28, 0);
        memcpy(lh + 30, m[i].name, nl);
        pos += 30 + nl + usize;
    }
    size_t cd_start = pos;
    for (int i = 0; i < members; i++) {
        size_t nl = strlen(m[i].name);
        size_t usize = m[i].header_len + m[i].data_len;
        unsigned char *c = buf + pos;
        wr32(c, 0x02014b50u);
        wr16(c + 4, 0x0314);       /* made by: Unix, zip 2.0 */
        wr16(c + 6, 20);
        wr16(c + 8, 0);
        wr16(c + 10, 0);
        wr16(c + 12, 0);
        wr16(c + 14, 0x21);
        wr32(c + 16, crcs[i]);
        wr32(c + 20, (uint32_t)usize);
        wr32(c + 24, (uint32_t)usize);
        wr16(c + 28, (uint32_t)nl);
        wr16(c + 30, 0);           /* extra */
        wr16(c + 32, 0);           /* comment */
        wr16(c + 34, 0);           /* disk */
        wr16(c + 36, 0);           /* internal attributes */
        wr32(c + 38, 0600u << 16); /* external: rw------- as numpy's files have */
        wr32(c + 42, (uint32_t)offsets[i]);
        memcpy(c + 46, m[i].name, nl);
        pos += 46 + nl;
    }
    unsigned char *e = buf + pos;
    wr32(e, 0x06054b50u);
    wr16(e + 4, 0);
    wr16(e + 6, 0);
    wr16(e + 8, (uint32_t)members);
    wr16(e + 10, (uint32_t)members);
    wr32(e + 12, (uint32_t)central);
    wr32(e + 16, (uint32_t)cd_start);
    wr16(e + 20, 0);
    pos += 22;
    *out = buf;
    *out_size = pos;
    return POLYP_OK;
}

/* ------------------------------------------------------------------------------ reading */

/* A parsed .npy array whose data points into the archive or into `bytes` (owned, NULL for
 * a stored entry). */
typedef struct npy_array {
    unsigned char *bytes;
    const unsigned char *data;
    char kind;      /* 'b', 'i', 'u', 'f' */
    size_t itemsize;
    int ndim;
    size_t shape[2];
    size_t count;
} npy_array;

/* The arrays by name ("meta.npy" or "meta", as numpy.load finds them); other members are
 * not ours to judge. */
static polyp_status find_entries(const polyp_zip *z, const polyp_zip_entry *want[5], polyp_error *err) {
    static const char *const names[5] = {"meta", "rows", "cols", "feat", "extractor"};
    for (int i = 0; i < 5; i++) want[i] = NULL;
    for (size_t k = 0; k < z->count; k++) {
        const polyp_zip_entry *en = &z->entries[k];
        size_t base = en->name_len;
        if (base > 4 && memcmp(en->name + base - 4, ".npy", 4) == 0) base -= 4;
        int which = -1;
        for (int i = 0; i < 5; i++)
            if (base == strlen(names[i]) && memcmp(en->name, names[i], base) == 0) which = i;
        if (which < 0) continue;
        if (want[which]) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: array '%s' appears twice", names[which]);
        want[which] = en;
    }
    return POLYP_OK;
}

/* A tiny reader for the Python dict literal in npy headers. */
typedef struct lit {
    const char *p, *end;
} lit;
static void skip_ws(lit *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')) l->p++;
}
static bool eat(lit *l, char c) {
    skip_ws(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return true;
    }
    return false;
}
/* A quoted string into buf (truncated to cap - 1). */
static bool read_str(lit *l, char *buf, size_t cap) {
    skip_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return false;
    char q = *l->p++;
    size_t n = 0;
    while (l->p < l->end && *l->p != q) {
        if (n + 1 < cap) buf[n++] = *l->p;
        l->p++;
    }
    if (l->p >= l->end) return false;
    l->p++;
    buf[n] = '\0';
    return true;
}

static polyp_status parse_npy(const unsigned char *bytes, unsigned char *owned, size_t len, bool text, const char *what, npy_array *a, polyp_error *err) {
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0)
        return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s is not a .npy array (bad magic)", what);
    unsigned major = bytes[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = rd16(bytes + 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: truncated header", what);
        hlen = rd32(bytes + 8);
        hstart = 12;
    } else {
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "npz: %s: .npy format version %u is not supported", what, major);
    }
    if (hlen > NPY_MAX_HEADER) return polyp_fail(err, POLYP_ERR_LIMIT, "npz: %s: header of %zu bytes", what, hlen);
    if (len - hstart < hlen) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: truncated header", what);
    lit l = {(const char *)bytes + hstart, (const char *)bytes + hstart + hlen};
    char key[32], descr[32] = "";
    int fortran = -1, have_shape = 0;
    if (!eat(&l, '{')) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: header is not a dict", what);
    while (!eat(&l, '}')) {
        if (!read_str(&l, key, sizeof key) || !eat(&l, ':'))
            return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: malformed header", what);
        if (!strcmp(key, "descr")) {
            if (!read_str(&l, descr, sizeof descr))
                return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "npz: %s: structured dtypes are not supported", what);
        } else if (!strcmp(key, "fortran_order")) {
            skip_ws(&l);
            if ((size_t)(l.end - l.p) >= 4 && !memcmp(l.p, "True", 4)) fortran = 1, l.p += 4;
            else if ((size_t)(l.end - l.p) >= 5 && !memcmp(l.p, "False", 5)) fortran = 0, l.p += 5;
            else return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: bad fortran_order", what);
        } else if (!strcmp(key, "shape")) {
            if (!eat(&l, '(')) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: bad shape", what);
            a->ndim = 0;
            while (!eat(&l, ')')) {
                skip_ws(&l);
                size_t v = 0;
                const char *start = l.p;
                while (l.p < l.end && *l.p >= '0' && *l.p <= '9') {
                    if (v > (SIZE_MAX - 9) / 10) return polyp_fail(err, POLYP_ERR_LIMIT, "npz: %s: huge shape", what);
                    v = v * 10 + (size_t)(*l.p++ - '0');
                }
                if (l.p == start) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: bad shape", what);
                if (a->ndim == 2)
                    return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s has more than 2 dimensions", what);
                a->shape[a->ndim++] = v;
                if (!eat(&l, ',')) {
                    if (!eat(&l, ')')) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: bad shape", what);
                    break;
                }
            }
            have_shape = 1;
        } else {
            return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: unknown header key '%s'", what, key);
        }
        if (!eat(&l, ',')) {
            if (!eat(&l, '}')) return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: malformed header", what);
            break;
        }
    }
    if (!descr[0] || fortran < 0 || !have_shape)
        return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: header lacks descr, fortran_order or shape", what);
    if (fortran) return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "npz: %s: fortran_order arrays are not supported", what);
    char order = descr[0], kind = descr[1];
    char *endp;
    long item = strtol(descr + 2, &endp, 10);
    bool str = text && kind == 'U' && item >= 1 && item <= NPZ_MAX_RECORD;
    if (!strchr("<>|=", order) || (!str && !strchr("biuf", kind)) || *endp || item < 1 ||
        (kind == 'f' && item != 4 && item != 8) ||
        (!str && kind != 'f' && item != 1 && item != 2 && item != 4 && item != 8))
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "npz: %s: dtype '%s' is not supported", what, descr);
    if (order == '>' && (item > 1 || str))
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "npz: %s: big-endian dtype '%s' is not supported", what, descr);
    a->kind = kind;
    a->itemsize = (size_t)item * (str ? 4 : 1); /* 'U': UTF-32 code units */
    size_t count = 1, nbytes;
    for (int i = 0; i < a->ndim; i++)
        if (!polyp_mul_ok(count, a->shape[i], &count))
            return polyp_fail(err, POLYP_ERR_LIMIT, "npz: %s: shape too large", what);
    if (!polyp_mul_ok(count, a->itemsize, &nbytes) || len - hstart - hlen != nbytes)
        return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s: data size %zu does not match its shape and dtype '%s'",
                          what, len - hstart - hlen, descr);
    a->count = count;
    a->bytes = owned;
    a->data = bytes + hstart + hlen;
    return POLYP_OK;
}

static bool npy_int(const npy_array *a, size_t i, int64_t *out) {
    const unsigned char *p = a->data + i * a->itemsize;
    uint64_t u = a->itemsize == 1 ? p[0] : a->itemsize == 2 ? rd16(p) : a->itemsize == 4 ? rd32(p) : rd64(p);
    switch (a->kind) {
    case 'b': *out = u != 0; return true;
    case 'u':
        if (u > INT64_MAX) return false;
        *out = (int64_t)u;
        return true;
    case 'i': {
        int shift = 64 - 8 * (int)a->itemsize; /* sign-extend */
        *out = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
        return true;
    }
    default: return false;
    }
}

/* float64 -> float32; beyond the float range becomes +-inf (a plain C cast of an
 * out-of-range double is undefined behaviour). */
static float polyp_npz_to_float(double x) {
    if (x > FLT_MAX) return HUGE_VALF;
    if (x < -FLT_MAX) return -HUGE_VALF;
    return (float)x;
}

static double npy_float(const npy_array *a, size_t i) {
    const unsigned char *p = a->data + i * a->itemsize;
    if (a->itemsize == 4) {
        uint32_t b = rd32(p);
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    uint64_t b = rd64(p);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static polyp_status read_uint16s(const npy_array *a, size_t n, const char *what, uint16_t **out, polyp_error *err) {
    if (a->kind == 'f' || a->ndim != 1 || a->shape[0] != n)
        return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s must be %zu integers (meta's npoints), has %s shape (%zu%s)",
                          what, n, a->kind == 'f' ? "float" : "integer", a->ndim ? a->shape[0] : 0,
                          a->ndim == 2 ? ", ..." : ",");
    uint16_t *v = polyp_malloc(n * sizeof *v);
    if (!v) return polyp_fail(err, POLYP_ERR_NOMEM, "npz: out of memory");
    for (size_t i = 0; i < n; i++) {
        int64_t x = -1;
        if (!npy_int(a, i, &x) || x < 0 || x > 65535) {
            free(v);
            return polyp_fail(err, POLYP_ERR_FORMAT, "npz: %s[%zu] = %lld does not fit 0..65535", what, i, (long long)x);
        }
        v[i] = (uint16_t)x;
    }
    *out = v;
    return POLYP_OK;
}

/* extractor.npy: one '<U' string of printable ASCII (numpy pads with NULs: dropped). */
static polyp_status read_record(const npy_array *a, char **out, polyp_error *err) {
    if (a->kind != 'U' || a->count != 1 || a->ndim > 1)
        return polyp_fail(err, POLYP_ERR_FORMAT, "npz: extractor.npy must hold one unicode string");
    size_t n = a->itemsize / 4;
    while (n > 0 && rd32(a->data + 4 * (n - 1)) == 0) n--;
    char *s = polyp_malloc(n + 1);
    if (!s) return polyp_fail(err, POLYP_ERR_NOMEM, "npz: out of memory");
    for (size_t k = 0; k < n; k++) {
        uint32_t c = rd32(a->data + 4 * k);
        if (c < 0x20 || c > 0x7e) {
            free(s);
            return polyp_fail(err, POLYP_ERR_FORMAT, "npz: extractor.npy has a character outside printable ASCII");
        }
        s[k] = (char)c;
    }
    s[n] = '\0';
    *out = s;
    return POLYP_OK;
}

polyp_status polyp_features_read_npz(const void *data, size_t size, polyp_features *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "npz: NULL output");
    memset(out, 0, sizeof *out);
    if (!data) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "npz: NULL data");
    polyp_zip z;
    const polyp_zip_entry *want[5];
    polyp_status st = polyp_zip_open(data, size, NPZ_MAX_ENTRIES, "npz", &z, err);
    if (st == POLYP_ERR_FORMAT && strstr(err ? err->message : "", "not a zip"))
        return polyp_fail(err, st, "npz: not a zip file (numpy's .npz / pyspacer's .featurevector)");
    if (st != POLYP_OK) return st;
    st = find_entries(&z, want, err);
    if (st == POLYP_OK && !want[0])
        st = polyp_fail(err, POLYP_ERR_FORMAT, "npz: no meta.npy array (not a pyspacer feature file)");
    if (st == POLYP_OK && !want[3])
        st = polyp_fail(err, POLYP_ERR_FORMAT, "npz: no feat.npy array (not a pyspacer feature file)");
    if (st != POLYP_OK) {
        polyp_zip_close(&z);
        return st;
    }

    static const char *const what[5] = {"meta.npy", "rows.npy", "cols.npy", "feat.npy", "extractor.npy"};
    npy_array arr[5];
    memset(arr, 0, sizeof arr);
    polyp_features f;
    memset(&f, 0, sizeof f);
    int64_t meta[3];
    for (int i = 0; i < 5; i++) {
        if (!want[i]) continue;
        const unsigned char *bytes;
        unsigned char *owned;
        if ((st = polyp_zip_read(&z, want[i], NPZ_MAX_ENTRY_BYTES, &bytes, &owned, err)) != POLYP_OK) goto done;
        if ((st = parse_npy(bytes, owned, want[i]->usize, i == 4, what[i], &arr[i], err)) != POLYP_OK) {
            free(owned);
            goto done;
        }
    }
    if (arr[0].kind == 'f' || arr[0].ndim != 1 || arr[0].shape[0] != 3) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "npz: meta.npy must hold 3 integers [valid_rowcol, npoints, dim]");
        goto done;
    }
    for (int i = 0; i < 3; i++)
        if (!npy_int(&arr[0], (size_t)i, &meta[i]) || meta[i] < 0) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "npz: meta.npy[%d] is negative or out of range", i);
            goto done;
        }
    if (meta[0] > 1 || (uint64_t)meta[1] > NPZ_MAX_POINTS || (uint64_t)meta[2] > NPZ_MAX_DIM) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "npz: meta.npy [%lld, %lld, %lld] is out of range", (long long)meta[0],
                        (long long)meta[1], (long long)meta[2]);
        goto done;
    }
    f.valid_rowcol = (int)meta[0];
    f.npoints = (size_t)meta[1];
    f.dim = (size_t)meta[2];
    const npy_array *fa = &arr[3];
    bool empty_1d = fa->ndim == 1 && fa->shape[0] == 0 && f.npoints == 0; /* np.array([]) */
    if (fa->kind != 'f' || (!empty_1d && (fa->ndim != 2 || fa->shape[0] != f.npoints || fa->shape[1] != f.dim))) {
        st = polyp_fail(err, POLYP_ERR_FORMAT,
                        "npz: feat.npy must be float with shape (%zu, %zu) as meta says, has %s shape (%zu, %zu)",
                        f.npoints, f.dim, fa->kind == 'f' ? "float" : "non-float", fa->ndim > 0 ? fa->shape[0] : 0,
                        fa->ndim > 1 ? fa->shape[1] : 0);
        goto done;
    }
    size_t nd = f.npoints * f.dim; /* both capped above: no overflow */
    if (!(f.feat = polyp_malloc(nd * sizeof *f.feat))) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "npz: out of memory");
        goto done;
    }
    for (size_t k = 0; k < nd; k++) f.feat[k] = polyp_npz_to_float(npy_float(fa, k));
    if (f.valid_rowcol) {
        for (int i = 1; i <= 2; i++)
            if (!want[i]) {
                st = polyp_fail(err, POLYP_ERR_FORMAT, "npz: meta says rows and columns are valid but %s is missing",
                                what[i]);
                goto done;
            }
        if ((st = read_uint16s(&arr[1], f.npoints, what[1], &f.rows, err)) != POLYP_OK) goto done;
        if ((st = read_uint16s(&arr[2], f.npoints, what[2], &f.cols, err)) != POLYP_OK) goto done;
    }
    if (want[4] && (st = read_record(&arr[4], &f.extractor, err)) != POLYP_OK) goto done;
    *out = f;
    memset(&f, 0, sizeof f);
    st = POLYP_OK;
done:
    for (int i = 0; i < 5; i++) free(arr[i].bytes);
    polyp_zip_close(&z);
    polyp_features_free(&f);
    return st;
}

void polyp_features_free(polyp_features *features) {
    if (!features) return;
    free(features->rows);
    free(features->cols);
    free(features->feat);
    free(features->extractor);
    memset(features, 0, sizeof *features);
}
