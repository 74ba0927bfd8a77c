/* pixel_pool.h - pixel buffers kept from photo to photo by `polyp extract` (pixel_pool.c). */
#ifndef POLYP_CLI_PIXEL_POOL_H
#define POLYP_CLI_PIXEL_POOL_H

#include "polyp.h"

#include <stddef.h>

/* Buffers kept at most, whatever `keep` is asked for. */
#define PIXEL_POOL_MAX_KEEP 16

typedef struct pixel_pool pixel_pool;

/* A pool that keeps up to `keep` buffers of finished photos for the next decodes. NULL when
 * out of memory (decodes then get fresh memory: nothing is lost but time). Thread-safe. */
pixel_pool *pixel_pool_new(size_t keep);
/* For polyp_decode_params.allocator; NULL for a NULL pool (fresh memory). */
const polyp_pixel_allocator *pixel_pool_allocator(pixel_pool *pp);
/* Frees the buffers kept and keeps none from now on: once the run's last decode has begun,
 * each buffer goes back as its photo is done. NULL is a no-op. */
void pixel_pool_stop_keeping(pixel_pool *pp);
/* Frees the pool and the buffers it keeps. Every image from it must be freed first. NULL is
 * a no-op. */
void pixel_pool_free(pixel_pool *pp);

#endif /* POLYP_CLI_PIXEL_POOL_H */
