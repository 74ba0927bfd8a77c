/* effnet_cases.h - runs the EfficientNet parity cases (tests/fixtures/effnet/cases.csv)
 * through an extractor and compares with the PyTorch reference features (features.f32,
 * written by models/make_fixtures.py). Header-only (static inline functions) so that the
 * fixture-only and the testdata executables share it without linking it into every test. */
#ifndef POLYP_EFFNET_CASES_H
#define POLYP_EFFNET_CASES_H

#include "effnet.h"
#include "testnet.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EC_MAX_CASES 256
#define EC_TOLERANCE 1e-4

typedef struct ec_case {
    char source[16];
    char image[256];
    polyp_point point;
} ec_case;

/* Parses cases.csv; returns the number of cases. */
static inline size_t ec_read_cases(ec_case *cases) {
    size_t size;
    char *text = tu_read(tu_source_path("tests/fixtures/effnet/cases.csv"), &size);
    text = realloc(text, size + 1);
    text[size] = 0;
    size_t n = 0;
    char *save = NULL;
    char *line = strtok_r(text, "\r\n", &save);
    ck_assert_msg(line && !strcmp(line, "source,image,row,col"), "cases.csv: unexpected header");
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        ck_assert_int_lt(n, EC_MAX_CASES);
        ec_case *c = &cases[n];
        unsigned row, col;
        ck_assert_msg(sscanf(line, "%15[^,],%255[^,],%u,%u", c->source, c->image, &row, &col) == 4, "bad line %s", line);
        c->point.row = row;
        c->point.col = col;
        n++;
    }
    free(text);
    return n;
}

/* The seeded test network loaded as weights (polyp_testnet_build from the committed BN
 * statistics: the same network models/testnet.py gives PyTorch). */
static inline polyp_weights *ec_load_testnet(void) {
    size_t bsize, size;
    void *bn = tu_read(tu_source_path("models/testnet-bnstats.safetensors"), &bsize), *net;
    polyp_error err = {0};
    ck_assert_msg(polyp_testnet_build(POLYP_TESTNET_DEFAULT_SEED, bn, bsize, &net, &size, &err) == POLYP_OK, "%s",
                  err.message);
    free(bn);
    polyp_weights *w;
    ck_assert_msg(polyp_weights_load(net, size, &w, &err) == POLYP_OK, "%s", err.message);
    polyp_free(net);
    return w;
}

typedef struct ec_result {
    size_t cases;
    double max_diff;
    size_t worst_case;
    double expected_std;   /* std of all expected feature values compared */
    double per_dim_std;    /* mean over dims of the std across cases */
} ec_result;

/* Every stride-th case is run (1: all). Sanitizer builds are ~30x slower (Debug + ASan), so
 * they run every 4th case by default (still every fixture image); POLYP_TEST_CASE_STRIDE
 * overrides. */
static inline size_t ec_stride(void) {
    const char *v = getenv("POLYP_TEST_CASE_STRIDE");
    if (v && strtoul(v, NULL, 10) > 0) return (size_t)strtoul(v, NULL, 10);
#if defined(__SANITIZE_ADDRESS__)
    return 4;
#else
    return 1;
#endif
}

/* Extracts the selected cases whose source is `source` (consecutive cases on the same image
 * in one call, so batching and duplicates are exercised) and compares with the expected
 * rows. */
static inline ec_result ec_run(polyp_extractor *ex, const char *source, size_t stride) {
    static ec_case all[EC_MAX_CASES], cases[EC_MAX_CASES];
    static size_t orig[EC_MAX_CASES]; /* index in cases.csv of each selected case */
    size_t total = ec_read_cases(all), n = 0, seen = 0;
    for (size_t i = 0; i < total; i++) {
        if (strcmp(all[i].source, source) != 0) continue;
        if (seen++ % stride == 0) {
            orig[n] = i;
            cases[n++] = all[i];
        }
    }
    size_t fsize;
    float *expected = tu_read(tu_source_path("tests/fixtures/effnet/features.f32"), &fsize);
    ck_assert_msg(fsize == total * POLYP_FEATURE_DIM * sizeof(float), "features.f32 holds %zu bytes for %zu cases", fsize,
                  total);
    ec_result r = {0};
    float *got = malloc(n * POLYP_FEATURE_DIM * sizeof(float));
    size_t *index = malloc(n * sizeof *index); /* rows compared, in case order */
    polyp_error err = {0};
    for (size_t i = 0; i < n;) {
        size_t j = i;
        polyp_point pts[EC_MAX_CASES];
        while (j < n && !strcmp(cases[j].image, cases[i].image)) {
            pts[j - i] = cases[j].point;
            j++;
        }
        char rel[300];
        const char *path;
        if (!strcmp(source, "fixtures")) {
            snprintf(rel, sizeof rel, "tests/fixtures/effnet/%s", cases[i].image);
            path = tu_source_path(rel);
        } else {
            path = tu_testdata_path(cases[i].image);
            ck_assert_ptr_nonnull(path);
        }
        polyp_image img;
        ck_assert_msg(polyp_image_load_file(path, NULL, &img, &err) == POLYP_OK, "%s", err.message);
        ck_assert_msg(polyp_extract_points(ex, &img, pts, j - i, got + r.cases * POLYP_FEATURE_DIM, &err) == POLYP_OK,
                      "%s: %s", cases[i].image, err.message);
        polyp_image_free(&img);
        for (size_t k = i; k < j; k++) index[r.cases++] = orig[k];
        i = j;
    }
    ck_assert_msg(r.cases > 0, "no cases with source %s", source);
    double sum = 0, sum2 = 0, dim_std = 0;
    for (size_t q = 0; q < r.cases; q++) {
        const float *e = expected + index[q] * POLYP_FEATURE_DIM, *g = got + q * POLYP_FEATURE_DIM;
        for (size_t c = 0; c < POLYP_FEATURE_DIM; c++) {
            double d = fabs((double)g[c] - (double)e[c]);
            if (!(d <= r.max_diff)) { /* NaN counts as a failure too */
                r.max_diff = isnan(d) ? INFINITY : d;
                r.worst_case = index[q];
            }
            sum += e[c];
            sum2 += (double)e[c] * e[c];
        }
    }
    double cnt = (double)r.cases * POLYP_FEATURE_DIM;
    r.expected_std = sqrt(sum2 / cnt - (sum / cnt) * (sum / cnt));
    for (size_t c = 0; c < POLYP_FEATURE_DIM; c++) {
        double s = 0, s2 = 0;
        for (size_t q = 0; q < r.cases; q++) {
            double v = expected[index[q] * POLYP_FEATURE_DIM + c];
            s += v;
            s2 += v * v;
        }
        double var = s2 / r.cases - (s / r.cases) * (s / r.cases);
        dim_std += sqrt(var > 0 ? var : 0);
    }
    r.per_dim_std = dim_std / POLYP_FEATURE_DIM;
    printf("effnet parity (%s, backend %s): %zu cases (every %zu), max |C - PyTorch| = %.3g (case %zu), expected features: "
           "std %.4f overall, mean per-dimension std across cases %.4f\n",
           source, polyp_extractor_backend_name(ex), r.cases, stride, r.max_diff, r.worst_case, r.expected_std, r.per_dim_std);
    free(index);
    free(got);
    free(expected);
    return r;
}

/* The assertions every parity run makes: close to PyTorch, and a reference with real spread
 * (near-constant features would let any implementation pass). */
static inline void ec_check(const ec_result *r) {
    ck_assert_msg(r->expected_std > 1e-2, "expected features are nearly constant (std %g): the test would be vacuous",
                  r->expected_std);
    if (r->cases > 1)
        ck_assert_msg(r->per_dim_std > 1e-2, "expected features barely vary across cases (%g)", r->per_dim_std);
    ck_assert_msg(r->max_diff <= EC_TOLERANCE, "max abs diff %g > %g (case %zu)", r->max_diff, EC_TOLERANCE, r->worst_case);
}

#endif /* POLYP_EFFNET_CASES_H */
