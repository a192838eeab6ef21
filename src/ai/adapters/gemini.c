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
 * The API key travels only in the x-goog-api-key header, never in the URL.
 * The request body is built in gemini_request.c. */
#include "ai/adapter.h"
#include "ai/adapters/gemini_request.h"
#include "core/clock.h"
#include "core/id.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ------------------------------------------------------------------ helpers */

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

static int chat_build(const lx_provider_conf_t *p, const json_t *req, bool stream,
                      lx_up_build_t *out, char *err, size_t errlen)
{
    const char *model = req_model(req, err, errlen);
    if (model == NULL)
        return LX_ERROR;
    json_t *body = lx_gemini_request_body(req, err, errlen);
    if (body == NULL)
        return LX_ERROR;
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
