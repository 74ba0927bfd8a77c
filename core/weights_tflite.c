/* weights_tflite.c - polyp_weights from a TFLite flatbuffer: parse (tflite.c), check and
 * dequantize into float layers (tflite_net.c), and the extractor identity (kind from the
 * tensor names, sha256 of the file, feature width). */
#include "effnet.h"
#include "sha256.h"
#include "tflite_net.h"

#include <stdio.h>
#include <stdlib.h>

polyp_status polyp_weights_load_tflite(const void *data, size_t size, polyp_weights **out, polyp_error *err) {
    polyp_tfl_model m;
    polyp_status st = polyp_tfl_parse(data, size, &m, err);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "weights: ");
    polyp_tfl_net *net = NULL;
    st = polyp_tfl_net_build(&m, &net, err);
    polyp_tfl_free(&m);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "weights: ");
    polyp_weights *w = calloc(1, sizeof *w);
    if (!w) {
        polyp_tfl_net_free(net);
        return polyp_fail(err, POLYP_ERR_NOMEM, "weights: out of memory");
    }
    atomic_init(&w->cache, NULL);
    w->net = net;
    polyp_sha256_hex(data, size, w->sha256);
    w->kind = net->kind;
    w->feature_dim = net->dim;
    snprintf(w->extractor_id, sizeof w->extractor_id, "%s:%s:%zu", w->kind, w->sha256, w->feature_dim);
    *out = w;
    return POLYP_OK;
}
