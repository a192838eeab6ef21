/* openai.c - OpenAI chat completions (plain, streamed, tool calls) and model lists. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "call.h"
#include "jsonw.h"
#include "reply.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

#define F_INCLUDE_USAGE 1L

static const char *finish_reason(const mock_opts_t *o, bool tool)
{
    if (o->fault == MOCK_FAULT_MAX_TOKENS)
        return "length";
    if (o->fault == MOCK_FAULT_REFUSAL)
        return "content_filter";
    return tool ? "tool_calls" : "stop";
}

static void usage(struct evbuffer *out, long prompt, long completion)
{
    evbuffer_add_printf(out,
                        "{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld,"
                        "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                        "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                        "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
                        prompt, completion, prompt + completion);
}

/* ---- non-stream ---- */

static void chat_plain(mock_call_t *c, const char *tool)
{
    struct evbuffer *b = evbuffer_new();
    const mock_opts_t *o = &c->opts;

    if (b == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    evbuffer_add_printf(
        b,
        "{\"id\":\"chatcmpl-mock%ld\",\"object\":\"chat.completion\",\"created\":%ld,"
        "\"model\":",
        mock_next_id(), mock_unix_s());
    mock_jw_str(b, c->model, c->model_len);
    MOCK_LIT(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",");
    if (tool != NULL) {
        evbuffer_add_printf(b, "\"content\":null,\"tool_calls\":[{\"id\":\"call_mock1\",\"type\":"
                               "\"function\",\"function\":{\"name\":");
        mock_jw_cstr(b, tool);
        MOCK_LIT(b, ",\"arguments\":");
        mock_jw_cstr(b, MOCK_TOOL_ARGS);
        MOCK_LIT(b, "}}]");
    } else {
        MOCK_LIT(b, "\"content\":\"");
        mock_tokens(b, 0, o->chunks);
        MOCK_LIT(b, "\"");
    }
    evbuffer_add_printf(b,
                        ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
                        "\"finish_reason\":\"%s\"}],\"usage\":",
                        finish_reason(o, tool != NULL));
    usage(b, c->prompt_tokens, o->chunks);
    MOCK_LIT(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}");
    mock_deliver(c->req, o, 200, MOCK_CT_JSON, b);
}

/* ---- stream ---- */

static void frame_begin(mock_stream_t *s, struct evbuffer *out)
{
    evbuffer_add(out, s->prefix, s->prefix_len);
}

static void frame_end(mock_stream_t *s, struct evbuffer *out)
{
    if (s->flags & F_INCLUDE_USAGE)
        MOCK_LIT(out, ",\"usage\":null}\n\n");
    else
        MOCK_LIT(out, "}\n\n");
}

static void st_preamble(mock_stream_t *s, struct evbuffer *out)
{
    frame_begin(s, out);
    mock_jw_raw(out,
                "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                "\"logprobs\":null,\"finish_reason\":null}]");
    frame_end(s, out);
}

static void st_unit(mock_stream_t *s, long i, struct evbuffer *out)
{
    frame_begin(s, out);
    if (s->tool == NULL) {
        evbuffer_add_printf(out,
                            "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok%ld \"},"
                            "\"logprobs\":null,\"finish_reason\":null}]",
                            i);
    } else if (i == 0) {
        mock_jw_raw(out, "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                         "\"id\":\"call_mock1\",\"type\":\"function\",\"function\":{\"name\":");
        mock_jw_cstr(out, s->tool);
        mock_jw_raw(out, ",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]");
    } else {
        size_t off, len;
        mock_tool_fragment(i - 1, s->n_units - 1, &off, &len);
        mock_jw_raw(out, "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                         "\"function\":{\"arguments\":");
        mock_jw_str(out, MOCK_TOOL_ARGS + off, len);
        mock_jw_raw(out, "}}]},\"logprobs\":null,\"finish_reason\":null}]");
    }
    frame_end(s, out);
}

static void st_tail(mock_stream_t *s, struct evbuffer *out)
{
    frame_begin(s, out);
    evbuffer_add_printf(out,
                        "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                        "\"finish_reason\":\"%s\"}]",
                        finish_reason(&s->opts, s->tool != NULL));
    frame_end(s, out);
    if (s->flags & F_INCLUDE_USAGE) {
        frame_begin(s, out);
        mock_jw_raw(out, "\"choices\":[],\"usage\":");
        usage(out, s->prompt_tokens, s->opts.chunks);
        MOCK_LIT(out, "}\n\n");
    }
    MOCK_LIT(out, "data: [DONE]\n\n");
}

static void st_malformed(mock_stream_t *s, struct evbuffer *out)
{
    (void)s;
    mock_jw_raw(out, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"\n\n");
}

static void st_error(mock_stream_t *s, struct evbuffer *out)
{
    (void)s;
    mock_jw_raw(out, "data: {\"error\":{\"message\":\"upstream failure\",\"type\":\"server_error\","
                     "\"param\":null,\"code\":null}}\n\n");
}

static const mock_stream_ops_t chat_stream_ops = {
    .content_type = MOCK_CT_SSE,
    .preamble = st_preamble,
    .unit = st_unit,
    .tail = st_tail,
    .malformed = st_malformed,
    .error_event = st_error,
};

static void chat_stream(mock_call_t *c, const char *tool)
{
    mock_stream_t *s = mock_stream_new(&chat_stream_ops, &c->opts, c->model, c->model_len, tool);
    struct evbuffer *p = evbuffer_new();
    json_t *so = json_object_get(c->json, "stream_options");

    if (s == NULL || p == NULL) {
        mock_stream_free(s);
        if (p != NULL)
            evbuffer_free(p);
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    s->id = mock_next_id();
    s->prompt_tokens = c->prompt_tokens;
    s->n_units = tool ? 1 + mock_tool_fragments(c->opts.chunks) : c->opts.chunks;
    if (json_is_true(json_object_get(so, "include_usage")))
        s->flags |= F_INCLUDE_USAGE;
    evbuffer_add_printf(p,
                        "data: {\"id\":\"chatcmpl-mock%ld\",\"object\":\"chat.completion.chunk\","
                        "\"created\":%ld,\"model\":",
                        s->id, s->created);
    mock_jw_str(p, c->model, c->model_len);
    mock_jw_raw(p, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",");
    s->prefix_len = evbuffer_get_length(p);
    s->prefix = malloc(s->prefix_len);
    if (s->prefix == NULL) {
        mock_stream_free(s);
        evbuffer_free(p);
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    evbuffer_remove(p, s->prefix, s->prefix_len);
    evbuffer_free(p);
    mock_stream_start(c->req, s);
}

void mock_openai_chat(mock_call_t *c)
{
    bool stream = json_is_true(json_object_get(c->json, "stream"));
    const char *tool = mock_pick_tool(c->json, false);

    mock_stat_add(stream ? MOCK_ST_CHAT_STREAM : MOCK_ST_CHAT, 1);
    if (!json_is_array(json_object_get(c->json, "messages"))) {
        mock_reply_error(c->req, MOCK_API_OPENAI, 400, "Missing required parameter: 'messages'.",
                         0);
        return;
    }
    if (mock_fault_early(c->req, &c->opts, MOCK_API_OPENAI,
                         stream ? c->opts.ttft_ms : c->opts.latency_ms, stream))
        return;
    if (stream)
        chat_stream(c, tool);
    else
        chat_plain(c, tool);
}

/* ---- models ---- */

static const char *const model_ids[] = {
    "mock-model", "gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "dall-e-3", "sora-2",
};

static void model_obj(struct evbuffer *b, const char *id)
{
    MOCK_LIT(b, "{\"id\":");
    mock_jw_cstr(b, id);
    mock_jw_raw(b, ",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"}");
}

void mock_openai_models(evhtp_request_t *req, const char *id)
{
    struct evbuffer *b = evbuffer_new();

    mock_stat_add(MOCK_ST_MODELS, 1);
    if (b == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    if (id != NULL) {
        model_obj(b, id);
    } else {
        mock_jw_raw(b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < sizeof(model_ids) / sizeof(model_ids[0]); i++) {
            if (i)
                MOCK_LIT(b, ",");
            model_obj(b, model_ids[i]);
        }
        MOCK_LIT(b, "]}");
    }
    mock_reply_now(req, 200, MOCK_CT_JSON, b);
    evbuffer_free(b);
}
