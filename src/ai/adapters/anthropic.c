/* anthropic.c - the Anthropic Messages adapter (POST {base_url}/v1/messages).
 *
 * Requests: the canonical OpenAI chat request becomes a Messages request
 * (system messages lifted to "system", same-role turns merged so roles
 * alternate, tool calls and tool results as tool_use / tool_result blocks).
 * Answers: a message becomes a chat.completion; the SSE events (message_start,
 * content_block_*, message_delta, message_stop, ping, error) become
 * chat.completion.chunk objects with one id, one model and one created time.
 * Anthropic has no embeddings API, so the embed_* pointers stay NULL. */
#include "ai/adapter.h"
#include "ai/adapters/anthropic_stream.h"
#include "core/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_MAX_TOKENS 4096
#define ANTHROPIC_VERSION  "2023-06-01"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return LX_ERROR;
}

/* ---- request ---- */

static bool has_header(const lx_provider_conf_t *p, const char *name)
{
    for (int i = 0; i < p->nheaders; i++)
        if (lx_str_ieq(lx_str(p->header_names[i]), lx_str(name)))
            return true;
    return false;
}

void lx_anthropic_head(const lx_provider_conf_t *p, const char *version, const char *beta,
                       lx_up_build_t *out)
{
    const char *base = p->base_url ? p->base_url : "";
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    lx_buf_printf(&out->url, "%.*s/v1/messages", (int)blen, base);
    lx_up_build_header_kv(out, "Content-Type", "application/json");
    if (p->api_key)
        lx_up_build_header_kv(out, "x-api-key", p->api_key);
    /* A configured anthropic-version (to pin another one) wins; then the
     * client's (a pass-through request). */
    if (!has_header(p, "anthropic-version"))
        lx_up_build_header_kv(out, "anthropic-version", version ? version : ANTHROPIC_VERSION);
    if (beta && !has_header(p, "anthropic-beta"))
        lx_up_build_header_kv(out, "anthropic-beta", beta);
    for (int i = 0; i < p->nheaders; i++)
        lx_up_build_header_kv(out, p->header_names[i], p->header_values[i]);
}

static json_t *text_block(const char *s, size_t n)
{
    json_t *b = json_object();
    json_object_set_new(b, "type", json_string("text"));
    json_object_set_new(b, "text", json_stringn(s, n));
    return b;
}

static bool is_image_media_type(const char *p, size_t n)
{
    static const char *const ok[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};
    for (size_t i = 0; i < LX_ARRAY_LEN(ok); i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], p, n) == 0)
            return true;
    return false;
}

/* An OpenAI image_url part's URL to an Anthropic image block: data URLs
 * become base64 sources, http(s) URLs url sources. where names the part. */
static json_t *image_block(const char *url, const char *where, char *err, size_t errlen)
{
    json_t *src = json_object();
    lx_str_t u = lx_str(url);
    if (lx_str_has_prefix(u, "data:")) {
        const char *comma = strchr(url, ',');
        const char *meta = url + 5;
        const char *semi = comma ? memchr(meta, ';', (size_t)(comma - meta)) : NULL;
        if (comma == NULL || semi == NULL || (size_t)(comma - meta) < 7 ||
            memcmp(comma - 7, ";base64", 7) != 0 || comma[1] == '\0') {
            json_decref(src);
            fail(err, errlen, "%s: image data URLs must be base64 (data:<type>;base64,<data>)",
                 where);
            return NULL;
        }
        size_t mlen = (size_t)(semi - meta);
        if (!is_image_media_type(meta, mlen)) {
            json_decref(src);
            fail(err, errlen,
                 "%s: image type \"%.*s\" is not supported by Anthropic (jpeg, png, gif, webp)",
                 where, (int)LX_MIN(mlen, 64), meta);
            return NULL;
        }
        json_object_set_new(src, "type", json_string("base64"));
        json_object_set_new(src, "media_type", json_stringn(meta, mlen));
        json_object_set_new(src, "data", json_string(comma + 1));
    } else if (lx_str_has_prefix(u, "https://") || lx_str_has_prefix(u, "http://")) {
        json_object_set_new(src, "type", json_string("url"));
        json_object_set_new(src, "url", json_string(url));
    } else {
        json_decref(src);
        fail(err, errlen, "%s: image_url.url must be an http(s) URL or a base64 data URL", where);
        return NULL;
    }
    json_t *b = json_object();
    json_object_set_new(b, "type", json_string("image"));
    json_object_set_new(b, "source", src);
    return b;
}

/* Appends the blocks of an OpenAI "content" (string, array of parts, or
 * null) to blocks. Empty text is dropped: Anthropic rejects empty blocks.
 * images: whether image parts are allowed here. */
static int content_blocks(const json_t *content, size_t mi, bool images, json_t *blocks, char *err,
                          size_t errlen)
{
    if (content == NULL || json_is_null(content))
        return LX_OK;
    if (json_is_string(content)) {
        if (json_string_length(content))
            json_array_append_new(
                blocks, text_block(json_string_value(content), json_string_length(content)));
        return LX_OK;
    }
    if (!json_is_array(content))
        return fail(err, errlen, "messages[%zu].content must be a string or an array of parts", mi);
    size_t pi;
    const json_t *part;
    json_array_foreach(content, pi, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (type == NULL)
            return fail(err, errlen, "messages[%zu].content[%zu].type is missing", mi, pi);
        if (!strcmp(type, "text")) {
            const json_t *t = json_object_get(part, "text");
            if (!json_is_string(t))
                return fail(err, errlen, "messages[%zu].content[%zu].text must be a string", mi,
                            pi);
            if (json_string_length(t))
                json_array_append_new(blocks,
                                      text_block(json_string_value(t), json_string_length(t)));
        } else if (!strcmp(type, "refusal")) {
            /* An earlier assistant refusal: nothing to send back. */
        } else if (!strcmp(type, "image_url") && !images) {
            return fail(err, errlen,
                        "messages[%zu].content[%zu]: images are only supported in user messages",
                        mi, pi);
        } else if (!strcmp(type, "image_url")) {
            const json_t *iu = json_object_get(part, "image_url");
            const char *url = json_is_string(iu) ? json_string_value(iu)
                                                 : json_string_value(json_object_get(iu, "url"));
            char where[64];
            snprintf(where, sizeof where, "messages[%zu].content[%zu]", mi, pi);
            if (url == NULL)
                return fail(err, errlen, "%s.image_url.url must be a string", where);
            json_t *b = image_block(url, where, err, errlen);
            if (b == NULL)
                return LX_ERROR;
            json_array_append_new(blocks, b);
        } else {
            return fail(err, errlen,
                        "messages[%zu].content[%zu]: content part type \"%s\" is not supported "
                        "by Anthropic",
                        mi, pi, type);
        }
    }
    return LX_OK;
}

/* The text of a content that may only hold text (system, tool results):
 * pieces joined with sep. */
static int content_text(const json_t *content, size_t mi, const char *sep, lx_buf_t *out, char *err,
                        size_t errlen)
{
    json_t *blocks = json_array();
    int rc = content_blocks(content, mi, false, blocks, err, errlen);
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b)
    {
        const json_t *t = json_object_get(b, "text");
        if (out->n && *sep)
            lx_buf_append_cstr(out, sep);
        lx_buf_append(out, json_string_value(t), json_string_length(t));
    }
    json_decref(blocks);
    return rc;
}

static bool is_tool_result(const json_t *block)
{
    const char *t = json_string_value(json_object_get(block, "type"));
    return t && !strcmp(t, "tool_result");
}

/* Adds blocks (stolen) as a turn of role; a turn of the same role as the
 * last one is merged into it, since Anthropic requires alternation. Tool
 * results go before any other block of a user turn, as Anthropic wants. */
static void push_turn(json_t *msgs, const char *role, json_t *blocks)
{
    if (json_array_size(blocks) == 0) {
        json_decref(blocks);
        return;
    }
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *last_role = json_string_value(json_object_get(last, "role"));
    if (last_role == NULL || strcmp(last_role, role) != 0) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string(role));
        json_object_set_new(m, "content", blocks);
        json_array_append_new(msgs, m);
        return;
    }
    json_t *content = json_object_get(last, "content");
    size_t lead = 0;
    while (lead < json_array_size(content) && is_tool_result(json_array_get(content, lead)))
        lead++;
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b)
    {
        if (is_tool_result(b))
            json_array_insert(content, lead++, b);
        else
            json_array_append(content, b);
    }
    json_decref(blocks);
}

static int tool_use_blocks(const json_t *calls, size_t mi, json_t *blocks, char *err, size_t errlen)
{
    if (calls == NULL || json_is_null(calls))
        return LX_OK;
    if (!json_is_array(calls))
        return fail(err, errlen, "messages[%zu].tool_calls must be an array", mi);
    size_t ci;
    const json_t *call;
    json_array_foreach(calls, ci, call)
    {
        const char *type = json_string_value(json_object_get(call, "type"));
        const char *id = json_string_value(json_object_get(call, "id"));
        const json_t *fn = json_object_get(call, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const json_t *args = json_object_get(fn, "arguments");
        if (type && strcmp(type, "function") != 0)
            return fail(err, errlen,
                        "messages[%zu].tool_calls[%zu]: tool call type \"%s\" is not supported "
                        "by Anthropic",
                        mi, ci, type);
        if (id == NULL || name == NULL)
            return fail(err, errlen,
                        "messages[%zu].tool_calls[%zu] needs an id and a function.name", mi, ci);
        json_t *input;
        if (args == NULL || json_is_null(args) ||
            (json_is_string(args) && json_string_length(args) == 0))
            input = json_object();
        else if (json_is_string(args))
            input = json_loadb(json_string_value(args), json_string_length(args), JSON_DECODE_ANY,
                               NULL);
        else
            input = json_deep_copy(args); /* lenient: arguments already an object */
        if (!json_is_object(input)) {
            json_decref(input);
            return fail(err, errlen,
                        "messages[%zu].tool_calls[%zu].function.arguments is not a valid JSON "
                        "object",
                        mi, ci);
        }
        json_t *b = json_object();
        json_object_set_new(b, "type", json_string("tool_use"));
        json_object_set_new(b, "id", json_string(id));
        json_object_set_new(b, "name", json_string(name));
        json_object_set_new(b, "input", input);
        json_array_append_new(blocks, b);
    }
    return LX_OK;
}

/* One OpenAI message into system text or a turn of msgs. */
static int add_message(const json_t *m, size_t mi, lx_buf_t *system, json_t *msgs, char *err,
                       size_t errlen)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    const json_t *content = json_object_get(m, "content");
    if (role == NULL)
        return fail(err, errlen, "messages[%zu].role is missing", mi);
    if (!strcmp(role, "system") || !strcmp(role, "developer")) {
        lx_buf_t text;
        lx_buf_init(&text, 0);
        int rc = content_text(content, mi, "\n\n", &text, err, errlen);
        if (rc == LX_OK && text.n) {
            if (system->n)
                lx_buf_append_lit(system, "\n\n");
            lx_buf_append(system, text.p, text.n);
        }
        lx_buf_free(&text);
        return rc;
    }
    json_t *blocks = json_array();
    int rc;
    if (!strcmp(role, "user")) {
        rc = content_blocks(content, mi, true, blocks, err, errlen);
    } else if (!strcmp(role, "assistant")) {
        rc = content_blocks(content, mi, false, blocks, err, errlen);
        if (rc == LX_OK)
            rc = tool_use_blocks(json_object_get(m, "tool_calls"), mi, blocks, err, errlen);
    } else if (!strcmp(role, "tool")) {
        const char *id = json_string_value(json_object_get(m, "tool_call_id"));
        lx_buf_t text;
        lx_buf_init(&text, 0);
        rc = id ? content_text(content, mi, "", &text, err, errlen)
                : fail(err, errlen, "messages[%zu].tool_call_id is missing", mi);
        if (rc == LX_OK) {
            json_t *b = json_object();
            json_object_set_new(b, "type", json_string("tool_result"));
            json_object_set_new(b, "tool_use_id", json_string(id));
            if (text.n)
                json_object_set_new(b, "content", json_stringn(text.p, text.n));
            json_array_append_new(blocks, b);
        }
        lx_buf_free(&text);
        role = "user";
    } else {
        rc = fail(err, errlen, "messages[%zu].role \"%s\" is not supported by Anthropic", mi, role);
    }
    if (rc != LX_OK) {
        json_decref(blocks);
        return rc;
    }
    push_turn(msgs, role, blocks);
    return LX_OK;
}

static int convert_tools(const json_t *tools, json_t *body, char *err, size_t errlen)
{
    if (tools == NULL || json_is_null(tools))
        return LX_OK;
    if (!json_is_array(tools))
        return fail(err, errlen, "tools must be an array");
    json_t *out = json_array();
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const json_t *fn = json_object_get(t, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (type == NULL || strcmp(type, "function") != 0) {
            json_decref(out);
            return fail(err, errlen, "tools[%zu]: tool type \"%s\" is not supported by Anthropic",
                        i, type ? type : "");
        }
        if (name == NULL) {
            json_decref(out);
            return fail(err, errlen, "tools[%zu].function.name is missing", i);
        }
        const json_t *desc = json_object_get(fn, "description");
        const json_t *params = json_object_get(fn, "parameters");
        json_t *a = json_object();
        json_object_set_new(a, "name", json_string(name));
        if (json_is_string(desc))
            json_object_set_new(a, "description", json_deep_copy(desc));
        json_object_set_new(a, "input_schema",
                            json_is_object(params) ? json_deep_copy(params)
                                                   : json_pack("{s:s}", "type", "object"));
        json_array_append_new(out, a);
    }
    if (json_array_size(out))
        json_object_set_new(body, "tools", out);
    else
        json_decref(out);
    return LX_OK;
}

static int convert_tool_choice(const json_t *req, json_t *body, char *err, size_t errlen)
{
    const json_t *tc = json_object_get(req, "tool_choice");
    bool no_parallel = json_is_false(json_object_get(req, "parallel_tool_calls"));
    json_t *out = NULL;
    if (tc == NULL || json_is_null(tc)) {
        if (no_parallel)
            out = json_pack("{s:s}", "type", "auto");
    } else if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (!strcmp(s, "auto"))
            out = json_pack("{s:s}", "type", "auto");
        else if (!strcmp(s, "required"))
            out = json_pack("{s:s}", "type", "any");
        else if (!strcmp(s, "none"))
            out = json_pack("{s:s}", "type", "none");
        else
            return fail(err, errlen, "tool_choice \"%s\" is not supported", s);
    } else {
        const char *type = json_string_value(json_object_get(tc, "type"));
        const char *name =
            json_string_value(json_object_get(json_object_get(tc, "function"), "name"));
        if (type == NULL || strcmp(type, "function") != 0 || name == NULL)
            return fail(err, errlen,
                        "tool_choice must be \"auto\", \"required\", \"none\" or "
                        "{\"type\":\"function\",\"function\":{\"name\":...}}");
        out = json_pack("{s:s,s:s}", "type", "tool", "name", name);
    }
    if (out == NULL)
        return LX_OK;
    /* Without tools a tool_choice means nothing, and Anthropic rejects it. */
    if (json_object_get(body, "tools") == NULL) {
        json_decref(out);
        return LX_OK;
    }
    if (no_parallel && strcmp(json_string_value(json_object_get(out, "type")), "none") != 0)
        json_object_set_new(out, "disable_parallel_tool_use", json_true());
    json_object_set_new(body, "tool_choice", out);
    return LX_OK;
}

static int convert_stop(const json_t *stop, json_t *body, char *err, size_t errlen)
{
    if (stop == NULL || json_is_null(stop))
        return LX_OK;
    json_t *seq = json_array();
    if (json_is_string(stop)) {
        if (json_string_length(stop))
            json_array_append_new(seq, json_deep_copy(stop));
    } else if (json_is_array(stop)) {
        size_t i;
        const json_t *s;
        json_array_foreach(stop, i, s)
        {
            if (!json_is_string(s)) {
                json_decref(seq);
                return fail(err, errlen, "stop[%zu] must be a string", i);
            }
            if (json_string_length(s))
                json_array_append_new(seq, json_deep_copy(s));
        }
    } else {
        json_decref(seq);
        return fail(err, errlen, "stop must be a string or an array of strings");
    }
    if (json_array_size(seq))
        json_object_set_new(body, "stop_sequences", seq);
    else
        json_decref(seq);
    return LX_OK;
}

static int max_tokens_of(const json_t *req, json_int_t *out, char *err, size_t errlen)
{
    static const char *const keys[] = {"max_completion_tokens", "max_tokens"};
    *out = DEFAULT_MAX_TOKENS;
    for (size_t i = 0; i < LX_ARRAY_LEN(keys); i++) {
        const json_t *v = json_object_get(req, keys[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > LX_TOKENS_MAX)
            return fail(err, errlen, "%s must be an integer from 1 to %lld", keys[i],
                        (long long)LX_TOKENS_MAX);
        *out = json_integer_value(v);
        return LX_OK;
    }
    return LX_OK;
}

static int build_body(const json_t *req, bool stream, json_t *body, char *err, size_t errlen)
{
    const json_t *model = json_object_get(req, "model");
    const json_t *messages = json_object_get(req, "messages");
    const json_t *n = json_object_get(req, "n");
    json_int_t max_tokens;
    if (!json_is_string(model))
        return fail(err, errlen, "model must be a string");
    if (!json_is_array(messages))
        return fail(err, errlen, "messages must be an array");
    if (json_is_integer(n) && json_integer_value(n) > 1)
        return fail(err, errlen, "n > 1 is not supported by Anthropic");
    if (max_tokens_of(req, &max_tokens, err, errlen) != LX_OK)
        return LX_ERROR;
    json_object_set_new(body, "model", json_deep_copy(model));
    json_object_set_new(body, "max_tokens", json_integer(max_tokens));

    lx_buf_t system;
    lx_buf_init(&system, 0);
    json_t *msgs = json_array();
    size_t mi;
    const json_t *m;
    json_array_foreach(messages, mi, m)
    {
        int rc = json_is_object(m) ? add_message(m, mi, &system, msgs, err, errlen)
                                   : fail(err, errlen, "messages[%zu] must be an object", mi);
        if (rc != LX_OK) {
            lx_buf_free(&system);
            json_decref(msgs);
            return LX_ERROR;
        }
    }
    if (system.n)
        json_object_set_new(body, "system", json_stringn(system.p, system.n));
    lx_buf_free(&system);
    json_object_set_new(body, "messages", msgs);

    if (convert_tools(json_object_get(req, "tools"), body, err, errlen) != LX_OK ||
        convert_tool_choice(req, body, err, errlen) != LX_OK ||
        convert_stop(json_object_get(req, "stop"), body, err, errlen) != LX_OK)
        return LX_ERROR;
    static const char *const pass[] = {"temperature", "top_p"};
    for (size_t i = 0; i < LX_ARRAY_LEN(pass); i++) {
        const json_t *v = json_object_get(req, pass[i]);
        if (json_is_number(v))
            json_object_set_new(body, pass[i], json_deep_copy(v));
    }
    const json_t *user = json_object_get(req, "user");
    if (json_is_string(user) && json_string_length(user))
        json_object_set_new(
            body, "metadata",
            json_pack("{s:s%}", "user_id", json_string_value(user), json_string_length(user)));
    if (stream)
        json_object_set_new(body, "stream", json_true());
    return LX_OK;
}

static int chat_build(const lx_provider_conf_t *p, const json_t *req, bool stream,
                      lx_up_build_t *out, char *err, size_t errlen)
{
    if (!json_is_object(req))
        return fail(err, errlen, "the request must be a JSON object");
    json_t *body = json_object();
    if (build_body(req, stream, body, err, errlen) != LX_OK) {
        json_decref(body);
        return LX_ERROR;
    }
    lx_anthropic_head(p, NULL, NULL, out);
    lx_json_dump_buf(&out->body, body, JSON_COMPACT);
    json_decref(body);
    return LX_OK;
}

/* ---- answer ---- */

/* Anthropic usage to tokens: input counts every prompt token, cached ones
 * (read or written) included. Fields absent from u are left alone, so a
 * later cumulative report overwrites only what it carries. Every count is
 * clamped to [0, LX_TOKENS_MAX], so the sums here and below cannot wrap. */
void lx_anthropic_tokens_from(const json_t *u, lx_tokens_t *t)
{
    if (!json_is_object(u))
        return;
    const json_t *in = json_object_get(u, "input_tokens");
    const json_t *cr = json_object_get(u, "cache_read_input_tokens");
    const json_t *cc = json_object_get(u, "cache_creation_input_tokens");
    if (json_is_integer(in) || json_is_integer(cr) || json_is_integer(cc)) {
        t->in = lx_tokens_add(lx_tokens_add(json_integer_value(in), json_integer_value(cr)),
                              json_integer_value(cc));
        t->cached = lx_tokens_clamp(json_integer_value(cr));
    }
    const json_t *out = json_object_get(u, "output_tokens");
    if (json_is_integer(out))
        t->out = lx_tokens_clamp(json_integer_value(out));
}

json_t *lx_anthropic_usage_json(const lx_tokens_t *t)
{
    return json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", (json_int_t)t->in,
                     "completion_tokens", (json_int_t)t->out, "total_tokens",
                     (json_int_t)(t->in + t->out), "prompt_tokens_details", "cached_tokens",
                     (json_int_t)t->cached);
}

static json_t *chat_parse(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                          char *err, size_t errlen)
{
    json_t *root = json_loadb(body, n, 0, NULL);
    json_t *content = json_object_get(root, "content");
    if (!json_is_object(root) || !json_is_array(content)) {
        json_decref(root);
        snprintf(err, errlen, "upstream answer is not an Anthropic message object");
        return NULL;
    }
    lx_buf_t text;
    lx_buf_init(&text, 0);
    bool has_text = false;
    json_t *calls = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type == NULL)
            continue;
        if (!strcmp(type, "text")) {
            const json_t *t = json_object_get(b, "text");
            lx_buf_append(&text, json_string_value(t), json_string_length(t));
            has_text = true;
        } else if (!strcmp(type, "tool_use")) {
            const json_t *input = json_object_get(b, "input");
            char *args = input ? lx_json_text(input, NULL) : NULL;
            const char *id = json_string_value(json_object_get(b, "id"));
            const char *name = json_string_value(json_object_get(b, "name"));
            json_array_append_new(calls,
                                  json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id ? id : "", "type",
                                            "function", "function", "name", name ? name : "",
                                            "arguments", args ? args : "{}"));
            free(args);
        } /* thinking, redacted_thinking, server tool blocks: not in this wire */
    }
    json_t *msg = json_object();
    json_object_set_new(msg, "role", json_string("assistant"));
    json_object_set_new(msg, "content", has_text ? json_stringn(text.p, text.n) : json_null());
    lx_buf_free(&text);
    if (json_array_size(calls))
        json_object_set_new(msg, "tool_calls", calls);
    else
        json_decref(calls);
    const char *finish =
        lx_finish_from_anthropic(json_string_value(json_object_get(root, "stop_reason")));

    lx_tokens_t t = {0, 0, 0};
    lx_anthropic_tokens_from(json_object_get(root, "usage"), &t);
    if (usage)
        *usage = t;

    const char *id = json_string_value(json_object_get(root, "id"));
    json_t *out = json_object();
    json_object_set_new(out, "id", json_string(id ? id : "msg"));
    json_object_set_new(out, "object", json_string("chat.completion"));
    json_object_set_new(out, "created", json_integer((json_int_t)time(NULL)));
    json_object_set_new(out, "model", json_string(model));
    json_object_set_new(out, "choices",
                        json_pack("[{s:i,s:o,s:s}]", "index", 0, "message", msg, "finish_reason",
                                  finish ? finish : "stop"));
    json_object_set_new(out, "usage", lx_anthropic_usage_json(&t));
    json_decref(root);
    return out;
}

/* ---- errors ---- */

const lx_adapter_t lx_adapter_anthropic = {
    .name = "anthropic",
    .chat_build = chat_build,
    .chat_parse = chat_parse,
    .stream_new = lx_anthropic_stream_new,
    .stream_event = lx_anthropic_stream_event,
    .stream_free = lx_anthropic_stream_free,
    .error_message = lx_adapter_error_message,
};
