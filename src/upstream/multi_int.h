/* multi_int.h - the inside of the upstream client (multi.c), shared with
 * the HTTP/2 connection ramp (ramp.c), the shards (shard.c) and the TLS
 * options (tls.c) only. Everything here belongs to one worker loop
 * (upstream.h). */
#ifndef LX_UPSTREAM_MULTI_INT_H
#define LX_UPSTREAM_MULTI_INT_H

#include "upstream/ca_store.h"
#include "upstream/upstream.h"
#include "upstream/url_cache.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#define EASY_POOL_MAX 128

/* HTTP/2 connection ramp, per shard and host (scheme://host:port). curl
 * 7.88 waits for a connection being set up (CURLOPT_PIPEWAIT) only until it
 * knows the host multiplexes; after that, a transfer that finds every
 * connection full, or still connecting, opens its own: a burst of 50
 * streams under a cap of 10 opened 17 connections, 16 with a full TLS
 * handshake (none had a session to resume yet). So a transfer waits here
 * (not yet added to the multi) while the transfers of its host that are
 * added but not yet on a connection ("waiting": curl's prereq callback has
 * not run) already number ceil((waiting + held) / cap): each of those
 * opens a connection or takes a free stream, and once one is on its
 * connection the next held ones are added and take that connection's free
 * streams. Only HTTP/2 over TLS; plain HTTP and HTTP/1.1 go straight in. */
#define RAMP_HOSTS_MAX 64
#define RAMP_KEY_MAX   160

typedef struct lx_up_call call_t;

typedef struct {
    char key[RAMP_KEY_MAX]; /* scheme://authority */
    int waiting;            /* added to the multi, not yet on a connection */
    int held;               /* in the queue below */
    call_t *head, *tail;    /* held calls, oldest first */
    /* A server whose ALPN says http/1.1 does not multiplex: holding its
     * transfers would only set its connections up one at a time. Known by
     * an HTTP/1.x status line, or sooner when a transfer gets a new
     * connection while the first one is busy and has never carried two
     * transfers at once. */
    bool http1;
    bool mux_seen;      /* two transfers were on one connection at once */
    int first_port;     /* local port of the host's first connection */
    int first_inflight; /* transfers on it now */
} ramp_host_t;

/* One curl multi ("shard") of a lane, with its own connection cache. curl
 * 7.88 walks every connection of a host's bundle, busy ones too, for each
 * new transfer (~93 instructions a connection over HTTP/1.1, ~2,700 over
 * HTTP/2 with TLS; bench/micro/README.md): with 10,000 open streams in one
 * multi that is ~10^6 instructions per new transfer. So a lane spreads its
 * transfers over shards of at most LX_UP_SHARD_TRANSFERS each (shard.h). */
typedef struct lane lane_t;
typedef struct {
    lx_upstream_t *u;
    lane_t *lane;
    CURLM *multi;
    struct event timer;
    struct event kick; /* curl asked to be run again at once */
    bool in_kick;
    int active;      /* transfers on this multi */
    int nparked;     /* idle connections of this multi we keep watching */
    int max_conns;   /* per host; 0: no cap */
    int max_streams; /* per HTTP/2 connection */
    ramp_host_t *hosts;
    int nhosts;
    struct event release; /* held calls may go in (deferred out of curl's callbacks) */
    int h2_started;       /* HTTP/2 transfers started on this multi */
    bool retired;         /* takes no new transfer (LX_UP_H2_SHARD_STREAMS, shard.c) */
    struct event recycle; /* a retired shard's last transfer ended: a fresh multi */
} shard_t;

/* A lane: the providers with one distinct (max connections per host, max
 * streams per connection) pair (upstream.h), for one protocol: HTTP/1.1
 * lanes never multiplex, HTTP/2 lanes do, and each has its own connection
 * caches, so that a transfer of one never takes a connection of the other.
 * curl's caps are per multi, so providers with other caps get another
 * lane. A lane with a connection cap keeps one shard: the cap must hold
 * for the whole worker. */
#define LX_UP_SHARDS_MAX 64
struct lane {
    int max_conns;
    int max_streams;
    bool h2;
    int tls_h1;                        /* HTTP/1.1 transfers over TLS running ("auto"'s count) */
    int tls_h1_setup;                  /* of those, not yet on a connection */
    int tls_h1_streams;                /* of those, streams */
    int h2_streams;                    /* HTTP/2 streams running (an HTTP/2 lane) */
    shard_t *shards[LX_UP_SHARDS_MAX]; /* [0] always there */
    int nshards;
};

/* What we watch on one of curl's sockets. When a transfer ends curl stops
 * watching its connection (CURL_POLL_REMOVE) and asks for the same again at
 * the next transfer on it; instead of an epoll DEL and ADD per request, the
 * read watch stays registered while the connection idles in curl's cache
 * ("parked"). If a parked socket becomes readable (the server closed it or
 * sent junk), the watch goes away and curl finds the state on its next use.
 * We see every socket curl opens and closes (open/close callbacks), so the
 * state never outlives its socket, whatever fd number comes next. */
typedef struct {
    lx_upstream_t *u;
    shard_t *shard; /* the multi the socket belongs to */
    struct event ev;
    short kind;  /* events registered (EV_PERSIST included) */
    bool added;  /* registered with libevent */
    bool parked; /* curl released it; kept registered while idle */
    bool used;   /* a response came on it: an established connection */
} sock_watch_t;

struct lx_upstream {
    struct event_base *base;
    const lx_netpolicy_t *policy;  /* borrowed: checked in open_socket_cb */
    lane_t lanes[LX_UP_LANES_MAX]; /* [0], [1]: no connection cap, the default
                                      stream cap; HTTP/1.1, HTTP/2 */
    int nlanes;
    CURLSH *share;       /* TLS sessions and DNS, for every transfer of this client */
    char *ca_base;       /* the CA bundle a handle has unless its provider names one */
    lx_ca_stores_t *cas; /* the CA bundles parsed (ca_store.h) */
    long tls_min;        /* CURL_SSLVERSION_TLSv1_2 or _3 */
    lx_up_call_t *calls;
    int active;
    /* Idle easy handles: curl_easy_init costs several allocations and a
     * large zeroing; a reset handle is ready again at a fraction of that. */
    CURL *pool[EASY_POOL_MAX];
    int npool;
    sock_watch_t **watch; /* by fd */
    int nwatch;
    int nparked; /* idle connections whose watch we keep */
    lx_url_cache_t *urls;
};

struct lx_up_call {
    lx_upstream_t *u;
    shard_t *shard;        /* the multi it runs on */
    ramp_host_t *host;     /* its ramp (NULL: none) */
    call_t *qprev, *qnext; /* in host's queue while held */
    bool held;             /* waiting in the ramp, not in the multi */
    bool in_multi;         /* added to its shard's multi */
    bool on_conn;          /* curl's prereq ran: it has its connection */
    int port;              /* local port of its connection (prereq), 0: none yet */
    lx_up_call_t *prev, *next;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    size_t body_len;
    lx_up_handlers_t h;
    void *arg;
    lx_timeouts_t to;
    struct event watchdog;
    int64_t t_start, t_first, t_last;
    lx_buf_t resp_headers; /* "name\0value\0" pairs */
    int status;
    lx_up_outcome_t forced; /* a watchdog verdict, else LX_UP_OK */
    bool headers_done;
    bool paused;
    bool cancelled;
    bool in_cb;
    bool aborted;
    bool own_ca;              /* CURLOPT_CAINFO is the provider's, not ca_base */
    X509_STORE *ca;           /* own_ca over TLS: its store (a reference); NULL: unreadable */
    bool tls_h1;              /* counted in its lane's tls_h1 */
    bool tls_h1_setup;        /* and in its tls_h1_setup */
    bool tls_h1_stream;       /* and in its tls_h1_streams */
    bool h2_stream;           /* counted in its lane's h2_streams */
    lx_net_verdict_t refused; /* an address the network policy refused */
    char refused_addr[46];
};

/* Ends c with curl's result rc: on_done (unless cancelled), then frees it. */
void lx_up_finish(lx_up_call_t *c, CURLcode rc);

/* Reads curl's finished transfers of s and ends them. */
void lx_up_check_done(shard_t *s);
/* Drops the socket watches left that belong to s (s goes away). */
void lx_up_watch_forget(lx_upstream_t *u, const shard_t *s);
/* CURLMOPT_SOCKETFUNCTION (userp: the shard). */
int lx_up_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);

/* ---- TLS (tls.c) ---- */

/* The CA bundle curl uses when none is set (a copy), or NULL. */
char *lx_up_tls_default_ca(void);
/* Sets the TLS options every handle of u shares (verification, CA bundle). */
void lx_up_tls_setopts(const lx_upstream_t *u, CURL *e);

/* ---- shards (shard.c) ---- */

/* The lane for a provider's transport caps (NULL: the defaults) and a
 * protocol; the first lane of that protocol when LX_UP_LANES_MAX are
 * taken. */
lane_t *lx_up_lane_for(lx_upstream_t *u, const lx_transport_t *t, bool h2);
/* Makes u's default lane; LX_ERROR when curl cannot make a multi. */
int lx_up_lanes_init(lx_upstream_t *u);
/* The shard of l a new transfer goes on (shard.h's rule), made if need be. */
shard_t *lx_up_shard_for(lane_t *l);
/* s's transfer count changed: curl's connection cap follows it; a
 * retired shard left without transfers gets a fresh multi (deferred). */
void lx_up_shard_limit(shard_t *s);
/* An HTTP/2 transfer starts on s: counted, and s retires at the limit. */
void lx_up_shard_h2_started(shard_t *s);
/* No transfer runs: frees every shard beyond each lane's first; then, if
 * more than keep_idle idle connections are left, gives each first shard a
 * fresh multi (closing them). */
void lx_up_shards_reset(lx_upstream_t *u, int keep_idle);
/* Frees every lane and shard (their connections close). */
void lx_up_lanes_free(lx_upstream_t *u);

/* ---- the HTTP/2 connection ramp (ramp.c) ---- */

/* The ramp of url's host in l, made at first use; NULL when the URL's host
 * part is too long or l has RAMP_HOSTS_MAX hosts already. */
ramp_host_t *lx_up_ramp_host(shard_t *l, const char *url);
/* Puts c (c->host set, not yet in the multi) in line when its host's ramp
 * says wait; true if it did. Otherwise the caller adds it to the multi and
 * counts it in c->host->waiting. */
bool lx_up_ramp_hold(lx_up_call_t *c);
/* c ends: out of the line, or no longer waiting for its connection. */
void lx_up_ramp_forget(lx_up_call_t *c);
/* c's answer came over HTTP/1.x: its host's ramp is off from now on. */
void lx_up_ramp_http1(lx_up_call_t *c);
/* CURLOPT_PREREQFUNCTION (data: the call): c has its connection. */
int lx_up_ramp_prereq(void *clientp, char *primary_ip, char *local_ip, int primary_port,
                      int local_port);
/* The shard's release event (arg: the shard): adds held calls while their
 * ramps allow. */
void lx_up_ramp_release(evutil_socket_t fd, short what, void *arg);

#endif
