/* messages_enc.c - the Anthropic stream encoder: canonical
 * chat.completion.chunk objects in, Anthropic SSE events out (message_start,
 * content_block_*, message_delta, message_stop, or an error event). One
 * lx_msg_enc_t per stream, owned by its call.
 *
 * Stream blocks: Anthropic's own streams never interleave content blocks, and
 * the official SDKs treat the last started block as the current one. So a
 * block is stopped as soon as another one starts, except a tool_use block
 * whose arguments are not yet a complete JSON value: an upstream that
 * interleaves two tool calls' fragments still gets every fragment delivered
 * to the right block, and such blocks are stopped at finish, in index order.
 * No delta is ever written for a stopped block. */
#include "ai/messages_fmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Stream: chat.completion.chunk objects -> Anthropic SSE events             */
/* ------------------------------------------------------------------------ */

typedef enum { BLK_TEXT, BLK_TOOL } blk_kind_t;

/* One content block; its Anthropic index is its position in e->blocks. */
typedef struct {
    blk_kind_t kind;
    bool open;
    int64_t tool_index; /* OpenAI tool_calls[].index (tools) */
    /* Where the tool's arguments stand as JSON: nesting depth, inside a
     * string, after a backslash, and whether a value was opened. */
    int depth;
    bool in_str, esc, seen;
} blk_t;

struct lx_msg_enc {
    char *model;
    char *id;
    int64_t input_tokens;
    bool started, ended;
    int text_block; /* index of the open text block, or -1 */
    blk_t *blocks;
    size_t nblocks, cap;
    const char *finish; /* the last finish_reason, mapped to a static string */
    lx_tokens_t usage;  /* as reported in chunks */
};

lx_msg_enc_t *lx_msg_enc_new(const char *model, const char *msg_id, int64_t input_tokens)
{
    lx_msg_enc_t *e = lx_calloc(1, sizeof *e);
    e->model = lx_strdup(model ? model : "");
    e->id = lx_msg_id_from(msg_id);
    e->input_tokens = input_tokens;
    e->text_block = -1;
    return e;
}

void lx_msg_enc_free(lx_msg_enc_t *e)
{
    if (e == NULL)
        return;
    free(e->model);
    free(e->id);
    free(e->blocks);
    free(e);
}

/* "event: <type>\ndata: {"type":"<type>"" ... then ev_end. */
static void ev_begin(lx_buf_t *out, const char *type)
{
    lx_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", type, type);
}

static void ev_end(lx_buf_t *out)
{
    lx_buf_append(out, "}\n\n", 3);
}

static void ev_json_str(lx_buf_t *out, const char *s)
{
    lx_buf_append_json_str(out, s, strlen(s));
}

static void ensure_started(lx_msg_enc_t *e, lx_buf_t *out)
{
    if (e->started)
        return;
    e->started = true;
    ev_begin(out, "message_start");
    lx_buf_append_lit(out, ",\"message\":{\"id\":");
    ev_json_str(out, e->id);
    lx_buf_append_lit(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    ev_json_str(out, e->model);
    lx_buf_printf(out,
                  ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                  "\"usage\":{\"input_tokens\":%" PRId64 ",\"output_tokens\":0}}",
                  e->input_tokens);
    ev_end(out);
}

static void block_stop(lx_msg_enc_t *e, size_t idx, lx_buf_t *out)
{
    e->blocks[idx].open = false;
    if (e->text_block == (int)idx)
        e->text_block = -1;
    ev_begin(out, "content_block_stop");
    lx_buf_printf(out, ",\"index\":%zu", idx);
    ev_end(out);
}

static bool tool_args_complete(const blk_t *b)
{
    return b->seen && b->depth == 0 && !b->in_str;
}

/* Before a new block starts: stop the text block and every tool block whose
 * arguments are complete, in index order. */
static void close_settled(lx_msg_enc_t *e, lx_buf_t *out)
{
    for (size_t i = 0; i < e->nblocks; i++) {
        blk_t *b = &e->blocks[i];
        if (b->open && (b->kind == BLK_TEXT || tool_args_complete(b)))
            block_stop(e, i, out);
    }
}

static size_t block_new(lx_msg_enc_t *e, blk_kind_t kind, lx_buf_t *out)
{
    close_settled(e, out);
    if (e->nblocks == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->blocks = lx_realloc(e->blocks, e->cap * sizeof *e->blocks);
    }
    size_t idx = e->nblocks++;
    memset(&e->blocks[idx], 0, sizeof e->blocks[idx]);
    e->blocks[idx].kind = kind;
    e->blocks[idx].open = true;
    return idx;
}

static void text_delta(lx_msg_enc_t *e, const char *p, size_t n, lx_buf_t *out)
{
    if (e->text_block < 0) {
        size_t idx = block_new(e, BLK_TEXT, out);
        e->text_block = (int)idx;
        ev_begin(out, "content_block_start");
        lx_buf_printf(out, ",\"index\":%zu,\"content_block\":{\"type\":\"text\",\"text\":\"\"}",
                      idx);
        ev_end(out);
    }
    ev_begin(out, "content_block_delta");
    lx_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":", e->text_block);
    lx_buf_append_json_str(out, p, n);
    lx_buf_append_char(out, '}');
    ev_end(out);
}

static void scan_args(blk_t *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (b->in_str) {
            if (b->esc)
                b->esc = false;
            else if (c == '\\')
                b->esc = true;
            else if (c == '"')
                b->in_str = false;
        } else if (c == '"') {
            b->in_str = true;
            b->seen = true;
        } else if (c == '{' || c == '[') {
            b->depth++;
            b->seen = true;
        } else if (c == '}' || c == ']') {
            if (b->depth > 0)
                b->depth--;
        }
    }
}

static void tool_delta(lx_msg_enc_t *e, const json_t *tc, size_t pos, lx_buf_t *out)
{
    const json_t *ji = json_object_get(tc, "index");
    int64_t tix = json_is_integer(ji) ? json_integer_value(ji) : (int64_t)pos;
    const json_t *fn = json_object_get(tc, "function");
    const json_t *args = json_object_get(fn, "arguments");

    size_t idx = SIZE_MAX;
    for (size_t i = e->nblocks; i-- > 0;) {
        if (e->blocks[i].kind == BLK_TOOL && e->blocks[i].tool_index == tix) {
            idx = i;
            break;
        }
    }
    if (idx == SIZE_MAX) {
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        idx = block_new(e, BLK_TOOL, out);
        e->blocks[idx].tool_index = tix;
        ev_begin(out, "content_block_start");
        lx_buf_printf(out, ",\"index\":%zu,\"content_block\":{\"type\":\"tool_use\",\"id\":", idx);
        if (id != NULL && id[0] != '\0') {
            ev_json_str(out, id);
        } else {
            lx_buf_append_lit(out, "\"toolu_");
            lx_buf_append_cstr(out, e->id + 4); /* e->id starts with "msg_" */
            lx_buf_printf(out, "_%zu\"", idx);
        }
        lx_buf_append_lit(out, ",\"name\":");
        ev_json_str(out, name ? name : "");
        lx_buf_append_lit(out, ",\"input\":{}}");
        ev_end(out);
    }
    blk_t *b = &e->blocks[idx];
    if (!b->open || !json_is_string(args) || json_string_length(args) == 0)
        return; /* never a delta for a stopped block */
    scan_args(b, json_string_value(args), json_string_length(args));
    ev_begin(out, "content_block_delta");
    lx_buf_printf(out,
                  ",\"index\":%zu,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":", idx);
    lx_buf_append_json_str(out, json_string_value(args), json_string_length(args));
    lx_buf_append_char(out, '}');
    ev_end(out);
}

static const char *remember_finish(const char *f)
{
    static const char *const known[] = {"stop", "length", "tool_calls", "function_call",
                                        "content_filter"};
    for (size_t i = 0; i < LX_ARRAY_LEN(known); i++)
        if (strcmp(f, known[i]) == 0)
            return known[i];
    return "stop";
}

int lx_msg_enc_chunk(lx_msg_enc_t *e, const char *json, size_t n, lx_buf_t *out)
{
    if (e->ended)
        return LX_OK;
    json_t *chunk = json_loadb(json, n, 0, NULL);
    if (!json_is_object(chunk)) {
        json_decref(chunk);
        return LX_ERROR;
    }
    ensure_started(e, out);

    const json_t *u = json_object_get(chunk, "usage");
    if (json_is_object(u)) {
        const json_t *pt = json_object_get(u, "prompt_tokens");
        const json_t *ct = json_object_get(u, "completion_tokens");
        const json_t *cached =
            json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
        if (json_is_integer(pt))
            e->usage.in = lx_tokens_clamp(json_integer_value(pt));
        if (json_is_integer(ct))
            e->usage.out = lx_tokens_clamp(json_integer_value(ct));
        if (json_is_integer(cached))
            e->usage.cached = lx_tokens_clamp(json_integer_value(cached));
    }

    size_t ci;
    const json_t *choice;
    json_array_foreach(json_object_get(chunk, "choices"), ci, choice)
    {
        const json_t *cix = json_object_get(choice, "index");
        if (json_is_integer(cix) && json_integer_value(cix) != 0)
            continue; /* n > 1 has no Anthropic form: choice 0 only */
        const json_t *delta = json_object_get(choice, "delta");
        const json_t *content = json_object_get(delta, "content");
        if (!json_is_string(content) || json_string_length(content) == 0)
            content = json_object_get(delta, "refusal");
        if (json_is_string(content) && json_string_length(content) > 0)
            text_delta(e, json_string_value(content), json_string_length(content), out);
        size_t k;
        const json_t *tc;
        json_array_foreach(json_object_get(delta, "tool_calls"), k, tc)
        {
            if (json_is_object(tc))
                tool_delta(e, tc, k, out);
        }
        const char *f = json_string_value(json_object_get(choice, "finish_reason"));
        if (f != NULL)
            e->finish = remember_finish(f);
    }
    json_decref(chunk);
    return LX_OK;
}

void lx_msg_enc_finish(lx_msg_enc_t *e, const lx_tokens_t *usage, lx_buf_t *out)
{
    if (e->ended)
        return;
    ensure_started(e, out);
    bool has_tools = false;
    for (size_t i = 0; i < e->nblocks; i++) {
        has_tools |= e->blocks[i].kind == BLK_TOOL;
        if (e->blocks[i].open)
            block_stop(e, i, out);
    }
    lx_tokens_t t = e->usage;
    if (usage != NULL) {
        t.in = LX_MAX(t.in, usage->in);
        t.out = LX_MAX(t.out, usage->out);
        t.cached = LX_MAX(t.cached, usage->cached);
    }
    lx_tokens_sane(&t); /* upstream numbers: in range, cached <= in */
    ev_begin(out, "message_delta");
    lx_buf_append_lit(out, ",\"delta\":{\"stop_reason\":");
    ev_json_str(out, lx_msg_stop_reason(e->finish, has_tools));
    lx_buf_append_lit(out, ",\"stop_sequence\":null},\"usage\":{");
    /* The final input count, when known, replaces message_start's estimate
     * (the SDKs apply non-null cumulative input fields of message_delta). */
    if (t.in > 0)
        lx_buf_printf(out,
                      "\"input_tokens\":%" PRId64 ",\"cache_creation_input_tokens\":0,"
                      "\"cache_read_input_tokens\":%" PRId64 ",",
                      LX_MAX(t.in - t.cached, 0), t.cached);
    lx_buf_printf(out, "\"output_tokens\":%" PRId64 "}", t.out);
    ev_end(out);
    ev_begin(out, "message_stop");
    ev_end(out);
    e->ended = true;
}

void lx_msg_enc_error(lx_msg_enc_t *e, const char *type, const char *message, lx_buf_t *out)
{
    if (e->ended)
        return;
    ensure_started(e, out);
    ev_begin(out, "error");
    lx_buf_append_lit(out, ",\"error\":{\"type\":");
    ev_json_str(out, type && type[0] ? type : "api_error");
    lx_buf_append_lit(out, ",\"message\":");
    ev_json_str(out, message ? message : "");
    lx_buf_append_char(out, '}');
    ev_end(out);
    e->ended = true;
}
