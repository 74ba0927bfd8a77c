/* shard.c - see shard.h. */
#include "shard.h"

#include "classifier_internal.h" /* polyp_mix64 */

#include <stdio.h>

uint64_t cli_shard_hash(const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

uint32_t cli_shard_of(const char *name, uint32_t count) {
    return count <= 1 ? 0 : (uint32_t)(polyp_mix64(cli_shard_hash(name)) % count);
}

/* Reads a run of decimal digits at *p into *v; false when there is none or it exceeds max
 * (checked digit by digit, so no value wraps). */
static bool read_decimal(const char **p, uint32_t max, uint32_t *v, bool *too_big) {
    const char *s = *p;
    uint64_t acc = 0;
    *too_big = false;
    if (*s < '0' || *s > '9') return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        acc = acc * 10 + (uint64_t)(*s - '0');
        if (acc > max) {
            *too_big = true;
            return false;
        }
    }
    *v = (uint32_t)acc;
    *p = s;
    return true;
}

bool cli_shard_parse(const char *text, cli_shard *out, char *msg, size_t msg_cap) {
    const char *t = text ? text : "";
    const char *p = t;
    uint32_t i, n;
    bool big;
    if (!read_decimal(&p, CLI_SHARD_MAX_COUNT, &i, &big) || *p != '/') {
        snprintf(msg, msg_cap, "--shard needs INDEX/COUNT with 0 <= INDEX < COUNT <= %u (e.g. 3/40), got '%s'%s",
                 CLI_SHARD_MAX_COUNT, t, big ? ": the index is too large" : !*p && p != t ? ": the count is missing" : "");
        return false;
    }
    p++;
    if (!read_decimal(&p, CLI_SHARD_MAX_COUNT, &n, &big) || *p) {
        snprintf(msg, msg_cap, "--shard needs INDEX/COUNT with 0 <= INDEX < COUNT <= %u (e.g. 3/40), got '%s'%s",
                 CLI_SHARD_MAX_COUNT, t, big ? ": the count is too large" : "");
        return false;
    }
    if (n == 0) {
        snprintf(msg, msg_cap, "--shard '%s': the count must be at least 1", t);
        return false;
    }
    if (i >= n) {
        snprintf(msg, msg_cap, "--shard '%s': the index must be below the count (shards are numbered 0 to %u)", t,
                 n - 1);
        return false;
    }
    out->index = i;
    out->count = n;
    return true;
}

bool cli_shard_parse_count(const char *text, uint32_t *out, char *msg, size_t msg_cap) {
    const char *t = text ? text : "";
    const char *p = t;
    uint32_t n;
    bool big;
    if (!read_decimal(&p, CLI_SHARD_MAX_COUNT, &n, &big) || *p || n == 0) {
        snprintf(msg, msg_cap, "--shard-count needs an integer from 1 to %u, got '%s'", CLI_SHARD_MAX_COUNT, t);
        return false;
    }
    *out = n;
    return true;
}
