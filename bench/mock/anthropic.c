/* anthropic.c - Anthropic Messages API: plain, streamed (event: lines), tool use. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "call.h"
#include "jsonw.h"
#include "reply.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

#define TOOL_TEXT "Let me check."

static const char *stop_reason(const mock_opts_t *o, bool tool)
{
    if (o->fault == MOCK_FAULT_MAX_TOKENS)
        return "max_tokens";
    if (o->fault == MOCK_FAULT_REFUSAL)
        return "refusal";
    return tool ? "tool_use" : "end_turn";
}

static void plain(mock_call_t *c, const char *tool)
{
    struct evbuffer *b = evbuffer_new();
    const mock_opts_t *o = &c->opts;

    if (b == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    evbuffer_add_printf(
        b, "{\"id\":\"msg_mock%ld\",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
        mock_next_id());
    mock_jw_str(b, c->model, c->model_len);
    MOCK_LIT(b, ",\"content\":[{\"type\":\"text\",\"text\":\"");
    if (tool != NULL) {
        MOCK_LIT(b, TOOL_TEXT "\"},{\"type\":\"tool_use\",\"id\":\"toolu_mock1\",\"name\":");
        mock_jw_cstr(b, tool);
        MOCK_LIT(b, ",\"input\":" MOCK_TOOL_ARGS "}");
    } else {
        mock_tokens(b, 0, o->chunks);
        MOCK_LIT(b, "\"}");
    }
    evbuffer_add_printf(b,
                        "],\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":{"
                        "\"input_tokens\":%ld,\"cache_creation_input_tokens\":0,"
                        "\"cache_read_input_tokens\":0,\"output_tokens\":%ld}}",
                        stop_reason(o, tool != NULL), c->prompt_tokens, o->chunks);
    mock_deliver(c->req, o, 200, MOCK_CT_JSON, b);
}

/* ---- stream ---- */

static void st_preamble(mock_stream_t *s, struct evbuffer *out)
{
    MOCK_LIT(out, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{");
    evbuffer_add_printf(
        out,
        "\"id\":\"msg_mock%ld\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", s->id);
    mock_jw_cstr(out, s->model);
    evbuffer_add_printf(out,
                        ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
                        "\"input_tokens\":%ld,\"cache_creation_input_tokens\":0,"
                        "\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n",
                        s->prompt_tokens);
    MOCK_LIT(out, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    MOCK_LIT(out, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
}

static void block_stop(struct evbuffer *out, int index)
{
    evbuffer_add_printf(out,
                        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                        "\"index\":%d}\n\n",
                        index);
}

static void st_unit(mock_stream_t *s, long i, struct evbuffer *out)
{
    if (s->tool == NULL) {
        evbuffer_add_printf(
            out,
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
            "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"tok%ld \"}}\n\n",
            i);
        return;
    }
    if (i == 0) {
        MOCK_LIT(out,
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                 "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" TOOL_TEXT "\"}}\n\n");
        return;
    }
    if (i == 1) {
        block_stop(out, 0);
        MOCK_LIT(out, "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                      "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_mock1\","
                      "\"name\":");
        mock_jw_cstr(out, s->tool);
        MOCK_LIT(out, ",\"input\":{}}}\n\n");
    }
    size_t off, len;
    mock_tool_fragment(i - 1, s->n_units - 1, &off, &len);
    MOCK_LIT(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
                  "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":");
    mock_jw_str(out, MOCK_TOOL_ARGS + off, len);
    MOCK_LIT(out, "}}\n\n");
}

static void st_tail(mock_stream_t *s, struct evbuffer *out)
{
    block_stop(out, s->tool != NULL && s->n_units > 1 ? 1 : 0);
    evbuffer_add_printf(out,
                        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{"
                        "\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":{"
                        "\"output_tokens\":%ld}}\n\n",
                        stop_reason(&s->opts, s->tool != NULL), s->opts.chunks);
    MOCK_LIT(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static void st_malformed(mock_stream_t *s, struct evbuffer *out)
{
    (void)s;
    MOCK_LIT(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                  "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"\n\n");
}

static void st_error(mock_stream_t *s, struct evbuffer *out)
{
    (void)s;
    MOCK_LIT(out,
             "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
             "\"message\":\"Overloaded\"}}\n\n");
}

static const mock_stream_ops_t messages_stream_ops = {
    .content_type = MOCK_CT_SSE,
    .preamble = st_preamble,
    .unit = st_unit,
    .tail = st_tail,
    .malformed = st_malformed,
    .error_event = st_error,
};

static void stream(mock_call_t *c, const char *tool)
{
    mock_stream_t *s =
        mock_stream_new(&messages_stream_ops, &c->opts, c->model, c->model_len, tool);

    if (s == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    s->id = mock_next_id();
    s->prompt_tokens = c->prompt_tokens;
    s->n_units = tool ? 1 + mock_tool_fragments(c->opts.chunks) : c->opts.chunks;
    mock_stream_start(c->req, s);
}

void mock_anthropic_messages(mock_call_t *c)
{
    bool is_stream = json_is_true(json_object_get(c->json, "stream"));
    const char *tool = mock_pick_tool(c->json, true);

    mock_stat_add(is_stream ? MOCK_ST_MESSAGES_STREAM : MOCK_ST_MESSAGES, 1);
    if (!json_is_integer(json_object_get(c->json, "max_tokens"))) {
        mock_reply_error(c->req, MOCK_API_ANTHROPIC, 400, "max_tokens: Field required", 0);
        return;
    }
    if (!json_is_array(json_object_get(c->json, "messages"))) {
        mock_reply_error(c->req, MOCK_API_ANTHROPIC, 400, "messages: Field required", 0);
        return;
    }
    if (mock_fault_early(c->req, &c->opts, MOCK_API_ANTHROPIC,
                         is_stream ? c->opts.ttft_ms : c->opts.latency_ms, is_stream))
        return;
    if (is_stream)
        stream(c, tool);
    else
        plain(c, tool);
}

void mock_anthropic_count_tokens(mock_call_t *c)
{
    struct evbuffer *b = evbuffer_new();

    if (b == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    evbuffer_add_printf(b, "{\"input_tokens\":%ld}", c->prompt_tokens);
    mock_reply_now(c->req, 200, MOCK_CT_JSON, b);
    evbuffer_free(b);
}
