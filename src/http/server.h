/* server.h - one HTTP server per worker loop (the only module that includes
 * evhtp.h).
 *
 * The server owns its evhtp instance, the listening socket (SO_REUSEPORT, so
 * every worker binds the same port and the kernel spreads connections), the
 * list of open connections and every lx_req_t. Handlers borrow a request from
 * the call that hands it to them until they finish it (see request.h). */
#ifndef LX_HTTP_SERVER_H
#define LX_HTTP_SERVER_H

#include "core/config.h"
#include "http/request.h"

#include <stdatomic.h>

struct event_base;
typedef struct lx_http_server lx_http_server_t;

/* A handler returns LX_OK once it has replied, or LX_AGAIN if it will reply
 * later (the request then stays open until lx_req_finish). */
typedef int (*lx_handler_fn)(lx_req_t *req, void *arg);

enum {
    LX_ROUTE_PREFIX = 1 << 0,          /* path is a prefix, not an exact match */
    LX_ROUTE_ANTHROPIC_ERRORS = 1 << 1 /* errors in the Anthropic shape */
};

typedef struct {
    const char *method; /* "GET", "POST", ... or NULL for any */
    const char *path;
    lx_handler_fn fn;
    void *arg;
    unsigned flags;
} lx_route_t;

/* Counters another thread may read (relaxed atomics, written by one loop). */
typedef struct {
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t connections_open;
    _Atomic uint64_t requests;
    _Atomic uint64_t requests_active;
    _Atomic uint64_t rejected;      /* 408/413/415/431/400/501 before a handler ran */
    _Atomic uint64_t refused;       /* connections answered 503 at limits.max_connections */
    _Atomic uint64_t accept_errors; /* accept() failures (EMFILE, ENFILE, ...) */
} lx_http_stats_t;

/* routes must outlive the server. */
lx_http_server_t *lx_http_server_new(struct event_base *base, const lx_config_t *cfg,
                                     const lx_route_t *routes, size_t nroutes, int worker_id);
int lx_http_server_listen(lx_http_server_t *srv);

/* Stops accepting and closes idle connections; in-flight requests go on and
 * their connections close when they end. on_idle runs (on the loop) once no
 * request is left. */
void lx_http_server_drain(lx_http_server_t *srv, void (*on_idle)(void *), void *arg);
/* Closes every connection now (in-flight handlers see their abort callback). */
void lx_http_server_close_all(lx_http_server_t *srv);
/* Closes every connection and frees the server. A connection's bufferevent
 * (evhtp's defer their callbacks) is released only once the deferred
 * callbacks still queued for it have run: after this, and before
 * event_base_free, the base's owner runs one more loop pass (worker.c). */
void lx_http_server_free(lx_http_server_t *srv);

/* Client connections one worker accepts before answering 503: its share of
 * limits.max_connections, or, when that is 0, what its fd limit allows. */
int lx_http_conn_limit(const lx_config_t *cfg);

const lx_http_stats_t *lx_http_server_stats(const lx_http_server_t *srv);
int lx_http_server_worker_id(const lx_http_server_t *srv);
bool lx_http_server_draining(const lx_http_server_t *srv);

#endif
