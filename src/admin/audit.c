/* audit.c - GET audit: the audit log, newest first (by id), filtered by
 * entity, entity_id, actor, action, from and to, a page at a time (keyset
 * on id in an opaque cursor: entries written meanwhile only ever come
 * before the first page).
 *
 * Before/after are the entities' audit views, written without secrets
 * (crud.c: no credential, key hash or sealed header; header values as
 * "***"). They are redacted again here, so that rows an older version
 * wrote (plain extra_headers before sql/005) never show a secret either. */
#include "admin/internal.h"

#include <stdio.h>
#include <stdlib.h>

/* A before/after value with every secret-bearing field dropped or masked. */
#define REDACT(col)                                                                                \
    "(CASE WHEN jsonb_typeof(a." col ") = 'object' THEN (a." col                                   \
    " - ARRAY['credential', 'key_hash', 'extra_headers_sealed', 'api_key', 'key']) || "            \
    "CASE WHEN jsonb_typeof(a." col "->'extra_headers') = 'object' THEN "                          \
    "jsonb_build_object('extra_headers', (SELECT coalesce(jsonb_object_agg(h, '***'), "            \
    "'{}'::jsonb) FROM jsonb_object_keys(a." col "->'extra_headers') h)) ELSE '{}'::jsonb END "    \
    "ELSE a." col " END)"

static const struct {
    const char *param, *column;
} filters[] = {
    {"entity", "entity"}, {"entity_id", "entity_id"}, {"actor", "actor"}, {"action", "action"}};

int adm_audit_list(lx_admin_t *a, lx_req_t *req)
{
    adm_verr_t e;
    memset(&e, 0, sizeof e);
    int64_t limit;
    char pos[64];
    if (!adm_page_params(req, &limit, pos, sizeof pos, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    int64_t after_id = 0;
    if (pos[0]) {
        size_t n = strlen(pos);
        if (n > 18 || strspn(pos, "0123456789") != n || (after_id = strtoll(pos, NULL, 10)) <= 0) {
            adm_verr(&e, "cursor", "'cursor' is not a cursor this list returned");
            adm_reply_verr(req, &e);
            return LX_OK;
        }
    }
    const char *params[12];
    int np = 0;
    char vals[LX_ARRAY_LEN(filters)][204], fts[48], tts[48], lim[24], id[24];
    lx_buf_t where;
    lx_buf_init(&where, 256);
    snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
    params[np++] = lim; /* $1 */
    for (size_t i = 0; i < LX_ARRAY_LEN(filters); i++) {
        const char *v = adm_query(req, filters[i].param, vals[i], sizeof vals[i]);
        if (v == NULL)
            continue;
        if (v[0] == '\0' || strlen(v) > 200) {
            adm_verr(&e, filters[i].param, "'%s' must be 1 to 200 characters", filters[i].param);
            break;
        }
        params[np++] = v;
        lx_buf_printf(&where, " AND a.%s = $%d::text", filters[i].column, np);
    }
    int64_t fms = 0, tms = 0;
    int f = e.msg[0] ? 0 : adm_query_time(req, "from", &fms, &e);
    int t = f < 0 || e.msg[0] ? 0 : adm_query_time(req, "to", &tms, &e);
    if (f > 0 && t > 0 && fms >= tms)
        adm_verr(&e, "from", "'from' must be before 'to'");
    if (e.msg[0]) {
        lx_buf_free(&where);
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    if (f > 0) {
        adm_format_rfc3339(fms, fts);
        params[np++] = fts;
        lx_buf_printf(&where, " AND a.created_at >= $%d::timestamptz", np);
    }
    if (t > 0) {
        adm_format_rfc3339(tms, tts);
        params[np++] = tts;
        lx_buf_printf(&where, " AND a.created_at < $%d::timestamptz", np);
    }
    if (after_id) {
        snprintf(id, sizeof id, "%lld", (long long)after_id);
        params[np++] = id;
        lx_buf_printf(&where, " AND a.id < $%d::bigint", np);
    }
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    lx_buf_printf(&sql,
                  "WITH r AS (SELECT a.id, a.actor, a.action, a.entity, a.entity_id, "
                  "a.created_at, " REDACT("before") " AS before, " REDACT(
                      "after") " AS after "
                               "FROM audit_log a WHERE true%s ORDER BY a.id DESC LIMIT $1::bigint) "
                               "SELECT jsonb_build_object('data', (SELECT "
                               "coalesce(jsonb_agg(jsonb_build_object("
                               "'id', r.id, 'actor', r.actor, 'action', r.action, 'entity', "
                               "r.entity, "
                               "'entity_id', r.entity_id, 'created_at', to_char(r.created_at AT "
                               "TIME ZONE "
                               "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'before', r.before, "
                               "'after', "
                               "r.after, '_pos', r.id::text) ORDER BY r.id DESC), '[]'::jsonb) "
                               "FROM r))::text",
                  where.n ? where.p : "");
    adm_op_t *op = adm_op_new(a, req, NULL);
    op->limit = limit;
    int rc = adm_submit(op, sql.p, np, params, adm_page_reply);
    lx_buf_free(&sql);
    lx_buf_free(&where);
    return rc;
}
