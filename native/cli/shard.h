/* shard.h - `--shard I/N`: which images one task of an array job handles.
 *
 * An image belongs to shard  mix64(FNV-1a-64(UTF-8 bytes of its CSV name)) mod N.  The hash
 * depends on the name alone, so adding images to the CSV later never moves a finished image
 * to another shard, and every task of an array computes the same partition without talking
 * to the others. FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) runs over
 * the bytes of the name as they appear in the CSV (no normalisation); mix64 is the core's
 * splitmix64 finaliser (classifier_internal.h), because FNV's low digits alone split
 * numbered names (IMG_00001.JPG, ...) unevenly for some N. In Python (M = 2**64):
 *     h = 0xcbf29ce484222325
 *     for b in name.encode(): h = ((h ^ b) * 0x100000001b3) % M
 *     h ^= h >> 30; h = h * 0xbf58476d1ce4e5b9 % M; h ^= h >> 27
 *     h = h * 0x94d049bb133111eb % M; h ^= h >> 31
 *     shard = h % N */
#ifndef POLYP_CLI_SHARD_H
#define POLYP_CLI_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest accepted shard count: far beyond any array job, small enough that I/N fits. */
#define CLI_SHARD_MAX_COUNT 1000000u

typedef struct cli_shard {
    uint32_t index; /* 0-based, < count */
    uint32_t count; /* >= 1; count 1 means "everything" */
} cli_shard;

/* FNV-1a 64 of the NUL-terminated `name` (before the mix). */
uint64_t cli_shard_hash(const char *name);

/* The shard (0..count-1) that `name` belongs to; count >= 1. */
uint32_t cli_shard_of(const char *name, uint32_t count);

/* Parses "I/N" (decimal, 0 <= I < N <= CLI_SHARD_MAX_COUNT; both parts required, nothing
 * else allowed: no sign, spaces or suffix). On failure writes a one-line reason naming the
 * value into msg and returns false. */
bool cli_shard_parse(const char *text, cli_shard *out, char *msg, size_t msg_cap);

/* Parses a bare shard count N (1 <= N <= CLI_SHARD_MAX_COUNT), for `polyp status`. */
bool cli_shard_parse_count(const char *text, uint32_t *out, char *msg, size_t msg_cap);

#endif /* POLYP_CLI_SHARD_H */
