/* config_models.c - the config file's "models": public model names
 * (aliases) that go upstream under another name.
 *
 *   "models": {"my-chat": {"provider": "openai", "model": "gpt-4o-mini",
 *                          "input_cost_per_1m": 0.2}}
 *
 * Each entry names a configured provider (checked in config_validate.c,
 * once every layer is in) and the upstream model; prices, context window
 * and output limit are optional and otherwise come from the catalog. */
#include "core/config.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The characters a model name may hold (the same rule as the API's). */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("._:/+=@-", *c)))
            return false;
    return true;
}

static int apply_price(double *out, json_t *v, const char *name, const char *key, char *err,
                       size_t errlen)
{
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6 ||
        !isfinite(json_number_value(v)))
        return lx_config_fail(err, errlen, "models.%s.%s: expected a number from 0 to 1000000",
                              name, key);
    *out = json_number_value(v);
    return LX_OK;
}

static int apply_limit(int *out, json_t *v, const char *name, const char *key, char *err,
                       size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000000)
        return lx_config_fail(err, errlen, "models.%s.%s: expected an integer from 1 to 100000000",
                              name, key);
    *out = (int)json_integer_value(v);
    return LX_OK;
}

static int apply_one(lx_model_conf_t *m, const char *name, json_t *o, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int rc = LX_OK;
        if (strcmp(key, "provider") == 0 || strcmp(key, "model") == 0) {
            if (!json_is_string(v))
                return lx_config_fail(err, errlen, "models.%s.%s: expected a string", name, key);
            char **dst = key[0] == 'p' ? &m->provider : &m->model;
            free(*dst);
            *dst = lx_strdup(json_string_value(v));
        } else if (strcmp(key, "input_cost_per_1m") == 0) {
            rc = apply_price(&m->input_per_1m, v, name, key, err, errlen);
        } else if (strcmp(key, "output_cost_per_1m") == 0) {
            rc = apply_price(&m->output_per_1m, v, name, key, err, errlen);
        } else if (strcmp(key, "cached_cost_per_1m") == 0) {
            rc = apply_price(&m->cached_per_1m, v, name, key, err, errlen);
        } else if (strcmp(key, "context_window") == 0) {
            rc = apply_limit(&m->context_window, v, name, key, err, errlen);
        } else if (strcmp(key, "max_output_tokens") == 0) {
            rc = apply_limit(&m->max_output, v, name, key, err, errlen);
        } else {
            return lx_config_fail(err, errlen, "models.%s.%s: unknown setting", name, key);
        }
        if (rc != LX_OK)
            return LX_ERROR;
    }
    if (m->provider == NULL)
        return lx_config_fail(err, errlen, "models.%s.provider: required", name);
    if (m->model == NULL)
        return lx_config_fail(err, errlen, "models.%s.model: required", name);
    if (!name_ok(m->model))
        return lx_config_fail(err, errlen,
                              "models.%s.model: must be 1..200 characters of A-Z a-z 0-9 . _ : / "
                              "+ = @ -",
                              name);
    return LX_OK;
}

int lx_config_apply_models_json(lx_config_t *cfg, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return lx_config_fail(err, errlen, "models: expected an object keyed by public model name");
    const char *name;
    json_t *o;
    json_object_foreach(obj, name, o)
    {
        if (!name_ok(name))
            return lx_config_fail(err, errlen,
                                  "models.%s: a public name must be 1..200 characters of A-Z a-z "
                                  "0-9 . _ : / + = @ -",
                                  name);
        if (!json_is_object(o))
            return lx_config_fail(err, errlen,
                                  "models.%s: expected an object {\"provider\": ..., \"model\": "
                                  "...}",
                                  name);
        if (cfg->nmodels == LX_MAX_MODEL_ALIASES)
            return lx_config_fail(err, errlen, "models: at most %d models", LX_MAX_MODEL_ALIASES);
        lx_model_conf_t *m = &cfg->models[cfg->nmodels++];
        *m = (lx_model_conf_t){.name = lx_strdup(name),
                               .context_window = -1,
                               .max_output = -1,
                               .input_per_1m = -1,
                               .output_per_1m = -1,
                               .cached_per_1m = -1};
        if (apply_one(m, name, o, err, errlen) != LX_OK)
            return LX_ERROR;
    }
    return LX_OK;
}

void lx_config_models_free(lx_config_t *cfg)
{
    for (int i = 0; i < cfg->nmodels; i++) {
        free(cfg->models[i].name);
        free(cfg->models[i].provider);
        free(cfg->models[i].model);
    }
    cfg->nmodels = 0;
}
