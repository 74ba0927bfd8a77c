/* test_json.c - the strict JSON parser: accepted grammar, decoded values, refused input,
 * depth and size limits. Expected values are written by hand from RFC 8259. */
#include "json.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static polyp_status parse(const char *s, polyp_json_doc *doc, polyp_error *err) {
    return polyp_json_parse(s, strlen(s), NULL, doc, err);
}

START_TEST(parses_nested_values) {
    polyp_json_doc doc;
    polyp_error err = {0};
    const char *text = " {\"a\": [1, -2, 3.5, 1e3, -0.25E-2, 0], \"b\": {\"c\": true, \"d\": false, \"e\": null},"
                       " \"s\": \"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\", \"\": []}\n";
    ck_assert_int_eq(parse(text, &doc, &err), POLYP_OK);
    const polyp_json_value *r = polyp_json_root(&doc);
    ck_assert_int_eq(r->type, POLYP_JSON_OBJECT);
    ck_assert_uint_eq(r->count, 4);
    const polyp_json_value *a = polyp_json_get(r, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->count, 6);
    ck_assert(polyp_json_at(a, 0)->is_int && polyp_json_at(a, 0)->ival == 1);
    ck_assert(polyp_json_at(a, 1)->is_int && polyp_json_at(a, 1)->ival == -2);
    ck_assert(!polyp_json_at(a, 2)->is_int && polyp_json_at(a, 2)->num == 3.5);
    ck_assert(!polyp_json_at(a, 3)->is_int && polyp_json_at(a, 3)->num == 1000.0);
    ck_assert(polyp_json_at(a, 4)->num == -0.0025);
    ck_assert(polyp_json_at(a, 5)->is_int && polyp_json_at(a, 5)->ival == 0);
    ck_assert_ptr_null(polyp_json_at(a, 6));
    const polyp_json_value *b = polyp_json_get(r, "b");
    ck_assert_int_eq(polyp_json_get(b, "c")->type, POLYP_JSON_TRUE);
    ck_assert_int_eq(polyp_json_get(b, "d")->type, POLYP_JSON_FALSE);
    ck_assert_int_eq(polyp_json_get(b, "e")->type, POLYP_JSON_NULL);
    const polyp_json_value *s = polyp_json_get(r, "s");
    ck_assert_str_eq(s->str, "x\"y\\z/\b\f\n\r\t");
    const polyp_json_value *empty = polyp_json_get(r, "");
    ck_assert_ptr_nonnull(empty);
    ck_assert_int_eq(empty->type, POLYP_JSON_ARRAY);
    ck_assert_uint_eq(empty->count, 0);
    ck_assert_ptr_null(polyp_json_get(r, "missing"));
    polyp_json_free(&doc);
}
END_TEST

START_TEST(decodes_unicode_escapes) {
    polyp_json_doc doc;
    polyp_error err = {0};
    /* U+00E9, U+20AC, U+1F600 (surrogate pair), raw UTF-8 U+00FC, embedded \u0000. */
    ck_assert_int_eq(parse("[\"\\u00e9\\u20AC\\ud83d\\ude00\xc3\xbc\", \"a\\u0000b\"]", &doc, &err), POLYP_OK);
    const polyp_json_value *s = polyp_json_at(polyp_json_root(&doc), 0);
    ck_assert_str_eq(s->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xbc");
    ck_assert_uint_eq(s->str_len, 11);
    const polyp_json_value *z = polyp_json_at(polyp_json_root(&doc), 1);
    ck_assert_uint_eq(z->str_len, 3);
    ck_assert(memcmp(z->str, "a\0b", 4) == 0);
    polyp_json_free(&doc);
}
END_TEST

START_TEST(integers_at_the_edges) {
    polyp_json_doc doc;
    polyp_error err = {0};
    ck_assert_int_eq(parse("[9223372036854775807, -9223372036854775808, 9223372036854775808, 123456789012345678901234]",
                           &doc, &err), POLYP_OK);
    const polyp_json_value *r = polyp_json_root(&doc);
    ck_assert(polyp_json_at(r, 0)->is_int && polyp_json_at(r, 0)->ival == INT64_MAX);
    ck_assert(polyp_json_at(r, 1)->is_int && polyp_json_at(r, 1)->ival == INT64_MIN);
    ck_assert(!polyp_json_at(r, 2)->is_int);
    ck_assert(fabs(polyp_json_at(r, 2)->num - 9223372036854775808.0) < 1e4);
    ck_assert(!polyp_json_at(r, 3)->is_int);
    ck_assert(fabs(polyp_json_at(r, 3)->num / 1.23456789012345678901234e23 - 1) < 1e-15);
    polyp_json_free(&doc);
}
END_TEST

static const char *bad_inputs[] = {
    "",  "   ", "{", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "[01]", "[-]", "[1.]",
    "[.5]", "[1e]", "[+1]", "[NaN]", "[Infinity]", "tru", "nul", "\"abc", "\"a\tb\"",
    "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\xff\"",
    "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "[1] [2]", "{} x", "[1e999]", "// c\n1", "['a']",
};

START_TEST(refuses_malformed_text) {
    const char *s = bad_inputs[_i];
    polyp_json_doc doc;
    polyp_error err = {0};
    polyp_status st = parse(s, &doc, &err);
    ck_assert_msg(st == POLYP_ERR_FORMAT, "input #%d \"%s\" gave status %d", _i, s, st);
    ck_assert_ptr_nonnull(strstr(err.message, "JSON"));
    ck_assert_ptr_null(doc.nodes);
}
END_TEST

START_TEST(error_names_byte_offset) {
    polyp_json_doc doc;
    polyp_error err = {0};
    ck_assert_int_eq(parse("{\"a\": [1, 2,]}", &doc, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "byte 12"));
}
END_TEST

START_TEST(depth_limit_is_enforced_without_recursing_deeper) {
    /* 100000 nested arrays: would blow the stack of a naive recursive parser. */
    size_t n = 100000;
    char *s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = 0;
    polyp_json_doc doc;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_json_parse(s, 2 * n, NULL, &doc, &err), POLYP_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.message, "nesting"));
    /* Exactly at the limit is fine. */
    polyp_json_limits lim = {5, 100};
    ck_assert_int_eq(polyp_json_parse("[[[[[]]]]]", 10, &lim, &doc, &err), POLYP_OK);
    polyp_json_free(&doc);
    ck_assert_int_eq(polyp_json_parse("[[[[[[]]]]]]", 12, &lim, &doc, &err), POLYP_ERR_LIMIT);
    free(s);
}
END_TEST

START_TEST(node_limit_is_enforced) {
    polyp_json_limits lim = {8, 4};
    polyp_json_doc doc;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_json_parse("[1,2,3]", 7, &lim, &doc, &err), POLYP_OK);
    polyp_json_free(&doc);
    ck_assert_int_eq(polyp_json_parse("[1,2,3,4]", 9, &lim, &doc, &err), POLYP_ERR_LIMIT);
}
END_TEST

START_TEST(not_nul_terminated_input) {
    /* The parser must stop at len, not at a NUL. */
    char buf[4] = {'[', '7', ']', 'x'};
    polyp_json_doc doc;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_json_parse(buf, 3, NULL, &doc, &err), POLYP_OK);
    ck_assert_int_eq(polyp_json_at(polyp_json_root(&doc), 0)->ival, 7);
    polyp_json_free(&doc);
    ck_assert_int_eq(polyp_json_parse(buf, 2, NULL, &doc, &err), POLYP_ERR_FORMAT);
}
END_TEST

START_TEST(finds_duplicate_keys) {
    polyp_json_doc doc;
    polyp_error err = {0};
    int nomem;
    ck_assert_int_eq(parse("{\"b\":1,\"a\":2,\"c\":3}", &doc, &err), POLYP_OK);
    ck_assert_ptr_null(polyp_json_find_duplicate_key(polyp_json_root(&doc), &nomem));
    polyp_json_free(&doc);
    ck_assert_int_eq(parse("{\"b\":1,\"a\":2,\"b\":3}", &doc, &err), POLYP_OK);
    const polyp_json_value *d = polyp_json_find_duplicate_key(polyp_json_root(&doc), &nomem);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->key, "b");
    polyp_json_free(&doc);
}
END_TEST

START_TEST(writer_escapes_round_trip) {
    polyp_strbuf b = {0};
    const char raw[] = "q\"b\\s\n\x01\x1f t\xc3\xa9";
    ck_assert(polyp_json_write_string(&b, raw, sizeof raw - 1));
    ck_assert_str_eq(b.data, "\"q\\\"b\\\\s\\n\\u0001\\u001f t\xc3\xa9\"");
    polyp_json_doc doc;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_json_parse(b.data, b.len, NULL, &doc, &err), POLYP_OK);
    ck_assert_str_eq(polyp_json_root(&doc)->str, raw);
    polyp_json_free(&doc);
    polyp_strbuf_free(&b);
    ck_assert(polyp_json_write_u64(&b, 18446744073709551615ull));
    ck_assert_str_eq(b.data, "18446744073709551615");
    polyp_strbuf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parses_nested_values);
    tcase_add_test(tc, decodes_unicode_escapes);
    tcase_add_test(tc, integers_at_the_edges);
    tcase_add_loop_test(tc, refuses_malformed_text, 0, (int)(sizeof bad_inputs / sizeof bad_inputs[0]));
    tcase_add_test(tc, error_names_byte_offset);
    tcase_add_test(tc, depth_limit_is_enforced_without_recursing_deeper);
    tcase_add_test(tc, node_limit_is_enforced);
    tcase_add_test(tc, not_nul_terminated_input);
    tcase_add_test(tc, finds_duplicate_keys);
    tcase_add_test(tc, writer_escapes_round_trip);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
