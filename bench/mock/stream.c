/* stream.c - the timed chunk emitter (see stream.h) and tool-argument fragments. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ctx.h"
#include "jsonw.h"
#include "stats.h"
#include "util.h"

mock_stream_t *mock_stream_new(const mock_stream_ops_t *ops, const mock_opts_t *o,
                               const char *model, size_t model_len, const char *tool)
{
    mock_stream_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->ops = ops;
    s->opts = *o;
    s->created = mock_unix_s();
    s->model = strndup(model, model_len);
    s->tool = tool ? strdup(tool) : NULL;
    if (s->model == NULL || (tool != NULL && s->tool == NULL)) {
        mock_stream_free(s);
        return NULL;
    }
    return s;
}

void mock_stream_free(mock_stream_t *s)
{
    if (s == NULL)
        return;
    free(s->model);
    free(s->tool);
    free(s->prefix);
    free(s);
}

static void stream_free_cb(void *p)
{
    mock_stream_free(p);
}

/* HTTP/1.1 clients get chunked encoding. evhtp would chunk for HTTP/1.0 too,
 * which such a client cannot read: for them the body is sent plain and the
 * connection closed at the end (keep-alive off). */
static bool plain_body(evhtp_request_t *req)
{
    return evhtp_request_get_proto(req) != EVHTP_PROTO_11;
}

static void flush(evhtp_request_t *req, struct evbuffer *out)
{
    if (evbuffer_get_length(out) == 0)
        return;
    if (plain_body(req))
        evhtp_send_reply_body(req, out);
    else
        evhtp_send_reply_chunk(req, out);
}

static void finish(mock_ctx_t *ctx, struct evbuffer *out)
{
    flush(ctx->req, out);
    if (plain_body(ctx->req))
        evhtp_send_reply_end(ctx->req);
    else
        evhtp_send_reply_chunk_end(ctx->req);
    mock_stat_add(MOCK_ST_STREAMS_COMPLETED, 1);
    mock_ctx_done(ctx);
}

/* Returns true if the stream must stop here (stalled, dropped or ended). */
static bool mid_fault(mock_ctx_t *ctx, mock_stream_t *s, struct evbuffer *out)
{
    s->fault_done = true;
    switch (s->opts.fault) {
    case MOCK_FAULT_STALL_MID:
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_stat_add(MOCK_ST_STREAMS_FAULTED, 1);
        flush(ctx->req, out);
        mock_ctx_stall(ctx);
        return true;
    case MOCK_FAULT_DROP:
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_stat_add(MOCK_ST_STREAMS_FAULTED, 1);
        flush(ctx->req, out);
        mock_ctx_drop(ctx);
        return true;
    case MOCK_FAULT_MALFORMED:
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_stat_add(MOCK_ST_STREAMS_FAULTED, 1);
        s->ops->malformed(s, out);
        return false;
    case MOCK_FAULT_ERROR_EVENT:
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_stat_add(MOCK_ST_STREAMS_FAULTED, 1);
        s->ops->error_event(s, out);
        finish(ctx, out);
        return true;
    case MOCK_FAULT_HUGE_EVENT: {
        /* one event, one data line of opts.size bytes: {"pad":"xxx..."} */
        char xs[4096];
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_stat_add(MOCK_ST_STREAMS_FAULTED, 1);
        memset(xs, 'x', sizeof xs);
        MOCK_LIT(out, "data: {\"pad\":\"");
        for (long i = 0; i < s->opts.size; i += 4096)
            evbuffer_add(out, xs, (size_t)(s->opts.size - i < 4096 ? s->opts.size - i : 4096));
        MOCK_LIT(out, "\"}\n\n");
        return false;
    }
    default:
        return false;
    }
}

static void step(mock_ctx_t *ctx)
{
    mock_stream_t *s = ctx->data;
    evhtp_request_t *req = ctx->req;
    struct evbuffer *out = evbuffer_new();

    if (out == NULL) {
        mock_ctx_drop(ctx);
        return;
    }
    if (!s->headers_sent) {
        evhtp_headers_add_header(req->headers_out,
                                 evhtp_header_new("Content-Type", s->ops->content_type, 0, 0));
        evhtp_headers_add_header(req->headers_out,
                                 evhtp_header_new("Cache-Control", "no-cache", 0, 0));
        if (plain_body(req)) {
            evhtp_request_set_keepalive(req, 0);
            evhtp_send_reply_start(req, EVHTP_RES_OK);
        } else {
            evhtp_send_reply_chunk_start(req, EVHTP_RES_OK);
        }
        s->headers_sent = true;
        mock_stat_add(MOCK_ST_STREAMS_STARTED, 1);
        s->ops->preamble(s, out);
    }
    for (;;) {
        if (s->next == s->opts.after && !s->fault_done && mid_fault(ctx, s, out)) {
            evbuffer_free(out);
            return;
        }
        if (s->next >= s->n_units)
            break;
        s->ops->unit(s, s->next, out);
        s->next++;
        if (s->opts.gap_ms > 0 && s->next < s->n_units) {
            uint64_t due =
                s->t0_ms + (uint64_t)s->opts.ttft_ms + (uint64_t)s->next * (uint64_t)s->opts.gap_ms;
            uint64_t now = mock_now_ms();
            flush(req, out);
            evbuffer_free(out);
            mock_ctx_after(ctx, due > now ? (long)(due - now) : 0, step);
            return;
        }
    }
    s->ops->tail(s, out);
    finish(ctx, out);
    evbuffer_free(out);
}

void mock_stream_start(evhtp_request_t *req, mock_stream_t *s)
{
    mock_ctx_t *ctx = mock_ctx_new(req, s, stream_free_cb);

    if (ctx == NULL) {
        mock_stream_free(s);
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    switch (s->opts.fault) {
    case MOCK_FAULT_STALL_MID:
    case MOCK_FAULT_DROP:
    case MOCK_FAULT_MALFORMED:
    case MOCK_FAULT_ERROR_EVENT:
    case MOCK_FAULT_HUGE_EVENT:
        if (s->opts.after > s->n_units)
            s->opts.after = s->n_units;
        break;
    default:
        s->fault_done = true;
        break;
    }
    s->t0_ms = mock_now_ms();
    if (s->opts.ttft_ms > 0)
        mock_ctx_after(ctx, s->opts.ttft_ms, step);
    else
        step(ctx);
}

long mock_tool_fragments(long chunks)
{
    long len = (long)strlen(MOCK_TOOL_ARGS);
    long n = chunks < 3 ? 3 : chunks;
    return n > len ? len : n;
}

void mock_tool_fragment(long i, long n, size_t *off, size_t *len)
{
    size_t total = strlen(MOCK_TOOL_ARGS);
    size_t a = total * (size_t)i / (size_t)n;
    size_t b = total * (size_t)(i + 1) / (size_t)n;

    *off = a;
    *len = b - a;
}
