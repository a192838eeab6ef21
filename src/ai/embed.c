/* embed.c - POST /v1/embeddings (and /api/v1/ai/embed). OpenAI-compatible
 * upstreams get the client's bytes (model spliced); Gemini gets a
 * translation. */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "core/clock.h"

#include <stdio.h>

static int embed_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
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
        .prov = t.provider,
        .adapter = lx_adapter_for(t.provider->kind),
        .feature = "embed",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .target = &t,
        .snap = a->snap,
        .upstream_model = t.upstream_model,
        .client_model = t.upstream_model,
        .t_handler_start = t0,
    };
    o.passthrough = o.adapter == &lx_adapter_openai;
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[300] = "";
    json_object_set_new(root, "model", json_string(t.upstream_model));
    int rc = o.adapter->embed_build ? o.adapter->embed_build(t.provider, root, &b, err, sizeof err)
                                    : LX_ERROR;
    if (rc == LX_OK && o.passthrough) {
        /* The client's own bytes, not the re-serialized object. */
        lx_buf_t quoted;
        lx_buf_init(&quoted, 64);
        lx_buf_append_json_str(&quoted, t.upstream_model, strlen(t.upstream_model));
        lx_str_t body = lx_req_body(req);
        lx_buf_reset(&b.body);
        lx_body_set(&b.body, body.p, body.n, "model", quoted.p, quoted.n);
        lx_buf_free(&quoted);
    }
    json_decref(root);
    if (rc != LX_OK) {
        lx_up_build_free(&b);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, err[0] ? err : "cannot build the request",
                           "input");
        return LX_OK;
    }
    a->snap = NULL; /* the call owns the reference now */
    return lx_call_run(&o, &b);
}

int lx_ai_embed_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, embed_body);
}
