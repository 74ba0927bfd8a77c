/* cmd_extract.c - `polyp extract`: photos + a CoralNet points CSV -> one pyspacer
 * .featurevector per image.
 *
 * Order of work: parse the CSV; group points by image (first-appearance order of images,
 * file order of points within an image); check every image exists before any heavy work
 * (all missing ones are listed); keep the images of this --shard; check existing outputs
 * against the CSV (resume: finished ones are skipped, corrupt ones redone); then per image:
 * decode, check the points lie inside it, extract, write the npz atomically (never a
 * half-written file under the final name). Ctrl-C / SIGTERM cancel the current image between
 * batches (through the extractor's progress callback) and nothing of it is written. */
#define _POSIX_C_SOURCE 200809L
#include "cuda_plan.h"
#include "extract.h"
#include "imageset.h"
#include "shard.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const CMD = "extract";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp extract --weights W --images DIR --points POINTS.csv --out OUTDIR\n"
            "                     [--threads N] [--backend auto|cuda|xnnpack|portable] [--batch N] [--overwrite]\n"
            "                     [--precision exact|fast] [--devices 0,1]\n"
            "                     [--kernels auto|scalar|v128|avx2|avx512] [--shard I/N] [--queue N]\n\n"
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
            "  --threads N      threads (default: the number of CPUs). With a queue (below), each\n"
            "                   thread is a worker that decodes, crops and runs the network on\n"
            "                   whatever is ready, with its own network buffers (about 14 MB each\n"
            "                   at --batch 8 on the portable backend; the weights are shared)\n"
            "  --backend B      auto (default: cuda when built and a GPU is usable, else portable with\n"
            "                   AVX2/AVX-512 kernels, else xnnpack when built), cuda, xnnpack or portable\n"
            "  --precision P    cuda backend: exact (default: FP32, no TF32, within 1e-4 of PyTorch)\n"
            "                   or fast (fp16 activations, fp32 accumulation); CPU backends are exact\n"
            "  --devices LIST   cuda backend: the GPUs to use, e.g. 0,1 (default 0; for now the first\n"
            "                   one listed runs the whole job)\n"
            "  --batch N        patches per network run (default 8)\n"
            "  --queue N        photos decoded (or being decoded) and held in memory at once, at\n"
            "                   most (default: the thread count, at most 8; with --threads 1 the\n"
            "                   default is 0). 0: the serial path, one photo at a time, decode and\n"
            "                   network taking turns, the network on all threads. The features are\n"
            "                   the same bits either way.\n"
            "  --kernels K      portable backend's kernels: auto (default: the best this CPU runs),\n"
            "                   scalar, v128 (the browser's SIMD128 arithmetic), avx2, avx512\n"
            "  --overwrite      redo images whose .featurevector already exists (default: skip them)\n"
            "  --shard I/N      handle only shard I (0-based) of N: the images whose name hashes to I\n"
            "                   (FNV-1a 64 of the name's bytes, mod N), so N tasks of an array job given\n"
            "                   0/N .. N-1/N split one run between them, and adding images to the CSV\n"
            "                   never moves a finished image to another shard. N is always explicit.\n"
            "  --help           this text\n\n"
            "Progress goes to stderr. Ctrl-C or SIGTERM (scancel, preemption, a time limit) stops\n"
            "within one batch: the current image is abandoned, never half-written (files are\n"
            "written to a temporary name and renamed). Rerun the same command to resume: existing\n"
            "outputs are read back and checked against the CSV; finished images are skipped,\n"
            "corrupt or mismatched ones redone. Two runs over one folder write identical bytes.\n");
}

/* ------------------------------------------------------------------ paths */

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

/* A temporary file another host's task has not touched for this long is abandoned: a
 * feature file is written in well under a second. */
#define STALE_TEMP_SECONDS 600

/* A run killed without warning (SIGKILL, power loss, a node lost) leaves
 * "<name>.featurevector.tmp-<pid>-<host>" files behind (never a file under the final name).
 * Removes those in `dir` that belong to a finished process: same host and no such pid, or
 * another host and untouched for STALE_TEMP_SECONDS (its pid means nothing here). Temps of
 * live tasks, on this node or another of a shared filesystem, are left alone. Returns how
 * many it removed. */
static size_t remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char host[80];
    cli_host_tag(host, sizeof host);
    time_t now = time(NULL);
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *tag = strstr(e->d_name, ".featurevector.tmp-");
        if (!tag) continue;
        char *end;
        long pid = strtol(tag + strlen(".featurevector.tmp-"), &end, 10);
        if ((*end && *end != '-') || pid <= 0) continue;
        bool same_host = !*end || !strcmp(end + 1, host); /* no host: written by an older polyp */
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        if (same_host) {
            if ((long)getpid() == pid) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* still running */
        } else {
            struct stat st;
            if (stat(path, &st) != 0 || difftime(now, st.st_mtime) < STALE_TEMP_SECONDS) continue;
        }
        if (unlink(path) == 0) removed++;
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

int extract_check_points(const image_group *g, const polyp_image *img) {
    for (size_t i = 0; i < g->npoints; i++) {
        if (g->points[i].row >= img->height || g->points[i].col >= img->width)
            return cli_fail(CMD, "%s: point %zu (row %u, column %u) is outside the %ux%u image (rows 0..%u, columns 0..%u)",
                            g->name, i + 1, g->points[i].row, g->points[i].col, img->width, img->height,
                            img->height - 1, img->width - 1);
    }
    return 0;
}

int extract_write_features(const extract_run *r, const image_group *g, const float *feat, const char *out_path) {
    polyp_error err = {0};
    polyp_status st;
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
    polyp_features f = {g->npoints, r->dim, 1, rows, cols, (float *)feat, (char *)r->record};
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

polyp_status extract_decode(const char *in_path, const image_group *g, pixel_pool *pixels, polyp_image *img,
                            polyp_error *err) {
    memset(img, 0, sizeof *img);
    /* Only the rows the patches read are decoded (JPEG; the height is not known before the
     * decode, so the band is clipped by the decoder). */
    polyp_decode_params dp = polyp_decode_default_params();
    dp.allocator = pixel_pool_allocator(pixels);
    polyp_status st = polyp_patch_rows(g->points, g->npoints, 0, &dp.row_begin, &dp.row_end, err);
    if (st != POLYP_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        snprintf(err->message, sizeof err->message, "%s: %s", g->name, why);
        return st;
    }
    st = polyp_image_load_file(in_path, &dp, img, err);
    if (st != POLYP_OK && !err->message[0]) snprintf(err->message, sizeof err->message, "%s", in_path);
    return st;
}

/* Serial: decode (the rows the points need), extract (polyp_extract_points: batches within
 * this image), write.
 * Returns 0, EXTRACT_INTERRUPTED, or the exit status after printing the reason. */
static int process_image(const extract_run *r, float **feat, size_t *feat_cap, const image_group *g,
                         const char *in_path, const char *out_path) {
    polyp_error err = {0};
    polyp_image img;
    if (extract_decode(in_path, g, r->pixels, &img, &err) != POLYP_OK) return cli_fail(CMD, "%s", err.message);
    int bad = extract_check_points(g, &img);
    if (bad) {
        polyp_image_free(&img);
        return bad;
    }
    size_t need = g->npoints * r->dim;
    if (need > *feat_cap) {
        float *nf = realloc(*feat, need * sizeof *nf);
        if (!nf) {
            polyp_image_free(&img);
            return cli_fail(CMD, "%s: out of memory for %zu points", g->name, g->npoints);
        }
        *feat = nf;
        *feat_cap = need;
    }
    polyp_status st = polyp_extract_points(r->extractors[0], &img, g->points, g->npoints, *feat, &err);
    polyp_image_free(&img);
    if (st == POLYP_ERR_CANCELLED) return EXTRACT_INTERRUPTED;
    if (st != POLYP_OK) return cli_fail(CMD, "%s: %s", g->name, err.message);
    return extract_write_features(r, g, *feat, out_path);
}

int extract_run_serial(extract_run *r) {
    char in_path[4096], out_path[4096];
    float *feat = NULL;
    size_t feat_cap = 0;
    int rc = 0;
    for (size_t i = 0; i < r->g->count && !rc; i++) {
        if (r->skip[i]) continue;
        if (cli_interrupted) {
            rc = EXTRACT_INTERRUPTED;
            break;
        }
        const image_group *ig = &r->g->items[i];
        path_join(in_path, sizeof in_path, r->images, ig->name, "");
        path_join(out_path, sizeof out_path, r->out, ig->name, ".featurevector");
        rc = process_image(r, &feat, &feat_cap, ig, in_path, out_path);
        if (rc) break;
        r->done++;
        r->patches += ig->npoints;
        double el = cli_now() - r->progress->start;
        cli_progress_update(r->progress, r->done, el > 0 ? (double)r->patches / el : 0.0, "patches");
    }
    free(feat);
    return rc;
}

/* ------------------------------------------------------------------ the command */

static int cancel_on_signal(void *user, size_t done, size_t total) {
    (void)user;
    (void)done;
    (void)total;
    return cli_interrupted;
}

/* Keeps only the groups of shard s (in CSV order); the others' points are freed. The hash
 * slots are dropped: they index the old positions and nothing after grouping needs them. */
static void keep_shard(groups *g, cli_shard s) {
    size_t kept = 0;
    for (size_t i = 0; i < g->count; i++) {
        if (cli_shard_of(g->items[i].name, s.count) == s.index) g->items[kept++] = g->items[i];
        else free(g->items[i].points);
    }
    g->count = kept;
    free(g->slots);
    g->slots = NULL;
    g->nslots = 0;
}

/* --queue: photos decoded or being decoded at once, at most (each is width x height x 3
 * bytes: 81 MB for a 27-megapixel photo). Up to that many workers decode at the same time. */
#define MAX_QUEUE 64
#define DEFAULT_MAX_QUEUE 8

typedef struct options {
    const char *weights, *images, *points, *out, *kernels;
    size_t threads, batch;
    size_t queue;     /* decoded photos held at once; 0 = serial */
    bool queue_given;
    bool cuda_given;  /* --precision or --devices on the command line */
    polyp_backend backend;
    polyp_precision precision;
    int devices[POLYP_CUDA_MAX_DEVICES]; /* --devices, in the order given; {0} by default */
    size_t n_devices;
    bool overwrite;
    cli_shard shard;  /* {0, 1} when --shard is not given: every image */
} options;

static int parse_options(int argc, char **argv, options *o, bool *help) {
    memset(o, 0, sizeof *o);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus > 0 ? (size_t)cpus : 1;
    o->batch = polyp_extractor_default_params().batch_size;
    o->backend = POLYP_BACKEND_AUTO;
    o->precision = POLYP_PRECISION_EXACT;
    o->devices[0] = 0;
    o->n_devices = 1;
    o->shard.index = 0;
    o->shard.count = 1;
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
        bool numeric = !strcmp(a, "--threads") || !strcmp(a, "--batch") || !strcmp(a, "--queue");
        bool shard = !strcmp(a, "--shard");
        bool cuda_opt = !strcmp(a, "--precision") || !strcmp(a, "--devices");
        if (!dst && !numeric && !shard && !cuda_opt && strcmp(a, "--backend") != 0)
            return cli_fail(CMD, "unknown option '%s' (polyp extract --help)", a);
        if (i + 1 >= argc) return cli_fail(CMD, "%s needs a value", a);
        const char *v = argv[++i];
        if (dst) {
            *dst = v;
        } else if (cuda_opt) {
            char msg[256];
            bool ok = !strcmp(a, "--precision")
                          ? polyp_cuda_parse_precision(v, &o->precision, msg, sizeof msg)
                          : polyp_cuda_parse_devices(v, o->devices, POLYP_CUDA_MAX_DEVICES, &o->n_devices, msg, sizeof msg);
            if (!ok) return cli_fail(CMD, "%s", msg);
            o->cuda_given = true;
        } else if (shard) {
            char msg[256];
            if (!cli_shard_parse(v, &o->shard, msg, sizeof msg)) return cli_fail(CMD, "%s", msg);
        } else if (numeric) {
            bool queue = !strcmp(a, "--queue");
            size_t *n = !strcmp(a, "--threads") ? &o->threads : queue ? &o->queue : &o->batch;
            if (!cli_parse_size(CMD, a, v, n)) return 1;
            size_t min = queue ? 0 : 1, max = !strcmp(a, "--threads") ? POLYP_THREADPOOL_MAX_THREADS
                                            : queue ? MAX_QUEUE : 4096;
            if (*n < min || *n > max) return cli_fail(CMD, "%s must be between %zu and %zu, got %s", a, min, max, v);
            o->queue_given |= queue;
        } else if (!strcmp(v, "auto")) {
            o->backend = POLYP_BACKEND_AUTO;
        } else if (!strcmp(v, "xnnpack")) {
            o->backend = POLYP_BACKEND_XNNPACK;
        } else if (!strcmp(v, "portable")) {
            o->backend = POLYP_BACKEND_PORTABLE;
        } else if (!strcmp(v, "cuda")) {
            o->backend = POLYP_BACKEND_CUDA;
        } else {
            return cli_fail(CMD, "--backend must be auto, cuda, xnnpack or portable, got '%s'", v);
        }
    }
    const char *missing = !o->weights ? "--weights" : !o->images ? "--images" : !o->points ? "--points"
                        : !o->out ? "--out" : NULL;
    if (missing) return cli_fail(CMD, "%s is required (polyp extract --help)", missing);
    /* Not dropped silently: the CPU backends have no precision to choose and no device. */
    if (o->cuda_given && (o->backend == POLYP_BACKEND_PORTABLE || o->backend == POLYP_BACKEND_XNNPACK))
        return cli_fail(CMD, "--precision and --devices apply to --backend cuda or auto, not %s",
                        o->backend == POLYP_BACKEND_PORTABLE ? "portable" : "xnnpack");
    /* The GPU path runs serially on the first device for now: one extractor per device in
     * the pipeline comes with the pipeline's rewrite (issue 11). */
    if (o->backend == POLYP_BACKEND_CUDA) {
        if (o->queue_given && o->queue)
            return cli_fail(CMD, "--queue is not supported with --backend cuda yet (it runs serially)");
        o->queue = 0;
        o->queue_given = true;
    }
    /* One compute thread has nothing to overlap decoding with: stay serial. */
    if (!o->queue_given) o->queue = o->threads > 1 ? (o->threads < DEFAULT_MAX_QUEUE ? o->threads : DEFAULT_MAX_QUEUE) : 0;
    return 0;
}

/* Images start_prefetch looks at, at most: on a resumed run whose first images are all
 * done, it would otherwise stat every output (thousands, on a shared filesystem) before the
 * weights load, to save one decode's worth of start-up. */
#define PREFETCH_SCAN 64

/* Starts decoding the first images that are sure to be done, whatever the weights turn out
 * to be: a safe name, a regular file, and no output yet (with --overwrite, any); as many as
 * the queue holds, up to EXTRACT_PREFETCH_MAX. NULL when there is none among the first
 * PREFETCH_SCAN or no thread could start. */
static extract_prefetch *start_prefetch(const groups *g, const options *o, pixel_pool *pixels) {
    char in_path[4096], out_path[4096];
    size_t want = o->queue < EXTRACT_PREFETCH_MAX ? o->queue : EXTRACT_PREFETCH_MAX, n = 0;
    size_t group[EXTRACT_PREFETCH_MAX];
    for (size_t i = 0; i < g->count && i < PREFETCH_SCAN && n < want; i++) {
        const char *name = g->items[i].name;
        if (!name_is_safe(name) || !path_join(in_path, sizeof in_path, o->images, name, "") ||
            !path_join(out_path, sizeof out_path, o->out, name, ".featurevector"))
            return NULL; /* the checks below report it */
        if (!is_regular_file(in_path)) continue;
        struct stat st;
        if (!o->overwrite && (stat(out_path, &st) == 0 || errno != ENOENT)) continue;
        group[n++] = i;
    }
    return extract_prefetch_start(o->images, g, group, n, pixels);
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

    if (o.shard.count > 1) {
        size_t before = g.count;
        keep_shard(&g, o.shard);
        fprintf(stderr, "polyp %s: shard %u/%u: %zu of the %zu images in %s\n", CMD, o.shard.index, o.shard.count,
                g.count, before, o.points);
        if (g.count == 0) {
            groups_free(&g);
            polyp_annotations_free(&ann);
            return 0;
        }
    }

    /* Each decode writes into the buffer of a finished photo (as many kept as photos are in
     * flight); the pipeline's first photos decode on another core while the weights load. */
    pixel_pool *pixels = pixel_pool_new(o.queue ? o.queue : 1);
    extract_prefetch *prefetch = o.queue ? start_prefetch(&g, &o, pixels) : NULL;

    /* Everything that can be checked without the network is checked first, so a typo in
     * the CSV does not surface hours into a run. The weights come first: the record they
     * give is what existing outputs must have been made with to count as done. */
    polyp_weights *weights = NULL;
    if (polyp_weights_load_file(o.weights, &weights, &err) != POLYP_OK) {
        extract_prefetch_cancel(prefetch);
        pixel_pool_free(pixels);
        groups_free(&g);
        polyp_annotations_free(&ann);
        return cli_fail(CMD, "%s", err.message);
    }
    /* The record binds the files to their extractor (polyp train reads it). */
    char record[EXTRACTOR_RECORD_CAP];
    extractor_record(weights, record);
    char in_path[4096], out_path[4096];
    size_t missing = 0, done_before = 0, foreign = 0;
    char foreign_example[4096 + 600] = "";
    bool *skip = calloc(g.count, sizeof *skip);
    rc = skip ? 0 : cli_fail(CMD, "out of memory");
    for (size_t i = 0; i < g.count && !rc; i++) {
        const char *name = g.items[i].name;
        if (!name_is_safe(name)) {
            rc = cli_fail(CMD, "%s: image name '%s' (point %zu) must be a relative path without '..'", o.points,
                          name, g.items[i].first_item + 1);
            break;
        }
        if (!path_join(in_path, sizeof in_path, o.images, name, "") ||
            !path_join(out_path, sizeof out_path, o.out, name, ".featurevector")) {
            rc = cli_fail(CMD, "image name '%s' makes a path that is too long", name);
            break;
        }
        if (!is_regular_file(in_path)) {
            fprintf(stderr, "polyp %s: missing image: %s\n", CMD, in_path);
            missing++;
            continue;
        }
        if (o.overwrite) continue;
        /* An existing output is read back and checked against the CSV, not trusted: a file
         * cut short by a full disk, damaged later or left by a different CSV is redone. */
        char why[512];
        output_state os = check_output(out_path, &g.items[i], record, why, sizeof why);
        if (os == OUTPUT_DONE) {
            skip[i] = true;
            done_before++;
        } else if (os == OUTPUT_FOREIGN) {
            if (!foreign++) snprintf(foreign_example, sizeof foreign_example, "%s is %s", out_path, why);
        } else if (os == OUTPUT_CORRUPT) {
            fprintf(stderr, "polyp %s: %s: existing file is corrupt (%s): redoing it\n", CMD, out_path, why);
        }
    }
    if (!rc && missing)
        rc = cli_fail(CMD, "%zu of %zu images named in %s are missing from %s", missing, g.count, o.points, o.images);
    /* A folder half from other weights would train a model on two kinds of features: it is
     * refused, never topped up. */
    if (!rc && foreign)
        rc = cli_fail(CMD, "%zu existing feature file(s) in %s come from another extractor (%s; these weights give "
                           "'%s'): extract into another folder, or give --overwrite to redo every image",
                      foreign, o.out, foreign_example, record);
    if (!rc && !make_parent_dirs(o.out, true))
        rc = cli_fail(CMD, "%s: cannot create the output folder: %s", o.out, strerror(errno));
    if (!rc) clean_output_folders(&g, o.out);

    polyp_threadpool *pool = NULL;
    /* The pipeline runs one single-threaded extractor per worker (--threads of them); the
     * serial path one extractor on the pool's threads. */
    size_t nex = o.queue ? o.threads : 1;
    polyp_extractor **extractors = calloc(nex, sizeof *extractors);
    if (!extractors) rc = cli_fail(CMD, "out of memory");
    size_t todo = g.count - done_before;
    if (!rc && done_before)
        fprintf(stderr, "polyp %s: %zu of %zu images already have features in %s: skipping them%s\n", CMD,
                done_before, g.count, o.out, todo ? "" : " (nothing left to do; --overwrite redoes them)");
    if (!rc && todo > 0) {
        if (!o.queue && polyp_threadpool_init((int)o.threads, &pool, &err) != POLYP_OK) rc = cli_fail_err(CMD, &err);
    }
    polyp_extractor_params ep = polyp_extractor_default_params();
    if (!rc && todo > 0) {
        ep.backend = o.backend;
        ep.batch_size = o.batch;
        ep.kernels = o.kernels;
        ep.device = o.devices[0];
        ep.precision = o.precision;
        /* the threads of every backend: the pool's on the serial path; in the pipeline each
         * worker's extractor runs on its worker's thread alone (NULL) */
        ep.parallel = pool ? polyp_threadpool_parallel(pool) : NULL;
        /* SIGTERM / SIGINT reach the extractor between batches: an image with thousands of
         * points is abandoned within a batch's time, and nothing of it is written. */
        ep.progress = cancel_on_signal;
        /* One extractor here, so that a bad backend or kernel choice stops the run before
         * any work; the pipeline's other workers make theirs on their own threads while the
         * first photos decode. */
        if (polyp_extractor_init(weights, &ep, &extractors[0], &err) != POLYP_OK) rc = cli_fail_err(CMD, &err);
        /* --backend auto found a GPU: the CUDA backend crops on the device from the whole
         * photo (polyp_extract_points), which the serial path calls; the CPU workers would
         * send every patch over the bus. One extractor, serial path. */
        else if (nex > 1 && !strcmp(polyp_extractor_backend_name(extractors[0]), "cuda")) {
            nex = 1;
            o.queue = 0;
        }
    }

    if (rc || todo == 0 || !o.queue) { /* not needed: freed now, not at the end */
        extract_prefetch_cancel(prefetch);
        prefetch = NULL;
    }
    if (!rc && todo > 0) {
        cli_install_signal_handlers();
        cli_progress p;
        cli_progress_begin(&p, "extract: images", todo);
        const char *backend = polyp_extractor_backend_name(extractors[0]); /* a static string */
        extract_run run = {&g, skip, o.images, o.out, extractors, weights, &ep, nex,
                           polyp_weights_feature_dim(weights), record, o.batch, o.queue, &p, 0, 0,
                           prefetch /* the pipeline's now (NULL on the serial path) */, pixels};
        prefetch = NULL;
        rc = o.queue ? extract_run_pipeline(&run) : extract_run_serial(&run);
        size_t done = run.done, patches = run.patches;
        cli_progress_end(&p);
        if (rc == EXTRACT_INTERRUPTED) {
            rc = cli_fail(CMD, "interrupted after %zu of %zu images; rerun the same command to resume "
                               "(finished images are skipped)", done, todo);
        } else if (!rc) {
            double el = cli_now() - p.start;
            fprintf(stderr, "polyp %s: wrote %zu feature files (%zu patches) to %s in %.1f s (backend %s, %zu threads)\n",
                    CMD, done, patches, o.out, el, backend, o.threads);
        }
    }

    for (size_t i = 0; extractors && i < nex; i++)
        if (extractors[i]) polyp_extractor_free(extractors[i]);
    free(extractors);
    polyp_threadpool_free(pool);
    pixel_pool_free(pixels); /* after the prefetch and the run: every image is freed */
    if (weights) polyp_weights_free(weights);
    free(skip);
    groups_free(&g);
    polyp_annotations_free(&ann);
    return rc ? 1 : 0;
}
