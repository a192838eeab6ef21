/* embed.c - POST /v1/embeddings (and /api/v1/ai/embed). OpenAI-compatible
 * upstreams get the client's bytes (model spliced); Gemini gets a
 * translation. A row of the endpoint table (handlers.h). */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/handlers.h"
#include "core/json.h"

#include <stdio.h>

static int embed_build(lx_call_input_t *x, const lx_target_t *t, lx_up_build_t *b, bool *pass,
                       char *err, size_t errlen)
{
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

static int embed_read(lx_req_t *req, lx_call_input_t *in, lx_outcome_t *o)
{
    in->root = lx_ai_parse_body(req, o);
    if (in->root == NULL)
        return LX_ERROR;
    json_t *input = json_object_get(in->root, "input");
    if (!json_is_string(input) && !json_is_array(input)) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_MISSING_FIELD, "input",
                        "'input' must be a string or an array");
        return LX_ERROR;
    }
    in->model = lx_json_str(in->root, "model");
    return LX_OK;
}

const lx_endpoint_t lx_endpoint_embed = {
    .paths = {"/v1/embeddings", "/api/v1/ai/embed"},
    .feature = "embed",
    .wire = LX_FMT_OPENAI,
    .kind = LX_CALL_EMBED,
    .need = LX_CAP_EMBED,
    .read = embed_read,
    .build = embed_build,
};
