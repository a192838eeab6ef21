/* gemini.c - Gemini generateContent / streamGenerateContent / embedContent /
 * batchEmbedContents / countTokens, and the Gemini model list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "call.h"
#include "jsonw.h"
#include "reply.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

#define F_SSE 1L

static const char *finish_reason(const mock_opts_t *o)
{
    if (o->fault == MOCK_FAULT_MAX_TOKENS)
        return "MAX_TOKENS";
    if (o->fault == MOCK_FAULT_REFUSAL)
        return "SAFETY";
    return "STOP";
}

/* First declared function, unless toolConfig says NONE. Borrowed from json. */
static const char *pick_function(json_t *json)
{
    json_t *tools = json_object_get(json, "tools");
    json_t *mode = json_object_get(
        json_object_get(json_object_get(json, "toolConfig"), "functionCallingConfig"), "mode");
    size_t i;
    json_t *t;

    if (json_is_string(mode) && strcmp(json_string_value(mode), "NONE") == 0)
        return NULL;
    if (!json_is_array(tools))
        return NULL;
    json_array_foreach(tools, i, t)
    {
        json_t *decls = json_object_get(t, "functionDeclarations");
        if (!json_is_array(decls))
            decls = json_object_get(t, "function_declarations");
        if (json_is_array(decls) && json_array_size(decls) > 0) {
            json_t *name = json_object_get(json_array_get(decls, 0), "name");
            return json_is_string(name) ? json_string_value(name) : "function";
        }
    }
    return NULL;
}

static void function_call_part(struct evbuffer *b, const char *tool)
{
    MOCK_LIT(b, "{\"functionCall\":{\"name\":");
    mock_jw_cstr(b, tool);
    MOCK_LIT(b, ",\"args\":" MOCK_TOOL_ARGS "}}");
}

static void usage(struct evbuffer *b, long prompt, long cand)
{
    evbuffer_add_printf(b,
                        "\"usageMetadata\":{\"promptTokenCount\":%ld,\"candidatesTokenCount\":%ld,"
                        "\"totalTokenCount\":%ld}",
                        prompt, cand, prompt + cand);
}

static void generate(mock_call_t *c, const char *tool)
{
    struct evbuffer *b = evbuffer_new();

    if (b == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    MOCK_LIT(b, "{\"candidates\":[{\"content\":{\"parts\":[");
    if (tool != NULL) {
        function_call_part(b, tool);
    } else {
        MOCK_LIT(b, "{\"text\":\"");
        mock_tokens(b, 0, c->opts.chunks);
        MOCK_LIT(b, "\"}");
    }
    evbuffer_add_printf(b, "],\"role\":\"model\"},\"finishReason\":\"%s\",\"index\":0}],",
                        finish_reason(&c->opts));
    usage(b, c->prompt_tokens, c->opts.chunks);
    MOCK_LIT(b, ",\"modelVersion\":");
    mock_jw_str(b, c->model, c->model_len);
    evbuffer_add_printf(b, ",\"responseId\":\"mock%ld\"}", mock_next_id());
    mock_deliver(c->req, &c->opts, 200, MOCK_CT_JSON, b);
}

/* ---- stream ---- */

static void frame_begin(mock_stream_t *s, long i, struct evbuffer *out)
{
    if (s->flags & F_SSE)
        MOCK_LIT(out, "data: ");
    else if (i > 0)
        MOCK_LIT(out, ",\r\n");
}

static void frame_end(mock_stream_t *s, struct evbuffer *out)
{
    if (s->flags & F_SSE)
        MOCK_LIT(out, "\r\n\r\n");
}

/* One GenerateContentResponse; `text` NULL means the function call part. */
static void chunk(mock_stream_t *s, long i, struct evbuffer *out, bool last, const char *text)
{
    frame_begin(s, i, out);
    MOCK_LIT(out, "{\"candidates\":[{\"content\":{\"parts\":[");
    if (s->tool != NULL && text == NULL) {
        function_call_part(out, s->tool);
    } else {
        MOCK_LIT(out, "{\"text\":");
        mock_jw_cstr(out, text ? text : "");
        MOCK_LIT(out, "}");
    }
    MOCK_LIT(out, "],\"role\":\"model\"}");
    if (last)
        evbuffer_add_printf(out, ",\"finishReason\":\"%s\"", finish_reason(&s->opts));
    MOCK_LIT(out, ",\"index\":0}],");
    if (last)
        usage(out, s->prompt_tokens, s->opts.chunks);
    else
        evbuffer_add_printf(out,
                            "\"usageMetadata\":{\"promptTokenCount\":%ld,\"totalTokenCount\":%ld}",
                            s->prompt_tokens, s->prompt_tokens);
    evbuffer_add(out, s->prefix, s->prefix_len); /* ,"modelVersion":..,"responseId":..} */
    frame_end(s, out);
}

static void st_preamble(mock_stream_t *s, struct evbuffer *out)
{
    if (!(s->flags & F_SSE))
        MOCK_LIT(out, "[");
}

static void st_unit(mock_stream_t *s, long i, struct evbuffer *out)
{
    char text[32];

    if (s->tool != NULL) {
        chunk(s, i, out, i == s->n_units - 1, NULL);
        return;
    }
    snprintf(text, sizeof(text), "tok%ld ", i);
    chunk(s, i, out, i == s->n_units - 1, text);
}

static void st_tail(mock_stream_t *s, struct evbuffer *out)
{
    if (s->n_units == 0)
        chunk(s, 0, out, true, "");
    if (!(s->flags & F_SSE))
        MOCK_LIT(out, "]");
}

static void st_malformed(mock_stream_t *s, struct evbuffer *out)
{
    frame_begin(s, 1, out);
    MOCK_LIT(out, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"");
    frame_end(s, out);
}

static void st_error(mock_stream_t *s, struct evbuffer *out)
{
    frame_begin(s, 1, out);
    MOCK_LIT(out,
             "{\"error\":{\"code\":500,\"message\":\"upstream failure\",\"status\":\"INTERNAL\"}}");
    frame_end(s, out);
    if (!(s->flags & F_SSE))
        MOCK_LIT(out, "]");
}

static const mock_stream_ops_t sse_ops = {
    .content_type = MOCK_CT_SSE,
    .preamble = st_preamble,
    .unit = st_unit,
    .tail = st_tail,
    .malformed = st_malformed,
    .error_event = st_error,
};

static const mock_stream_ops_t array_ops = {
    .content_type = MOCK_CT_JSON,
    .preamble = st_preamble,
    .unit = st_unit,
    .tail = st_tail,
    .malformed = st_malformed,
    .error_event = st_error,
};

static bool query_has(const char *q, const char *kv)
{
    size_t n = strlen(kv);

    for (const char *p = q; (p = strstr(p, kv)) != NULL; p += n)
        if ((p == q || p[-1] == '&') && (p[n] == '\0' || p[n] == '&'))
            return true;
    return false;
}

static void stream(mock_call_t *c, const char *tool)
{
    bool sse = query_has(c->query, "alt=sse");
    mock_stream_t *s =
        mock_stream_new(sse ? &sse_ops : &array_ops, &c->opts, c->model, c->model_len, tool);
    struct evbuffer *p = evbuffer_new();

    if (s == NULL || p == NULL)
        goto fail;
    s->id = mock_next_id();
    s->prompt_tokens = c->prompt_tokens;
    s->n_units = tool ? 1 : c->opts.chunks;
    s->flags = sse ? F_SSE : 0;
    MOCK_LIT(p, ",\"modelVersion\":");
    mock_jw_str(p, c->model, c->model_len);
    evbuffer_add_printf(p, ",\"responseId\":\"mock%ld\"}", s->id);
    s->prefix_len = evbuffer_get_length(p);
    if ((s->prefix = malloc(s->prefix_len)) == NULL)
        goto fail;
    evbuffer_remove(p, s->prefix, s->prefix_len);
    evbuffer_free(p);
    mock_stream_start(c->req, s);
    return;
fail:
    mock_stream_free(s);
    if (p != NULL)
        evbuffer_free(p);
    evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
}

/* ---- embeddings ---- */

/* Concatenated text of content.parts[].text into a malloc'd string. */
static char *content_text(json_t *content, size_t *n)
{
    struct evbuffer *b = evbuffer_new();
    json_t *parts = json_object_get(content, "parts");
    json_t *part;
    size_t i;
    char *s;

    if (b == NULL)
        return NULL;
    json_array_foreach(parts, i, part)
    {
        json_t *t = json_object_get(part, "text");
        if (json_is_string(t))
            evbuffer_add(b, json_string_value(t), json_string_length(t));
    }
    *n = evbuffer_get_length(b);
    s = malloc(*n + 1);
    if (s != NULL) {
        evbuffer_remove(b, s, *n);
        s[*n] = '\0';
    }
    evbuffer_free(b);
    return s;
}

static long dims_for(const mock_call_t *c, json_t *req)
{
    json_t *d = json_object_get(req, "outputDimensionality");

    if (!c->opts.dims_set && json_is_integer(d) && json_integer_value(d) > 0 &&
        json_integer_value(d) <= 65536)
        return (long)json_integer_value(d);
    return c->opts.dims;
}

static void values(struct evbuffer *b, const mock_call_t *c, json_t *req)
{
    size_t n = 0;
    char *text = content_text(json_object_get(req, "content"), &n);

    MOCK_LIT(b, "{\"values\":");
    mock_embed_vector(b, text ? text : "", n, dims_for(c, req));
    MOCK_LIT(b, "}");
    free(text);
}

static void embed(mock_call_t *c, bool batch)
{
    struct evbuffer *b;
    json_t *reqs = json_object_get(c->json, "requests");

    if (batch ? !json_is_array(reqs) : !json_is_object(json_object_get(c->json, "content"))) {
        mock_reply_error(c->req, MOCK_API_GEMINI, 400,
                         batch ? "* requests: field required" : "* content: field required", 0);
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    if (batch) {
        json_t *r;
        size_t i;
        MOCK_LIT(b, "{\"embeddings\":[");
        json_array_foreach(reqs, i, r)
        {
            if (i)
                MOCK_LIT(b, ",");
            values(b, c, r);
        }
        MOCK_LIT(b, "]}");
    } else {
        MOCK_LIT(b, "{\"embedding\":");
        values(b, c, c->json);
        MOCK_LIT(b, "}");
    }
    mock_deliver(c->req, &c->opts, 200, MOCK_CT_JSON, b);
}

void mock_gemini(mock_call_t *c)
{
    const char *a = c->action;
    bool is_stream = strcmp(a, "streamGenerateContent") == 0;

    if (is_stream || strcmp(a, "generateContent") == 0) {
        mock_stat_add(is_stream ? MOCK_ST_GEMINI_STREAM : MOCK_ST_GEMINI_GENERATE, 1);
        if (!json_is_array(json_object_get(c->json, "contents"))) {
            mock_reply_error(c->req, MOCK_API_GEMINI, 400, "* contents: field required", 0);
            return;
        }
        if (mock_fault_early(c->req, &c->opts, MOCK_API_GEMINI,
                             is_stream ? c->opts.ttft_ms : c->opts.latency_ms, is_stream))
            return;
        if (is_stream)
            stream(c, pick_function(c->json));
        else
            generate(c, pick_function(c->json));
    } else if (strcmp(a, "embedContent") == 0 || strcmp(a, "batchEmbedContents") == 0) {
        mock_stat_add(MOCK_ST_GEMINI_EMBED, 1);
        if (mock_fault_early(c->req, &c->opts, MOCK_API_GEMINI, c->opts.latency_ms, false))
            return;
        embed(c, a[0] == 'b');
    } else if (strcmp(a, "countTokens") == 0) {
        struct evbuffer *b = evbuffer_new();
        if (b != NULL)
            evbuffer_add_printf(b, "{\"totalTokens\":%ld}", c->prompt_tokens);
        mock_reply_now(c->req, 200, MOCK_CT_JSON, b);
        if (b != NULL)
            evbuffer_free(b);
    } else {
        mock_stat_add(MOCK_ST_NOT_FOUND, 1);
        mock_reply_error(c->req, MOCK_API_GEMINI, 404, "Unknown method", 0);
    }
}

/* ---- models ---- */

static void gemini_model_obj(struct evbuffer *b, const char *id, bool embed_only)
{
    MOCK_LIT(b, "{\"name\":\"models/");
    mock_jw_raw(b, id); /* ids here are plain names from our list or the path */
    MOCK_LIT(b, "\",\"version\":\"001\",\"displayName\":");
    mock_jw_cstr(b, id);
    MOCK_LIT(b, ",\"inputTokenLimit\":1048576,\"outputTokenLimit\":8192,"
                "\"supportedGenerationMethods\":");
    if (embed_only)
        MOCK_LIT(b, "[\"embedContent\"]}");
    else
        MOCK_LIT(b, "[\"generateContent\",\"streamGenerateContent\",\"countTokens\"]}");
}

void mock_gemini_models(evhtp_request_t *req, const char *id)
{
    struct evbuffer *b = evbuffer_new();

    mock_stat_add(MOCK_ST_MODELS, 1);
    if (b == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    if (id != NULL) {
        struct evbuffer *name = evbuffer_new();
        /* Escape the path-supplied id through the JSON writer. */
        MOCK_LIT(b, "{\"name\":");
        if (name != NULL) {
            MOCK_LIT(name, "models/");
            mock_jw_raw(name, id);
            size_t n = evbuffer_get_length(name);
            mock_jw_str(b, (const char *)evbuffer_pullup(name, -1), n);
            evbuffer_free(name);
        }
        MOCK_LIT(b, ",\"displayName\":");
        mock_jw_cstr(b, id);
        MOCK_LIT(b, ",\"supportedGenerationMethods\":[\"generateContent\","
                    "\"streamGenerateContent\",\"countTokens\",\"embedContent\"]}");
    } else {
        MOCK_LIT(b, "{\"models\":[");
        gemini_model_obj(b, "gemini-2.0-flash", false);
        MOCK_LIT(b, ",");
        gemini_model_obj(b, "gemini-2.5-pro", false);
        MOCK_LIT(b, ",");
        gemini_model_obj(b, "text-embedding-004", true);
        MOCK_LIT(b, "]}");
    }
    mock_reply_now(req, 200, MOCK_CT_JSON, b);
    evbuffer_free(b);
}
