/* cmd_points.c - `polyp points`: CoralNet's simple random, stratified random and uniform
 * grid point generation, for one image size or every image of a folder. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const CMD = "points";

static void usage(FILE *out) {
    fprintf(out,
            "usage: polyp points (--image-size WxH [--name NAME] | --images DIR)\n"
            "                    --method random:N|stratified:R,C,K|grid:R,C [--area A] [--seed N] --out CSV\n\n"
            "Generates CoralNet's annotation points and writes a CSV with Name, Row, Column.\n\n"
            "  --image-size WxH  one image of W x H pixels, named NAME (default 'image')\n"
            "  --images DIR      every .jpg/.jpeg/.png in DIR (sizes read from the files), by name\n"
            "  --method M        random:N          N uniform points (CoralNet's default: random:30)\n"
            "                    stratified:R,C,K  R x C cells, K random points in each\n"
            "                    grid:R,C          one point at the centre of each of R x C cells\n"
            "  --area A          annotation area TOP,LEFT,BOTTOM,RIGHT: inclusive pixels, or all four\n"
            "                    as percentages of the height / width (e.g. 5%%,5%%,95%%,95%%);\n"
            "                    default: the whole image\n"
            "  --seed N          seed (default 0); each image gets its own stream\n"
            "  --out CSV         output (written atomically)\n"
            "  --help            this text\n");
}

typedef struct area_spec {
    bool set, percent;
    double v[4];
} area_spec;

static bool parse_area(const char *s, area_spec *a) {
    int pct = 0;
    char *end;
    for (int i = 0; i < 4; i++) {
        a->v[i] = strtod(s, &end);
        if (end == s || a->v[i] < 0) return false;
        s = end;
        if (*s == '%') {
            pct++;
            s++;
        }
        if (i < 3 && *s++ != ',') return false;
    }
    if (*s || (pct != 0 && pct != 4)) return false;
    a->percent = pct == 4;
    a->set = true;
    return true;
}

/* Fills the area bounds of `p` for an image of w x h; false with a message when outside. */
static bool apply_area(const area_spec *a, uint32_t w, uint32_t h, polyp_points_params *p, const char *name) {
    if (!a->set) return true;
    double v[4];
    for (int i = 0; i < 4; i++) {
        double size = (i % 2 == 0) ? h : w;
        v[i] = a->percent ? (double)(long long)(a->v[i] / 100.0 * size) : a->v[i];
        if (a->percent && v[i] > size - 1) v[i] = size - 1;
    }
    if (v[2] >= h || v[3] >= w || v[0] > v[2] || v[1] > v[3]) {
        cli_fail(CMD, "%s: area %g,%g,%g,%g does not fit a %ux%u image", name, v[0], v[1], v[2], v[3], w, h);
        return false;
    }
    p->min_row = (uint32_t)v[0], p->min_col = (uint32_t)v[1], p->max_row = (uint32_t)v[2], p->max_col = (uint32_t)v[3];
    return true;
}

static bool parse_method(const char *s, polyp_points_params *p) {
    unsigned long a = 0, b = 0, c = 0;
    char tail;
    if (sscanf(s, "random:%lu%c", &a, &tail) == 1) {
        p->method = POLYP_POINTS_RANDOM, p->n = a;
        return a > 0;
    }
    if (sscanf(s, "stratified:%lu,%lu,%lu%c", &a, &b, &c, &tail) == 3) {
        p->method = POLYP_POINTS_STRATIFIED, p->cell_rows = a, p->cell_cols = b, p->per_cell = c;
        return a && b && c;
    }
    if (sscanf(s, "grid:%lu,%lu%c", &a, &b, &tail) == 2) {
        p->method = POLYP_POINTS_GRID, p->cell_rows = a, p->cell_cols = b;
        return a && b;
    }
    return false;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_image_name(const char *n) {
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

/* Growable output text. */
typedef struct text {
    char *data;
    size_t len, cap;
    bool failed;
} text;

static void append(text *t, const char *s, size_t n) {
    if (t->failed) return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + n;
        char *d = realloc(t->data, cap);
        if (!d) {
            t->failed = true;
            return;
        }
        t->data = d, t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
}

/* A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
static void append_field(text *t, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        append(t, s, strlen(s));
        return;
    }
    append(t, "\"", 1);
    for (; *s; s++) {
        if (*s == '"') append(t, "\"", 1);
        append(t, s, 1);
    }
    append(t, "\"", 1);
}

int polyp_cmd_points(int argc, char **argv) {
    const char *size = NULL, *dir = NULL, *method = NULL, *out = NULL, *name = "image";
    area_spec area = {0};
    size_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return cli_fail(CMD, "unknown option or missing value: %s (polyp points --help)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--image-size")) size = v;
        else if (!strcmp(a, "--images")) dir = v;
        else if (!strcmp(a, "--method")) method = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--area")) {
            if (!parse_area(v, &area)) return cli_fail(CMD, "--area must be TOP,LEFT,BOTTOM,RIGHT (pixels, or all in %%), not '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_size(CMD, a, v, &seed)) return 1;
        } else {
            return cli_fail(CMD, "unknown option %s (polyp points --help)", a);
        }
    }
    if (!method || !out || (!size == !dir))
        return cli_fail(CMD, "--method, --out and one of --image-size / --images are required (polyp points --help)");
    polyp_points_params base = polyp_points_default_params(1, 1);
    if (!parse_method(method, &base))
        return cli_fail(CMD, "--method must be random:N, stratified:R,C,K or grid:R,C with positive numbers, not '%s'", method);
    char **names = NULL;
    size_t n_names = 0;
    uint32_t fixed_w = 0, fixed_h = 0;
    if (size) {
        unsigned long w, h;
        char tail;
        if (sscanf(size, "%lux%lu%c", &w, &h, &tail) != 2 || !w || !h || w > 65535 || h > 65535)
            return cli_fail(CMD, "--image-size must be WxH with 1..65535 pixels, not '%s'", size);
        fixed_w = (uint32_t)w, fixed_h = (uint32_t)h;
        names = malloc(sizeof(char *));
        names[0] = strdup(name);
        n_names = 1;
    } else {
        DIR *d = opendir(dir);
        if (!d) return cli_fail(CMD, "%s: cannot open folder", dir);
        struct dirent *e;
        size_t cap = 0;
        while ((e = readdir(d))) {
            if (!is_image_name(e->d_name)) continue;
            if (n_names == cap) {
                cap = cap ? cap * 2 : 64;
                char **nn = realloc(names, cap * sizeof(char *));
                if (!nn) break;
                names = nn;
            }
            names[n_names++] = strdup(e->d_name);
        }
        closedir(d);
        if (n_names == 0) {
            free(names);
            return cli_fail(CMD, "%s: no .jpg, .jpeg or .png images", dir);
        }
        qsort(names, n_names, sizeof(char *), cmp_names);
    }
    text t = {0};
    int rc = 0;
    append(&t, "Name,Row,Column\r\n", 17);
    for (size_t i = 0; i < n_names && rc == 0; i++) {
        uint32_t w = fixed_w, h = fixed_h;
        if (!size) {
            size_t plen = strlen(dir) + strlen(names[i]) + 2;
            char *path = malloc(plen);
            snprintf(path, plen, "%s/%s", dir, names[i]);
            polyp_image img;
            polyp_error err = {0};
            polyp_status st = polyp_image_load_file(path, NULL, &img, &err);
            free(path);
            if (st != POLYP_OK) {
                rc = cli_fail_err(CMD, &err);
                break;
            }
            w = img.width, h = img.height;
            polyp_image_free(&img);
        }
        polyp_points_params p = polyp_points_default_params(w, h);
        p.method = base.method, p.n = base.n, p.cell_rows = base.cell_rows, p.cell_cols = base.cell_cols;
        p.per_cell = base.per_cell;
        p.seed = (uint64_t)seed * 0x9E3779B97F4A7C15ull + i;
        if (!apply_area(&area, w, h, &p, names[i])) {
            rc = 1;
            break;
        }
        polyp_point *pts;
        size_t n;
        polyp_error err = {0};
        if (polyp_points_generate(&p, &pts, &n, &err) != POLYP_OK) {
            rc = cli_fail(CMD, "%s: %s", names[i], err.message);
            break;
        }
        for (size_t k = 0; k < n; k++) {
            char num[48];
            append_field(&t, names[i]);
            int len = snprintf(num, sizeof num, ",%u,%u\r\n", pts[k].row, pts[k].col);
            append(&t, num, (size_t)len);
        }
        polyp_free(pts);
    }
    if (rc == 0 && t.failed) rc = cli_fail(CMD, "out of memory");
    polyp_error err = {0};
    if (rc == 0 && !cli_write_file_atomic(out, t.data, t.len, &err)) rc = cli_fail_err(CMD, &err);
    for (size_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(t.data);
    return rc;
}
