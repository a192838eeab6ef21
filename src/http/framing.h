/* framing.h - a strict HTTP/1.x request framing check that runs ahead of
 * libevhtp's parser.
 *
 * libevhtp decides where a request ends from headers it reads loosely: the
 * last of two Content-Length values, a Transfer-Encoding other than chunked
 * ignored, obs-fold accepted, chunk sizes that overflow. Any of these lets
 * the bytes of one request run as another (smuggling). The server feeds
 * every byte a client sends through this checker before evhtp parses it;
 * the checker follows the same message boundaries (head, Content-Length or
 * chunked body, trailers, the next pipelined request) and stops at the first
 * byte that RFC 9112 does not allow, so evhtp only ever sees framing both
 * agree on. It does not build anything: no allocation, constant state.
 *
 * Ownership: the caller owns the lx_framing_t (one per client connection,
 * zeroed by lx_framing_init) and the bytes it feeds. */
#ifndef LX_HTTP_FRAMING_H
#define LX_HTTP_FRAMING_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_FRAMING_ENDS 16

typedef struct {
    uint8_t state;
    uint8_t nends;                  /* requests completed (mod 256), the last ones in ends[] */
    uint8_t hdr;                    /* which framing header the current line is */
    uint8_t name_len;               /* bytes of the current header name (saturates) */
    char name[17];                  /* its first bytes, lowercased */
    uint8_t te_pos;                 /* bytes of "chunked" matched in a Transfer-Encoding value */
    uint8_t digits;                 /* digits of the Content-Length value or chunk size */
    uint8_t sp;                     /* request-line spaces, or whitespace seen inside a value */
    bool http10;                    /* the request line said HTTP/1.0 */
    bool has_cl;                    /* a Content-Length header was seen */
    bool chunked;                   /* Transfer-Encoding: chunked was seen */
    bool trailers;                  /* reading the trailer section of a chunked body */
    uint32_t line_len;              /* bytes of the current line */
    uint64_t cl;                    /* Content-Length value (the first one) */
    uint64_t num;                   /* the number being read */
    uint64_t left;                  /* body bytes still to skip */
    uint64_t fed;                   /* bytes of the stream checked so far */
    uint64_t head_start;            /* stream offset of the head (or trailers) being read */
    uint64_t ends[LX_FRAMING_ENDS]; /* stream offsets where requests ended, not yet consumed */
    lx_err_t err;                   /* after LX_ERROR: LX_E_BAD_REQUEST or LX_E_NOT_IMPLEMENTED */
    const char *why;                /* after LX_ERROR: a static explanation */
} lx_framing_t;

void lx_framing_init(lx_framing_t *f);

/* Checks the next n bytes of the client's stream. LX_OK: nothing wrong so
 * far; LX_ERROR: the stream is not acceptable HTTP/1.x (f->err, f->why), and
 * stays so for every later call. */
int lx_framing_feed(lx_framing_t *f, const char *p, size_t n);

/* Whether the checker is between requests (no head or body half-read). */
bool lx_framing_idle(const lx_framing_t *f);
/* Whether the stream so far ends inside a request head or a trailer
 * section (libevhtp's parser skips bytes when a head is split across reads:
 * upstream issue #128; the server holds such a tail back). */
bool lx_framing_in_head(const lx_framing_t *f);
/* While in a head: the stream offset where it began (bytes before it
 * belong to requests already whole). */
uint64_t lx_framing_head_start(const lx_framing_t *f);
/* The first offset after `from` where a request ended, or UINT64_MAX;
 * forgets the ends up to `from` (the caller's reads only move forward).
 * Only the first LX_FRAMING_ENDS ends not yet asked for are kept. */
uint64_t lx_framing_end_after(lx_framing_t *f, uint64_t from);
/* Bytes of the stream checked so far. */
uint64_t lx_framing_fed(const lx_framing_t *f);

#endif
