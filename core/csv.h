/* csv.h - RFC 4180 CSV reading and writing, internal to the core (annotations import,
 * classifier export).
 *
 * Reader: records are read one at a time from a borrowed buffer. Accepted input:
 * - fields separated by ',', records ended by LF, CRLF or a lone CR;
 * - quoted fields ("a,b"), with "" standing for one quote and line breaks kept verbatim;
 *   spaces before an opening quote and after a closing quote are ignored;
 * - a quote inside an unquoted field is kept literally (as Python's csv module does);
 * - a UTF-8 byte-order mark at the start of the data is skipped;
 * - empty lines (no bytes between two line ends) are skipped, never reported as records.
 * Refused, with the line number: an unterminated quoted field, text after a closing quote,
 * a NUL byte, a field longer than max_field_bytes, more than max_fields fields.
 *
 * Writer: polyp_csv_write_field appends one field to a polyp_strbuf (internal.h),
 * quoted only when it must be (contains ',', '"', CR or LF, or leading/trailing space).
 */
#ifndef POLYP_CSV_H
#define POLYP_CSV_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>

#define POLYP_CSV_DEFAULT_MAX_FIELD ((size_t)1 << 16)   /* bytes in one field */
#define POLYP_CSV_DEFAULT_MAX_FIELDS ((size_t)4096)     /* fields in one record */

typedef struct polyp_csv_reader {
    const unsigned char *data;  /* borrowed */
    size_t size;
    size_t pos;
    size_t line;        /* 1-based physical line of the next unread byte */
    size_t record_line; /* 1-based line where the last record read started */
    size_t max_field_bytes;
    size_t max_fields;
    /* The current record: field i is text + offsets[i], NUL-terminated, lengths[i] bytes. */
    char *text;
    size_t text_len, text_cap;
    size_t *offsets;
    size_t *lengths;
    size_t nfields, fields_cap;
} polyp_csv_reader;

/* Starts reading `data` (borrowed: it must outlive the reader). Skips a UTF-8 BOM. */
void polyp_csv_init(polyp_csv_reader *r, const void *data, size_t size);

/* Reads the next record. *got is true when a record was read, false at the end of the data.
 * On error the message names the line ("line 12: unterminated quoted field ..."). */
polyp_status polyp_csv_next(polyp_csv_reader *r, bool *got, polyp_error *err);

/* Field i of the current record (NUL-terminated, owned by the reader, valid until the next
 * polyp_csv_next); *len (optional) receives its byte length. NULL when i is out of range. */
const char *polyp_csv_field(const polyp_csv_reader *r, size_t i, size_t *len);
static inline size_t polyp_csv_nfields(const polyp_csv_reader *r) { return r->nfields; }
/* Line where the current record starts (1-based; a quoted field may span more lines). */
static inline size_t polyp_csv_line(const polyp_csv_reader *r) { return r->record_line; }

void polyp_csv_free(polyp_csv_reader *r);

/* Appends one field (quoted when needed, see above). Separators and record ends ("," and
 * "\r\n" per RFC 4180, or "\n") are the caller's. False when memory runs out. */
bool polyp_csv_write_field(polyp_strbuf *b, const char *field, size_t len);

#endif /* POLYP_CSV_H */
