/* budgets.c - the admin side of budgets: the budget fields keys and teams
 * share (a webhook URL and its write-only secret, sealed here with the
 * master key before it reaches the database), the spend_usd and
 * budget_reset_at every key, user and team shows (from ai_spend, the
 * current period by Postgres' clock), and POST .../{id}/reset-spend.
 *
 * reset-spend sets the subject's ai_spend rows (its per-model entries' too:
 * "key:12@gpt-4o") to 0 and re-arms its budget
 * alerts (deletes its ai_budget_alerts rows) in one audited statement;
 * every instance reads the new total within one sync (budget_sync.h). */
#include "admin/internal.h"
#include "ai/budget_hook.h"
#include "core/baseurl.h"
#include "core/secret.h"

#include <stdio.h>
#include <stdlib.h>

static _Atomic(const lx_config_t *) config; /* the master key; set once at start-up */

void lx_admin_budget_init(const lx_config_t *cfg)
{
    atomic_store(&config, cfg);
}

bool adm_chk_webhook_url(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    if (json_string_length(v) > 2000)
        return adm_verr(e, f, "'%s' must be at most 2000 characters", f);
    const char *why = lx_base_url_problem(s);
    if (why)
        return adm_verr(e, f, "'%s' %s", f, why);
    return true;
}

bool adm_chk_webhook_secret(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 16 || n > 256 || strlen(s) != n)
        return adm_verr(e, f, "'%s' must be 16..256 characters", f);
    return true;
}

bool adm_budget_seal(json_t *doc, const char *kind, adm_verr_t *e)
{
    json_t *v = json_object_get(doc, "budget_webhook_secret");
    if (v == NULL || json_is_null(v))
        return true;
    const lx_config_t *cfg = atomic_load(&config);
    if (cfg == NULL || !cfg->has_master_key)
        return adm_verr(e, "budget_webhook_secret",
                        "'budget_webhook_secret' needs a master key (LLMUX_MASTER_KEY) to be "
                        "stored sealed");
    char aad[48];
    lx_budget_hook_aad(kind, aad);
    lx_buf_t sealed, hex;
    lx_buf_init(&sealed, 128);
    lx_buf_init(&hex, 300);
    const char *s = json_string_value(v);
    int rc = lx_secret_seal(cfg->master_key, 1, aad, s, strlen(s), &sealed);
    if (rc == LX_OK)
        lx_bytea_encode(sealed.p, sealed.n, &hex);
    json_object_set_new(doc, "budget_webhook_secret", json_string(hex.p ? hex.p : ""));
    lx_buf_free(&sealed);
    lx_buf_free(&hex);
    if (rc != LX_OK)
        return adm_verr(e, "budget_webhook_secret", "'budget_webhook_secret' could not be sealed");
    return true;
}

int adm_reset_spend(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id)
{
    const char *kind = ent == &adm_keys ? "key" : ent == &adm_users ? "user" : "team";
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    lx_buf_printf(
        &sql,
        "WITH tgt AS (SELECT * FROM %s WHERE id = $1::bigint), "
        "before AS (SELECT llmux_spend('%s:' || t.id, t.budget_period) AS s FROM tgt t), "
        "z AS (UPDATE ai_spend SET spend_usd = 0, updated_at = now() WHERE (subject = '%s:' || "
        "$1::bigint OR subject LIKE '%s:' || $1::bigint || '@%%') AND EXISTS (SELECT 1 FROM tgt) "
        "RETURNING 1), "
        "al AS (DELETE FROM ai_budget_alerts WHERE subject = '%s:' || $1::bigint AND EXISTS "
        "(SELECT 1 FROM tgt) RETURNING 1), "
        "aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, before, after) SELECT "
        "'admin', 'reset-spend', '%s', t.id::text, jsonb_build_object('spend_usd', b.s), "
        "jsonb_build_object('spend_usd', 0) FROM tgt t, before b) "
        "SELECT (%s || jsonb_build_object('spend_usd', 0))::text FROM tgt x",
        ent->table, kind, kind, kind, kind, ent->name, ent->view);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[] = {ids};
    adm_op_t *op = adm_op_new(a, req, ent);
    op->id = id;
    int rc = adm_submit(op, sql.p, 1, params, adm_step_one);
    lx_buf_free(&sql);
    return rc;
}
