/* tconn.h - one accepted TLS connection (tls.c) and what h2.c needs of it.
 * Owned by its worker's loop; freed only by mock_tconn_close. */
#ifndef MOCK_TCONN_H
#define MOCK_TCONN_H

#include <stdbool.h>

struct bufferevent;
struct event_base;
typedef struct mock_tls_worker mock_tls_worker_t;
typedef struct mock_h2 mock_h2_t;

typedef struct mock_tconn {
    mock_tls_worker_t *w;
    struct event_base *base;
    struct bufferevent *bev;   /* the TLS side (bufferevent_openssl) */
    struct bufferevent *inner; /* HTTP/1.1: the pipe to the plain listener */
    mock_h2_t *h2;             /* HTTP/2: the session */
    struct mock_tconn *prev, *next;
    bool closing; /* close once the TLS output is flushed */
} mock_tconn_t;

/* A new bufferevent connecting to the plain listener (callbacks unset,
 * nothing enabled). NULL on failure. */
struct bufferevent *mock_inner_connect(struct event_base *base);

/* A keep-alive connection to the plain listener from the worker's idle pool,
 * else a new one (mock_inner_connect). The caller sets its callbacks. */
struct bufferevent *mock_inner_get(mock_tls_worker_t *w);

/* Puts a connection whose last reply is complete (keep-alive, nothing
 * unread) into the worker's idle pool, or frees it when the pool is full. */
void mock_inner_put(mock_tls_worker_t *w, struct bufferevent *b);

/* Frees the connection now: its HTTP/2 session, inner connections, TLS. */
void mock_tconn_close(mock_tconn_t *c);

/* Closes (with a TLS close_notify) once the output is written. */
void mock_tconn_close_flushed(mock_tconn_t *c);

#endif
