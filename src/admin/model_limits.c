/* model_limits.c - the check of a key's, user's or team's per-model
 * overrides: {"model_limits": {"<model>": {"rpm": 10, "budget_usd": 5}}}.
 *
 * A name is what a client sends as "model" (a catalog name, provider/model,
 * an alias or a group); each entry sets at least one of rpm, rpd, tpm
 * (positive integers) and budget_usd (money; the period is the owner's
 * budget_period). At most ADM_MODEL_LIMITS_MAX entries, so a request's
 * lookup stays a short scan. */
#include "admin/internal.h"
#include "ai/ai.h"

#include <stdio.h>

static const char *const model_limit_fields[] = {"rpm", "rpd", "tpm", "budget_usd"};

bool adm_chk_model_limits(const char *f, const json_t *v, adm_verr_t *e)
{
    if (json_object_size(v) > ADM_MODEL_LIMITS_MAX)
        return adm_verr(e, f, "'%s' has more than %d models", f, ADM_MODEL_LIMITS_MAX);
    const char *model;
    json_t *lim;
    json_object_foreach((json_t *)v, model, lim)
    {
        if (!lx_ai_model_name_valid((lx_str_t){model, strlen(model)}))
            return adm_verr(e, f, "'%s' has a key that is not a valid model name", f);
        if (!json_is_object(lim) || json_object_size(lim) == 0)
            return adm_verr(e, f, "'%s.%s' must be an object with rpm, rpd, tpm or budget_usd", f,
                            model);
        const char *name;
        json_t *val;
        json_object_foreach(lim, name, val)
        {
            char path[320];
            snprintf(path, sizeof path, "%s.%s.%s", f, model, name);
            size_t i = 0;
            while (i < LX_ARRAY_LEN(model_limit_fields) && strcmp(name, model_limit_fields[i]))
                i++;
            if (i == LX_ARRAY_LEN(model_limit_fields))
                return adm_verr(e, f, "'%s' is not a limit (rpm, rpd, tpm, budget_usd)", path);
            bool money = strcmp(name, "budget_usd") == 0;
            if (money && !json_is_number(val))
                return adm_verr(e, f, "'%s' must be a number >= 0", path);
            if (!(money ? adm_chk_money(path, val, e) : adm_chk_positive(path, val, e))) {
                snprintf(e->param, sizeof e->param, "%s", f); /* the field, not the path */
                return false;
            }
        }
    }
    return true;
}
