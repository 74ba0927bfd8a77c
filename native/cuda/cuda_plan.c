/* cuda_plan.c - host-side arithmetic of the CUDA backend (cuda_plan.h): no CUDA call here,
 * so every line is exercised by the unit tests on machines without a GPU. */
#include "cuda_plan.h"

#include "effnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool polyp_cuda_parse_precision(const char *s, polyp_precision *out, char *msg, size_t msg_size) {
    if (s && !strcmp(s, "exact")) {
        *out = POLYP_PRECISION_EXACT;
        return true;
    }
    if (s && !strcmp(s, "fast")) {
        *out = POLYP_PRECISION_FAST;
        return true;
    }
    snprintf(msg, msg_size, "--precision must be exact or fast, got '%s'", s ? s : "");
    return false;
}

bool polyp_cuda_parse_devices(const char *s, int *out, size_t max, size_t *n, char *msg, size_t msg_size) {
    *n = 0;
    if (!s || !*s) {
        snprintf(msg, msg_size, "--devices needs a comma-separated list of device indices such as 0,1");
        return false;
    }
    const char *p = s;
    for (;;) {
        const char *start = p;
        long v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v < 1000) v = v * 10 + (*p - '0'); /* clamped: any longer number is out of range anyway */
            p++;
        }
        if (p == start || (*p && *p != ',')) {
            size_t len = strcspn(start, ",");
            snprintf(msg, msg_size, "--devices '%s': '%.*s' is not a device index (0..%d)", s, (int)len, start,
                     POLYP_CUDA_MAX_DEVICES - 1);
            return false;
        }
        if (v >= POLYP_CUDA_MAX_DEVICES) {
            snprintf(msg, msg_size, "--devices '%s': device %.*s is out of range (0..%d)", s, (int)(p - start), start,
                     POLYP_CUDA_MAX_DEVICES - 1);
            return false;
        }
        for (size_t i = 0; i < *n; i++)
            if (out[i] == (int)v) {
                snprintf(msg, msg_size, "--devices '%s': device %ld is listed twice", s, v);
                return false;
            }
        if (*n >= max) {
            snprintf(msg, msg_size, "--devices '%s': more than %zu devices", s, max);
            return false;
        }
        out[(*n)++] = (int)v;
        if (!*p) return true;
        p++; /* the comma; an empty item after it fails above */
    }
}

/* ------------------------------------------------------------------ buffers */

static size_t act_bytes_of(polyp_precision p) { return p == POLYP_PRECISION_FAST ? 2 : 4; }

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Elements per patch of every buffer and the spatial sizes; shared by the layout and the
 * per-patch byte count so the two cannot disagree. */
static void shapes(int tf_same, pcu_layout *L) {
    const polyp_block_spec *table = polyp_effnet_blocks();
    int pb, pa;
    polyp_effnet_padding(3, 2, tf_same, POLYP_PATCH_SIZE, &pb, &pa);
    L->stem_pad = pb;
    L->stem_hw = (POLYP_PATCH_SIZE + pb + pa - 3) / 2 + 1;
    L->in_elems = (size_t)POLYP_PATCH_SIZE * POLYP_PATCH_SIZE * 3;
    L->x_elems = (size_t)L->stem_hw * (size_t)L->stem_hw * POLYP_STEM_CH;
    L->e_elems = L->d_elems = L->rowsum_elems = L->gate_elems = 0;
    int h = L->stem_hw;
    for (int b = 0; b < POLYP_EFFNET_BLOCKS; b++) {
        const polyp_block_spec *s = &table[b];
        pcu_block *k = &L->blocks[b];
        k->in = s->in;
        k->out = s->out;
        k->kernel = s->kernel;
        k->stride = s->stride;
        k->expand = s->expand;
        k->hidden = s->hidden;
        k->se = s->se;
        polyp_effnet_padding(s->kernel, s->stride, tf_same, h, &pb, &pa);
        k->h = h;
        k->pad = pb;
        k->ho = (h + pb + pa - s->kernel) / s->stride + 1;
        const size_t hw = (size_t)h * (size_t)h, howo = (size_t)k->ho * (size_t)k->ho, hid = (size_t)s->hidden;
        if (s->expand != 1) L->e_elems = max_sz(L->e_elems, hw * hid);
        L->d_elems = max_sz(L->d_elems, howo * hid);
        L->rowsum_elems = max_sz(L->rowsum_elems, (size_t)k->ho * hid);
        L->gate_elems = max_sz(L->gate_elems, hid);
        L->x_elems = max_sz(L->x_elems, howo * (size_t)s->out);
        h = k->ho;
    }
}

size_t polyp_cuda_bytes_per_patch(polyp_precision precision) {
    pcu_layout L;
    memset(&L, 0, sizeof L);
    shapes(1, &L); /* both padding rules give the same sizes for a 224 input */
    const size_t a = act_bytes_of(precision);
    return L.in_elems * 4 + (2 * L.x_elems + L.e_elems + L.d_elems) * a +
           (L.rowsum_elems + L.gate_elems + POLYP_FEATURE_DIM) * 4;
}

/* Reserves batch * elems * elem_bytes at *used (256-byte aligned); false on overflow. */
static bool take(size_t *off, size_t *used, size_t batch, size_t elems, size_t elem_bytes) {
    size_t n;
    if (!polyp_mul_ok(batch, elems, &n) || !polyp_mul_ok(n, elem_bytes, &n) || !polyp_add_ok(n, 255, &n)) return false;
    n &= ~(size_t)255;
    *off = *used;
    return polyp_add_ok(*used, n, used);
}

polyp_status polyp_cuda_layout_plan(size_t batch, polyp_precision precision, int tf_same, pcu_layout *out,
                                    polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: layout is NULL");
    memset(out, 0, sizeof *out);
    if (batch == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: batch size must be at least 1");
    if (batch > POLYP_CUDA_MAX_BATCH)
        return polyp_fail(err, POLYP_ERR_LIMIT, "cuda: batch size %zu exceeds %d", batch, POLYP_CUDA_MAX_BATCH);
    if (precision != POLYP_PRECISION_EXACT && precision != POLYP_PRECISION_FAST)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: unknown precision %d", (int)precision);
    shapes(tf_same, out);
    out->batch = batch;
    out->precision = (int)precision;
    out->act_bytes = act_bytes_of(precision);
    const size_t a = out->act_bytes;
    size_t used = 0;
    bool ok = take(&out->input, &used, batch, out->in_elems, 4) && take(&out->x, &used, batch, out->x_elems, a) &&
              take(&out->y, &used, batch, out->x_elems, a) && take(&out->e, &used, batch, out->e_elems, a) &&
              take(&out->d, &used, batch, out->d_elems, a) && take(&out->rowsum, &used, batch, out->rowsum_elems, 4) &&
              take(&out->gate, &used, batch, out->gate_elems, 4) && take(&out->feat, &used, batch, POLYP_FEATURE_DIM, 4);
    if (!ok) return polyp_fail(err, POLYP_ERR_LIMIT, "cuda: buffers of batch %zu overflow size_t", batch);
    out->total = used;
    return POLYP_OK;
}

static double gb(size_t bytes) { return (double)bytes / 1e9; }

polyp_status polyp_cuda_layout_fits(const pcu_layout *layout, size_t weight_bytes, size_t free_bytes, int device,
                                    polyp_error *err) {
    size_t need;
    if (!polyp_add_ok(layout->total, weight_bytes, &need) || need > free_bytes) {
        const size_t per = polyp_cuda_bytes_per_patch((polyp_precision)layout->precision);
        /* Slack for the 8 aligned buffers: at most 255 bytes each. */
        size_t room = free_bytes > weight_bytes + 8 * 256 ? free_bytes - weight_bytes - 8 * 256 : 0;
        size_t fit = per ? room / per : 0;
        if (fit > POLYP_CUDA_MAX_BATCH) fit = POLYP_CUDA_MAX_BATCH;
        const char *prec = layout->precision == POLYP_PRECISION_FAST ? "fast" : "exact";
        if (fit == 0)
            return polyp_fail(err, POLYP_ERR_LIMIT,
                              "cuda: device %d has %.2f GB free, too little for even one patch in precision %s "
                              "(%.2f GB with the weights)",
                              device, gb(free_bytes), prec, gb(per + weight_bytes));
        return polyp_fail(err, POLYP_ERR_LIMIT,
                          "cuda: batch %zu in precision %s needs %.2f GB of device memory, device %d has %.2f GB free: "
                          "use --batch %zu or less",
                          layout->batch, prec, gb(layout->total + weight_bytes), device, gb(free_bytes), fit);
    }
    return POLYP_OK;
}

polyp_status polyp_cuda_unavailable(pcu_reason reason, int device, int count, const char *detail, polyp_error *err) {
    const char *d = detail && *detail ? detail : "";
    const char *sep = *d ? ": " : "";
    switch (reason) {
    case PCU_OK: return POLYP_OK;
    case PCU_NOT_BUILT:
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED,
                          "cuda: this polyp was built without CUDA (configure with -DPOLYP_CUDA=ON and the CUDA "
                          "toolkit installed)");
    case PCU_NO_DRIVER:
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED,
                          "cuda: no usable NVIDIA driver on this machine (libcuda.so missing or older than the CUDA "
                          "runtime)%s%s",
                          sep, d);
    case PCU_NO_DEVICE:
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED, "cuda: no CUDA device is visible (check nvidia-smi and "
                                                      "CUDA_VISIBLE_DEVICES)%s%s", sep, d);
    case PCU_BAD_INDEX:
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda: device %d does not exist: %d device%s visible (0..%d)",
                          device, count, count == 1 ? " is" : "s are", count - 1);
    case PCU_OLD_DEVICE:
        return polyp_fail(err, POLYP_ERR_UNSUPPORTED,
                          "cuda: device %d is older than compute capability 9.0 (Hopper), the only code in this "
                          "build%s%s",
                          device, sep, d);
    case PCU_RUNTIME_ERROR: break;
    }
    return polyp_fail(err, POLYP_ERR_BACKEND, "cuda: device %d cannot be used%s%s", device, sep, *d ? d : ": unknown error");
}

/* ------------------------------------------------------------------ batches */

void polyp_cuda_plan_free(polyp_cuda_plan *plan) {
    if (!plan) return;
    free(plan->spans);
    free(plan->batch_first);
    memset(plan, 0, sizeof *plan);
}

polyp_status polyp_cuda_plan_batches(const size_t *points_per_photo, size_t photos, size_t batch,
                                     polyp_cuda_plan *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda plan: out is NULL");
    memset(out, 0, sizeof *out);
    if (batch == 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda plan: batch size must be at least 1");
    if (photos && !points_per_photo) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "cuda plan: point counts are NULL");
    size_t total = 0, nonempty = 0;
    for (size_t i = 0; i < photos; i++) {
        if (!polyp_add_ok(total, points_per_photo[i], &total))
            return polyp_fail(err, POLYP_ERR_LIMIT, "cuda plan: point counts overflow");
        nonempty += points_per_photo[i] > 0;
    }
    size_t batches = total / batch + (total % batch != 0);
    /* Each batch boundary splits at most one photo: spans <= photos with points + batches. */
    size_t max_spans = nonempty + batches;
    out->spans = max_spans ? calloc(max_spans, sizeof *out->spans) : NULL;
    out->batch_first = calloc(batches + 1, sizeof *out->batch_first);
    if ((max_spans && !out->spans) || !out->batch_first) {
        polyp_cuda_plan_free(out);
        return polyp_fail(err, POLYP_ERR_NOMEM, "cuda plan: out of memory for %zu batches", batches);
    }
    size_t room = batch; /* free slots in the batch being filled */
    for (size_t i = 0; i < photos; i++) {
        for (size_t first = 0; first < points_per_photo[i];) {
            if (room == 0) {
                out->batch_first[++out->n_batches] = out->n_spans;
                room = batch;
            }
            size_t left = points_per_photo[i] - first, c = left < room ? left : room;
            out->spans[out->n_spans++] = (polyp_cuda_span){i, first, c};
            first += c;
            room -= c;
        }
    }
    if (out->n_spans) out->batch_first[++out->n_batches] = out->n_spans;
    return POLYP_OK;
}
