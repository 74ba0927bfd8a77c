/* pipeline.c - `polyp extract` with photos decoded in parallel with the network.
 *
 * Serially, each photo is decoded on one thread while the network's other threads wait, and
 * decoding never overlaps the network. Here:
 *   - `queue` decode threads claim the photos still to do in CSV order and decode each into
 *     a ring of `queue` slots; a photo is claimed only when a slot is free, so at most
 *     `queue` decoded photos exist at once, whatever the number of photos;
 *   - the calling thread takes photos in order, crops every point into the batch buffer and
 *     frees the pixels at once (a crop is a copy), runs the network whenever the batch is
 *     full (batches span photos), and writes each photo's file as soon as its last patch has
 *     been through the network.
 * The features of a patch do not depend on which patches share its batch (the backends
 * compute each patch alone; tests/e2e/test_bulk_cli.py checks the bytes against the serial
 * path), so the files are the serial path's, byte for byte.
 *
 * Decode threads run at normal priority, beside the network's threads: the pool's threads
 * block (never spin) while they wait for each other inside a batch, so a core a network
 * thread leaves is taken by a decoder, and no core idles while there is anything to decode.
 * (SCHED_IDLE decoders were considered and rejected: on a node shared with other jobs they
 * starve, and then the network starves waiting for photos.)
 *
 * Memory: `queue` decoded photos + one batch of patches + the features of the photos with
 * patches in flight (at most batch + 1 photos). A signal stops the run between batches;
 * photos not yet written are abandoned (their files never appear); decode threads finish the
 * photo in hand (a decode cannot be cut short) and are joined. */
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

enum slot_state { SLOT_FREE, SLOT_DECODING, SLOT_READY, SLOT_FAILED };

typedef struct slot {
    size_t seq;          /* position in the to-do list this slot holds */
    enum slot_state state;
    polyp_image img;     /* owned while READY, until the consumer has cropped it */
    char error[512];     /* FAILED: the decoder's message */
} slot;

typedef struct pipeline {
    extract_run *run;
    const size_t *todo;  /* group indices still to do, CSV order */
    size_t ntodo;
    slot *slots;         /* queue entries, slot k % queue holds to-do entry k */
    size_t queue;
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* any slot changed state, or a slot was released, or stop */
    size_t next_claim;       /* next to-do entry a decoder takes */
    size_t released;         /* to-do entries whose pixels the consumer has freed */
    bool stop;
} pipeline;

static void *decoder_main(void *vp) {
    pipeline *pl = vp;
    char path[4096];
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        while (!pl->stop && pl->next_claim < pl->ntodo && pl->next_claim >= pl->released + pl->queue)
            pthread_cond_wait(&pl->changed, &pl->lock);
        if (pl->stop || pl->next_claim >= pl->ntodo) break;
        size_t k = pl->next_claim++;
        slot *s = &pl->slots[k % pl->queue];
        s->seq = k;
        s->state = SLOT_DECODING;
        pthread_mutex_unlock(&pl->lock);

        const image_group *ig = &pl->run->g->items[pl->todo[k]];
        polyp_error err = {0};
        polyp_image img;
        memset(&img, 0, sizeof img);
        bool ok = path_join(path, sizeof path, pl->run->images, ig->name, "") &&
                  polyp_image_load_file(path, NULL, &img, &err) == POLYP_OK;
        if (!ok) snprintf(s->error, sizeof s->error, "%s", err.message[0] ? err.message : path);

        pthread_mutex_lock(&pl->lock);
        s->img = img;
        s->state = ok ? SLOT_READY : SLOT_FAILED;
        pthread_cond_broadcast(&pl->changed);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* A photo whose patches are (partly) in the network: features fill in as batches finish. */
typedef struct inflight {
    size_t group;
    float *feat;      /* npoints x dim, owned */
    size_t filled;    /* points whose features are in */
} inflight;

typedef struct consumer {
    pipeline *pl;
    float *patches;      /* batch x patch floats */
    float *batch_feat;   /* batch x dim */
    size_t *owner;       /* per batch entry: index into fly */
    size_t *point;       /* per batch entry: point index in its photo */
    size_t nbatch;
    inflight *fly;       /* FIFO of photos in flight; fly[0] is the oldest */
    size_t nfly, fly_cap;
} consumer;

#define PATCH_FLOATS ((size_t)224 * 224 * 3)

/* Moves every finished photo at the head of the FIFO to disk, in CSV order. */
static int write_finished(consumer *c) {
    extract_run *r = c->pl->run;
    size_t popped = 0;
    int rc = 0;
    char out_path[4096];
    while (popped < c->nfly && !rc) {
        inflight *f = &c->fly[popped];
        const image_group *ig = &r->g->items[f->group];
        if (f->filled < ig->npoints) break;
        path_join(out_path, sizeof out_path, r->out, ig->name, ".featurevector");
        rc = extract_write_features(r, ig, f->feat, out_path);
        free(f->feat);
        f->feat = NULL;
        popped++;
        if (rc) break;
        r->done++;
        r->patches += ig->npoints;
        double el = cli_now() - r->progress->start;
        cli_progress_update(r->progress, r->done, el > 0 ? (double)r->patches / el : 0.0, "patches");
    }
    memmove(c->fly, c->fly + popped, (c->nfly - popped) * sizeof *c->fly);
    c->nfly -= popped;
    /* Batch entries refer to fly by index: this runs only right after a batch, when none do. */
    return rc;
}

/* Runs the network on the batch and scatters its features to their photos. */
static int run_batch(consumer *c) {
    if (c->nbatch == 0) return 0;
    polyp_error err = {0};
    polyp_status st = polyp_extract_patches(c->pl->run->extractor, c->patches, c->nbatch, c->batch_feat, &err);
    if (st == POLYP_ERR_CANCELLED) return EXTRACT_INTERRUPTED;
    if (st != POLYP_OK) return cli_fail(CMD, "%s", err.message);
    for (size_t j = 0; j < c->nbatch; j++) {
        inflight *f = &c->fly[c->owner[j]];
        size_t dim = c->pl->run->dim;
        memcpy(f->feat + c->point[j] * dim, c->batch_feat + j * dim, dim * sizeof(float));
        f->filled++;
    }
    c->nbatch = 0;
    return write_finished(c);
}

/* Crops every point of a decoded photo into batches (running the network as they fill). */
static int consume_photo(consumer *c, size_t group, const polyp_image *img) {
    extract_run *r = c->pl->run;
    const image_group *ig = &r->g->items[group];
    int rc = extract_check_points(ig, img);
    if (rc) return rc;
    if (c->nfly == c->fly_cap) {
        size_t ncap = c->fly_cap ? c->fly_cap * 2 : 8;
        inflight *nf = realloc(c->fly, ncap * sizeof *nf);
        if (!nf) return cli_fail(CMD, "out of memory");
        c->fly = nf;
        c->fly_cap = ncap;
    }
    inflight *f = &c->fly[c->nfly];
    f->group = group;
    f->filled = 0;
    f->feat = malloc((ig->npoints ? ig->npoints : 1) * r->dim * sizeof(float));
    if (!f->feat) return cli_fail(CMD, "%s: out of memory for %zu points", ig->name, ig->npoints);
    size_t me = c->nfly++;
    for (size_t i = 0; i < ig->npoints; i++) {
        polyp_error err = {0};
        if (polyp_patch_crop(img, ig->points[i], c->patches + c->nbatch * PATCH_FLOATS, &err) != POLYP_OK)
            return cli_fail(CMD, "%s: point %zu: %s", ig->name, i + 1, err.message);
        c->owner[c->nbatch] = me;
        c->point[c->nbatch] = i;
        if (++c->nbatch == r->batch) {
            if (cli_interrupted) return EXTRACT_INTERRUPTED;
            size_t before = c->nfly;
            if ((rc = run_batch(c))) return rc;
            me -= before - c->nfly; /* write_finished popped older photos off the FIFO's head */
        }
    }
    return 0;
}

/* Waits for to-do entry k; returns its slot (READY or FAILED), or NULL when stopped. */
static slot *wait_photo(pipeline *pl, size_t k) {
    slot *s = &pl->slots[k % pl->queue];
    pthread_mutex_lock(&pl->lock);
    while (!(s->seq == k && (s->state == SLOT_READY || s->state == SLOT_FAILED)) && !cli_interrupted) {
        /* Wake up now and then to notice a signal: the decoder may be inside a long decode. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pl->changed, &pl->lock, &ts);
    }
    bool ok = s->seq == k && (s->state == SLOT_READY || s->state == SLOT_FAILED);
    pthread_mutex_unlock(&pl->lock);
    return ok ? s : NULL;
}

static void release_slot(pipeline *pl, slot *s) {
    polyp_image_free(&s->img);
    memset(&s->img, 0, sizeof s->img);
    pthread_mutex_lock(&pl->lock);
    s->state = SLOT_FREE;
    pl->released++;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
}

static int consume_all(consumer *c) {
    pipeline *pl = c->pl;
    for (size_t k = 0; k < pl->ntodo; k++) {
        if (cli_interrupted) return EXTRACT_INTERRUPTED;
        slot *s = wait_photo(pl, k);
        if (!s) return EXTRACT_INTERRUPTED;
        int rc = s->state == SLOT_FAILED ? cli_fail(CMD, "%s", s->error) : consume_photo(c, pl->todo[k], &s->img);
        release_slot(pl, s);
        if (rc) return rc;
    }
    if (cli_interrupted) return EXTRACT_INTERRUPTED;
    return run_batch(c); /* the tail batch */
}

/* Decoded photos are allocated on decode threads and freed on the calling thread. glibc then
 * serves them from per-thread arenas once its dynamic mmap threshold has risen past a
 * photo's size, and the arenas fragment: peak memory crept up by about one photo per 20-40
 * photos with two decoders. A fixed threshold (which also turns the dynamic one off) keeps
 * every buffer of 1 MiB or more in its own mapping, returned to the system when freed. */
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
    size_t *todo = malloc((r->g->count ? r->g->count : 1) * sizeof *todo);
    pl.slots = calloc(pl.queue, sizeof *pl.slots);
    consumer c;
    memset(&c, 0, sizeof c);
    c.pl = &pl;
    c.patches = malloc(r->batch * PATCH_FLOATS * sizeof(float));
    c.batch_feat = malloc(r->batch * r->dim * sizeof(float));
    c.owner = malloc(r->batch * sizeof *c.owner);
    c.point = malloc(r->batch * sizeof *c.point);
    pthread_t *threads = calloc(pl.queue, sizeof *threads);
    int rc = 0;
    size_t started = 0;
    if (!todo || !pl.slots || !c.patches || !c.batch_feat || !c.owner || !c.point || !threads) {
        rc = cli_fail(CMD, "out of memory for the pipeline (queue %zu, batch %zu)", pl.queue, r->batch);
        goto done;
    }
    for (size_t i = 0; i < r->g->count; i++)
        if (!r->skip[i]) todo[pl.ntodo++] = i;
    pl.todo = todo;
    for (size_t k = 0; k < pl.queue; k++) pl.slots[k].seq = (size_t)-1;
    pthread_mutex_init(&pl.lock, NULL);
    pthread_cond_init(&pl.changed, NULL);
    size_t want = pl.queue < pl.ntodo ? pl.queue : pl.ntodo;
    for (; started < want; started++)
        if (pthread_create(&threads[started], NULL, decoder_main, &pl) != 0) break;
    if (started == 0 && pl.ntodo > 0) rc = cli_fail(CMD, "could not start a decode thread");
    else rc = consume_all(&c);

    pthread_mutex_lock(&pl.lock);
    pl.stop = true;
    pthread_cond_broadcast(&pl.changed);
    pthread_mutex_unlock(&pl.lock);
    for (size_t t = 0; t < started; t++) pthread_join(threads[t], NULL);
    for (size_t k = 0; k < pl.queue; k++) polyp_image_free(&pl.slots[k].img);
    pthread_cond_destroy(&pl.changed);
    pthread_mutex_destroy(&pl.lock);
done:
    for (size_t i = 0; i < c.nfly; i++) free(c.fly[i].feat); /* abandoned: never written */
    free(c.fly);
    free(c.patches);
    free(c.batch_feat);
    free(c.owner);
    free(c.point);
    free(threads);
    free(pl.slots);
    free(todo);
    return rc;
}
