/* test_cuda_plan.c - the CUDA backend's host side (native/cuda/cuda_plan.c), which every
 * native build has with or without CUDA: --precision / --devices parsing, the device
 * buffers of a batch against sizes worked out by hand from the B0 table, the refusal of a
 * batch that does not fit, batches spanning photos, and the "why no CUDA" lines. Also: a
 * build without CUDA refuses --backend cuda with the not-built line, and AUTO never fails
 * for want of a GPU. */
#include "cuda_plan.h"
#include "effnet_cases.h"
#include "testutil.h"

#include <string.h>

START_TEST(precision_parses) {
    polyp_precision p = POLYP_PRECISION_FAST;
    char msg[256] = "";
    ck_assert(polyp_cuda_parse_precision("exact", &p, msg, sizeof msg));
    ck_assert_int_eq(p, POLYP_PRECISION_EXACT);
    ck_assert(polyp_cuda_parse_precision("fast", &p, msg, sizeof msg));
    ck_assert_int_eq(p, POLYP_PRECISION_FAST);
    const char *bad[] = {"", "Exact", "fp16", "fast ", "exactly"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = POLYP_PRECISION_FAST;
        ck_assert_msg(!polyp_cuda_parse_precision(bad[i], &p, msg, sizeof msg), "'%s' accepted", bad[i]);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        ck_assert_msg(strstr(msg, quoted) && strstr(msg, "exact or fast"), "message: %s", msg);
        ck_assert_int_eq(p, POLYP_PRECISION_FAST); /* untouched */
    }
}
END_TEST

START_TEST(devices_parse) {
    int d[POLYP_CUDA_MAX_DEVICES];
    size_t n = 99;
    char msg[256] = "";
    ck_assert(polyp_cuda_parse_devices("0", d, 8, &n, msg, sizeof msg));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(d[0], 0);
    ck_assert(polyp_cuda_parse_devices("3,1,63", d, 8, &n, msg, sizeof msg));
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(d[0], 3);
    ck_assert_int_eq(d[1], 1);
    ck_assert_int_eq(d[2], 63);
    struct { const char *in, *says; } bad[] = {
        {"", "needs a comma-separated list"}, {",", "'' is not a device index"}, {"0,", "'' is not a device index"},
        {",0", "'' is not a device index"},   {"a", "'a' is not a device index"}, {"0,,1", "'' is not a device index"},
        {"1,1", "device 1 is listed twice"},  {"64", "device 64 is out of range (0..63)"},
        {"-1", "'-1' is not a device index"}, {"0 1", "'0 1' is not a device index"},
        {"99999999999", "device 99999999999 is out of range"}, {"0,1,2", "more than 2 devices"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg[0] = '\0';
        ck_assert_msg(!polyp_cuda_parse_devices(bad[i].in, d, 2, &n, msg, sizeof msg), "'%s' accepted", bad[i].in);
        ck_assert_msg(strstr(msg, bad[i].says), "'%s': message '%s' lacks '%s'", bad[i].in, msg, bad[i].says);
        ck_assert_msg(!strchr(msg, '\n'), "not one line: %s", msg);
    }
}
END_TEST

/* Hand-worked from the B0 table (effnet.c), 224 input:
 *   input 224*224*3 = 150528; x: the stem's 112*112*32 = 401408 (no block output is larger);
 *   e: block 1 expands 112*112*16 to 112*112*96 = 1204224; d: block 2's 56*56*144 = 451584;
 *   row sums: blocks 9-10, 14 rows of 672 = 9408; gate: 1152 channels (blocks 12-15).
 * exact: 150528*4 + (2*401408 + 1204224 + 451584)*4 + (9408 + 1152 + 1280)*4 = 10483968 B;
 * fast:  150528*4 + 2458624*2 + 47360 = 5566720 B. */
START_TEST(layout_sizes_by_hand) {
    pcu_layout L;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cuda_layout_plan(1, POLYP_PRECISION_EXACT, 1, &L, &err), POLYP_OK);
    ck_assert_uint_eq(L.in_elems, 150528);
    ck_assert_uint_eq(L.x_elems, 401408);
    ck_assert_uint_eq(L.e_elems, 1204224);
    ck_assert_uint_eq(L.d_elems, 451584);
    ck_assert_uint_eq(L.rowsum_elems, 9408);
    ck_assert_uint_eq(L.gate_elems, 1152);
    ck_assert_uint_eq(L.act_bytes, 4);
    /* offsets: each buffer after the previous (all these sizes are multiples of 256) */
    ck_assert_uint_eq(L.input, 0);
    ck_assert_uint_eq(L.x, 602112);
    ck_assert_uint_eq(L.y, 602112 + 1605632);
    ck_assert_uint_eq(L.e, 602112 + 2 * 1605632);
    ck_assert_uint_eq(L.d, 3813376 + 4816896);
    ck_assert_uint_eq(L.rowsum, 8630272 + 1806336);
    ck_assert_uint_eq(L.gate, 10436608 + 37632);
    ck_assert_uint_eq(L.feat, 10474240 + 4608);
    ck_assert_uint_eq(L.total, 10483968);
    ck_assert_uint_eq(polyp_cuda_bytes_per_patch(POLYP_PRECISION_EXACT), 10483968);
    ck_assert_uint_eq(polyp_cuda_bytes_per_patch(POLYP_PRECISION_FAST), 5566720);
    ck_assert_int_eq(polyp_cuda_layout_plan(7, POLYP_PRECISION_EXACT, 1, &L, &err), POLYP_OK);
    ck_assert_uint_eq(L.total, 7u * 10483968u);
    ck_assert_int_eq(polyp_cuda_layout_plan(256, POLYP_PRECISION_FAST, 0, &L, &err), POLYP_OK);
    ck_assert_uint_eq(L.act_bytes, 2);
    ck_assert_uint_eq(L.total, 256u * 5566720u);
    ck_assert_uint_eq(L.x, 256u * 602112u);
    ck_assert_uint_eq(L.y - L.x, 256u * 401408u * 2u);
}
END_TEST

/* Spatial sizes and pads: stem 224 -> 112 (TF SAME pads 0 before, torchvision 1); block 3
 * (5x5 stride 2, 56 -> 28) pads (27*2 + 5 - 56) / 2 = 1 before with TF SAME, 2 with
 * torchvision; the last block is 7x7. */
START_TEST(layout_dims_follow_the_padding_rule) {
    pcu_layout tf, tv;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cuda_layout_plan(2, POLYP_PRECISION_EXACT, 1, &tf, &err), POLYP_OK);
    ck_assert_int_eq(polyp_cuda_layout_plan(2, POLYP_PRECISION_EXACT, 0, &tv, &err), POLYP_OK);
    ck_assert_int_eq(tf.stem_hw, 112);
    ck_assert_int_eq(tf.stem_pad, 0);
    ck_assert_int_eq(tv.stem_pad, 1);
    ck_assert_int_eq(tf.blocks[3].h, 56);
    ck_assert_int_eq(tf.blocks[3].ho, 28);
    ck_assert_int_eq(tf.blocks[3].pad, 1);
    ck_assert_int_eq(tv.blocks[3].pad, 2);
    ck_assert_int_eq(tf.blocks[1].pad, 0); /* 3x3 stride 2 on 112: (55*2 + 3 - 112) = 1 -> 0 before */
    ck_assert_int_eq(tf.blocks[2].pad, 1);
    ck_assert_int_eq(tf.blocks[15].ho, 7);
    ck_assert_int_eq(tf.blocks[15].hidden, 1152);
    ck_assert_int_eq(tf.blocks[15].se, 48);
    ck_assert_int_eq(tf.blocks[0].expand, 1);
}
END_TEST

START_TEST(layout_refuses_bad_batches) {
    pcu_layout L;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cuda_layout_plan(0, POLYP_PRECISION_EXACT, 1, &L, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_int_eq(polyp_cuda_layout_plan(4097, POLYP_PRECISION_EXACT, 1, &L, &err), POLYP_ERR_LIMIT);
    ck_assert_msg(strstr(err.message, "batch size 4097 exceeds 4096"), "%s", err.message);
    ck_assert_int_eq(polyp_cuda_layout_plan(8, (polyp_precision)7, 1, &L, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "precision 7"), "%s", err.message);
}
END_TEST

/* 256 exact patches need 256 * 10483968 + 20e6 B = 2.70 GB; with 2e9 B free the largest
 * batch is (2e9 - 20e6 - 2048) / 10483968 = 188.86 -> 188. */
START_TEST(layout_fits_names_the_batch_that_would) {
    pcu_layout L;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_cuda_layout_plan(256, POLYP_PRECISION_EXACT, 1, &L, &err), POLYP_OK);
    ck_assert_int_eq(polyp_cuda_layout_fits(&L, 20000000, (size_t)80e9, 0, &err), POLYP_OK);
    ck_assert_int_eq(polyp_cuda_layout_fits(&L, 20000000, (size_t)2e9, 1, &err), POLYP_ERR_LIMIT);
    ck_assert_msg(strstr(err.message, "batch 256 in precision exact needs 2.70 GB of device memory, device 1 has 2.00 GB "
                                      "free: use --batch 188 or less"),
                  "%s", err.message);
    ck_assert_int_eq(polyp_cuda_layout_fits(&L, 20000000, 1000000, 0, &err), POLYP_ERR_LIMIT);
    ck_assert_msg(strstr(err.message, "too little for even one patch"), "%s", err.message);
    /* a driver that cannot say (0 free) refuses rather than trying */
    ck_assert_int_eq(polyp_cuda_layout_fits(&L, 0, 0, 0, &err), POLYP_ERR_LIMIT);
}
END_TEST

static void expect_span(const polyp_cuda_plan *p, size_t i, size_t photo, size_t first, size_t count) {
    ck_assert_uint_lt(i, p->n_spans);
    ck_assert_msg(p->spans[i].photo == photo && p->spans[i].first == first && p->spans[i].count == count,
                  "span %zu is (%zu, %zu, %zu), expected (%zu, %zu, %zu)", i, p->spans[i].photo, p->spans[i].first,
                  p->spans[i].count, photo, first, count);
}

/* Photos of 3, 0, 5, 2 points in batches of 4: [p0 0..2, p2 0], [p2 1..4], [p3 0..1]. */
START_TEST(batches_span_photos) {
    polyp_cuda_plan p;
    polyp_error err = {0};
    const size_t pts[] = {3, 0, 5, 2};
    ck_assert_int_eq(polyp_cuda_plan_batches(pts, 4, 4, &p, &err), POLYP_OK);
    ck_assert_uint_eq(p.n_batches, 3);
    ck_assert_uint_eq(p.n_spans, 4);
    expect_span(&p, 0, 0, 0, 3);
    expect_span(&p, 1, 2, 0, 1);
    expect_span(&p, 2, 2, 1, 4);
    expect_span(&p, 3, 3, 0, 2);
    const size_t first[] = {0, 2, 3, 4};
    for (size_t b = 0; b <= 3; b++) ck_assert_uint_eq(p.batch_first[b], first[b]);
    polyp_cuda_plan_free(&p);

    const size_t even[] = {4, 4}; /* exactly full batches: no empty batch between them */
    ck_assert_int_eq(polyp_cuda_plan_batches(even, 2, 4, &p, &err), POLYP_OK);
    ck_assert_uint_eq(p.n_batches, 2);
    expect_span(&p, 0, 0, 0, 4);
    expect_span(&p, 1, 1, 0, 4);
    polyp_cuda_plan_free(&p);

    const size_t big[] = {10}; /* one photo over three batches of 4 */
    ck_assert_int_eq(polyp_cuda_plan_batches(big, 1, 4, &p, &err), POLYP_OK);
    ck_assert_uint_eq(p.n_batches, 3);
    expect_span(&p, 0, 0, 0, 4);
    expect_span(&p, 1, 0, 4, 4);
    expect_span(&p, 2, 0, 8, 2);
    polyp_cuda_plan_free(&p);

    const size_t none[] = {0, 0};
    ck_assert_int_eq(polyp_cuda_plan_batches(none, 2, 4, &p, &err), POLYP_OK);
    ck_assert_uint_eq(p.n_batches, 0);
    ck_assert_uint_eq(p.n_spans, 0);
    polyp_cuda_plan_free(&p);
    ck_assert_int_eq(polyp_cuda_plan_batches(big, 1, 0, &p, &err), POLYP_ERR_INVALID_ARG);
    const size_t huge[] = {SIZE_MAX, 1};
    ck_assert_int_eq(polyp_cuda_plan_batches(huge, 2, 4, &p, &err), POLYP_ERR_LIMIT);
}
END_TEST

START_TEST(why_no_cuda_lines) {
    polyp_error err = {0};
    struct { pcu_reason r; int device, count; const char *detail, *says; polyp_status st; } cases[] = {
        {PCU_NOT_BUILT, 0, 0, NULL, "built without CUDA (configure with -DPOLYP_CUDA=ON", POLYP_ERR_UNSUPPORTED},
        {PCU_NO_DRIVER, 0, 0, "CUDA driver version is insufficient", "no usable NVIDIA driver", POLYP_ERR_UNSUPPORTED},
        {PCU_NO_DEVICE, 0, 0, "", "no CUDA device is visible", POLYP_ERR_UNSUPPORTED},
        {PCU_BAD_INDEX, 3, 2, "", "device 3 does not exist: 2 devices are visible (0..1)", POLYP_ERR_INVALID_ARG},
        {PCU_BAD_INDEX, 1, 1, "", "device 1 does not exist: 1 device is visible (0..0)", POLYP_ERR_INVALID_ARG},
        {PCU_OLD_DEVICE, 0, 1, "it is 8.0", "older than compute capability 9.0 (Hopper), the only code in this build: it is 8.0",
         POLYP_ERR_UNSUPPORTED},
        {PCU_RUNTIME_ERROR, 2, 4, "out of memory", "device 2 cannot be used: out of memory", POLYP_ERR_BACKEND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err.message[0] = '\0';
        ck_assert_int_eq(polyp_cuda_unavailable(cases[i].r, cases[i].device, cases[i].count, cases[i].detail, &err),
                         cases[i].st);
        ck_assert_msg(strstr(err.message, cases[i].says), "reason %d: '%s' lacks '%s'", (int)cases[i].r, err.message,
                      cases[i].says);
        ck_assert_msg(!strncmp(err.message, "cuda: ", 6) && !strchr(err.message, '\n'), "%s", err.message);
    }
    ck_assert_str_eq(err.message, "cuda: device 2 cannot be used: out of memory");
    ck_assert_int_eq(polyp_cuda_unavailable(PCU_OK, 0, 1, NULL, &err), POLYP_OK);
}
END_TEST

/* Whatever this build has: --backend cuda either works (a GPU) or says why in one line,
 * and AUTO always gives an extractor (CPU when there is no GPU). */
START_TEST(extractor_cuda_or_one_line) {
    polyp_weights *w = ec_load_testnet();
    polyp_extractor_params p = polyp_extractor_default_params();
    ck_assert_int_eq(p.device, 0);
    ck_assert_int_eq(p.precision, POLYP_PRECISION_EXACT);
    p.backend = POLYP_BACKEND_CUDA;
    polyp_extractor *ex = NULL;
    polyp_error err = {0};
    polyp_status st = polyp_extractor_init(w, &p, &ex, &err);
#ifndef POLYP_HAVE_CUDA
    ck_assert_int_eq(st, POLYP_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "built without CUDA"), "%s", err.message);
#endif
    if (st == POLYP_OK) {
        ck_assert_str_eq(polyp_extractor_backend_name(ex), "cuda");
        polyp_extractor_free(ex);
    } else {
        ck_assert_ptr_null(ex);
        ck_assert_msg(!strncmp(err.message, "cuda: ", 6) && !strchr(err.message, '\n'), "%s", err.message);
    }
    p.backend = POLYP_BACKEND_AUTO;
    ck_assert_msg(polyp_extractor_init(w, &p, &ex, &err) == POLYP_OK, "%s", err.message);
    if (st != POLYP_OK) ck_assert_str_ne(polyp_extractor_backend_name(ex), "cuda");
    polyp_extractor_free(ex);
    p.device = -1;
    ck_assert_int_eq(polyp_extractor_init(w, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    p.device = 0;
    p.precision = (polyp_precision)5;
    ck_assert_int_eq(polyp_extractor_init(w, &p, &ex, &err), POLYP_ERR_INVALID_ARG);
    polyp_weights_free(w);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cuda_plan");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, precision_parses);
    tcase_add_test(tc, devices_parse);
    tcase_add_test(tc, layout_sizes_by_hand);
    tcase_add_test(tc, layout_dims_follow_the_padding_rule);
    tcase_add_test(tc, layout_refuses_bad_batches);
    tcase_add_test(tc, layout_fits_names_the_batch_that_would);
    tcase_add_test(tc, batches_span_photos);
    tcase_add_test(tc, why_no_cuda_lines);
    tcase_add_test(tc, extractor_cuda_or_one_line);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
