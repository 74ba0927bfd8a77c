/* zip.h - read-only zip archives held in memory (internal API), shared by the feature files
 * (npz.c) and PyTorch checkpoints (torch_ckpt.c).
 *
 * Accepts single-disk archives with STORED or DEFLATED entries, including the zip64 end
 * records PyTorch's writer always emits and zip64 sizes in entries; refuses encryption, other
 * methods and anything pointing outside the buffer, naming the entry. Every read is
 * CRC-checked. `what` prefixes messages ("npz", "checkpoint"). */
#ifndef POLYP_ZIP_H
#define POLYP_ZIP_H

#include "internal.h"

typedef struct polyp_zip_entry {
    const char *name;          /* borrowed from the archive, not NUL-terminated */
    size_t name_len;
    uint32_t method, crc, flags;
    size_t csize, usize, local_off;
} polyp_zip_entry;

typedef struct polyp_zip {
    const unsigned char *data; /* borrowed: must outlive the polyp_zip */
    size_t size;
    const char *what;          /* borrowed static string */
    size_t count;
    polyp_zip_entry *entries;  /* owned (polyp_zip_close), central directory order */
} polyp_zip;

/* Reads the central directory (at most max_entries entries, else POLYP_ERR_LIMIT). */
polyp_status polyp_zip_open(const void *data, size_t size, size_t max_entries, const char *what, polyp_zip *out,
                            polyp_error *err);
void polyp_zip_close(polyp_zip *zip);

/* The entry named exactly `name`, or NULL. */
const polyp_zip_entry *polyp_zip_find(const polyp_zip *zip, const char *name);

/* The entry's uncompressed bytes (at most max_bytes, else POLYP_ERR_LIMIT), CRC-checked:
 * a STORED entry's *data points into the archive and *owned is NULL; a DEFLATED one is
 * inflated into *owned (polyp_free), which *data also points to. */
polyp_status polyp_zip_read(const polyp_zip *zip, const polyp_zip_entry *entry, size_t max_bytes,
                            const unsigned char **data, unsigned char **owned, polyp_error *err);

#endif /* POLYP_ZIP_H */
