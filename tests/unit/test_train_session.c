/* test_train_session.c - training one step at a time (polyp_train_session_*): the stepped
 * training gives the one-shot polyp_classifier_train's classifier bit for bit (MLP and LR,
 * also with two sessions interleaved), a session freed at any point leaks nothing (ASan in
 * tests/run.sh; the streaming loader's live count here), a cancel from on_epoch ends the
 * session, and misuse fails with POLYP_ERR_INVALID_ARG and a message. polyp_classifier_train
 * itself is pinned to scikit-learn by test_classifier.c. */
#include "classifier_internal.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define N_IMAGES 40
#define N_POINTS 12
#define DIM 24
#define N_CLASSES 3

static const char *const LABELS[N_CLASSES] = {"Acro", "CCA", "Sand"};

/* Separable-ish synthetic source: each class has a mean direction, plus uniform noise;
 * point 5 of every image is unlabelled. Deterministic (splitmix). */
typedef struct source {
    float feat[N_IMAGES][N_POINTS * DIM];
    const char *labels[N_IMAGES][N_POINTS];
    polyp_dataset_image images[N_IMAGES];
} source;

static float unit(uint64_t k) { return (float)(polyp_mix64(k) >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f; }

static source *source_new(void) {
    source *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < N_IMAGES; i++) {
        for (size_t p = 0; p < N_POINTS; p++) {
            size_t c = (size_t)(polyp_mix64(1000 + i * N_POINTS + p) % N_CLASSES);
            s->labels[i][p] = p == 5 ? NULL : LABELS[c];
            for (size_t d = 0; d < DIM; d++)
                s->feat[i][p * DIM + d] = 0.7f * unit(77 + c * DIM + d) + unit(5000000 + (i * N_POINTS + p) * DIM + d);
        }
        s->images[i].npoints = N_POINTS;
        s->images[i].labels = s->labels[i];
        s->images[i].feat = s->feat[i];
    }
    return s;
}

static polyp_dataset dataset_of(const source *s) {
    polyp_dataset d = {DIM, N_IMAGES, s->images, NULL, NULL, NULL};
    return d;
}

static polyp_train_params params_of(polyp_classifier_kind kind, uint64_t seed, size_t epochs) {
    polyp_train_params p = polyp_train_default_params();
    p.kind = kind;
    p.seed = seed;
    p.epochs = epochs;
    p.chunk_points = 50;   /* several chunks per epoch, the last one short */
    p.extractor_id = "test-extractor";
    return p;
}

/* Asserts that a and b are the same model: same file bytes, same probabilities for every
 * point (compared as bytes), same per-epoch reference accuracy and validation accuracy. */
static void assert_same_model(const polyp_classifier *a, const polyp_classifier *b, const source *s) {
    polyp_error err = {0};
    tu_assert_same_model_file(a, b);
    size_t n = N_IMAGES * N_POINTS, k = polyp_classifier_n_labels(a);
    ck_assert_uint_eq(k, N_CLASSES);
    float *pa = malloc(n * k * sizeof(float)), *pb = malloc(n * k * sizeof(float));
    ck_assert(polyp_classifier_predict(a, &s->feat[0][0], n, DIM, pa, NULL, &err) == POLYP_OK);
    ck_assert(polyp_classifier_predict(b, &s->feat[0][0], n, DIM, pb, NULL, &err) == POLYP_OK);
    ck_assert_int_eq(memcmp(pa, pb, n * k * sizeof(float)), 0);
    free(pa);
    free(pb);
    size_t ea, eb;
    const double *ra = polyp_classifier_ref_accuracy(a, &ea), *rb = polyp_classifier_ref_accuracy(b, &eb);
    ck_assert_uint_eq(ea, eb);
    ck_assert_int_eq(memcmp(ra, rb, ea * sizeof(double)), 0);
    ck_assert(polyp_classifier_val_accuracy(a) == polyp_classifier_val_accuracy(b));
}

static void assert_same_report(const polyp_train_report *a, const polyp_train_report *b) {
    ck_assert_uint_eq(a->n_classes, b->n_classes);
    for (int r = 0; r < 3; r++) {
        ck_assert_uint_eq(a->points[r], b->points[r]);
        ck_assert_uint_eq(a->images[r], b->images[r]);
    }
    ck_assert_uint_eq(a->hidden[0], b->hidden[0]);
    ck_assert_uint_eq(a->hidden[1], b->hidden[1]);
    ck_assert(a->learning_rate == b->learning_rate);
    ck_assert_uint_eq(a->epochs_done, b->epochs_done);
    ck_assert(a->ref_accuracy_last == b->ref_accuracy_last);
    ck_assert(a->val_accuracy == b->val_accuracy);
}

typedef struct epoch_log {
    size_t calls, last_epoch, n_epochs;
} epoch_log;
static int log_epoch(void *user, size_t epoch, size_t n_epochs, double acc) {
    epoch_log *l = user;
    ck_assert(acc >= 0.0 && acc <= 1.0);
    l->calls++;
    l->last_epoch = epoch;
    l->n_epochs = n_epochs;
    return 0;
}

/* Steps a session to the end, checking the step count (epochs + the finishing step) and
 * that on_epoch runs once per epoch, inside the step that ran it. */
static polyp_classifier *train_stepped(const polyp_dataset *d, polyp_train_params p, polyp_train_report *rep) {
    epoch_log log = {0};
    p.on_epoch = log_epoch;
    p.on_epoch_user = &log;
    polyp_error err = {0};
    polyp_train_session *s = NULL;
    ck_assert_msg(polyp_train_session_begin(d, &p, &s, &err) == POLYP_OK, "%s", err.message);
    ck_assert_ptr_nonnull(s);
    int done = 0;
    size_t steps = 0, run, total;
    while (!done) {
        ck_assert_msg(polyp_train_session_step(s, &done, &err) == POLYP_OK, "%s", err.message);
        steps++;
        polyp_train_session_progress(s, &run, &total);
        ck_assert_uint_eq(total, p.epochs);
        ck_assert_uint_eq(run, steps <= p.epochs ? steps : p.epochs);
        ck_assert_uint_eq(log.calls, run);
        ck_assert_int_eq(done, steps == p.epochs + 1);
    }
    ck_assert_uint_eq(steps, p.epochs + 1);
    ck_assert_uint_eq(log.last_epoch, p.epochs - 1);
    ck_assert_uint_eq(log.n_epochs, p.epochs);
    polyp_classifier *clf = NULL;
    ck_assert_msg(polyp_train_session_finish(s, &clf, rep, &err) == POLYP_OK, "%s", err.message);
    ck_assert_ptr_nonnull(clf);
    polyp_train_session_free(s);
    return clf;
}

static void stepped_equals_one_shot(polyp_classifier_kind kind) {
    source *src = source_new();
    polyp_dataset d = dataset_of(src);
    polyp_train_params p = params_of(kind, 3, 4);
    polyp_error err = {0};
    polyp_classifier *one = NULL;
    polyp_train_report r1, r2;
    ck_assert_msg(polyp_classifier_train(&d, &p, &one, &r1, &err) == POLYP_OK, "%s", err.message);
    polyp_classifier *stepped = train_stepped(&d, p, &r2);
    ck_assert_int_eq(polyp_classifier_get_kind(stepped), kind);
    ck_assert_str_eq(polyp_classifier_extractor_id(stepped), "test-extractor");
    /* A model that learnt something: the synthetic classes are separable enough. */
    ck_assert_msg(r2.val_accuracy > 0.6, "validation accuracy %g", r2.val_accuracy);
    assert_same_report(&r1, &r2);
    assert_same_model(one, stepped, src);
    polyp_classifier_free(one);
    polyp_classifier_free(stepped);
    free(src);
}

START_TEST(stepped_mlp_equals_one_shot) { stepped_equals_one_shot(POLYP_CLASSIFIER_MLP); }
END_TEST

START_TEST(stepped_lr_equals_one_shot) { stepped_equals_one_shot(POLYP_CLASSIFIER_LR); }
END_TEST

/* Two sessions stepped in turn (an MLP and an LR, different seeds) each give their one-shot
 * model: a session keeps all of its state to itself. */
START_TEST(interleaved_sessions_are_independent) {
    source *src = source_new();
    polyp_dataset d = dataset_of(src);
    polyp_train_params pa = params_of(POLYP_CLASSIFIER_MLP, 11, 3), pb = params_of(POLYP_CLASSIFIER_LR, 12, 5);
    polyp_error err = {0};
    polyp_train_session *a = NULL, *b = NULL;
    ck_assert(polyp_train_session_begin(&d, &pa, &a, &err) == POLYP_OK);
    ck_assert(polyp_train_session_begin(&d, &pb, &b, &err) == POLYP_OK);
    int da = 0, db = 0;
    while (!da || !db) {
        if (!da) ck_assert_msg(polyp_train_session_step(a, &da, &err) == POLYP_OK, "%s", err.message);
        if (!db) ck_assert_msg(polyp_train_session_step(b, &db, &err) == POLYP_OK, "%s", err.message);
    }
    polyp_classifier *ca, *cb, *ra, *rb;
    ck_assert(polyp_train_session_finish(a, &ca, NULL, &err) == POLYP_OK);
    ck_assert(polyp_train_session_finish(b, &cb, NULL, &err) == POLYP_OK);
    polyp_train_session_free(a);
    polyp_train_session_free(b);
    ck_assert(polyp_classifier_train(&d, &pa, &ra, NULL, &err) == POLYP_OK);
    ck_assert(polyp_classifier_train(&d, &pb, &rb, NULL, &err) == POLYP_OK);
    assert_same_model(ca, ra, src);
    assert_same_model(cb, rb, src);
    polyp_classifier_free(ca);
    polyp_classifier_free(cb);
    polyp_classifier_free(ra);
    polyp_classifier_free(rb);
    free(src);
}
END_TEST

/* Streaming source: counts features handed out and not yet released. */
typedef struct loader {
    const source *s;
    int live, loads;
} loader;
static polyp_status load_cb(void *user, size_t i, const float **feat, polyp_error *err) {
    (void)err;
    loader *l = user;
    float *copy = malloc(sizeof l->s->feat[i]);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, l->s->feat[i], sizeof l->s->feat[i]);
    *feat = copy;
    l->live++;
    l->loads++;
    return POLYP_OK;
}
static void release_cb(void *user, size_t i, const float *feat) {
    (void)i;
    loader *l = user;
    free((void *)feat);
    l->live--;
}

/* Cancel = free: a session freed right after begin, after one epoch, after all epochs but
 * before the finishing step, and after finishing without _finish, releases everything (the
 * ASan build in tests/run.sh fails on a leak; the loader's count here must return to 0). */
START_TEST(free_at_any_point_releases_everything) {
    source *src = source_new();
    polyp_dataset_image streamed[N_IMAGES];
    memcpy(streamed, src->images, sizeof streamed);
    for (size_t i = 0; i < N_IMAGES; i++) streamed[i].feat = NULL;
    loader l = {src, 0, 0};
    polyp_dataset d = {DIM, N_IMAGES, streamed, load_cb, release_cb, &l};
    polyp_error err = {0};
    for (polyp_classifier_kind kind = POLYP_CLASSIFIER_MLP; kind <= POLYP_CLASSIFIER_LR; kind++) {
        polyp_train_params p = params_of(kind, 5, 3);
        for (int stop = 0; stop <= 4; stop++) {   /* steps run before the free */
            polyp_train_session *s = NULL;
            ck_assert_msg(polyp_train_session_begin(&d, &p, &s, &err) == POLYP_OK, "%s", err.message);
            int done = 0;
            for (int k = 0; k < stop; k++) ck_assert(polyp_train_session_step(s, &done, &err) == POLYP_OK);
            ck_assert_int_eq(done, stop == 4);
            ck_assert_int_eq(l.live, 0);
            polyp_train_session_free(s);
            ck_assert_int_eq(l.live, 0);
        }
    }
    ck_assert_int_gt(l.loads, 0);
    /* The streamed session trains the same model as the in-memory one. */
    polyp_train_params p = params_of(POLYP_CLASSIFIER_MLP, 5, 3);
    polyp_classifier *a = train_stepped(&d, p, NULL);
    polyp_dataset mem = dataset_of(src);
    polyp_classifier *b = NULL;
    ck_assert(polyp_classifier_train(&mem, &p, &b, NULL, &err) == POLYP_OK);
    assert_same_model(a, b, src);
    polyp_classifier_free(a);
    polyp_classifier_free(b);
    polyp_train_session_free(NULL);
    free(src);
}
END_TEST

static int cancel_at_2(void *user, size_t epoch, size_t n_epochs, double acc) {
    (void)n_epochs;
    (void)acc;
    ++*(int *)user;
    return epoch == 1;
}

START_TEST(cancel_from_on_epoch_ends_the_session) {
    source *src = source_new();
    polyp_dataset d = dataset_of(src);
    polyp_train_params p = params_of(POLYP_CLASSIFIER_MLP, 1, 6);
    int calls = 0;
    p.on_epoch = cancel_at_2;
    p.on_epoch_user = &calls;
    polyp_error err = {0};
    polyp_train_session *s = NULL;
    ck_assert(polyp_train_session_begin(&d, &p, &s, &err) == POLYP_OK);
    int done = 0;
    ck_assert(polyp_train_session_step(s, &done, &err) == POLYP_OK);
    ck_assert_int_eq(polyp_train_session_step(s, &done, &err), POLYP_ERR_CANCELLED);
    ck_assert_str_eq(err.message, "train: cancelled after epoch 2");
    ck_assert_int_eq(done, 0);
    ck_assert_int_eq(calls, 2);
    /* Nothing more runs: a further step or finish is refused with a message. */
    ck_assert_int_eq(polyp_train_session_step(s, &done, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "earlier step failed"));
    ck_assert_int_eq(calls, 2);
    polyp_classifier *c = (polyp_classifier *)1;
    ck_assert_int_eq(polyp_train_session_finish(s, &c, NULL, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);
    polyp_train_session_free(s);
    free(src);
}
END_TEST

START_TEST(bad_arguments_are_refused_with_a_message) {
    source *src = source_new();
    polyp_dataset d = dataset_of(src);
    polyp_train_params p = params_of(POLYP_CLASSIFIER_LR, 1, 2);
    polyp_error err = {0};
    polyp_train_session *s = (polyp_train_session *)1;
    ck_assert_int_eq(polyp_train_session_begin(NULL, &p, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "NULL dataset"));
    ck_assert_int_eq(polyp_train_session_begin(&d, &p, NULL, &err), POLYP_ERR_INVALID_ARG);
    /* the parameter checks of polyp_classifier_train, with the same messages */
    p.epochs = 0;
    ck_assert_int_eq(polyp_train_session_begin(&d, &p, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_str_eq(err.message, "train: epochs 0 outside 1..100000");
    ck_assert_ptr_null(s);
    p.epochs = 2;
    p.kind = (polyp_classifier_kind)7;
    ck_assert_int_eq(polyp_train_session_begin(&d, &p, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_str_eq(err.message, "train: unknown classifier kind 7");
    p.kind = POLYP_CLASSIFIER_LR;
    d.dim = 0;
    ck_assert_int_eq(polyp_train_session_begin(&d, &p, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "feature dimension 0"));
    d.dim = DIM;
    /* a data problem found by the split */
    d.n_images = 0;
    ck_assert_int_eq(polyp_train_session_begin(&d, &p, &s, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "no images"));
    ck_assert_ptr_null(s);
    d.n_images = N_IMAGES;

    int done = 7;
    ck_assert_int_eq(polyp_train_session_step(NULL, &done, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_str_eq(err.message, "train session: NULL session");
    ck_assert_int_eq(done, 0);
    polyp_classifier *c = (polyp_classifier *)1;
    ck_assert_int_eq(polyp_train_session_finish(NULL, &c, NULL, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);

    ck_assert(polyp_train_session_begin(&d, &p, &s, &err) == POLYP_OK);
    ck_assert_int_eq(polyp_train_session_step(s, NULL, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "NULL done"));
    ck_assert(polyp_train_session_step(s, &done, &err) == POLYP_OK);
    ck_assert_int_eq(polyp_train_session_finish(s, &c, NULL, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_str_eq(err.message, "train session: not done (1 of 2 epochs run); step until done first");
    ck_assert_ptr_null(c);
    ck_assert_int_eq(polyp_train_session_finish(s, NULL, NULL, &err), POLYP_ERR_INVALID_ARG);
    /* the refused calls left the session usable */
    while (!done) ck_assert(polyp_train_session_step(s, &done, &err) == POLYP_OK);
    /* stepping a finished session is harmless */
    ck_assert(polyp_train_session_step(s, &done, &err) == POLYP_OK);
    ck_assert_int_eq(done, 1);
    ck_assert(polyp_train_session_finish(s, &c, NULL, &err) == POLYP_OK);
    ck_assert_ptr_nonnull(c);
    polyp_classifier *again = (polyp_classifier *)1;
    ck_assert_int_eq(polyp_train_session_finish(s, &again, NULL, &err), POLYP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err.message, "already finished"));
    ck_assert_ptr_null(again);
    ck_assert_int_eq(polyp_train_session_step(s, &done, &err), POLYP_ERR_INVALID_ARG);
    polyp_train_session_free(s);   /* the classifier is the caller's now */
    ck_assert_uint_eq(polyp_classifier_n_labels(c), N_CLASSES);
    polyp_classifier_free(c);
    size_t run = 9, total = 9;
    polyp_train_session_progress(NULL, &run, &total);
    ck_assert_uint_eq(run + total, 0);
    free(src);
}
END_TEST

int main(void) {
    Suite *s = suite_create("train_session");
    TCase *tc = tcase_create("train_session");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, stepped_mlp_equals_one_shot);
    tcase_add_test(tc, stepped_lr_equals_one_shot);
    tcase_add_test(tc, interleaved_sessions_are_independent);
    tcase_add_test(tc, free_at_any_point_releases_everything);
    tcase_add_test(tc, cancel_from_on_epoch_ends_the_session);
    tcase_add_test(tc, bad_arguments_are_refused_with_a_message);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
