/*
 * pipeline_halves - the two halves of `polyp extract`, each timed alone on ONE thread, so
 * tests/bench/bench_pipeline.py can say what two cores allow: (decode + network) / 2.
 *
 *   pipeline_halves --weights W --images DIR --points CSV [--batch 8] [--reps 3] [--warmup 0] [--reuse 0]
 *
 * For every repetition: decode every photo the CSV names (polyp_image_load_file: file read +
 * libjpeg-turbo / stb), crop its points (polyp_patch_crop), then run the network over all
 * patches (portable backend, the calling thread only, batches of --batch); --warmup
 * repetitions run first, untimed (bench_pipeline.py runs one warm repetition between its
 * extract runs, so that all of them see the same load). --reuse 1 decodes every photo into one
 * buffer, kept and grown from photo to photo and from repetition to repetition (a
 * polyp_pixel_allocator, as polyp extract's pool of finished photos' buffers, but reused
 * by every decode, which the pipeline's decodes, two photos in flight, cannot all be: the
 * tighter bound). Prints one JSON
 * line with the median seconds of each part, wall and CPU (the CPU figures hold on a loaded
 * machine, where wall times only measure the load). Public API only. Not a test: CI never runs it,
 * and the times mean something only on a quiet machine.
 */
#define _POSIX_C_SOURCE 200809L
#include "polyp.h"
#define BENCH_NAME "pipeline_halves"
#include "bench_util.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)
#define MAX_REPS 50

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

/* --reuse: one buffer for every decode, grown when a photo needs more. */
typedef struct one_buffer {
    void *data;
    size_t cap;
    int out; /* handed out, not yet given back */
} one_buffer;

static void *one_alloc(void *ctx, size_t size) {
    one_buffer *b = ctx;
    if (b->out) die("--reuse: two decodes at once", NULL);
    if (size > b->cap) {
        free(b->data);
        b->data = malloc(size);
        b->cap = b->data ? size : 0;
    }
    b->out = b->data != NULL;
    return b->data;
}

static void one_release(void *ctx, void *pixels) {
    one_buffer *b = ctx;
    (void)pixels;
    b->out = 0;
}
/* CPU seconds of this (single-threaded) process: what the part costs whatever else runs. */
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv) {
    const char *weights_path = NULL, *images = NULL, *points = NULL;
    size_t batch = 8;
    int reps = 3, warmup = 0, reuse = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--weights")) weights_path = argv[i + 1];
        else if (!strcmp(argv[i], "--images")) images = argv[i + 1];
        else if (!strcmp(argv[i], "--points")) points = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) batch = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reuse")) reuse = atoi(argv[i + 1]);
        else die("unknown option (see the comment at the top of pipeline_halves.c)", NULL);
    }
    if (!weights_path || !images || !points || batch < 1 || reps < 1 || warmup < 0 || reps + warmup > MAX_REPS)
        die("usage: pipeline_halves --weights W --images DIR --points CSV [--batch 8] [--reps 3] [--warmup 0] "
            "[--reuse 0]", NULL);

#ifdef __GLIBC__
    /* polyp extract's allocation policy (pipeline.c, keep_big_buffers_mapped): every photo in
     * a mapping of its own, faulted in by its decode. Left to glibc's dynamic threshold, a
     * photo of up to 32 MB came back from the heap, already faulted in, on every repetition
     * after the first: a decode here cheaper than the same decode in polyp extract. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    polyp_error err = {0};
    FILE *f = fopen(points, "rb");
    if (!f) die(points, NULL);
    fseek(f, 0, SEEK_END);
    long csv_size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *csv = malloc((size_t)csv_size + 1);
    if (!csv || fread(csv, 1, (size_t)csv_size, f) != (size_t)csv_size) die("cannot read the CSV", NULL);
    fclose(f);
    polyp_annotations ann;
    if (polyp_annotations_parse_csv(csv, (size_t)csv_size, &ann, &err) != POLYP_OK) die(points, &err);
    free(csv);

    polyp_weights *w;
    if (polyp_weights_load_file(weights_path, &w, &err) != POLYP_OK) die(weights_path, &err);
    polyp_extractor_params ep = polyp_extractor_default_params();
    ep.backend = POLYP_BACKEND_PORTABLE;
    ep.batch_size = batch;
    ep.parallel = NULL; /* the calling thread only */
    polyp_extractor *ex;
    if (polyp_extractor_init(w, &ep, &ex, &err) != POLYP_OK) die("extractor", &err);

    one_buffer pixels = {NULL, 0, 0};
    const polyp_pixel_allocator one = {one_alloc, one_release, &pixels};
    polyp_decode_params dp = polyp_decode_default_params();
    if (reuse) dp.allocator = &one;

    float *patches = malloc(ann.count * PATCH_FLOATS * sizeof(float));
    float *feat = malloc(ann.count * POLYP_FEATURE_DIM * sizeof(float));
    if (!patches || !feat) die("out of memory for the patches", NULL);
    double t_decode[MAX_REPS], t_crop[MAX_REPS], t_net[MAX_REPS], c_decode[MAX_REPS], c_net[MAX_REPS];
    size_t nimages = 0;
    for (int r = -warmup; r < reps; r++) {
        double decode = 0, crop = 0, decode_cpu = 0;
        nimages = 0;
        /* The CSV's points in file order; an image is decoded once, when its first point comes
         * (points are grouped by image in the benchmark's CSV). */
        for (size_t i = 0; i < ann.count;) {
            size_t j = i;
            while (j < ann.count && !strcmp(ann.items[j].name, ann.items[i].name)) j++;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", images, ann.items[i].name);
            double t0 = now(), c0 = cpu();
            polyp_image img;
            if (polyp_image_load_file(path, &dp, &img, &err) != POLYP_OK) die(path, &err);
            double t1 = now();
            decode_cpu += cpu() - c0;
            for (size_t k = i; k < j; k++) {
                polyp_point p = {ann.items[k].row, ann.items[k].col};
                if (polyp_patch_crop(&img, p, patches + k * PATCH_FLOATS, &err) != POLYP_OK) die(path, &err);
            }
            double t2 = now();
            polyp_image_free(&img);
            decode += t1 - t0;
            crop += t2 - t1;
            nimages++;
            i = j;
        }
        double t0 = now(), c0 = cpu();
        if (polyp_extract_patches(ex, patches, ann.count, feat, &err) != POLYP_OK) die("network", &err);
        if (r < 0) continue; /* a warm-up */
        t_net[r] = now() - t0;
        c_net[r] = cpu() - c0;
        c_decode[r] = decode_cpu;
        t_decode[r] = decode;
        t_crop[r] = crop;
    }
    printf("{\"images\": %zu, \"patches\": %zu, \"reps\": %d, \"decode_s\": %.4f, \"crop_s\": %.4f, "
           "\"network_s\": %.4f, \"decode_cpu_s\": %.4f, \"network_cpu_s\": %.4f}\n",
           nimages, ann.count, reps, median(t_decode, reps), median(t_crop, reps), median(t_net, reps),
           median(c_decode, reps), median(c_net, reps));
    free(patches);
    free(feat);
    free(pixels.data);
    polyp_extractor_free(ex);
    polyp_weights_free(w);
    polyp_annotations_free(&ann);
    return 0;
}
