/* anthropic_stream.c - the Anthropic stream decoder: Messages SSE events
 * (message_start, content_block_start/delta/stop, message_delta,
 * message_stop, error) in, canonical chat.completion.chunk objects out, text
 * and tool-call arguments passed on as they arrive. One decoder per stream,
 * owned by the call that made it (the adapter's stream_* entries). */
#include "ai/adapter.h"
#include "ai/adapters/anthropic_stream.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_BLOCK_INDEX 4096 /* content blocks tracked per streamed message */

typedef struct {
    int tool;  /* tool call index K of this block, -1 if not a tool_use block */
    bool args; /* some argument bytes were sent for it */
} block_t;

struct lx_stream_dec {
    lx_chunk_fn emit;
    void *arg;
    bool include_usage;
    bool started;
    lx_buf_t prefix; /* {"id":..,"object":..,"created":..,"model":..,"choices": */
    lx_buf_t out;    /* the chunk being built */
    block_t *blocks; /* by Anthropic content block index */
    size_t nblocks;
    int ntools;
    lx_tokens_t tok;
};

lx_stream_dec_t *lx_anthropic_stream_new(const char *model, const char *id, bool include_usage,
                                         lx_chunk_fn emit, void *arg)
{
    lx_stream_dec_t *d = lx_calloc(1, sizeof *d);
    d->emit = emit;
    d->arg = arg;
    d->include_usage = include_usage;
    lx_buf_init(&d->prefix, 128);
    lx_buf_init(&d->out, 256);
    lx_buf_append_lit(&d->prefix, "{\"id\":");
    lx_buf_append_json_str(&d->prefix, id ? id : "", id ? strlen(id) : 0);
    lx_buf_printf(&d->prefix, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
                  (long long)time(NULL));
    lx_buf_append_json_str(&d->prefix, model ? model : "", model ? strlen(model) : 0);
    lx_buf_append_lit(&d->prefix, ",\"choices\":");
    return d;
}

/* A chunk is prefix + [{"index":0,"delta":DELTA,"finish_reason":F}]}. */
static void chunk_begin(lx_stream_dec_t *d)
{
    lx_buf_reset(&d->out);
    lx_buf_append(&d->out, d->prefix.p, d->prefix.n);
    lx_buf_append_lit(&d->out, "[{\"index\":0,\"delta\":");
}

static void chunk_end(lx_stream_dec_t *d, const char *finish)
{
    lx_buf_append_lit(&d->out, ",\"finish_reason\":");
    if (finish)
        lx_buf_append_json_str(&d->out, finish, strlen(finish));
    else
        lx_buf_append_lit(&d->out, "null");
    lx_buf_append_lit(&d->out, "}]}");
    d->emit(d->arg, d->out.p, d->out.n);
}

static void emit_text(lx_stream_dec_t *d, const json_t *s)
{
    if (json_string_length(s) == 0)
        return;
    chunk_begin(d);
    lx_buf_append_lit(&d->out, "{\"content\":");
    lx_buf_append_json_str(&d->out, json_string_value(s), json_string_length(s));
    lx_buf_append_lit(&d->out, "}");
    chunk_end(d, NULL);
}

static void emit_args(lx_stream_dec_t *d, int k, const char *p, size_t n)
{
    chunk_begin(d);
    lx_buf_printf(&d->out, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":", k);
    lx_buf_append_json_str(&d->out, p, n);
    lx_buf_append_lit(&d->out, "}}]}");
    chunk_end(d, NULL);
}

static block_t *block_at(lx_stream_dec_t *d, const json_t *ev, bool create)
{
    const json_t *idx = json_object_get(ev, "index");
    if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
        json_integer_value(idx) >= MAX_BLOCK_INDEX)
        return NULL;
    size_t i = (size_t)json_integer_value(idx);
    if (i >= d->nblocks) {
        if (!create)
            return NULL;
        size_t n = LX_MAX(i + 1, d->nblocks * 2);
        d->blocks = lx_realloc(d->blocks, n * sizeof *d->blocks);
        for (size_t j = d->nblocks; j < n; j++)
            d->blocks[j] = (block_t){-1, false};
        d->nblocks = n;
    }
    return &d->blocks[i];
}

static void on_block_start(lx_stream_dec_t *d, const json_t *ev)
{
    const json_t *cb = json_object_get(ev, "content_block");
    const char *type = json_string_value(json_object_get(cb, "type"));
    block_t *blk = block_at(d, ev, true);
    if (type == NULL || blk == NULL)
        return;
    if (!strcmp(type, "text")) {
        emit_text(d, json_object_get(cb, "text"));
    } else if (!strcmp(type, "tool_use")) {
        const json_t *id = json_object_get(cb, "id");
        const json_t *name = json_object_get(cb, "name");
        *blk = (block_t){d->ntools++, false};
        chunk_begin(d);
        lx_buf_printf(&d->out, "{\"tool_calls\":[{\"index\":%d,\"id\":", blk->tool);
        lx_buf_append_json_str(&d->out, json_string_value(id) ? json_string_value(id) : "",
                               json_string_length(id));
        lx_buf_append_lit(&d->out, ",\"type\":\"function\",\"function\":{\"name\":");
        lx_buf_append_json_str(&d->out, json_string_value(name) ? json_string_value(name) : "",
                               json_string_length(name));
        lx_buf_append_lit(&d->out, ",\"arguments\":\"\"}}]}");
        chunk_end(d, NULL);
    } /* thinking, redacted_thinking, server tools: not in this wire */
}

static void on_block_delta(lx_stream_dec_t *d, const json_t *ev)
{
    const json_t *delta = json_object_get(ev, "delta");
    const char *type = json_string_value(json_object_get(delta, "type"));
    if (type == NULL)
        return;
    if (!strcmp(type, "text_delta")) {
        emit_text(d, json_object_get(delta, "text"));
    } else if (!strcmp(type, "input_json_delta")) {
        block_t *blk = block_at(d, ev, false);
        const json_t *pj = json_object_get(delta, "partial_json");
        if (blk == NULL || blk->tool < 0 || json_string_length(pj) == 0)
            return;
        blk->args = true;
        emit_args(d, blk->tool, json_string_value(pj), json_string_length(pj));
    } /* thinking_delta, signature_delta, citations_delta: dropped */
}

static void on_block_stop(lx_stream_dec_t *d, const json_t *ev)
{
    block_t *blk = block_at(d, ev, false);
    /* A tool without input streams no argument bytes; OpenAI clients parse
     * the arguments they gathered, so give them an empty object. */
    if (blk && blk->tool >= 0 && !blk->args) {
        blk->args = true;
        emit_args(d, blk->tool, "{}", 2);
    }
}

static void emit_usage(lx_stream_dec_t *d)
{
    json_t *u = lx_anthropic_usage_json(&d->tok);
    lx_buf_reset(&d->out);
    lx_buf_append(&d->out, d->prefix.p, d->prefix.n);
    lx_buf_append_lit(&d->out, "[],\"usage\":");
    lx_json_dump_buf(&d->out, u, JSON_COMPACT);
    json_decref(u);
    lx_buf_append_lit(&d->out, "}");
    d->emit(d->arg, d->out.p, d->out.n);
}

lx_stream_rc_t lx_anthropic_stream_event(lx_stream_dec_t *d, lx_str_t event, lx_str_t data,
                                         lx_tokens_t *usage, char *err, size_t errlen)
{
    if (lx_str_eq_cstr(event, "ping") || data.n == 0)
        return LX_STREAM_MORE;
    json_t *ev = json_loadb(data.p, data.n, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        snprintf(err, errlen, "upstream sent a malformed stream event");
        return LX_STREAM_FAILED;
    }
    /* The data's "type" names the event; the event: line is the fallback. */
    const char *type = json_string_value(json_object_get(ev, "type"));
    char name[32];
    if (type == NULL) {
        snprintf(name, sizeof name, "%.*s", (int)LX_MIN(event.n, sizeof name - 1),
                 event.p ? event.p : "");
        type = name;
    }
    lx_stream_rc_t rc = LX_STREAM_MORE;
    if (!strcmp(type, "message_start")) {
        lx_anthropic_tokens_from(json_object_get(json_object_get(ev, "message"), "usage"), &d->tok);
        if (!d->started) {
            d->started = true;
            chunk_begin(d);
            lx_buf_append_lit(&d->out, "{\"role\":\"assistant\",\"content\":\"\"}");
            chunk_end(d, NULL);
        }
    } else if (!strcmp(type, "content_block_start")) {
        on_block_start(d, ev);
    } else if (!strcmp(type, "content_block_delta")) {
        on_block_delta(d, ev);
    } else if (!strcmp(type, "content_block_stop")) {
        on_block_stop(d, ev);
    } else if (!strcmp(type, "message_delta")) {
        /* Cumulative counts: they overwrite. */
        lx_anthropic_tokens_from(json_object_get(ev, "usage"), &d->tok);
        const char *finish = lx_finish_from_anthropic(
            json_string_value(json_object_get(json_object_get(ev, "delta"), "stop_reason")));
        if (finish) {
            chunk_begin(d);
            lx_buf_append_lit(&d->out, "{}");
            chunk_end(d, finish);
        }
    } else if (!strcmp(type, "message_stop")) {
        if (d->include_usage)
            emit_usage(d);
        rc = LX_STREAM_END;
    } else if (!strcmp(type, "error")) {
        const json_t *e = json_object_get(ev, "error");
        const char *m = json_string_value(json_object_get(e, "message"));
        snprintf(err, errlen, "%s", m ? m : "upstream error");
        rc = LX_STREAM_FAILED;
    } /* ping and events added later: ignored */
    if (usage)
        *usage = d->tok;
    json_decref(ev);
    return rc;
}

void lx_anthropic_stream_free(lx_stream_dec_t *d)
{
    if (d == NULL)
        return;
    lx_buf_free(&d->prefix);
    lx_buf_free(&d->out);
    free(d->blocks);
    free(d);
}
