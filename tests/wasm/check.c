/* check.c - the runner behind tests/wasm/check.h (see there). */
#include "check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct TestEntry {
    const TTest *test;
    int signal, start, end;
} TestEntry;

struct TCase {
    const char *name;
    TestEntry *tests;
    size_t n_tests;
    SFun setup[8], teardown[8];   /* checked fixtures: around every test */
    size_t n_fixtures;
    SFun usetup[8], uteardown[8]; /* unchecked fixtures: around the whole tcase */
    size_t n_ufixtures;
    TCase *next;
};

struct Suite {
    const char *name;
    TCase *first, *last;
    Suite *next;
};

struct SRunner {
    Suite *first, *last;
    int run, failed;
};

static jmp_buf ck_jump;
static int ck_in_test;
static char ck_message[1024];

static void *ck_alloc(size_t n) {
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "check shim: out of memory\n");
        exit(2);
    }
    return p;
}

Suite *suite_create(const char *name) {
    Suite *s = ck_alloc(sizeof *s);
    s->name = name;
    return s;
}

void suite_add_tcase(Suite *s, TCase *tc) {
    if (s->last) s->last->next = tc; else s->first = tc;
    s->last = tc;
}

TCase *tcase_create(const char *name) {
    TCase *tc = ck_alloc(sizeof *tc);
    tc->name = name;
    return tc;
}

void tcase_set_timeout(TCase *tc, double timeout) { (void)tc; (void)timeout; }

void tcase_add_checked_fixture(TCase *tc, SFun setup, SFun teardown) {
    if (tc->n_fixtures == 8) { fprintf(stderr, "check shim: too many fixtures\n"); exit(2); }
    tc->setup[tc->n_fixtures] = setup;
    tc->teardown[tc->n_fixtures++] = teardown;
}

void tcase_add_unchecked_fixture(TCase *tc, SFun setup, SFun teardown) {
    if (tc->n_ufixtures == 8) { fprintf(stderr, "check shim: too many fixtures\n"); exit(2); }
    tc->usetup[tc->n_ufixtures] = setup;
    tc->uteardown[tc->n_ufixtures++] = teardown;
}

void _tcase_add_test(TCase *tc, const TTest *t, int signal, int allowed_exit_value, int start,
                     int end) {
    (void)allowed_exit_value;
    TestEntry *grown = realloc(tc->tests, (tc->n_tests + 1) * sizeof *grown);
    if (!grown) { fprintf(stderr, "check shim: out of memory\n"); exit(2); }
    tc->tests = grown;
    tc->tests[tc->n_tests++] = (TestEntry){t, signal, start, end};
}

SRunner *srunner_create(Suite *s) {
    SRunner *sr = ck_alloc(sizeof *sr);
    if (s) srunner_add_suite(sr, s);
    return sr;
}

void srunner_add_suite(SRunner *sr, Suite *s) {
    if (sr->last) sr->last->next = s; else sr->first = s;
    sr->last = s;
}

void srunner_set_fork_status(SRunner *sr, enum fork_status fstat) { (void)sr; (void)fstat; }

void _ck_assert_failed(const char *file, int line, const char *expr, ...) {
    va_list ap;
    va_start(ap, expr);
    const char *fmt = va_arg(ap, const char *);
    char msg[900];
    if (fmt) vsnprintf(msg, sizeof msg, fmt, ap);
    else snprintf(msg, sizeof msg, "%s", expr);
    va_end(ap);
    snprintf(ck_message, sizeof ck_message, "%s:%d: %s", file, line, msg);
    if (ck_in_test) longjmp(ck_jump, 1);
    /* Outside a test (main, unchecked fixture): nothing to unwind to. */
    fprintf(stderr, "polyp-check: FAIL outside a test: %s\n", ck_message);
    exit(1);
}

/* Runs setup + test + teardown once; 1 when it passed. Fixtures may fail too. */
static int run_one(TCase *tc, const TTest *t, int i) {
    volatile int ok = 1;
    ck_in_test = 1;
    if (setjmp(ck_jump) == 0) {
        for (size_t f = 0; f < tc->n_fixtures; f++) if (tc->setup[f]) tc->setup[f]();
        t->fn(i);
    } else {
        ok = 0;
    }
    if (setjmp(ck_jump) == 0) {
        for (size_t f = tc->n_fixtures; f-- > 0;) if (tc->teardown[f]) tc->teardown[f]();
    } else {
        ok = 0;
    }
    ck_in_test = 0;
    return ok;
}

void srunner_run_all(SRunner *sr, enum print_output mode) {
    (void)mode;
    for (Suite *s = sr->first; s; s = s->next) {
        printf("Running suite(s): %s\n", s->name);
        int run = 0, failed = 0;
        for (TCase *tc = s->first; tc; tc = tc->next) {
            for (size_t f = 0; f < tc->n_ufixtures; f++) if (tc->usetup[f]) tc->usetup[f]();
            for (size_t k = 0; k < tc->n_tests; k++) {
                TestEntry *e = &tc->tests[k];
                for (int i = e->start; i < e->end; i++) {
                    char name[256];
                    if (e->end - e->start > 1)
                        snprintf(name, sizeof name, "%s:%s:%s[%d]", s->name, tc->name, e->test->name, i);
                    else
                        snprintf(name, sizeof name, "%s:%s:%s", s->name, tc->name, e->test->name);
                    int ok;
                    if (e->signal != 0) {
                        snprintf(ck_message, sizeof ck_message,
                                 "signal/exit tests need fork, which wasm has not");
                        ok = 0;
                    } else {
                        ck_message[0] = '\0';
                        ok = run_one(tc, e->test, i);
                    }
                    run++;
                    if (ok) {
                        printf("polyp-check: PASS %s\n", name);
                    } else {
                        failed++;
                        printf("polyp-check: FAIL %s: %s\n", name, ck_message);
                    }
                    fflush(stdout);
                }
            }
            for (size_t f = tc->n_ufixtures; f-- > 0;) if (tc->uteardown[f]) tc->uteardown[f]();
        }
        printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n",
               run ? (run - failed) * 100 / run : 100, run, failed);
        sr->run += run;
        sr->failed += failed;
    }
    fflush(stdout);
}

int srunner_ntests_failed(SRunner *sr) { return sr->failed; }
int srunner_ntests_run(SRunner *sr) { return sr->run; }

void srunner_free(SRunner *sr) {
    for (Suite *s = sr->first; s;) {
        for (TCase *tc = s->first; tc;) {
            TCase *next = tc->next;
            free(tc->tests);
            free(tc);
            tc = next;
        }
        Suite *next = s->next;
        free(s);
        s = next;
    }
    free(sr);
}
