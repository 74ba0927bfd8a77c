/* common.c - status strings, error records, allocation and small shared helpers. */
#if (defined(__unix__) || defined(__APPLE__)) && !defined(__EMSCRIPTEN__)
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_POPULATE */
#define POLYP_MAP_FILES 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#define POLYP_MAP_FILES 0
#endif
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *polyp_status_string(polyp_status status) {
    switch (status) {
    case POLYP_OK: return "ok";
    case POLYP_ERR_INVALID_ARG: return "invalid argument";
    case POLYP_ERR_NOMEM: return "out of memory";
    case POLYP_ERR_IO: return "i/o error";
    case POLYP_ERR_FORMAT: return "bad format";
    case POLYP_ERR_UNSUPPORTED: return "unsupported";
    case POLYP_ERR_LIMIT: return "limit exceeded";
    case POLYP_ERR_CANCELLED: return "cancelled";
    case POLYP_ERR_BACKEND: return "backend failure";
    }
    return "unknown status";
}

polyp_status polyp_fail(polyp_error *err, polyp_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

polyp_status polyp_fail_prefix(polyp_error *err, polyp_status status, const char *fmt, ...) {
    if (err) {
        char prefix[256];
        char old[sizeof err->message];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->message, sizeof old);
        old[sizeof old - 1] = '\0';
        err->status = status;
        snprintf(err->message, sizeof err->message, "%s%s", prefix, old);
    }
    return status;
}

void polyp_free(void *ptr) { free(ptr); }

void *polyp_malloc(size_t size) { return malloc(size ? size : 1); }

void *polyp_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

char *polyp_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = polyp_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void *polyp_aligned_alloc(size_t size) {
    /* C11 aligned_alloc wants a multiple of the alignment; round up (overflow-checked). */
    size_t rounded;
    if (!polyp_add_ok(size, 63, &rounded)) return NULL;
    rounded &= ~(size_t)63;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void polyp_aligned_free(void *ptr) { free(ptr); }

polyp_status polyp_read_file(const char *path, void **out, size_t *out_size, polyp_error *err) {
    *out = NULL;
    *out_size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return polyp_fail(err, POLYP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = polyp_malloc(cap);
    if (!buf) {
        fclose(f);
        return polyp_fail(err, POLYP_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            size_t ncap;
            unsigned char *nb;
            if (!polyp_mul_ok(cap, 2, &ncap) || !(nb = realloc(buf, ncap))) {
                free(buf);
                fclose(f);
                return polyp_fail(err, POLYP_ERR_NOMEM, "%s: file too large to read", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return polyp_fail(err, POLYP_ERR_IO, "%s: read error", path);
    }
    *out = buf;
    *out_size = len;
    return POLYP_OK;
}

polyp_status polyp_file_view_open(const char *path, polyp_file_view *v, polyp_error *err) {
    memset(v, 0, sizeof *v);
#if POLYP_MAP_FILES
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return polyp_fail(err, POLYP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size <= SIZE_MAX) {
        int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
        flags |= MAP_POPULATE; /* the whole file is read at once: one call, not a fault per page */
#endif
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, flags, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            v->data = m;
            v->size = (size_t)st.st_size;
            v->mapped = true;
            return POLYP_OK;
        }
    }
    close(fd); /* empty, not a regular file, or not mappable: read it */
#endif
    void *buf;
    polyp_status rs = polyp_read_file(path, &buf, &v->size, err);
    v->data = buf;
    return rs;
}

void polyp_file_view_close(polyp_file_view *v) {
    if (!v->data) return;
#if POLYP_MAP_FILES
    if (v->mapped) munmap((void *)v->data, v->size);
    else
#endif
        free((void *)v->data);
    memset(v, 0, sizeof *v);
}

int polyp_parallel_threads(const polyp_parallel *par) {
    return par && par->run && par->n_threads > 1 ? par->n_threads : 1;
}

polyp_status polyp_parallel_check(const polyp_parallel *par, const char *who, polyp_error *err) {
    if (!par) return POLYP_OK;
    if (par->n_threads < 1)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "%s: parallel n_threads %d: must be at least 1", who,
                          par->n_threads);
    if (par->n_threads > 1 && !par->run)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "%s: parallel has n_threads %d but no run function", who,
                          par->n_threads);
    return POLYP_OK;
}

void polyp_parallel_for(const polyp_parallel *par, void (*fn)(void *arg, size_t i), void *arg,
                        size_t n) {
    if (polyp_parallel_threads(par) > 1 && n > 1) {
        par->run(par->ctx, fn, arg, n);
        return;
    }
    for (size_t i = 0; i < n; i++) fn(arg, i);
}

bool polyp_strbuf_append(polyp_strbuf *b, const void *bytes, size_t n) {
    size_t need;
    if (!polyp_add_ok(b->len, n, &need) || !polyp_add_ok(need, 1, &need)) return false;
    if (need > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < need) {
            if (!polyp_mul_ok(ncap, 2, &ncap)) return false;
        }
        char *nd = realloc(b->data, ncap);
        if (!nd) return false;
        b->data = nd;
        b->cap = ncap;
    }
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool polyp_strbuf_append_str(polyp_strbuf *b, const char *s) { return polyp_strbuf_append(b, s, strlen(s)); }

bool polyp_strbuf_printf(polyp_strbuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n < sizeof small) return polyp_strbuf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return false;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bool ok = polyp_strbuf_append(b, big, (size_t)n);
    free(big);
    return ok;
}

void polyp_strbuf_free(polyp_strbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
