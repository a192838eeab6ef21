/* images.c - POST /v1/images/generations: OpenAI's image API, passed
 * through to providers whose adapter can make images. */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "core/clock.h"

static void json_ctx_free(void *ctx)
{
    json_decref(ctx);
}

static int image_build(void *ctx, const lx_call_target_t *t, lx_up_build_t *b, bool *pass,
                       char *err, size_t errlen)
{
    json_t *root = ctx;
    const lx_adapter_t *ad = lx_adapter_for(t->conf.kind);
    *pass = true; /* OpenAI's image answer passes through unchanged */
    if (ad->image_build == NULL) {
        snprintf(err, errlen, "provider %s cannot make images", t->conf.name);
        return LX_ERROR;
    }
    json_object_set_new(root, "model", json_string(t->upstream_model));
    return ad->image_build(&t->conf, root, b, err, errlen);
}

static int images_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    int64_t t0 = lx_now_us();
    a->feature = "image";
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
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = LX_FMT_OPENAI,
        .kind = LX_CALL_IMAGE, /* not idempotent: never replayed once sent */
        .feature = "image",
        .key_id = a->key_id,
        .api_key_id = a->key ? a->key->id : 0,
        .t_handler_start = t0,
    };
    o.ntargets =
        lx_call_targets(ai, req, a->snap, &t, LX_CAP_IMAGES, 0, 0, o.targets, LX_CALL_MAX_TARGETS);
    if (o.ntargets == 0) {
        json_decref(root);
        return LX_OK;
    }
    return lx_ai_run_call(a, &o, image_build, root, json_ctx_free);
}

int lx_ai_images_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, images_body);
}
