/* cover.c - percent cover (polyp_cover_compute / polyp_cover_csv): the share of each label
 * among an image's labelled points, per image and over all images (mean and standard error),
 * as CoralNet's statistics pages and image-covers export give it.
 *
 * Grouping: images in first-seen order, labels sorted (strcmp) as everywhere else in polyp.
 * An image whose points are all unlabelled has 0 labelled points; its percentages are 0 and
 * it is left out of the mean and SE (a percentage of nothing is not a 0% cover). */
#include "csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct name_ref {
    const char *s;
    size_t first;  /* index of the first point carrying it */
} name_ref;

static int cmp_name_ref(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c) return c;
    return (x->first > y->first) - (x->first < y->first);
}

/* A sorted image and the first point that names it. */
typedef struct first_ref {
    size_t first;
    size_t sorted;
} first_ref;

static int cmp_first(const void *a, const void *b) {
    const first_ref *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Unique strings of refs (sorted by string) copied into *out; *n_out of them. */
static polyp_status unique_copies(name_ref *refs, size_t n, char ***out, size_t *n_out, polyp_error *err) {
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(refs[i].s, refs[i - 1].s)) u++;
    char **v = calloc(u ? u : 1, sizeof *v);
    if (!v) return polyp_fail(err, POLYP_ERR_NOMEM, "percent cover: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(refs[i].s, refs[i - 1].s)) continue;
        if (!(v[k] = polyp_strdup(refs[i].s))) {
            for (size_t j = 0; j < k; j++) free(v[j]);
            free(v);
            return polyp_fail(err, POLYP_ERR_NOMEM, "percent cover: out of memory");
        }
        k++;
    }
    *out = v;
    *n_out = u;
    return POLYP_OK;
}

polyp_status polyp_cover_compute(const char *const *names, const char *const *labels,
                                 const uint8_t *confirmed, size_t n, polyp_cover *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "percent cover: out is NULL");
    memset(out, 0, sizeof *out);
    if (n && (!names || !labels)) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "percent cover: names or labels is NULL");
    for (size_t i = 0; i < n; i++)
        if (!names[i] || !names[i][0])
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "percent cover: point %zu has no image name", i);

    polyp_status st = POLYP_OK;
    char **sorted_images = NULL;
    size_t ni = 0, *rank = NULL, *counts = NULL;
    name_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs) return polyp_fail(err, POLYP_ERR_NOMEM, "percent cover: out of memory");

    /* Labels: the sorted unique codes of the labelled points. */
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] && labels[i][0]) refs[nl++] = (name_ref){labels[i], i};
    qsort(refs, nl, sizeof *refs, cmp_name_ref);
    if ((st = unique_copies(refs, nl, &out->labels, &out->n_labels, err))) goto done;
    nl = out->n_labels;

    /* Images: sorted by (name, first point), so each run of one name starts at its first
     * appearance; rank[k] = position of sorted image k in first-seen order. */
    for (size_t i = 0; i < n; i++) refs[i] = (name_ref){names[i], i};
    qsort(refs, n, sizeof *refs, cmp_name_ref);
    if ((st = unique_copies(refs, n, &sorted_images, &ni, err))) goto done;
    first_ref *firsts = malloc((ni ? ni : 1) * sizeof *firsts);
    rank = malloc((ni ? ni : 1) * sizeof *rank);
    size_t cells;
    if (!firsts || !rank || !polyp_mul_ok(ni, nl ? nl : 1, &cells)) {
        free(firsts);
        st = polyp_fail(err, POLYP_ERR_NOMEM, "percent cover: out of memory (%zu images x %zu labels)", ni, nl);
        goto done;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (i == 0 || strcmp(refs[i].s, refs[i - 1].s)) firsts[k] = (first_ref){refs[i].first, k}, k++;
    /* sorted images in order of first appearance (the first indices are distinct) */
    qsort(firsts, ni, sizeof *firsts, cmp_first);
    for (size_t r = 0; r < ni; r++) rank[firsts[r].sorted] = r;
    free(firsts);

    out->n_images = ni;
    out->images = calloc(ni ? ni : 1, sizeof *out->images);
    out->points = calloc(ni ? ni : 1, sizeof *out->points);
    out->unlabelled = calloc(ni ? ni : 1, sizeof *out->unlabelled);
    out->percent = calloc(cells, sizeof *out->percent);
    out->mean = calloc(nl ? nl : 1, sizeof *out->mean);
    out->se = calloc(nl ? nl : 1, sizeof *out->se);
    out->machine = calloc(ni ? ni : 1, sizeof *out->machine);
    counts = calloc(cells, sizeof *counts);
    if (!out->images || !out->points || !out->unlabelled || !out->machine || !out->percent || !out->mean ||
        !out->se || !counts) {
        st = polyp_fail(err, POLYP_ERR_NOMEM, "percent cover: out of memory");
        goto done;
    }
    for (size_t k = 0; k < ni; k++) {
        out->images[rank[k]] = sorted_images[k];
        sorted_images[k] = NULL;
    }
    /* Count: refs is still sorted by name, so the k-th run is sorted image k. */
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i && strcmp(refs[i].s, refs[i - 1].s)) k++;
        size_t img = rank[k], p = refs[i].first;
        if (!labels[p] || !labels[p][0]) {
            out->unlabelled[img]++;
            continue;
        }
        char **hit = bsearch(&labels[p], out->labels, nl, sizeof *out->labels, cmp_str);
        counts[img * nl + (size_t)(hit - out->labels)]++;
        out->points[img]++;
        if (confirmed && !confirmed[p]) out->machine[img]++;
    }
    for (size_t k = 0; k < ni; k++)
        if (out->points[k]) out->n_images_labelled++;
    for (size_t l = 0; l < nl; l++) {
        double sum = 0, sum2 = 0;
        for (size_t k = 0; k < ni; k++) {
            if (!out->points[k]) continue;
            double p = 100.0 * (double)counts[k * nl + l] / (double)out->points[k];
            out->percent[k * nl + l] = p;
            sum += p;
        }
        size_t m = out->n_images_labelled;
        double mean = m ? sum / (double)m : 0;
        for (size_t k = 0; k < ni; k++)
            if (out->points[k]) {
                double d = out->percent[k * nl + l] - mean;
                sum2 += d * d;
            }
        out->mean[l] = mean;
        out->se[l] = m > 1 ? sqrt(sum2 / (double)(m - 1) / (double)m) : 0;
    }

done:
    if (sorted_images) {
        for (size_t k = 0; k < ni; k++) free(sorted_images[k]);
        free(sorted_images);
    }
    free(rank);
    free(counts);
    free(refs);
    if (st) polyp_cover_free(out);
    return st;
}

void polyp_cover_free(polyp_cover *c) {
    if (!c) return;
    if (c->images)
        for (size_t k = 0; k < c->n_images; k++) free(c->images[k]);
    if (c->labels)
        for (size_t l = 0; l < c->n_labels; l++) free(c->labels[l]);
    free(c->images);
    free(c->labels);
    free(c->points);
    free(c->unlabelled);
    free(c->machine);
    free(c->percent);
    free(c->mean);
    free(c->se);
    memset(c, 0, sizeof *c);
}

const char *polyp_cover_status(const polyp_cover *c, size_t image) {
    if (!c || image >= c->n_images) return "";
    if (c->unlabelled[image] || !c->points[image]) return "Unclassified";
    return c->machine[image] ? "Unconfirmed" : "Confirmed";
}

static bool cover_field(polyp_strbuf *b, const char *s, bool first) {
    return (first || polyp_strbuf_append(b, ",", 1)) && polyp_csv_write_field(b, s, strlen(s));
}

/* CoralNet's "%.3f" of a percentage, never "-0.000". */
static bool cover_percent(polyp_strbuf *b, double p) { return polyp_strbuf_printf(b, ",%.3f", p < 0.0005 ? 0.0 : p); }

polyp_status polyp_cover_csv(const polyp_cover *c, void **out, size_t *out_size, polyp_error *err) {
    if (!c || !out || !out_size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "percent cover CSV: NULL argument");
    polyp_strbuf b = {0};
    bool ok = cover_field(&b, "Image ID", true) && cover_field(&b, "Image name", false) &&
              cover_field(&b, "Annotation status", false) && cover_field(&b, "Points", false);
    for (size_t l = 0; ok && l < c->n_labels; l++) ok = cover_field(&b, c->labels[l], false);
    ok = ok && polyp_strbuf_append(&b, "\r\n", 2);
    for (size_t k = 0; ok && k < c->n_images; k++) {
        if (!c->points[k]) continue; /* nothing labelled: CoralNet leaves the image out */
        ok = polyp_strbuf_printf(&b, "%zu", k + 1) && cover_field(&b, c->images[k], false) &&
             cover_field(&b, polyp_cover_status(c, k), false) &&
             polyp_strbuf_printf(&b, ",%zu", c->points[k] + c->unlabelled[k]);
        for (size_t l = 0; ok && l < c->n_labels; l++) ok = cover_percent(&b, c->percent[k * c->n_labels + l]);
        ok = ok && polyp_strbuf_append(&b, "\r\n", 2);
    }
    if (ok && c->n_images_labelled > 1) {
        ok = polyp_strbuf_append_str(&b, "ALL IMAGES,,,");
        for (size_t l = 0; ok && l < c->n_labels; l++) ok = cover_percent(&b, c->mean[l]);
        ok = ok && polyp_strbuf_append(&b, "\r\n", 2);
    }
    if (!ok) {
        polyp_strbuf_free(&b);
        return polyp_fail(err, POLYP_ERR_NOMEM, "percent cover CSV: out of memory");
    }
    *out = b.data;
    *out_size = b.len;
    return POLYP_OK;
}
