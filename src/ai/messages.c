/* messages.c - POST /v1/messages: the Anthropic Messages API, served from
 * any provider. An Anthropic upstream gets the client's bytes (model
 * spliced); others get the request translated to the canonical form and
 * then to their own wire, and answer back through the Messages encoder.
 * A row of the endpoint table (handlers.h). */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "ai/messages_fmt.h"
#include "core/json.h"

#include <stdio.h>

static int invalid(lx_outcome_t *o, lx_err_t e, const char *param, const char *msg)
{
    lx_outcome_fail(o, LX_SIDE_CLIENT, 0, e, param, "%s", msg);
    return LX_ERROR;
}

static int valid_request(const json_t *root, lx_outcome_t *o)
{
    json_t *mt = json_object_get(root, "max_tokens");
    json_t *msgs = json_object_get(root, "messages");
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_string(model) && !json_is_null(model))
        return invalid(o, LX_E_INVALID_TYPE, "model", "model: Input should be a valid string");
    if (!json_is_integer(mt) || json_integer_value(mt) < 1)
        return invalid(o, LX_E_MISSING_FIELD, "max_tokens",
                       "max_tokens: a positive integer is required");
    if (json_integer_value(mt) > LX_TOKENS_MAX) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, "max_tokens",
                        "max_tokens: Input should be less than or equal to %lld",
                        (long long)LX_TOKENS_MAX);
        return LX_ERROR;
    }
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return invalid(o,
                       msgs && !json_is_array(msgs) && !json_is_null(msgs) ? LX_E_INVALID_TYPE
                                                                           : LX_E_MISSING_FIELD,
                       "messages", "messages: a non-empty array is required");
    return LX_OK;
}

static int msg_build(lx_call_input_t *x, const lx_target_t *t, lx_up_build_t *b, bool *pass,
                     char *err, size_t errlen)
{
    const lx_provider_conf_t *p = &t->conf;
    *pass = p->kind == LX_PROVIDER_ANTHROPIC;
    if (*pass) { /* same wire: the client's bytes, model spliced */
        lx_anthropic_head(p, x->anthropic_version, x->anthropic_beta, b);
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

static int msg_read(lx_req_t *req, lx_call_input_t *in, lx_outcome_t *o)
{
    in->root = lx_ai_parse_body(req, o);
    if (in->root == NULL)
        return LX_ERROR;
    in->stream = json_is_true(json_object_get(in->root, "stream"));
    in->need = in->stream ? LX_CAP_STREAM : 0;
    in->model = lx_json_str(in->root, "model");
    in->prompt_estimate = lx_ai_estimate_tokens(in->body.n);
    in->max_tokens = json_integer_value(json_object_get(in->root, "max_tokens"));
    in->anthropic_version = lx_req_hdr(req, LX_HDR_ANTHROPIC_VERSION);
    in->anthropic_beta = lx_req_hdr(req, LX_HDR_ANTHROPIC_BETA);
    return LX_OK;
}

/* The body is checked once the model resolved (a missing model is named
 * first), and its translation up front, so a bad request is a 400 at once. */
static int msg_check(lx_call_input_t *in, const lx_resolved_t *t, lx_outcome_t *o)
{
    if (valid_request(in->root, o) != LX_OK)
        return LX_ERROR;
    if (t->prov->conf.kind != LX_PROVIDER_ANTHROPIC) {
        char err[300] = "";
        const char *param = NULL;
        in->canon = lx_messages_to_openai(in->root, err, sizeof err, &param);
        if (in->canon == NULL) {
            lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, param, "%s", err);
            return LX_ERROR;
        }
    }
    return LX_OK;
}

const lx_endpoint_t lx_endpoint_messages = {
    .paths = {"/v1/messages"},
    .feature = "messages",
    .wire = LX_FMT_ANTHROPIC,
    .kind = LX_CALL_CHAT,
    .need = LX_CAP_CHAT,
    .read = msg_read,
    .check = msg_check,
    .build = msg_build,
};
