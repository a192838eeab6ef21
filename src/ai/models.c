/* models.c - GET /v1/models: the catalog models of the configured
 * providers, in OpenAI's list shape, named as clients address them. */
#include "ai/handlers.h"

int lx_ai_models_handler(lx_req_t *req, void *arg)
{
    lx_ai_t *ai = arg;
    char key_id[64];
    if (!lx_ai_authorize(ai, req, key_id))
        return LX_OK;
    json_t *data = json_array();
    for (size_t i = 0; i < lx_catalog_len; i++) {
        const lx_model_info_t *m = &lx_catalog[i];
        if (lx_config_provider(ai->cfg, lx_str(m->provider)) == NULL)
            continue;
        char id[300];
        snprintf(id, sizeof id, "%s/%s", m->provider, m->name);
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model",
                                              "created", 0, "owned_by", m->provider));
    }
    lx_req_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
    return LX_OK;
}
