/* mp4.c - a job's video file: deterministic bytes, Range, by-reference body. */
#include "mp4.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#define PAT_LEN  65536
#define HEAD_LEN 32

static unsigned char pattern[PAT_LEN];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_init(void)
{
    for (unsigned k = 0; k < PAT_LEN; k++)
        pattern[k] = (unsigned char)((k * 131u + (k >> 8)) & 0xffu);
}

/* The first 32 bytes: ftyp box (24) and the mdat header (8). */
static void head(unsigned char out[HEAD_LEN], long total)
{
    static const unsigned char ftyp[24] = {0x00, 0x00, 0x00, 0x18, 'f',  't',  'y',  'p',
                                           'i',  's',  'o',  'm',  0x00, 0x00, 0x02, 0x00,
                                           'i',  's',  'o',  'm',  'm',  'p',  '4',  '1'};
    uint32_t mdat = (uint32_t)(total - 24);

    memcpy(out, ftyp, sizeof(ftyp));
    out[24] = (unsigned char)(mdat >> 24);
    out[25] = (unsigned char)(mdat >> 16);
    out[26] = (unsigned char)(mdat >> 8);
    out[27] = (unsigned char)mdat;
    memcpy(out + 28, "mdat", 4);
}

/* Appends bytes [from, to) of the file to out. */
static void add_bytes(struct evbuffer *out, long total, long from, long to)
{
    unsigned char h[HEAD_LEN];

    if (from < HEAD_LEN) {
        long end = to < HEAD_LEN ? to : HEAD_LEN;
        head(h, total);
        evbuffer_add(out, h + from, (size_t)(end - from));
        from = end;
    }
    while (from < to) {
        long off = from % PAT_LEN;
        long n = PAT_LEN - off;
        if (n > to - from)
            n = to - from;
        evbuffer_add_reference(out, pattern + off, (size_t)n, NULL, NULL);
        from += n;
    }
}

/* Parses a decimal of at most 18 digits at *p; -1 if none. */
static long num(const char **p)
{
    long v = 0;
    int digits = 0;

    while (**p >= '0' && **p <= '9' && digits < 18) {
        v = v * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    return digits ? v : -1;
}

typedef enum { RANGE_NONE, RANGE_OK, RANGE_BAD } range_t;

/* A single "bytes=" range of a file of total bytes into [*from, *to). */
static range_t parse_range(const char *h, long total, long *from, long *to)
{
    const char *p = h;
    long a, b;

    if (h == NULL || strncmp(p, "bytes=", 6) != 0)
        return RANGE_NONE;
    p += 6;
    while (*p == ' ')
        p++;
    if (*p == '-') {
        p++;
        if ((b = num(&p)) < 0 || *p != '\0')
            return RANGE_NONE;
        if (b == 0)
            return RANGE_BAD;
        *from = b >= total ? 0 : total - b;
        *to = total;
        return RANGE_OK;
    }
    if ((a = num(&p)) < 0 || *p != '-')
        return RANGE_NONE;
    p++;
    b = *p == '\0' ? (a > total - 1 ? a : total - 1) : num(&p);
    if (b < 0 || *p != '\0' || b < a)
        return RANGE_NONE;
    if (a >= total)
        return RANGE_BAD;
    *from = a;
    *to = b >= total ? total : b + 1;
    return RANGE_OK;
}

static void add_header(evhtp_request_t *req, const char *k, const char *v)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new(k, v, 0, 1));
}

void mock_mp4_reply(evhtp_request_t *req, long total)
{
    const char *rh = evhtp_header_find(req->headers_in, "Range");
    long from = 0, to;
    char cr[96];
    range_t r;

    pthread_once(&pattern_once, pattern_init);
    if (total < HEAD_LEN)
        total = HEAD_LEN;
    to = total;
    r = parse_range(rh, total, &from, &to);
    add_header(req, "Content-Type", "video/mp4");
    add_header(req, "Accept-Ranges", "bytes");
    if (r == RANGE_BAD) {
        snprintf(cr, sizeof(cr), "bytes */%ld", total);
        add_header(req, "Content-Range", cr);
        evhtp_send_reply(req, EVHTP_RES_RANGENOTSC);
        return;
    }
    add_bytes(req->buffer_out, total, from, to);
    if (r == RANGE_OK) {
        snprintf(cr, sizeof(cr), "bytes %ld-%ld/%ld", from, to - 1, total);
        add_header(req, "Content-Range", cr);
        evhtp_send_reply(req, EVHTP_RES_PARTIAL);
    } else {
        evhtp_send_reply(req, EVHTP_RES_OK);
    }
}
