/* openai.c - the OpenAI adapter, for OpenAI and every OpenAI-compatible
 * server (OpenRouter, vLLM, Ollama, Together, ...). The canonical form is
 * this wire, so translation is the identity; only the transport differs.
 * (OpenAI clients talking to these upstreams bypass the adapter: their bytes
 * are forwarded as they are, see chat.c.) */
#include "ai/adapter.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>

struct lx_stream_dec {
    lx_chunk_fn emit;
    void *arg;
    bool include_usage;
};

void lx_openai_headers(const lx_provider_conf_t *p, lx_up_build_t *out)
{
    lx_up_build_header_kv(out, "Content-Type", "application/json");
    if (p->api_key)
        lx_up_build_header(out, "Authorization: Bearer %s", p->api_key);
    for (int i = 0; i < p->nheaders; i++)
        lx_up_build_header_kv(out, p->header_names[i], p->header_values[i]);
}

static int chat_build(const lx_provider_conf_t *p, const json_t *req, bool stream,
                      lx_up_build_t *out, char *err, size_t errlen)
{
    lx_buf_printf(&out->url, "%s/chat/completions", p->base_url);
    lx_openai_headers(p, out);
    json_t *copy = json_copy((json_t *)req);
    if (stream) {
        json_object_set_new(copy, "stream", json_true());
        json_t *so = json_object();
        json_object_set_new(so, "include_usage", json_true());
        json_object_set_new(copy, "stream_options", so);
    } else {
        json_object_del(copy, "stream");
        json_object_del(copy, "stream_options");
    }
    lx_json_dump_buf(&out->body, copy, JSON_COMPACT);
    json_decref(copy);
    return LX_OK;
}

static void usage_from(const json_t *u, lx_tokens_t *usage)
{
    if (!json_is_object(u))
        return;
    /* an upstream's numbers: clamped to [0, LX_TOKENS_MAX] */
    usage->in = lx_tokens_clamp(json_integer_value(json_object_get(u, "prompt_tokens")));
    usage->out = lx_tokens_clamp(json_integer_value(json_object_get(u, "completion_tokens")));
    usage->cached = lx_tokens_clamp(json_integer_value(
        json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens")));
}

static json_t *chat_parse(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                          char *err, size_t errlen)
{
    json_t *root = json_loadb(body, n, 0, NULL);
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "choices"))) {
        json_decref(root);
        snprintf(err, errlen, "upstream answer is not a chat.completion object");
        return NULL;
    }
    usage_from(json_object_get(root, "usage"), usage);
    return root;
}

static lx_stream_dec_t *stream_new(const char *model, const char *id, bool include_usage,
                                   lx_chunk_fn emit, void *arg)
{
    lx_stream_dec_t *d = lx_calloc(1, sizeof *d);
    d->emit = emit;
    d->arg = arg;
    d->include_usage = include_usage;
    return d;
}

static lx_stream_rc_t stream_event(lx_stream_dec_t *d, lx_str_t event, lx_str_t data,
                                   lx_tokens_t *usage, char *err, size_t errlen)
{
    if (lx_str_eq_cstr(data, "[DONE]"))
        return LX_STREAM_END;
    json_t *chunk = json_loadb(data.p, data.n, 0, NULL);
    if (!json_is_object(chunk)) {
        json_decref(chunk);
        snprintf(err, errlen, "upstream sent a malformed stream event");
        return LX_STREAM_FAILED;
    }
    json_t *e = json_object_get(chunk, "error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        snprintf(err, errlen, "%s", m ? m : "upstream error");
        json_decref(chunk);
        return LX_STREAM_FAILED;
    }
    json_t *u = json_object_get(chunk, "usage");
    usage_from(u, usage);
    json_t *choices = json_object_get(chunk, "choices");
    bool usage_only = json_is_object(u) && json_array_size(choices) == 0;
    if (!usage_only || d->include_usage)
        d->emit(d->arg, data.p, data.n);
    json_decref(chunk);
    return LX_STREAM_MORE;
}

static void stream_free(lx_stream_dec_t *d)
{
    free(d);
}

static int embed_build(const lx_provider_conf_t *p, const json_t *req, lx_up_build_t *out,
                       char *err, size_t errlen)
{
    lx_buf_printf(&out->url, "%s/embeddings", p->base_url);
    lx_openai_headers(p, out);
    lx_json_dump_buf(&out->body, req, JSON_COMPACT);
    return LX_OK;
}

static int image_build(const lx_provider_conf_t *p, const json_t *req, lx_up_build_t *out,
                       char *err, size_t errlen)
{
    lx_buf_printf(&out->url, "%s/images/generations", p->base_url);
    lx_openai_headers(p, out);
    lx_json_dump_buf(&out->body, req, JSON_COMPACT);
    return LX_OK;
}

static json_t *embed_parse(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                           char *err, size_t errlen)
{
    json_t *root = json_loadb(body, n, 0, NULL);
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "data"))) {
        json_decref(root);
        snprintf(err, errlen, "upstream answer is not an embeddings list");
        return NULL;
    }
    usage_from(json_object_get(root, "usage"), usage);
    return root;
}

const lx_adapter_t lx_adapter_openai = {
    .name = "openai",
    .chat_build = chat_build,
    .chat_parse = chat_parse,
    .stream_new = stream_new,
    .stream_event = stream_event,
    .stream_free = stream_free,
    .embed_build = embed_build,
    .embed_parse = embed_parse,
    .image_build = image_build,
    .error_message = lx_adapter_error_message,
};
