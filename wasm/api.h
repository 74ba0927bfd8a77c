/* api.h - the flat C API that wasm/engine.js calls, where polyp.h itself does not suit JS.
 *
 * JS calls what wasm/bindings.js lists: polyp.h functions directly where their arguments are
 * numbers and pointers, and these wrappers where it can pass only numbers: structs by value
 * (params), 64-bit integers and out-parameters of struct type become heap handles and
 * 32-bit pairs. Results are read from the core's own structs by field name (the layouts of
 * api_layout.c), never through per-field accessors or positional arrays. Every function that
 * can fail takes a polyp_error * (from polyp_wasm_error_new) and returns NULL or a non-zero
 * status on failure; JS reads the reason with polyp_wasm_error_message. Ownership follows
 * polyp.h: every pointer returned here is released by the _free function named next to it.
 * The export list is made from wasm/bindings.js, so a function added here is exported by
 * adding its row there.
 *
 * Points cross the boundary as uint32 pairs: rowcol[2*i] = row, rowcol[2*i+1] = column.
 * Features cross as float32, n x 1280, row-major in point order.
 */
#ifndef POLYP_WASM_API_H
#define POLYP_WASM_API_H

#include "polyp.h"

#include <stddef.h>
#include <stdint.h>

/* ---- memory, errors, build facts (api.c) */
void *polyp_wasm_malloc(size_t size);            /* free with polyp_wasm_free */
void polyp_wasm_free(void *ptr);
polyp_error *polyp_wasm_error_new(void);         /* zeroed; free with polyp_wasm_free */
const char *polyp_wasm_error_message(const polyp_error *err);
const char *polyp_wasm_version(void);
/* The struct layouts and enums JS reads (api_layout.c), as JSON; borrowed, static. */
const char *polyp_wasm_layout(void);

/* The module's threads: one pool, created once by JS and passed to every call that can use
 * it (extraction, training, scoring). NULL (no error) means the calling thread only: asked
 * for 1 thread, or the single-threaded artifact. Owned: polyp_wasm_pool_delete. */
typedef polyp_threadpool polyp_wasm_pool;  /* polyp.h's pool (native/lib/threadpool.c) */
polyp_wasm_pool *polyp_wasm_pool_new(int n_threads, polyp_error *err);
void polyp_wasm_pool_delete(polyp_wasm_pool *pool);
int polyp_wasm_pool_threads(const polyp_wasm_pool *pool);
/* Threads of the pool running now (the caller's included; 1 for NULL). pthreads start only
 * after the creating worker yields to its event loop: JS waits for this to reach
 * polyp_wasm_pool_threads before the first job, or that job runs on one thread. */
int polyp_wasm_pool_running(const polyp_wasm_pool *pool);
/* Internal to wasm/: the pool as a polyp_parallel (NULL for a NULL pool). Not exported. */
const polyp_parallel *polyp_wasm_parallel(const polyp_wasm_pool *pool);

/* ---- images (api_image.c): a heap polyp_image (JS reads its fields) */
polyp_image *polyp_wasm_image_decode(const void *data, size_t size, polyp_error *err);
void polyp_wasm_image_free(polyp_image *image);
/* polyp_patch_crop with the point as two numbers, into caller memory of 224x224x3 floats. */
polyp_status polyp_wasm_image_crop(const polyp_image *image, uint32_t row, uint32_t col, float *out,
                                   polyp_error *err);

/* ---- weights and extraction (api_extract.c) */
/* Owned: polyp_weights_free (JS calls it and polyp_weights_sha256/_variant directly). */
polyp_weights *polyp_wasm_weights_load(const void *data, size_t size, polyp_error *err);
/* The seeded test network as safetensors bytes (seed = seed_hi:seed_lo); *out_size set;
 * free the result with polyp_wasm_free. */
void *polyp_wasm_testnet_build(uint32_t seed_lo, uint32_t seed_hi, const void *bn_stats,
                               size_t bn_stats_size, size_t *out_size, polyp_error *err);

typedef struct polyp_wasm_extractor polyp_wasm_extractor;
/* `weights` and `pool` (may be NULL) are kept: both must outlive the extractor.
 * batch 0 = default. */
polyp_wasm_extractor *polyp_wasm_extractor_init(const polyp_weights *weights,
                                                const polyp_wasm_pool *pool, size_t batch_size,
                                                polyp_error *err);
void polyp_wasm_extractor_free(polyp_wasm_extractor *extractor);
const char *polyp_wasm_extractor_backend(const polyp_wasm_extractor *extractor);
int polyp_wasm_extractor_threads(const polyp_wasm_extractor *extractor);
/* Features of n points of one image into features (n x 1280 floats, caller memory). */
int polyp_wasm_extract_points(polyp_wasm_extractor *extractor, const polyp_image *image,
                              const uint32_t *rowcol, size_t n, float *features, polyp_error *err);

/* ---- .featurevector files (api_npz.c) */
/* npz bytes (numpy.savez layout) of n points: rows/cols from rowcol (each <= 65535), feat
 * n x dim float32 (stored as float64 like pyspacer), and with a non-NULL, non-empty
 * `extractor` (borrowed; printable ASCII, checked by the core) the extractor record as the
 * fifth member, as `polyp extract` writes it. Free the result with polyp_wasm_free. */
void *polyp_wasm_npz_write(const uint32_t *rowcol, size_t n, const float *feat, size_t dim,
                           const char *extractor, size_t *out_size, polyp_error *err);
/* A heap polyp_features (JS reads its fields). */
polyp_features *polyp_wasm_npz_read(const void *data, size_t size, polyp_error *err);
void polyp_wasm_npz_free(polyp_features *features);

/* ---- CoralNet annotation CSV (api_csv.c) */
/* A heap polyp_annotations (JS reads its fields and items). */
polyp_annotations *polyp_wasm_csv_parse(const void *data, size_t size, polyp_error *err);
void polyp_wasm_csv_free(polyp_annotations *annotations);

/* ---- classifier (api_classifier.c). Labels: label_blob = n_labels NUL-terminated codes back
 * to back; label_index[i] indexes it (-1 = unlabelled). Images concatenated (npoints[i]). */
/* Training one step at a time (polyp_train_session_*), so JS gets control back between
 * epochs and a cancel can stop it. npoints (n_images), feat (total x dim), label_index and
 * label_blob are buffers from polyp_wasm_malloc whose ownership passes to the session, also
 * when begin fails; extractor_id is copied. Owned: polyp_wasm_classifier_train_free (which
 * is also how a training is cancelled). */
typedef struct polyp_wasm_train polyp_wasm_train;
polyp_wasm_train *polyp_wasm_classifier_train_begin(size_t dim, size_t n_images, uint32_t *npoints,
                                                    float *feat, int32_t *label_index,
                                                    char *label_blob, size_t n_labels, int kind,
                                                    uint32_t seed_lo, uint32_t seed_hi, size_t epochs,
                                                    const char *extractor_id,
                                                    const polyp_wasm_pool *pool, polyp_error *err);
/* One epoch (Module.polypOnEpoch called after it), or the final calibration + validation.
 * Returns 0 while steps remain, 1 when done, -1 on failure (err says why). */
int polyp_wasm_classifier_train_step(polyp_wasm_train *train, polyp_error *err);
/* The classifier once a step returned 1; *report (caller memory, may be NULL) filled.
 * Owned: polyp_classifier_free (JS calls it and the polyp_classifier_* getters directly);
 * the session still needs _train_free. kind is a polyp_classifier_kind value. */
polyp_classifier *polyp_wasm_classifier_train_finish(polyp_wasm_train *train, polyp_train_report *report,
                                                     polyp_error *err);
void polyp_wasm_classifier_train_free(polyp_wasm_train *train);
int polyp_wasm_classifier_predict(const polyp_classifier *clf, const float *feat, size_t n,
                                  size_t dim, float *probs, const polyp_wasm_pool *pool,
                                  polyp_error *err);
void *polyp_wasm_classifier_save(const polyp_classifier *clf, size_t *out_size, polyp_error *err);
polyp_classifier *polyp_wasm_classifier_load(const void *data, size_t size, polyp_error *err);
polyp_evaluation *polyp_wasm_classifier_evaluate(const polyp_classifier *clf, const float *probs,
                                                 size_t n, const int32_t *label_index,
                                                 const char *label_blob, size_t n_labels,
                                                 polyp_error *err);   /* JS reads its fields */
void polyp_wasm_classifier_evaluation_free(polyp_evaluation *ev);
/* Points inside the inclusive area; method a polyp_points_method value. Returns rowcol
 * pairs (*n_out points), free with polyp_wasm_free. */
uint32_t *polyp_wasm_classifier_points_generate(int method, size_t n, size_t cell_rows,
                                                size_t cell_cols, size_t per_cell,
                                                uint32_t min_row, uint32_t max_row,
                                                uint32_t min_col, uint32_t max_col,
                                                uint32_t seed_lo, uint32_t seed_hi,
                                                size_t *n_out, polyp_error *err);
/* CoralNet export CSV (see api_classifier.c); clf NULL = no machine suggestions. */
void *polyp_wasm_classifier_export_csv(size_t n_rows, const char *name_blob, const uint32_t *rowcol,
                                       const int32_t *label_index, const char *label_blob,
                                       size_t n_label_codes, const polyp_classifier *clf,
                                       const float *probs, const uint8_t *has_probs, size_t top,
                                       int all_scores, size_t *out_size, polyp_error *err);

#endif
