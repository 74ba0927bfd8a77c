/* fuzz_json.c - libFuzzer target for the JSON parser (core/json.c, used by safetensors headers
 * and model metadata). Build and run: tests/fuzz/run.sh (README.md, Correctness).
 * Checks beyond "no crash": every parse ends in a status with a message; a parsed tree is
 * consistent (child counts, types); every decoded string written back by the JSON writer and
 * parsed again gives the same bytes. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes s as a JSON literal and parses it back: the same bytes must come out. */
static void check_roundtrip(const char *s, size_t len) {
    polyp_strbuf b = {0};
    if (!polyp_json_write_string(&b, s, len)) abort();
    polyp_json_doc doc;
    polyp_error err;
    if (polyp_json_parse(b.data, b.len, NULL, &doc, &err) != POLYP_OK) abort();
    const polyp_json_value *v = polyp_json_root(&doc);
    if (v->type != POLYP_JSON_STRING || v->str_len != len || memcmp(v->str, s, len) != 0) abort();
    polyp_json_free(&doc);
    polyp_strbuf_free(&b);
}

static void walk(const polyp_json_value *v, int depth, int in_object) {
    if (depth > 16) abort(); /* deeper than the limit passed below */
    if (in_object) {
        if (!v->key || v->key[v->key_len] != '\0') abort();
        check_roundtrip(v->key, v->key_len);
    } else if (v->key) abort();
    switch (v->type) {
    case POLYP_JSON_STRING:
        if (!v->str || v->str[v->str_len] != '\0') abort();
        check_roundtrip(v->str, v->str_len);
        break;
    case POLYP_JSON_NUMBER:
        /* Integers up to 2^53 are exact doubles; past that num may be 1 ulp off (json.h). */
        if (v->is_int && v->ival > -(INT64_C(1) << 53) && v->ival < (INT64_C(1) << 53) &&
            (double)v->ival != v->num)
            abort();
        break;
    case POLYP_JSON_ARRAY:
    case POLYP_JSON_OBJECT: {
        size_t n = 0;
        for (const polyp_json_value *c = v->child; c; c = c->next, n++)
            walk(c, depth + 1, v->type == POLYP_JSON_OBJECT);
        if (n != v->count) abort();
        if (v->type == POLYP_JSON_ARRAY && v->count && polyp_json_at(v, v->count - 1) == NULL) abort();
        if (v->type == POLYP_JSON_OBJECT) {
            int nomem = 0;
            (void)polyp_json_find_duplicate_key(v, &nomem);
            if (v->child && polyp_json_get(v, v->child->key) == NULL &&
                v->child->key_len == strlen(v->child->key))
                abort(); /* the first key must be found by name */
        }
        break;
    }
    default:
        break;
    }
    if (!polyp_json_type_name(v->type)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    polyp_json_limits limits = polyp_json_default_limits();
    limits.max_depth = 16;      /* small, so the depth cap is reached often */
    limits.max_nodes = 4096;
    polyp_json_doc doc;
    polyp_error err;
    err.message[0] = '\0';
    if (polyp_json_parse((const char *)data, size, &limits, &doc, &err) != POLYP_OK) {
        if (err.message[0] == '\0') abort(); /* every failure must say why */
        return 0;
    }
    walk(polyp_json_root(&doc), 0, 0);
    polyp_json_free(&doc);
    return 0;
}
