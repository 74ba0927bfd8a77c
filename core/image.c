/* image.c - image bytes to 8-bit RGB as CoralNet sees them (Pillow's Image.convert('RGB')).
 *
 * JPEG goes to libjpeg-turbo (image_jpeg.c); PNG, BMP, GIF, TGA, PSD, PNM and PIC go to
 * stb_image. Conversions follow Pillow, checked by tests/fixtures/make_image_fixtures.py:
 * - gray replicated to R=G=B; gray+alpha and RGBA lose alpha (not composited);
 * - palette expanded;
 * - 16-bit RGB/RGBA/gray+alpha keep the high byte (Pillow's "RGB;16B" unpackers, stb's
 *   16->8 conversion: v >> 8);
 * - 16-bit gray WITHOUT alpha opens in Pillow as mode "I" (32-bit int) and convert('RGB')
 *   clips it to 0..255 instead of scaling (65535 -> 255, 1000 -> 255, 200 -> 200); we do
 *   the same, odd as it is, because those are the pixels CoralNet's network saw.
 * A band of rows (polyp_decode_params.row_begin/row_end) is honoured by the JPEG path only;
 * stb decodes whole images.
 * Known differences: a GIF's transparent pixels come out black here (stb) but as their
 * palette colour in Pillow; truncated PNGs fail here (Pillow with LOAD_TRUNCATED_IMAGES
 * would return a partial image).
 */
#include "image_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* stb_image, compiled once here. Memory only; no HDR (floats, Pillow cannot read it
 * either); asserts compiled out so a corrupt file can never abort. stb's failure reason is
 * thread-local (STBI_THREAD_LOCAL under C11), so concurrent decodes do not race. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_ASSERT(x) ((void)0)
/* calloc, not malloc: on some corrupt files (a truncated TGA found by fuzz_image.c) stb
 * returns success with pixels it never wrote, so two decodes of the same bytes differed. */
#define STBI_MALLOC(sz) calloc(1, sz)
#define STBI_REALLOC(p, newsz) realloc(p, newsz)
#define STBI_FREE(p) free(p)
#if POLYP_JPEG_LIBJPEG
#define STBI_NO_JPEG /* JPEG never reaches stb_image when libjpeg is linked */
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

polyp_decode_params polyp_decode_default_params(void) {
    polyp_decode_params p;
    p.max_pixels = (uint64_t)1 << 28;
    p.max_side = 65535;
    p.row_begin = 0; /* every row */
    p.row_end = 0;
    p.allocator = NULL; /* fresh memory */
    return p;
}

static int is_jpeg(const uint8_t *d, size_t n) { return n >= 2 && d[0] == 0xFF && d[1] == 0xD8; }
static int is_png(const uint8_t *d, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return n >= 8 && memcmp(d, sig, 8) == 0;
}

/* stb_image's PNG reader refuses (as "unknown image type") any header whose pixels would
 * pass 2^30 bytes, before our caps could say "too large": read IHDR ourselves so a huge PNG
 * is reported as a limit, not as garbage. */
static polyp_status check_png_header(const uint8_t *d, size_t n, const polyp_decode_params *params,
                                     polyp_error *err) {
    if (!is_png(d, n)) return POLYP_OK; /* not PNG: stb decides */
    if (n < 24 || memcmp(d + 12, "IHDR", 4) != 0)
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "PNG: file ends or is corrupt before the IHDR header (%zu bytes)", n);
    uint32_t w = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
    uint32_t h = (uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23];
    return polyp_image_check_size(w, h, params, "PNG", err);
}

/* Walks the chunks of a PNG (signature checked) before stb_image sees it, for two weaknesses of
 * Debian's 2022 stb_image found by fuzzing (tests/fuzz/fuzz_image.c; seeds in
 * tests/fuzz/seeds/image/ keep both):
 * - A chunk longer than the rest of the file: stb allocates an IDAT's declared length (up to
 *   2 GB) before it finds the data missing. Refused here as truncated; stb would fail it too.
 * - Zero-length IDAT chunks before any image data: stb reads them with memcpy(NULL, src, 0)
 *   and NULL + 0, undefined behaviour that UBSan reports. They are legal and carry nothing (the
 *   image data is all IDATs concatenated), so they are left out of a copy stb reads instead.
 * *drop = the bytes to leave out (0: stb can read the file as it is); with dst (n - *drop
 * bytes), the file without them is written there. */
static polyp_status png_check_chunks(const uint8_t *d, size_t n, uint8_t *dst, size_t *drop, polyp_error *err) {
    size_t pos = 8, out = 8;
    int data_seen = 0;
    *drop = 0;
    while (n - pos >= 12) {
        uint32_t len = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 | (uint32_t)d[pos + 2] << 8 | d[pos + 3];
        if (len > n - pos - 12)
            return polyp_fail(err, POLYP_ERR_FORMAT,
                              "PNG: the chunk at byte %zu declares %lu bytes, more than the %zu left: truncated file",
                              pos, (unsigned long)len, n - pos - 12);
        const uint8_t *type = d + pos + 4;
        size_t chunk = 12 + (size_t)len; /* length, type, data, CRC */
        if (memcmp(type, "IDAT", 4) == 0 && len == 0 && !data_seen) {
            *drop += chunk;
        } else {
            if (memcmp(type, "IDAT", 4) == 0) data_seen = 1;
            if (dst) memcpy(dst + out, d + pos, chunk);
            out += chunk;
        }
        pos += chunk;
        if (memcmp(type, "IEND", 4) == 0) break;
    }
    if (dst) {
        memcpy(dst, d, 8);
        memcpy(dst + out, d + pos, n - pos);
    }
    return POLYP_OK;
}

/* Everything that is not JPEG (or every format, in a build without libjpeg), as stb reads it. */
static polyp_status decode_stb_bytes(const uint8_t *data, size_t size, const polyp_decode_params *params,
                                     polyp_image *out, polyp_error *err) {
    if (size > INT_MAX)
        return polyp_fail(err, POLYP_ERR_LIMIT, "image: %zu bytes is more than this decoder reads",
                          size);
    const int len = (int)size;
    int w = 0, h = 0, comp = 0;
    polyp_status st;
    /* Dimensions first, from the header only: nothing large is allocated yet. */
    if (!stbi_info_from_memory(data, len, &w, &h, &comp))
        return polyp_fail(err, POLYP_ERR_FORMAT,
                          "image: not a readable JPEG/PNG/BMP/GIF/TGA/PSD/PNM file (%s)",
                          stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
    st = polyp_image_check_size((uint64_t)(w < 0 ? 0 : w), (uint64_t)(h < 0 ? 0 : h),
                                             params, "image", err);
    if (st != POLYP_OK) return st;

    size_t npix = (size_t)w * (size_t)h; /* <= max_pixels, checked above */
    uint8_t *rgb = NULL;
    int dw = 0, dh = 0, dcomp = 0;
    if (comp == 1 && stbi_is_16_bit_from_memory(data, len)) {
        /* 16-bit gray: Pillow's mode "I" -> RGB clips to 255 (see the top comment). */
        stbi_us *g = stbi_load_16_from_memory(data, len, &dw, &dh, &dcomp, 1);
        if (!g) goto fail;
        if (dw != w || dh != h) {
            stbi_image_free(g);
            return polyp_fail(err, POLYP_ERR_FORMAT, "image: header says %dx%d, data gave %dx%d",
                              w, h, dw, dh);
        }
        rgb = malloc(npix * 3);
        if (!rgb) {
            stbi_image_free(g);
            return polyp_fail(err, POLYP_ERR_NOMEM, "image: out of memory for %dx%d pixels", w, h);
        }
        for (size_t i = 0; i < npix; i++) {
            uint8_t v = g[i] > 255 ? 255 : (uint8_t)g[i];
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
        }
        stbi_image_free(g);
    } else {
        /* stb converts to 3 channels: gray replicated, alpha dropped, palette expanded,
         * 16-bit reduced to the high byte. */
        rgb = stbi_load_from_memory(data, len, &dw, &dh, &dcomp, 3);
        if (!rgb) goto fail;
        if (dw != w || dh != h) {
            stbi_image_free(rgb);
            return polyp_fail(err, POLYP_ERR_FORMAT, "image: header says %dx%d, data gave %dx%d",
                              w, h, dw, dh);
        }
    }
    out->width = (uint32_t)w;
    out->height = (uint32_t)h;
    out->pixels = rgb;
    out->truncated = 0;
    out->row_begin = 0; /* stb decodes every row, whatever band was asked for */
    out->row_end = (uint32_t)h;
    return POLYP_OK;

fail:;
    const char *why = stbi_failure_reason();
    if (why && strcmp(why, "outofmem") == 0)
        return polyp_fail(err, POLYP_ERR_NOMEM, "image: out of memory decoding %dx%d pixels", w, h);
    return polyp_fail(err, POLYP_ERR_FORMAT, "image: corrupt or truncated %dx%d image (%s)", w, h,
                      why ? why : "decoder failed");
}

/* decode_stb_bytes after png_check_chunks (PNG header caps first, so a huge image is a limit). */
static polyp_status decode_stb(const uint8_t *data, size_t size, const polyp_decode_params *params,
                               polyp_image *out, polyp_error *err) {
    size_t drop = 0;
    polyp_status st = check_png_header(data, size, params, err);
    if (st == POLYP_OK && is_png(data, size)) st = png_check_chunks(data, size, NULL, &drop, err);
    if (st != POLYP_OK) return st;
    if (drop == 0) return decode_stb_bytes(data, size, params, out, err);
    uint8_t *copy = malloc(size - drop);
    if (!copy) return polyp_fail(err, POLYP_ERR_NOMEM, "PNG: out of memory for a %zu-byte copy", size - drop);
    png_check_chunks(data, size, copy, &drop, NULL);
    st = decode_stb_bytes(copy, size - drop, params, out, err);
    free(copy);
    return st;
}

polyp_status polyp_image_decode(const void *data, size_t size, const polyp_decode_params *params,
                                polyp_image *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "image decode: NULL output");
    memset(out, 0, sizeof *out);
    if (!data && size > 0) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "image decode: NULL data");
    if (size == 0) return polyp_fail(err, POLYP_ERR_FORMAT, "image: empty input (0 bytes)");
    polyp_decode_params defaults = polyp_decode_default_params();
    if (!params) params = &defaults;
    if ((params->row_begin || params->row_end) && params->row_end <= params->row_begin)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "image decode: empty row band %u..%u (row_end must exceed row_begin)",
                          (unsigned)params->row_begin, (unsigned)params->row_end);

    const uint8_t *bytes = data;
#if POLYP_JPEG_LIBJPEG
    if (is_jpeg(bytes, size)) return polyp_jpeg_decode(bytes, size, params, out, err);
#else
    (void)is_jpeg;
#endif
    return decode_stb(bytes, size, params, out, err);
}

polyp_status polyp_image_load_file(const char *path, const polyp_decode_params *params,
                                   polyp_image *out, polyp_error *err) {
    if (!out) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "image load: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return polyp_fail(err, POLYP_ERR_INVALID_ARG, "image load: NULL path");
    void *buf = NULL;
    size_t size = 0;
    polyp_status st = polyp_read_file(path, &buf, &size, err);
    if (st != POLYP_OK) return st;
    st = polyp_image_decode(buf, size, params, out, err);
    free(buf);
    if (st != POLYP_OK) return polyp_fail_prefix(err, st, "%s: ", path);
    return POLYP_OK;
}

void polyp_image_free(polyp_image *image) {
    if (!image) return;
    if (image->allocator && image->pixels) image->allocator->release(image->allocator->ctx, image->pixels);
    else free(image->pixels);
    memset(image, 0, sizeof *image);
}
