/* inflate.h - raw DEFLATE decompression (RFC 1951) for zip entries (npz feature files).
 *
 * Decodes stored, fixed-Huffman and dynamic-Huffman blocks into caller memory and never
 * writes past out_cap: the caller sizes the buffer from the size the container declares, so
 * a hostile stream cannot make it allocate more. Every malformed input (bad block type,
 * over-subscribed or incomplete code, distance before the start of the output, a stream that
 * ends early) is a POLYP_ERR_FORMAT with a reason; output beyond out_cap is POLYP_ERR_LIMIT. */
#ifndef POLYP_INFLATE_H
#define POLYP_INFLATE_H

#include "internal.h"

/* Decompresses the raw DEFLATE stream in[0..in_size) (no zlib or gzip wrapper) into
 * out[0..out_cap). *out_len receives the bytes produced; in_used (optional) the bytes of input
 * consumed up to the end of the final block. `in` is borrowed; `out` is caller memory. */
polyp_status polyp_inflate(const void *in, size_t in_size, void *out, size_t out_cap, size_t *out_len,
                           size_t *in_used, polyp_error *err);

#endif /* POLYP_INFLATE_H */
