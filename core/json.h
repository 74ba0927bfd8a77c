/* json.h - a small, strict, bounded JSON parser (internal API).
 *
 * Strict RFC 8259: no comments, no trailing commas, no NaN/Infinity, no leading zeros,
 * strings must be valid UTF-8 without raw control characters; \u escapes (with surrogate
 * pairs) are decoded to UTF-8. Bounded: the caller sets the maximum nesting depth and node
 * count, so hostile input costs at most limits x sizeof(polyp_json_value) memory and the
 * recursion never goes deeper than max_depth. Duplicate object keys are kept (in order):
 * formats that forbid them check with polyp_json_find_duplicate_key.
 *
 * Usage:
 *   polyp_json_doc doc;
 *   if (polyp_json_parse(text, len, NULL, &doc, err) != POLYP_OK) return ...;
 *   for (const polyp_json_value *m = polyp_json_root(&doc)->child; m; m = m->next)
 *       printf("%s\n", m->key);
 *   polyp_json_free(&doc);
 */
#ifndef POLYP_JSON_H
#define POLYP_JSON_H

#include "internal.h"

typedef enum polyp_json_type {
    POLYP_JSON_NULL,
    POLYP_JSON_FALSE,
    POLYP_JSON_TRUE,
    POLYP_JSON_NUMBER,
    POLYP_JSON_STRING,
    POLYP_JSON_ARRAY,
    POLYP_JSON_OBJECT,
} polyp_json_type;

typedef struct polyp_json_value polyp_json_value;
struct polyp_json_value {
    polyp_json_type type;
    /* Inside an object: the member's key (decoded UTF-8, NUL-terminated; key_len excludes
     * the NUL and may differ from strlen when the key contains \u0000). NULL elsewhere. */
    const char *key;
    size_t key_len;
    /* POLYP_JSON_STRING: decoded UTF-8, NUL-terminated, str_len as for key_len. */
    const char *str;
    size_t str_len;
    /* POLYP_JSON_NUMBER: num always set (nearest double, within 1 ulp); is_int when the
     * literal has no fraction or exponent and fits int64_t, then ival holds it exactly. */
    double num;
    int is_int;
    int64_t ival;
    /* POLYP_JSON_ARRAY / OBJECT: count children, linked from child through next. */
    size_t count;
    const polyp_json_value *child;
    const polyp_json_value *next;   /* next sibling in the parent, NULL at the end */
    size_t child_i_, next_i_;       /* internal (indices while parsing) */
};

typedef struct polyp_json_limits {
    int max_depth;        /* nesting of arrays/objects; default 64 */
    size_t max_nodes;     /* values of any kind; default 1 << 20 */
} polyp_json_limits;

polyp_json_limits polyp_json_default_limits(void);

/* Parsed document. Owns its nodes and decoded strings; free with polyp_json_free. */
typedef struct polyp_json_doc {
    polyp_json_value *nodes;   /* nodes[0] is the root */
    size_t count;
    char *strings;
} polyp_json_doc;

/* Parses exactly one JSON value from text[0..len) (surrounding whitespace allowed, nothing
 * else). `text` is borrowed (need not be NUL-terminated). limits may be NULL for defaults.
 * Errors: POLYP_ERR_FORMAT with the byte offset and what was expected; POLYP_ERR_LIMIT when
 * depth or node count exceed the limits; POLYP_ERR_NOMEM. On error doc is left empty. */
polyp_status polyp_json_parse(const char *text, size_t len, const polyp_json_limits *limits,
                              polyp_json_doc *doc, polyp_error *err);
void polyp_json_free(polyp_json_doc *doc);

const polyp_json_value *polyp_json_root(const polyp_json_doc *doc);

/* First member of `object` named key (exact bytes, key_len == strlen(key)); NULL if absent
 * or `object` is not an object. Linear in the member count. */
const polyp_json_value *polyp_json_get(const polyp_json_value *object, const char *key);

/* The index-th element of an array (linear); NULL when out of range or not an array. */
const polyp_json_value *polyp_json_at(const polyp_json_value *array, size_t index);

/* Some member of `object` whose key appears more than once, or NULL when all keys are
 * distinct. O(n log n); allocates temporarily (returns NULL and sets *nomem on failure). */
const polyp_json_value *polyp_json_find_duplicate_key(const polyp_json_value *object, int *nomem);

/* Type name for messages ("object", "string", ...). */
const char *polyp_json_type_name(polyp_json_type type);

/* Writers, into internal.h's polyp_strbuf (false on allocation failure): `s` (len bytes)
 * as a JSON string literal with quotes and escapes; `v` as a decimal integer. */
bool polyp_json_write_string(polyp_strbuf *b, const char *s, size_t len);
bool polyp_json_write_u64(polyp_strbuf *b, uint64_t v);

#endif /* POLYP_JSON_H */
