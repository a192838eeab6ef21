/* h1resp.h - an incremental HTTP/1.1 response parser for h2.c: status line,
 * headers, then the body as it arrives (Content-Length, chunked with the
 * chunk framing removed, or up to the close). */
#ifndef MOCK_H1RESP_H
#define MOCK_H1RESP_H

#include <stdbool.h>

struct evbuffer;

#define MOCK_H1_MAX_HDRS 64

typedef enum {
    MOCK_H1_MORE = 0, /* needs more input */
    MOCK_H1_HEADERS,  /* status and headers complete (returned once) */
    MOCK_H1_DONE,     /* message complete */
    MOCK_H1_ERROR,    /* not HTTP/1.x, or too long */
} mock_h1_rc_t;

typedef struct {
    int state;
    int status;
    long long left;   /* bytes left of the body or the current chunk */
    bool until_close; /* no length, not chunked: the body ends with the connection */
    bool head;        /* set by the caller: the answer to a HEAD has no body */
    char *names[MOCK_H1_MAX_HDRS];
    char *values[MOCK_H1_MAX_HDRS];
    int nhdr;
} mock_h1resp_t;

/* Consumes input from in; moves body bytes to body. Call again after
 * MOCK_H1_HEADERS. */
mock_h1_rc_t mock_h1resp_parse(mock_h1resp_t *p, struct evbuffer *in, struct evbuffer *body);

/* The body was up to the close and the connection closed: complete? */
bool mock_h1resp_eof_ok(const mock_h1resp_t *p);

void mock_h1resp_free(mock_h1resp_t *p);

#endif
