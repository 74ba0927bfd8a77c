/* cmd_extract.c - `polyp extract`: photos + a CoralNet points CSV -> one pyspacer
 * .featurevector per image.
 *
 * Order of work: parse the CSV; group points by image (first-appearance order of images,
 * file order of points within an image); check every image exists before any heavy work
 * (all missing ones are listed); then per image: skip when its output already exists
 * (resume), decode, check the points lie inside it, extract, write the npz atomically
 * (never a half-written file under the final name). Ctrl-C stops after the current image. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "threadpool.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const CMD = "extract";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp extract --weights W --images DIR --points POINTS.csv --out OUTDIR\n"
            "                     [--threads N] [--backend auto|xnnpack|portable] [--batch N] [--overwrite]\n"
            "                     [--kernels auto|scalar|v128|avx2|avx512]\n\n"
            "Extracts the network feature of every point in POINTS.csv and writes\n"
            "OUTDIR/<Name>.featurevector per image (pyspacer's npz layout, readable with numpy.load),\n"
            "with the extractor's record (kind:sha256:dim and variant) that polyp train binds models to.\n\n"
            "  --weights PATH   network weights, format detected from the bytes: safetensors\n"
            "                   (models/convert.py; `polyp testnet` writes an untrained one), a PyTorch\n"
            "                   checkpoint (.pt/.pth as CoralNet, lukemelas or torchvision save it;\n"
            "                   read without running any pickled code), or a uint8 TFLite MobileNet\n"
            "                   v1 / v2 (portable backend; 1024-d / 1280-d features)\n"
            "                   extractor kinds: " POLYP_EXTRACTOR_KINDS "\n"
            "  --images DIR     folder the CSV's image names are relative to\n"
            "  --points CSV     CoralNet annotation CSV: Name, Row, Column (any other columns are\n"
            "                   ignored; `image,row,column` also works)\n"
            "  --out OUTDIR     output folder (created; names with '/' make subfolders)\n"
            "  --threads N      compute threads (default: the number of CPUs)\n"
            "  --backend B      auto (default: portable with AVX2/AVX-512 kernels, else xnnpack when\n"
            "                   built), xnnpack or portable\n"
            "  --batch N        patches per network run (default 8)\n"
            "  --kernels K      portable backend's kernels: auto (default: the best this CPU runs),\n"
            "                   scalar, v128 (the browser's SIMD128 arithmetic), avx2, avx512\n"
            "  --overwrite      redo images whose .featurevector already exists (default: skip them)\n"
            "  --help           this text\n\n"
            "Progress goes to stderr. Interrupting (Ctrl-C) stops after the current image; rerun the\n"
            "same command to resume: finished images are skipped.\n");
}

/* ------------------------------------------------------------------ grouping points */

typedef struct image_group {
    const char *name;      /* borrowed from the annotations */
    polyp_point *points;   /* npoints, in CSV order */
    size_t npoints, cap;
    size_t first_item;     /* index of its first point in the CSV (for messages) */
} image_group;

typedef struct groups {
    image_group *items;
    size_t count;
    size_t *slots;  /* open-addressing hash: group index + 1, 0 = empty */
    size_t nslots;
} groups;

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void groups_free(groups *g) {
    for (size_t i = 0; i < g->count; i++) free(g->items[i].points);
    free(g->items);
    free(g->slots);
    memset(g, 0, sizeof *g);
}

static bool group_points(const polyp_annotations *a, groups *g) {
    memset(g, 0, sizeof *g);
    g->nslots = 16;
    while (g->nslots < a->count * 2) g->nslots *= 2;
    g->slots = calloc(g->nslots, sizeof *g->slots);
    g->items = calloc(a->count ? a->count : 1, sizeof *g->items);
    if (!g->slots || !g->items) return false;
    for (size_t i = 0; i < a->count; i++) {
        const polyp_annotation *an = &a->items[i];
        size_t s = (size_t)(hash_name(an->name) & (g->nslots - 1));
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

/* ------------------------------------------------------------------ paths */

/* Image names come from a CSV: keep outputs inside OUTDIR and inputs inside DIR. */
static bool name_is_safe(const char *name) {
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

static bool join(char *buf, size_t cap, const char *dir, const char *name, const char *suffix) {
    return (size_t)snprintf(buf, cap, "%s/%s%s", dir, name, suffix) < cap;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p of the folder part of `path` (everything before the last '/'). */
static bool make_parent_dirs(const char *path, bool include_last) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(buf, path, n + 1);
    if (!include_last) {
        char *last = strrchr(buf, '/');
        if (!last) return true;
        *last = '\0';
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return false;
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return false;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    return true;
}

/* A run killed without warning (SIGKILL, power loss) leaves "<name>.featurevector.tmp-<pid>"
 * files behind (never a file under the final name). Removes those in `dir` whose process is
 * gone, so a resumed run cleans up after the one that died; returns how many. */
static size_t remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *tag = strstr(e->d_name, ".featurevector.tmp-");
        if (!tag) continue;
        char *end;
        long pid = strtol(tag + strlen(".featurevector.tmp-"), &end, 10);
        if (*end || pid <= 0 || (long)getpid() == pid) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* still running: not ours */
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* remove_stale_temps for every folder the outputs of `g` go to (each folder once). */
static void clean_output_folders(const groups *g, const char *out_dir) {
    char **seen = calloc(g->count + 1, sizeof *seen);
    size_t nseen = 0, removed = 0;
    if (!seen) return;
    for (size_t i = 0; i < g->count; i++) {
        char dir[4096];
        const char *slash = strrchr(g->items[i].name, '/');
        int len = slash ? (int)(slash - g->items[i].name) : 0;
        if ((size_t)snprintf(dir, sizeof dir, "%s%s%.*s", out_dir, slash ? "/" : "", len, g->items[i].name) >= sizeof dir)
            continue;
        size_t k = 0;
        while (k < nseen && strcmp(seen[k], dir) != 0) k++;
        if (k < nseen || !(seen[nseen] = strdup(dir))) continue;
        nseen++;
        removed += remove_stale_temps(dir);
    }
    for (size_t k = 0; k < nseen; k++) free(seen[k]);
    free(seen);
    if (removed)
        fprintf(stderr, "polyp %s: removed %zu temporary file%s left by an earlier run that was killed\n", CMD, removed,
                removed == 1 ? "" : "s");
}

/* ------------------------------------------------------------------ one image */

typedef struct run_ctx {
    polyp_extractor *extractor;
    size_t dim;           /* the network's feature width */
    char *record;         /* extractor record written into every file */
    float *feat;          /* scratch, grown to the largest image */
    size_t feat_cap;      /* floats */
} run_ctx;

/* Returns 0 on success, else the exit status after printing the reason. */
static int process_image(run_ctx *rc, const image_group *g, const char *in_path, const char *out_path) {
    polyp_error err = {0};
    polyp_image img;
    if (polyp_image_load_file(in_path, NULL, &img, &err) != POLYP_OK) return cli_fail(CMD, "%s", err.message);
    for (size_t i = 0; i < g->npoints; i++) {
        if (g->points[i].row >= img.height || g->points[i].col >= img.width) {
            int r = cli_fail(CMD, "%s: point %zu (row %u, column %u) is outside the %ux%u image (rows 0..%u, columns 0..%u)",
                             g->name, i + 1, g->points[i].row, g->points[i].col, img.width, img.height,
                             img.height - 1, img.width - 1);
            polyp_image_free(&img);
            return r;
        }
    }
    size_t need = g->npoints * rc->dim;
    if (need > rc->feat_cap) {
        float *nf = realloc(rc->feat, need * sizeof *nf);
        if (!nf) {
            polyp_image_free(&img);
            return cli_fail(CMD, "%s: out of memory for %zu points", g->name, g->npoints);
        }
        rc->feat = nf;
        rc->feat_cap = need;
    }
    polyp_status st = polyp_extract_points(rc->extractor, &img, g->points, g->npoints, rc->feat, &err);
    polyp_image_free(&img);
    if (st != POLYP_OK) return cli_fail(CMD, "%s: %s", g->name, err.message);

    uint16_t *rows = malloc(g->npoints * sizeof *rows), *cols = malloc(g->npoints * sizeof *cols);
    if (!rows || !cols) {
        free(rows);
        free(cols);
        return cli_fail(CMD, "%s: out of memory", g->name);
    }
    for (size_t i = 0; i < g->npoints; i++) {
        /* Points lie inside an image whose sides are capped at 65535 by the decoder. */
        rows[i] = (uint16_t)g->points[i].row;
        cols[i] = (uint16_t)g->points[i].col;
    }
    polyp_features f = {g->npoints, rc->dim, 1, rows, cols, rc->feat, rc->record};
    void *npz;
    size_t npz_size;
    st = polyp_features_write_npz(&f, &npz, &npz_size, &err);
    free(rows);
    free(cols);
    if (st != POLYP_OK) return cli_fail(CMD, "%s: %s", g->name, err.message);
    if (!make_parent_dirs(out_path, false)) {
        polyp_free(npz);
        return cli_fail(CMD, "%s: cannot create its folder: %s", out_path, strerror(errno));
    }
    bool ok = cli_write_file_atomic(out_path, npz, npz_size, &err);
    polyp_free(npz);
    if (!ok) return cli_fail_err(CMD, &err);
    return 0;
}

/* ------------------------------------------------------------------ the command */

typedef struct options {
    const char *weights, *images, *points, *out, *kernels;
    size_t threads, batch;
    polyp_backend backend;
    bool overwrite;
} options;

static int parse_options(int argc, char **argv, options *o, bool *help) {
    memset(o, 0, sizeof *o);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus > 0 ? (size_t)cpus : 1;
    o->batch = polyp_extractor_default_params().batch_size;
    o->backend = POLYP_BACKEND_AUTO;
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = true;
            return 0;
        }
        if (!strcmp(a, "--overwrite")) {
            o->overwrite = true;
            continue;
        }
        const char **dst = !strcmp(a, "--weights") ? &o->weights : !strcmp(a, "--images") ? &o->images
                         : !strcmp(a, "--points") ? &o->points : !strcmp(a, "--out") ? &o->out
                         : !strcmp(a, "--kernels") ? &o->kernels : NULL;
        bool numeric = !strcmp(a, "--threads") || !strcmp(a, "--batch");
        if (!dst && !numeric && strcmp(a, "--backend") != 0)
            return cli_fail(CMD, "unknown option '%s' (polyp extract --help)", a);
        if (i + 1 >= argc) return cli_fail(CMD, "%s needs a value", a);
        const char *v = argv[++i];
        if (dst) {
            *dst = v;
        } else if (numeric) {
            size_t *n = !strcmp(a, "--threads") ? &o->threads : &o->batch;
            if (!cli_parse_size(CMD, a, v, n)) return 1;
            size_t max = !strcmp(a, "--threads") ? POLYP_THREADPOOL_MAX_THREADS : 4096;
            if (*n < 1 || *n > max) return cli_fail(CMD, "%s must be between 1 and %zu, got %s", a, max, v);
        } else if (!strcmp(v, "auto")) {
            o->backend = POLYP_BACKEND_AUTO;
        } else if (!strcmp(v, "xnnpack")) {
            o->backend = POLYP_BACKEND_XNNPACK;
        } else if (!strcmp(v, "portable")) {
            o->backend = POLYP_BACKEND_PORTABLE;
        } else {
            return cli_fail(CMD, "--backend must be auto, xnnpack or portable, got '%s'", v);
        }
    }
    const char *missing = !o->weights ? "--weights" : !o->images ? "--images" : !o->points ? "--points"
                        : !o->out ? "--out" : NULL;
    if (missing) return cli_fail(CMD, "%s is required (polyp extract --help)", missing);
    return 0;
}

int polyp_cmd_extract(int argc, char **argv) {
    options o;
    bool help;
    int rc = parse_options(argc, argv, &o, &help);
    if (help) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;

    polyp_error err = {0};
    void *csv;
    size_t csv_size;
    if (!cli_read_file(o.points, &csv, &csv_size, &err)) return cli_fail_err(CMD, &err);
    polyp_annotations ann;
    polyp_status st = polyp_annotations_parse_csv(csv, csv_size, &ann, &err);
    polyp_free(csv);
    if (st != POLYP_OK) return cli_fail(CMD, "%s: %s", o.points, err.message);
    if (ann.count == 0) {
        polyp_annotations_free(&ann);
        return cli_fail(CMD, "%s: no points", o.points);
    }

    groups g;
    if (!group_points(&ann, &g)) {
        groups_free(&g);
        polyp_annotations_free(&ann);
        return cli_fail(CMD, "out of memory grouping %zu points", ann.count);
    }

    /* Everything that can be checked without the network is checked first, so a typo in
     * the CSV does not surface hours into a run. */
    char in_path[4096], out_path[4096];
    size_t missing = 0, done_before = 0;
    bool *skip = calloc(g.count, sizeof *skip);
    rc = skip ? 0 : cli_fail(CMD, "out of memory");
    for (size_t i = 0; i < g.count && !rc; i++) {
        const char *name = g.items[i].name;
        if (!name_is_safe(name)) {
            rc = cli_fail(CMD, "%s: image name '%s' (point %zu) must be a relative path without '..'", o.points,
                          name, g.items[i].first_item + 1);
            break;
        }
        if (!join(in_path, sizeof in_path, o.images, name, "") ||
            !join(out_path, sizeof out_path, o.out, name, ".featurevector")) {
            rc = cli_fail(CMD, "image name '%s' makes a path that is too long", name);
            break;
        }
        if (!is_file(in_path)) {
            fprintf(stderr, "polyp %s: missing image: %s\n", CMD, in_path);
            missing++;
            continue;
        }
        if (!o.overwrite && is_file(out_path)) {
            skip[i] = true;
            done_before++;
        }
    }
    if (!rc && missing)
        rc = cli_fail(CMD, "%zu of %zu images named in %s are missing from %s", missing, g.count, o.points, o.images);
    if (!rc && !make_parent_dirs(o.out, true))
        rc = cli_fail(CMD, "%s: cannot create the output folder: %s", o.out, strerror(errno));
    if (!rc) clean_output_folders(&g, o.out);

    polyp_weights *weights = NULL;
    polyp_threadpool *pool = NULL;
    polyp_extractor *extractor = NULL;
    polyp_parallel par;
    size_t todo = g.count - done_before;
    if (!rc && done_before)
        fprintf(stderr, "polyp %s: %zu of %zu images already have features in %s: skipping them%s\n", CMD,
                done_before, g.count, o.out, todo ? "" : " (nothing left to do; --overwrite redoes them)");
    if (!rc && todo > 0) {
        if (polyp_weights_load_file(o.weights, &weights, &err) != POLYP_OK)
            rc = cli_fail(CMD, "%s", err.message);
        else if (polyp_threadpool_create((int)o.threads, &pool, &err) != POLYP_OK)
            rc = cli_fail_err(CMD, &err);
    }
    if (!rc && todo > 0) {
        par = polyp_threadpool_parallel(pool);
        polyp_extractor_params ep = polyp_extractor_default_params();
        ep.backend = o.backend;
        ep.batch_size = o.batch;
        ep.kernels = o.kernels;
        ep.n_threads = (int)o.threads;
        ep.parallel = &par;
        if (polyp_extractor_init(weights, &ep, &extractor, &err) != POLYP_OK) rc = cli_fail_err(CMD, &err);
    }

    if (!rc && todo > 0) {
        cli_install_signal_handlers();
        /* The record binds the files to their extractor (polyp train reads it). */
        char record[POLYP_EXTRACTOR_ID_MAX + 64];
        snprintf(record, sizeof record, "%s variant=%s", polyp_weights_extractor_id(weights),
                 polyp_weights_variant(weights));
        run_ctx ctx = {extractor, polyp_weights_feature_dim(weights), record, NULL, 0};
        cli_progress p;
        cli_progress_begin(&p, "extract: images", todo);
        size_t done = 0, patches = 0;
        for (size_t i = 0; i < g.count && !rc; i++) {
            if (skip[i]) continue;
            if (cli_interrupted) break;
            join(in_path, sizeof in_path, o.images, g.items[i].name, "");
            join(out_path, sizeof out_path, o.out, g.items[i].name, ".featurevector");
            rc = process_image(&ctx, &g.items[i], in_path, out_path);
            if (rc) break;
            done++;
            patches += g.items[i].npoints;
            double el = cli_now() - p.start;
            cli_progress_update(&p, done, el > 0 ? (double)patches / el : 0.0, "patches");
        }
        cli_progress_end(&p);
        free(ctx.feat);
        if (!rc && done < todo) {
            rc = cli_fail(CMD, "interrupted after %zu of %zu images; rerun the same command to resume "
                               "(finished images are skipped)", done, todo);
        } else if (!rc) {
            double el = cli_now() - p.start;
            fprintf(stderr, "polyp %s: wrote %zu feature files (%zu patches) to %s in %.1f s (backend %s, %zu threads)\n",
                    CMD, done, patches, o.out, el, polyp_extractor_backend_name(extractor), o.threads);
        }
    }

    if (extractor) polyp_extractor_free(extractor);
    polyp_threadpool_destroy(pool);
    if (weights) polyp_weights_free(weights);
    free(skip);
    groups_free(&g);
    polyp_annotations_free(&ann);
    return rc ? 1 : 0;
}
