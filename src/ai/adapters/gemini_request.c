/* gemini_request.c - the Gemini request body from a canonical (OpenAI)
 * chat request: messages -> systemInstruction + contents (user / model
 * turns, consecutive same-role turns merged; images, audio and files as
 * inline data), tools -> functionDeclarations, tool_choice -> toolConfig,
 * sampling knobs -> generationConfig. */
#include "ai/adapter.h"
#include "ai/adapters/gemini_request.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

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

json_t *lx_gemini_request_body(const json_t *req, char *err, size_t errlen)
{
    json_t *body = json_object();
    if (build_contents(req, body, err, errlen) != LX_OK ||
        build_tools(req, body, err, errlen) != LX_OK ||
        build_tool_choice(req, body, err, errlen) != LX_OK ||
        build_generation_config(req, body, err, errlen) != LX_OK) {
        json_decref(body);
        return NULL;
    }
    return body;
}
