/* cuda_plan.h - the CUDA backend's host-side arithmetic and checks: option parsing
 * (--precision, --devices), the device buffers of a batch, how points of many photos are cut
 * into batches, and the one-line "why no CUDA" messages. Plain C11, compiled into every
 * native build with or without CUDA, so all of it is unit-tested on machines without a GPU
 * (tests/unit/test_cuda_plan.c). Not part of the public API. */
#ifndef POLYP_CUDA_PLAN_H
#define POLYP_CUDA_PLAN_H

#include "cuda_net.h"
#include "internal.h"

#define POLYP_CUDA_MAX_DEVICES 64
#define POLYP_CUDA_MAX_BATCH 4096

/* "exact" or "fast" (exactly, lower case). false with a one-line message naming the value. */
bool polyp_cuda_parse_precision(const char *s, polyp_precision *out, char *msg, size_t msg_size);

/* "0", "0,1", "3,1": distinct device indices 0..POLYP_CUDA_MAX_DEVICES-1 separated by single
 * commas, at most `max` of them, written to out[0..*n). false with a one-line message
 * naming what is wrong (empty item, not a number, duplicate, too many). */
bool polyp_cuda_parse_devices(const char *s, int *out, size_t max, size_t *n, char *msg, size_t msg_size);

/* The device buffers of one batch (elements per patch, offsets, total bytes) and the spatial
 * sizes of every layer, from the block table and the padding rule (tf_same: lukemelas).
 * POLYP_ERR_INVALID_ARG / POLYP_ERR_LIMIT for a batch outside 1..POLYP_CUDA_MAX_BATCH or an
 * unknown precision. Weight offsets in the blocks are left 0 (the weight packer sets them). */
polyp_status polyp_cuda_layout_plan(size_t batch, polyp_precision precision, int tf_same, pcu_layout *out,
                                    polyp_error *err);

/* Bytes of device memory one patch costs at `precision` (what the layout takes per patch,
 * without alignment slack). */
size_t polyp_cuda_bytes_per_patch(polyp_precision precision);

/* POLYP_OK when the layout plus `weight_bytes` fits in `free_bytes`; else POLYP_ERR_LIMIT
 * with a message giving the need, what is free and the largest batch that would fit. */
polyp_status polyp_cuda_layout_fits(const pcu_layout *layout, size_t weight_bytes, size_t free_bytes, int device,
                                    polyp_error *err);

/* The one-line reason CUDA cannot run (reason from pcu_probe, or PCU_NOT_BUILT) as a
 * POLYP_ERR_UNSUPPORTED status; PCU_OK returns POLYP_OK and writes nothing. */
polyp_status polyp_cuda_unavailable(pcu_reason reason, int device, int count, const char *detail, polyp_error *err);

/* Points of several photos cut into batches of at most `batch` patches, in photo order
 * and point order; a batch may span photos (so a photo with 3 points does not cost a whole
 * batch) and a photo may span batches. Photos without points take no span. */
typedef struct polyp_cuda_span {
    size_t photo;   /* index into the photos given to polyp_cuda_plan_batches */
    size_t first;   /* first point of that photo in this span */
    size_t count;   /* points in this span (>= 1) */
} polyp_cuda_span;

typedef struct polyp_cuda_plan {
    polyp_cuda_span *spans;  /* owned; n_spans of them, batch by batch */
    size_t n_spans;
    size_t *batch_first;     /* owned; batch b is spans [batch_first[b], batch_first[b + 1]) */
    size_t n_batches;
} polyp_cuda_plan;

polyp_status polyp_cuda_plan_batches(const size_t *points_per_photo, size_t photos, size_t batch,
                                     polyp_cuda_plan *out, polyp_error *err);
void polyp_cuda_plan_free(polyp_cuda_plan *plan);

#endif /* POLYP_CUDA_PLAN_H */
