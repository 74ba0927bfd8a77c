/* test_safetensors.c - the safetensors reader against hand-made valid and corrupt files, and
 * the writer -> reader round trip. Each corrupt file must be refused with a message naming
 * the offending tensor (or the header problem), never crash. */
#include "safetensors.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Builds u64 length + header + data_len bytes (value i & 0xff). Caller frees. */
static uint8_t *make_file(const char *header, uint64_t claimed_len, size_t data_len, size_t *size) {
    size_t hl = strlen(header);
    *size = 8 + hl + data_len;
    uint8_t *b = malloc(*size ? *size : 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(claimed_len >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = (uint8_t)i;
    return b;
}

static polyp_status parse_header(const char *header, size_t data_len, polyp_error *err) {
    size_t size;
    uint8_t *b = make_file(header, strlen(header), data_len, &size);
    polyp_st_file f;
    polyp_status st = polyp_st_parse(b, size, &f, err);
    if (st == POLYP_OK) polyp_st_free(&f);
    free(b);
    return st;
}

START_TEST(parses_a_valid_file) {
    const char *h = "{\"__metadata__\":{\"format\":\"pt\",\"seed\":\"42\"},"
                    "\"b\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[24,36]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[36,36]},"
                    "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[36,44]}}   ";
    size_t size;
    uint8_t *b = make_file(h, strlen(h), 44, &size);
    polyp_st_file f;
    polyp_error err = {0};
    ck_assert_msg(polyp_st_parse(b, size, &f, &err) == POLYP_OK, "%s", err.message);
    ck_assert_uint_eq(f.count, 4);
    ck_assert_str_eq(f.tensors[0].name, "b"); /* header order kept */
    const polyp_st_tensor *a = polyp_st_find(&f, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->dtype, POLYP_ST_F32);
    ck_assert_str_eq(a->dtype_name, "F32");
    ck_assert_int_eq(a->ndim, 2);
    ck_assert(a->shape[0] == 2 && a->shape[1] == 3);
    ck_assert_uint_eq(a->nbytes, 24);
    ck_assert_ptr_eq(a->data, b + 8 + strlen(h));
    const polyp_st_tensor *bt = polyp_st_find(&f, "b");
    ck_assert_ptr_eq(bt->data, b + 8 + strlen(h) + 24);
    ck_assert_int_eq(polyp_st_find(&f, "s")->ndim, 0);
    ck_assert_uint_eq(polyp_st_find(&f, "e")->nbytes, 0);
    ck_assert_ptr_null(polyp_st_find(&f, "c"));
    ck_assert_ptr_null(polyp_st_find(&f, "__metadata__"));
    ck_assert_str_eq(polyp_st_meta(&f, "seed"), "42");
    ck_assert_str_eq(polyp_st_meta(&f, "format"), "pt");
    ck_assert_ptr_null(polyp_st_meta(&f, "nope"));
    ck_assert_uint_eq(polyp_st_dtype_size(POLYP_ST_BF16), 2);
    polyp_st_free(&f);
    free(b);
}
END_TEST

START_TEST(refuses_truncated_files) {
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    size_t size;
    uint8_t *b = make_file(h, strlen(h), 16, &size);
    polyp_st_file f;
    polyp_error err = {0};
    /* Every strict prefix is refused (shorter than 8, header cut, data cut). */
    for (size_t cut = 0; cut < size; cut++) {
        polyp_status st = polyp_st_parse(b, cut, &f, &err);
        ck_assert_msg(st == POLYP_ERR_FORMAT, "prefix of %zu bytes: status %d", cut, st);
    }
    polyp_st_parse(b, size - 1, &f, &err);
    ck_assert_ptr_nonnull(strstr(err.message, "w"));
    ck_assert_ptr_nonnull(strstr(err.message, "past the end"));
    polyp_st_parse(b, 5, &f, &err);
    ck_assert_ptr_nonnull(strstr(err.message, "shorter than"));
    free(b);
}
END_TEST

START_TEST(refuses_huge_header_lengths) {
    const char *h = "{}";
    size_t size;
    polyp_st_file f;
    polyp_error err = {0};
    /* Larger than the file. */
    uint8_t *b = make_file(h, 1000, 0, &size);
    ck_assert_int_eq(polyp_st_parse(b, size, &f, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "exceeds the file"));
    free(b);
    /* Larger than the cap (checked before comparing with the size: never allocates). */
    b = make_file(h, POLYP_ST_MAX_HEADER + 1, 0, &size);
    ck_assert_int_eq(polyp_st_parse(b, size, &f, &err), POLYP_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.message, "limit"));
    free(b);
    b = make_file(h, UINT64_MAX, 0, &size);
    ck_assert_int_eq(polyp_st_parse(b, size, &f, &err), POLYP_ERR_LIMIT);
    free(b);
}
END_TEST

typedef struct bad_case {
    const char *header;
    size_t data_len;
    const char *must_mention[2];
} bad_case;

static const bad_case bad[] = {
    /* bad JSON */
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, {"JSON", NULL}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4, {"JSON", NULL}},
    {"[1,2]", 0, {"'{'", NULL}},
    /* unknown dtype */
    {"{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"w", "F33"}},
    {"{\"w\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"w", "dtype"}},
    /* shape x dtype size != byte range */
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, {"w", "data_offsets"}},
    {"{\"w\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, {"w", "F64"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,0]}}", 0, {"w", "too many"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, {"w", "shape[0]"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, {"w", "shape[0]"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, {"w", "dimensions"}},
    /* offsets out of range, reversed, overlapping, leaving holes or trailing bytes */
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4, {"w", "past the end"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, {"w", "end before begin"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, {"w", "data_offsets"}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, {"overlaps", "a"}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"overlaps", NULL}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, {"b", "hole"}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, {"data buffer", NULL}},
    /* duplicate names, fields */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, {"a", "twice"}},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"a", "twice"}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}", 4, {"a", "offsets"}},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"a", "missing \"dtype\""}},
    {"{\"a\":[1]}", 0, {"a", "expected an object"}},
    /* metadata must be an object of strings */
    {"{\"__metadata__\":{\"seed\":42}}", 0, {"__metadata__", "seed"}},
    {"{\"__metadata__\":[\"x\"]}", 0, {"__metadata__", NULL}},
    {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, {"__metadata__", "twice"}},
    /* names */
    {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"empty name", NULL}},
    {"{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"NUL", NULL}},
    /* header must be an object from its first byte */
    {" {}", 0, {"'{'", NULL}},
};

START_TEST(refuses_corrupt_headers) {
    const bad_case *c = &bad[_i];
    polyp_error err = {0};
    polyp_status st = parse_header(c->header, c->data_len, &err);
    ck_assert_msg(st == POLYP_ERR_FORMAT || st == POLYP_ERR_LIMIT, "case %d accepted: %s", _i, c->header);
    for (int k = 0; k < 2; k++)
        if (c->must_mention[k])
            ck_assert_msg(strstr(err.message, c->must_mention[k]), "case %d: message \"%s\" lacks \"%s\"", _i,
                          err.message, c->must_mention[k]);
}
END_TEST

START_TEST(writer_round_trip) {
    polyp_st_writer *w = polyp_st_writer_init();
    polyp_error err = {0};
    float a[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
    int64_t b[2] = {-5, 1234567890123};
    uint8_t c[3] = {1, 2, 3};
    uint64_t sa[2] = {2, 3}, sb[1] = {2}, sc[3] = {1, 3, 1};
    ck_assert_int_eq(polyp_st_writer_add(w, "layer.a", POLYP_ST_F32, 2, sa, a, &err), POLYP_OK);
    ck_assert_int_eq(polyp_st_writer_add(w, "b \"quoted\"\\", POLYP_ST_I64, 1, sb, b, &err), POLYP_OK);
    ck_assert_int_eq(polyp_st_writer_add(w, "c", POLYP_ST_U8, 3, sc, c, &err), POLYP_OK);
    ck_assert_int_eq(polyp_st_writer_add(w, "scalar", POLYP_ST_F32, 0, NULL, a, &err), POLYP_OK);
    ck_assert_int_eq(polyp_st_writer_add(w, "c", POLYP_ST_U8, 3, sc, c, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "twice"));
    ck_assert_int_eq(polyp_st_writer_meta(w, "format", "polyp-test", &err), POLYP_OK);
    ck_assert_int_eq(polyp_st_writer_meta(w, "note", "line\nbreak", &err), POLYP_OK);
    void *buf;
    size_t size;
    ck_assert_int_eq(polyp_st_writer_finish(w, &buf, &size, &err), POLYP_OK);
    polyp_st_writer_free(w);
    /* Header padded with spaces so data starts 8-byte aligned. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | ((uint8_t *)buf)[i];
    ck_assert_uint_eq((8 + hlen) % 8, 0);
    ck_assert_uint_eq(size, 8 + hlen + 24 + 16 + 3 + 4);
    polyp_st_file f;
    ck_assert_msg(polyp_st_parse(buf, size, &f, &err) == POLYP_OK, "%s", err.message);
    ck_assert_uint_eq(f.count, 4);
    const polyp_st_tensor *t = polyp_st_find(&f, "layer.a");
    ck_assert(t && t->dtype == POLYP_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    ck_assert(memcmp(t->data, a, sizeof a) == 0);
    t = polyp_st_find(&f, "b \"quoted\"\\");
    ck_assert(t && t->dtype == POLYP_ST_I64 && memcmp(t->data, b, sizeof b) == 0);
    t = polyp_st_find(&f, "c");
    ck_assert(t && t->ndim == 3 && t->shape[1] == 3 && memcmp(t->data, c, 3) == 0);
    t = polyp_st_find(&f, "scalar");
    ck_assert(t && t->ndim == 0 && t->nbytes == 4);
    ck_assert_str_eq(polyp_st_meta(&f, "note"), "line\nbreak");
    ck_assert_str_eq(polyp_st_meta(&f, "format"), "polyp-test");
    polyp_st_free(&f);
    polyp_free(buf);
}
END_TEST

START_TEST(writer_empty_file) {
    polyp_st_writer *w = polyp_st_writer_init();
    polyp_error err = {0};
    void *buf;
    size_t size;
    ck_assert_int_eq(polyp_st_writer_finish(w, &buf, &size, &err), POLYP_OK);
    polyp_st_writer_free(w);
    polyp_st_file f;
    ck_assert_int_eq(polyp_st_parse(buf, size, &f, &err), POLYP_OK);
    ck_assert_uint_eq(f.count, 0);
    polyp_st_free(&f);
    polyp_free(buf);
}
END_TEST

/* Deterministic mutation fuzzing of a small valid file: every outcome must be OK or a
 * refusal with a message, never a crash (this test earns its keep under ASan/UBSan). */
START_TEST(random_mutations_never_crash) {
    const char *h = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[16,19]}}";
    size_t size;
    uint8_t *orig = make_file(h, strlen(h), 19, &size);
    uint8_t *b = malloc(size);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(b, orig, size);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(state >> 33) % size;
            static const uint8_t interesting[] = {'"', '{', '}', '[', ']', ',', ':', '0', '9', '-', '\\', 0, 0xff, ' '};
            b[pos] = (state >> 20) & 1 ? (uint8_t)(state >> 24) : interesting[(state >> 40) % sizeof interesting];
        }
        size_t len = iter % 7 == 0 ? (size_t)(state >> 45) % (size + 1) : size;
        polyp_st_file f;
        polyp_error err = {0};
        polyp_status st = polyp_st_parse(b, len, &f, &err);
        if (st == POLYP_OK) {
            accepted++;
            for (size_t i = 0; i < f.count; i++)
                ck_assert(f.tensors[i].data + f.tensors[i].nbytes <= b + len);
            polyp_st_free(&f);
        } else {
            ck_assert(err.message[0] != 0);
        }
    }
    ck_assert_int_gt(accepted, 0); /* some mutations only touch tensor data */
    free(b);
    free(orig);
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parses_a_valid_file);
    tcase_add_test(tc, refuses_truncated_files);
    tcase_add_test(tc, refuses_huge_header_lengths);
    tcase_add_loop_test(tc, refuses_corrupt_headers, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, writer_round_trip);
    tcase_add_test(tc, writer_empty_file);
    tcase_add_test(tc, random_mutations_never_crash);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
