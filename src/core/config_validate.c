/* config_validate.c - the checks a loaded configuration must pass before
 * llmux starts (check-config runs them too): group strategies and members,
 * the model aliases' providers, the admin key, provider names, base URLs
 * headers and CA files, the upstream CA file, the database URL's form, the JWT sign-in settings and
 * keys. Each failure names the field. */
#include "core/baseurl.h"
#include "core/config.h"
#include "core/jwt_conf.h"

#include <string.h>
#include <unistd.h>

int lx_config_validate(const lx_config_t *cfg, char *err, size_t errlen)
{
    static const char *const strategies[] = {"round_robin", "smooth_weighted", "weighted_random",
                                             "priority",    "least_latency",   "least_busy",
                                             "lowest_cost"};
    for (int i = 0; i < cfg->ngroups; i++) {
        const lx_group_conf_t *g = &cfg->groups[i];
        bool ok = false;
        for (size_t k = 0; k < LX_ARRAY_LEN(strategies); k++)
            ok = ok || strcmp(g->strategy, strategies[k]) == 0;
        if (!ok)
            return lx_config_fail(
                err, errlen,
                "groups.%s.strategy: one of round_robin, smooth_weighted, "
                "weighted_random, priority, least_latency, least_busy, lowest_cost",
                g->name);
        for (int m = 0; m < g->nmembers; m++)
            if (lx_config_provider(cfg, lx_str(g->members[m].provider)) == NULL)
                return lx_config_fail(err, errlen,
                                      "groups.%s.members[%d].provider: no provider '%s' is "
                                      "configured",
                                      g->name, m, g->members[m].provider);
    }
    for (int i = 0; i < cfg->nmodels; i++) {
        const lx_model_conf_t *m = &cfg->models[i];
        if (lx_config_provider(cfg, lx_str(m->provider)) == NULL)
            return lx_config_fail(err, errlen, "models.%s.provider: no provider '%s' is configured",
                                  m->name, m->provider);
        for (int g = 0; g < cfg->ngroups; g++)
            if (strcmp(cfg->groups[g].name, m->name) == 0)
                return lx_config_fail(err, errlen,
                                      "models.%s: a group has that name (groups.%s); a public "
                                      "name is one or the other",
                                      m->name, m->name);
    }
    if (cfg->admin_key && strlen(cfg->admin_key) < 16)
        return lx_config_fail(err, errlen, "admin_key: must be at least 16 characters");
    for (int i = 0; i < cfg->nproviders; i++) {
        const lx_provider_conf_t *p = &cfg->providers[i];
        if (p->name[0] == '\0')
            return lx_config_fail(err, errlen, "providers: a provider name must not be empty");
        if (p->base_url == NULL || p->base_url[0] == '\0')
            return lx_config_fail(err, errlen, "providers.%s.base_url: required", p->name);
        const char *why = lx_base_url_problem(p->base_url);
        if (why)
            return lx_config_fail(err, errlen, "providers.%s.base_url: %s", p->name, why);
        for (int h = 0; h < p->nheaders; h++) {
            const char *n = p->header_names[h], *v = p->header_values[h];
            size_t nl = strlen(n);
            if (nl == 0 || strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_!#$%&'*+.^`|~") != nl)
                return lx_config_fail(
                    err, errlen, "providers.%s.headers: a name that is not an HTTP token", p->name);
            for (const char *c = v; *c; c++)
                if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                    return lx_config_fail(
                        err, errlen, "providers.%s.headers.%s: must not contain control characters",
                        p->name, n);
        }
        if (p->transport.ca_file && access(p->transport.ca_file, R_OK) != 0)
            return lx_config_fail(err, errlen, "providers.%s.ca_file: cannot read %s", p->name,
                                  p->transport.ca_file);
        for (const char *c = p->name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
                return lx_config_fail(
                    err, errlen, "providers.%s: name may hold only a-z, 0-9, '-' and '_'", p->name);
    }
    if (cfg->upstream_ca_file && access(cfg->upstream_ca_file, R_OK) != 0)
        return lx_config_fail(err, errlen, "upstream.ca_file: cannot read %s",
                              cfg->upstream_ca_file);
    if (cfg->database_url && strncmp(cfg->database_url, "postgres", 8) &&
        strchr(cfg->database_url, '=') == NULL)
        return lx_config_fail(
            err, errlen, "database_url: expected postgresql://... or a key=value conninfo string");
    if (lx_config_tasks_check(cfg, err, errlen) != LX_OK)
        return LX_ERROR;
    /* JWT sign-in: the settings and the keys they name (the JWKS file is read) */
    lx_jwt_keyset_t *ks = NULL;
    lx_jwt_policy_t pol;
    if (lx_jwt_conf_build(cfg, &ks, &pol, err, errlen) != LX_OK)
        return LX_ERROR;
    lx_jwt_keyset_free(ks);
    return LX_OK;
}
