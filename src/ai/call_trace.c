/* call_trace.c - the AI call's spans (README "Traces"): one server span per
 * request ("chat gpt-4o"), a client span per upstream attempt as its child,
 * the W3C traceparent/tracestate sent upstream on every attempt, and, only
 * when capture is switched on, the prompt and the answer text on the
 * request span (each cut at 16 KiB). Nothing here runs without a tracer
 * (tracing off), and spans exist only for sampled requests. API keys never
 * reach a span: attributes name the provider, credential id and model.
 * The spans are owned by the call (c->tr) until handed to the worker's
 * tracer when they end. */
#include "ai/call_int.h"

#include "ai/body.h"
#include "core/clock.h"

#include <stdio.h>
#include <string.h>

#define CAPTURE_MAX (16 * 1024)

static const char *operation(const lx_call_t *c)
{
    switch (c->o.kind) {
    case LX_CALL_EMBED:
        return "embeddings";
    case LX_CALL_IMAGE:
        return "image_generation";
    default:
        return "chat";
    }
}

/* gen_ai.system: the semantic conventions' names; an OpenAI-compatible
 * server is named by its provider (openrouter, vllm, ...). */
static const char *gen_ai_system(const lx_target_t *t)
{
    switch (t->conf.kind) {
    case LX_PROVIDER_OPENAI:
        return "openai";
    case LX_PROVIDER_ANTHROPIC:
        return "anthropic";
    case LX_PROVIDER_GEMINI:
        return "gcp.gemini";
    default:
        return t->conf.name;
    }
}

/* The host of a base URL (server.address), without scheme, port or path. */
static lx_str_t url_host(const char *u)
{
    const char *p = u ? strstr(u, "://") : NULL;
    if (p == NULL)
        return (lx_str_t){"", 0};
    p += 3;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        return e ? (lx_str_t){p + 1, (size_t)(e - p - 1)} : (lx_str_t){"", 0};
    }
    size_t n = strcspn(p, ":/?#");
    return (lx_str_t){p, n};
}

static void capture(lx_span_t *s, const char *key, const char *p, size_t n)
{
    lx_span_str(s, key, p, n > CAPTURE_MAX ? CAPTURE_MAX : n);
}

/* The request's context: the client's traceparent (a new trace if it sent
 * none or an invalid one) and valid tracestate, and the sampler's decision.
 * True if sampled. */
static bool request_ctx(lx_req_t *req, const lx_trace_conf_t *conf, lx_trace_ctx_t *ctx,
                        lx_trace_ctx_t *parent, bool *has_parent, const char **tracestate)
{
    const char *tp = lx_req_hdr(req, LX_HDR_TRACEPARENT);
    *has_parent = tp && lx_traceparent_parse(tp, strlen(tp), parent) == LX_OK;
    const char *ts = *has_parent ? lx_req_hdr(req, LX_HDR_TRACESTATE) : NULL;
    *tracestate = ts && lx_tracestate_valid(ts, strlen(ts)) ? ts : NULL;
    if (*has_parent)
        memcpy(ctx->trace_id, parent->trace_id, 16);
    else
        lx_trace_random_id(ctx->trace_id, 16);
    bool sampled = lx_sampler_decide(&conf->sampler, *has_parent ? parent : NULL, ctx->trace_id);
    ctx->flags = sampled ? LX_TRACE_FLAG_SAMPLED : 0;
    return sampled;
}

/* The request's server span, started when the request was. */
static lx_span_t *request_span(lx_req_t *req, const char *op, const char *model,
                               const lx_trace_ctx_t *ctx, const lx_trace_ctx_t *parent,
                               const char *tracestate)
{
    char name[300];
    snprintf(name, sizeof name, "%s%s%s", op, model[0] ? " " : "", model);
    int64_t start = lx_trace_now_ns() - (lx_now_us() - lx_req_start_us(req)) * 1000;
    lx_span_t *s =
        lx_span_new(name, LX_SPAN_SERVER, ctx->trace_id, parent ? parent->span_id : NULL, start);
    if (tracestate)
        s->tracestate = lx_strdup(tracestate);
    lx_span_cstr(s, "gen_ai.operation.name", op);
    lx_span_cstr(s, "gen_ai.request.model", model);
    return s;
}

void lx_ai_trace_refusal(lx_ai_t *ai, lx_req_t *req, const char *feature, lx_str_t model,
                         const lx_outcome_t *o)
{
    if (ai->tracer == NULL || feature == NULL)
        return;
    lx_trace_ctx_t ctx, parent;
    bool has_parent;
    const char *ts;
    if (!request_ctx(req, lx_tracer_conf(ai->tracer), &ctx, &parent, &has_parent, &ts))
        return;
    const char *op = strcmp(feature, "embed") == 0   ? "embeddings"
                     : strcmp(feature, "image") == 0 ? "image_generation"
                                                     : "chat";
    char m[256];
    lx_copy(m, sizeof m, model.p ? model.p : "", model.n);
    lx_span_t *s = request_span(req, op, m, &ctx, has_parent ? &parent : NULL, ts);
    s->end_ns = lx_trace_now_ns();
    lx_span_int(s, "http.response.status_code", o->status);
    lx_span_cstr(s, "error.type", lx_outcome_code(o));
    s->status = LX_SPAN_ERROR;
    lx_tracer_submit(ai->tracer, s);
}

void lx_call_trace_start(lx_call_t *c)
{
    lx_tracer_t *tracer = c->o.ai->tracer;
    if (tracer == NULL)
        return;
    const lx_trace_conf_t *conf = lx_tracer_conf(tracer);
    lx_call_trace_t *tr = &c->tr;
    tr->on = true;
    lx_trace_ctx_t parent;
    bool has_parent;
    bool sampled = request_ctx(c->o.req, conf, &tr->ctx, &parent, &has_parent, &tr->tracestate);
    tr->capture = sampled && conf->capture_content;
    if (!sampled) { /* upstreams still see one trace: our hop's id, not sampled */
        if (has_parent)
            memcpy(tr->ctx.span_id, parent.span_id, 8);
        else
            lx_trace_random_id(tr->ctx.span_id, 8);
        return;
    }
    lx_span_t *s = request_span(c->o.req, operation(c), c->o.requested_model, &tr->ctx,
                                has_parent ? &parent : NULL, tr->tracestate);
    memcpy(tr->ctx.span_id, s->span_id, 8);
    if (tr->capture) {
        size_t vs, ve;
        lx_str_t b = c->o.in.body;
        const char *key = c->o.kind == LX_CALL_CHAT    ? "messages"
                          : c->o.kind == LX_CALL_EMBED ? "input"
                                                       : "prompt";
        if (b.p && lx_body_find(b.p, b.n, key, &vs, &ve) == LX_OK)
            capture(s, "gen_ai.input.messages", b.p + vs, ve - vs);
        lx_buf_init(&tr->text, 0);
    }
    tr->req = s;
}

void lx_call_trace_attempt(lx_call_t *c, lx_up_build_t *b)
{
    lx_call_trace_t *tr = &c->tr;
    if (!tr->on)
        return;
    const lx_target_t *t = c->t;
    lx_trace_ctx_t hop = tr->ctx;
    if (tr->req) {
        char name[300];
        snprintf(name, sizeof name, "%s %s", operation(c), t->upstream_model);
        lx_span_t *s = lx_span_new(name, LX_SPAN_CLIENT, tr->ctx.trace_id, tr->req->span_id,
                                   lx_trace_now_ns());
        lx_span_cstr(s, "gen_ai.system", gen_ai_system(t));
        lx_span_cstr(s, "gen_ai.operation.name", operation(c));
        lx_span_cstr(s, "gen_ai.request.model", t->upstream_model);
        lx_span_cstr(s, "llmux.provider", t->conf.name);
        lx_str_t host = url_host(t->conf.base_url);
        lx_span_str(s, "server.address", host.p, host.n);
        lx_span_int(s, "llmux.attempt", c->attempts + 1);
        if (c->same_retries > 0)
            lx_span_bool(s, "llmux.retry", true);
        if (c->ti > 0)
            lx_span_bool(s, "llmux.fallback", true);
        memcpy(hop.span_id, s->span_id, 8);
        lx_span_free(tr->att); /* an attempt that never reported (not expected) */
        tr->att = s;
    }
    char tp[LX_TRACEPARENT_LEN + 1];
    lx_traceparent_format(&hop, tp);
    lx_up_build_header_kv(b, "traceparent", tp);
    if (tr->tracestate)
        lx_up_build_header_kv(b, "tracestate", tr->tracestate);
}

void lx_call_trace_attempt_end(lx_call_t *c, const lx_up_result_t *res, bool again)
{
    lx_span_t *s = c->tr.att;
    if (s == NULL)
        return;
    s->end_ns = lx_trace_now_ns();
    if (c->status)
        lx_span_int(s, "http.response.status_code", c->status);
    char st[16];
    const char *err = NULL;
    if (res->outcome != LX_UP_OK) {
        err = lx_up_outcome_name(res->outcome);
    } else if (c->status != 200) {
        snprintf(st, sizeof st, "%d", c->status);
        err = st;
    } else if (c->too_big[0] || c->failed_midstream || (c->o.stream && !c->done)) {
        err = "broken_stream";
    }
    if (err) {
        lx_span_cstr(s, "error.type", err);
        s->status = LX_SPAN_ERROR;
    }
    if (!again)
        return; /* the call's end adds the tokens and hands it over */
    lx_span_cstr(s, "llmux.retry_reason", c->fallback_reason);
    if (s->status == LX_SPAN_UNSET)
        s->status = LX_SPAN_ERROR;
    lx_tracer_submit(c->o.ai->tracer, s);
    c->tr.att = NULL;
}

/* The answer text of one chunk or whole answer in either wire (OpenAI
 * choices[0].delta.content / message.content, Anthropic delta.text /
 * content[].text), appended to the captured text. */
static void add_text(lx_call_trace_t *tr, json_t *root)
{
    json_t *ch = json_array_get(json_object_get(root, "choices"), 0);
    json_t *v = json_object_get(json_object_get(ch, "delta"), "content");
    if (v == NULL)
        v = json_object_get(json_object_get(ch, "message"), "content");
    if (v == NULL)
        v = json_object_get(json_object_get(root, "delta"), "text");
    size_t i;
    json_t *blk;
    if (v == NULL && json_is_array(json_object_get(root, "content"))) {
        json_array_foreach(json_object_get(root, "content"), i, blk)
        {
            json_t *t = json_object_get(blk, "text");
            if (json_is_string(t) && tr->text.n < CAPTURE_MAX)
                lx_buf_append(&tr->text, json_string_value(t), json_string_length(t));
        }
    }
    if (json_is_string(v) && tr->text.n < CAPTURE_MAX)
        lx_buf_append(&tr->text, json_string_value(v), json_string_length(v));
}

void lx_call_trace_text(lx_call_t *c, const char *json, size_t n)
{
    if (!c->tr.capture || c->tr.text.n >= CAPTURE_MAX)
        return;
    json_t *root = json_loadb(json, n, 0, NULL);
    if (root) {
        add_text(&c->tr, root);
        json_decref(root);
    }
}

void lx_call_trace_text_json(lx_call_t *c, json_t *root)
{
    if (c->tr.capture && c->tr.text.n < CAPTURE_MAX)
        add_text(&c->tr, root);
}

static void usage_attrs(lx_call_t *c, lx_span_t *s)
{
    lx_span_int(s, "gen_ai.usage.input_tokens", c->tokens.in);
    lx_span_int(s, "gen_ai.usage.output_tokens", c->tokens.out);
}

void lx_call_trace_end(lx_call_t *c, const lx_outcome_t *o)
{
    lx_call_trace_t *tr = &c->tr;
    lx_tracer_t *tracer = c->o.ai->tracer;
    if (tr->att) {
        lx_span_t *s = tr->att;
        if (s->end_ns == 0)
            s->end_ns = lx_trace_now_ns();
        if (c->t)
            lx_span_cstr(s, "gen_ai.response.model", c->t->upstream_model);
        usage_attrs(c, s);
        if (o->err != LX_E_NONE && s->status != LX_SPAN_ERROR) {
            lx_span_cstr(s, "error.type", lx_outcome_code(o));
            s->status = LX_SPAN_ERROR;
        }
        lx_tracer_submit(tracer, s);
        tr->att = NULL;
    }
    lx_span_t *s = tr->req;
    if (s == NULL)
        return;
    s->end_ns = lx_trace_now_ns();
    if (c->t) {
        const lx_target_t *t = c->t;
        char dep[400];
        snprintf(dep, sizeof dep, "%s/%lld/%s", t->conf.name,
                 (long long)(t->cred ? t->cred->id : 0), t->upstream_model);
        lx_span_cstr(s, "gen_ai.system", gen_ai_system(t));
        lx_span_cstr(s, "gen_ai.response.model", t->upstream_model);
        lx_span_cstr(s, "llmux.provider", t->conf.name);
        lx_span_cstr(s, "llmux.deployment", dep);
        lx_str_t host = url_host(t->conf.base_url);
        lx_span_str(s, "server.address", host.p, host.n);
    }
    usage_attrs(c, s);
    lx_span_int(s, "http.response.status_code", o->status);
    lx_span_int(s, "llmux.overhead_us", c->overhead_us);
    lx_span_int(s, "llmux.attempts", c->attempts);
    if (c->fallback_reason[0])
        lx_span_cstr(s, "llmux.fallback_reason", c->fallback_reason);
    if (o->err != LX_E_NONE) {
        lx_span_cstr(s, "error.type", lx_outcome_code(o));
        s->status = LX_SPAN_ERROR;
    }
    if (tr->capture) {
        lx_buf_t m;
        lx_buf_init(&m, tr->text.n + 80);
        lx_buf_append_cstr(&m,
                           "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":");
        lx_buf_append_json_str(&m, tr->text.p ? tr->text.p : "",
                               tr->text.n > CAPTURE_MAX ? CAPTURE_MAX : tr->text.n);
        lx_buf_append_cstr(&m, "}]}]");
        lx_span_str(s, "gen_ai.output.messages", m.p, m.n);
        lx_buf_free(&m);
        lx_buf_free(&tr->text);
    }
    lx_tracer_submit(tracer, s);
    tr->req = NULL;
}
