/* test_testnet.c - the seeded test network: PRNG values bit for bit against numpy's
 * (tests/fixtures/effnet/prng.txt, written by models/testnet.py), and the built file's
 * contents, metadata and refusals. */
#include "safetensors.h"
#include "testnet.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static polyp_effnet_tensor list[POLYP_EFFNET_TENSORS];

static const polyp_effnet_tensor *lookup(const char *name) {
    for (size_t i = 0; i < POLYP_EFFNET_TENSORS; i++)
        if (!strcmp(list[i].name, name)) return &list[i];
    return NULL;
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

START_TEST(tensor_list_matches_the_spec) {
    ck_assert_uint_eq(polyp_effnet_tensors(list), POLYP_EFFNET_TENSORS);
    const polyp_effnet_tensor *t = lookup("_blocks.15._expand_conv.weight");
    ck_assert(t && t->shape[0] == 1152 && t->shape[1] == 192 && t->shape[2] == 1);
    t = lookup("_blocks.0._se_reduce.weight"); /* se = 32 / 4 */
    ck_assert(t && t->shape[0] == 8 && t->shape[1] == 32);
    t = lookup("_blocks.5._se_reduce.weight"); /* in 40 -> se 10, hidden 240 */
    ck_assert(t && t->shape[0] == 10 && t->shape[1] == 240);
    t = lookup("_blocks.11._depthwise_conv.weight");
    ck_assert(t && t->shape[0] == 672 && t->shape[1] == 1 && t->shape[2] == 5 && t->shape[3] == 5);
    ck_assert_ptr_null(lookup("_blocks.0._expand_conv.weight"));
    t = lookup("_conv_head.weight");
    ck_assert(t && t->shape[0] == 1280 && t->shape[1] == 320);
}
END_TEST

START_TEST(prng_matches_numpy_bit_for_bit) {
    polyp_effnet_tensors(list);
    size_t size;
    char *text = tu_read(tu_source_path("tests/fixtures/effnet/prng.txt"), &size);
    text = realloc(text, size + 1);
    text[size] = 0;
    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        unsigned long long index;
        unsigned expect;
        ck_assert_msg(sscanf(line, "%63s %llu %x", name, &index, &expect) == 3, "bad line: %s", line);
        const polyp_effnet_tensor *t = lookup(name);
        ck_assert_msg(t != NULL, "prng.txt names unknown tensor %s", name);
        uint32_t got = bits(polyp_testnet_value(POLYP_TESTNET_DEFAULT_SEED, t, index));
        ck_assert_msg(got == expect, "%s[%llu]: C %08x, numpy %08x", name, index, got, expect);
        lines++;
    }
    ck_assert_int_ge(lines, 10);
    free(text);
}
END_TEST

START_TEST(uniform_is_in_range_and_seed_dependent) {
    int differ = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        float v = polyp_testnet_uniform(1, "x", i);
        ck_assert(v >= -1.0f && v < 1.0f);
        differ += v != polyp_testnet_uniform(2, "x", i);
    }
    ck_assert_int_gt(differ, 990);
}
END_TEST

static void *read_bnstats(size_t *size) {
    return tu_read(tu_source_path("models/testnet-bnstats.safetensors"), size);
}

START_TEST(built_network_holds_prng_values_and_stats) {
    polyp_effnet_tensors(list);
    size_t bsize, size;
    void *bn = read_bnstats(&bsize), *net;
    polyp_error err = {0};
    ck_assert_msg(polyp_testnet_build(POLYP_TESTNET_DEFAULT_SEED, bn, bsize, &net, &size, &err) == POLYP_OK, "%s",
                  err.message);
    polyp_st_file f, b;
    ck_assert_int_eq(polyp_st_parse(net, size, &f, &err), POLYP_OK);
    ck_assert_int_eq(polyp_st_parse(bn, bsize, &b, &err), POLYP_OK);
    ck_assert_uint_eq(f.count, POLYP_EFFNET_TENSORS);
    ck_assert_str_eq(polyp_st_meta(&f, "format"), "polyp-efficientnet-b0");
    ck_assert_str_eq(polyp_st_meta(&f, "variant"), "lukemelas");
    ck_assert_str_eq(polyp_st_meta(&f, "seed"), "20261128");
    for (size_t i = 0; i < POLYP_EFFNET_TENSORS; i++) {
        const polyp_st_tensor *t = polyp_st_find(&f, list[i].name);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->dtype, POLYP_ST_F32);
        if (list[i].kind == POLYP_TENSOR_BN_MEAN || list[i].kind == POLYP_TENSOR_BN_VAR) {
            const polyp_st_tensor *s = polyp_st_find(&b, list[i].name);
            ck_assert(s->nbytes == t->nbytes && memcmp(s->data, t->data, t->nbytes) == 0);
        } else {
            /* first and last element */
            size_t n = t->nbytes / 4;
            float first, last;
            memcpy(&first, t->data, 4);
            memcpy(&last, t->data + 4 * (n - 1), 4);
            ck_assert(bits(first) == bits(polyp_testnet_value(POLYP_TESTNET_DEFAULT_SEED, &list[i], 0)));
            ck_assert(bits(last) == bits(polyp_testnet_value(POLYP_TESTNET_DEFAULT_SEED, &list[i], n - 1)));
        }
    }
    polyp_st_free(&f);
    polyp_st_free(&b);
    polyp_free(net);
    free(bn);
}
END_TEST

START_TEST(refuses_stats_of_another_seed) {
    size_t bsize, size;
    void *bn = read_bnstats(&bsize), *net = NULL;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_testnet_build(7, bn, bsize, &net, &size, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "seed 20261128, not 7"));
    ck_assert_ptr_null(net);
    /* Not a stats file at all. */
    ck_assert_int_ne(polyp_testnet_build(7, "garbage!!", 9, &net, &size, &err), POLYP_OK);
    ck_assert_ptr_nonnull(strstr(err.message, "bn stats"));
    free(bn);
}
END_TEST

START_TEST(refuses_stats_missing_a_tensor) {
    /* A stats file with the right metadata but only one tensor. */
    polyp_st_writer *w = polyp_st_writer_init();
    polyp_error err = {0};
    float m[32] = {0};
    uint64_t shape[1] = {32};
    polyp_st_writer_add(w, "_bn0.running_mean", POLYP_ST_F32, 1, shape, m, &err);
    polyp_st_writer_meta(w, "format", "polyp-testnet-bnstats", &err);
    polyp_st_writer_meta(w, "seed", "5", &err);
    void *bn, *net = NULL;
    size_t bsize, size;
    ck_assert_int_eq(polyp_st_writer_finish(w, &bn, &bsize, &err), POLYP_OK);
    polyp_st_writer_free(w);
    ck_assert_int_eq(polyp_testnet_build(5, bn, bsize, &net, &size, &err), POLYP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "_bn0.running_var"));
    polyp_free(bn);
}
END_TEST

int main(void) {
    Suite *s = suite_create("testnet");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tensor_list_matches_the_spec);
    tcase_add_test(tc, prng_matches_numpy_bit_for_bit);
    tcase_add_test(tc, uniform_is_in_range_and_seed_dependent);
    tcase_add_test(tc, built_network_holds_prng_values_and_stats);
    tcase_add_test(tc, refuses_stats_of_another_seed);
    tcase_add_test(tc, refuses_stats_missing_a_tensor);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
