/* test_sha256.c - core/sha256.c on both of its round implementations: the FIPS 180-2
 * example digests (one block, two blocks, a million 'a's, the empty message), and the
 * hardware rounds (x86 SHA extensions, where the CPU has them) against the portable ones on
 * random messages of every length around the block and padding boundaries, hashed in one
 * piece and in uneven pieces. */
#include "sha256.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_of(const uint8_t d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The digest of data hashed in pieces of the given sizes (cycled), as hex. */
static void digest_pieces(const uint8_t *data, size_t size, const size_t *pieces, size_t npieces, char out[65]) {
    polyp_sha256 s;
    uint8_t d[32];
    polyp_sha256_init(&s);
    for (size_t at = 0, k = 0; at < size; k++) {
        size_t n = pieces[k % npieces];
        if (n > size - at) n = size - at;
        polyp_sha256_update(&s, data + at, n);
        at += n;
    }
    polyp_sha256_final(&s, d);
    hex_of(d, out);
}

static void check_fips_vectors(void) {
    char hex[65];
    polyp_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    polyp_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    polyp_sha256_hex(two, strlen(two), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    uint8_t *million = malloc(1000000);
    ck_assert_ptr_nonnull(million);
    memset(million, 'a', 1000000);
    polyp_sha256_hex(million, 1000000, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    const size_t odd[] = {1, 63, 64, 65, 7, 1000};
    digest_pieces(million, 1000000, odd, 6, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

START_TEST(fips_vectors_portable) {
    polyp_sha256_use_hardware(false);
    check_fips_vectors();
}
END_TEST

/* The two below run only where the CPU has the SHA extensions (main reports the test as
 * skipped on an x86 CPU without them). */
START_TEST(fips_vectors_hardware) {
    ck_assert(polyp_sha256_use_hardware(true));
    check_fips_vectors();
}
END_TEST

START_TEST(hardware_equals_portable) {
    enum { MAX = 4 * 64 + 9 };
    uint8_t buf[MAX];
    uint32_t x = 12345;
    for (size_t i = 0; i < MAX; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    const size_t one[] = {MAX};
    const size_t uneven[] = {3, 61, 70, 1};
    for (size_t len = 0; len <= MAX; len++)
        for (int how = 0; how < 2; how++) {
            char hw[65], sw[65];
            const size_t *pieces = how ? uneven : one;
            size_t n = how ? 4 : 1;
            polyp_sha256_use_hardware(true);
            digest_pieces(buf, len, pieces, n, hw);
            polyp_sha256_use_hardware(false);
            digest_pieces(buf, len, pieces, n, sw);
            ck_assert_msg(strcmp(hw, sw) == 0, "length %zu (%s): hardware %s, portable %s", len,
                          how ? "in pieces" : "one piece", hw, sw);
        }
}
END_TEST

int main(void) {
    bool hw = polyp_sha256_use_hardware(true);
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, fips_vectors_portable);
    if (hw) {
        tcase_add_test(tc, fips_vectors_hardware);
        tcase_add_test(tc, hardware_equals_portable);
    }
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    /* Skipped in part only where this build has hardware rounds the CPU cannot run; a build
     * without them (wasm, ARM) has nothing left out. */
    if (rc == 0 && !hw && POLYP_SHA256_HW) {
        fprintf(stderr, "test_sha256: SKIPPED in part: this CPU has no SHA extensions, so the hardware "
                        "rounds were not run (the portable ones passed)\n");
        return 77;
    }
    return rc;
}
