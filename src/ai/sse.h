/* sse.h - incremental Server-Sent Events parser.
 *
 * Feed it bytes in any split; it calls on_event once per complete event with
 * the same result whatever the split. An event that arrives whole in one
 * feed is parsed in place; only one split across feeds is copied into the
 * parser's carry-over buffer. The views passed to on_event are valid only
 * during the call. Handles \n, \r\n and \r line ends, "event:", "data:"
 * (multi-line data joined with \n), comments (":...") and ignores "id:" and
 * "retry:".
 *
 * One exception to byte-exact raw: when the \r\n that ends an event is split
 * between two feeds, the event is dispatched at the \r and the \n is dropped
 * (the forwarded bytes remain valid SSE). */
#ifndef LX_AI_SSE_H
#define LX_AI_SSE_H

#include "core/buf.h"

typedef struct {
    lx_str_t event; /* empty if the event had no "event:" line */
    lx_str_t data;
    /* The raw bytes of the whole event as received (lines and the blank line
     * that ended it), for byte-exact pass-through. */
    lx_str_t raw;
} lx_sse_event_t;

/* Return LX_OK to go on, anything else to stop parsing (returned by feed). */
typedef int (*lx_sse_cb)(const lx_sse_event_t *ev, void *arg);

/* lx_sse_feed's result when one event grows past max_event bytes. */
#define LX_SSE_TOO_BIG (-100)

typedef struct {
    lx_buf_t raw;      /* an event split across feeds: its bytes so far */
    lx_buf_t data;     /* joined data lines (an event with more than one) */
    size_t line_start; /* where the current line begins, from the event's start */
    bool has_data;
    int ndata;                   /* data lines in the event so far */
    size_t data1_off, data1_len; /* the first data line's value, in the event */
    size_t event_off, event_len; /* the last "event:" line's value, in the event */
    bool last_cr;                /* the last feed ended with a \r */
    size_t max_event; /* the longest event (raw bytes, line ends included); 0: no limit */
    lx_sse_cb cb;
    void *arg;
} lx_sse_parser_t;

void lx_sse_init(lx_sse_parser_t *p, lx_sse_cb cb, void *arg);
void lx_sse_free(lx_sse_parser_t *p);
/* LX_OK, what a callback returned to stop, or LX_SSE_TOO_BIG once the
 * event being read is longer than max_event (nothing of it was handed on;
 * the parser must not be fed again). Whatever the feeds' sizes, no more
 * than max_event bytes (plus one feed) are held. */
int lx_sse_feed(lx_sse_parser_t *p, const char *buf, size_t n);
/* Bytes held for an unfinished event. */
size_t lx_sse_pending(const lx_sse_parser_t *p);

#endif
