/* test_pickle.c - the restricted unpickler and the checkpoint reader on small inputs: values
 * of pickles Python wrote (tests/fixtures/checkpoints, made by make_checkpoint_seeds.py, whose
 * values are restated here by hand), hand-written hostile opcode streams refused with the
 * global or opcode named, caps, and every truncation / bit flip of real torch.save files
 * answered with a status (ASan/UBSan in the sanitizer build). The full-size B0 layouts are
 * checked against the converter in tests/e2e/test_checkpoints_cli.py. */
#include "pickle.h"
#include "testutil.h"
#include "torch_ckpt.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *seed(const char *name, size_t *size) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/checkpoints/%s", name);
    return tu_read(tu_source_path(rel), size);
}

static const polyp_pk_value *get(const polyp_pk_value *d, const char *key) {
    const polyp_pk_value *v = polyp_pk_dict_get(d, key);
    ck_assert_msg(v != NULL, "no key %s", key);
    return v;
}

START_TEST(python_pickles_read_as_written) {
    const char *names[] = {"plain_proto2.pkl", "plain_proto4.pkl"};
    for (int k = 0; k < 2; k++) {
        size_t size, used;
        void *buf = seed(names[k], &size);
        polyp_pickle pk;
        polyp_error err = {0};
        ck_assert_msg(polyp_pickle_parse(buf, size, &used, &pk, &err) == POLYP_OK, "%s: %s", names[k], err.message);
        ck_assert_uint_eq(used, size);
        /* {'a': [1, -2, 300, 70000, 2**40, -2**63], 'b': (1.5, True, False, None),
         *  'd': {'x': 'y' * 300}[, 'c': b'\0\1']} */
        const polyp_pk_value *a = get(pk.root, "a");
        static const int64_t want[6] = {1, -2, 300, 70000, (int64_t)1 << 40, INT64_MIN};
        ck_assert_int_eq(a->type, POLYP_PK_LIST);
        ck_assert_uint_eq(a->n, 6);
        for (int i = 0; i < 6; i++) {
            ck_assert_int_eq(a->items[i]->type, POLYP_PK_INT);
            ck_assert_int_eq(a->items[i]->i, want[i]);
        }
        const polyp_pk_value *b = get(pk.root, "b");
        ck_assert_int_eq(b->type, POLYP_PK_TUPLE);
        ck_assert_uint_eq(b->n, 4);
        ck_assert(b->items[0]->type == POLYP_PK_FLOAT && b->items[0]->f == 1.5);
        ck_assert(b->items[1]->type == POLYP_PK_BOOL && b->items[1]->i == 1);
        ck_assert(b->items[2]->type == POLYP_PK_BOOL && b->items[2]->i == 0);
        ck_assert_int_eq(b->items[3]->type, POLYP_PK_NONE);
        if (k == 1) { /* bytes only from protocol 3 on */
            const polyp_pk_value *c = get(pk.root, "c");
            ck_assert(c->type == POLYP_PK_BYTES && c->len == 2 && c->s[0] == 0 && c->s[1] == 1);
        }
        const polyp_pk_value *x = get(get(pk.root, "d"), "x");
        ck_assert(x->type == POLYP_PK_STR && x->len == 300 && x->s[299] == 'y');
        polyp_pickle_free(&pk);
        free(buf);
    }
}
END_TEST

/* Hand-written streams: each must fail with a message containing the word. */
START_TEST(hostile_pickles_are_refused) {
    static const struct {
        const char *bytes;
        size_t len;
        const char *word;
    } cases[] = {
#define C(s, w) {s, sizeof s - 1, w}
        C("\x80\x02" "cos\nsystem\n" "X\x02\0\0\0id" "\x85R.", "global os.system"),
        C("\x80\x02" "cposix\nsystem\n.", "posix.system"),
        C("\x80\x02" "cbuiltins\neval\n.", "builtins.eval"),
        C("\x80\x04\x8c\x08" "builtins\x8c\x04" "exec\x93.", "builtins.exec"),
        C("\x80\x02" "ctorch\nload\n.", "torch.load"),
        C("\x80\x02" "ctorch._utils\n_rebuild_qtensor\n.", "_rebuild_qtensor"),
        C("\x80\x02})R.", "REDUCE"),                                     /* calling a dict */
        C("\x80\x02" "ctorch\nFloatStorage\n)R.", "FloatStorage"),        /* calling a storage type */
        C("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", "OrderedDict with arguments"),
        C("\x80\x02]}b.", "BUILD"),                                       /* BUILD on a list */
        C("\x80\x02}}b.", "BUILD"),                                       /* on a plain dict */
        C("\x80\x02" "ccollections\nOrderedDict\n)\x81.", "NEWOBJ"),
        C("\x80\x02" "ccollections\nOrderedDict\n)}\x92.", "NEWOBJ_EX"),
        C("\x80\x02\x82\x01.", "EXT1"),
        C("(i__main__\nX\n.", "INST"),
        C("\x80\x02" "X\x01\0\0\0" "aP0\n.", "PERSID"),
        C("\x80\x02" "K\x01Q.", "BINPERSID is not a ('storage'"),                         /* BINPERSID of an int */
        C("\x80\x02h\x05.", "memo"),
        C("\x80\x02.", "STOP"),                                           /* empty stack */
        C("\x80\x02NN.", "STOP"),                                         /* two values left */
        C("\x80\x02N", "truncated"),
        C("\x80\x02X\xff\0\0\0ab.", "truncated"),
        C("\x80\x02X\x03\0\0\0a\0b.", "NUL"),
        C("\x80\x09N.", "protocol"),
        C("\x80\x02" "a.", "APPEND"),
        C("\x80\x02" "}K\x01" "a.", "APPEND"),                            /* append to a dict */
        C("\x80\x02" "]K\x01" "s.", "SETITEM"),
        C("\x80\x02" "r\xff\xff\xff\x7f.", "memo"),                       /* huge memo index */
        C("\x80\x02" "c_codecs\nencode\n.", "_codecs.encode"),             /* protocol 2 bytes */
#undef C
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        polyp_pickle pk;
        polyp_error err = {0};
        size_t used;
        polyp_status st = polyp_pickle_parse(cases[k].bytes, cases[k].len, &used, &pk, &err);
        ck_assert_msg(st != POLYP_OK, "case %zu (%s) accepted", k, cases[k].word);
        ck_assert_msg(strstr(err.message, cases[k].word) != NULL, "case %zu: \"%s\" lacks \"%s\"", k, err.message,
                      cases[k].word);
        ck_assert_ptr_null(pk.root);
    }
}
END_TEST

/* Caps: a dict past 8192 entries, 70000 open MARKs. */
START_TEST(caps_are_enforced) {
    size_t n = 9000, len = 0;
    unsigned char *b = malloc(16 + n * 6);
    memcpy(b, "\x80\x02}(", 4);
    len = 4;
    for (size_t i = 0; i < n; i++) {
        b[len++] = 'J';
        for (int k = 0; k < 4; k++) b[len++] = (unsigned char)(i >> (8 * k));
        b[len++] = 'N';
    }
    b[len++] = 'u';
    b[len++] = '.';
    polyp_pickle pk;
    polyp_error err = {0};
    ck_assert_int_eq(polyp_pickle_parse(b, len, NULL, &pk, &err), POLYP_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.message, "8192"));
    free(b);
    n = 70000;
    b = malloc(n + 4);
    memcpy(b, "\x80\x02", 2);
    memset(b + 2, '(', n);
    b[n + 2] = '.';
    ck_assert_int_eq(polyp_pickle_parse(b, n + 3, NULL, &pk, &err), POLYP_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.message, "MARK"));
    free(b);
}
END_TEST

/* Real torch.save files of a small non-B0 state_dict: parsed through to the layout check
 * (which names the first unexpected tensor); every truncation and bit flip gets a status. */
START_TEST(torch_files_truncated_and_flipped) {
    const char *names[] = {"state_dict_zip.pth", "state_dict_legacy.pth", "coralnet_zip.pth", "coralnet_legacy.pth",
                           "wrapped_zip.pth", "wrapped_legacy.pth"};
    for (int k = 0; k < 6; k++) {
        size_t size;
        unsigned char *buf = seed(names[k], &size);
        ck_assert(polyp_torch_detect(buf, size));
        void *out = NULL;
        size_t out_size;
        polyp_error err = {0};
        ck_assert_int_eq(polyp_torch_to_safetensors(buf, size, &out, &out_size, &err), POLYP_ERR_FORMAT);
        ck_assert_msg(strstr(err.message, "unexpected tensor view for a lukemelas EfficientNet-B0") != NULL, "%s: %s",
                      names[k], err.message);
        for (size_t cut = 0; cut < size; cut++) {
            err.message[0] = '\0';
            ck_assert_int_ne(polyp_torch_to_safetensors(buf, cut, &out, &out_size, &err), POLYP_OK);
            ck_assert_msg(err.message[0] != '\0', "%s cut at %zu: no message", names[k], cut);
            ck_assert_ptr_null(out);
        }
        unsigned char *z = malloc(size);
        for (size_t bit = 0; bit < size * 8; bit += 5) {
            memcpy(z, buf, size);
            z[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            if (polyp_torch_to_safetensors(z, size, &out, &out_size, &err) == POLYP_OK) polyp_free(out);
            out = NULL;
        }
        free(z);
        free(buf);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("pickle");
    TCase *tc = tcase_create("pickle");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, python_pickles_read_as_written);
    tcase_add_test(tc, hostile_pickles_are_refused);
    tcase_add_test(tc, caps_are_enforced);
    tcase_add_test(tc, torch_files_truncated_and_flipped);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
