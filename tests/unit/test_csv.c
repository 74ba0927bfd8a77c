/* test_csv.c - the RFC 4180 reader (quotes, line ends, BOM, limits) and the field writer.
 * Expected records are written out by hand from the RFC's rules (and agree with what
 * Python's csv module returns for the same bytes). */
#include "csv.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* Reads every record of `text` and joins them as "f1|f2;f1|f2;" for compact comparison. */
static char *read_all(const char *text, size_t size, size_t *lines, polyp_status *st, polyp_error *err) {
    static char buf[4096];
    polyp_csv_reader r;
    polyp_csv_init(&r, text, size);
    buf[0] = '\0';
    size_t n = 0;
    bool got;
    *st = POLYP_OK;
    while ((*st = polyp_csv_next(&r, &got, err)) == POLYP_OK && got) {
        if (lines) lines[n] = polyp_csv_line(&r);
        n++;
        for (size_t i = 0; i < polyp_csv_nfields(&r); i++) {
            if (i) strcat(buf, "|");
            strcat(buf, polyp_csv_field(&r, i, NULL));
        }
        strcat(buf, ";");
    }
    polyp_csv_free(&r);
    return buf;
}

static const char *rd(const char *text) {
    polyp_status st;
    polyp_error err = {0};
    const char *out = read_all(text, strlen(text), NULL, &st, &err);
    ck_assert_msg(st == POLYP_OK, "unexpected error: %s", err.message);
    return out;
}

START_TEST(plain_records_and_line_ends) {
    ck_assert_str_eq(rd("a,b,c\n1,2,3\n"), "a|b|c;1|2|3;");
    ck_assert_str_eq(rd("a,b\r\n1,2\r\n"), "a|b;1|2;");
    ck_assert_str_eq(rd("a,b\r1,2\r"), "a|b;1|2;");          /* old Mac line ends */
    ck_assert_str_eq(rd("a,b\n1,2"), "a|b;1|2;");            /* no final line end */
    ck_assert_str_eq(rd("a,,c\n,\n"), "a||c;|;");              /* empty fields */
    ck_assert_str_eq(rd("a,b,\n"), "a|b|;");                   /* trailing comma */
    ck_assert_str_eq(rd(""), "");
    ck_assert_str_eq(rd("\n\r\n\n"), "");                      /* only blank lines */
    ck_assert_str_eq(rd("a\n\n\nb\n"), "a;b;");                /* blank lines skipped */
    ck_assert_str_eq(rd(" a , b \n"), " a | b ;");            /* spaces are data */
}
END_TEST

START_TEST(quoted_fields) {
    ck_assert_str_eq(rd("\"a,b\",c\n"), "a,b|c;");
    ck_assert_str_eq(rd("\"say \"\"hi\"\"\",x\n"), "say \"hi\"|x;");
    ck_assert_str_eq(rd("\"\",\"\"\"\"\n"), "|\";");
    ck_assert_str_eq(rd("\"two\nlines\",x\r\ny,z\n"), "two\nlines|x;y|z;");
    ck_assert_str_eq(rd("\"crlf\r\ninside\",x\n"), "crlf\r\ninside|x;");
    ck_assert_str_eq(rd("  \"q\"  ,x\n"), "q|x;");               /* spaces around quotes */
    ck_assert_str_eq(rd("ab\"c,d\n"), "ab\"c|d;");               /* stray quote kept */
    ck_assert_str_eq(rd("\"last\""), "last;");
}
END_TEST

START_TEST(bom_is_skipped_once) {
    ck_assert_str_eq(rd("\xEF\xBB\xBFName,Row\n"), "Name|Row;");
    ck_assert_str_eq(rd("\xEF\xBB\xBF\"Name\",Row\n"), "Name|Row;");
    /* A BOM anywhere else is data. */
    ck_assert_str_eq(rd("a\n\xEF\xBB\xBF" "b\n"), "a;\xEF\xBB\xBF" "b;");
}
END_TEST

START_TEST(line_numbers_count_physical_lines) {
    const char *t = "h1,h2\n\"a\nb\nc\",x\n\ny,z\r\nw,v";
    size_t lines[8];
    polyp_status st;
    polyp_error err = {0};
    read_all(t, strlen(t), lines, &st, &err);
    ck_assert_int_eq(st, POLYP_OK);
    ck_assert_uint_eq(lines[0], 1);
    ck_assert_uint_eq(lines[1], 2);
    ck_assert_uint_eq(lines[2], 6);
    ck_assert_uint_eq(lines[3], 7);
}
END_TEST

static void expect_error(const char *text, size_t size, polyp_status want, const char *needle) {
    polyp_status st;
    polyp_error err = {0};
    read_all(text, size, NULL, &st, &err);
    ck_assert_int_eq(st, want);
    ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in '%s'", needle, err.message);
}

START_TEST(malformed_input_is_refused_with_the_line) {
    expect_error("a,b\n1,\"open\n2,3\n", 16, POLYP_ERR_FORMAT, "starting on line 2 is never closed");
    expect_error("a,b\n\"x\"y,2\n", 11, POLYP_ERR_FORMAT, "line 2: unexpected 'y'");
    expect_error("a,b\nc,d\x00\n", 9, POLYP_ERR_FORMAT, "line 2: NUL byte");
}
END_TEST

START_TEST(limits_are_enforced) {
    polyp_csv_reader r;
    polyp_error err = {0};
    bool got;
    const char *t = "abcdef,x\n";
    polyp_csv_init(&r, t, strlen(t));
    r.max_field_bytes = 5;
    ck_assert_int_eq(polyp_csv_next(&r, &got, &err), POLYP_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.message, "line 1: field 1 longer than 5 bytes"));
    polyp_csv_free(&r);

    t = "\"abcdef\",x\n";
    polyp_csv_init(&r, t, strlen(t));
    r.max_field_bytes = 5;
    ck_assert_int_eq(polyp_csv_next(&r, &got, &err), POLYP_ERR_LIMIT);
    polyp_csv_free(&r);

    t = "a,b,c,d\n";
    polyp_csv_init(&r, t, strlen(t));
    r.max_fields = 3;
    ck_assert_int_eq(polyp_csv_next(&r, &got, &err), POLYP_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.message, "more than 3 fields"));
    polyp_csv_free(&r);

    /* A long record within the default limits grows the buffers correctly. */
    static char big[200000];
    size_t n = 0;
    for (int i = 0; i < 3000; i++) n += (size_t)sprintf(big + n, "%s%d", i ? "," : "", i * 7);
    big[n++] = '\n';
    polyp_csv_init(&r, big, n);
    ck_assert_int_eq(polyp_csv_next(&r, &got, &err), POLYP_OK);
    ck_assert(got);
    ck_assert_uint_eq(polyp_csv_nfields(&r), 3000);
    ck_assert_str_eq(polyp_csv_field(&r, 2999, NULL), "20993");
    ck_assert_ptr_null(polyp_csv_field(&r, 3000, NULL));
    polyp_csv_free(&r);
}
END_TEST

START_TEST(writer_quotes_only_when_needed_and_round_trips) {
    const char *fields[] = {"plain", "a,b", "say \"hi\"", "two\nlines", " pad", "", "x\r\ny"};
    size_t nf = sizeof fields / sizeof fields[0];
    polyp_strbuf b = {0};
    for (size_t i = 0; i < nf; i++) {
        if (i) ck_assert(polyp_strbuf_append_str(&b, ","));
        ck_assert(polyp_csv_write_field(&b, fields[i], strlen(fields[i])));
    }
    ck_assert(polyp_strbuf_append_str(&b, "\r\n"));
    ck_assert_str_eq(b.data, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",,\"x\r\ny\"\r\n");

    polyp_csv_reader r;
    polyp_error err = {0};
    bool got;
    polyp_csv_init(&r, b.data, b.len);
    ck_assert_int_eq(polyp_csv_next(&r, &got, &err), POLYP_OK);
    ck_assert_uint_eq(polyp_csv_nfields(&r), nf);
    for (size_t i = 0; i < nf; i++) ck_assert_str_eq(polyp_csv_field(&r, i, NULL), fields[i]);
    ck_assert_int_eq(polyp_csv_next(&r, &got, &err), POLYP_OK);
    ck_assert(!got);
    polyp_csv_free(&r);

    ck_assert(polyp_strbuf_printf(&b, "%d-%s", 42, "x"));
    ck_assert_ptr_nonnull(strstr(b.data, "\r\n42-x"));
    polyp_strbuf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plain_records_and_line_ends);
    tcase_add_test(tc, quoted_fields);
    tcase_add_test(tc, bom_is_skipped_once);
    tcase_add_test(tc, line_numbers_count_physical_lines);
    tcase_add_test(tc, malformed_input_is_refused_with_the_line);
    tcase_add_test(tc, limits_are_enforced);
    tcase_add_test(tc, writer_quotes_only_when_needed_and_round_trips);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
