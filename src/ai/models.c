/* models.c - GET /v1/models: the active models of active providers that
 * the caller's key may use, in OpenAI's list shape, named as clients
 * address them (provider/model). */
#include "ai/handlers.h"

static int models_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    json_t *data = json_array();
    const lx_snapshot_t *snap = a->snap;
    for (int i = 0; i < snap->nmodels; i++) {
        const lx_model_t *m = &snap->models[i];
        if (!m->active || !m->provider->active)
            continue;
        const char *id = m->full_name;
        if (a->key && !lx_apikey_allows(a->key, lx_str(id)) &&
            !lx_apikey_allows(a->key, lx_str(m->public_name)))
            continue;
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model",
                                              "created", 0, "owned_by", m->provider->conf.name));
    }
    lx_req_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
    return LX_OK;
}

int lx_ai_models_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, models_body);
}
