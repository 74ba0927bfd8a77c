/* test_classifier_cli.c - the classifier commands end to end through the built `polyp`
 * binary: feature files written by the npz writer, `train` (determinism with threads,
 * --previous acceptance), `classify` (CoralNet export columns), `evaluate --json`,
 * `points`, --help everywhere, and one-line errors for a corrupt model, a missing feature
 * file and features of the wrong width. Skipped (77) when the binary was not built. */
#define _POSIX_C_SOURCE 200809L
#include "classifier_internal.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char polyp_bin[4096], work[4096];

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_text(const char *path) {
    size_t n;
    char *t = tu_read(path, &n);
    t = realloc(t, n + 1);
    t[n] = 0;
    return t;
}

/* Runs `polyp <args>` with stdout/stderr to work/out.txt / err.txt; returns the exit code. */
static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s > out.txt 2> err.txt", work, polyp_bin, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *out_text(const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", work, name);
    return read_text(p);
}

/* Extractor records make_source writes into even / odd images' files (NULL: none). */
static const char *rec_even, *rec_odd;

/* 40 images x 24 points, 3 well separated labels in `dim` dimensions. */
static void make_source(const char *dir, size_t dim, bool write_csv) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", work, dir);
    mkdir(path, 0755);
    FILE *csv = NULL;
    if (write_csv) {
        snprintf(path, sizeof path, "%s/ann.csv", work);
        csv = fopen(path, "w");
        fprintf(csv, "Name,Row,Column,Label code\n");
    }
    polyp_rng r = polyp_rng_seed(77, 0);
    const char *names[3] = {"Acro", "Sand", "Turf"};
    for (int i = 0; i < 40; i++) {
        size_t n = 24;
        polyp_features f = {n, dim, 1, malloc(n * 2), malloc(n * 2), malloc(n * dim * sizeof(float)), NULL};
        for (size_t p = 0; p < n; p++) {
            int c = (int)((i + p) % 3);
            f.rows[p] = (uint16_t)(10 + p * 3);
            f.cols[p] = (uint16_t)(20 + p * 5);
            for (size_t d = 0; d < dim; d++)
                f.feat[p * dim + d] = (float)((d % 3 == (size_t)c ? 3.0 : 0.0) + 0.3 * (polyp_rng_uniform(&r) - 0.5));
            if (csv) fprintf(csv, "img%02d.jpg,%u,%u,%s\n", i, f.rows[p], f.cols[p], names[c]);
        }
        void *bytes;
        size_t size;
        polyp_error err = {0};
        f.extractor = (char *)(i % 2 ? rec_odd : rec_even); /* borrowed: reset before the free */
        ck_assert_msg(polyp_features_write_npz(&f, &bytes, &size, &err) == POLYP_OK, "%s", err.message);
        f.extractor = NULL;
        snprintf(path, sizeof path, "%s/%s/img%02d.jpg.featurevector", work, dir, i);
        write_file(path, bytes, size);
        polyp_free(bytes);
        polyp_features_free(&f);
    }
    if (csv) fclose(csv);
}

static bool err_has(const char *needle) {
    char *e = out_text("err.txt");
    bool ok = strstr(e, needle) != NULL;
    if (!ok) fprintf(stderr, "stderr lacks \"%s\":\n%s", needle, e);
    free(e);
    return ok;
}

/* polyp extract's records bind models to their extractor without --extractor; features of
 * another extractor are refused by classify and evaluate; pyspacer's files (no record) still
 * work, with a note. */
START_TEST(extractor_binding) {
    static const char A[] = "efficientnet_b0:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:16";
    static const char B[] = "mobilenet_v2:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:16";
    rec_even = rec_odd = "efficientnet_b0:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:16 variant=lukemelas";
    make_source("fa", 16, true);
    rec_even = rec_odd = "mobilenet_v2:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:16 variant=tflite";
    make_source("fb", 16, false);
    rec_odd = NULL;
    make_source("fb_half", 16, false);
    rec_even = rec_odd = NULL;
    make_source("fnone", 16, false);
    ck_assert_int_eq(run("train --features fa --annotations ann.csv --out ma.st --epochs 2"), 0);
    ck_assert(err_has("model bound to extractor efficientnet_b0:aaaa"));
    ck_assert_int_eq(run("classify --model ma.st --features fa --points ann.csv --out s.csv"), 0);
    ck_assert_int_eq(run("evaluate --model ma.st --features fa --annotations ann.csv"), 0);
    ck_assert_int_ne(run("classify --model ma.st --features fb --points ann.csv --out s.csv"), 0);
    ck_assert(err_has(B) && err_has(A));
    ck_assert_int_ne(run("evaluate --model ma.st --features fb --annotations ann.csv"), 0);
    ck_assert(err_has("features come from extractor mobilenet_v2:bbbb"));
    /* pyspacer's files: accepted, with a note, unknown extractor. */
    ck_assert_int_eq(run("classify --model ma.st --features fnone --points ann.csv --out s.csv"), 0);
    ck_assert(err_has("carry no extractor record"));
    ck_assert_int_eq(run("train --features fnone --annotations ann.csv --out mn.st --epochs 2"), 0);
    ck_assert(err_has("model bound to extractor unknown"));
    ck_assert_int_eq(run("classify --model mn.st --features fb --points ann.csv --out s.csv"), 0);
    /* --extractor names the files without a record, and must agree with the records. */
    ck_assert_int_eq(run("train --features fnone --annotations ann.csv --out mx.st --epochs 2 --extractor "
                         "efficientnet_b0:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:16"), 0);
    ck_assert(err_has("model bound to extractor efficientnet_b0:aaaa"));
    ck_assert_int_ne(run("classify --model mx.st --features fb --points ann.csv --out s.csv"), 0);
    ck_assert_int_ne(run("train --features fb --annotations ann.csv --out my.st --extractor "
                         "efficientnet_b0:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:16"), 0);
    ck_assert(err_has("disagrees"));
    /* Half the files recorded: bound to the recorded one, with a note for the rest. */
    ck_assert_int_eq(run("train --features fb_half --annotations ann.csv --out mh.st --epochs 2"), 0);
    ck_assert(err_has("20 of 40 feature files carry no extractor record"));
    ck_assert(err_has("model bound to extractor mobilenet_v2:bbbb"));
    /* Two extractors in one folder: refused, naming both files. */
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/fb/img03.jpg.featurevector", work);
    snprintf(dst, sizeof dst, "%s/fa/img03.jpg.featurevector", work);
    ck_assert_int_eq(rename(src, dst), 0);
    ck_assert_int_ne(run("train --features fa --annotations ann.csv --out mz.st"), 0);
    ck_assert(err_has("img03.jpg.featurevector comes from extractor mobilenet_v2") && err_has("cannot be mixed"));
}
END_TEST

START_TEST(train_classify_evaluate) {
    make_source("feat", 16, true);
    ck_assert_int_eq(run("train --features feat --annotations ann.csv --out m1.st --seed 3 --threads 2"), 0);
    char *o = out_text("out.txt");
    ck_assert_msg(strstr(o, "validation accuracy 1.0000") != NULL, "%s", o);
    free(o);
    char *e = out_text("err.txt");
    ck_assert_ptr_nonnull(strstr(e, "epoch 10/10: reference accuracy"));
    free(e);
    /* same seed, other thread count: the same bytes */
    ck_assert_int_eq(run("train --features feat --annotations ann.csv --out m2.st --seed 3 --threads 1"), 0);
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/m1.st", work);
    snprintf(p2, sizeof p2, "%s/m2.st", work);
    size_t n1, n2;
    void *b1 = tu_read(p1, &n1), *b2 = tu_read(p2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_eq(memcmp(b1, b2, n1), 0);
    free(b2);
    /* acceptance: 1.0 is not >= 1.01 x 1.0 -> the previous model stays, m3 not written */
    ck_assert_int_eq(run("train --features feat --annotations ann.csv --out m3.st --previous m1.st"), 0);
    o = out_text("out.txt");
    ck_assert_msg(strstr(o, "previous model kept") != NULL, "%s", o);
    free(o);
    snprintf(p2, sizeof p2, "%s/m3.st", work);
    ck_assert_int_ne(access(p2, F_OK), 0);

    ck_assert_int_eq(run("classify --model m1.st --features feat --points ann.csv --out scores.csv"), 0);
    char *csv = out_text("scores.csv");
    ck_assert(strncmp(csv, "Name,Row,Column,Label code,Machine suggestion 1,Machine confidence 1,", 69) == 0);
    /* every point: suggestion 1 is its own label */
    size_t lines = 0;
    for (char *l = strstr(csv, "\r\n") + 2; *l; l = strstr(l, "\r\n") + 2, lines++) {
        char name[32], label[16], s1[16];
        unsigned row, col;
        int conf;
        ck_assert_int_eq(sscanf(l, "%31[^,],%u,%u,%15[^,],%15[^,],%d", name, &row, &col, label, s1, &conf), 6);
        ck_assert_str_eq(label, s1);
        ck_assert(conf >= 34 && conf <= 100);
    }
    ck_assert_uint_eq(lines, 40 * 24);
    free(csv);
    ck_assert_int_eq(run("classify --model m1.st --features feat --points ann.csv --out all.csv --all-scores --top 1"), 0);
    csv = out_text("all.csv");
    ck_assert(strncmp(csv, "Name,Row,Column,Label code,Machine suggestion 1,Machine confidence 1,Acro,Sand,Turf\r\n", 84) == 0);
    free(csv);

    ck_assert_int_eq(run("evaluate --model m1.st --features feat --annotations ann.csv --json"), 0);
    o = out_text("out.txt");
    ck_assert_msg(strstr(o, "\"accuracy\": 1.000000") != NULL, "%s", o);
    ck_assert_ptr_nonnull(strstr(o, "\"alleviate\""));
    free(o);
    ck_assert_int_eq(run("evaluate --model m1.st --features feat --annotations ann.csv --validation-only --out rep.txt"), 0);
    o = out_text("rep.txt");
    ck_assert_ptr_nonnull(strstr(o, "points    120\naccuracy  1.0000"));
    free(o);

    /* errors: one line on stderr, non-zero exit */
    make_source("feat8", 8, false);
    ck_assert_int_ne(run("classify --model m1.st --features feat8 --points ann.csv --out x.csv"), 0);
    e = out_text("err.txt");
    ck_assert_msg(strstr(e, "8 values per point but the model was trained on 16") != NULL, "%s", e);
    free(e);
    write_file(p1, b1, n1 / 2);
    ck_assert_int_ne(run("classify --model m1.st --features feat --points ann.csv --out x.csv"), 0);
    e = out_text("err.txt");
    ck_assert_msg(strstr(e, "m1.st") != NULL && strchr(e, '\n') == e + strlen(e) - 1, "%s", e);
    free(e);
    free(b1);
    snprintf(p1, sizeof p1, "%s/feat/img07.jpg.featurevector", work);
    ck_assert_int_eq(unlink(p1), 0);
    ck_assert_int_ne(run("train --features feat --annotations ann.csv --out m4.st"), 0);
    e = out_text("err.txt");
    ck_assert_msg(strstr(e, "img07.jpg.featurevector") != NULL, "%s", e);
    free(e);
}
END_TEST

START_TEST(points_and_help) {
    /* grid 2 x 3 on 100 x 50: row cells [0,24], [25,49] -> 12, 37; columns [0,32], [33,65],
     * [66,99] -> 16, 49, 82 */
    ck_assert_int_eq(run("points --image-size 100x50 --method grid:2,3 --out p.csv"), 0);
    char *t = out_text("p.csv");
    ck_assert_str_eq(t, "Name,Row,Column\r\nimage,12,16\r\nimage,12,49\r\nimage,12,82\r\n"
                        "image,37,16\r\nimage,37,49\r\nimage,37,82\r\n");
    free(t);
    const char *cmds[4] = {"train", "classify", "evaluate", "points"};
    for (int i = 0; i < 4; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        ck_assert_int_eq(run(a), 0);
        t = out_text("out.txt");
        ck_assert_ptr_nonnull(strstr(t, "usage: polyp"));
        free(t);
        snprintf(a, sizeof a, "%s --bogus 1", cmds[i]);
        ck_assert_int_ne(run(a), 0);
        t = out_text("err.txt");
        ck_assert_ptr_nonnull(strstr(t, "unknown option"));
        free(t);
    }
}
END_TEST

int main(void) {
    const char *b = getenv("POLYP_BUILD_DIR");
    snprintf(polyp_bin, sizeof polyp_bin, "%s/polyp", b ? b : ".");
    if (access(polyp_bin, X_OK) != 0) {
        fprintf(stderr, "SKIPPED: %s not built\n", polyp_bin);
        return 77;
    }
    snprintf(work, sizeof work, "/tmp/polyp-clf-cli-XXXXXX");
    if (!mkdtemp(work)) return 1;
    Suite *s = suite_create("classifier_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, train_classify_evaluate);
    tcase_add_test(tc, extractor_binding);
    tcase_add_test(tc, points_and_help);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", work);
    return rc;
}
