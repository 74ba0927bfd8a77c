/* json.c - strict, bounded JSON parser (see json.h). Recursive descent whose depth is capped
 * by limits.max_depth; nodes live in one growable array (indices while parsing, pointers
 * fixed up at the end) and decoded strings in one buffer of len + 1 bytes, which always
 * suffices because decoding never makes a string longer than its quoted literal. */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    polyp_json_value *nodes;
    size_t count, cap, max_nodes;
    int max_depth;
    char *strings;
    size_t str_pos;
    polyp_error *err;
} parser;

polyp_json_limits polyp_json_default_limits(void) {
    polyp_json_limits l = {64, (size_t)1 << 20};
    return l;
}

const char *polyp_json_type_name(polyp_json_type type) {
    switch (type) {
    case POLYP_JSON_NULL: return "null";
    case POLYP_JSON_FALSE:
    case POLYP_JSON_TRUE: return "boolean";
    case POLYP_JSON_NUMBER: return "number";
    case POLYP_JSON_STRING: return "string";
    case POLYP_JSON_ARRAY: return "array";
    case POLYP_JSON_OBJECT: return "object";
    }
    return "?";
}

static polyp_status syntax(parser *p, const char *what) {
    if (p->pos >= p->len)
        return polyp_fail(p->err, POLYP_ERR_FORMAT, "JSON: unexpected end of text at byte %zu: %s",
                          p->pos, what);
    unsigned char c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f)
        return polyp_fail(p->err, POLYP_ERR_FORMAT, "JSON: at byte %zu ('%c'): %s", p->pos, c, what);
    return polyp_fail(p->err, POLYP_ERR_FORMAT, "JSON: at byte %zu (0x%02x): %s", p->pos, c, what);
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static polyp_status new_node(parser *p, polyp_json_type type, size_t *out) {
    if (p->count >= p->max_nodes)
        return polyp_fail(p->err, POLYP_ERR_LIMIT, "JSON: more than %zu values (limit)", p->max_nodes);
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64, bytes;
        if (ncap > p->max_nodes) ncap = p->max_nodes;
        if (!polyp_mul_ok(ncap, sizeof *p->nodes, &bytes))
            return polyp_fail(p->err, POLYP_ERR_NOMEM, "JSON: out of memory");
        polyp_json_value *n = realloc(p->nodes, bytes);
        if (!n) return polyp_fail(p->err, POLYP_ERR_NOMEM, "JSON: out of memory");
        p->nodes = n;
        p->cap = ncap;
    }
    polyp_json_value *v = &p->nodes[p->count];
    memset(v, 0, sizeof *v);
    v->type = type;
    *out = p->count++;
    return POLYP_OK;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser *p, unsigned *out) {
    if (p->len - p->pos < 4) return false;
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + i]);
        if (h < 0) return false;
        v = v << 4 | (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

static void put_utf8(parser *p, unsigned cp) {
    char *o = p->strings + p->str_pos;
    if (cp < 0x80) {
        o[0] = (char)cp;
        p->str_pos += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        p->str_pos += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        p->str_pos += 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        p->str_pos += 4;
    }
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 when invalid (overlong forms,
 * surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (n < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return k;
}

/* Parses the string literal at p->pos (which is '"') into p->strings. */
static polyp_status parse_string(parser *p, size_t *out_off, size_t *out_len) {
    p->pos++; /* opening quote */
    size_t start = p->str_pos;
    for (;;) {
        if (p->pos >= p->len) return syntax(p, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) return syntax(p, "raw control character in string (must be escaped)");
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->len) return syntax(p, "unterminated escape");
            unsigned char e = p->s[p->pos++];
            char simple = 0;
            switch (e) {
            case '"': simple = '"'; break;
            case '\\': simple = '\\'; break;
            case '/': simple = '/'; break;
            case 'b': simple = '\b'; break;
            case 'f': simple = '\f'; break;
            case 'n': simple = '\n'; break;
            case 'r': simple = '\r'; break;
            case 't': simple = '\t'; break;
            case 'u': {
                unsigned cp;
                if (!read_hex4(p, &cp)) return syntax(p, "\\u needs 4 hex digits");
                if (cp >= 0xDC00 && cp <= 0xDFFF) return syntax(p, "lone low surrogate in \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                        return syntax(p, "high surrogate not followed by a \\u low surrogate");
                    p->pos += 2;
                    if (!read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return syntax(p, "high surrogate not followed by a low surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(p, cp);
                continue;
            }
            default: p->pos--; return syntax(p, "invalid escape");
            }
            p->strings[p->str_pos++] = simple;
            continue;
        }
        size_t k = utf8_seq(p->s + p->pos, p->len - p->pos);
        if (!k) return syntax(p, "invalid UTF-8 in string");
        memcpy(p->strings + p->str_pos, p->s + p->pos, k);
        p->str_pos += k;
        p->pos += k;
    }
    *out_len = p->str_pos - start;
    p->strings[p->str_pos++] = '\0';
    *out_off = start; /* an offset: turned into a pointer once the buffer is final */
    return POLYP_OK;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Exact powers of ten representable in a double (Clinger's fast path). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. Converted without strtod
 * (locale-dependent): exact when the significant digits fit 2^53 and |exponent| <= 22 (all
 * integers and short decimals), otherwise within an ulp or so. */
static polyp_status parse_number(parser *p, polyp_json_value *v) {
    size_t start = p->pos;
    bool neg = false;
    if (p->s[p->pos] == '-') {
        neg = true;
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) return syntax(p, "expected a digit");
    uint64_t mant = 0;
    int digits = 0;          /* significant digits kept in mant (max 19) */
    long dropped = 0;        /* integer digits beyond those, each a factor 10 */
    bool int_overflow = false;
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(p->s[p->pos])) return syntax(p, "leading zero in number");
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            unsigned d = p->s[p->pos++] - '0';
            if (digits < 19) {
                mant = mant * 10 + d;
                if (mant || d) digits++;
            } else {
                dropped++;
                int_overflow = true;
            }
        }
    }
    bool is_int = true;
    long exp10 = dropped;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        is_int = false;
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) return syntax(p, "expected a digit after '.'");
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            unsigned d = p->s[p->pos++] - '0';
            if (digits < 19) {
                mant = mant * 10 + d;
                if (mant) digits++;
                exp10--;
            }
        }
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        is_int = false;
        p->pos++;
        bool eneg = false;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) eneg = p->s[p->pos++] == '-';
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) return syntax(p, "expected a digit in exponent");
        long e = 0;
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            if (e < 100000) e = e * 10 + (p->s[p->pos] - '0');
            p->pos++;
        }
        exp10 += eneg ? -e : e;
    }
    double m = (double)mant, r;
    if (mant == 0) r = 0.0;
    else if (mant < ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22)
        r = exp10 < 0 ? m / pow10_exact[-exp10] : m * pow10_exact[exp10];
    else if (exp10 < -400) r = 0.0;
    else if (exp10 > 400) r = HUGE_VAL;
    else r = m * pow(10.0, (double)exp10);
    if (isinf(r)) {
        p->pos = start;
        return syntax(p, "number out of range");
    }
    v->num = neg ? -r : r;
    if (is_int && !int_overflow && (mant <= (uint64_t)INT64_MAX || (neg && mant == (uint64_t)INT64_MAX + 1))) {
        v->is_int = 1;
        v->ival = neg ? (int64_t)(0 - mant) : (int64_t)mant;
    }
    return POLYP_OK;
}

static bool match_word(parser *p, const char *w) {
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0) return false;
    p->pos += n;
    return true;
}

static polyp_status parse_value(parser *p, int depth, size_t *out);

static polyp_status parse_container(parser *p, int depth, bool is_object, size_t idx) {
    if (depth >= p->max_depth)
        return polyp_fail(p->err, POLYP_ERR_LIMIT, "JSON: nesting deeper than %d at byte %zu (limit)",
                          p->max_depth, p->pos);
    char close = is_object ? '}' : ']';
    p->pos++; /* '{' or '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return POLYP_OK;
    }
    size_t prev = 0, count = 0;
    for (;;) {
        size_t key_off = 0, key_len = 0;
        polyp_status st;
        if (is_object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') return syntax(p, "expected a string key in object");
            if ((st = parse_string(p, &key_off, &key_len)) != POLYP_OK) return st;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return syntax(p, "expected ':' after object key");
            p->pos++;
            skip_ws(p);
        }
        size_t child;
        if ((st = parse_value(p, depth + 1, &child)) != POLYP_OK) return st;
        if (is_object) {
            /* offset + 1, so that offset 0 stays distinguishable from "no key" */
            p->nodes[child].key = (const char *)(uintptr_t)(key_off + 1);
            p->nodes[child].key_len = key_len;
        }
        if (count == 0) p->nodes[idx].child_i_ = child;
        else p->nodes[prev].next_i_ = child;
        prev = child;
        count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return syntax(p, is_object ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
    }
    p->nodes[idx].count = count;
    return POLYP_OK;
}

static polyp_status parse_value(parser *p, int depth, size_t *out) {
    polyp_status st;
    if (p->pos >= p->len) return syntax(p, "expected a value");
    unsigned char c = p->s[p->pos];
    size_t idx;
    switch (c) {
    case '{':
    case '[':
        if ((st = new_node(p, c == '{' ? POLYP_JSON_OBJECT : POLYP_JSON_ARRAY, &idx)) != POLYP_OK) return st;
        *out = idx;
        return parse_container(p, depth, c == '{', idx);
    case '"': {
        if ((st = new_node(p, POLYP_JSON_STRING, &idx)) != POLYP_OK) return st;
        size_t off, n;
        if ((st = parse_string(p, &off, &n)) != POLYP_OK) return st;
        p->nodes[idx].str = (const char *)(uintptr_t)off;
        p->nodes[idx].str_len = n;
        *out = idx;
        return POLYP_OK;
    }
    case 't':
    case 'f':
    case 'n': {
        polyp_json_type t = c == 't' ? POLYP_JSON_TRUE : c == 'f' ? POLYP_JSON_FALSE : POLYP_JSON_NULL;
        if (!match_word(p, c == 't' ? "true" : c == 'f' ? "false" : "null"))
            return syntax(p, "expected a value");
        if ((st = new_node(p, t, &idx)) != POLYP_OK) return st;
        *out = idx;
        return POLYP_OK;
    }
    default:
        if (c != '-' && !is_digit(c)) return syntax(p, "expected a value");
        if ((st = new_node(p, POLYP_JSON_NUMBER, &idx)) != POLYP_OK) return st;
        *out = idx;
        return parse_number(p, &p->nodes[idx]);
    }
}

polyp_status polyp_json_parse(const char *text, size_t len, const polyp_json_limits *limits,
                              polyp_json_doc *doc, polyp_error *err) {
    if (!doc) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "JSON: doc is NULL");
    memset(doc, 0, sizeof *doc);
    if (!text && len) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "JSON: text is NULL");
    polyp_json_limits lim = limits ? *limits : polyp_json_default_limits();
    if (lim.max_depth < 1) lim.max_depth = 1;
    if (lim.max_nodes < 1) lim.max_nodes = 1;
    size_t sbytes;
    if (!polyp_add_ok(len, 1, &sbytes)) return polyp_fail(err, POLYP_ERR_NOMEM, "JSON: text too large");
    parser p = {(const unsigned char *)text, len, 0, NULL, 0, 0, lim.max_nodes, lim.max_depth,
                polyp_malloc(sbytes), 0, err};
    if (!p.strings) return polyp_fail(err, POLYP_ERR_NOMEM, "JSON: out of memory");
    skip_ws(&p);
    size_t root;
    polyp_status st = parse_value(&p, 0, &root);
    if (st == POLYP_OK) {
        skip_ws(&p);
        if (p.pos != p.len) st = syntax(&p, "unexpected text after the JSON value");
    }
    if (st != POLYP_OK) {
        free(p.nodes);
        free(p.strings);
        return st;
    }
    /* Offsets and indices become pointers now that nothing moves any more. */
    for (size_t i = 0; i < p.count; i++) {
        polyp_json_value *v = &p.nodes[i];
        if (v->key) v->key = p.strings + ((uintptr_t)v->key - 1);
        if (v->type == POLYP_JSON_STRING) v->str = p.strings + (uintptr_t)v->str;
        v->child = v->child_i_ ? &p.nodes[v->child_i_] : NULL;
        v->next = v->next_i_ ? &p.nodes[v->next_i_] : NULL;
    }
    doc->nodes = p.nodes;
    doc->count = p.count;
    doc->strings = p.strings;
    return POLYP_OK;
}

void polyp_json_free(polyp_json_doc *doc) {
    if (!doc) return;
    free(doc->nodes);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const polyp_json_value *polyp_json_root(const polyp_json_doc *doc) {
    return doc && doc->count ? &doc->nodes[0] : NULL;
}

const polyp_json_value *polyp_json_get(const polyp_json_value *object, const char *key) {
    if (!object || object->type != POLYP_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (const polyp_json_value *m = object->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
    return NULL;
}

const polyp_json_value *polyp_json_at(const polyp_json_value *array, size_t index) {
    if (!array || array->type != POLYP_JSON_ARRAY) return NULL;
    const polyp_json_value *e = array->child;
    while (e && index--) e = e->next;
    return e;
}

static int cmp_keys(const void *a, const void *b) {
    const polyp_json_value *x = *(const polyp_json_value *const *)a;
    const polyp_json_value *y = *(const polyp_json_value *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

const polyp_json_value *polyp_json_find_duplicate_key(const polyp_json_value *object, int *nomem) {
    if (nomem) *nomem = 0;
    if (!object || object->type != POLYP_JSON_OBJECT || object->count < 2) return NULL;
    const polyp_json_value **v = polyp_malloc(object->count * sizeof *v); /* count <= nodes */
    if (!v) {
        if (nomem) *nomem = 1;
        return NULL;
    }
    size_t n = 0;
    for (const polyp_json_value *m = object->child; m; m = m->next) v[n++] = m;
    qsort(v, n, sizeof *v, cmp_keys);
    const polyp_json_value *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (cmp_keys(&v[i - 1], &v[i]) == 0) dup = v[i];
    free(v);
    return dup;
}

/* ------------------------------------------------------------------ writing helpers */

bool polyp_json_write_string(polyp_strbuf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    if (!polyp_strbuf_append(b, "\"", 1)) return false;
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (!polyp_strbuf_append(b, s + run, i - run)) return false;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        if (c == '"' || c == '\\') esc[1] = (char)c;
        else if (c == '\n') esc[1] = 'n';
        else if (c == '\t') esc[1] = 't';
        else if (c == '\r') esc[1] = 'r';
        else {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (!polyp_strbuf_append(b, esc, n)) return false;
        run = i + 1;
    }
    return polyp_strbuf_append(b, s + run, len - run) && polyp_strbuf_append(b, "\"", 1);
}

bool polyp_json_write_u64(polyp_strbuf *b, uint64_t v) {
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return polyp_strbuf_append(b, tmp + n, sizeof tmp - n);
}
