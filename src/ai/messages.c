/* messages.c - POST /v1/messages: the Anthropic Messages API, served from
 * any provider. An Anthropic upstream gets the client's bytes (model
 * spliced); others get the request translated to the canonical form and
 * then to their own wire, and answer back through the Messages encoder. */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "ai/messages_fmt.h"
#include "core/clock.h"

#include <stdio.h>

#define ANTHROPIC_VERSION "2023-06-01"

static bool valid_request(lx_req_t *req, json_t *root)
{
    json_t *mt = json_object_get(root, "max_tokens");
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_integer(mt) || json_integer_value(mt) < 1) {
        lx_req_reply_error(req, LX_E_MISSING_FIELD, "max_tokens: a positive integer is required",
                           "max_tokens");
        return false;
    }
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        lx_req_reply_error(req, LX_E_MISSING_FIELD, "messages: a non-empty array is required",
                           "messages");
        return false;
    }
    return true;
}

static void passthrough_build(lx_up_build_t *b, lx_req_t *req, const lx_target_t *t)
{
    const lx_provider_conf_t *p = t->provider;
    lx_buf_printf(&b->url, "%s/v1/messages", p->base_url);
    lx_up_build_header(b, "Content-Type: application/json");
    if (p->api_key)
        lx_up_build_header(b, "x-api-key: %s", p->api_key);
    const char *ver = lx_req_header(req, "anthropic-version");
    lx_up_build_header(b, "anthropic-version: %s", ver ? ver : ANTHROPIC_VERSION);
    const char *beta = lx_req_header(req, "anthropic-beta");
    if (beta)
        lx_up_build_header(b, "anthropic-beta: %s", beta);
    for (int i = 0; i < p->nheaders; i++)
        lx_up_build_header(b, "%s: %s", p->header_names[i], p->header_values[i]);
    lx_buf_t quoted;
    lx_buf_init(&quoted, 64);
    lx_buf_append_json_str(&quoted, t->upstream_model, strlen(t->upstream_model));
    lx_str_t body = lx_req_body(req);
    lx_body_set(&b->body, body.p, body.n, "model", quoted.p, quoted.n);
    lx_buf_free(&quoted);
}

static int messages_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
    json_t *root = lx_ai_parse_body(req);
    if (root == NULL)
        return LX_OK;
    bool stream = json_is_true(json_object_get(root, "stream"));
    lx_target_t t;
    if (!lx_ai_resolve(a, req, root, LX_CAP_CHAT | (stream ? LX_CAP_STREAM : 0), &t) ||
        !valid_request(req, root)) {
        json_decref(root);
        return LX_OK;
    }
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = LX_FMT_ANTHROPIC,
        .kind = LX_CALL_CHAT,
        .prov = t.provider,
        .adapter = lx_adapter_for(t.provider->kind),
        .feature = "messages",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .target = &t,
        .snap = a->snap,
        .upstream_model = t.upstream_model,
        .client_model = t.upstream_model,
        .stream = stream,
        .passthrough = t.provider->kind == LX_PROVIDER_ANTHROPIC,
        .input_tokens_estimate = lx_ai_estimate_tokens(lx_req_body(req).n),
        .t_handler_start = t0,
    };
    lx_up_build_t b;
    lx_up_build_init(&b);
    if (o.passthrough) {
        passthrough_build(&b, req, &t);
    } else {
        char err[300] = "";
        const char *param = NULL;
        json_t *canon = lx_messages_to_openai(root, err, sizeof err, &param);
        if (canon == NULL) {
            json_decref(root);
            lx_up_build_free(&b);
            lx_req_reply_error(req, LX_E_BAD_REQUEST, err, param);
            return LX_OK;
        }
        json_object_set_new(canon, "model", json_string(t.upstream_model));
        int rc = o.adapter->chat_build
                     ? o.adapter->chat_build(t.provider, canon, stream, &b, err, sizeof err)
                     : LX_ERROR;
        json_decref(canon);
        if (rc != LX_OK) {
            json_decref(root);
            lx_up_build_free(&b);
            lx_req_reply_error(req, LX_E_BAD_REQUEST, err[0] ? err : "cannot translate request",
                               "messages");
            return LX_OK;
        }
    }
    json_decref(root);
    a->snap = NULL; /* the call owns the reference now */
    return lx_call_run(&o, &b);
}

int lx_ai_messages_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, messages_body);
}
