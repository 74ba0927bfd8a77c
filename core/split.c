/* split.c - CoralNet's train / reference / validation split and the kept label set.
 * Images keep the caller's stable order. Image i with i % 8 == 0 is validation ("the 1/8
 * test"); the others, numbered j = 0, 1, ... in order, go to the reference set when
 * j % 10 == 0 and the reference set then holds at most ref_max_points labelled points
 * (an image that would overflow it trains instead); the rest train. Only labels present
 * in both train and reference are kept (pyspacer's preprocess_labels); points with other
 * labels are left out of all three sets. */
#include "classifier_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

polyp_status polyp_split_images(const size_t *labelled, size_t n_images, size_t ref_max_points,
                                uint8_t *roles, polyp_error *err) {
    if (n_images && (!labelled || !roles))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "split: NULL labelled or roles");
    size_t ref_points = 0, j = 0;
    for (size_t i = 0; i < n_images; i++) {
        if (i % 8 == 0) {
            roles[i] = POLYP_SPLIT_VALIDATION;
            continue;
        }
        roles[i] = POLYP_SPLIT_TRAIN;
        if (j % 10 == 0 && labelled[i] <= ref_max_points - ref_points && ref_points <= ref_max_points) {
            roles[i] = POLYP_SPLIT_REFERENCE;
            ref_points += labelled[i];
        }
        j++;
    }
    return POLYP_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void polyp_split_free(polyp_split *s) {
    if (!s) return;
    free(s->roles);
    for (size_t i = 0; i < s->n_classes; i++) free(s->classes[i]);
    free(s->classes);
    for (size_t i = 0; i < s->n_dropped; i++) free(s->dropped[i]);
    free(s->dropped);
    memset(s, 0, sizeof *s);
}

polyp_status polyp_split_dataset(const polyp_dataset *data, size_t ref_max_points,
                                 polyp_split *out, polyp_error *err) {
    memset(out, 0, sizeof *out);
    if (!data || (data->n_images && !data->images))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "split: NULL dataset");
    size_t n = data->n_images;
    if (n == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "split: the dataset has no images");
    size_t *labelled = polyp_calloc(n, sizeof(size_t));
    out->roles = polyp_malloc(n);
    out->n_images = n;
    if (!labelled || !out->roles) {
        free(labelled);
        polyp_split_free(out);
        return polyp_fail(err, POLYP_ERR_NOMEM, "split: no memory for %zu images", n);
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const polyp_dataset_image *im = &data->images[i];
        if (im->npoints && !im->labels) {
            free(labelled);
            polyp_split_free(out);
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "split: image %zu has points but no labels", i);
        }
        for (size_t p = 0; p < im->npoints; p++) labelled[i] += im->labels[p] != NULL;
        total += labelled[i];
    }
    polyp_split_images(labelled, n, ref_max_points, out->roles, err);
    free(labelled);
    if (total == 0) {
        polyp_split_free(out);
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "split: no labelled points (the label set is empty)");
    }

    /* Sorted unique labels per role: one sorted array of (label) per role. */
    const char **lists[3] = {0};
    size_t counts[3] = {0};
    for (int r = 0; r < 3; r++) {
        lists[r] = polyp_malloc(total * sizeof(char *));
        if (!lists[r]) {
            for (int q = 0; q < r; q++) free(lists[q]);
            polyp_split_free(out);
            return polyp_fail(err, POLYP_ERR_NOMEM, "split: no memory for %zu labels", total);
        }
    }
    for (size_t i = 0; i < n; i++) {
        int r = out->roles[i];
        out->images[r]++;
        const polyp_dataset_image *im = &data->images[i];
        for (size_t p = 0; p < im->npoints; p++)
            if (im->labels[p]) lists[r][counts[r]++] = im->labels[p];
    }
    for (int r = 0; r < 3; r++) qsort(lists[r], counts[r], sizeof(char *), cmp_str);
    /* Merge-walk the union of all roles' labels. */
    size_t ia[3] = {0};
    polyp_status st = POLYP_OK;
    out->classes = polyp_malloc(total * sizeof(char *));
    out->dropped = polyp_malloc(total * sizeof(char *));
    if (!out->classes || !out->dropped) st = polyp_fail(err, POLYP_ERR_NOMEM, "split: no memory");
    while (st == POLYP_OK) {
        const char *next = NULL;
        for (int r = 0; r < 3; r++)
            if (ia[r] < counts[r] && (!next || strcmp(lists[r][ia[r]], next) < 0)) next = lists[r][ia[r]];
        if (!next) break;
        size_t in[3] = {0};
        for (int r = 0; r < 3; r++)
            while (ia[r] < counts[r] && strcmp(lists[r][ia[r]], next) == 0) {
                ia[r]++;
                in[r]++;
            }
        char *copy = polyp_strdup(next);
        if (!copy) {
            st = polyp_fail(err, POLYP_ERR_NOMEM, "split: no memory");
            break;
        }
        if (in[POLYP_SPLIT_TRAIN] && in[POLYP_SPLIT_REFERENCE]) {
            out->classes[out->n_classes++] = copy;
            for (int r = 0; r < 3; r++) out->points[r] += in[r];
        } else {
            out->dropped[out->n_dropped++] = copy;
        }
    }
    for (int r = 0; r < 3; r++) free(lists[r]);
    if (st != POLYP_OK) {
        polyp_split_free(out);
        return st;
    }
    if (out->n_classes == 0) {
        polyp_split_free(out);
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "split: no label is present in both the training and the reference set "
                          "(%zu images; annotate more images)", n);
    }
    if (out->n_classes == 1) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", out->classes[0]);
        polyp_split_free(out);
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "split: only one label ('%s') is present in both the training and the "
                          "reference set; a classifier needs at least two", msg);
    }
    if (out->points[POLYP_SPLIT_VALIDATION] == 0) {
        polyp_split_free(out);
        return polyp_fail(err, POLYP_ERR_INVALID_ARG,
                          "split: the validation set (every 8th image) has no points with a kept label");
    }
    return POLYP_OK;
}
