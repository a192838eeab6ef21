/* http1.h - a minimal incremental HTTP/1.x response parser for the client
 * side: status line, headers (Content-Length, Transfer-Encoding: chunked,
 * Connection, Content-Type), bodies framed by Content-Length, by chunked
 * encoding (extensions and trailers skipped) or by the connection's end, 1xx
 * interim responses skipped, keep-alive decided per HTTP/1.0 and 1.1 rules.
 * Bytes may be cut anywhere; body bytes are handed to a callback without
 * copying. One parser per connection, reset per response; its line buffer is
 * kept across responses. */
#ifndef LB_HTTP1_H
#define LB_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "line.h"

#define LB_H1_MAX_HEAD (64u * 1024u) /* status line + headers */

typedef enum {
    LB_H1_STATUS,
    LB_H1_HEADER,
    LB_H1_BODY_LEN, /* Content-Length bytes left in `left` */
    LB_H1_CHUNK_SIZE,
    LB_H1_CHUNK_DATA, /* `left` bytes of this chunk left */
    LB_H1_CHUNK_CRLF, /* the line end after a chunk's data */
    LB_H1_TRAILER,
    LB_H1_BODY_EOF, /* no framing: the body ends with the connection */
    LB_H1_DONE,
    LB_H1_ERROR,
} lb_h1_state_t;

/* Body bytes of the response (after chunked decoding); valid during the call.
 * Return 0, or -1 to stop parsing with an error. */
typedef int (*lb_h1_body_fn)(void *arg, const char *p, size_t n);
/* Called once when the head is complete (status and headers known). */
typedef void (*lb_h1_head_fn)(void *arg);

typedef struct {
    lb_h1_state_t state;
    int status; /* 0 until the status line is read */
    int minor;  /* HTTP/1.minor */
    bool chunked;
    bool has_length;
    bool keep_alive;   /* the connection may carry another request */
    bool event_stream; /* Content-Type: text/event-stream */
    bool conn_close, conn_keep;
    uint64_t length; /* Content-Length */
    uint64_t left;
    size_t head_bytes;
    lb_line_t line;
    const char *error; /* why LB_H1_ERROR (static string) */
} lb_h1_t;

void lb_h1_init(lb_h1_t *h);
/* Ready for the next response on the same connection. */
void lb_h1_reset(lb_h1_t *h);
void lb_h1_free(lb_h1_t *h);
/* Parses up to n bytes. Returns how many were consumed: all of them unless the
 * response ended (state DONE; the rest belongs to no request) or the parser
 * failed (state ERROR). */
size_t lb_h1_feed(lb_h1_t *h, const char *p, size_t n, lb_h1_head_fn head, lb_h1_body_fn body,
                  void *arg);
/* The connection reached EOF: completes a body framed by EOF. Returns true if
 * the response is now complete. */
bool lb_h1_eof(lb_h1_t *h);
/* True once any byte of the response was parsed. */
bool lb_h1_started(const lb_h1_t *h);

#endif
