/* pixel_pool.c - the pixel buffers of finished photos, kept for the next decodes of a run.
 *
 * Fresh memory for a decoded photo costs twice: the decoder's first touch of every page (a
 * page fault and a zeroed page each: ~20,000 for a 27-megapixel GoPro photo's 81 MB), and
 * giving the pages back when the photo is done. A bulk run decodes photo after photo of the
 * same few sizes, so a photo's buffer is kept and the next decode writes into it, already
 * faulted in. At most `keep` buffers are kept (the pipeline's queue: as many as photos in
 * flight); a kept buffer too small for the next photo grows (realloc: for a buffer in a
 * mapping of its own, glibc moves the pages, it copies nothing). Once every decode of the
 * run has begun, nothing is kept any more: the buffers go back as each photo is done, while
 * the other workers still run, instead of all at once after the last one. */
#define _POSIX_C_SOURCE 200809L
#include "pixel_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Each buffer starts with its capacity, HEADER bytes before the pixels. */
#define HEADER 64

struct pixel_pool {
    polyp_pixel_allocator allocator; /* first: its ctx is the pool */
    pthread_mutex_t lock;
    size_t keep;     /* buffers kept at most (<= PIXEL_POOL_MAX_KEEP); 0 once stopped */
    size_t nkept;
    void *kept[PIXEL_POOL_MAX_KEEP]; /* buffer bases */
};

static size_t capacity(const void *base) { return *(const size_t *)base; }

static void *pool_alloc(void *ctx, size_t size) {
    pixel_pool *pp = ctx;
    if (size > SIZE_MAX - HEADER) return NULL;
    void *base = NULL;
    pthread_mutex_lock(&pp->lock);
    /* The smallest kept buffer that holds the photo, else the largest (grown below). */
    size_t fit = pp->nkept, largest = pp->nkept;
    for (size_t i = 0; i < pp->nkept; i++) {
        size_t c = capacity(pp->kept[i]);
        if (c >= size && (fit == pp->nkept || c < capacity(pp->kept[fit]))) fit = i;
        if (largest == pp->nkept || c > capacity(pp->kept[largest])) largest = i;
    }
    size_t best = fit < pp->nkept ? fit : largest;
    if (best < pp->nkept) {
        base = pp->kept[best];
        pp->kept[best] = pp->kept[--pp->nkept];
    }
    pthread_mutex_unlock(&pp->lock);
    if (base && capacity(base) < size) {
        void *grown = realloc(base, HEADER + size);
        if (!grown) free(base);
        base = grown;
        if (base) *(size_t *)base = size;
    }
    if (!base) {
        base = malloc(HEADER + size);
        if (!base) return NULL;
        *(size_t *)base = size;
    }
    return (unsigned char *)base + HEADER;
}

static void pool_release(void *ctx, void *pixels) {
    pixel_pool *pp = ctx;
    void *base = (unsigned char *)pixels - HEADER;
    pthread_mutex_lock(&pp->lock);
    bool kept = pp->nkept < pp->keep;
    if (kept) pp->kept[pp->nkept++] = base;
    pthread_mutex_unlock(&pp->lock);
    if (!kept) free(base);
}

pixel_pool *pixel_pool_new(size_t keep) {
    pixel_pool *pp = calloc(1, sizeof *pp);
    if (!pp) return NULL;
    pp->keep = keep < PIXEL_POOL_MAX_KEEP ? keep : PIXEL_POOL_MAX_KEEP;
    pp->allocator.alloc = pool_alloc;
    pp->allocator.release = pool_release;
    pp->allocator.ctx = pp;
    pthread_mutex_init(&pp->lock, NULL);
    return pp;
}

const polyp_pixel_allocator *pixel_pool_allocator(pixel_pool *pp) { return pp ? &pp->allocator : NULL; }

void pixel_pool_stop_keeping(pixel_pool *pp) {
    if (!pp) return;
    void *bases[PIXEL_POOL_MAX_KEEP];
    pthread_mutex_lock(&pp->lock);
    size_t n = pp->nkept;
    for (size_t i = 0; i < n; i++) bases[i] = pp->kept[i];
    pp->nkept = 0;
    pp->keep = 0;
    pthread_mutex_unlock(&pp->lock);
    for (size_t i = 0; i < n; i++) free(bases[i]); /* outside the lock */
}

void pixel_pool_free(pixel_pool *pp) {
    if (!pp) return;
    for (size_t i = 0; i < pp->nkept; i++) free(pp->kept[i]);
    pthread_mutex_destroy(&pp->lock);
    free(pp);
}
