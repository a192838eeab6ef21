/* store.c - blocking libpq for start-up and the registry's control thread. */
#include "db/store.h"
#include "db/conninfo.h"
#include "core/log.h"
#include "core/sealed_headers.h"
#include "core/secret.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#define SYNC_LOCK_ID 7426152

struct lx_store {
    PGconn *pg;
};

static const struct {
    const char *name, *kind, *base_url;
} known_providers[] = {
    {"openai", "openai", "https://api.openai.com/v1"},
    {"anthropic", "anthropic", "https://api.anthropic.com"},
    {"gemini", "gemini", "https://generativelanguage.googleapis.com"},
    {"openrouter", "openai_compatible", "https://openrouter.ai/api/v1"},
    {"demo", "openai_compatible", "http://127.0.0.1:9100/v1"},
};

void lx_credential_aad(int64_t connection_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "ai_connections.credential:%lld", (long long)connection_id);
}

lx_store_t *lx_store_open(const char *url, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        char why[400];
        lx_conninfo_scrub(url, PQerrorMessage(pg), why, sizeof why);
        snprintf(err, errlen, "cannot connect to the database: %s", why);
        PQfinish(pg);
        return NULL;
    }
    lx_store_t *s = lx_calloc(1, sizeof *s);
    s->pg = pg;
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    return s;
}

void lx_store_close(lx_store_t *s)
{
    if (s == NULL)
        return;
    PQfinish(s->pg);
    free(s);
}

bool lx_store_ok(lx_store_t *s)
{
    return s && PQstatus(s->pg) == CONNECTION_OK;
}

/* Runs one statement; keeps the result only if rows is not NULL. */
static int run(lx_store_t *s, const char *sql, int n, const char *const *params, PGresult **rows,
               char *err, size_t errlen)
{
    PGresult *r = PQexecParams(s->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return LX_ERROR;
    }
    if (rows)
        *rows = r;
    else
        PQclear(r);
    return LX_OK;
}

static void rollback(lx_store_t *s)
{
    PQclear(PQexec(s->pg, "ROLLBACK"));
}

/* The headers' JSON object text (values included: a secret) or, with
 * names_only, the JSON array of their names. */
static char *headers_json(const lx_provider_conf_t *p, bool names_only)
{
    json_t *o = names_only ? json_array() : json_object();
    for (int i = 0; i < p->nheaders; i++) {
        if (names_only)
            json_array_append_new(o, json_string(p->header_names[i]));
        else
            json_object_set_new(o, p->header_names[i], json_string(p->header_values[i]));
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static void free_secret(char *text)
{
    if (text) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
}

/* A configured provider's headers, sealed for its row (the values never
 * reach Postgres in plain text). */
static int seal_config_headers(lx_store_t *s, const lx_config_t *cfg, const lx_provider_conf_t *p,
                               const char *pid, char *err, size_t errlen)
{
    char *plain = headers_json(p, false);
    lx_buf_t hex;
    lx_buf_init(&hex, 0);
    int rc = lx_headers_seal_hex(cfg->master_key, strtoll(pid, NULL, 10), plain, &hex);
    free_secret(plain);
    if (rc != LX_OK) {
        snprintf(err, errlen, "cannot seal the headers of the %s provider", p->name);
        lx_buf_free(&hex);
        return LX_ERROR;
    }
    const char *up[] = {pid, hex.p};
    rc = run(s, "UPDATE ai_providers SET extra_headers_sealed = $2::bytea WHERE id = $1", 2, up,
             NULL, err, errlen);
    lx_buf_free(&hex);
    return rc;
}

static int sync_provider(lx_store_t *s, const lx_config_t *cfg, const lx_provider_conf_t *p,
                         char *err, size_t errlen)
{
    char t[4][16];
    snprintf(t[0], 16, "%d", p->timeouts.connect_ms);
    snprintf(t[1], 16, "%d", p->timeouts.first_byte_ms);
    snprintf(t[2], 16, "%d", p->timeouts.idle_ms);
    snprintf(t[3], 16, "%d", p->timeouts.total_ms);
    if (p->nheaders > 0 && !cfg->has_master_key) {
        snprintf(err, errlen,
                 "master_key: required to store the headers of the %s provider (set "
                 "LLMUX_MASTER_KEY)",
                 p->name);
        return LX_ERROR;
    }
    /* the row gets the names; the values follow sealed, once the id is known */
    char *names = headers_json(p, true);
    /* the connection settings (core/transport.h) replace the row's; others
     * (jobs) stay */
    json_t *tj = lx_transport_to_json(&p->transport);
    char *tset = json_dumps(tj, JSON_COMPACT);
    json_decref(tj);
    const char *pp[] = {
        p->name, lx_provider_kind_name(p->kind), p->base_url, names, t[0], t[1], t[2], t[3], tset};
    PGresult *r = NULL;
    int rc = run(s,
                 "INSERT INTO ai_providers (name, kind, base_url, status, extra_headers, "
                 "extra_headers_sealed, extra_header_names, connect_timeout_ms, "
                 "first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms, settings) "
                 "VALUES ($1, $2, $3, 'active', '{}'::jsonb, NULL, "
                 "ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5, $6, $7, $8, $9::jsonb) "
                 "ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, base_url = "
                 "EXCLUDED.base_url, status = 'active', extra_headers = '{}'::jsonb, "
                 "extra_headers_sealed = NULL, extra_header_names = EXCLUDED.extra_header_names, "
                 "connect_timeout_ms = EXCLUDED.connect_timeout_ms, first_byte_timeout_ms = "
                 "EXCLUDED.first_byte_timeout_ms, idle_timeout_ms = EXCLUDED.idle_timeout_ms, "
                 "total_timeout_ms = EXCLUDED.total_timeout_ms, settings = (ai_providers.settings "
                 "- 'http2' - 'max_connections' - 'max_streams_per_connection' - 'ca_file') || "
                 "EXCLUDED.settings, updated_at = now() RETURNING id",
                 9, pp, &r, err, errlen);
    free(names);
    free(tset);
    if (rc != LX_OK)
        return rc;
    char pid[24];
    snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (p->nheaders > 0 && seal_config_headers(s, cfg, p, pid, err, errlen) != LX_OK)
        return LX_ERROR;
    if (p->api_key == NULL)
        return LX_OK;
    if (!cfg->has_master_key) {
        snprintf(err, errlen,
                 "master_key: required to store the %s provider key (set LLMUX_MASTER_KEY)",
                 p->name);
        return LX_ERROR;
    }
    const char *cp[] = {pid};
    if (run(s,
            "INSERT INTO ai_connections (provider_id, name, status) VALUES ($1, 'config', "
            "'active') ON CONFLICT (provider_id, name) DO UPDATE SET status = 'active', "
            "updated_at = now() RETURNING id",
            1, cp, &r, err, errlen) != LX_OK)
        return LX_ERROR;
    int64_t cid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    char aad[64];
    lx_credential_aad(cid, aad, sizeof aad);
    lx_buf_t sealed, hex;
    lx_buf_init(&sealed, 0);
    lx_buf_init(&hex, 0);
    if (lx_secret_seal(cfg->master_key, 1, aad, p->api_key, strlen(p->api_key), &sealed) != LX_OK) {
        snprintf(err, errlen, "cannot seal the %s provider key", p->name);
        lx_buf_free(&sealed);
        return LX_ERROR;
    }
    lx_bytea_encode(sealed.p, sealed.n, &hex);
    char cids[24];
    snprintf(cids, sizeof cids, "%lld", (long long)cid);
    const char *up[] = {cids, hex.p};
    int urc = run(s, "UPDATE ai_connections SET credential = $2::bytea WHERE id = $1", 2, up, NULL,
                  err, errlen);
    lx_buf_free(&sealed);
    lx_buf_free(&hex);
    return urc;
}

/* A group from the config file: created or updated, its members replaced. */
static int sync_group(lx_store_t *s, const lx_group_conf_t *g, char *err, size_t errlen)
{
    PGresult *r = NULL;
    const char *gp[] = {g->name, g->strategy};
    if (run(s,
            "INSERT INTO ai_groups (name, strategy, status) VALUES ($1, $2, 'active') "
            "ON CONFLICT (name) DO UPDATE SET strategy = EXCLUDED.strategy, status = 'active', "
            "updated_at = now() RETURNING id",
            2, gp, &r, err, errlen) != LX_OK)
        return LX_ERROR;
    char gid[24];
    snprintf(gid, sizeof gid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *dp[] = {gid};
    if (run(s, "DELETE FROM ai_group_members WHERE group_id = $1", 1, dp, NULL, err, errlen) !=
        LX_OK)
        return LX_ERROR;
    for (int m = 0; m < g->nmembers; m++) {
        char w[16], pr[16];
        snprintf(w, sizeof w, "%d", g->members[m].weight);
        snprintf(pr, sizeof pr, "%d", g->members[m].priority);
        const char *mp[] = {gid, g->members[m].provider, g->members[m].model, w, pr};
        if (run(s,
                "INSERT INTO ai_group_members (group_id, provider_id, upstream_name, weight, "
                "priority) SELECT $1, id, $3, $4, $5 FROM ai_providers WHERE name = $2",
                5, mp, NULL, err, errlen) != LX_OK)
            return LX_ERROR;
    }
    return LX_OK;
}

/* Rows an older version wrote carry their headers in plain text: seal
 * them for their row. One statement per row writes the sealed blob and
 * empties the plain column together, so the plain value is never lost
 * before its sealed form is committed (the caller's transaction commits
 * both, or neither). Without a master key they stay as they are (the
 * registry reads them as before) and a warning says so. */
static int seal_plain_headers(lx_store_t *s, const lx_config_t *cfg, char *err, size_t errlen)
{
    PGresult *r = NULL;
    if (run(s,
            "SELECT id, extra_headers::text FROM ai_providers WHERE extra_headers <> '{}'::jsonb "
            "ORDER BY id FOR UPDATE",
            0, NULL, &r, err, errlen) != LX_OK)
        return LX_ERROR;
    int n = PQntuples(r), rc = LX_OK;
    if (n > 0 && !cfg->has_master_key) {
        lx_log_warn("provider extra headers are stored in plain text: set LLMUX_MASTER_KEY to "
                    "seal them at rest",
                    "\"providers\":%d", n);
        PQclear(r);
        return LX_OK;
    }
    for (int i = 0; i < n && rc == LX_OK; i++) {
        const char *pid = PQgetvalue(r, i, 0);
        char *plain = PQgetvalue(r, i, 1);
        lx_buf_t hex;
        lx_buf_init(&hex, 0);
        rc = lx_headers_seal_hex(cfg->master_key, strtoll(pid, NULL, 10), plain, &hex);
        explicit_bzero(plain, strlen(plain));
        if (rc != LX_OK)
            snprintf(err, errlen, "cannot seal the headers of provider %s", pid);
        const char *up[] = {pid, hex.p};
        if (rc == LX_OK)
            rc = run(s,
                     "UPDATE ai_providers SET extra_headers_sealed = $2::bytea, "
                     "extra_header_names = ARRAY(SELECT jsonb_object_keys(extra_headers)), "
                     "extra_headers = '{}'::jsonb WHERE id = $1",
                     2, up, NULL, err, errlen);
        lx_buf_free(&hex);
    }
    PQclear(r);
    if (rc == LX_OK && n > 0)
        lx_log_info("provider extra headers sealed at rest", "\"providers\":%d", n);
    return rc;
}

int lx_store_sync(lx_store_t *s, const lx_config_t *cfg, const lx_seed_model_t *seed, size_t nseed,
                  char *err, size_t errlen)
{
    if (run(s, "BEGIN", 0, NULL, NULL, err, errlen) != LX_OK)
        return LX_ERROR;
    if (run(s, "SELECT pg_advisory_xact_lock(" LX_STRINGIFY(SYNC_LOCK_ID) ")", 0, NULL, NULL, err,
            errlen) != LX_OK)
        goto fail;
    /* Built-in providers are seeded (disabled) unless an operator deleted
     * one: its name then has a tombstone (sql/007). A provider configured
     * by environment or file is configuration and is created regardless. */
    for (size_t i = 0; i < LX_ARRAY_LEN(known_providers); i++) {
        const char *p[] = {known_providers[i].name, known_providers[i].kind,
                           known_providers[i].base_url};
        if (run(s,
                "INSERT INTO ai_providers (name, kind, base_url, status) SELECT $1, $2, $3, "
                "'disabled' WHERE NOT EXISTS (SELECT 1 FROM ai_provider_tombstones WHERE "
                "name = $1) ON CONFLICT (name) DO NOTHING",
                3, p, NULL, err, errlen) != LX_OK)
            goto fail;
    }
    for (int i = 0; i < cfg->nproviders; i++)
        if (sync_provider(s, cfg, &cfg->providers[i], err, errlen) != LX_OK)
            goto fail;
    for (int i = 0; i < cfg->ngroups; i++)
        if (sync_group(s, &cfg->groups[i], err, errlen) != LX_OK)
            goto fail;
    if (seal_plain_headers(s, cfg, err, errlen) != LX_OK)
        goto fail;
    for (size_t i = 0; i < nseed; i++) {
        const lx_seed_model_t *m = &seed[i];
        char ctx[16], mo[16], in[32], out[32], ca[32];
        snprintf(ctx, sizeof ctx, "%d", m->context_window);
        snprintf(mo, sizeof mo, "%d", m->max_output);
        snprintf(in, sizeof in, "%.6f", m->input_per_1m);
        snprintf(out, sizeof out, "%.6f", m->output_per_1m);
        snprintf(ca, sizeof ca, "%.6f", m->cached_per_1m);
        const char *p[] = {m->provider, m->name, m->capabilities, ctx, mo, in,
                           out,         ca,      m->public_name};
        /* a catalog model: unless its provider has a row of that upstream
         * name (its own, or one the operator renamed); an alias from the
         * config file: its values win over the row of its public name */
        const char *sql =
            m->public_name
                ? "INSERT INTO ai_models (provider_id, upstream_name, public_name, capabilities, "
                  "context_window, max_output_tokens, input_cost_per_1m, output_cost_per_1m, "
                  "cached_cost_per_1m) SELECT id, $2, $9, $3::text[], NULLIF($4::int, 0), "
                  "NULLIF($5::int, 0), $6, $7, $8 FROM ai_providers WHERE name = $1 "
                  "ON CONFLICT (provider_id, public_name) DO UPDATE SET upstream_name = "
                  "EXCLUDED.upstream_name, capabilities = EXCLUDED.capabilities, context_window = "
                  "EXCLUDED.context_window, max_output_tokens = EXCLUDED.max_output_tokens, "
                  "input_cost_per_1m = EXCLUDED.input_cost_per_1m, output_cost_per_1m = "
                  "EXCLUDED.output_cost_per_1m, cached_cost_per_1m = EXCLUDED.cached_cost_per_1m, "
                  "status = 'active', updated_at = now()"
                : "INSERT INTO ai_models (provider_id, upstream_name, public_name, capabilities, "
                  "context_window, max_output_tokens, input_cost_per_1m, output_cost_per_1m, "
                  "cached_cost_per_1m) SELECT p.id, $2, $2, $3::text[], NULLIF($4::int, 0), "
                  "NULLIF($5::int, 0), $6, $7, $8 FROM ai_providers p WHERE p.name = $1 AND NOT "
                  "EXISTS (SELECT 1 FROM ai_models m WHERE m.provider_id = p.id AND "
                  "m.upstream_name = $2) ON CONFLICT DO NOTHING";
        if (run(s, sql, m->public_name ? 9 : 8, p, NULL, err, errlen) != LX_OK)
            goto fail;
    }
    if (run(s, "SELECT pg_notify('llmux_config', 'sync')", 0, NULL, NULL, err, errlen) != LX_OK ||
        run(s, "COMMIT", 0, NULL, NULL, err, errlen) != LX_OK)
        goto fail;
    return LX_OK;
fail:
    rollback(s);
    return LX_ERROR;
}

/* ---- load ---- */

static char *dupv(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : lx_strdup(PQgetvalue(r, row, col));
}

static int intv(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : atoi(PQgetvalue(r, row, col));
}

static int64_t i64v(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double dblv(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

int lx_store_load(lx_store_t *s, lx_registry_rows_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    PGresult *r[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    if (run(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, err, errlen) !=
        LX_OK)
        return LX_ERROR;
    static const char *const q[7] = {
        "SELECT id, name, kind, base_url, status, extra_headers::text, "
        "coalesce(connect_timeout_ms, 0), coalesce(first_byte_timeout_ms, 0), "
        "coalesce(idle_timeout_ms, 0), coalesce(total_timeout_ms, 0), extra_headers_sealed, "
        "settings->'jobs', settings::text FROM ai_providers ORDER BY id",
        "SELECT id, provider_id, name, status, credential, priority, weight, "
        "coalesce(rate_limit_per_minute, 0), coalesce(rate_limit_per_day, 0) "
        "FROM ai_connections ORDER BY provider_id, priority, id",
        "SELECT id, provider_id, upstream_name, public_name, status, capabilities::text, "
        "coalesce(context_window, 0), coalesce(max_output_tokens, 0), "
        "input_cost_per_1m::float8, output_cost_per_1m::float8, cached_cost_per_1m::float8, "
        "unit_cost_usd::float8 FROM ai_models ORDER BY id",
        "SELECT k.id, k.key_hash, k.prefix, k.name, k.status, "
        "coalesce((extract(epoch FROM k.expires_at) * 1000)::bigint, 0), "
        "k.allowed_models::text, coalesce(k.rate_limit_per_minute, 0), coalesce(u.id, 0), "
        "coalesce(u.rpm, 0), coalesce(u.rpd, 0), coalesce(t.id, 0), coalesce(t.rpm, 0), "
        "coalesce(t.rpd, 0), k.budget_usd::float8, k.budget_period, u.budget_usd::float8, "
        "u.budget_period, t.budget_usd::float8, t.budget_period, coalesce(k.rpd, 0), "
        "coalesce(k.tpm, 0), coalesce(k.max_parallel, 0), coalesce(u.tpm, 0), "
        "coalesce(u.max_parallel, 0), coalesce(t.tpm, 0), coalesce(t.max_parallel, 0), "
        "k.model_limits::text FROM api_keys k LEFT JOIN users u ON u.id = k.user_id "
        "LEFT JOIN teams t ON t.id = coalesce(k.team_id, u.team_id) ORDER BY k.id",
        "SELECT id, name, strategy, status FROM ai_groups ORDER BY id",
        "SELECT id, group_id, provider_id, coalesce(connection_id, 0), upstream_name, weight, "
        "priority FROM ai_group_members ORDER BY group_id, id",
        "SELECT 'u', id, name, status, coalesce(team_id, 0), coalesce(rpm, 0), coalesce(rpd, 0), "
        "coalesce(tpm, 0), coalesce(max_parallel, 0), budget_usd::float8, budget_period, "
        "model_limits::text FROM users UNION ALL SELECT 't', id, name, "
        "status, 0, coalesce(rpm, 0), coalesce(rpd, 0), coalesce(tpm, 0), "
        "coalesce(max_parallel, 0), budget_usd::float8, budget_period, model_limits::text "
        "FROM teams ORDER BY 1 DESC, 2",
    };
    for (int i = 0; i < 7; i++) {
        if (run(s, q[i], 0, NULL, &r[i], err, errlen) != LX_OK) {
            for (int k = 0; k < i; k++)
                PQclear(r[k]);
            rollback(s);
            return LX_ERROR;
        }
    }
    PQclear(PQexec(s->pg, "COMMIT"));

    out->nproviders = PQntuples(r[0]);
    out->providers = lx_calloc((size_t)out->nproviders + 1, sizeof *out->providers);
    for (int i = 0; i < out->nproviders; i++) {
        lx_provider_row_t *p = &out->providers[i];
        p->id = i64v(r[0], i, 0);
        p->name = dupv(r[0], i, 1);
        p->kind = dupv(r[0], i, 2);
        p->base_url = dupv(r[0], i, 3);
        p->status = dupv(r[0], i, 4);
        p->extra_headers = dupv(r[0], i, 5);
        for (int k = 0; k < 4; k++)
            p->timeouts_ms[k] = intv(r[0], i, 6 + k);
        lx_buf_init(&p->headers_sealed, 0);
        if (!PQgetisnull(r[0], i, 10))
            lx_bytea_decode(PQgetvalue(r[0], i, 10), &p->headers_sealed);
        p->jobs = PQgetisnull(r[0], i, 11) ? NULL : dupv(r[0], i, 11);
        p->settings = PQgetisnull(r[0], i, 12) ? NULL : dupv(r[0], i, 12);
    }
    out->nconnections = PQntuples(r[1]);
    out->connections = lx_calloc((size_t)out->nconnections + 1, sizeof *out->connections);
    for (int i = 0; i < out->nconnections; i++) {
        lx_connection_row_t *c = &out->connections[i];
        c->id = i64v(r[1], i, 0);
        c->provider_id = i64v(r[1], i, 1);
        c->name = dupv(r[1], i, 2);
        c->status = dupv(r[1], i, 3);
        lx_buf_init(&c->credential, 0);
        if (!PQgetisnull(r[1], i, 4))
            lx_bytea_decode(PQgetvalue(r[1], i, 4), &c->credential);
        c->priority = intv(r[1], i, 5);
        c->weight = intv(r[1], i, 6);
        c->rate_limit_per_minute = intv(r[1], i, 7);
        c->rate_limit_per_day = intv(r[1], i, 8);
    }
    out->nmodels = PQntuples(r[2]);
    out->models = lx_calloc((size_t)out->nmodels + 1, sizeof *out->models);
    for (int i = 0; i < out->nmodels; i++) {
        lx_model_row_t *m = &out->models[i];
        m->id = i64v(r[2], i, 0);
        m->provider_id = i64v(r[2], i, 1);
        m->upstream_name = dupv(r[2], i, 2);
        m->public_name = dupv(r[2], i, 3);
        m->status = dupv(r[2], i, 4);
        m->capabilities = dupv(r[2], i, 5);
        m->context_window = intv(r[2], i, 6);
        m->max_output = intv(r[2], i, 7);
        m->input_per_1m = dblv(r[2], i, 8);
        m->output_per_1m = dblv(r[2], i, 9);
        m->cached_per_1m = dblv(r[2], i, 10);
        m->unit_cost = dblv(r[2], i, 11);
    }
    out->nkeys = PQntuples(r[3]);
    out->keys = lx_calloc((size_t)out->nkeys + 1, sizeof *out->keys);
    for (int i = 0; i < out->nkeys; i++) {
        lx_key_row_t *k = &out->keys[i];
        k->id = i64v(r[3], i, 0);
        lx_buf_t h;
        lx_buf_init(&h, 32);
        if (lx_bytea_decode(PQgetvalue(r[3], i, 1), &h) == LX_OK && h.n == 32)
            memcpy(k->hash, h.p, 32);
        lx_buf_free(&h);
        k->prefix = dupv(r[3], i, 2);
        k->name = dupv(r[3], i, 3);
        k->status = dupv(r[3], i, 4);
        k->expires_ms = i64v(r[3], i, 5);
        k->allowed_models = dupv(r[3], i, 6);
        k->rpm = intv(r[3], i, 7);
        k->user_id = i64v(r[3], i, 8);
        k->user_rpm = intv(r[3], i, 9);
        k->user_rpd = intv(r[3], i, 10);
        k->team_id = i64v(r[3], i, 11);
        k->team_rpm = intv(r[3], i, 12);
        k->team_rpd = intv(r[3], i, 13);
        for (int b = 0; b < 3; b++) {
            k->has_budget[b] = !PQgetisnull(r[3], i, 14 + 2 * b);
            k->budget[b] = k->has_budget[b] ? strtod(PQgetvalue(r[3], i, 14 + 2 * b), NULL) : 0;
            k->budget_period[b] = dupv(r[3], i, 15 + 2 * b);
        }
        k->rpd = intv(r[3], i, 20);
        k->tpm = intv(r[3], i, 21);
        k->max_parallel = intv(r[3], i, 22);
        k->user_tpm = intv(r[3], i, 23);
        k->user_max_parallel = intv(r[3], i, 24);
        k->team_tpm = intv(r[3], i, 25);
        k->team_max_parallel = intv(r[3], i, 26);
        k->model_limits = dupv(r[3], i, 27);
    }
    out->ngroups = PQntuples(r[4]);
    out->groups = lx_calloc((size_t)out->ngroups + 1, sizeof *out->groups);
    for (int i = 0; i < out->ngroups; i++) {
        lx_group_row_t *g = &out->groups[i];
        g->id = i64v(r[4], i, 0);
        g->name = dupv(r[4], i, 1);
        g->strategy = dupv(r[4], i, 2);
        g->status = dupv(r[4], i, 3);
    }
    out->nmembers = PQntuples(r[5]);
    out->members = lx_calloc((size_t)out->nmembers + 1, sizeof *out->members);
    for (int i = 0; i < out->nmembers; i++) {
        lx_member_row_t *m = &out->members[i];
        m->id = i64v(r[5], i, 0);
        m->group_id = i64v(r[5], i, 1);
        m->provider_id = i64v(r[5], i, 2);
        m->connection_id = i64v(r[5], i, 3);
        m->upstream_name = dupv(r[5], i, 4);
        m->weight = intv(r[5], i, 5);
        m->priority = intv(r[5], i, 6);
    }
    out->nprincipals = PQntuples(r[6]);
    out->principals = lx_calloc((size_t)out->nprincipals + 1, sizeof *out->principals);
    for (int i = 0; i < out->nprincipals; i++) {
        lx_principal_row_t *u = &out->principals[i];
        u->kind = PQgetvalue(r[6], i, 0)[0];
        u->id = i64v(r[6], i, 1);
        u->name = dupv(r[6], i, 2);
        u->status = dupv(r[6], i, 3);
        u->team_id = i64v(r[6], i, 4);
        u->rpm = intv(r[6], i, 5);
        u->rpd = intv(r[6], i, 6);
        u->tpm = intv(r[6], i, 7);
        u->max_parallel = intv(r[6], i, 8);
        u->has_budget = !PQgetisnull(r[6], i, 9);
        u->budget = u->has_budget ? strtod(PQgetvalue(r[6], i, 9), NULL) : 0;
        u->budget_period = dupv(r[6], i, 10);
        u->model_limits = dupv(r[6], i, 11);
    }
    for (int i = 0; i < 7; i++)
        PQclear(r[i]);
    return LX_OK;
}

void lx_registry_rows_free(lx_registry_rows_t *rows)
{
    for (int i = 0; i < rows->nproviders; i++) {
        lx_provider_row_t *p = &rows->providers[i];
        free(p->name), free(p->kind), free(p->base_url), free(p->status);
        free_secret(p->extra_headers);
        free(p->jobs);
        free(p->settings);
        lx_buf_free(&p->headers_sealed);
    }
    for (int i = 0; i < rows->nconnections; i++) {
        lx_connection_row_t *c = &rows->connections[i];
        free(c->name), free(c->status);
        lx_buf_free(&c->credential);
    }
    for (int i = 0; i < rows->nmodels; i++) {
        lx_model_row_t *m = &rows->models[i];
        free(m->upstream_name), free(m->public_name), free(m->status), free(m->capabilities);
    }
    for (int i = 0; i < rows->nkeys; i++) {
        lx_key_row_t *k = &rows->keys[i];
        free(k->prefix), free(k->name), free(k->status), free(k->allowed_models);
        free(k->model_limits);
        for (int b = 0; b < 3; b++)
            free(k->budget_period[b]);
    }
    for (int i = 0; i < rows->ngroups; i++) {
        lx_group_row_t *g = &rows->groups[i];
        free(g->name), free(g->strategy), free(g->status);
    }
    for (int i = 0; i < rows->nmembers; i++)
        free(rows->members[i].upstream_name);
    free(rows->groups);
    free(rows->members);
    free(rows->providers);
    free(rows->connections);
    free(rows->models);
    free(rows->keys);
    for (int i = 0; i < rows->nprincipals; i++)
        free(rows->principals[i].name), free(rows->principals[i].status),
            free(rows->principals[i].budget_period), free(rows->principals[i].model_limits);
    free(rows->principals);
    memset(rows, 0, sizeof *rows);
}

/* ---- notifications ---- */

int lx_store_listen(lx_store_t *s, const char *channel)
{
    char sql[128], err[256];
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    return run(s, sql, 0, NULL, NULL, err, sizeof err);
}

int lx_store_wait(lx_store_t *s, int timeout_ms)
{
    int notified = 0;
    PGnotify *n;
    PQconsumeInput(s->pg);
    while ((n = PQnotifies(s->pg)) != NULL) {
        notified = 1;
        PQfreemem(n);
    }
    if (notified)
        return 1;
    struct pollfd pfd = {.fd = PQsocket(s->pg), .events = POLLIN};
    if (pfd.fd < 0)
        return -1;
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc <= 0)
        return rc == 0 ? 0 : -1;
    if (!PQconsumeInput(s->pg) || PQstatus(s->pg) != CONNECTION_OK)
        return -1;
    while ((n = PQnotifies(s->pg)) != NULL) {
        notified = 1;
        PQfreemem(n);
    }
    return notified;
}

/* ---- master key rotation ---- */

typedef struct {
    const char *select_sql; /* id, sealed bytea of every sealed row, locked */
    const char *update_sql; /* $1 id, $2 the new blob */
    void (*aad)(int64_t id, char *out, size_t outlen);
    const char *row, *what; /* for the error: "connection 7: the credential does not open" */
} sealed_column_t;

static const sealed_column_t credentials = {
    "SELECT id, credential FROM ai_connections WHERE credential IS NOT NULL ORDER BY id FOR UPDATE",
    "UPDATE ai_connections SET credential = $2::bytea WHERE id = $1",
    lx_credential_aad,
    "connection",
    "the credential does",
};

static const sealed_column_t provider_headers = {
    "SELECT id, extra_headers_sealed FROM ai_providers WHERE extra_headers_sealed IS NOT NULL "
    "ORDER BY id FOR UPDATE",
    "UPDATE ai_providers SET extra_headers_sealed = $2::bytea WHERE id = $1",
    lx_headers_aad,
    "provider",
    "the extra headers do",
};

/* Re-seals one column's blobs from old_key to new_key inside the caller's
 * transaction. Returns how many, or -1 with err set. */
static int rotate_column(lx_store_t *s, const sealed_column_t *col, const unsigned char old_key[32],
                         const unsigned char new_key[32], char *err, size_t errlen)
{
    PGresult *r = NULL;
    if (run(s, col->select_sql, 0, NULL, &r, err, errlen) != LX_OK)
        return -1;
    int n = PQntuples(r), done = 0;
    for (int i = 0; i < n; i++) {
        int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        char aad[64], ids[24];
        col->aad(id, aad, sizeof aad);
        snprintf(ids, sizeof ids, "%lld", (long long)id);
        lx_buf_t sealed, plain, resealed, hex;
        lx_buf_init(&sealed, 0), lx_buf_init(&plain, 0), lx_buf_init(&resealed, 0),
            lx_buf_init(&hex, 0);
        unsigned char ver = 0;
        int ok = lx_bytea_decode(PQgetvalue(r, i, 1), &sealed) == LX_OK;
        if (ok && lx_secret_open(new_key, aad, sealed.p, sealed.n, &plain, NULL) == LX_OK) {
            explicit_bzero(plain.p, plain.n); /* already under the new key */
            lx_buf_free(&sealed), lx_buf_free(&plain), lx_buf_free(&resealed), lx_buf_free(&hex);
            continue;
        }
        ok = ok && lx_secret_open(old_key, aad, sealed.p, sealed.n, &plain, &ver) == LX_OK &&
             lx_secret_seal(new_key, (unsigned char)(ver + 1), aad, plain.p, plain.n, &resealed) ==
                 LX_OK;
        if (plain.p)
            explicit_bzero(plain.p, plain.n);
        if (ok) {
            lx_bytea_encode(resealed.p, resealed.n, &hex);
            const char *up[] = {ids, hex.p};
            ok = run(s, col->update_sql, 2, up, NULL, err, errlen) == LX_OK;
        } else {
            snprintf(err, errlen, "%s %lld: %s not open with the current master key", col->row,
                     (long long)id, col->what);
        }
        lx_buf_free(&sealed), lx_buf_free(&plain), lx_buf_free(&resealed), lx_buf_free(&hex);
        if (!ok) {
            PQclear(r);
            return -1;
        }
        done++;
    }
    PQclear(r);
    return done;
}

int lx_store_rotate(lx_store_t *s, const unsigned char old_key[32], const unsigned char new_key[32],
                    int *nheaders, char *err, size_t errlen)
{
    if (run(s, "BEGIN", 0, NULL, NULL, err, errlen) != LX_OK)
        return -1;
    int done = rotate_column(s, &credentials, old_key, new_key, err, errlen);
    int hdrs = done < 0 ? -1 : rotate_column(s, &provider_headers, old_key, new_key, err, errlen);
    if (hdrs < 0 ||
        run(s, "SELECT pg_notify('llmux_config', 'rotate')", 0, NULL, NULL, err, errlen) != LX_OK ||
        run(s, "COMMIT", 0, NULL, NULL, err, errlen) != LX_OK) {
        rollback(s);
        return -1;
    }
    if (nheaders)
        *nheaders = hdrs;
    return done;
}
