/* extract.h - the parts of `polyp extract` shared by its two ways of running: the serial
 * loop (cmd_extract.c: decode one photo, extract its points, write, next) and the pipeline
 * (pipeline.c: one worker per thread, each decoding, cropping and running the network on
 * whatever is ready). Both write the same bytes. */
#ifndef POLYP_CLI_EXTRACT_H
#define POLYP_CLI_EXTRACT_H

#include "cli.h"
#include "imageset.h"

/* Returned by a run or an image step when a signal stopped it: nothing half-written. */
#define EXTRACT_INTERRUPTED (-1)

typedef struct extract_run {
    const groups *g;
    const bool *skip;            /* per group: output already done, not redone */
    const char *images, *out;    /* input and output folders */
    polyp_extractor **extractors;  /* borrowed: one per worker, single-threaded each in the
                                      pipeline; the serial path uses extractors[0] */
    size_t nworkers;               /* pipeline: workers (= --threads); serial: 1 */
    size_t dim;                  /* the network's feature width */
    const char *record;          /* extractor record written into every file (borrowed) */
    size_t batch;                /* the extractor's batch size */
    size_t queue;                /* pipeline: photos decoded or being decoded at once, at most */
    cli_progress *progress;      /* updated after every image written */
    size_t done, patches;        /* out: images written, their patches */
} extract_run;

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
