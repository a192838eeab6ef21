/* messages_fmt.c - the Anthropic Messages wire as a client format.
 *
 * Two translations here, both pure (no I/O, no globals): an Anthropic
 * Messages request to a canonical (OpenAI chat) request, and a canonical
 * chat.completion to an Anthropic message object. The third, a stream of
 * canonical chunks to Anthropic SSE events, is messages_enc.c. */
#include "ai/messages_fmt.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Separator used when several text blocks become one string. */
#define TEXT_JOIN "\n"

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

/* "chatcmpl-abc" -> "msg_abc"; "msg_abc" stays; anything else gets "msg_". */
char *lx_msg_id_from(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return lx_strdup("msg_llmux");
    if (strncmp(id, "msg_", 4) == 0)
        return lx_strdup(id);
    const char *rest = strncmp(id, "chatcmpl-", 9) == 0 ? id + 9 : id;
    size_t n = strlen(rest);
    char *s = lx_alloc(n + 5);
    memcpy(s, "msg_", 4);
    memcpy(s + 4, rest, n + 1);
    return s;
}

/* OpenAI finish_reason to Anthropic stop_reason (NULL if none was given).
 * Anthropic clients loop on "tool_use", so an answer that carries tool calls
 * reports it even if the upstream said "stop". */
const char *lx_msg_stop_reason(const char *finish, bool has_tools)
{
    if (finish != NULL) {
        if (strcmp(finish, "length") == 0)
            return "max_tokens";
        if (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0)
            return "tool_use";
        if (strcmp(finish, "content_filter") == 0)
            return "refusal";
    }
    return has_tools ? "tool_use" : "end_turn";
}

/* ------------------------------------------------------------------------ */
/* Request: Anthropic Messages -> canonical chat request                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len;
    const char *param;
} verr_t;

static int fail(verr_t *v, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(verr_t *v, const char *param, const char *fmt, ...)
{
    v->param = param;
    if (v->buf != NULL && v->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->buf, v->len, fmt, ap);
        va_end(ap);
    }
    return LX_ERROR;
}

static const char *block_type(const json_t *b)
{
    return json_string_value(json_object_get(b, "type"));
}

static bool is_ignored_block(const char *t)
{
    return strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0;
}

static void join_text(lx_buf_t *b, bool *any, const json_t *text)
{
    if (*any)
        lx_buf_append_cstr(b, TEXT_JOIN);
    lx_buf_append(b, json_string_value(text), json_string_length(text));
    *any = true;
}

static json_t *buf_to_json(const lx_buf_t *b)
{
    return json_stringn(b->n ? b->p : "", b->n);
}

/* "data:<media_type>;base64,<data>" */
static json_t *data_url(const char *media_type, const json_t *data)
{
    lx_buf_t b;
    lx_buf_init(&b, strlen(media_type) + json_string_length(data) + 16);
    lx_buf_printf(&b, "data:%s;base64,", media_type);
    lx_buf_append(&b, json_string_value(data), json_string_length(data));
    json_t *s = buf_to_json(&b);
    lx_buf_free(&b);
    return s;
}

static int text_of(const json_t *block, const char *path, verr_t *v, const json_t **text)
{
    *text = json_object_get(block, "text");
    if (!json_is_string(*text))
        return fail(v, "messages", "%s.text: Input should be a valid string", path);
    return LX_OK;
}

/* An image block to an OpenAI image_url content part. */
static json_t *image_part(const json_t *block, const char *path, verr_t *v)
{
    const json_t *src = json_object_get(block, "source");
    const char *st = json_string_value(json_object_get(src, "type"));
    if (!json_is_object(src) || st == NULL) {
        fail(v, "messages", "%s.source: Field required", path);
        return NULL;
    }
    json_t *url;
    if (strcmp(st, "base64") == 0) {
        const char *mt = json_string_value(json_object_get(src, "media_type"));
        const json_t *data = json_object_get(src, "data");
        if (mt == NULL || !json_is_string(data)) {
            fail(v, "messages", "%s.source: base64 images need media_type and data", path);
            return NULL;
        }
        url = data_url(mt, data);
    } else if (strcmp(st, "url") == 0) {
        const json_t *u = json_object_get(src, "url");
        if (!json_is_string(u)) {
            fail(v, "messages", "%s.source.url: Input should be a valid string", path);
            return NULL;
        }
        url = json_stringn(json_string_value(u), json_string_length(u));
    } else {
        fail(v, "messages", "%s.source.type: unsupported image source type '%s'", path, st);
        return NULL;
    }
    json_t *inner = json_object();
    json_object_set_new(inner, "url", url);
    json_t *part = json_object();
    json_object_set_new(part, "type", json_string("image_url"));
    json_object_set_new(part, "image_url", inner);
    return part;
}

/* A document block: plain text becomes a text part, a base64 PDF an OpenAI
 * file part. *is_text says which. */
static json_t *document_part(const json_t *block, const char *path, verr_t *v, bool *is_text)
{
    const json_t *src = json_object_get(block, "source");
    const char *st = json_string_value(json_object_get(src, "type"));
    const json_t *data = json_object_get(src, "data");
    *is_text = false;
    if (st != NULL && strcmp(st, "text") == 0 && json_is_string(data)) {
        *is_text = true;
        return json_stringn(json_string_value(data), json_string_length(data));
    }
    const char *mt = json_string_value(json_object_get(src, "media_type"));
    if (st == NULL || strcmp(st, "base64") != 0 || mt == NULL || !json_is_string(data)) {
        fail(v, "messages", "%s.source: only base64 and text documents are supported", path);
        return NULL;
    }
    const char *title = json_string_value(json_object_get(block, "title"));
    json_t *file = json_object();
    json_object_set_new(file, "filename", json_string(title ? title : "document.pdf"));
    json_object_set_new(file, "file_data", data_url(mt, data));
    json_t *part = json_object();
    json_object_set_new(part, "type", json_string("file"));
    json_object_set_new(part, "file", file);
    return part;
}

static json_t *text_part(const char *p, size_t n)
{
    json_t *part = json_object();
    json_object_set_new(part, "type", json_string("text"));
    json_object_set_new(part, "text", json_stringn(p, n));
    return part;
}

/* A tool_result block to a {"role":"tool"} message appended to msgs; the
 * images it carries (tool messages are text only) go to extra. */
static int tool_result_msg(json_t *msgs, const json_t *b, const char *path, json_t *extra,
                           verr_t *v)
{
    const json_t *id = json_object_get(b, "tool_use_id");
    if (!json_is_string(id))
        return fail(v, "messages", "%s.tool_use_id: Input should be a valid string", path);
    const json_t *c = json_object_get(b, "content");
    json_t *content;
    if (c == NULL || json_is_null(c)) {
        content = json_string("");
    } else if (json_is_string(c)) {
        content = json_stringn(json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) {
        lx_buf_t text;
        lx_buf_init(&text, 0);
        bool any = false;
        size_t i;
        const json_t *cb;
        json_array_foreach(c, i, cb)
        {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.content.%zu", path, i);
            const char *t = block_type(cb);
            const json_t *tx;
            if (t != NULL && strcmp(t, "text") == 0) {
                if (text_of(cb, sub, v, &tx) != LX_OK) {
                    lx_buf_free(&text);
                    return LX_ERROR;
                }
                join_text(&text, &any, tx);
            } else if (t != NULL && strcmp(t, "image") == 0) {
                json_t *part = image_part(cb, sub, v);
                if (part == NULL) {
                    lx_buf_free(&text);
                    return LX_ERROR;
                }
                json_array_append_new(extra, part);
            } else {
                lx_buf_free(&text);
                return fail(v, "messages", "%s.type: unsupported tool_result content block '%s'",
                            sub, t ? t : "");
            }
        }
        content = buf_to_json(&text);
        lx_buf_free(&text);
    } else {
        return fail(v, "messages", "%s.content: Input should be a valid string or list", path);
    }
    json_t *m = json_object();
    json_object_set_new(m, "role", json_string("tool"));
    json_object_set_new(m, "tool_call_id",
                        json_stringn(json_string_value(id), json_string_length(id)));
    json_object_set_new(m, "content", content);
    json_array_append_new(msgs, m);
    return LX_OK;
}

static void append_msg(json_t *msgs, const char *role, json_t *content)
{
    json_t *m = json_object();
    json_object_set_new(m, "role", json_string(role));
    json_object_set_new(m, "content", content);
    json_array_append_new(msgs, m);
}

/* A user message: its tool results first (as tool messages), then the rest
 * as one user message (a string if it is only text). */
static int user_msg(json_t *msgs, const json_t *content, size_t mi, verr_t *v)
{
    json_t *parts = json_array(); /* text parts and media parts, in order */
    bool only_text = true, had_tool_result = false;
    int rc = LX_OK;
    size_t i;
    const json_t *b;
    json_array_foreach(content, i, b)
    {
        char path[64];
        snprintf(path, sizeof path, "messages.%zu.content.%zu", mi, i);
        const char *t = block_type(b);
        if (t == NULL) {
            rc = fail(v, "messages", "%s.type: Field required", path);
            break;
        }
        if (strcmp(t, "text") == 0) {
            const json_t *tx;
            if ((rc = text_of(b, path, v, &tx)) != LX_OK)
                break;
            json_array_append_new(parts, text_part(json_string_value(tx), json_string_length(tx)));
        } else if (strcmp(t, "image") == 0) {
            json_t *part = image_part(b, path, v);
            if (part == NULL) {
                rc = LX_ERROR;
                break;
            }
            json_array_append_new(parts, part);
            only_text = false;
        } else if (strcmp(t, "document") == 0) {
            bool is_text;
            json_t *d = document_part(b, path, v, &is_text);
            if (d == NULL) {
                rc = LX_ERROR;
                break;
            }
            if (is_text) {
                json_array_append_new(parts,
                                      text_part(json_string_value(d), json_string_length(d)));
                json_decref(d);
            } else {
                json_array_append_new(parts, d);
                only_text = false;
            }
        } else if (strcmp(t, "tool_result") == 0) {
            size_t before = json_array_size(parts);
            if ((rc = tool_result_msg(msgs, b, path, parts, v)) != LX_OK)
                break;
            if (json_array_size(parts) != before)
                only_text = false;
            had_tool_result = true;
        } else if (is_ignored_block(t)) {
            continue;
        } else if (strcmp(t, "tool_use") == 0) {
            rc = fail(v, "messages", "%s: tool_use blocks are only allowed in assistant messages",
                      path);
            break;
        } else {
            rc = fail(v, "messages", "%s.type: unsupported content block type '%s'", path, t);
            break;
        }
    }
    if (rc != LX_OK) {
        json_decref(parts);
        return rc;
    }
    size_t np = json_array_size(parts);
    if (np == 0 && had_tool_result) {
        json_decref(parts);
        return LX_OK;
    }
    if (!only_text) {
        append_msg(msgs, "user", parts);
        return LX_OK;
    }
    lx_buf_t text;
    lx_buf_init(&text, 0);
    bool any = false;
    json_array_foreach(parts, i, b)
    {
        join_text(&text, &any, json_object_get(b, "text"));
    }
    append_msg(msgs, "user", buf_to_json(&text));
    lx_buf_free(&text);
    json_decref(parts);
    return LX_OK;
}

/* An assistant message: text blocks joined into content, tool_use blocks
 * into tool_calls. A message left with nothing (only thinking) is dropped. */
static int assistant_msg(json_t *msgs, const json_t *content, size_t mi, verr_t *v)
{
    lx_buf_t text;
    lx_buf_init(&text, 0);
    bool any = false;
    json_t *calls = json_array();
    int rc = LX_OK;
    size_t i;
    const json_t *b;
    json_array_foreach(content, i, b)
    {
        char path[64];
        snprintf(path, sizeof path, "messages.%zu.content.%zu", mi, i);
        const char *t = block_type(b);
        if (t == NULL) {
            rc = fail(v, "messages", "%s.type: Field required", path);
            break;
        }
        if (strcmp(t, "text") == 0) {
            const json_t *tx;
            if ((rc = text_of(b, path, v, &tx)) != LX_OK)
                break;
            join_text(&text, &any, tx);
        } else if (strcmp(t, "tool_use") == 0) {
            const json_t *id = json_object_get(b, "id");
            const json_t *name = json_object_get(b, "name");
            if (!json_is_string(id) || !json_is_string(name)) {
                rc = fail(v, "messages", "%s: tool_use blocks need a string id and name", path);
                break;
            }
            const json_t *input = json_object_get(b, "input");
            char *args = json_is_object(input) ? lx_json_text(input, NULL) : NULL;
            json_t *fn = json_object();
            json_object_set_new(fn, "name",
                                json_stringn(json_string_value(name), json_string_length(name)));
            json_object_set_new(fn, "arguments", json_string(args ? args : "{}"));
            free(args);
            json_t *call = json_object();
            json_object_set_new(call, "id",
                                json_stringn(json_string_value(id), json_string_length(id)));
            json_object_set_new(call, "type", json_string("function"));
            json_object_set_new(call, "function", fn);
            json_array_append_new(calls, call);
        } else if (is_ignored_block(t)) {
            continue;
        } else if (strcmp(t, "tool_result") == 0 || strcmp(t, "image") == 0 ||
                   strcmp(t, "document") == 0) {
            rc =
                fail(v, "messages", "%s: %s blocks are not allowed in assistant messages", path, t);
            break;
        } else {
            rc = fail(v, "messages", "%s.type: unsupported content block type '%s'", path, t);
            break;
        }
    }
    if (rc == LX_OK && (any || json_array_size(calls) > 0)) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string("assistant"));
        json_object_set_new(m, "content", any ? buf_to_json(&text) : json_null());
        if (json_array_size(calls) > 0)
            json_object_set(m, "tool_calls", calls);
        json_array_append_new(msgs, m);
    }
    json_decref(calls);
    lx_buf_free(&text);
    return rc;
}

static int system_msg(json_t *msgs, const json_t *sys, verr_t *v)
{
    if (sys == NULL || json_is_null(sys))
        return LX_OK;
    if (json_is_string(sys)) {
        if (json_string_length(sys) > 0)
            append_msg(msgs, "system",
                       json_stringn(json_string_value(sys), json_string_length(sys)));
        return LX_OK;
    }
    if (!json_is_array(sys))
        return fail(v, "system", "system: Input should be a valid string or list of text blocks");
    lx_buf_t text;
    lx_buf_init(&text, 0);
    bool any = false;
    size_t i;
    const json_t *b;
    json_array_foreach(sys, i, b)
    {
        const char *t = block_type(b);
        const json_t *tx = json_object_get(b, "text");
        if (t == NULL || strcmp(t, "text") != 0 || !json_is_string(tx)) {
            lx_buf_free(&text);
            return fail(v, "system", "system.%zu: Input should be a text block", i);
        }
        join_text(&text, &any, tx);
    }
    if (any)
        append_msg(msgs, "system", buf_to_json(&text));
    lx_buf_free(&text);
    return LX_OK;
}

static int tools_to_openai(json_t *out, const json_t *tools, verr_t *v)
{
    if (!json_is_array(tools))
        return fail(v, "tools", "tools: Input should be a valid list");
    json_t *arr = json_array();
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const json_t *name = json_object_get(t, "name");
        const json_t *desc = json_object_get(t, "description");
        const json_t *schema = json_object_get(t, "input_schema");
        int rc = LX_OK;
        if (!json_is_object(t))
            rc = fail(v, "tools", "tools.%zu: Input should be a valid dictionary", i);
        else if (type != NULL && strcmp(type, "custom") != 0)
            rc = fail(v, "tools", "tools.%zu.type: tool type '%s' is not supported by this model",
                      i, type);
        else if (!json_is_string(name))
            rc = fail(v, "tools", "tools.%zu.name: Field required", i);
        else if (!json_is_object(schema))
            rc = fail(v, "tools", "tools.%zu.input_schema: Field required", i);
        if (rc != LX_OK) {
            json_decref(arr);
            return rc;
        }
        json_t *fn = json_object();
        json_object_set_new(fn, "name",
                            json_stringn(json_string_value(name), json_string_length(name)));
        if (json_is_string(desc))
            json_object_set_new(fn, "description",
                                json_stringn(json_string_value(desc), json_string_length(desc)));
        json_object_set_new(fn, "parameters", json_deep_copy(schema));
        json_t *tool = json_object();
        json_object_set_new(tool, "type", json_string("function"));
        json_object_set_new(tool, "function", fn);
        json_array_append_new(arr, tool);
    }
    if (json_array_size(arr) > 0)
        json_object_set_new(out, "tools", arr);
    else
        json_decref(arr);
    return LX_OK;
}

/* tool_choice and disable_parallel_tool_use; only meaningful with tools
 * (OpenAI rejects both without them). */
static int tool_choice_to_openai(json_t *out, const json_t *tc, verr_t *v)
{
    if (tc == NULL || json_is_null(tc))
        return LX_OK;
    const char *type = json_string_value(json_object_get(tc, "type"));
    if (!json_is_object(tc) || type == NULL)
        return fail(v, "tool_choice", "tool_choice.type: Field required");
    json_t *choice;
    if (strcmp(type, "auto") == 0) {
        choice = json_string("auto");
    } else if (strcmp(type, "any") == 0) {
        choice = json_string("required");
    } else if (strcmp(type, "none") == 0) {
        choice = json_string("none");
    } else if (strcmp(type, "tool") == 0) {
        const json_t *name = json_object_get(tc, "name");
        if (!json_is_string(name))
            return fail(v, "tool_choice", "tool_choice.name: Field required");
        json_t *fn = json_object();
        json_object_set_new(fn, "name",
                            json_stringn(json_string_value(name), json_string_length(name)));
        choice = json_object();
        json_object_set_new(choice, "type", json_string("function"));
        json_object_set_new(choice, "function", fn);
    } else {
        return fail(v, "tool_choice",
                    "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
    }
    if (json_object_get(out, "tools") == NULL) {
        json_decref(choice);
        return LX_OK;
    }
    json_object_set_new(out, "tool_choice", choice);
    if (json_is_true(json_object_get(tc, "disable_parallel_tool_use")))
        json_object_set_new(out, "parallel_tool_calls", json_false());
    return LX_OK;
}

static int number_field(json_t *out, const json_t *req, const char *name, verr_t *v)
{
    const json_t *x = json_object_get(req, name);
    if (x == NULL || json_is_null(x))
        return LX_OK;
    if (!json_is_number(x))
        return fail(v, name, "%s: Input should be a valid number", name);
    json_object_set_new(out, name,
                        json_is_integer(x) ? json_integer(json_integer_value(x))
                                           : json_real(json_real_value(x)));
    return LX_OK;
}

static int stop_to_openai(json_t *out, const json_t *stop, verr_t *v)
{
    if (stop == NULL || json_is_null(stop))
        return LX_OK;
    if (!json_is_array(stop))
        return fail(v, "stop_sequences", "stop_sequences: Input should be a valid list");
    size_t i;
    const json_t *s;
    json_array_foreach(stop, i, s)
    {
        if (!json_is_string(s))
            return fail(v, "stop_sequences", "stop_sequences.%zu: Input should be a valid string",
                        i);
    }
    if (json_array_size(stop) > 0)
        json_object_set_new(out, "stop", json_deep_copy(stop));
    return LX_OK;
}

static int build_request(json_t *out, const json_t *req, verr_t *v)
{
    const json_t *model = json_object_get(req, "model");
    if (model == NULL)
        return fail(v, "model", "model: Field required");
    if (!json_is_string(model))
        return fail(v, "model", "model: Input should be a valid string");
    if (json_string_length(model) == 0)
        return fail(v, "model", "model: String should have at least 1 character");

    const json_t *mt = json_object_get(req, "max_tokens");
    if (mt == NULL)
        return fail(v, "max_tokens", "max_tokens: Field required");
    if (!json_is_integer(mt))
        return fail(v, "max_tokens", "max_tokens: Input should be a valid integer");
    if (json_integer_value(mt) < 1)
        return fail(v, "max_tokens", "max_tokens: Input should be greater than or equal to 1");
    if (json_integer_value(mt) > LX_TOKENS_MAX)
        return fail(v, "max_tokens", "max_tokens: Input should be less than or equal to %lld",
                    (long long)LX_TOKENS_MAX);

    const json_t *messages = json_object_get(req, "messages");
    if (messages == NULL)
        return fail(v, "messages", "messages: Field required");
    if (!json_is_array(messages))
        return fail(v, "messages", "messages: Input should be a valid list");
    if (json_array_size(messages) == 0)
        return fail(v, "messages", "messages: at least one message is required");

    json_object_set_new(out, "model",
                        json_stringn(json_string_value(model), json_string_length(model)));
    json_t *msgs = json_array();
    json_object_set_new(out, "messages", msgs);
    if (system_msg(msgs, json_object_get(req, "system"), v) != LX_OK)
        return LX_ERROR;

    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m)
    {
        if (!json_is_object(m))
            return fail(v, "messages", "messages.%zu: Input should be a valid dictionary", i);
        const char *role = json_string_value(json_object_get(m, "role"));
        bool user = role != NULL && strcmp(role, "user") == 0;
        bool assistant = role != NULL && strcmp(role, "assistant") == 0;
        if (!user && !assistant)
            return fail(v, "messages", "messages.%zu.role: Input should be 'user' or 'assistant'",
                        i);
        const json_t *c = json_object_get(m, "content");
        if (c == NULL)
            return fail(v, "messages", "messages.%zu.content: Field required", i);
        if (json_is_string(c)) {
            append_msg(msgs, role, json_stringn(json_string_value(c), json_string_length(c)));
            continue;
        }
        if (!json_is_array(c))
            return fail(v, "messages",
                        "messages.%zu.content: Input should be a valid string or list of "
                        "content blocks",
                        i);
        size_t k;
        const json_t *b;
        json_array_foreach(c, k, b)
        {
            if (!json_is_object(b))
                return fail(v, "messages",
                            "messages.%zu.content.%zu: Input should be a valid dictionary", i, k);
        }
        int rc = user ? user_msg(msgs, c, i, v) : assistant_msg(msgs, c, i, v);
        if (rc != LX_OK)
            return rc;
    }

    json_object_set_new(out, "max_tokens", json_integer(json_integer_value(mt)));
    if (number_field(out, req, "temperature", v) != LX_OK ||
        number_field(out, req, "top_p", v) != LX_OK)
        return LX_ERROR;
    if (stop_to_openai(out, json_object_get(req, "stop_sequences"), v) != LX_OK)
        return LX_ERROR;
    const json_t *stream = json_object_get(req, "stream");
    if (json_is_boolean(stream))
        json_object_set_new(out, "stream", json_boolean(json_is_true(stream)));
    const json_t *tools = json_object_get(req, "tools");
    if (tools != NULL && !json_is_null(tools) && tools_to_openai(out, tools, v) != LX_OK)
        return LX_ERROR;
    if (tool_choice_to_openai(out, json_object_get(req, "tool_choice"), v) != LX_OK)
        return LX_ERROR;
    const json_t *user_id = json_object_get(json_object_get(req, "metadata"), "user_id");
    if (json_is_string(user_id))
        json_object_set_new(out, "user",
                            json_stringn(json_string_value(user_id), json_string_length(user_id)));
    /* thinking, top_k, cache_control, service_tier, ...: no canonical form. */
    return LX_OK;
}

json_t *lx_messages_to_openai(const json_t *req, char *err, size_t errlen, const char **param)
{
    verr_t v = {err, errlen, NULL};
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (param != NULL)
        *param = NULL;
    if (!json_is_object(req)) {
        fail(&v, NULL, "request body must be a JSON object");
        return NULL;
    }
    json_t *out = json_object();
    if (build_request(out, req, &v) != LX_OK) {
        json_decref(out);
        if (param != NULL)
            *param = v.param;
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------------------ */
/* Whole answer: chat.completion -> Anthropic message                        */
/* ------------------------------------------------------------------------ */

static json_t *usage_object(const lx_tokens_t *usage)
{
    lx_tokens_t t = usage ? *usage : (lx_tokens_t){0, 0, 0};
    lx_tokens_sane(&t);
    int64_t in = t.in, out = t.out, cached = t.cached;
    json_t *o = json_object();
    json_object_set_new(o, "input_tokens", json_integer(LX_MAX(in - cached, 0)));
    json_object_set_new(o, "output_tokens", json_integer(out));
    json_object_set_new(o, "cache_read_input_tokens", json_integer(cached));
    json_object_set_new(o, "cache_creation_input_tokens", json_integer(0));
    return o;
}

/* message.content as text: a string, or the text of an array of parts. */
static void completion_text(const json_t *msg, lx_buf_t *text)
{
    const json_t *c = json_object_get(msg, "content");
    if (json_is_string(c)) {
        lx_buf_append(text, json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) {
        size_t i;
        const json_t *p;
        json_array_foreach(c, i, p)
        {
            const json_t *t = json_object_get(p, "text");
            if (json_is_string(t))
                lx_buf_append(text, json_string_value(t), json_string_length(t));
        }
    }
    const json_t *refusal = json_object_get(msg, "refusal");
    if (text->n == 0 && json_is_string(refusal))
        lx_buf_append(text, json_string_value(refusal), json_string_length(refusal));
}

static json_t *tool_input(const json_t *args)
{
    if (json_is_object(args))
        return json_deep_copy(args);
    json_t *in = NULL;
    if (json_is_string(args))
        in = json_loadb(json_string_value(args), json_string_length(args), 0, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        in = json_object();
    }
    return in;
}

json_t *lx_messages_from_openai(const json_t *completion, const char *model,
                                const lx_tokens_t *usage)
{
    const json_t *choice = json_array_get(json_object_get(completion, "choices"), 0);
    const json_t *msg = json_object_get(choice, "message");

    json_t *content = json_array();
    lx_buf_t text;
    lx_buf_init(&text, 0);
    completion_text(msg, &text);
    if (text.n > 0) {
        json_t *b = json_object();
        json_object_set_new(b, "type", json_string("text"));
        json_object_set_new(b, "text", buf_to_json(&text));
        json_array_append_new(content, b);
    }
    lx_buf_free(&text);

    char *mid = lx_msg_id_from(json_string_value(json_object_get(completion, "id")));
    size_t i;
    const json_t *call;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, call)
    {
        const json_t *fn = json_object_get(call, "function");
        const char *id = json_string_value(json_object_get(call, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        char gen[160];
        if (id == NULL || id[0] == '\0') {
            snprintf(gen, sizeof gen, "toolu_%s_%zu", mid + 4, i);
            id = gen;
        }
        json_t *b = json_object();
        json_object_set_new(b, "type", json_string("tool_use"));
        json_object_set_new(b, "id", json_string(id));
        json_object_set_new(b, "name", json_string(name ? name : ""));
        json_object_set_new(b, "input", tool_input(json_object_get(fn, "arguments")));
        json_array_append_new(content, b);
    }
    bool has_tools = json_array_size(json_object_get(msg, "tool_calls")) > 0;
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));

    json_t *out = json_object();
    json_object_set_new(out, "id", json_string(mid));
    free(mid);
    json_object_set_new(out, "type", json_string("message"));
    json_object_set_new(out, "role", json_string("assistant"));
    json_object_set_new(out, "model", json_string(model ? model : ""));
    json_object_set_new(out, "content", content);
    json_object_set_new(out, "stop_reason", json_string(lx_msg_stop_reason(finish, has_tools)));
    json_object_set_new(out, "stop_sequence", json_null());
    json_object_set_new(out, "usage", usage_object(usage));
    return out;
}
