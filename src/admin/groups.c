/* groups.c - routing groups (ai_groups) and their members
 * (ai_group_members, a sub-resource of a group).
 *
 * A member names its provider and model as the config file does
 * ({"provider": "openai", "model": "gpt-4o"}) or by id ({"provider_id": 5,
 * "upstream_name": "gpt-4o"}); a name is resolved in the statement that
 * writes the member (llmux_provider_id, sql/007: 422 naming the field when
 * no provider has it). A member's connection_id must be a credential of its
 * own provider (checked by the database, sql/007). POST /groups may carry
 * "members": the group and its members are created in one statement, each
 * with its audit row. */
#include "admin/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_MEMBERS 256
/* provider_id from the member's "provider" name ($1 is the document) */
#define PROVIDER_BY_NAME "llmux_provider_id($1::jsonb->>'provider', 'provider')"

static bool chk_strategy(const char *f, const json_t *v, adm_verr_t *e)
{
    static const char *const names[] = {"round_robin", "smooth_weighted", "weighted_random",
                                        "priority",    "least_latency",   "least_busy",
                                        "lowest_cost"};
    const char *s = json_string_value(v);
    for (size_t i = 0; i < LX_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return adm_verr(e, f,
                    "'%s' must be one of round_robin, smooth_weighted, weighted_random, priority, "
                    "least_latency, least_busy, lowest_cost",
                    f);
}

static const adm_field_t group_fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_model_name, NULL, NULL},
    {"strategy", FT_TEXT, 0, chk_strategy, NULL, NULL},
    {"status", FT_TEXT, 0, adm_chk_status, NULL, NULL},
    {"description", FT_TEXT, F_NULLABLE, adm_chk_text, NULL, NULL},
    {"members", FT_VIRTUAL, 0, NULL, NULL, NULL}, /* on creation only: see group_fixup */
    {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"updated_at", FT_TS, F_READONLY, NULL, NULL, NULL},
};

static const adm_filter_t group_filters[] = {
    {"status", "status", "text", adm_chk_text_status, NULL},
    {"strategy", "strategy", "text", chk_strategy, NULL},
    {"name", "name", "text", NULL, NULL},
};

#define GROUP_VIEW                                                                                 \
    "(to_jsonb(x) || jsonb_build_object('members', coalesce((SELECT jsonb_agg(to_jsonb(m) ORDER "  \
    "BY m.priority, m.id) FROM ai_group_members m WHERE m.group_id = x.id), '[]'::jsonb)))"

static bool group_fixup(json_t *doc, bool create, adm_verr_t *e);

const adm_entity_t adm_groups = {
    .name = "groups",
    .singular = "group",
    .table = "ai_groups",
    .fields = group_fields,
    .nfields = LX_ARRAY_LEN(group_fields),
    .filters = group_filters,
    .nfilters = LX_ARRAY_LEN(group_filters),
    .view = GROUP_VIEW,
    .has_updated_at = true,
    .fixup = group_fixup,
};

static bool chk_provider(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!json_is_string(v) || n < 1 || n > 64 || n != json_string_length(v) ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return adm_verr(e, f, "'%s' must be a provider name (^[a-z0-9_-]{1,64}$)", f);
    return true;
}

static bool chk_model(const char *f, const json_t *v, adm_verr_t *e)
{
    if (!json_is_string(v))
        return adm_verr(e, f, "'%s' must be a string", f);
    return adm_chk_model_name(f, v, e);
}

/* provider or provider_id, model or upstream_name (stored as the latter). */
static bool member_fixup(json_t *doc, bool create, adm_verr_t *e)
{
    json_t *model = json_object_get(doc, "model");
    bool by_name = json_object_get(doc, "provider") != NULL;
    if (by_name && json_object_get(doc, "provider_id"))
        return adm_verr(e, "provider", "give 'provider' (a name) or 'provider_id', not both");
    if (model && json_object_get(doc, "upstream_name"))
        return adm_verr(e, "model", "give 'model' or 'upstream_name', not both");
    if (model) {
        json_object_set(doc, "upstream_name", model);
        json_object_del(doc, "model");
    }
    if (!create)
        return true;
    if (!by_name && json_object_get(doc, "provider_id") == NULL) {
        adm_verr(e, "provider_id", "'provider_id' (or 'provider', a provider name) is required");
        e->err = LX_E_MISSING_FIELD;
        return false;
    }
    if (json_object_get(doc, "upstream_name") == NULL) {
        adm_verr(e, by_name ? "model" : "upstream_name", "'%s' is required",
                 by_name ? "model" : "upstream_name");
        e->err = LX_E_MISSING_FIELD;
        return false;
    }
    return true;
}

static const adm_field_t member_fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"group_id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"provider_id", FT_BIGINT, 0, adm_chk_id, NULL, NULL},
    {"provider", FT_VIRTUAL, 0, chk_provider, NULL, NULL}, /* by name, as in the config file */
    {"upstream_name", FT_TEXT, 0, adm_chk_model_name, NULL, NULL},
    {"model", FT_VIRTUAL, 0, chk_model, NULL, NULL}, /* the config file's word for upstream_name */
    {"connection_id", FT_BIGINT, F_NULLABLE, adm_chk_id, NULL, NULL},
    {"weight", FT_INT, 0, adm_chk_nonneg, NULL, NULL},
    {"priority", FT_INT, 0, adm_chk_int32, NULL, NULL},
    {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},
};

const adm_entity_t adm_members = {
    .name = "group_members",
    .notify = "groups",
    .singular = "group member",
    .table = "ai_group_members",
    .parent_col = "group_id",
    .parent_table = "ai_groups",
    .fields = member_fields,
    .nfields = LX_ARRAY_LEN(member_fields),
    .view = "to_jsonb(x)",
    .fixup = member_fixup,
};

/* "members" on creation: each one validated as a member, its errors named
 * "members[i].field"; the array is replaced by the validated documents. */
static bool group_fixup(json_t *doc, bool create, adm_verr_t *e)
{
    json_t *members = json_object_get(doc, "members");
    if (members == NULL)
        return true;
    if (!create)
        return adm_verr(e, "members",
                        "'members' can only be given when a group is created: use "
                        "/groups/{id}/members");
    if (!json_is_array(members) || json_array_size(members) > MAX_MEMBERS)
        return adm_verr(e, "members", "'members' must be an array of at most %d members",
                        MAX_MEMBERS);
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        adm_verr_t me;
        json_t *v = json_is_object(m) ? adm_validate(&adm_members, m, true, &me) : NULL;
        if (v == NULL) {
            json_decref(out);
            if (!json_is_object(m))
                return adm_verr(e, "members", "'members[%zu]' must be an object", i);
            char param[96];
            snprintf(param, sizeof param, "members[%zu]%s%.40s", i, me.param[0] ? "." : "",
                     me.param);
            adm_verr(e, param, "members[%zu]: %s", i, me.msg);
            e->err = me.err;
            return false;
        }
        json_array_append_new(out, v);
    }
    json_object_set_new(doc, "members", out);
    return true;
}

static void id_text(int64_t id, char out[24])
{
    snprintf(out, 24, "%lld", (long long)id);
}

static int submit_doc(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, json_t *doc,
                      const char *sql, int nparams, const char *p2, const char *p3, int64_t id,
                      int ok_status)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    const char *params[] = {text, p2, p3};
    adm_op_t *op = adm_op_new(a, req, ent);
    op->id = id;
    op->ok_status = ok_status;
    int rc = adm_submit(op, sql, nparams, params, adm_step_one);
    free(text);
    return rc;
}

int adm_member_create(lx_admin_t *a, lx_req_t *req, int64_t group_id)
{
    json_t *doc = adm_read_doc(req, &adm_members, true);
    if (doc == NULL)
        return LX_OK;
    const adm_extra_t extra[] = {{"group_id", "$2::bigint"}, {"provider_id", PROVIDER_BY_NAME}};
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_insert(&sql, &adm_members, doc, extra, json_object_get(doc, "provider") ? 2 : 1);
    char gid[24];
    id_text(group_id, gid);
    int rc = submit_doc(a, req, &adm_members, doc, sql.p, 2, gid, NULL, 0, 201);
    lx_buf_free(&sql);
    return rc;
}

int adm_member_update(lx_admin_t *a, lx_req_t *req, int64_t id, int64_t group_id)
{
    json_t *doc = adm_read_doc(req, &adm_members, false);
    if (doc == NULL)
        return LX_OK;
    const adm_extra_t extra[] = {{"provider_id", PROVIDER_BY_NAME}};
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_update(&sql, &adm_members, doc, extra, json_object_get(doc, "provider") ? 1 : 0);
    char ids[24], gid[24];
    id_text(id, ids);
    id_text(group_id, gid);
    int rc = submit_doc(a, req, &adm_members, doc, sql.p, 3, ids, gid, id, 200);
    lx_buf_free(&sql);
    return rc;
}

/* The group, then its members from $1's "members" (names resolved, each
 * connection checked against its provider, errors naming members[i]), the
 * audit rows of both, one notify; answers the group with its members. */
#define MEMBERS_SQL                                                                                \
    ", src AS (SELECT e.v, e.i - 1 AS i FROM jsonb_array_elements($1::jsonb->'members') WITH "     \
    "ORDINALITY AS e(v, i)), "                                                                     \
    "res AS (SELECT s.i, s.v, coalesce((SELECT p.id FROM ai_providers p WHERE p.id = "             \
    "(s.v->>'provider_id')::bigint), llmux_provider_id(coalesce(s.v->>'provider', 'id ' || "       \
    "(s.v->>'provider_id')), format('members[%s].%s', s.i, CASE WHEN s.v ? 'provider' THEN "       \
    "'provider' ELSE 'provider_id' END))) AS pid FROM src s), "                                    \
    "mem AS (INSERT INTO ai_group_members (group_id, provider_id, upstream_name, connection_id, "  \
    "weight, priority) SELECT ins.id, r.pid, r.v->>'upstream_name', "                              \
    "(r.v->>'connection_id')::bigint, coalesce((r.v->>'weight')::integer, 1), "                    \
    "coalesce((r.v->>'priority')::integer, 0) FROM ins, res r WHERE "                              \
    "llmux_member_connection_ok(r.pid, (r.v->>'connection_id')::bigint, "                          \
    "format('members[%s].connection_id', r.i)) ORDER BY r.i RETURNING *), "                        \
    "gv AS (SELECT x.id, (to_jsonb(x) || jsonb_build_object('members', coalesce((SELECT "          \
    "jsonb_agg(to_jsonb(m) ORDER BY m.priority, m.id) FROM mem m), '[]'::jsonb))) AS j FROM ins "  \
    "x), "                                                                                         \
    "aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, after) SELECT 'admin', "     \
    "'create', 'groups', v.id::text, v.j FROM gv v UNION ALL SELECT 'admin', 'create', "           \
    "'group_members', x.id::text, to_jsonb(x) FROM mem x), "                                       \
    "note AS (SELECT pg_notify('llmux_config', 'groups') AS n) "                                   \
    "SELECT v.j::text, (SELECT count(*) FROM note) FROM gv v"

int adm_group_create(lx_admin_t *a, lx_req_t *req)
{
    json_t *doc = adm_read_doc(req, &adm_groups, true);
    if (doc == NULL)
        return LX_OK;
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    if (json_object_get(doc, "members")) {
        adm_sql_insert_cte(&sql, &adm_groups, doc, NULL, 0);
        lx_buf_append_lit(&sql, MEMBERS_SQL);
    } else {
        adm_sql_insert(&sql, &adm_groups, doc, NULL, 0);
    }
    int rc = submit_doc(a, req, &adm_groups, doc, sql.p, 1, NULL, NULL, 0, 201);
    lx_buf_free(&sql);
    return rc;
}
