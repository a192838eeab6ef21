/* call_client.c - what an AI call writes to the client.
 *
 * Answer paths, chosen at each attempt's start:
 *   pass-through  the client and the upstream speak the same wire (OpenAI to
 *                 an OpenAI-compatible server, Anthropic to Anthropic): SSE
 *                 events are forwarded as the bytes upstream sent, only the
 *                 usage is read on the way (and OpenAI's usage-only chunk is
 *                 dropped if the client did not ask for it);
 *   translated    upstream events go through the provider adapter's decoder
 *                 into canonical (OpenAI) chunks, which are then written in
 *                 the client's wire (as is for OpenAI clients, through the
 *                 Messages encoder for Anthropic clients). */
#include "ai/call_int.h"

#include <stdio.h>
#include <string.h>

/* ---- writing to the client ---- */

void lx_call_route_headers(lx_call_t *c)
{
    char v[32];
    lx_req_set_header(c->o.req, "x-llmux-provider", c->t->conf.name);
    lx_req_set_header(c->o.req, "x-llmux-model", c->t->upstream_model);
    lx_i64_str(v, c->overhead_us);
    lx_req_set_header(c->o.req, "x-llmux-overhead-us", v);
    lx_i64_str(v, c->attempts);
    lx_req_set_header(c->o.req, "x-llmux-attempts", v);
    if (c->fallback_reason[0])
        lx_req_set_header(c->o.req, "x-llmux-fallback-reason", c->fallback_reason);
}

static void start_stream(lx_call_t *c)
{
    if (c->state == CALL_STREAMING)
        return;
    c->state = CALL_STREAMING;
    c->ttfc_us = lx_now_us() - lx_req_start_us(c->o.req);
    lx_call_route_headers(c);
    lx_req_set_header(c->o.req, "Cache-Control", "no-cache");
    lx_req_stream_start(c->o.req, 200, "text/event-stream");
}

/* The Anthropic encoder of a translated stream, made at its first event.
 * Its message_start carries the best input count known then: the
 * upstream's, if it already reported one (a Gemini chunk does), else the
 * estimate over the body sent upstream (bytes / 4: what that upstream
 * counts, not the client's shorter Anthropic body). stream_finish keeps
 * message_delta and the usage row on the same figure when the upstream
 * never reports one. */
static lx_msg_enc_t *anthropic_enc(lx_call_t *c)
{
    if (c->enc == NULL) {
        int64_t in = c->tokens.in > 0 ? LX_MAX(c->tokens.in - c->tokens.cached, 1) : c->up_estimate;
        c->shown_input = in;
        c->enc = lx_msg_enc_new(c->t->upstream_model, c->id, in);
    }
    return c->enc;
}

/* Ends a started stream with an error event in the client's wire. */
void lx_call_stream_error(lx_call_t *c, const char *message)
{
    lx_buf_reset(&c->out);
    if (c->o.client == LX_FMT_ANTHROPIC) {
        lx_msg_enc_error(anthropic_enc(c), "api_error", message, &c->out);
    } else {
        lx_buf_append_lit(&c->out, "data: {\"error\":{\"message\":");
        lx_buf_append_json_str(&c->out, message, strlen(message));
        lx_buf_append_lit(&c->out, ",\"type\":\"server_error\",\"param\":null,"
                                   "\"code\":\"upstream_error\"}}\n\n");
    }
    lx_req_stream_write(c->o.req, c->out.p, c->out.n);
}

/* A canonical chunk from an adapter's decoder, written in the client's wire. */
void lx_call_emit_chunk(void *arg, const char *json, size_t n)
{
    lx_call_t *c = arg;
    start_stream(c);
    c->sent_events++;
    lx_call_trace_text(c, json, n);
    lx_buf_reset(&c->out);
    if (c->o.client == LX_FMT_ANTHROPIC) {
        lx_msg_enc_chunk(anthropic_enc(c), json, n, &c->out);
    } else {
        lx_buf_append(&c->out, "data: ", 6);
        lx_buf_append(&c->out, json, n);
        lx_buf_append(&c->out, "\n\n", 2);
    }
    lx_req_stream_write(c->o.req, c->out.p, c->out.n);
}

/* The normal end of a translated stream. */
static void stream_finish(lx_call_t *c)
{
    start_stream(c);
    lx_buf_reset(&c->out);
    if (c->o.client == LX_FMT_ANTHROPIC) {
        lx_msg_enc_t *enc = anthropic_enc(c);
        if (c->tokens.in <= 0) /* never reported: the figure shown stands, here and in the row */
            c->tokens.in = c->shown_input;
        lx_msg_enc_finish(enc, &c->tokens, &c->out);
    } else {
        lx_buf_append_lit(&c->out, "data: [DONE]\n\n");
    }
    lx_req_stream_write(c->o.req, c->out.p, c->out.n);
}

/* ---- usage in pass-through answers ---- */

/* True if the text has "usage": {...} (most OpenAI chunks say "usage":null
 * once usage was requested; only the real one is worth a look). Searched from
 * the end, where OpenAI puts it, anchored on its 'g' (memrchr, vectorized). */
static bool has_usage_object(lx_str_t d)
{
    const char *p = d.p, *end = d.p + d.n, *g = end;
    while ((g = memrchr(p, 'g', (size_t)(g - p))) != NULL) {
        if (g - p >= 4 && end - g >= 3 && memcmp(g - 4, "\"usage\"", 7) == 0) {
            const char *v = g + 3;
            while (v < end && (*v == ' ' || *v == ':'))
                v++;
            if (v < end && *v == '{')
                return true;
        }
    }
    return false;
}

/* ---- stream events ---- */

static int passthrough_openai(lx_call_t *c, const lx_sse_event_t *ev)
{
    lx_str_t d = ev->data;
    if (lx_str_eq_cstr(d, "[DONE]")) {
        c->done = true;
    } else if (has_usage_object(d)) {
        size_t us, ue, cs, ce;
        bool usage_only = false;
        if (lx_body_find(d.p, d.n, "usage", &us, &ue) == LX_OK) {
            lx_usage_text_openai(&c->tokens, d.p + us, ue - us);
            usage_only = lx_json_text_is_object(d.p + us, ue - us) &&
                         lx_body_find(d.p, d.n, "choices", &cs, &ce) == LX_OK &&
                         lx_json_text_is_empty_array(d.p + cs, ce - cs);
        }
        if (usage_only && !c->o.client_usage)
            return LX_OK; /* we asked for it; the client did not */
        c->sent_events += !usage_only;
        lx_call_trace_text(c, d.p, d.n);
    } else if (d.n > 8 && memcmp(d.p, "{\"error\"", 8) == 0) {
        c->failed_midstream = true;
        snprintf(c->fail_msg, sizeof c->fail_msg, "upstream error event");
    } else {
        c->sent_events++;
        lx_call_trace_text(c, d.p, d.n);
    }
    start_stream(c);
    lx_req_stream_write(c->o.req, ev->raw.p, ev->raw.n);
    return LX_OK;
}

static int passthrough_anthropic(lx_call_t *c, const lx_sse_event_t *ev)
{
    lx_str_t e = ev->event;
    if (lx_str_eq_cstr(e, "message_start") || lx_str_eq_cstr(e, "message_delta")) {
        lx_str_t d = ev->data;
        size_t ms, me, us, ue;
        if (lx_body_find(d.p, d.n, "message", &ms, &me) == LX_OK &&
            lx_json_text_is_object(d.p + ms, me - ms)) {
            d = (lx_str_t){d.p + ms, me - ms};
        }
        if (lx_body_find(d.p, d.n, "usage", &us, &ue) == LX_OK)
            lx_usage_text_anthropic(&c->tokens, d.p + us, ue - us);
    } else if (lx_str_eq_cstr(e, "content_block_delta")) {
        c->sent_events++;
        lx_call_trace_text(c, ev->data.p, ev->data.n);
    } else if (lx_str_eq_cstr(e, "message_stop")) {
        c->done = true;
    } else if (lx_str_eq_cstr(e, "error")) {
        c->failed_midstream = true;
        snprintf(c->fail_msg, sizeof c->fail_msg, "upstream error event");
    }
    start_stream(c);
    lx_req_stream_write(c->o.req, ev->raw.p, ev->raw.n);
    return LX_OK;
}

static int translated(lx_call_t *c, const lx_sse_event_t *ev)
{
    if (c->done || c->failed_midstream)
        return LX_OK; /* after the end: ignore stragglers */
    char err[256] = "";
    lx_stream_rc_t rc =
        c->adapter->stream_event(c->dec, ev->event, ev->data, &c->tokens, err, sizeof err);
    if (rc == LX_STREAM_END) {
        c->done = true;
        stream_finish(c);
    } else if (rc == LX_STREAM_FAILED) {
        c->failed_midstream = true;
        snprintf(c->fail_msg, sizeof c->fail_msg, "upstream error: %s", err);
        start_stream(c);
        lx_call_stream_error(c, c->fail_msg);
    }
    return LX_OK;
}

int lx_call_on_sse_event(const lx_sse_event_t *ev, void *arg)
{
    lx_call_t *c = arg;
    if (!c->passthrough)
        return translated(c, ev);
    return c->o.client == LX_FMT_ANTHROPIC ? passthrough_anthropic(c, ev)
                                           : passthrough_openai(c, ev);
}

/* A whole answer (non-stream), status 200: replied here, or a failure in o. */
void lx_call_finish_whole(lx_call_t *c, lx_outcome_t *o)
{
    const char *p = c->resp.p ? c->resp.p : "";
    size_t n = c->resp.n;
    char err[256] = "";
    if (c->passthrough) {
        /* usage, else the answer's own field: at least one must be there. */
        const char *keys[2] = {"usage", c->o.kind != LX_CALL_CHAT         ? "data"
                                        : c->o.client == LX_FMT_ANTHROPIC ? "content"
                                                                          : "choices"};
        size_t vs[2], ve[2];
        if (!lx_body_scan(p, n, keys, 2, vs, ve)) {
            lx_call_bad_upstream(o, "upstream returned a body that is not complete JSON",
                                 "malformed upstream body");
            return;
        }
        if (ve[0] != 0) {
            if (c->o.client == LX_FMT_ANTHROPIC)
                lx_usage_text_anthropic(&c->tokens, p + vs[0], ve[0] - vs[0]);
            else
                lx_usage_text_openai(&c->tokens, p + vs[0], ve[0] - vs[0]);
        } else if (ve[1] == 0) {
            lx_call_bad_upstream(o, "upstream returned a body that is not the expected JSON",
                                 "malformed upstream body");
            return;
        }
        lx_call_trace_text(c, p, n);
        lx_call_route_headers(c);
        lx_call_settle_spend(c);
        lx_call_settle_allow(c); /* before the client can send its next request */
        lx_call_count_metrics(c, 200, "ok");
        lx_req_reply(c->o.req, 200, "application/json", p, n);
        return;
    }
    json_t *canon =
        c->o.kind == LX_CALL_EMBED
            ? c->adapter->embed_parse(p, n, c->t->upstream_model, &c->tokens, err, sizeof err)
            : c->adapter->chat_parse(p, n, c->t->upstream_model, &c->tokens, err, sizeof err);
    if (canon == NULL) {
        lx_call_bad_upstream(o, err[0] ? err : "upstream returned an unexpected body",
                             "malformed upstream body");
        return;
    }
    lx_call_trace_text_json(c, canon);
    if (c->o.client == LX_FMT_ANTHROPIC) {
        json_t *msg = lx_messages_from_openai(canon, c->t->upstream_model, &c->tokens);
        json_decref(canon);
        canon = msg;
    }
    lx_call_route_headers(c);
    lx_call_settle_spend(c);
    lx_call_settle_allow(c); /* before the client can send its next request */
    lx_call_count_metrics(c, 200, "ok");
    lx_req_reply_json(c->o.req, 200, canon);
}
