/* conn.h - one client connection: a non-blocking TCP socket (TCP_NODELAY) in
 * a libevent bufferevent on its worker's event_base, sending the pre-built
 * request and parsing the response (HTTP/1.1 keep-alive, SSE), with a
 * per-request timeout. It records each measured request's outcome in its
 * worker's stats and then hands itself back to the worker (lb_worker_next),
 * which decides what it does next. A connection lives as long as its worker;
 * its socket comes and goes (reconnected on demand). Only its worker's thread
 * touches it. */
#ifndef LB_CONN_H
#define LB_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "http1.h"
#include "sse.h"
#include "stream.h"

struct bufferevent;
struct event;
typedef struct lb_worker lb_worker_t;
typedef struct lb_conn lb_conn_t;

struct lb_conn {
    lb_worker_t *w;
    struct bufferevent *bev;     /* NULL while closed */
    struct ssl_session_st *sess; /* https: the last session, resumed on reconnect */
    struct event *timer;         /* request timeout, retry delay or deferred failure */
    lb_conn_t *next;             /* worker's idle/spare stack */
    bool connected;              /* TCP connect completed */
    bool busy;                   /* a request is in flight */
    bool measured;               /* ... and it counts */
    bool resent;                 /* ... and was already resent once */
    bool retry_pending;          /* timer: ask the worker again (closed loop retry) */
    bool fail_pending;           /* timer: report a connect failure */
    bool is_stream;              /* 2xx text/event-stream response */
    bool got_event;
    uint32_t reqs;     /* requests sent on this socket */
    uint64_t sched_us; /* latency origin: scheduled (open) or send (closed) time */
    uint64_t now_us;   /* time of the read being processed */
    uint64_t last_ev_us;
    lb_h1_t h1;
    lb_sse_t sse;
    lb_stream_t st;
};

/* Prepares c for worker w (allocates its timer). Returns 0 or -1. */
int lb_conn_init(lb_conn_t *c, lb_worker_t *w);
/* Closes the socket and frees what c owns (not c itself). */
void lb_conn_free(lb_conn_t *c);
/* Starts a request whose latency counts from sched_us; connects first if the
 * socket is closed. Every outcome, connect failures included, comes back
 * asynchronously through lb_worker_next. */
void lb_conn_send(lb_conn_t *c, uint64_t sched_us, bool measured);
/* Calls lb_worker_next(c) again after delay_us (closed-loop reconnect pause). */
void lb_conn_retry_later(lb_conn_t *c, uint64_t delay_us);
/* The run ended: a measured request in flight counts as unfinished; the
 * socket is closed. */
void lb_conn_abandon(lb_conn_t *c);

#endif
