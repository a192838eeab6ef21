/* internal.h - structures private to src/http (server.c, request.c,
 * closer.c). Nothing outside src/http includes this file. */
#ifndef LX_HTTP_INTERNAL_H
#define LX_HTTP_INTERNAL_H

#include "core/buf.h"
#include "core/config.h"
#include "core/id.h"
#include "http/framing.h"
#include "http/server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <evhtp/evhtp.h>

typedef struct lx_conn lx_conn_t;

typedef enum {
    CONN_IDLE,   /* keep-alive, waiting for the next request */
    CONN_HEAD,   /* reading a request head */
    CONN_BODY,   /* reading a request body */
    CONN_ACTIVE, /* a handler owns the request */
} conn_phase_t;

struct lx_conn {
    lx_http_server_t *srv;
    evhtp_connection_t *ec;
    lx_conn_t *prev, *next;
    struct event timer; /* head deadline, or keep-alive idle deadline */
    lx_req_t *req;
    conn_phase_t phase;
    int nheaders;
    size_t header_bytes;
    const char *known[LX_HDR_COUNT]; /* of the head being read (hook_header) */
    bool form_body;                  /* the head being read has a form-urlencoded Content-Type */
    bool has_te;                     /* ... and a Transfer-Encoding (chunked) */
    lx_framing_t framing; /* every byte the client sends, checked before evhtp parses it */
    struct evbuffer_cb_entry *framing_entry;
};

typedef enum {
    REQ_READING,   /* body still arriving */
    REQ_HANDLING,  /* handler running or waiting */
    REQ_STREAMING, /* response head sent, body going out */
    REQ_DONE,      /* finished: the reply is complete or abandoned */
} req_state_t;

/* Headers a handler adds to its reply. A limited key's stream already has
 * 13 (x-llmux-*, six x-ratelimit-*, Retry-After, Cache-Control); past the
 * cap lx_req_set_header / lx_req_add_header refuse (LX_ERROR). */
#define LX_REQ_MAX_HEADERS 32

struct lx_req {
    lx_conn_t *conn;
    evhtp_request_t *r;
    const lx_route_t *route;
    int64_t t_start_us;
    req_state_t state;
    int status;
    lx_err_t err; /* the reason of an error reply (LX_E_NONE otherwise) */
    size_t bytes_out;
    size_t body_len;
    bool paused;
    bool finished;
    bool client_gone;
    bool http10;
    bool keepalive;
    bool anthropic;
    bool chunked;
    bool corked; /* stream writes collect in the worker's cork_buf until lx_req_uncork */
    const char *known[LX_HDR_COUNT]; /* values in r->headers_in */
    char id[LX_REQUEST_ID_MAX + 1];
    char key_id[64];
    /* Extra response headers: names and values are NUL-terminated strings
     * in hdr_store, at these offsets (one buffer, not two strdups each). */
    int nheaders;
    uint32_t header_name[LX_REQ_MAX_HEADERS];
    uint32_t header_value[LX_REQ_MAX_HEADERS];
    uint16_t header_name_len[LX_REQ_MAX_HEADERS]; /* set_header compares these first */
    lx_buf_t hdr_store;
    /* evhtp's bufferevent callbacks, held aside while we watch a paused
     * connection ourselves (see server.c: watch_paused). */
    bufferevent_data_cb saved_readcb, saved_writecb;
    bufferevent_event_cb saved_eventcb;
    void *saved_cbarg;
    bool watching;
    lx_req_cb on_abort;
    void *abort_arg;
    lx_req_cb on_drain;
    void *drain_arg;
    size_t low_water;
    struct evbuffer_cb_entry *drain_entry;
};

struct lx_http_server {
    struct event_base *base;
    const lx_config_t *cfg;
    evhtp_t *htp;
    const lx_route_t *routes;
    size_t nroutes;
    int worker_id;
    bool draining;
    lx_conn_t *conns; /* every open connection, for drain and shutdown */
    struct lingerer *lingering;
    int nlingering; /* at most LX_MAX_LINGERING; beyond, closes are immediate */
    void (*on_idle)(void *);
    void *on_idle_arg;
    struct event idle_check;
    lx_http_stats_t stats;
    lx_buf_t head_buf; /* response heads are rendered here (request.c) */
    /* The writes of the corked request (at most one: a cork lasts until
     * the loop is through the events at hand) collect here, not in a buffer
     * per open stream. cork_flush, made active by the first cork, sends
     * them once the callbacks already due have run. */
    lx_buf_t cork_buf;
    lx_req_t *cork_owner;
    struct event cork_flush;
    int nconns, max_conns; /* open client connections, and this worker's share of the limit */
    /* evhtp's own bufferevent callbacks (the same for every connection):
     * ours run first and call them (server.c: conn_readcb, conn_writecb). */
    bufferevent_data_cb evhtp_readcb, evhtp_writecb;
    lx_conn_t *alive_probe;    /* cleared when that connection is freed */
    struct event accept_pause; /* accepting resumes after a failed accept() */
    /* A bounded batch of connections per turn of the loop (server.c,
     * accept_batch): accept_turn, made active by a turn's first accept, runs
     * after the events already due, resets the count and, if the batch
     * filled and the listener was turned off, turns it on again. */
    struct event accept_turn;
    int accepted_in_turn;
    bool accept_held;      /* the listener is off until accept_turn */
    int64_t accept_log_ms; /* when accept errors were last logged */
    uint64_t accept_errors_unlogged;
};

/* request.c */
void lx_http_cork_flush_cb(evutil_socket_t fd, short what, void *arg);
lx_req_t *lx_req_new(lx_conn_t *c, evhtp_request_t *r);
/* Which lx_hdr_t a header name is, or LX_HDR_COUNT. */
lx_hdr_t lx_hdr_classify(const char *name, size_t len);
void lx_req_free(lx_req_t *req);
/* Renders a complete response (head + body) into out. */
void lx_render_response(lx_req_t *req, struct evbuffer *out, int status, const char *ctype,
                        const char *body, size_t len, bool close);
const char *lx_status_text(int status);

#define LX_MAX_LINGERING 1024

/* closer.c: writes a final response on a bufferevent we took from evhtp, then
 * closes it gracefully (lingering so the client reads the reply). */
void lx_closer_start(lx_http_server_t *srv, struct bufferevent *bev, struct evbuffer *response);
void lx_closer_free_all(lx_http_server_t *srv);

/* server.c: the connection's deadline timer, and its final error reply on
 * a socket taken from evhtp (c is freed; the caller makes evhtp let go of
 * the connection). */
void lx_conn_arm(lx_conn_t *c, int ms);
void lx_conn_reject(lx_conn_t *c, lx_err_t err, const char *message);

/* Whether the framing check refused what the client sent. */
static inline bool lx_conn_framing_bad(const lx_conn_t *c)
{
    return c->framing.why != NULL;
}

/* conn_input.c: starts the framing check and our read/write callbacks on a
 * new connection; stops the check on bev's input (bev may be the one taken
 * over from evhtp, which outlives c). */
void lx_conn_input_start(lx_conn_t *c);
void lx_conn_input_stop(lx_conn_t *c, struct bufferevent *bev);

/* server.c: while a request is paused, we watch its socket; this gives the
 * callbacks back to evhtp (before it resumes or frees the connection). */
void lx_req_unwatch(lx_req_t *req);

/* access log line for a finished request */
void lx_access_log(lx_req_t *req);

/* server.c: called by request.c when a request finished (for drain). */
void lx_server_request_done(lx_http_server_t *srv);

#endif
