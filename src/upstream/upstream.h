/* upstream.h - HTTP calls to model providers through one curl multi handle
 * per worker loop (the only module that includes curl.h).
 *
 * Ownership: lx_upstream_t belongs to its worker loop. An lx_up_call_t is
 * owned by the upstream module from lx_up_call_start until on_done returns
 * (or until lx_up_call_cancel): the caller may keep the pointer only in that
 * window. The request bytes (url, headers, body) are copied at start. Every
 * call ends with exactly one on_done, unless the caller cancels it first, in
 * which case no callback runs afterwards. Callbacks never run inside
 * lx_up_call_start. */
#ifndef LX_UPSTREAM_UPSTREAM_H
#define LX_UPSTREAM_UPSTREAM_H

#include "core/buf.h"
#include "core/config.h"
#include "core/netpolicy.h"

struct event_base;
typedef struct lx_upstream lx_upstream_t;
typedef struct lx_up_call lx_up_call_t;

typedef enum {
    LX_UP_OK = 0,         /* a complete HTTP response arrived (any status) */
    LX_UP_CONNECT_FAILED, /* could not connect / resolve / TLS */
    LX_UP_TIMEOUT_CONNECT,
    LX_UP_TIMEOUT_FIRST_BYTE,
    LX_UP_TIMEOUT_IDLE,
    LX_UP_TIMEOUT_TOTAL,
    LX_UP_BROKEN,     /* the connection broke mid-response */
    LX_UP_ABORTED,    /* our own on_data asked to stop */
    LX_UP_REFUSED,    /* the network policy refused every address of the host */
    LX_UP_TLS_VERIFY, /* the host's TLS certificate did not verify (or no CA file) */
    LX_UP__COUNT
} lx_up_outcome_t;

const char *lx_up_outcome_name(lx_up_outcome_t o);

typedef struct {
    lx_up_outcome_t outcome;
    int status;            /* HTTP status, 0 if none arrived */
    bool request_sent;     /* the whole request body reached the wire */
    int64_t first_byte_us; /* from start to the first body byte, or -1 */
    int64_t total_us;
    const char *error; /* curl's text for failures, else NULL */
    /* LX_UP_REFUSED: the refused address as text and the setting that
     * refused it (lx_net_verdict_why); NULL otherwise. */
    const char *refused_addr;
    const char *refused_why;
} lx_up_result_t;

typedef struct {
    /* The status line and headers are in. */
    void (*on_headers)(lx_up_call_t *call, int status, void *arg);
    /* A piece of the body. Return LX_OK to go on, LX_AGAIN to pause the
     * transfer (the same bytes are delivered again after lx_up_call_resume),
     * or LX_ERROR to abort (on_done then reports LX_UP_ABORTED). */
    int (*on_data)(lx_up_call_t *call, const char *p, size_t n, void *arg);
    void (*on_done)(lx_up_call_t *call, const lx_up_result_t *res, void *arg);
} lx_up_handlers_t;

typedef struct {
    const char *method; /* "POST" (default) or "GET" */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    int nheaders;
    const char *body;
    size_t body_len;
    lx_timeouts_t timeouts;
    /* The answer is a stream of small events: the receive buffer, held for
     * the transfer's whole life, is STREAM_RECV_BUFFER bytes, not 4 KB
     * (both 16 KB where HTTP/2 is possible: multi.c says why). */
    bool stream;
    /* The provider's connection settings (core/transport.h), borrowed for
     * lx_up_call_start only; NULL: the defaults (HTTP/2 over TLS, no
     * connection cap, LX_TRANSPORT_STREAMS_DEFAULT streams a connection,
     * the client's CA bundle). */
    const lx_transport_t *transport;
} lx_up_request_t;

/* A worker's TLS settings, the same for every provider. */
typedef struct {
    const char *ca_file; /* CA bundle (PEM); NULL: the system's. Copied. */
    int tls_min;         /* 12: TLS 1.2 (default), 13: TLS 1.3 */
} lx_up_tls_t;

/* Process-wide; call once from main before any thread starts. */
int lx_upstream_global_init(void);
void lx_upstream_global_cleanup(void);
/* A worker's upstream client on base. policy: what every upstream socket is
 * checked against when curl opens it (NULL: the built-in rule only);
 * borrowed, it must outlive the client. With a proxy in the environment,
 * the address checked is the proxy's. tls: NULL for the defaults; read
 * during the call only.
 *
 * Connections: TLS sessions and DNS answers are shared by every transfer
 * of the client (a curl share handle), so a new connection to a provider
 * resumes TLS. Over TLS a transfer goes on HTTP/1.1 keep-alive or HTTP/2
 * by the provider's "http2" (transport.h; "auto": HTTP/1.1 up to
 * http1_connections transfers at once, HTTP/2 past them, multi.c has the
 * why). HTTP/2 transfers wait for a connection being set up to the same
 * host and multiplex on it (up to the provider's stream cap) rather than
 * open another. Providers with the same max_connections and
 * max_streams_per_connection share one curl multi ("lane") per protocol,
 * whose per-host connection and stream caps are theirs; up to
 * LX_UP_LANES_MAX such lanes, later ones use the default lane of their
 * protocol. Under load a lane without a
 * connection cap spreads its transfers over several multis ("shards",
 * shard.c), so that curl never walks thousands of connections per new
 * transfer. */
lx_upstream_t *lx_upstream_new(struct event_base *base, const lx_netpolicy_t *policy,
                               const lx_up_tls_t *tls);
#define LX_UP_LANES_MAX 16
/* Cancels every call still running; no callbacks run. */
void lx_upstream_free(lx_upstream_t *u);
int lx_upstream_active(const lx_upstream_t *u);

/* For a worker gone quiet after a burst: frees the idle easy handles and,
 * when no transfer runs, the shards the burst made beyond each lane's first
 * (their idle connections close) and, when more than keep_idle upstream
 * connections are left in curl's cache, closes them all (curl has no call
 * to close only some). What a burst left behind is then free, and
 * malloc_trim can hand it back. */
void lx_upstream_trim(lx_upstream_t *u, int keep_idle);

lx_up_call_t *lx_up_call_start(lx_upstream_t *u, const lx_up_request_t *rq,
                               const lx_up_handlers_t *h, void *arg);
void lx_up_call_pause(lx_up_call_t *call);
void lx_up_call_resume(lx_up_call_t *call);
/* Stops the call; no callback runs after this returns. Safe from inside any
 * of the call's own callbacks. */
void lx_up_call_cancel(lx_up_call_t *call);
/* Microseconds from start to the first body byte, or -1 if none yet. */
int64_t lx_up_call_first_byte_us(const lx_up_call_t *call);
/* A response header (case-insensitive), or NULL; valid until on_done returns. */
const char *lx_up_call_header(const lx_up_call_t *call, const char *name);

/* The calls above as a table, for a caller that must also run against a
 * fake upstream (the AI call's attempt loop, driven by its unit tests in
 * test/unit/ai/test_call.c). The caller picks the table once (per worker)
 * and keeps it: one indirect call instead of a direct one, nothing more.
 * Each entry keeps the contract of the function it names. */
typedef struct {
    lx_up_call_t *(*start)(lx_upstream_t *u, const lx_up_request_t *rq, const lx_up_handlers_t *h,
                           void *arg);
    void (*pause)(lx_up_call_t *call);
    void (*resume)(lx_up_call_t *call);
    void (*cancel)(lx_up_call_t *call);
    int64_t (*first_byte_us)(const lx_up_call_t *call);
    const char *(*header)(const lx_up_call_t *call, const char *name);
} lx_up_ops_t;

/* The real table: the functions above, over curl. */
extern const lx_up_ops_t lx_up_ops;

#endif
