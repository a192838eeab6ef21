/* teams.c - teams and users (tables teams, users): records that API keys
 * refer to (api_keys.team_id, api_keys.user_id); a user belongs to at most
 * one team (users.team_id).
 *
 * Their limit fields (rpm, tpm, rpd, max_parallel, budget_usd with
 * budget_period) are validated and stored; rpm, rpd and budgets are
 * enforced (allow.h, budget.h). Both show spend_usd and budget_reset_at;
 * a team also takes a budget alert webhook (budgets.c).
 *
 * DELETE answers 409 (code "conflict") naming the users and keys that
 * refer to the row, unless ?cascade=true: then they are detached (their
 * team_id / user_id becomes null through the foreign keys' ON DELETE SET
 * NULL) and each detached row gets an audit row. One statement, one
 * transaction. */
#include "admin/internal.h"

#include <stdio.h>
#include <stdlib.h>

bool adm_chk_period(const char *f, const json_t *v, adm_verr_t *e)
{
    static const char *const periods[] = {"daily", "weekly", "monthly", "total"};
    const char *s = json_string_value(v);
    for (size_t i = 0; i < LX_ARRAY_LEN(periods); i++)
        if (strcmp(s, periods[i]) == 0)
            return true;
    return adm_verr(e, f, "'%s' must be one of daily, weekly, monthly, total", f);
}

/* Something@something, 3..320 characters, no spaces. */
static bool chk_email(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 320 || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') ||
        strpbrk(s, " \t\r\n<>,;\"") != NULL)
        return adm_verr(e, f, "'%s' must be an email address (name@domain)", f);
    return true;
}

/* A budget needs its period, and a period its budget. */
static bool fixup(json_t *doc, bool create, adm_verr_t *e)
{
    json_t *b = json_object_get(doc, "budget_usd"), *p = json_object_get(doc, "budget_period");
    if (create && b && !json_is_null(b) && (p == NULL || json_is_null(p)))
        return adm_verr(e, "budget_period",
                        "'budget_period' is required with 'budget_usd' (daily, weekly, monthly "
                        "or total)");
    if (create && p && !json_is_null(p) && (b == NULL || json_is_null(b)))
        return adm_verr(e, "budget_usd", "'budget_period' needs a 'budget_usd'");
    return true;
}

static bool team_fixup(json_t *doc, bool create, adm_verr_t *e)
{
    return fixup(doc, create, e) && adm_budget_seal(doc, "team", e);
}

#define LIMIT_FIELDS                                                                               \
    {"metadata", FT_JSONB, 0, NULL, NULL, NULL},                                                   \
        {"rpm", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},                                 \
        {"tpm", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},                                 \
        {"rpd", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},                                 \
        {"max_parallel", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},                        \
        {"budget_usd", FT_NUM, F_NULLABLE, adm_chk_money, NULL, NULL},                             \
        {"budget_period", FT_TEXT, F_NULLABLE, adm_chk_period, NULL, NULL},                        \
        {"model_limits", FT_JSONB, 0, adm_chk_model_limits, NULL, NULL},                           \
        {"spend_usd", FT_NUM, F_READONLY, NULL, NULL, NULL},                                       \
        {"budget_reset_at", FT_TS, F_READONLY, NULL, NULL, NULL},                                  \
        {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},                                       \
    {                                                                                              \
        "updated_at", FT_TS, F_READONLY, NULL, NULL, NULL                                          \
    }

static const adm_field_t team_fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_label, NULL, NULL},
    {"status", FT_TEXT, 0, adm_chk_status, NULL, NULL},
    {"budget_webhook_url", FT_TEXT, F_NULLABLE, adm_chk_webhook_url, NULL, NULL},
    {"budget_webhook_secret", FT_TEXT, F_NULLABLE, adm_chk_webhook_secret, NULL,
     "($1::jsonb->>'budget_webhook_secret')::bytea"},
    {"has_budget_webhook_secret", FT_VIRTUAL, F_READONLY, NULL, NULL, NULL},
    LIMIT_FIELDS,
};

static const adm_filter_t team_filters[] = {
    {"status", "status", "text", adm_chk_text_status, NULL},
    {"name", "name", "text", NULL, NULL},
};

const adm_entity_t adm_teams = {
    .name = "teams",
    .singular = "team",
    .table = "teams",
    .fields = team_fields,
    .nfields = LX_ARRAY_LEN(team_fields),
    .filters = team_filters,
    .nfilters = LX_ARRAY_LEN(team_filters),
    .view = "(to_jsonb(x) - 'budget_webhook_secret') || jsonb_build_object("
            "'has_budget_webhook_secret', x.budget_webhook_secret IS NOT NULL) || " ADM_SPEND_VIEW(
                "team"),
    .has_updated_at = true,
    .fixup = team_fixup,
};

static const adm_field_t user_fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_label, NULL, NULL},
    {"email", FT_TEXT, F_NULLABLE, chk_email, NULL, NULL},
    {"team_id", FT_BIGINT, F_NULLABLE, adm_chk_id, NULL, NULL},
    {"status", FT_TEXT, 0, adm_chk_status, NULL, NULL},
    LIMIT_FIELDS,
};

static const adm_filter_t user_filters[] = {
    {"status", "status", "text", adm_chk_text_status, NULL},
    {"name", "name", "text", NULL, NULL},
    {"email", "email", "text", NULL, NULL},
    {"team_id", "team_id", "bigint", adm_chk_text_id, NULL},
};

const adm_entity_t adm_users = {
    .name = "users",
    .singular = "user",
    .table = "users",
    .fields = user_fields,
    .nfields = LX_ARRAY_LEN(user_fields),
    .filters = user_filters,
    .nfilters = LX_ARRAY_LEN(user_filters),
    .view = "to_jsonb(x) || jsonb_build_object('team', (SELECT t.name FROM teams t WHERE t.id = "
            "x.team_id)) || " ADM_SPEND_VIEW("user"),
    .has_updated_at = true,
    .fixup = fixup,
};

/* The statement's parts per entity: the referencing users (uref: id, name;
 * "false" for none) and keys (kref), by the column that refers to $1. */
static void owner_sql(lx_buf_t *sql, const adm_entity_t *ent, bool scoped)
{
    /* a team_admin ($3) deletes only its team's users */
    const char *scope = scoped ? " AND team_id = $3::bigint" : "";
    bool team = ent == &adm_teams;
    const char *col = team ? "team_id" : "user_id";
    lx_buf_printf(
        sql,
        "WITH tgt AS (SELECT * FROM %s WHERE id = $1::bigint%s), "
        "uref AS (SELECT u.id, u.name FROM users u WHERE %s), "
        "kref AS (SELECT k.id, k.name FROM api_keys k WHERE k.%s = $1::bigint), "
        "refs AS (SELECT 1 AS o, id AS i, format('user %%L', name) AS d FROM uref UNION ALL "
        "SELECT 2, id, format('key %%L', name) FROM kref), "
        "del AS (DELETE FROM %s x WHERE x.id IN (SELECT id FROM tgt) AND ($2::boolean OR NOT "
        "EXISTS "
        "(SELECT 1 FROM refs)) RETURNING x.*), "
        "aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, before, after) "
        "SELECT 'admin', 'delete', '%s', x.id::text, to_jsonb(x), NULL::jsonb FROM del x "
        "UNION ALL SELECT 'admin', 'update', 'users', x.id::text, to_jsonb(x), to_jsonb(x) || "
        "'{\"team_id\": null}'::jsonb FROM users x WHERE x.id IN (SELECT id FROM uref) AND "
        "EXISTS (SELECT 1 FROM del) "
        "UNION ALL SELECT 'admin', 'update', 'keys', x.id::text, to_jsonb(x) - 'key_hash', "
        "(to_jsonb(x) - 'key_hash') || jsonb_build_object('%s', NULL) FROM api_keys x WHERE "
        "x.id IN (SELECT id FROM kref) AND EXISTS (SELECT 1 FROM del)), "
        "note AS (SELECT pg_notify('llmux_config', '%s') FROM del) "
        "SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM tgt), (SELECT string_agg(d, "
        "', ' ORDER BY o, i) FROM (SELECT * FROM refs ORDER BY o, i LIMIT 20) r), (SELECT "
        "count(*) FROM refs), (SELECT count(*) FROM note)",
        ent->table, scope, team ? "u.team_id = $1::bigint" : "false", col, ent->table, ent->name,
        col, ent->name);
}

int adm_owner_delete(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id)
{
    int cascade = adm_refs_cascade(req);
    if (cascade < 0)
        return LX_OK;
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    int64_t team = adm_scope_team(a);
    owner_sql(&sql, ent, team != 0);
    int rc;
    if (team) {
        char ids[24], tid[24];
        snprintf(ids, sizeof ids, "%lld", (long long)id);
        snprintf(tid, sizeof tid, "%lld", (long long)team);
        const char *params[] = {ids, cascade == 1 ? "true" : "false", tid};
        adm_op_t *op = adm_op_new(a, req, ent);
        op->id = id;
        rc = adm_submit(op, sql.p, 3, params, adm_refs_step_deleted);
    } else {
        rc = adm_refs_submit(a, req, ent, id, cascade == 1, sql.p);
    }
    lx_buf_free(&sql);
    return rc;
}
