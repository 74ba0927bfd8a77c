/* api.h - the flat C API that wasm/polyp.js calls (exported by wasm/exports.txt).
 *
 * Why a wrapper and not polyp.h itself: JS can pass only numbers, so structs by value
 * (params), 64-bit integers and out-parameters of struct type are replaced by heap handles,
 * 32-bit pairs and accessor functions. Every function that can fail takes a polyp_error *
 * (from polyp_wasm_error_new) and returns NULL or a non-zero status on failure; JS reads the
 * reason with polyp_wasm_error_message. Ownership follows polyp.h: every pointer returned
 * here is released by the _free function named next to it.
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
int polyp_wasm_error_status(const polyp_error *err);
const char *polyp_wasm_error_message(const polyp_error *err);
const char *polyp_wasm_version(void);
int polyp_wasm_threads_compiled(void);           /* 1 in the pthread artifact, else 0 */

/* The module's threads: one pool, created once by JS and passed to every call that can use
 * it (extraction, training, scoring). NULL (no error) means the calling thread only: asked
 * for 1 thread, or the single-threaded artifact. Owned: polyp_wasm_pool_delete. */
typedef struct polyp_wasm_pool polyp_wasm_pool;
polyp_wasm_pool *polyp_wasm_pool_new(int n_threads, polyp_error *err);
void polyp_wasm_pool_delete(polyp_wasm_pool *pool);
int polyp_wasm_pool_threads(const polyp_wasm_pool *pool);
/* Threads of the pool running now (the caller's included; 1 for NULL). pthreads start only
 * after the creating worker yields to its event loop: JS waits for this to reach
 * polyp_wasm_pool_threads before the first job, or that job runs on one thread. */
int polyp_wasm_pool_running(const polyp_wasm_pool *pool);
/* Internal to wasm/: the pool as a polyp_parallel (NULL for a NULL pool). Not exported. */
const polyp_parallel *polyp_wasm_parallel(const polyp_wasm_pool *pool);

/* ---- images (api_image.c) */
polyp_image *polyp_wasm_image_decode(const void *data, size_t size, polyp_error *err);
uint32_t polyp_wasm_image_width(const polyp_image *image);
uint32_t polyp_wasm_image_height(const polyp_image *image);
int polyp_wasm_image_truncated(const polyp_image *image);
const uint8_t *polyp_wasm_image_pixels(const polyp_image *image);  /* height x width x 3 */
void polyp_wasm_image_free(polyp_image *image);
/* The 224x224x3 float patch of one point (polyp_patch_crop) into caller memory. */
int polyp_wasm_image_crop(const polyp_image *image, uint32_t row, uint32_t col, float *out,
                          polyp_error *err);

/* ---- weights and extraction (api_extract.c) */
polyp_weights *polyp_wasm_weights_load(const void *data, size_t size, polyp_error *err);
void polyp_wasm_weights_free(polyp_weights *weights);
const char *polyp_wasm_weights_sha256(const polyp_weights *weights);
const char *polyp_wasm_weights_variant(const polyp_weights *weights);
const char *polyp_wasm_weights_kind(const polyp_weights *weights);
size_t polyp_wasm_weights_feature_dim(const polyp_weights *weights);
const char *polyp_wasm_weights_extractor_id(const polyp_weights *weights);
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
 * n x dim float32 (stored as float64 like pyspacer). Free the result with polyp_wasm_free. */
void *polyp_wasm_npz_write(const uint32_t *rowcol, size_t n, const float *feat, size_t dim,
                           size_t *out_size, polyp_error *err);
polyp_features *polyp_wasm_npz_read(const void *data, size_t size, polyp_error *err);
size_t polyp_wasm_npz_npoints(const polyp_features *features);
size_t polyp_wasm_npz_dim(const polyp_features *features);
int polyp_wasm_npz_valid_rowcol(const polyp_features *features);
const uint16_t *polyp_wasm_npz_rows(const polyp_features *features);
const uint16_t *polyp_wasm_npz_cols(const polyp_features *features);
const float *polyp_wasm_npz_feat(const polyp_features *features);
void polyp_wasm_npz_free(polyp_features *features);

/* ---- CoralNet annotation CSV (api_csv.c) */
polyp_annotations *polyp_wasm_csv_parse(const void *data, size_t size, polyp_error *err);
size_t polyp_wasm_csv_count(const polyp_annotations *annotations);
const char *polyp_wasm_csv_name(const polyp_annotations *annotations, size_t i);
uint32_t polyp_wasm_csv_row(const polyp_annotations *annotations, size_t i);
uint32_t polyp_wasm_csv_col(const polyp_annotations *annotations, size_t i);
const char *polyp_wasm_csv_label(const polyp_annotations *annotations, size_t i); /* NULL: none */
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
/* The classifier once a step returned 1; report: 13 doubles (see api_classifier.c). Owned:
 * polyp_wasm_classifier_free; the session still needs _train_free. */
polyp_classifier *polyp_wasm_classifier_train_finish(polyp_wasm_train *train, double *report /* 13 */,
                                                     polyp_error *err);
void polyp_wasm_classifier_train_free(polyp_wasm_train *train);
void polyp_wasm_classifier_free(polyp_classifier *clf);
size_t polyp_wasm_classifier_n_labels(const polyp_classifier *clf);
const char *polyp_wasm_classifier_label(const polyp_classifier *clf, size_t i);
size_t polyp_wasm_classifier_feature_dim(const polyp_classifier *clf);
int polyp_wasm_classifier_kind(const polyp_classifier *clf);
const char *polyp_wasm_classifier_extractor_id(const polyp_classifier *clf);
double polyp_wasm_classifier_val_accuracy(const polyp_classifier *clf);
const double *polyp_wasm_classifier_ref_accuracy(const polyp_classifier *clf, size_t *n);
int polyp_wasm_classifier_predict(const polyp_classifier *clf, const float *feat, size_t n,
                                  size_t dim, float *probs, const polyp_wasm_pool *pool,
                                  polyp_error *err);
void *polyp_wasm_classifier_save(const polyp_classifier *clf, size_t *out_size, polyp_error *err);
polyp_classifier *polyp_wasm_classifier_load(const void *data, size_t size, polyp_error *err);
int polyp_wasm_classifier_accept(double new_acc, double prev_acc);
polyp_evaluation *polyp_wasm_classifier_evaluate(const polyp_classifier *clf, const float *probs,
                                                 size_t n, const int32_t *label_index,
                                                 const char *label_blob, size_t n_labels,
                                                 polyp_error *err);
double polyp_wasm_classifier_evaluation_accuracy(const polyp_evaluation *ev);
double polyp_wasm_classifier_evaluation_macro_f1(const polyp_evaluation *ev);
size_t polyp_wasm_classifier_evaluation_n_labels(const polyp_evaluation *ev);
const char *polyp_wasm_classifier_evaluation_label(const polyp_evaluation *ev, size_t i);
double polyp_wasm_classifier_evaluation_metric(const polyp_evaluation *ev, size_t i, int which);
const size_t *polyp_wasm_classifier_evaluation_confusion(const polyp_evaluation *ev);
const double *polyp_wasm_classifier_evaluation_alleviate_accuracy(const polyp_evaluation *ev);
const double *polyp_wasm_classifier_evaluation_alleviate_fraction(const polyp_evaluation *ev);
void polyp_wasm_classifier_evaluation_free(polyp_evaluation *ev);
/* Points inside the inclusive area; method 0 random, 1 stratified, 2 grid. Returns rowcol
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
