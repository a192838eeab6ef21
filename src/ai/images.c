/* images.c - POST /v1/images/generations: OpenAI's image API, passed
 * through to providers whose adapter can make images. */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "core/clock.h"

static int images_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
    json_t *root = lx_ai_parse_body(req);
    if (root == NULL)
        return LX_OK;
    if (!json_is_string(json_object_get(root, "prompt"))) {
        json_decref(root);
        lx_req_reply_error(req, LX_E_MISSING_FIELD, "'prompt' is required", "prompt");
        return LX_OK;
    }
    lx_target_t t;
    if (!lx_ai_resolve(a, req, root, LX_CAP_IMAGES, &t)) {
        json_decref(root);
        return LX_OK;
    }
    const lx_adapter_t *ad = lx_adapter_for(t.provider->kind);
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[300] = "";
    json_object_set_new(root, "model", json_string(t.upstream_model));
    int rc = ad->image_build ? ad->image_build(t.provider, root, &b, err, sizeof err) : LX_ERROR;
    json_decref(root);
    if (rc != LX_OK) {
        lx_up_build_free(&b);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, err[0] ? err : "cannot build the request",
                           "model");
        return LX_OK;
    }
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = LX_FMT_OPENAI,
        .kind = LX_CALL_IMAGE,
        .prov = t.provider,
        .adapter = ad,
        .feature = "image",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .target = &t,
        .snap = a->snap,
        .upstream_model = t.upstream_model,
        .client_model = t.upstream_model,
        .passthrough = true,
        .t_handler_start = t0,
    };
    a->snap = NULL; /* the call owns the reference now */
    return lx_call_run(&o, &b);
}

int lx_ai_images_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, images_body);
}
