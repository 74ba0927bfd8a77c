/* imageset.c - see imageset.h. */
#define _POSIX_C_SOURCE 200809L
#include "imageset.h"

#include "cli.h"
#include "shard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void groups_free(groups *g) {
    for (size_t i = 0; i < g->count; i++) free(g->items[i].points);
    free(g->items);
    free(g->slots);
    memset(g, 0, sizeof *g);
}

bool group_points(const polyp_annotations *a, groups *g) {
    memset(g, 0, sizeof *g);
    g->nslots = 16;
    while (g->nslots < a->count * 2) g->nslots *= 2;
    g->slots = calloc(g->nslots, sizeof *g->slots);
    g->items = calloc(a->count ? a->count : 1, sizeof *g->items);
    if (!g->slots || !g->items) return false;
    for (size_t i = 0; i < a->count; i++) {
        const polyp_annotation *an = &a->items[i];
        size_t s = (size_t)(cli_shard_hash(an->name) & (g->nslots - 1)); /* FNV-1a */
        while (g->slots[s] && strcmp(g->items[g->slots[s] - 1].name, an->name) != 0) s = (s + 1) & (g->nslots - 1);
        if (!g->slots[s]) {
            g->items[g->count].name = an->name;
            g->items[g->count].first_item = i;
            g->slots[s] = ++g->count;
        }
        image_group *ig = &g->items[g->slots[s] - 1];
        if (ig->npoints == ig->cap) {
            size_t ncap = ig->cap ? ig->cap * 2 : 16;
            polyp_point *np = realloc(ig->points, ncap * sizeof *np);
            if (!np) return false;
            ig->points = np;
            ig->cap = ncap;
        }
        ig->points[ig->npoints].row = an->row;
        ig->points[ig->npoints].col = an->col;
        ig->npoints++;
    }
    return true;
}

bool name_is_safe(const char *name) {
    if (name[0] == '/') return false;
    const char *p = name;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return false;
        if (!slash) return true;
        p = slash + 1;
    }
}

bool path_join(char *buf, size_t cap, const char *dir, const char *name, const char *suffix) {
    return (size_t)snprintf(buf, cap, "%s/%s%s", dir, name, suffix) < cap;
}

bool is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *output_state_name(output_state s) {
    return s == OUTPUT_DONE ? "done" : s == OUTPUT_MISSING ? "missing" : s == OUTPUT_FOREIGN ? "foreign" : "corrupt";
}

void extractor_record(const polyp_weights *weights, char record[EXTRACTOR_RECORD_CAP]) {
    /* The id is at most POLYP_EXTRACTOR_ID_MAX - 1 characters, the variant a short static name. */
    snprintf(record, EXTRACTOR_RECORD_CAP, "%s variant=%s", polyp_weights_extractor_id(weights),
             polyp_weights_variant(weights));
}

output_state check_output(const char *path, const image_group *g, const char *record, char *why, size_t why_cap) {
    return check_output_record(path, g, record, why, why_cap, NULL);
}

output_state check_output_record(const char *path, const image_group *g, const char *record, char *why,
                                 size_t why_cap, char **found) {
    why[0] = '\0';
    if (found) *found = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return OUTPUT_MISSING;
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_cap, "not a regular file");
        return OUTPUT_CORRUPT;
    }
    polyp_error err = {0};
    void *data = NULL;
    size_t size = 0;
    if (!cli_read_file(path, &data, &size, &err)) {
        snprintf(why, why_cap, "%s", err.message);
        return OUTPUT_CORRUPT;
    }
    polyp_features f;
    polyp_status s = polyp_features_read_npz(data, size, &f, &err);
    polyp_free(data);
    if (s != POLYP_OK) {
        snprintf(why, why_cap, "%s", err.message);
        return OUTPUT_CORRUPT;
    }
    output_state res = OUTPUT_CORRUPT;
    /* The width is the extractor's (1280 for EfficientNet-B0, 1024 for MobileNet v1): it must
     * be the one the file's own extractor record names, when it has one. */
    const char *rec = f.extractor ? strchr(f.extractor, ' ') : NULL;
    size_t rec_len = f.extractor ? (rec ? (size_t)(rec - f.extractor) : strlen(f.extractor)) : 0;
    const char *colon = NULL;
    for (size_t i = 0; i < rec_len; i++)
        if (f.extractor[i] == ':') colon = f.extractor + i;
    unsigned long rec_dim = colon ? strtoul(colon + 1, NULL, 10) : 0;
    if (f.dim == 0) {
        snprintf(why, why_cap, "features have no values");
    } else if (rec_dim && rec_dim != f.dim) {
        snprintf(why, why_cap, "features have %zu values per point, their extractor record says %lu", f.dim, rec_dim);
    } else if (f.npoints != g->npoints) {
        snprintf(why, why_cap, "%zu points in the file, %zu in the CSV", f.npoints, g->npoints);
    } else if (!f.valid_rowcol) {
        snprintf(why, why_cap, "the file has no point locations to check against the CSV");
    } else {
        res = OUTPUT_DONE;
        for (size_t i = 0; i < f.npoints; i++) {
            if (f.rows[i] != g->points[i].row || f.cols[i] != g->points[i].col) {
                snprintf(why, why_cap, "point %zu is (row %u, column %u) in the file, (row %u, column %u) in the CSV",
                         i + 1, (unsigned)f.rows[i], (unsigned)f.cols[i], g->points[i].row, g->points[i].col);
                res = OUTPUT_CORRUPT;
                break;
            }
        }
        if (res == OUTPUT_DONE && record && (!f.extractor || strcmp(f.extractor, record) != 0)) {
            snprintf(why, why_cap, "made by extractor '%.200s'", f.extractor ? f.extractor : "(none recorded)");
            res = OUTPUT_FOREIGN;
        }
    }
    /* The record is moved out, not copied: nothing here can fail for want of memory. */
    if (found && (res == OUTPUT_DONE || res == OUTPUT_FOREIGN)) {
        *found = f.extractor;
        f.extractor = NULL;
    }
    polyp_features_free(&f);
    return res;
}
