/* bench_util.h - the timing helpers the C benchmarks share (bench_extract.c, bench_kernels.c,
 * pipeline_halves.c, bench_band.c):
 * clocks, the median of repeated runs, and a fatal exit that names the program (define
 * BENCH_NAME before including). Benchmarks are programs, not library code: exiting is fine. */
#ifndef POLYP_BENCH_UTIL_H
#define POLYP_BENCH_UTIL_H

#include "polyp.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME (the program's name for messages) before including bench_util.h"
#endif

static void die(const char *what, const polyp_error *err) {
    fprintf(stderr, BENCH_NAME ": %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
