/* csv.c - RFC 4180 CSV reader and field writer (see csv.h for what is accepted). */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

void polyp_csv_init(polyp_csv_reader *r, const void *data, size_t size) {
    memset(r, 0, sizeof *r);
    r->data = data;
    r->size = size;
    r->line = 1;
    r->max_field_bytes = POLYP_CSV_DEFAULT_MAX_FIELD;
    r->max_fields = POLYP_CSV_DEFAULT_MAX_FIELDS;
    if (size >= 3 && r->data[0] == 0xEF && r->data[1] == 0xBB && r->data[2] == 0xBF) r->pos = 3;
}

void polyp_csv_free(polyp_csv_reader *r) {
    free(r->text);
    free(r->offsets);
    free(r->lengths);
    r->text = NULL;
    r->offsets = r->lengths = NULL;
    r->text_cap = r->fields_cap = r->nfields = r->text_len = 0;
}

const char *polyp_csv_field(const polyp_csv_reader *r, size_t i, size_t *len) {
    if (i >= r->nfields) return NULL;
    if (len) *len = r->lengths[i];
    return r->text + r->offsets[i];
}

static bool put_byte(polyp_csv_reader *r, char c) {
    if (r->text_len == r->text_cap) {
        /* The record text is bounded by max_fields * (max_field_bytes + 1), so doubling
         * from 256 cannot overflow before the per-field checks stop it. */
        size_t ncap = r->text_cap ? r->text_cap * 2 : 256;
        char *nt = realloc(r->text, ncap);
        if (!nt) return false;
        r->text = nt;
        r->text_cap = ncap;
    }
    r->text[r->text_len++] = c;
    return true;
}

static bool start_field(polyp_csv_reader *r) {
    if (r->nfields == r->fields_cap) {
        size_t ncap = r->fields_cap ? r->fields_cap * 2 : 16;
        size_t *no = realloc(r->offsets, ncap * sizeof *no);
        if (!no) return false;
        r->offsets = no;
        size_t *nl = realloc(r->lengths, ncap * sizeof *nl);
        if (!nl) return false;
        r->lengths = nl;
        r->fields_cap = ncap;
    }
    r->offsets[r->nfields] = r->text_len;
    r->lengths[r->nfields] = 0;
    r->nfields++;
    return true;
}

static bool is_line_end(unsigned char c) { return c == '\n' || c == '\r'; }

/* Consumes one line end (LF, CRLF or lone CR) at pos. */
static void eat_line_end(polyp_csv_reader *r) {
    if (r->data[r->pos] == '\r' && r->pos + 1 < r->size && r->data[r->pos + 1] == '\n') r->pos++;
    r->pos++;
    r->line++;
}

polyp_status polyp_csv_next(polyp_csv_reader *r, bool *got, polyp_error *err) {
    *got = false;
    r->nfields = 0;
    r->text_len = 0;
    while (r->pos < r->size && is_line_end(r->data[r->pos])) eat_line_end(r);
    if (r->pos >= r->size) return POLYP_OK;
    r->record_line = r->line;
    for (;;) {
        if (r->nfields >= r->max_fields)
            return polyp_fail(err, POLYP_ERR_LIMIT, "line %zu: more than %zu fields", r->record_line,
                              r->max_fields);
        if (!start_field(r)) return polyp_fail(err, POLYP_ERR_NOMEM, "csv: out of memory");
        size_t flen = 0;
        size_t p = r->pos;
        while (p < r->size && r->data[p] == ' ') p++;
        if (p < r->size && r->data[p] == '"') {
            size_t quote_line = r->line;
            r->pos = p + 1;
            for (;;) {
                if (r->pos >= r->size)
                    return polyp_fail(err, POLYP_ERR_FORMAT,
                                      "line %zu: quoted field starting on line %zu is never closed",
                                      r->line, quote_line);
                unsigned char c = r->data[r->pos];
                if (c == '"') {
                    if (r->pos + 1 < r->size && r->data[r->pos + 1] == '"') {
                        r->pos += 2;
                    } else {
                        r->pos++;
                        break;
                    }
                } else {
                    if (c == 0)
                        return polyp_fail(err, POLYP_ERR_FORMAT, "line %zu: NUL byte in field %zu",
                                          r->line, r->nfields);
                    /* Line breaks inside quotes are data, but still count as lines. */
                    if (c == '\n' || (c == '\r' && !(r->pos + 1 < r->size && r->data[r->pos + 1] == '\n')))
                        r->line++;
                    r->pos++;
                }
                if (++flen > r->max_field_bytes)
                    return polyp_fail(err, POLYP_ERR_LIMIT, "line %zu: field %zu longer than %zu bytes",
                                      r->record_line, r->nfields, r->max_field_bytes);
                if (!put_byte(r, (char)c)) return polyp_fail(err, POLYP_ERR_NOMEM, "csv: out of memory");
            }
            while (r->pos < r->size && (r->data[r->pos] == ' ' || r->data[r->pos] == '\t')) r->pos++;
            if (r->pos < r->size && r->data[r->pos] != ',' && !is_line_end(r->data[r->pos]))
                return polyp_fail(err, POLYP_ERR_FORMAT,
                                  "line %zu: unexpected '%c' after the closing quote of field %zu",
                                  r->line, r->data[r->pos] >= 32 && r->data[r->pos] < 127 ? r->data[r->pos] : '?',
                                  r->nfields);
        } else {
            while (r->pos < r->size && r->data[r->pos] != ',' && !is_line_end(r->data[r->pos])) {
                unsigned char c = r->data[r->pos++];
                if (c == 0)
                    return polyp_fail(err, POLYP_ERR_FORMAT, "line %zu: NUL byte in field %zu", r->line,
                                      r->nfields);
                if (++flen > r->max_field_bytes)
                    return polyp_fail(err, POLYP_ERR_LIMIT, "line %zu: field %zu longer than %zu bytes",
                                      r->record_line, r->nfields, r->max_field_bytes);
                if (!put_byte(r, (char)c)) return polyp_fail(err, POLYP_ERR_NOMEM, "csv: out of memory");
            }
        }
        r->lengths[r->nfields - 1] = flen;
        if (!put_byte(r, '\0')) return polyp_fail(err, POLYP_ERR_NOMEM, "csv: out of memory");
        if (r->pos < r->size && r->data[r->pos] == ',') {
            r->pos++;
            continue; /* a trailing comma still opens one more (empty) field */
        }
        if (r->pos < r->size) eat_line_end(r);
        break;
    }
    *got = true;
    return POLYP_OK;
}

/* ------------------------------------------------------------------------------ writer */

bool polyp_csv_write_field(polyp_strbuf *b, const char *field, size_t len) {
    bool quote = len > 0 && (field[0] == ' ' || field[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        quote = field[i] == ',' || field[i] == '"' || field[i] == '\r' || field[i] == '\n';
    if (!quote) return polyp_strbuf_append(b, field, len);
    if (!polyp_strbuf_append(b, "\"", 1)) return false;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (field[i] != '"') continue;
        /* Copy through this quote, then add the doubling one. */
        if (!polyp_strbuf_append(b, field + start, i + 1 - start) || !polyp_strbuf_append(b, "\"", 1))
            return false;
        start = i + 1;
    }
    return polyp_strbuf_append(b, field + start, len - start) && polyp_strbuf_append(b, "\"", 1);
}
