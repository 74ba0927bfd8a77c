/* clf_common.h - what the classifier subcommands (train, classify, evaluate) share: a
 * "source" = an annotation CSV plus a folder of .featurevector files, exposed as a
 * streaming polyp_dataset (features are read from disk per image when needed). */
#ifndef POLYP_CLF_COMMON_H
#define POLYP_CLF_COMMON_H

#include "cli.h"

typedef struct clf_source {
    polyp_annotations ann;      /* the parsed CSV (owns names and labels) */
    size_t n_images;            /* images in order of first appearance in the CSV */
    const char **names;         /* n_images, borrowed from ann */
    size_t **items;             /* per image: the CSV item indices of its points */
    size_t **rows;              /* per image: the feature row of each of its points */
    const char ***labels;       /* per image: label of each point (NULL = unlabelled) */
    polyp_dataset_image *images;
    polyp_dataset data;         /* streaming: data.load reads the image's file */
    size_t dim;
    char *dir;
    /* The extractor the files come from: the id of their records (all must agree), NULL
     * when none has one (pyspacer's files); unrecorded = files without a record. */
    char *extractor;
    size_t unrecorded;
    size_t extractor_image;     /* the first image with a record (for messages) */
    /* Features kept in memory between epochs, up to cache_budget bytes (first images first);
     * the rest is re-read from disk each time (pyspacer's streaming). */
    float **cache;              /* per image, NULL when not cached */
    size_t cache_budget, cache_used;
} clf_source;

/* Parses the CSV, groups its points by image, opens every image's feature file once to
 * check it exists, has the same width as the others and holds every point of the CSV
 * (matched by row and column; by position for legacy files without locations). Prints a
 * one-line error and returns false on failure. */
bool clf_source_open(const char *cmd, const char *csv_path, const char *feature_dir, size_t cache_bytes,
                     clf_source *src);
void clf_source_free(clf_source *src);

/* The extractor id to use for `src`: the files' (given, when also set, must agree; it
 * stands for the files without a record). NULL when neither is known. Prints the reason
 * and returns false on a conflict; prints a note when files carry no record. */
bool clf_source_extractor(const char *cmd, const clf_source *src, const char *given, const char **out);

/* Loads the model and opens the CSV's feature source (default cache), as classify and
 * evaluate both start: false after printing the reason; on success the caller frees both. */
bool clf_open_model_and_source(const char *cmd, const char *model_path, const char *csv_path,
                               const char *feature_dir, polyp_classifier **clf, clf_source *src);

/* Default for --cache-mb: keeps sources up to ~100,000 points of 1280 floats in memory. */
#define CLF_DEFAULT_CACHE_MB 512

/* Features of image i in the order of its CSV points (n x dim). Owned: free(). */
polyp_status clf_source_features(const clf_source *src, size_t i, float **out, polyp_error *err);

/* The same through the cache: *feat stays valid until clf_source_put (what the streaming
 * dataset's load / release do). */
polyp_status clf_source_get(clf_source *src, size_t i, const float **feat, polyp_error *err);
void clf_source_put(clf_source *src, size_t i, const float *feat);

/* A thread pool for --threads (0 = the number of CPUs); par->n_threads == 1 means serial. */
typedef struct clf_threads {
    void *pool;
    polyp_parallel par;
} clf_threads;
bool clf_threads_start(const char *cmd, size_t n, clf_threads *t);
void clf_threads_stop(clf_threads *t);

#endif /* POLYP_CLF_COMMON_H */
