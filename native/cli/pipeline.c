/* pipeline.c - `polyp extract` on several cores: workers that each decode, crop and run the
 * network, sharing one queue of photos.
 *
 * The first pipeline decoded on extra threads while the network ran on a thread pool: three
 * or more busy threads on two cores, the network's threads waiting for each other inside
 * every batch whenever a decoder held a core, and 69% of what two cores allow. Here every
 * worker is one thread with its own single-threaded extractor (run->extractors[w]), and any
 * worker does whatever is ready, in this order:
 *   1. decode the next photo, if fewer than `queue` photos are decoded or being decoded
 *      (first, so that decodes overlap the other workers' batches: after the points, they
 *      waited until nothing was left to claim, and then every core decoded at once);
 *   2. claim points of a decoded photo (the oldest with points unclaimed) and crop them into
 *      its own batch (batches span photos);
 *   3. run its batch through the network when the batch is full;
 *   4. run a short batch when no more points can come (the end of the run: there the last
 *      batches shrink, see batch_target);
 *   5. else wait.
 * No thread ever waits for another inside a batch, and a core is idle only when there is
 * nothing left to claim, decode or run: at the end of a run, or while `queue` photos are all
 * held (then the cropping frees one soon). Each photo's features fill in from whichever
 * batches hold its points; the batch that fills the last one hands the photo to the writer,
 * a thread of its own that writes and fsyncs the files (an fsync takes milliseconds on a
 * local disk and more on a cluster's shared filesystem: a worker waiting for it would leave
 * its core idle). Work that can start before the weights are loaded does: the first photos
 * decode while `polyp extract` reads the weights (extract_prefetch_start), and each worker
 * but the first makes its extractor on its own thread, before its first batch.
 *
 * The features of a patch do not depend on which patches share its batch nor on the thread
 * count (the backends compute each patch alone, with the same arithmetic on any number of
 * threads; tests/e2e/test_bulk_cli.py checks the bytes against the serial path), so the
 * files are the serial path's, byte for byte. Files are written when complete, so not in CSV
 * order; each is written atomically, as on the serial path.
 *
 * Memory: at most `queue` decoded photos, one batch of patches per worker, the features of
 * the photos with points in some worker's batch, and those of at most WRITE_QUEUE_PER_WORKER
 * complete photos per worker waiting for the writer. A signal stops the run between
 * batches: workers finish the crop or decode in hand (a decode cannot be cut short), photos
 * not yet complete are abandoned (their files never appear), complete ones are written. */
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
/* Complete photos waiting for the writer, per worker, before a worker with another one
 * waits: enough to ride out a slow fsync, few enough that memory stays bounded. */
#define WRITE_QUEUE_PER_WORKER 2

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
    size_t outstanding;      /* points claimed whose features are not in yet */
    photo **live;            /* decoded, not yet complete; oldest first */
    size_t nlive, live_cap;
    photo **writes;          /* complete, for the writer, oldest first (FIFO of write_cap) */
    size_t nwrites, write_cap;
    pthread_cond_t write_ready; /* a photo was queued for the writer, or the workers ended */
    bool workers_done;
    extract_prefetch *prefetch; /* the first photos, decoding since before the pipeline */
    int rc;                  /* the first failure (0 while none) */
    bool stop;
} pipeline;

typedef struct worker {
    pipeline *pl;
    polyp_extractor **extractor; /* &run->extractors[i]: this worker's alone; made on its
                                    first batch when NULL, freed when the worker ends */
    float *patches;              /* batch x patch floats */
    float *feat;                 /* batch x dim */
    photo **owner;               /* per batch entry: its photo */
    size_t *point;               /* per batch entry: point index in its photo */
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

/* Decodes the pixels of ig under `images` (extract_decode, as on the serial path). Prints
 * nothing: a prefetched decode's failure is reported only if the run gets to it. */
static polyp_status decode_pixels(const char *images, const image_group *ig, pixel_pool *pixels, polyp_image *img,
                                  polyp_error *err) {
    char path[4096];
    if (!path_join(path, sizeof path, images, ig->name, "")) {
        memset(img, 0, sizeof *img);
        snprintf(err->message, sizeof err->message, "%s: path too long", ig->name);
        return err->status = POLYP_ERR_INVALID_ARG;
    }
    return extract_decode(path, ig, pixels, img, err);
}

/* A photo of group gi from its decode's outcome (lock not held; the pixels are taken).
 * 0, or the exit status after printing why. */
static int photo_from(pipeline *pl, size_t gi, polyp_status st, polyp_image *img, const polyp_error *err,
                      photo **out) {
    const image_group *ig = &pl->run->g->items[gi];
    *out = NULL;
    if (st != POLYP_OK) return cli_fail(CMD, "%s", err->message);
    int rc = extract_check_points(ig, img);
    photo *p = rc ? NULL : calloc(1, sizeof *p);
    if (!rc && p) p->feat = malloc(ig->npoints * pl->run->dim * sizeof(float)); /* a group has >= 1 point */
    if (!rc && (!p || !p->feat)) rc = cli_fail(CMD, "%s: out of memory for %zu points", ig->name, ig->npoints);
    if (rc) {
        if (p) free(p->feat);
        free(p);
        polyp_image_free(img);
        return rc;
    }
    p->group = gi;
    p->img = *img;
    memset(img, 0, sizeof *img);
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------ prefetch */

struct extract_prefetch {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t decoded;  /* one more decode ended */
    const char *images;      /* borrowed */
    const groups *g;         /* borrowed */
    pixel_pool *pixels;      /* borrowed */
    size_t group[EXTRACT_PREFETCH_MAX]; /* the candidates, CSV order */
    size_t n;
    size_t started;          /* decodes begun (under the lock) */
    size_t finished;         /* decodes ended (under the lock) */
    bool closed;             /* no more may begin (under the lock) */
    polyp_status st[EXTRACT_PREFETCH_MAX]; /* each decode's outcome, once finished */
    polyp_error err[EXTRACT_PREFETCH_MAX];
    polyp_image img[EXTRACT_PREFETCH_MAX];
};

/* Decodes the candidates one after another until closed: the first alone may end before
 * the weights are ready (a small photo), and a core would then idle until the workers
 * start. */
static void *prefetch_main(void *arg) {
    extract_prefetch *pf = arg;
    for (size_t i = 0; i < pf->n; i++) {
        pthread_mutex_lock(&pf->lock);
        bool go = !pf->closed;
        if (go) pf->started = i + 1;
        pthread_mutex_unlock(&pf->lock);
        if (!go) break;
        polyp_status st = decode_pixels(pf->images, &pf->g->items[pf->group[i]], pf->pixels, &pf->img[i], &pf->err[i]);
        pthread_mutex_lock(&pf->lock);
        pf->st[i] = st;
        pf->finished = i + 1;
        pthread_cond_signal(&pf->decoded);
        pthread_mutex_unlock(&pf->lock);
    }
    return NULL;
}

extract_prefetch *extract_prefetch_start(const char *images, const groups *g, const size_t *group, size_t n,
                                         pixel_pool *pixels) {
    if (n == 0) return NULL;
    extract_prefetch *pf = calloc(1, sizeof *pf);
    if (!pf) return NULL;
    pf->images = images;
    pf->g = g;
    pf->pixels = pixels;
    pf->n = n < EXTRACT_PREFETCH_MAX ? n : EXTRACT_PREFETCH_MAX;
    memcpy(pf->group, group, pf->n * sizeof *group);
    pthread_mutex_init(&pf->lock, NULL);
    pthread_cond_init(&pf->decoded, NULL);
    if (pthread_create(&pf->thread, NULL, prefetch_main, pf) != 0) {
        pthread_cond_destroy(&pf->decoded);
        pthread_mutex_destroy(&pf->lock);
        free(pf);
        return NULL;
    }
    return pf;
}

/* Lets no more decodes begin; the number begun, which are the pipeline's to take. */
static size_t prefetch_close(extract_prefetch *pf) {
    pthread_mutex_lock(&pf->lock);
    pf->closed = true;
    size_t k = pf->started;
    pthread_mutex_unlock(&pf->lock);
    return k;
}

static void prefetch_free(extract_prefetch *pf) {
    pthread_join(pf->thread, NULL);
    for (size_t i = 0; i < pf->n; i++) polyp_image_free(&pf->img[i]);
    pthread_cond_destroy(&pf->decoded);
    pthread_mutex_destroy(&pf->lock);
    free(pf);
}

void extract_prefetch_cancel(extract_prefetch *pf) {
    if (!pf) return;
    prefetch_close(pf);
    prefetch_free(pf);
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

/* Writes a complete photo (lock not held; the writer's thread) and counts it. */
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
    if (!*w->extractor && polyp_extractor_init(pl->run->weights, pl->run->params, w->extractor, &err) != POLYP_OK) {
        rc = cli_fail_err(CMD, &err);
    } else if (cli_interrupted) {
        rc = EXTRACT_INTERRUPTED;
    } else {
        polyp_status st = polyp_extract_patches(*w->extractor, w->patches, n, w->feat, &err);
        if (st == POLYP_ERR_CANCELLED) rc = EXTRACT_INTERRUPTED;
        else if (st != POLYP_OK) rc = cli_fail(CMD, "%s", err.message);
    }
    /* Each entry's row is its own: written without the lock, counted under it. */
    if (!rc)
        for (size_t j = 0; j < n; j++) memcpy(w->owner[j]->feat + w->point[j] * dim, w->feat + j * dim, dim * sizeof(float));
    pthread_mutex_lock(&pl->lock);
    w->n = 0;
    pl->outstanding -= n;
    if (rc) {
        fail_locked(pl, rc);
        return;
    }
    /* Photos complete after this batch go to the writer: only the batch that brings a
     * photo's last point sees filled reach npoints, so each is queued exactly once. */
    for (size_t j = 0; j < n; j++) {
        photo *p = w->owner[j];
        if (++p->filled < pl->run->g->items[p->group].npoints) continue;
        unlink_live(pl, p);
        while (pl->nwrites == pl->write_cap && !pl->stop) pthread_cond_wait(&pl->changed, &pl->lock);
        if (pl->nwrites == pl->write_cap) { /* stopped (a failure or a signal) with the queue full:
                                             * abandoned, a rerun redoes it */
            photo_free(p);
            continue;
        }
        pl->writes[pl->nwrites++] = p;
        pthread_cond_signal(&pl->write_ready);
    }
}

/* The writer: writes the complete photos in the order they completed, until the workers
 * have ended and none is left. After a failed write the rest are abandoned; after a signal
 * they are still written (they are complete). */
static void *writer_main(void *vp) {
    pipeline *pl = vp;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        while (pl->nwrites == 0 && !pl->workers_done) pthread_cond_wait(&pl->write_ready, &pl->lock);
        if (pl->nwrites == 0) break;
        photo *p = pl->writes[0];
        memmove(pl->writes, pl->writes + 1, --pl->nwrites * sizeof *pl->writes);
        pthread_cond_broadcast(&pl->changed); /* room for a worker waiting to queue one */
        if (pl->rc && pl->rc != EXTRACT_INTERRUPTED) {
            photo_free(p);
            continue;
        }
        pthread_mutex_unlock(&pl->lock);
        int rc = finish_photo(pl, p);
        pthread_mutex_lock(&pl->lock);
        if (rc) fail_locked(pl, rc);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* Claims up to target - w->n of p's points and crops them (lock held on entry and on
 * return, released for the crop). */
static void crop_points(worker *w, photo *p, size_t target) {
    pipeline *pl = w->pl;
    const image_group *ig = &pl->run->g->items[p->group];
    size_t room = target - w->n, left = ig->npoints - p->next_point;
    size_t k = room < left ? room : left, first = p->next_point;
    p->next_point += k;
    p->cropping += k;
    pl->outstanding += k;
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
         * and then a decode can start, into their buffer (freed after the next decode has
         * taken its own, the buffer would stay in the pool as a second one) */
        polyp_image img = p->img;
        memset(&p->img, 0, sizeof p->img);
        pthread_mutex_unlock(&pl->lock);
        polyp_image_free(&img);
        pthread_mutex_lock(&pl->lock);
        pl->held--;
        pthread_cond_broadcast(&pl->changed);
    }
}

/* Under the lock: room on the live list for every photo on it and every decode in
 * progress, reserved before a decode lets the lock go. false (the run failed) when out of
 * memory. */
static bool reserve_live(pipeline *pl) {
    if (pl->nlive + pl->decoding <= pl->live_cap) return true;
    size_t ncap = 2 * (pl->nlive + pl->decoding) + 16;
    photo **nl = realloc(pl->live, ncap * sizeof *nl);
    if (!nl) {
        fail_locked(pl, cli_fail(CMD, "out of memory"));
        return false;
    }
    pl->live = nl;
    pl->live_cap = ncap;
    return true;
}

/* Under the lock, a decode counted in `decoding` and `held` has ended: its photo joins the
 * live list, or the run fails. */
static void decoded(pipeline *pl, int rc, photo *p) {
    pl->decoding--;
    if (rc) {
        pl->held--;
        fail_locked(pl, rc);
        return;
    }
    pl->live[pl->nlive++] = p; /* room reserved before the decode */
    pthread_cond_broadcast(&pl->changed);
}

/* Decodes the next photo and puts it on the live list (lock held on entry and on return). */
static void decode_next(pipeline *pl) {
    size_t k = pl->next_decode++;
    pl->decoding++;
    pl->held++;
    if (!reserve_live(pl)) {
        pl->decoding--;
        pl->held--;
        return;
    }
    pthread_mutex_unlock(&pl->lock);
    polyp_error err = {0};
    polyp_image img;
    photo *p;
    polyp_status st = decode_pixels(pl->run->images, &pl->run->g->items[pl->todo[k]], pl->run->pixels, &img, &err);
    /* The last decode has its buffer: from now on each photo's goes back as the photo is
     * done, while other workers still run, rather than all at the end (pixel_pool.c). */
    if (k + 1 == pl->ntodo) pixel_pool_stop_keeping(pl->run->pixels);
    int rc = photo_from(pl, pl->todo[k], st, &img, &err, &p);
    pthread_mutex_lock(&pl->lock);
    decoded(pl, rc, p);
}

/* Takes the prefetched photos (todo[0..k), counted in `decoding` and `held` from the start)
 * onto the live list one by one, each as soon as its decode ends, so that the other workers
 * start on the first while the next still decodes (lock not held). */
static void adopt_prefetch(pipeline *pl, size_t k) {
    extract_prefetch *pf = pl->prefetch;
    pl->prefetch = NULL;
    for (size_t i = 0; i < k; i++) {
        pthread_mutex_lock(&pf->lock);
        while (pf->finished <= i) pthread_cond_wait(&pf->decoded, &pf->lock);
        polyp_status st = pf->st[i];
        pthread_mutex_unlock(&pf->lock);
        pthread_mutex_lock(&pl->lock);
        bool stopped = pl->stop;
        pthread_mutex_unlock(&pl->lock);
        photo *p = NULL;
        /* After a failure the rest are dropped unreported (freed with the prefetch). */
        int rc = stopped ? 0 : photo_from(pl, pf->group[i], st, &pf->img[i], &pf->err[i], &p);
        pthread_mutex_lock(&pl->lock);
        if (stopped || (!rc && !reserve_live(pl))) {
            photo_free(p);
            pl->decoding--;
            pl->held--;
        } else {
            decoded(pl, rc, p);
        }
        pthread_mutex_unlock(&pl->lock);
    }
    prefetch_free(pf); /* the pixels taken were zeroed; a failure's are freed */
    if (k == pl->ntodo) pixel_pool_stop_keeping(pl->run->pixels); /* as in decode_next */
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

/* Under the lock: points of decoded photos not yet claimed. */
static size_t unclaimed(const pipeline *pl) {
    size_t r = 0;
    for (size_t i = 0; i < pl->nlive; i++) {
        const photo *p = pl->live[i];
        if (p->img.pixels) r += pl->run->g->items[p->group].npoints - p->next_point;
    }
    return r;
}

/* Under the lock: how many patches a worker's batch should hold before it runs. The batch
 * size, except at the end of the run (every photo decoded): then a batch takes half of an
 * even share of the work left (points not yet claimed, and those in batches not finished),
 * so the last batches shrink and the workers finish within a patch or two of each other,
 * instead of one running a full batch while the others idle. (Small batches cost little on
 * the CPU backends: the network's time per patch is flat from batch 1 to 16.) */
static size_t batch_target(const pipeline *pl) {
    size_t batch = pl->run->batch;
    if (pl->next_decode < pl->ntodo || pl->decoding > 0) return batch;
    size_t nw = pl->run->nworkers, share = (unclaimed(pl) + pl->outstanding + 2 * nw - 1) / (2 * nw);
    return share < batch ? share : batch;
}

static void worker_free_buffers(worker *w) {
    free(w->patches);
    free(w->feat);
    free(w->owner);
    free(w->point);
    w->patches = w->feat = NULL;
    w->owner = NULL;
    w->point = NULL;
}

static void *worker_main(void *vp) {
    worker *w = vp;
    pipeline *pl = w->pl;
    size_t batch = pl->run->batch;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        if (!pl->stop && cli_interrupted) fail_locked(pl, EXTRACT_INTERRUPTED);
        if (pl->stop) break;
        photo *p = NULL;
        size_t target = batch;
        if (pl->next_decode < pl->ntodo && pl->held < pl->queue) {
            /* First, while the queue has room: the other workers keep the network busy on
             * the photos already decoded. (After the points, decodes waited until nothing
             * was left to claim, and then every core decoded at once while none ran the
             * network.) */
            decode_next(pl);
        } else if (w->n < (target = batch_target(pl)) && (p = claimable(pl)) != NULL) {
            crop_points(w, p, target);
        } else if (w->n == batch) {
            run_batch(w);
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
    /* Freed here, on the worker's thread: a worker that ends first gives its memory back
     * while the others run their last batches, not after them all. */
    polyp_extractor_free(*w->extractor);
    *w->extractor = NULL;
    worker_free_buffers(w);
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
    pthread_t *threads = calloc(nw, sizeof *threads), writer;
    pl.write_cap = WRITE_QUEUE_PER_WORKER * nw;
    pl.writes = malloc(pl.write_cap * sizeof *pl.writes);
    int rc = 0;
    size_t started = 0;
    /* The prefetched photos, when still to do, are the first to-do entries; those begun
     * count as decodes in progress from the start. */
    extract_prefetch *pf = r->prefetch;
    r->prefetch = NULL;
    for (size_t i = 0; pf && i < pf->n; i++)
        if (r->skip[pf->group[i]]) { /* done meanwhile (another task): not worth the bookkeeping */
            extract_prefetch_cancel(pf);
            pf = NULL;
        }
    if (!todo || !ws || !threads || !pl.writes) {
        rc = cli_fail(CMD, "out of memory for the pipeline (%zu workers)", nw);
        goto done;
    }
    for (size_t i = 0; pf && i < pf->n; i++) todo[pl.ntodo++] = pf->group[i];
    for (size_t i = 0; i < r->g->count; i++) {
        bool taken = false;
        for (size_t j = 0; pf && j < pf->n; j++) taken |= pf->group[j] == i;
        if (!r->skip[i] && !taken) todo[pl.ntodo++] = i;
    }
    pl.todo = todo;
    for (size_t i = 0; i < nw && !rc; i++) {
        ws[i].pl = &pl;
        ws[i].extractor = &r->extractors[i];
        ws[i].patches = malloc(r->batch * PATCH_FLOATS * sizeof(float));
        ws[i].feat = malloc(r->batch * r->dim * sizeof(float));
        ws[i].owner = malloc(r->batch * sizeof *ws[i].owner);
        ws[i].point = malloc(r->batch * sizeof *ws[i].point);
        if (!ws[i].patches || !ws[i].feat || !ws[i].owner || !ws[i].point)
            rc = cli_fail(CMD, "out of memory for the pipeline (batch %zu, %zu workers)", r->batch, nw);
    }
    if (rc) goto done;
    pthread_mutex_init(&pl.lock, NULL);
    pthread_cond_init(&pl.changed, NULL);
    pthread_cond_init(&pl.write_ready, NULL);
    if (pthread_create(&writer, NULL, writer_main, &pl) != 0) {
        rc = cli_fail(CMD, "cannot start the writer thread");
        goto destroy;
    }
    size_t prefetched = 0;
    if (pf) {
        pl.prefetch = pf;
        pf = NULL;
        prefetched = prefetch_close(pl.prefetch);
        pl.next_decode = pl.decoding = pl.held = prefetched;
    }
    /* The calling thread is worker 0, after it has taken the prefetched photos in; the others
     * get threads of their own. */
    for (started = 1; started < nw; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &ws[started]) != 0) break;
    if (pl.prefetch) adopt_prefetch(&pl, prefetched);
    worker_main(&ws[0]);
    for (size_t t = 1; t < started; t++) pthread_join(threads[t], NULL);
    pthread_mutex_lock(&pl.lock);
    pl.workers_done = true;
    pthread_cond_signal(&pl.write_ready);
    pthread_mutex_unlock(&pl.lock);
    pthread_join(writer, NULL);
    rc = pl.rc;
    for (size_t i = 0; i < pl.nlive; i++) photo_free(pl.live[i]); /* abandoned: never written */
destroy:
    pthread_cond_destroy(&pl.write_ready);
    pthread_cond_destroy(&pl.changed);
    pthread_mutex_destroy(&pl.lock);
done:
    extract_prefetch_cancel(pf); /* not taken in (a failure before the workers started) */
    if (ws)
        for (size_t i = 0; i < nw; i++) worker_free_buffers(&ws[i]); /* workers never started */
    free(pl.live);
    free(pl.writes);
    free(ws);
    free(threads);
    free(todo);
    return rc;
}
