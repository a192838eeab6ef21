/* request.c - request context, replies and streaming bodies.
 *
 * Responses are rendered here rather than by evhtp_send_reply: we control the
 * status text (evhtp has none for 429/431/529), Content-Length, chunking and
 * Connection. When nothing is queued on the connection (the usual case) the
 * bytes go straight to the socket with one sendmsg; only what the socket does
 * not take is queued on the bufferevent, which then writes it as usual. That
 * saves the EV_WRITE enable/disable round through epoll on every reply.
 * evhtp only learns that the request is finished (evhtp_send_reply_end) so
 * that it recycles or closes the connection once the output has drained; when
 * nothing was queued, we run its write callback ourselves (deferred), which is
 * what libevent would have done after draining. */
#include "http/internal.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

lx_req_t *lx_req_new(lx_conn_t *c, evhtp_request_t *r)
{
    lx_req_t *req = lx_calloc(1, sizeof *req);
    req->conn = c;
    req->r = r;
    req->t_start_us = lx_now_us();
    req->state = REQ_READING;
    req->http10 = r->proto == EVHTP_PROTO_10;
    memcpy(req->known, c->known, sizeof req->known);
    const char *rid = req->known[LX_HDR_REQUEST_ID];
    if (rid && lx_request_id_valid(rid, strlen(rid)))
        snprintf(req->id, sizeof req->id, "%s", rid);
    else
        lx_request_id_new(req->id);
    return req;
}

/* Empties a worker scratch buffer, letting go of it after a rare large use. */
static void scratch_reset(lx_buf_t *b)
{
    if (b->cap > 64 * 1024)
        lx_buf_free(b);
    lx_buf_reset(b);
}

static struct evbuffer *req_output(const lx_req_t *req)
{
    evhtp_connection_t *ec = req->conn ? req->conn->ec : NULL;
    return ec && ec->bev ? bufferevent_get_output(ec->bev) : NULL;
}

void lx_req_free(lx_req_t *req)
{
    lx_req_unwatch(req);
    if (req->drain_entry) {
        struct evbuffer *out = req_output(req);
        if (out)
            evbuffer_remove_cb_entry(out, req->drain_entry);
        req->drain_entry = NULL;
    }
    if (req->conn->srv->cork_owner == req) {
        req->conn->srv->cork_owner = NULL;
        scratch_reset(&req->conn->srv->cork_buf);
    }
    lx_buf_free(&req->hdr_store);
    free(req);
}

/* ---- what the client sent ---- */

lx_str_t lx_req_method(const lx_req_t *req)
{
    return lx_str(htparser_get_methodstr_m(req->r->method));
}

lx_str_t lx_req_path(const lx_req_t *req)
{
    const evhtp_request_t *r = req->r;
    return lx_str(r->uri && r->uri->path && r->uri->path->full ? r->uri->path->full : "/");
}

lx_str_t lx_req_query_raw(const lx_req_t *req)
{
    const evhtp_request_t *r = req->r;
    return r->uri && r->uri->query_raw ? lx_str((const char *)r->uri->query_raw) : LX_NULL_STR;
}

const char *lx_req_query(lx_req_t *req, const char *name)
{
    evhtp_request_t *r = req->r;
    return r->uri && r->uri->query ? evhtp_kv_find(r->uri->query, name) : NULL;
}

const char *lx_req_header(const lx_req_t *req, const char *name)
{
    return evhtp_header_find(req->r->headers_in, name);
}

static const struct {
    const char *name;
    size_t len;
} known_names[LX_HDR_COUNT] = {
#define KNOWN(id, s) [id] = {s, sizeof s - 1}
    KNOWN(LX_HDR_REQUEST_ID, "X-Request-Id"),
    KNOWN(LX_HDR_CONTENT_LENGTH, "Content-Length"),
    KNOWN(LX_HDR_AUTHORIZATION, "Authorization"),
    KNOWN(LX_HDR_X_API_KEY, "x-api-key"),
    KNOWN(LX_HDR_LLMUX_PROVIDER, "x-llmux-provider"),
    KNOWN(LX_HDR_LLMUX_ROUTE, "x-llmux-route"),
    KNOWN(LX_HDR_ANTHROPIC_VERSION, "anthropic-version"),
    KNOWN(LX_HDR_ANTHROPIC_BETA, "anthropic-beta"),
    KNOWN(LX_HDR_TRACEPARENT, "traceparent"),
    KNOWN(LX_HDR_TRACESTATE, "tracestate"),
#undef KNOWN
};

lx_hdr_t lx_hdr_classify(const char *name, size_t len)
{
    for (int i = 0; i < LX_HDR_COUNT; i++)
        if (known_names[i].len == len && strncasecmp(known_names[i].name, name, len) == 0)
            return (lx_hdr_t)i;
    return LX_HDR_COUNT;
}

const char *lx_req_hdr(const lx_req_t *req, lx_hdr_t h)
{
    return h < LX_HDR_COUNT ? req->known[h] : NULL;
}

lx_str_t lx_req_body(lx_req_t *req)
{
    struct evbuffer *in = req->r->buffer_in;
    size_t n = evbuffer_get_length(in);
    if (n == 0)
        return (lx_str_t){"", 0};
    return (lx_str_t){(const char *)evbuffer_pullup(in, -1), n};
}

json_t *lx_req_json_body(lx_req_t *req)
{
    lx_str_t body = lx_req_body(req);
    char err[200];
    json_t *root = lx_json_parse(body.p, body.n, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (root == NULL) {
        lx_req_reply_error(req, LX_E_INVALID_JSON, err, NULL);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "request body must be a JSON object", NULL);
        return NULL;
    }
    return root;
}

lx_str_t lx_req_id(const lx_req_t *req)
{
    return lx_str(req->id);
}

int64_t lx_req_start_us(const lx_req_t *req)
{
    return req->t_start_us;
}

bool lx_req_is_http10(const lx_req_t *req)
{
    return req->http10;
}

bool lx_req_client_gone(const lx_req_t *req)
{
    return req->client_gone;
}

bool lx_req_anthropic_errors(const lx_req_t *req)
{
    return req->anthropic;
}

int lx_req_worker_id(const lx_req_t *req)
{
    return req->conn->srv->worker_id;
}

struct event_base *lx_req_base(const lx_req_t *req)
{
    return req->conn->srv->base;
}

bool lx_req_streaming(const lx_req_t *req)
{
    return req->state == REQ_STREAMING;
}

lx_str_t lx_req_api_key(const lx_req_t *req)
{
    const char *auth = req->known[LX_HDR_AUTHORIZATION];
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *k = auth + 7;
        while (*k == ' ')
            k++;
        return lx_str(k);
    }
    const char *x = req->known[LX_HDR_X_API_KEY];
    return x ? lx_str(x) : LX_NULL_STR;
}

void lx_req_set_key_id(lx_req_t *req, const char *key_id)
{
    lx_copy_cstr(req->key_id, sizeof req->key_id, key_id);
}

static uint32_t store_cstr(lx_req_t *req, const char *s)
{
    uint32_t at = (uint32_t)req->hdr_store.n;
    lx_buf_append(&req->hdr_store, s, strlen(s) + 1);
    return at;
}

/* RFC 9110 token characters. */
static bool header_name_ok(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr(tchar, c)))
            return false;
    }
    return true;
}

/* Visible ASCII, spaces, tabs and obs-text (UTF-8 bytes): no CTL. */
static bool header_value_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

int lx_req_set_header(lx_req_t *req, const char *name, const char *value)
{
    if (!header_name_ok(name) || !header_value_ok(value))
        return LX_ERROR;
    size_t n = strlen(name);
    if (n > 1024)
        return LX_ERROR;
    for (int i = 0; i < req->nheaders; i++) {
        if (req->header_name_len[i] == n &&
            strcasecmp(req->hdr_store.p + req->header_name[i], name) == 0) {
            req->header_value[i] = store_cstr(req, value); /* the old one stays, unused */
            return LX_OK;
        }
    }
    if (req->nheaders == LX_REQ_MAX_HEADERS)
        return LX_ERROR;
    if (req->hdr_store.cap == 0)
        lx_buf_init(&req->hdr_store, 256);
    req->header_name_len[req->nheaders] = (uint16_t)n;
    req->header_name[req->nheaders] = store_cstr(req, name);
    req->header_value[req->nheaders++] = store_cstr(req, value);
    return LX_OK;
}

int lx_req_add_header(lx_req_t *req, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    for (size_t i = 0; i < value_len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return LX_ERROR;
    }
    if (req->nheaders == LX_REQ_MAX_HEADERS)
        return LX_ERROR;
    if (req->hdr_store.cap == 0)
        lx_buf_init(&req->hdr_store, 256);
    uint32_t at = (uint32_t)req->hdr_store.n;
    lx_buf_append(&req->hdr_store, name, name_len + 1); /* with its NUL */
    req->header_name_len[req->nheaders] = (uint16_t)name_len;
    req->header_name[req->nheaders] = at;
    req->header_value[req->nheaders++] = (uint32_t)req->hdr_store.n;
    lx_buf_append(&req->hdr_store, value, value_len);
    lx_buf_append(&req->hdr_store, "", 1);
    return LX_OK;
}

/* ---- rendering ---- */

const char *lx_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 529:
        return "Site Overloaded";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Renders the head into b. len == SIZE_MAX means a streamed body follows. */
static void render_head(lx_req_t *req, lx_buf_t *b, int status, const char *ctype, size_t len,
                        bool close)
{
    lx_buf_append_lit(b, "HTTP/1.1 ");
    lx_buf_append_uint(b, (uint64_t)status);
    lx_buf_append_char(b, ' ');
    lx_buf_append_cstr(b, lx_status_text(status));
    lx_buf_append_lit(b, "\r\nContent-Type: ");
    lx_buf_append_cstr(b, ctype);
    if (req->id[0]) {
        lx_buf_append_lit(b, "\r\nX-Request-Id: ");
        lx_buf_append_cstr(b, req->id);
    }
    if (len != SIZE_MAX) {
        lx_buf_append_lit(b, "\r\nContent-Length: ");
        lx_buf_append_uint(b, len);
    } else if (req->chunked) {
        lx_buf_append_lit(b, "\r\nTransfer-Encoding: chunked");
    }
    for (int i = 0; i < req->nheaders; i++) {
        lx_buf_append_lit(b, "\r\n");
        lx_buf_append_cstr(b, req->hdr_store.p + req->header_name[i]);
        lx_buf_append_lit(b, ": ");
        lx_buf_append_cstr(b, req->hdr_store.p + req->header_value[i]);
    }
    if (close)
        lx_buf_append_lit(b, "\r\nConnection: close");
    else if (req->http10)
        lx_buf_append_lit(b, "\r\nConnection: keep-alive");
    lx_buf_append_lit(b, "\r\n\r\n");
}

/* The worker's scratch buffer for response heads (no allocation per reply). */
static lx_buf_t *head_scratch(lx_req_t *req)
{
    lx_buf_t *b = &req->conn->srv->head_buf;
    scratch_reset(b);
    return b;
}

static bool head_only(const lx_req_t *req)
{
    return req->r && req->r->method == htp_method_HEAD;
}

void lx_render_response(lx_req_t *req, struct evbuffer *out, int status, const char *ctype,
                        const char *body, size_t len, bool close)
{
    lx_buf_t *h = head_scratch(req);
    render_head(req, h, status, ctype, len, close);
    evbuffer_add(out, h->p, h->n);
    if (len && !head_only(req))
        evbuffer_add(out, body, len);
}

/* ---- output ---- */

/* Sends iov[0..n) in order: straight to the socket when nothing is queued
 * ahead of it, the rest (or all, when something is queued, the request is
 * corked or the socket is full) onto the bufferevent. A send error leaves
 * the bytes queued too: the bufferevent's own write then reports it through
 * the usual event callback. */
static void out_send(lx_req_t *req, struct iovec *iov, int n)
{
    if (req->corked) {
        for (int i = 0; i < n; i++)
            lx_buf_append(&req->conn->srv->cork_buf, iov[i].iov_base, iov[i].iov_len);
        return;
    }
    evhtp_connection_t *ec = req->conn ? req->conn->ec : NULL;
    struct bufferevent *bev = ec ? ec->bev : NULL;
    if (bev == NULL)
        return;
    struct evbuffer *out = bufferevent_get_output(bev);
    size_t sent = 0;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (evbuffer_get_length(out) == 0 && fd >= 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w;
        do
            w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        if (w > 0)
            sent = (size_t)w;
    }
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (sent >= len) {
            sent -= len;
            continue;
        }
        evbuffer_add(out, (const char *)iov[i].iov_base + sent, len - sent);
        sent = 0;
    }
}

/* evhtp recycles (or closes) the connection from its write callback, which
 * libevent runs only after draining queued output. When everything went out
 * directly, run it ourselves, deferred so that it never runs inside evhtp's
 * own parser callbacks. */
static void out_finished(lx_req_t *req)
{
    evhtp_connection_t *ec = req->conn ? req->conn->ec : NULL;
    if (ec && ec->bev && evbuffer_get_length(bufferevent_get_output(ec->bev)) == 0)
        bufferevent_trigger(ec->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

void lx_req_cork(lx_req_t *req)
{
    lx_http_server_t *srv = req->conn->srv;
    if (srv->cork_owner == req)
        return;
    if (srv->cork_owner)
        lx_req_uncork(srv->cork_owner);
    srv->cork_owner = req;
    req->corked = true;
    /* Active events run in order, so this one runs after the callbacks the
     * loop already has due: the rest of one upstream read, which curl hands
     * over one HTTP chunk at a time. */
    event_active(&srv->cork_flush, EV_TIMEOUT, 1);
}

void lx_http_cork_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lx_http_server_t *srv = arg;
    if (srv->cork_owner)
        lx_req_uncork(srv->cork_owner);
}

void lx_req_uncork(lx_req_t *req)
{
    if (!req->corked)
        return;
    lx_http_server_t *srv = req->conn->srv;
    lx_buf_t *b = &srv->cork_buf;
    req->corked = false;
    srv->cork_owner = NULL;
    if (b->n > 0 && !req->client_gone) {
        struct iovec iov = {b->p, b->n};
        out_send(req, &iov, 1);
    }
    scratch_reset(b);
}

/* Whether this response must close the connection, and tell evhtp so. */
static bool decide_close(lx_req_t *req, bool streaming)
{
    evhtp_request_t *r = req->r;
    bool close = !(r->flags & EVHTP_REQ_FLAG_KEEPALIVE) || req->conn->srv->draining ||
                 (streaming && req->http10);
    if (close) /* evhtp_request_set_keepalive(r, 0) does nothing: it only ever sets the flag */
        r->flags &= ~EVHTP_REQ_FLAG_KEEPALIVE;
    return close;
}

/* ---- replies ---- */

int lx_req_status(const lx_req_t *req)
{
    return req->status;
}

lx_err_t lx_req_error(const lx_req_t *req)
{
    return req->err;
}

void lx_req_reply(lx_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    if (req->finished || req->state == REQ_STREAMING)
        return;
    req->status = status;
    if (!req->client_gone) {
        lx_buf_t *h = head_scratch(req);
        render_head(req, h, status, content_type, len, decide_close(req, false));
        struct iovec iov[2] = {{h->p, h->n}, {(void *)body, len}};
        out_send(req, iov, len && !head_only(req) ? 2 : 1);
        req->bytes_out = len;
        evhtp_send_reply_end(req->r);
        out_finished(req);
    }
    lx_req_finish(req);
}

void lx_req_reply_json(lx_req_t *req, int status, json_t *body)
{
    size_t len = 0;
    char *text = lx_json_text(body, &len); /* shortest round-trip reals */
    json_decref(body);
    lx_req_reply(req, status, "application/json", text, len);
    free(text);
}

json_t *lx_error_body(bool anthropic, lx_err_t err, const char *message, const char *param)
{
    const lx_err_info_t *info = lx_err_info(err);
    if (message == NULL)
        message = info->message;
    if (anthropic)
        return json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                         info->anthropic_type, "message", message);
    return json_pack("{s:{s:s, s:s, s:o, s:s}}", "error", "message", message, "type",
                     info->openai_type, "param", param ? json_string(param) : json_null(), "code",
                     info->name);
}

void lx_req_reply_error_status(lx_req_t *req, int status, lx_err_t err, const char *message,
                               const char *param)
{
    if (!req->finished && req->state != REQ_STREAMING)
        req->err = err;
    lx_req_reply_json(req, status, lx_error_body(req->anthropic, err, message, param));
}

void lx_req_reply_error(lx_req_t *req, lx_err_t err, const char *message, const char *param)
{
    lx_req_reply_error_status(req, lx_err_info(err)->status, err, message, param);
}

/* ---- streaming ---- */

void lx_req_stream_start(lx_req_t *req, int status, const char *content_type)
{
    if (req->finished || req->state == REQ_STREAMING)
        return;
    req->status = status;
    req->state = REQ_STREAMING;
    if (req->client_gone)
        return;
    bool close = decide_close(req, true);
    req->chunked = !req->http10;
    lx_buf_t *h = head_scratch(req);
    render_head(req, h, status, content_type, SIZE_MAX, close);
    struct iovec iov = {h->p, h->n};
    out_send(req, &iov, 1);
    lx_buf_free(&req->hdr_store); /* the head is out: not held for the stream's life */
    req->nheaders = 0;
}

bool lx_req_stream_write(lx_req_t *req, const void *p, size_t n)
{
    if (req->client_gone || req->finished)
        return false;
    if (n == 0)
        return true;
    if (req_output(req) == NULL)
        return false;
    if (req->chunked) {
        static const char hex[] = "0123456789abcdef";
        char sz[24];
        int k = (int)sizeof sz;
        sz[--k] = '\n';
        sz[--k] = '\r';
        for (size_t v = n; v; v >>= 4)
            sz[--k] = hex[v & 15];
        struct iovec iov[3] = {{sz + k, sizeof sz - (size_t)k}, {(void *)p, n}, {"\r\n", 2}};
        out_send(req, iov, 3);
    } else {
        struct iovec iov = {(void *)p, n};
        out_send(req, &iov, 1);
    }
    req->bytes_out += n;
    return true;
}

size_t lx_req_pending_bytes(const lx_req_t *req)
{
    struct evbuffer *out = req_output(req);
    size_t corked = req->corked ? req->conn->srv->cork_buf.n : 0;
    return (out ? evbuffer_get_length(out) : 0) + corked;
}

void lx_req_stream_end(lx_req_t *req)
{
    if (req->finished)
        return;
    lx_req_uncork(req);
    if (!req->client_gone) {
        if (req_output(req) && req->chunked) {
            struct iovec iov = {"0\r\n\r\n", 5};
            out_send(req, &iov, 1);
        }
        evhtp_send_reply_end(req->r);
        out_finished(req);
    }
    lx_req_finish(req);
}

static void output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    lx_req_t *req = arg;
    if (req->on_drain == NULL || info->n_deleted == 0)
        return;
    if (evbuffer_get_length(buf) > req->low_water)
        return;
    lx_req_cb cb = req->on_drain;
    req->on_drain = NULL;
    cb(req, req->drain_arg);
}

void lx_req_on_drain(lx_req_t *req, size_t low_water, lx_req_cb cb, void *arg)
{
    req->on_drain = cb;
    req->drain_arg = arg;
    req->low_water = low_water;
    if (cb && req->drain_entry == NULL) {
        struct evbuffer *out = req_output(req);
        if (out)
            req->drain_entry = evbuffer_add_cb(out, output_cb, req);
    }
}

void lx_req_on_abort(lx_req_t *req, lx_req_cb cb, void *arg)
{
    req->on_abort = cb;
    req->abort_arg = arg;
}

/* Un-pauses the connection after the reply. evhtp's own resume would read
 * what the client pipelined meanwhile straight away, a partial head
 * included (its split-head bug, issue #128); instead the write callback
 * that follows the reply hands it over through server.c, which holds such
 * heads back. When evhtp has marked the connection to be freed, its resume
 * does that. */
static void resume_connection(lx_req_t *req)
{
    evhtp_connection_t *ec = req->conn->ec;
    if (ec->bev == NULL || (ec->flags & EVHTP_CONN_FLAG_FREE_CONN)) {
        evhtp_request_resume(req->r);
        return;
    }
    ec->flags &= ~EVHTP_CONN_FLAG_PAUSED;
}

void lx_req_finish(lx_req_t *req)
{
    if (req->finished)
        return;
    lx_req_uncork(req);
    if (!req->client_gone && req->status == 0) {
        /* A handler gave up without a word: the client still gets one. */
        lx_req_reply_error(req, LX_E_INTERNAL, NULL, NULL);
        return;
    }
    if (req->client_gone)
        req->status = 499;
    req->finished = true;
    req->state = REQ_DONE;
    req->on_abort = NULL;
    req->on_drain = NULL;
    if (req->paused) {
        req->paused = false;
        lx_req_unwatch(req);
        resume_connection(req); /* after the reply, never before */
    }
}
