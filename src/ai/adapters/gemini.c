/* gemini.c - the Google Gemini adapter (generateContent, streamGenerateContent
 * with alt=sse, embedContent, batchEmbedContents).
 *
 * Translates the canonical OpenAI wire to Gemini's and back:
 *   request   messages -> systemInstruction + contents (user / model turns,
 *             consecutive same-role turns merged), tools -> functionDeclarations,
 *             tool_choice -> toolConfig, sampling knobs -> generationConfig;
 *   answer    candidates -> choices, functionCall parts -> tool_calls,
 *             usageMetadata -> usage;
 *   stream    every SSE event is a whole GenerateContentResponse; each becomes
 *             zero or more chat.completion.chunk objects. Gemini has no end
 *             marker: the event carrying finishReason ends the answer.
 * The API key travels only in the x-goog-api-key header, never in the URL. */
#include "ai/adapter.h"
#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* 15 significant digits print every short decimal exactly as the client
 * wrote it (0.7 stays 0.7 instead of 0.69999999999999996). */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
/* Gemini allows candidateCount 1..8. */
#define MAX_CANDIDATES 8

/* ------------------------------------------------------------------ helpers */

static bool is_set(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

static int dump_to_buf(const char *p, size_t n, void *arg)
{
    lx_buf_append((lx_buf_t *)arg, p, n);
    return 0;
}

/* Appends v serialized compactly to b. */
static void append_json(lx_buf_t *b, const json_t *v)
{
    json_dump_callback(v, dump_to_buf, b, DUMP_FLAGS);
}

/* New string: v serialized compactly (malloc'd, caller frees). */
static char *dump_compact(const json_t *v)
{
    return json_dumps(v, DUMP_FLAGS | JSON_ENCODE_ANY);
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Is c allowed unescaped in a URL path segment (RFC 3986 pchar minus ':',
 * which Gemini uses to separate the model from the method)? */
static bool path_safe(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=@", c) != NULL;
}

static void append_path_escaped(lx_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (path_safe(c)) {
            lx_buf_append_char(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            lx_buf_append(b, e, 3);
        }
    }
}

/* A model's resource prefix: the caller may name it "gemini-2.0-flash",
 * "models/gemini-2.0-flash" or "tunedModels/my-tune". */
static const char *model_prefix(const char *model, const char **rest)
{
    if (has_prefix(model, "models/")) {
        *rest = model + 7;
        return "models/";
    }
    if (has_prefix(model, "tunedModels/")) {
        *rest = model + 12;
        return "tunedModels/";
    }
    *rest = model;
    return "models/";
}

/* {base_url}/v1beta/models/{model}:{method} */
static void model_url(lx_buf_t *url, const char *base, const char *model, const char *method)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    lx_buf_append(url, base, bl);
    lx_buf_append_lit(url, "/v1beta/");
    const char *rest;
    lx_buf_append_cstr(url, model_prefix(model, &rest));
    append_path_escaped(url, rest);
    lx_buf_append_char(url, ':');
    lx_buf_append_cstr(url, method);
}

/* "models/{model}" as a new JSON string, for batch embedding requests. */
static json_t *model_resource(const char *model)
{
    const char *rest;
    const char *prefix = model_prefix(model, &rest);
    lx_buf_t b;
    lx_buf_init(&b, strlen(model) + 16);
    lx_buf_append_cstr(&b, prefix);
    lx_buf_append_cstr(&b, rest);
    json_t *s = json_stringn(b.p, b.n);
    lx_buf_free(&b);
    return s;
}

static void common_headers(const lx_provider_conf_t *p, lx_up_build_t *out)
{
    lx_up_build_header_kv(out, "Content-Type", "application/json");
    if (p->api_key)
        lx_up_build_header_kv(out, "x-goog-api-key", p->api_key);
    for (int i = 0; i < p->nheaders; i++)
        lx_up_build_header_kv(out, p->header_names[i], p->header_values[i]);
}

static const char *req_model(const json_t *req, char *err, size_t errlen)
{
    const char *model = json_string_value(json_object_get(req, "model"));
    if (model == NULL || model[0] == '\0') {
        snprintf(err, errlen, "\"model\" is required");
        return NULL;
    }
    return model;
}

/* ------------------------------------------------------- request: content */

static json_t *text_part(const char *s, size_t n)
{
    json_t *part = json_object();
    json_object_set_new(part, "text", json_stringn(s, n));
    return part;
}

static json_t *inline_data(const char *mime, size_t mime_n, const char *data)
{
    json_t *in = json_object();
    json_object_set_new(in, "mimeType", json_stringn(mime, mime_n));
    json_object_set_new(in, "data", json_string(data));
    json_t *part = json_object();
    json_object_set_new(part, "inlineData", in);
    return part;
}

/* A base64 data: URL to an inlineData part; NULL with err if it is not one. */
static json_t *data_url_part(const char *url, const char *what, char *err, size_t errlen)
{
    const char *meta = url + 5; /* after "data:" */
    const char *comma = strchr(meta, ',');
    size_t mlen = comma ? (size_t)(comma - meta) : 0;
    if (comma == NULL || mlen < 7 || memcmp(comma - 7, ";base64", 7) != 0) {
        snprintf(err, errlen, "%s data URLs must be base64 encoded (data:<type>;base64,...)", what);
        return NULL;
    }
    const char *semi = memchr(meta, ';', mlen);
    size_t tlen = (size_t)(semi - meta);
    if (tlen == 0) {
        snprintf(err, errlen, "%s data URL has no media type", what);
        return NULL;
    }
    return inline_data(meta, tlen, comma + 1);
}

static const char *mime_from_url(const char *url)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {
        {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},   {"webp", "image/webp"},     {"heic", "image/heic"},
        {"heif", "image/heif"}, {"pdf", "application/pdf"},
    };
    size_t end = strcspn(url, "?#");
    const char *dot = NULL, *slash = NULL;
    for (size_t i = 0; i < end; i++) {
        if (url[i] == '.')
            dot = url + i;
        else if (url[i] == '/')
            slash = url + i;
    }
    if (dot != NULL && (slash == NULL || dot > slash)) {
        size_t n = (size_t)(url + end - dot - 1);
        for (size_t i = 0; i < LX_ARRAY_LEN(types); i++)
            if (strlen(types[i].ext) == n && strncasecmp(dot + 1, types[i].ext, n) == 0)
                return types[i].mime;
    }
    return "image/jpeg";
}

static json_t *image_part(const json_t *part, char *err, size_t errlen)
{
    const json_t *iu = json_object_get(part, "image_url");
    const char *url =
        json_is_string(iu) ? json_string_value(iu) : json_string_value(json_object_get(iu, "url"));
    if (url == NULL) {
        snprintf(err, errlen, "image_url part needs a \"url\"");
        return NULL;
    }
    if (has_prefix(url, "data:"))
        return data_url_part(url, "image", err, errlen);
    if (has_prefix(url, "https://") || has_prefix(url, "http://") || has_prefix(url, "gs://")) {
        json_t *fd = json_object();
        json_object_set_new(fd, "mimeType", json_string(mime_from_url(url)));
        json_object_set_new(fd, "fileUri", json_string(url));
        json_t *out = json_object();
        json_object_set_new(out, "fileData", fd);
        return out;
    }
    snprintf(err, errlen, "image_url must be a data: URL or an http(s) URL for Gemini");
    return NULL;
}

static json_t *audio_part(const json_t *part, char *err, size_t errlen)
{
    const json_t *ia = json_object_get(part, "input_audio");
    const char *data = json_string_value(json_object_get(ia, "data"));
    const char *format = json_string_value(json_object_get(ia, "format"));
    if (data == NULL || format == NULL || format[0] == '\0') {
        snprintf(err, errlen, "input_audio part needs \"data\" and \"format\"");
        return NULL;
    }
    char mime[64];
    int n = snprintf(mime, sizeof mime, "audio/%s", format);
    return inline_data(mime, (size_t)LX_MIN(n, (int)sizeof mime - 1), data);
}

static json_t *file_part(const json_t *part, char *err, size_t errlen)
{
    const char *fdata =
        json_string_value(json_object_get(json_object_get(part, "file"), "file_data"));
    if (fdata == NULL || !has_prefix(fdata, "data:")) {
        snprintf(err, errlen, "file parts need inline \"file_data\" (a data: URL) for Gemini");
        return NULL;
    }
    return data_url_part(fdata, "file", err, errlen);
}

/* Appends the Gemini parts of an OpenAI message content (string, null or an
 * array of parts) to parts. Empty texts are dropped (Gemini rejects them).
 * text_only: refuse media (system messages). */
static int content_parts(const json_t *content, json_t *parts, bool text_only, char *err,
                         size_t errlen)
{
    if (!is_set(content))
        return LX_OK;
    if (json_is_string(content)) {
        if (json_string_length(content) > 0)
            json_array_append_new(
                parts, text_part(json_string_value(content), json_string_length(content)));
        return LX_OK;
    }
    if (!json_is_array(content)) {
        snprintf(err, errlen, "message content must be a string or an array of parts");
        return LX_ERROR;
    }
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (type == NULL) {
            snprintf(err, errlen, "content part %zu has no \"type\"", i);
            return LX_ERROR;
        }
        if (!strcmp(type, "text") || !strcmp(type, "refusal")) {
            const json_t *t = json_object_get(part, type);
            if (!json_is_string(t)) {
                snprintf(err, errlen, "%s part needs a string \"%s\"", type, type);
                return LX_ERROR;
            }
            if (json_string_length(t) > 0)
                json_array_append_new(parts,
                                      text_part(json_string_value(t), json_string_length(t)));
            continue;
        }
        if (text_only) {
            snprintf(err, errlen, "content part type '%s' is not allowed in a system message",
                     type);
            return LX_ERROR;
        }
        json_t *p;
        if (!strcmp(type, "image_url"))
            p = image_part(part, err, errlen);
        else if (!strcmp(type, "input_audio"))
            p = audio_part(part, err, errlen);
        else if (!strcmp(type, "file"))
            p = file_part(part, err, errlen);
        else {
            snprintf(err, errlen, "content part type '%s' is not supported by Gemini", type);
            return LX_ERROR;
        }
        if (p == NULL)
            return LX_ERROR;
        json_array_append_new(parts, p);
    }
    return LX_OK;
}

/* The text of a tool message's content (string or text parts). */
static int content_text(const json_t *content, lx_buf_t *out, char *err, size_t errlen)
{
    if (!is_set(content))
        return LX_OK;
    if (json_is_string(content)) {
        lx_buf_append(out, json_string_value(content), json_string_length(content));
        return LX_OK;
    }
    if (json_is_array(content)) {
        size_t i;
        json_t *part;
        json_array_foreach(content, i, part)
        {
            const json_t *t = json_object_get(part, "text");
            if (!json_is_string(t)) {
                snprintf(err, errlen, "tool message content may only hold text parts");
                return LX_ERROR;
            }
            lx_buf_append(out, json_string_value(t), json_string_length(t));
        }
        return LX_OK;
    }
    snprintf(err, errlen, "tool message content must be a string or an array of text parts");
    return LX_ERROR;
}

/* functionCall part from an OpenAI function {"name","arguments": JSON text}. */
static json_t *function_call_part(const json_t *fn, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(fn, "name"));
    if (name == NULL || name[0] == '\0') {
        snprintf(err, errlen, "assistant tool call has no function name");
        return NULL;
    }
    const json_t *a = json_object_get(fn, "arguments");
    json_t *args;
    if (!is_set(a) || (json_is_string(a) && json_string_length(a) == 0)) {
        args = json_object();
    } else if (json_is_object(a)) {
        args = json_incref((json_t *)a);
    } else if (json_is_string(a)) {
        char perr[160];
        args = lx_json_parse(json_string_value(a), json_string_length(a), LX_JSON_MAX_DEPTH, perr,
                             sizeof perr);
        if (!json_is_object(args)) {
            json_decref(args);
            snprintf(err, errlen, "arguments of tool call '%s' are not a JSON object", name);
            return NULL;
        }
    } else {
        snprintf(err, errlen, "arguments of tool call '%s' are not a JSON object", name);
        return NULL;
    }
    json_t *fc = json_object();
    json_object_set_new(fc, "name", json_string(name));
    json_object_set_new(fc, "args", args);
    json_t *part = json_object();
    json_object_set_new(part, "functionCall", fc);
    return part;
}

/* Adds a turn to contents, merging it into the previous one if the role is
 * the same. Steals parts; a turn with no parts is dropped. */
static void add_turn(json_t *contents, const char *role, json_t *parts)
{
    if (json_array_size(parts) == 0) {
        json_decref(parts);
        return;
    }
    size_t n = json_array_size(contents);
    json_t *last = n ? json_array_get(contents, n - 1) : NULL;
    const char *last_role = json_string_value(json_object_get(last, "role"));
    if (last_role && !strcmp(last_role, role)) {
        json_array_extend(json_object_get(last, "parts"), parts);
        json_decref(parts);
        return;
    }
    json_t *turn = json_object();
    json_object_set_new(turn, "role", json_string(role));
    json_object_set_new(turn, "parts", parts);
    json_array_append_new(contents, turn);
}

static int assistant_parts(const json_t *msg, json_t *parts, json_t *call_names, char *err,
                           size_t errlen)
{
    if (content_parts(json_object_get(msg, "content"), parts, false, err, errlen) != LX_OK)
        return LX_ERROR;
    const json_t *calls = json_object_get(msg, "tool_calls");
    if (is_set(calls) && !json_is_array(calls)) {
        snprintf(err, errlen, "assistant \"tool_calls\" must be an array");
        return LX_ERROR;
    }
    size_t i;
    json_t *call;
    json_array_foreach(calls, i, call)
    {
        const char *type = json_string_value(json_object_get(call, "type"));
        if (type != NULL && strcmp(type, "function") != 0) {
            snprintf(err, errlen, "tool call type '%s' is not supported by Gemini", type);
            return LX_ERROR;
        }
        const json_t *fn = json_object_get(call, "function");
        json_t *p = function_call_part(fn, err, errlen);
        if (p == NULL)
            return LX_ERROR;
        json_array_append_new(parts, p);
        const char *id = json_string_value(json_object_get(call, "id"));
        if (id != NULL)
            json_object_set(call_names, id, json_object_get(fn, "name"));
    }
    const json_t *legacy = json_object_get(msg, "function_call");
    if (is_set(legacy)) {
        json_t *p = function_call_part(legacy, err, errlen);
        if (p == NULL)
            return LX_ERROR;
        json_array_append_new(parts, p);
    }
    return LX_OK;
}

/* functionResponse part for a role "tool" (or legacy "function") message. */
static json_t *function_response_part(const json_t *msg, const json_t *call_names, char *err,
                                      size_t errlen)
{
    const char *name = NULL;
    const char *id = json_string_value(json_object_get(msg, "tool_call_id"));
    if (id != NULL)
        name = json_string_value(json_object_get(call_names, id));
    if (name == NULL)
        name = json_string_value(json_object_get(msg, "name"));
    if (name == NULL) {
        if (id != NULL)
            snprintf(err, errlen,
                     "tool message with tool_call_id '%s' answers no earlier assistant tool call",
                     id);
        else
            snprintf(err, errlen, "tool message needs a \"tool_call_id\"");
        return NULL;
    }
    lx_buf_t text;
    lx_buf_init(&text, 0);
    if (content_text(json_object_get(msg, "content"), &text, err, errlen) != LX_OK) {
        lx_buf_free(&text);
        return NULL;
    }
    json_t *value = NULL;
    if (text.n > 0 && text.p[0] == '{') {
        char perr[160];
        value = lx_json_parse(text.p, text.n, LX_JSON_MAX_DEPTH, perr, sizeof perr);
        if (!json_is_object(value)) {
            json_decref(value);
            value = NULL;
        }
    }
    if (value == NULL)
        value = json_stringn(text.p ? text.p : "", text.n);
    lx_buf_free(&text);

    json_t *resp = json_object();
    json_object_set_new(resp, "content", value);
    json_t *fr = json_object();
    json_object_set_new(fr, "name", json_string(name));
    json_object_set_new(fr, "response", resp);
    json_t *part = json_object();
    json_object_set_new(part, "functionResponse", fr);
    return part;
}

/* messages -> body.systemInstruction and body.contents. */
static int build_contents(const json_t *req, json_t *body, char *err, size_t errlen)
{
    const json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        snprintf(err, errlen, "\"messages\" must be a non-empty array");
        return LX_ERROR;
    }
    json_t *contents = json_array();
    json_t *sys = json_array();
    json_t *call_names = json_object(); /* tool_call_id -> function name */
    int rc = LX_ERROR;
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg)
    {
        const char *role = json_string_value(json_object_get(msg, "role"));
        if (role == NULL) {
            snprintf(err, errlen, "message %zu has no \"role\"", i);
            goto out;
        }
        json_t *parts = json_array();
        const char *grole = "user";
        int r = LX_OK;
        if (!strcmp(role, "system") || !strcmp(role, "developer")) {
            r = content_parts(json_object_get(msg, "content"), sys, true, err, errlen);
            json_decref(parts);
            if (r != LX_OK)
                goto out;
            continue;
        } else if (!strcmp(role, "user")) {
            r = content_parts(json_object_get(msg, "content"), parts, false, err, errlen);
        } else if (!strcmp(role, "assistant")) {
            grole = "model";
            r = assistant_parts(msg, parts, call_names, err, errlen);
        } else if (!strcmp(role, "tool") || !strcmp(role, "function")) {
            json_t *p = function_response_part(msg, call_names, err, errlen);
            if (p == NULL)
                r = LX_ERROR;
            else
                json_array_append_new(parts, p);
        } else {
            snprintf(err, errlen, "message role '%s' is not supported by Gemini", role);
            r = LX_ERROR;
        }
        if (r != LX_OK) {
            json_decref(parts);
            goto out;
        }
        add_turn(contents, grole, parts);
    }
    if (json_array_size(sys) > 0) {
        json_t *si = json_object();
        json_object_set(si, "parts", sys);
        json_object_set_new(body, "systemInstruction", si);
    }
    json_object_set(body, "contents", contents);
    rc = LX_OK;
out:
    json_decref(contents);
    json_decref(sys);
    json_decref(call_names);
    return rc;
}

/* --------------------------------------------------- request: tools, config */

/* A function with no parameters: Gemini rejects an OBJECT schema whose
 * properties are empty, so such a schema is left out. */
static bool empty_object_schema(const json_t *s)
{
    const char *type = json_string_value(json_object_get(s, "type"));
    const json_t *props = json_object_get(s, "properties");
    return type != NULL && !strcmp(type, "object") && json_object_size(props) == 0 &&
           json_object_get(s, "anyOf") == NULL;
}

static int build_tools(const json_t *req, json_t *body, char *err, size_t errlen)
{
    const json_t *tools = json_object_get(req, "tools");
    if (!is_set(tools))
        return LX_OK;
    if (!json_is_array(tools)) {
        snprintf(err, errlen, "\"tools\" must be an array");
        return LX_ERROR;
    }
    if (json_array_size(tools) == 0)
        return LX_OK;
    json_t *decls = json_array();
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool)
    {
        const char *type = json_string_value(json_object_get(tool, "type"));
        if (type == NULL || strcmp(type, "function") != 0) {
            snprintf(err, errlen, "tool type '%s' is not supported by Gemini (only function)",
                     type ? type : "(none)");
            json_decref(decls);
            return LX_ERROR;
        }
        const json_t *fn = json_object_get(tool, "function");
        const json_t *name = json_object_get(fn, "name");
        if (!json_is_string(name)) {
            snprintf(err, errlen, "tool %zu has no function name", i);
            json_decref(decls);
            return LX_ERROR;
        }
        json_t *d = json_object();
        json_object_set(d, "name", (json_t *)name);
        const json_t *desc = json_object_get(fn, "description");
        if (json_is_string(desc))
            json_object_set(d, "description", (json_t *)desc);
        const json_t *params = json_object_get(fn, "parameters");
        if (json_is_object(params) && !empty_object_schema(params))
            json_object_set(d, "parameters", (json_t *)params);
        json_array_append_new(decls, d);
    }
    json_t *t = json_object();
    json_object_set_new(t, "functionDeclarations", decls);
    json_t *arr = json_array();
    json_array_append_new(arr, t);
    json_object_set_new(body, "tools", arr);
    return LX_OK;
}

static int build_tool_choice(const json_t *req, json_t *body, char *err, size_t errlen)
{
    const json_t *tc = json_object_get(req, "tool_choice");
    if (!is_set(tc))
        return LX_OK;
    const char *mode = NULL;
    const char *only = NULL;
    if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (!strcmp(s, "auto"))
            mode = "AUTO";
        else if (!strcmp(s, "none"))
            mode = "NONE";
        else if (!strcmp(s, "required"))
            mode = "ANY";
    } else if (json_is_object(tc)) {
        only = json_string_value(json_object_get(json_object_get(tc, "function"), "name"));
        if (only != NULL)
            mode = "ANY";
    }
    if (mode == NULL) {
        snprintf(err, errlen,
                 "tool_choice must be \"auto\", \"none\", \"required\" or "
                 "{\"type\":\"function\",\"function\":{\"name\":...}}");
        return LX_ERROR;
    }
    json_t *fcc = json_object();
    json_object_set_new(fcc, "mode", json_string(mode));
    if (only != NULL) {
        json_t *names = json_array();
        json_array_append_new(names, json_string(only));
        json_object_set_new(fcc, "allowedFunctionNames", names);
    }
    json_t *cfg = json_object();
    json_object_set_new(cfg, "functionCallingConfig", fcc);
    json_object_set_new(body, "toolConfig", cfg);
    return LX_OK;
}

enum { KNOB_NUM, KNOB_INT };

static int build_generation_config(const json_t *req, json_t *body, char *err, size_t errlen)
{
    static const struct {
        const char *from, *to;
        int kind;
    } knobs[] = {
        {"temperature", "temperature", KNOB_NUM},
        {"top_p", "topP", KNOB_NUM},
        {"top_k", "topK", KNOB_INT},
        {"max_tokens", "maxOutputTokens", KNOB_INT},
        {"max_completion_tokens", "maxOutputTokens", KNOB_INT}, /* wins over max_tokens */
        {"n", "candidateCount", KNOB_INT},
        {"presence_penalty", "presencePenalty", KNOB_NUM},
        {"frequency_penalty", "frequencyPenalty", KNOB_NUM},
        {"seed", "seed", KNOB_INT},
    };
    json_t *gc = json_object();
    for (size_t i = 0; i < LX_ARRAY_LEN(knobs); i++) {
        const json_t *v = json_object_get(req, knobs[i].from);
        if (!is_set(v))
            continue;
        if (knobs[i].kind == KNOB_INT ? !json_is_integer(v) : !json_is_number(v)) {
            snprintf(err, errlen, "\"%s\" must be %s", knobs[i].from,
                     knobs[i].kind == KNOB_INT ? "an integer" : "a number");
            goto fail;
        }
        json_object_set(gc, knobs[i].to, (json_t *)v);
    }

    const json_t *stop = json_object_get(req, "stop");
    if (json_is_string(stop)) {
        json_t *arr = json_array();
        json_array_append(arr, (json_t *)stop);
        json_object_set_new(gc, "stopSequences", arr);
    } else if (json_is_array(stop)) {
        size_t i;
        json_t *s;
        json_array_foreach(stop, i, s)
        {
            if (!json_is_string(s)) {
                snprintf(err, errlen, "\"stop\" must be a string or an array of strings");
                goto fail;
            }
        }
        if (json_array_size(stop) > 0)
            json_object_set(gc, "stopSequences", (json_t *)stop);
    } else if (is_set(stop)) {
        snprintf(err, errlen, "\"stop\" must be a string or an array of strings");
        goto fail;
    }

    const json_t *rf = json_object_get(req, "response_format");
    if (is_set(rf)) {
        const char *type = json_string_value(json_object_get(rf, "type"));
        if (type == NULL) {
            snprintf(err, errlen, "response_format needs a \"type\"");
            goto fail;
        }
        if (!strcmp(type, "json_object")) {
            json_object_set_new(gc, "responseMimeType", json_string("application/json"));
        } else if (!strcmp(type, "json_schema")) {
            json_object_set_new(gc, "responseMimeType", json_string("application/json"));
            const json_t *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
            if (json_is_object(schema))
                json_object_set(gc, "responseSchema", (json_t *)schema);
        } else if (strcmp(type, "text") != 0) {
            snprintf(err, errlen, "response_format type '%s' is not supported by Gemini", type);
            goto fail;
        }
    }

    if (json_object_size(gc) > 0)
        json_object_set(body, "generationConfig", gc);
    json_decref(gc);
    return LX_OK;
fail:
    json_decref(gc);
    return LX_ERROR;
}

static int chat_build(const lx_provider_conf_t *p, const json_t *req, bool stream,
                      lx_up_build_t *out, char *err, size_t errlen)
{
    const char *model = req_model(req, err, errlen);
    if (model == NULL)
        return LX_ERROR;
    json_t *body = json_object();
    if (build_contents(req, body, err, errlen) != LX_OK ||
        build_tools(req, body, err, errlen) != LX_OK ||
        build_tool_choice(req, body, err, errlen) != LX_OK ||
        build_generation_config(req, body, err, errlen) != LX_OK) {
        json_decref(body);
        return LX_ERROR;
    }
    model_url(&out->url, p->base_url, model,
              stream ? "streamGenerateContent?alt=sse" : "generateContent");
    common_headers(p, out);
    append_json(&out->body, body);
    json_decref(body);
    return LX_OK;
}

/* ------------------------------------------------------------------ answers */

typedef struct {
    int64_t prompt, candidates, thoughts, cached;
} gem_usage_t;

/* Each count clamped to [0, LX_TOKENS_MAX]: the sums below cannot wrap. */
static gem_usage_t usage_read(const json_t *um)
{
    gem_usage_t u = {
        .prompt = lx_tokens_clamp(json_integer_value(json_object_get(um, "promptTokenCount"))),
        .candidates =
            lx_tokens_clamp(json_integer_value(json_object_get(um, "candidatesTokenCount"))),
        .thoughts = lx_tokens_clamp(json_integer_value(json_object_get(um, "thoughtsTokenCount"))),
        .cached =
            lx_tokens_clamp(json_integer_value(json_object_get(um, "cachedContentTokenCount"))),
    };
    return u;
}

static void usage_store(const gem_usage_t *u, lx_tokens_t *usage)
{
    usage->in = u->prompt;
    usage->out = lx_tokens_add(u->candidates, u->thoughts);
    usage->cached = u->cached;
}

/* An OpenAI usage object. */
static json_t *usage_json(const gem_usage_t *u)
{
    int64_t completion = lx_tokens_add(u->candidates, u->thoughts);
    json_t *o = json_object();
    json_object_set_new(o, "prompt_tokens", json_integer(u->prompt));
    json_object_set_new(o, "completion_tokens", json_integer(completion));
    json_object_set_new(o, "total_tokens", json_integer(lx_tokens_add(u->prompt, completion)));
    json_t *pd = json_object();
    json_object_set_new(pd, "cached_tokens", json_integer(u->cached));
    json_object_set_new(o, "prompt_tokens_details", pd);
    json_t *cd = json_object();
    json_object_set_new(cd, "reasoning_tokens", json_integer(u->thoughts));
    json_object_set_new(o, "completion_tokens_details", cd);
    return o;
}

/* An OpenAI tool call for a Gemini functionCall; index < 0 leaves it out
 * (whole answers), >= 0 sets it (stream deltas). */
static json_t *tool_call_json(const json_t *fc, int index, int seq)
{
    json_t *call = json_object();
    if (index >= 0)
        json_object_set_new(call, "index", json_integer(index));
    char id[32];
    snprintf(id, sizeof id, "call_%d", seq);
    json_object_set_new(call, "id", json_string(id));
    json_object_set_new(call, "type", json_string("function"));
    json_t *fn = json_object();
    const char *name = json_string_value(json_object_get(fc, "name"));
    json_object_set_new(fn, "name", json_string(name ? name : ""));
    const json_t *args = json_object_get(fc, "args");
    char *a = is_set(args) ? dump_compact(args) : NULL;
    json_object_set_new(fn, "arguments", json_string(a ? a : "{}"));
    free(a);
    json_object_set_new(call, "function", fn);
    return call;
}

static bool is_thought(const json_t *part)
{
    return json_is_true(json_object_get(part, "thought"));
}

static json_t *candidate_choice(const json_t *cand, size_t i, int *seq)
{
    const json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
    lx_buf_t text;
    lx_buf_init(&text, 0);
    bool has_text = false;
    json_t *calls = NULL;
    size_t k;
    json_t *part;
    json_array_foreach(parts, k, part)
    {
        if (is_thought(part))
            continue;
        const json_t *t = json_object_get(part, "text");
        const json_t *fc = json_object_get(part, "functionCall");
        if (json_is_string(t)) {
            lx_buf_append(&text, json_string_value(t), json_string_length(t));
            has_text = true;
        } else if (json_is_object(fc)) {
            if (calls == NULL)
                calls = json_array();
            json_array_append_new(calls, tool_call_json(fc, -1, (*seq)++));
        }
    }
    json_t *msg = json_object();
    json_object_set_new(msg, "role", json_string("assistant"));
    json_object_set_new(msg, "content",
                        has_text ? json_stringn(text.p ? text.p : "", text.n) : json_null());
    lx_buf_free(&text);
    if (calls != NULL)
        json_object_set_new(msg, "tool_calls", calls);
    json_object_set_new(msg, "refusal", json_null());

    const char *finish =
        calls ? "tool_calls"
              : lx_finish_from_gemini(json_string_value(json_object_get(cand, "finishReason")));
    const json_t *idx = json_object_get(cand, "index");
    json_t *choice = json_object();
    json_object_set_new(choice, "index",
                        json_integer(json_is_integer(idx) ? json_integer_value(idx) : (int)i));
    json_object_set_new(choice, "message", msg);
    json_object_set_new(choice, "logprobs", json_null());
    json_object_set_new(choice, "finish_reason", json_string(finish ? finish : "stop"));
    return choice;
}

static json_t *chat_parse(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                          char *err, size_t errlen)
{
    char perr[160];
    json_t *root = lx_json_parse(body, n, LX_JSON_MAX_DEPTH, perr, sizeof perr);
    const json_t *cands = json_object_get(root, "candidates");
    const json_t *pf = json_object_get(root, "promptFeedback");
    if (!json_is_object(root) || (!json_is_array(cands) && !json_is_object(pf))) {
        json_decref(root);
        snprintf(err, errlen, "upstream answer is not a Gemini GenerateContentResponse");
        return NULL;
    }
    char id[160];
    const char *rid = json_string_value(json_object_get(root, "responseId"));
    if (rid != NULL && rid[0] != '\0') {
        snprintf(id, sizeof id, "chatcmpl-%s", rid);
    } else {
        char rnd[LX_REQUEST_ID_MAX];
        lx_request_id_new(rnd);
        snprintf(id, sizeof id, "chatcmpl-%s", rnd + 4); /* past "req_" */
    }

    json_t *choices = json_array();
    int seq = 0;
    size_t i;
    json_t *cand;
    json_array_foreach(cands, i, cand)
    {
        json_array_append_new(choices, candidate_choice(cand, i, &seq));
    }
    if (json_array_size(choices) == 0) {
        /* The prompt itself was blocked: no candidate at all. */
        bool blocked = is_set(json_object_get(pf, "blockReason"));
        json_t *msg = json_object();
        json_object_set_new(msg, "role", json_string("assistant"));
        json_object_set_new(msg, "content", json_null());
        json_object_set_new(msg, "refusal", json_null());
        json_t *choice = json_object();
        json_object_set_new(choice, "index", json_integer(0));
        json_object_set_new(choice, "message", msg);
        json_object_set_new(choice, "logprobs", json_null());
        json_object_set_new(choice, "finish_reason",
                            json_string(blocked ? "content_filter" : "stop"));
        json_array_append_new(choices, choice);
    }

    gem_usage_t u = usage_read(json_object_get(root, "usageMetadata"));
    usage_store(&u, usage);

    json_t *out = json_object();
    json_object_set_new(out, "id", json_string(id));
    json_object_set_new(out, "object", json_string("chat.completion"));
    json_object_set_new(out, "created", json_integer(lx_wall_ms() / 1000));
    json_object_set_new(out, "model", json_string(model ? model : ""));
    json_object_set_new(out, "choices", choices);
    json_object_set_new(out, "usage", usage_json(&u));
    json_decref(root);
    return out;
}

/* ------------------------------------------------------------------- stream */

struct lx_stream_dec {
    lx_chunk_fn emit;
    void *arg;
    bool include_usage;
    bool ended;
    char *id;
    char *model;
    json_int_t created;
    unsigned started;  /* bit c: candidate c got its role chunk */
    unsigned finished; /* bit c: candidate c sent its finishReason */
    int ncalls[MAX_CANDIDATES];
    int seq; /* tool call ids, unique across candidates */
    gem_usage_t usage;
    lx_buf_t out;
};

static void emit_chunk(lx_stream_dec_t *d, json_t *choices, json_t *usage)
{
    json_t *c = json_object();
    json_object_set_new(c, "id", json_string(d->id));
    json_object_set_new(c, "object", json_string("chat.completion.chunk"));
    json_object_set_new(c, "created", json_integer(d->created));
    json_object_set_new(c, "model", json_string(d->model));
    json_object_set_new(c, "choices", choices);
    if (usage != NULL)
        json_object_set_new(c, "usage", usage);
    lx_buf_reset(&d->out);
    append_json(&d->out, c);
    json_decref(c);
    d->emit(d->arg, d->out.p, d->out.n);
}

/* Emits one chunk with one choice. Steals delta. */
static void emit_delta(lx_stream_dec_t *d, int index, json_t *delta, const char *finish)
{
    json_t *choice = json_object();
    json_object_set_new(choice, "index", json_integer(index));
    json_object_set_new(choice, "delta", delta);
    json_object_set_new(choice, "logprobs", json_null());
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_t *choices = json_array();
    json_array_append_new(choices, choice);
    emit_chunk(d, choices, NULL);
}

static void start_candidate(lx_stream_dec_t *d, int c)
{
    if (d->started & (1u << c))
        return;
    d->started |= 1u << c;
    json_t *delta = json_object();
    json_object_set_new(delta, "role", json_string("assistant"));
    json_object_set_new(delta, "content", json_string(""));
    emit_delta(d, c, delta, NULL);
}

static void finish_candidate(lx_stream_dec_t *d, int c, const char *finish)
{
    if (d->finished & (1u << c))
        return;
    start_candidate(d, c);
    d->finished |= 1u << c;
    emit_delta(d, c, json_object(), finish);
}

/* One candidate of a streamed GenerateContentResponse. Returns true if it
 * carried its finishReason. */
static bool stream_candidate(lx_stream_dec_t *d, const json_t *cand, size_t i)
{
    const json_t *idx = json_object_get(cand, "index");
    json_int_t c = json_is_integer(idx) ? json_integer_value(idx) : (json_int_t)i;
    if (c < 0 || c >= MAX_CANDIDATES)
        return false;
    int ci = (int)c;
    start_candidate(d, ci);
    const json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
    size_t k;
    json_t *part;
    json_array_foreach(parts, k, part)
    {
        if (is_thought(part))
            continue;
        const json_t *t = json_object_get(part, "text");
        const json_t *fc = json_object_get(part, "functionCall");
        if (json_is_string(t) && json_string_length(t) > 0) {
            json_t *delta = json_object();
            json_object_set(delta, "content", (json_t *)t);
            emit_delta(d, ci, delta, NULL);
        } else if (json_is_object(fc)) {
            json_t *calls = json_array();
            json_array_append_new(calls, tool_call_json(fc, d->ncalls[ci]++, d->seq++));
            json_t *delta = json_object();
            json_object_set_new(delta, "tool_calls", calls);
            emit_delta(d, ci, delta, NULL);
        }
    }
    const char *fr = json_string_value(json_object_get(cand, "finishReason"));
    if (fr == NULL || fr[0] == '\0')
        return false;
    const char *finish = d->ncalls[ci] > 0 ? "tool_calls" : lx_finish_from_gemini(fr);
    finish_candidate(d, ci, finish ? finish : "stop");
    return true;
}

/* One GenerateContentResponse. Returns LX_STREAM_FAILED with err on an error
 * object, else MORE; sets *final if a finishReason arrived. */
static lx_stream_rc_t stream_object(lx_stream_dec_t *d, const json_t *o, lx_tokens_t *usage,
                                    bool *final, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen, "upstream sent a malformed stream event");
        return LX_STREAM_FAILED;
    }
    const json_t *e = json_object_get(o, "error");
    if (is_set(e)) {
        const char *m = json_string_value(json_object_get(e, "message"));
        if (m == NULL)
            m = json_string_value(e);
        snprintf(err, errlen, "%s", m ? m : "upstream error");
        return LX_STREAM_FAILED;
    }
    const json_t *um = json_object_get(o, "usageMetadata");
    if (json_is_object(um)) {
        d->usage = usage_read(um); /* cumulative: overwrite */
        usage_store(&d->usage, usage);
    }
    const json_t *cands = json_object_get(o, "candidates");
    size_t i;
    json_t *cand;
    json_array_foreach(cands, i, cand)
    {
        if (stream_candidate(d, cand, i))
            *final = true;
    }
    if (json_array_size(cands) == 0 &&
        is_set(json_object_get(json_object_get(o, "promptFeedback"), "blockReason"))) {
        finish_candidate(d, 0, "content_filter");
        *final = true;
    }
    return LX_STREAM_MORE;
}

static lx_stream_dec_t *stream_new(const char *model, const char *id, bool include_usage,
                                   lx_chunk_fn emit, void *arg)
{
    lx_stream_dec_t *d = lx_calloc(1, sizeof *d);
    d->emit = emit;
    d->arg = arg;
    d->include_usage = include_usage;
    d->id = lx_strdup(id ? id : "");
    d->model = lx_strdup(model ? model : "");
    d->created = (json_int_t)(lx_wall_ms() / 1000);
    lx_buf_init(&d->out, 512);
    return d;
}

static lx_stream_rc_t stream_event(lx_stream_dec_t *d, lx_str_t event, lx_str_t data,
                                   lx_tokens_t *usage, char *err, size_t errlen)
{
    if (d->ended)
        return LX_STREAM_END;
    size_t skip = 0;
    while (skip < data.n && (data.p[skip] == ' ' || data.p[skip] == '\t' || data.p[skip] == '\r' ||
                             data.p[skip] == '\n'))
        skip++;
    if (skip == data.n)
        return LX_STREAM_MORE; /* keep-alive or empty event */
    char perr[160];
    json_t *root = lx_json_parse(data.p, data.n, LX_JSON_MAX_DEPTH, perr, sizeof perr);
    if (root == NULL) {
        snprintf(err, errlen, "upstream sent a malformed stream event");
        return LX_STREAM_FAILED;
    }
    bool final = false;
    lx_stream_rc_t rc = LX_STREAM_MORE;
    if (json_is_array(root)) { /* a JSON-array stream element list (no alt=sse) */
        size_t i;
        json_t *o;
        json_array_foreach(root, i, o)
        {
            rc = stream_object(d, o, usage, &final, err, errlen);
            if (rc != LX_STREAM_MORE)
                break;
        }
    } else {
        rc = stream_object(d, root, usage, &final, err, errlen);
    }
    json_decref(root);
    if (rc != LX_STREAM_MORE)
        return rc;
    /* The answer is complete once every candidate seen has finished. */
    if (!final || (d->started & ~d->finished) != 0)
        return LX_STREAM_MORE;
    if (d->include_usage)
        emit_chunk(d, json_array(), usage_json(&d->usage));
    d->ended = true;
    return LX_STREAM_END;
}

static void stream_free(lx_stream_dec_t *d)
{
    if (d == NULL)
        return;
    free(d->id);
    free(d->model);
    lx_buf_free(&d->out);
    free(d);
}

/* --------------------------------------------------------------- embeddings */

static json_t *text_content(const json_t *s)
{
    json_t *part = json_object();
    json_object_set(part, "text", (json_t *)s);
    json_t *parts = json_array();
    json_array_append_new(parts, part);
    json_t *content = json_object();
    json_object_set_new(content, "parts", parts);
    return content;
}

static int embed_build(const lx_provider_conf_t *p, const json_t *req, lx_up_build_t *out,
                       char *err, size_t errlen)
{
    const char *model = req_model(req, err, errlen);
    if (model == NULL)
        return LX_ERROR;
    const json_t *input = json_object_get(req, "input");
    const json_t *dims = json_object_get(req, "dimensions");
    if (is_set(dims) && (!json_is_integer(dims) || json_integer_value(dims) <= 0)) {
        snprintf(err, errlen, "\"dimensions\" must be a positive integer");
        return LX_ERROR;
    }
    json_t *body = json_object();
    const char *method;
    if (json_is_string(input)) {
        method = "embedContent";
        json_object_set_new(body, "content", text_content(input));
        if (is_set(dims))
            json_object_set(body, "outputDimensionality", (json_t *)dims);
    } else if (json_is_array(input) && json_array_size(input) > 0) {
        method = "batchEmbedContents";
        json_t *reqs = json_array();
        json_object_set_new(body, "requests", reqs);
        size_t i;
        json_t *s;
        json_array_foreach(input, i, s)
        {
            if (!json_is_string(s)) {
                snprintf(err, errlen, "Gemini embeddings need text input");
                json_decref(body);
                return LX_ERROR;
            }
            json_t *r = json_object();
            json_object_set_new(r, "model", model_resource(model));
            json_object_set_new(r, "content", text_content(s));
            if (is_set(dims))
                json_object_set(r, "outputDimensionality", (json_t *)dims);
            json_array_append_new(reqs, r);
        }
    } else {
        snprintf(err, errlen, "Gemini embeddings need text input");
        json_decref(body);
        return LX_ERROR;
    }
    model_url(&out->url, p->base_url, model, method);
    common_headers(p, out);
    append_json(&out->body, body);
    json_decref(body);
    return LX_OK;
}

static void add_embedding(json_t *data, const json_t *e, size_t i)
{
    const json_t *values = json_object_get(e, "values");
    json_t *o = json_object();
    json_object_set_new(o, "object", json_string("embedding"));
    json_object_set_new(o, "index", json_integer((json_int_t)i));
    json_object_set_new(o, "embedding",
                        json_is_array(values) ? json_incref((json_t *)values) : json_array());
    json_array_append_new(data, o);
}

static json_t *embed_parse(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                           char *err, size_t errlen)
{
    char perr[160];
    json_t *root = lx_json_parse(body, n, LX_JSON_MAX_DEPTH, perr, sizeof perr);
    const json_t *one = json_object_get(root, "embedding");
    const json_t *many = json_object_get(root, "embeddings");
    if (!json_is_object(one) && !json_is_array(many)) {
        json_decref(root);
        snprintf(err, errlen, "upstream answer is not a Gemini embedding response");
        return NULL;
    }
    json_t *data = json_array();
    if (json_is_object(one)) {
        add_embedding(data, one, 0);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(many, i, e)
        {
            add_embedding(data, e, i);
        }
    }
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(0));
    json_object_set_new(u, "total_tokens", json_integer(0));
    json_t *out = json_object();
    json_object_set_new(out, "object", json_string("list"));
    json_object_set_new(out, "data", data);
    json_object_set_new(out, "model", json_string(model ? model : ""));
    json_object_set_new(out, "usage", u);
    json_decref(root);
    return out;
}

/* ------------------------------------------------------------------- errors */

static void error_message(const char *body, size_t n, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    json_t *root = json_loadb(body, n, 0, NULL);
    const json_t *o = json_is_array(root) ? json_array_get(root, 0) : root;
    const json_t *e = json_object_get(o, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (m == NULL)
        m = json_string_value(e);
    if (m == NULL)
        m = json_string_value(json_object_get(e, "status"));
    if (m == NULL)
        m = json_string_value(json_object_get(o, "message"));
    if (m)
        snprintf(out, outlen, "%s", m);
    json_decref(root);
}

const lx_adapter_t lx_adapter_gemini = {
    .name = "gemini",
    .chat_build = chat_build,
    .chat_parse = chat_parse,
    .stream_new = stream_new,
    .stream_event = stream_event,
    .stream_free = stream_free,
    .embed_build = embed_build,
    .embed_parse = embed_parse,
    .error_message = error_message,
};
