/* imageset.h - the images of a points CSV as `extract` and `status` see them: points grouped
 * by image, names checked to stay inside their folders, output paths, and the check of an
 * existing output against the CSV (so neither command trusts a file it did not just write). */
#ifndef POLYP_CLI_IMAGESET_H
#define POLYP_CLI_IMAGESET_H

#include "polyp.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct image_group {
    const char *name;      /* borrowed from the annotations */
    polyp_point *points;   /* npoints, in CSV order (owned) */
    size_t npoints, cap;
    size_t first_item;     /* index of its first point in the CSV (for messages) */
} image_group;

typedef struct groups {
    image_group *items;    /* in order of first appearance in the CSV */
    size_t count;
    size_t *slots;         /* open-addressing hash: group index + 1, 0 = empty */
    size_t nslots;
} groups;

/* Groups the annotations' points by image name. `a` must outlive `g` (names are borrowed).
 * False when out of memory (g is then still safe to groups_free). */
bool group_points(const polyp_annotations *a, groups *g);
void groups_free(groups *g);

/* Image names come from a CSV: a safe name is relative and has no '..' component, so
 * inputs stay inside DIR and outputs inside OUTDIR. */
bool name_is_safe(const char *name);

/* "<dir>/<name><suffix>" into buf; false when it does not fit. */
bool path_join(char *buf, size_t cap, const char *dir, const char *name, const char *suffix);

bool is_regular_file(const char *path);

typedef enum output_state {
    OUTPUT_DONE = 0,   /* parses as a feature file with exactly the CSV's points, of its extractor's width */
    OUTPUT_MISSING,    /* no file under the final name */
    OUTPUT_CORRUPT,    /* a file that is unreadable, not a valid npz (CRCs included), or whose
                          points differ from the CSV's */
    OUTPUT_FOREIGN,    /* complete, but made by another extractor than the one asked for */
} output_state;

/* Reads `path` and checks it against `g` without trusting anything in it: npz structure and
 * CRCs (polyp_features_read_npz), the width its extractor record names, the number of points, every row and column in
 * CSV order. With a non-NULL `record`, a file that passes all that but whose extractor record
 * is not exactly `record` (or that has none: pyspacer's) is OUTPUT_FOREIGN. For
 * OUTPUT_CORRUPT and OUTPUT_FOREIGN, `why` gets a one-line reason. */
output_state check_output(const char *path, const image_group *g, const char *record, char *why, size_t why_cap);

/* check_output that also hands over the file's extractor record: for OUTPUT_DONE and
 * OUTPUT_FOREIGN, *found is the record as the file holds it (printable ASCII, at most the
 * npz reader's cap of characters; owned by the caller: polyp_free), or NULL when the file has none;
 * NULL for every other state. */
output_state check_output_record(const char *path, const image_group *g, const char *record, char *why,
                                 size_t why_cap, char **found);

/* The extractor record `polyp extract` writes into every feature file and expects of existing
 * ones: "<polyp_weights_extractor_id> variant=<polyp_weights_variant>". One place builds it,
 * so `extract` and `status --weights` can never disagree on what these weights' files carry. */
#define EXTRACTOR_RECORD_CAP (POLYP_EXTRACTOR_ID_MAX + 64)
void extractor_record(const polyp_weights *weights, char record[EXTRACTOR_RECORD_CAP]);

const char *output_state_name(output_state s); /* "done", "missing", "corrupt", "foreign" */

#endif /* POLYP_CLI_IMAGESET_H */
