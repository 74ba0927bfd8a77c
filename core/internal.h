/* internal.h - helpers shared by the core's files; not part of the public API. */
#ifndef POLYP_INTERNAL_H
#define POLYP_INTERNAL_H

#include "polyp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define POLYP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define POLYP_PRINTF(a, b)
#endif

/* Records status and a formatted message in err (when not NULL); returns status so callers
 * can write `return polyp_fail(err, POLYP_ERR_FORMAT, "weights: tensor %s ...", name);`. */
polyp_status polyp_fail(polyp_error *err, polyp_status status, const char *fmt, ...) POLYP_PRINTF(3, 4);

/* Prefixes an existing message with context ("image.jpg: "), keeping the status. */
polyp_status polyp_fail_prefix(polyp_error *err, polyp_status status, const char *fmt, ...) POLYP_PRINTF(3, 4);

/* Overflow-checked size arithmetic: false when the result does not fit in size_t. */
static inline bool polyp_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}
static inline bool polyp_add_ok(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return false;
    *out = a + b;
    return true;
}

/* Two-pass arena layout: returns base + *used (NULL when base is NULL: the sizing pass) and
 * reserves n floats, rounded up to 16 so every block stays 64-byte aligned. */
static inline float *polyp_arena_take(float *base, size_t *used, size_t n) {
    float *p = base ? base + *used : NULL;
    *used += (n + 15) & ~(size_t)15;
    return p;
}

/* malloc/calloc that return NULL (never abort) and 64-byte aligned allocation for kernels. */
void *polyp_malloc(size_t size);
void *polyp_calloc(size_t n, size_t size);
void *polyp_aligned_alloc(size_t size);   /* free with polyp_aligned_free */
/* A malloc'ed copy of the NUL-terminated string s (free()), or NULL when memory runs out. */
char *polyp_strdup(const char *s);
void polyp_aligned_free(void *ptr);

/* Reads a whole file into a polyp_malloc'ed buffer (the only stdio file reading in core:
 * the *_file conveniences use it). */
polyp_status polyp_read_file(const char *path, void **out, size_t *out_size, polyp_error *err);

/* A whole file, read-only: mapped where the platform maps files (POSIX; the pages come
 * straight from the page cache, with no copy and no fresh memory to fault in: a one-point
 * extract's 16 MB of weights cost ~5 ms less than with polyp_read_file here, perf stat),
 * else read with polyp_read_file. For
 * files read once, whole, and let go at once (the weights): a mapped file that is cut short
 * while mapped would fault, so photos, which may still be arriving, are read instead. */
typedef struct polyp_file_view {
    const void *data;
    size_t size;
    bool mapped;
} polyp_file_view;

polyp_status polyp_file_view_open(const char *path, polyp_file_view *v, polyp_error *err);
void polyp_file_view_close(polyp_file_view *v); /* a zeroed view is a no-op */

/* Growable byte buffer, always NUL-terminated after a successful append: what every text
 * writer (CSV, JSON, safetensors headers) builds its output in. False when memory runs out
 * or a size would overflow. */
typedef struct polyp_strbuf {
    char *data;   /* owned: polyp_strbuf_free (or take it and polyp_free it) */
    size_t len;
    size_t cap;
} polyp_strbuf;

bool polyp_strbuf_append(polyp_strbuf *b, const void *bytes, size_t n);
bool polyp_strbuf_append_str(polyp_strbuf *b, const char *s);
bool polyp_strbuf_printf(polyp_strbuf *b, const char *fmt, ...) POLYP_PRINTF(2, 3);
void polyp_strbuf_free(polyp_strbuf *b);

/* polyp.h's thread rule in one place. The thread count of `par`: 1 for NULL, for a NULL
 * run or a count below 2; else par->n_threads. */
int polyp_parallel_threads(const polyp_parallel *par);
/* Fails (POLYP_ERR_INVALID_ARG, message prefixed by `who`) when `par` breaks the rule:
 * n_threads < 1, or n_threads > 1 without a run. NULL passes. */
polyp_status polyp_parallel_check(const polyp_parallel *par, const char *who, polyp_error *err);

/* Runs fn(arg, i) for i in [0, n) through par, or serially when par is NULL. */
void polyp_parallel_for(const polyp_parallel *par, void (*fn)(void *arg, size_t i), void *arg,
                        size_t n);

#endif /* POLYP_INTERNAL_H */
