/* sha256.h - SHA-256 (FIPS 180-4), used to identify weights files. Internal. */
#ifndef POLYP_SHA256_H
#define POLYP_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct polyp_sha256 {
    uint32_t h[8];
    uint64_t total;       /* bytes hashed so far */
    uint8_t block[64];
    size_t fill;          /* bytes pending in block */
} polyp_sha256;

void polyp_sha256_init(polyp_sha256 *s);
void polyp_sha256_update(polyp_sha256 *s, const void *data, size_t size);
void polyp_sha256_final(polyp_sha256 *s, uint8_t digest[32]);
/* 1 where this build has the hardware rounds (x86 with GCC or Clang), whatever the CPU. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define POLYP_SHA256_HW 1
#else
#define POLYP_SHA256_HW 0
#endif

/* Tests: the hardware rounds (x86 SHA extensions) when `on` and the CPU has them, else the
 * portable ones; returns whether the CPU has them. */
bool polyp_sha256_use_hardware(bool on);
/* One shot, lowercase hex + NUL. */
void polyp_sha256_hex(const void *data, size_t size, char hex[65]);

#endif /* POLYP_SHA256_H */
