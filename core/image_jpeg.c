/* image_jpeg.c - JPEG through libjpeg-turbo, configured as Pillow configures it.
 *
 * Why not stb_image: its IDCT and upsampling differ from libjpeg's by up to 7 levels on
 * real survey photos, which moves EfficientNet features noticeably. CoralNet decodes with
 * Pillow, i.e. libjpeg-turbo with its defaults (JDCT_ISLOW, fancy upsampling on).
 *
 * Truncated files: CoralNet sets PIL.ImageFile.LOAD_TRUNCATED_IMAGES. Pillow then feeds
 * libjpeg a fake EOI marker (FF D9) once when the file runs out (JpegImagePlugin.load_read),
 * so libjpeg finishes the image from zero-filled entropy data (flat gray-ish blocks); if it
 * still wants more after that, Pillow's source suspends, and rows never decoded stay as
 * Image.new left them (zero = black). Our memory source does exactly the same: the file,
 * then FF D9 once, then suspension.
 *
 * Bands (polyp_decode_params.row_begin/row_end): the rows above are skipped with
 * jpeg_skip_scanlines and the decode stops after the last; the rows kept are the bytes a full
 * decode gives (tests/unit/test_image_band*.c, fuzz_image.c). Columns are not cropped:
 * jpeg_crop_scanline changes the edge pixels of the crop under fancy upsampling.
 */
#include "image_internal.h"

#if POLYP_JPEG_LIBJPEG

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE and size_t declared first */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Error manager that longjmps back instead of exit()ing, keeping libjpeg's message. */
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Warnings ("premature end of data", "extraneous bytes") do not stop decoding, as in
 * Pillow; the library never prints, so the message is dropped (num_warnings counts them). */
static void jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Memory source: the whole buffer is handed over at once, so a call to fill_input_buffer
 * means the data has ended: give a fake EOI once, then suspend (FALSE), as Pillow does. */
typedef struct mem_src {
    struct jpeg_source_mgr pub;
    int exhausted; /* the file's bytes ran out before libjpeg was done */
} mem_src;

static const JOCTET fake_eoi[2] = {0xFF, JPEG_EOI};

static void src_init(j_decompress_ptr cinfo) { (void)cinfo; }
static boolean src_fill(j_decompress_ptr cinfo) {
    mem_src *m = (mem_src *)cinfo->src;
    if (m->exhausted) return FALSE;
    m->exhausted = 1;
    m->pub.next_input_byte = fake_eoi;
    m->pub.bytes_in_buffer = sizeof fake_eoi;
    return TRUE;
}
static void src_skip(j_decompress_ptr cinfo, long n) {
    struct jpeg_source_mgr *s = cinfo->src;
    if (n <= 0) return;
    if ((unsigned long)n > s->bytes_in_buffer) {
        /* Skipping past the end: Pillow's source would swallow its fake EOI into the
         * pending skip and then suspend, so no fake EOI here either. */
        s->next_input_byte += s->bytes_in_buffer;
        s->bytes_in_buffer = 0;
        ((mem_src *)cinfo->src)->exhausted = 1;
        return;
    }
    s->next_input_byte += n;
    s->bytes_in_buffer -= (size_t)n;
}
static void src_term(j_decompress_ptr cinfo) { (void)cinfo; }

/* Pillow's CMYK -> RGB (libImaging/Convert.c cmyk2rgb): r = nk - nk*c/255 (rounded), nk = 255-k.
 * Input is already un-inverted (Pillow reads JPEG CMYK as "CMYK;I", Adobe's inverted form). */
static uint8_t cmyk_channel(unsigned c, unsigned nk) {
    unsigned t = c * nk + 128;
    unsigned prod = ((t >> 8) + t) >> 8; /* MULDIV255 */
    return (uint8_t)(nk > prod ? nk - prod : 0);
}

/* State the setjmp/longjmp path must see unchanged: kept in one struct reached through a
 * pointer, so no local variable is modified between setjmp and longjmp. */
typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    mem_src src;
    uint8_t *pixels; /* height x width x 3, RGB */
    const polyp_pixel_allocator *alloc; /* where pixels came from; NULL: calloc */
    uint8_t *row;    /* width x output_components, one decoded scanline */
    int created;
} jpeg_job;

static void job_cleanup(jpeg_job *job) {
    if (job->created) jpeg_destroy_decompress(&job->cinfo);
    free(job->row);
    if (job->alloc && job->pixels) job->alloc->release(job->alloc->ctx, job->pixels);
    else free(job->pixels);
    job->row = NULL;
    job->pixels = NULL;
    job->created = 0;
}

/* One decode of rows [band_begin, band_end) (clipped to the image; 0/0 = all rows). */
static polyp_status decode_once(const uint8_t *data, size_t size, const polyp_decode_params *params,
                                uint32_t band_begin, uint32_t band_end, polyp_image *out, polyp_error *err) {
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job) return polyp_fail(err, POLYP_ERR_NOMEM, "JPEG: out of memory");
    polyp_status status = POLYP_OK;

    job->cinfo.err = jpeg_std_error(&job->err.pub);
    job->err.pub.error_exit = jpeg_error_exit;
    job->err.pub.output_message = jpeg_output_message;
    if (setjmp(job->err.jump)) {
        /* libjpeg refuses sides over 65500 itself, while reading the header. */
        if (job->err.pub.msg_code == JERR_IMAGE_TOO_BIG)
            status = polyp_fail(err, POLYP_ERR_LIMIT, "JPEG: image too large: %s", job->err.message);
        else
            status = polyp_fail(err, POLYP_ERR_FORMAT, "JPEG: corrupt or unsupported data: %s",
                                job->err.message);
        job_cleanup(job);
        free(job);
        return status;
    }
    jpeg_create_decompress(&job->cinfo);
    job->created = 1;

    job->src.pub.init_source = src_init;
    job->src.pub.fill_input_buffer = src_fill;
    job->src.pub.skip_input_data = src_skip;
    job->src.pub.resync_to_restart = jpeg_resync_to_restart;
    job->src.pub.term_source = src_term;
    job->src.pub.next_input_byte = data;
    job->src.pub.bytes_in_buffer = size;
    job->cinfo.src = &job->src.pub;

    struct jpeg_decompress_struct *ci = &job->cinfo;
    if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK) {
        status = polyp_fail(err, POLYP_ERR_FORMAT, "JPEG: file ends inside the header (%zu bytes)", size);
        goto done;
    }
    status = polyp_image_check_size(ci->image_width, ci->image_height, params, "JPEG", err);
    if (status != POLYP_OK) goto done;

    /* Pillow's choices: libjpeg's colour-space guess (JFIF/Adobe markers) is kept; output
     * RGB, gray as gray (replicated below), CMYK and YCCK as CMYK. */
    int kind; /* 1 gray, 3 rgb, 4 cmyk */
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; kind = 1; break;
    case JCS_YCbCr:
    case JCS_RGB: ci->out_color_space = JCS_RGB; kind = 3; break;
    case JCS_CMYK:
    case JCS_YCCK: ci->out_color_space = JCS_CMYK; kind = 4; break;
    default:
        status = polyp_fail(err, POLYP_ERR_FORMAT,
                            "JPEG: unsupported colour space (%d components)", ci->num_components);
        goto done;
    }
    ci->dct_method = JDCT_ISLOW;
    ci->do_fancy_upsampling = TRUE;

    const size_t w = ci->image_width, h = ci->image_height;
    size_t npix, nbytes, rowbytes;
    if (!polyp_mul_ok(w, h, &npix) || !polyp_mul_ok(npix, 3, &nbytes) ||
        !polyp_mul_ok(w, (size_t)kind, &rowbytes)) {
        status = polyp_fail(err, POLYP_ERR_NOMEM, "JPEG: %zux%zu image is too large", w, h);
        goto done;
    }
    /* Rows the data never reaches stay zero (black), as Pillow's fresh image does: fresh
     * memory is zero; a caller's buffer is zeroed where the data ends (below). */
    job->alloc = params->allocator;
    job->pixels = job->alloc ? job->alloc->alloc(job->alloc->ctx, nbytes) : calloc(nbytes, 1);
    job->row = malloc(rowbytes);
    if (!job->pixels || !job->row) {
        status = polyp_fail(err, POLYP_ERR_NOMEM, "JPEG: out of memory for %zux%zu pixels", w, h);
        goto done;
    }

    /* The band: rows [first, last) are decoded, the rest stay zero. */
    JDIMENSION first = 0, last = (JDIMENSION)h;
    if ((band_begin || band_end) && band_begin < h) {
        first = band_begin;
        if (band_end < h) last = band_end;
    }

    int truncated = 0;
    if (!jpeg_start_decompress(ci)) {
        /* Suspended even after the fake EOI (the file ends inside a marker segment before
         * the first scan's data): Pillow returns the all-black image it allocated. */
        truncated = 1;
    } else {
        if (ci->output_components != kind) {
            status = polyp_fail(err, POLYP_ERR_FORMAT, "JPEG: decoder gave %d components, expected %d",
                                ci->output_components, kind);
            goto done;
        }
        /* libjpeg-turbo skips whole iMCU rows without the IDCT, upsampling or colour
         * conversion, and decodes (then drops) the rest of the iMCU row before `first`, so
         * the fancy upsampler's context rows are the real ones: every row from `first` on is
         * the same as in a full decode (libjpeg.txt, "Skipping rows"; tested on every
         * subsampling). Progressive files are entropy-decoded whole in
         * jpeg_start_decompress; skipping then only moves the output row. */
        if (first > 0) jpeg_skip_scanlines(ci, first);
        while (ci->output_scanline < last) {
            JSAMPROW rows[1] = {job->row};
            size_t y = ci->output_scanline;
            if (jpeg_read_scanlines(ci, rows, 1) != 1) {
                truncated = 1; /* suspended: the data ended */
                break;
            }
            uint8_t *dst = job->pixels + y * w * 3;
            const uint8_t *src = job->row;
            if (kind == 3) {
                memcpy(dst, src, w * 3);
            } else if (kind == 1) {
                for (size_t x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
            } else {
                for (size_t x = 0; x < w; x++) {
                    /* Adobe CMYK is stored inverted; Pillow un-inverts ("CMYK;I"). */
                    unsigned nk = src[4 * x + 3]; /* 255 - k, with k = 255 - stored */
                    dst[3 * x + 0] = cmyk_channel(255u - src[4 * x + 0], nk);
                    dst[3 * x + 1] = cmyk_channel(255u - src[4 * x + 1], nk);
                    dst[3 * x + 2] = cmyk_channel(255u - src[4 * x + 2], nk);
                }
            }
        }
        /* No jpeg_finish_decompress: a file whose rows are all there but whose EOI marker
         * is missing decodes fully and is not reported as truncated (exhausted stays 0). */
    }
    if (truncated && job->alloc) { /* the band's rows the data never reached */
        size_t from = ci->output_scanline > first ? ci->output_scanline : first;
        if (from < last) memset(job->pixels + from * w * 3, 0, (last - from) * w * 3);
    }
    out->truncated = truncated || job->src.exhausted;

    out->width = (uint32_t)w;
    out->height = (uint32_t)h;
    out->pixels = job->pixels;
    out->allocator = job->alloc;
    out->row_begin = first;
    out->row_end = last;
    job->pixels = NULL;

done:
    job_cleanup(job);
    free(job);
    return status;
}

polyp_status polyp_jpeg_decode(const uint8_t *data, size_t size, const polyp_decode_params *params,
                               polyp_image *out, polyp_error *err) {
    polyp_status st = decode_once(data, size, params, params->row_begin, params->row_end, out, err);
    if (st != POLYP_OK || !out->truncated || (out->row_begin == 0 && out->row_end == out->height)) return st;
    /* The data ran out during a band decode. jpeg_skip_scanlines does not support a source
     * that suspends (libjpeg.txt), and ours suspends once a truncated file's fake EOI has
     * been read: rather than trust the skipped path there, a truncated file is decoded again
     * whole, which costs a second decode only for such rare files. */
    polyp_image_free(out);
    return decode_once(data, size, params, 0, 0, out, err);
}

#endif /* POLYP_JPEG_LIBJPEG */
