/* test_shard.c - `--shard I/N` arithmetic (native/cli/shard.c): the hash is FNV-1a 64
 * + splitmix64 finaliser (FNV's published test vectors, and shards worked out by the
 * Python formula in shard.h, an independent implementation), every
 * name lands in exactly one shard for N = 1..64, shards are usable (none empty, none far
 * above its share on 3,000 names), and every malformed value is refused with a message that
 * names it. */
#include "shard.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

START_TEST(hash_is_fnv1a_64) {
    /* From the FNV reference page (isthe.com/chongo/tech/comp/fnv), FNV-1a 64-bit. */
    ck_assert_uint_eq(cli_shard_hash(""), 0xcbf29ce484222325ull);
    ck_assert_uint_eq(cli_shard_hash("a"), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(cli_shard_hash("foobar"), 0x85944171f73967e8ull);
    /* Shards from shard.h's Python formula (python3, arbitrary-precision integers). */
    ck_assert_uint_eq(cli_shard_of("foobar", 7), 2);
    ck_assert_uint_eq(cli_shard_of("foobar", 40), 18);
    ck_assert_uint_eq(cli_shard_of("reef/IMG_0001.JPG", 40), 26);
    ck_assert_uint_eq(cli_shard_of("reef/IMG_0001.JPG", 64), 58);
    ck_assert_uint_eq(cli_shard_of("mermaid_3805.JPG", 64), 14);
    ck_assert_uint_eq(cli_shard_of("foobar", 1), 0);
    /* UTF-8 bytes are hashed as bytes (0xc3 0xa9 for U+00E9), so it differs from "e". */
    ck_assert_uint_ne(cli_shard_hash("\xc3\xa9"), cli_shard_hash("e"));
}
END_TEST

START_TEST(every_name_in_exactly_one_shard) {
    enum { NAMES = 3000 };
    static char names[NAMES][40];
    for (int k = 0; k < NAMES; k++)
        if (k % 3) snprintf(names[k], sizeof names[k], "reef-%d/IMG_%05d.JPG", k % 17, k);
        else snprintf(names[k], sizeof names[k], "q%d.png", k);
    for (uint32_t n = 1; n <= 64; n++) {
        size_t per_shard[64] = {0};
        for (int k = 0; k < NAMES; k++) {
            /* What N tasks of an array do: each keeps the names whose shard is its index. */
            int owners = 0;
            for (uint32_t i = 0; i < n; i++) owners += cli_shard_of(names[k], n) == i;
            ck_assert_msg(owners == 1, "%s is in %d of %u shards", names[k], owners, n);
            per_shard[cli_shard_of(names[k], n)]++;
        }
        for (uint32_t i = 0; i < n; i++) {
            double share = (double)NAMES / n;
            ck_assert_msg(per_shard[i] > 0, "shard %u/%u is empty", i, n);
            ck_assert_msg(per_shard[i] < share * 2 + 10, "shard %u/%u holds %zu of %d names", i, n, per_shard[i],
                          NAMES);
        }
    }
}
END_TEST

START_TEST(valid_values_parse) {
    char msg[256];
    cli_shard s;
    ck_assert(cli_shard_parse("0/1", &s, msg, sizeof msg));
    ck_assert_uint_eq(s.index, 0);
    ck_assert_uint_eq(s.count, 1);
    ck_assert(cli_shard_parse("39/40", &s, msg, sizeof msg));
    ck_assert_uint_eq(s.index, 39);
    ck_assert_uint_eq(s.count, 40);
    ck_assert(cli_shard_parse("007/10", &s, msg, sizeof msg));
    ck_assert_uint_eq(s.index, 7);
    ck_assert(cli_shard_parse("999999/1000000", &s, msg, sizeof msg));
    uint32_t n;
    ck_assert(cli_shard_parse_count("64", &n, msg, sizeof msg));
    ck_assert_uint_eq(n, 64);
}
END_TEST

START_TEST(bad_values_are_refused_by_name) {
    const char *bad[] = {"3/2", "-1/4", "a/b", "0/0", "1/0", "2/2", "3", "/4", "3/", "", "1/-4", "+1/4", " 1/4",
                         "1/4 ", "1//4", "1/4/8", "0x1/4", "1.0/4", "0/1000001", "99999999999999999999/4",
                         "0/18446744073709551617", "4294967297/4294967298"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char msg[256] = "";
        cli_shard s = {12345, 12345};
        ck_assert_msg(!cli_shard_parse(bad[k], &s, msg, sizeof msg), "'%s' was accepted", bad[k]);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[k]);
        ck_assert_msg(strstr(msg, quoted), "message for '%s' does not name it: %s", bad[k], msg);
        ck_assert_msg(!strchr(msg, '\n'), "message is not one line: %s", msg);
        ck_assert_uint_eq(s.count, 12345); /* untouched on failure */
    }
    char msg[256];
    uint32_t n = 7;
    const char *bad_counts[] = {"0", "-3", "x", "", "1000001", "4/8"};
    for (size_t k = 0; k < sizeof bad_counts / sizeof bad_counts[0]; k++)
        ck_assert_msg(!cli_shard_parse_count(bad_counts[k], &n, msg, sizeof msg), "'%s' accepted", bad_counts[k]);
    ck_assert_uint_eq(n, 7);
}
END_TEST

int main(void) {
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hash_is_fnv1a_64);
    tcase_add_test(tc, every_name_in_exactly_one_shard);
    tcase_add_test(tc, valid_values_parse);
    tcase_add_test(tc, bad_values_are_refused_by_name);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
