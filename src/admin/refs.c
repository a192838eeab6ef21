/* refs.c - deleting a provider, model or connection that group members or
 * API keys' allow-lists still refer to.
 *
 * DELETE answers 409 (code "conflict") naming the references ("provider 5
 * is still referenced by group 'smart' (member 12), key 'ci'") unless
 * ?cascade=true, which removes them with the row: the members are deleted,
 * the names are taken out of the keys' allowed_models. All of it is one
 * statement (one transaction), each change with its audit row.
 *
 * What refers to what:
 *   provider   members of that provider; key entries "name/..." (the wildcard too)
 *   model      members of its provider and upstream name (unless another
 *              model row has both); key entries "provider/upstream_name",
 *              "provider/public_name", and its bare public name (unless
 *              another model row has it too)
 *   connection members pinned to it
 * A provider's own connections and models are its parts, not references:
 * they go with it (the foreign keys cascade) as before. */
#include "admin/internal.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const adm_entity_t *ent;
    const char *target; /* tgt: the row, with what the matches need */
    const char *member; /* member m (joined with groups g) refers to tgt t */
    const char *entry;  /* allowed_models entry e refers to tgt p ("false": none) */
} ref_rules_t;

static const ref_rules_t rules[] = {
    {&adm_providers, "SELECT * FROM ai_providers WHERE id = $1::bigint", "m.provider_id = t.id",
     "(e = p.name || '/*' OR starts_with(e, p.name || '/'))"},
    {&adm_models,
     "SELECT mo.*, pr.name AS pname FROM ai_models mo JOIN ai_providers pr ON pr.id = "
     "mo.provider_id WHERE mo.id = $1::bigint",
     "m.provider_id = t.provider_id AND m.upstream_name = t.upstream_name AND NOT EXISTS "
     "(SELECT 1 FROM ai_models o WHERE o.provider_id = t.provider_id AND o.upstream_name = "
     "t.upstream_name AND o.id <> t.id)",
     "(e = p.pname || '/' || p.upstream_name OR e = p.pname || '/' || p.public_name OR "
     "(e = p.public_name AND NOT EXISTS (SELECT 1 FROM ai_models o WHERE o.public_name = "
     "p.public_name AND o.id <> p.id)))"},
    {&adm_connections, "SELECT * FROM ai_connections WHERE id = $1::bigint",
     "m.connection_id = t.id", "false"},
};

void adm_refs_step_deleted(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    long deleted = strtol(lx_pg_value(res, 0, 0), NULL, 10);
    long found = strtol(lx_pg_value(res, 0, 1), NULL, 10);
    long nrefs = strtol(lx_pg_value(res, 0, 3), NULL, 10);
    char msg[400];
    if (found == 0) {
        snprintf(msg, sizeof msg, "%s %lld not found", op->ent->singular, (long long)op->id);
        adm_error(op, 404, LX_E_NOT_FOUND, msg, NULL);
        return;
    }
    if (deleted == 0) {
        snprintf(msg, sizeof msg,
                 "%s %lld is still referenced by %s%s: remove those references, or delete "
                 "with ?cascade=true to remove them too",
                 op->ent->singular, (long long)op->id, lx_pg_value(res, 0, 2),
                 nrefs > 20 ? " and more" : "");
        adm_error(op, 409, LX_E_CONFLICT, msg, NULL);
        return;
    }
    /* what a cascade removed is in the audit log */
    adm_reply_json(op, 200,
                   json_pack("{s:I, s:s, s:b}", "id", (json_int_t)op->id, "object",
                             op->ent->singular, "deleted", 1));
}

int adm_refs_cascade(lx_req_t *req)
{
    char buf[16];
    const char *v = adm_query(req, "cascade", buf, sizeof buf);
    if (v && strcmp(v, "true") && strcmp(v, "false")) {
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "'cascade' must be true or false", "cascade");
        return -1;
    }
    return v && strcmp(v, "true") == 0;
}

int adm_refs_submit(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id, bool cascade,
                    const char *sql)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[] = {ids, cascade ? "true" : "false"};
    adm_op_t *op = adm_op_new(a, req, ent);
    op->id = id;
    return adm_submit(op, sql, 2, params, adm_refs_step_deleted);
}

int adm_refs_delete(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id)
{
    const ref_rules_t *r = NULL;
    for (size_t i = 0; i < LX_ARRAY_LEN(rules); i++)
        if (rules[i].ent == ent)
            r = &rules[i];
    int cascade = adm_refs_cascade(req);
    if (cascade < 0)
        return LX_OK;
    const char *av = ent->audit_view ? ent->audit_view : ent->view;
    lx_buf_t sql;
    lx_buf_init(&sql, 4096);
    lx_buf_printf(
        &sql,
        "WITH tgt AS (%s), "
        "mref AS (SELECT m.id, g.name AS gname FROM ai_group_members m JOIN ai_groups g ON g.id "
        "= m.group_id, tgt t WHERE %s), "
        "kref AS (SELECT k.id, k.name FROM api_keys k, tgt p WHERE EXISTS (SELECT 1 FROM "
        "unnest(k.allowed_models) e WHERE %s)), "
        "refs AS (SELECT 1 AS o, id AS i, format('group %%L (member %%s)', gname, id) AS d FROM "
        "mref UNION ALL SELECT 2, id, format('key %%L', name) FROM kref), "
        "del AS (DELETE FROM %s x WHERE x.id = $1::bigint AND ($2::boolean OR NOT EXISTS "
        "(SELECT 1 FROM refs)) RETURNING x.*), "
        "mdel AS (DELETE FROM ai_group_members m WHERE m.id IN (SELECT id FROM mref) AND EXISTS "
        "(SELECT 1 FROM del) RETURNING m.*), "
        "kupd AS (UPDATE api_keys k SET allowed_models = ARRAY(SELECT u.e FROM "
        "unnest(k.allowed_models) WITH ORDINALITY AS u(e, n), tgt p WHERE NOT (%s) ORDER BY "
        "u.n) WHERE k.id IN (SELECT id FROM kref) AND EXISTS (SELECT 1 FROM del) RETURNING k.*), "
        "aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, before, after) "
        "SELECT 'admin', 'delete', '%s', x.id::text, %s, NULL::jsonb FROM del x "
        "UNION ALL SELECT 'admin', 'delete', 'group_members', x.id::text, to_jsonb(x), NULL::jsonb "
        "FROM mdel x "
        "UNION ALL SELECT 'admin', 'update', 'keys', x.id::text, (SELECT to_jsonb(o) - "
        "'key_hash' FROM api_keys o WHERE o.id = x.id), to_jsonb(x) - 'key_hash' FROM kupd x), "
        "note AS (SELECT pg_notify('llmux_config', '%s') FROM del) "
        "SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM tgt), (SELECT string_agg(d, "
        "', ' ORDER BY o, i) FROM (SELECT * FROM refs ORDER BY o, i LIMIT 20) r), (SELECT "
        "count(*) FROM refs), (SELECT count(*) FROM mdel), (SELECT count(*) FROM kupd), "
        "(SELECT count(*) FROM note)",
        r->target, r->member, r->entry, ent->table, r->entry, ent->name, av,
        ent->notify ? ent->notify : ent->name);
    int rc = adm_refs_submit(a, req, ent, id, cascade == 1, sql.p);
    lx_buf_free(&sql);
    return rc;
}
