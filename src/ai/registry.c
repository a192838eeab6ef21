/* registry.c - snapshots: build, publish, reclaim; and the control thread
 * that keeps them in step with the database. */
#include "ai/registry.h"
#include "ai/catalog.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/sealed_headers.h"
#include "core/secret.h"
#include "db/store.h"
#include "ai/routing/state.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define GRACE_MS 2000

typedef struct retired {
    lx_snapshot_t *snap;
    int64_t at_ms;
    struct retired *next;
} retired_t;

static struct {
    const lx_config_t *cfg;
    _Atomic(lx_snapshot_t *) current;
    _Atomic bool db_ok;
    _Atomic bool stop;
    _Atomic uint64_t version;
    bool thread_started;
    pthread_t thread;
    retired_t *retired; /* control thread only */
} R;

/* ---- snapshot lifetime ---- */

static void snapshot_free(lx_snapshot_t *s)
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
        for (int k = 0; k < g->ntargets; k++)
            free(g->targets[k].upstream_name);
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
    }
    free(s->providers);
    free(s->models);
    free(s->keys);
    free(s);
}

lx_snapshot_t *lx_registry_acquire(void)
{
    lx_snapshot_t *s = atomic_load_explicit(&R.current, memory_order_acquire);
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void lx_registry_release(lx_snapshot_t *s)
{
    if (s)
        atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release);
}

/* Control thread (or start-up): frees replaced snapshots no one holds. */
static void reclaim(bool all)
{
    int64_t now = lx_wall_ms();
    retired_t **pp = &R.retired;
    while (*pp) {
        retired_t *r = *pp;
        if (atomic_load_explicit(&r->snap->refs, memory_order_acquire) == 0 &&
            (all || now - r->at_ms > GRACE_MS)) {
            *pp = r->next;
            snapshot_free(r->snap);
            free(r);
        } else {
            pp = &r->next;
        }
    }
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

static void publish(lx_snapshot_t *s)
{
    index_snapshot(s);
    s->version = atomic_fetch_add(&R.version, 1) + 1;
    atomic_store_explicit(&s->refs, 0, memory_order_relaxed);
    lx_snapshot_t *old = atomic_exchange_explicit(&R.current, s, memory_order_acq_rel);
    if (old) {
        retired_t *r = lx_calloc(1, sizeof *r);
        r->snap = old;
        r->at_ms = lx_wall_ms();
        r->next = R.retired;
        R.retired = r;
    }
    reclaim(false);
    lx_log_info("registry published",
                "\"version\":%llu,\"providers\":%d,\"models\":%d,\"keys\":%d,\"source\":\"%s\","
                "\"build_us\":%lld",
                (unsigned long long)s->version, s->nproviders, s->nmodels, s->nkeys,
                s->from_db ? "database" : "config", (long long)s->build_us);
}

/* ---- building ---- */

static int key_cmp(const void *a, const void *b)
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

static void headers_from_json(lx_provider_conf_t *conf, const char *text)
{
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (conf->nheaders == LX_MAX_EXTRA_HEADERS || !json_is_string(v))
            break;
        conf->header_names[conf->nheaders] = lx_strdup(k);
        conf->header_values[conf->nheaders++] = lx_strdup(json_string_value(v));
    }
    json_decref(o);
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
            lx_group_target_t *t = &g->targets[g->ntargets];
            t->prov = p;
            t->cred = member_credential(p, mr->connection_id);
            t->upstream_name = lx_strdup(mr->upstream_name);
            t->model = NULL; /* the model index is built at publish: scan */
            for (int k = 0; k < s->nmodels; k++) {
                const lx_model_t *cand = &s->models[k];
                if (cand->provider != p || strcmp(cand->upstream_name, mr->upstream_name) != 0)
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
                .dep = t->cred ? lx_deploy_state_get(t->cred->id, lx_str(t->upstream_name)) : NULL,
                .stats = lx_member_state_get(gr->id, g->ntargets),
            };
            g->ntargets++;
        }
        if (g->ntargets == 0 || lx_group_init(&g->sel, strategy, members, g->ntargets) != LX_OK) {
            for (int k = 0; k < g->ntargets; k++)
                free(g->targets[k].upstream_name);
            free(g->targets);
            free(members);
            memset(g, 0, sizeof *g);
            continue;
        }
        free(members); /* lx_group_init copied them */
        lx_group_share_cursor(&g->sel, gr->id);
        g->id = gr->id;
        g->name = lx_strdup(gr->name);
        g->active = strcmp(gr->status, "active") == 0;
        s->ngroups++;
    }
}

static lx_snapshot_t *build_from_rows(const lx_config_t *cfg, const lx_registry_rows_t *rows)
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
        if (!lx_headers_json_empty(r->extra_headers)) { /* not sealed yet: no master key */
            headers_from_json(&p->conf, r->extra_headers);
        } else if (r->headers_sealed.n) {
            lx_buf_t plain;
            lx_buf_init(&plain, 0);
            if (lx_headers_open(cfg, r->id, r->headers_sealed.p, r->headers_sealed.n, &plain) ==
                LX_OK) {
                headers_from_json(&p->conf, plain.p);
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
        m->active = strcmp(r->status, "active") == 0;
    }
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
    }
    qsort(s->keys, (size_t)s->nkeys, sizeof *s->keys, key_cmp);
    build_groups(s, rows);
    return s;
}

/* A config file alias as a catalog row: the catalog's entry for its
 * upstream model (if it has one), with the alias's own values over it. An
 * upstream model the catalog does not know can do what its provider can. */
static lx_model_info_t alias_info(const lx_config_t *cfg, const lx_model_conf_t *mc)
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

static lx_snapshot_t *build_from_config(const lx_config_t *cfg)
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
        lx_model_info_t info = alias_info(cfg, mc);
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
    return s;
}

/* ---- loading from the database ---- */

static int load_and_publish(lx_store_t *store, char *err, size_t errlen)
{
    int64_t t0 = lx_now_us();
    lx_registry_rows_t rows;
    if (lx_store_load(store, &rows, err, errlen) != LX_OK)
        return LX_ERROR;
    lx_snapshot_t *s = build_from_rows(R.cfg, &rows);
    lx_registry_rows_free(&rows);
    s->build_us = lx_now_us() - t0;
    publish(s);
    return LX_OK;
}

static void *control_main(void *arg)
{
    lx_store_t *store = arg;
    int backoff_ms = 200;
    int refresh_ms = R.cfg->registry_refresh_ms;
    int64_t next_refresh = lx_wall_ms() + refresh_ms;
    char err[512];
    while (!atomic_load(&R.stop)) {
        if (store == NULL || !lx_store_ok(store)) {
            lx_store_close(store);
            store = lx_store_open(R.cfg->database_url, err, sizeof err);
            if (store == NULL || lx_store_listen(store, "llmux_config") != LX_OK ||
                load_and_publish(store, err, sizeof err) != LX_OK) {
                if (atomic_exchange(&R.db_ok, false))
                    lx_log_warn("database unavailable: serving the last snapshot", "%s", "");
                lx_store_close(store);
                store = NULL;
                for (int slept = 0; slept < backoff_ms && !atomic_load(&R.stop); slept += 50)
                    usleep(50 * 1000);
                backoff_ms = LX_MIN(backoff_ms * 2, 5000);
                continue;
            }
            if (!atomic_exchange(&R.db_ok, true))
                lx_log_info("database connected", "%s", "");
            backoff_ms = 200;
            next_refresh = lx_wall_ms() + refresh_ms;
        }
        int rc = lx_store_wait(store, 100); /* short, to notice stop and reclaim */
        bool due = lx_wall_ms() >= next_refresh;
        if (rc < 0) {
            lx_store_close(store);
            store = NULL;
            continue;
        }
        if (rc == 1 || due) {
            if (load_and_publish(store, err, sizeof err) != LX_OK) {
                lx_store_close(store);
                store = NULL;
                continue;
            }
            next_refresh = lx_wall_ms() + refresh_ms;
        }
        reclaim(false);
    }
    lx_store_close(store);
    lx_log_thread_done();
    return NULL;
}

int lx_registry_start(const lx_config_t *cfg, char *err, size_t errlen)
{
    R.cfg = cfg;
    atomic_store(&R.stop, false);
    if (cfg->database_url == NULL) {
        publish(build_from_config(cfg));
        return LX_OK;
    }
    lx_store_t *store = lx_store_open(cfg->database_url, err, errlen);
    if (store == NULL)
        return LX_ERROR;
    /* the catalog, then the config file's aliases (which replace a row of
     * the same public name) */
    size_t nseed = lx_catalog_len + (size_t)cfg->nmodels;
    lx_seed_model_t *seed = lx_calloc(nseed, sizeof *seed);
    char(*caps)[128] = lx_calloc(nseed, sizeof *caps);
    for (size_t i = 0; i < nseed; i++) {
        bool alias = i >= lx_catalog_len;
        const lx_model_conf_t *mc = alias ? &cfg->models[i - lx_catalog_len] : NULL;
        lx_model_info_t m = alias ? alias_info(cfg, mc) : lx_catalog[i];
        lx_caps_format(m.caps, caps[i], sizeof caps[i]);
        seed[i] = (lx_seed_model_t){.provider = m.provider,
                                    .name = m.name,
                                    .capabilities = caps[i],
                                    .context_window = m.context_window,
                                    .max_output = m.max_output,
                                    .input_per_1m = m.input_per_1m,
                                    .output_per_1m = m.output_per_1m,
                                    .cached_per_1m = m.cached_per_1m,
                                    .public_name = alias ? mc->name : NULL};
    }
    int rc = lx_store_sync(store, cfg, seed, nseed, err, errlen);
    free(seed);
    free(caps);
    if (rc != LX_OK || lx_store_listen(store, "llmux_config") != LX_OK ||
        load_and_publish(store, err, errlen) != LX_OK) {
        lx_store_close(store);
        return LX_ERROR;
    }
    atomic_store(&R.db_ok, true);
    /* The thread starts with SIGTERM and SIGINT blocked: they belong to the
     * main thread's sigwait. Were they open here, one sent while the main
     * thread is not waiting (just before or after its sigwait) would land on
     * this thread and kill the process without a drain. */
    sigset_t stop, prev;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &prev);
    int trc = pthread_create(&R.thread, NULL, control_main, store);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (trc != 0) {
        lx_store_close(store);
        snprintf(err, errlen, "cannot start the registry thread");
        return LX_ERROR;
    }
    R.thread_started = true;
    return LX_OK;
}

void lx_registry_stop(void)
{
    atomic_store(&R.stop, true);
    if (R.thread_started)
        pthread_join(R.thread, NULL);
    R.thread_started = false;
    lx_snapshot_t *cur = atomic_exchange(&R.current, NULL);
    if (cur)
        snapshot_free(cur);
    reclaim(true);
}

bool lx_registry_db_ok(void)
{
    return atomic_load_explicit(&R.db_ok, memory_order_relaxed);
}

uint64_t lx_registry_version(void)
{
    return atomic_load_explicit(&R.version, memory_order_relaxed);
}

/* ---- lookups ---- */

const lx_provider_t *lx_snapshot_provider(const lx_snapshot_t *s, lx_str_t name)
{
    int32_t i = lx_strmap_get(&s->provider_by_name, name);
    return i < 0 ? NULL : &s->providers[i];
}

const lx_model_t *lx_snapshot_model(const lx_snapshot_t *s, const lx_provider_t *p, lx_str_t name)
{
    char key[512];
    size_t pn = strlen(p->conf.name), n = pn + 1 + name.n;
    if (n >= sizeof key)
        return NULL;
    memcpy(key, p->conf.name, pn);
    key[pn] = '/';
    memcpy(key + pn + 1, name.p, name.n);
    int32_t i = lx_strmap_get(&s->model_by_full, (lx_str_t){key, n});
    if (i < 0)
        i = lx_strmap_get(&s->model_by_upstream, (lx_str_t){key, n});
    return i < 0 ? NULL : &s->models[i];
}

const lx_model_t *lx_snapshot_public_model(const lx_snapshot_t *s, lx_str_t public_name)
{
    int32_t i = lx_strmap_get(&s->model_by_public, public_name);
    return i < 0 ? NULL : &s->models[i];
}

const lx_group_entry_t *lx_snapshot_group(const lx_snapshot_t *s, lx_str_t name)
{
    int32_t i = lx_strmap_get(&s->group_by_name, name);
    return i < 0 ? NULL : &s->groups[i];
}

const lx_apikey_t *lx_snapshot_key(const lx_snapshot_t *s, const unsigned char hash[32])
{
    if (s->nkeys == 0)
        return NULL;
    lx_apikey_t probe;
    memcpy(probe.hash, hash, 32);
    return bsearch(&probe, s->keys, (size_t)s->nkeys, sizeof *s->keys, key_cmp);
}

bool lx_apikey_allows(const lx_apikey_t *k, lx_str_t model)
{
    if (k->allowed == NULL)
        return true;
    for (int i = 0; i < k->nallowed; i++) {
        const char *a = k->allowed[i];
        size_t n = strlen(a);
        if (lx_str_eq_cstr(model, a))
            return true;
        /* an entry "provider/" + "*" allows every model of that provider */
        if (n >= 2 && a[n - 1] == '*' && a[n - 2] == '/' && model.n >= n - 1 &&
            memcmp(model.p, a, n - 1) == 0)
            return true;
    }
    return false;
}
