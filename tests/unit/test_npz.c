/* test_npz.c - pyspacer feature files: npz made by numpy (savez and savez_compressed,
 * pyspacer-style and legacy, tests/fixtures/make_npz_fixtures.py) read back with numpy's
 * values; files numpy made with unsupported layouts and hand-corrupted zips fail with a
 * reason; our writer's npy headers equal numpy's bytes and round-trip. */
#include "crc32.h"
#include "internal.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *fixture(const char *name, size_t *size) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/npz/%s", name);
    return tu_read(tu_source_path(rel), size);
}

/* The float polyp must give for a float64 from the file. */
static float as_float(double x) {
    if (x > FLT_MAX) return HUGE_VALF;
    if (x < -FLT_MAX) return -HUGE_VALF;
    return (float)x;
}

/* Compares f with the numpy-written .expect file (see make_npz_fixtures.py). */
static void check_expect(const polyp_features *f, const char *expect_name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/npz/%s", expect_name);
    FILE *fp = fopen(tu_source_path(rel), "r");
    ck_assert_ptr_nonnull(fp);
    size_t n, d;
    int valid;
    ck_assert_int_eq(fscanf(fp, "%zu %zu %d", &n, &d, &valid), 3);
    ck_assert_uint_eq(f->npoints, n);
    ck_assert_uint_eq(f->dim, d);
    ck_assert_int_eq(f->valid_rowcol, valid);
    if (valid) {
        ck_assert_ptr_nonnull(f->rows);
        ck_assert_ptr_nonnull(f->cols);
        for (size_t i = 0; i < n; i++) {
            unsigned v;
            ck_assert_int_eq(fscanf(fp, "%u", &v), 1);
            ck_assert_uint_eq(f->rows[i], v);
        }
        for (size_t i = 0; i < n; i++) {
            unsigned v;
            ck_assert_int_eq(fscanf(fp, "%u", &v), 1);
            ck_assert_uint_eq(f->cols[i], v);
        }
    } else {
        ck_assert_ptr_null(f->rows);
        ck_assert_ptr_null(f->cols);
    }
    for (size_t k = 0; k < n * d; k++) {
        char tok[64];
        ck_assert_int_eq(fscanf(fp, "%63s", tok), 1);
        float want = as_float(strtod(tok, NULL));
        ck_assert_msg(memcmp(&f->feat[k], &want, sizeof want) == 0, "feat[%zu] = %.9g, numpy wrote %s", k,
                      (double)f->feat[k], tok);
    }
    fclose(fp);
}

static polyp_features read_ok(const char *name) {
    size_t size;
    unsigned char *z = fixture(name, &size);
    polyp_features f;
    polyp_error err = {0};
    polyp_status st = polyp_features_read_npz(z, size, &f, &err);
    ck_assert_msg(st == POLYP_OK, "%s: %s", name, err.message);
    free(z);
    return f;
}

START_TEST(reads_pyspacer_compressed_and_stored) {
    polyp_features f = read_ok("pyspacer_compressed.npz");
    check_expect(&f, "pyspacer.expect");
    ck_assert_uint_eq(f.rows[0], 0);
    ck_assert_uint_eq(f.cols[0], 65535);
    ck_assert(isinf(f.feat[3]) && f.feat[3] < 0); /* -1e300 */
    ck_assert(signbit(f.feat[1]));                /* -0.0 survives */
    polyp_features_free(&f);
    ck_assert_ptr_null(f.feat);
    f = read_ok("pyspacer_stored.npz");
    check_expect(&f, "pyspacer.expect");
    polyp_features_free(&f);
}
END_TEST

START_TEST(reads_legacy_and_other_dtypes) {
    polyp_features f = read_ok("legacy_compressed.npz");
    check_expect(&f, "legacy_compressed.expect");
    polyp_features_free(&f);
    f = read_ok("feat_f4.npz");
    check_expect(&f, "feat_f4.expect");
    polyp_features_free(&f);
}
END_TEST

static void expect_fail(const unsigned char *z, size_t size, polyp_status want, const char *needle) {
    polyp_features f;
    polyp_error err = {0};
    polyp_status st = polyp_features_read_npz(z, size, &f, &err);
    ck_assert_msg(st == want, "status %d (%s), wanted %d", st, err.message, want);
    ck_assert_msg(strstr(err.message, needle), "'%s' not in '%s'", needle, err.message);
    ck_assert_ptr_null(f.feat);
    ck_assert_ptr_null(f.rows);
}

static void expect_fixture_fails(const char *name, polyp_status want, const char *needle) {
    size_t size;
    unsigned char *z = fixture(name, &size);
    expect_fail(z, size, want, needle);
    free(z);
}

START_TEST(numpy_files_we_refuse) {
    expect_fixture_fails("bad_shape.npz", POLYP_ERR_FORMAT, "feat.npy must be float with shape (6, 8)");
    expect_fixture_fails("bad_fortran.npz", POLYP_ERR_UNSUPPORTED, "fortran_order");
    expect_fixture_fails("bad_bigendian.npz", POLYP_ERR_UNSUPPORTED, "big-endian dtype '>f8'");
    expect_fixture_fails("bad_rows_range.npz", POLYP_ERR_FORMAT, "rows.npy[2] = 70000");
    expect_fixture_fails("missing_feat.npz", POLYP_ERR_FORMAT, "no feat.npy");
}
END_TEST

/* Offset of the end-of-central-directory record (no comment in our fixtures). */
static size_t eocd_of(size_t size) { return size - 22; }

static size_t find_sig(const unsigned char *z, size_t size, uint32_t sig, size_t from) {
    for (size_t p = from; p + 4 <= size; p++)
        if ((uint32_t)(z[p] | z[p + 1] << 8 | z[p + 2] << 16 | (uint32_t)z[p + 3] << 24) == sig) return p;
    ck_abort_msg("signature not found");
    return 0;
}

START_TEST(hand_corrupted_zips) {
    size_t size;
    unsigned char *orig = fixture("legacy_compressed.npz", &size);
    unsigned char *z = malloc(size);

    expect_fail((const unsigned char *)"hello world, not a zip at all", 29, POLYP_ERR_FORMAT, "not a zip");
    /* Every truncation fails (the end record is gone or points past the end). */
    for (size_t cut = 0; cut < size; cut++) {
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, orig, cut);
        polyp_features f;
        polyp_error err = {0};
        ck_assert_msg(polyp_features_read_npz(part, cut, &f, &err) != POLYP_OK, "cut at %zu accepted", cut);
        free(part);
    }
    /* zip64 marker in the end record. */
    memcpy(z, orig, size);
    z[eocd_of(size) + 10] = z[eocd_of(size) + 11] = 0xFF;
    z[eocd_of(size) + 8] = z[eocd_of(size) + 9] = 0xFF;
    expect_fail(z, size, POLYP_ERR_UNSUPPORTED, "zip64");
    /* Compression method 12 (bzip2) and the encryption flag, in the first central entry. */
    size_t cd = find_sig(orig, size, 0x02014b50u, 0);
    memcpy(z, orig, size);
    z[cd + 10] = 12;
    expect_fail(z, size, POLYP_ERR_UNSUPPORTED, "compression method 12");
    memcpy(z, orig, size);
    z[cd + 8] |= 1;
    expect_fail(z, size, POLYP_ERR_UNSUPPORTED, "encrypted");
    /* Wrong CRC in the central directory. */
    memcpy(z, orig, size);
    z[cd + 16] ^= 0x55;
    expect_fail(z, size, POLYP_ERR_FORMAT, "CRC mismatch");
    /* Declared uncompressed size larger than what the stream holds. */
    memcpy(z, orig, size);
    z[cd + 24] += 1;
    expect_fail(z, size, POLYP_ERR_FORMAT, "npz: meta.npy: deflate:");
    /* Local header offset pointing nowhere. */
    memcpy(z, orig, size);
    z[cd + 42] = 0x7F;
    z[cd + 43] = 0x7F;
    expect_fail(z, size, POLYP_ERR_FORMAT, "local header");
    /* Every single-bit flip anywhere: a clean status, never a crash (ASan checks). */
    for (size_t bit = 0; bit < size * 8; bit += 3) {
        memcpy(z, orig, size);
        z[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        polyp_features f;
        if (polyp_features_read_npz(z, size, &f, NULL) == POLYP_OK) polyp_features_free(&f);
    }
    free(z);
    free(orig);
}
END_TEST

/* The extractor record survives a round trip; pyspacer-style files read as unknown; a
 * non-printable record is refused when writing, a damaged one when reading. */
START_TEST(extractor_record_round_trip) {
    uint16_t rows[2] = {1, 2}, cols[2] = {3, 4};
    float feat[6] = {1, 2, 3, 4, 5, 6};
    char rec[] = "efficientnet_b0:00ff:1280 variant=lukemelas";
    polyp_features f = {2, 3, 1, rows, cols, feat, rec}, g;
    void *buf;
    size_t size;
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, NULL), POLYP_OK);
    ck_assert_int_eq(polyp_features_read_npz(buf, size, &g, NULL), POLYP_OK);
    ck_assert_str_eq(g.extractor, rec);
    ck_assert_uint_eq(g.dim, 3);
    ck_assert(g.feat[5] == 6.0f);
    polyp_features_free(&g);
    /* One UTF-32 unit of the record turned into U+00E9: refused, naming the member (the CRC
     * is patched back so the record reader itself must catch it). */
    unsigned char *z = buf, *hit = NULL;
    for (size_t i = 0; i + 16 < size && !hit; i++)
        if (!memcmp(z + i, "v\0\0\0a\0\0\0r\0\0\0", 12)) hit = z + i;
    ck_assert_ptr_nonnull(hit);
    hit[0] = 0xE9;
    size_t cd = 0;
    for (size_t i = 0; i + 4 < size; i++)
        if (z[i] == 0x50 && z[i + 1] == 0x4b && z[i + 2] == 1 && z[i + 3] == 2 && !memcmp(z + i + 46, "extractor.npy", 13))
            cd = i;
    ck_assert_uint_gt(cd, 0);
    size_t lo = (size_t)z[cd + 42] | (size_t)z[cd + 43] << 8 | (size_t)z[cd + 44] << 16;
    size_t usize = (size_t)z[cd + 24] | (size_t)z[cd + 25] << 8;
    uint32_t crc = polyp_crc32_update(0, z + lo + 30 + 13, usize);
    for (int k = 0; k < 4; k++) z[cd + 16 + k] = z[lo + 14 + k] = (unsigned char)(crc >> (8 * k));
    polyp_error err = {0};
    ck_assert_int_eq(polyp_features_read_npz(buf, size, &g, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "extractor.npy"));
    polyp_free(buf);
    f.extractor = (char *)"bad\nrecord";
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "extractor record"));
    /* No record: none read back (pyspacer's files). */
    f.extractor = NULL;
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, NULL), POLYP_OK);
    ck_assert_int_eq(polyp_features_read_npz(buf, size, &g, NULL), POLYP_OK);
    ck_assert_ptr_null(g.extractor);
    polyp_features_free(&g);
    polyp_free(buf);
}
END_TEST

START_TEST(bad_npy_headers_in_stored_zip) {
    /* Build a valid file with our writer, then damage the npy header of meta.npy: the CRC is
     * patched back so the npy parser itself has to catch it. */
    uint16_t rows[2] = {1, 2}, cols[2] = {3, 4};
    float feat[6] = {1, 2, 3, 4, 5, 6};
    polyp_features f = {2, 3, 1, rows, cols, feat, NULL};
    void *buf;
    size_t size;
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, NULL), POLYP_OK);
    unsigned char *z = buf;
    const char *cases[][2] = {
        {"'descr': '<i8'", "'descr': '<c8'"},
        {"'descr': '<i8'", "'desc': '<i8' "},
        {"False", "Fals?"},
        {"(3,), }    ", "(3,3,3,), }"},
        {"'shape': (3,)", "'shape': (4,)"},
        {"{'descr'", "['descr'"},
    };
    const char *needles[] = {"dtype '<c8' is not supported", "unknown header key 'desc'", "bad fortran_order",
                             "more than 2 dimensions", "does not match its shape", "not a dict"};
    size_t meta_data = 30 + 8; /* first local header + "meta.npy" */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *m = malloc(size);
        memcpy(m, z, size);
        char *hdr = (char *)m + meta_data + 10;
        char *at = strstr(hdr, cases[c][0]);
        ck_assert_ptr_nonnull(at);
        ck_assert_uint_eq(strlen(cases[c][0]), strlen(cases[c][1]));
        memcpy(at, cases[c][1], strlen(cases[c][1]));
        /* Re-sign the entry: CRC of the whole member (header + 24 data bytes). */
        size_t usize = (size_t)(m[18] | m[19] << 8);
        uint32_t crc = polyp_crc32_update(0, m + meta_data, usize);
        size_t cd = find_sig(m, size, 0x02014b50u, 0);
        for (int k = 0; k < 4; k++) m[cd + 16 + k] = m[14 + k] = (unsigned char)(crc >> (8 * k));
        expect_fail(m, size, c == 0 ? POLYP_ERR_UNSUPPORTED : POLYP_ERR_FORMAT, needles[c]);
        free(m);
    }
    polyp_free(buf);
}
END_TEST

/* Member `name` of a STORED zip: its bytes (header + data) and size. */
static const unsigned char *member(const unsigned char *z, size_t size, const char *name, size_t *len) {
    size_t p = 0;
    while (p + 30 <= size && z[p] == 'P' && z[p + 1] == 'K' && z[p + 2] == 3 && z[p + 3] == 4) {
        size_t nl = (size_t)(z[p + 26] | z[p + 27] << 8), el = (size_t)(z[p + 28] | z[p + 29] << 8);
        size_t us = (size_t)(z[p + 22] | z[p + 23] << 8 | z[p + 24] << 16 | (size_t)z[p + 25] << 24);
        if (nl == strlen(name) && memcmp(z + p + 30, name, nl) == 0) {
            *len = us;
            return z + p + 30 + nl + el;
        }
        p += 30 + nl + el + us;
    }
    ck_abort_msg("member %s not found", name);
    return NULL;
}

START_TEST(writer_matches_numpy_bytes) {
    /* Same arrays as numpy's pyspacer_stored.npz: the npy members must be byte-identical except
     * feat's data, which went through float32. */
    polyp_features f = read_ok("pyspacer_stored.npz");
    void *buf;
    size_t size, nsize;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, &err), POLYP_OK);
    unsigned char *np = fixture("pyspacer_stored.npz", &nsize);
    const char *names[] = {"meta.npy", "rows.npy", "cols.npy", "feat.npy"};
    for (int i = 0; i < 4; i++) {
        size_t a, b;
        const unsigned char *ours = member(buf, size, names[i], &a);
        const unsigned char *theirs = member(np, nsize, names[i], &b);
        ck_assert_uint_eq(a, b);
        size_t cmp = i < 3 ? a : 128; /* feat: its 128-byte header only */
        ck_assert_msg(memcmp(ours, theirs, cmp) == 0, "%s differs from numpy's", names[i]);
    }
    free(np);
    polyp_free(buf);
    polyp_features_free(&f);
}
END_TEST

START_TEST(write_read_round_trip) {
    enum { N = 37, D = 1280 };
    static float feat[N * D];
    uint16_t rows[N], cols[N];
    uint32_t s = 99;
    for (size_t k = 0; k < (size_t)N * D; k++) {
        s = s * 1664525u + 1013904223u;
        feat[k] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 20.0f;
    }
    for (int i = 0; i < N; i++) rows[i] = (uint16_t)(i * 1771), cols[i] = (uint16_t)(65535 - i);
    for (int valid = 0; valid <= 1; valid++) {
        polyp_features f = {N, D, valid, valid ? rows : NULL, valid ? cols : NULL, feat, NULL};
        void *buf;
        size_t size;
        ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, NULL), POLYP_OK);
        polyp_features g;
        polyp_error err = {0};
        ck_assert_msg(polyp_features_read_npz(buf, size, &g, &err) == POLYP_OK, "%s", err.message);
        ck_assert_uint_eq(g.npoints, N);
        ck_assert_uint_eq(g.dim, D);
        ck_assert_int_eq(g.valid_rowcol, valid);
        ck_assert_int_eq(memcmp(g.feat, feat, sizeof feat), 0);
        if (valid) {
            ck_assert_int_eq(memcmp(g.rows, rows, sizeof rows), 0);
            ck_assert_int_eq(memcmp(g.cols, cols, sizeof cols), 0);
        } else {
            ck_assert_ptr_null(g.rows);
        }
        polyp_features_free(&g);
        polyp_free(buf);
    }
    /* Zero points is representable too. */
    polyp_features e = {0, D, 1, NULL, NULL, NULL, NULL};
    void *buf;
    size_t size;
    ck_assert_int_eq(polyp_features_write_npz(&e, &buf, &size, NULL), POLYP_OK);
    polyp_features g;
    ck_assert_int_eq(polyp_features_read_npz(buf, size, &g, NULL), POLYP_OK);
    ck_assert_uint_eq(g.npoints, 0);
    polyp_features_free(&g);
    polyp_free(buf);
}
END_TEST

START_TEST(writer_argument_checks) {
    void *buf;
    size_t size;
    polyp_error err = {0};
    polyp_features f = {2, 3, 1, NULL, NULL, NULL, NULL};
    ck_assert_int_eq(polyp_features_write_npz(NULL, &buf, &size, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "feat is NULL"));
    float feat[6] = {0};
    f.feat = feat;
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "rows or cols is NULL"));
    f.npoints = SIZE_MAX / 2; /* also past the cap where size_t is 32-bit (wasm) */
    ck_assert_int_eq(polyp_features_write_npz(&f, &buf, &size, &err), POLYP_ERR_LIMIT);
    polyp_features_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("npz");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reads_pyspacer_compressed_and_stored);
    tcase_add_test(tc, reads_legacy_and_other_dtypes);
    tcase_add_test(tc, numpy_files_we_refuse);
    tcase_add_test(tc, hand_corrupted_zips);
    tcase_add_test(tc, bad_npy_headers_in_stored_zip);
    tcase_add_test(tc, writer_matches_numpy_bytes);
    tcase_add_test(tc, write_read_round_trip);
    tcase_add_test(tc, writer_argument_checks);
    tcase_add_test(tc, extractor_record_round_trip);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
