/* inflate.c - RFC 1951 decoder. Canonical Huffman codes are decoded from per-length counts
 * and a symbol list sorted by code (the approach of zlib's puff.c): small, obviously
 * bounded, and fast enough for feature files, whose size is dominated by float64 data. */
#include "inflate.h"

#include <string.h>

#define MAXBITS 15      /* longest code */
#define MAXLCODES 286   /* literal/length codes */
#define MAXDCODES 30    /* distance codes */
#define FIXLCODES 288   /* fixed literal/length code table size */

typedef struct state {
    const unsigned char *in;
    size_t in_size, in_pos;
    unsigned char *out;
    size_t out_cap, out_len;
    uint32_t bitbuf;
    int bitcnt;
    bool eof;    /* input ran out: the stream is truncated */
} state;

#define FASTBITS 9      /* codes up to this long decode with one table lookup */

typedef struct huffman {
    short count[MAXBITS + 1];  /* number of codes of each length */
    short symbol[FIXLCODES];   /* symbols ordered by code */
    /* fast[next FASTBITS input bits, LSB first] = symbol << 4 | code length, or 0 when the
     * code is longer than FASTBITS (then decoding goes bit by bit). */
    uint16_t fast[1 << FASTBITS];
} huffman;

/* Next `need` bits (LSB first). Past the end of input it returns zeros and sets eof; callers
 * check eof before trusting what they decoded. */
static int bits(state *s, int need) {
    uint32_t val = s->bitbuf;
    while (s->bitcnt < need) {
        if (s->in_pos >= s->in_size) {
            s->eof = true;
            return 0;
        }
        val |= (uint32_t)s->in[s->in_pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
    s->bitbuf = val >> need;
    s->bitcnt -= need;
    return (int)(val & ((1u << need) - 1));
}

/* Tops the bit buffer up to at least 25 bits while input lasts (lookahead for the fast
 * table; bytes held here are given back by unread_bytes when a stored block starts). */
static void refill(state *s) {
    while (s->bitcnt <= 24 && s->in_pos < s->in_size) {
        s->bitbuf |= (uint32_t)s->in[s->in_pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
}

/* Drops the partial byte in the bit buffer and returns whole lookahead bytes to the input. */
static void unread_bytes(state *s) {
    s->in_pos -= (size_t)(s->bitcnt / 8);
    s->bitbuf = 0;
    s->bitcnt = 0;
}

/* Decodes one symbol; -1 when the bits match no code (only possible for incomplete codes)
 * or the input ended. */
static int decode(state *s, const huffman *h) {
    refill(s);
    unsigned entry = h->fast[s->bitbuf & ((1u << FASTBITS) - 1)];
    int elen = (int)(entry & 15);
    if (elen != 0 && elen <= s->bitcnt) {
        s->bitbuf >>= elen;
        s->bitcnt -= elen;
        return (int)(entry >> 4);
    }
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        code |= bits(s, 1);
        if (s->eof) return -1;
        int count = h->count[len];
        if (code - count < first) return h->symbol[index + (code - first)];
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

/* Builds a decoding table from code lengths. Returns 0 for a complete code, > 0 for an
 * incomplete one, < 0 for an over-subscribed one (always invalid). */
static int construct(huffman *h, const short *length, int n) {
    short offs[MAXBITS + 1];
    memset(h->fast, 0, sizeof h->fast);
    for (int len = 0; len <= MAXBITS; len++) h->count[len] = 0;
    for (int sym = 0; sym < n; sym++) h->count[length[sym]]++;
    if (h->count[0] == n) return 0; /* no codes: complete, but decoding will fail */
    int left = 1;
    for (int len = 1; len <= MAXBITS; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0) return left;
    }
    offs[1] = 0;
    for (int len = 1; len < MAXBITS; len++) offs[len + 1] = (short)(offs[len] + h->count[len]);
    for (int sym = 0; sym < n; sym++)
        if (length[sym] != 0) h->symbol[offs[length[sym]]++] = (short)sym;
    /* Fast table: canonical codes (RFC 1951 3.2.2) of length <= FASTBITS, bit-reversed
     * because DEFLATE sends Huffman codes MSB first into an LSB-first stream. */
    int next_code[MAXBITS + 1];
    int code = 0;
    next_code[0] = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        code = (code + h->count[len - 1] * (len > 1)) << 1;
        next_code[len] = code;
    }
    for (int sym = 0; sym < n; sym++) {
        int len = length[sym];
        if (len == 0) continue;
        int c = next_code[len]++;
        if (len > FASTBITS) continue;
        unsigned rev = 0;
        for (int b = 0; b < len; b++) rev |= (unsigned)((c >> b) & 1) << (len - 1 - b);
        for (unsigned fill = rev; fill < (1u << FASTBITS); fill += 1u << len)
            h->fast[fill] = (uint16_t)(sym << 4 | len);
    }
    return left;
}

static polyp_status stored(state *s, polyp_error *err) {
    unread_bytes(s); /* a stored block starts at the next byte boundary */
    if (s->in_size - s->in_pos < 4)
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream ends inside a stored block header");
    unsigned len = s->in[s->in_pos] | (unsigned)s->in[s->in_pos + 1] << 8;
    unsigned nlen = s->in[s->in_pos + 2] | (unsigned)s->in[s->in_pos + 3] << 8;
    s->in_pos += 4;
    if (len != (~nlen & 0xFFFFu))
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stored block length %u does not match its complement",
                          len);
    if (s->in_size - s->in_pos < len)
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream ends inside a stored block");
    if (s->out_cap - s->out_len < len)
        return polyp_fail(err, POLYP_ERR_LIMIT, "deflate: output exceeds the declared %zu bytes", s->out_cap);
    memcpy(s->out + s->out_len, s->in + s->in_pos, len);
    s->out_len += len;
    s->in_pos += len;
    return POLYP_OK;
}

static const short length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const short dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const short dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                     6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static polyp_status codes(state *s, const huffman *lencode, const huffman *distcode, polyp_error *err) {
    for (;;) {
        int sym = decode(s, lencode);
        if (sym < 0)
            return polyp_fail(err, POLYP_ERR_FORMAT, s->eof ? "deflate: stream is truncated"
                                                            : "deflate: invalid literal/length code");
        if (sym < 256) {
            if (s->out_len == s->out_cap)
                return polyp_fail(err, POLYP_ERR_LIMIT, "deflate: output exceeds the declared %zu bytes", s->out_cap);
            s->out[s->out_len++] = (unsigned char)sym;
            continue;
        }
        if (sym == 256) return POLYP_OK;
        sym -= 257;
        if (sym >= 29) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: invalid length symbol %d", sym + 257);
        size_t len = (size_t)length_base[sym] + (size_t)bits(s, length_extra[sym]);
        int dsym = decode(s, distcode);
        if (dsym < 0 || dsym >= 30)
            return polyp_fail(err, POLYP_ERR_FORMAT, s->eof ? "deflate: stream is truncated"
                                                             : "deflate: invalid distance code");
        size_t dist = (size_t)dist_base[dsym] + (size_t)bits(s, dist_extra[dsym]);
        if (s->eof) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream is truncated");
        if (dist > s->out_len)
            return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: distance %zu reaches before the start of the output",
                              dist);
        if (s->out_cap - s->out_len < len)
            return polyp_fail(err, POLYP_ERR_LIMIT, "deflate: output exceeds the declared %zu bytes", s->out_cap);
        /* Byte by byte: source and destination overlap when dist < len (run-length copies). */
        unsigned char *dst = s->out + s->out_len;
        const unsigned char *src = dst - dist;
        for (size_t i = 0; i < len; i++) dst[i] = src[i];
        s->out_len += len;
    }
}

static polyp_status fixed(state *s, polyp_error *err) {
    huffman lencode, distcode;
    short lengths[FIXLCODES];
    int sym = 0;
    for (; sym < 144; sym++) lengths[sym] = 8;
    for (; sym < 256; sym++) lengths[sym] = 9;
    for (; sym < 280; sym++) lengths[sym] = 7;
    for (; sym < FIXLCODES; sym++) lengths[sym] = 8;
    construct(&lencode, lengths, FIXLCODES);
    for (sym = 0; sym < MAXDCODES; sym++) lengths[sym] = 5;
    construct(&distcode, lengths, MAXDCODES);
    return codes(s, &lencode, &distcode, err);
}

static polyp_status dynamic(state *s, polyp_error *err) {
    static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    short lengths[MAXLCODES + MAXDCODES];
    huffman lencode, distcode;
    int nlen = bits(s, 5) + 257;
    int ndist = bits(s, 5) + 1;
    int ncode = bits(s, 4) + 4;
    if (s->eof) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream is truncated");
    if (nlen > MAXLCODES || ndist > MAXDCODES)
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: dynamic block declares %d/%d codes", nlen, ndist);
    int index;
    for (index = 0; index < ncode; index++) lengths[order[index]] = (short)bits(s, 3);
    for (; index < 19; index++) lengths[order[index]] = 0;
    if (s->eof) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream is truncated");
    if (construct(&lencode, lengths, 19) != 0)
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: invalid code-length code");
    index = 0;
    while (index < nlen + ndist) {
        int sym = decode(s, &lencode);
        if (sym < 0)
            return polyp_fail(err, POLYP_ERR_FORMAT, s->eof ? "deflate: stream is truncated"
                                                            : "deflate: invalid code-length symbol");
        if (sym < 16) {
            lengths[index++] = (short)sym;
            continue;
        }
        short len = 0;
        int repeat;
        if (sym == 16) {
            if (index == 0)
                return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: length repeat with no previous length");
            len = lengths[index - 1];
            repeat = 3 + bits(s, 2);
        } else if (sym == 17) {
            repeat = 3 + bits(s, 3);
        } else {
            repeat = 11 + bits(s, 7);
        }
        if (s->eof) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream is truncated");
        if (index + repeat > nlen + ndist)
            return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: code lengths overrun the declared count");
        while (repeat--) lengths[index++] = len;
    }
    if (lengths[256] == 0) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: block has no end-of-block code");
    /* Incomplete codes are allowed only when a single code of length 1 is all there is. */
    int e = construct(&lencode, lengths, nlen);
    if (e < 0 || (e > 0 && nlen - lencode.count[0] != 1))
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: invalid literal/length code lengths");
    e = construct(&distcode, lengths + nlen, ndist);
    if (e < 0 || (e > 0 && ndist - distcode.count[0] != 1))
        return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: invalid distance code lengths");
    return codes(s, &lencode, &distcode, err);
}

polyp_status polyp_inflate(const void *in, size_t in_size, void *out, size_t out_cap, size_t *out_len,
                           size_t *in_used, polyp_error *err) {
    if (out_len) *out_len = 0;
    if (in_used) *in_used = 0;
    if ((!in && in_size) || (!out && out_cap) || !out_len)
        return polyp_fail(err, POLYP_ERR_INVALID_ARG, "deflate: NULL buffer");
    state s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.in_size = in_size;
    s.out = out;
    s.out_cap = out_cap;
    int last;
    do {
        last = bits(&s, 1);
        int type = bits(&s, 2);
        if (s.eof) return polyp_fail(err, POLYP_ERR_FORMAT, "deflate: stream is truncated");
        polyp_status st;
        if (type == 0) st = stored(&s, err);
        else if (type == 1) st = fixed(&s, err);
        else if (type == 2) st = dynamic(&s, err);
        else st = polyp_fail(err, POLYP_ERR_FORMAT, "deflate: invalid block type 3");
        *out_len = s.out_len;
        if (st != POLYP_OK) return st;
    } while (!last);
    if (in_used) *in_used = s.in_pos - (size_t)(s.bitcnt / 8);
    return POLYP_OK;
}
