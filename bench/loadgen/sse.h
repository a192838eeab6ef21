/* sse.h - a split-safe Server-Sent Events parser: bytes in (cut anywhere),
 * events out. Follows the WHATWG rules that matter here: lines end with LF,
 * CR or CRLF; "data:" lines of one event are joined with '\n'; "event:" names
 * the event; lines starting with ':' are comments; a blank line dispatches an
 * event if it has data. Buffers (the carried line and the event's data) are
 * allocated on first use, grow to what the stream needs and are kept across
 * requests of a connection. */
#ifndef LB_SSE_H
#define LB_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "line.h"

#define LB_SSE_MAX_EVENT (1u << 20) /* longer lines or events are an error */
#define LB_SSE_MAX_NAME  64

/* Called once per dispatched event; the spans are valid during the call. */
typedef void (*lb_sse_event_fn)(void *arg, const char *name, size_t name_len, const char *data,
                                size_t data_len);

typedef struct {
    lb_line_t line;
    char *data; /* owned */
    size_t data_len, data_cap;
    bool has_data;
    char name[LB_SSE_MAX_NAME];
    size_t name_len;
} lb_sse_t;

void lb_sse_init(lb_sse_t *s);
/* Ready for a new stream (keeps the buffers). */
void lb_sse_reset(lb_sse_t *s);
void lb_sse_free(lb_sse_t *s);
/* Parses n bytes, calling fn for each complete event. Returns 0, or -1 when
 * a line or event is longer than LB_SSE_MAX_EVENT (or memory ran out). */
int lb_sse_feed(lb_sse_t *s, const char *p, size_t n, lb_sse_event_fn fn, void *arg);

#endif
