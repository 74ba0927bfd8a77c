/* pipeline.c - `polyp extract` on several cores: workers that each decode, crop and run the
 * network, sharing one queue of photos.
 *
 * The first pipeline decoded on extra threads while the network ran on a thread pool: three
 * or more busy threads on two cores, the network's threads waiting for each other inside
 * every batch whenever a decoder held a core, and 69% of what two cores allow. Here every
 * worker is one thread with its own single-threaded extractor (run->extractors[w]), and any
 * worker does whatever is ready, in this order:
 *   1. claim points of a decoded photo (the oldest with points unclaimed) and crop them into
 *      its own batch (batches span photos);
 *   2. run its batch through the network when the batch is full;
 *   3. decode the next photo, if fewer than `queue` photos are decoded or being decoded;
 *   4. run a short batch when no more points can come (the end of the run);
 *   5. else wait.
 * No thread ever waits for another inside a batch, and a core is idle only when there is
 * nothing left to claim, decode or run: at the end of a run, or while `queue` photos are all
 * held (then the cropping frees one soon). Each photo's features fill in from whichever
 * batches hold its points; the worker that fills the last one writes the file.
 *
 * The features of a patch do not depend on which patches share its batch nor on the thread
 * count (the backends compute each patch alone, with the same arithmetic on any number of
 * threads; tests/e2e/test_bulk_cli.py checks the bytes against the serial path), so the
 * files are the serial path's, byte for byte. Files are written when complete, so not in CSV
 * order; each is written atomically, as on the serial path.
 *
 * Memory: at most `queue` decoded photos, one batch of patches per worker, and the features
 * of the photos with points in some worker's batch. A signal stops the run between batches:
 * workers finish the crop or decode in hand (a decode cannot be cut short), photos not yet
 * complete are abandoned (their files never appear). */
#define _POSIX_C_SOURCE 200809L
#include "extract.h"

#include <pthread.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const CMD = "extract";

#define PATCH_FLOATS ((size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3)

/* A photo from its decode until its file is written. Owned by the pipeline's `live` list. */
typedef struct photo {
    size_t group;        /* index into run->g->items */
    polyp_image img;     /* the pixels, until every point is cropped (then zeroed: pixels NULL) */
    size_t next_point;   /* next point to claim */
    size_t cropping;     /* points claimed whose crop is in progress */
    size_t filled;       /* points whose features are in */
    float *feat;         /* npoints x dim */
} photo;

typedef struct pipeline {
    extract_run *run;
    const size_t *todo;      /* group indices still to do, CSV order */
    size_t ntodo;
    size_t queue;            /* photos decoded or being decoded at once, at most */
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* points became claimable, a photo's pixels were freed, stop */
    size_t next_decode;      /* next to-do entry to decode */
    size_t decoding;         /* decodes in progress */
    size_t held;             /* photos with pixels, plus decodes in progress */
    photo **live;            /* decoded, file not yet written; oldest first */
    size_t nlive, live_cap;
    int rc;                  /* the first failure (0 while none) */
    bool stop;
} pipeline;

typedef struct worker {
    pipeline *pl;
    polyp_extractor *extractor;  /* borrowed, this worker's alone */
    float *patches;              /* batch x patch floats */
    float *feat;                 /* batch x dim */
    photo **owner;               /* per batch entry: its photo */
    size_t *point;               /* per batch entry: point index in its photo */
    photo **finished;            /* run_batch: the photos this batch completed (<= batch) */
    size_t n;                    /* patches in the batch */
} worker;

/* Under the lock: remembers the first failure and stops every worker. */
static void fail_locked(pipeline *pl, int rc) {
    if (!pl->rc) pl->rc = rc;
    pl->stop = true;
    pthread_cond_broadcast(&pl->changed);
}

static void photo_free(photo *p) {
    if (!p) return;
    polyp_image_free(&p->img);
    free(p->feat);
    free(p);
}

/* Decodes to-do entry k into a new photo (lock not held). 0, or the exit status after
 * printing why. */
static int decode_photo(pipeline *pl, size_t k, photo **out) {
    extract_run *r = pl->run;
    const image_group *ig = &r->g->items[pl->todo[k]];
    char path[4096];
    polyp_error err = {0};
    *out = NULL;
    photo *p = calloc(1, sizeof *p);
    if (!p) return cli_fail(CMD, "%s: out of memory", ig->name);
    p->group = pl->todo[k];
    if (!path_join(path, sizeof path, r->images, ig->name, "")) {
        free(p);
        return cli_fail(CMD, "%s: path too long", ig->name);
    }
    /* Only the rows the patches read are decoded (JPEG), as on the serial path. */
    polyp_decode_params dp = polyp_decode_default_params();
    if (polyp_patch_rows(ig->points, ig->npoints, 0, &dp.row_begin, &dp.row_end, &err) != POLYP_OK ||
        polyp_image_load_file(path, &dp, &p->img, &err) != POLYP_OK) {
        free(p);
        return cli_fail(CMD, "%s", err.message[0] ? err.message : path);
    }
    int rc = extract_check_points(ig, &p->img);
    if (!rc) {
        p->feat = malloc(ig->npoints * r->dim * sizeof(float)); /* a group has >= 1 point */
        if (!p->feat) rc = cli_fail(CMD, "%s: out of memory for %zu points", ig->name, ig->npoints);
    }
    if (rc) {
        photo_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Under the lock: a photo with points left to claim, the oldest first, or NULL. */
static photo *claimable(const pipeline *pl) {
    for (size_t i = 0; i < pl->nlive; i++) {
        photo *p = pl->live[i];
        if (p->img.pixels && p->next_point < pl->run->g->items[p->group].npoints) return p;
    }
    return NULL;
}

/* Under the lock: takes p off the live list (its file is about to be written). */
static void unlink_live(pipeline *pl, photo *p) {
    for (size_t i = 0; i < pl->nlive; i++)
        if (pl->live[i] == p) {
            memmove(pl->live + i, pl->live + i + 1, (pl->nlive - i - 1) * sizeof *pl->live);
            pl->nlive--;
            return;
        }
}

/* Writes a complete photo (lock not held) and counts it. */
static int finish_photo(pipeline *pl, photo *p) {
    extract_run *r = pl->run;
    const image_group *ig = &r->g->items[p->group];
    char out_path[4096];
    int rc = path_join(out_path, sizeof out_path, r->out, ig->name, ".featurevector")
                 ? extract_write_features(r, ig, p->feat, out_path)
                 : cli_fail(CMD, "%s: path too long", ig->name);
    photo_free(p);
    if (rc) return rc;
    pthread_mutex_lock(&pl->lock);
    r->done++;
    r->patches += ig->npoints;
    double el = cli_now() - r->progress->start;
    cli_progress_update(r->progress, r->done, el > 0 ? (double)r->patches / el : 0.0, "patches");
    pthread_mutex_unlock(&pl->lock);
    return 0;
}

/* Runs the worker's batch (lock held on entry and on return, released meanwhile), scatters
 * its features to their photos and writes the photos it completed. */
static void run_batch(worker *w) {
    pipeline *pl = w->pl;
    size_t dim = pl->run->dim, n = w->n;
    pthread_mutex_unlock(&pl->lock);
    polyp_error err = {0};
    int rc = 0;
    if (cli_interrupted) {
        rc = EXTRACT_INTERRUPTED;
    } else {
        polyp_status st = polyp_extract_patches(w->extractor, w->patches, n, w->feat, &err);
        if (st == POLYP_ERR_CANCELLED) rc = EXTRACT_INTERRUPTED;
        else if (st != POLYP_OK) rc = cli_fail(CMD, "%s", err.message);
    }
    /* Each entry's row is its own: written without the lock, counted under it. */
    if (!rc)
        for (size_t j = 0; j < n; j++) memcpy(w->owner[j]->feat + w->point[j] * dim, w->feat + j * dim, dim * sizeof(float));
    pthread_mutex_lock(&pl->lock);
    w->n = 0;
    if (rc) {
        fail_locked(pl, rc);
        return;
    }
    /* Photos complete after this batch: only the batch that brings a photo's last point sees
     * filled reach npoints, so each is taken off the live list exactly once. */
    size_t ndone = 0;
    for (size_t j = 0; j < n; j++) {
        photo *p = w->owner[j];
        if (++p->filled == pl->run->g->items[p->group].npoints) {
            unlink_live(pl, p);
            w->finished[ndone++] = p;
        }
    }
    pthread_mutex_unlock(&pl->lock);
    size_t i = 0;
    for (; i < ndone && !rc; i++) rc = finish_photo(pl, w->finished[i]);
    for (; i < ndone; i++) photo_free(w->finished[i]); /* after a failed write: abandoned */
    pthread_mutex_lock(&pl->lock);
    if (rc) fail_locked(pl, rc);
}

/* Claims up to the batch's free room of p's points and crops them (lock held on entry and on
 * return, released for the crop). */
static void crop_points(worker *w, photo *p) {
    pipeline *pl = w->pl;
    const image_group *ig = &pl->run->g->items[p->group];
    size_t room = pl->run->batch - w->n, left = ig->npoints - p->next_point;
    size_t k = room < left ? room : left, first = p->next_point;
    p->next_point += k;
    p->cropping += k;
    pthread_mutex_unlock(&pl->lock);
    int rc = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        polyp_error err = {0};
        size_t at = w->n + i;
        if (polyp_patch_crop(&p->img, ig->points[first + i], w->patches + at * PATCH_FLOATS, &err) != POLYP_OK)
            rc = cli_fail(CMD, "%s: point %zu: %s", ig->name, first + i + 1, err.message);
        w->owner[at] = p;
        w->point[at] = first + i;
    }
    pthread_mutex_lock(&pl->lock);
    p->cropping -= k;
    if (rc) {
        fail_locked(pl, rc);
        return;
    }
    w->n += k;
    if (p->next_point == ig->npoints && p->cropping == 0) {
        /* every point cropped (a crop is a copy): the pixels can go (freed outside the lock),
         * and a decode can start */
        polyp_image img = p->img;
        memset(&p->img, 0, sizeof p->img);
        pl->held--;
        pthread_cond_broadcast(&pl->changed);
        pthread_mutex_unlock(&pl->lock);
        polyp_image_free(&img);
        pthread_mutex_lock(&pl->lock);
    }
}

/* Decodes the next photo and puts it on the live list (lock held on entry and on return). */
static void decode_next(pipeline *pl) {
    size_t k = pl->next_decode++;
    pl->decoding++;
    pl->held++;
    /* Room on the live list for this photo and every other decode in progress, reserved
     * before the lock is let go. */
    if (pl->nlive + pl->decoding > pl->live_cap) {
        size_t ncap = 2 * (pl->nlive + pl->decoding) + 16;
        photo **nl = realloc(pl->live, ncap * sizeof *nl);
        if (!nl) {
            pl->decoding--;
            pl->held--;
            fail_locked(pl, cli_fail(CMD, "out of memory"));
            return;
        }
        pl->live = nl;
        pl->live_cap = ncap;
    }
    pthread_mutex_unlock(&pl->lock);
    photo *p;
    int rc = decode_photo(pl, k, &p);
    pthread_mutex_lock(&pl->lock);
    pl->decoding--;
    if (rc) {
        pl->held--;
        fail_locked(pl, rc);
        return;
    }
    pl->live[pl->nlive++] = p; /* room reserved before the decode */
    pthread_cond_broadcast(&pl->changed);
}

/* Waits for a change, waking now and then to notice a signal (a decode can take a while). */
static void wait_change(pipeline *pl) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&pl->changed, &pl->lock, &ts);
}

static void *worker_main(void *vp) {
    worker *w = vp;
    pipeline *pl = w->pl;
    size_t batch = pl->run->batch;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        if (!pl->stop && cli_interrupted) fail_locked(pl, EXTRACT_INTERRUPTED);
        if (pl->stop) break;
        photo *p = w->n < batch ? claimable(pl) : NULL;
        if (p) {
            crop_points(w, p);
        } else if (w->n == batch) {
            run_batch(w);
        } else if (pl->next_decode < pl->ntodo && pl->held < pl->queue) {
            decode_next(pl);
        } else if (pl->next_decode < pl->ntodo || pl->decoding > 0) {
            wait_change(pl); /* more points will come: a short batch now would waste its padding */
        } else if (w->n > 0) {
            run_batch(w); /* the end of the run: nothing more can join this batch */
        } else {
            break; /* nothing left for this worker; the others finish their batches */
        }
    }
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* Decoded photos are allocated on one thread and often freed on another. glibc then serves
 * them from per-thread arenas once its dynamic mmap threshold has risen past a photo's size,
 * and the arenas fragment: peak memory crept up by about one photo per 20-40 photos. A fixed
 * threshold (which also turns the dynamic one off) keeps every buffer of 1 MiB or more in its
 * own mapping, returned to the system when freed. */
static void keep_big_buffers_mapped(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

int extract_run_pipeline(extract_run *r) {
    keep_big_buffers_mapped();
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pl.run = r;
    pl.queue = r->queue;
    size_t nw = r->nworkers;
    size_t *todo = malloc((r->g->count ? r->g->count : 1) * sizeof *todo);
    worker *ws = calloc(nw, sizeof *ws);
    pthread_t *threads = calloc(nw, sizeof *threads);
    int rc = 0;
    size_t started = 0;
    if (!todo || !ws || !threads) {
        rc = cli_fail(CMD, "out of memory for the pipeline (%zu workers)", nw);
        goto done;
    }
    for (size_t i = 0; i < r->g->count; i++)
        if (!r->skip[i]) todo[pl.ntodo++] = i;
    pl.todo = todo;
    for (size_t i = 0; i < nw && !rc; i++) {
        ws[i].pl = &pl;
        ws[i].extractor = r->extractors[i];
        ws[i].patches = malloc(r->batch * PATCH_FLOATS * sizeof(float));
        ws[i].feat = malloc(r->batch * r->dim * sizeof(float));
        ws[i].owner = malloc(r->batch * sizeof *ws[i].owner);
        ws[i].point = malloc(r->batch * sizeof *ws[i].point);
        ws[i].finished = malloc(r->batch * sizeof *ws[i].finished);
        if (!ws[i].patches || !ws[i].feat || !ws[i].owner || !ws[i].point || !ws[i].finished)
            rc = cli_fail(CMD, "out of memory for the pipeline (batch %zu, %zu workers)", r->batch, nw);
    }
    if (rc) goto done;
    pthread_mutex_init(&pl.lock, NULL);
    pthread_cond_init(&pl.changed, NULL);
    /* The calling thread is worker 0; the others get threads of their own. */
    for (started = 1; started < nw; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &ws[started]) != 0) break;
    worker_main(&ws[0]);
    for (size_t t = 1; t < started; t++) pthread_join(threads[t], NULL);
    rc = pl.rc;
    for (size_t i = 0; i < pl.nlive; i++) photo_free(pl.live[i]); /* abandoned: never written */
    pthread_cond_destroy(&pl.changed);
    pthread_mutex_destroy(&pl.lock);
done:
    if (ws)
        for (size_t i = 0; i < nw; i++) {
            free(ws[i].patches);
            free(ws[i].feat);
            free(ws[i].owner);
            free(ws[i].point);
            free(ws[i].finished);
        }
    free(pl.live);
    free(ws);
    free(threads);
    free(todo);
    return rc;
}
