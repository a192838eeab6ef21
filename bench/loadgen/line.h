/* line.h - split-safe line assembly for the HTTP and SSE parsers.
 *
 * lb_line_take() returns the next complete line from the bytes at *p, without
 * its terminator. A line wholly inside the input is returned in place (no
 * copy); only a line cut by a read boundary is carried over in the
 * assembler's own buffer, which grows on demand up to `max` and is kept for
 * reuse (freed by lb_line_free). Terminators: LF, with a CR before it removed
 * (HTTP); in SSE mode also a lone CR, with the LF of a CRLF cut across two
 * reads skipped. */
#ifndef LB_LINE_H
#define LB_LINE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *buf;  /* carried partial line; owned */
    size_t len; /* bytes carried */
    size_t cap;
    size_t max;   /* longest line accepted */
    bool sse;     /* CR alone also ends a line */
    bool skip_lf; /* SSE: the previous line ended with CR */
} lb_line_t;

typedef enum { LB_LINE_MORE, LB_LINE_OK, LB_LINE_TOO_LONG } lb_line_rc_t;

void lb_line_init(lb_line_t *l, size_t max, bool sse);
/* Forgets any carried bytes (keeps the buffer). */
void lb_line_reset(lb_line_t *l);
void lb_line_free(lb_line_t *l);
/* Consumes bytes from *p (up to end). LB_LINE_OK: *line and *len give the line,
 * valid until the next call; *p is past its terminator. LB_LINE_MORE: every
 * byte was consumed into the carry buffer. LB_LINE_TOO_LONG: the line
 * exceeds max (or memory ran out). */
lb_line_rc_t lb_line_take(lb_line_t *l, const char **p, const char *end, const char **line,
                          size_t *len);

#endif
