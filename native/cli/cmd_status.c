/* cmd_status.c - `polyp status`: how far a (sharded) extract run has got, judged from the
 * outputs alone.
 *
 * Exit codes are no evidence: a cancelled pending array task leaves no trace, and
 * `sbatch --wait` returns 0 anyway. So every image of the CSV is looked up under OUTDIR and
 * its feature file read back and checked against the CSV (imageset.c's check_output: npz
 * structure and CRCs, the width its extractor record names, the same points in the same order). Nothing is written.
 *
 * A complete file is also only right when it came from the run's extractor: a folder merged
 * from many nodes, some run on other weights, would have `polyp train` learn from two kinds of
 * features. With --weights every complete file whose extractor record is not those weights'
 * is `foreign`; without, the records of the complete files are tallied, and more than one
 * kind (a folder one run can never leave) fails the check as well. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "imageset.h"
#include "json.h"
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "status";

/* Exit statuses (documented in --help). */
enum { STATUS_COMPLETE = 0, STATUS_INCOMPLETE = 1, STATUS_ERROR = 2 };

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp status --points POINTS.csv --out OUTDIR [--weights W] [--shard-count N]\n"
            "                    [--json] [--all]\n\n"
            "Checks the outputs of `polyp extract` for every image of POINTS.csv: each\n"
            "OUTDIR/<Name>.featurevector is read back and checked against the CSV (valid npz, CRCs,\n"
            "the width its extractor record names, the CSV's points in order) and reported as done,\n"
            "missing or corrupt, or foreign (below). Nothing is written; `polyp extract` with the same\n"
            "arguments redoes what is missing or corrupt.\n\n"
            "  --points CSV       the CSV given to `polyp extract`\n"
            "  --out OUTDIR       its output folder (the union of every shard's outputs)\n"
            "  --weights W        the run's weights (as given to `polyp extract`): a complete file\n"
            "                     whose extractor record is not theirs (or that has none, as\n"
            "                     pyspacer's files) is foreign, with its record in the reason.\n"
            "                     `polyp extract` refuses a folder holding foreign files of the\n"
            "                     images it is given, so rerun their shards with --overwrite\n"
            "                     (which redoes every image of the shard), or delete those files\n"
            "                     and rerun as usual, or extract into another folder\n"
            "  --shard-count N    the N of `--shard I/N`: also name the shard of each image to\n"
            "                     rerun, and list those shards (e.g. for sbatch --array=3,7)\n"
            "  --json             one JSON object on stdout: counts, the extractor records of the\n"
            "                     complete files, shards to rerun and every image with its state\n"
            "                     (and shard, its record's index in \"extractors\", and the reason\n"
            "                     when corrupt or foreign)\n"
            "  --all              text: list done images too (default: only the ones to redo)\n"
            "  --help             this text\n\n"
            "Without --weights the extractor records of the complete files are counted: one run\n"
            "writes one record throughout, so files of more than one (files without a record\n"
            "aside) make the folder mixed, listed with their counts; --weights then names the\n"
            "files that are not of the run's weights.\n\n"
            "Exit status: 0 when every image is done (and, without --weights, not mixed), 1 while\n"
            "any is missing, corrupt or foreign or the folder is mixed, 2 when the check itself\n"
            "failed (unreadable CSV or weights, bad option).\n");
}

typedef struct result {
    output_state state;
    char *why;    /* owned; corrupt and foreign */
    char *record; /* owned (polyp_free): the record of a complete (done or foreign) file, or NULL */
    size_t kind;  /* with a record: its index in the tally's kinds */
} result;

/* The distinct extractor records of the complete files. */
typedef struct record_kind {
    const char *record; /* borrowed from the results */
    size_t files, first; /* how many files carry it; the first image (CSV order) that does */
    size_t group;        /* scratch: its position in record order */
} record_kind;

typedef struct tally {
    record_kind *kinds; /* owned; in order of first appearance in the CSV */
    size_t count;
    size_t unrecorded; /* complete files without a record (pyspacer's) */
} tally;

typedef struct options {
    const char *points, *out, *weights;
    uint32_t shard_count; /* 0: not given */
    bool json, all;
} options;

static int parse_options(int argc, char **argv, options *o, bool *help) {
    memset(o, 0, sizeof *o);
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = true;
            return 0;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--all")) {
            o->all = true;
            continue;
        }
        bool count = !strcmp(a, "--shard-count");
        const char **dst = !strcmp(a, "--points")    ? &o->points
                           : !strcmp(a, "--out")     ? &o->out
                           : !strcmp(a, "--weights") ? &o->weights
                                                     : NULL;
        if (!dst && !count) return cli_fail(CMD, "unknown option '%s' (polyp status --help)", a);
        if (i + 1 >= argc) return cli_fail(CMD, "%s needs a value", a);
        const char *v = argv[++i];
        if (dst) {
            *dst = v;
        } else {
            char msg[256];
            if (!cli_shard_parse_count(v, &o->shard_count, msg, sizeof msg)) return cli_fail(CMD, "%s", msg);
        }
    }
    const char *missing = !o->points ? "--points" : !o->out ? "--out" : NULL;
    if (missing) return cli_fail(CMD, "%s is required (polyp status --help)", missing);
    return 0;
}

/* --------------------------------------------------------------- extractor records */

static int by_record(const void *a, const void *b) {
    const result *x = *(const result *const *)a, *y = *(const result *const *)b;
    int c = strcmp(x->record, y->record);
    return c ? c : (x > y) - (x < y); /* ties in CSV order: the results are one array */
}

static int by_first(const void *a, const void *b) {
    const record_kind *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* Tallies the records of the complete files and sets each one's `kind`. Sorting, not a scan
 * of the kinds seen so far: a folder of hostile files with a record each stays n log n. False
 * when out of memory. */
static bool tally_records(result *res, size_t n, tally *t) {
    memset(t, 0, sizeof *t);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].record) m++;
        else if (res[i].state == OUTPUT_DONE || res[i].state == OUTPUT_FOREIGN) t->unrecorded++;
    }
    if (!m) return true;
    result **order = malloc(m * sizeof *order);
    size_t *rank = malloc(m * sizeof *rank);
    t->kinds = malloc(m * sizeof *t->kinds);
    bool ok = order && rank && t->kinds;
    if (ok) {
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (res[i].record) order[m++] = &res[i];
        qsort(order, m, sizeof *order, by_record);
        for (size_t j = 0; j < m; j++) {
            if (!j || strcmp(order[j]->record, order[j - 1]->record)) { /* a new record, at its first image */
                t->kinds[t->count] = (record_kind){order[j]->record, 0, (size_t)(order[j] - res), t->count};
                t->count++;
            }
            t->kinds[t->count - 1].files++;
            order[j]->kind = t->count - 1;
        }
        qsort(t->kinds, t->count, sizeof *t->kinds, by_first);
        for (size_t k = 0; k < t->count; k++) rank[t->kinds[k].group] = k;
        for (size_t i = 0; i < n; i++)
            if (res[i].record) res[i].kind = rank[res[i].kind];
    }
    free(order);
    free(rank);
    return ok;
}

/* ------------------------------------------------------------------------ reports */

/* Shards that hold at least one image to redo (with `foreign_only`, one foreign file),
 * ascending, as "3,7,12" (for sbatch --array). */
static bool shards_to_rerun(const groups *g, const result *res, uint32_t n, bool foreign_only, polyp_strbuf *list,
                            size_t *count) {
    bool *need = calloc(n, sizeof *need), ok = need != NULL;
    *count = 0;
    if (!need) return false;
    for (size_t i = 0; i < g->count; i++)
        if (foreign_only ? res[i].state == OUTPUT_FOREIGN : res[i].state != OUTPUT_DONE)
            need[cli_shard_of(g->items[i].name, n)] = true;
    for (uint32_t s = 0; s < n && ok; s++) {
        if (!need[s]) continue;
        char num[16];
        snprintf(num, sizeof num, "%s%u", *count ? "," : "", s);
        ok = polyp_strbuf_append_str(list, num);
        ++*count;
    }
    free(need);
    return ok;
}

static bool json_str(polyp_strbuf *b, const char *s) { return polyp_json_write_string(b, s, strlen(s)); }

static bool json_shards(polyp_strbuf *b, const char *key, const groups *g, const result *res, uint32_t n,
                        bool foreign_only) {
    polyp_strbuf list = {0};
    size_t count;
    bool ok = shards_to_rerun(g, res, n, foreign_only, &list, &count) && polyp_strbuf_append_str(b, ", \"") &&
              polyp_strbuf_append_str(b, key) && polyp_strbuf_append_str(b, "\": [") &&
              (!list.len || polyp_strbuf_append(b, list.data, list.len)) && polyp_strbuf_append_str(b, "]");
    polyp_strbuf_free(&list);
    return ok;
}

static bool report_json(const options *o, const char *record, const groups *g, const result *res,
                        const size_t counts[4], const tally *t) {
    polyp_strbuf b = {0};
    char num[64];
    bool ok = polyp_strbuf_append_str(&b, "{\"images\": ");
    ok = ok && polyp_json_write_u64(&b, g->count);
    static const output_state order[4] = {OUTPUT_DONE, OUTPUT_MISSING, OUTPUT_CORRUPT, OUTPUT_FOREIGN};
    for (int k = 0; k < 4 && ok; k++)
        ok = polyp_strbuf_append_str(&b, ", \"") && polyp_strbuf_append_str(&b, output_state_name(order[k])) &&
             polyp_strbuf_append_str(&b, "\": ") && polyp_json_write_u64(&b, counts[order[k]]);
    if (ok && record) ok = polyp_strbuf_append_str(&b, ", \"weights_record\": ") && json_str(&b, record);
    ok = ok && polyp_strbuf_append_str(&b, ", \"extractors\": [");
    for (size_t k = 0; k < t->count && ok; k++)
        ok = polyp_strbuf_append_str(&b, k ? ", {\"record\": " : "{\"record\": ") && json_str(&b, t->kinds[k].record) &&
             polyp_strbuf_append_str(&b, ", \"files\": ") && polyp_json_write_u64(&b, t->kinds[k].files) &&
             polyp_strbuf_append_str(&b, "}");
    ok = ok && polyp_strbuf_append_str(&b, "], \"unrecorded\": ") && polyp_json_write_u64(&b, t->unrecorded) &&
         polyp_strbuf_append_str(&b, t->count > 1 ? ", \"mixed\": true" : ", \"mixed\": false");
    if (ok && o->shard_count) {
        snprintf(num, sizeof num, ", \"shard_count\": %u", o->shard_count);
        ok = polyp_strbuf_append_str(&b, num) && json_shards(&b, "shards_to_rerun", g, res, o->shard_count, false) &&
             json_shards(&b, "shards_to_overwrite", g, res, o->shard_count, true);
    }
    ok = ok && polyp_strbuf_append_str(&b, ", \"per_image\": [");
    for (size_t i = 0; i < g->count && ok; i++) {
        ok = polyp_strbuf_append_str(&b, i ? ",\n  {\"name\": " : "\n  {\"name\": ") && json_str(&b, g->items[i].name) &&
             polyp_strbuf_append_str(&b, ", \"state\": \"") && polyp_strbuf_append_str(&b, output_state_name(res[i].state)) &&
             polyp_strbuf_append_str(&b, "\"");
        if (ok && o->shard_count) {
            snprintf(num, sizeof num, ", \"shard\": %u", cli_shard_of(g->items[i].name, o->shard_count));
            ok = polyp_strbuf_append_str(&b, num);
        }
        if (ok && res[i].record) ok = polyp_strbuf_append_str(&b, ", \"extractor\": ") && polyp_json_write_u64(&b, res[i].kind);
        if (ok && res[i].why) ok = polyp_strbuf_append_str(&b, ", \"reason\": ") && json_str(&b, res[i].why);
        ok = ok && polyp_strbuf_append_str(&b, "}");
    }
    ok = ok && polyp_strbuf_append_str(&b, "]}\n");
    if (ok) fwrite(b.data, 1, b.len, stdout);
    polyp_strbuf_free(&b);
    return ok;
}

/* Without --weights, a mixed folder: its records, their counts and a file of each. Lines
 * that are not an image's start with "extractors:" or spaces, never with a state. */
static void report_mixed(const groups *g, const tally *t) {
    size_t files = t->unrecorded;
    for (size_t k = 0; k < t->count; k++) files += t->kinds[k].files;
    printf("extractors: the %zu complete files carry %zu different extractor records (one run writes one):\n", files,
           t->count);
    for (size_t k = 0; k < t->count; k++)
        printf("  %zu file%s (the first %s): %s\n", t->kinds[k].files, t->kinds[k].files == 1 ? "" : "s",
               g->items[t->kinds[k].first].name, t->kinds[k].record);
    if (t->unrecorded) printf("  %zu file%s without a record (pyspacer's?)\n", t->unrecorded, t->unrecorded == 1 ? "" : "s");
    printf("extractors: polyp status --weights W, with the run's weights, names the files that are not theirs\n");
}

/* With --weights, foreign files: extract refuses their shards, so "rerun" alone would not do. */
static bool report_foreign(const options *o, const char *record, const groups *g, const result *res,
                           size_t foreign) {
    printf("extractors: %zu file%s made by another extractor than these weights' (%s); polyp extract refuses to "
           "run over them: ", foreign, foreign == 1 ? " was" : "s were", record);
    if (o->shard_count) {
        polyp_strbuf list = {0};
        size_t n = 0;
        if (!shards_to_rerun(g, res, o->shard_count, true, &list, &n)) return polyp_strbuf_free(&list), false;
        printf("rerun shard%s %.*s with --overwrite (it redoes all of a shard's images)", n > 1 ? "s" : "",
               (int)list.len, list.data);
        polyp_strbuf_free(&list);
    } else {
        printf("rerun with --overwrite (it redoes every image)");
    }
    printf(", delete those files and rerun as usual, or extract into another folder\n");
    return true;
}

static bool report_text(const options *o, const char *record, const groups *g, const result *res,
                        const size_t counts[4], const tally *t) {
    for (size_t i = 0; i < g->count; i++) {
        if (res[i].state == OUTPUT_DONE && !o->all) continue;
        printf("%-8s %s", output_state_name(res[i].state), g->items[i].name);
        if (o->shard_count) printf("  (shard %u/%u)", cli_shard_of(g->items[i].name, o->shard_count), o->shard_count);
        if (res[i].why) printf(": %s", res[i].why);
        putchar('\n');
    }
    if (!record && t->count > 1) report_mixed(g, t);
    if (counts[OUTPUT_FOREIGN] && !report_foreign(o, record, g, res, counts[OUTPUT_FOREIGN])) return false;
    /* The summary stays the last line, its shard list last (scripts read `tail -n 1`). */
    printf("%zu images: %zu done, %zu missing, %zu corrupt", g->count, counts[OUTPUT_DONE], counts[OUTPUT_MISSING],
           counts[OUTPUT_CORRUPT]);
    if (record) printf(", %zu foreign", counts[OUTPUT_FOREIGN]);
    if (!record && t->count > 1) printf("; mixed: %zu extractor records", t->count);
    if (o->shard_count && counts[OUTPUT_DONE] < g->count) {
        polyp_strbuf list = {0};
        size_t n = 0;
        bool ok = shards_to_rerun(g, res, o->shard_count, false, &list, &n);
        if (ok) printf("; %zu of %u shards to rerun: %.*s", n, o->shard_count, (int)list.len, list.data);
        polyp_strbuf_free(&list);
        if (!ok) return false;
    }
    putchar('\n');
    return true;
}

/* ------------------------------------------------------------------------- command */

/* The record files of `path` must carry to be done: the one `polyp extract` writes with them. */
static bool weights_record(const char *path, char record[EXTRACTOR_RECORD_CAP]) {
    polyp_error err = {0};
    polyp_weights *w = NULL;
    if (polyp_weights_load_file(path, &w, &err) != POLYP_OK) return cli_fail_err(CMD, &err), false;
    extractor_record(w, record);
    polyp_weights_free(w);
    return true;
}

int polyp_cmd_status(int argc, char **argv) {
    options o;
    bool help;
    if (parse_options(argc, argv, &o, &help)) return STATUS_ERROR;
    if (help) {
        usage(stdout);
        return 0;
    }
    char record_buf[EXTRACTOR_RECORD_CAP];
    const char *record = NULL;
    if (o.weights) {
        if (!weights_record(o.weights, record_buf)) return STATUS_ERROR;
        record = record_buf;
    }
    polyp_error err = {0};
    void *csv;
    size_t csv_size;
    if (!cli_read_file(o.points, &csv, &csv_size, &err)) return cli_fail_err(CMD, &err) + 1;
    polyp_annotations ann;
    polyp_status st = polyp_annotations_parse_csv(csv, csv_size, &ann, &err);
    polyp_free(csv);
    if (st != POLYP_OK) return cli_fail(CMD, "%s: %s", o.points, err.message) + 1;
    groups g;
    result *res = NULL;
    tally t = {0};
    int rc = group_points(&ann, &g) && (res = calloc(g.count ? g.count : 1, sizeof *res))
                 ? 0 : cli_fail(CMD, "out of memory for %zu points", ann.count) + 1;
    size_t counts[4] = {0, 0, 0, 0}; /* by output_state */
    char path[4096], why[512];
    for (size_t i = 0; i < g.count && !rc; i++) {
        const char *name = g.items[i].name;
        if (!name_is_safe(name))
            rc = cli_fail(CMD, "%s: image name '%s' (point %zu) must be a relative path without '..'", o.points, name,
                          g.items[i].first_item + 1) + 1;
        else if (!path_join(path, sizeof path, o.out, name, ".featurevector"))
            rc = cli_fail(CMD, "image name '%s' makes a path that is too long", name) + 1;
        if (rc) break;
        res[i].state = check_output_record(path, &g.items[i], record, why, sizeof why, &res[i].record);
        if (why[0] && !(res[i].why = strdup(why))) rc = cli_fail(CMD, "out of memory") + 1;
        counts[res[i].state]++;
    }
    if (!rc && !tally_records(res, g.count, &t)) rc = cli_fail(CMD, "out of memory") + 1;
    if (!rc) {
        bool ok = o.json ? report_json(&o, record, &g, res, counts, &t) : report_text(&o, record, &g, res, counts, &t);
        rc = !ok ? cli_fail(CMD, "out of memory writing the report") + 1
           : counts[OUTPUT_DONE] == g.count && t.count <= 1 ? STATUS_COMPLETE : STATUS_INCOMPLETE;
    }
    for (size_t i = 0; res && i < g.count; i++) {
        free(res[i].why);
        polyp_free(res[i].record);
    }
    free(res);
    free(t.kinds);
    groups_free(&g);
    polyp_annotations_free(&ann);
    return rc;
}
