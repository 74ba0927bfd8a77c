/* zip.c - read-only zip archives in memory (zip.h). Layout (APPNOTE.TXT): local headers and
 * data, the central directory, optionally the zip64 end record and its locator, the end of
 * central directory record (searched backwards past a comment of up to 64 KiB). */
#include "zip.h"

#include "crc32.h"
#include "inflate.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

/* Values a zip64 end record gives for the central directory. */
static polyp_status read_end64(const polyp_zip *z, size_t eocd, uint64_t *entries, uint64_t *cd_size,
                               uint64_t *cd_off, polyp_error *err) {
    const unsigned char *loc = z->data + eocd - 20;
    uint64_t off = rd64(loc + 8);
    if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", z->what);
    if (off > eocd - 20 || eocd - 20 - off < 56 || rd32(z->data + off) != SIG_END64)
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: zip64 end record is missing or damaged", z->what);
    const unsigned char *e = z->data + off;
    if (rd32(e + 16) != 0 || rd32(e + 20) != 0 || rd64(e + 24) != rd64(e + 32))
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", z->what);
    *entries = rd64(e + 32);
    *cd_size = rd64(e + 40);
    *cd_off = rd64(e + 48);
    if (*cd_off > off || *cd_size > off - *cd_off)
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: central directory lies outside the file", z->what);
    return POLYP_OK;
}

/* Replaces the 0xFFFFFFFF fields of an entry with its zip64 extra field's values. */
static bool apply_zip64_extra(polyp_zip_entry *en, const unsigned char *extra, size_t len, bool big_usize,
                              bool big_csize, bool big_off) {
    while (len >= 4) {
        size_t id = rd16(extra), n = rd16(extra + 2);
        if (n > len - 4) return false;
        if (id == 1) {
            const unsigned char *p = extra + 4;
            size_t left = n;
            uint64_t v;
            if (big_usize) {
                if (left < 8 || (v = rd64(p)) > SIZE_MAX) return false;
                en->usize = (size_t)v, p += 8, left -= 8;
            }
            if (big_csize) {
                if (left < 8 || (v = rd64(p)) > SIZE_MAX) return false;
                en->csize = (size_t)v, p += 8, left -= 8;
            }
            if (big_off) {
                if (left < 8 || (v = rd64(p)) > SIZE_MAX) return false;
                en->local_off = (size_t)v;
            }
            return true;
        }
        extra += 4 + n;
        len -= 4 + n;
    }
    return false;
}

polyp_status polyp_zip_open(const void *data, size_t size, size_t max_entries, const char *what, polyp_zip *out,
                            polyp_error *err) {
    memset(out, 0, sizeof *out);
    out->data = data;
    out->size = size;
    out->what = what;
    const unsigned char *z = data;
    if (!z || size < 22 || rd32(z) != SIG_LOCAL) return polyp_fail(err, POLYP_ERR_FORMAT, "%s: not a zip file", what);
    size_t eocd = SIZE_MAX;
    size_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
    for (size_t p = size - 22 + 1; p-- > lowest;)
        if (rd32(z + p) == SIG_END) {
            eocd = p;
            break;
        }
    if (eocd == SIZE_MAX)
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: no zip end-of-central-directory record (file truncated?)", what);
    const unsigned char *e = z + eocd;
    uint64_t entries = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    bool has64 = eocd >= 20 && rd32(z + eocd - 20) == SIG_LOCATOR64;
    polyp_status st;
    if (has64) {
        if ((st = read_end64(out, eocd, &entries, &cd_size, &cd_off, err)) != POLYP_OK) return st;
    } else if (entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "%s: zip64 markers without a zip64 end record are not supported",
                          what);
    } else if (rd16(e + 4) != 0 || rd16(e + 6) != 0 || rd16(e + 8) != entries) {
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", what);
    } else if (cd_off > eocd || cd_size > eocd - cd_off) {
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: central directory lies outside the file", what);
    }
    if (entries > max_entries)
        return polyp_fail(err, POLYP_ERR_LIMIT, "%s: %llu zip entries (at most %zu)", what, (unsigned long long)entries,
                          max_entries);
    out->entries = calloc(entries ? (size_t)entries : 1, sizeof *out->entries);
    if (!out->entries) return polyp_fail(err, POLYP_ERR_NOMEM, "%s: out of memory", what);
    size_t p = (size_t)cd_off, end = (size_t)(cd_off + cd_size);
    for (size_t k = 0; k < entries; k++) {
        if (end - p < 46 || rd32(z + p) != SIG_CENTRAL) {
            polyp_zip_close(out);
            return polyp_fail(err, POLYP_ERR_FORMAT, "%s: central directory entry %zu is damaged", what, k + 1);
        }
        const unsigned char *c = z + p;
        polyp_zip_entry *en = &out->entries[k];
        en->flags = rd16(c + 8);
        en->method = rd16(c + 10);
        en->crc = rd32(c + 16);
        en->csize = rd32(c + 20);
        en->usize = rd32(c + 24);
        en->name_len = rd16(c + 28);
        size_t extra = rd16(c + 30), comment = rd16(c + 32);
        en->local_off = rd32(c + 42);
        if (end - p - 46 < en->name_len + extra + comment) {
            polyp_zip_close(out);
            return polyp_fail(err, POLYP_ERR_FORMAT, "%s: central directory entry %zu is damaged", what, k + 1);
        }
        en->name = (const char *)c + 46;
        bool bu = en->usize == 0xFFFFFFFFu, bc = en->csize == 0xFFFFFFFFu, bo = en->local_off == 0xFFFFFFFFu;
        if ((bu || bc || bo) && !apply_zip64_extra(en, c + 46 + en->name_len, extra, bu, bc, bo)) {
            /* The message borrows the name from the archive, not from the entries freed next. */
            st = polyp_fail(err, POLYP_ERR_FORMAT, "%s: %.*s: zip64 sizes without a valid zip64 extra field", what,
                            (int)(en->name_len > 200 ? 200 : en->name_len), en->name);
            polyp_zip_close(out);
            return st;
        }
        p += 46 + en->name_len + extra + comment;
        out->count++;
    }
    return POLYP_OK;
}

void polyp_zip_close(polyp_zip *zip) {
    if (!zip) return;
    free(zip->entries);
    zip->entries = NULL;
    zip->count = 0;
}

const polyp_zip_entry *polyp_zip_find(const polyp_zip *zip, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < zip->count; i++)
        if (zip->entries[i].name_len == n && !memcmp(zip->entries[i].name, name, n)) return &zip->entries[i];
    return NULL;
}

polyp_status polyp_zip_read(const polyp_zip *zip, const polyp_zip_entry *en, size_t max_bytes,
                            const unsigned char **data, unsigned char **owned, polyp_error *err) {
    *data = NULL;
    *owned = NULL;
    const char *what = zip->what;
    int nl = (int)(en->name_len > 200 ? 200 : en->name_len);
    const unsigned char *z = zip->data;
    size_t size = zip->size, lo = en->local_off;
    if (en->flags & 1) return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "%s: %.*s is encrypted", what, nl, en->name);
    if (en->method != 0 && en->method != 8)
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED,
                          "%s: %.*s uses compression method %u (only stored and deflate are supported)", what, nl,
                          en->name, (unsigned)en->method);
    if (lo > size || size - lo < 30 || rd32(z + lo) != SIG_LOCAL)
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: %.*s: local header is missing or damaged", what, nl, en->name);
    size_t data_off = lo + 30 + rd16(z + lo + 26) + rd16(z + lo + 28);
    if (data_off > size || size - data_off < en->csize)
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: %.*s: data runs past the end of the file (truncated?)", what, nl,
                          en->name);
    if (en->usize > max_bytes)
        return polyp_fail(err, POLYP_ERR_LIMIT, "%s: %.*s: %zu bytes uncompressed is too large (at most %zu)", what,
                          nl, en->name, en->usize, max_bytes);
    const unsigned char *bytes = z + data_off;
    if (en->method == 0) {
        if (en->csize != en->usize)
            return polyp_fail(err, POLYP_ERR_FORMAT, "%s: %.*s: stored entry with different sizes (%zu and %zu)", what,
                              nl, en->name, en->csize, en->usize);
    } else {
        /* Deflate expands at most ~1032:1: a larger declared size is a lie, refused before
         * allocating it. */
        if (en->usize / 1032 > en->csize + 1)
            return polyp_fail(err, POLYP_ERR_FORMAT, "%s: %.*s: %zu bytes cannot inflate to the declared %zu", what, nl,
                              en->name, en->csize, en->usize);
        unsigned char *buf = polyp_malloc(en->usize ? en->usize : 1);
        if (!buf) return polyp_fail(err, POLYP_ERR_NOMEM, "%s: %.*s: out of memory", what, nl, en->name);
        size_t got;
        polyp_status st = polyp_inflate(bytes, en->csize, buf, en->usize, &got, NULL, err);
        if (st == POLYP_OK && got != en->usize)
            st = polyp_fail(err, POLYP_ERR_FORMAT, "deflate: %zu bytes instead of the declared %zu", got, en->usize);
        if (st != POLYP_OK) {
            free(buf);
            return polyp_fail_prefix(err, POLYP_ERR_FORMAT, "%s: %.*s: ", what, nl, en->name);
        }
        bytes = *owned = buf;
    }
    if (polyp_crc32_update(0, bytes, en->usize) != en->crc) {
        free(*owned);
        *owned = NULL;
        return polyp_fail(err, POLYP_ERR_FORMAT, "%s: %.*s: CRC mismatch (file corrupt)", what, nl, en->name);
    }
    *data = bytes;
    return POLYP_OK;
}
