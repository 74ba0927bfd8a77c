/* extract.h - the parts of `polyp extract` shared by its two ways of running: the serial
 * loop (cmd_extract.c: decode one photo, extract its points, write, next) and the pipeline
 * (pipeline.c: one worker per thread, each decoding, cropping and running the network on
 * whatever is ready). Both write the same bytes. */
#ifndef POLYP_CLI_EXTRACT_H
#define POLYP_CLI_EXTRACT_H

#include "cli.h"
#include "imageset.h"
#include "pixel_pool.h"

/* Returned by a run or an image step when a signal stopped it: nothing half-written. */
#define EXTRACT_INTERRUPTED (-1)

/* Photos decoding on a thread of their own since before the run started (see
 * extract_prefetch_start). */
typedef struct extract_prefetch extract_prefetch;

typedef struct extract_run {
    const groups *g;
    const bool *skip;            /* per group: output already done, not redone */
    const char *images, *out;    /* input and output folders */
    polyp_extractor **extractors;  /* one per worker, single-threaded each in the pipeline;
                                      the serial path uses extractors[0]. The array is the
                                      caller's; [0] is made by the caller, the pipeline makes
                                      the others (NULL on entry) and frees every one it ran
                                      (NULL on return), each on its worker's thread */
    const polyp_weights *weights;  /* pipeline: for the extractors it makes (borrowed) */
    const polyp_extractor_params *params; /* pipeline: their parameters (borrowed) */
    size_t nworkers;               /* pipeline: workers (= --threads); serial: 1 */
    size_t dim;                  /* the network's feature width */
    const char *record;          /* extractor record written into every file (borrowed) */
    size_t batch;                /* the extractor's batch size */
    size_t queue;                /* pipeline: photos decoded or being decoded at once, at most */
    cli_progress *progress;      /* updated after every image written */
    size_t done, patches;        /* out: images written, their patches */
    extract_prefetch *prefetch;  /* pipeline: owned, taken (NULL on return); NULL: none */
    pixel_pool *pixels;          /* where the decodes put their pixels (borrowed); NULL: fresh memory */
} extract_run;

/* Photos decoded ahead, at most (and at most the queue: they count as held). */
#define EXTRACT_PREFETCH_MAX 4

/* Starts decoding the pixels of g->items[group[0..n)] (n <= EXTRACT_PREFETCH_MAX; more are
 * ignored), one after another on a thread of their own, so that the first photos decode
 * while the weights load and the outputs are checked; the pipeline takes those begun when
 * they are to be done, and no more begin from then on. Nothing is printed until then: a
 * failed decode is reported only if the run gets to the image. NULL if n is 0 or no thread
 * could start (nothing is lost: the images are decoded in their turn). images and g must
 * outlive it. */
extract_prefetch *extract_prefetch_start(const char *images, const groups *g, const size_t *group, size_t n,
                                         pixel_pool *pixels);
/* Lets no more decodes begin, waits for the one in progress and frees the prefetch, pixels
 * and all (a run that stopped first, or the serial path). NULL is a no-op. */
void extract_prefetch_cancel(extract_prefetch *pf);

/* Decodes in_path for g: only the rows its points' patches read (polyp_patch_rows, then a
 * row band), into a buffer from `pixels` (NULL: fresh memory). Prints nothing; err names the
 * image or the file. img is zeroed on failure. */
polyp_status extract_decode(const char *in_path, const image_group *g, pixel_pool *pixels, polyp_image *img,
                            polyp_error *err);

/* 0 when every point of g lies inside img, else the exit status after printing which one
 * does not (the same message either way of running). */
int extract_check_points(const image_group *g, const polyp_image *img);

/* Writes g's features (npoints x r->dim floats, CSV point order) with r->record as
 * OUTDIR/<name>.featurevector, atomically, creating folders. 0, or the exit status after
 * printing the reason. */
int extract_write_features(const extract_run *r, const image_group *g, const float *feat, const char *out_path);

/* Both return 0 when every image not skipped was written, EXTRACT_INTERRUPTED when a signal
 * stopped the run (finished images are kept), else the exit status after printing why. */
int extract_run_serial(extract_run *r);
int extract_run_pipeline(extract_run *r);

#endif /* POLYP_CLI_EXTRACT_H */
