/* crc32.c - table-driven CRC-32 (see crc32.h); tables in crc32_tables.h. */
#include "crc32.h"

#include "crc32_tables.h"

/* Slice-by-8: eight bytes per step through eight tables (about 5x the byte-at-a-time loop;
 * npz reads check the CRC of every feature file). */
uint32_t polyp_crc32_update(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc_tables[7][a & 0xFFu] ^ crc_tables[6][(a >> 8) & 0xFFu] ^ crc_tables[5][(a >> 16) & 0xFFu] ^
              crc_tables[4][a >> 24] ^ crc_tables[3][b & 0xFFu] ^ crc_tables[2][(b >> 8) & 0xFFu] ^
              crc_tables[1][(b >> 16) & 0xFFu] ^ crc_tables[0][b >> 24];
    }
    for (; n > 0; p++, n--) crc = crc_tables[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}
