/*
 * polyp.h - the whole public API of polyp, CoralNet 1.0's point-annotation engine.
 *
 * Conventions
 * - Every symbol starts with polyp_. Handles are opaque.
 * - Every call that can fail returns a polyp_status and, when `err` is not NULL, fills it
 *   with a one-line readable reason naming the bad input. The library never prints, exits
 *   or aborts on bad input.
 * - Ownership is stated on every pointer: "borrowed" means the library keeps no reference
 *   after the call returns; "kept" means it must outlive the object; "owned" means the
 *   caller releases it with the named _free function.
 * - Options come from polyp_<thing>_default_params(), adjusted by the caller.
 * - Memory first: everything loads from bytes; *_file variants are conveniences.
 */
#ifndef POLYP_H
#define POLYP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POLYP_VERSION_STRING "0.1.0"
#define POLYP_PATCH_SIZE 224     /* patch side in pixels */
#define POLYP_FEATURE_DIM 1280   /* EfficientNet-B0 pooled feature width */

/* ------------------------------------------------------------------------------------ */
/* Status and errors                                                                     */
/* ------------------------------------------------------------------------------------ */

typedef enum polyp_status {
    POLYP_OK = 0,
    POLYP_ERR_INVALID_ARG,  /* a NULL pointer, an out-of-range value, a point outside the image */
    POLYP_ERR_NOMEM,        /* allocation failed or a size would overflow */
    POLYP_ERR_IO,           /* a file could not be read or written */
    POLYP_ERR_FORMAT,       /* the bytes are not what they claim: corrupt or unsupported file */
    POLYP_ERR_UNSUPPORTED,  /* valid input this build cannot handle (backend not compiled...) */
    POLYP_ERR_LIMIT,        /* input exceeds a safety cap (image dimensions, header length) */
    POLYP_ERR_CANCELLED,    /* a progress callback asked to stop */
    POLYP_ERR_BACKEND,      /* a compute backend failed */
} polyp_status;

/* Caller-provided error record; pass NULL to ignore details. */
typedef struct polyp_error {
    polyp_status status;
    char message[512];
} polyp_error;

/* Static string for a status ("invalid argument", ...). Never NULL. */
const char *polyp_status_string(polyp_status status);

/* Releases a buffer the library allocated and handed to the caller (void ** outputs). */
void polyp_free(void *ptr);

/* Progress / cancellation: called with work done so far; return non-zero to cancel. */
typedef int (*polyp_progress_fn)(void *user, size_t done, size_t total);

/* Caller-owned parallelism. `run` must call fn(arg, i) once for every i in [0, n) and
 * return when all calls have finished; calls may run concurrently on up to n_threads
 * threads. NULL means "run on the calling thread". The native build provides one
 * (native/lib/threadpool.h); the browser build provides one over pthreads when available. */
typedef struct polyp_parallel {
    void *ctx;
    int n_threads;
    void (*run)(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n);
} polyp_parallel;

/* ------------------------------------------------------------------------------------ */
/* Images                                                                                */
/* ------------------------------------------------------------------------------------ */

/* Decoded 8-bit RGB image, row-major, pixels[(y*width + x)*3 + c]. Owned: polyp_image_free. */
typedef struct polyp_image {
    uint32_t width;
    uint32_t height;
    uint8_t *pixels;
    int truncated;   /* 1 when the file ended early and the rest was filled by the decoder */
} polyp_image;

typedef struct polyp_decode_params {
    uint64_t max_pixels;   /* refuse larger images before allocating (default 2^28) */
    uint32_t max_side;     /* refuse a larger width or height (default 65535: rows/cols are uint16) */
} polyp_decode_params;

polyp_decode_params polyp_decode_default_params(void);

/* Decodes JPEG (libjpeg-turbo, as Pillow does), PNG and the other stb_image formats to RGB.
 * Alpha is dropped (not composited), gray is replicated, 16-bit is reduced to 8-bit, EXIF
 * orientation is ignored. `data` is borrowed. `params` may be NULL for defaults. */
polyp_status polyp_image_decode(const void *data, size_t size, const polyp_decode_params *params,
                                polyp_image *out, polyp_error *err);
polyp_status polyp_image_load_file(const char *path, const polyp_decode_params *params,
                                   polyp_image *out, polyp_error *err);
void polyp_image_free(polyp_image *image);

/* A point: 0-based pixel row (y) and column (x) from the top-left. */
typedef struct polyp_point {
    uint32_t row;
    uint32_t col;
} polyp_point;

/* Crops the 224x224 patch centred on `point` (patch index (112,112)) from the image
 * reflect-padded by 224 px (numpy 'reflect'), scaled to [0,1]. `out` is caller memory of
 * 224*224*3 floats, HWC RGB: out[(y*224 + x)*3 + c]. A point outside the image is an error. */
polyp_status polyp_patch_crop(const polyp_image *image, polyp_point point, float *out,
                              polyp_error *err);

/* ------------------------------------------------------------------------------------ */
/* Network weights                                                                       */
/* ------------------------------------------------------------------------------------ */

typedef struct polyp_weights polyp_weights;

/* Parses and validates a safetensors file of EfficientNet-B0 (every tensor's name, dtype and
 * shape checked; the first bad one is named), folds batch norm into the convolutions. `data`
 * is borrowed: the weights keep their own copy. Owned: polyp_weights_free. */
polyp_status polyp_weights_load(const void *data, size_t size, polyp_weights **out,
                                polyp_error *err);
polyp_status polyp_weights_load_file(const char *path, polyp_weights **out, polyp_error *err);
void polyp_weights_free(polyp_weights *weights);

/* "lukemelas" (CoralNet's, TF-SAME padding, BN eps 1e-3) or "torchvision" (symmetric
 * padding, BN eps 1e-5), from the file's metadata. Static string, never NULL. */
const char *polyp_weights_variant(const polyp_weights *weights);

/* SHA-256 of the weights file, lowercase hex (64 chars + NUL): identifies the extractor
 * a classifier was trained for. */
const char *polyp_weights_sha256(const polyp_weights *weights);

/* The seeded, untrained test network as safetensors bytes: tensors drawn from a counter-based
 * PRNG that models/testnet.py shares, batch-norm running statistics from `bn_stats` (the
 * committed models/testnet-bnstats.safetensors, borrowed). *out is owned: polyp_free. */
polyp_status polyp_testnet_build(uint64_t seed, const void *bn_stats, size_t bn_stats_size,
                                 void **out, size_t *out_size, polyp_error *err);

/* ------------------------------------------------------------------------------------ */
/* Feature extraction                                                                    */
/* ------------------------------------------------------------------------------------ */

typedef enum polyp_backend {
    POLYP_BACKEND_AUTO = 0,   /* the fastest compiled in */
    POLYP_BACKEND_PORTABLE,   /* plain C11 (+SIMD where compiled): the reference */
    POLYP_BACKEND_XNNPACK,    /* native builds with XNNPACK */
    POLYP_BACKEND_CUDA,       /* native builds with -DPOLYP_CUDA=ON */
} polyp_backend;

typedef struct polyp_extractor_params {
    polyp_backend backend;
    size_t batch_size;               /* patches per network run (default 8) */
    int n_threads;                   /* threads for backends that own a pool (xnnpack); 0 = 1 */
    const polyp_parallel *parallel;  /* kept; NULL = calling thread (portable backend) */
    polyp_progress_fn progress;      /* optional: called after each batch with patches done */
    void *progress_user;
} polyp_extractor_params;

typedef struct polyp_extractor polyp_extractor;

polyp_extractor_params polyp_extractor_default_params(void);

/* Builds the network runtime once; reuse it for every image. `weights` is kept: it must
 * outlive the extractor. Owned: polyp_extractor_free. */
polyp_status polyp_extractor_init(const polyp_weights *weights, const polyp_extractor_params *params,
                                  polyp_extractor **out, polyp_error *err);
void polyp_extractor_free(polyp_extractor *extractor);

/* Name of the backend actually in use ("portable", "xnnpack", "cuda"). */
const char *polyp_extractor_backend_name(const polyp_extractor *extractor);

/* Features of n patches (n x 224x224x3 floats, HWC, borrowed) into features (n x 1280). */
polyp_status polyp_extract_patches(polyp_extractor *extractor, const float *patches, size_t n,
                                   float *features, polyp_error *err);

/* Crops and extracts every point of one image: features is n x 1280 floats, caller memory. */
polyp_status polyp_extract_points(polyp_extractor *extractor, const polyp_image *image,
                                  const polyp_point *points, size_t n, float *features,
                                  polyp_error *err);

/* ------------------------------------------------------------------------------------ */
/* Feature files (pyspacer's .featurevector: npz with meta, rows, cols, feat)            */
/* ------------------------------------------------------------------------------------ */

/* Features of one image. Owned: polyp_features_free (frees rows, cols and feat). */
typedef struct polyp_features {
    size_t npoints;
    size_t dim;
    int valid_rowcol;  /* 0 for legacy files without point locations (rows/cols NULL) */
    uint16_t *rows;    /* npoints */
    uint16_t *cols;    /* npoints */
    float *feat;       /* npoints x dim, row-major, in point order */
} polyp_features;

/* npz bytes as numpy.savez writes them (readable with numpy.load). *out owned: polyp_free. */
polyp_status polyp_features_write_npz(const polyp_features *features, void **out, size_t *out_size,
                                      polyp_error *err);
/* Reads stored or deflate-compressed npz (pyspacer writes savez_compressed). */
polyp_status polyp_features_read_npz(const void *data, size_t size, polyp_features *out,
                                     polyp_error *err);
void polyp_features_free(polyp_features *features);

/* ------------------------------------------------------------------------------------ */
/* Annotation CSV (CoralNet's import format)                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct polyp_annotation {
    const char *name;   /* image name (points into the owning polyp_annotations) */
    uint32_t row;
    uint32_t col;
    const char *label;  /* NULL when the row has no label */
} polyp_annotation;

typedef struct polyp_annotations {
    size_t count;
    polyp_annotation *items;  /* in file order */
    void *storage;            /* internal */
} polyp_annotations;

/* Required columns Name, Row, Column; label from "Label code" or legacy "Label"; headers
 * case-insensitive, whitespace and UTF-8 BOM stripped, any order, extra columns ignored.
 * Errors name the line. `data` is borrowed. Owned: polyp_annotations_free. */
polyp_status polyp_annotations_parse_csv(const void *data, size_t size, polyp_annotations *out,
                                         polyp_error *err);
void polyp_annotations_free(polyp_annotations *annotations);

/* ------------------------------------------------------------------------------------ */
/* Classifier (issue 3): training, calibration, scoring, evaluation, point generation    */
/* ------------------------------------------------------------------------------------ */

/* (declared by the classifier work; keep this section's additions below this line) */

#ifdef __cplusplus
}
#endif

#endif /* POLYP_H */
