/* reply.c - immediate replies, provider error shapes and delayed delivery. */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "ctx.h"
#include "jsonw.h"
#include "stats.h"

static void set_ctype(evhtp_request_t *req, const char *ctype)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Type", ctype, 0, 0));
}

void mock_reply_now(evhtp_request_t *req, int status, const char *ctype, struct evbuffer *body)
{
    set_ctype(req, ctype);
    if (body != NULL)
        evbuffer_add_buffer(req->buffer_out, body);
    evhtp_send_reply(req, (evhtp_res)status);
}

/* ---- error shapes ---- */

typedef struct {
    int status;
    const char *openai_type, *openai_code;
    const char *anthropic_type;
    const char *gemini_status;
    const char *message;
} err_row_t;

static const err_row_t err_rows[] = {
    {400, "invalid_request_error", "invalid_request", "invalid_request_error", "INVALID_ARGUMENT",
     "Invalid request (mock fault)"},
    {401, "invalid_request_error", "invalid_api_key", "authentication_error", "UNAUTHENTICATED",
     "Incorrect API key provided (mock fault)"},
    {403, "invalid_request_error", "permission_denied", "permission_error", "PERMISSION_DENIED",
     "Permission denied (mock fault)"},
    {404, "invalid_request_error", "model_not_found", "not_found_error", "NOT_FOUND",
     "Not found (mock fault)"},
    {405, "invalid_request_error", "method_not_allowed", "invalid_request_error",
     "INVALID_ARGUMENT", "Method not allowed"},
    {413, "invalid_request_error", "request_too_large", "request_too_large", "INVALID_ARGUMENT",
     "Request too large (mock fault)"},
    {422, "invalid_request_error", "unprocessable_entity", "invalid_request_error",
     "INVALID_ARGUMENT", "Unprocessable entity (mock fault)"},
    {429, "requests", "rate_limit_exceeded", "rate_limit_error", "RESOURCE_EXHAUSTED",
     "Rate limit reached (mock fault)"},
    {500, "server_error", "internal_error", "api_error", "INTERNAL",
     "Internal server error (mock fault)"},
    {502, "server_error", "bad_gateway", "api_error", "UNAVAILABLE", "Bad gateway (mock fault)"},
    {503, "server_error", "service_unavailable", "api_error", "UNAVAILABLE",
     "Service unavailable (mock fault)"},
    {529, "server_error", "overloaded", "overloaded_error", "UNAVAILABLE",
     "Overloaded (mock fault)"},
};

static const err_row_t *err_row(int status)
{
    static const err_row_t other4 = {0,
                                     "invalid_request_error",
                                     "invalid_request",
                                     "invalid_request_error",
                                     "FAILED_PRECONDITION",
                                     "Request failed (mock fault)"};
    static const err_row_t other5 = {0,           "server_error", "internal_error",
                                     "api_error", "INTERNAL",     "Server error (mock fault)"};

    for (size_t i = 0; i < sizeof(err_rows) / sizeof(err_rows[0]); i++)
        if (err_rows[i].status == status)
            return &err_rows[i];
    return status >= 500 ? &other5 : &other4;
}

void mock_error_body(struct evbuffer *out, mock_api_t api, int status, const char *msg,
                     const char *code)
{
    const err_row_t *r = err_row(status);

    if (msg == NULL)
        msg = r->message;
    switch (api) {
    case MOCK_API_ANTHROPIC:
        evbuffer_add_printf(
            out, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", r->anthropic_type);
        mock_jw_cstr(out, msg);
        MOCK_LIT(out, "}}");
        break;
    case MOCK_API_GEMINI:
        evbuffer_add_printf(out, "{\"error\":{\"code\":%d,\"message\":", status);
        mock_jw_cstr(out, msg);
        evbuffer_add_printf(out, ",\"status\":\"%s\"}}", r->gemini_status);
        break;
    case MOCK_API_RUNWAY:
        MOCK_LIT(out, "{\"error\":");
        mock_jw_cstr(out, msg);
        MOCK_LIT(out, "}");
        break;
    case MOCK_API_OPENAI:
    default:
        MOCK_LIT(out, "{\"error\":{\"message\":");
        mock_jw_cstr(out, msg);
        evbuffer_add_printf(out, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}",
                            r->openai_type, code ? code : r->openai_code);
        break;
    }
}

static void add_retry_after(evhtp_request_t *req, long secs)
{
    char v[24];

    snprintf(v, sizeof(v), "%ld", secs);
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Retry-After", v, 0, 1));
}

static void reply_error(evhtp_request_t *req, mock_api_t api, int status, const char *msg,
                        long retry_after, const char *code)
{
    struct evbuffer *b = evbuffer_new();

    if (retry_after > 0)
        add_retry_after(req, retry_after);
    if (b != NULL)
        mock_error_body(b, api, status, msg, code);
    mock_reply_now(req, status, MOCK_CT_JSON, b);
    if (b != NULL)
        evbuffer_free(b);
}

void mock_reply_error(evhtp_request_t *req, mock_api_t api, int status, const char *msg,
                      long retry_after)
{
    reply_error(req, api, status, msg, retry_after, NULL);
}

void mock_reply_error_code(evhtp_request_t *req, mock_api_t api, int status, const char *msg,
                           const char *code)
{
    reply_error(req, api, status, msg, 0, code);
}

/* ---- delayed delivery ---- */

typedef enum { SEND_FULL, SEND_SLOW, SEND_STALL_MID } send_mode_t;

typedef struct {
    struct evbuffer *body;
    const char *ctype;
    int status;
    send_mode_t mode;
} pending_t;

static void pending_free(void *p)
{
    pending_t *pd = p;

    if (pd->body != NULL)
        evbuffer_free(pd->body);
    free(pd);
}

static void send_rest(mock_ctx_t *ctx)
{
    pending_t *pd = ctx->data;

    evhtp_send_reply_body(ctx->req, pd->body);
    evhtp_send_reply_end(ctx->req);
    mock_ctx_done(ctx);
}

/* Headers with the full Content-Length, then the first half of the body. */
static void send_first_half(evhtp_request_t *req, pending_t *pd)
{
    char len[24];
    size_t total = evbuffer_get_length(pd->body);
    struct evbuffer *half = evbuffer_new();

    snprintf(len, sizeof(len), "%zu", total);
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Length", len, 0, 1));
    set_ctype(req, pd->ctype);
    evhtp_send_reply_start(req, (evhtp_res)pd->status);
    if (half != NULL) {
        evbuffer_remove_buffer(pd->body, half, total / 2);
        evhtp_send_reply_body(req, half);
        evbuffer_free(half);
    }
}

static void send_pending(mock_ctx_t *ctx)
{
    pending_t *pd = ctx->data;

    switch (pd->mode) {
    case SEND_FULL:
        mock_reply_now(ctx->req, pd->status, pd->ctype, pd->body);
        mock_ctx_done(ctx);
        break;
    case SEND_SLOW:
        send_first_half(ctx->req, pd);
        mock_ctx_after(ctx, 200, send_rest);
        break;
    case SEND_STALL_MID:
        send_first_half(ctx->req, pd);
        mock_ctx_stall(ctx);
        break;
    }
}

/* Sends body (taken) after delay_ms in the given mode. */
static void send_later(evhtp_request_t *req, int status, const char *ctype, struct evbuffer *body,
                       long delay_ms, send_mode_t mode)
{
    pending_t *pd = calloc(1, sizeof(*pd));
    mock_ctx_t *ctx;

    if (pd != NULL) {
        pd->body = body;
        pd->ctype = ctype;
        pd->status = status;
        pd->mode = mode;
    }
    ctx = pd ? mock_ctx_new(req, pd, pending_free) : NULL;
    if (ctx == NULL) {
        mock_reply_now(req, status, ctype, body);
        if (pd != NULL)
            pending_free(pd);
        else
            evbuffer_free(body);
        return;
    }
    if (delay_ms > 0)
        mock_ctx_after(ctx, delay_ms, send_pending);
    else
        send_pending(ctx);
}

/* A reply written by hand, byte for byte, past evhtp (which would frame a
 * 204 or a 101 its own way), then the connection is shut down. The head
 * says Connection: close and the body's Content-Length, as a broken or
 * hostile server might for any status. */
static bool reply_raw(evhtp_request_t *req, const mock_opts_t *o, mock_api_t api)
{
    mock_ctx_t *ctx = mock_ctx_new(req, NULL, NULL);
    struct evbuffer *body = evbuffer_new();
    struct evbuffer *out;
    int status = o->fault == MOCK_FAULT_CR_HEADER ? 429 : o->status;

    if (ctx == NULL || body == NULL) {
        if (body != NULL)
            evbuffer_free(body);
        return false;
    }
    mock_stat_add(MOCK_ST_FAULTS, 1);
    mock_error_body(body, api, status >= 400 && status <= 599 ? status : 500, NULL, NULL);
    out = bufferevent_get_output(evhtp_connection_get_bev(evhtp_request_get_connection(req)));
    evbuffer_add_printf(out, "HTTP/1.1 %d Mock\r\nContent-Type: application/json\r\n", status);
    if (o->fault == MOCK_FAULT_CR_HEADER)
        MOCK_LIT(out, "Retry-After: 1\rSet-Cookie: injected=1\r\n");
    evbuffer_add_printf(out, "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        evbuffer_get_length(body));
    evbuffer_add_buffer(out, body);
    evbuffer_free(body);
    mock_ctx_drop(ctx);
    return true;
}

bool mock_fault_early(evhtp_request_t *req, const mock_opts_t *o, mock_api_t api, long delay_ms,
                      bool stream)
{
    mock_ctx_t *ctx;

    switch (o->fault) {
    case MOCK_FAULT_RAW_STATUS:
    case MOCK_FAULT_CR_HEADER:
        return reply_raw(req, o, api);
    case MOCK_FAULT_STATUS: {
        struct evbuffer *b = evbuffer_new();
        if (b == NULL)
            return false;
        mock_stat_add(MOCK_ST_FAULTS, 1);
        if (o->status == 429)
            add_retry_after(req, o->retry_after);
        mock_error_body(b, api, o->status, NULL, NULL);
        if (delay_ms > 0) {
            send_later(req, o->status, MOCK_CT_JSON, b, delay_ms, SEND_FULL);
        } else {
            mock_reply_now(req, o->status, MOCK_CT_JSON, b);
            evbuffer_free(b);
        }
        return true;
    }
    case MOCK_FAULT_QUOTA: {
        /* the quota / credit is gone (not a rate limit): no Retry-After */
        struct evbuffer *b = evbuffer_new();
        if (b == NULL)
            return false;
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_error_body(b, api, 429,
                        "You exceeded your current quota, please check your plan and billing "
                        "details (mock fault)",
                        "insufficient_quota");
        mock_reply_now(req, 429, MOCK_CT_JSON, b);
        evbuffer_free(b);
        return true;
    }
    case MOCK_FAULT_STALL_HEADERS:
        ctx = mock_ctx_new(req, NULL, NULL);
        if (ctx == NULL)
            return false;
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_ctx_stall(ctx);
        return true;
    case MOCK_FAULT_DROP:
        if (stream)
            return false;
        ctx = mock_ctx_new(req, NULL, NULL);
        if (ctx == NULL)
            return false;
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_ctx_drop(ctx);
        return true;
    default:
        return false;
    }
}

void mock_deliver(evhtp_request_t *req, const mock_opts_t *o, int status, const char *ctype,
                  struct evbuffer *body)
{
    switch (o->fault) {
    case MOCK_FAULT_MALFORMED: {
        /* Keep the first half only: that is never a complete JSON document. */
        size_t half = evbuffer_get_length(body) / 2;
        struct evbuffer *cut = evbuffer_new();
        mock_stat_add(MOCK_ST_FAULTS, 1);
        if (cut != NULL) {
            evbuffer_remove_buffer(body, cut, half);
            evbuffer_free(body);
            body = cut;
        }
        break;
    }
    case MOCK_FAULT_HUGE_BODY: {
        /* {"pad":"xxx...", <the answer's own fields>}: still the answer */
        struct evbuffer *big = evbuffer_new();
        char xs[4096];
        memset(xs, 'x', sizeof xs);
        mock_stat_add(MOCK_ST_FAULTS, 1);
        if (big != NULL && evbuffer_get_length(body) > 0) {
            evbuffer_drain(body, 1); /* the '{' */
            MOCK_LIT(big, "{\"pad\":\"");
            for (long i = 0; i < o->size; i += 4096)
                evbuffer_add(big, xs, (size_t)(o->size - i < 4096 ? o->size - i : 4096));
            MOCK_LIT(big, "\",");
            evbuffer_add_buffer(big, body);
            evbuffer_free(body);
            body = big;
        } else if (big != NULL) {
            evbuffer_free(big);
        }
        break;
    }
    case MOCK_FAULT_SLOW_BODY:
        mock_stat_add(MOCK_ST_FAULTS, 1);
        send_later(req, status, ctype, body, o->latency_ms, SEND_SLOW);
        return;
    case MOCK_FAULT_STALL_MID:
        mock_stat_add(MOCK_ST_FAULTS, 1);
        send_later(req, status, ctype, body, o->latency_ms, SEND_STALL_MID);
        return;
    default:
        break;
    }
    if (o->latency_ms > 0) {
        send_later(req, status, ctype, body, o->latency_ms, SEND_FULL);
        return;
    }
    mock_reply_now(req, status, ctype, body);
    evbuffer_free(body);
}
