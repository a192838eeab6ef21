/* call.c - the AI call engine: upstream callbacks, answer translation,
 * backpressure, errors, usage. One lx_call_t per client request.
 *
 * Answer paths, chosen at start:
 *   pass-through  the client and the upstream speak the same wire (OpenAI to
 *                 an OpenAI-compatible server, Anthropic to Anthropic): SSE
 *                 events are forwarded as the bytes upstream sent, only the
 *                 usage is read on the way (and OpenAI's usage-only chunk is
 *                 dropped if the client did not ask for it);
 *   translated    upstream events go through the provider adapter's decoder
 *                 into canonical (OpenAI) chunks, which are then written in
 *                 the client's wire (as is for OpenAI clients, through the
 *                 Messages encoder for Anthropic clients).
 * Retries happen only before the first byte reaches the client; after it, a
 * failure ends the stream with an error event, never a fake normal end. */
#include "ai/call.h"
#include "ai/usage_text.h"
#include "ai/body.h"
#include "ai/messages_fmt.h"
#include "ai/sse.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/strmap.h"
#include "ai/routing/attempt.h"
#include "ai/routing/chain.h"
#include "ai/routing/failure.h"
#include "ai/routing/limits.h"
#include "ai/routing/state.h"

#include <event2/event.h>
#include <event2/event_struct.h>

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef enum {
    CALL_UPSTREAM,  /* nothing sent to the client yet */
    CALL_STREAMING, /* the first byte went to the client */
} call_state_t;

typedef struct {
    lx_up_call_t *up;
    call_state_t state;
    /* the attempt in progress */
    const lx_call_target_t *t;
    const lx_adapter_t *adapter;
    bool passthrough;
    int ti;           /* index of t in o.targets */
    int attempts;     /* upstream calls started */
    int same_retries; /* retries on the current target */
    lx_attempt_t att;
    lx_rng_t rng;
    int64_t deadline_ms;
    struct event retry_ev;
    bool retry_armed;
    char fallback_reason[96];
    /* the answer */
    int status; /* upstream HTTP status */
    bool done;  /* the provider said the answer is complete */
    bool failed_midstream;
    char fail_msg[300];
    char too_big[160]; /* why on_data stopped the transfer: over a size limit */
    lx_sse_parser_t sse;
    lx_stream_dec_t *dec;
    lx_msg_enc_t *enc;
    lx_buf_t resp; /* a non-stream answer (or an error body) */
    lx_buf_t out;  /* scratch for encoded client events */
    lx_tokens_t tokens;
    int64_t sent_events; /* content events forwarded to the client (billing estimate) */
    int64_t up_estimate; /* input tokens estimated from the attempt's upstream body */
    int64_t shown_input; /* the input count an Anthropic message_start showed (0: none) */
    int64_t ttfb_us;     /* from upstream, -1 if none */
    int64_t created_ms;  /* wall clock at the start */
    int64_t overhead_us;
    char id[64];
    char key_id[64];
    lx_call_opts_t o; /* last: allocated with only o.ntargets targets */
} lx_call_t;

/* Calls with up to CACHED_TARGETS targets (nearly all) come from the
 * worker's cache of blocks of this size; larger ones from malloc. */
#define CACHED_TARGETS 2
#define CACHED_CALL_SIZE                                                                           \
    (sizeof(lx_call_t) - (LX_CALL_MAX_TARGETS - CACHED_TARGETS) * sizeof(lx_call_target_t))

static lx_call_t *call_alloc(lx_ai_t *ai, int ntargets)
{
    size_t unused = (size_t)(LX_CALL_MAX_TARGETS - ntargets) * sizeof(lx_call_target_t);
    size_t used = sizeof(lx_call_t) - unused;
    if (ntargets > CACHED_TARGETS)
        return lx_calloc(1, used);
    lx_call_t *c =
        ai->ncall_cache > 0 ? ai->call_cache[--ai->ncall_cache] : lx_alloc(CACHED_CALL_SIZE);
    memset(c, 0, offsetof(lx_call_t, o)); /* lx_call_run copies o in whole */
    return c;
}

static void call_release(lx_call_t *c)
{
    lx_ai_t *ai = c->o.ai;
    int max = (int)(sizeof ai->call_cache / sizeof ai->call_cache[0]);
    if (c->o.ntargets <= CACHED_TARGETS && ai->ncall_cache < max)
        ai->call_cache[ai->ncall_cache++] = c;
    else
        free(c);
}

void lx_ai_fini(lx_ai_t *ai)
{
    while (ai->ncall_cache > 0)
        free(ai->call_cache[--ai->ncall_cache]);
}

/* ---- the one finalizer ---- */

/* A stream that did not end normally (the client left, the upstream broke)
 * is billed for what reached the client: at least one output token per
 * content event forwarded (the upstream's usage, sent at the end, never
 * came or came short), and the prompt estimate when the upstream gave no
 * input count. The record's status (499, 502) and error already say the
 * stream did not end normally (ai_usage has no estimate flag). */
static void bill_delivered(lx_call_t *c, const lx_outcome_t *o)
{
    if (c->state != CALL_STREAMING || o->err == LX_E_NONE || c->tokens.out >= c->sent_events)
        return;
    c->tokens.out = c->sent_events;
    if (c->tokens.in <= 0)
        c->tokens.in = c->shown_input > 0 ? c->shown_input : c->o.input_tokens_estimate;
}

static void route_headers(lx_call_t *c);
static void stream_error(lx_call_t *c, const char *message);

/* Renders the outcome in the client's wire: nothing once the client left;
 * in a started stream an error event (unless the upstream's own error or
 * end already went out) and the stream's end; before it, the error reply
 * (with the route headers when an upstream answered or failed). A success
 * before the stream is the answer finish_whole already sent. */
static void render(lx_call_t *c, const lx_outcome_t *o)
{
    if (o->err == LX_E_CLIENT_GONE)
        return;
    if (c->state == CALL_STREAMING) {
        if (o->err != LX_E_NONE && !c->done && !c->failed_midstream)
            stream_error(c, o->message);
        lx_req_stream_end(c->o.req);
    } else if (o->err != LX_E_NONE) {
        if (o->side == LX_SIDE_UPSTREAM)
            route_headers(c);
        lx_outcome_reply(c->o.req, o);
    }
}

/* The one end of a call: renders the outcome, records the usage row from
 * it (its status is what the client saw: 200 once a stream started) and
 * frees everything. */
static void call_end(lx_call_t *c, const lx_outcome_t *o)
{
    render(c, o);
    if (c->up) {
        lx_up_call_cancel(c->up);
        c->up = NULL;
    }
    if (c->retry_armed)
        event_del(&c->retry_ev);
    if (c->att.active) /* the client left, or an error that says nothing of the target */
        lx_attempt_end(&c->att, lx_call_route_conf(), NULL, -1, NULL, lx_wall_ms());
    lx_req_on_abort(c->o.req, NULL, NULL);
    /* Built here rather than held by the call: an open stream does not
     * carry a 900-byte record it fills only at its end. */
    lx_usage_t rec = {0}, *u = &rec;
    lx_str_t rid = lx_req_id(c->o.req);
    lx_copy(u->request_id, sizeof u->request_id, rid.p, rid.n);
    lx_copy_cstr(u->key_id, sizeof u->key_id, c->key_id);
    u->api_key_id = c->o.api_key_id;
    u->feature = c->o.feature;
    lx_copy_cstr(u->requested_model, sizeof u->requested_model, c->o.requested_model);
    u->ttfb_us = c->ttfb_us;
    u->created_ms = c->created_ms;
    u->status = o->status;
    bill_delivered(c, o);       /* ai_usage has no estimate flag: the status says it */
    lx_tokens_sane(&c->tokens); /* whatever the upstream claimed: bounded */
    u->tokens_in = c->tokens.in;
    u->tokens_out = c->tokens.out;
    u->tokens_cached = c->tokens.cached;
    if (c->t) {
        const lx_call_target_t *t = c->t;
        lx_copy_cstr(u->provider, sizeof u->provider, t->conf.name);
        lx_copy_cstr(u->model, sizeof u->model, t->upstream_model);
        u->connection_id = t->cred ? t->cred->id : 0;
        if (t->model) {
            const lx_model_t *m = t->model;
            int64_t fresh = LX_MAX(c->tokens.in - c->tokens.cached, 0);
            u->cost_usd =
                ((double)fresh * m->input_per_1m + (double)c->tokens.cached * m->cached_per_1m +
                 (double)c->tokens.out * m->output_per_1m) /
                1e6;
        }
    }
    if (o->err != LX_E_NONE) {
        lx_copy_cstr(u->error, sizeof u->error, o->detail ? o->detail : o->message);
        lx_copy_cstr(u->error_code, sizeof u->error_code, lx_outcome_code(o));
    }
    u->total_us = lx_now_us() - lx_req_start_us(c->o.req);
    c->o.ai->usage->push(c->o.ai->usage, u);
    if (c->o.stream)
        atomic_fetch_sub_explicit(&c->o.ai->streams_active, 1, memory_order_relaxed);
    if (c->dec)
        c->adapter->stream_free(c->dec);
    if (c->enc)
        lx_msg_enc_free(c->enc);
    lx_sse_free(&c->sse);
    lx_buf_free(&c->resp);
    lx_buf_free(&c->out);
    json_decref(c->o.in.root);
    json_decref(c->o.in.canon);
    lx_registry_release(c->o.snap); /* last: the targets point into it */
    call_release(c);
}

static void on_client_abort(lx_req_t *req, void *arg)
{
    lx_call_t *c = arg;
    if (c->up)
        c->ttfb_us = lx_up_call_first_byte_us(c->up);
    lx_outcome_t o;
    lx_outcome_fail(&o, LX_SIDE_CLIENT, 499, LX_E_CLIENT_GONE, NULL,
                    "client closed the connection");
    call_end(c, &o);
}

/* ---- writing to the client ---- */

static void route_headers(lx_call_t *c)
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
    route_headers(c);
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
static void stream_error(lx_call_t *c, const char *message)
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
static void emit_chunk(void *arg, const char *json, size_t n)
{
    lx_call_t *c = arg;
    start_stream(c);
    c->sent_events++;
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
    } else if (d.n > 8 && memcmp(d.p, "{\"error\"", 8) == 0) {
        c->failed_midstream = true;
        snprintf(c->fail_msg, sizeof c->fail_msg, "upstream error event");
    } else {
        c->sent_events++;
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
        stream_error(c, c->fail_msg);
    }
    return LX_OK;
}

static int on_sse_event(const lx_sse_event_t *ev, void *arg)
{
    lx_call_t *c = arg;
    if (!c->passthrough)
        return translated(c, ev);
    return c->o.client == LX_FMT_ANTHROPIC ? passthrough_anthropic(c, ev)
                                           : passthrough_openai(c, ev);
}

/* ---- upstream callbacks ---- */

static void up_headers(lx_up_call_t *call, int status, void *arg)
{
    lx_call_t *c = arg;
    c->status = status;
}

static void resume_upstream(lx_req_t *req, void *arg)
{
    lx_call_t *c = arg;
    if (c->up)
        lx_up_call_resume(c->up);
}

static int up_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    lx_call_t *c = arg;
    if (!c->o.stream || c->status != 200) {
        size_t max = c->o.ai->cfg->upstream_max_response_bytes;
        if (c->resp.n + n > max) {
            snprintf(c->too_big, sizeof c->too_big,
                     "upstream %s sent an answer larger than upstream.max_response_bytes (%zu "
                     "bytes)",
                     c->t->conf.name, max);
            return LX_ERROR;
        }
        lx_buf_append(&c->resp, p, n);
        return LX_OK;
    }
    /* Backpressure: hold upstream while the client is behind. The bytes are
     * not consumed: curl hands them back after resume. */
    size_t high = c->o.ai->cfg->stream_high_water;
    if (lx_req_pending_bytes(c->o.req) > high) {
        lx_req_uncork(c->o.req); /* so what waits is in the socket's queue, whose drain we see */
        if (lx_req_pending_bytes(c->o.req) > high) {
            atomic_fetch_add_explicit(&c->o.ai->upstream_pauses, 1, memory_order_relaxed);
            lx_req_on_drain(c->o.req, high / 2, resume_upstream, c);
            return LX_AGAIN;
        }
    }
    int64_t t0 = lx_now_us();
    /* curl hands over a read one HTTP chunk (usually one event) at a time:
     * the cork lasts until the loop is through them all, so they leave in
     * one send. */
    lx_req_cork(c->o.req);
    int rc = lx_sse_feed(&c->sse, p, n);
    c->overhead_us += lx_now_us() - t0;
    if (rc == LX_SSE_TOO_BIG) {
        snprintf(c->too_big, sizeof c->too_big,
                 "upstream %s sent one event larger than limits.max_event_bytes (%zu bytes)",
                 c->t->conf.name, c->sse.max_event);
        return LX_ERROR;
    }
    return LX_OK;
}

/* What may be passed on as an answer: 200, or an error status. Anything
 * else (1xx, 204, 304, other 2xx and 3xx, 600+) is no answer: it could
 * not even be framed as it came (a 204 or 304 has no body). */
static bool status_is_answer(int s)
{
    return s == 200 || (s >= 400 && s <= 599);
}

/* Retry-After is passed on only as delta-seconds or an HTTP date. */
static void pass_retry_after(lx_call_t *c, lx_outcome_t *o)
{
    const char *ra = c->up ? lx_up_call_header(c->up, "Retry-After") : NULL;
    int64_t delay;
    if (ra && strlen(ra) < sizeof o->retry_after &&
        lx_retry_after_parse(lx_str(ra), lx_wall_ms(), &delay) == LX_OK)
        lx_copy_cstr(o->retry_after, sizeof o->retry_after, ra);
}

/* Upstream answered with an error status: its message, in the client's
 * shape, with its status (and its Retry-After). */
static void upstream_error(lx_call_t *c, lx_outcome_t *o)
{
    char m[400] = "";
    if (c->adapter->error_message)
        c->adapter->error_message(c->resp.p ? c->resp.p : "", c->resp.n, m, sizeof m);
    lx_outcome_fail(o, LX_SIDE_UPSTREAM, c->status, lx_err_from_status(c->status), NULL,
                    "upstream %s returned %d%s%s", c->t->conf.name, c->status, m[0] ? ": " : "", m);
    pass_retry_after(c, o);
    o->detail = "upstream error status";
}

static void bad_upstream(lx_outcome_t *o, const char *why, const char *detail)
{
    lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL, "%s", why);
    o->detail = detail;
}

/* A whole answer (non-stream), status 200: replied here, or a failure in o. */
static void finish_whole(lx_call_t *c, lx_outcome_t *o)
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
            bad_upstream(o, "upstream returned a body that is not complete JSON",
                         "malformed upstream body");
            return;
        }
        if (ve[0] != 0) {
            if (c->o.client == LX_FMT_ANTHROPIC)
                lx_usage_text_anthropic(&c->tokens, p + vs[0], ve[0] - vs[0]);
            else
                lx_usage_text_openai(&c->tokens, p + vs[0], ve[0] - vs[0]);
        } else if (ve[1] == 0) {
            bad_upstream(o, "upstream returned a body that is not the expected JSON",
                         "malformed upstream body");
            return;
        }
        route_headers(c);
        lx_req_reply(c->o.req, 200, "application/json", p, n);
        return;
    }
    json_t *canon =
        c->o.kind == LX_CALL_EMBED
            ? c->adapter->embed_parse(p, n, c->t->upstream_model, &c->tokens, err, sizeof err)
            : c->adapter->chat_parse(p, n, c->t->upstream_model, &c->tokens, err, sizeof err);
    if (canon == NULL) {
        bad_upstream(o, err[0] ? err : "upstream returned an unexpected body",
                     "malformed upstream body");
        return;
    }
    if (c->o.client == LX_FMT_ANTHROPIC) {
        json_t *msg = lx_messages_from_openai(canon, c->t->upstream_model, &c->tokens);
        json_decref(canon);
        canon = msg;
    }
    route_headers(c);
    lx_req_reply_json(c->o.req, 200, canon);
}

static bool start_attempt(lx_call_t *c);

static void retry_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_call_t *c = arg;
    c->retry_armed = false;
    start_attempt(c); /* replies and finalizes by itself when nothing is left */
}

/* Records how the attempt went on its connection and, while nothing has
 * reached the client, decides whether to try again (same target after a
 * backoff, or the next one). True if another attempt is on its way. */
static bool judge_attempt(lx_call_t *c, const lx_up_result_t *res)
{
    bool http_fail = res->outcome == LX_UP_OK && c->status != 200;
    lx_attempt_facts_t f = {
        .status = res->outcome == LX_UP_OK ? c->status : 0,
        .outcome = res->outcome,
        .request_sent = res->request_sent,
        .client_bytes_sent = c->state == CALL_STREAMING,
        .idempotent = c->o.kind != LX_CALL_IMAGE,
        .quota = http_fail && lx_failure_body_is_quota(lx_buf_str(&c->resp)),
    };
    if (f.outcome == LX_UP_OK && f.status == 200 && c->o.stream &&
        (c->failed_midstream || !c->done))
        f.outcome = LX_UP_BROKEN; /* the stream did not end as it should */
    if (c->too_big[0] || (f.outcome == LX_UP_OK && !status_is_answer(f.status))) {
        f.outcome = LX_UP_BROKEN; /* over a size limit, or a status that is no answer */
        f.status = 0;
    }
    lx_verdict_t v = lx_failure_classify(&f);
    int64_t now = lx_wall_ms();
    const char *ra = http_fail && c->up ? lx_up_call_header(c->up, "Retry-After") : NULL;
    int64_t ttfb = res->first_byte_us >= 0                    ? res->first_byte_us
                   : res->outcome == LX_UP_TIMEOUT_FIRST_BYTE ? res->total_us
                                                              : -1;
    lx_attempt_end(&c->att, lx_call_route_conf(), &v, ttfb, ra, now);
    if (v.cls == LX_FAIL_SUCCESS || c->state == CALL_STREAMING)
        return false;
    lx_step_t st = lx_failure_next(&v, c->same_retries, c->ti + 1 < c->o.ntargets,
                                   &lx_call_route_conf()->backoff, lx_call_retry_budget(), &c->rng,
                                   now, c->deadline_ms);
    if (st.kind == LX_STEP_RETRY_SAME) {
        c->same_retries++;
    } else if (st.kind == LX_STEP_NEXT) {
        c->ti++;
        c->same_retries = 0;
    } else {
        return false;
    }
    if (res->outcome != LX_UP_OK)
        snprintf(c->fallback_reason, sizeof c->fallback_reason, "%s from %s",
                 lx_up_outcome_name(res->outcome), c->t->conf.name);
    else
        snprintf(c->fallback_reason, sizeof c->fallback_reason, "%d from %s", c->status,
                 c->t->conf.name);
    c->up = NULL; /* the upstream module frees it after we return */
    struct timeval tv = {(time_t)(st.delay_ms / 1000), (suseconds_t)(st.delay_ms % 1000) * 1000};
    evtimer_add(&c->retry_ev, &tv);
    c->retry_armed = true;
    return true;
}

/* How the last attempt ended, as the client's outcome. */
static void attempt_outcome(lx_call_t *c, const lx_up_result_t *res, lx_outcome_t *o)
{
    bool streaming = c->state == CALL_STREAMING;
    lx_outcome_ok(o);
    if (res->outcome == LX_UP_ABORTED && c->too_big[0]) {
        bad_upstream(o, c->too_big, "upstream answer over a size limit");
    } else if (res->outcome == LX_UP_REFUSED) {
        lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                        "upstream address %s of provider %s refused by the network policy (%s)",
                        res->refused_addr, c->t->conf.name, res->refused_why);
        o->detail = lx_up_outcome_name(res->outcome);
    } else if (res->outcome != LX_UP_OK) {
        const char *name = lx_up_outcome_name(res->outcome);
        if (streaming) {
            lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                            "upstream stream failed: %s", name);
        } else {
            bool timeout =
                res->outcome >= LX_UP_TIMEOUT_CONNECT && res->outcome <= LX_UP_TIMEOUT_TOTAL;
            lx_outcome_fail(o, LX_SIDE_UPSTREAM, 0, timeout ? LX_E_UPSTREAM_TIMEOUT : LX_E_UPSTREAM,
                            NULL, "upstream %s failed: %s", c->t->conf.name, name);
        }
        o->detail = name;
    } else if (!status_is_answer(c->status)) {
        lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                        "upstream %s answered with HTTP status %d, which is not an answer",
                        c->t->conf.name, c->status);
        o->detail = "unexpected upstream status";
    } else if (c->status != 200) {
        upstream_error(c, o);
    } else if (!c->o.stream) {
        finish_whole(c, o);
    } else if (!streaming && !c->done) {
        bad_upstream(o, "upstream ended the stream without data", "empty stream");
    } else if (c->failed_midstream) {
        bad_upstream(o, c->fail_msg, c->fail_msg);
    } else if (!c->done) {
        bad_upstream(o, "upstream stream ended early", "stream ended before its end marker");
    }
    if (streaming)
        o->status = 200; /* what the client saw: the stream's head went out */
}

static void up_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    lx_call_t *c = arg;
    if (judge_attempt(c, res))
        return;
    c->ttfb_us = res->first_byte_us;
    lx_outcome_t o;
    attempt_outcome(c, res, &o);
    c->up = NULL; /* the upstream module frees it after we return */
    call_end(c, &o);
}

/* ---- attempts ---- */

/* Forgets what a failed attempt left behind (nothing reached the client). */
static void reset_answer(lx_call_t *c)
{
    c->status = 0;
    c->done = false;
    c->failed_midstream = false;
    c->fail_msg[0] = '\0';
    c->too_big[0] = '\0';
    lx_buf_reset(&c->resp);
    lx_sse_free(&c->sse);
    lx_sse_init(&c->sse, on_sse_event, c);
    c->sse.max_event = c->o.ai->cfg->max_event_bytes;
    if (c->dec)
        c->adapter->stream_free(c->dec);
    c->dec = NULL;
    memset(&c->tokens, 0, sizeof c->tokens);
    c->sent_events = 0;
}

/* No target could take the request (breakers open, cooling, limits). */
static void no_target(lx_call_t *c, lx_route_why_t why)
{
    lx_route_excl_t excl;
    memset(&excl, 0, sizeof excl);
    excl.n[why] = 1;
    lx_outcome_t o;
    lx_call_no_target(&o, &excl, 1, c->o.targets, c->o.ntargets);
    o.detail = lx_route_why_info(why)->name;
    call_end(c, &o);
}

/* Starts the next attempt from c->ti on. False if it replied instead (the
 * call is then finalized). */
static bool start_attempt(lx_call_t *c)
{
    int64_t now = lx_wall_ms();
    lx_route_why_t last = LX_WHY_BREAKER_OPEN;
    for (; c->ti < c->o.ntargets; c->ti++, c->same_retries = 0) {
        const lx_call_target_t *t = &c->o.targets[c->ti];
        int rpm = t->cred ? t->cred->rate_limit_per_minute : 0;
        int rpd = t->cred ? t->cred->rate_limit_per_day : 0;
        lx_route_why_t why = lx_attempt_begin(&c->att, t->state, t->dep, t->stats, rpm, rpd,
                                              lx_call_route_conf(), now);
        if (why != LX_WHY_OK) {
            last = why;
            continue;
        }
        lx_up_build_t b;
        lx_up_build_init(&b);
        char err[300] = "";
        bool pass = false;
        c->t = t;
        c->adapter = lx_adapter_for(t->conf.kind);
        if (c->o.build(&c->o.in, t, &b, &pass, err, sizeof err) != LX_OK) {
            lx_up_build_free(&b);
            lx_attempt_end(&c->att, lx_call_route_conf(), NULL, -1, NULL, now);
            lx_outcome_t o;
            lx_outcome_fail(&o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, "model", "%s",
                            err[0] ? err : "this request cannot go to that provider");
            o.detail = "request cannot be translated";
            call_end(c, &o);
            return false;
        }
        reset_answer(c);
        c->passthrough = pass;
        c->up_estimate = LX_MAX((int64_t)(b.body.n / 4), 1);
        if (c->o.stream && !pass)
            c->dec = c->adapter->stream_new(t->upstream_model, c->id,
                                            c->o.client == LX_FMT_OPENAI && c->o.client_usage,
                                            emit_chunk, c);
        lx_up_build_header_kv(&b, "X-Request-Id", lx_req_id(c->o.req).p);
        lx_timeouts_t to = t->conf.timeouts;
        int64_t left = lx_deadline_left_ms(now, c->deadline_ms);
        if (left < to.total_ms)
            to.total_ms = (int)LX_MAX(left, 1);
        lx_up_request_t rq = {.method = "POST",
                              .url = b.url.p,
                              .headers = (const char *const *)b.headers,
                              .nheaders = b.nheaders,
                              .body = b.body.p ? b.body.p : "",
                              .body_len = b.body.n,
                              .timeouts = to,
                              .stream = c->o.stream};
        static const lx_up_handlers_t handlers = {up_headers, up_data, up_done};
        c->up = lx_up_call_start(c->o.ai->up, &rq, &handlers, c);
        lx_up_build_free(&b);
        c->attempts++;
        if (c->up == NULL) {
            lx_attempt_end(&c->att, lx_call_route_conf(), NULL, -1, NULL, now);
            lx_outcome_t o;
            lx_outcome_fail(&o, LX_SIDE_LLMUX, 0, LX_E_INTERNAL, NULL,
                            "could not start the upstream call");
            o.detail = "upstream call not started";
            call_end(c, &o);
            return false;
        }
        return true;
    }
    no_target(c, last);
    return false;
}

/* ---- start ---- */

int lx_call_run(const lx_call_opts_t *o)
{
    /* A call keeps only the targets it has (each is about 0.5 KB). */
    size_t unused = (size_t)(LX_CALL_MAX_TARGETS - o->ntargets) * sizeof o->targets[0];
    lx_call_t *c = call_alloc(o->ai, o->ntargets);
    memcpy(&c->o, o, sizeof *o - unused);
    c->state = CALL_UPSTREAM;
    lx_copy_cstr(c->key_id, sizeof c->key_id, o->key_id);
    c->o.key_id = c->key_id;
    lx_sse_init(&c->sse, on_sse_event, c);
    c->sse.max_event = o->ai->cfg->max_event_bytes;
    lx_buf_init(&c->resp, 0);
    lx_buf_init(&c->out, 0);
    lx_str_t rid = lx_req_id(o->req);
    size_t pre =
        lx_copy_cstr(c->id, sizeof c->id, o->client == LX_FMT_ANTHROPIC ? "msg_" : "chatcmpl-");
    lx_copy(c->id + pre, sizeof c->id - pre, rid.p, LX_MIN(rid.n, 40));
    c->ttfb_us = -1;
    c->created_ms = lx_wall_ms();
    lx_rng_seed(&c->rng, (uint64_t)lx_now_us() ^ lx_hash(rid.p, rid.n));
    c->deadline_ms = lx_wall_ms() + (o->ntargets ? o->targets[0].conf.timeouts.total_ms : 0);
    evtimer_assign(&c->retry_ev, lx_req_base(o->req), retry_cb, c);
    lx_retry_budget_deposit(lx_call_retry_budget());
    if (o->stream)
        atomic_fetch_add_explicit(&o->ai->streams_active, 1, memory_order_relaxed);
    c->overhead_us = lx_now_us() - o->t_handler_start;
    if (!start_attempt(c))
        return LX_OK;
    lx_req_on_abort(o->req, on_client_abort, c);
    return LX_AGAIN;
}
