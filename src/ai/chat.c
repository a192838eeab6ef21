/* chat.c - POST /v1/chat/completions (and /api/v1/ai/chat), and the checks
 * every AI handler shares: key, body, model.
 *
 * An OpenAI client talking to an OpenAI-compatible upstream gets its own
 * bytes forwarded with only "model" (and, for streams, stream_options)
 * spliced; other upstreams get the adapter's translation. The handler reads
 * what it routes on straight from the bytes (ai/chat_scan.c) and builds a
 * jansson tree only when the scan cannot be sure of the body or a
 * translating adapter needs one. */
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

bool lx_ai_model_name_valid(lx_str_t m)
{
    if (m.n == 0 || m.n > 200)
        return false;
    for (size_t i = 0; i < m.n; i++) {
        char c = m.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._:/+=@-", c)))
            return false;
    }
    return true;
}

void lx_ai_init(lx_ai_t *ai, const lx_config_t *cfg, lx_upstream_t *up, lx_usage_sink_t *usage)
{
    ai->cfg = cfg;
    ai->up = up;
    ai->usage = usage;
    ai->has_admin = cfg->admin_key != NULL;
    if (ai->has_admin)
        lx_sha256(cfg->admin_key, strlen(cfg->admin_key), ai->admin_hash);
}

bool lx_ai_begin(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    memset(a, 0, sizeof *a);
    lx_str_t key = lx_req_api_key(req);
    if (key.n == 0) {
        atomic_fetch_add_explicit(&ai->unauthenticated, 1, memory_order_relaxed);
        lx_req_reply_error(req, LX_E_UNAUTHORIZED, "missing API key (Authorization: Bearer ...)",
                           NULL);
        return false;
    }
    a->snap = lx_registry_acquire();
    if (a->snap == NULL) {
        lx_req_reply_error(req, LX_E_UNAVAILABLE, "configuration not loaded yet", NULL);
        return false;
    }
    unsigned char h[32];
    lx_sha256(key.p, key.n, h);
    if (ai->has_admin) {
        /* Compare digests so the time taken does not depend on the key. */
        if (lx_ct_equal(h, ai->admin_hash, 32)) {
            lx_copy_cstr(a->key_id, sizeof a->key_id, "admin");
            lx_req_set_key_id(req, a->key_id);
            return true;
        }
    }
    const lx_apikey_t *k = lx_snapshot_key(a->snap, h);
    const char *why = NULL;
    if (k == NULL || !lx_ct_equal(k->hash, h, 32))
        why = "invalid API key";
    else if (!k->active)
        why = "this API key is disabled";
    else if (k->expires_ms && k->expires_ms <= lx_wall_ms())
        why = "this API key has expired";
    if (why) {
        atomic_fetch_add_explicit(&ai->unauthenticated, 1, memory_order_relaxed);
        lx_ai_end(a);
        lx_req_reply_error(req, LX_E_UNAUTHORIZED, why, NULL);
        return false;
    }
    a->key = k;
    lx_copy_cstr(a->key_id, sizeof a->key_id, k->label);
    lx_req_set_key_id(req, a->key_id);
    return true;
}

void lx_ai_end(lx_ai_auth_t *a)
{
    lx_registry_release(a->snap);
    a->snap = NULL;
}

int lx_ai_guarded(lx_ai_t *ai, lx_req_t *req,
                  int (*body)(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a))
{
    lx_ai_auth_t a;
    if (!lx_ai_begin(ai, req, &a))
        return LX_OK;
    int rc = body(ai, req, &a);
    if (rc == LX_OK && a.snap != NULL) /* not handed to a call: refused here, or a listing */
        lx_ai_record_refusal(ai, req, &a);
    lx_ai_end(&a);
    return rc;
}

json_t *lx_ai_parse_body(lx_req_t *req)
{
    return lx_req_json_body(req);
}

int lx_ai_run_call(lx_ai_auth_t *a, lx_call_opts_t *o, lx_call_build_fn build, void *ctx,
                   void (*ctx_free)(void *ctx))
{
    o->build = build;
    o->build_ctx = ctx;
    o->build_ctx_free = ctx_free;
    o->snap = a->snap;
    a->snap = NULL;
    lx_copy_cstr(o->requested_model, sizeof o->requested_model, a->model);
    return lx_call_run(o);
}

bool lx_ai_resolve(lx_ai_auth_t *a, lx_req_t *req, json_t *root, unsigned need, lx_target_t *t)
{
    return lx_ai_resolve_model(a, req, lx_json_str(root, "model"), need, t);
}

bool lx_ai_resolve_model(lx_ai_auth_t *a, lx_req_t *req, lx_str_t model, unsigned need,
                         lx_target_t *t)
{
    a->model[0] = '\0';
    if (model.n == 0) {
        lx_req_reply_error(req, LX_E_MISSING_FIELD, "'model' is required", "model");
        return false;
    }
    if (!lx_ai_model_name_valid(model)) {
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "'model' has characters a model name cannot",
                           "model");
        return false;
    }
    char msg[400];
    if (a->key && !lx_apikey_allows(a->key, model)) {
        snprintf(msg, sizeof msg, "this API key may not use model '%.*s'", (int)model.n, model.p);
        lx_req_reply_error(req, LX_E_FORBIDDEN, msg, "model");
        return false;
    }
    lx_resolve_rc_t rc = lx_resolve_model(a->snap, model, t);
    if (rc != LX_RESOLVE_OK) {
        snprintf(msg, sizeof msg,
                 rc == LX_RESOLVE_UNKNOWN_PROVIDER
                     ? "model '%.*s' not found: no such provider is configured"
                     : "model '%.*s' not found: use provider/model or a catalog model of a "
                       "configured provider",
                 (int)model.n, model.p);
        lx_req_reply_error(req, LX_E_MODEL_NOT_FOUND, msg, "model");
        return false;
    }
    if ((t->caps & need) != need) {
        snprintf(msg, sizeof msg, "model '%.*s' (provider %s) does not support this endpoint",
                 (int)model.n, model.p, t->provider->name);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, msg, "model");
        return false;
    }
    lx_copy(a->model, sizeof a->model, model.p, model.n);
    return true;
}

int64_t lx_ai_estimate_tokens(size_t body_bytes)
{
    return (int64_t)(body_bytes / 4) + 1;
}

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

/* What a chat call needs to build a request for any target, every attempt. */
typedef struct {
    json_t *root; /* the parsed body (owned), NULL until a target needs the tree */
    lx_str_t body;
    bool stream, client_usage;
} chat_ctx_t;

static void chat_ctx_free(void *ctx)
{
    chat_ctx_t *x = ctx;
    json_decref(x->root);
    free(x);
}

static int chat_build(void *ctx, const lx_call_target_t *t, lx_up_build_t *b, bool *pass, char *err,
                      size_t errlen)
{
    chat_ctx_t *x = ctx;
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
static int chat_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
    a->feature = "chat";
    lx_str_t body = lx_req_body(req);
    lx_chat_req_t r;
    json_t *root = NULL;
    if (!lx_chat_req_scan(body, &r)) {
        root = lx_ai_parse_body(req);
        if (root == NULL)
            return LX_OK;
        lx_chat_req_from_json(root, &r);
    }
    if (r.model_wrong || !r.messages_array) {
        json_decref(root);
        if (r.model_wrong)
            lx_req_reply_error(req, LX_E_INVALID_TYPE, "'model' must be a string", "model");
        else if (r.messages_wrong)
            lx_req_reply_error(req, LX_E_INVALID_TYPE, "'messages' must be an array", "messages");
        else
            lx_req_reply_error(req, LX_E_MISSING_FIELD, "'messages' is required", "messages");
        return LX_OK;
    }
    if (r.bad_param) {
        json_decref(root);
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be an integer from 1 to %lld", r.bad_param,
                 (long long)LX_TOKENS_MAX);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, msg, r.bad_param);
        return LX_OK;
    }
    unsigned need = LX_CAP_CHAT | (r.stream ? LX_CAP_STREAM : 0) | r.need;
    lx_target_t t;
    if (!lx_ai_resolve_model(a, req, r.model, need, &t)) {
        json_decref(root);
        return LX_OK;
    }
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = LX_FMT_OPENAI,
        .kind = LX_CALL_CHAT,
        .feature = "chat",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .stream = r.stream,
        .client_usage = r.client_usage,
        .input_tokens_estimate = lx_ai_estimate_tokens(body.n),
        .t_handler_start = t0,
    };
    o.ntargets = lx_call_targets(ai, req, a->snap, &t, need, o.input_tokens_estimate, r.max_tokens,
                                 o.targets, LX_CALL_MAX_TARGETS);
    if (o.ntargets == 0) {
        json_decref(root);
        return LX_OK;
    }
    chat_ctx_t *x = lx_calloc(1, sizeof *x);
    *x = (chat_ctx_t){root, body, r.stream, r.client_usage};
    return lx_ai_run_call(a, &o, chat_build, x, chat_ctx_free);
}

int lx_ai_chat_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, chat_body);
}
