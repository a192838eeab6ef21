/* models.c - GET /v1/models and GET /v1/models/{id}: every name the
 * caller's key may use, in OpenAI's shapes.
 *
 * The names: each active model of an active provider as provider/public
 * name and as its bare public name (a catalog name or an alias), each
 * active group, and the entries of the key's allow-list that resolve. A
 * name is listed once, and only if a request for it would be routed
 * (lx_resolve_model) and the key allows it exactly as written. An id the
 * key may not use is answered like an unknown one: 404. */
#include "ai/handlers.h"
#include "core/strmap.h"

typedef struct {
    lx_strmap_t seen;
    const lx_snapshot_t *snap;
    const lx_apikey_t *key; /* NULL: the admin key */
    lx_str_t want;          /* retrieve: the one id sought; else list */
    json_t *data;           /* list: the objects; retrieve: the one found */
} names_t;

static json_t *model_obj(const char *id, const char *owner)
{
    return json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model", "created", 0, "owned_by",
                     owner);
}

/* Adds name if the key may use it and a request for it would be routed.
 * The map keeps the pointer: name lives in the snapshot. */
static void offer(names_t *nm, const char *name)
{
    lx_str_t s = lx_str(name);
    if (nm->want.p && !lx_str_eq_cstr(nm->want, name))
        return;
    if (lx_strmap_get(&nm->seen, s) >= 0)
        return;
    if (nm->key && !lx_apikey_allows(nm->key, s))
        return;
    lx_resolved_t t;
    if (lx_resolve_model(nm->snap, s, &t) != LX_RESOLVE_OK)
        return;
    if (t.model && !t.group && (!t.model->active || !t.model->provider->active))
        return; /* a disabled model's names */
    lx_strmap_put(&nm->seen, name, s.n, 0);
    json_t *o = model_obj(name, t.group ? "llmux" : t.prov->conf.name);
    if (nm->want.p) {
        nm->data = o;
        return;
    }
    json_array_append_new(nm->data, o);
}

static void collect(names_t *nm)
{
    const lx_snapshot_t *snap = nm->snap;
    size_t cap = (size_t)snap->nmodels * 2 + (size_t)snap->ngroups + 1;
    if (nm->key)
        cap += (size_t)nm->key->nallowed;
    lx_strmap_init(&nm->seen, cap);
    for (int i = 0; i < snap->ngroups; i++)
        if (snap->groups[i].active && snap->groups[i].ntargets > 0)
            offer(nm, snap->groups[i].name);
    for (int i = 0; i < snap->nmodels; i++) {
        const lx_model_t *m = &snap->models[i];
        if (!m->active || !m->provider->active)
            continue;
        offer(nm, m->full_name);
        offer(nm, m->public_name);
    }
    /* names the key was given that the catalog does not list (a model a
     * provider serves that llmux has no row for) */
    for (int i = 0; nm->key && i < nm->key->nallowed; i++)
        offer(nm, nm->key->allowed[i]);
    lx_strmap_free(&nm->seen);
}

static int models_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    names_t nm = {.snap = a->snap, .key = a->key, .data = json_array()};
    collect(&nm);
    lx_req_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", nm.data));
    return LX_OK;
}

int lx_ai_models_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, models_body);
}

/* The id from the path after /v1/models/, percent-decoded (SDKs send
 * "demo%2Fmock-model"). False if it is not a model name. */
static bool path_id(lx_str_t path, char *out, size_t outlen)
{
    static const char prefix[] = "/v1/models/";
    size_t n = 0, i = sizeof prefix - 1;
    if (path.n <= i)
        return false;
    for (; i < path.n; i++) {
        char c = path.p[i];
        if (c == '%') {
            int hi = i + 2 < path.n ? lx_hex_digit(path.p[i + 1]) : -1;
            int lo = hi >= 0 ? lx_hex_digit(path.p[i + 2]) : -1;
            if (lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= outlen)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return lx_ai_model_name_valid((lx_str_t){out, n});
}

static int model_get_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    char id[256];
    names_t nm = {.snap = a->snap, .key = a->key};
    bool valid = path_id(lx_req_path(req), id, sizeof id);
    if (valid) {
        nm.want = lx_str(id);
        collect(&nm);
    }
    if (nm.data == NULL) {
        lx_outcome_t o;
        lx_outcome_fail(&o, LX_SIDE_CLIENT, 0, LX_E_MODEL_NOT_FOUND, "model",
                        "The model '%s' does not exist or you do not have access to it.",
                        valid ? id : "(not a model name)");
        lx_ai_refuse(ai, req, a, &o);
        return LX_OK;
    }
    lx_req_reply_json(req, 200, nm.data);
    return LX_OK;
}

int lx_ai_model_get_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, model_get_body);
}
