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
 * - Handles are made by polyp_<thing>_init (or _load, _train, _begin, _decode for what
 *   reads or computes its content) and released by polyp_<thing>_free; NULL is a no-op.
 *
 * Usage: one image's points to features, then train and score (checks of the returned
 * polyp_status left out; every call above returns one):
 *
 *   polyp_error err;
 *   polyp_threadpool *pool;                                  // optional: NULL = 1 thread
 *   polyp_threadpool_init(4, &pool, &err);
 *   const polyp_parallel *par = polyp_threadpool_parallel(pool);
 *
 *   polyp_weights *w;                                        // EfficientNet-B0 safetensors
 *   polyp_weights_load_file("efficientnet_b0.safetensors", &w, &err);
 *   polyp_extractor_params xp = polyp_extractor_default_params();
 *   xp.parallel = par;                                       // the threads of every backend
 *   polyp_extractor *ex;
 *   polyp_extractor_init(w, &xp, &ex, &err);
 *
 *   polyp_image img;
 *   polyp_image_load_file("reef.jpg", NULL, &img, &err);
 *   polyp_point pts[2] = {{.row = 100, .col = 200}, {.row = 300, .col = 400}};
 *   float feat[2 * POLYP_FEATURE_DIM];
 *   polyp_extract_points(ex, &img, pts, 2, feat, &err);
 *
 *   uint16_t rows[2] = {100, 300}, cols[2] = {200, 400};     // pyspacer's .featurevector
 *   polyp_features f = {.npoints = 2, .dim = POLYP_FEATURE_DIM, .valid_rowcol = 1,
 *                       .rows = rows, .cols = cols, .feat = feat};
 *   void *npz; size_t npz_size;
 *   polyp_features_write_npz(&f, &npz, &npz_size, &err);    // write npz out, polyp_free(npz)
 *
 *   polyp_dataset data = {.dim = POLYP_FEATURE_DIM, .n_images = n, .images = images};
 *   polyp_train_params tp = polyp_train_default_params();   // images: labels + features
 *   tp.extractor_id = polyp_weights_sha256(w);
 *   tp.parallel = par;
 *   polyp_classifier *clf;
 *   polyp_classifier_train(&data, &tp, &clf, NULL, &err);
 *   float *probs = malloc(2 * polyp_classifier_n_labels(clf) * sizeof *probs);
 *   polyp_classifier_predict(clf, feat, 2, POLYP_FEATURE_DIM, probs, par, &err);
 *
 *   free(probs); polyp_classifier_free(clf); polyp_free(npz); polyp_image_free(&img);
 *   polyp_extractor_free(ex); polyp_weights_free(w); polyp_threadpool_free(pool);
 */
#ifndef POLYP_H
#define POLYP_H

#include <stddef.h>
#include <stdint.h>

/* POLYP_API marks the exported functions. The library is compiled with hidden visibility,
 * so only these (all named polyp_) are visible from the shared library. Define POLYP_API
 * yourself before including this header to override (e.g. __declspec(dllimport)). */
#ifndef POLYP_API
#if defined(__GNUC__) || defined(__clang__)
#define POLYP_API __attribute__((visibility("default")))
#else
#define POLYP_API
#endif
#endif

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
POLYP_API const char *polyp_status_string(polyp_status status);

/* Releases a buffer the library allocated and handed to the caller (void ** outputs). */
POLYP_API void polyp_free(void *ptr);

/* Progress / cancellation: called with work done so far; return non-zero to cancel. */
typedef int (*polyp_progress_fn)(void *user, size_t done, size_t total);

/* Caller-owned parallelism. `run` must call fn(arg, i) once for every i in [0, n) and
 * return when all calls have finished; calls may run concurrently on up to n_threads
 * threads. polyp_threadpool below provides one; any other pool can be wrapped.
 *
 * The thread rule: a polyp_parallel is the only thread setting of every call that takes
 * one (extraction, training, prediction). NULL means one thread, the calling one. Otherwise
 * n_threads (>= 1, the calling thread included) is the thread count of every backend: the
 * portable backend and the classifier hand their work to `run`; XNNPACK, which brings its
 * own pool, starts n_threads threads of its own and never calls `run`. `run` may be NULL
 * only when n_threads is 1. */
typedef struct polyp_parallel {
    void *ctx;
    int n_threads;
    void (*run)(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n);
} polyp_parallel;

/* A pthread pool behind polyp_parallel, in the native library and the threaded wasm module
 * (the single-threaded wasm module has none). The calling thread takes part in every run,
 * so a pool of n threads starts n - 1 workers; indices are claimed from a shared counter,
 * so uneven items balance themselves. A run started while another is in progress (from
 * another thread, or from inside fn) runs serially on its calling thread instead of
 * deadlocking. After a job, threads poll briefly for the next one before they sleep (a
 * network runs as many short jobs back to back and a wake-up costs tens of microseconds,
 * more in wasm); an idle pool sleeps. */
#define POLYP_THREADPOOL_MAX_THREADS 256

typedef struct polyp_threadpool polyp_threadpool;

/* n_threads in [1, POLYP_THREADPOOL_MAX_THREADS], counting the calling thread (1 = no
 * workers: runs are serial). Owned: polyp_threadpool_free. */
POLYP_API polyp_status polyp_threadpool_init(int n_threads, polyp_threadpool **out, polyp_error *err);
/* The pool as a polyp_parallel, kept by the pool (valid until _free). */
POLYP_API const polyp_parallel *polyp_threadpool_parallel(const polyp_threadpool *pool);
/* Threads of the pool (the caller's included). */
POLYP_API int polyp_threadpool_size(const polyp_threadpool *pool);
/* Threads running now (the caller's included). Native threads start at once; in wasm a
 * pthread starts only after the creating worker yields to its event loop, so JS waits for
 * this to reach _size before the first job, or that job runs on one thread. */
POLYP_API int polyp_threadpool_running(const polyp_threadpool *pool);
/* Joins the workers. The pool must be idle. NULL is a no-op. */
POLYP_API void polyp_threadpool_free(polyp_threadpool *pool);

/* ------------------------------------------------------------------------------------ */
/* Images                                                                                */
/* ------------------------------------------------------------------------------------ */

/* Where a decode puts its pixels, for a caller that decodes photo after photo (polyp extract
 * keeps the buffers of finished photos for the next ones: fresh memory for a 27-megapixel
 * photo's 81 MB is ~20,000 page faults to touch and as much work again to give back).
 * alloc returns at least `size` bytes, whose contents need not be zero, or NULL when out of
 * memory; release takes back what alloc returned. Both are called on the thread that decodes
 * or frees the image. */
typedef struct polyp_pixel_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *pixels);
    void *ctx;
} polyp_pixel_allocator;

/* Decoded 8-bit RGB image, row-major, pixels[(y*width + x)*3 + c]. Owned: polyp_image_free.
 * pixels always holds the whole width x height; after a decode asked for a band of rows
 * (polyp_decode_params.row_begin/row_end) only rows [row_begin, row_end) were decoded and
 * the others are zero (not written at all when the pixels came from a
 * polyp_pixel_allocator). row_begin = row_end = 0 (an image built by hand) means every row is
 * valid; a full decode sets 0 and height. polyp_patch_crop refuses a patch that would read a
 * row outside the band. */
typedef struct polyp_image {
    uint32_t width;
    uint32_t height;
    uint8_t *pixels;
    int truncated;   /* 1 when the file ended early and the rest was filled by the decoder
                        (after a band decode: early within the rows decoded) */
    uint32_t row_begin; /* first decoded row */
    uint32_t row_end;   /* one past the last decoded row */
    const polyp_pixel_allocator *allocator; /* where polyp_image_free gives the pixels back;
                                               NULL: free() */
} polyp_image;

typedef struct polyp_decode_params {
    uint64_t max_pixels;   /* refuse larger images before allocating (default 2^28) */
    uint32_t max_side;     /* refuse a larger width or height (default 65535: rows/cols are uint16) */
    /* The rows the caller will read, [row_begin, row_end) (polyp_patch_rows computes them for
     * a photo's points); 0/0 (the default) = all. JPEG skips the others (libjpeg-turbo's
     * jpeg_skip_scanlines, and stops after row_end): the rows inside the band are the same
     * bytes as a full decode's. row_end past the image is clipped to its height. Other
     * formats decode every row. A band with row_end <= row_begin (other than 0/0) is refused. */
    uint32_t row_begin;
    uint32_t row_end;
    /* NULL (the default): fresh memory, zeroed. Else the pixels come from it (and go back to
     * it on polyp_image_free), and the rows outside the band are left as they were. Only the
     * JPEG decoder of libjpeg-turbo builds (every photo polyp extract sees from a camera)
     * uses it; the other formats allocate their own. Borrowed: it must outlive the image. */
    const polyp_pixel_allocator *allocator;
} polyp_decode_params;

POLYP_API polyp_decode_params polyp_decode_default_params(void);

/* Decodes JPEG (libjpeg-turbo, as Pillow does), PNG and the other stb_image formats to RGB.
 * Alpha is dropped (not composited), gray is replicated, 16-bit is reduced to 8-bit, EXIF
 * orientation is ignored. `data` is borrowed. `params` may be NULL for defaults. */
POLYP_API polyp_status polyp_image_decode(const void *data, size_t size, const polyp_decode_params *params,
                                          polyp_image *out, polyp_error *err);
POLYP_API polyp_status polyp_image_load_file(const char *path, const polyp_decode_params *params,
                                             polyp_image *out, polyp_error *err);
POLYP_API void polyp_image_free(polyp_image *image);

/* A point: 0-based pixel row (y) and column (x) from the top-left. */
typedef struct polyp_point {
    uint32_t row;
    uint32_t col;
} polyp_point;

/* Crops the 224x224 patch centred on `point` (patch index (112,112)) from the image
 * reflect-padded by 224 px (numpy 'reflect'), scaled to [0,1]. `out` is caller memory of
 * 224*224*3 floats, HWC RGB: out[(y*224 + x)*3 + c]. A point outside the image is an error. */
POLYP_API polyp_status polyp_patch_crop(const polyp_image *image, polyp_point point, float *out,
                                        polyp_error *err);

/* The rows [*row_begin, *row_end) that polyp_patch_crop reads for these points, reflect
 * padding included (a patch near the top or bottom edge mirrors rows inside the image), for a
 * polyp_decode_params band. `height` is the image's height, or 0 when it is not known yet
 * (before the decode): the band is then the one of an image tall enough for every patch,
 * which the decoder clips to the real height; it still covers every row any patch reads
 * (reflected rows stay inside [row - 112, row + 112], the top edge's up to row 112). With a
 * known height a point on row >= height is an error. No points: 0/0 (decode everything). */
POLYP_API polyp_status polyp_patch_rows(const polyp_point *points, size_t npoints, uint32_t height,
                                        uint32_t *row_begin, uint32_t *row_end, polyp_error *err);

/* ------------------------------------------------------------------------------------ */
/* Network weights                                                                       */
/* ------------------------------------------------------------------------------------ */

typedef struct polyp_weights polyp_weights;

/* Parses and validates network weights; the format is detected from the bytes:
 * - safetensors: EfficientNet-B0 in the canonical (lukemelas) tensor names, as
 *   models/convert.py and `polyp testnet` write it (variant from its metadata);
 * - PyTorch checkpoints, both torch.save formats (zip, starting "PK\3\4", and the legacy
 *   pickle stream): CoralNet's {'net': state_dict} with `module.` names, a lukemelas
 *   state_dict (bare or under 'state_dict' / 'model' / 'model_state_dict'), torchvision's
 *   efficientnet_b0 state_dict. Read by a restricted unpickler that knows only the opcodes and
 *   globals a state_dict needs and never runs code; anything else is refused, naming it;
 * - TFLite flatbuffers ("TFL3" at byte 4): uint8-quantized MobileNet v1 / v2 (such as
 *   mobilenet_v1_1.0_224_quant_embedding_extractor.tflite), read by a strict flatbuffer
 *   reader and run as a float network from the dequantized weights (core/tflite_net.h);
 *   unsupported ops, types and shapes are refused, naming the op or tensor.
 * Every tensor's name, dtype and shape is checked (the first bad one is named); batch norm is
 * folded into the convolutions. `data` is borrowed: the weights keep their own copy.
 * Owned: polyp_weights_free. */
POLYP_API polyp_status polyp_weights_load(const void *data, size_t size, polyp_weights **out,
                                          polyp_error *err);
POLYP_API polyp_status polyp_weights_load_file(const char *path, polyp_weights **out, polyp_error *err);
POLYP_API void polyp_weights_free(polyp_weights *weights);

/* The network the weights hold, one of POLYP_EXTRACTOR_KINDS ("tflite": a TFLite graph of
 * the supported ops whose tensor names are not MobileNet v1's or v2's). Static string,
 * never NULL. */
#define POLYP_EXTRACTOR_KINDS "efficientnet_b0, mobilenet_v1, mobilenet_v2, tflite"
POLYP_API const char *polyp_weights_kind(const polyp_weights *weights);

/* Width of the features this network gives (EfficientNet-B0: POLYP_FEATURE_DIM = 1280;
 * MobileNet v1: 1024, v2: 1280). 0 for NULL. */
POLYP_API size_t polyp_weights_feature_dim(const polyp_weights *weights);

/* "lukemelas" (CoralNet's, TF-SAME padding, BN eps 1e-3) or "torchvision" (symmetric
 * padding, BN eps 1e-5) for EfficientNet-B0, from the file's metadata or tensor names;
 * "tflite" for TFLite files. Static string, never NULL. */
POLYP_API const char *polyp_weights_variant(const polyp_weights *weights);

/* SHA-256 (lowercase hex, 64 chars + NUL) of the file the network was published as, so the
 * same network counts as one extractor whichever way it was loaded:
 * - a PyTorch checkpoint read directly: the checkpoint's own bytes;
 * - a safetensors file made by models/convert.py: the `source_sha256` it records, i.e. the
 *   same checkpoint's bytes (CoralNet's efficientnet_b0_ver1.pt keeps its pinned sha256
 *   either way, and both paths give the same features bit for bit);
 * - any other file (the test network, TFLite): the file's own bytes. */
POLYP_API const char *polyp_weights_sha256(const polyp_weights *weights);

/* The extractor identity recorded with features and models:
 * "<kind>:<sha256>:<feature dim>", e.g. "efficientnet_b0:3f2a...e9:1280" (at most
 * POLYP_EXTRACTOR_ID_MAX - 1 chars). Features and classifiers with different ids are not
 * interchangeable. Kept by the weights, never NULL ("" for NULL). */
#define POLYP_EXTRACTOR_ID_MAX 128
POLYP_API const char *polyp_weights_extractor_id(const polyp_weights *weights);

/* The seeded, untrained test network as safetensors bytes: tensors drawn from a counter-based
 * PRNG that models/testnet.py shares, batch-norm running statistics from `bn_stats` (the
 * committed models/testnet-bnstats.safetensors, borrowed). *out is owned: polyp_free. */
POLYP_API polyp_status polyp_testnet_build(uint64_t seed, const void *bn_stats, size_t bn_stats_size,
                                           void **out, size_t *out_size, polyp_error *err);

/* ------------------------------------------------------------------------------------ */
/* Feature extraction                                                                    */
/* ------------------------------------------------------------------------------------ */

typedef enum polyp_backend {
    POLYP_BACKEND_AUTO = 0,   /* CUDA when compiled in and device `device` is usable, else
                                 the fastest CPU backend:
                                 portable with AVX2/AVX-512 kernels, else XNNPACK, else
                                 portable. No device (CI) falls back silently. */
    POLYP_BACKEND_PORTABLE,   /* plain C11 (+SIMD where compiled): the reference */
    POLYP_BACKEND_XNNPACK,    /* native builds with XNNPACK */
    POLYP_BACKEND_CUDA,       /* native builds with -DPOLYP_CUDA (an NVIDIA GPU, sm_90) */
} polyp_backend;

/* Arithmetic of the CUDA backend (the CPU backends are always exact). */
typedef enum polyp_precision {
    POLYP_PRECISION_EXACT = 0, /* FP32 everywhere, no TF32: meant to stay within 1e-4 of PyTorch
                                  FP32 like the CPU backends (not yet run on a GPU) */
    POLYP_PRECISION_FAST,      /* fp16 activations and GEMM weights, fp32 accumulation */
} polyp_precision;

typedef struct polyp_extractor_params {
    polyp_backend backend;
    size_t batch_size;               /* patches per network run (default 8) */
    const polyp_parallel *parallel;  /* kept; the threads of every backend (the thread rule
                                        above); NULL = the calling thread only */
    const char *kernels;             /* portable backend's kernel table: NULL or "auto" = the best
                                        this CPU runs; "scalar", "v128" (SSE2/NEON/wasm SIMD128),
                                        "avx2", "avx512". Borrowed during init only. */
    polyp_progress_fn progress;      /* optional: called after each batch with patches done */
    void *progress_user;
    int device;                      /* CUDA backend: the device index (default 0) */
    polyp_precision precision;       /* CUDA backend: exact (default) or fast (AUTO too, when it
                                        picks CUDA); the CPU backends are always exact */
} polyp_extractor_params;

typedef struct polyp_extractor polyp_extractor;

POLYP_API polyp_extractor_params polyp_extractor_default_params(void);

/* Builds the network runtime once; reuse it for every image. `weights` is kept: it must
 * outlive the extractor. Owned: polyp_extractor_free. Extractors on the same weights share
 * one copy of the portable backend's packed weights (~20 MB for B0), built by the first and
 * kept by the weights until polyp_weights_free; each adds only its activations (~10 MB per
 * thread). Extractors may be made and used on different threads at once. */
POLYP_API polyp_status polyp_extractor_init(const polyp_weights *weights, const polyp_extractor_params *params,
                                            polyp_extractor **out, polyp_error *err);
POLYP_API void polyp_extractor_free(polyp_extractor *extractor);

/* Name of the backend actually in use ("portable", "xnnpack", "cuda"). */
POLYP_API const char *polyp_extractor_backend_name(const polyp_extractor *extractor);

/* Features of n patches (n x 224x224x3 floats, HWC, borrowed) into features (n x dim, dim =
 * polyp_weights_feature_dim of the extractor's weights). */
POLYP_API polyp_status polyp_extract_patches(polyp_extractor *extractor, const float *patches, size_t n,
                                             float *features, polyp_error *err);

/* Crops and extracts every point of one image: features is n x dim floats, caller memory. */
POLYP_API polyp_status polyp_extract_points(polyp_extractor *extractor, const polyp_image *image,
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
    char *extractor;   /* the extractor record, "<extractor id>[ key=value...]" (polyp extract
                          writes "<polyp_weights_extractor_id> variant=<variant>"), printable
                          ASCII; NULL when unknown (pyspacer's files have none) */
} polyp_features;

/* npz bytes as numpy.savez writes them (readable with numpy.load). A non-NULL extractor
 * record is stored as a fifth member, extractor.npy (a 0-d numpy unicode string, which
 * numpy.load reads without pickle and pyspacer ignores). *out owned: polyp_free. */
POLYP_API polyp_status polyp_features_write_npz(const polyp_features *features, void **out, size_t *out_size,
                                                polyp_error *err);
/* Reads stored or deflate-compressed npz (pyspacer writes savez_compressed), with the
 * extractor record when the file has one. */
POLYP_API polyp_status polyp_features_read_npz(const void *data, size_t size, polyp_features *out,
                                               polyp_error *err);
POLYP_API void polyp_features_free(polyp_features *features);  /* rows, cols, feat, extractor */

/* ------------------------------------------------------------------------------------ */
/* Annotation CSV (CoralNet's import format)                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct polyp_annotation {
    const char *name;   /* image name (points into the owning polyp_annotations) */
    uint32_t row;
    uint32_t col;
    const char *label;  /* NULL when the row has no label */
    const char *suggestion;  /* "Machine suggestion 1" of a CoralNet export, or NULL */
} polyp_annotation;

typedef struct polyp_annotations {
    size_t count;
    polyp_annotation *items;  /* in file order */
    void *storage;            /* internal */
} polyp_annotations;

/* Required columns Name, Row, Column; label from "Label code" or legacy "Label"; optional
 * "Machine suggestion 1" (CoralNet's export, `polyp classify`'s output); headers
 * case-insensitive, whitespace and UTF-8 BOM stripped, any order, extra columns ignored.
 * Errors name the line. `data` is borrowed. Owned: polyp_annotations_free. */
POLYP_API polyp_status polyp_annotations_parse_csv(const void *data, size_t size, polyp_annotations *out,
                                                   polyp_error *err);
POLYP_API void polyp_annotations_free(polyp_annotations *annotations);

/* ------------------------------------------------------------------------------------ */
/* Classifier (issue 3): training, calibration, scoring, evaluation, point generation    */
/* ------------------------------------------------------------------------------------ */

/* (declared by the classifier work; keep this section's additions below this line) */

/* Which classifier: CoralNet's MLP, or its calibrated logistic-regression baseline. */
typedef enum polyp_classifier_kind {
    POLYP_CLASSIFIER_MLP = 0,  /* scikit-learn MLPClassifier semantics (Adam, ReLU, softmax) */
    POLYP_CLASSIFIER_LR = 1,   /* SGDClassifier(loss='log_loss', average=True), one-vs-rest */
} polyp_classifier_kind;

/* Called after each epoch with the reference-set accuracy (uncalibrated, as pyspacer
 * records it). Return non-zero to cancel: training then fails with POLYP_ERR_CANCELLED. */
typedef int (*polyp_epoch_fn)(void *user, size_t epoch, size_t n_epochs, double ref_accuracy);

typedef struct polyp_train_params {
    polyp_classifier_kind kind;      /* default MLP */
    uint64_t seed;                   /* weight init and every shuffle (default 0): same seed,
                                        same data -> the same model, whatever the threads */
    size_t epochs;                   /* default 10 */
    size_t chunk_points;             /* points per partial_fit chunk (default 5000) */
    size_t ref_max_points;           /* reference set cap (default 5000) */
    const char *extractor_id;        /* borrowed, copied into the model: the features'
                                        extractor id (polyp_weights_extractor_id) or "unknown"
                                        (NULL = "unknown") */
    const polyp_parallel *parallel;  /* borrowed for the call; NULL = calling thread */
    polyp_epoch_fn on_epoch;         /* optional */
    void *on_epoch_user;
} polyp_train_params;

POLYP_API polyp_train_params polyp_train_default_params(void);

/* A labelled source: images in a stable order (the order fixes the splits). */
typedef struct polyp_dataset_image {
    size_t npoints;
    const char *const *labels;  /* npoints label codes, borrowed; a NULL entry is an
                                   unlabelled point, ignored by training and evaluation */
    const float *feat;          /* npoints x dim, row-major, borrowed; NULL when the
                                   dataset's load callback provides the features */
} polyp_dataset_image;

typedef struct polyp_dataset {
    size_t dim;                          /* feature width of every image */
    size_t n_images;
    const polyp_dataset_image *images;   /* borrowed, n_images, in stable order */
    /* Optional streaming: when images[i].feat is NULL, load(user, i, &feat, err) supplies
     * npoints x dim floats that stay valid until release(user, i, feat). Training holds
     * at most one chunk's images plus the reference set, so memory is bounded by the
     * chunked schedule, not by the source size. */
    polyp_status (*load)(void *user, size_t image, const float **feat, polyp_error *err);
    void (*release)(void *user, size_t image, const float *feat);
    void *user;
} polyp_dataset;

/* CoralNet's split roles. */
typedef enum polyp_split_role {
    POLYP_SPLIT_TRAIN = 0,
    POLYP_SPLIT_REFERENCE = 1,
    POLYP_SPLIT_VALIDATION = 2,
} polyp_split_role;

/* Splits images as CoralNet does. Image i (0-based, stable order) with i % 8 == 0 is
 * validation. The others, counted j = 0, 1, ... in order: j % 10 == 0 joins the reference
 * set when the reference set then holds at most ref_max_points labelled points; otherwise
 * (and for every other j) the image trains. labelled[i] = labelled points of image i
 * (borrowed). roles: caller memory, n_images bytes (polyp_split_role values). */
POLYP_API polyp_status polyp_split_images(const size_t *labelled, size_t n_images, size_t ref_max_points,
                                          uint8_t *roles, polyp_error *err);

/* The label sets of a split dataset. Owned: polyp_split_free. */
typedef struct polyp_split {
    uint8_t *roles;          /* n_images polyp_split_role values */
    size_t n_images;
    size_t n_classes;        /* labels present in both train and reference, sorted (strcmp) */
    char **classes;
    size_t n_dropped;        /* labels seen anywhere but not in both train and reference */
    char **dropped;          /* sorted */
    size_t points[3];        /* kept labelled points per role (train, reference, validation) */
    size_t images[3];        /* images per role */
} polyp_split;

/* Splits `data` (only npoints and labels are read) and works out the kept classes.
 * Fails with a message when no label, or a single label, is present in both train and
 * reference, or when a role ends up without points. */
POLYP_API polyp_status polyp_split_dataset(const polyp_dataset *data, size_t ref_max_points,
                                           polyp_split *out, polyp_error *err);
POLYP_API void polyp_split_free(polyp_split *split);

typedef struct polyp_classifier polyp_classifier;

/* What training did. */
typedef struct polyp_train_report {
    size_t n_classes;
    size_t points[3];             /* train, reference, validation points used */
    size_t images[3];
    size_t hidden[2];             /* MLP hidden sizes (0 = absent) */
    double learning_rate;
    size_t epochs_done;
    double ref_accuracy_last;     /* reference accuracy after the last epoch (uncalibrated) */
    double val_accuracy;          /* calibrated classifier on the validation set */
} polyp_train_report;

/* Splits `data`, trains with pyspacer's schedule (every epoch: image order of the train
 * split shuffled with a seed derived from the epoch, points streamed in chunk_points
 * chunks, one partial_fit pass each), calibrates on the reference set, measures the
 * validation accuracy. `data` and `params` are borrowed; `report` may be NULL.
 * *out owned: polyp_classifier_free. */
POLYP_API polyp_status polyp_classifier_train(const polyp_dataset *data, const polyp_train_params *params,
                                              polyp_classifier **out, polyp_train_report *report,
                                              polyp_error *err);
POLYP_API void polyp_classifier_free(polyp_classifier *clf);

/* The same training one step at a time, for callers that must get control back between
 * epochs (the browser worker yields to its event loop there so a cancel can arrive).
 * polyp_classifier_train is exactly begin + step until done + finish: same model, bit for
 * bit, same errors.
 *
 *   polyp_train_session *s;
 *   polyp_train_session_begin(&data, &params, &s, &err);      split, buffers, init weights
 *   int done = 0;
 *   while (!done) polyp_train_session_step(s, &done, &err);   one epoch (on_epoch called
 *                                                             after it), then one last step
 *                                                             that calibrates and validates
 *   polyp_train_session_finish(s, &clf, &report, &err);
 *   polyp_train_session_free(s);
 *
 * Cancelling is freeing: polyp_train_session_free releases everything at any point. */
typedef struct polyp_train_session polyp_train_session;

/* Validates the parameters and data as polyp_classifier_train does, splits, allocates and
 * initialises the weights. `data` and what it points to are borrowed and must stay valid
 * and unchanged until polyp_train_session_free; `params` is copied (params->extractor_id
 * is copied into the model here; params->parallel and on_epoch_user stay borrowed until
 * _free). *out owned: polyp_train_session_free. */
POLYP_API polyp_status polyp_train_session_begin(const polyp_dataset *data, const polyp_train_params *params,
                                                 polyp_train_session **out, polyp_error *err);
/* Runs the next step: an epoch while epochs remain (then on_epoch, whose non-zero return
 * fails the step with POLYP_ERR_CANCELLED), else calibration and the validation pass.
 * *done = 1 once the classifier is ready for _finish. After a failed step only _free is
 * left (further calls fail with POLYP_ERR_INVALID_ARG). */
POLYP_API polyp_status polyp_train_session_step(polyp_train_session *s, int *done, polyp_error *err);
/* Epochs run so far and epochs requested (either pointer may be NULL). */
POLYP_API void polyp_train_session_progress(const polyp_train_session *s, size_t *epochs_done,
                                            size_t *epochs);
/* Hands out the trained classifier (only once *done was 1); `report` may be NULL.
 * *out owned: polyp_classifier_free; the session still needs polyp_train_session_free. */
POLYP_API polyp_status polyp_train_session_finish(polyp_train_session *s, polyp_classifier **out,
                                                  polyp_train_report *report, polyp_error *err);
POLYP_API void polyp_train_session_free(polyp_train_session *s);

/* Labels in class order (sorted), pointers kept by the classifier (valid until _free). */
POLYP_API size_t polyp_classifier_n_labels(const polyp_classifier *clf);
POLYP_API const char *polyp_classifier_label(const polyp_classifier *clf, size_t i); /* NULL if out of range */
POLYP_API size_t polyp_classifier_feature_dim(const polyp_classifier *clf);
POLYP_API polyp_classifier_kind polyp_classifier_get_kind(const polyp_classifier *clf);
POLYP_API const char *polyp_classifier_extractor_id(const polyp_classifier *clf); /* kept, never NULL */
/* Reference accuracy after each epoch; *n = epochs. Kept by the classifier. */
POLYP_API const double *polyp_classifier_ref_accuracy(const polyp_classifier *clf, size_t *n);
POLYP_API double polyp_classifier_val_accuracy(const polyp_classifier *clf);

/* Calibrated probabilities of every label (class order) for n points: feat is n x dim
 * (borrowed), probs is caller memory of n x n_labels; rows sum to 1. `parallel` may be
 * NULL. */
POLYP_API polyp_status polyp_classifier_predict(const polyp_classifier *clf, const float *feat, size_t n,
                                                size_t dim, float *probs, const polyp_parallel *parallel,
                                                polyp_error *err);

/* Serialises to a safetensors model file (self-describing: format version, kind, labels in
 * order, hidden sizes, feature dim, extractor id, calibration). *out owned: polyp_free. */
POLYP_API polyp_status polyp_classifier_save(const polyp_classifier *clf, void **out, size_t *out_size,
                                             polyp_error *err);
/* Loads and validates a model file (`data` borrowed). Owned: polyp_classifier_free. */
POLYP_API polyp_status polyp_classifier_load(const void *data, size_t size, polyp_classifier **out,
                                             polyp_error *err);
POLYP_API polyp_status polyp_classifier_load_file(const char *path, polyp_classifier **out,
                                                  polyp_error *err);
/* Fails clearly when features of width `dim` from extractor `extractor_id` cannot be scored
 * by this model: a different width, or both extractors known and different. extractor_id is
 * an id ("<kind>:<sha256>:<dim>") or a feature file's record (its id ends at the first
 * space); NULL or "unknown" = not known, accepted (pyspacer's files). A bare sha256 (models
 * trained before ids had a kind) matches the id that holds it. */
POLYP_API polyp_status polyp_classifier_check_features(const polyp_classifier *clf, size_t dim,
                                                       const char *extractor_id, polyp_error *err);

/* Acceptance rule: 1 when a new classifier with accuracy new_acc replaces one whose
 * accuracy on the same validation set is prev_acc (new_acc >= 1.01 * prev_acc). */
POLYP_API int polyp_classifier_accept(double new_acc, double prev_acc);

/* CoralNet's retraining schedule: 1 when a source with n_annotated annotated images should
 * train now, given n_last annotated images at its last training (0 = never trained): first
 * at 20 images, then whenever n_annotated >= 1.1 x n_last. */
POLYP_API int polyp_classifier_should_train(size_t n_annotated, size_t n_last);

/* Evaluation of scored points against true labels. Owned: polyp_evaluation_free. */
typedef struct polyp_label_metrics {
    double precision, recall, f1;  /* 0 when undefined (scikit-learn's zero_division=0) */
    size_t support;                /* true points of this label */
} polyp_label_metrics;

#define POLYP_ALLEVIATE_STEPS 101  /* thresholds 0..100 percent */

typedef struct polyp_evaluation {
    size_t n_points;
    size_t n_labels;            /* the union of the model's labels and the true labels */
    char **labels;              /* sorted */
    double accuracy;
    double macro_f1;            /* over labels with support or predictions (scikit-learn) */
    polyp_label_metrics *per_label;  /* n_labels */
    size_t *confusion;          /* n_labels x n_labels: [true * n_labels + predicted] */
    /* Alleviate: for threshold t (integer percent), points whose top confidence (rounded
     * integer percent) >= t: their accuracy (-1 when none) and their fraction of all. */
    double alleviate_accuracy[POLYP_ALLEVIATE_STEPS];
    double alleviate_fraction[POLYP_ALLEVIATE_STEPS];
} polyp_evaluation;

/* Evaluates `n` points: probs n x n_labels of `clf` (class order), true labels borrowed
 * (NULL entries are skipped). */
POLYP_API polyp_status polyp_evaluate(const polyp_classifier *clf, const float *probs,
                                      const char *const *truth, size_t n, polyp_evaluation *out,
                                      polyp_error *err);
POLYP_API void polyp_evaluation_free(polyp_evaluation *ev);

/* CoralNet's integer percent of a probability (round half up). */
POLYP_API int polyp_score_percent(float p);

/* CoralNet export CSV: Name,Row,Column,Label code[,Machine suggestion n,Machine confidence
 * n for n = 1..top] and, with all_scores, one column per label (its integer percent). */
typedef struct polyp_export_row {
    const char *name;        /* borrowed */
    uint32_t row, col;
    const char *label;       /* "Label code" (NULL = blank) */
    const float *probs;      /* n_labels probabilities (NULL = no machine suggestions) */
} polyp_export_row;

typedef struct polyp_export_params {
    size_t top;              /* machine suggestions (default 5; 0 = none) */
    int all_scores;          /* 1: one extra column per label */
} polyp_export_params;

POLYP_API polyp_export_params polyp_export_default_params(void);

/* labels: n_labels borrowed strings (class order). *out owned: polyp_free. */
POLYP_API polyp_status polyp_export_csv(const polyp_export_row *rows, size_t n_rows,
                                        const char *const *labels, size_t n_labels,
                                        const polyp_export_params *params, void **out, size_t *out_size,
                                        polyp_error *err);

/* CoralNet's point generation inside an annotation area (inclusive pixel bounds). */
typedef enum polyp_points_method {
    POLYP_POINTS_RANDOM = 0,      /* n uniform integer points (default 30) */
    POLYP_POINTS_STRATIFIED = 1,  /* cell_rows x cell_cols cells, per_cell random points each */
    POLYP_POINTS_GRID = 2,        /* one point at each cell's integer centre */
} polyp_points_method;

typedef struct polyp_points_params {
    polyp_points_method method;
    size_t n;                     /* random */
    size_t cell_rows, cell_cols;  /* stratified, grid */
    size_t per_cell;              /* stratified */
    uint32_t min_row, max_row;    /* inclusive area; cell r spans rows
                                     [r*H/R + min_row, (r+1)*H/R + min_row - 1], H = max-min+1 */
    uint32_t min_col, max_col;
    uint64_t seed;
} polyp_points_params;

POLYP_API polyp_points_params polyp_points_default_params(uint32_t width, uint32_t height);

/* *out owned: polyp_free (n_out points, in generation order: cells row-major). */
POLYP_API polyp_status polyp_points_generate(const polyp_points_params *params, polyp_point **out,
                                             size_t *n_out, polyp_error *err);

/* Percent cover: each label's share of an image's labelled points (CoralNet's image covers),
 * per image and over all images. Owned: polyp_cover_free. */
typedef struct polyp_cover {
    size_t n_images;
    char **images;              /* image names in first-seen order */
    size_t n_labels;
    char **labels;              /* label codes, sorted (strcmp) */
    size_t *points;             /* n_images: labelled points of each image (the denominator) */
    size_t *machine;            /* n_images: of those, labelled by a machine suggestion */
    size_t *unlabelled;         /* n_images: points without a label (not counted) */
    double *percent;            /* n_images x n_labels, [image * n_labels + label], 0..100 */
    size_t n_images_labelled;   /* images with at least one labelled point */
    double *mean;               /* n_labels: mean percent over the images with labelled points */
    double *se;                 /* n_labels: standard error of that mean (sample sd / sqrt(m));
                                   0 when fewer than two such images */
} polyp_cover;

/* Groups n points by image name (borrowed, non-empty) and counts their labels (borrowed;
 * NULL or "" = unlabelled). `confirmed` (n flags, borrowed, may be NULL = all confirmed)
 * says which labels a person confirmed and which are machine suggestions. */
POLYP_API polyp_status polyp_cover_compute(const char *const *names, const char *const *labels,
                                           const uint8_t *confirmed, size_t n, polyp_cover *out,
                                           polyp_error *err);
POLYP_API void polyp_cover_free(polyp_cover *cover);

/* CoralNet's annotation status of image i: "Confirmed" (every point confirmed),
 * "Unconfirmed" (every point labelled, some by the machine) or "Unclassified". Static. */
POLYP_API const char *polyp_cover_status(const polyp_cover *cover, size_t image);

/* CoralNet's percent-cover CSV: Image ID,Image name,Annotation status,Points,<codes...>; one
 * row per image with labelled points (ID = its 1-based first-seen position; Points = all its
 * points), each label's percent with 3 decimals, and with more than one such image a last
 * "ALL IMAGES" row of the means. CRLF line ends. *out owned: polyp_free. */
POLYP_API polyp_status polyp_cover_csv(const polyp_cover *cover, void **out, size_t *out_size,
                                       polyp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYP_H */
