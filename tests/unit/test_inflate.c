/* test_inflate.c - the RFC 1951 decoder against streams Python's zlib made
 * (tests/fixtures/make_npz_fixtures.py): stored, fixed and dynamic blocks, multi-block, RLE;
 * plus truncated, bit-flipped and hand-built invalid streams, which must fail cleanly. */
#include "inflate.h"
#include "crc32.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *fixture(const char *name, size_t *size) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/npz/deflate/%s", name);
    return tu_read(tu_source_path(rel), size);
}

static void check_vector(const char *name, const char *out_name) {
    char a[64], b[64];
    snprintf(a, sizeof a, "%s.deflate", name);
    snprintf(b, sizeof b, "%s.out", out_name);
    size_t in_n, want_n;
    unsigned char *in = fixture(a, &in_n), *want = fixture(b, &want_n);
    unsigned char *out = malloc(want_n + 16);
    size_t got, used;
    polyp_error err = {0};
    ck_assert_msg(polyp_inflate(in, in_n, out, want_n, &got, &used, &err) == POLYP_OK, "%s: %s", name,
                  err.message);
    ck_assert_uint_eq(got, want_n);
    ck_assert_uint_eq(used, in_n);
    ck_assert_msg(memcmp(out, want, want_n) == 0, "%s: output differs from zlib's input", name);
    if (want_n > 0) {
        /* One byte less room than needed: refused as a limit, nothing written past the end. */
        out[want_n - 1] = 0xA5;
        ck_assert_int_eq(polyp_inflate(in, in_n, out, want_n - 1, &got, NULL, &err), POLYP_ERR_LIMIT);
        ck_assert_uint_le(got, want_n - 1);
        ck_assert_uint_eq(out[want_n - 1], 0xA5);
        ck_assert_ptr_nonnull(strstr(err.message, "exceeds"));
    }
    free(in);
    free(want);
    free(out);
}

START_TEST(zlib_vectors_decode_exactly) {
    check_vector("stored", "stored");
    check_vector("fixed", "fixed");
    check_vector("dynamic", "dynamic");
    check_vector("rle", "rle");
    check_vector("huffman_only", "dynamic");
    check_vector("empty", "empty");
    check_vector("multiblock", "big");
    check_vector("stored_big", "big");
}
END_TEST

START_TEST(crc32_matches_zlib) {
    ck_assert_uint_eq(polyp_crc32_update(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(polyp_crc32_update(0, "", 0), 0);
    /* Split updates equal one pass; value for big.out from Python: zlib.crc32. */
    size_t n;
    unsigned char *big = fixture("big.out", &n);
    uint32_t one = polyp_crc32_update(0, big, n);
    uint32_t two = polyp_crc32_update(polyp_crc32_update(0, big, 1000), big + 1000, n - 1000);
    ck_assert_uint_eq(one, two);
    ck_assert_uint_eq(one, 0x676342c3u);
    free(big);
}
END_TEST

static void truncations_fail(const char *name, size_t out_cap, size_t step) {
    size_t in_n;
    unsigned char *in = fixture(name, &in_n);
    unsigned char *out = malloc(out_cap);
    for (size_t cut = 0; cut < in_n; cut += step) {
        size_t got;
        polyp_error err = {0};
        /* Copy so ASan sees reads past the cut as overflows. */
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, in, cut);
        polyp_status st = polyp_inflate(part, cut, out, out_cap, &got, NULL, &err);
        ck_assert_msg(st == POLYP_ERR_FORMAT, "%s cut at %zu: status %d", name, cut, st);
        ck_assert_msg(strstr(err.message, "deflate:"), "%s", err.message);
        free(part);
    }
    free(in);
    free(out);
}

START_TEST(truncated_streams_fail) {
    truncations_fail("stored.deflate", 1740, 1);
    truncations_fail("fixed.deflate", 1740, 1);
    truncations_fail("dynamic.deflate", 3000, 1);
    truncations_fail("multiblock.deflate", 68000, 97);
    truncations_fail("stored_big.deflate", 68000, 1013);
}
END_TEST

START_TEST(bit_flips_never_crash) {
    size_t in_n;
    unsigned char *in = fixture("dynamic.deflate", &in_n);
    unsigned char *buf = malloc(in_n);
    unsigned char *out = malloc(3000);
    uint32_t seed = 12345;
    int failures = 0;
    for (int t = 0; t < 3000; t++) {
        memcpy(buf, in, in_n);
        for (int k = 0; k < 1 + t % 3; k++) {
            seed = seed * 1664525u + 1013904223u;
            size_t bit = (seed >> 8) % (in_n * 8);
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        }
        size_t got;
        polyp_status st = polyp_inflate(buf, in_n, out, 3000, &got, NULL, NULL);
        ck_assert_uint_le(got, 3000);
        failures += st != POLYP_OK;
    }
    ck_assert_int_gt(failures, 0); /* corruption is noticed, at least mostly */
    free(in);
    free(buf);
    free(out);
}
END_TEST

/* Bit writer for hand-built streams: fields LSB first, Huffman codes MSB first (RFC 1951). */
typedef struct bw {
    unsigned char b[64];
    size_t nbits;
} bw;
static void put(bw *w, unsigned v, int n) {
    for (int i = 0; i < n; i++, w->nbits++)
        if (v >> i & 1) w->b[w->nbits / 8] |= (unsigned char)(1u << (w->nbits % 8));
}
static void put_code(bw *w, unsigned code, int n) {
    for (int i = n - 1; i >= 0; i--) put(w, code >> i & 1, 1);
}

static void expect_fail(const bw *w, const char *needle) {
    unsigned char out[64];
    size_t got;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_inflate(w->b, (w->nbits + 7) / 8, out, sizeof out, &got, NULL, &err), POLYP_ERR_FORMAT);
    ck_assert_msg(strstr(err.message, needle), "'%s' not in '%s'", needle, err.message);
}

START_TEST(hand_built_invalid_streams) {
    bw w;
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 3, 2);
    expect_fail(&w, "invalid block type 3");

    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 0, 2);
    put(&w, 0, 5); /* pad to the byte */
    put(&w, 5, 16);
    put(&w, 0, 16); /* NLEN should be ~5 */
    expect_fail(&w, "does not match its complement");

    /* Fixed block whose first symbol is a match: nothing to copy from. */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 1, 2);
    put_code(&w, 1, 7); /* symbol 257: length 3 */
    put_code(&w, 0, 5); /* distance code 0: distance 1 */
    expect_fail(&w, "before the start");

    /* Fixed block: literal 'a', then distance 2 with only 1 byte of output. */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 1, 2);
    put_code(&w, 0x30 + 'a', 8);
    put_code(&w, 1, 7);
    put_code(&w, 1, 5);
    expect_fail(&w, "before the start");

    /* Fixed block using length symbol 286 (reserved). */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 1, 2);
    put_code(&w, 0xC0 + (286 - 280), 8);
    expect_fail(&w, "invalid length symbol 286");

    /* Dynamic block whose code-length code is over-subscribed (19 codes of length 1). */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 2, 2);
    put(&w, 0, 5);
    put(&w, 0, 5);
    put(&w, 15, 4);
    for (int i = 0; i < 19; i++) put(&w, 1, 3);
    expect_fail(&w, "invalid code-length code");

    /* Dynamic block whose first code length is "repeat previous". Code-length code: symbols
     * 16 and 0 of length 1 (order puts 16 first, 0 fourth). */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 2, 2);
    put(&w, 0, 5);
    put(&w, 0, 5);
    put(&w, 0, 4); /* 4 code-length codes: 16, 17, 18, 0 */
    put(&w, 1, 3);
    put(&w, 0, 3);
    put(&w, 0, 3);
    put(&w, 1, 3);
    put_code(&w, 1, 1); /* symbol 16 (codes: 0 -> symbol 0, 1 -> symbol 16) */
    put(&w, 0, 2);
    expect_fail(&w, "no previous length");

    /* Non-final empty stored block, then nothing: truncated. */
    memset(&w, 0, sizeof w);
    put(&w, 0, 1);
    put(&w, 0, 2);
    put(&w, 0, 5);
    put(&w, 0, 16);
    put(&w, 0xFFFF, 16);
    expect_fail(&w, "truncated");
}
END_TEST

START_TEST(null_arguments) {
    size_t got;
    unsigned char out[4];
    ck_assert_int_eq(polyp_inflate(NULL, 3, out, 4, &got, NULL, NULL), POLYP_ERR_INVALID_ARG);
    ck_assert_int_eq(polyp_inflate("x", 1, NULL, 4, &got, NULL, NULL), POLYP_ERR_INVALID_ARG);
    ck_assert_int_eq(polyp_inflate("x", 1, out, 4, NULL, NULL, NULL), POLYP_ERR_INVALID_ARG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("inflate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, zlib_vectors_decode_exactly);
    tcase_add_test(tc, crc32_matches_zlib);
    tcase_add_test(tc, truncated_streams_fail);
    tcase_add_test(tc, bit_flips_never_crash);
    tcase_add_test(tc, hand_built_invalid_streams);
    tcase_add_test(tc, null_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
