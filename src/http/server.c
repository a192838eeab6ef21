/* server.c - per-worker HTTP server on libevhtp: accept, limits, routing,
 * connection list, drain.
 *
 * libevhtp traps handled here (see DESIGN.md): one evhtp per worker with
 * SO_REUSEPORT + TCP_NODELAY; our own connection list (evhtp keeps none);
 * limits decided in hooks with a real reply, because evhtp's own limits drop
 * the connection silently; head and body deadline timers against slowloris;
 * a strict framing check (framing.c) over every byte before evhtp parses it,
 * against request smuggling; a cap on open connections. A reply that must
 * close the connection (400/408/413/415/431/501/503) is written on the
 * bufferevent we take over from evhtp (closer.c). */
#include "http/internal.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/resource.h>

void lx_conn_arm(lx_conn_t *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(&c->timer, &tv);
}

static void conn_unlink(lx_conn_t *c)
{
    lx_http_server_t *srv = c->srv;
    if (srv->alive_probe == c)
        srv->alive_probe = NULL;
    srv->nconns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    evtimer_del(&c->timer);
    atomic_fetch_sub_explicit(&srv->stats.connections_open, 1, memory_order_relaxed);
}

static lx_conn_t *conn_of(evhtp_request_t *r)
{
    evhtp_hooks_t *h = r->conn ? r->conn->hooks : NULL;
    return h ? h->on_connection_fini_arg : NULL;
}

/* Takes the socket away from evhtp and answers with a final error, closing
 * afterwards. Our hooks are gone after this; the caller makes evhtp free its
 * connection (returning an error from a parser hook does that). */
void lx_conn_reject(lx_conn_t *c, lx_err_t err, const char *message)
{
    lx_http_server_t *srv = c->srv;
    struct bufferevent *bev = c->ec->bev;
    lx_req_t *req = c->req;
    atomic_fetch_add_explicit(&srv->stats.rejected, 1, memory_order_relaxed);
    lx_conn_input_stop(c, bev);

    struct evbuffer *out = evbuffer_new();
    json_t *body = lx_error_body(req && req->anthropic, err, message, NULL);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (req) {
        req->status = lx_err_info(err)->status;
        req->bytes_out = strlen(text);
        lx_render_response(req, out, req->status, "application/json", text, strlen(text), true);
        lx_access_log(req);
        lx_req_free(req); /* evhtp's fini hook will not run once we own the socket */
        c->req = NULL;
        lx_server_request_done(srv);
    } else {
        lx_req_t tmp = {.conn = c};
        lx_request_id_new(tmp.id);
        lx_render_response(&tmp, out, lx_err_info(err)->status, "application/json", text,
                           strlen(text), true);
    }
    free(text);

    if (bev) {
        evhtp_connection_take_ownership(c->ec);
        lx_closer_start(srv, bev, out);
    } else {
        evbuffer_free(out);
    }
    conn_unlink(c);
    free(c);
}

static void conn_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_conn_t *c = arg;
    evhtp_connection_t *ec = c->ec;
    if (lx_conn_framing_bad(c) && c->phase != CONN_ACTIVE) {
        /* made active by framing_cb: evhtp must not parse what follows */
        lx_conn_reject(c, c->framing.err, c->framing.why);
        evhtp_connection_free(ec);
    } else if (c->phase == CONN_HEAD) {
        lx_conn_reject(c, LX_E_REQUEST_TIMEOUT, NULL);
        evhtp_connection_free(ec);
    } else if (c->phase == CONN_BODY) {
        lx_conn_reject(c, LX_E_REQUEST_TIMEOUT, "request body not received in time");
        evhtp_connection_free(ec);
    } else if (c->phase == CONN_IDLE) {
        evhtp_connection_free(c->ec); /* fini hook unlinks and frees c */
    }
}

/* ---- evhtp hooks (connection level, so they serve every request) ---- */

static void hook_error(evhtp_request_t *r, evhtp_error_flags flags, void *arg);

/* Every hook first refuses a stream the framing check has failed: evhtp
 * may have parsed those bytes its own way. */
static evhtp_res reject_bad_framing(lx_conn_t *c)
{
    lx_conn_reject(c, c->framing.err, c->framing.why);
    return EVHTP_RES_ERROR;
}

static evhtp_res hook_headers_start(evhtp_request_t *r, void *arg)
{
    lx_conn_t *c = arg;
    if (lx_conn_framing_bad(c))
        return reject_bad_framing(c);
    if (c->phase == CONN_IDLE) {
        c->phase = CONN_HEAD;
        lx_conn_arm(c, c->srv->cfg->header_timeout_ms);
    }
    c->nheaders = 0;
    c->header_bytes = 0;
    c->form_body = c->has_te = false;
    memset(c->known, 0, sizeof c->known);
    return EVHTP_RES_OK;
}

static bool is_form_type(const char *v)
{
    static const char form[] = "application/x-www-form-urlencoded";
    while (*v == ' ' || *v == '\t')
        v++;
    return strncasecmp(v, form, sizeof form - 1) == 0;
}

static evhtp_res hook_header(evhtp_request_t *r, evhtp_header_t *h, void *arg)
{
    lx_conn_t *c = arg;
    const lx_config_t *cfg = c->srv->cfg;
    if (lx_conn_framing_bad(c))
        return reject_bad_framing(c);
    c->nheaders++;
    c->header_bytes += h->klen + h->vlen + 4;
    if (c->nheaders > cfg->max_headers || c->header_bytes > cfg->max_header_bytes) {
        lx_conn_reject(c, LX_E_HEADERS_TOO_LARGE, NULL);
        return EVHTP_RES_ERROR;
    }
    lx_hdr_t id = lx_hdr_classify(h->key, h->klen);
    if (id != LX_HDR_COUNT && c->known[id] == NULL)
        c->known[id] = h->val;
    if (h->klen == 12 && strncasecmp(h->key, "content-type", 12) == 0 && is_form_type(h->val))
        c->form_body = true; /* any of them: evhtp looks at the first, we may not */
    if (h->klen == 17 && strncasecmp(h->key, "transfer-encoding", 17) == 0)
        c->has_te = true; /* framing.c allows only chunked */
    return EVHTP_RES_OK;
}

static bool route_has_path(const lx_route_t *rt, const char *path)
{
    return rt->flags & LX_ROUTE_PREFIX ? strncmp(path, rt->path, strlen(rt->path)) == 0
                                       : strcmp(path, rt->path) == 0;
}

static const char *req_path(const evhtp_request_t *r)
{
    return r->uri && r->uri->path ? r->uri->path->full : "/";
}

/* The route for r's path and method; *path_known says whether another
 * method would have matched. An unknown method (NULL name) matches none. */
static const lx_route_t *route_find(lx_http_server_t *srv, evhtp_request_t *r, bool *path_known)
{
    const char *path = req_path(r);
    const char *method = htparser_get_methodstr_m(r->method);
    *path_known = false;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const lx_route_t *rt = &srv->routes[i];
        if (!route_has_path(rt, path))
            continue;
        if (rt->method == NULL || (method && strcmp(rt->method, method) == 0))
            return rt;
        *path_known = true;
    }
    return NULL;
}

/* The methods the routes of r's path take, for a 405's Allow header. */
static void allow_methods(lx_http_server_t *srv, evhtp_request_t *r, char *out, size_t cap)
{
    const char *path = req_path(r);
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < srv->nroutes; i++) {
        const lx_route_t *rt = &srv->routes[i];
        if (!route_has_path(rt, path) || rt->method == NULL || strstr(out, rt->method))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? ", " : "", rt->method);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static void reject_too_large(lx_conn_t *c)
{
    char msg[120];
    snprintf(msg, sizeof msg,
             "request body too large: the limit is %zu bytes (limits.max_body_bytes)",
             c->srv->cfg->max_body_bytes);
    lx_conn_reject(c, LX_E_BODY_TOO_LARGE, msg);
}

static bool content_length_valid(const char *cl, unsigned long long *n)
{
    /* framing.c has checked the syntax already; this reads the number */
    char *end;
    while (*cl == ' ' || *cl == '\t')
        cl++;
    if (*cl < '0' || *cl > '9')
        return false;
    errno = 0;
    *n = strtoull(cl, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return *end == '\0' && errno == 0;
}

static evhtp_res hook_headers(evhtp_request_t *r, evhtp_headers_t *hdrs, void *arg)
{
    (void)hdrs; /* hook_header kept the ones llmux reads */
    lx_conn_t *c = arg;
    lx_http_server_t *srv = c->srv;
    if (lx_conn_framing_bad(c))
        return reject_bad_framing(c);
    evtimer_del(&c->timer);
    c->phase = CONN_BODY;
    lx_req_t *req = lx_req_new(c, r);
    c->req = req;
    /* Unlike every other hook, evhtp runs on_error only from the request's
     * own hooks, never the connection's. */
    evhtp_request_set_hook(r, evhtp_hook_on_error, (evhtp_hook)(void (*)(void))hook_error, c);
    atomic_fetch_add_explicit(&srv->stats.requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->stats.requests_active, 1, memory_order_relaxed);

    if (htparser_get_methodstr_m(r->method) == NULL) {
        lx_conn_reject(c, LX_E_NOT_IMPLEMENTED, "unknown HTTP method");
        return EVHTP_RES_ERROR;
    }
    bool path_known;
    req->route = route_find(srv, r, &path_known);
    if (req->route && (req->route->flags & LX_ROUTE_ANTHROPIC_ERRORS))
        req->anthropic = true;

    /* Decide on the size from Content-Length before reading any of the body. */
    const char *cl = c->known[LX_HDR_CONTENT_LENGTH];
    unsigned long long n = 0;
    if (cl) {
        if (!content_length_valid(cl, &n)) {
            lx_conn_reject(c, LX_E_BAD_REQUEST, "invalid Content-Length");
            return EVHTP_RES_ERROR;
        }
        if (n > srv->cfg->max_body_bytes) {
            reject_too_large(c);
            return EVHTP_RES_ERROR;
        }
    }
    if (c->form_body) {
        /* evhtp would parse a form body as a query string, into stack
         * arrays as large as the body: it does so only while the request
         * has no query, so give it an empty one. */
        if (r->uri && r->uri->query == NULL)
            r->uri->query = evhtp_query_new();
        if (req->route) {
            lx_conn_reject(c, LX_E_UNSUPPORTED_MEDIA_TYPE,
                           "Content-Type application/x-www-form-urlencoded is not supported: send "
                           "the body as application/json");
            return EVHTP_RES_ERROR;
        }
    }
    if (n > 0 || c->has_te)
        lx_conn_arm(c, srv->cfg->body_timeout_ms);
    return EVHTP_RES_OK;
}

static evhtp_res hook_read(evhtp_request_t *r, struct evbuffer *buf, void *arg)
{
    lx_conn_t *c = arg;
    if (lx_conn_framing_bad(c))
        return reject_bad_framing(c);
    if (c->req == NULL)
        return EVHTP_RES_OK;
    c->req->body_len += evbuffer_get_length(buf);
    if (c->req->body_len > c->srv->cfg->max_body_bytes) { /* chunked bodies */
        reject_too_large(c);
        return EVHTP_RES_ERROR;
    }
    return EVHTP_RES_OK;
}

static evhtp_res hook_new_chunk(evhtp_request_t *r, uint64_t len, void *arg)
{
    lx_conn_t *c = arg;
    return lx_conn_framing_bad(c) ? reject_bad_framing(c) : EVHTP_RES_OK;
}

static void hook_error(evhtp_request_t *r, evhtp_error_flags flags, void *arg)
{
    lx_conn_t *c = arg;
    lx_req_t *req = c->req;
    if (req == NULL || req->client_gone)
        return;
    req->client_gone = true;
    if (req->finished || req->state == REQ_READING)
        return; /* evhtp frees the connection; fini frees req */
    lx_req_cb abort_cb = req->on_abort;
    req->on_abort = NULL;
    if (abort_cb)
        abort_cb(req, req->abort_arg);
    lx_req_finish(req); /* resumes, so evhtp frees the connection now */
}

static evhtp_res hook_request_fini(evhtp_request_t *r, void *arg)
{
    lx_conn_t *c = arg;
    lx_req_t *req = c->req;
    if (req == NULL || req->r != r)
        return EVHTP_RES_OK;
    if (!req->finished && req->on_abort) {
        /* The connection died under a handler that was never told. */
        lx_req_cb abort_cb = req->on_abort;
        req->on_abort = NULL;
        req->client_gone = true;
        abort_cb(req, req->abort_arg);
    }
    lx_access_log(req);
    lx_req_free(req);
    c->req = NULL;
    lx_http_server_t *srv = c->srv;
    if (srv->draining) {
        c->phase = CONN_ACTIVE; /* no keep-alive wait while draining */
    } else {
        c->phase = CONN_IDLE;
        lx_conn_arm(c, srv->cfg->keepalive_timeout_ms);
    }
    lx_server_request_done(srv);
    return EVHTP_RES_OK;
}

/* An HTTP parse error (a header line over evhtp's 8 KiB buffer, a bad
 * request line) makes evhtp free the connection without a word; answer first,
 * on the socket we take over. */
static bool answer_parse_error(lx_conn_t *c)
{
    evhtp_connection_t *ec = c->ec;
    if (ec->parser == NULL || ec->bev == NULL)
        return false;
    htpparse_error e = htparser_get_error(ec->parser);
    if (e == htparse_error_none || e == htparse_error_user)
        return false;
    if (c->phase != CONN_HEAD && c->phase != CONN_IDLE && c->phase != CONN_BODY)
        return false;
    if (lx_conn_framing_bad(c))
        lx_conn_reject(c, c->framing.err, c->framing.why);
    else
        lx_conn_reject(c, e == htparse_error_too_big ? LX_E_HEADERS_TOO_LARGE : LX_E_BAD_REQUEST,
                       NULL);
    return true;
}

static evhtp_res hook_connection_fini(evhtp_connection_t *ec, void *arg)
{
    lx_conn_t *c = arg;
    if (answer_parse_error(c))
        return EVHTP_RES_OK; /* conn_reject freed c */
    /* evhtp frees the request after this hook, and its fini hook would fall
     * back to these connection hooks: finish the request here and unhook. */
    if (c->req)
        hook_request_fini(c->req->r, c);
    evhtp_connection_unset_hook(ec, evhtp_hook_on_request_fini);
    lx_conn_input_stop(c, ec->bev);
    conn_unlink(c);
    free(c);
    return EVHTP_RES_OK;
}

/* Answers a connection over the limit with 503 on a socket taken from
 * evhtp, without any of our hooks. */
static void refuse_connection(lx_http_server_t *srv, evhtp_connection_t *ec)
{
    atomic_fetch_add_explicit(&srv->stats.refused, 1, memory_order_relaxed);
    struct bufferevent *bev = ec->bev;
    if (bev == NULL)
        return;
    lx_conn_t tmpc = {.srv = srv, .ec = ec};
    lx_req_t tmp = {.conn = &tmpc};
    lx_request_id_new(tmp.id);
    lx_req_set_header(&tmp, "Retry-After", "1");
    json_t *body = lx_error_body(false, LX_E_UNAVAILABLE,
                                 "too many open connections (limits.max_connections)", NULL);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct evbuffer *out = evbuffer_new();
    lx_render_response(&tmp, out, 503, "application/json", text, strlen(text), true);
    free(text);
    lx_buf_free(&tmp.hdr_store);
    evhtp_connection_take_ownership(ec);
    lx_closer_start(srv, bev, out);
}

/* Connections a worker accepts per turn of its loop: an eighth of those
 * it has open, at least LX_ACCEPT_BATCH_MIN and at most _MAX. libevent's
 * listener accepts until the backlog is empty: under a burst of thousands,
 * a worker took them all, then read all their requests and started all
 * their upstream transfers in one turn, and each next step of every one of
 * them (connected, request sent, first chunk) waited for a turn over all
 * the others, so the first chunk of each came after the whole burst's
 * work (10,000 streams: TTFC p50 0.5-1.3 s against nginx's 0.03-0.2 s,
 * whose workers accept one connection per turn). A fixed small batch
 * starved the backlog instead once the streams already in made each turn
 * long (a 16-connection batch: some waited 9 s to be accepted); a batch
 * that follows the open connections keeps new work to a fraction of each
 * turn, at any load. */
#define LX_ACCEPT_BATCH_MIN 16
#define LX_ACCEPT_BATCH_MAX 512

static int accept_batch(const lx_http_server_t *srv)
{
    int n = srv->nconns / 8;
    return n < LX_ACCEPT_BATCH_MIN   ? LX_ACCEPT_BATCH_MIN
           : n > LX_ACCEPT_BATCH_MAX ? LX_ACCEPT_BATCH_MAX
                                     : n;
}

static void accept_turn_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_http_server_t *srv = arg;
    srv->accepted_in_turn = 0;
    if (srv->accept_held) {
        srv->accept_held = false;
        if (srv->htp->server && !srv->draining)
            evconnlistener_enable(srv->htp->server);
    }
}

/* Counts an accepted connection against the turn's batch; a full batch
 * turns the listener off (libevent's accept loop stops when its listener
 * is off) until the events already due have run. */
static void accept_count(lx_http_server_t *srv)
{
    if (srv->accepted_in_turn++ == 0)
        event_active(&srv->accept_turn, EV_TIMEOUT, 1);
    if (srv->accepted_in_turn >= accept_batch(srv) && !srv->accept_held && srv->htp->server) {
        srv->accept_held = true;
        evconnlistener_disable(srv->htp->server);
    }
}

static evhtp_res on_accept(evhtp_connection_t *ec, void *arg)
{
    lx_http_server_t *srv = arg;
    accept_count(srv);
    if (srv->draining)
        return EVHTP_RES_ERROR;
    if (srv->nconns >= srv->max_conns) {
        refuse_connection(srv, ec);
        return EVHTP_RES_ERROR;
    }
    lx_conn_t *c = lx_calloc(1, sizeof *c);
    c->srv = srv;
    c->ec = ec;
    c->phase = CONN_HEAD;
    evtimer_assign(&c->timer, srv->base, conn_timer_cb, c);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    atomic_fetch_add_explicit(&srv->stats.connections_accepted, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->stats.connections_open, 1, memory_order_relaxed);

    evhtp_connection_set_hook(ec, evhtp_hook_on_headers_start, (evhtp_hook)hook_headers_start, c);
    evhtp_connection_set_hook(ec, evhtp_hook_on_header, (evhtp_hook)hook_header, c);
    evhtp_connection_set_hook(ec, evhtp_hook_on_headers, (evhtp_hook)hook_headers, c);
    evhtp_connection_set_hook(ec, evhtp_hook_on_read, (evhtp_hook)hook_read, c);
    evhtp_connection_set_hook(ec, evhtp_hook_on_new_chunk, (evhtp_hook)hook_new_chunk, c);
    evhtp_connection_set_hook(ec, evhtp_hook_on_request_fini, (evhtp_hook)hook_request_fini, c);
    evhtp_connection_set_hook(ec, evhtp_hook_on_connection_fini, (evhtp_hook)hook_connection_fini,
                              c);
    lx_conn_input_start(c);
    lx_conn_arm(c, srv->cfg->header_timeout_ms);
    return EVHTP_RES_OK;
}

/* accept() failed (out of file descriptors, mostly): libevent would retry
 * at once, forever, logging each time. Pause accepting briefly instead and
 * log at most once a second, with how many failed. */
static void accept_resume_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_http_server_t *srv = arg;
    if (srv->htp->server && !srv->draining)
        evconnlistener_enable(srv->htp->server);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    lx_http_server_t *srv = ((evhtp_t *)arg)->arg; /* the listener's argument is evhtp's */
    int err = EVUTIL_SOCKET_ERROR();
    atomic_fetch_add_explicit(&srv->stats.accept_errors, 1, memory_order_relaxed);
    srv->accept_errors_unlogged++;
    int64_t now = lx_now_us() / 1000;
    if (now - srv->accept_log_ms >= 1000) {
        lx_log_warn("accept failed; accepting paused for 100 ms",
                    "\"error\":\"%s\",\"failures\":%llu,\"open_connections\":%d,\"worker\":%d",
                    evutil_socket_error_to_string(err),
                    (unsigned long long)srv->accept_errors_unlogged, srv->nconns, srv->worker_id);
        srv->accept_log_ms = now;
        srv->accept_errors_unlogged = 0;
    }
    evconnlistener_disable(lev);
    srv->accept_held = false; /* accept_pause turns it on again, not accept_turn */
    struct timeval tv = {0, 100 * 1000};
    evtimer_add(&srv->accept_pause, &tv);
}

/* ---- paused requests ----
 * evhtp_request_pause would turn reading off, so a client that leaves goes
 * unnoticed; and evhtp's own event callback ignores EOF whenever a stale
 * errno happens to be EAGAIN. So while a handler owns the request we take the
 * bufferevent's callbacks: reads are left in the buffer (bounded by the high
 * watermark), EOF/errors/timeouts are handed to evhtp as a plain error, which
 * runs hook_error. */

static void paused_readcb(struct bufferevent *bev, void *arg) {}

static void paused_writecb(struct bufferevent *bev, void *arg) {}

void lx_req_unwatch(lx_req_t *req)
{
    if (!req->watching)
        return;
    req->watching = false;
    struct bufferevent *bev = req->conn->ec->bev;
    if (bev)
        bufferevent_setcb(bev, req->saved_readcb, req->saved_writecb, req->saved_eventcb,
                          req->saved_cbarg);
}

static void paused_eventcb(struct bufferevent *bev, short what, void *arg)
{
    lx_req_t *req = arg;
    bufferevent_event_cb evhtp_eventcb = req->saved_eventcb;
    void *cbarg = req->saved_cbarg;
    lx_req_unwatch(req);
    /* Not EOF|READING: that is the combination evhtp may ignore. */
    evhtp_eventcb(bev, (short)(BEV_EVENT_ERROR | (what & BEV_EVENT_WRITING)), cbarg);
}

static void watch_paused(lx_req_t *req)
{
    struct bufferevent *bev = req->r->conn->bev;
    bufferevent_getcb(bev, &req->saved_readcb, &req->saved_writecb, &req->saved_eventcb,
                      &req->saved_cbarg);
    req->watching = true;
    bufferevent_setcb(bev, paused_readcb, paused_writecb, paused_eventcb, req);
    bufferevent_setwatermark(bev, EV_READ, 0, 64 * 1024);
    bufferevent_enable(bev, EV_READ);
}

/* ---- dispatch ---- */

static void on_request(evhtp_request_t *r, void *arg)
{
    lx_conn_t *c = conn_of(r);
    lx_req_t *req = c ? c->req : NULL;
    if (req == NULL) {
        evhtp_send_reply(r, EVHTP_RES_SERVERR);
        return;
    }
    lx_http_server_t *srv = c->srv;
    if (lx_conn_framing_bad(c)) {
        /* evhtp read a body framing.c refused: answered by the timer */
        r->status = EVHTP_RES_PAUSE;
        r->conn->flags |= EVHTP_CONN_FLAG_PAUSED;
        return;
    }
    if (c->phase == CONN_BODY)
        evtimer_del(&c->timer);
    c->phase = CONN_ACTIVE;
    req->state = REQ_HANDLING;
    if (req->route == NULL) {
        bool path_known;
        route_find(srv, r, &path_known);
        if (path_known) {
            char allow[128];
            allow_methods(srv, r, allow, sizeof allow);
            lx_req_set_header(req, "Allow", allow);
        }
        lx_req_reply_error(req, path_known ? LX_E_METHOD_NOT_ALLOWED : LX_E_NOT_FOUND, NULL, NULL);
        return;
    }
    int rc = req->route->fn(req, req->route->arg);
    if (rc == LX_AGAIN && !req->finished) {
        /* Paused as evhtp_request_pause would, except that reading stays
         * on: EOF must reach hook_error (a client that leaves), and turning
         * it off and on again costs an epoll_ctl per request. evhtp's read
         * callback ignores data while paused; the high watermark bounds it. */
        req->paused = true;
        r->status = EVHTP_RES_PAUSE;
        r->conn->flags |= EVHTP_CONN_FLAG_PAUSED;
        watch_paused(req);
    } else if (!req->finished) {
        lx_log_error("handler returned without replying", "\"path\":\"%s\"", req->route->path);
        lx_req_reply_error(req, LX_E_INTERNAL, NULL, NULL);
    }
}

/* ---- lifecycle ---- */

lx_http_server_t *lx_http_server_new(struct event_base *base, const lx_config_t *cfg,
                                     const lx_route_t *routes, size_t nroutes, int worker_id)
{
    lx_http_server_t *srv = lx_calloc(1, sizeof *srv);
    srv->base = base;
    srv->cfg = cfg;
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->worker_id = worker_id;
    event_assign(&srv->cork_flush, base, -1, 0, lx_http_cork_flush_cb, srv);
    evtimer_assign(&srv->accept_pause, base, accept_resume_cb, srv);
    event_assign(&srv->accept_turn, base, -1, 0, accept_turn_cb, srv);
    srv->max_conns = lx_http_conn_limit(cfg);
    srv->htp = evhtp_new(base, srv);
    if (srv->htp == NULL) {
        free(srv);
        return NULL;
    }
    evhtp_enable_flag(srv->htp, EVHTP_FLAG_ENABLE_REUSEPORT | EVHTP_FLAG_ENABLE_NODELAY);
    evhtp_set_gencb(srv->htp, on_request, srv);
    evhtp_set_post_accept_cb(srv->htp, on_accept, srv);
    /* No read timeout: our own timers handle heads and idle keep-alive, and a
     * read timeout would fire during long streams. The write timeout drops
     * clients that stop reading. */
    struct timeval wtv = {cfg->write_timeout_ms / 1000, (cfg->write_timeout_ms % 1000) * 1000};
    evhtp_set_timeouts(srv->htp, NULL, &wtv);
    return srv;
}

int lx_http_server_listen(lx_http_server_t *srv)
{
    char addr[300];
    const char *host = srv->cfg->listen_host;
    snprintf(addr, sizeof addr, "%s%s", strchr(host, ':') ? "ipv6:" : "", host);
    if (evhtp_bind_socket(srv->htp, addr, (uint16_t)srv->cfg->listen_port, srv->cfg->backlog) < 0) {
        lx_log_error("cannot listen", "\"listen\":\"%s:%d\",\"worker\":%d", host,
                     srv->cfg->listen_port, srv->worker_id);
        return LX_ERROR;
    }
    evconnlistener_set_error_cb(srv->htp->server, accept_error_cb);
    return LX_OK;
}

static void idle_check_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_http_server_t *srv = arg;
    if (!srv->draining || srv->on_idle == NULL)
        return;
    if (atomic_load_explicit(&srv->stats.requests_active, memory_order_relaxed) == 0) {
        void (*cb)(void *) = srv->on_idle;
        srv->on_idle = NULL;
        cb(srv->on_idle_arg);
    }
}

void lx_server_request_done(lx_http_server_t *srv)
{
    atomic_fetch_sub_explicit(&srv->stats.requests_active, 1, memory_order_relaxed);
    if (srv->draining && srv->on_idle)
        event_active(&srv->idle_check, EV_TIMEOUT, 1); /* not from inside evhtp's stack */
}

void lx_http_server_drain(lx_http_server_t *srv, void (*on_idle)(void *), void *arg)
{
    srv->draining = true;
    srv->on_idle = on_idle;
    srv->on_idle_arg = arg;
    evtimer_assign(&srv->idle_check, srv->base, idle_check_cb, srv);
    evhtp_unbind_socket(srv->htp);
    /* Idle keep-alive connections and half-sent heads go now. */
    lx_conn_t *c = srv->conns;
    while (c) {
        lx_conn_t *next = c->next;
        if (c->phase == CONN_IDLE || (c->phase == CONN_HEAD && c->req == NULL))
            evhtp_connection_free(c->ec);
        c = next;
    }
    event_active(&srv->idle_check, EV_TIMEOUT, 1);
}

void lx_http_server_close_all(lx_http_server_t *srv)
{
    while (srv->conns) {
        lx_conn_t *c = srv->conns;
        if (c->req)
            c->req->paused = false; /* the connection goes now, paused or not */
        if (c->req)
            lx_req_unwatch(c->req);
        evhtp_connection_free(c->ec);
    }
    lx_closer_free_all(srv);
}

void lx_http_server_free(lx_http_server_t *srv)
{
    if (srv == NULL)
        return;
    lx_http_server_close_all(srv);
    if (srv->draining)
        event_del(&srv->idle_check);
    evhtp_unbind_socket(srv->htp);
    evhtp_free(srv->htp);
    event_del(&srv->cork_flush);
    event_del(&srv->accept_pause);
    event_del(&srv->accept_turn);
    lx_buf_free(&srv->head_buf);
    lx_buf_free(&srv->cork_buf);
    free(srv);
}

int lx_http_conn_limit(const lx_config_t *cfg)
{
    int workers = cfg->workers > 0 ? cfg->workers : 1;
    if (cfg->max_connections > 0)
        return (cfg->max_connections + workers - 1) / workers;
    /* Each worker has a file table of its own (worker.c), so the fd limit
     * counts per worker; a proxied request holds two descriptors (client and
     * upstream), and some are kept for Postgres, logs and curl. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 100000;
    long per = ((long)rl.rlim_cur - 64) / 2;
    return per < 16 ? 16 : per > 1000000 ? 1000000 : (int)per;
}

const lx_http_stats_t *lx_http_server_stats(const lx_http_server_t *srv)
{
    return &srv->stats;
}

int lx_http_server_worker_id(const lx_http_server_t *srv)
{
    return srv->worker_id;
}

bool lx_http_server_draining(const lx_http_server_t *srv)
{
    return srv->draining;
}
