/* multi.c - curl multi driven by a worker's libevent loop.
 *
 * The shape follows curl's hiperfifo/multi-event examples: curl tells us
 * which sockets to watch (socket callback) and when to wake it (timer
 * callback); libevent tells curl when a socket is ready. Handles are removed
 * only outside curl's callbacks (removing inside one is undefined), so an
 * abort from a callback returns an error to curl and the handle is cleaned up
 * when curl reports it done. Time-to-first-byte and idle-gap limits are our
 * own per-call timer: curl has only connect and total limits. */
#include "upstream/multi_int.h"
#include "upstream/shard.h"
#include "upstream/url_cache.h"
#include "core/clock.h"
#include "core/log.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* curl's receive buffer lives as long as the transfer: its default 16 KB
 * would be the largest part of an open stream. Whole answers get 4 KB (nginx's
 * proxy buffer size); streams, whose events are mostly a few hundred bytes
 * and arrive one at a time, 1 KB (curl's minimum): 3 KB less per open
 * stream. A larger event only takes more than one read. */
#define RECV_BUFFER        4096L
#define STREAM_RECV_BUFFER 1024L
/* Over HTTP/2, curl 7.88 copies a DATA frame into this buffer and keeps
 * what does not fit for a later read that nothing triggers: the transfer
 * stalls (a stream of back-to-back events, a whole answer over 4 KB). A
 * buffer of the largest frame a peer may send us (SETTINGS_MAX_FRAME_SIZE,
 * which curl leaves at 16 KB) always holds a whole frame. */
#define H2_RECV_BUFFER 16384L
/* Over TLS curl 7.88 copies a request into an upload buffer of its own
 * before it sends it, HTTP/1.1 head and body too (OpenSSL wants the same
 * pointer again when a write is retried), and sends an HTTP/2 body from
 * it; the buffer is 64 KB unless told and lives until the transfer ends.
 * 16 KB, curl's least, is one TLS record or DATA frame (a larger body goes
 * in several writes): RSS an open stream over HTTP/2 38 -> 34 KB (3,000
 * streams, one worker). */
#define TLS_UPLOAD_BUFFER 16384L

static long recv_buffer(const lx_up_request_t *rq, bool h2)
{
    return h2 ? H2_RECV_BUFFER : rq->stream ? STREAM_RECV_BUFFER : RECV_BUFFER;
}

static int lane_idle(const lane_t *l)
{
    int n = 0;
    for (int i = 0; i < l->nshards; i++)
        n += l->shards[i]->nparked;
    return n;
}

/* The lane of a transfer, which fixes its protocol (transport.h's "http2").
 * "auto" keeps up to http1_connections transfers of a lane on HTTP/1.1
 * keep-alive connections, one request on each at a time: that costs curl
 * much less than HTTP/2, where it frames every request and, on each read
 * from a connection, runs and poll()s every transfer on it (bench/README.md:
 * 57 against 83 us of CPU a request at c=64), and the requests spread over
 * the server's connections. Past them, HTTP/2 keeps thousands of streams
 * on a few connections instead of a TLS connection each. A stream goes on
 * HTTP/1.1 only while fewer than http1_streams (64) streams run, those on
 * HTTP/2 counted too: with hundreds open, one read from an HTTP/2
 * connection brings the events of many, while each HTTP/1.1 one costs its
 * own reads and TLS records (1,000 streams on 2 workers: 241-259 us of CPU
 * a stream, against 274-278 when HTTP/1.1 streams were counted alone and
 * 64 a worker kept going over HTTP/1.1). A burst also goes
 * to HTTP/2 beyond the idle HTTP/1.1 connections and LX_UP_H1_SETUP_MAX new ones
 * at a time: thousands of requests at once would otherwise each wait for a
 * TLS handshake of its own (the HTTP/1.1 pool grows as the burst's
 * connections come up). A provider with max_connections stays on HTTP/2,
 * so that its cap holds on one multi. */
static lane_t *lane_for(lx_upstream_t *u, const lx_up_request_t *rq, bool tls, bool *h2)
{
    const lx_transport_t *tp = rq->transport;
    lx_http2_mode_t mode = tp ? tp->http2 : LX_HTTP2_AUTO;
    *h2 = tls && (mode == LX_HTTP2_ON || (mode == LX_HTTP2_AUTO && tp && tp->max_connections > 0));
    if (*h2 || !tls || mode == LX_HTTP2_OFF)
        return lx_up_lane_for(u, tp, *h2);
    lane_t *l = lx_up_lane_for(u, tp, false);
    int cap =
        tp && tp->http1_connections > 0 ? tp->http1_connections : LX_TRANSPORT_HTTP1_CONNS_DEFAULT;
    int scap = tp && tp->http1_streams > 0 ? tp->http1_streams : LX_TRANSPORT_HTTP1_STREAMS_DEFAULT;
    lx_up_h1_load_t load = {l->tls_h1, l->tls_h1_streams, l->tls_h1_setup, lane_idle(l)};
    if (rq->stream) /* streams on HTTP/2 count too: once many run, all multiplex */
        load.streams += lx_up_lane_for(u, tp, true)->h2_streams;
    if (lx_up_h1_room(&load, rq->stream, cap, scap))
        return l;
    *h2 = true;
    return lx_up_lane_for(u, tp, true);
}

static const char *const outcome_names[LX_UP__COUNT] = {
    [LX_UP_OK] = "ok",
    [LX_UP_CONNECT_FAILED] = "connect_failed",
    [LX_UP_TIMEOUT_CONNECT] = "connect_timeout",
    [LX_UP_TIMEOUT_FIRST_BYTE] = "first_byte_timeout",
    [LX_UP_TIMEOUT_IDLE] = "idle_timeout",
    [LX_UP_TIMEOUT_TOTAL] = "total_timeout",
    [LX_UP_BROKEN] = "broken",
    [LX_UP_ABORTED] = "aborted",
    [LX_UP_REFUSED] = "refused_by_network_policy",
    [LX_UP_TLS_VERIFY] = "tls_verify_failed",
};

const char *lx_up_outcome_name(lx_up_outcome_t o)
{
    return (unsigned)o < LX_UP__COUNT ? outcome_names[o] : "unknown";
}

/* Whether the environment names a proxy for curl. Read once: without one,
 * every transfer tells curl so, and curl skips its getenv() calls. */
static bool env_proxy;

int lx_upstream_global_init(void)
{
    static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                       "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            env_proxy = true;
    }
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? LX_OK : LX_ERROR;
}

void lx_upstream_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- call lifecycle ---- */

static void h1_setup_done(lx_up_call_t *c)
{
    if (c->tls_h1_setup) {
        c->tls_h1_setup = false;
        c->shard->lane->tls_h1_setup--;
    }
}

/* CURLOPT_PREREQFUNCTION (data: the call): c has its connection. */
static int prereq_cb(void *clientp, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    h1_setup_done(clientp);
    return lx_up_ramp_prereq(clientp, primary_ip, local_ip, primary_port, local_port);
}

static void call_free(lx_up_call_t *c)
{
    lx_upstream_t *u = c->u;
    if (c->prev)
        c->prev->next = c->next;
    else
        u->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    u->active--;
    c->shard->active--;
    c->shard->lane->tls_h1 -= c->tls_h1;
    c->shard->lane->tls_h1_streams -= c->tls_h1_stream;
    c->shard->lane->h2_streams -= c->h2_stream;
    h1_setup_done(c);
    evtimer_del(&c->watchdog);
    lx_up_ramp_forget(c);
    if (c->in_multi)
        curl_multi_remove_handle(c->shard->multi, c->easy);
    lx_up_shard_limit(c->shard);
    X509_STORE_free(c->ca);
    if (c->own_ca && u->ca_base) /* a pooled handle has the client's CA bundle */
        curl_easy_setopt(c->easy, CURLOPT_CAINFO, u->ca_base);
    /* Only a handle whose transfer ran its course goes back to the pool (it
     * is reused without curl_easy_reset); one left paused or aborted may
     * hold state of that transfer. */
    if (u->npool < EASY_POOL_MAX && !c->cancelled && !c->aborted && !c->paused &&
        c->forced == LX_UP_OK && !(c->own_ca && !u->ca_base))
        u->pool[u->npool++] = c->easy;
    else
        curl_easy_cleanup(c->easy);
    free(c->hdrs);
    free(c->body);
    lx_buf_free(&c->resp_headers);
    free(c);
}

static lx_up_outcome_t classify(lx_up_call_t *c, CURLcode rc)
{
    if (c->forced != LX_UP_OK)
        return c->forced;
    if (c->aborted)
        return LX_UP_ABORTED;
    if (c->refused != LX_NET_ALLOW && rc != CURLE_OK && c->status == 0)
        return LX_UP_REFUSED;
    switch (rc) {
    case CURLE_OK:
        return LX_UP_OK;
    case CURLE_OPERATION_TIMEDOUT: {
        /* CONNECT_TIME is 0 on a reused connection too; reaching the
         * transfer (or any response) means we were connected. */
        curl_off_t pre_us = 0;
        curl_easy_getinfo(c->easy, CURLINFO_PRETRANSFER_TIME_T, &pre_us);
        return pre_us == 0 && c->status == 0 ? LX_UP_TIMEOUT_CONNECT : LX_UP_TIMEOUT_TOTAL;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
        return LX_UP_CONNECT_FAILED;
    case CURLE_PEER_FAILED_VERIFICATION: /* the certificate or the host name */
    case CURLE_SSL_CACERT_BADFILE:       /* the CA bundle named cannot be read */
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return LX_UP_TLS_VERIFY;
    default:
        return LX_UP_BROKEN;
    }
}

void lx_up_finish(lx_up_call_t *c, CURLcode rc)
{
    lx_up_result_t res = {0};
    res.outcome = classify(c, rc);
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    res.status = (int)status;
    curl_off_t up = 0;
    curl_easy_getinfo(c->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    res.request_sent = (size_t)up >= c->body_len && res.outcome != LX_UP_CONNECT_FAILED &&
                       res.outcome != LX_UP_TIMEOUT_CONNECT;
    int64_t now = lx_now_us();
    res.first_byte_us = c->t_first ? c->t_first - c->t_start : -1;
    res.total_us = now - c->t_start;
    res.error = rc == CURLE_OK ? NULL : curl_easy_strerror(rc);
    if (res.outcome == LX_UP_REFUSED) {
        res.refused_addr = c->refused_addr;
        res.refused_why = lx_net_verdict_why(c->refused);
        res.error = "refused by the network policy";
    }
    if (!c->cancelled && c->h.on_done) {
        c->in_cb = true;
        c->h.on_done(c, &res, c->arg);
        c->in_cb = false;
    }
    call_free(c);
}

void lx_up_check_done(shard_t *s)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        lx_up_call_t *c;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        lx_up_finish(c, msg->data.result);
    }
}

/* ---- curl callbacks ---- */

static void deliver_headers(lx_up_call_t *c)
{
    c->headers_done = true;
    if (c->h.on_headers && !c->cancelled) {
        c->in_cb = true;
        c->h.on_headers(c, c->status, c->arg);
        c->in_cb = false;
    }
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    lx_up_call_t *c = ud;
    size_t n = size * nmemb;
    if (c->cancelled)
        return 0;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new status line (after 1xx too) */
        lx_buf_reset(&c->resp_headers);
        const char *sp = memchr(p, ' ', n);
        c->status = sp ? atoi(sp + 1) : 0;
        if (c->host && n >= 7 && strncmp(p, "HTTP/1.", 7) == 0)
            lx_up_ramp_http1(c);
        return n;
    }
    if (n <= 2) { /* end of a header block */
        if (c->status >= 200 && !c->headers_done)
            deliver_headers(c);
        return c->cancelled ? 0 : n;
    }
    const char *colon = memchr(p, ':', n);
    if (colon) {
        const char *v = colon + 1, *end = p + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        lx_buf_append(&c->resp_headers, p, (size_t)(colon - p));
        lx_buf_append_char(&c->resp_headers, '\0');
        lx_buf_append(&c->resp_headers, v, (size_t)(end - v));
        lx_buf_append_char(&c->resp_headers, '\0');
    }
    return n;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    lx_up_call_t *c = ud;
    size_t n = size * nmemb;
    if (c->cancelled)
        return 0;
    if (!c->headers_done)
        deliver_headers(c);
    int64_t now = lx_now_us();
    if (c->t_first == 0)
        c->t_first = now;
    c->t_last = now;
    c->in_cb = true;
    int rc = c->h.on_data ? c->h.on_data(c, p, n, c->arg) : LX_OK;
    c->in_cb = false;
    if (c->cancelled)
        return 0;
    if (rc == LX_AGAIN) {
        c->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc != LX_OK) {
        c->aborted = true;
        return 0;
    }
    return n;
}

static void watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_up_call_t *c = arg;
    int64_t now = lx_now_us(), next_us;
    if (c->t_first == 0) {
        c->forced = LX_UP_TIMEOUT_FIRST_BYTE;
    } else if (c->paused) {
        next_us = (int64_t)c->to.idle_ms * 1000; /* our client is slow, not upstream */
        goto rearm;
    } else if (now - c->t_last >= (int64_t)c->to.idle_ms * 1000) {
        c->forced = LX_UP_TIMEOUT_IDLE;
    } else {
        next_us = (int64_t)c->to.idle_ms * 1000 - (now - c->t_last);
        goto rearm;
    }
    lx_up_finish(c, CURLE_OPERATION_TIMEDOUT);
    return;
rearm:;
    struct timeval tv = {(time_t)(next_us / 1000000), (suseconds_t)(next_us % 1000000)};
    evtimer_add(&c->watchdog, &tv);
}

/* ---- multi <-> libevent ---- */

static sock_watch_t *watch_of(lx_upstream_t *u, curl_socket_t s, bool create)
{
    if (s < 0)
        return NULL;
    if (s >= u->nwatch) {
        if (!create)
            return NULL;
        int n = u->nwatch ? u->nwatch : 64;
        while (n <= s)
            n *= 2;
        u->watch = lx_realloc(u->watch, (size_t)n * sizeof *u->watch);
        memset(u->watch + u->nwatch, 0, (size_t)(n - u->nwatch) * sizeof *u->watch);
        u->nwatch = n;
    }
    if (u->watch[s] == NULL && create) {
        u->watch[s] = lx_calloc(1, sizeof(sock_watch_t));
        u->watch[s]->u = u;
    }
    return u->watch[s];
}

static void watch_drop(lx_upstream_t *u, curl_socket_t s)
{
    sock_watch_t *w = watch_of(u, s, false);
    if (w == NULL)
        return;
    if (w->added)
        event_del(&w->ev);
    if (w->parked) {
        u->nparked--;
        w->shard->nparked--;
    }
    free(w);
    u->watch[s] = NULL;
}

void lx_up_watch_forget(lx_upstream_t *u, const shard_t *s)
{
    for (int fd = 0; fd < u->nwatch; fd++)
        if (u->watch[fd] && u->watch[fd]->shard == s)
            watch_drop(u, fd);
}

static void socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    sock_watch_t *w = arg;
    shard_t *sh = w->shard;
    if (w->parked) { /* an idle connection stirred: stop watching it */
        event_del(&w->ev);
        w->added = w->parked = false;
        w->u->nparked--;
        sh->nparked--;
        return;
    }
    if (what & EV_READ)
        w->used = true;
    int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(sh->multi, fd, action, &running);
    lx_up_check_done(sh);
}

int lx_up_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    shard_t *sh = userp;
    lx_upstream_t *u = sh->u;
    if (what == CURL_POLL_REMOVE) {
        sock_watch_t *w = watch_of(u, s, false);
        if (w && w->added) {
            if (w->used && w->kind == (EV_READ | EV_PERSIST)) {
                if (!w->parked) {
                    u->nparked++;
                    w->shard->nparked++;
                }
                w->parked = true;
            } else {
                event_del(&w->ev);
                w->added = false;
            }
        }
        return 0;
    }
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
                         (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    sock_watch_t *w = watch_of(u, s, true);
    if (w->parked) {
        u->nparked--;
        w->shard->nparked--;
    }
    w->parked = false;
    w->shard = sh;
    if (w->added && w->kind == kind)
        return 0;
    if (w->added)
        event_del(&w->ev);
    event_assign(&w->ev, u->base, s, kind, socket_event_cb, w);
    event_add(&w->ev, NULL);
    w->kind = kind;
    w->added = true;
    return 0;
}

/* Every address curl connects to passes the network policy here, after
 * DNS and before the socket exists: a host name that resolves elsewhere
 * next time (DNS rebinding) is checked again. */
static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    lx_up_call_t *c = clientp;
    lx_upstream_t *u = c->u;
    uint8_t ip[16];
    if (lx_net_addr16(&addr->addr, (socklen_t)addr->addrlen, ip)) {
        lx_net_verdict_t v = lx_netpolicy_check(u->policy, ip);
        if (v != LX_NET_ALLOW) {
            c->refused = v;
            lx_net_addr_str(ip, c->refused_addr);
            return CURL_SOCKET_BAD;
        }
    }
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    /* A watch left on this fd number belonged to a socket curl closed
     * without telling us (it does so for connect attempts it never used). */
    if (s != CURL_SOCKET_BAD)
        watch_drop(u, s);
    return s;
}

static int close_socket_cb(void *clientp, curl_socket_t s)
{
    watch_drop(clientp, s);
    return close(s);
}

lx_upstream_t *lx_upstream_new(struct event_base *base, const lx_netpolicy_t *policy,
                               const lx_up_tls_t *tls)
{
    lx_upstream_t *u = lx_calloc(1, sizeof *u);
    u->base = base;
    u->policy = policy;
    if (lx_up_lanes_init(u) != LX_OK) {
        free(u);
        return NULL;
    }
    /* One thread uses it: no lock functions. */
    u->share = curl_share_init();
    if (u->share) {
        curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    u->ca_base = tls && tls->ca_file ? lx_strdup(tls->ca_file) : lx_up_tls_default_ca();
    u->tls_min = tls && tls->tls_min == 13 ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2;
    u->urls = lx_url_cache_new();
    /* Bundles are parsed at the first HTTPS transfer that needs them, not
     * now: the system's takes about 1 MB a worker, which a deployment
     * without HTTPS providers never needs. */
    u->cas = lx_ca_stores_new();
    return u;
}

void lx_upstream_trim(lx_upstream_t *u, int keep_idle)
{
    while (u->npool > 0)
        curl_easy_cleanup(u->pool[--u->npool]);
    /* The shards a burst made go (their idle connections close), and the
     * first ones' idle connections when more than keep_idle are left. */
    if (u->active == 0)
        lx_up_shards_reset(u, keep_idle);
    /* The watch table grew with the highest fd of the burst. */
    int top = u->nwatch;
    while (top > 0 && u->watch[top - 1] == NULL)
        top--;
    if (top == 0) {
        free(u->watch);
        u->watch = NULL;
        u->nwatch = 0;
    }
}

void lx_upstream_free(lx_upstream_t *u)
{
    if (u == NULL)
        return;
    while (u->calls) {
        u->calls->cancelled = true;
        call_free(u->calls);
    }
    while (u->npool > 0)
        curl_easy_cleanup(u->pool[--u->npool]);
    lx_up_lanes_free(u); /* closes their connections: close_socket_cb */
    if (u->share)        /* after every handle that used it */
        curl_share_cleanup(u->share);
    free(u->ca_base);
    lx_ca_stores_free(u->cas); /* connections still open hold their own references */
    for (int i = 0; i < u->nwatch; i++)
        watch_drop(u, i);
    free(u->watch);
    lx_url_cache_free(u->urls); /* after every transfer that used one */
    free(u);
}

int lx_upstream_active(const lx_upstream_t *u)
{
    return u->active;
}

/* A new easy handle with the options every transfer of u shares. */
static CURL *easy_new(lx_upstream_t *u)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    lx_up_tls_setopts(u, e);
    if (u->share)
        curl_easy_setopt(e, CURLOPT_SHARE, u->share);
    /* Only HTTP(S), and never a redirect: a provider's answer is the answer. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb); /* data: the call */
    if (!env_proxy) {
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb); /* data: the call */
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, u);
    return e;
}

/* The request's headers and "Expect:" (no 100-continue for big bodies) as
 * one block: curl only walks the list, so its nodes and strings need not be
 * two allocations each, as curl_slist_append makes them. */
static struct curl_slist *header_list(const lx_up_request_t *rq)
{
    static const char expect[] = "Expect:";
    size_t n = (size_t)rq->nheaders + 1;
    size_t bytes = n * sizeof(struct curl_slist) + sizeof expect;
    for (int i = 0; i < rq->nheaders; i++)
        bytes += strlen(rq->headers[i]) + 1;
    struct curl_slist *list = lx_alloc(bytes);
    char *p = (char *)(list + n);
    for (size_t i = 0; i < n; i++) {
        const char *h = i + 1 < n ? rq->headers[i] : expect;
        size_t len = strlen(h) + 1;
        memcpy(p, h, len);
        list[i] = (struct curl_slist){.data = p, .next = i + 1 < n ? &list[i + 1] : NULL};
        p += len;
    }
    return list;
}

lx_up_call_t *lx_up_call_start(lx_upstream_t *u, const lx_up_request_t *rq,
                               const lx_up_handlers_t *h, void *arg)
{
    lx_up_call_t *c = lx_calloc(1, sizeof *c);
    c->u = u;
    c->h = *h;
    c->arg = arg;
    c->to = rq->timeouts;
    c->t_start = lx_now_us();
    /* A pooled handle keeps the options every transfer shares (easy_new);
     * those that differ are all set below, so no curl_easy_reset. */
    c->easy = u->npool > 0 ? u->pool[--u->npool] : easy_new(u);
    if (c->easy == NULL) {
        free(c);
        return NULL;
    }
    c->hdrs = header_list(rq);
    const lx_transport_t *tp = rq->transport;
    bool tls = strncasecmp(rq->url, "https:", 6) == 0, h2;
    lane_t *lane = lane_for(u, rq, tls, &h2);
    c->shard = lx_up_shard_for(lane);
    if (h2)
        lx_up_shard_h2_started(c->shard);
    c->tls_h1 = c->tls_h1_setup = tls && !h2;
    c->tls_h1_stream = c->tls_h1 && rq->stream;
    lane->tls_h1 += c->tls_h1;
    lane->tls_h1_setup += c->tls_h1_setup;
    lane->tls_h1_streams += c->tls_h1_stream;
    c->h2_stream = h2 && rq->stream;
    lane->h2_streams += c->h2_stream;

    CURL *e = c->easy;
    /* HTTP/2 is offered by ALPN, which falls back to HTTP/1.1 when the
     * server offers only that. PIPEWAIT: wait for a connection being set up
     * to the host, to multiplex on it, rather than open another. */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     h2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, h2 ? 1L : 0L);
    c->host = h2 ? lx_up_ramp_host(c->shard, rq->url) : NULL;
    if (tp && tp->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, tp->ca_file);
        c->own_ca = true;
    }
    if (tls && c->own_ca) /* tp is ours only until we return (the client's: ssl_ctx_cb) */
        c->ca = lx_ca_stores_get(u->cas, tp->ca_file, c->t_start / 1000000);
    /* CURLOPT_URL too: curl reports it (CURLINFO_EFFECTIVE_URL, errors).
     * Always set: a pooled handle may hold another URL's CURLU. */
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_CURLU, lx_url_cache_get(u->urls, rq->url));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    const char *custom = NULL;
    if (rq->method && strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        c->body = lx_alloc(rq->body_len + 1);
        if (rq->body_len > 0) /* a DELETE may have no body at all (NULL) */
            memcpy(c->body, rq->body, rq->body_len);
        c->body_len = rq->body_len;
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
        if (rq->method && strcmp(rq->method, "POST") != 0)
            custom = rq->method;
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, custom);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, c);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->to.connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->to.total_ms);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, recv_buffer(rq, h2));
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, tls ? TLS_UPLOAD_BUFFER : 65536L);
    lx_buf_init(&c->resp_headers, 0);

    c->next = u->calls;
    if (u->calls)
        u->calls->prev = c;
    u->calls = c;
    u->active++;
    c->shard->active++;
    lx_up_shard_limit(c->shard);
    evtimer_assign(&c->watchdog, u->base, watchdog_cb, c);
    struct timeval tv = {c->to.first_byte_ms / 1000, (c->to.first_byte_ms % 1000) * 1000};
    evtimer_add(&c->watchdog, &tv);
    if (lx_up_ramp_hold(c))
        return c;
    /* curl_multi_add_handle only schedules work through timer_cb, so no
     * callback of ours runs before we return. */
    if (curl_multi_add_handle(c->shard->multi, e) != CURLM_OK) {
        c->cancelled = true;
        call_free(c);
        return NULL;
    }
    c->in_multi = true;
    if (c->host)
        c->host->waiting++;
    return c;
}

void lx_up_call_pause(lx_up_call_t *c)
{
    if (!c->paused && !c->in_cb) {
        c->paused = true;
        curl_easy_pause(c->easy, CURLPAUSE_RECV);
    }
}

void lx_up_call_resume(lx_up_call_t *c)
{
    if (!c->paused || c->cancelled)
        return;
    c->paused = false;
    c->t_last = lx_now_us();
    /* May deliver the held bytes at once, through write_cb. */
    curl_easy_pause(c->easy, CURLPAUSE_CONT);
}

void lx_up_call_cancel(lx_up_call_t *c)
{
    if (c->cancelled)
        return;
    c->cancelled = true;
    if (c->in_cb)
        return; /* write_cb/header_cb return an error; check_done frees it */
    call_free(c);
}

int64_t lx_up_call_first_byte_us(const lx_up_call_t *c)
{
    return c->t_first ? c->t_first - c->t_start : -1;
}

const char *lx_up_call_header(const lx_up_call_t *c, const char *name)
{
    const char *p = c->resp_headers.p, *end = p + c->resp_headers.n;
    while (p && p < end) {
        const char *v = p + strlen(p) + 1;
        if (strcasecmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

const lx_up_ops_t lx_up_ops = {
    .start = lx_up_call_start,
    .pause = lx_up_call_pause,
    .resume = lx_up_call_resume,
    .cancel = lx_up_call_cancel,
    .first_byte_us = lx_up_call_first_byte_us,
    .header = lx_up_call_header,
};
