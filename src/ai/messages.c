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
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_string(model) && !json_is_null(model)) {
        lx_req_reply_error(req, LX_E_INVALID_TYPE, "model: Input should be a valid string",
                           "model");
        return false;
    }
    if (!json_is_integer(mt) || json_integer_value(mt) < 1) {
        lx_req_reply_error(req, LX_E_MISSING_FIELD, "max_tokens: a positive integer is required",
                           "max_tokens");
        return false;
    }
    if (json_integer_value(mt) > LX_TOKENS_MAX) {
        char msg[120];
        snprintf(msg, sizeof msg, "max_tokens: Input should be less than or equal to %lld",
                 (long long)LX_TOKENS_MAX);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, msg, "max_tokens");
        return false;
    }
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        lx_req_reply_error(req,
                           msgs && !json_is_array(msgs) && !json_is_null(msgs) ? LX_E_INVALID_TYPE
                                                                               : LX_E_MISSING_FIELD,
                           "messages: a non-empty array is required", "messages");
        return false;
    }
    return true;
}

typedef struct {
    json_t *root;  /* the client's Anthropic request (owned) */
    json_t *canon; /* its canonical (OpenAI) form, made on first need (owned) */
    lx_str_t body;
    bool stream;
    const char *anthropic_version, *anthropic_beta; /* client headers, borrowed */
} msg_ctx_t;

static void msg_ctx_free(void *ctx)
{
    msg_ctx_t *x = ctx;
    json_decref(x->root);
    json_decref(x->canon);
    free(x);
}

static int msg_build(void *ctx, const lx_call_target_t *t, lx_up_build_t *b, bool *pass, char *err,
                     size_t errlen)
{
    msg_ctx_t *x = ctx;
    const lx_provider_conf_t *p = &t->conf;
    *pass = p->kind == LX_PROVIDER_ANTHROPIC;
    if (*pass) { /* same wire: the client's bytes, model spliced */
        lx_buf_printf(&b->url, "%s/v1/messages", p->base_url);
        lx_up_build_header_kv(b, "Content-Type", "application/json");
        if (p->api_key)
            lx_up_build_header_kv(b, "x-api-key", p->api_key);
        lx_up_build_header(b, "anthropic-version: %s",
                           x->anthropic_version ? x->anthropic_version : ANTHROPIC_VERSION);
        if (x->anthropic_beta)
            lx_up_build_header_kv(b, "anthropic-beta", x->anthropic_beta);
        for (int i = 0; i < p->nheaders; i++)
            lx_up_build_header_kv(b, p->header_names[i], p->header_values[i]);
        lx_body_set_model(&b->body, x->body.p, x->body.n, t->upstream_model);
        return LX_OK;
    }
    if (x->canon == NULL) {
        const char *param = NULL;
        x->canon = lx_messages_to_openai(x->root, err, errlen, &param);
        if (x->canon == NULL)
            return LX_ERROR;
    }
    const lx_adapter_t *ad = lx_adapter_for(p->kind);
    json_object_set_new(x->canon, "model", json_string(t->upstream_model));
    if (ad->chat_build == NULL) {
        snprintf(err, errlen, "provider %s cannot serve chat", p->name);
        return LX_ERROR;
    }
    return ad->chat_build(p, x->canon, x->stream, b, err, errlen);
}

static int messages_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
    a->feature = "messages";
    json_t *root = lx_ai_parse_body(req);
    if (root == NULL)
        return LX_OK;
    bool stream = json_is_true(json_object_get(root, "stream"));
    unsigned need = LX_CAP_CHAT | (stream ? LX_CAP_STREAM : 0);
    lx_target_t t;
    if (!lx_ai_resolve(a, req, root, need, &t) || !valid_request(req, root)) {
        json_decref(root);
        return LX_OK;
    }
    /* Validate the translation up front so a bad request is a 400 at once. */
    char err[300] = "";
    const char *param = NULL;
    json_t *canon = NULL;
    if (t.provider->kind != LX_PROVIDER_ANTHROPIC) {
        canon = lx_messages_to_openai(root, err, sizeof err, &param);
        if (canon == NULL) {
            json_decref(root);
            lx_req_reply_error(req, LX_E_BAD_REQUEST, err, param);
            return LX_OK;
        }
    }
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = LX_FMT_ANTHROPIC,
        .kind = LX_CALL_CHAT,
        .feature = "messages",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .stream = stream,
        .input_tokens_estimate = lx_ai_estimate_tokens(lx_req_body(req).n),
        .t_handler_start = t0,
    };
    o.ntargets = lx_call_targets(ai, req, a->snap, &t, need, o.input_tokens_estimate,
                                 json_integer_value(json_object_get(root, "max_tokens")), o.targets,
                                 LX_CALL_MAX_TARGETS);
    if (o.ntargets == 0) {
        json_decref(root);
        json_decref(canon);
        return LX_OK;
    }
    msg_ctx_t *x = lx_calloc(1, sizeof *x);
    *x = (msg_ctx_t){root,
                     canon,
                     lx_req_body(req),
                     stream,
                     lx_req_hdr(req, LX_HDR_ANTHROPIC_VERSION),
                     lx_req_hdr(req, LX_HDR_ANTHROPIC_BETA)};
    return lx_ai_run_call(a, &o, msg_build, x, msg_ctx_free);
}

int lx_ai_messages_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, messages_body);
}
