/* annotations.c - CoralNet's annotation CSV import (polyp_annotations_parse_csv).
 *
 * Header matching (as CoralNet's importer does): names are compared case-insensitively after
 * stripping surrounding whitespace and a UTF-8 BOM; columns may come in any order; columns
 * polyp does not use are ignored.
 *   Name    required; when there is no Name column, an `image` column is used instead. That
 *           is the project's "common CSV" (`image,row,column[,label]`, the layout of
 *           ../shared/testdata), so such files load without conversion.
 *   Row     required, 0-based pixel row (y).
 *   Column  required, 0-based pixel column (x).
 *   Label code / Label   optional; "Label code" wins when both are present.
 *   Machine suggestion 1 optional: the top machine suggestion of a CoralNet export (or of
 *           `polyp classify`), kept as `suggestion`.
 * Values: Row and Column are decimal integers in [0, 65535] (feature files store them as
 * uint16; images are capped at 65535 pixels a side), surrounding whitespace allowed. Name must
 * not be empty. An empty label means "no label" (NULL). Every error names the line and the
 * column. */
#include "csv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define POLYP_ANNOTATION_MAX_COORD 65535u

enum { COL_NAME, COL_IMAGE, COL_ROW, COL_COLUMN, COL_LABEL_CODE, COL_LABEL, COL_SUGGESTION, COL_COUNT };
static const char *const column_names[COL_COUNT] = {"Name", "image", "Row", "Column", "Label code", "Label",
                                                    "Machine suggestion 1"};

typedef struct storage {
    char *strings;  /* every name and label, NUL-terminated, back to back */
} storage;

/* Strips surrounding whitespace (and a BOM on the left) in place; returns the new start. */
static char *trim(char *s, size_t *len) {
    size_t n = *len;
    if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) {
        s += 3;
        n -= 3;
    }
    while (n > 0 && isspace((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    *len = n;
    return s;
}

static bool header_is(const char *s, size_t len, const char *want) {
    size_t wl = strlen(want);
    if (len != wl) return false;
    for (size_t i = 0; i < len; i++)
        if (tolower((unsigned char)s[i]) != tolower((unsigned char)want[i])) return false;
    return true;
}

/* Field i of the reader's current record, trimmed (the reader's buffer is writable scratch). */
static char *field_trimmed(polyp_csv_reader *r, size_t i, size_t *len) {
    char *f = (char *)polyp_csv_field(r, i, len);
    return f ? trim(f, len) : NULL;
}

static polyp_status parse_coord(const char *s, size_t len, size_t line, const char *col, uint32_t *out,
                                polyp_error *err) {
    /* Shown values are cut short so a huge field cannot swamp the message. */
    int show = len > 40 ? 40 : (int)len;
    if (len == 0) return polyp_fail(err, POLYP_ERR_FORMAT, "line %zu, column \"%s\": empty value", line, col);
    if (s[0] == '-' && len > 1 && isdigit((unsigned char)s[1]))
        return polyp_fail(err, POLYP_ERR_FORMAT, "line %zu, column \"%s\": \"%.*s\" is negative", line, col,
                          show, s);
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return polyp_fail(err, POLYP_ERR_FORMAT, "line %zu, column \"%s\": \"%.*s\" is not an integer",
                              line, col, show, s);
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > POLYP_ANNOTATION_MAX_COORD)
            return polyp_fail(err, POLYP_ERR_FORMAT,
                              "line %zu, column \"%s\": \"%.*s\" is too large (at most %u)", line, col,
                              show, s, POLYP_ANNOTATION_MAX_COORD);
    }
    *out = (uint32_t)v;
    return POLYP_OK;
}

/* Parsed row before the string arena stops moving: offsets instead of pointers. */
typedef struct pending {
    size_t name_off;
    size_t label_off; /* SIZE_MAX: no label */
    size_t suggestion_off; /* SIZE_MAX: none */
    uint32_t row, col;
} pending;

polyp_status polyp_annotations_parse_csv(const void *data, size_t size, polyp_annotations *out,
                                         polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "annotations: NULL output");
    memset(out, 0, sizeof *out);
    if (!data && size) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "annotations: NULL data");

    polyp_csv_reader r;
    polyp_csv_init(&r, data, size);
    polyp_strbuf strings = {0};
    pending *rows = NULL;
    size_t nrows = 0, rows_cap = 0;
    polyp_status st;
    bool got;

    if ((st = polyp_csv_next(&r, &got, err)) != POLYP_OK) goto fail;
    if (!got) {
        st = polyp_fail(err, POLYP_ERR_FORMAT, "annotations CSV is empty: no header line");
        goto fail;
    }
    size_t header_line = polyp_csv_line(&r);
    size_t col_index[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++) col_index[c] = SIZE_MAX;
    for (size_t i = 0; i < polyp_csv_nfields(&r); i++) {
        size_t len;
        char *h = field_trimmed(&r, i, &len);
        for (int c = 0; c < COL_COUNT; c++) {
            if (!header_is(h, len, column_names[c])) continue;
            if (col_index[c] != SIZE_MAX) {
                st = polyp_fail(err, POLYP_ERR_FORMAT, "line %zu: column \"%s\" appears twice (fields %zu and %zu)",
                                header_line, column_names[c], col_index[c] + 1, i + 1);
                goto fail;
            }
            col_index[c] = i;
        }
    }
    size_t name_col = col_index[COL_NAME] != SIZE_MAX ? col_index[COL_NAME] : col_index[COL_IMAGE];
    size_t label_col = col_index[COL_LABEL_CODE] != SIZE_MAX ? col_index[COL_LABEL_CODE] : col_index[COL_LABEL];
    const char *name_title = col_index[COL_NAME] != SIZE_MAX ? "Name" : "image";
    const char *missing = name_col == SIZE_MAX ? "Name" : col_index[COL_ROW] == SIZE_MAX ? "Row"
                        : col_index[COL_COLUMN] == SIZE_MAX ? "Column" : NULL;
    if (missing) {
        st = polyp_fail(err, POLYP_ERR_FORMAT,
                        "line %zu: missing required column \"%s\" (required: Name, Row, Column; "
                        "optional: Label code or Label)", header_line, missing);
        goto fail;
    }
    size_t need_fields = name_col;
    if (col_index[COL_ROW] > need_fields) need_fields = col_index[COL_ROW];
    if (col_index[COL_COLUMN] > need_fields) need_fields = col_index[COL_COLUMN];
    need_fields++;

    for (;;) {
        if ((st = polyp_csv_next(&r, &got, err)) != POLYP_OK) goto fail;
        if (!got) break;
        size_t line = polyp_csv_line(&r);
        if (polyp_csv_nfields(&r) < need_fields) {
            size_t nf = polyp_csv_nfields(&r);
            const char *lost = name_col >= nf ? name_title : col_index[COL_ROW] >= nf ? "Row" : "Column";
            size_t lost_at = name_col >= nf ? name_col : col_index[COL_ROW] >= nf ? col_index[COL_ROW]
                                                                                 : col_index[COL_COLUMN];
            st = polyp_fail(err, POLYP_ERR_FORMAT, "line %zu, column \"%s\": missing (the line has %zu fields, "
                            "the column is field %zu)", line, lost, nf, lost_at + 1);
            goto fail;
        }
        pending p;
        size_t len;
        char *v = field_trimmed(&r, col_index[COL_ROW], &len);
        if ((st = parse_coord(v, len, line, "Row", &p.row, err)) != POLYP_OK) goto fail;
        v = field_trimmed(&r, col_index[COL_COLUMN], &len);
        if ((st = parse_coord(v, len, line, "Column", &p.col, err)) != POLYP_OK) goto fail;

        v = field_trimmed(&r, name_col, &len);
        if (len == 0) {
            st = polyp_fail(err, POLYP_ERR_FORMAT, "line %zu, column \"%s\": empty image name", line, name_title);
            goto fail;
        }
        p.name_off = strings.len;
        if (!polyp_strbuf_append(&strings, v, len) || !polyp_strbuf_append(&strings, "", 1)) goto nomem;

        p.label_off = SIZE_MAX;
        v = label_col != SIZE_MAX ? field_trimmed(&r, label_col, &len) : NULL;
        if (v && len > 0) {
            p.label_off = strings.len;
            if (!polyp_strbuf_append(&strings, v, len) || !polyp_strbuf_append(&strings, "", 1)) goto nomem;
        }

        p.suggestion_off = SIZE_MAX;
        size_t sc = col_index[COL_SUGGESTION];
        v = sc != SIZE_MAX ? field_trimmed(&r, sc, &len) : NULL;
        if (v && len > 0) {
            p.suggestion_off = strings.len;
            if (!polyp_strbuf_append(&strings, v, len) || !polyp_strbuf_append(&strings, "", 1)) goto nomem;
        }

        if (nrows == rows_cap) {
            size_t ncap = rows_cap ? rows_cap * 2 : 256, bytes;
            pending *nr;
            if (!polyp_mul_ok(ncap, sizeof *nr, &bytes) || !(nr = realloc(rows, bytes))) goto nomem;
            rows = nr;
            rows_cap = ncap;
        }
        rows[nrows++] = p;
    }

    storage *stor = polyp_calloc(1, sizeof *stor);
    polyp_annotation *items = polyp_calloc(nrows, sizeof *items);
    if (!stor || !items) {
        free(stor);
        free(items);
        goto nomem;
    }
    stor->strings = strings.data;
    strings.data = NULL;
    for (size_t i = 0; i < nrows; i++) {
        items[i].name = stor->strings + rows[i].name_off;
        items[i].label = rows[i].label_off == SIZE_MAX ? NULL : stor->strings + rows[i].label_off;
        items[i].suggestion = rows[i].suggestion_off == SIZE_MAX ? NULL : stor->strings + rows[i].suggestion_off;
        items[i].row = rows[i].row;
        items[i].col = rows[i].col;
    }
    out->count = nrows;
    out->items = items;
    out->storage = stor;
    free(rows);
    polyp_csv_free(&r);
    return POLYP_OK;

nomem:
    st = polyp_fail(err, POLYP_ERR_NOMEM, "annotations: out of memory");
fail:
    free(rows);
    polyp_strbuf_free(&strings);
    polyp_csv_free(&r);
    return st;
}

void polyp_annotations_free(polyp_annotations *annotations) {
    if (!annotations) return;
    storage *stor = annotations->storage;
    if (stor) free(stor->strings);
    free(stor);
    free(annotations->items);
    memset(annotations, 0, sizeof *annotations);
}
