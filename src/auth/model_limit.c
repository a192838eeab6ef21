/* model_limit.c - per-model overrides: parsing and matching (model_limit.h). */
#include "auth/model_limit.h"

#include <jansson.h>
#include <stdlib.h>

static int int_of(const json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 && v <= INT32_MAX ? (int)v : 0;
}

void lx_model_limits_build(lx_model_limits_t *out, const char *json, char kind, int64_t id,
                           lx_period_t period)
{
    memset(out, 0, sizeof *out);
    if (json == NULL || json[0] == '\0' || strcmp(json, "{}") == 0)
        return;
    json_t *root = json_loads(json, 0, NULL);
    if (!json_is_object(root) || json_object_size(root) == 0) {
        json_decref(root);
        return;
    }
    out->v = lx_calloc(json_object_size(root), sizeof *out->v);
    const char *name;
    json_t *lim;
    json_object_foreach(root, name, lim)
    {
        if (!json_is_object(lim))
            continue;
        lx_model_limit_t *e = &out->v[out->n++];
        e->name = lx_strdup(name);
        e->n = strlen(name);
        e->rpm = int_of(lim, "rpm");
        e->rpd = int_of(lim, "rpd");
        e->tpm = int_of(lim, "tpm");
        json_t *b = json_object_get(lim, "budget_usd");
        e->budget_usd = json_is_number(b) ? json_number_value(b) : -1;
        if (e->rpm || e->rpd || e->tpm)
            e->allow = lx_allow_get_model(kind, id, name, e->rpm, e->rpd, e->tpm);
        e->spend = lx_spend_get_model(kind, id, name, e->budget_usd, period);
    }
    json_decref(root);
}

void lx_model_limits_free(lx_model_limits_t *ml)
{
    for (int i = 0; i < ml->n; i++)
        free(ml->v[i].name);
    free(ml->v);
    memset(ml, 0, sizeof *ml);
}

static bool is(const lx_model_limit_t *e, const char *p, size_t n)
{
    return e->n == n && memcmp(e->name, p, n) == 0;
}

const lx_model_limit_t *lx_model_limits_match(const lx_model_limits_t *ml, lx_str_t sent,
                                              const char *full, const char *public_name)
{
    if (ml == NULL || ml->n == 0)
        return NULL;
    const lx_model_limit_t *by_full = NULL, *by_public = NULL;
    size_t fn = full ? strlen(full) : 0, pn = public_name ? strlen(public_name) : 0;
    for (int i = 0; i < ml->n; i++) {
        const lx_model_limit_t *e = &ml->v[i];
        if (is(e, sent.p, sent.n))
            return e;
        if (by_full == NULL && full && is(e, full, fn))
            by_full = e;
        else if (by_public == NULL && public_name && is(e, public_name, pn))
            by_public = e;
    }
    return by_full ? by_full : by_public;
}
