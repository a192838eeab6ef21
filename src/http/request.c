/* request.c - request context, replies and streaming bodies.
 *
 * Responses are rendered here rather than by evhtp_send_reply: we control the
 * status text (evhtp has none for 429/431/529), Content-Length, chunking and
 * Connection, and the bytes go straight onto the connection's bufferevent.
 * evhtp only learns that the request is finished (evhtp_send_reply_end) so
 * that it recycles or closes the connection once the output has drained. */
#include "http/internal.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"

#include <stdlib.h>
#include <strings.h>

lx_req_t *lx_req_new(lx_conn_t *c, evhtp_request_t *r)
{
    lx_req_t *req = lx_calloc(1, sizeof *req);
    req->conn = c;
    req->r = r;
    req->t_start_us = lx_now_us();
    req->state = REQ_READING;
    req->http10 = r->proto == EVHTP_PROTO_10;
    const char *rid = evhtp_header_find(r->headers_in, "X-Request-Id");
    if (rid && lx_request_id_valid(rid, strlen(rid)))
        snprintf(req->id, sizeof req->id, "%s", rid);
    else
        lx_request_id_new(req->id);
    return req;
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
    for (int i = 0; i < req->nheaders; i++) {
        free(req->header_names[i]);
        free(req->header_values[i]);
    }
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
    const char *auth = lx_req_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *k = auth + 7;
        while (*k == ' ')
            k++;
        return lx_str(k);
    }
    const char *x = lx_req_header(req, "x-api-key");
    return x ? lx_str(x) : LX_NULL_STR;
}

void lx_req_set_key_id(lx_req_t *req, const char *key_id)
{
    snprintf(req->key_id, sizeof req->key_id, "%s", key_id ? key_id : "");
}

void lx_req_set_header(lx_req_t *req, const char *name, const char *value)
{
    for (int i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->header_names[i], name) == 0) {
            free(req->header_values[i]);
            req->header_values[i] = lx_strdup(value);
            return;
        }
    }
    if (req->nheaders == LX_REQ_MAX_HEADERS)
        return;
    req->header_names[req->nheaders] = lx_strdup(name);
    req->header_values[req->nheaders++] = lx_strdup(value);
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

/* Renders the head (and a body when not streaming). len == SIZE_MAX means a
 * streamed body follows. */
static void render_head(lx_req_t *req, struct evbuffer *out, int status, const char *ctype,
                        size_t len, bool close)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status,
                     lx_status_text(status), ctype);
    evbuffer_add(out, head, (size_t)n);
    if (req->id[0])
        evbuffer_add_printf(out, "X-Request-Id: %s\r\n", req->id);
    if (len != SIZE_MAX)
        evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
    else if (req->chunked)
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    for (int i = 0; i < req->nheaders; i++)
        evbuffer_add_printf(out, "%s: %s\r\n", req->header_names[i], req->header_values[i]);
    if (close)
        evbuffer_add(out, "Connection: close\r\n", 19);
    else if (req->http10)
        evbuffer_add(out, "Connection: keep-alive\r\n", 24);
    evbuffer_add(out, "\r\n", 2);
}

void lx_render_response(lx_req_t *req, struct evbuffer *out, int status, const char *ctype,
                        const char *body, size_t len, bool close)
{
    render_head(req, out, status, ctype, len, close);
    bool head_only = req->r && req->r->method == htp_method_HEAD;
    if (len && !head_only)
        evbuffer_add(out, body, len);
}

/* Whether this response must close the connection, and tell evhtp so. */
static bool decide_close(lx_req_t *req, bool streaming)
{
    evhtp_request_t *r = req->r;
    bool close = !(r->flags & EVHTP_REQ_FLAG_KEEPALIVE) || req->conn->srv->draining ||
                 (streaming && req->http10);
    if (close)
        evhtp_request_set_keepalive(r, 0);
    return close;
}

/* ---- replies ---- */

void lx_req_reply(lx_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    if (req->finished || req->state == REQ_STREAMING)
        return;
    req->status = status;
    if (!req->client_gone) {
        struct evbuffer *out = req_output(req);
        if (out) {
            lx_render_response(req, out, status, content_type, body, len, decide_close(req, false));
            req->bytes_out = len;
        }
        evhtp_send_reply_end(req->r);
    }
    lx_req_finish(req);
}

void lx_req_reply_json(lx_req_t *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    lx_req_reply(req, status, "application/json", text, strlen(text));
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
    struct evbuffer *out = req_output(req);
    if (out == NULL)
        return;
    bool close = decide_close(req, true);
    req->chunked = !req->http10;
    render_head(req, out, status, content_type, SIZE_MAX, close);
}

bool lx_req_stream_write(lx_req_t *req, const void *p, size_t n)
{
    if (req->client_gone || req->finished)
        return false;
    if (n == 0)
        return true;
    struct evbuffer *out = req_output(req);
    if (out == NULL)
        return false;
    if (req->chunked) {
        char sz[24];
        int k = snprintf(sz, sizeof sz, "%zx\r\n", n);
        evbuffer_add(out, sz, (size_t)k);
        evbuffer_add(out, p, n);
        evbuffer_add(out, "\r\n", 2);
    } else {
        evbuffer_add(out, p, n);
    }
    req->bytes_out += n;
    return true;
}

size_t lx_req_pending_bytes(const lx_req_t *req)
{
    struct evbuffer *out = req_output(req);
    return out ? evbuffer_get_length(out) : 0;
}

void lx_req_stream_end(lx_req_t *req)
{
    if (req->finished)
        return;
    if (!req->client_gone) {
        struct evbuffer *out = req_output(req);
        if (out && req->chunked)
            evbuffer_add(out, "0\r\n\r\n", 5);
        evhtp_send_reply_end(req->r);
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

void lx_req_finish(lx_req_t *req)
{
    if (req->finished)
        return;
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
        evhtp_request_resume(req->r); /* after the reply, never before */
    }
}
