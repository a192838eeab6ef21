/* embed.c - POST /v1/embeddings (and /api/v1/ai/embed). OpenAI-compatible
 * upstreams get the client's bytes (model spliced); Gemini gets a
 * translation. */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "core/clock.h"

#include <stdio.h>

typedef struct {
    json_t *root; /* owned */
    lx_str_t body;
} embed_ctx_t;

static void embed_ctx_free(void *ctx)
{
    embed_ctx_t *x = ctx;
    json_decref(x->root);
    free(x);
}

static int embed_build(void *ctx, const lx_call_target_t *t, lx_up_build_t *b, bool *pass,
                       char *err, size_t errlen)
{
    embed_ctx_t *x = ctx;
    const lx_adapter_t *ad = lx_adapter_for(t->conf.kind);
    *pass = ad == &lx_adapter_openai;
    if (*pass) { /* the client's own bytes, model spliced */
        lx_buf_printf(&b->url, "%s/embeddings", t->conf.base_url);
        lx_openai_headers(&t->conf, b);
        lx_body_set_model(&b->body, x->body.p, x->body.n, t->upstream_model);
        return LX_OK;
    }
    if (ad->embed_build == NULL) {
        snprintf(err, errlen, "provider %s has no embeddings", t->conf.name);
        return LX_ERROR;
    }
    json_object_set_new(x->root, "model", json_string(t->upstream_model));
    return ad->embed_build(&t->conf, x->root, b, err, errlen);
}

static int embed_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
    a->feature = "embed";
    json_t *root = lx_ai_parse_body(req);
    if (root == NULL)
        return LX_OK;
    json_t *input = json_object_get(root, "input");
    if (!json_is_string(input) && !json_is_array(input)) {
        json_decref(root);
        lx_req_reply_error(req, LX_E_MISSING_FIELD, "'input' must be a string or an array",
                           "input");
        return LX_OK;
    }
    lx_target_t t;
    if (!lx_ai_resolve(a, req, root, LX_CAP_EMBED, &t)) {
        json_decref(root);
        return LX_OK;
    }
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = LX_FMT_OPENAI,
        .kind = LX_CALL_EMBED,
        .feature = "embed",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .t_handler_start = t0,
    };
    o.ntargets =
        lx_call_targets(ai, req, a->snap, &t, LX_CAP_EMBED, 0, 0, o.targets, LX_CALL_MAX_TARGETS);
    if (o.ntargets == 0) {
        json_decref(root);
        return LX_OK;
    }
    embed_ctx_t *x = lx_calloc(1, sizeof *x);
    *x = (embed_ctx_t){root, lx_req_body(req)};
    return lx_ai_run_call(a, &o, embed_build, x, embed_ctx_free);
}

int lx_ai_embed_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, embed_body);
}
