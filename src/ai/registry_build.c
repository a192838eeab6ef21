/* registry_build.c - a snapshot built from the database's rows or from the
 * configuration, its lookup indexes, and its freeing. Runs off the loop
 * threads (the control thread, or start-up): it allocates, and may grow the
 * lock-free routing state table. What it returns is not shared yet: the
 * caller publishes it (registry_live.c). */
#include "ai/registry_build.h"
#include "ai/catalog.h"
#include "core/log.h"
#include "core/sealed_headers.h"
#include "core/secret.h"
#include "ai/routing/state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

void lx_snapshot_free(lx_snapshot_t *s)
{
    for (int i = 0; i < s->nproviders; i++) {
        lx_provider_t *p = &s->providers[i];
        free(p->conf.name);
        free(p->conf.base_url);
        for (int h = 0; h < p->conf.nheaders; h++) {
            free(p->conf.header_names[h]);
            explicit_bzero(p->conf.header_values[h], strlen(p->conf.header_values[h]));
            free(p->conf.header_values[h]);
        }
        for (int c = 0; c < p->ncreds; c++) {
            free(p->creds[c].name);
            if (p->creds[c].api_key) {
                explicit_bzero(p->creds[c].api_key, strlen(p->creds[c].api_key));
                free(p->creds[c].api_key);
            }
        }
        free(p->creds);
        free(p->jobs);
        lx_transport_free(&p->conf.transport);
    }
    for (int i = 0; i < s->nmodels; i++) {
        free(s->models[i].upstream_name);
        free(s->models[i].public_name);
        free(s->models[i].full_name);
        free(s->models[i].upstream_full);
    }
    for (int i = 0; i < s->ngroups; i++) {
        lx_group_entry_t *g = &s->groups[i];
        lx_group_free(&g->sel);
        free(g->targets);
        free(g->name);
    }
    free(s->groups);
    lx_strmap_free(&s->group_by_name);
    lx_strmap_free(&s->provider_by_name);
    lx_strmap_free(&s->model_by_full);
    lx_strmap_free(&s->model_by_upstream);
    lx_strmap_free(&s->model_by_public);
    for (int i = 0; i < s->nkeys; i++) {
        for (int a = 0; a < s->keys[i].nallowed; a++)
            free(s->keys[i].allowed[a]);
        free(s->keys[i].allowed);
        lx_model_limits_free(&s->keys[i].ml);
    }
    lx_snapshot_free_principals(s);
    free(s->providers);
    free(s->models);
    free(s->keys);
    free(s);
}

/* The lookup indexes: built once per snapshot so that a request's lookups
 * cost a hash each, whatever the size of the catalog. */
static void index_snapshot(lx_snapshot_t *s)
{
    lx_strmap_init(&s->provider_by_name, (size_t)s->nproviders);
    for (int i = 0; i < s->nproviders; i++)
        lx_strmap_put(&s->provider_by_name, s->providers[i].conf.name,
                      strlen(s->providers[i].conf.name), i);
    lx_strmap_init(&s->group_by_name, (size_t)s->ngroups);
    for (int i = 0; i < s->ngroups; i++)
        if (s->groups[i].active && s->groups[i].ntargets > 0)
            lx_strmap_put(&s->group_by_name, s->groups[i].name, strlen(s->groups[i].name), i);
    lx_strmap_init(&s->model_by_full, (size_t)s->nmodels);
    lx_strmap_init(&s->model_by_upstream, (size_t)s->nmodels);
    lx_strmap_init(&s->model_by_public, (size_t)s->nmodels);
    for (int i = 0; i < s->nmodels; i++) {
        lx_model_t *m = &s->models[i];
        lx_buf_t full, up;
        lx_buf_init(&full, 64);
        lx_buf_printf(&full, "%s/%s", m->provider->conf.name, m->public_name);
        m->full_name = full.p;
        lx_strmap_put(&s->model_by_full, m->full_name, full.n, i);
        lx_buf_init(&up, 64);
        lx_buf_printf(&up, "%s/%s", m->provider->conf.name, m->upstream_name);
        m->upstream_full = up.p;
        if (m->active && m->provider->active)
            lx_strmap_put(&s->model_by_public, m->public_name, strlen(m->public_name), i);
    }
    /* an upstream name finds its own entry first (the first wins), then an
     * alias of it */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < s->nmodels; i++) {
            lx_model_t *m = &s->models[i];
            if ((strcmp(m->public_name, m->upstream_name) == 0) == (pass == 0))
                lx_strmap_put(&s->model_by_upstream, m->upstream_full, strlen(m->upstream_full), i);
        }
}
int lx_apikey_cmp(const void *a, const void *b)
{
    return memcmp(((const lx_apikey_t *)a)->hash, ((const lx_apikey_t *)b)->hash, 32);
}

static void set_active_key(lx_provider_t *p)
{
    p->conf.api_key = NULL;
    for (int c = 0; c < p->ncreds; c++) {
        if (p->creds[c].active) {
            p->conf.api_key = p->creds[c].api_key;
            return;
        }
    }
}

/* Splits Postgres array text {a,b,"c d"} into strings (no escapes needed for
 * the values llmux stores: model names and capability words). */
static int split_array(const char *text, char ***out)
{
    *out = NULL;
    if (text == NULL || text[0] != '{')
        return 0;
    int n = 0, cap = 0;
    const char *p = text + 1;
    while (*p && *p != '}') {
        const char *start = p;
        bool quoted = *p == '"';
        if (quoted)
            start = ++p;
        while (*p && (quoted ? *p != '"' : (*p != ',' && *p != '}')))
            p++;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = lx_realloc(*out, (size_t)cap * sizeof **out);
        }
        (*out)[n++] = lx_strndup(start, (size_t)(p - start));
        if (quoted && *p == '"')
            p++;
        if (*p == ',')
            p++;
    }
    return n;
}

static unsigned caps_from_array(const char *text)
{
    char **words;
    int n = split_array(text, &words);
    unsigned caps = 0;
    for (int i = 0; i < n; i++) {
        caps |= lx_cap_from_name(words[i]);
        free(words[i]);
    }
    free(words);
    return caps;
}

static const lx_provider_t *provider_by_id(const lx_snapshot_t *s, int64_t id)
{
    for (int k = 0; k < s->nproviders; k++)
        if (s->providers[k].id == id)
            return &s->providers[k];
    return NULL;
}

static const lx_credential_t *member_credential(const lx_provider_t *p, int64_t cred_id)
{
    for (int c = 0; c < p->ncreds; c++)
        if (p->creds[c].id == cred_id)
            return &p->creds[c];
    for (int c = 0; c < p->ncreds; c++)
        if (p->creds[c].active)
            return &p->creds[c];
    return NULL;
}

/* Groups and their strategy selectors. Runs on the control thread: the
 * lock-free state table may be grown here, never on a request. */
static void build_groups(lx_snapshot_t *s, const lx_registry_rows_t *rows)
{
    s->groups = lx_calloc((size_t)rows->ngroups + 1, sizeof *s->groups);
    for (int i = 0; i < rows->ngroups; i++) {
        const lx_group_row_t *gr = &rows->groups[i];
        lx_strategy_t strategy;
        if (lx_strategy_parse(lx_str(gr->strategy), &strategy) != LX_OK)
            continue;
        lx_group_entry_t *g = &s->groups[s->ngroups];
        int n = 0;
        for (int m = 0; m < rows->nmembers; m++)
            n += rows->members[m].group_id == gr->id;
        if (n == 0 || n > 256)
            continue;
        g->targets = lx_calloc((size_t)n, sizeof *g->targets);
        lx_member_t *members = lx_calloc((size_t)n, sizeof *members);
        for (int m = 0; m < rows->nmembers; m++) {
            const lx_member_row_t *mr = &rows->members[m];
            const lx_provider_t *p =
                mr->group_id == gr->id ? provider_by_id(s, mr->provider_id) : NULL;
            if (p == NULL)
                continue;
            lx_target_t *t = &g->targets[g->ntargets];
            t->prov = p;
            t->cred = member_credential(p, mr->connection_id);
            lx_copy_cstr(t->upstream_model, sizeof t->upstream_model, mr->upstream_name);
            t->conf = p->conf;
            t->conf.api_key = t->cred ? t->cred->api_key : NULL;
            t->model = NULL; /* the model index is built at publish: scan */
            for (int k = 0; k < s->nmodels; k++) {
                const lx_model_t *cand = &s->models[k];
                if (cand->provider != p || strcmp(cand->upstream_name, t->upstream_model) != 0)
                    continue;
                /* the upstream model's own entry, else the first alias of it */
                if (t->model == NULL || strcmp(cand->public_name, cand->upstream_name) == 0)
                    t->model = cand;
                if (strcmp(cand->public_name, cand->upstream_name) == 0)
                    break;
            }
            members[g->ntargets] = (lx_member_t){
                .target = t,
                .cred_id = t->cred ? t->cred->id : 0,
                .weight = mr->weight,
                .priority = mr->priority,
                .cost = t->model ? t->model->input_per_1m + t->model->output_per_1m : 0,
                .rpm = t->cred ? t->cred->rate_limit_per_minute : 0,
                .rpd = t->cred ? t->cred->rate_limit_per_day : 0,
                .cred = t->cred ? lx_cred_state_get(t->cred->id) : NULL,
                .dep = t->cred ? lx_deploy_state_get(t->cred->id, lx_str(t->upstream_model)) : NULL,
                .stats = lx_member_state_get(gr->id, g->ntargets),
            };
            t->state = members[g->ntargets].cred;
            t->dep = members[g->ntargets].dep;
            t->stats = members[g->ntargets].stats;
            g->ntargets++;
        }
        if (g->ntargets == 0 || lx_group_init(&g->sel, strategy, members, g->ntargets) != LX_OK) {
            free(g->targets);
            free(members);
            memset(g, 0, sizeof *g);
            continue;
        }
        free(members); /* lx_group_init copied them */
        lx_group_use_state(&g->sel, lx_group_state_get(gr->id));
        g->id = gr->id;
        g->name = lx_strdup(gr->name);
        g->active = strcmp(gr->status, "active") == 0;
        s->ngroups++;
    }
}

lx_snapshot_t *lx_snapshot_from_rows(const lx_config_t *cfg, const lx_registry_rows_t *rows)
{
    lx_snapshot_t *s = lx_calloc(1, sizeof *s);
    s->from_db = true;
    s->providers = lx_calloc((size_t)rows->nproviders + 1, sizeof *s->providers);
    for (int i = 0; i < rows->nproviders; i++) {
        const lx_provider_row_t *r = &rows->providers[i];
        lx_provider_t *p = &s->providers[s->nproviders];
        if (lx_provider_kind_parse(r->kind, &p->conf.kind) != LX_OK)
            continue; /* kinds this build cannot serve (e.g. video) */
        s->nproviders++;
        p->id = r->id;
        p->active = strcmp(r->status, "active") == 0;
        p->conf.name = lx_strdup(r->name);
        p->conf.base_url = lx_strdup(r->base_url);
        p->jobs = r->jobs ? lx_strdup(r->jobs) : NULL;
        char why[200]; /* settings are checked by the admin API: a bad value is left out */
        if (lx_transport_apply_text(&p->conf.transport, r->settings, why, sizeof why) != LX_OK)
            lx_log_warn("provider setting ignored", "\"provider\":\"%s\"", r->name);
        if (!lx_headers_json_empty(r->extra_headers)) { /* not sealed yet: no master key */
            lx_headers_add_from_json(&p->conf, r->extra_headers);
        } else if (r->headers_sealed.n) {
            lx_buf_t plain;
            lx_buf_init(&plain, 0);
            if (lx_headers_open(cfg, r->id, r->headers_sealed.p, r->headers_sealed.n, &plain) ==
                LX_OK) {
                lx_headers_add_from_json(&p->conf, plain.p);
            } else {
                /* without its headers (maybe its proxy's token) the provider
                 * is not called at all */
                p->active = false;
                lx_log_error("provider extra headers do not open with the master key",
                             "\"provider\":\"%s\"", r->name);
            }
            if (plain.p)
                explicit_bzero(plain.p, plain.cap);
            lx_buf_free(&plain);
        }
        const int *t = r->timeouts_ms;
        p->conf.timeouts.connect_ms = t[0] ? t[0] : cfg->upstream.connect_ms;
        p->conf.timeouts.first_byte_ms = t[1] ? t[1] : cfg->upstream.first_byte_ms;
        p->conf.timeouts.idle_ms = t[2] ? t[2] : cfg->upstream.idle_ms;
        p->conf.timeouts.total_ms = t[3] ? t[3] : cfg->upstream.total_ms;
        for (int c = 0; c < rows->nconnections; c++) {
            const lx_connection_row_t *cr = &rows->connections[c];
            if (cr->provider_id != r->id)
                continue;
            p->creds = lx_realloc(p->creds, (size_t)(p->ncreds + 1) * sizeof *p->creds);
            lx_credential_t *cred = &p->creds[p->ncreds++];
            memset(cred, 0, sizeof *cred);
            cred->id = cr->id;
            cred->name = lx_strdup(cr->name);
            cred->priority = cr->priority;
            cred->weight = cr->weight;
            cred->rate_limit_per_minute = cr->rate_limit_per_minute;
            cred->rate_limit_per_day = cr->rate_limit_per_day;
            cred->active = strcmp(cr->status, "disabled") != 0;
            if (cr->credential.n) {
                char aad[64];
                lx_credential_aad(cr->id, aad, sizeof aad);
                lx_buf_t plain;
                lx_buf_init(&plain, 0);
                if ((cfg->has_master_key &&
                     lx_secret_open(cfg->master_key, aad, cr->credential.p, cr->credential.n,
                                    &plain, NULL) == LX_OK) ||
                    (cfg->has_master_key_old &&
                     lx_secret_open(cfg->master_key_old, aad, cr->credential.p, cr->credential.n,
                                    &plain, NULL) == LX_OK)) {
                    cred->api_key = plain.p; /* ownership moves to the snapshot */
                } else {
                    lx_buf_free(&plain);
                    cred->active = false;
                    lx_log_error("credential does not open with the master key",
                                 "\"connection_id\":%lld,\"provider\":\"%s\"", (long long)cr->id,
                                 r->name);
                }
            }
        }
        set_active_key(p);
    }
    s->models = lx_calloc((size_t)rows->nmodels + 1, sizeof *s->models);
    for (int i = 0; i < rows->nmodels; i++) {
        const lx_model_row_t *r = &rows->models[i];
        const lx_provider_t *prov = NULL;
        for (int k = 0; k < s->nproviders; k++)
            if (s->providers[k].id == r->provider_id)
                prov = &s->providers[k];
        if (prov == NULL)
            continue;
        lx_model_t *m = &s->models[s->nmodels++];
        m->id = r->id;
        m->provider = prov;
        m->upstream_name = lx_strdup(r->upstream_name);
        m->public_name = lx_strdup(r->public_name);
        m->caps = caps_from_array(r->capabilities);
        m->context_window = r->context_window;
        m->max_output = r->max_output;
        m->input_per_1m = r->input_per_1m;
        m->output_per_1m = r->output_per_1m;
        m->cached_per_1m = r->cached_per_1m;
        m->unit_cost = r->unit_cost;
        m->active = strcmp(r->status, "active") == 0;
    }
    lx_snapshot_build_principals(s, rows); /* before the keys: they point at their overrides */
    s->keys = lx_calloc((size_t)rows->nkeys + 1, sizeof *s->keys);
    for (int i = 0; i < rows->nkeys; i++) {
        const lx_key_row_t *r = &rows->keys[i];
        lx_apikey_t *k = &s->keys[s->nkeys++];
        k->id = r->id;
        memcpy(k->hash, r->hash, 32);
        snprintf(k->label, sizeof k->label, "key_%lld", (long long)r->id);
        k->active = strcmp(r->status, "active") == 0;
        k->expires_ms = r->expires_ms;
        if (r->allowed_models)
            k->nallowed = split_array(r->allowed_models, &k->allowed);
        if (r->allowed_models && k->nallowed == 0)
            k->allowed = lx_calloc(1, sizeof *k->allowed); /* {}: nothing allowed */
        if (r->rpm > 0 || r->rpd > 0 || r->tpm > 0 || r->max_parallel > 0)
            k->allow.s[0] = lx_allow_get_all('k', r->id, r->rpm, r->rpd, r->tpm, r->max_parallel);
        if (r->user_id &&
            (r->user_rpm > 0 || r->user_rpd > 0 || r->user_tpm > 0 || r->user_max_parallel > 0))
            k->allow.s[1] = lx_allow_get_all('u', r->user_id, r->user_rpm, r->user_rpd, r->user_tpm,
                                             r->user_max_parallel);
        if (r->team_id &&
            (r->team_rpm > 0 || r->team_rpd > 0 || r->team_tpm > 0 || r->team_max_parallel > 0))
            k->allow.s[2] = lx_allow_get_all('t', r->team_id, r->team_rpm, r->team_rpd, r->team_tpm,
                                             r->team_max_parallel);
        /* Spend is tracked for every key, user and team (spend_usd). */
        const int64_t ids[3] = {r->id, r->user_id, r->team_id};
        for (int b = 0; b < 3; b++)
            if (ids[b])
                k->spend.s[b] =
                    lx_spend_get("kut"[b], ids[b], r -> has_budget[b] ? r -> budget[b] : -1,
                                 lx_period_parse(r->budget_period[b]));
        lx_model_limits_build(&k->ml, r->model_limits, 'k', r->id,
                              lx_period_parse(r->budget_period[0]));
        const lx_principal_t *u = r->user_id ? lx_snapshot_user_by_id(s, r->user_id) : NULL;
        const lx_principal_t *t = r->team_id ? lx_snapshot_team_by_id(s, r->team_id) : NULL;
        k->mls[1] = u && u->ml.n ? &u->ml : NULL;
        k->mls[2] = t && t->ml.n ? &t->ml : NULL;
    }
    qsort(s->keys, (size_t)s->nkeys, sizeof *s->keys, lx_apikey_cmp);
    for (int i = 0; i < s->nkeys; i++) /* after the sort: the key's own, where it now is */
        s->keys[i].mls[0] = s->keys[i].ml.n ? &s->keys[i].ml : NULL;
    build_groups(s, rows);
    index_snapshot(s);
    return s;
}

/* A config file alias as a catalog row: the catalog's entry for its
 * upstream model (if it has one), with the alias's own values over it. An
 * upstream model the catalog does not know can do what its provider can. */
lx_model_info_t lx_alias_info(const lx_config_t *cfg, const lx_model_conf_t *mc)
{
    lx_model_info_t info = {.provider = mc->provider, .name = mc->model};
    const lx_provider_conf_t *pc = lx_config_provider(cfg, lx_str(mc->provider));
    info.caps = pc ? lx_provider_caps(pc->kind) : LX_CAP_CHAT | LX_CAP_STREAM;
    for (size_t i = 0; i < lx_catalog_len; i++)
        if (strcmp(lx_catalog[i].provider, mc->provider) == 0 &&
            strcmp(lx_catalog[i].name, mc->model) == 0)
            info = lx_catalog[i];
    if (mc->context_window > 0)
        info.context_window = mc->context_window;
    if (mc->max_output > 0)
        info.max_output = mc->max_output;
    if (mc->input_per_1m >= 0)
        info.input_per_1m = mc->input_per_1m;
    if (mc->output_per_1m >= 0)
        info.output_per_1m = mc->output_per_1m;
    if (mc->cached_per_1m >= 0)
        info.cached_per_1m = mc->cached_per_1m;
    return info;
}

/* Without a database: the configured providers and their catalog models. */
static const lx_provider_t *provider_named(const lx_snapshot_t *s, const char *name)
{
    for (int i = 0; i < s->nproviders; i++)
        if (strcmp(s->providers[i].conf.name, name) == 0)
            return &s->providers[i];
    return NULL;
}

lx_snapshot_t *lx_snapshot_from_config(const lx_config_t *cfg)
{
    lx_snapshot_t *s = lx_calloc(1, sizeof *s);
    s->providers = lx_calloc((size_t)cfg->nproviders + 1, sizeof *s->providers);
    s->models = lx_calloc(lx_catalog_len + (size_t)cfg->nmodels + 1, sizeof *s->models);
    for (int i = 0; i < cfg->nproviders; i++) {
        const lx_provider_conf_t *c = &cfg->providers[i];
        lx_provider_t *p = &s->providers[s->nproviders++];
        p->id = i + 1;
        p->active = true;
        p->conf = *c;
        lx_transport_copy(&p->conf.transport, &c->transport);
        p->conf.name = lx_strdup(c->name);
        p->conf.base_url = lx_strdup(c->base_url);
        for (int h = 0; h < c->nheaders; h++) {
            p->conf.header_names[h] = lx_strdup(c->header_names[h]);
            p->conf.header_values[h] = lx_strdup(c->header_values[h]);
        }
        if (c->api_key) {
            p->creds = lx_calloc(1, sizeof *p->creds);
            p->ncreds = 1;
            p->creds[0] = (lx_credential_t){.id = i + 1,
                                            .name = lx_strdup("config"),
                                            .api_key = lx_strdup(c->api_key),
                                            .weight = 1,
                                            .active = true};
        }
        set_active_key(p);
    }
    for (size_t i = 0; i < lx_catalog_len; i++) {
        const lx_model_info_t *info = &lx_catalog[i];
        const lx_provider_t *prov = NULL;
        for (int k = 0; k < s->nproviders; k++)
            if (strcmp(s->providers[k].conf.name, info->provider) == 0)
                prov = &s->providers[k];
        if (prov == NULL)
            continue;
        lx_model_t *m = &s->models[s->nmodels++];
        *m = (lx_model_t){.id = (int64_t)i + 1,
                          .provider = prov,
                          .upstream_name = lx_strdup(info->name),
                          .public_name = lx_strdup(info->name),
                          .caps = info->caps,
                          .context_window = info->context_window,
                          .max_output = info->max_output,
                          .input_per_1m = info->input_per_1m,
                          .output_per_1m = info->output_per_1m,
                          .cached_per_1m = info->cached_per_1m,
                          .active = true};
    }
    /* the config file's aliases; one that names a catalog entry's public
     * name replaces that entry (as the database sync does) */
    for (int i = 0; i < cfg->nmodels; i++) {
        const lx_model_conf_t *mc = &cfg->models[i];
        const lx_provider_t *prov = provider_named(s, mc->provider);
        if (prov == NULL)
            continue;
        lx_model_info_t info = lx_alias_info(cfg, mc);
        lx_model_t *m = NULL;
        for (int k = 0; k < s->nmodels && m == NULL; k++)
            if (s->models[k].provider == prov && strcmp(s->models[k].public_name, mc->name) == 0)
                m = &s->models[k];
        if (m) {
            free(m->upstream_name);
            free(m->public_name);
        } else {
            m = &s->models[s->nmodels++];
        }
        *m = (lx_model_t){.id = (int64_t)(lx_catalog_len + (size_t)i) + 1,
                          .provider = prov,
                          .upstream_name = lx_strdup(mc->model),
                          .public_name = lx_strdup(mc->name),
                          .caps = info.caps,
                          .context_window = info.context_window,
                          .max_output = info.max_output,
                          .input_per_1m = info.input_per_1m,
                          .output_per_1m = info.output_per_1m,
                          .cached_per_1m = info.cached_per_1m,
                          .active = true};
    }
    /* groups from the config file, as rows (provider ids are index + 1) */
    lx_registry_rows_t rows = {0};
    rows.groups = lx_calloc((size_t)cfg->ngroups + 1, sizeof *rows.groups);
    int nm = 0;
    for (int i = 0; i < cfg->ngroups; i++)
        nm += cfg->groups[i].nmembers;
    rows.members = lx_calloc((size_t)nm + 1, sizeof *rows.members);
    for (int i = 0; i < cfg->ngroups; i++) {
        const lx_group_conf_t *g = &cfg->groups[i];
        rows.groups[rows.ngroups++] =
            (lx_group_row_t){i + 1, g->name, g->strategy, (char *)"active"};
        for (int m = 0; m < g->nmembers; m++) {
            const lx_provider_t *p = provider_named(s, g->members[m].provider);
            if (p == NULL)
                continue;
            rows.members[rows.nmembers++] = (lx_member_row_t){
                rows.nmembers + 1,     i + 1, p->id, 0, g->members[m].model, g->members[m].weight,
                g->members[m].priority};
        }
    }
    build_groups(s, &rows);
    free(rows.groups);
    free(rows.members);
    index_snapshot(s);
    return s;
}
