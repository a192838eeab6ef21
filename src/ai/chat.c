/* chat.c - POST /v1/chat/completions (and /api/v1/ai/chat).
 *
 * An OpenAI client talking to an OpenAI-compatible upstream gets its own
 * bytes forwarded with only "model" (and, for streams, stream_options)
 * spliced; other upstreams get the adapter's translation. The handler reads
 * what it routes on straight from the bytes (ai/chat_scan.c) and builds a
 * jansson tree only when the scan cannot be sure of the body or a
 * translating adapter needs one. The row of the endpoint table
 * (handlers.h) that endpoint.c drives. */
#include "ai/call.h"
#include "ai/body.h"
#include "ai/catalog.h"
#include "ai/chat_scan.h"
#include "ai/handlers.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>

/* The client's bytes with "model" (and the usage request) spliced. */
static void passthrough_body(lx_buf_t *out, lx_str_t body, const char *model, bool add_usage)
{
    lx_buf_t tmp;
    lx_body_set_model(out, body.p, body.n, model);
    if (!add_usage)
        return;
    lx_buf_init(&tmp, out->n + 64);
    lx_body_set_usage(&tmp, out->p, out->n);
    lx_buf_free(out);
    *out = tmp;
}

static int chat_build(lx_call_input_t *x, const lx_target_t *t, lx_up_build_t *b, bool *pass,
                      char *err, size_t errlen)
{
    const lx_adapter_t *ad = lx_adapter_for(t->conf.kind);
    *pass = ad == &lx_adapter_openai;
    if (*pass) {
        lx_buf_append_cstr(&b->url, t->conf.base_url);
        lx_buf_append_lit(&b->url, "/chat/completions");
        lx_openai_headers(&t->conf, b);
        passthrough_body(&b->body, x->body, t->upstream_model, x->stream && !x->client_usage);
        return LX_OK;
    }
    if (ad->chat_build == NULL) {
        snprintf(err, errlen, "provider %s cannot serve chat", t->conf.name);
        return LX_ERROR;
    }
    /* Translating adapters need the tree: the body was validated, so this
     * parse succeeds, but it is checked all the same. */
    if (x->root == NULL) {
        x->root = lx_json_parse(x->body.p, x->body.n, LX_JSON_MAX_DEPTH, err, errlen);
        if (x->root == NULL)
            return LX_ERROR;
    }
    json_object_set_new(x->root, "model", json_string(t->upstream_model));
    return ad->chat_build(&t->conf, x->root, x->stream, b, err, errlen);
}

/* The request's fields from its bytes when the scan is sure of them (no
 * tree built: an OpenAI-compatible upstream gets those bytes), else from
 * the parsed body. */
static int chat_read(lx_req_t *req, lx_call_input_t *in, lx_outcome_t *o)
{
    lx_chat_req_t r;
    if (!lx_chat_req_scan(in->body, &r)) {
        in->root = lx_ai_parse_body(req, o);
        if (in->root == NULL)
            return LX_ERROR;
        lx_chat_req_from_json(in->root, &r);
    }
    if (r.model_wrong) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_INVALID_TYPE, "model",
                        "'model' must be a string");
        return LX_ERROR;
    }
    if (!r.messages_array) {
        if (r.messages_wrong)
            lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_INVALID_TYPE, "messages",
                            "'messages' must be an array");
        else
            lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_MISSING_FIELD, "messages",
                            "'messages' is required");
        return LX_ERROR;
    }
    if (r.bad_param) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, r.bad_param,
                        "'%s' must be an integer from 1 to %lld", r.bad_param,
                        (long long)LX_TOKENS_MAX);
        return LX_ERROR;
    }
    in->model = r.model;
    in->need = (r.stream ? LX_CAP_STREAM : 0) | r.need;
    in->stream = r.stream;
    in->client_usage = r.client_usage;
    in->prompt_estimate = lx_ai_estimate_tokens(in->body.n);
    in->max_tokens = r.max_tokens;
    return LX_OK;
}

const lx_endpoint_t lx_endpoint_chat = {
    .paths = {"/v1/chat/completions", "/api/v1/ai/chat"},
    .feature = "chat",
    .wire = LX_FMT_OPENAI,
    .kind = LX_CALL_CHAT,
    .need = LX_CAP_CHAT,
    .read = chat_read,
    .build = chat_build,
};
