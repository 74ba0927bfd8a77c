/* cmd_cover.c - `polyp cover`: percent cover per image and over all images (mean, SE) from
 * a CoralNet annotations CSV or `polyp classify`'s scores CSV. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "cover";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp cover --annotations CSV --out COVER.csv [--confirmed-only]\n\n"
            "Percent cover: each label's share of every image's points, and the mean and standard\n"
            "error over the images. A point counts with its \"Label code\" (a confirmed label) or,\n"
            "when it has none, with its \"Machine suggestion 1\" (the scores CSV `polyp classify`\n"
            "writes, or a CoralNet export with machine suggestions).\n\n"
            "  --annotations CSV  CoralNet CSV (Name, Row, Column, Label code, Machine suggestion 1)\n"
            "  --out COVER.csv    CoralNet's percent-cover CSV (Image ID, Image name, Annotation\n"
            "                     status, Points, one column per label; a last ALL IMAGES row of\n"
            "                     the means); written atomically. The mean and SE go to stdout.\n"
            "  --confirmed-only   ignore machine suggestions: count confirmed labels only\n"
            "  --help             this text\n");
}

int polyp_cmd_cover(int argc, char **argv) {
    const char *csv_path = NULL, *out = NULL;
    int confirmed_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--confirmed-only")) {
            confirmed_only = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_fail(CMD, "unknown option or missing value: %s (polyp cover --help)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--annotations")) csv_path = v;
        else if (!strcmp(a, "--out")) out = v;
        else return cli_fail(CMD, "unknown option %s (polyp cover --help)", a);
    }
    if (!csv_path || !out) return cli_fail(CMD, "--annotations and --out are required (polyp cover --help)");

    polyp_error err = {0};
    void *data = NULL;
    size_t size = 0;
    if (!cli_read_file(csv_path, &data, &size, &err)) return cli_fail(CMD, "%s: %s", csv_path, err.message);
    polyp_annotations ann;
    polyp_status st = polyp_annotations_parse_csv(data, size, &ann, &err);
    polyp_free(data);
    if (st) return cli_fail(CMD, "%s: %s", csv_path, err.message);

    int rc = 1;
    const char **names = malloc((ann.count ? ann.count : 1) * sizeof *names);
    const char **labels = malloc((ann.count ? ann.count : 1) * sizeof *labels);
    uint8_t *confirmed = malloc(ann.count ? ann.count : 1);
    polyp_cover cover = {0};
    void *csv = NULL;
    size_t csv_size = 0, machine = 0;
    if (!names || !labels || !confirmed) {
        cli_fail(CMD, "out of memory for %zu points", ann.count);
        goto done;
    }
    for (size_t i = 0; i < ann.count; i++) {
        names[i] = ann.items[i].name;
        labels[i] = ann.items[i].label;
        confirmed[i] = labels[i] != NULL;
        if (!labels[i] && !confirmed_only && ann.items[i].suggestion) {
            labels[i] = ann.items[i].suggestion;
            machine++;
        }
    }
    if (polyp_cover_compute(names, labels, confirmed, ann.count, &cover, &err) ||
        polyp_cover_csv(&cover, &csv, &csv_size, &err) || !cli_write_file_atomic(out, csv, csv_size, &err)) {
        cli_fail_err(CMD, &err);
        goto done;
    }
    size_t unlabelled = 0;
    for (size_t k = 0; k < cover.n_images; k++) unlabelled += cover.unlabelled[k];
    printf("percent cover over %zu of %zu images (%zu points: %zu confirmed, %zu machine "
           "suggestions, %zu without a label, not counted)\n",
           cover.n_images_labelled, cover.n_images, ann.count, ann.count - machine - unlabelled, machine,
           unlabelled);
    printf("%-20s %8s %8s\n", "label", "mean %", "SE");
    for (size_t l = 0; l < cover.n_labels; l++)
        printf("%-20s %8.2f %8.2f\n", cover.labels[l], cover.mean[l], cover.se[l]);
    printf("percent-cover CSV: %s\n", out);
    rc = 0;
done:
    polyp_free(csv);
    polyp_cover_free(&cover);
    free(names);
    free(labels);
    free(confirmed);
    polyp_annotations_free(&ann);
    return rc;
}
