/* crc32.h - CRC-32 (ISO-HDLC, as zip and zlib use: reflected, polynomial 0xEDB88320). */
#ifndef POLYP_CRC32_H
#define POLYP_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over n more bytes; start with crc = 0. polyp_crc32_update(0, "123456789", 9)
 * is 0xCBF43926. */
uint32_t polyp_crc32_update(uint32_t crc, const void *data, size_t n);

#endif /* POLYP_CRC32_H */
