/* export_csv.c - CoralNet's annotation export: Name, Row, Column, Label code, then for
 * n = 1..top the pairs "Machine suggestion n", "Machine confidence n" (interleaved, as
 * CoralNet writes them; confidence in integer percent; both blank when the point has no
 * scores or the model has fewer labels), then with all_scores one column per label (header
 * = the label code, value = integer percent). Suggestions are ordered by probability,
 * ties by label order. Fields are quoted only when they must be (RFC 4180). */
#include "classifier_internal.h"
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOP 1000

polyp_export_params polyp_export_default_params(void) {
    polyp_export_params p = {5, 0};
    return p;
}

static bool field(polyp_strbuf *b, const char *s, bool first) {
    return (first || polyp_strbuf_append(b, ",", 1)) && polyp_csv_write_field(b, s ? s : "", s ? strlen(s) : 0);
}

polyp_status polyp_export_csv(const polyp_export_row *rows, size_t n_rows,
                              const char *const *labels, size_t n_labels,
                              const polyp_export_params *params, void **out, size_t *out_size,
                              polyp_error *err) {
    if (!out || !out_size || (n_rows && !rows) || (n_labels && !labels))
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "export: NULL argument");
    polyp_export_params p = params ? *params : polyp_export_default_params();
    if (p.top > MAX_TOP) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "export: top %zu > %d", p.top, MAX_TOP);
    for (size_t l = 0; l < n_labels; l++)
        if (!labels[l]) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "export: label %zu is NULL", l);
    polyp_strbuf b = {0};
    size_t *order = polyp_malloc((n_labels + 1) * sizeof(size_t));
    bool ok = order != NULL;
    ok = ok && field(&b, "Name", true) && field(&b, "Row", false) && field(&b, "Column", false) &&
         field(&b, "Label code", false);
    for (size_t k = 1; ok && k <= p.top; k++)
        ok = polyp_strbuf_printf(&b, ",Machine suggestion %zu,Machine confidence %zu", k, k);
    for (size_t l = 0; ok && p.all_scores && l < n_labels; l++) ok = field(&b, labels[l], false);
    ok = ok && polyp_strbuf_append(&b, "\r\n", 2);
    for (size_t i = 0; ok && i < n_rows; i++) {
        const polyp_export_row *r = &rows[i];
        if (!r->name) {
            free(order);
            polyp_strbuf_free(&b);
            return polyp_fail(err, POLYP_ERR_INVALID_ARG, "export: row %zu has no image name", i);
        }
        ok = field(&b, r->name, true) && polyp_strbuf_printf(&b, ",%u,%u", r->row, r->col) &&
             field(&b, r->label, false);
        /* Order labels by probability (insertion sort: stable, n_labels is small). */
        for (size_t l = 0; l < n_labels; l++) {
            size_t j = l;
            while (r->probs && j > 0 && r->probs[order[j - 1]] < r->probs[l]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = l;
        }
        for (size_t k = 0; ok && k < p.top; k++) {
            if (r->probs && k < n_labels)
                ok = field(&b, labels[order[k]], false) &&
                     polyp_strbuf_printf(&b, ",%d", polyp_score_percent(r->probs[order[k]]));
            else
                ok = polyp_strbuf_append(&b, ",,", 2);
        }
        for (size_t l = 0; ok && p.all_scores && l < n_labels; l++)
            ok = r->probs ? polyp_strbuf_printf(&b, ",%d", polyp_score_percent(r->probs[l]))
                          : polyp_strbuf_append(&b, ",", 1);
        ok = ok && polyp_strbuf_append(&b, "\r\n", 2);
    }
    free(order);
    if (!ok) {
        polyp_strbuf_free(&b);
        return polyp_fail(err, POLYP_ERR_NOMEM, "export: no memory for %zu rows", n_rows);
    }
    *out = b.data;
    *out_size = b.len;
    return POLYP_OK;
}
