/* chat.c - OpenAI chat completions through an OpenAI-compatible upstream.
 *
 * The client's bytes go upstream with only "model" (and, for streams,
 * "stream_options") spliced; upstream SSE events come back to the client as
 * the bytes upstream sent, event by event, with the usage-only chunk dropped
 * when the client did not ask for it. One chat_t per request, ended by
 * chat_finalize, the only place that cancels the upstream call, emits the
 * usage record and frees it. */
#include "ai/ai.h"
#include "ai/body.h"
#include "ai/sse.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESPONSE_BYTES (64u << 20)

typedef enum {
    CHAT_UPSTREAM,  /* waiting for upstream */
    CHAT_STREAMING, /* first byte sent to the client */
    CHAT_DONE,
} chat_state_t;

typedef struct {
    lx_ai_t *ai;
    lx_req_t *req;
    lx_up_call_t *call;
    const lx_provider_conf_t *prov;
    chat_state_t state;
    bool stream;
    bool client_usage;
    bool saw_done;
    bool upstream_error_event;
    int status;
    lx_sse_parser_t sse;
    lx_buf_t resp;
    lx_usage_t usage;
    int64_t t_up_start;
    int64_t overhead_us; /* time spent in llmux itself */
} chat_t;

bool lx_ai_model_name_valid(lx_str_t m)
{
    if (m.n == 0 || m.n > 200)
        return false;
    for (size_t i = 0; i < m.n; i++) {
        char c = m.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._:/+=@-", c)))
            return false;
    }
    return true;
}

bool lx_ai_authorize(lx_ai_t *ai, lx_req_t *req, char *key_id)
{
    lx_str_t key = lx_req_api_key(req);
    const char *admin = ai->cfg->admin_key;
    if (key.n && admin) {
        /* Compare digests so the time taken does not depend on the key. */
        unsigned char a[32], b[32];
        lx_sha256(key.p, key.n, a);
        lx_sha256(admin, strlen(admin), b);
        if (lx_ct_equal(a, b, 32)) {
            snprintf(key_id, 64, "admin");
            lx_req_set_key_id(req, key_id);
            return true;
        }
    }
    lx_req_reply_error(req, LX_E_UNAUTHORIZED,
                       key.n ? "invalid API key" : "missing API key (Authorization: Bearer ...)",
                       NULL);
    return false;
}

/* ---- the one finalizer ---- */

static void chat_finalize(chat_t *ch, int status, const char *error)
{
    if (ch->call) {
        lx_up_call_cancel(ch->call);
        ch->call = NULL;
    }
    if (ch->req)
        lx_req_on_abort(ch->req, NULL, NULL);
    lx_usage_t *u = &ch->usage;
    u->status = status;
    if (error)
        snprintf(u->error, sizeof u->error, "%s", error);
    u->total_us = lx_now_us() - lx_req_start_us(ch->req);
    ch->ai->usage->push(ch->ai->usage, u);
    if (ch->stream)
        atomic_fetch_sub_explicit(&ch->ai->streams_active, 1, memory_order_relaxed);
    lx_sse_free(&ch->sse);
    lx_buf_free(&ch->resp);
    free(ch);
}

static void on_client_abort(lx_req_t *req, void *arg)
{
    chat_t *ch = arg;
    chat_finalize(ch, 499, "client closed the connection");
}

/* ---- replies ---- */

static void set_route_headers(chat_t *ch)
{
    char v[32];
    lx_req_set_header(ch->req, "x-llmux-provider", ch->prov->name);
    lx_req_set_header(ch->req, "x-llmux-model", ch->usage.model);
    snprintf(v, sizeof v, "%lld", (long long)ch->overhead_us);
    lx_req_set_header(ch->req, "x-llmux-overhead-us", v);
}

static void parse_usage(chat_t *ch, json_t *usage)
{
    if (!json_is_object(usage))
        return;
    ch->usage.tokens_in = json_integer_value(json_object_get(usage, "prompt_tokens"));
    ch->usage.tokens_out = json_integer_value(json_object_get(usage, "completion_tokens"));
    json_t *det = json_object_get(usage, "prompt_tokens_details");
    ch->usage.tokens_cached = json_integer_value(json_object_get(det, "cached_tokens"));
}

static const char *up_failure_text(const lx_up_result_t *res, lx_err_t *err)
{
    switch (res->outcome) {
    case LX_UP_TIMEOUT_CONNECT:
    case LX_UP_TIMEOUT_FIRST_BYTE:
    case LX_UP_TIMEOUT_IDLE:
    case LX_UP_TIMEOUT_TOTAL:
        *err = LX_E_UPSTREAM_TIMEOUT;
        break;
    default:
        *err = LX_E_UPSTREAM;
    }
    return lx_up_outcome_name(res->outcome);
}

/* Upstream answered with an error status: pass its error on in the client's
 * shape, keeping the status (and Retry-After for 429). */
static void reply_upstream_error(chat_t *ch, int status)
{
    char msg[512] = "";
    json_t *root = json_loadb(ch->resp.p ? ch->resp.p : "", ch->resp.n, 0, NULL);
    json_t *e = json_object_get(root, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (m == NULL)
        m = json_string_value(e);
    snprintf(msg, sizeof msg, "upstream %s returned %d%s%s", ch->prov->name, status, m ? ": " : "",
             m ? m : "");
    json_decref(root);
    const char *ra = ch->call ? lx_up_call_header(ch->call, "Retry-After") : NULL;
    if (ra)
        lx_req_set_header(ch->req, "Retry-After", ra);
    set_route_headers(ch);
    lx_req_reply_error_status(ch->req, status, lx_err_from_status(status), msg, NULL);
}

static void stream_error_event(chat_t *ch, const char *message)
{
    lx_buf_t b;
    lx_buf_init(&b, 256);
    lx_buf_append_cstr(&b, "data: {\"error\":{\"message\":");
    lx_buf_append_json_str(&b, message, strlen(message));
    lx_buf_append_cstr(&b, ",\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_error\"}}"
                           "\n\n");
    lx_req_stream_write(ch->req, b.p, b.n);
    lx_buf_free(&b);
}

/* ---- upstream callbacks ---- */

static void up_headers(lx_up_call_t *call, int status, void *arg)
{
    chat_t *ch = arg;
    ch->status = status;
}

static void start_client_stream(chat_t *ch)
{
    ch->state = CHAT_STREAMING;
    set_route_headers(ch);
    lx_req_set_header(ch->req, "Cache-Control", "no-cache");
    lx_req_stream_start(ch->req, 200, "text/event-stream");
}

/* True if the chunk carries "usage": {...} (most chunks say "usage":null once
 * usage was requested; only the real one is worth a parse). */
static bool has_usage_object(lx_str_t d)
{
    const char *p = d.p, *end = d.p + d.n;
    while (p < end && (p = memmem(p, (size_t)(end - p), "\"usage\"", 7)) != NULL) {
        p += 7;
        while (p < end && (*p == ' ' || *p == ':'))
            p++;
        if (p < end && *p == '{')
            return true;
    }
    return false;
}

static int on_sse_event(const lx_sse_event_t *ev, void *arg)
{
    chat_t *ch = arg;
    lx_str_t d = ev->data;
    if (ch->state == CHAT_UPSTREAM)
        start_client_stream(ch);
    if (lx_str_eq_cstr(d, "[DONE]")) {
        ch->saw_done = true;
    } else if (has_usage_object(d)) {
        json_t *chunk = json_loadb(d.p, d.n, 0, NULL);
        json_t *usage = json_object_get(chunk, "usage");
        json_t *choices = json_object_get(chunk, "choices");
        bool usage_only =
            json_is_object(usage) && json_is_array(choices) && json_array_size(choices) == 0;
        parse_usage(ch, usage);
        json_decref(chunk);
        if (usage_only && !ch->client_usage)
            return LX_OK; /* we asked for it; the client did not */
    } else if (d.n > 9 && memcmp(d.p, "{\"error\"", 8) == 0) {
        ch->upstream_error_event = true;
    }
    lx_req_stream_write(ch->req, ev->raw.p, ev->raw.n);
    return LX_OK;
}

static void resume_upstream(lx_req_t *req, void *arg)
{
    chat_t *ch = arg;
    if (ch->call)
        lx_up_call_resume(ch->call);
}

static int up_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    chat_t *ch = arg;
    int64_t t0 = lx_now_us();
    if (!ch->stream || ch->status != 200) {
        if (ch->resp.n + n > MAX_RESPONSE_BYTES)
            return LX_ERROR;
        lx_buf_append(&ch->resp, p, n);
        return LX_OK;
    }
    /* Backpressure: hold upstream while the client is behind. The bytes are
     * not consumed; curl hands them back after resume. */
    size_t high = ch->ai->cfg->stream_high_water;
    if (lx_req_pending_bytes(ch->req) > high) {
        lx_req_on_drain(ch->req, high / 2, resume_upstream, ch);
        return LX_AGAIN;
    }
    lx_sse_feed(&ch->sse, p, n);
    ch->overhead_us += lx_now_us() - t0;
    return LX_OK;
}

static void finish_nonstream(chat_t *ch, const lx_up_result_t *res)
{
    if (ch->status != 200) {
        reply_upstream_error(ch, ch->status);
        return;
    }
    /* Pass the body through; parse only the "usage" object, not the whole
     * response (a top-level scan finds it). */
    size_t vs, ve;
    const char *p = ch->resp.p ? ch->resp.p : "";
    if (lx_body_find(p, ch->resp.n, "usage", &vs, &ve) == LX_OK) {
        json_t *usage = json_loadb(p + vs, ve - vs, 0, NULL);
        parse_usage(ch, usage);
        json_decref(usage);
    } else if (lx_body_find(p, ch->resp.n, "choices", &vs, &ve) != LX_OK) {
        ch->status = 502;
        set_route_headers(ch);
        lx_req_reply_error(ch->req, LX_E_UPSTREAM, "upstream returned a body that is not JSON",
                           NULL);
        return;
    }
    set_route_headers(ch);
    lx_req_reply(ch->req, 200, "application/json", ch->resp.p, ch->resp.n);
}

static void up_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    chat_t *ch = arg;
    ch->usage.ttfb_us = res->first_byte_us;
    lx_err_t err;
    const char *failure = NULL;
    if (res->outcome != LX_UP_OK) {
        failure = up_failure_text(res, &err);
        if (ch->state == CHAT_STREAMING) {
            char msg[160];
            snprintf(msg, sizeof msg, "upstream stream failed: %s", failure);
            stream_error_event(ch, msg);
            lx_req_stream_end(ch->req);
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "upstream %s failed: %s", ch->prov->name, failure);
            ch->status = lx_err_info(err)->status;
            set_route_headers(ch);
            lx_req_reply_error(ch->req, err, msg, NULL);
        }
    } else if (!ch->stream || ch->status != 200) {
        finish_nonstream(ch, res);
        if (ch->status != 200)
            failure = "upstream error status";
    } else if (ch->state == CHAT_UPSTREAM) {
        ch->status = 502;
        set_route_headers(ch);
        lx_req_reply_error(ch->req, LX_E_UPSTREAM, "upstream ended the stream without data", NULL);
        failure = "empty stream";
    } else {
        if (!ch->saw_done && !ch->upstream_error_event) {
            stream_error_event(ch, "upstream stream ended early");
            failure = "stream ended before [DONE]";
        } else if (ch->upstream_error_event) {
            failure = "upstream error event";
        }
        lx_req_stream_end(ch->req);
    }
    ch->call = NULL; /* the upstream module frees it after we return */
    int status = failure && ch->state == CHAT_STREAMING ? 502 : ch->status;
    chat_finalize(ch, status ? status : 502, failure);
}

/* ---- handler ---- */

static int bad_request(lx_req_t *req, lx_err_t err, const char *msg, const char *param)
{
    lx_req_reply_error(req, err, msg, param);
    return LX_OK;
}

int lx_ai_chat_handler(lx_req_t *req, void *arg)
{
    lx_ai_t *ai = arg;
    int64_t t0 = lx_now_us();
    char key_id[64];
    if (!lx_ai_authorize(ai, req, key_id))
        return LX_OK;
    lx_str_t body = lx_req_body(req);
    char err[160];
    json_t *root = lx_json_parse(body.p, body.n, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (root == NULL)
        return bad_request(req, LX_E_INVALID_JSON, err, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return bad_request(req, LX_E_BAD_REQUEST, "request body must be a JSON object", NULL);
    }
    lx_str_t model = lx_json_str(root, "model");
    if (model.n == 0) {
        json_decref(root);
        return bad_request(req, LX_E_MISSING_FIELD, "'model' is required", "model");
    }
    if (!lx_ai_model_name_valid(model)) {
        json_decref(root);
        return bad_request(req, LX_E_BAD_REQUEST, "'model' has characters a model name cannot",
                           "model");
    }
    if (!json_is_array(json_object_get(root, "messages"))) {
        json_decref(root);
        return bad_request(req, LX_E_MISSING_FIELD, "'messages' must be an array", "messages");
    }
    const char *slash = memchr(model.p, '/', model.n);
    const lx_provider_conf_t *prov =
        slash ? lx_config_provider(ai->cfg, (lx_str_t){model.p, (size_t)(slash - model.p)}) : NULL;
    if (prov == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "model '%.*s' not found: use provider/model with a configured "
                 "provider",
                 (int)model.n, model.p);
        json_decref(root);
        lx_req_reply_error(req, LX_E_MODEL_NOT_FOUND, msg, "model");
        return LX_OK;
    }

    chat_t *ch = lx_calloc(1, sizeof *ch);
    ch->ai = ai;
    ch->req = req;
    ch->prov = prov;
    ch->state = CHAT_UPSTREAM;
    ch->stream = json_is_true(json_object_get(root, "stream"));
    json_t *so = json_object_get(root, "stream_options");
    ch->client_usage = json_is_true(json_object_get(so, "include_usage"));
    lx_sse_init(&ch->sse, on_sse_event, ch);
    lx_buf_init(&ch->resp, 0);
    lx_usage_t *u = &ch->usage;
    snprintf(u->request_id, sizeof u->request_id, "%.*s", (int)lx_req_id(req).n, lx_req_id(req).p);
    snprintf(u->key_id, sizeof u->key_id, "%s", key_id);
    snprintf(u->provider, sizeof u->provider, "%s", prov->name);
    snprintf(u->model, sizeof u->model, "%.*s", (int)(model.n - (size_t)(slash - model.p) - 1),
             slash + 1);
    u->feature = "chat";
    u->ttfb_us = -1;
    u->created_ms = lx_wall_ms();
    if (ch->stream)
        atomic_fetch_add_explicit(&ai->streams_active, 1, memory_order_relaxed);

    /* The upstream body: the client's bytes, model (and usage request) spliced. */
    lx_buf_t quoted, tmp, out;
    lx_buf_init(&quoted, 64);
    lx_buf_append_json_str(&quoted, u->model, strlen(u->model));
    lx_buf_init(&out, body.n + 64);
    lx_body_set(&out, body.p, body.n, "model", quoted.p, quoted.n);
    if (ch->stream && !ch->client_usage) {
        json_t *opts = json_is_object(so) ? json_deep_copy(so) : json_object();
        json_object_set_new(opts, "include_usage", json_true());
        char *text = json_dumps(opts, JSON_COMPACT);
        lx_buf_init(&tmp, out.n + 64);
        lx_body_set(&tmp, out.p, out.n, "stream_options", text, strlen(text));
        free(text);
        json_decref(opts);
        lx_buf_free(&out);
        out = tmp;
    }
    json_decref(root);
    lx_buf_free(&quoted);

    char url[1024], auth[1024], rid[160];
    snprintf(url, sizeof url, "%s/chat/completions", prov->base_url);
    const char *hdrs[4 + LX_MAX_EXTRA_HEADERS];
    char extra[LX_MAX_EXTRA_HEADERS][512];
    int nh = 0;
    hdrs[nh++] = "Content-Type: application/json";
    if (prov->api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", prov->api_key);
        hdrs[nh++] = auth;
    }
    snprintf(rid, sizeof rid, "X-Request-Id: %s", u->request_id);
    hdrs[nh++] = rid;
    for (int i = 0; i < prov->nheaders; i++) {
        snprintf(extra[i], sizeof extra[i], "%s: %s", prov->header_names[i],
                 prov->header_values[i]);
        hdrs[nh++] = extra[i];
    }
    lx_up_request_t rq = {.method = "POST",
                          .url = url,
                          .headers = hdrs,
                          .nheaders = nh,
                          .body = out.p,
                          .body_len = out.n,
                          .timeouts = prov->timeouts};
    static const lx_up_handlers_t handlers = {up_headers, up_data, up_done};
    ch->t_up_start = lx_now_us();
    ch->overhead_us = ch->t_up_start - t0;
    ch->call = lx_up_call_start(ai->up, &rq, &handlers, ch);
    explicit_bzero(auth, sizeof auth);
    lx_buf_free(&out);
    if (ch->call == NULL) {
        lx_req_reply_error(req, LX_E_INTERNAL, "could not start the upstream call", NULL);
        chat_finalize(ch, 500, "upstream call not started");
        return LX_OK;
    }
    lx_req_on_abort(req, on_client_abort, ch);
    return LX_AGAIN;
}
