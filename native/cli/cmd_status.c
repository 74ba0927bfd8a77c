/* cmd_status.c - `polyp status`: how far a (sharded) extract run has got, judged from the
 * outputs alone.
 *
 * Exit codes are no evidence: a cancelled pending array task leaves no trace, and
 * `sbatch --wait` returns 0 anyway. So every image of the CSV is looked up under OUTDIR and
 * its feature file read back and checked against the CSV (imageset.c's check_output: npz
 * structure and CRCs, the width its extractor record names, the same points in the same order). Nothing is written. */
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
            "usage: polyp status --points POINTS.csv --out OUTDIR [--shard-count N] [--json] [--all]\n\n"
            "Checks the outputs of `polyp extract` for every image of POINTS.csv: each\n"
            "OUTDIR/<Name>.featurevector is read back and checked against the CSV (valid npz, CRCs,\n"
            "the width its extractor record names, the CSV's points in order) and reported as done, missing or\n"
            "corrupt. Nothing is written; `polyp extract` with the same arguments redoes what is\n"
            "missing or corrupt.\n\n"
            "  --points CSV       the CSV given to `polyp extract`\n"
            "  --out OUTDIR       its output folder (the union of every shard's outputs)\n"
            "  --shard-count N    the N of `--shard I/N`: also name the shard of each image to\n"
            "                     rerun, and list those shards (e.g. for sbatch --array=3,7)\n"
            "  --json             one JSON object on stdout: counts, shards to rerun and every\n"
            "                     image with its state (and shard, and the reason when corrupt)\n"
            "  --all              text: list done images too (default: only the ones to redo)\n"
            "  --help             this text\n\n"
            "Exit status: 0 when every image is done, 1 while any is missing or corrupt, 2 when\n"
            "the check itself failed (unreadable CSV, bad option).\n");
}

typedef struct result {
    output_state state;
    char *why; /* owned; corrupt only */
} result;

typedef struct options {
    const char *points, *out;
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
        const char **dst = !strcmp(a, "--points") ? &o->points : !strcmp(a, "--out") ? &o->out : NULL;
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

/* Shards that hold at least one image to redo, ascending, as "3,7,12" (for sbatch --array). */
static bool shards_to_rerun(const groups *g, const result *res, uint32_t n, polyp_strbuf *list, size_t *count) {
    bool *need = calloc(n, sizeof *need), ok = need != NULL;
    *count = 0;
    if (!need) return false;
    for (size_t i = 0; i < g->count; i++)
        if (res[i].state != OUTPUT_DONE) need[cli_shard_of(g->items[i].name, n)] = true;
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

static bool report_json(const options *o, const groups *g, const result *res, const size_t counts[3]) {
    polyp_strbuf b = {0}, list = {0};
    size_t nshards = 0;
    char num[64];
    bool ok = polyp_strbuf_append_str(&b, "{\"images\": ");
    ok = ok && polyp_json_write_u64(&b, g->count);
    static const char *const keys[3] = {", \"done\": ", ", \"missing\": ", ", \"corrupt\": "};
    for (int k = 0; k < 3 && ok; k++) ok = polyp_strbuf_append_str(&b, keys[k]) && polyp_json_write_u64(&b, counts[k]);
    if (o->shard_count) {
        ok = ok && shards_to_rerun(g, res, o->shard_count, &list, &nshards);
        snprintf(num, sizeof num, ", \"shard_count\": %u, \"shards_to_rerun\": [", o->shard_count);
        ok = ok && polyp_strbuf_append_str(&b, num) && (!list.len || polyp_strbuf_append(&b, list.data, list.len)) &&
             polyp_strbuf_append_str(&b, "]");
    }
    ok = ok && polyp_strbuf_append_str(&b, ", \"per_image\": [");
    for (size_t i = 0; i < g->count && ok; i++) {
        ok = polyp_strbuf_append_str(&b, i ? ",\n  {\"name\": " : "\n  {\"name\": ") &&
             polyp_json_write_string(&b, g->items[i].name, strlen(g->items[i].name)) &&
             polyp_strbuf_append_str(&b, ", \"state\": \"") && polyp_strbuf_append_str(&b, output_state_name(res[i].state)) &&
             polyp_strbuf_append_str(&b, "\"");
        if (ok && o->shard_count) {
            snprintf(num, sizeof num, ", \"shard\": %u", cli_shard_of(g->items[i].name, o->shard_count));
            ok = polyp_strbuf_append_str(&b, num);
        }
        if (ok && res[i].why)
            ok = polyp_strbuf_append_str(&b, ", \"reason\": ") && polyp_json_write_string(&b, res[i].why, strlen(res[i].why));
        ok = ok && polyp_strbuf_append_str(&b, "}");
    }
    ok = ok && polyp_strbuf_append_str(&b, "]}\n");
    if (ok) fwrite(b.data, 1, b.len, stdout);
    polyp_strbuf_free(&b);
    polyp_strbuf_free(&list);
    return ok;
}

static bool report_text(const options *o, const groups *g, const result *res, const size_t counts[3]) {
    for (size_t i = 0; i < g->count; i++) {
        if (res[i].state == OUTPUT_DONE && !o->all) continue;
        printf("%-8s %s", output_state_name(res[i].state), g->items[i].name);
        if (o->shard_count) printf("  (shard %u/%u)", cli_shard_of(g->items[i].name, o->shard_count), o->shard_count);
        if (res[i].why) printf(": %s", res[i].why);
        putchar('\n');
    }
    printf("%zu images: %zu done, %zu missing, %zu corrupt", g->count, counts[0], counts[1], counts[2]);
    if (o->shard_count && counts[0] < g->count) {
        polyp_strbuf list = {0};
        size_t n = 0;
        bool ok = shards_to_rerun(g, res, o->shard_count, &list, &n);
        if (ok) printf("; %zu of %u shards to rerun: %.*s", n, o->shard_count, (int)list.len, list.data);
        polyp_strbuf_free(&list);
        if (!ok) return false;
    }
    putchar('\n');
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
    int rc = group_points(&ann, &g) && (res = calloc(g.count ? g.count : 1, sizeof *res))
                 ? 0 : cli_fail(CMD, "out of memory for %zu points", ann.count) + 1;
    size_t counts[3] = {0, 0, 0};
    char path[4096], why[512];
    for (size_t i = 0; i < g.count && !rc; i++) {
        const char *name = g.items[i].name;
        if (!name_is_safe(name))
            rc = cli_fail(CMD, "%s: image name '%s' (point %zu) must be a relative path without '..'", o.points, name,
                          g.items[i].first_item + 1) + 1;
        else if (!path_join(path, sizeof path, o.out, name, ".featurevector"))
            rc = cli_fail(CMD, "image name '%s' makes a path that is too long", name) + 1;
        if (rc) break;
        res[i].state = check_output(path, &g.items[i], NULL, why, sizeof why);
        if (res[i].state == OUTPUT_CORRUPT && !(res[i].why = strdup(why)))
            rc = cli_fail(CMD, "out of memory") + 1;
        counts[res[i].state]++;
    }
    if (!rc) {
        bool ok = o.json ? report_json(&o, &g, res, counts) : report_text(&o, &g, res, counts);
        rc = !ok ? cli_fail(CMD, "out of memory writing the report") + 1
           : counts[OUTPUT_DONE] == g.count ? STATUS_COMPLETE : STATUS_INCOMPLETE;
    }
    for (size_t i = 0; res && i < g.count; i++) free(res[i].why);
    free(res);
    groups_free(&g);
    polyp_annotations_free(&ann);
    return rc;
}
