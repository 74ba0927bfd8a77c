/*
 * bench_band - decode time of each photo in full against decoding only the rows its points'
 * patches read (polyp_patch_rows + polyp_decode_params.row_begin/row_end), on one thread.
 *
 *   bench_band --images DIR --points CSV [--reps 5]
 *
 * Each photo's bytes are read once; then, REPS times, interleaved (in alternating order) so
 * machine drift hits both alike: a full decode and a band decode from memory (the file read
 * is left out: it is the same for both). PNG photos decode in full either way: their row is
 * the measurement's noise floor. For every photo it prints the medians (wall and CPU), the rows the band
 * keeps, and the rows the patches themselves cover (their union: what several bands could
 * keep at best); then the totals. The band decode's rows are compared with the full decode's
 * once, so a wrong band cannot report a speed-up. Public API only; not a test.
 */
#define _POSIX_C_SOURCE 200809L
#include "polyp.h"
#define BENCH_NAME "bench_band"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPS 50


static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path, NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die(path, NULL);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Rows covered by at least one patch (each patch: its own polyp_patch_rows band). */
static size_t union_rows(const polyp_point *pts, size_t n, uint32_t height) {
    unsigned char *used = calloc(height, 1);
    if (!used) die("out of memory", NULL);
    for (size_t i = 0; i < n; i++) {
        uint32_t b, e;
        polyp_error err = {0};
        if (polyp_patch_rows(&pts[i], 1, height, &b, &e, &err) != POLYP_OK) die("patch rows", &err);
        memset(used + b, 1, e - b);
    }
    size_t rows = 0;
    for (uint32_t y = 0; y < height; y++) rows += used[y];
    free(used);
    return rows;
}

/* One timed decode: wall and CPU seconds added to *wall / *cpu; the image is returned. */
static polyp_image timed_decode(const void *data, size_t size, const polyp_decode_params *p, double *wall,
                                double *cpu, const char *name) {
    polyp_image im;
    polyp_error err = {0};
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (polyp_image_decode(data, size, p, &im, &err) != POLYP_OK) die(name, &err);
    *wall = clock_s(CLOCK_MONOTONIC) - t0;
    *cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    return im;
}

int main(int argc, char **argv) {
    const char *images = NULL, *points = NULL;
    int reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--images")) images = argv[i + 1];
        else if (!strcmp(argv[i], "--points")) points = argv[i + 1];
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else die("unknown option (see the comment at the top of bench_band.c)", NULL);
    }
    if (!images || !points || reps < 1 || reps > MAX_REPS)
        die("usage: bench_band --images DIR --points CSV [--reps 5]", NULL);

    polyp_error err = {0};
    size_t csv_size;
    char *csv = read_all(points, &csv_size);
    polyp_annotations ann;
    if (polyp_annotations_parse_csv(csv, csv_size, &ann, &err) != POLYP_OK) die(points, &err);
    free(csv);
    polyp_point *pts = malloc(ann.count * sizeof *pts);
    if (!pts) die("out of memory", NULL);

    double tot_full = 0, tot_band = 0, tot_full_cpu = 0, tot_band_cpu = 0;
    uint64_t tot_rows = 0, tot_kept = 0, tot_union = 0;
    printf("%-48s %6s %9s %9s %9s %9s %7s %7s %7s\n", "photo (points)", "rows", "full_s", "band_s", "full_cpu",
           "band_cpu", "kept", "union", "gain");
    /* The CSV's points in file order, grouped by image as `polyp points` writes them. */
    for (size_t i = 0; i < ann.count;) {
        size_t j = i;
        while (j < ann.count && !strcmp(ann.items[j].name, ann.items[i].name)) j++;
        for (size_t k = i; k < j; k++) pts[k - i] = (polyp_point){ann.items[k].row, ann.items[k].col};
        const size_t n = j - i;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", images, ann.items[i].name);
        size_t size;
        void *data = read_all(path, &size);

        polyp_decode_params band = polyp_decode_default_params();
        if (polyp_patch_rows(pts, n, 0, &band.row_begin, &band.row_end, &err) != POLYP_OK) die(path, &err);
        double wf[MAX_REPS], wb[MAX_REPS], cf[MAX_REPS], cb[MAX_REPS];
        for (int r = 0; r < reps; r++) {
            /* Each image is freed before the next decode, and the order alternates: the
             * second of two decodes in a row is otherwise a few percent faster (allocator and
             * cache state), which the PNG row (band ignored) shows as a false gain. */
            for (int k = 0; k < 2; k++) {
                polyp_image im;
                if ((k == 0) == (r % 2 == 0)) im = timed_decode(data, size, NULL, &wf[r], &cf[r], path);
                else im = timed_decode(data, size, &band, &wb[r], &cb[r], path);
                polyp_image_free(&im);
            }
        }
        double unused;
        polyp_image full = timed_decode(data, size, NULL, &unused, &unused, path);
        polyp_image part = timed_decode(data, size, &band, &unused, &unused, path);
        const size_t stride = (size_t)full.width * 3;
        if (memcmp(full.pixels + part.row_begin * stride, part.pixels + part.row_begin * stride,
                   (size_t)(part.row_end - part.row_begin) * stride) != 0)
            die("the band decode differs from the full decode", NULL);
        const uint32_t kept = part.row_end - part.row_begin;
        const size_t covered = union_rows(pts, n, full.height);
        const double mf = median(wf, reps), mb = median(wb, reps), mcf = median(cf, reps), mcb = median(cb, reps);
        char label[64];
        snprintf(label, sizeof label, "%.40s (%zu)", ann.items[i].name, n);
        printf("%-48s %6u %9.4f %9.4f %9.4f %9.4f %6.1f%% %6.1f%% %6.1f%%\n", label, full.height, mf, mb, mcf, mcb,
               100.0 * kept / full.height, 100.0 * covered / full.height, 100.0 * (1 - mb / mf));
        tot_full += mf;
        tot_band += mb;
        tot_full_cpu += mcf;
        tot_band_cpu += mcb;
        tot_rows += full.height;
        tot_kept += kept;
        tot_union += covered;
        polyp_image_free(&full);
        polyp_image_free(&part);
        free(data);
        i = j;
    }
    printf("%-48s %6llu %9.4f %9.4f %9.4f %9.4f %6.1f%% %6.1f%% %6.1f%%\n", "total (sum of medians)",
           (unsigned long long)tot_rows, tot_full, tot_band, tot_full_cpu, tot_band_cpu, 100.0 * tot_kept / tot_rows,
           100.0 * tot_union / tot_rows, 100.0 * (1 - tot_band / tot_full));
    free(pts);
    polyp_annotations_free(&ann);
    return 0;
}
