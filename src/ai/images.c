/* images.c - POST /v1/images/generations: OpenAI's image API, passed
 * through to providers whose adapter can make images. A row of the
 * endpoint table (handlers.h). */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "core/json.h"

#include <stdio.h>

static int image_build(lx_call_input_t *x, const lx_target_t *t, lx_up_build_t *b, bool *pass,
                       char *err, size_t errlen)
{
    const lx_adapter_t *ad = lx_adapter_for(t->conf.kind);
    *pass = true; /* OpenAI's image answer passes through unchanged */
    if (ad->image_build == NULL) {
        snprintf(err, errlen, "provider %s cannot make images", t->conf.name);
        return LX_ERROR;
    }
    json_object_set_new(x->root, "model", json_string(t->upstream_model));
    return ad->image_build(&t->conf, x->root, b, err, errlen);
}

static int image_read(lx_req_t *req, lx_call_input_t *in, lx_outcome_t *o)
{
    in->root = lx_ai_parse_body(req, o);
    if (in->root == NULL)
        return LX_ERROR;
    if (!json_is_string(json_object_get(in->root, "prompt"))) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_MISSING_FIELD, "prompt", "'prompt' is required");
        return LX_ERROR;
    }
    in->model = lx_json_str(in->root, "model");
    return LX_OK;
}

const lx_endpoint_t lx_endpoint_images = {
    .paths = {"/v1/images/generations"},
    .feature = "image",
    .wire = LX_FMT_OPENAI,
    .kind = LX_CALL_IMAGE, /* not idempotent: never replayed once sent */
    .need = LX_CAP_IMAGES,
    .read = image_read,
    .build = image_build,
};
